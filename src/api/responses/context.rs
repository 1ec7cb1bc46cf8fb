//! What the answer translators need from the request ([`ResponseContext`]) and the `response`
//! object both of them write (non-streamed, and in `response.created` … `response.completed`).

use super::json::{compact, put_str, put_u64, Sink};
use super::tools::ToolMap;
use crate::usage::Usage;
use serde_json::value::RawValue;

/// The request as the answer needs it: the id and time the Worker chose, the model the client
/// asked for, the tools (to map calls back), and the request parameters a `response` object
/// echoes.
#[derive(Debug, Clone)]
pub struct ResponseContext {
    pub id: String,
    pub created_at: u64,
    /// The model the client asked for: the answer names it whatever upstream model served it.
    pub model: String,
    pub tools: ToolMap,
    /// `,"instructions":…` … : the echoed request parameters, written once.
    echo: String,
    /// What item ids are made of: the response id without its `resp_` prefix, escaped.
    id_stem: String,
}

impl ResponseContext {
    pub(crate) fn new(
        id: &str,
        created_at: u64,
        model: &str,
        tools: ToolMap,
        echo: String,
    ) -> Self {
        ResponseContext {
            id: id.to_owned(),
            created_at,
            model: model.to_owned(),
            tools,
            echo,
            id_stem: {
                let mut stem = String::new();
                super::json::put_escaped(&mut stem, id.strip_prefix("resp_").unwrap_or(id));
                stem
            },
        }
    }

    /// The id of output item `index`: `<prefix>_<response id stem>_<index>`; unique within the
    /// response and stable between the streamed events and the final object.
    pub(crate) fn put_item_id<O: Sink + ?Sized>(&self, out: &mut O, prefix: &str, index: usize) {
        out.put("\"");
        out.put(prefix);
        out.put("_");
        out.put(&self.id_stem);
        out.put("_");
        put_u64(out, index as u64);
        out.put("\"");
    }
}

/// The request parameters a response echoes (raw JSON as the client sent them).
pub(crate) struct EchoFields<'a> {
    pub instructions: Option<&'a RawValue>,
    pub max_output_tokens: Option<&'a str>,
    pub metadata: Option<&'a RawValue>,
    pub parallel_tool_calls: Option<bool>,
    pub effort: Option<&'a RawValue>,
    pub summary: Option<&'a RawValue>,
    pub temperature: Option<&'a str>,
    pub format: Option<&'a RawValue>,
    pub verbosity: Option<&'a RawValue>,
    pub tool_choice: Option<&'a RawValue>,
    pub tools: Option<&'a RawValue>,
    pub top_p: Option<&'a str>,
    pub truncation: Option<&'a RawValue>,
    pub prompt_cache_key: Option<&'a RawValue>,
    pub service_tier: Option<&'a RawValue>,
    pub user: Option<&'a RawValue>,
}

/// The echo, written once per request: defaults where the client sent nothing.
pub(crate) fn echo(f: &EchoFields) -> String {
    let raw = |r: Option<&RawValue>, default: &'static str| -> String {
        r.map_or_else(|| default.to_owned(), |r| compact(r.get()))
    };
    let mut out = String::with_capacity(256 + f.tools.map_or(0, |t| t.get().len()));
    out.push_str(r#","instructions":"#);
    out.push_str(&raw(f.instructions, "null"));
    out.push_str(r#","max_output_tokens":"#);
    out.push_str(f.max_output_tokens.unwrap_or("null"));
    out.push_str(r#","metadata":"#);
    out.push_str(&raw(f.metadata, "{}"));
    out.push_str(r#","parallel_tool_calls":"#);
    out.push_str(if f.parallel_tool_calls.unwrap_or(true) {
        "true"
    } else {
        "false"
    });
    out.push_str(r#","previous_response_id":null,"reasoning":{"effort":"#);
    out.push_str(&raw(f.effort, "null"));
    out.push_str(r#","summary":"#);
    out.push_str(&raw(f.summary, "null"));
    out.push_str(r#"},"store":false,"temperature":"#);
    out.push_str(f.temperature.unwrap_or("null"));
    out.push_str(r#","text":{"format":"#);
    out.push_str(&raw(f.format, r#"{"type":"text"}"#));
    if let Some(v) = f.verbosity {
        out.push_str(r#","verbosity":"#);
        out.push_str(&compact(v.get()));
    }
    out.push_str(r#"},"tool_choice":"#);
    out.push_str(&raw(f.tool_choice, r#""auto""#));
    out.push_str(r#","tools":"#);
    out.push_str(&raw(f.tools, "[]"));
    out.push_str(r#","top_p":"#);
    out.push_str(f.top_p.unwrap_or("null"));
    out.push_str(r#","truncation":"#);
    out.push_str(&raw(f.truncation, r#""disabled""#));
    for (key, value) in [
        ("prompt_cache_key", f.prompt_cache_key),
        ("service_tier", f.service_tier),
        ("user", f.user),
    ] {
        if let Some(v) = value {
            out.push_str(",\"");
            out.push_str(key);
            out.push_str("\":");
            out.push_str(&compact(v.get()));
        }
    }
    out
}

/// How a response ended (or that it has not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status<'a> {
    InProgress,
    Completed,
    /// Cut short: `max_output_tokens` or `content_filter`.
    Incomplete(&'a str),
    /// Broke off: an error code and message.
    Failed(&'a str, &'a str),
}

/// Writes the `response` object. `output` is its items, already written and comma-separated;
/// `usage` is written when given.
pub(crate) fn write_response<O: Sink + ?Sized>(
    out: &mut O,
    ctx: &ResponseContext,
    status: Status,
    output: &str,
    usage: Option<&Usage>,
) {
    out.put(r#"{"id":"#);
    put_str(out, &ctx.id);
    out.put(r#","object":"response","created_at":"#);
    put_u64(out, ctx.created_at);
    out.put(r#","status":""#);
    out.put(match status {
        Status::InProgress => "in_progress",
        Status::Completed => "completed",
        Status::Incomplete(_) => "incomplete",
        Status::Failed(..) => "failed",
    });
    out.put(r#"","background":false,"error":"#);
    match status {
        Status::Failed(code, message) => {
            out.put(r#"{"code":"#);
            put_str(out, code);
            out.put(r#","message":"#);
            put_str(out, message);
            out.put("}");
        }
        _ => out.put("null"),
    }
    out.put(r#","incomplete_details":"#);
    match status {
        Status::Incomplete(reason) => {
            out.put(r#"{"reason":"#);
            put_str(out, reason);
            out.put("}");
        }
        _ => out.put("null"),
    }
    out.put(r#","model":"#);
    put_str(out, &ctx.model);
    out.put(r#","output":["#);
    out.put(output);
    out.put("]");
    out.put(&ctx.echo);
    out.put(r#","usage":"#);
    match usage {
        Some(u) => write_usage(out, u),
        None => out.put("null"),
    }
    out.put("}");
}

/// The Responses `usage` object.
pub(crate) fn write_usage<O: Sink + ?Sized>(out: &mut O, u: &Usage) {
    out.put(r#"{"input_tokens":"#);
    put_u64(out, u.input_tokens);
    out.put(r#","input_tokens_details":{"cached_tokens":"#);
    put_u64(out, u.cached_tokens);
    out.put(r#"},"output_tokens":"#);
    put_u64(out, u.output_tokens);
    out.put(r#","output_tokens_details":{"reasoning_tokens":"#);
    put_u64(out, u.reasoning_tokens);
    out.put(r#"},"total_tokens":"#);
    put_u64(out, u.input_tokens.saturating_add(u.output_tokens));
    out.put("}");
}
