use super::*;
use crate::api::anthropic::fixtures::{golden, read};
use serde_json::{json, Value};

const MODEL: &str = "claude-sonnet-4-5";
const ID: &str = "msg_77aa";

fn message(answer: &Value) -> Value {
    let (text, _) = from_chat(answer.to_string().as_bytes(), MODEL, ID).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn answer(message: Value, finish: &str) -> Value {
    json!({"choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 3}})
}

#[test]
fn recorded_answers_translate_to_the_golden_messages() {
    for name in ["tools_with_finish_stop", "text_cut_by_length"] {
        let (text, _) =
            from_chat(&read(&format!("answers/{name}.openai.json")), MODEL, ID).unwrap();
        golden(&format!("answers/{name}.anthropic.json"), text.as_bytes());
        let m: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (m["id"].as_str(), m["model"].as_str(), m["type"].as_str()),
            (Some(ID), Some(MODEL), Some("message"))
        );
        assert!(m["usage"]["input_tokens"].is_u64() && m["usage"]["output_tokens"].is_u64());
    }
}

#[test]
fn content_is_thinking_then_text_then_tools_and_tool_calls_mean_tool_use() {
    let (text, usage) = from_chat(
        &read("answers/tools_with_finish_stop.openai.json"),
        MODEL,
        ID,
    )
    .unwrap();
    let m: Value = serde_json::from_str(&text).unwrap();
    let kinds: Vec<&str> = m["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["thinking", "text", "tool_use", "tool_use"]);
    assert_eq!(m["content"][0]["signature"], "");
    assert_eq!(
        m["content"][2]["input"],
        json!({"file_path": "/home/user/project/a.rs"})
    );
    assert_eq!(
        m["content"][3]["input"],
        json!({}),
        "cut arguments become an empty input"
    );
    assert_eq!(
        m["stop_reason"], "tool_use",
        "finish_reason stop with tool calls"
    );
    assert_eq!(
        m["usage"],
        json!({"input_tokens": 258, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 11776, "output_tokens": 96})
    );
    assert_eq!(
        (
            usage.input_tokens,
            usage.cached_tokens,
            usage.reasoning_tokens
        ),
        (12034, 11776, 31)
    );
}

#[test]
fn finish_reasons_map_to_stop_reasons() {
    let text = json!({"role": "assistant", "content": "x"});
    for (finish, want) in [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "end_turn"),
        ("content_filter", "refusal"),
    ] {
        assert_eq!(
            message(&answer(text.clone(), finish))["stop_reason"],
            want,
            "{finish}"
        );
    }
    let mut a = answer(text, "stop");
    a["choices"][0]["stop_reason"] = json!("END");
    let m = message(&a);
    assert_eq!(
        (m["stop_reason"].as_str(), m["stop_sequence"].as_str()),
        (Some("stop_sequence"), Some("END"))
    );
}

#[test]
fn tool_arguments_are_parsed_unwrapped_or_emptied() {
    let call = |args: Value| {
        let m = message(&answer(
            json!({"role": "assistant", "content": null, "tool_calls": [{"type": "function", "function": {"name": "Bash", "arguments": args}}]}),
            "tool_calls",
        ));
        m["content"][0].clone()
    };
    assert_eq!(
        call(json!("{\"command\":\"ls\"}"))["input"],
        json!({"command": "ls"})
    );
    assert_eq!(
        call(json!("\"{\\\"command\\\":\\\"ls\\\"}\""))["input"],
        json!({"command": "ls"}),
        "a string holding an object"
    );
    assert_eq!(call(json!(""))["input"], json!({}));
    assert_eq!(call(json!("[1, 2]"))["input"], json!({}));
    assert_eq!(call(json!("not json"))["input"], json!({}));
    let b = call(json!("{}"));
    assert_eq!(
        (b["id"].as_str(), b["name"].as_str()),
        (Some("toolu_77aa_0"), Some("Bash")),
        "a missing id is made up"
    );
    let m = message(&answer(
        json!({"role": "assistant", "tool_calls": [{"id": "c"}, {"id": "c", "function": {"name": "Bash"}}]}),
        "tool_calls",
    ));
    assert_eq!(m["content"][0]["name"], "unnamed_tool");
    let ids = (
        m["content"][0]["id"].as_str(),
        m["content"][1]["id"].as_str(),
    );
    assert_eq!(ids, (Some("c"), Some("toolu_77aa_1")), "ids stay unique");
}

#[test]
fn empty_and_part_array_contents() {
    let m = message(&json!({"choices": []}));
    assert_eq!(
        (m["content"].clone(), m["stop_reason"].clone()),
        (json!([]), json!("end_turn"))
    );
    assert_eq!(m["usage"]["input_tokens"], 0, "usage always present");
    let m = message(&answer(
        json!({"role": "assistant", "content": "", "reasoning_content": ""}),
        "stop",
    ));
    assert_eq!(m["content"], json!([]));
    let m = message(&answer(
        json!({"role": "assistant", "content": [{"type": "text", "text": "a\""}, {"type": "text", "text": "b"}]}),
        "stop",
    ));
    assert_eq!(m["content"], json!([{"type": "text", "text": "a\"b"}]));
}

#[test]
fn unreadable_answers_are_upstream_errors() {
    for bad in [
        &b"not json"[..],
        b"[1]",
        &[0xff, 0xfe],
        br#"{"error":{"message":"boom"}}"#,
        br#"{"choices":"x"}"#,
    ] {
        let e = from_chat(bad, MODEL, ID).unwrap_err();
        assert_eq!(e.status(), 502, "{}", String::from_utf8_lossy(bad));
    }
}
