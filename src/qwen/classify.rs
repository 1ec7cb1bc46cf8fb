//! Upstream answers sorted into the classes of docs/UPSTREAM.md: what an error status and body
//! (or an error as the first event of a stream) mean for the account and for the request.

use crate::error::AccountFailure as Failure;
use crate::qwen::scrub::{scrub, scrub_short};

/// What to do with an upstream answer that is not a usable success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// 401/403: refresh the token once and retry once on the same account. `status` and `note`
    /// (upstream's scrubbed message) describe it if it does not recover.
    AuthRejected { status: u16, note: Option<String> },
    /// The account cannot serve now; try another one.
    FailOver(Failure),
    /// The client's fault: upstream's status (400-499) and body (scrubbed) go back to it.
    ClientError { status: u16, body: String },
}

pub const DEFAULT_THROTTLE_SECS: u64 = 10;
pub const MAX_THROTTLE_SECS: u64 = 3600;
/// Longest upstream message kept for the admin.
const NOTE_CHARS: usize = 200;

/// Classifies a non-2xx answer. `retry_after` is the raw `Retry-After` header; `body` is the
/// (capped) error body; `secret` is what we sent as the bearer token, scrubbed from any text kept.
pub fn classify(status: u16, retry_after: Option<&str>, body: &str, secret: &str) -> Verdict {
    let lower = body.to_ascii_lowercase();
    let quota = lower.contains("insufficient_quota")
        || lower.contains("quota exceeded")
        || lower.contains("exceeded your current quota")
        || lower.contains("free allocated quota");
    match status {
        429 | 403 if quota => Verdict::FailOver(Failure::Quota),
        429 => Verdict::FailOver(Failure::Throttled {
            retry_after_secs: parse_retry_after(retry_after).unwrap_or(DEFAULT_THROTTLE_SECS),
        }),
        401 | 403 => Verdict::AuthRejected {
            status,
            note: note_of(body, secret),
        },
        408 => Verdict::FailOver(Failure::Unavailable {
            detail: "HTTP 408".into(),
            note: note_of(body, secret),
        }),
        400..=499 => Verdict::ClientError {
            status,
            body: scrub(body, &[secret]),
        },
        // 5xx, and anything a well-behaved upstream never sends on this path (1xx, 3xx, 600+).
        _ => Verdict::FailOver(Failure::Unavailable {
            detail: format!("HTTP {status}"),
            note: note_of(body, secret),
        }),
    }
}

/// Retry-After as delta-seconds (the HTTP-date form is rare upstream; treated as absent),
/// clamped to [1 s, 1 h].
pub fn parse_retry_after(v: Option<&str>) -> Option<u64> {
    let v = v?.trim();
    let secs = if let Ok(n) = v.parse::<u64>() {
        n
    } else {
        let f = v.parse::<f64>().ok()?;
        if !f.is_finite() || f < 0.0 {
            return None;
        }
        f.min(MAX_THROTTLE_SECS as f64).ceil() as u64
    };
    Some(secs.clamp(1, MAX_THROTTLE_SECS))
}

/// An error object as the first event of a stream (`data: {"error":...}`), classified like the
/// HTTP answer it stands for, since nothing has reached the client yet. `None`: not an error.
pub fn classify_stream_error(event_data: &str, secret: &str) -> Option<Verdict> {
    let v: serde_json::Value = serde_json::from_str(event_data).ok()?;
    let err = v.get("error")?;
    let field = |k: &str| err.get(k).and_then(|c| c.as_str()).unwrap_or("");
    let status = match (field("code"), field("type")) {
        ("insufficient_quota", _) | (_, "insufficient_quota") => 429,
        ("rate_limit_exceeded", _) | (_, "rate_limit_error") => 429,
        ("invalid_api_key", _) => 401,
        ("model_not_found", _) => 404,
        ("invalid_parameter_error", _) | (_, "invalid_request_error") => 400,
        _ => 500,
    };
    Some(classify(status, None, &v.to_string(), secret))
}

