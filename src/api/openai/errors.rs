//! Errors in the OpenAI dialect: `{"error":{"message","type","param","code"}}`.

use crate::api::Audience;
use crate::error::{Category, GatewayError};
use serde_json::{json, Value};

/// OpenAI's error `type` for a category.
pub fn error_type(c: Category) -> &'static str {
    match c {
        Category::InvalidRequest
        | Category::NotFound
        | Category::MethodNotAllowed
        | Category::TooLarge
        | Category::UnsupportedMediaType => "invalid_request_error",
        Category::Authentication => "authentication_error",
        Category::Permission => "permission_error",
        Category::RateLimited => "rate_limit_error",
        Category::Upstream | Category::Unavailable => "upstream_error",
        Category::Internal => "server_error",
    }
}

/// The error body. An upstream client error that already has this shape is relayed as it is
/// (its body was scrubbed of secrets when it was read).
pub fn body(e: &GatewayError, audience: Audience) -> Value {
    if let GatewayError::UpstreamClient { body, .. } = e {
        if let Ok(v) = serde_json::from_str::<Value>(body) {
            if v.get("error").is_some_and(Value::is_object) {
                return v;
            }
        }
    }
    json!({
        "error": {
            "message": e.message(audience),
            "type": error_type(e.category()),
            "param": e.param(),
            "code": e.code(),
        }
    })
}

/// An error as an event of a chat stream that already started (the OpenAI SDKs raise it as an
/// API error): how a committed stream ends when upstream stalls or breaks.
pub fn stream_error_event(message: &str, code: &str) -> String {
    let body = json!({"error": {"message": message, "type": "upstream_error", "param": null, "code": code}});
    format!("data: {body}\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_category_has_its_type_and_the_errors_code() {
        let cases = [
            (
                GatewayError::invalid("bad", Some("messages")),
                "invalid_request_error",
            ),
            (GatewayError::Unauthorized, "authentication_error"),
            (
                GatewayError::PayloadTooLarge { limit: 1 },
                "invalid_request_error",
            ),
            (
                GatewayError::NoAccountAvailable {
                    attempts: vec![],
                    retry_after_secs: None,
                    configured: 0,
                },
                "upstream_error",
            ),
            (
                GatewayError::Internal {
                    message: "x".into(),
                },
                "server_error",
            ),
        ];
        for (e, ty) in cases {
            let b = body(&e, Audience::Client);
            assert_eq!(b["error"]["type"], ty, "{e:?}");
            assert_eq!(b["error"]["code"], json!(e.code()));
            assert_eq!(b["error"]["message"], e.message(Audience::Client));
        }
        assert_eq!(
            body(
                &GatewayError::invalid("m", Some("messages")),
                Audience::Public
            )["error"]["param"],
            "messages"
        );
    }

    #[test]
    fn upstream_client_errors_keep_an_openai_body_and_wrap_any_other() {
        let own = r#"{"error":{"message":"The model `x` does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}}"#;
        let e = GatewayError::UpstreamClient {
            status: 404,
            body: own.into(),
        };
        assert_eq!(
            body(&e, Audience::Client)["error"]["code"],
            "model_not_found"
        );
        let e = GatewayError::UpstreamClient {
            status: 400,
            body: r#"{"code":"InvalidParameter","message":"Range of input length should be [1, 30720]"}"#.into(),
        };
        let b = body(&e, Audience::Client);
        assert_eq!(b["error"]["type"], "invalid_request_error");
        assert_eq!(
            b["error"]["message"],
            "Range of input length should be [1, 30720]"
        );
    }
}
