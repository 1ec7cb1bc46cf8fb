//! Output items, written the same way by the non-streamed answer and the stream: `reasoning`,
//! `message`, `function_call`, `custom_tool_call`; and what both read from upstream (usage,
//! finish reasons, a custom tool's input inside its function arguments).
//!
//! Upstream reasoning text (`reasoning_content`) becomes the reasoning item's *summary*: Codex
//! shows summaries by default and hides raw reasoning text, and the SDKs accept either.

use super::context::{ResponseContext, Status};
use super::json::{decode_inner, put_escaped, put_str, Sink};
use super::tools::{Called, ToolKind};
use crate::usage::Usage;
use serde::Deserialize;

/// `status` of an item still being written, and of one finished.
pub(crate) const IN_PROGRESS: &str = "in_progress";
pub(crate) const COMPLETED: &str = "completed";
pub(crate) const INCOMPLETE: &str = "incomplete";

/// Writes a reasoning item whose summary is `text` (the inside of a literal; no summary part
/// when empty).
pub(crate) fn reasoning_item<O: Sink + ?Sized>(
    out: &mut O,
    ctx: &ResponseContext,
    index: usize,
    text: Option<&str>,
) {
    out.put(r#"{"id":"#);
    ctx.put_item_id(out, "rs", index);
    out.put(r#","type":"reasoning","summary":["#);
    if let Some(t) = text {
        out.put(r#"{"type":"summary_text","text":""#);
        out.put(t);
        out.put("\"}");
    }
    out.put("]}");
}

/// Writes an assistant message whose one `output_text` part is `text` (no part when `None`).
pub(crate) fn message_item<O: Sink + ?Sized>(
    out: &mut O,
    ctx: &ResponseContext,
    index: usize,
    status: &str,
    text: Option<&str>,
) {
    out.put(r#"{"id":"#);
    ctx.put_item_id(out, "msg", index);
    out.put(r#","type":"message","status":""#);
    out.put(status);
    out.put(r#"","role":"assistant","content":["#);
    if let Some(t) = text {
        output_text_part(out, t);
    }
    out.put("]}");
}

/// An `output_text` content part.
pub(crate) fn output_text_part<O: Sink + ?Sized>(out: &mut O, text: &str) {
    out.put(r#"{"type":"output_text","text":""#);
    out.put(text);
    out.put(r#"","annotations":[],"logprobs":[]}"#);
}

/// Writes a `function_call` or `custom_tool_call` item. `call_id` and `payload` (arguments, or
/// the custom input) are insides of literals.
pub(crate) fn call_item<O: Sink + ?Sized>(
    out: &mut O,
    ctx: &ResponseContext,
    index: usize,
    status: &str,
    called: &Called,
    call_id: &str,
    payload: &str,
) {
    let custom = called.kind == ToolKind::Custom;
    out.put(r#"{"id":"#);
    ctx.put_item_id(out, if custom { "ctc" } else { "fc" }, index);
    out.put(if custom {
        r#","type":"custom_tool_call","status":""#
    } else {
        r#","type":"function_call","status":""#
    });
    out.put(status);
    out.put(r#"","call_id":""#);
    out.put(call_id);
    out.put(r#"","name":"#);
    put_str(out, called.name);
    if let Some(ns) = called.namespace {
        out.put(r#","namespace":"#);
        put_str(out, ns);
    }
    out.put(if custom {
        r#","input":""#
    } else {
        r#","arguments":""#
    });
    out.put(payload);
    out.put("\"}");
}

/// A call id for a call upstream gave none: `call_<response id stem>_<index>`.
pub(crate) fn synthetic_call_id(ctx: &ResponseContext, index: usize) -> String {
    let mut id = String::new();
    ctx.put_item_id(&mut id, "call", index);
    id.trim_matches('"').to_owned()
}

/// The custom tool's input inside the function arguments the model wrote (the inside of a
/// literal, returned the same way): `{"input": "…"}` as offered; a lone string field or a JSON
/// string are taken too; anything else is passed on as the input itself.
pub(crate) fn custom_input(arguments: &str) -> String {
    #[derive(Deserialize)]
    struct Args {
        input: String,
    }
    let Some(text) = decode_inner(arguments) else {
        return arguments.to_owned();
    };
    let input = if let Ok(a) = serde_json::from_str::<Args>(&text) {
        Some(a.input)
    } else {
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::String(s)) => Some(s),
            Ok(serde_json::Value::Object(m)) if m.len() == 1 => {
                m.into_iter().next().and_then(|(_, v)| match v {
                    serde_json::Value::String(s) => Some(s),
                    _ => None,
                })
            }
            _ => None,
        }
    };
    match input {
        Some(s) => {
            let mut out = String::with_capacity(s.len() + 8);
            put_escaped(&mut out, &s);
            out
        }
        None => arguments.to_owned(),
    }
}

/// The status a finish reason gives the response.
pub(crate) fn status_for(finish_reason: Option<&str>) -> Status<'static> {
    match finish_reason {
        Some("length") => Status::Incomplete("max_output_tokens"),
        Some("content_filter") => Status::Incomplete("content_filter"),
        _ => Status::Completed,
    }
}

#[derive(Deserialize, Default)]
struct Details {
    cached_tokens: Option<u64>,
    reasoning_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct ChatUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    prompt_tokens_details: Option<Details>,
    completion_tokens_details: Option<Details>,
}

/// An OpenAI chat `usage` object; `None` when it is not one (or holds no counts).
pub(crate) fn read_usage(raw: &str) -> Option<Usage> {
    let u: ChatUsage = serde_json::from_str(raw).ok()?;
    if u.prompt_tokens.is_none() && u.completion_tokens.is_none() {
        return None;
    }
    Some(Usage {
        input_tokens: u.prompt_tokens.unwrap_or(0),
        output_tokens: u.completion_tokens.unwrap_or(0),
        cached_tokens: u
            .prompt_tokens_details
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0),
        reasoning_tokens: u
            .completion_tokens_details
            .and_then(|d| d.reasoning_tokens)
            .unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_custom_input_is_read_from_the_arguments_whatever_their_shape() {
        let args = |json: &str| {
            let mut s = String::new();
            put_escaped(&mut s, json);
            s
        };
        let read = |json: &str| decode_inner(&custom_input(&args(json))).unwrap();
        assert_eq!(
            read(r#"{"input":"*** Begin Patch\n"}"#),
            "*** Begin Patch\n"
        );
        assert_eq!(read(r#"{"patch":"x"}"#), "x", "a lone string field");
        assert_eq!(read(r#""just a string""#), "just a string");
        assert_eq!(read("not json at all"), "not json at all");
        assert_eq!(read(r#"{"a":"x","b":"y"}"#), r#"{"a":"x","b":"y"}"#);
    }

    #[test]
    fn usage_is_read_with_or_without_details_and_tolerates_nulls() {
        let u = read_usage(r#"{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":8},"completion_tokens_details":{"reasoning_tokens":2}}"#).unwrap();
        assert_eq!(
            (
                u.input_tokens,
                u.output_tokens,
                u.cached_tokens,
                u.reasoning_tokens
            ),
            (10, 5, 8, 2)
        );
        let u =
            read_usage(r#"{"prompt_tokens":3,"completion_tokens":1,"prompt_tokens_details":null}"#)
                .unwrap();
        assert_eq!((u.cached_tokens, u.reasoning_tokens), (0, 0));
        assert_eq!(read_usage("null"), None);
        assert_eq!(read_usage(r#"{"input_tokens":3}"#), None);
    }
}
