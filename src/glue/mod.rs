//! The Worker: routes and the glue between the pure modules and the runtime.

mod admin;
mod chat;
mod config;
mod http;
mod login;
mod net;
mod store;
mod tokens;

use crate::client_auth::{constant_time_eq, presented_key};
use crate::error::GatewayError;
use crate::models;
use config::Config;
use http::{error_response, json_response, preflight};
use serde_json::json;
use std::cell::Cell;
use std::rc::Rc;
use store::Store;
use worker::{event, Context, Env, Method, Request, Response, Result};

thread_local! {
    static ANNOUNCED: Cell<bool> = const { Cell::new(false) };
}

#[event(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| worker::console_error!("panic: {info}")));
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let cfg = Config::cached(&env);
    announce(&cfg);
    match route(req, &env, &cfg, &Rc::new(ctx)).await {
        Ok(resp) => Ok(resp),
        Err(e) => {
            if e.status() >= 500 {
                worker::console_error!("{}", e);
            }
            error_response(&e)
        }
    }
}

/// Once per isolate: say how the API is protected.
fn announce(cfg: &Config) {
    if ANNOUNCED.with(|a| a.replace(true)) {
        return;
    }
    if cfg.client_keys.is_public() {
        worker::console_warn!(
            "qwen-worker: neither OPENAI_API_KEYS nor OPENAI_API_KEY is set: the API is PUBLIC"
        );
    } else {
        worker::console_log!(
            "qwen-worker: API protected by {} client key(s)",
            cfg.client_keys.len()
        );
    }
}

async fn route(
    mut req: Request,
    env: &Env,
    cfg: &Rc<Config>,
    ctx: &Rc<Context>,
) -> std::result::Result<Response, GatewayError> {
    let method = req.method();
    let path = req.path();
    let path = if path.len() > 1 {
        path.trim_end_matches('/').to_owned()
    } else {
        path
    };
    if method == Method::Options {
        return preflight().map_err(GatewayError::from);
    }
    let allow = |allowed: &'static str| GatewayError::MethodNotAllowed {
        method: method.to_string(),
        allowed,
    };
    match path.as_str() {
        "/" => match method {
            Method::Get | Method::Head => {
                json_response(200, &service_info(cfg)).map_err(GatewayError::from)
            }
            _ => Err(allow("GET")),
        },
        "/health" => match method {
            Method::Get | Method::Head => {
                json_response(200, &json!({"status": "ok", "timestamp": net::now_ms()}))
                    .map_err(GatewayError::from)
            }
            _ => Err(allow("GET")),
        },
        "/v1/models" | "/models" => {
            check_client(&req, cfg)?;
            match method {
                Method::Get => json_response(200, &models::list()).map_err(GatewayError::from),
                _ => Err(allow("GET")),
            }
        }
        "/v1/chat/completions" | "/chat/completions" => {
            check_client(&req, cfg)?;
            if method != Method::Post {
                return Err(allow("POST"));
            }
            let pinned = pinned_account(&req, cfg)?;
            let body = read_body(&mut req).await?;
            let store = Store::new(env, cfg, ctx)?;
            chat::handle(&store, &body, pinned).await
        }
        p if p.starts_with("/v1/models/") => {
            check_client(&req, cfg)?;
            let id = &p["/v1/models/".len()..];
            if method != Method::Get {
                return Err(allow("GET"));
            }
            match models::list()["data"]
                .as_array()
                .and_then(|d| d.iter().find(|m| m["id"] == id))
            {
                Some(m) => json_response(200, m).map_err(GatewayError::from),
                None => Err(GatewayError::NotFound { path: p.to_owned() }),
            }
        }
        p if p == "/admin" || p.starts_with("/admin/") => {
            check_admin(&req, cfg)?;
            let store = Store::new(env, cfg, ctx)?;
            admin::handle(&mut req, &store, method, p).await
        }
        _ => Err(GatewayError::NotFound { path }),
    }
}

