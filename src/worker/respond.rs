//! Answers to clients: JSON and text, errors in the caller's dialect, CORS, and upstream answers
//! handed on. Answers are runtime `Response` objects built directly; an upstream body (streamed
//! or read whole) is handed to the client as a runtime object, so its bytes never enter
//! WebAssembly.

use super::fetch::{self, AnswerHeader};
use super::note::{parse_usage, UsageSource};
use super::streams;
use super::upstream::Answer;
use crate::accounts::id::AccountId;
use crate::api::translate::{idle_message, BROKE_MESSAGE};
use crate::api::{anthropic, openai};
use crate::api::{Audience, Dialect};
use crate::error::{Category, GatewayError};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use web_sys::{Headers, ReadableStream, Response};

const CORS_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
const CORS_HEADERS: &str = "authorization, content-type, x-api-key, x-qwen-account";
const CORS_EXPOSE: &str = "x-qwen-account, x-request-id, x-upstream-request-id, retry-after";

#[wasm_bindgen(module = "/src/worker/js/http.js")]
extern "C" {
    #[wasm_bindgen(js_name = setHeaders)]
    fn set_headers_js(headers: &Headers, lines: &str);
    /// A response, its status, header lines and body made in one call to the runtime.
    #[wasm_bindgen(js_name = newResponse)]
    fn response(status: u16, lines: &str, body: &JsValue) -> Response;
}

/// `pairs` as the runtime helpers take them (`name\nvalue\n`), a pair with a line break left
/// out, as the runtime would refuse it.
fn writable_lines(pairs: &[(&str, &str)]) -> String {
    let writable = pairs
        .iter()
        .copied()
        .filter(|&(k, v)| !fetch::has_line_break(k) && !fetch::has_line_break(v));
    fetch::header_lines(writable).unwrap_or_default()
}

/// Sets `pairs` on `h` in one call to the runtime (each header crossing on its own costs more
/// than the rest of setting it). A pair with a line break is left out.
pub fn set_all(h: &Headers, pairs: &[(&str, &str)]) {
    set_headers_js(h, &writable_lines(pairs));
}

/// The header lines every answer carries (CORS, and the content type unless it is empty), and
/// `more`.
fn head(content_type: &str, more: &[(&str, &str)]) -> String {
    let mut pairs = Vec::with_capacity(3 + more.len());
    if !content_type.is_empty() {
        pairs.push(("content-type", content_type));
    }
    pairs.push(("access-control-allow-origin", "*"));
    pairs.push(("access-control-expose-headers", CORS_EXPOSE));
    pairs.extend_from_slice(more);
    writable_lines(&pairs)
}

/// The request's id and the security headers, on whatever answer a request gets: nothing
/// is sniffed as another type, no referrer leaves, no page of ours is framed.
pub fn stamped(resp: Response, request_id: &str) -> Response {
    set_all(
        &resp.headers(),
        &[
            ("x-request-id", request_id),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            ("x-frame-options", "DENY"),
        ],
    );
    resp
}

fn string(status: u16, content_type: &str, body: &str) -> Response {
    response(status, &head(content_type, &[]), &JsValue::from_str(body))
}

pub fn json(status: u16, value: &serde_json::Value) -> Response {
    string(status, "application/json", &value.to_string())
}

pub fn text(status: u16, text: &str) -> Response {
    string(status, "text/plain; charset=utf-8", text)
}

/// An error in `dialect`'s shape, with what tells a client what to do next: `Retry-After`,
/// `Allow`, `WWW-Authenticate`.
pub fn error(e: &GatewayError, dialect: Dialect, audience: Audience) -> Response {
    let body = match dialect {
        Dialect::OpenAI => openai::errors::body(e, audience),
        Dialect::Anthropic => anthropic::errors::body(e, audience),
    };
    let retry_after = e.retry_after_secs().map(|s| s.to_string());
    let mut more = Vec::with_capacity(3);
    if let Some(secs) = &retry_after {
        more.push(("retry-after", secs.as_str()));
    }
    if let Some(allow) = e.allow() {
        more.push(("allow", allow));
    }
    if e.category() == Category::Authentication && !matches!(e, GatewayError::UpstreamClient { .. })
    {
        more.push(("www-authenticate", "Bearer"));
    }
    let h = head("application/json", &more);
    response(e.status(), &h, &JsValue::from_str(&body.to_string()))
}

/// The answer to a CORS preflight.
pub fn preflight() -> Response {
    let h = head(
        "",
        &[
            ("access-control-allow-methods", CORS_METHODS),
            ("access-control-allow-headers", CORS_HEADERS),
            ("access-control-max-age", "86400"),
        ],
    );
    response(204, &h, &JsValue::NULL)
}

/// How the model is named in an answer: `(upstream's id, the name the client asked for)`, when
/// they differ (an alias).
pub type Rename<'a> = Option<(&'a str, &'a str)>;

/// The headers of an answer that comes from upstream: the content type, upstream's request
/// ids, and the account that served it (`x-qwen-account`, for callers allowed to know).
fn answer_headers(
    account: Option<&AccountId>,
    exchange: &fetch::Exchange,
    content_type: &str,
    streamed: bool,
) -> String {
    let mut more = Vec::with_capacity(4);
    if streamed {
        more.push(("cache-control", "no-cache"));
        more.push(("x-accel-buffering", "no"));
    }
    // Upstream's own request id, for support tickets with the provider (ours is x-request-id).
    let upstream_id = exchange
        .header(AnswerHeader::DashScopeRequestId)
        .or_else(|| exchange.header(AnswerHeader::XRequestId))
        .or_else(|| exchange.header(AnswerHeader::RequestId));
    if let Some(v) = &upstream_id {
        more.push(("x-upstream-request-id", v));
    }
    if let Some(id) = account {
        more.push(("x-qwen-account", id.as_str()));
    }
    head(content_type, &more)
}

