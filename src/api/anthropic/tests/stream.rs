use super::*;
use crate::api::anthropic::fixtures::{check_stream, golden, read, Accumulated};
use serde_json::json;

const MODEL: &str = "claude-sonnet-4-5";
const ID: &str = "msg_0123abcd";

/// The translation of `upstream` fed in pieces of `size` bytes (0: whole).
fn translate(upstream: &[u8], size: usize) -> Vec<u8> {
    let mut t = StreamTranslator::new(MODEL, ID);
    let mut out = Vec::new();
    if size == 0 {
        t.push(upstream, &mut out);
    } else {
        for piece in upstream.chunks(size) {
            t.push(piece, &mut out);
        }
    }
    t.finish(&mut out);
    t.finish(&mut out);
    assert!(t.is_finished());
    out
}

/// Runs a recorded upstream stream through every chunking, checks they agree and that the
/// output is valid, and compares it with the golden file.
fn run(name: &str) -> Accumulated {
    let upstream = read(&format!("streams/{name}.upstream.sse"));
    let whole = translate(&upstream, 0);
    for size in [1, 2, 7, 13, 61, 256] {
        assert!(
            translate(&upstream, size) == whole,
            "{name}: chunks of {size} bytes change the output"
        );
    }
    golden(&format!("streams/{name}.anthropic.sse"), &whole);
    check_stream(&whole)
}

#[test]
fn reasoning_becomes_one_thinking_block_closed_before_one_text_block() {
    let a = run("reasoning_then_text");
    let kinds: Vec<&str> = a.blocks.iter().map(|b| b.0.as_str()).collect();
    assert_eq!(kinds, ["thinking", "text"]);
    assert_eq!(
        a.thinking(),
        "The user wants a greeting.\nKeep it \"short\"."
    );
    assert_eq!(a.text(), "Hello! How can I help?");
    assert_eq!(a.stop_reason.as_deref(), Some("end_turn"));
    assert_eq!(
        a.usage,
        json!({"input_tokens": 971, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 2048, "output_tokens": 42})
    );
}

#[test]
fn text_is_copied_with_its_escapes_intact() {
    let a = run("text_only");
    assert_eq!(a.blocks.len(), 1);
    assert_eq!(
        a.text(),
        "Here is the fix:\n\n```rust\nfn main() {\n    println!(\"héllo, 世界 🦀\");\n}\n```\nTab\there, backslash \\ and a control \u{1} char."
    );
}

#[test]
fn a_tool_call_with_finish_reason_stop_is_tool_use() {
    let a = run("tool_call_fragments_finish_stop");
    assert_eq!(a.text(), "I'll write the file.");
    assert_eq!(
        a.tools(),
        vec![(
            "call_9a1b2c".into(),
            "Write".into(),
            json!({"file_path": "/home/user/project/hello.txt", "content": "hello\n"})
        )]
    );
    assert_eq!(a.stop_reason.as_deref(), Some("tool_use"));
    assert_eq!(a.usage["cache_read_input_tokens"], 20480);
}

#[test]
fn interleaved_parallel_calls_get_one_block_each_in_order() {
    let a = run("parallel_tools_interleaved");
    let tools = a.tools();
    assert_eq!(tools.len(), 2);
    assert_eq!(
        tools[0],
        (
            "call_a".into(),
            "Read".into(),
            json!({"file_path": "/home/user/project/a.rs"})
        )
    );
    assert_eq!(
        tools[1],
        (
            "call_b".into(),
            "Read".into(),
            json!({"file_path": "/home/user/project/b.rs"})
        )
    );
    assert_eq!(a.thinking(), "Read both files.");
    assert_eq!(a.stop_reason.as_deref(), Some("tool_use"));
}

#[test]
fn a_tool_whose_name_arrives_late_opens_when_named_with_what_came_before() {
    let a = run("tool_name_late");
    assert_eq!(
        a.tools(),
        vec![(
            "call_late".into(),
            "Bash".into(),
            json!({"command": "ls -la", "description": "List files"})
        )]
    );
}

#[test]
fn a_stream_without_done_or_blank_line_still_ends_once() {
    let a = run("no_done_cut_last_event");
    assert_eq!(a.text(), "Partial answer that ends");
    assert_eq!(a.stop_reason.as_deref(), Some("end_turn"));
    assert_eq!(
        a.usage["input_tokens"], 0,
        "no usage came: zeros, still present"
    );
}

