//! Test helpers for the Anthropic dialect: golden files under tests/fixtures/anthropic/, and the
//! checker of the Anthropic stream's invariants that every stream test runs.
//!
//! `UPDATE_GOLDEN=1 cargo test --lib api::anthropic` rewrites the golden files from the code;
//! review the diff before committing it.

use serde_json::Value;
use std::path::PathBuf;

pub(crate) fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/anthropic")
        .join(name)
}

pub(crate) fn read(name: &str) -> Vec<u8> {
    std::fs::read(path(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// Asserts that `actual` is the golden file `name` byte for byte.
pub(crate) fn golden(name: &str, actual: &[u8]) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path(name), actual).unwrap();
        return;
    }
    let want = read(name);
    if want != actual {
        let (w, a) = (
            String::from_utf8_lossy(&want),
            String::from_utf8_lossy(actual),
        );
        let at = w.bytes().zip(a.bytes()).take_while(|(x, y)| x == y).count();
        let from = at.saturating_sub(80);
        panic!(
            "{name} differs at byte {at}:\n want …{}\n got  …{}",
            w.get(from..(at + 80).min(w.len())).unwrap_or(""),
            a.get(from..(at + 80).min(a.len())).unwrap_or("")
        );
    }
}

/// What a client accumulating the stream ends up with.
#[derive(Debug, Default)]
pub(crate) struct Accumulated {
    /// (type, text / thinking / the tool's concatenated input JSON, tool id, tool name)
    pub blocks: Vec<(String, String, String, String)>,
    pub stop_reason: Option<String>,
    pub stop_sequence: Value,
    pub usage: Value,
    /// The error event's `error` object, when the stream ended in one.
    pub error: Option<Value>,
    pub pings: usize,
}

impl Accumulated {
    pub fn text(&self) -> String {
        self.of("text")
    }

    pub fn thinking(&self) -> String {
        self.of("thinking")
    }

    fn of(&self, kind: &str) -> String {
        self.blocks
            .iter()
            .filter(|b| b.0 == kind)
            .map(|b| b.1.as_str())
            .collect()
    }

    /// The tool_use blocks: (id, name, input parsed).
    pub fn tools(&self) -> Vec<(String, String, Value)> {
        self.blocks
            .iter()
            .filter(|b| b.0 == "tool_use")
            .map(|b| {
                let input = if b.1.is_empty() {
                    Value::Object(Default::default())
                } else {
                    serde_json::from_str(&b.1).unwrap_or(Value::Null)
                };
                (b.2.clone(), b.3.clone(), input)
            })
            .collect()
    }
}

