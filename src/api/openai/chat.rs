//! Validation and rewriting of `POST /v1/chat/completions` bodies.
//!
//! Every field the client sends is forwarded (tools, tool_choice, stop, response_format,
//! stream_options, penalties, seed, reasoning fields, vendor extensions...). The body is parsed
//! only one level deep: values are kept as raw JSON text and written back verbatim, so a large
//! conversation is not rebuilt into a tree. Only what has to change is touched:
//! - `model` is filled in with the default when absent;
//! - for OAuth accounts, a message whose `content` is an array of text parts becomes a string
//!   (portal.qwen.ai rejects arrays of parts with a 400).

use crate::accounts::credentials::{AccountKind, Credentials};
use crate::api::UpstreamCall;
use crate::catalogue::Aliases;
use crate::error::GatewayError;
use crate::qwen::normalize;
use crate::qwen::request::Endpoint;
use crate::raw_json::{parse_body, RawObject};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// Largest request body accepted (bytes). A body is held several times while it is handled (the
/// runtime's bytes, WebAssembly's copy, the parsed values, the rewritten body, the string handed
/// to fetch: about 5 copies), and an isolate has 128 MB for every request it serves at once:
/// 8 MiB keeps one maximal request near 40 MB. docs/PERFORMANCE.md has the measurement.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

const ROLES: &[&str] = &[
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];

/// A validated chat request, ready to be written for either kind of account.
#[derive(Debug)]
pub struct ChatRequest {
    top: RawObject,
    messages: Vec<RawObject>,
    /// Indexes of messages whose content is an array of text parts only, with the flattened text.
    flattenable: Vec<(usize, String)>,
    /// The model as the client asked for it (what answers name).
    pub model: String,
    /// The model sent upstream: `model`, or what its alias stands for.
    pub upstream_model: String,
    pub stream: bool,
    model_given: bool,
    /// The client asked for the usage chunk of a stream (`stream_options.include_usage`).
    client_usage: bool,
    /// The gateway needs the usage of this stream (`needs_usage`).
    gateway_usage: bool,
}

