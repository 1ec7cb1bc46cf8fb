//! `/admin/*`: account health and management, behind ADMIN_SECRET_KEY (checked by the router).

use super::chat;
use super::http::{json_response, text_response};
use super::login;
use super::net::now_ms;
use super::store::{kv_counters, Store};
use crate::chat_request::ChatRequest;
use crate::credentials::{validate_account_id, Credentials};
use crate::error::GatewayError;
use crate::health::{report, summary_json, text_table, AccountReport};
use serde_json::json;
use worker::{Method, Request, Response};

pub async fn handle(
    req: &mut Request,
    store: &Store,
    method: Method,
    path: &str,
) -> Result<Response, GatewayError> {
    let allow = |allowed: &'static str| GatewayError::MethodNotAllowed {
        method: method.to_string(),
        allowed,
    };
    let parts: Vec<&str> = path
        .trim_start_matches("/admin")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match parts.as_slice() {
        ["health"] => match method {
            Method::Get => health(req, store).await,
            _ => Err(allow("GET")),
        },
        ["accounts"] => match method {
            Method::Get => {
                let pool = store.pool(now_ms()).await?;
                json_response(200, &json!({"accounts": pool.ids})).map_err(GatewayError::from)
            }
            _ => Err(allow("GET")),
        },
        ["reindex"] => match method {
            Method::Post => {
                let ids = store.reindex(now_ms()).await?;
                json_response(200, &json!({"accounts": ids})).map_err(GatewayError::from)
            }
            _ => Err(allow("POST")),
        },
        ["accounts", id] => {
            validate_account_id(id).map_err(|e| GatewayError::invalid(e.0, None))?;
            match method {
                Method::Get => account_info(store, id).await,
                Method::Put | Method::Post => put_account(req, store, id).await,
                Method::Delete => delete_account(store, id).await,
                _ => Err(allow("GET, PUT, DELETE")),
            }
        }
        ["accounts", id, "login"] => match method {
            Method::Post => {
                validate_account_id(id).map_err(|e| GatewayError::invalid(e.0, None))?;
                login::start(store, id).await
            }
            _ => Err(allow("POST")),
        },
        ["accounts", id, "login", "poll"] => match method {
            Method::Post | Method::Get => {
                validate_account_id(id).map_err(|e| GatewayError::invalid(e.0, None))?;
                login::poll(store, id).await
            }
            _ => Err(allow("POST")),
        },
        ["accounts", id, "reset"] => match method {
            Method::Post => {
                known(store, id).await?;
                store.reset_account(now_ms(), id).await?;
                json_response(200, &json!({"account": id, "reset": true}))
                    .map_err(GatewayError::from)
            }
            _ => Err(allow("POST")),
        },
        _ => Err(GatewayError::NotFound {
            path: path.to_owned(),
        }),
    }
}

async fn known(store: &Store, id: &str) -> Result<(), GatewayError> {
    let pool = store.pool(now_ms()).await?;
    if pool.ids.iter().any(|i| i == id) {
        Ok(())
    } else {
        Err(GatewayError::UnknownAccount { id: id.to_owned() })
    }
}

async fn reports(store: &Store) -> Result<Vec<AccountReport>, GatewayError> {
    let now = now_ms();
    let pool = store.reload_pool(now).await?;
    let mut out = Vec::with_capacity(pool.ids.len());
    for id in &pool.ids {
        let creds = store.credentials(id).await.map_err(|e| e.message());
        out.push(report(
            id,
            creds.as_ref().map(|c| c.as_ref()).map_err(Clone::clone),
            &pool.failed,
            &pool.status,
            now,
        ));
    }
    Ok(out)
}

