use super::*;
use crate::api::anthropic::fixtures::{golden, read};
use crate::api::Audience;
use serde_json::{json, Value};

const UPSTREAM: &str = "qwen3.6-plus";

fn chat(body: &Value) -> Value {
    let r = parse(body.to_string().as_bytes()).unwrap();
    serde_json::from_str(&r.chat_body(UPSTREAM)).unwrap()
}

fn native(body: &Value) -> Value {
    let r = parse(body.to_string().as_bytes()).unwrap();
    serde_json::from_str(&r.native_body(UPSTREAM)).unwrap()
}

fn base(messages: Value) -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": messages})
}

/// Real Claude Code requests: the first turn; the turn after a Write; a turn after a tool
/// search (a deferred tool loaded); the turn after our own translated streams were answered
/// (thinking with an empty signature, two parallel tool results).
const CLAUDE_CODE: [&str; 4] = [
    "cc_first_turn",
    "cc_write_result",
    "cc_tool_search",
    "cc_after_translated_stream",
];

#[test]
fn claude_code_requests_map_to_the_golden_chat_and_native_bodies() {
    for name in CLAUDE_CODE {
        let body = read(&format!("{name}.request.json"));
        let r = parse(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(r.stream && r.marker, "{name}");
        let chat = r.chat_body(UPSTREAM);
        golden(&format!("{name}.chat.json"), chat.as_bytes());
        let native = r.native_body(UPSTREAM);
        golden(&format!("{name}.native.json"), native.as_bytes());
        for text in [&chat, &native] {
            let v: Value = serde_json::from_str(text).unwrap();
            assert_eq!(v["model"], UPSTREAM);
            assert!(
                !text.contains("x-anthropic-billing-header"),
                "{name}: the marker stays here"
            );
        }
        let n: Value = serde_json::from_str(&native).unwrap();
        assert!(
            n["messages"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["role"] != "system"),
            "{name}"
        );
    }
}

/// The prefix upstream caches: the body up to the end of the last message.
fn messages_prefix(chat: &str) -> &str {
    &chat[..chat.find("],\"tools\"").unwrap()]
}

#[test]
fn the_next_turn_starts_with_the_bytes_of_the_previous_one() {
    let first = parse(&read("cc_first_turn.request.json"))
        .unwrap()
        .chat_body(UPSTREAM);
    let second = parse(&read("cc_write_result.request.json"))
        .unwrap()
        .chat_body(UPSTREAM);
    let prefix = messages_prefix(&first);
    assert!(second.starts_with(prefix), "turn 2 does not extend turn 1");
    assert!(messages_prefix(&second).len() > prefix.len());
}

#[test]
fn our_translated_answers_come_back_as_reasoning_and_tool_messages() {
    let r = parse(&read("cc_after_translated_stream.request.json")).unwrap();
    let c: Value = serde_json::from_str(&r.chat_body(UPSTREAM)).unwrap();
    let m = c["messages"].as_array().unwrap();
    let roles: Vec<&str> = m.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(
        roles,
        [
            "system",
            "user",
            "assistant",
            "tool",
            "assistant",
            "tool",
            "tool"
        ]
    );
    assert_eq!(m[4]["reasoning_content"], "Read both files.");
    assert_eq!(m[4]["content"], "");
    assert_eq!(m[4]["tool_calls"].as_array().unwrap().len(), 2);
    assert_eq!(
        (m[5]["tool_call_id"].as_str(), m[6]["tool_call_id"].as_str()),
        (Some("call_a"), Some("call_b"))
    );
}

#[test]
fn the_billing_marker_never_changes_what_goes_upstream() {
    let body = String::from_utf8(read("cc_first_turn.request.json")).unwrap();
    let other = body.replace(
        "cc_version=2.1.332.bc4; cc_entrypoint=sdk-cli;",
        "cc_version=2.1.400.f62; cc_entrypoint=cli; cch=00000;",
    );
    assert_ne!(body, other);
    let (a, b) = (
        parse(body.as_bytes()).unwrap(),
        parse(other.as_bytes()).unwrap(),
    );
    assert_eq!(a.chat_body(UPSTREAM), b.chat_body(UPSTREAM));
    assert_eq!(a.native_body(UPSTREAM), b.native_body(UPSTREAM));
}

#[test]
fn the_marker_predicate_matches_the_billing_block_only() {
    assert!(is_volatile_marker(
        "x-anthropic-billing-header: cc_version=2.1.332.bc4; cc_entrypoint=sdk-cli;"
    ));
    assert!(!is_volatile_marker(
        "You are a Claude agent, built on Anthropic's Claude Agent SDK."
    ));
    assert!(!is_volatile_marker(" x-anthropic-billing-header: later"));
    // Only the first block of an array is the marker's place.
    let body = json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}],
        "system": [{"type": "text", "text": "keep me"}, {"type": "text", "text": "x-anthropic-billing-header: x"}]});
    assert_eq!(
        chat(&body)["messages"][0]["content"],
        "keep me\n\nx-anthropic-billing-header: x"
    );
    let body = json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}],
        "system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=1"}]});
    assert_eq!(
        chat(&body)["messages"][0]["role"],
        "user",
        "nothing else in system: no system message"
    );
    assert!(
        native(&body).get("system").is_none(),
        "an empty system is left out"
    );
}

