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
    /// A Coding Plan window's allocation is spent: out until it renews (the caller knows when).
    PlanWindow(Window),
}

/// A Coding Plan allocation window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// Requests per 5 hours, rolling.
    FiveHours,
    /// Per week, renewing Monday 00:00 UTC+8.
    Week,
    /// Per month, renewing on the subscription day.
    Month,
}

impl Window {
    /// When a window spent at `now_ms` renews. A rolling 5-hour window frees up bit by bit; the
    /// whole of it is back at the latest 5 hours on.
    pub fn renews_at(self, now_ms: u64, subscription_day: Option<u8>) -> u64 {
        match self {
            Window::FiveHours => now_ms.saturating_add(5 * 3_600_000),
            Window::Week => crate::time::next_monday_utc8(now_ms),
            Window::Month => {
                crate::time::next_month_day_utc8(now_ms, subscription_day.unwrap_or(1))
            }
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Window::FiveHours => "the Coding Plan's 5-hour allocation is spent",
            Window::Week => {
                "the Coding Plan's weekly allocation is spent (renews Monday 00:00 UTC+8)"
            }
            Window::Month => {
                "the Coding Plan's monthly allocation is spent (renews on the subscription day)"
            }
        }
    }
}

/// Throttling that clears within seconds: the concurrency cap of busy hours.
const CONCURRENCY_COOL_DOWN_SECS: u64 = 5;

/// Classes known by their error code (native `code`, or compatible-mode `error.code` /
/// `error.type`), whatever the status.
fn by_code(
    code: &str,
    status: u16,
    retry_after: Option<&str>,
    note: impl Fn() -> Option<String>,
) -> Option<Verdict> {
    let dead = |reason: &str| {
        Some(Verdict::FailOver(Failure::Dead {
            reason: format!("{reason} (HTTP {status}, {code})"),
            note: note(),
            fingerprint: None,
        }))
    };
    match code {
        "Arrearage" => dead("the Alibaba Cloud account is in arrears: top up its balance, then reset the account"),
        "AccessDenied.Unpurchased" => dead("the service is not activated for this key: activate it in Model Studio, then reset the account"),
        "AccessDenied" => dead("access denied: the key's workspace may not use this service or model"),
        "InvalidApiKey" => dead("the key was refused: check it and its region (a key works only in the region that issued it), then store it again"),
        "limit_requests" | "Throttling" | "Throttling.RateQuota" | "Throttling.AllocationQuota" => {
            Some(Verdict::FailOver(Failure::Throttled {
                retry_after_secs: parse_retry_after(retry_after).unwrap_or(DEFAULT_THROTTLE_SECS),
            }))
        }
        "AllocationQuota.FreeExceeded" | "insufficient_quota" => Some(Verdict::FailOver(Failure::Quota)),
        _ => None,
    }
}

/// The error code of an error body: native `code`, compatible-mode `error.code` or `error.type`.
fn error_code(v: &serde_json::Value) -> Option<&str> {
    let err = v.get("error");
    err.and_then(|e| e.get("code"))
        .and_then(|c| c.as_str())
        .or_else(|| v.get("code").and_then(|c| c.as_str()))
        .or_else(|| err.and_then(|e| e.get("type")).and_then(|t| t.as_str()))
}

pub const DEFAULT_THROTTLE_SECS: u64 = 10;
pub const MAX_THROTTLE_SECS: u64 = 3600;
/// Longest upstream message kept for the admin.
const NOTE_CHARS: usize = 200;