async fn health(req: &Request, store: &Store) -> Result<Response, GatewayError> {
    let url = req.url().map_err(GatewayError::from)?;
    let query = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let mut list = reports(store).await?;
    if query("probe").as_deref() == Some("true") {
        for r in list.iter_mut() {
            r.probe = Some(probe(store, &r.account).await);
        }
        list = {
            let probes: Vec<Option<String>> = list.iter().map(|r| r.probe.clone()).collect();
            let mut fresh = reports(store).await?;
            for (r, p) in fresh.iter_mut().zip(probes) {
                r.probe = p;
            }
            fresh
        };
    }
    let pool = store.pool(now_ms()).await?;
    let ua = req
        .headers()
        .get("user-agent")
        .ok()
        .flatten()
        .unwrap_or_default();
    let text = match query("format").as_deref() {
        Some("text") => true,
        Some(_) => false,
        None => ua.starts_with("curl/") || ua.starts_with("Wget/"),
    };
    if text {
        return text_response(200, text_table(&list, &pool.failed)).map_err(GatewayError::from);
    }
    let mut body = summary_json(&list, &pool.failed, now_ms());
    body["kv_operations"] = serde_json::to_value(kv_counters()).unwrap_or_default();
    json_response(200, &body).map_err(GatewayError::from)
}

/// A tiny real chat request on one account (costs one request of its quota).
async fn probe(store: &Store, id: &str) -> String {
    let body = format!(
        r#"{{"model":"{}","messages":[{{"role":"user","content":"ping"}}],"max_tokens":1,"stream":false}}"#,
        store.config().default_model
    );
    let request = match ChatRequest::parse(body.as_bytes(), &store.config().default_model) {
        Ok(r) => r,
        Err(e) => return e.message(),
    };
    match chat::probe(store, id, &request).await {
        Ok(()) => "ok".into(),
        Err(e) => e.message(),
    }
}

async fn account_info(store: &Store, id: &str) -> Result<Response, GatewayError> {
    known(store, id).await?;
    let pool = store.pool(now_ms()).await?;
    let creds = store.credentials(id).await;
    let r = report(
        id,
        creds.as_ref().map(|c| c.as_ref()).map_err(|e| e.message()),
        &pool.failed,
        &pool.status,
        now_ms(),
    );
    let mut body = serde_json::to_value(&r).unwrap_or_default();
    // Never the tokens themselves: only what they are.
    if let Ok(Some(c)) = creds {
        match c {
            Credentials::OAuth(o) => {
                body["resource_url"] = json!(o.resource_url);
                body["expiry_date"] = json!(o.expiry_date);
                body["has_refresh_token"] = json!(!o.refresh_token.is_empty());
            }
            Credentials::ApiKey(k) => body["base_url"] = json!(k.base_url),
        }
    }
    json_response(200, &body).map_err(GatewayError::from)
}

async fn put_account(req: &mut Request, store: &Store, id: &str) -> Result<Response, GatewayError> {
    let text = req
        .text()
        .await
        .map_err(|e| GatewayError::invalid(format!("Could not read the body: {e}"), None))?;
    let creds = Credentials::parse(&text)
        .map_err(|e| GatewayError::invalid(format!("Account credentials rejected: {e}. Send the qwen-code oauth_creds.json content, or {{\"kind\":\"api_key\",\"api_key\":\"...\",\"base_url\":\"...\"}}."), None))?;
    let now = now_ms();
    store.replace_credentials(id, &creds).await?;
    store.add_to_index(now, id).await?;
    store.reset_account(now, id).await?;
    let pool = store.pool(now).await?;
    let r = report(id, Ok(Some(&creds)), &pool.failed, &pool.status, now);
    json_response(
        200,
        &json!({"account": id, "stored": true, "status": r.status, "kind": r.kind}),
    )
    .map_err(GatewayError::from)
}

async fn delete_account(store: &Store, id: &str) -> Result<Response, GatewayError> {
    known(store, id).await?;
    store.remove_account(now_ms(), id).await?;
    json_response(200, &json!({"account": id, "deleted": true})).map_err(GatewayError::from)
}