#[test]
fn system_entries_mid_conversation_join_the_leading_system_message() {
    let body = json!({"model": "m", "max_tokens": 5, "system": "Base.", "messages": [
        {"role": "user", "content": "a"},
        {"role": "system", "content": [{"type": "text", "text": "Env.", "cache_control": {"type": "ephemeral"}}]},
        {"role": "assistant", "content": "b"},
        {"role": "system", "content": "Reminder."},
        {"role": "user", "content": "c"}]});
    let c = chat(&body);
    let roles: Vec<&str> = c["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    assert_eq!(c["messages"][0]["content"], "Base.\n\nEnv.\n\nReminder.");
    let n = native(&body);
    assert_eq!(
        n["system"],
        json!([{"type": "text", "text": "Base."}, {"type": "text", "text": "Env.", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "Reminder."}])
    );
    assert_eq!(n["messages"].as_array().unwrap().len(), 3);
}

#[test]
fn native_body_is_the_clients_body_with_only_the_model_replaced() {
    let body = json!({"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}],
        "system": "s", "thinking": {"type": "adaptive"}, "context_management": {"edits": []}, "unknown_field": [1, 2]});
    let r = parse(body.to_string().as_bytes()).unwrap();
    let mut want = body.clone();
    want["model"] = json!(UPSTREAM);
    assert_eq!(
        serde_json::from_str::<Value>(&r.native_body(UPSTREAM)).unwrap(),
        want
    );
    let text =
        r#"{"model": "claude-x",  "max_tokens":5,"messages":[ {"role":"user","content":"hi"} ]}"#;
    let r = parse(text.as_bytes()).unwrap();
    assert_eq!(
        r.native_body("q"),
        r#"{"model":"q","max_tokens":5,"messages":[ {"role":"user","content":"hi"} ]}"#
    );
}

#[test]
fn tool_results_come_right_after_the_assistant_turn_before_the_user_text() {
    let body = base(json!([
        {"role": "user", "content": "look"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "redacted_thinking", "data": "xyz"},
            {"type": "text", "text": "Reading."},
            {"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": "/a"}},
            {"type": "tool_use", "id": "t2", "name": "Screenshot", "input": {}}]},
        {"role": "user", "content": [
            {"type": "text", "text": "and also this"},
            {"type": "tool_result", "tool_use_id": "t1", "content": "fn main() {}"},
            {"type": "tool_result", "tool_use_id": "t2", "is_error": false, "content": [
                {"type": "text", "text": "captured"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"}}]}]}
    ]));
    let m = chat(&body)["messages"].clone();
    assert_eq!(
        m[1],
        json!({"role": "assistant", "content": "Reading.", "reasoning_content": "hmm", "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "Read", "arguments": "{\"file_path\":\"/a\"}"}},
            {"id": "t2", "type": "function", "function": {"name": "Screenshot", "arguments": "{}"}}]})
    );
    assert_eq!(
        m[2],
        json!({"role": "tool", "content": "fn main() {}", "tool_call_id": "t1"})
    );
    assert_eq!(
        m[3],
        json!({"role": "tool", "content": "captured\n[the image from this result is in the next message]", "tool_call_id": "t2"})
    );
    assert_eq!(
        m[4],
        json!({"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
            {"type": "text", "text": "and also this"}]})
    );
    assert_eq!(m.as_array().unwrap().len(), 5);
    assert!(
        !chat(&body).to_string().contains("xyz"),
        "redacted thinking is never sent"
    );
}