impl ChatRequest {
    pub fn parse(body: &[u8], default_model: &str) -> Result<Self, GatewayError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(GatewayError::PayloadTooLarge {
                limit: MAX_BODY_BYTES,
            });
        }
        let top = parse_body(body, "'model' and 'messages'")?;

        let model = match top.get("model") {
            None => None,
            Some(raw) => match serde_json::from_str::<Option<String>>(raw.get()) {
                Ok(Some(m)) if !m.trim().is_empty() => Some(m),
                Ok(None) => None,
                _ => {
                    return Err(GatewayError::invalid(
                        "'model' must be a non-empty string.",
                        Some("model"),
                    ))
                }
            },
        };
        let stream = match top.get("stream") {
            None => false,
            Some(raw) => match serde_json::from_str::<Option<bool>>(raw.get()) {
                Ok(v) => v.unwrap_or(false),
                Err(_) => {
                    return Err(GatewayError::invalid(
                        "'stream' must be a boolean.",
                        Some("stream"),
                    ))
                }
            },
        };
        if let Some(raw) = top.get("stream_options") {
            if !matches!(raw.get().as_bytes().first(), Some(b'{') | Some(b'n')) {
                return Err(GatewayError::invalid(
                    "'stream_options' must be an object.",
                    Some("stream_options"),
                ));
            }
        }
        let raw_messages = top.get("messages").ok_or_else(|| {
            GatewayError::invalid(
                "'messages' is required: a non-empty array of chat messages.",
                Some("messages"),
            )
        })?;
        let list: Vec<&RawValue> = serde_json::from_str(raw_messages.get()).map_err(|_| {
            GatewayError::invalid(
                "'messages' must be an array of message objects.",
                Some("messages"),
            )
        })?;
        if list.is_empty() {
            return Err(GatewayError::invalid(
                "'messages' must contain at least one message.",
                Some("messages"),
            ));
        }
        let mut messages = Vec::with_capacity(list.len());
        let mut flattenable = Vec::new();
        for (i, raw) in list.iter().enumerate() {
            let msg: RawObject = serde_json::from_str(raw.get()).map_err(|_| {
                GatewayError::invalid(
                    format!("messages[{i}] must be an object."),
                    Some("messages"),
                )
            })?;
            let role = msg
                .get("role")
                .and_then(|r| serde_json::from_str::<String>(r.get()).ok())
                .ok_or_else(|| {
                    GatewayError::invalid(
                        format!("messages[{i}].role must be a string."),
                        Some("messages"),
                    )
                })?;
            if !ROLES.contains(&role.as_str()) {
                return Err(GatewayError::invalid(
                    format!(
                        "messages[{i}].role '{role}' is not one of {}.",
                        ROLES.join(", ")
                    ),
                    Some("messages"),
                ));
            }
            match msg.get("content").map(|c| c.get().as_bytes().first().copied()) {
                None | Some(Some(b'"')) | Some(Some(b'n')) => {}
                Some(Some(b'[')) => {
                    let content = msg.get("content").map(RawValue::get).unwrap_or("[]");
                    if let Some(text) = text_of_parts(content) {
                        flattenable.push((i, text));
                    }
                }
                _ => {
                    return Err(GatewayError::invalid(
                        format!("messages[{i}].content must be a string, an array of content parts, or null."),
                        Some("messages"),
                    ))
                }
            }
            messages.push(msg);
        }
        let model_given = model.is_some();
        let model = model.unwrap_or_else(|| default_model.to_owned());
        let client_usage = top
            .get("stream_options")
            .and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok())
            .and_then(|v| v.get("include_usage").and_then(Value::as_bool))
            .unwrap_or(false);
        Ok(ChatRequest {
            top,
            messages,
            flattenable,
            upstream_model: model.clone(),
            model,
            stream,
            model_given,
            client_usage,
            gateway_usage: false,
        })
    }

    /// Resolves the model's alias, if it has one.
    pub fn resolve_alias(&mut self, aliases: &Aliases) {
        if let Some(target) = aliases.resolve(&self.model) {
            self.upstream_model = target;
        }
    }

    /// The gateway must know this stream's usage even if the client did not ask for it (a key
    /// whose usage is accounted exactly: a named key).
    pub fn needs_usage(&mut self) {
        self.gateway_usage = true;
    }

    /// A streamed call whose usage the gateway needs and the client did not ask for: upstream
    /// is asked for it, and the gateway takes it out of the client's stream.
    pub fn hides_usage(&self) -> bool {
        self.stream && self.gateway_usage && !self.client_usage
    }

    /// The body to send upstream for an account of this kind: the upstream model, what the
    /// account's kind and the model need (`qwen::normalize`), for OAuth accounts text parts as
    /// one string, and for streams the usage chunk asked for.
    pub fn body_for(&self, kind: AccountKind) -> String {
        let flatten = kind == AccountKind::Oauth && !self.flattenable.is_empty();
        let mut out = String::with_capacity(self.top.len_hint() + 64);
        let messages_json = flatten.then(|| {
            let mut m = String::from("[");
            for (i, msg) in self.messages.iter().enumerate() {
                if i > 0 {
                    m.push(',');
                }
                match self.flattenable.iter().find(|(j, _)| *j == i) {
                    Some((_, text)) => {
                        let t = serde_json::to_string(text).unwrap_or_default();
                        msg.write(&mut m, &|k| (k == "content").then(|| t.clone()));
                    }
                    None => msg.write(&mut m, &|_| None),
                }
            }
            m.push(']');
            m
        });
        let model_json = serde_json::to_string(&self.upstream_model).unwrap_or_default();
        let edits = normalize::edits(&self.top, kind, &self.upstream_model);
        let usage_options = self.hides_usage().then(|| {
            let mut options = self
                .top
                .get("stream_options")
                .and_then(|raw| {
                    serde_json::from_str::<serde_json::Map<String, Value>>(raw.get()).ok()
                })
                .unwrap_or_default();
            options.insert("include_usage".into(), Value::Bool(true));
            Value::Object(options).to_string()
        });
        self.top.write_edited(&mut out, &edits, &|k| match k {
            "messages" => messages_json.clone(),
            "model" => Some(model_json.clone()),
            "stream_options" => usage_options.clone(),
            _ => None,
        });
        let mut append = |key: &str, value: &str| {
            out.pop();
            if out.len() > 1 {
                out.push(',');
            }
            out.push('"');
            out.push_str(key);
            out.push_str("\":");
            out.push_str(value);
            out.push('}');
        };
        if !self.model_given {
            append("model", &model_json);
        }
        if let (Some(options), None) = (&usage_options, self.top.get("stream_options")) {
            append("stream_options", options);
        }
        out
    }
}

