//! What each request comes to, once it is over: its usage added to its row in the ledger (under
//! `waitUntil`, after the answer, in a batch) and one structured log line. Handlers fill the request's
//! [`Note`] as they learn things (route, models, account, the answer's usage or where it will
//! come from); [`close`] runs when the Worker has its answer, and for a stream waits for its
//! end. The log line never holds a secret or any message content.

use super::clients;
use super::ctx::Ctx;
use super::fetch::{now_ms, sleep_ms};
use super::ledger::{self, Op};
use super::note::{Note, UsageSource};
use crate::api::keys::Caller;
use crate::config::Config;
use crate::ledger::limits::Spend;
use crate::ledger::usage::{LogLine, UsageEvent};
use crate::usage::Usage;
use serde_json::json;
use std::cell::RefCell;
use std::collections::HashMap;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

/// The request is answered with `status`: account it and log it, now when its usage is known,
/// or when its stream ends (under the request's `waitUntil`).
pub fn close(ctx: &Ctx, status: u16) {
    let mut note = std::mem::take(&mut *ctx.note.borrow_mut());
    let usage = match std::mem::take(&mut note.usage) {
        UsageSource::Later { ended, read } => {
            let ctx2 = ctx.clone();
            ctx.keep_running(async move {
                let usage = read(JsFuture::from(ended).await.unwrap_or(JsValue::NULL));
                if let Some(write) = finish(&ctx2, note, status, usage) {
                    write.await;
                }
            });
            return;
        }
        UsageSource::Known(u) => u,
        UsageSource::None => Usage::default(),
    };
    if let Some(write) = finish(ctx, note, status, usage) {
        ctx.keep_running(write);
    }
}

/// Logs the request and queues its usage; returns the ledger write that must be kept running
/// when this request's event starts a new batch.
fn finish(ctx: &Ctx, n: Note, status: u16, usage: Usage) -> Option<Flush> {
    let now = now_ms();
    let key = ctx.caller.usage_name();
    let latency_ms = now.saturating_sub(ctx.started_ms);
    let line = LogLine {
        kind: "request",
        request_id: &ctx.request_id,
        key: &key,
        route: n.route.unwrap_or(ctx.route_name),
        model: Some(n.model.as_str()).filter(|m| !m.is_empty()),
        model_sent: Some(n.model_sent.as_str()).filter(|m| !m.is_empty()),
        account: n.account.as_deref(),
        attempts: n.attempts,
        status,
        upstream_status: n.upstream_status,
        latency_ms,
        first_byte_ms: n.first_byte_ms,
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        cached_tokens: usage.cached_tokens,
        reasoning_tokens: usage.reasoning_tokens,
    };
    if ctx.cfg.request_log {
        worker::console_log!("{}", line.to_json());
    }
    let route = n.route?;
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
    let named = matches!(ctx.caller, Caller::Named(_));
    queue(&ctx.env, event, named)
}

/// Usage events wait this long for others of the same isolate, so that the ledger is called
/// once for all of them (under load, far fewer ledger calls than requests, and one row written
/// per row the batch adds to). The request whose event starts a batch keeps the batch's write
/// running (`waitUntil`); the others only add to it. A request's own `waitUntil`, ended one by
/// one, costs the runtime more than the rest of its accounting.
const FLUSH_MS: u64 = 20;

/// A batch's write to the ledger, to be kept running by the request that started the batch.
type Flush = std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

/// A batch whose write has not started this long after it was scheduled was lost with the
/// request that kept it running (its `waitUntil` cut short): the next event starts a new one.
const LOST_MS: u64 = 1_000;

#[derive(Default)]
struct Queue {
    /// Each event, and whether its key's new spend is wanted back (a named client key's).
    items: Vec<(UsageEvent, bool)>,
    /// When the pending batch's write was scheduled (none pending: `None`).
    scheduled_ms: Option<u64>,
}

thread_local! {
    static QUEUE: RefCell<Queue> = RefCell::new(Queue::default());
}

/// Adds `event` to the next write; when it is the first of a batch, returns that write.
fn queue(env: &worker::Env, event: UsageEvent, want_spend: bool) -> Option<Flush> {
    let now = now_ms();
    let first = QUEUE.with(|q| {
        let mut q = q.borrow_mut();
        q.items.push((event, want_spend));
        let pending = q
            .scheduled_ms
            .is_some_and(|at| now < at.saturating_add(LOST_MS));
        if !pending {
            q.scheduled_ms = Some(now);
        }
        !pending
    });
    if !first {
        return None;
    }
    let env = env.clone();
    Some(Box::pin(async move {
        sleep_ms(FLUSH_MS).await;
        flush(&env).await;
    }))
}

/// Writes the queued events in one ledger call, and takes the new spend of each named key
/// among them as this isolate's figure.
async fn flush(env: &worker::Env) {
    let items = QUEUE.with(|q| {
        let mut q = q.borrow_mut();
        q.scheduled_ms = None;
        std::mem::take(&mut q.items)
    });
    // A write thought lost that came after all: an earlier one took its events.
    if items.is_empty() {
        return;
    }
    let mut spend_of: Vec<String> = Vec::new();
    for (e, want) in &items {
        if *want && !spend_of.contains(&e.key) {
            spend_of.push(e.key.clone());
        }
    }
    let op = Op::Record {
        events: items.into_iter().map(|(e, _)| e).collect(),
        spend_of,
        now_ms: now_ms(),
    };
    match ledger::ask::<HashMap<String, Spend>>(env, &op).await {
        Some(Ok(spends)) => {
            for (key, spend) in spends {
                clients::recorded(&key, spend);
            }
        }
        Some(Err(e)) => worker::console_error!("usage not recorded: {e}"),
        None => {}
    }
}

/// The log line of a request refused before it reached a handler (unknown route, wrong
/// method, no valid key): no usage, nothing of what it sent but its path's start.
pub fn log_refused(cfg: &Config, request_id: &str, path: &str, status: u16, started_ms: u64) {
    if !cfg.request_log {
        return;
    }
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