#[test]
fn error_results_tool_references_and_documents_become_text() {
    let body = base(json!([
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "ToolSearch", "input": {"query": "select:X"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "is_error": true, "content": [{"type": "tool_reference", "tool_name": "X"}]},
            {"type": "document", "title": "Spec", "source": {"type": "text", "media_type": "text/plain", "data": "Body."}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQK"}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}]}
    ]));
    let m = chat(&body)["messages"].clone();
    assert_eq!(
        m[1]["content"],
        "Error: Tool X is loaded and can be called now."
    );
    assert_eq!(m[2]["content"][0]["text"], "Spec\n\nBody.");
    assert_eq!(
        m[2]["content"][1]["text"],
        "[document not forwarded: application/pdf, 9 bytes; this model is given text and images only]"
    );
    assert_eq!(
        m[2]["content"][2],
        json!({"type": "image_url", "image_url": {"url": "https://example.com/a.png"}})
    );
}

#[test]
fn tools_choice_and_sampling_fields_map_to_their_openai_names() {
    let mut body = base(json!([{"role": "user", "content": "hi"}]));
    let schema = json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "properties": {"q": {"type": "string"}}});
    body["tools"] = json!([
        {"name": "Search", "description": "Find things.", "input_schema": schema, "cache_control": {"type": "ephemeral"}},
        {"name": "Later", "input_schema": {"type": "object"}, "defer_loading": true},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}]);
    body["tool_choice"] =
        json!({"type": "tool", "name": "Search", "disable_parallel_tool_use": true});
    body["stop_sequences"] = json!(["END"]);
    body["temperature"] = json!(0.25);
    body["top_p"] = json!(0.9);
    body["top_k"] = json!(20);
    body["metadata"] = json!({"user_id": "u-1"});
    body["stream"] = json!(true);
    let c = chat(&body);
    assert_eq!(
        c["tools"],
        json!([{"type": "function", "function": {"name": "Search", "description": "Find things.", "parameters": schema}}])
    );
    assert_eq!(
        c["tool_choice"],
        json!({"type": "function", "function": {"name": "Search"}})
    );
    assert_eq!(c["parallel_tool_calls"], false);
    assert_eq!(
        (
            c["stop"].clone(),
            c["temperature"].clone(),
            c["top_p"].clone(),
            c["top_k"].clone()
        ),
        (json!(["END"]), json!(0.25), json!(0.9), json!(20))
    );
    assert_eq!(
        (c["user"].as_str(), c["max_tokens"].as_u64()),
        (Some("u-1"), Some(1024))
    );
    assert_eq!(
        (c["stream"].clone(), c["stream_options"].clone()),
        (json!(true), json!({"include_usage": true}))
    );
    for (choice, want) in [
        ("auto", json!("auto")),
        ("any", json!("required")),
        ("none", json!("none")),
    ] {
        body["tool_choice"] = json!({"type": choice});
        assert_eq!(chat(&body)["tool_choice"], want);
        assert_eq!(chat(&body)["parallel_tool_calls"], true);
    }
    body["stop_sequences"] = json!([]);
    body["stream"] = json!(false);
    let c = chat(&body);
    assert!(c.get("stop").is_none() && c.get("stream_options").is_none());
    assert_eq!(c["stream"], false);
}