#[test]
fn an_upstream_error_mid_stream_is_an_error_event_with_nothing_after() {
    let a = run("mid_stream_error");
    let e = a.error.clone().expect("an error event");
    assert_eq!(e["type"], "overloaded_error");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("Throttling.RateQuota") && !msg.contains("sk-"),
        "{msg}"
    );
    assert_eq!(a.text(), "Working on");
    let mut t = StreamTranslator::new(MODEL, ID);
    let mut out = Vec::new();
    t.push(&read("streams/mid_stream_error.upstream.sse"), &mut out);
    assert!(t.upstream_error().unwrap().contains("Throttling.RateQuota"));
}

fn feed(events: &[&str]) -> (StreamTranslator, Vec<u8>) {
    let mut t = StreamTranslator::new(MODEL, ID);
    let mut out = Vec::new();
    for e in events {
        t.push(format!("data: {e}\n\n").as_bytes(), &mut out);
    }
    (t, out)
}

fn finished(events: &[&str]) -> (Accumulated, String) {
    let (mut t, mut out) = feed(events);
    t.finish(&mut out);
    (check_stream(&out), String::from_utf8(out).unwrap())
}

#[test]
fn message_start_comes_with_the_first_chunk_and_usage_present() {
    let (t, out) = feed(&[r#"{"choices":[{"delta":{"role":"assistant","content":""}}]}"#]);
    let out = String::from_utf8(out).unwrap();
    assert_eq!(
        out,
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_0123abcd\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":0,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":0}}}\n\n"
    );
    assert!(!t.is_finished());
}

#[test]
fn message_delta_waits_for_the_usage_chunk() {
    let (t, out) = feed(&[
        r#"{"choices":[{"delta":{"content":"hi"}}]}"#,
        r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#,
    ]);
    assert!(!String::from_utf8_lossy(&out).contains("message_delta"));
    assert!(!t.is_finished());
    assert!(t.answer_complete(), "only the usage is missing");
    let (a, _) = finished(&[
        r#"{"choices":[{"delta":{"content":"hi"}}]}"#,
        r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#,
        r#"{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":2}}"#,
    ]);
    assert_eq!(
        (
            a.usage["input_tokens"].as_u64(),
            a.usage["output_tokens"].as_u64()
        ),
        (Some(10), Some(2))
    );
    let (mut t, mut out) = feed(&[
        r#"{"choices":[{"delta":{"content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":4,"completion_tokens":1}}"#,
    ]);
    assert!(
        t.is_finished(),
        "usage with the finish reason ends the message at once"
    );
    let n = out.len();
    t.push(b"data: [DONE]\n\n", &mut out);
    t.finish(&mut out);
    t.ping(&mut out);
    assert_eq!(out.len(), n, "nothing after message_stop");
}

#[test]
fn a_new_id_on_a_reused_index_is_a_new_tool_call() {
    let (a, _) = finished(&[
        r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"Read","arguments":"{\"file_path\":\"/a\"}"}}]}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c2","function":{"name":"Read","arguments":"{\"file_path\":\"/b\"}"}}]}}]}"#,
    ]);
    let ids: Vec<String> = a.tools().into_iter().map(|t| t.0).collect();
    assert_eq!(ids, ["c1", "c2"]);
    assert_eq!(a.stop_reason.as_deref(), Some("tool_use"));
}

#[test]
fn an_id_upstream_repeats_on_another_call_is_replaced() {
    let (a, _) = finished(&[
        r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"dup","function":{"name":"Read","arguments":"{}"}}]}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"index":1,"id":"dup","function":{"name":"Read","arguments":"{}"}}]}}]}"#,
    ]);
    let ids: Vec<String> = a.tools().into_iter().map(|t| t.0).collect();
    assert_eq!(ids, ["dup", "toolu_0123abcd_1"]);
}

#[test]
fn a_tool_never_named_or_identified_gets_a_synthetic_name_and_id() {
    let (a, _) = finished(&[
        r#"{"choices":[{"delta":{"tool_calls":[{"index":3,"function":{"arguments":"{}"}}]}}]}"#,
    ]);
    assert_eq!(
        a.tools(),
        vec![("toolu_0123abcd_0".into(), "unnamed_tool".into(), json!({}))]
    );
}

#[test]
fn text_after_a_tool_block_is_sent_after_the_tools_and_blank_text_is_dropped() {
    let (a, _) = finished(&[
        r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"Bash","arguments":"{\"command\":\"ls\"}"}}]}}]}"#,
        r#"{"choices":[{"delta":{"content":"Listing."}}]}"#,
    ]);
    let kinds: Vec<&str> = a.blocks.iter().map(|b| b.0.as_str()).collect();
    assert_eq!(kinds, ["tool_use", "text"]);
    let (a, _) = finished(&[
        r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"Bash","arguments":"{}"}}]}}]}"#,
        r#"{"choices":[{"delta":{"content":"\n\n"}}]}"#,
    ]);
    assert_eq!(a.blocks.len(), 1);
}

