use super::*;

fn parse(s: &str) -> Result<CompletionRequest, GatewayError> {
    CompletionRequest::parse(s.as_bytes(), "qwen3-coder-plus")
}

#[test]
fn requests_are_checked_with_the_parameter_named() {
    for (body, param) in [
        (r#"{"model":"m"}"#, "prompt"),
        (r#"{"prompt":["a","b"]}"#, "prompt"),
        (r#"{"prompt":[1,2]}"#, "prompt"),
        (r#"{"prompt":"a","n":2}"#, "n"),
        (r#"{"prompt":"a","echo":true}"#, "echo"),
        (r#"{"prompt":"a","logprobs":3}"#, "logprobs"),
        (r#"{"prompt":"a","suffix":5}"#, "suffix"),
        (r#"{"prompt":"a","stream":"yes"}"#, "stream"),
    ] {
        let e = parse(body).unwrap_err();
        assert_eq!(e.param(), Some(param), "{body}");
        assert_eq!(e.status(), 400);
    }
    let r =
        parse(r#"{"prompt":["only one"],"stream":true,"stream_options":{"include_usage":true}}"#)
            .unwrap();
    assert_eq!(
        (
            r.model.as_str(),
            r.prompt.as_str(),
            r.stream,
            r.include_usage
        ),
        ("qwen3-coder-plus", "only one", true, true)
    );
}

#[test]
fn native_bodies_keep_the_request_and_fold_a_suffix_into_the_fim_prompt() {
    let r = parse(r#"{"model":"qwen2.5-coder-7b-instruct","prompt":"def f(","suffix":"\n    return x","max_tokens":16}"#).unwrap();
    let v: Value = serde_json::from_str(&r.native_body("qwen2.5-coder-7b-instruct")).unwrap();
    assert_eq!(
        v["prompt"],
        "<|fim_prefix|>def f(<|fim_suffix|>\n    return x<|fim_middle|>"
    );
    assert!(v.get("suffix").is_none());
    assert_eq!(v["max_tokens"], 16);
    let plain = parse(r#"{"model":"alias","prompt":"x","temperature":0}"#).unwrap();
    let v: Value = serde_json::from_str(&plain.native_body("qwen-coder-turbo")).unwrap();
    assert_eq!(
        (v["model"].as_str(), v["prompt"].as_str()),
        (Some("qwen-coder-turbo"), Some("x"))
    );
}

#[test]
fn chat_bodies_continue_the_prompt_as_a_partial_assistant_message() {
    let r = parse(
        r#"{"prompt":"Once upon","max_tokens":5,"stop":["\n"],"stream":true,"logit_bias":{}}"#,
    )
    .unwrap();
    let v: Value = serde_json::from_str(&r.chat_body("qwen3-coder-plus").unwrap()).unwrap();
    assert_eq!(
        v["messages"],
        json!([{"role": "assistant", "content": "Once upon", "partial": true}])
    );
    assert_eq!(
        (v["max_tokens"].as_u64(), v["stream"].as_bool()),
        (Some(5), Some(true))
    );
    assert_eq!(v["stream_options"]["include_usage"], true);
    assert!(
        v.get("logit_bias").is_none(),
        "only chat parameters are carried"
    );
    let fim = parse(r#"{"prompt":"a","suffix":"b"}"#).unwrap();
    assert!(fim.chat_body("qwen3-coder-plus").is_none());
}

#[test]
fn a_chat_answer_becomes_a_text_completion() {
    let answer = br#"{"id":"abc","object":"chat.completion","created":7,"model":"qwen3-coder-plus","choices":[{"index":0,"message":{"role":"assistant","content":" a time"},"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#;
    let (text, usage) = from_chat(answer, "my-alias").unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["model"], "my-alias");
    assert_eq!(v["choices"][0]["text"], " a time");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!((usage.input_tokens, usage.output_tokens), (3, 2));
    assert!(from_chat(b"<html>", "m").is_err());
}

const STREAM: &str = "data: {\"id\":\"c1\",\"created\":9,\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n\
data: {\"id\":\"c1\",\"created\":9,\"choices\":[{\"index\":0,\"delta\":{\"content\":\" a \\\"t\"}}]}\n\n\
data: {\"id\":\"c1\",\"created\":9,\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n\
data: {\"id\":\"c1\",\"created\":9,\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":2,\"total_tokens\":6}}\n\n\
data: [DONE]\n\n";

fn translate(chunks: &[&[u8]], include_usage: bool) -> (String, Usage) {
    let mut t = StreamTranslator::new("my-alias", include_usage);
    let mut out = Vec::new();
    for c in chunks {
        t.push(c, &mut out);
    }
    t.finish(&mut out);
    (String::from_utf8(out).unwrap(), t.usage())
}

#[test]
fn a_chat_stream_becomes_a_completion_stream_however_it_is_cut() {
    let whole = translate(&[STREAM.as_bytes()], true);
    let bytes: Vec<&[u8]> = STREAM.as_bytes().chunks(1).collect();
    assert_eq!(translate(&bytes, true), whole);
    let (text, usage) = whole;
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(events.len(), 4, "{text}");
    assert_eq!(
        events[0],
        r#"data: {"id":"cmpl-c1","object":"text_completion","created":9,"model":"my-alias","choices":[{"text":" a \"t","index":0,"logprobs":null,"finish_reason":null}]}"#
    );
    assert!(events[1].contains(r#""text":"","index":0,"logprobs":null,"finish_reason":"stop""#));
    assert!(events[2].contains(r#""choices":[],"usage":{"#));
    assert_eq!(events[3], "data: [DONE]");
    assert_eq!((usage.input_tokens, usage.output_tokens), (4, 2));
    // Without include_usage the usage chunk is not passed on (the usage is still counted).
    let (text, usage) = translate(&[STREAM.as_bytes()], false);
    assert!(!text.contains("usage"));
    assert_eq!(usage.output_tokens, 2);
}

#[test]
fn a_stream_that_breaks_ends_with_an_error_event_and_no_done() {
    let mut t = StreamTranslator::new("m", false);
    let mut out = Vec::new();
    t.push(b"data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: {\"error\":{\"code\":\"insufficient_quota\"}}\n\n", &mut out);
    t.finish(&mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("\"code\":\"stream_interrupted\""));
    assert!(!text.contains("[DONE]"));
}
