//! Requests: real Codex and SDK bodies against their golden chat bodies, and the rules one by
//! one.

use super::fixtures::{golden_json, read};
use super::mutate::Mutator;
use crate::api::responses::{parse, ToolKind};
use serde_json::{json, Value};

const MODEL: &str = "qwen3-coder-plus";

fn chat(body: &Value) -> Value {
    let r = parse(body.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_str(&r.chat_body(MODEL)).expect("the chat body is JSON")
}

fn fixture_chat(name: &str) -> String {
    let req = parse(&read(&format!("{name}.request.json"))).unwrap_or_else(|e| panic!("{e}"));
    let body = req.chat_body(MODEL);
    golden_json(&format!("{name}.chat.json"), &body);
    body
}

#[test]
fn golden_chat_bodies_of_real_codex_and_sdk_requests() {
    for name in [
        "codex/turn1",
        "codex/turn3",
        "requests/sdk-string-input",
        "requests/sdk-json-schema",
        "requests/sdk-tool-choice-named",
        "requests/sdk-tool-round-trip",
        "requests/items-and-tools",
    ] {
        let body = fixture_chat(name);
        // The fixture is pretty-printed; the same body sent compact gives the same call.
        let compact: Value =
            serde_json::from_slice(&read(&format!("{name}.request.json"))).unwrap();
        let again = parse(compact.to_string().as_bytes())
            .unwrap()
            .chat_body(MODEL);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            serde_json::from_str::<Value>(&again).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn codex_developer_messages_become_one_leading_system_message() {
    let body: Value = serde_json::from_str(&fixture_chat("codex/turn1")).unwrap();
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert!(messages[0]["content"]
        .as_str()
        .unwrap()
        .contains("<skills_instructions>"));
    assert!(messages[1..]
        .iter()
        .all(|m| m["role"] != "system" && m["role"] != "developer"));
    assert_eq!(
        messages.last().unwrap()["content"],
        "Say hello, then create hello.txt"
    );
    assert_eq!(body["reasoning_effort"], "high");
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    for dropped in [
        "store",
        "include",
        "prompt_cache_key",
        "client_metadata",
        "reasoning",
        "input",
    ] {
        assert!(
            body.get(dropped).is_none(),
            "{dropped} must not reach upstream"
        );
    }
}

#[test]
fn codex_namespace_tools_are_flattened_and_built_ins_dropped() {
    let req = parse(&read("codex/turn1.request.json")).unwrap();
    let body: Value = serde_json::from_str(&req.chat_body(MODEL)).unwrap();
    let names: Vec<&str> = body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"multi_agent_v1__spawn_agent"), "{names:?}");
    assert!(names.contains(&"exec_command"));
    assert!(body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["type"] == "function"));
    let called = req.tools().called("multi_agent_v1__close_agent");
    assert_eq!(
        (called.kind, called.name, called.namespace),
        (ToolKind::Function, "close_agent", Some("multi_agent_v1"))
    );
}

#[test]
fn codex_apply_patch_is_a_function_with_one_input_string_carrying_its_grammar() {
    let req = parse(&read("codex/turn3.request.json")).unwrap();
    let body: Value = serde_json::from_str(&req.chat_body(MODEL)).unwrap();
    let tool = body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["function"]["name"] == "apply_patch")
        .expect("apply_patch offered");
    let params = &tool["function"]["parameters"];
    assert_eq!(params["required"], json!(["input"]));
    assert_eq!(params["properties"]["input"]["type"], "string");
    assert!(params["properties"]["input"]["description"]
        .as_str()
        .unwrap()
        .contains("begin_patch hunk+ end_patch"));
    assert_eq!(
        req.tools().custom_names().collect::<Vec<_>>(),
        ["apply_patch"]
    );
    // Its past call is replayed as a function call whose arguments hold the input.
    let call = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["tool_calls"].as_array().cloned().unwrap_or_default())
        .find(|c| c["function"]["name"] == "apply_patch")
        .unwrap();
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert!(args["input"]
        .as_str()
        .unwrap()
        .starts_with("*** Begin Patch\n"));
}

