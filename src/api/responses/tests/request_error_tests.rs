//! Requests the gateway refuses: each a 400 (or 413) naming the parameter and saying what to do.

use crate::api::responses::parse;
use crate::error::GatewayError;
use serde_json::{json, Value};

fn err(body: Value) -> GatewayError {
    parse(body.to_string().as_bytes()).expect_err("must be refused")
}

#[test]
fn refusals_are_400s_naming_the_parameter_and_what_to_do() {
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"input": "hi"}), "model", "'model' is required"),
        (
            json!({"model": 3, "input": "hi"}),
            "model",
            "non-empty string",
        ),
        (json!({"model": "m"}), "input", "'input' is required"),
        (
            json!({"model": "m", "input": 5}),
            "input",
            "string or an array",
        ),
        (
            json!({"model": "m", "input": []}),
            "input",
            "at least one user message",
        ),
        (
            json!({"model": "m", "input": "hi", "store": true}),
            "store",
            "keeps no server-side state",
        ),
        (
            json!({"model": "m", "input": "hi", "previous_response_id": "resp_1"}),
            "previous_response_id",
            "full conversation",
        ),
        (
            json!({"model": "m", "input": "hi", "conversation": "c_1"}),
            "conversation",
            "no server-side state",
        ),
        (
            json!({"model": "m", "input": "hi", "background": true}),
            "background",
            "background",
        ),
        (
            json!({"model": "m", "input": "hi", "stream": "yes"}),
            "stream",
            "boolean",
        ),
        (
            json!({"model": "m", "input": "hi", "reasoning": {"effort": "max"}}),
            "reasoning.effort",
            "not one of",
        ),
        (
            json!({"model": "m", "input": "hi", "max_output_tokens": -1}),
            "max_output_tokens",
            "positive integer",
        ),
        (
            json!({"model": "m", "input": "hi", "temperature": "hot"}),
            "temperature",
            "number",
        ),
        (
            json!({"model": "m", "input": "hi", "instructions": ["x"]}),
            "instructions",
            "string",
        ),
        (
            json!({"model": "m", "input": "hi", "text": {"format": {"type": "xml"}}}),
            "text.format",
            "not one of",
        ),
        (
            json!({"model": "m", "input": "hi", "text": {"format": {"type": "json_schema", "schema": {}}}}),
            "text.format",
            "name is required",
        ),
        (
            json!({"model": "m", "input": "hi", "tool_choice": "always"}),
            "tool_choice",
            "not one of",
        ),
        (
            json!({"model": "m", "input": "hi", "tool_choice": {"type": "web_search_preview"}}),
            "tool_choice",
            "built-in",
        ),
        (
            json!({"model": "m", "input": "hi", "tool_choice": "required"}),
            "tool_choice",
            "no function or custom tool",
        ),
        (
            json!({"model": "m", "input": "hi", "tools": {"type": "function"}}),
            "tools",
            "array",
        ),
        (
            json!({"model": "m", "input": "hi", "tools": [{"type": "function"}]}),
            "tools",
            "name",
        ),
        (
            json!({"model": "m", "input": "hi", "tools": [{"type": "function", "name": "a__b"},
            {"type": "namespace", "name": "a", "tools": [{"type": "function", "name": "b"}]}]}),
            "tools",
            "both be offered",
        ),
        (
            json!({"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]}),
            "input",
            "stores no responses",
        ),
        (
            json!({"model": "m", "input": [{"type": "local_shell_call"}]}),
            "input",
            "'local_shell_call' is not supported",
        ),
        (
            json!({"model": "m", "input": [{"role": "robot", "content": "x"}]}),
            "input",
            "role 'robot'",
        ),
        (
            json!({"model": "m", "input": [{"role": "user"}]}),
            "input",
            "content is required",
        ),
        (
            json!({"model": "m", "input": [{"role": "user", "content": 5}]}),
            "input",
            "input[0]",
        ),
        (
            json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]}),
            "input",
            "file_id",
        ),
        (
            json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_file", "file_data": "x"}]}]}),
            "input",
            "'input_file' parts are not supported",
        ),
        (
            json!({"model": "m", "input": [{"role": "system", "content": [{"type": "input_image", "image_url": "u"}]}]}),
            "input",
            "text only",
        ),
        (
            json!({"model": "m", "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}),
            "input",
            "call_id",
        ),
        (
            json!({"model": "m", "input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": {}}]}),
            "input",
            "arguments must be a string",
        ),
        (
            json!({"model": "m", "input": [{"type": "custom_tool_call", "call_id": "c", "name": "f"}]}),
            "input",
            "input must be a string",
        ),
        (
            json!({"model": "m", "input": [{"type": "function_call_output", "call_id": "c", "output": 1}]}),
            "input",
            "output must be",
        ),
        (json!({"model": "m", "input": ["hi"]}), "input", "input[0]"),
    ];
    for (body, param, needle) in cases {
        let e = err(body.clone());
        assert_eq!(e.status(), 400, "{body}");
        assert_eq!(e.param(), Some(param), "{body}: {e}");
        let message = e.message(crate::api::Audience::Client);
        assert!(message.contains(needle), "{body}: {message}");
        let wire = crate::api::openai::errors::body(&e, crate::api::Audience::Client);
        assert_eq!(wire["error"]["type"], "invalid_request_error");
        assert_eq!(wire["error"]["param"], param);
    }
}

#[test]
fn body_level_errors_say_what_is_wrong() {
    let msg = |b: &[u8]| parse(b).unwrap_err().message(crate::api::Audience::Client);
    assert!(msg(b" ").contains("empty"));
    assert!(msg(b"{\"model\":").contains("not valid JSON"));
    assert!(msg(b"[1]").contains("JSON object"));
    assert!(msg(&[0xff]).contains("UTF-8"));
    let big = vec![b' '; crate::api::openai::chat::MAX_BODY_BYTES + 1];
    assert_eq!(parse(&big).unwrap_err().status(), 413);
}
