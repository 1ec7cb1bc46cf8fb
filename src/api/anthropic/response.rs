//! A non-streamed OpenAI chat completion → one Anthropic message:
//! content `[thinking?, text?, tool_use*]`, `stop_reason` from what was emitted, the usage
//! always present, and the model named as the client named it.
//!
//! Tool arguments are parsed into the `input` object. Arguments that are not a JSON object
//! (cut off, or not JSON) become `{}`: the client's tool then reports the missing parameters
//! to the model, which can call it again; a tool run on half an argument list would be worse.
//! Arguments written as a JSON string that holds an object are unwrapped.

use super::wire::{
    into_string, push_str, push_usage, string_contents, synth_tool_id, Finish, UNNAMED_TOOL,
};
use crate::error::GatewayError;
use crate::usage::Usage;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;

#[derive(Deserialize)]
struct Answer<'a> {
    #[serde(borrow, default)]
    choices: Vec<Choice<'a>>,
    usage: Option<Value>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(borrow)]
    message: Option<ChoiceMessage<'a>>,
    #[serde(borrow)]
    finish_reason: Option<Cow<'a, str>>,
    /// The stop string that matched, from upstreams that say it.
    #[serde(borrow)]
    stop_reason: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ChoiceMessage<'a> {
    #[serde(borrow)]
    content: Option<&'a RawValue>,
    #[serde(borrow)]
    reasoning_content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tool_calls: Vec<ToolCall<'a>>,
}

#[derive(Deserialize)]
struct ToolCall<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    function: Option<Function<'a>>,
}

#[derive(Deserialize)]
struct Function<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    arguments: Option<Cow<'a, str>>,
}

fn unreadable(what: &str) -> GatewayError {
    GatewayError::UpstreamService {
        message: format!("upstream answer is not a chat completion: {what}"),
    }
}

/// The Anthropic message for an OpenAI chat completion `answer`, and its usage.
pub fn from_chat(
    answer: &[u8],
    requested_model: &str,
    message_id: &str,
) -> Result<(String, Usage), GatewayError> {
    let text = std::str::from_utf8(answer).map_err(|_| unreadable("not UTF-8"))?;
    let a: Answer = serde_json::from_str(text)
        .map_err(|e| unreadable(&super::request_blocks::serde_msg(&e)))?;
    if a.error.is_some_and(|e| e.get() != "null") {
        return Err(unreadable("it is an error object"));
    }
    let usage = a
        .usage
        .as_ref()
        .and_then(Usage::from_openai)
        .unwrap_or_default();
    let choice = a.choices.into_iter().next();
    let mut finish = Finish::Unknown;
    let mut out = Vec::with_capacity(answer.len() + 256);
    out.extend_from_slice(b"{\"id\":");
    push_str(&mut out, message_id);
    out.extend_from_slice(b",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    push_str(&mut out, requested_model);
    out.extend_from_slice(b",\"content\":[");
    let mut blocks = 0usize;
    let mut tools = 0usize;
    if let Some(c) = choice {
        finish = c
            .finish_reason
            .as_deref()
            .map(Finish::from_openai)
            .unwrap_or_default();
        if let Some(s) = c
            .stop_reason
            .and_then(|r| serde_json::from_str::<String>(r.get()).ok())
        {
            finish = Finish::StopSequence(Some(s));
        }
        if let Some(m) = c.message {
            let mut sep = |out: &mut Vec<u8>| {
                if blocks > 0 {
                    out.push(b',');
                }
                blocks += 1;
            };
            if let Some(t) = m
                .reasoning_content
                .and_then(text_of)
                .filter(|t| !t.is_empty())
            {
                sep(&mut out);
                out.extend_from_slice(b"{\"type\":\"thinking\",\"thinking\":\"");
                out.extend_from_slice(t.as_bytes());
                out.extend_from_slice(b"\",\"signature\":\"\"}");
            }
            if let Some(t) = m.content.and_then(text_of).filter(|t| !t.is_empty()) {
                sep(&mut out);
                out.extend_from_slice(b"{\"type\":\"text\",\"text\":\"");
                out.extend_from_slice(t.as_bytes());
                out.extend_from_slice(b"\"}");
            }
            let mut seen: Vec<&str> = Vec::new();
            for call in &m.tool_calls {
                sep(&mut out);
                let f = call.function.as_ref();
                out.extend_from_slice(b"{\"type\":\"tool_use\",\"id\":");
                let id = call.id.as_deref().filter(|s| !s.is_empty());
                // Unique ids: a repeated one would pair two calls with one result.
                match id.filter(|id| !seen.contains(id)) {
                    Some(id) => {
                        push_str(&mut out, id);
                        seen.push(id);
                    }
                    None => push_str(&mut out, &synth_tool_id(message_id, tools)),
                }
                out.extend_from_slice(b",\"name\":");
                push_str(
                    &mut out,
                    f.and_then(|f| f.name.as_deref())
                        .filter(|s| !s.is_empty())
                        .unwrap_or(UNNAMED_TOOL),
                );
                out.extend_from_slice(b",\"input\":");
                out.extend_from_slice(
                    input_object(f.and_then(|f| f.arguments.as_deref())).as_bytes(),
                );
                out.push(b'}');
                tools += 1;
            }
        }
    }
    let tool_emitted = tools > 0;
    out.extend_from_slice(b"],\"stop_reason\":\"");
    out.extend_from_slice(finish.stop_reason(tool_emitted).as_bytes());
    out.extend_from_slice(b"\",\"stop_sequence\":");
    match finish.stop_sequence(tool_emitted) {
        Some(s) => push_str(&mut out, s),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"usage\":");
    push_usage(&mut out, &usage);
    out.push(b'}');
    Ok((into_string(out), usage))
}

/// The escaped contents of a message's text: a string as it is, or the text parts of an array
/// joined.
fn text_of(raw: &RawValue) -> Option<Cow<'_, str>> {
    if let Some(s) = string_contents(raw.get()) {
        return Some(Cow::Borrowed(s));
    }
    #[derive(Deserialize)]
    struct Part {
        text: Option<String>,
    }
    let parts: Vec<Part> = serde_json::from_str(raw.get()).ok()?;
    let mut buf = Vec::new();
    for t in parts.into_iter().filter_map(|p| p.text) {
        super::wire::push_escaped(&mut buf, &t);
    }
    Some(Cow::Owned(into_string(buf)))
}

/// The tool input object for upstream's `arguments` text (see the module notes).
fn input_object(arguments: Option<&str>) -> Cow<'_, str> {
    let Some(args) = arguments.map(str::trim).filter(|a| !a.is_empty()) else {
        return Cow::Borrowed("{}");
    };
    if args.starts_with('{') && serde_json::from_str::<&RawValue>(args).is_ok() {
        return Cow::Borrowed(args);
    }
    if let Ok(inner) = serde_json::from_str::<String>(args) {
        let inner = inner.trim();
        if inner.starts_with('{') && serde_json::from_str::<&RawValue>(inner).is_ok() {
            return Cow::Owned(inner.to_owned());
        }
    }
    Cow::Borrowed("{}")
}

#[cfg(test)]
#[path = "tests/response.rs"]
mod tests;