fn service_info(cfg: &Config) -> serde_json::Value {
    json!({
        "name": "qwen-worker",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "OpenAI-compatible gateway to Qwen coder models",
        "auth": if cfg.client_keys.is_public() { "public: no API key is required (set OPENAI_API_KEYS to require one)" } else { "api_key: send 'Authorization: Bearer <key>'" },
        "admin_api": cfg.admin_key.is_some(),
        "default_model": cfg.default_model,
        "endpoints": {
            "models": "GET /v1/models",
            "chat": "POST /v1/chat/completions",
            "health": "GET /health",
            "admin_health": "GET /admin/health",
        },
    })
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

fn is_admin_key(cfg: &Config, key: Option<&str>) -> bool {
    match (cfg.admin_key.as_deref(), key) {
        (Some(admin), Some(k)) => constant_time_eq(admin, k),
        _ => false,
    }
}

/// Client keys (and the admin key) open the API; no configured client key means public.
fn check_client(req: &Request, cfg: &Config) -> std::result::Result<(), GatewayError> {
    let auth = header(req, "authorization");
    let xkey = header(req, "x-api-key");
    let key = presented_key(auth.as_deref(), xkey.as_deref());
    if cfg.client_keys.accepts(key) || is_admin_key(cfg, key) {
        Ok(())
    } else {
        Err(GatewayError::Unauthorized)
    }
}

fn check_admin(req: &Request, cfg: &Config) -> std::result::Result<(), GatewayError> {
    if cfg.admin_key.is_none() {
        return Err(GatewayError::AdminDisabled);
    }
    let auth = header(req, "authorization");
    let xkey = header(req, "x-admin-key").or_else(|| header(req, "x-api-key"));
    if is_admin_key(cfg, presented_key(auth.as_deref(), xkey.as_deref())) {
        Ok(())
    } else {
        Err(GatewayError::AdminUnauthorized)
    }
}

/// `X-Qwen-Account: <id>` pins a request to one account. It is honoured for callers holding a
/// key: a client key from OPENAI_API_KEYS or the admin key. On a public API only the admin key
/// may pin.
fn pinned_account(
    req: &Request,
    cfg: &Config,
) -> std::result::Result<Option<String>, GatewayError> {
    let Some(id) = header(req, "x-qwen-account")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
    else {
        return Ok(None);
    };
    let auth = header(req, "authorization");
    let xkey = header(req, "x-api-key");
    let key = presented_key(auth.as_deref(), xkey.as_deref());
    let holds_key =
        is_admin_key(cfg, key) || (!cfg.client_keys.is_public() && cfg.client_keys.accepts(key));
    if !holds_key {
        return Err(GatewayError::invalid(
            "X-Qwen-Account needs an API key from OPENAI_API_KEYS or the admin key; remove the header or send a key.",
            None,
        ));
    }
    Ok(Some(id))
}

async fn read_body(req: &mut Request) -> std::result::Result<Vec<u8>, GatewayError> {
    use crate::chat_request::MAX_BODY_BYTES;
    if let Some(len) = header(req, "content-length").and_then(|l| l.parse::<usize>().ok()) {
        if len > MAX_BODY_BYTES {
            // Let the body flow into a sink (never into WebAssembly) before answering: a server
            // that answers early and closes leaves clients with a connection reset instead of
            // the 413, and SDKs then send the whole body again.
            net::discard(req.inner().body()).await;
            return Err(GatewayError::PayloadTooLarge {
                limit: MAX_BODY_BYTES,
            });
        }
    }
    // Bodies are read as JSON whatever the type says (curl -d sends a form type), except
    // multipart uploads, which cannot be a chat request.
    if let Some(ct) = header(req, "content-type") {
        if ct.to_ascii_lowercase().starts_with("multipart/") {
            return Err(GatewayError::UnsupportedMediaType);
        }
    }
    req.bytes()
        .await
        .map_err(|e| GatewayError::invalid(format!("Could not read the request body: {e}"), None))
}