/// The events that end a passed-through stream early, in the client's dialect.
struct EndEvents {
    /// Upstream silent for the idle timeout.
    idle: Vec<u8>,
    /// Upstream broken.
    broke: Vec<u8>,
}

/// The [`EndEvents`] of `dialect` for an idle timeout of `idle_ms`. Made once per isolate and
/// dialect (`idle_ms` is a setting), not for every stream.
fn stream_end_events(dialect: Dialect, idle_ms: u64) -> Rc<EndEvents> {
    thread_local! {
        static MADE: RefCell<Vec<(Dialect, u64, Rc<EndEvents>)>> = const { RefCell::new(Vec::new()) };
    }
    MADE.with(|made| {
        let mut made = made.borrow_mut();
        if let Some((_, _, events)) = made
            .iter()
            .find(|(d, ms, _)| *d == dialect && *ms == idle_ms)
        {
            return events.clone();
        }
        let idle = idle_message(idle_ms.div_ceil(1000));
        let events = Rc::new(match dialect {
            Dialect::OpenAI => EndEvents {
                idle: openai::errors::stream_error_event(&idle, "stream_idle_timeout").into_bytes(),
                broke: openai::errors::stream_error_event(BROKE_MESSAGE, "stream_interrupted")
                    .into_bytes(),
            },
            Dialect::Anthropic => EndEvents {
                idle: anthropic::errors::stream_error_event("api_error", &idle),
                broke: anthropic::errors::stream_error_event("api_error", BROKE_MESSAGE),
            },
        });
        made.push((dialect, idle_ms, events.clone()));
        events
    })
}

/// Upstream's answer for the client as it came: its status, content type and request ids, and
/// the body, with the model named as the client asked. A stream ends with an error event in
/// `dialect` if upstream goes silent for `idle_ms` or breaks; with `drop_usage`, the usage
/// chunk the client did not ask for is kept from it. Also where the answer's usage comes from
/// (found in the runtime: the body never enters WebAssembly for it).
pub fn upstream_answer(
    account: Option<&AccountId>,
    answer: &Answer,
    dialect: Dialect,
    idle_ms: u64,
    rename: Rename,
    drop_usage: bool,
) -> (Response, UsageSource) {
    let (exchange, streamed) = match answer {
        Answer::Whole { exchange, .. } => (exchange, false),
        Answer::Stream { exchange, .. } => (exchange, true),
    };
    let default_type = if streamed {
        "text/event-stream"
    } else {
        "application/json"
    };
    let content_type = exchange
        .header(AnswerHeader::ContentType)
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| default_type.to_owned());
    let h = answer_headers(account, exchange, &content_type, streamed);
    let status = exchange.status();
    match answer {
        Answer::Whole { body, .. } => {
            let usage = parse_usage(streams::usage_in(&body.bytes).as_deref());
            let json = rename.and_then(|(_, asked)| renamed(&body.bytes.to_vec(), asked));
            let resp = match json {
                Some(json) => response(status, &h, &JsValue::from_str(&json)),
                None => response(status, &h, &body.bytes),
            };
            (resp, usage.map_or(UsageSource::None, UsageSource::Known))
        }
        Answer::Stream {
            body,
            exchange,
            head_usage,
            ..
        } => {
            let events = stream_end_events(dialect, idle_ms);
            let swap = rename.map(|(upstream, asked)| {
                (
                    format!("\"model\":{}", serde_json::Value::from(upstream)),
                    format!("\"model\":{}", serde_json::Value::from(asked)),
                )
            });
            let guarded = streams::guard_stream(
                body,
                idle_ms,
                &events.idle,
                &events.broke,
                &exchange.abort,
                swap.as_ref().map(|(f, r)| (f.as_str(), r.as_str())),
                drop_usage,
            );
            let head = *head_usage;
            let read = move |v: JsValue| {
                let tail = parse_usage(v.as_string().as_deref());
                match (head, tail) {
                    (Some(h), Some(t)) => h.max(t),
                    (h, t) => h.or(t).unwrap_or_default(),
                }
            };
            (
                response(status, &h, &guarded.stream()),
                UsageSource::Later {
                    ended: guarded.ended(),
                    read: Box::new(read),
                },
            )
        }
    }
}

/// A translated answer read whole: `json`, with upstream's status and ids.
pub fn translated_json(
    account: Option<&AccountId>,
    exchange: &fetch::Exchange,
    json: &str,
) -> Response {
    let h = answer_headers(account, exchange, "application/json", false);
    response(exchange.status(), &h, &JsValue::from_str(json))
}

/// A translated stream, with upstream's status and ids.
pub fn translated_stream(
    account: Option<&AccountId>,
    exchange: &fetch::Exchange,
    body: &ReadableStream,
) -> Response {
    let h = answer_headers(account, exchange, "text/event-stream; charset=utf-8", true);
    response(exchange.status(), &h, body)
}

/// A JSON answer with its top-level `model` set to `asked`; `None` when it is not an object.
fn renamed(body: &[u8], asked: &str) -> Option<String> {
    let top: crate::raw_json::RawObject = serde_json::from_slice(body).ok()?;
    top.get("model")?;
    let mut out = String::with_capacity(body.len() + asked.len());
    let name = serde_json::Value::from(asked).to_string();
    top.write(&mut out, &|k| (k == "model").then(|| name.clone()));
    Some(out)
}
