//! One attempt of one call on one account: usable credentials, the request, and what the answer
//! means: an answer for the client, a failure that moves the request to another account, or an
//! error that ends it (the client's own mistake, as upstream saw it).

use super::ctx::Ctx;
use super::fetch::{self, now_ms, Capped, Exchange};
use super::refresh::usable_credentials;
use super::streams::{self, StreamHead};
use crate::accounts::credentials::Credentials;
use crate::accounts::id::AccountId;
use crate::api::UpstreamCall;
use crate::error::AccountFailure as Failure;
use crate::error::GatewayError;
use crate::qwen::classify::{classify, classify_stream_error, Verdict};
use crate::qwen::request::{bearer, headers, url, Endpoint};
use web_sys::ReadableStream;

/// Error bodies are read up to this size (classification needs the start of them).
const ERROR_BODY_CAP: usize = 64 * 1024;
/// Non-streamed answers are read whole before the client gets them (so that a stall can still
/// fail over), up to this size.
pub const ANSWER_CAP: usize = 10 * 1024 * 1024;

/// How long a request may take: the whole of it across every attempt (`REQUEST_TIMEOUT_MS`),
/// and each wait that should be short: a streamed answer's head and first event, an error body,
/// a non-streamed body once its head is there (`FIRST_BYTE_TIMEOUT_MS`).
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    pub request_end: u64,
    pub first_byte_ms: u64,
}

impl Deadlines {
    pub fn new(now_ms: u64, request_ms: u64, first_byte_ms: u64) -> Deadlines {
        Deadlines {
            request_end: now_ms.saturating_add(request_ms),
            first_byte_ms,
        }
    }

    /// Milliseconds left for the whole request (at least 1).
    pub fn left(&self) -> u64 {
        self.request_end.saturating_sub(now_ms()).max(1)
    }

    /// Milliseconds for a wait that should be short, from now.
    pub fn short(&self) -> u64 {
        self.left().min(self.first_byte_ms.max(1))
    }

    pub fn passed(&self) -> bool {
        now_ms() >= self.request_end
    }
}

/// A usable answer, not yet sent to the client.
pub enum Answer {
    /// A non-streamed answer, read whole.
    Whole {
        exchange: Exchange,
        body: Capped,
        endpoint: Endpoint,
    },
    /// A streamed answer whose first event was normal; `body` is the whole stream.
    Stream {
        exchange: Exchange,
        body: ReadableStream,
        endpoint: Endpoint,
        /// What the first event said of usage (Anthropic's input tokens).
        head_usage: Option<crate::usage::Usage>,
    },
}

impl Answer {
    /// Upstream's status.
    pub fn status(&self) -> u16 {
        match self {
            Answer::Whole { exchange, .. } | Answer::Stream { exchange, .. } => exchange.status(),
        }
    }

    /// The upstream endpoint that answered (which decides how the answer is translated).
    pub fn endpoint(&self) -> Endpoint {
        match self {
            Answer::Whole { endpoint, .. } | Answer::Stream { endpoint, .. } => *endpoint,
        }
    }
}

pub enum AttemptError {
    /// This account could not serve: try another.
    FailOver(Failure),
    /// The request ends here (upstream says it is the client's mistake).
    Fatal(GatewayError),
}

impl From<Failure> for AttemptError {
    fn from(f: Failure) -> Self {
        AttemptError::FailOver(f)
    }
}

enum Sent {
    Answer(Answer),
    AuthRejected { status: u16, note: Option<String> },
}

/// One account: send, and on a 401 refresh once and send once more.
pub async fn attempt(
    ctx: &Ctx,
    id: &AccountId,
    call: &dyn UpstreamCall,
    deadlines: Deadlines,
) -> Result<Answer, AttemptError> {
    let creds = usable_credentials(ctx, id, None, deadlines.request_end).await?;
    let (status, note) = match send(ctx, &creds, call, deadlines).await {
        Ok(Sent::Answer(a)) => return Ok(a),
        Ok(Sent::AuthRejected { status, note }) => (status, note),
        Err(e) => return Err(e.for_credentials(&creds)),
    };
    let Credentials::OAuth(ref o) = creds else {
        return Err(Failure::Dead {
            reason: format!("API key rejected (HTTP {status}): check the key and its region (a key works only in the region that issued it), then store it again"),
            note,
            fingerprint: Some(creds.fingerprint()),
        }
        .into());
    };
    let fresh = usable_credentials(ctx, id, Some(&o.access_token), deadlines.request_end).await?;
    match send(ctx, &fresh, call, deadlines).await {
        Ok(Sent::Answer(a)) => Ok(a),
        // A fresh token refused too: the OAuth free tier behind the account is over.
        Ok(Sent::AuthRejected { .. }) => Err(Failure::Discontinued {
            fingerprint: Some(fresh.fingerprint()),
        }
        .into()),
        Err(e) => Err(e.for_credentials(&fresh)),
    }
}

