//! The one error type of the gateway.
//!
//! Every failure that can reach a client is a [`GatewayError`]. Each variant knows its HTTP
//! status, its OpenAI error `type` and `code`, and whether the request may fail over to another
//! account. The body always has the OpenAI shape `{"error":{"message","type","param","code"}}`.

use serde_json::{json, Value};
use std::fmt;

/// Why an upstream account could not serve a request (the failover-relevant classes of
/// UPSTREAM.md). Kept separate so the pool can count and report them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountFailure {
    /// Daily quota spent: out until UTC midnight.
    Quota,
    /// Short throttling: cool down for this many seconds.
    Throttled { retry_after_secs: u64 },
    /// 401/403 on chat that survived a fresh token, or a dead refresh token.
    Dead { reason: String },
    /// 5xx, a network error or a first-byte timeout before anything reached the client.
    Unavailable { detail: String },
}

#[derive(Debug, Clone, PartialEq)]
pub enum GatewayError {
    /// The client sent something we cannot forward (400).
    InvalidRequest {
        message: String,
        param: Option<String>,
    },
    /// Request body larger than we accept (413).
    PayloadTooLarge { limit: usize },
    /// Wrong Content-Type (415).
    UnsupportedMediaType,
    /// Missing or wrong client key (401).
    Unauthorized,
    /// Missing or wrong admin key (401).
    AdminUnauthorized,
    /// ADMIN_SECRET_KEY is not set, so the admin API is off (404 keeps it invisible).
    AdminDisabled,
    /// No such route (404).
    NotFound { path: String },
    /// Route exists, method does not (405).
    MethodNotAllowed {
        method: String,
        allowed: &'static str,
    },
    /// No such account (admin API, pinned account) (404).
    UnknownAccount { id: String },
    /// An upstream answer that is the client's fault (400 / 404 model / context too long):
    /// returned as upstream sent it, no rotation.
    UpstreamClient { status: u16, body: String },
    /// One account failed in a way that lets the request move on to another account.
    Account {
        account: String,
        failure: AccountFailure,
    },
    /// Every account is unusable or every attempt failed.
    NoAccountAvailable {
        attempts: Vec<(String, AccountFailure)>,
        retry_after_secs: Option<u64>,
        configured: usize,
    },
    /// Account storage (KV) failed or holds something unreadable.
    Storage { message: String },
    /// A bug or an unexpected runtime failure.
    Internal { message: String },
}

impl GatewayError {
    pub fn invalid(message: impl Into<String>, param: Option<&str>) -> Self {
        GatewayError::InvalidRequest {
            message: message.into(),
            param: param.map(str::to_owned),
        }
    }

    pub fn status(&self) -> u16 {
        use GatewayError::*;
        match self {
            InvalidRequest { .. } => 400,
            PayloadTooLarge { .. } => 413,
            UnsupportedMediaType => 415,
            Unauthorized | AdminUnauthorized => 401,
            AdminDisabled | NotFound { .. } | UnknownAccount { .. } => 404,
            MethodNotAllowed { .. } => 405,
            UpstreamClient { status, .. } => *status,
            Account { failure, .. } => match failure {
                AccountFailure::Quota | AccountFailure::Throttled { .. } => 429,
                AccountFailure::Dead { .. } => 502,
                AccountFailure::Unavailable { .. } => 502,
            },
            NoAccountAvailable {
                attempts,
                configured,
                ..
            } => {
                if *configured == 0 {
                    503
                } else if !attempts.is_empty()
                    && attempts.iter().all(|(_, f)| {
                        matches!(f, AccountFailure::Quota | AccountFailure::Throttled { .. })
                    })
                {
                    429
                } else if attempts
                    .iter()
                    .any(|(_, f)| matches!(f, AccountFailure::Unavailable { .. }))
                {
                    502
                } else {
                    503
                }
            }
            Storage { .. } | Internal { .. } => 500,
        }
    }

