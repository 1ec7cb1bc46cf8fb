//! Response helpers: JSON, OpenAI-shaped errors, CORS.

use crate::error::GatewayError;
use worker::{Headers, Response, Result};

/// A runtime failure while building a response is a bug or an outage: 500.
impl From<worker::Error> for GatewayError {
    fn from(e: worker::Error) -> Self {
        GatewayError::Internal {
            message: e.to_string(),
        }
    }
}

pub fn cors(h: &Headers) {
    let _ = h.set("access-control-allow-origin", "*");
    let _ = h.set(
        "access-control-expose-headers",
        "x-qwen-account, x-request-id, retry-after",
    );
}

pub fn json_response(status: u16, value: &serde_json::Value) -> Result<Response> {
    let h = Headers::new();
    h.set("content-type", "application/json")?;
    cors(&h);
    Ok(Response::builder()
        .with_status(status)
        .with_headers(h)
        .fixed(value.to_string().into_bytes()))
}

pub fn text_response(status: u16, text: String) -> Result<Response> {
    let h = Headers::new();
    h.set("content-type", "text/plain; charset=utf-8")?;
    cors(&h);
    Ok(Response::builder()
        .with_status(status)
        .with_headers(h)
        .fixed(text.into_bytes()))
}

pub fn error_response(e: &GatewayError) -> Result<Response> {
    let resp = json_response(e.status(), &e.body())?;
    if let Some(secs) = e.retry_after_secs() {
        resp.headers().set("retry-after", &secs.to_string())?;
    }
    if let GatewayError::MethodNotAllowed { allowed, .. } = e {
        resp.headers().set("allow", allowed)?;
    }
    if matches!(
        e,
        GatewayError::Unauthorized | GatewayError::AdminUnauthorized
    ) {
        resp.headers().set("www-authenticate", "Bearer")?;
    }
    Ok(resp)
}

pub fn preflight() -> Result<Response> {
    let h = Headers::new();
    cors(&h);
    h.set(
        "access-control-allow-methods",
        "GET, POST, PUT, DELETE, OPTIONS",
    )?;
    h.set(
        "access-control-allow-headers",
        "authorization, content-type, x-api-key, x-qwen-account",
    )?;
    h.set("access-control-max-age", "86400")?;
    Ok(Response::builder().with_status(204).with_headers(h).empty())
}
