//! One attempt on one account, as rules: where the request goes with the account's credentials,
//! what to read of the reply, and what the reply means — an answer to hand on, a refused OAuth
//! token refreshed once and sent once more, a failure that moves the request to another
//! account, or an error that ends the request (the client's own mistake as upstream saw it, or
//! an answer too large to hand on). The Worker carries out the I/O each step names
//! (`worker::upstream`); the rules are tested here.

use super::classify::{classify, classify_stream_error, Verdict};
use super::request::{bearer, headers, url, Endpoint};
use super::sse::FIRST_EVENT_CAP;
use crate::accounts::credentials::Credentials;
use crate::error::{AccountFailure as Failure, GatewayError};

/// Error bodies are read up to this size (classification needs the start of them).
pub const ERROR_BODY_CAP: usize = 64 * 1024;
/// Non-streamed answers are read whole before the client gets them (so that a stall can still
/// fail over), up to this size.
pub const ANSWER_CAP: usize = 10 * 1024 * 1024;
/// How much of a whole answer tells whether it is JSON.
pub const ANSWER_START: usize = 64;

/// The account's attempt: its credentials, and whether they were refreshed after upstream
/// refused them once.
pub struct Attempt {
    creds: Credentials,
    refreshed: bool,
}

/// What a send carries besides the body: where it goes, its headers and its bearer secret.
pub struct Outgoing<'a> {
    pub endpoint: Endpoint,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub bearer: &'a str,
}

/// What to read of a reply once its head is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Not a success (an error, or a 1xx or 3xx upstream should never send): its body, up to
    /// [`ERROR_BODY_CAP`], within the short wait.
    ErrorBody,
    /// Nothing: a success without an answer (204, 205).
    Nothing,
    /// The whole answer, up to [`ANSWER_CAP`], within the short wait.
    Whole,
    /// A stream up to its first complete event, within what is left of the head's wait.
    StreamHead,
}

/// What came of a send that can hold no answer, as the Worker got it: no head at all, a status
/// outside 2xx, or a success without content.
pub enum Setback<'a> {
    /// No head: a network failure, or none within its wait (what the runtime said).
    NoHead(String),
    /// An error status; its body's text, or why it could not be read.
    Error {
        status: u16,
        retry_after: Option<&'a str>,
        body: Result<&'a str, String>,
    },
    /// A success status without an answer.
    NoContent { status: u16 },
}

/// A reply with a success status, as the Worker read it; `A` is what the client would get of
/// it (the body, the stream), handed back when it is an answer.
pub enum Reply<'a, A> {
    /// Non-streamed: the body, or why it could not be read.
    Whole {
        status: u16,
        body: Result<WholeBody<'a, A>, String>,
    },
    /// Streamed: its first event, or why it could not be read.
    Stream(Result<FirstEvent<'a, A>, String>),
}

/// A non-streamed answer read whole.
pub struct WholeBody<'a, A> {
    pub answer: A,
    /// Its first [`ANSWER_START`] bytes (or fewer).
    pub start: &'a [u8],
    /// It was longer than [`ANSWER_CAP`].
    pub truncated: bool,
}

/// How a stream started.
pub enum FirstEvent<'a, A> {
    /// A normal event: the stream is an answer.
    Data(A),
    /// An error object, its `data`.
    Error(&'a str),
    /// Upstream closed before a complete event.
    Ended,
    /// No event boundary within the cap.
    TooLong,
}

/// What an attempt comes to when its send brought no answer.
#[derive(PartialEq)]
pub enum Next {
    /// Upstream refused the OAuth token `rejected`: get fresh credentials
    /// ([`Attempt::after_refresh`]) and send once more.
    Refresh { rejected: String },
    /// This account cannot serve: try another.
    FailOver(Failure),
    /// The request ends here.
    Fatal(GatewayError),
}

/// The rejected token stays out of any debug output.
impl std::fmt::Debug for Next {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Next::Refresh { .. } => f.write_str("Refresh { rejected: <token> }"),
            Next::FailOver(failure) => f.debug_tuple("FailOver").field(failure).finish(),
            Next::Fatal(e) => f.debug_tuple("Fatal").field(e).finish(),
        }
    }
}

/// What to read of a reply with `status`.
pub fn read_for(status: u16, stream: bool) -> Read {
    match status {
        204 | 205 => Read::Nothing,
        200..=299 if stream => Read::StreamHead,
        200..=299 => Read::Whole,
        _ => Read::ErrorBody,
    }
}

/// How long a send waits for the reply's head: a streamed answer must start within the short
/// wait; a non-streamed one may take as long as the request may (upstream sends its head when
/// the whole answer is ready).
pub fn head_wait_ms(stream: bool, left_ms: u64, short_ms: u64) -> u64 {
    if stream {
        short_ms
    } else {
        left_ms
    }
}

impl Attempt {
    pub fn new(creds: Credentials) -> Attempt {
        Attempt {
            creds,
            refreshed: false,
        }
    }

    pub fn credentials(&self) -> &Credentials {
        &self.creds
    }