impl AttemptError {
    /// A failure that marks the account names the credentials that were actually sent, and a
    /// plan window becomes the instant it renews.
    fn for_credentials(self, creds: &Credentials) -> AttemptError {
        match self {
            AttemptError::FailOver(Failure::Dead {
                reason,
                note,
                fingerprint: None,
            }) => AttemptError::FailOver(Failure::Dead {
                reason,
                note,
                fingerprint: Some(creds.fingerprint()),
            }),
            other => other,
        }
    }
}

async fn send(
    ctx: &Ctx,
    creds: &Credentials,
    call: &dyn UpstreamCall,
    deadlines: Deadlines,
) -> Result<Sent, AttemptError> {
    let base = &ctx.cfg.api_base_url;
    let Some((endpoint, target)) = call
        .endpoint_for(creds, base)
        .and_then(|e| url(creds, base, e).map(|u| (e, u)))
    else {
        return Err(Failure::unavailable("this account does not serve this endpoint").into());
    };
    let headers = headers(creds.kind(), call.stream(), ctx.heads.user_agent.as_deref());
    let secret = bearer(creds);
    // A streamed answer must start within the short wait; a non-streamed one may take as long
    // as the request may (upstream sends its head when the whole answer is ready).
    let started = now_ms();
    let head_ms = if call.stream() {
        deadlines.short()
    } else {
        deadlines.left()
    };
    let ex = fetch::post(
        &target,
        &headers,
        Some(secret),
        &call.body_for(creds, endpoint),
        head_ms,
    )
    .await
    .map_err(Failure::unavailable)?;
    let status = ex.status();
    if !(200..300).contains(&status) {
        let retry_after = ex.header("retry-after");
        let body = fetch::read_body(&ex, ERROR_BODY_CAP, deadlines.short())
            .await
            .map_err(|d| Failure::unavailable(format!("HTTP {status}, then {d}")))?;
        return verdict(
            creds,
            classify(status, retry_after.as_deref(), &body.text(), secret),
        );
    }
    if matches!(status, 204 | 205) {
        return Err(Failure::unavailable(format!("HTTP {status} without an answer")).into());
    }
    if !call.stream() {
        let body = fetch::read_body(&ex, ANSWER_CAP, deadlines.short())
            .await
            .map_err(Failure::unavailable)?;
        if body.truncated {
            return Err(AttemptError::Fatal(GatewayError::UpstreamService {
                message: format!("the answer is larger than {} MiB", ANSWER_CAP >> 20),
            }));
        }
        if !starts_like_json(&body) {
            return Err(Failure::unavailable(format!(
                "HTTP {status} with an answer that is not JSON"
            ))
            .into());
        }
        return Ok(Sent::Answer(Answer::Whole {
            exchange: ex,
            body,
            endpoint,
        }));
    }
    let first_event_ms = head_ms.saturating_sub(now_ms() - started).max(1);
    let head = streams::read_stream_head(&ex, first_event_ms)
        .await
        .map_err(Failure::unavailable)?;
    match head {
        StreamHead::Started(body, head_usage) => Ok(Sent::Answer(Answer::Stream {
            exchange: ex,
            body,
            endpoint,
            head_usage,
        })),
        StreamHead::Ended => Err(Failure::unavailable("stream ended before any event").into()),
        StreamHead::TooLong => Err(Failure::unavailable(format!(
            "no event boundary in the first {} KiB of the stream",
            crate::qwen::sse::FIRST_EVENT_CAP >> 10
        ))
        .into()),
        StreamHead::ErrorEvent(data) => match classify_stream_error(&data, secret) {
            Some(v) => verdict(creds, v),
            None => Err(Failure::unavailable("stream started with an unreadable event").into()),
        },
    }
}

/// What an upstream error means for this attempt.
fn verdict(creds: &Credentials, v: Verdict) -> Result<Sent, AttemptError> {
    match v {
        Verdict::AuthRejected { status, note } => Ok(Sent::AuthRejected { status, note }),
        Verdict::FailOver(f) => Err(f.into()),
        Verdict::ClientError { status, body } => {
            Err(AttemptError::Fatal(GatewayError::UpstreamClient {
                status,
                body,
            }))
        }
        Verdict::PlanWindow(window) => {
            let subscription_day = match creds {
                Credentials::ApiKey(k) => k.subscription_day,
                Credentials::OAuth(_) => None,
            };
            Err(Failure::OutUntil {
                until_ms: window.renews_at(now_ms(), subscription_day),
                reason: window.describe().to_owned(),
            }
            .into())
        }
    }
}

/// Does the answer look like a JSON object (its first non-blank byte is `{`)?
fn starts_like_json(body: &Capped) -> bool {
    let n = body.bytes.length().min(64);
    body.bytes
        .subarray(0, n)
        .to_vec()
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        == Some(&b'{')
}
