//! The error type's categories, codes, retry hints and messages per audience.

use super::*;

fn id(s: &str) -> String {
    s.to_owned()
}

#[test]
fn all_quota_is_429_with_retry_after() {
    let e = GatewayError::NoAccountAvailable {
        attempts: vec![
            (id("a"), AccountFailure::Quota),
            (
                id("b"),
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
    assert!(e.retryable());
    assert_eq!(e.level(), Level::Quiet);
}

#[test]
fn dead_accounts_are_never_a_raw_401() {
    let dead = GatewayError::NoAccountAvailable {
        attempts: vec![(
            id("a"),
            AccountFailure::Dead {
                reason: "rejected with a freshly refreshed token (HTTP 401)".into(),
                note: Some("invalid access token or token expired".into()),
                fingerprint: None,
            },
        )],
        retry_after_secs: None,
        configured: 1,
    };
    assert_eq!(dead.status(), 503);
    assert!(dead
        .message(Audience::Client)
        .contains("log the account in again"));
    assert!(!dead
        .message(Audience::Client)
        .contains("invalid access token"));
    assert!(dead
        .message(Audience::Admin)
        .contains("invalid access token"));
    let public = dead.message(Audience::Public);
    assert!(
        !public.contains("'a'") && !public.contains("401"),
        "{public}"
    );
    let failed = GatewayError::NoAccountAvailable {
        attempts: vec![(id("a"), AccountFailure::unavailable("HTTP 500"))],
        retry_after_secs: None,
        configured: 1,
    };
    assert_eq!(failed.status(), 502);
    assert_eq!(failed.level(), Level::Warn);
    let none = GatewayError::NoAccountAvailable {
        attempts: vec![],
        retry_after_secs: None,
        configured: 0,
    };
    assert_eq!(none.status(), 503);
    assert!(!none.retryable());
}

#[test]
fn upstream_client_errors_keep_status_and_message() {
    let body = r#"{"error":{"message":"The model `x` does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}}"#;
    let e = GatewayError::UpstreamClient {
        status: 404,
        body: body.into(),
    };
    assert_eq!(e.status(), 404);
    assert_eq!(e.category(), Category::NotFound);
    assert_eq!(e.message(Audience::Client), "The model `x` does not exist");
    let e = GatewayError::UpstreamClient {
        status: 400,
        body: "plain text".into(),
    };
    assert!(e.message(Audience::Client).contains("plain text"));
    assert!(!e.retryable());
}

#[test]
fn oauth_server_trouble_is_a_502_and_ours_a_500() {
    let e = GatewayError::UpstreamService {
        message: "the Qwen OAuth server is unreachable".into(),
    };
    assert_eq!((e.status(), e.code()), (502, Some("upstream_error")));
    let e = GatewayError::Internal {
        message: "boom".into(),
    };
    assert_eq!((e.status(), e.level()), (500, Level::Error));
    let e = GatewayError::MethodNotAllowed {
        method: "PROPFIND".into(),
        allowed: "GET, HEAD".into(),
    };
    assert_eq!((e.status(), e.allow()), (405, Some("GET, HEAD")));
}