#[test]
fn history_items_map_onto_chat_messages_in_order() {
    let body: Value = serde_json::from_str(&fixture_chat("requests/items-and-tools")).unwrap();
    let m = body["messages"].as_array().unwrap();
    let roles: Vec<&str> = m.iter().map(|x| x["role"].as_str().unwrap()).collect();
    assert_eq!(
        roles,
        [
            "system",
            "user",
            "assistant",
            "tool",
            "tool",
            "user",
            "assistant",
            "tool",
            "user"
        ]
    );
    assert_eq!(
        m[0]["content"],
        "You are terse.\n\nAnswer in English.\n\nApprovals are now on-request."
    );
    assert_eq!(m[1]["content"][1]["image_url"]["detail"], "high");
    // Text, reasoning and both calls (one namespaced) make one assistant message.
    assert_eq!(m[2]["content"], "Let me look.");
    assert_eq!(
        m[2]["reasoning_content"],
        "I should look at the file first."
    );
    assert_eq!(
        m[2]["tool_calls"][1]["function"]["name"],
        "multi_agent_v1__close_agent"
    );
    assert_eq!(m[3]["tool_call_id"], "call_a");
    assert_eq!(m[3]["content"], "Image attached.");
    // The tool output's image follows the run of tool messages.
    assert_eq!(
        m[5]["content"][1]["image_url"]["url"],
        "data:image/png;base64,AAAA"
    );
    assert_eq!(m[6]["reasoning_content"], "Patch the file.");
    assert!(m[6]["content"].is_null());
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
    assert_eq!(body["parallel_tool_calls"], false);
    assert_eq!(body["max_tokens"], 4096);
    assert_eq!(body["reasoning_effort"], "xhigh");
    let text = body.to_string();
    assert!(
        !text.contains("gAAAAB"),
        "encrypted reasoning never goes upstream"
    );
    assert!(!text.contains("cats"), "built-in tool results are dropped");
    for dropped in ["user", "metadata", "service_tier", "truncation", "text"] {
        assert!(body.get(dropped).is_none(), "{dropped}");
    }
}

#[test]
fn sdk_structured_output_becomes_a_json_schema_response_format() {
    let body: Value = serde_json::from_str(&fixture_chat("requests/sdk-json-schema")).unwrap();
    let rf = &body["response_format"];
    assert_eq!(rf["type"], "json_schema");
    assert_eq!(rf["json_schema"]["name"], "Person");
    assert_eq!(rf["json_schema"]["strict"], true);
    assert_eq!(
        rf["json_schema"]["schema"]["required"],
        json!(["name", "age"])
    );
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": "Extract the person."})
    );
    assert_eq!(body["max_tokens"], 200);
    assert_eq!(body["temperature"], 0.2);
    assert!(
        body.get("stream").is_none(),
        "not streamed: no stream_options"
    );
}

