//! Errors in the Anthropic dialect: `{"type":"error","error":{"type","message"}}`, as a JSON
//! answer, or as an `error` event once a stream has started.

use super::wire::push_str;
use crate::api::Audience;
use crate::error::{Category, GatewayError};
use serde_json::{json, Value};

/// Anthropic's error `type` for a category.
pub fn error_type(c: Category) -> &'static str {
    match c {
        Category::InvalidRequest | Category::MethodNotAllowed | Category::UnsupportedMediaType => {
            "invalid_request_error"
        }
        Category::Authentication => "authentication_error",
        Category::Permission => "permission_error",
        Category::NotFound => "not_found_error",
        Category::TooLarge => "request_too_large",
        Category::RateLimited => "rate_limit_error",
        Category::Upstream | Category::Internal => "api_error",
        Category::Unavailable => "overloaded_error",
    }
}

/// The error body. An upstream client error keeps upstream's message; one that already has
/// this shape (from an Anthropic-compatible upstream) is relayed as it is (its body was
/// scrubbed of secrets when it was read).
pub fn body(e: &GatewayError, audience: Audience) -> Value {
    if let GatewayError::UpstreamClient { body, .. } = e {
        if let Ok(v) = serde_json::from_str::<Value>(body) {
            if v.get("type").and_then(Value::as_str) == Some("error")
                && v.pointer("/error/type").is_some_and(Value::is_string)
                && v.pointer("/error/message").is_some_and(Value::is_string)
            {
                return v;
            }
        }
    }
    json!({
        "type": "error",
        "error": {
            "type": error_type(e.category()),
            "message": e.message(audience),
        }
    })
}

/// An `error` event for a stream already under way.
pub fn stream_error_event(error_type: &str, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 96);
    push_stream_error(&mut out, error_type, message);
    out
}

pub(crate) fn push_stream_error(out: &mut Vec<u8>, error_type: &str, message: &str) {
    out.extend_from_slice(b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":");
    push_str(out, error_type);
    out.extend_from_slice(b",\"message\":");
    push_str(out, message);
    out.extend_from_slice(b"}}\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AccountFailure;

    fn no_account(attempts: Vec<(String, AccountFailure)>, configured: usize) -> GatewayError {
        GatewayError::NoAccountAvailable {
            attempts,
            retry_after_secs: None,
            configured,
        }
    }

    #[test]
    fn each_status_has_anthropics_error_type() {
        let upstream = |status| GatewayError::UpstreamClient {
            status,
            body: "x".into(),
        };
        let cases = [
            (
                GatewayError::invalid("bad", Some("messages")),
                400,
                "invalid_request_error",
            ),
            (GatewayError::Unauthorized, 401, "authentication_error"),
            (upstream(403), 403, "permission_error"),
            (
                GatewayError::NotFound { path: "/x".into() },
                404,
                "not_found_error",
            ),
            (
                GatewayError::MethodNotAllowed {
                    method: "GET".into(),
                    allowed: "POST".into(),
                },
                405,
                "invalid_request_error",
            ),
            (
                GatewayError::PayloadTooLarge { limit: 1 },
                413,
                "request_too_large",
            ),
            (
                GatewayError::UnsupportedMediaType,
                415,
                "invalid_request_error",
            ),
            (
                no_account(vec![("a".into(), AccountFailure::Quota)], 1),
                429,
                "rate_limit_error",
            ),
            (
                GatewayError::Internal {
                    message: "x".into(),
                },
                500,
                "api_error",
            ),
            (
                no_account(
                    vec![("a".into(), AccountFailure::unavailable("HTTP 500"))],
                    1,
                ),
                502,
                "api_error",
            ),
            (no_account(vec![], 0), 503, "overloaded_error"),
        ];
        for (e, status, ty) in cases {
            let b = body(&e, Audience::Client);
            assert_eq!(e.status(), status, "{e:?}");
            assert_eq!(b["type"], "error");
            assert_eq!(b["error"]["type"], ty, "{e:?}");
            assert_eq!(b["error"]["message"], e.message(Audience::Client));
        }
    }

    #[test]
    fn upstream_client_errors_keep_their_message_and_an_anthropic_body_is_relayed() {
        let own = r#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: too large"}}"#;
        let e = GatewayError::UpstreamClient {
            status: 400,
            body: own.into(),
        };
        assert_eq!(
            body(&e, Audience::Public),
            serde_json::from_str::<Value>(own).unwrap()
        );
        let openai = r#"{"error":{"message":"Range of input length should be [1, 30720]","type":"invalid_request_error","code":"InvalidParameter"}}"#;
        let e = GatewayError::UpstreamClient {
            status: 400,
            body: openai.into(),
        };
        let b = body(&e, Audience::Client);
        assert_eq!(b["error"]["type"], "invalid_request_error");
        assert_eq!(
            b["error"]["message"],
            "Range of input length should be [1, 30720]"
        );
    }

    #[test]
    fn the_stream_error_event_is_one_sse_frame() {
        let ev = stream_error_event("overloaded_error", "try \"again\"");
        assert_eq!(
            String::from_utf8(ev).unwrap(),
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"try \\\"again\\\"\"}}\n\n"
        );
    }
}
