//! What each request comes to, once it is over: one usage row added in the ledger (under
//! `waitUntil`, after the answer) and one structured log line. Handlers fill the request's
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
use futures_channel::oneshot;
use serde_json::json;
use std::cell::RefCell;
use std::collections::HashMap;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

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
    let named = matches!(ctx.caller, Caller::Named(_));
    if let Some(spend) = submit(&ctx.env, event, named).await {
        if let Caller::Named(id) = &ctx.caller {
            clients::recorded(id.as_str(), spend);
        }
    }
}

/// Usage events wait this long for others of the same isolate, so that the ledger is called
/// once for all of them (under load, far fewer ledger calls than requests; still one row
/// written per request). Each request's `waitUntil` lasts until its event is written.
const FLUSH_MS: u64 = 20;

type Waiter = oneshot::Sender<Option<Spend>>;

#[derive(Default)]
struct Queue {
    items: Vec<(UsageEvent, bool, Waiter)>,
    scheduled: bool,
}

thread_local! {
    static QUEUE: RefCell<Queue> = RefCell::new(Queue::default());
}

/// Adds `event` to the next write; resolves, once written, to its key's new spend when
/// `want_spend`.
async fn submit(env: &worker::Env, event: UsageEvent, want_spend: bool) -> Option<Spend> {
    let (tx, rx) = oneshot::channel();
    let first = QUEUE.with(|q| {
        let mut q = q.borrow_mut();
        q.items.push((event, want_spend, tx));
        !std::mem::replace(&mut q.scheduled, true)
    });
    if first {
        let env = env.clone();
        wasm_bindgen_futures::spawn_local(async move {
            sleep_ms(FLUSH_MS).await;
            flush(&env).await;
        });
    }
    rx.await.ok().flatten()
}

async fn flush(env: &worker::Env) {
    let items = QUEUE.with(|q| {
        let mut q = q.borrow_mut();
        q.scheduled = false;
        std::mem::take(&mut q.items)
    });
    let mut spend_of: Vec<String> = Vec::new();
    for (e, want, _) in &items {
        if *want && !spend_of.contains(&e.key) {
            spend_of.push(e.key.clone());
        }
    }
    let mut events = Vec::with_capacity(items.len());
    let mut waiters = Vec::with_capacity(items.len());
    for (e, _, tx) in items {
        waiters.push((e.key.clone(), tx));
        events.push(e);
    }
    let op = Op::Record {
        events,
        spend_of,
        now_ms: now_ms(),
    };
    let spends = match ledger::ask::<HashMap<String, Spend>>(env, &op).await {
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            worker::console_error!("usage not recorded: {e}");
            HashMap::new()
        }
        None => HashMap::new(),
    };
    for (key, tx) in waiters {
        let _ = tx.send(spends.get(&key).cloned());
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
