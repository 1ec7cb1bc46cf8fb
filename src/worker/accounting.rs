//! What each request comes to, once it is over: one usage row added in the ledger (under
//! `waitUntil`, after the answer) and one structured log line. Handlers fill the request's
//! [`Note`] as they learn things (route, models, account, the answer's usage or where it will
//! come from); [`close`] runs when the Worker has its answer, and for a stream waits for its
//! end. The log line never holds a secret or any message content.

use super::clients;
use super::ctx::Ctx;
use super::fetch::now_ms;
use super::ledger::{self, Op};
use crate::api::keys::Caller;
use crate::ledger::limits::Spend;
use crate::ledger::usage::UsageEvent;
use crate::usage::Usage;
use serde_json::json;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

/// Where a request's usage comes from.
#[derive(Default)]
pub enum UsageSource {
    /// No answer, or one without usage.
    #[default]
    None,
    Known(Usage),
    /// A stream: `ended` resolves when it is over, and `read` turns what it resolved to into
    /// the usage.
    Later {
        ended: js_sys::Promise,
        read: Box<dyn FnOnce(JsValue) -> Usage>,
    },
}

/// What a request was, as far as the handler got.
#[derive(Default)]
pub struct Note {
    /// A model route's name (`chat`, `messages`, …); other routes are logged, not accounted.
    pub route: Option<&'static str>,
    pub model: String,
    pub model_sent: String,
    pub account: Option<String>,
    pub attempts: u32,
    pub upstream_status: Option<u16>,
    pub first_byte_ms: Option<u64>,
    pub usage: UsageSource,
}

/// The usage in the text of a `usage` object (OpenAI's or Anthropic's shape).
pub fn parse_usage(text: Option<&str>) -> Option<Usage> {
    serde_json::from_str(text?)
        .ok()
        .as_ref()
        .and_then(Usage::from_any)
}

/// The request is answered with `status`: account it and log it, now or when its stream ends.
pub fn close(ctx: &Ctx, status: u16) {
    let mut note = std::mem::take(&mut *ctx.note.borrow_mut());
    let source = std::mem::take(&mut note.usage);
    let ctx2 = ctx.clone();
    ctx.keep_running(async move {
        let usage = match source {
            UsageSource::Later { ended, read } => {
                read(JsFuture::from(ended).await.unwrap_or(JsValue::NULL))
            }
            UsageSource::Known(u) => u,
            UsageSource::None => Usage::default(),
        };
        finish(&ctx2, note, status, usage).await;
    });
}

async fn finish(ctx: &Ctx, n: Note, status: u16, usage: Usage) {
    let now = now_ms();
    let key = ctx.caller.usage_name();
    let latency_ms = now.saturating_sub(ctx.started_ms);
    worker::console_log!(
        "{}",
        json!({
            "type": "request",
            "request_id": &*ctx.request_id,
            "key": key,
            "route": n.route.unwrap_or(ctx.route_name),
            "model": (!n.model.is_empty()).then_some(&n.model),
            "model_sent": (!n.model_sent.is_empty()).then_some(&n.model_sent),
            "account": n.account,
            "attempts": n.attempts,
            "status": status,
            "upstream_status": n.upstream_status,
            "latency_ms": latency_ms,
            "first_byte_ms": n.first_byte_ms,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cached_tokens": usage.cached_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
        })
    );
    let Some(route) = n.route else { return };
    if let Caller::Named(id) = &ctx.caller {
        clients::spent(id.as_str(), usage.tokens(), now);
    }
    let event = UsageEvent {
        key,
        at_ms: ctx.started_ms,
        account: n.account.unwrap_or_default(),
        model: n.model,
        model_sent: n.model_sent,
        route: route.to_owned(),
        error: status >= 400,
        usage,
        latency_ms,
    };
    match ledger::ask::<Spend>(&ctx.env, &Op::Record { event }).await {
        Some(Ok(spend)) => {
            if let Caller::Named(id) = &ctx.caller {
                clients::recorded(id.as_str(), spend);
            }
        }
        Some(Err(e)) => worker::console_error!("usage not recorded: {e}"),
        None => {}
    }
}

/// The log line of a request refused before it reached a handler (unknown route, wrong
/// method, no valid key): no usage, nothing of what it sent but its path's start.
pub fn log_refused(request_id: &str, path: &str, status: u16, started_ms: u64) {
    let path: String = path.chars().take(120).collect();
    worker::console_log!(
        "{}",
        json!({
            "type": "request",
            "request_id": request_id,
            "path": path,
            "status": status,
            "latency_ms": now_ms().saturating_sub(started_ms),
        })
    );
}
