//! Classification of upstream (Qwen chat endpoint) answers into the error classes of UPSTREAM.md.

use crate::error::{AccountFailure, GatewayError};

/// What to do with a non-2xx answer from the chat endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamVerdict {
    /// 401/403 auth error: refresh once and retry once on the same account.
    AuthRejected { detail: String },
    /// The account cannot serve now; try another one.
    FailOver(AccountFailure),
    /// The client's fault: hand upstream's answer back.
    ClientError,
}

const DEFAULT_THROTTLE_SECS: u64 = 10;
const MAX_THROTTLE_SECS: u64 = 3600;

/// Classify an error answer. `retry_after` is the raw `Retry-After` header, if any.
pub fn classify(status: u16, retry_after: Option<&str>, body: &str) -> UpstreamVerdict {
    let lower = body.to_ascii_lowercase();
    let quota = lower.contains("insufficient_quota")
        || lower.contains("quota exceeded")
        || lower.contains("exceeded your current quota")
        || lower.contains("free allocated quota");
    match status {
        429 | 403 if quota => UpstreamVerdict::FailOver(AccountFailure::Quota),
        429 => UpstreamVerdict::FailOver(AccountFailure::Throttled {
            retry_after_secs: parse_retry_after(retry_after).unwrap_or(DEFAULT_THROTTLE_SECS),
        }),
        401 | 403 => UpstreamVerdict::AuthRejected {
            detail: format!("HTTP {status}: {}", short(body)),
        },
        408 | 500..=599 => UpstreamVerdict::FailOver(AccountFailure::Unavailable {
            detail: format!("HTTP {status}"),
        }),
        _ => UpstreamVerdict::ClientError,
    }
}

/// Retry-After as delta-seconds (the HTTP-date form is rare upstream; treated as absent).
pub fn parse_retry_after(v: Option<&str>) -> Option<u64> {
    let v = v?.trim();
    let secs = if let Ok(n) = v.parse::<u64>() {
        n
    } else {
        let f = v.parse::<f64>().ok()?;
        if !f.is_finite() || f < 0.0 {
            return None;
        }
        f.ceil() as u64
    };
    Some(secs.clamp(1, MAX_THROTTLE_SECS))
}

/// An in-band error event at the start of a stream (`data: {"error":...}`) is classified like the
/// equivalent HTTP answer, since nothing has reached the client yet.
pub fn classify_stream_error(event_data: &str) -> Option<UpstreamVerdict> {
    let v: serde_json::Value = serde_json::from_str(event_data).ok()?;
    let err = v.get("error")?;
    let text = err.to_string();
    let code = err.get("code").and_then(|c| c.as_str()).unwrap_or("");
    let status = match code {
        "insufficient_quota" => 429,
        "rate_limit_exceeded" => 429,
        "invalid_api_key" => 401,
        _ => 500,
    };
    Some(classify(status, None, &text))
}

pub fn into_error(
    account: &str,
    verdict: UpstreamVerdict,
    status: u16,
    body: String,
) -> GatewayError {
    match verdict {
        UpstreamVerdict::FailOver(failure) => GatewayError::Account {
            account: account.to_owned(),
            failure,
        },
        UpstreamVerdict::AuthRejected { detail } => GatewayError::Account {
            account: account.to_owned(),
            failure: AccountFailure::Dead { reason: detail },
        },
        UpstreamVerdict::ClientError => GatewayError::UpstreamClient { status, body },
    }
}

fn short(body: &str) -> String {
    let msg = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| body.to_owned());
    msg.chars().take(160).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_in_429_and_403() {
        let body = r#"{"error":{"message":"Free allocated quota exceeded.","type":"insufficient_quota","code":"insufficient_quota"}}"#;
        assert_eq!(
            classify(429, None, body),
            UpstreamVerdict::FailOver(AccountFailure::Quota)
        );
        assert_eq!(
            classify(403, None, body),
            UpstreamVerdict::FailOver(AccountFailure::Quota)
        );
    }

    #[test]
    fn throttling_honours_retry_after() {
        let body = r#"{"error":{"message":"Requests throttling triggered."}}"#;
        assert_eq!(
            classify(429, Some("7"), body),
            UpstreamVerdict::FailOver(AccountFailure::Throttled {
                retry_after_secs: 7
            })
        );
        assert_eq!(
            classify(429, None, body),
            UpstreamVerdict::FailOver(AccountFailure::Throttled {
                retry_after_secs: DEFAULT_THROTTLE_SECS
            })
        );
        assert_eq!(parse_retry_after(Some("0.2")), Some(1));
        assert_eq!(parse_retry_after(Some("999999")), Some(MAX_THROTTLE_SECS));
        assert_eq!(
            parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
    }

    #[test]
    fn auth_errors_refresh() {
        let v = classify(
            401,
            None,
            r#"{"error":{"message":"invalid access token or token expired"}}"#,
        );
        assert!(
            matches!(v, UpstreamVerdict::AuthRejected { ref detail } if detail.contains("invalid access token"))
        );
        assert!(matches!(
            classify(403, None, "forbidden"),
            UpstreamVerdict::AuthRejected { .. }
        ));
    }

    #[test]
    fn server_errors_fail_over_and_client_errors_do_not() {
        for s in [500, 502, 503, 504] {
            assert!(matches!(
                classify(s, None, ""),
                UpstreamVerdict::FailOver(AccountFailure::Unavailable { .. })
            ));
        }
        for s in [400, 404, 413, 422] {
            assert_eq!(classify(s, None, "{}"), UpstreamVerdict::ClientError);
        }
    }

    #[test]
    fn stream_error_events() {
        let v = classify_stream_error(
            r#"{"error":{"message":"Free allocated quota exceeded.","code":"insufficient_quota"}}"#,
        );
        assert_eq!(v, Some(UpstreamVerdict::FailOver(AccountFailure::Quota)));
        assert_eq!(classify_stream_error(r#"{"choices":[]}"#), None);
        assert_eq!(classify_stream_error("[DONE]"), None);
    }
}