#[test]
fn tool_choice_forms_map_to_chat_tool_choice() {
    let tools = json!([
        {"type": "function", "name": "f", "parameters": {"type": "object"}},
        {"type": "custom", "name": "patch"},
        {"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "g"}]}
    ]);
    let with = |choice: Value| {
        chat(&json!({"model": "m", "input": "hi", "tools": tools, "tool_choice": choice}))
    };
    for mode in ["auto", "none", "required"] {
        assert_eq!(with(json!(mode))["tool_choice"], mode);
    }
    assert_eq!(
        with(json!({"type": "function", "name": "f"}))["tool_choice"],
        json!({"type": "function", "function": {"name": "f"}})
    );
    assert_eq!(
        with(json!({"type": "custom", "name": "patch"}))["tool_choice"]["function"]["name"],
        "patch"
    );
    assert_eq!(
        with(json!({"type": "function", "name": "g", "namespace": "ns"}))["tool_choice"]
            ["function"]["name"],
        "ns__g"
    );
    let allowed = with(json!({"type": "allowed_tools", "mode": "required",
        "tools": [{"type": "function", "name": "f"}]}));
    assert_eq!(allowed["tool_choice"], "required");
    assert_eq!(
        allowed["tools"].as_array().unwrap().len(),
        1,
        "only the allowed tool is offered"
    );
}

#[test]
fn no_tools_left_means_no_tool_fields_upstream() {
    let body = chat(
        &json!({"model": "m", "input": "hi", "tools": [{"type": "web_search"}],
        "tool_choice": "auto", "parallel_tool_calls": true}),
    );
    for f in ["tools", "tool_choice", "parallel_tool_calls"] {
        assert!(body.get(f).is_none(), "{f}");
    }
}

#[test]
fn a_function_without_parameters_gets_an_empty_object_schema_and_strict_only_when_true() {
    let body = chat(&json!({"model": "m", "input": "hi", "tools": [
        {"type": "function", "name": "a"},
        {"type": "function", "name": "b", "strict": true, "parameters": {"type": "object"}}]}));
    assert_eq!(
        body["tools"][0]["function"]["parameters"],
        json!({"type": "object", "properties": {}})
    );
    assert!(body["tools"][0]["function"].get("strict").is_none());
    assert_eq!(body["tools"][1]["function"]["strict"], true);
}

#[test]
fn no_input_panics_the_parser_truncated_anywhere() {
    let full = read("requests/items-and-tools.request.json");
    for end in 0..full.len() {
        let _ = parse(&full[..end]);
    }
    for junk in [
        &b"{\"model\":\"m\",\"input\":[{\"type\":null}]}"[..],
        b"{\"model\":\"m\",\"input\":[null]}",
        b"{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":[null]}]}",
        b"{\"model\":\"m\",\"input\":\"hi\",\"tools\":[null]}",
    ] {
        let _ = parse(junk);
    }
}

#[test]
fn streaming_adds_include_usage_and_the_model_is_the_one_given_per_call() {
    let r = parse(br#"{"model":"qwen3-coder-plus","input":"hi","stream":true}"#).unwrap();
    assert!(r.stream);
    assert_eq!(r.model, "qwen3-coder-plus");
    let body: Value = serde_json::from_str(&r.chat_body("qwen3-coder-next")).unwrap();
    assert_eq!(body["model"], "qwen3-coder-next");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(body["messages"], json!([{"role": "user", "content": "hi"}]));
}

#[test]
fn every_reasoning_effort_is_passed_on_as_is() {
    for effort in crate::api::responses::request::EFFORTS {
        let body = chat(
            &json!({"model": "m", "input": "hi", "reasoning": {"effort": effort, "summary": "auto"}}),
        );
        assert_eq!(body["reasoning_effort"], *effort);
    }
    let body = chat(&json!({"model": "m", "input": "hi", "reasoning": {"summary": "auto"}}));
    assert!(body.get("reasoning_effort").is_none());
}

#[test]
fn whatever_a_client_sends_the_chat_body_is_valid_json_or_a_400() {
    let mut m = Mutator::new(0x2545_f491_4f6c_dd1d, b"\"\\{}[],:\n 0tn\xc3\xa9");
    for name in [
        "requests/items-and-tools",
        "requests/sdk-json-schema",
        "requests/sdk-tool-round-trip",
        "requests/stream-tools",
    ] {
        let original = read(&format!("{name}.request.json"));
        for _ in 0..300 {
            let bytes = m.mutated(&original, 3);
            match parse(&bytes) {
                Ok(r) => {
                    let body = r.chat_body(MODEL);
                    if let Err(e) = serde_json::from_str::<Value>(&body) {
                        panic!(
                            "{name}: invalid chat body ({e}) from\n{}",
                            String::from_utf8_lossy(&bytes)
                        );
                    }
                }
                Err(e) => assert_eq!(e.status(), 400, "{e}"),
            }
        }
    }
}