#[test]
fn a_deferred_tool_is_offered_once_a_tool_search_loaded_it() {
    let mut body = base(json!([
        {"role": "assistant", "content": [{"type": "tool_use", "id": "s", "name": "ToolSearch", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "s", "content": [{"type": "tool_reference", "tool_name": "Later"}]}]}]));
    body["tools"] = json!([{"name": "Later", "input_schema": {"type": "object"}, "defer_loading": true},
        {"name": "Placeholder", "input_schema": {"type": "object"}, "defer_loading": true}]);
    let names: Vec<Value> = chat(&body)["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].clone())
        .collect();
    assert_eq!(names, [json!("Later")]);
    body["tools"] =
        json!([{"name": "Placeholder", "input_schema": {"type": "object"}, "defer_loading": true}]);
    body["tool_choice"] = json!({"type": "auto"});
    let c = chat(&body);
    assert!(
        c.get("tools").is_none() && c.get("tool_choice").is_none(),
        "no tools, no tool_choice"
    );
}

#[test]
fn thinking_and_effort_become_neutral_reasoning_fields() {
    let mut body = base(json!([{"role": "user", "content": "hi"}]));
    let cases = [
        (
            json!({"type": "enabled", "budget_tokens": 8000}),
            json!(true),
            json!(8000),
        ),
        (
            json!({"type": "adaptive", "display": "omitted"}),
            json!(true),
            Value::Null,
        ),
        (json!({"type": "disabled"}), json!(false), Value::Null),
    ];
    for (thinking, enable, budget) in cases {
        body["thinking"] = thinking;
        let c = chat(&body);
        assert_eq!(
            (c["enable_thinking"].clone(), c["thinking_budget"].clone()),
            (enable, budget)
        );
    }
    body["output_config"] = json!({"effort": "max"});
    assert_eq!(chat(&body)["reasoning_effort"], "max");
    body.as_object_mut().unwrap().remove("thinking");
    body.as_object_mut().unwrap().remove("output_config");
    let c = chat(&body);
    assert!(c.get("enable_thinking").is_none() && c.get("reasoning_effort").is_none());
}

fn error(body: &str) -> (String, Option<String>) {
    let e = parse(body.as_bytes()).unwrap_err();
    assert_eq!(e.status(), 400, "{body}");
    (e.message(Audience::Client), e.param().map(str::to_owned))
}

#[test]
fn bad_requests_are_400s_that_say_what_to_fix() {
    let m = r#""messages":[{"role":"user","content":"hi"}]"#;
    let cases = [
        (format!(r#"{{"max_tokens":5,{m}}}"#), "'model' is required", "model"),
        (format!(r#"{{"model":"","max_tokens":5,{m}}}"#), "non-empty string", "model"),
        (format!(r#"{{"model":"m",{m}}}"#), "'max_tokens' is required", "max_tokens"),
        (format!(r#"{{"model":"m","max_tokens":0,{m}}}"#), "positive integer", "max_tokens"),
        (format!(r#"{{"model":"m","max_tokens":1.5,{m}}}"#), "positive integer", "max_tokens"),
        (r#"{"model":"m","max_tokens":5}"#.into(), "'messages' is required", "messages"),
        (r#"{"model":"m","max_tokens":5,"messages":[]}"#.into(), "at least one user or assistant", "messages"),
        (r#"{"model":"m","max_tokens":5,"messages":[{"role":"system","content":"s"}]}"#.into(), "at least one user or assistant", "messages"),
        (r#"{"model":"m","max_tokens":5,"messages":[{"role":"robot","content":"x"}]}"#.into(), "'robot' is not one of", "messages"),
        (r#"{"model":"m","max_tokens":5,"messages":[{"role":"user"}]}"#.into(), "messages[0].content is required", "messages"),
        (r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":5}]}"#.into(), "string or an array", "messages"),
        (r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"video"}]}]}"#.into(), "messages[0].content[0]: unsupported content block type 'video'", "messages"),
        (r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"text":"x"}]}]}"#.into(), "needs a string 'type'", "messages"),
        (r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text"}]}]}"#.into(), "a 'text' block needs 'text'", "messages"),
        (r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":5}]}]}"#.into(), "invalid type: integer `5`, expected a string.", "messages"),
        (r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_use","id":"a","name":"b","input":{}}]}]}"#.into(), "belongs in an assistant message", "messages"),
        (r#"{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"b","input":[]}]}]}"#.into(), "'input' must be an object", "messages"),
        (r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f"}}]}]}"#.into(), "image source type 'file' is not supported", "messages"),
        (r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"video"}]}]}]}"#.into(), "messages[0].content[0].content[0]: unsupported tool result block", "messages"),
        (format!(r#"{{"model":"m","max_tokens":5,"system":[{{"type":"image"}}],{m}}}"#), "system[0]: only 'text' blocks", "system"),
        (format!(r#"{{"model":"m","max_tokens":5,"stream":"yes",{m}}}"#), "'stream' must be a boolean", "stream"),
        (format!(r#"{{"model":"m","max_tokens":5,"tools":[{{"name":"x"}}],{m}}}"#), "needs 'input_schema'", "tools"),
        (format!(r#"{{"model":"m","max_tokens":5,"tools":[{{"input_schema":{{}}}}],{m}}}"#), "non-empty string 'name'", "tools"),
        (format!(r#"{{"model":"m","max_tokens":5,"tool_choice":{{"type":"tool"}},{m}}}"#), "needs the tool's 'name'", "tool_choice"),
        (format!(r#"{{"model":"m","max_tokens":5,"tool_choice":"auto",{m}}}"#), "must be an object", "tool_choice"),
        (format!(r#"{{"model":"m","max_tokens":5,"thinking":{{"type":"enabled"}},{m}}}"#), "budget_tokens", "thinking"),
        (format!(r#"{{"model":"m","max_tokens":5,"thinking":{{"type":"turbo"}},{m}}}"#), "'turbo' is not one of", "thinking"),
        (format!(r#"{{"model":"m","max_tokens":5,"stop_sequences":"END",{m}}}"#), "array of strings", "stop_sequences"),
        (format!(r#"{{"model":"m","max_tokens":5,"temperature":"hot",{m}}}"#), "must be a number", "temperature"),
        (format!(r#"{{"model":"m","max_tokens":5,"metadata":{{"user_id":7}},{m}}}"#), "'user_id' is a string", "metadata"),
        (format!(r#"{{"model":"m","max_tokens":5,"output_config":{{"effort":1}},{m}}}"#), "'effort' is a string", "output_config"),
    ];
    for (body, says, param) in cases {
        let (message, p) = error(&body);
        assert!(message.contains(says), "{body}\n → {message}");
        assert_eq!(p.as_deref(), Some(param), "{body}");
    }
    assert!(error("").0.contains("empty"));
    assert!(error("{").0.contains("not valid JSON"));
    let big = vec![b' '; MAX_BODY_BYTES + 1];
    assert_eq!(parse(&big).unwrap_err().status(), 413);
}

#[test]
fn nothing_panics_on_arbitrary_json_shapes() {
    let shapes = [
        "null",
        "[]",
        "1",
        "\"s\"",
        "{}",
        r#"{"model":[],"max_tokens":{},"messages":{}}"#,
        r#"{"model":"m","max_tokens":1,"messages":[null,1,"x",[]]}"#,
        r#"{"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":1}]}]}"#,
        r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"image","source":"x"}]}]}"#,
        r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"system":5}"#,
        r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"tools":{}}"#,
    ];
    for s in shapes {
        if let Ok(r) = parse(s.as_bytes()) {
            let _ = (r.chat_body("q"), r.native_body("q"));
        }
    }
}
