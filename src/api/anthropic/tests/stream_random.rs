//! Random upstream streams (a fixed-seed generator, so a failure repeats): whatever upstream
//! sends and however it is cut, the output keeps the Anthropic stream's invariants, every
//! chunking gives the same bytes, and nothing panics.

use super::*;
use crate::api::anthropic::fixtures::check_stream;
use serde_json::{json, Value};

/// xorshift64*: small, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const TEXTS: [&str; 6] = [
    "Hello",
    " wörld \"quoted\"\n",
    "",
    "\t\\ back",
    "中文 🦀",
    "  ",
];
const ARGS: [&str; 8] = [
    "{\"path\": \"",
    "/a/b",
    "\\\"}{",
    "\"",
    "}",
    "{}",
    ", \"n\": [1, {\"x\": 2}]",
    "",
];

fn chunk(delta: Value, finish: Option<&str>) -> String {
    let c = json!({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], "object": "chat.completion.chunk"});
    format!("data: {c}\n\n")
}

/// One random upstream stream.
fn stream(rng: &mut Rng) -> String {
    let mut s = String::new();
    for _ in 0..rng.below(14) {
        let ev = match rng.below(12) {
            0 | 1 => chunk(json!({"reasoning_content": rng.pick(&TEXTS)}), None),
            2..=4 => chunk(json!({"content": rng.pick(&TEXTS)}), None),
            5..=8 => {
                let mut call = json!({"function": {"arguments": rng.pick(&ARGS)}});
                if rng.below(4) > 0 {
                    call["index"] = json!(rng.below(3));
                }
                if rng.below(2) == 0 {
                    call["id"] = json!(["c0", "c1", "", "c2"][rng.below(4) as usize]);
                }
                if rng.below(2) == 0 {
                    call["function"]["name"] = json!(rng.pick(&["Read", "Bash", ""]));
                }
                chunk(json!({"tool_calls": [call]}), None)
            }
            9 => chunk(
                json!({}),
                Some(rng.pick(&["stop", "length", "tool_calls", "content_filter"])),
            ),
            10 => format!(
                "data: {}\n\n",
                json!({"choices": [], "usage": {"prompt_tokens": rng.below(100), "completion_tokens": 3}})
            ),
            _ => rng
                .pick(&[
                    "data: [DONE]\n\n",
                    ": ping\n\n",
                    "data: {\"error\":{\"code\":\"x\"}}\n\n",
                    "data: {broken\n\n",
                    "event: error\ndata: {}\n\n",
                ])
                .to_owned(),
        };
        s.push_str(&ev);
    }
    s
}

fn translate(upstream: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut t = StreamTranslator::new("m", "msg_r");
    let mut out = Vec::new();
    let mut rest = upstream;
    while !rest.is_empty() {
        let n = (1 + rng.below(40) as usize).min(rest.len());
        t.push(&rest[..n], &mut out);
        rest = &rest[n..];
    }
    if rng.below(8) == 0 {
        t.fail("gone", &mut out);
    }
    t.finish(&mut out);
    out
}

#[test]
fn random_upstream_streams_always_give_a_valid_anthropic_stream() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for case in 0..3000 {
        let upstream = stream(&mut rng);
        let a = translate(upstream.as_bytes(), &mut Rng(case + 1));
        let b = translate(upstream.as_bytes(), &mut Rng(case + 7919));
        let (fa, fb) = (
            a.ends_with(b"\"gone\"}}\n\n"),
            b.ends_with(b"\"gone\"}}\n\n"),
        );
        if !fa && !fb {
            assert!(
                a == b,
                "case {case}: the chunking changed the output\n{upstream}"
            );
        }
        let acc = std::panic::catch_unwind(|| check_stream(&a));
        assert!(
            acc.is_ok(),
            "case {case}: invalid output for\n{upstream}\n---\n{}",
            String::from_utf8_lossy(&a)
        );
    }
}

const NOISE: &[u8] = b"data: choices[]delta\\u00e9tool_calls}";

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(42);
    for _ in 0..2000 {
        let len = rng.below(300) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| match rng.below(6) {
                0 => b'\n',
                1 => b'{',
                2 => b'"',
                _ => NOISE[rng.below(NOISE.len() as u64) as usize],
            })
            .collect();
        let out = translate(&bytes, &mut rng);
        check_stream(&out);
    }
}
