//! Non-streamed answers: chat completions in, `response` objects out.

use super::fixtures::{context, golden_json, read};
use super::mutate::Mutator;
use crate::api::responses::from_chat;
use serde_json::{json, Value};

const TOOLS: &str = "requests/stream-tools.request.json";
const PLAIN: &str = "requests/sdk-string-input.request.json";

fn answer(name: &str, request: &str) -> Value {
    let ctx = context(request);
    let (body, usage) = from_chat(&read(&format!("answers/{name}.chat.json")), &ctx)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    golden_json(&format!("answers/{name}.response.json"), &body);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["usage"]["input_tokens"], usage.input_tokens);
    assert_eq!(v["usage"]["output_tokens"], usage.output_tokens);
    v
}

#[test]
fn golden_answers() {
    for (name, request) in [
        ("text", PLAIN),
        ("reasoning-and-calls", TOOLS),
        ("length", PLAIN),
    ] {
        let v = answer(name, request);
        assert_eq!(v["object"], "response");
        assert_eq!(v["id"], "resp_test");
        assert_eq!(v["created_at"], 1_764_000_000);
        assert_eq!(v["model"], "qwen3-coder-plus");
    }
}

#[test]
fn a_plain_answer_is_one_completed_message() {
    let v = answer("text", PLAIN);
    assert_eq!(v["status"], "completed");
    assert_eq!(
        v["output"],
        json!([{"id": "msg_test_0", "type": "message", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": "Hi! \"Quoted\" and café.", "annotations": [], "logprobs": []}]}])
    );
    assert_eq!(v["usage"]["total_tokens"], 15);
    assert_eq!(v["store"], false);
    assert_eq!(v["tools"], json!([]));
}

#[test]
fn reasoning_text_and_every_kind_of_call_in_order() {
    let v = answer("reasoning-and-calls", TOOLS);
    let out = v["output"].as_array().unwrap();
    let kinds: Vec<&str> = out.iter().map(|o| o["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "reasoning",
            "message",
            "function_call",
            "custom_tool_call",
            "function_call"
        ]
    );
    assert_eq!(out[0]["summary"][0]["text"], "First list, then patch.");
    assert_eq!(out[2]["arguments"], r#"{"cmd":"ls"}"#);
    assert_eq!(
        out[3]["input"],
        "*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\n"
    );
    assert_eq!(
        (out[4]["name"].as_str(), out[4]["namespace"].as_str()),
        (Some("close_agent"), Some("multi_agent_v1"))
    );
    assert_eq!(v["usage"]["input_tokens_details"]["cached_tokens"], 1024);
    assert_eq!(v["usage"]["output_tokens_details"]["reasoning_tokens"], 20);
    // The request's parameters are echoed.
    assert_eq!(
        v["reasoning"],
        json!({"effort": "medium", "summary": "auto"})
    );
    assert_eq!(v["prompt_cache_key"], "0f3c");
    assert_eq!(v["tools"].as_array().unwrap().len(), 4);
}

#[test]
fn a_length_stop_is_incomplete_with_max_output_tokens() {
    let v = answer("length", PLAIN);
    assert_eq!(v["status"], "incomplete");
    assert_eq!(
        v["incomplete_details"],
        json!({"reason": "max_output_tokens"})
    );
    assert_eq!(v["output"][0]["status"], "incomplete");
}

#[test]
fn an_answer_with_nothing_in_it_is_one_empty_message_and_usage_defaults_to_zeros() {
    let ctx = context(PLAIN);
    let (body, _) = from_chat(
        br#"{"choices":[{"message":{"role":"assistant","content":null},"finish_reason":"stop"}]}"#,
        &ctx,
    )
    .unwrap();
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["output"][0]["content"][0]["text"], "");
    assert_eq!(v["usage"]["total_tokens"], 0);
}

#[test]
fn unusable_answers_are_upstream_errors_not_panics() {
    let ctx = context(PLAIN);
    for bad in [
        &b"not json"[..],
        b"{}",
        b"{\"choices\":[]}",
        b"{\"choices\":[{}]}",
        b"[1,2]",
        &[0xff, 0xfe],
    ] {
        let e = from_chat(bad, &ctx).unwrap_err();
        assert_eq!(e.status(), 502, "{e}");
    }
    let e = from_chat(
        br#"{"error":{"message":"Incorrect API key provided: sk-abcdefghijklmnop"}}"#,
        &ctx,
    )
    .unwrap_err();
    let msg = e.message(crate::api::Audience::Admin);
    assert!(
        msg.contains("Incorrect API key") && !msg.contains("abcdefghijklmnop"),
        "{msg}"
    );
}

#[test]
fn arguments_given_as_an_object_are_written_as_text() {
    let ctx = context(TOOLS);
    let (body, _) = from_chat(
        br#"{"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[{"function":{"name":"exec_command","arguments":{"cmd":"ls"}}}]},"finish_reason":"tool_calls"}]}"#,
        &ctx,
    )
    .unwrap();
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["output"][0]["arguments"], r#"{"cmd":"ls"}"#);
    assert_eq!(v["output"][0]["call_id"], "call_test_0");
}

#[test]
fn whatever_upstream_answers_the_result_is_a_json_response_or_a_502() {
    let ctx = context(TOOLS);
    let original = read("answers/reasoning-and-calls.chat.json");
    let mut m = Mutator::new(0x853c_49e6_748f_ea9b, b"\"\\{}[],:\n 0tn\xc3\xa9");
    for _ in 0..500 {
        let mut bytes = original.clone();
        m.edit(&mut bytes);
        match from_chat(&bytes, &ctx) {
            Ok((body, _)) => {
                serde_json::from_str::<Value>(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
            }
            Err(e) => assert_eq!(e.status(), 502),
        }
    }
}