    /// Where a call goes with these credentials, for the `endpoint` the call chose for them
    /// (`None`: the account cannot serve the call). `client_user_agent` is forwarded where the
    /// account's kind says so.
    pub fn outgoing(
        &self,
        default_base: &str,
        endpoint: Option<Endpoint>,
        stream: bool,
        client_user_agent: Option<&str>,
    ) -> Result<Outgoing<'_>, Failure> {
        let creds = &self.creds;
        let Some((endpoint, url)) =
            endpoint.and_then(|e| url(creds, default_base, e).map(|u| (e, u)))
        else {
            return Err(Failure::unavailable(
                "this account does not serve this endpoint",
            ));
        };
        Ok(Outgoing {
            endpoint,
            url,
            headers: headers(creds.kind(), stream, client_user_agent),
            bearer: bearer(creds),
        })
    }

    /// Upstream refused the credentials once and fresh ones were got: the next send is the
    /// last on this account (a refusal of it is never [`Next::Refresh`]).
    pub fn after_refresh(&mut self, fresh: Credentials) {
        self.creds = fresh;
        self.refreshed = true;
    }

    /// What a send that brought no answer means for this attempt.
    pub fn setback(&self, setback: Setback, now_ms: u64) -> Next {
        match setback {
            Setback::NoHead(detail) => Next::FailOver(Failure::unavailable(detail)),
            Setback::Error {
                status,
                body: Err(detail),
                ..
            } => Next::FailOver(Failure::unavailable(format!(
                "HTTP {status}, then {detail}"
            ))),
            Setback::Error {
                status,
                retry_after,
                body: Ok(text),
            } => self.verdict(
                classify(status, retry_after, text, bearer(&self.creds)),
                now_ms,
            ),
            Setback::NoContent { status } => Next::FailOver(Failure::unavailable(format!(
                "HTTP {status} without an answer"
            ))),
        }
    }

    /// The answer a reply with a success status holds, or what the reply means instead.
    pub fn reply<A>(&self, reply: Reply<A>, now_ms: u64) -> Result<A, Next> {
        let unavailable = |d: String| Err(Next::FailOver(Failure::unavailable(d)));
        match reply {
            Reply::Whole { body: Err(d), .. } => unavailable(d),
            Reply::Whole {
                body: Ok(WholeBody {
                    truncated: true, ..
                }),
                ..
            } => Err(Next::Fatal(GatewayError::UpstreamService {
                message: format!("the answer is larger than {} MiB", ANSWER_CAP >> 20),
            })),
            Reply::Whole {
                status,
                body: Ok(WholeBody { answer, start, .. }),
            } => {
                if starts_like_json(start) {
                    Ok(answer)
                } else {
                    unavailable(format!("HTTP {status} with an answer that is not JSON"))
                }
            }
            Reply::Stream(Err(d)) => unavailable(d),
            Reply::Stream(Ok(FirstEvent::Data(answer))) => Ok(answer),
            Reply::Stream(Ok(FirstEvent::Ended)) => {
                unavailable("stream ended before any event".into())
            }
            Reply::Stream(Ok(FirstEvent::TooLong)) => unavailable(format!(
                "no event boundary in the first {} KiB of the stream",
                FIRST_EVENT_CAP >> 10
            )),
            Reply::Stream(Ok(FirstEvent::Error(data))) => {
                match classify_stream_error(data, bearer(&self.creds)) {
                    Some(v) => Err(self.verdict(v, now_ms)),
                    None => unavailable("stream started with an unreadable event".into()),
                }
            }
        }
    }

    /// What an upstream error means for this attempt. A refused token is refreshed once (an API
    /// key, even one that took an OAuth account's place during the refresh, is not: it is
    /// dead); an account that fails names the credentials that were actually sent, and a plan
    /// window becomes the instant it renews.
    fn verdict(&self, v: Verdict, now_ms: u64) -> Next {
        let fingerprint = Some(self.creds.fingerprint());
        match v {
            Verdict::AuthRejected { status, note } => match &self.creds {
                Credentials::ApiKey(_) => Next::FailOver(Failure::Dead {
                    reason: format!("API key rejected (HTTP {status}): check the key and its region (a key works only in the region that issued it), then store it again"),
                    note,
                    fingerprint,
                }),
                Credentials::OAuth(o) if !self.refreshed => Next::Refresh {
                    rejected: o.access_token.clone(),
                },
                // A fresh token refused too: the OAuth free tier behind the account is over.
                Credentials::OAuth(_) => Next::FailOver(Failure::Discontinued { fingerprint }),
            },
            Verdict::FailOver(Failure::Dead {
                reason,
                note,
                fingerprint: None,
            }) => Next::FailOver(Failure::Dead {
                reason,
                note,
                fingerprint,
            }),
            Verdict::FailOver(f) => Next::FailOver(f),
            Verdict::ClientError { status, body } => {
                Next::Fatal(GatewayError::UpstreamClient { status, body })
            }
            Verdict::PlanWindow(window) => {
                let subscription_day = match &self.creds {
                    Credentials::ApiKey(k) => k.subscription_day,
                    Credentials::OAuth(_) => None,
                };
                Next::FailOver(Failure::OutUntil {
                    until_ms: window.renews_at(now_ms, subscription_day),
                    reason: window.describe().to_owned(),
                })
            }
        }
    }
}

/// Does an answer that starts with `start` look like a JSON object (its first non-blank byte
/// is `{`)?
fn starts_like_json(start: &[u8]) -> bool {
    start.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

#[cfg(test)]
#[path = "attempt_tests.rs"]
mod tests;