#[test]
fn reasoning_after_text_is_dropped_not_interleaved() {
    let (a, _) = finished(&[
        r#"{"choices":[{"delta":{"content":"Answer."}}]}"#,
        r#"{"choices":[{"delta":{"reasoning_content":"late thought"}}]}"#,
        r#"{"choices":[{"delta":{"content":" More."}}]}"#,
    ]);
    assert_eq!(a.blocks.len(), 1);
    assert_eq!(a.text(), "Answer. More.");
}

#[test]
fn a_truncated_tool_call_says_max_tokens() {
    let (a, _) = finished(&[
        r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"Write","arguments":"{\"content\":\"abc"}}]}}]}"#,
        r#"{"choices":[{"delta":{},"finish_reason":"length"}]}"#,
    ]);
    assert_eq!(a.stop_reason.as_deref(), Some("max_tokens"));
}

#[test]
fn a_matched_stop_string_is_the_stop_sequence() {
    let (a, _) = finished(&[
        r#"{"choices":[{"delta":{"content":"a"},"finish_reason":"stop","stop_reason":"END"}]}"#,
    ]);
    assert_eq!(
        (a.stop_reason.as_deref(), a.stop_sequence.as_str()),
        (Some("stop_sequence"), Some("END"))
    );
}

#[test]
fn a_stream_with_no_chunk_is_an_error_not_an_empty_message() {
    let (a, _) = finished(&["[DONE]"]);
    assert_eq!(a.error.unwrap()["type"], "api_error");
    let mut t = StreamTranslator::new(MODEL, ID);
    let mut out = Vec::new();
    t.finish(&mut out);
    assert_eq!(check_stream(&out).error.unwrap()["type"], "api_error");
}

#[test]
fn fail_after_the_start_ends_the_stream_with_one_error_event() {
    let (mut t, mut out) = feed(&[r#"{"choices":[{"delta":{"content":"half"}}]}"#]);
    t.ping(&mut out);
    t.fail("Upstream stopped sending.", &mut out);
    t.fail("again", &mut out);
    t.finish(&mut out);
    t.push(
        b"data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n",
        &mut out,
    );
    let a = check_stream(&out);
    assert_eq!(a.pings, 1);
    assert_eq!(
        a.error.unwrap(),
        json!({"type": "api_error", "message": "Upstream stopped sending."})
    );
    let (mut t, mut out) = feed(&[r#"{"choices":[{"delta":{"content":"half"}}]}"#]);
    t.fail_as(StreamFailure::Overloaded, "busy", &mut out);
    assert_eq!(
        check_stream(&out).error.unwrap()["type"],
        "overloaded_error"
    );
}

#[test]
fn unreadable_or_oversized_upstream_events_fail_the_stream() {
    let (mut t, mut out) = feed(&[
        r#"{"choices":[{"delta":{"content":"ok"}}]}"#,
        r#"{"choices": [oops"#,
    ]);
    t.finish(&mut out);
    assert_eq!(check_stream(&out).error.unwrap()["type"], "api_error");
    let (_, out) = feed(&[
        ": keep-alive",
        "ping",
        r#"{"choices":[{"delta":{"content":"ok"}}]}"#,
    ]);
    assert!(
        String::from_utf8(out).unwrap().contains("\"text\":\"ok\""),
        "non-JSON keep-alives are skipped"
    );
}

#[test]
fn arguments_sent_as_an_object_are_written_as_json_text() {
    let (a, _) = finished(&[
        r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"Bash","arguments":{"command":"ls"}}}]}}]}"#,
    ]);
    assert_eq!(a.tools()[0].2, json!({"command": "ls"}));
}

#[test]
fn usage_is_reported_to_the_worker() {
    let upstream = read("streams/reasoning_then_text.upstream.sse");
    let mut t = StreamTranslator::new(MODEL, ID);
    let mut out = Vec::new();
    t.push(&upstream, &mut out);
    let u = t.usage();
    assert_eq!(
        (
            u.input_tokens,
            u.output_tokens,
            u.cached_tokens,
            u.reasoning_tokens
        ),
        (3019, 42, 2048, 30)
    );
}

#[test]
fn the_json_end_watcher_sees_through_escapes_and_strings() {
    use crate::api::anthropic::stream_blocks::JsonEnd;
    let mut j = JsonEnd::default();
    for frag in [
        r#"{\"a\": \"}{\\\"\", "#,
        r#"\"b\": [1, {\"c\": \"\\\\\"}]"#,
    ] {
        j.feed(frag);
        assert!(!j.complete());
    }
    j.feed("}");
    assert!(j.complete());
    let mut j = JsonEnd::default();
    j.feed(r#"{\"x\": \"\u007d\"}"#);
    assert!(j.complete(), "a \\u escape inside a string is not a brace");
}