/// Parses Anthropic SSE bytes and asserts the dialect's invariants: events well formed and
/// named as their `type`; `message_start` first with usage present; one block open at a time,
/// indexes 0, 1, 2… each opened once, every delta and stop naming the open block with a delta
/// of its kind; thinking before any text or tool; `message_delta` once, after every block
/// closed, with a stop reason and usage; `message_stop` last; or an `error` event and nothing
/// after it; `stop_reason` is `tool_use` exactly when a tool_use block was emitted (a truncated
/// answer says `max_tokens`).
pub(crate) fn check_stream(bytes: &[u8]) -> Accumulated {
    let text = std::str::from_utf8(bytes).expect("the stream is UTF-8");
    assert!(
        text.is_empty() || text.ends_with("\n\n"),
        "the stream ends with a whole event"
    );
    let mut acc = Accumulated::default();
    let mut open: Option<usize> = None;
    let (mut started, mut delta_seen, mut stopped) = (false, false, false);
    let mut ids = Vec::new();
    for frame in text.split_terminator("\n\n") {
        assert!(
            acc.error.is_none() && !stopped,
            "nothing may follow the end: {frame}"
        );
        let mut lines = frame.lines();
        let name = lines
            .next()
            .and_then(|l| l.strip_prefix("event: "))
            .unwrap_or_else(|| panic!("no event line: {frame}"));
        let data = lines
            .next()
            .and_then(|l| l.strip_prefix("data: "))
            .unwrap_or_else(|| panic!("no data line: {frame}"));
        assert!(lines.next().is_none(), "one data line per event: {frame}");
        let v: Value = serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {data}"));
        assert_eq!(v["type"], name, "the event is named as its type");
        if name == "ping" {
            acc.pings += 1;
            continue;
        }
        if name == "error" {
            assert!(
                v["error"]["type"].is_string() && v["error"]["message"].is_string(),
                "{data}"
            );
            acc.error = Some(v["error"].clone());
            continue;
        }
        if name == "message_start" {
            assert!(!started, "one message_start");
            started = true;
            let m = &v["message"];
            assert!(
                m["id"].is_string()
                    && m["model"].is_string()
                    && m["content"] == Value::Array(vec![]),
                "{data}"
            );
            assert_eq!(
                (m["type"].as_str(), m["role"].as_str()),
                (Some("message"), Some("assistant"))
            );
            assert!(
                m["usage"]["input_tokens"].is_u64() && m["usage"]["output_tokens"].is_u64(),
                "usage present: {data}"
            );
            continue;
        }
        assert!(started, "message_start comes first, not {name}");
        assert!(
            !delta_seen || name == "message_stop",
            "only message_stop after message_delta, not {name}"
        );
        match name {
            "content_block_start" => {
                assert!(open.is_none(), "one block open at a time");
                let i = v["index"].as_u64().unwrap() as usize;
                assert_eq!(
                    i,
                    acc.blocks.len(),
                    "indexes are opened in order, once each"
                );
                let b = &v["content_block"];
                let kind = b["type"].as_str().unwrap().to_owned();
                match kind.as_str() {
                    "thinking" => assert!(
                        acc.blocks.is_empty() || acc.blocks.iter().all(|b| b.0 == "thinking"),
                        "thinking comes first"
                    ),
                    "text" => assert_eq!(b["text"], ""),
                    "tool_use" => {
                        let (id, name) = (b["id"].as_str().unwrap(), b["name"].as_str().unwrap());
                        assert!(!id.is_empty() && !name.is_empty(), "{data}");
                        assert!(!ids.contains(&id.to_owned()), "tool ids are unique");
                        ids.push(id.to_owned());
                        assert_eq!(b["input"], serde_json::json!({}));
                    }
                    other => panic!("unexpected block type {other}"),
                }
                let (id, nm) = (
                    b["id"].as_str().unwrap_or("").to_owned(),
                    b["name"].as_str().unwrap_or("").to_owned(),
                );
                acc.blocks.push((kind, String::new(), id, nm));
                open = Some(i);
            }
            "content_block_delta" => {
                let i = v["index"].as_u64().unwrap() as usize;
                assert_eq!(Some(i), open, "a delta names the open block: {data}");
                let d = &v["delta"];
                let b = &mut acc.blocks[i];
                match (b.0.as_str(), d["type"].as_str().unwrap()) {
                    ("text", "text_delta") => b.1.push_str(d["text"].as_str().unwrap()),
                    ("thinking", "thinking_delta") => b.1.push_str(d["thinking"].as_str().unwrap()),
                    ("thinking", "signature_delta") => {}
                    ("tool_use", "input_json_delta") => {
                        b.1.push_str(d["partial_json"].as_str().unwrap())
                    }
                    (k, t) => panic!("a {t} in a {k} block"),
                }
            }
            "content_block_stop" => {
                let i = v["index"].as_u64().unwrap() as usize;
                assert_eq!(Some(i), open, "a stop names the open block");
                open = None;
            }
            "message_delta" => {
                assert!(open.is_none(), "every block is closed before message_delta");
                delta_seen = true;
                let reason = v["delta"]["stop_reason"]
                    .as_str()
                    .expect("a stop reason")
                    .to_owned();
                let tools = acc.blocks.iter().any(|b| b.0 == "tool_use");
                if reason != "max_tokens" {
                    assert_eq!(
                        reason == "tool_use",
                        tools,
                        "stop_reason tool_use iff a tool_use block"
                    );
                }
                acc.stop_reason = Some(reason);
                acc.stop_sequence = v["delta"]["stop_sequence"].clone();
                let u = &v["usage"];
                assert!(
                    u["input_tokens"].is_u64() && u["output_tokens"].is_u64(),
                    "usage in message_delta"
                );
                acc.usage = u.clone();
            }
            "message_stop" => {
                assert!(delta_seen, "message_delta before message_stop");
                stopped = true;
            }
            other => panic!("unknown event {other}"),
        }
    }
    assert!(
        acc.error.is_some() || stopped || text.is_empty(),
        "a stream ends with message_stop or an error"
    );
    acc
}
