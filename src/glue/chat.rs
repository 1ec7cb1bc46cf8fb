//! `POST /v1/chat/completions`: choose an account, send, fail over before the first byte.

use super::http::{cors, json_response};
use super::net::{self, now_ms, Exchange, StreamHead};
use super::store::{self, Store};
use super::tokens::usable_credentials;
use crate::chat_request::ChatRequest;
use crate::classify::{classify, classify_stream_error, into_error, UpstreamVerdict};
use crate::credentials::Credentials;
use crate::error::{describe_failure, AccountFailure, GatewayError};
use crate::pool::{choose, earliest_recovery_ms, unusable_reason, Candidate, Unusable};
use crate::upstream::{bearer, chat_headers, chat_url};
use worker::{Headers, Response};

pub const MAX_ATTEMPTS: usize = 3;

pub async fn handle(
    store: &Store,
    body: &[u8],
    pinned: Option<String>,
) -> Result<Response, GatewayError> {
    let cfg = store.config();
    let request = ChatRequest::parse(body, &cfg.default_model)?;
    let now = now_ms();
    let mut pool = store.pool(now).await?;
    if let Some(id) = &pinned {
        if !pool.ids.contains(id) {
            // Maybe added since this isolate last read the index.
            pool = store.reload_pool(now).await?;
        }
    }
    if pool.ids.is_empty() {
        return Err(GatewayError::NoAccountAvailable {
            attempts: vec![],
            retry_after_secs: None,
            configured: 0,
        });
    }
    if let Some(id) = &pinned {
        if !pool.ids.iter().any(|i| i == id) {
            return Err(GatewayError::UnknownAccount { id: id.clone() });
        }
    }

    let mut attempts: Vec<(String, AccountFailure)> = Vec::new();
    let mut tried: Vec<String> = Vec::new();
    for attempt_no in 0..MAX_ATTEMPTS {
        // After a failure the pool state has changed (quota, cool-down, dead): look again.
        if attempt_no > 0 {
            pool = store.pool(now_ms()).await?;
        }
        let now = now_ms();
        let mut candidates: Vec<(String, Option<u64>)> = Vec::new();
        for id in &pool.ids {
            if tried.contains(id) || pinned.as_ref().is_some_and(|p| p != id) {
                continue;
            }
            let creds = match store.credentials(id).await {
                Ok(Some(c)) => c,
                Ok(None) => continue,
                Err(e) => {
                    worker::console_error!("account {id}: {}", e.message());
                    continue;
                }
            };
            if unusable_reason(id, &pool.failed, &pool.status, now, Some(&creds)).is_none() {
                candidates.push((id.clone(), creds.expiry_ms()));
            }
        }
        let list: Vec<Candidate> = candidates
            .iter()
            .map(|(id, e)| Candidate { id, expiry_ms: *e })
            .collect();
        let Some(id) = choose(&list, now, js_sys::Math::random()).map(str::to_owned) else {
            break;
        };
        tried.push(id.clone());
        match attempt(store, &id, &request).await {
            Ok(resp) => return Ok(resp),
            Err(GatewayError::Account { account, failure }) => {
                worker::console_warn!("account {account}: {}", describe_failure(&failure));
                note_failure(store, &account, &failure).await;
                attempts.push((account, failure));
            }
            Err(other) => return Err(other),
        }
    }

    // Nothing answered: say why, with Retry-After when some account comes back later.
    let pool = store.pool(now_ms()).await?;
    let now = now_ms();
    let out: Vec<(&String, Unusable)> = pool
        .ids
        .iter()
        .filter(|id| pinned.as_ref().is_none_or(|p| p == *id))
        .filter_map(|id| {
            let creds = store::cached_credentials(id);
            unusable_reason(id, &pool.failed, &pool.status, now, creds.as_ref()).map(|r| (id, r))
        })
        .collect();
    let reasons: Vec<Unusable> = out.iter().map(|(_, r)| r.clone()).collect();
    let retry_after_secs = earliest_recovery_ms(&reasons, now).map(|ms| ms.div_ceil(1000).max(1));
    if attempts.is_empty() {
        // Every account was already out before this request: report why, account by account.
        attempts = out
            .into_iter()
            .map(|(id, r)| (id.clone(), unusable_to_failure(r, now)))
            .collect();
    }
    let configured = if pinned.is_some() { 1 } else { pool.ids.len() };
    Err(GatewayError::NoAccountAvailable {
        attempts,
        retry_after_secs,
        configured,
    })
}

fn unusable_to_failure(r: Unusable, now: u64) -> AccountFailure {
    match r {
        Unusable::QuotaExceeded => AccountFailure::Quota,
        Unusable::CoolingDown { until_ms } => AccountFailure::Throttled {
            retry_after_secs: until_ms.saturating_sub(now).div_ceil(1000).max(1),
        },
        Unusable::Dead { reason } => AccountFailure::Dead { reason },
    }
}

/// One tiny request on one account, for `/admin/health?probe=true`; failures are recorded like
/// any other request's.
pub async fn probe(store: &Store, id: &str, request: &ChatRequest) -> Result<(), GatewayError> {
    match attempt(store, id, request).await {
        Ok(resp) => {
            if let worker::ResponseBody::Stream(s) = resp.body() {
                let _ = s.cancel();
            }
            Ok(())
        }
        Err(e) => {
            if let GatewayError::Account { account, failure } = &e {
                note_failure(store, account, failure).await;
            }
            Err(e)
        }
    }
}