impl UpstreamCall for ChatRequest {
    fn asked_model(&self) -> &str {
        &self.model
    }

    fn upstream_model(&self) -> &str {
        &self.upstream_model
    }

    fn endpoint_for(&self, _creds: &Credentials, _default_base: &str) -> Option<Endpoint> {
        Some(Endpoint::ChatCompletions)
    }

    fn stream(&self) -> bool {
        self.stream
    }

    fn body_for(&self, creds: &Credentials, _endpoint: Endpoint) -> String {
        ChatRequest::body_for(self, creds.kind())
    }
}

/// The joined text when every part is `{"type":"text","text":...}`; `None` when any part is
/// something else (an image for vision-model), which is then forwarded as is.
fn text_of_parts(content: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Part {
        #[serde(rename = "type")]
        kind: Option<String>,
        text: Option<String>,
    }
    let parts: Vec<Part> = serde_json::from_str(content).ok()?;
    let mut texts = Vec::with_capacity(parts.len());
    for p in parts {
        match (p.kind.as_deref(), p.text) {
            (Some("text") | None, Some(t)) => texts.push(t),
            _ => return None,
        }
    }
    Some(texts.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ChatRequest, GatewayError> {
        ChatRequest::parse(s.as_bytes(), "qwen3-coder-plus")
    }

    #[test]
    fn a_stream_asks_for_usage_when_the_gateway_needs_it_and_hides_what_the_client_did_not_ask() {
        let mut r =
            parse(r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
                .unwrap();
        assert!(!r.hides_usage());
        let plain: Value = serde_json::from_str(&r.body_for(AccountKind::Oauth)).unwrap();
        assert!(
            plain.get("stream_options").is_none(),
            "untouched unless needed"
        );
        r.needs_usage();
        assert!(r.hides_usage());
        let out: Value = serde_json::from_str(&r.body_for(AccountKind::Oauth)).unwrap();
        assert_eq!(
            out["stream_options"],
            serde_json::json!({"include_usage": true})
        );
        let mut r = parse(r#"{"model":"m","stream":true,"stream_options":{"include_usage":false,"x":1},"messages":[{"role":"user","content":"hi"}]}"#).unwrap();
        r.needs_usage();
        assert!(r.hides_usage());
        let out: Value = serde_json::from_str(&r.body_for(AccountKind::Oauth)).unwrap();
        assert_eq!(
            out["stream_options"],
            serde_json::json!({"include_usage": true, "x": 1})
        );
        let mut r = parse(r#"{"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#).unwrap();
        r.needs_usage();
        assert!(!r.hides_usage());
        let mut r = parse(r#"{"messages":[{"role":"user","content":"hi"}]}"#).unwrap();
        r.needs_usage();
        assert!(!r.hides_usage());
        let out: Value = serde_json::from_str(&r.body_for(AccountKind::Oauth)).unwrap();
        assert!(out.get("stream_options").is_none());
        assert_eq!(out["model"], "qwen3-coder-plus");
    }

    #[test]
    fn forwards_every_field_untouched() {
        let body = r#"{"model":"qwen3-coder-flash","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":"auto","stop":["x"],"response_format":{"type":"json_object"},"stream":true,"stream_options":{"include_usage":true},"presence_penalty":0.5,"frequency_penalty":0.1,"seed":7,"enable_thinking":true,"reasoning_effort":"low","x_vendor":{"a":[1,2]}}"#;
        let r = parse(body).unwrap();
        assert!(r.stream);
        assert_eq!(r.model, "qwen3-coder-flash");
        let out: Value = serde_json::from_str(&r.body_for(AccountKind::Oauth)).unwrap();
        let orig: Value = serde_json::from_str(body).unwrap();
        assert_eq!(out, orig);
    }

    #[test]
    fn fills_in_default_model() {
        let r = parse(r#"{"messages":[{"role":"user","content":"hi"}]}"#).unwrap();
        let out: Value = serde_json::from_str(&r.body_for(AccountKind::ApiKey)).unwrap();
        assert_eq!(out["model"], "qwen3-coder-plus");
        let r = parse(r#"{"model":null,"messages":[{"role":"user","content":"hi"}]}"#).unwrap();
        let out: Value = serde_json::from_str(&r.body_for(AccountKind::ApiKey)).unwrap();
        assert_eq!(out["model"], "qwen3-coder-plus");
    }

    #[test]
    fn flattens_text_parts_for_oauth_only() {
        let body = r#"{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:x"}}]}]}"#;
        let r = parse(body).unwrap();
        let oauth: Value = serde_json::from_str(&r.body_for(AccountKind::Oauth)).unwrap();
        assert_eq!(oauth["messages"][1]["content"], "a\nb");
        assert!(
            oauth["messages"][2]["content"].is_array(),
            "image parts stay"
        );
        let key: Value = serde_json::from_str(&r.body_for(AccountKind::ApiKey)).unwrap();
        assert!(key["messages"][1]["content"].is_array());
    }

    #[test]
    fn aliases_reach_upstream_and_model_studio_gets_its_parameters() {
        let mut r = parse(r#"{"model":"claude-sonnet-4-5","max_tokens":9,"reasoning_effort":"high","messages":[{"role":"user","content":"x"}]}"#).unwrap();
        r.resolve_alias(&Aliases::defaults("qwen3-coder-plus"));
        assert_eq!(
            (r.model.as_str(), r.upstream_model.as_str()),
            ("claude-sonnet-4-5", "qwen3-coder-plus")
        );
        let out: Value = serde_json::from_str(&r.body_for(AccountKind::Dashscope)).unwrap();
        assert_eq!(out["model"], "qwen3-coder-plus");
        assert_eq!(out["max_completion_tokens"], 9);
        assert!(
            out.get("max_tokens").is_none() && out.get("reasoning_effort").is_none(),
            "{out}"
        );
        // A legacy account gets the request as it came.
        let out: Value = serde_json::from_str(&r.body_for(AccountKind::ApiKey)).unwrap();
        assert_eq!(out["max_tokens"], 9);
    }

    #[test]
    fn assistant_tool_calls_with_null_content() {
        let body = r#"{"messages":[{"role":"user","content":"w"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"sunny"}]}"#;
        let r = parse(body).unwrap();
        let out: Value = serde_json::from_str(&r.body_for(AccountKind::Oauth)).unwrap();
        assert_eq!(out["messages"][1]["tool_calls"][0]["id"], "c1");
    }

    struct Err(GatewayError);
    impl Err {
        fn message(&self) -> String {
            self.0.message(crate::api::Audience::Client)
        }
        fn status(&self) -> u16 {
            self.0.status()
        }
        fn param(&self) -> Option<&str> {
            self.0.param()
        }
    }

    fn err(s: &str) -> Err {
        Err(parse(s).unwrap_err())
    }

    #[test]
    fn bad_inputs_are_clear_400s() {
        assert!(err("").message().contains("empty"));
        assert!(err("{}").message().contains("'messages' is required"));
        assert!(err(r#"{"messages":"hi"}"#).message().contains("array"));
        assert!(err(r#"{"messages":[]}"#).message().contains("at least one"));
        assert!(err(r#"{"messages":[1]}"#)
            .message()
            .contains("messages[0] must be an object"));
        assert!(err(r#"{"messages":[{"content":"x"}]}"#)
            .message()
            .contains("role"));
        assert!(err(r#"{"messages":[{"role":"robot","content":"x"}]}"#)
            .message()
            .contains("not one of"));
        assert!(err(r#"{"messages":[{"role":"user","content":5}]}"#)
            .message()
            .contains("content"));
        assert!(
            err(r#"{"model":5,"messages":[{"role":"user","content":"x"}]}"#)
                .message()
                .contains("model")
        );
        assert!(
            err(r#"{"stream":"yes","messages":[{"role":"user","content":"x"}]}"#)
                .message()
                .contains("stream")
        );
        for e in [err("{}"), err(r#"{"model":5,"messages":[]}"#)] {
            assert_eq!(e.status(), 400);
        }
        assert_eq!(err(r#"{"messages":[]}"#).param(), Some("messages"));
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(ChatRequest::parse(&big, "m").unwrap_err().status(), 413);
    }
}
