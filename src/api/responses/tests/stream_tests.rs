//! Streams: recorded-style upstream chunks in, the exact Responses events out, however the
//! upstream bytes are cut; and the rules the goldens rely on, one by one.

use super::fixtures::{context, golden_text, read};
use super::invariants::{check, Checked};
use crate::api::responses::{ResponseContext, StreamTranslator};
use serde_json::{json, Value};

pub(super) const TOOLS: &str = "requests/stream-tools.request.json";
pub(super) const PLAIN: &str = "requests/sdk-string-input.request.json";

/// (stream fixture, request fixture whose context it is translated with)
pub(super) const GOLDENS: &[(&str, &str)] = &[
    ("text", PLAIN),
    ("reasoning-then-text", PLAIN),
    ("reasoning-only", PLAIN),
    ("shell-tool-call", TOOLS),
    ("parallel-tool-calls", TOOLS),
    ("apply-patch", TOOLS),
    ("namespaced-call", TOOLS),
    ("late-name", TOOLS),
    ("length", PLAIN),
    ("mid-stream-error", PLAIN),
    ("no-done-crlf", PLAIN),
];

/// Translates `upstream` fed in the given pieces, then finishes.
pub(super) fn translate(ctx: &ResponseContext, pieces: &[&[u8]]) -> Vec<u8> {
    let mut t = StreamTranslator::new(ctx);
    let mut out = Vec::new();
    for p in pieces {
        t.push(p, &mut out);
    }
    t.finish(&mut out);
    out
}

/// Ways to cut a stream: whole, byte by byte, fixed sizes, and pseudo-random cuts.
fn cuttings(bytes: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut all = vec![vec![bytes], bytes.chunks(1).collect()];
    for size in [2, 3, 7, 64, 200] {
        all.push(bytes.chunks(size).collect());
    }
    let mut seed = 0x2545_f491_u64;
    let mut pieces = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let len = 1 + (seed >> 33) as usize % 97;
        let end = (at + len).min(bytes.len());
        pieces.push(&bytes[at..end]);
        at = end;
    }
    all.push(pieces);
    all
}

fn run(stream: &str, request: &str) -> Checked {
    let ctx = context(request);
    let upstream = read(&format!("streams/{stream}.upstream.sse"));
    let out = translate(&ctx, &[&upstream]);
    check(&out).unwrap_or_else(|e| panic!("{stream}: {e}"))
}

#[test]
fn golden_streams_are_translated_exactly_however_upstream_is_cut() {
    for (stream, request) in GOLDENS {
        let ctx = context(request);
        let upstream = read(&format!("streams/{stream}.upstream.sse"));
        let whole = translate(&ctx, &[&upstream]);
        golden_text(
            &format!("streams/{stream}.expected.sse"),
            std::str::from_utf8(&whole).unwrap(),
        );
        check(&whole).unwrap_or_else(|e| panic!("{stream}: {e}"));
        for pieces in cuttings(&upstream) {
            let out = translate(&ctx, &pieces);
            assert!(
                out == whole,
                "{stream}: cut into {} pieces, the output differs",
                pieces.len()
            );
        }
    }
}

pub(super) fn items(c: &Checked) -> Vec<Value> {
    c.response["output"].as_array().unwrap().clone()
}

#[test]
fn text_deltas_are_copied_as_they_came_and_usage_comes_from_the_final_empty_chunk() {
    let c = run("text", PLAIN);
    let out = items(&c);
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0]["content"][0]["text"],
        "Hello, \"world\"!\nCafé — done 😀"
    );
    assert_eq!(c.response["usage"]["input_tokens"], 12);
    assert_eq!(
        c.response["usage"]["input_tokens_details"]["cached_tokens"],
        8
    );
    assert_eq!(c.response["usage"]["total_tokens"], 21);
    assert_eq!(c.response["model"], "qwen3-coder-plus");
    assert_eq!(c.terminal, "response.completed");
}

#[test]
fn reasoning_is_a_summary_item_closed_before_the_text_starts() {
    let c = run("reasoning-then-text", PLAIN);
    let names: Vec<&str> = c.events.iter().map(|e| e.name.as_str()).collect();
    let done_reasoning = names
        .iter()
        .position(|n| *n == "response.reasoning_summary_part.done")
        .unwrap();
    let first_text = names
        .iter()
        .position(|n| *n == "response.output_text.delta")
        .unwrap();
    assert!(done_reasoning < first_text);
    let out = items(&c);
    assert_eq!(out[0]["type"], "reasoning");
    assert_eq!(out[0]["summary"][0]["text"], "The user wants a greeting.");
    assert_eq!(out[1]["content"][0]["text"], "Hi there.");
    assert_eq!(
        c.response["usage"]["output_tokens_details"]["reasoning_tokens"],
        14
    );
}

#[test]
fn a_turn_that_only_reasoned_is_not_empty() {
    let c = run("reasoning-only", PLAIN);
    let out = items(&c);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["summary"][0]["text"], "Nothing to say.");
}