/// Remember what happened to an account so the next requests avoid it (in the isolate at
/// once; in KV as well as KV allows).
async fn note_failure(store: &Store, id: &str, failure: &AccountFailure) {
    let now = now_ms();
    match failure {
        AccountFailure::Quota => store.mark_quota_exceeded(now, id).await,
        AccountFailure::Throttled { retry_after_secs } => {
            let until = now + retry_after_secs * 1000;
            store
                .cool_down(now, id, until, &describe_failure(failure))
                .await
        }
        AccountFailure::Dead { reason } => {
            let dead = store::cached_credentials(id).map(|c| c.fingerprint());
            store.mark_dead(now, id, reason, dead).await
        }
        AccountFailure::Unavailable { detail } => store.record_error(now, id, detail).await,
    }
}

/// One account: send, and on a 401 refresh once and send once more.
async fn attempt(store: &Store, id: &str, request: &ChatRequest) -> Result<Response, GatewayError> {
    let creds = usable_credentials(store, id, None).await?;
    match send(store, id, &creds, request).await? {
        Sent::Answer(resp) => Ok(resp),
        Sent::AuthRejected { detail } => {
            let Credentials::OAuth(ref o) = creds else {
                return Err(dead(id, format!("API key rejected ({detail})")));
            };
            let fresh = usable_credentials(store, id, Some(&o.access_token)).await?;
            match send(store, id, &fresh, request).await? {
                Sent::Answer(resp) => Ok(resp),
                Sent::AuthRejected { detail } => Err(dead(
                    id,
                    format!("rejected with a freshly refreshed token ({detail})"),
                )),
            }
        }
    }
}

fn dead(id: &str, reason: String) -> GatewayError {
    GatewayError::Account {
        account: id.to_owned(),
        failure: AccountFailure::Dead { reason },
    }
}

enum Sent {
    Answer(Response),
    AuthRejected { detail: String },
}

fn unavailable(id: &str, detail: String) -> GatewayError {
    GatewayError::Account {
        account: id.to_owned(),
        failure: AccountFailure::Unavailable { detail },
    }
}

async fn send(
    store: &Store,
    id: &str,
    creds: &Credentials,
    request: &ChatRequest,
) -> Result<Sent, GatewayError> {
    let cfg = store.config();
    let url = chat_url(creds, &cfg.api_base_url);
    let headers = chat_headers(creds.kind(), request.stream);
    let body = request.body_for(creds.kind());
    let timeout = if request.stream {
        cfg.first_byte_timeout_ms
    } else {
        cfg.request_timeout_ms
    };
    let started = now_ms();
    let ex = net::post(&url, &headers, Some(bearer(creds)), &body, timeout)
        .await
        .map_err(|d| unavailable(id, d))?;
    let status = ex.response.status();
    if !(200..300).contains(&status) {
        let retry_after = ex.response.headers().get("retry-after").ok().flatten();
        let text = net::text(&ex.response).await.unwrap_or_default();
        return match classify(status, retry_after.as_deref(), &text) {
            UpstreamVerdict::AuthRejected { detail } => Ok(Sent::AuthRejected { detail }),
            verdict => Err(into_error(id, verdict, status, text)),
        };
    }
    if !request.stream {
        return Ok(Sent::Answer(pass_through(
            id,
            &ex,
            None,
            "application/json",
        )?));
    }
    let left = timeout.saturating_sub(now_ms() - started).max(1);
    match net::read_stream_head(&ex, left)
        .await
        .map_err(|d| unavailable(id, d))?
    {
        StreamHead::Started(stream) => Ok(Sent::Answer(pass_through(
            id,
            &ex,
            Some(stream),
            "text/event-stream",
        )?)),
        StreamHead::Ended => Err(unavailable(id, "stream ended before any event".into())),
        StreamHead::ErrorEvent(data) => match classify_stream_error(&data) {
            Some(UpstreamVerdict::AuthRejected { detail }) => Ok(Sent::AuthRejected { detail }),
            Some(verdict) => Err(into_error(id, verdict, 400, data)),
            None => Err(unavailable(
                id,
                "stream started with an unreadable event".into(),
            )),
        },
    }
}

/// The client's response: upstream's body as a stream (never copied into WebAssembly).
fn pass_through(
    id: &str,
    ex: &Exchange,
    stream: Option<web_sys::ReadableStream>,
    default_type: &str,
) -> Result<Response, GatewayError> {
    let headers = Headers::new();
    let upstream = ex.response.headers();
    let content_type = upstream
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_else(|| default_type.to_owned());
    let _ = headers.set("content-type", &content_type);
    if default_type == "text/event-stream" {
        let _ = headers.set("cache-control", "no-cache");
        let _ = headers.set("x-accel-buffering", "no");
    }
    for name in ["x-request-id", "x-dashscope-request-id"] {
        if let Ok(Some(v)) = upstream.get(name) {
            let _ = headers.set(name, &v);
        }
    }
    let _ = headers.set("x-qwen-account", id);
    cors(&headers);
    let body = match stream {
        Some(s) => s,
        None => match ex.response.body() {
            Some(b) => b,
            None => {
                return json_response(200, &serde_json::json!({})).map_err(|e| {
                    GatewayError::Internal {
                        message: e.to_string(),
                    }
                })
            }
        },
    };
    Ok(Response::builder()
        .with_status(ex.response.status())
        .with_headers(headers)
        .stream(body))
}
