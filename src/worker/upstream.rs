//! One attempt of one call on one account, carried out: usable credentials, the request, the
//! read its reply's status calls for, and the rules of `qwen::attempt` on what came back (an
//! answer for the client, a refresh and one more send, a failure that moves the request to
//! another account, or an error that ends the request).

use super::ctx::Ctx;
use super::fetch::{self, now_ms, AnswerHeader, Capped, Exchange};
use super::refresh::usable_credentials;
use super::streams::{self, StreamHead};
use crate::accounts::id::AccountId;
use crate::api::UpstreamCall;
use crate::error::AccountFailure as Failure;
use crate::error::GatewayError;
use crate::qwen::attempt::{
    head_wait_ms, read_for, Attempt, FirstEvent, Next, Read, Reply, Setback, WholeBody, ANSWER_CAP,
    ANSWER_START, ERROR_BODY_CAP,
};
use crate::qwen::request::Endpoint;
use web_sys::ReadableStream;

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
    /// The request ends here (the client's own mistake as upstream saw it, or an answer too
    /// large to hand on).
    Fatal(GatewayError),
}

impl From<Failure> for AttemptError {
    fn from(f: Failure) -> Self {
        AttemptError::FailOver(f)
    }
}

/// One account: send, and on a refused OAuth token refresh once and send once more
/// (`qwen::attempt` says which, and what each reply means).
pub async fn attempt(
    ctx: &Ctx,
    id: &AccountId,
    call: &dyn UpstreamCall,
    deadlines: Deadlines,
) -> Result<Answer, AttemptError> {
    let creds = usable_credentials(ctx, id, None, deadlines.request_end).await?;
    let mut this = Attempt::new(creds);
    // At most two sends: after a refresh, a refusal is a failure of the account, never another
    // refresh (`qwen::attempt`).
    loop {
        match send(ctx, &this, call, deadlines).await {
            Ok(answer) => return Ok(answer),
            Err(Next::Refresh { rejected }) => {
                let fresh =
                    usable_credentials(ctx, id, Some(&rejected), deadlines.request_end).await?;
                this.after_refresh(fresh);
            }
            Err(Next::FailOver(f)) => return Err(AttemptError::FailOver(f)),
            Err(Next::Fatal(e)) => return Err(AttemptError::Fatal(e)),
        }
    }
}

/// One send with the attempt's credentials, and the read its reply's status calls for: the
/// answer, or what the reply means instead.
async fn send(
    ctx: &Ctx,
    attempt: &Attempt,
    call: &dyn UpstreamCall,
    deadlines: Deadlines,
) -> Result<Answer, Next> {
    let base = &ctx.cfg.api_base_url;
    let creds = attempt.credentials();
    let user_agent = ctx.heads.user_agent.as_deref();
    let out = attempt
        .outgoing(
            base,
            call.endpoint_for(creds, base),
            call.stream(),
            user_agent,
        )
        .map_err(Next::FailOver)?;
    let endpoint = out.endpoint;
    let no_answer = |s: Setback| Err(attempt.setback(s, now_ms()));
    let started = now_ms();
    let head_ms = head_wait_ms(call.stream(), deadlines.left(), deadlines.short());
    let body = call.body_for(creds, endpoint);
    let ex = match fetch::post(&out.url, &out.headers, Some(out.bearer), &body, head_ms).await {
        Ok(ex) => ex,
        Err(detail) => return no_answer(Setback::NoHead(detail)),
    };
    drop(body);
    let status = ex.status();
    match read_for(status, call.stream()) {
        Read::ErrorBody => {
            let retry_after = ex.header(AnswerHeader::RetryAfter);
            let text = fetch::read_body(&ex, ERROR_BODY_CAP, deadlines.short())
                .await
                .map(|b| b.text());
            no_answer(Setback::Error {
                status,
                retry_after: retry_after.as_deref(),
                body: text.as_deref().map_err(Clone::clone),
            })
        }
        Read::Nothing => no_answer(Setback::NoContent { status }),
        Read::Whole => {
            let read = fetch::read_body(&ex, ANSWER_CAP, deadlines.short()).await;
            let start = read
                .as_ref()
                .map(|b| answer_start(&b.bytes))
                .unwrap_or_default();
            let body = read.map(|b| WholeBody {
                truncated: b.truncated,
                answer: b,
                start: &start,
            });
            let body = attempt.reply(Reply::Whole { status, body }, now_ms())?;
            Ok(Answer::Whole {
                exchange: ex,
                body,
                endpoint,
            })
        }
        Read::StreamHead => {
            let first_event_ms = head_ms
                .saturating_sub(now_ms().saturating_sub(started))
                .max(1);
            let error_data: String;
            let first = match streams::read_stream_head(&ex, first_event_ms).await {
                Ok(StreamHead::Started(body, head_usage)) => {
                    Ok(FirstEvent::Data((body, head_usage)))
                }
                Ok(StreamHead::ErrorEvent(data)) => {
                    error_data = data;
                    Ok(FirstEvent::Error(&error_data))
                }
                Ok(StreamHead::Ended) => Ok(FirstEvent::Ended),
                Ok(StreamHead::TooLong) => Ok(FirstEvent::TooLong),
                Err(d) => Err(d),
            };
            let (body, head_usage) = attempt.reply(Reply::Stream(first), now_ms())?;
            Ok(Answer::Stream {
                exchange: ex,
                body,
                endpoint,
                head_usage,
            })
        }
    }
}

/// The start of a whole answer, enough to tell whether it is JSON.
fn answer_start(bytes: &js_sys::Uint8Array) -> Vec<u8> {
    let n = bytes.length().min(ANSWER_START as u32);
    bytes.subarray(0, n).to_vec()
}