/// Upstream's message, scrubbed and cut, for the admin.
fn note_of(body: &str, secret: &str) -> Option<String> {
    let v = serde_json::from_str::<serde_json::Value>(body).ok();
    let msg = v
        .as_ref()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.get("message"))
                .and_then(|m| m.as_str())
        })
        .unwrap_or(body)
        .trim();
    (!msg.is_empty()).then(|| scrub_short(msg, &[secret], NOTE_CHARS))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-the-key-we-sent-0123456789";

    #[test]
    fn quota_in_429_and_403() {
        let body = r#"{"error":{"message":"Free allocated quota exceeded.","type":"insufficient_quota","code":"insufficient_quota"}}"#;
        assert_eq!(
            classify(429, None, body, KEY),
            Verdict::FailOver(Failure::Quota)
        );
        assert_eq!(
            classify(403, None, body, KEY),
            Verdict::FailOver(Failure::Quota)
        );
    }

    #[test]
    fn throttling_honours_retry_after() {
        let body = r#"{"error":{"message":"Requests throttling triggered."}}"#;
        let throttled = |s| {
            Verdict::FailOver(Failure::Throttled {
                retry_after_secs: s,
            })
        };
        assert_eq!(classify(429, Some("7"), body, KEY), throttled(7));
        assert_eq!(
            classify(429, None, body, KEY),
            throttled(DEFAULT_THROTTLE_SECS)
        );
        for (raw, want) in [
            ("0.2", Some(1)),
            ("0", Some(1)),
            ("999999", Some(MAX_THROTTLE_SECS)),
            ("1e400", None),
            ("-1", None),
            ("NaN", None),
            ("Wed, 21 Oct 2015 07:28:00 GMT", None),
            ("18446744073709551616", Some(MAX_THROTTLE_SECS)),
        ] {
            assert_eq!(parse_retry_after(Some(raw)), want, "{raw}");
        }
    }

    #[test]
    fn auth_errors_refresh_and_keep_a_scrubbed_note() {
        let v = classify(
            401,
            None,
            &format!(r#"{{"error":{{"message":"Incorrect API key provided: {KEY}"}}}}"#),
            KEY,
        );
        let Verdict::AuthRejected { status, note } = v else {
            panic!("{v:?}")
        };
        assert_eq!(status, 401);
        let note = note.unwrap();
        assert!(
            note.contains("Incorrect API key") && !note.contains(KEY),
            "{note}"
        );
        assert!(matches!(
            classify(403, None, "forbidden", KEY),
            Verdict::AuthRejected { status: 403, .. }
        ));
    }

    #[test]
    fn server_errors_and_odd_statuses_fail_over_client_errors_do_not() {
        for s in [500, 502, 503, 504, 408, 100, 204, 304, 399, 600, 999] {
            assert!(
                matches!(
                    classify(s, None, "", KEY),
                    Verdict::FailOver(Failure::Unavailable { .. })
                ),
                "{s}"
            );
        }
        for s in [400, 404, 413, 422] {
            assert!(
                matches!(classify(s, None, "{}", KEY), Verdict::ClientError { status, .. } if status == s)
            );
        }
    }

    #[test]
    fn relayed_client_errors_are_scrubbed() {
        let body = format!(r#"{{"error":{{"message":"bad header Authorization: Bearer {KEY}"}}}}"#);
        let Verdict::ClientError { body, .. } = classify(400, None, &body, KEY) else {
            panic!()
        };
        assert!(!body.contains(KEY) && body.contains("***"), "{body}");
    }

    #[test]
    fn stream_error_events() {
        let v = classify_stream_error(
            r#"{"error":{"message":"Free allocated quota exceeded.","code":"insufficient_quota"}}"#,
            KEY,
        );
        assert_eq!(v, Some(Verdict::FailOver(Failure::Quota)));
        let v = classify_stream_error(
            r#"{"error":{"message":"Range of input length should be [1, 129024]","type":"invalid_request_error","code":"invalid_parameter_error"}}"#,
            KEY,
        );
        assert!(
            matches!(v, Some(Verdict::ClientError { status: 400, .. })),
            "{v:?}"
        );
        assert!(matches!(
            classify_stream_error(r#"{"error":{"message":"boom"}}"#, KEY),
            Some(Verdict::FailOver(Failure::Unavailable { .. }))
        ));
        assert_eq!(classify_stream_error(r#"{"choices":[]}"#, KEY), None);
        assert_eq!(classify_stream_error("[DONE]", KEY), None);
    }
}