/// Classifies a non-2xx answer. `retry_after` is the raw `Retry-After` header; `body` is the
/// (capped) error body; `secret` is what we sent as the bearer token, scrubbed from any text kept.
pub fn classify(status: u16, retry_after: Option<&str>, body: &str, secret: &str) -> Verdict {
    let lower = body.to_ascii_lowercase();
    // The free allocation is daily, whatever code comes with it (one shape pairs it with a
    // throttling code).
    if lower.contains("free allocated quota") && matches!(status, 400..=499) {
        return Verdict::FailOver(Failure::Quota);
    }
    // Plan windows and the concurrency cap come with a throttling code: their messages tell them
    // apart, so they are read first.
    for (text, window) in [
        ("hour allocated quota exceeded", Window::FiveHours),
        ("week allocated quota exceeded", Window::Week),
        ("month allocated quota exceeded", Window::Month),
    ] {
        if lower.contains(text) {
            return Verdict::PlanWindow(window);
        }
    }
    if lower.contains("concurrency allocated quota exceeded") {
        return Verdict::FailOver(Failure::Throttled {
            retry_after_secs: parse_retry_after(retry_after).unwrap_or(CONCURRENCY_COOL_DOWN_SECS),
        });
    }
    if lower.contains("only available for coding agents") {
        return Verdict::FailOver(Failure::Refused {
            reason: format!(
                "HTTP {status}: Coding Plan keys serve interactive coding tools only, used by their owner; this client is not one (use a pay-as-you-go key for it)"
            ),
            note: note_of(body, secret),
        });
    }
    let parsed = serde_json::from_str::<serde_json::Value>(body).ok();
    if let Some(code) = parsed.as_ref().and_then(error_code) {
        if let Some(v) = by_code(code, status, retry_after, || note_of(body, secret)) {
            return v;
        }
    }
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

    /// An error the mock answers (tests/fixtures/qwen/errors/): its status, and its body in the
    /// OpenAI-compatible shape and, when it has one, in DashScope's native shape.
    fn fixture(name: &str) -> (u16, Vec<String>) {
        let path = format!(
            "{}/tests/fixtures/qwen/errors/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let bodies = ["body", "native"]
            .iter()
            .filter_map(|k| v.get(*k).filter(|b| !b.is_null()).map(|b| b.to_string()))
            .collect();
        (v["status"].as_u64().unwrap() as u16, bodies)
    }

    #[test]
    fn model_studio_error_classes_from_the_fixtures_the_mock_answers() {
        let dead = |v: &Verdict, says: &str| matches!(v, Verdict::FailOver(Failure::Dead { reason, .. }) if reason.contains(says));
        for (name, check) in [
            (
                "limit_requests",
                &(|v: &Verdict| matches!(v, Verdict::FailOver(Failure::Throttled { .. })))
                    as &dyn Fn(&Verdict) -> bool,
            ),
            ("throttling_rate_quota", &|v| {
                matches!(v, Verdict::FailOver(Failure::Throttled { .. }))
            }),
            ("throttling_allocation_quota", &|v| {
                matches!(v, Verdict::FailOver(Failure::Throttled { .. }))
            }),
            ("free_exceeded", &|v| {
                *v == Verdict::FailOver(Failure::Quota)
            }),
            ("insufficient_quota", &|v| {
                *v == Verdict::FailOver(Failure::Quota)
            }),
            ("arrearage", &|v| dead(v, "top up")),
            // Native InvalidApiKey is dead at once; the compatible-mode 401 goes the auth way
            // (an API-key account is dead after it, an OAuth one refreshes first).
            ("invalid_api_key", &|v| {
                dead(v, "region") || matches!(v, Verdict::AuthRejected { status: 401, .. })
            }),
            ("access_denied", &|v| dead(v, "access denied")),
            ("access_denied_unpurchased", &|v| dead(v, "activate")),
            ("hour_quota", &|v| {
                *v == Verdict::PlanWindow(Window::FiveHours)
            }),
            ("week_quota", &|v| *v == Verdict::PlanWindow(Window::Week)),
            ("month_quota", &|v| *v == Verdict::PlanWindow(Window::Month)),
            ("concurrency_quota", &|v| {
                *v == Verdict::FailOver(Failure::Throttled {
                    retry_after_secs: 5,
                })
            }),
            ("coding_agents_only", &|v| {
                matches!(v, Verdict::FailOver(Failure::Refused { .. }))
            }),
            ("data_inspection", &|v| {
                matches!(v, Verdict::ClientError { status: 400, .. })
            }),
            ("model_unsupported", &|v| {
                matches!(v, Verdict::ClientError { status: 400, .. })
            }),
            ("input_length", &|v| {
                matches!(v, Verdict::ClientError { status: 400, .. })
            }),
        ] {
            let (status, bodies) = fixture(name);
            for body in bodies {
                let v = classify(status, None, &body, KEY);
                assert!(check(&v), "{name} {body}: {v:?}");
            }
        }
    }

    #[test]
    fn windows_renew_when_the_plan_says() {
        let now = 1_795_700_000_000;
        assert_eq!(Window::FiveHours.renews_at(now, None), now + 5 * 3_600_000);
        assert!(Window::Week.renews_at(now, None) > now);
        assert!(Window::Month.renews_at(now, Some(3)) > now);
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