    /// The OpenAI error `type`.
    pub fn error_type(&self) -> &'static str {
        use GatewayError::*;
        match self {
            InvalidRequest { .. }
            | PayloadTooLarge { .. }
            | UnsupportedMediaType
            | NotFound { .. }
            | MethodNotAllowed { .. }
            | UnknownAccount { .. }
            | AdminDisabled => "invalid_request_error",
            Unauthorized | AdminUnauthorized => "authentication_error",
            UpstreamClient { .. } => "invalid_request_error",
            Account { .. } | NoAccountAvailable { .. } => match self.status() {
                429 => "rate_limit_error",
                _ => "upstream_error",
            },
            Storage { .. } | Internal { .. } => "server_error",
        }
    }

    pub fn code(&self) -> Option<&'static str> {
        use GatewayError::*;
        Some(match self {
            InvalidRequest { .. } => "invalid_request",
            PayloadTooLarge { .. } => "payload_too_large",
            UnsupportedMediaType => "unsupported_media_type",
            Unauthorized => "invalid_api_key",
            AdminUnauthorized => "invalid_admin_key",
            AdminDisabled => "admin_disabled",
            NotFound { .. } => "not_found",
            MethodNotAllowed { .. } => "method_not_allowed",
            UnknownAccount { .. } => "account_not_found",
            UpstreamClient { .. } => return None,
            Account { failure, .. } => failure_code(failure),
            NoAccountAvailable { configured: 0, .. } => "no_accounts_configured",
            NoAccountAvailable { attempts, .. } => {
                if attempts.is_empty() {
                    "no_account_available"
                } else if attempts
                    .iter()
                    .all(|(_, f)| matches!(f, AccountFailure::Quota))
                {
                    "insufficient_quota"
                } else if self.status() == 429 {
                    "rate_limit_exceeded"
                } else {
                    "all_accounts_failed"
                }
            }
            Storage { .. } => "storage_error",
            Internal { .. } => "internal_error",
        })
    }

    /// May the request be retried on another account?
    pub fn may_fail_over(&self) -> bool {
        matches!(self, GatewayError::Account { .. })
    }

    /// Seconds a client should wait, when we know.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            GatewayError::Account {
                failure: AccountFailure::Throttled { retry_after_secs },
                ..
            } => Some(*retry_after_secs),
            // Also on a 503: SDKs that retry honour it, and some account recovers then.
            GatewayError::NoAccountAvailable {
                retry_after_secs, ..
            } => *retry_after_secs,
            _ => None,
        }
    }

    pub fn message(&self) -> String {
        use GatewayError::*;
        match self {
            InvalidRequest { message, .. } => message.clone(),
            PayloadTooLarge { limit } => format!("Request body is larger than the limit of {limit} bytes."),
            UnsupportedMediaType => "Request body must be a JSON object (Content-Type: application/json), not a multipart upload.".into(),
            Unauthorized => "Invalid or missing API key. Send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'.".into(),
            AdminUnauthorized => "Invalid or missing admin key. Send ADMIN_SECRET_KEY as 'Authorization: Bearer <key>'.".into(),
            AdminDisabled => "The admin API is disabled: set the ADMIN_SECRET_KEY secret to enable it.".into(),
            NotFound { path } => format!("Unknown route '{path}'. See GET / for the routes this gateway serves."),
            MethodNotAllowed { method, allowed } => format!("Method {method} is not allowed here; use {allowed}."),
            UnknownAccount { id } => format!("No account with id '{id}'."),
            UpstreamClient { body, .. } => upstream_message(body),
            Account { account, failure } => format!("Account '{account}': {}", describe_failure(failure)),
            NoAccountAvailable { configured: 0, .. } => {
                "No Qwen account is configured: set the QWEN_OAUTH_CREDS secret or add ACCOUNT:<id> keys to the QWEN_TOKEN_CACHE KV namespace.".into()
            }
            NoAccountAvailable { attempts, configured, .. } => {
                if attempts.is_empty() {
                    format!("None of the {configured} configured Qwen accounts is usable right now (quota spent, cooling down or dead); see /admin/health.")
                } else {
                    let tried: Vec<String> =
                        attempts.iter().map(|(id, f)| format!("'{id}': {}", describe_failure(f))).collect();
                    format!("No Qwen account could answer ({} of {configured} tried): {}.", attempts.len(), tried.join("; "))
                }
            }
            Storage { message } => format!("Account storage error: {message}"),
            Internal { message } => format!("Internal error: {message}"),
        }
    }

    /// The OpenAI-shaped error body. For a client error that came from upstream, upstream's own
    /// body is kept when it already has that shape.
    pub fn body(&self) -> Value {
        if let GatewayError::UpstreamClient { body, .. } = self {
            if let Ok(v) = serde_json::from_str::<Value>(body) {
                if v.get("error").map(|e| e.is_object()).unwrap_or(false) {
                    return v;
                }
            }
        }
        let param = match self {
            GatewayError::InvalidRequest { param, .. } => param.clone(),
            _ => None,
        };
        json!({
            "error": {
                "message": self.message(),
                "type": self.error_type(),
                "param": param,
                "code": self.code(),
            }
        })
    }
}

