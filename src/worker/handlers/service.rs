//! `GET /` (what this gateway is, how it is protected, its routes) and `GET /health`.

use crate::api::keys::Caller;
use crate::api::routes;
use crate::worker::ctx::Ctx;
use crate::worker::fetch::now_ms;
use crate::worker::respond;
use serde_json::json;
use web_sys::Response;

pub fn info(ctx: &Ctx) -> Response {
    let cfg = &ctx.cfg;
    let auth = if cfg.client_keys.is_public() {
        "public: no API key is required (set OPENAI_API_KEYS to require one)"
    } else {
        "api_key: send 'Authorization: Bearer <key>'"
    };
    let problems: Vec<&str> = cfg.problems.iter().map(|p| p.message.as_str()).collect();
    respond::json(
        200,
        &json!({
            "name": "qwen-worker",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Gateway to Qwen models for OpenAI-compatible clients",
            "auth": auth,
            "admin_api": cfg.admin_key.is_some(),
            "default_model": cfg.default_model,
            "routes": routes::listing(ctx.caller == Caller::Admin || cfg.admin_key.is_some()),
            "configuration_problems": problems,
        }),
    )
}

pub fn liveness() -> Response {
    respond::json(200, &json!({"status": "ok", "timestamp": now_ms()}))
}