#[test]
fn a_tool_call_with_finish_reason_stop_is_still_a_function_call() {
    let c = run("shell-tool-call", TOOLS);
    assert_eq!(c.terminal, "response.completed");
    let out = items(&c);
    assert_eq!(out.len(), 1, "the empty content delta opens no message");
    assert_eq!(out[0]["type"], "function_call");
    assert_eq!(out[0]["call_id"], "call_7f3e");
    assert_eq!(out[0]["name"], "exec_command");
    let args: Value = serde_json::from_str(out[0]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args["cmd"], "ls -la \"my dir\"");
    let deltas = c
        .events
        .iter()
        .filter(|e| e.name == "response.function_call_arguments.delta")
        .count();
    assert_eq!(deltas, 5, "one delta per upstream fragment");
}

#[test]
fn parallel_calls_keep_one_item_each_with_stable_indexes() {
    let c = run("parallel-tool-calls", TOOLS);
    let out = items(&c);
    assert_eq!(out.len(), 3);
    assert_eq!(out[0]["type"], "message");
    assert_eq!(
        (out[1]["call_id"].as_str(), out[1]["arguments"].as_str()),
        (Some("call_a"), Some(r#"{"cmd":"cat a.txt"}"#))
    );
    assert_eq!(
        (out[2]["call_id"].as_str(), out[2]["arguments"].as_str()),
        (Some("call_b"), Some(r#"{"cmd":"cat b.txt"}"#))
    );
    for e in &c.events {
        if e.name == "response.function_call_arguments.delta" {
            let want = if e.data["item_id"] == out[1]["id"] {
                1
            } else {
                2
            };
            assert_eq!(e.data["output_index"], want);
        }
    }
}

#[test]
fn apply_patch_comes_back_as_a_custom_tool_call_with_the_raw_patch() {
    let c = run("apply-patch", TOOLS);
    let out = items(&c);
    assert_eq!(out[1]["type"], "custom_tool_call");
    assert_eq!(out[1]["name"], "apply_patch");
    assert_eq!(out[1]["call_id"], "call_p1");
    assert_eq!(
        out[1]["input"],
        "*** Begin Patch\n*** Add File: hello.txt\n+hello \"world\"\n*** End Patch\n"
    );
    assert!(c
        .events
        .iter()
        .all(|e| e.name != "response.function_call_arguments.delta"));
    let names: Vec<&str> = c.events.iter().map(|e| e.name.as_str()).collect();
    let added = names
        .iter()
        .rposition(|n| *n == "response.output_item.added")
        .unwrap();
    assert_eq!(
        &names[added..added + 4],
        [
            "response.output_item.added",
            "response.custom_tool_call_input.delta",
            "response.custom_tool_call_input.done",
            "response.output_item.done"
        ]
    );
}

#[test]
fn a_namespaced_call_is_reported_under_its_own_name_with_its_namespace() {
    let c = run("namespaced-call", TOOLS);
    let out = items(&c);
    assert_eq!(out[0]["name"], "close_agent");
    assert_eq!(out[0]["namespace"], "multi_agent_v1");
    assert_eq!(out[0]["arguments"], r#"{"target":"agent-1"}"#);
}

#[test]
fn a_call_whose_name_comes_late_is_added_when_it_comes_with_the_arguments_held() {
    let c = run("late-name", TOOLS);
    let call_events: Vec<(&str, Value)> = c
        .events
        .iter()
        .filter(|e| e.name.contains("output_item") || e.name.contains("arguments"))
        .map(|e| {
            (
                e.name.as_str(),
                e.data.get("delta").cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    assert_eq!(
        call_events,
        vec![
            ("response.output_item.added", Value::Null),
            (
                "response.function_call_arguments.delta",
                json!("{\"cmd\":\"pwd\"")
            ),
            ("response.function_call_arguments.delta", json!("}")),
            ("response.function_call_arguments.done", Value::Null),
            ("response.output_item.done", Value::Null),
        ]
    );
    assert_eq!(items(&c)[0]["call_id"], "call_late");
}

#[test]
fn length_makes_the_response_incomplete_with_its_reason() {
    let c = run("length", PLAIN);
    assert_eq!(c.terminal, "response.incomplete");
    assert_eq!(c.response["status"], "incomplete");
    assert_eq!(
        c.response["incomplete_details"]["reason"],
        "max_output_tokens"
    );
    assert_eq!(items(&c)[0]["status"], "incomplete");
}

#[test]
fn an_upstream_error_mid_stream_fails_the_response_with_a_code_codex_understands() {
    let c = run("mid-stream-error", PLAIN);
    assert_eq!(c.terminal, "response.failed");
    assert_eq!(c.response["error"]["code"], "context_length_exceeded");
    assert!(c.response["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Range of input length"));
}

#[test]
fn crlf_events_without_done_and_usage_on_the_last_choice_chunk() {
    let c = run("no-done-crlf", PLAIN);
    assert_eq!(c.terminal, "response.completed");
    assert_eq!(items(&c)[0]["content"][0]["text"], "Short.");
    assert_eq!(c.response["usage"]["total_tokens"], 9);
}
