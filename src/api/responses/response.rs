//! A non-streamed chat completion → a Responses `response` object.
//!
//! Output items, in this order: `reasoning` (from `reasoning_content`, so a turn that only
//! reasoned is not empty), the assistant `message` (when it has text, or when nothing else was
//! produced), then one `function_call` / `custom_tool_call` per tool call. `status` is
//! `incomplete` with `incomplete_details.reason` `max_output_tokens` when upstream stopped for
//! length (`content_filter` likewise), `completed` otherwise. `usage` is always present (zeros
//! when upstream reported none).

use super::context::{write_response, ResponseContext, Status};
use super::json::{inner, is_null, put_escaped};
use super::output::{
    call_item, custom_input, message_item, read_usage, reasoning_item, status_for,
    synthetic_call_id, COMPLETED, INCOMPLETE,
};
use super::tools::ToolKind;
use crate::error::GatewayError;
use crate::qwen::scrub::scrub_short;
use crate::usage::Usage;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

#[derive(Deserialize)]
struct AnswerIn<'a> {
    #[serde(borrow, default)]
    choices: Vec<ChoiceIn<'a>>,
    #[serde(borrow)]
    usage: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ChoiceIn<'a> {
    #[serde(borrow)]
    message: Option<MessageIn<'a>>,
    #[serde(borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct MessageIn<'a> {
    #[serde(borrow)]
    content: Option<&'a RawValue>,
    #[serde(borrow)]
    reasoning_content: Option<&'a RawValue>,
    #[serde(borrow)]
    tool_calls: Option<Vec<ToolCallIn<'a>>>,
}

#[derive(Deserialize)]
pub(crate) struct ToolCallIn<'a> {
    #[serde(borrow)]
    pub id: Option<&'a RawValue>,
    #[serde(borrow)]
    pub function: Option<FunctionIn<'a>>,
}

#[derive(Deserialize)]
pub(crate) struct FunctionIn<'a> {
    #[serde(borrow)]
    pub name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub arguments: Option<&'a RawValue>,
}

fn unreadable(what: &str) -> GatewayError {
    GatewayError::UpstreamService {
        message: format!("the upstream answer is not a usable chat completion ({what})"),
    }
}

/// Text of a message field: a string, or an array of text parts (joined), as the inside of a
/// literal; `None` when absent, null or empty.
fn text_of(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
    let raw = raw.filter(|r| !is_null(r))?;
    if let Some(s) = inner(raw) {
        return (!s.is_empty()).then_some(Cow::Borrowed(s));
    }
    #[derive(Deserialize)]
    struct Part {
        text: Option<String>,
    }
    let parts: Vec<Part> = serde_json::from_str(raw.get()).ok()?;
    let mut out = String::new();
    for t in parts.into_iter().filter_map(|p| p.text) {
        put_escaped(&mut out, &t);
    }
    (!out.is_empty()).then_some(Cow::Owned(out))
}

/// The arguments of a tool call as the inside of a literal: a string as it is, an object
/// written as text, nothing as `{}`.
pub(crate) fn arguments_of(raw: Option<&RawValue>) -> Cow<'_, str> {
    match raw.filter(|r| !is_null(r)) {
        Some(r) => match inner(r) {
            Some(s) => Cow::Borrowed(s),
            None => {
                let mut out = String::new();
                put_escaped(&mut out, r.get());
                Cow::Owned(out)
            }
        },
        None => Cow::Borrowed("{}"),
    }
}

/// Translates a chat completion; returns the `response` object and the usage it reports.
pub fn from_chat(answer: &[u8], ctx: &ResponseContext) -> Result<(String, Usage), GatewayError> {
    let text = std::str::from_utf8(answer).map_err(|_| unreadable("not UTF-8"))?;
    let a: AnswerIn = serde_json::from_str(text).map_err(|e| unreadable(&e.to_string()))?;
    if let Some(err) = a.error.filter(|e| !is_null(e)) {
        #[derive(Deserialize)]
        struct ErrIn {
            message: Option<String>,
        }
        let message = serde_json::from_str::<ErrIn>(err.get())
            .ok()
            .and_then(|e| e.message)
            .unwrap_or_else(|| err.get().to_owned());
        return Err(GatewayError::UpstreamService {
            message: format!(
                "upstream answered with an error: {}",
                scrub_short(&message, &[], 300)
            ),
        });
    }
    let choice = a
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| unreadable("no choices"))?;
    let message = choice.message.ok_or_else(|| unreadable("no message"))?;
    let status = status_for(choice.finish_reason.as_deref());
    let usage = a
        .usage
        .and_then(|u| read_usage(u.get()))
        .unwrap_or_default();

    let reasoning = text_of(message.reasoning_content);
    let content = text_of(message.content);
    let calls = message.tool_calls.unwrap_or_default();
    let item_status = if matches!(status, Status::Incomplete(_)) {
        INCOMPLETE
    } else {
        COMPLETED
    };

    let mut items = String::with_capacity(text.len() + 256);
    let mut index = 0;
    let mut next = |items: &mut String| {
        if index > 0 {
            items.push(',');
        }
        index += 1;
        index - 1
    };
    if let Some(r) = &reasoning {
        let i = next(&mut items);
        reasoning_item(&mut items, ctx, i, Some(r));
    }
    if content.is_some() || (reasoning.is_none() && calls.is_empty()) {
        let i = next(&mut items);
        message_item(
            &mut items,
            ctx,
            i,
            item_status,
            Some(content.as_deref().unwrap_or("")),
        );
    }
    for call in &calls {
        let i = next(&mut items);
        let (name, arguments) = match &call.function {
            Some(f) => (f.name.as_deref().unwrap_or(""), arguments_of(f.arguments)),
            None => ("", Cow::Borrowed("{}")),
        };
        let called = ctx.tools.called(name);
        let call_id = match call.id.and_then(inner).filter(|s| !s.is_empty()) {
            Some(id) => Cow::Borrowed(id),
            None => Cow::Owned(synthetic_call_id(ctx, i)),
        };
        let payload = match called.kind {
            ToolKind::Custom => Cow::Owned(custom_input(&arguments)),
            ToolKind::Function => arguments,
        };
        call_item(&mut items, ctx, i, COMPLETED, &called, &call_id, &payload);
    }

    let mut out = String::with_capacity(items.len() + 1024);
    write_response(&mut out, ctx, status, &items, Some(&usage));
    Ok((out, usage))
}
