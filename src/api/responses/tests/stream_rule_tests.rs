//! Streams built chunk by chunk in the test: the rules at the edges (ending, failing, odd
//! upstream behaviour), and that any upstream input gives a valid Responses stream.

use super::fixtures::{context, read};
use super::invariants::check;
use super::mutate::Mutator;
use super::stream_tests::{items, translate, GOLDENS, PLAIN, TOOLS};
use crate::api::responses::StreamTranslator;
use serde_json::{json, Value};

fn sse(chunks: &[Value]) -> Vec<u8> {
    chunks
        .iter()
        .map(|c| format!("data: {c}\n\n"))
        .collect::<String>()
        .into_bytes()
}

fn delta(d: Value) -> Value {
    json!({"choices": [{"index": 0, "delta": d, "finish_reason": null}]})
}

#[test]
fn fail_after_text_ends_with_response_failed_and_nothing_after() {
    let ctx = context(PLAIN);
    let mut t = StreamTranslator::new(&ctx);
    let mut out = Vec::new();
    t.push(&sse(&[delta(json!({"content": "Par"}))]), &mut out);
    t.fail("upstream went quiet for 45 s", &mut out);
    let len = out.len();
    t.push(&sse(&[delta(json!({"content": "tial"}))]), &mut out);
    t.finish(&mut out);
    t.fail("again", &mut out);
    assert_eq!(out.len(), len, "nothing after response.failed");
    let c = check(&out).unwrap();
    assert_eq!(c.terminal, "response.failed");
    assert_eq!(
        c.response["error"]["message"],
        "upstream went quiet for 45 s"
    );
    assert_eq!(c.response["error"]["code"], "server_error");
}

#[test]
fn finish_completes_exactly_once() {
    let ctx = context(PLAIN);
    let mut t = StreamTranslator::new(&ctx);
    let mut out = Vec::new();
    t.push(&sse(&[delta(json!({"content": "x"}))]), &mut out);
    t.finish(&mut out);
    let len = out.len();
    t.finish(&mut out);
    t.push(&sse(&[delta(json!({"content": "y"}))]), &mut out);
    assert_eq!(out.len(), len);
    check(&out).unwrap();
}

#[test]
fn an_empty_upstream_stream_still_opens_and_completes() {
    let ctx = context(PLAIN);
    let c = check(&translate(&ctx, &[])).unwrap();
    assert_eq!(c.events.len(), 3);
    assert_eq!(c.response["output"], json!([]));
}

#[test]
fn text_after_tool_calls_closes_them_and_their_late_fragments_are_dropped() {
    let ctx = context(TOOLS);
    let call = |args: &str| {
        delta(
            json!({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "exec_command", "arguments": args}}]}),
        )
    };
    let bytes = sse(&[
        call("{\"cmd\":"),
        delta(json!({"content": "Meanwhile…"})),
        call("\"ls\"}"),
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
    ]);
    let c = check(&translate(&ctx, &[&bytes])).unwrap();
    let out = items(&c);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0]["arguments"], "{\"cmd\":");
    assert_eq!(out[1]["content"][0]["text"], "Meanwhile…");
}

#[test]
fn a_call_whose_name_never_comes_is_reported_with_an_empty_name() {
    let ctx = context(TOOLS);
    let bytes = sse(&[delta(
        json!({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}),
    )]);
    let c = check(&translate(&ctx, &[&bytes])).unwrap();
    let out = items(&c);
    assert_eq!(out[0]["name"], "");
    assert_eq!(out[0]["arguments"], "{}");
    assert_eq!(
        out[0]["call_id"], "call_test_0",
        "a call id is made up when upstream gave none"
    );
}

#[test]
fn an_unreadable_event_fails_the_stream() {
    let ctx = context(PLAIN);
    let c = check(&translate(&ctx, &[b"data: {\"choices\": [oops\n\n"])).unwrap();
    assert_eq!(c.terminal, "response.failed");
    let c = check(&translate(&ctx, &[b": keep-alive\n\ndata: [DONE]\n\n"])).unwrap();
    assert_eq!(
        c.terminal, "response.completed",
        "comments and [DONE] are not events"
    );
}