fn failure_code(f: &AccountFailure) -> &'static str {
    match f {
        AccountFailure::Quota => "insufficient_quota",
        AccountFailure::Throttled { .. } => "rate_limit_exceeded",
        AccountFailure::Dead { .. } => "account_dead",
        AccountFailure::Unavailable { .. } => "upstream_unavailable",
    }
}

pub fn describe_failure(f: &AccountFailure) -> String {
    match f {
        AccountFailure::Quota => "daily quota exhausted (resets at UTC midnight)".into(),
        AccountFailure::Throttled { retry_after_secs } => {
            format!("throttled by Qwen, retry after {retry_after_secs}s")
        }
        AccountFailure::Dead { reason } => {
            format!("credentials no longer accepted ({reason}); log the account in again")
        }
        AccountFailure::Unavailable { detail } => format!("upstream unavailable ({detail})"),
    }
}

/// Best-effort message from an upstream error body, for when it has no OpenAI shape.
fn upstream_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        if let Some(m) = v.pointer("/error/message").and_then(Value::as_str) {
            return m.to_owned();
        }
        if let Some(m) = v.get("message").and_then(Value::as_str) {
            return m.to_owned();
        }
    }
    let trimmed: String = body.chars().take(300).collect();
    format!("Upstream rejected the request: {trimmed}")
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status(), self.message())
    }
}

impl std::error::Error for GatewayError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_openai_shape() {
        let errors = vec![
            GatewayError::invalid("messages is required", Some("messages")),
            GatewayError::PayloadTooLarge { limit: 10 },
            GatewayError::Unauthorized,
            GatewayError::NotFound { path: "/x".into() },
            GatewayError::MethodNotAllowed {
                method: "GET".into(),
                allowed: "POST",
            },
            GatewayError::Internal {
                message: "boom".into(),
            },
        ];
        for e in errors {
            let b = e.body();
            let err = b.get("error").expect("error object");
            for field in ["message", "type", "param", "code"] {
                assert!(err.get(field).is_some(), "{field} missing in {b}");
            }
            assert!(e.status() >= 400);
        }
        let b = GatewayError::invalid("m", Some("messages")).body();
        assert_eq!(b["error"]["param"], "messages");
    }

    #[test]
    fn all_quota_is_429_with_retry_after() {
        let e = GatewayError::NoAccountAvailable {
            attempts: vec![
                ("a".into(), AccountFailure::Quota),
                (
                    "b".into(),
                    AccountFailure::Throttled {
                        retry_after_secs: 5,
                    },
                ),
            ],
            retry_after_secs: Some(5),
            configured: 2,
        };
        assert_eq!(e.status(), 429);
        assert_eq!(e.retry_after_secs(), Some(5));
        assert_eq!(e.code(), Some("rate_limit_exceeded"));
    }

    #[test]
    fn dead_accounts_are_never_a_raw_401() {
        let e = GatewayError::NoAccountAvailable {
            attempts: vec![(
                "a".into(),
                AccountFailure::Dead {
                    reason: "401 after refresh".into(),
                },
            )],
            retry_after_secs: None,
            configured: 1,
        };
        assert_eq!(e.status(), 503);
        assert!(e.message().contains("log the account in again"));
        let e = GatewayError::NoAccountAvailable {
            attempts: vec![(
                "a".into(),
                AccountFailure::Unavailable {
                    detail: "HTTP 500".into(),
                },
            )],
            retry_after_secs: None,
            configured: 1,
        };
        assert_eq!(e.status(), 502);
        assert_eq!(
            GatewayError::NoAccountAvailable {
                attempts: vec![],
                retry_after_secs: None,
                configured: 0
            }
            .status(),
            503
        );
    }

    #[test]
    fn upstream_client_errors_keep_their_body() {
        let body = r#"{"error":{"message":"The model `x` does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}}"#;
        let e = GatewayError::UpstreamClient {
            status: 404,
            body: body.into(),
        };
        assert_eq!(e.status(), 404);
        assert_eq!(e.body()["error"]["code"], "model_not_found");
        let e = GatewayError::UpstreamClient {
            status: 400,
            body: "plain text".into(),
        };
        assert_eq!(e.body()["error"]["type"], "invalid_request_error");
        assert!(!e.may_fail_over());
    }

    #[test]
    fn only_account_failures_fail_over() {
        assert!(GatewayError::Account {
            account: "a".into(),
            failure: AccountFailure::Quota
        }
        .may_fail_over());
        assert!(!GatewayError::Unauthorized.may_fail_over());
    }
}