#[test]
fn usage_is_what_upstream_reported() {
    let ctx = context(PLAIN);
    let mut t = StreamTranslator::new(&ctx);
    let mut out = Vec::new();
    assert_eq!(t.usage(), crate::usage::Usage::default());
    t.push(&read("streams/reasoning-then-text.upstream.sse"), &mut out);
    let u = t.usage();
    assert_eq!(
        (u.input_tokens, u.output_tokens, u.reasoning_tokens),
        (30, 25, 14)
    );
}

#[test]
fn an_oversized_event_fails_instead_of_growing_without_bound() {
    let ctx = context(PLAIN);
    let mut t = StreamTranslator::new(&ctx);
    let mut out = Vec::new();
    let big = vec![b'x'; crate::qwen::sse::EVENT_CAP + 1];
    t.push(b"data: ", &mut out);
    t.push(&big, &mut out);
    let c = check(&out).unwrap();
    assert_eq!(c.terminal, "response.failed");
}

#[test]
fn two_calls_numbered_alike_but_with_their_own_ids_are_two_items() {
    let ctx = context(TOOLS);
    let call = |id: &str, name: &str, args: &str| {
        let mut f = json!({"arguments": args});
        if !name.is_empty() {
            f["name"] = json!(name);
        }
        delta(json!({"tool_calls": [{"index": 0, "id": id, "function": f}]}))
    };
    let bytes = sse(&[
        call("call_1", "exec_command", "{\"cmd\":\"a\"}"),
        call("call_2", "exec_command", "{\"cmd\":"),
        call("", "", "\"b\"}"),
    ]);
    let c = check(&translate(&ctx, &[&bytes])).unwrap();
    let out = items(&c);
    assert_eq!(out.len(), 2);
    assert_eq!(
        (out[0]["call_id"].as_str(), out[0]["arguments"].as_str()),
        (Some("call_1"), Some("{\"cmd\":\"a\"}"))
    );
    assert_eq!(
        (out[1]["call_id"].as_str(), out[1]["arguments"].as_str()),
        (Some("call_2"), Some("{\"cmd\":\"b\"}"))
    );
}

#[test]
fn a_bare_code_and_message_event_is_an_upstream_error() {
    let ctx = context(PLAIN);
    let bytes = sse(&[
        delta(json!({"content": "x"})),
        json!({"code": "Throttling.RateQuota", "message": "Requests rate limit exceeded", "request_id": "r1"}),
    ]);
    let c = check(&translate(&ctx, &[&bytes])).unwrap();
    assert_eq!(c.terminal, "response.failed");
    assert_eq!(c.response["error"]["code"], "rate_limit_exceeded");
}

#[test]
fn whatever_upstream_sends_the_output_is_a_valid_responses_stream() {
    let mut m = Mutator::new(0x9e37_79b9_7f4a_7c15, b"\"\\{}[],:\n\r 0aZ\xc3\xa9\xff");
    for (stream, request) in GOLDENS {
        let ctx = context(request);
        let upstream = read(&format!("streams/{stream}.upstream.sse"));
        for _ in 0..150 {
            let bytes = m.mutated(&upstream, 4);
            let cut = m.below(bytes.len());
            let out = translate(&ctx, &[&bytes[..cut], &bytes[cut..]]);
            if let Err(e) = check(&out) {
                panic!("{stream} mutated: {e}\n{}", String::from_utf8_lossy(&bytes));
            }
        }
    }
}

#[test]
fn an_error_in_a_last_event_without_its_blank_line_is_the_end() {
    let ctx = context(PLAIN);
    let bytes = b"data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: {\"error\":{\"message\":\"boom\"}}";
    let c = check(&translate(&ctx, &[bytes])).unwrap();
    assert_eq!(c.terminal, "response.failed");
}
