//! `/admin/*`: account health and management. The admin key was checked by the router; the
//! storage rules are the shared ones of `accounts::store`, and the isolate's copies follow.

use crate::accounts::credentials::Credentials;
use crate::accounts::id::AccountId;
use crate::accounts::pool::StateChange;
use crate::accounts::report::{report, summary_json, text_table, AccountReport};
use crate::api::openai::chat::ChatRequest;
use crate::error::GatewayError;
use crate::store;
use crate::worker::ctx::Ctx;
use crate::worker::fetch::now_ms;
use crate::worker::upstream::{Answer, Deadlines};
use crate::worker::{accounts, body, failover, kv, pool_state};
use serde_json::json;
use web_sys::{Request, Response};

use crate::worker::respond;

/// Admin bodies are credentials: a few KiB. Anything much larger is a mistake.
pub const ADMIN_BODY_CAP: usize = 64 * 1024;

async fn known(ctx: &Ctx, id: &AccountId) -> Result<(), GatewayError> {
    let pool = pool_state::current(ctx.kv()?, &ctx.cfg, now_ms()).await?;
    if pool.contains(id.as_str()) {
        Ok(())
    } else {
        Err(GatewayError::UnknownAccount { id: id.to_string() })
    }
}

/// Every account's report, from a fresh read of the pool.
async fn reports(ctx: &Ctx) -> Result<Vec<AccountReport>, GatewayError> {
    let kv = ctx.kv()?;
    let now = now_ms();
    let pool = pool_state::reload(kv, &ctx.cfg, now).await?;
    let mut out = Vec::with_capacity(pool.ids.len());
    for id in &pool.ids {
        let creds = accounts::get(kv, &ctx.cfg, id).await.map_err(|e| e.0);
        out.push(report(
            id.as_str(),
            creds.as_ref().map(Option::as_ref).map_err(Clone::clone),
            &pool.failed,
            &pool.status,
            now,
            &ctx.cfg.api_base_url,
        ));
    }
    Ok(out)
}

pub async fn health(ctx: &Ctx, req: &Request) -> Result<Response, GatewayError> {
    let url = req.url();
    let query = |name: &str| query_value(&url, name);
    let mut list = reports(ctx).await?;
    if query("probe").as_deref() == Some("true") {
        let mut probes = Vec::with_capacity(list.len());
        for r in &list {
            probes.push(match AccountId::parse(&r.account) {
                Ok(id) => probe(ctx, &id).await,
                Err(e) => e.to_string(),
            });
        }
        list = reports(ctx).await?;
        for (r, p) in list.iter_mut().zip(probes) {
            r.probe = Some(p);
        }
    }
    let pool = pool_state::current(ctx.kv()?, &ctx.cfg, now_ms()).await?;
    let header = |n: &str| req.headers().get(n).ok().flatten().unwrap_or_default();
    let accept = header("accept");
    let text = match query("format").as_deref() {
        Some("text") => true,
        Some(_) => false,
        None if accept.contains("application/json") => false,
        None if accept.contains("text/plain") => true,
        // curl and wget send `Accept: */*`: a terminal is reading.
        None => {
            let ua = header("user-agent");
            ua.starts_with("curl/") || ua.starts_with("Wget/")
        }
    };
    if text {
        return Ok(respond::text(200, &text_table(&list, &pool.failed)));
    }
    let mut body = summary_json(&list, &pool.failed, now_ms());
    body["kv_operations"] = serde_json::to_value(kv::counters()).unwrap_or_default();
    Ok(respond::json(200, &body))
}

/// A query parameter's (percent-decoded) value.
fn query_value(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1.split('#').next()?;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| {
            js_sys::decode_uri_component(&v.replace('+', " "))
                .ok()
                .and_then(|s| s.as_string())
                .unwrap_or_default()
        })
    })
}

/// A tiny real chat request on one account (it costs one request of its quota).
async fn probe(ctx: &Ctx, id: &AccountId) -> String {
    let model = &ctx.cfg.default_model;
    let body = json!({"model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1, "stream": false});
    let call = match ChatRequest::parse(body.to_string().as_bytes(), model) {
        Ok(c) => c,
        Err(e) => return e.message(ctx.audience()),
    };
    let deadlines = Deadlines::new(
        now_ms(),
        ctx.cfg.request_timeout_ms,
        ctx.cfg.first_byte_timeout_ms,
    );
    match failover::probe(ctx, id, &call, deadlines).await {
        Ok(Answer::Stream { body, .. }) => {
            let _ = body.cancel();
            "ok".into()
        }
        Ok(Answer::Whole { .. }) => "ok".into(),
        Err(e) => e.message(ctx.audience()),
    }
}

pub async fn list(ctx: &Ctx) -> Result<Response, GatewayError> {
    let pool = pool_state::current(ctx.kv()?, &ctx.cfg, now_ms()).await?;
    Ok(respond::json(200, &json!({"accounts": pool.ids})))
}

pub async fn reindex(ctx: &Ctx) -> Result<Response, GatewayError> {
    let kv = ctx.kv()?;
    let ids = store::rebuild_index(kv).await?;
    pool_state::reload(kv, &ctx.cfg, now_ms()).await?;
    Ok(respond::json(200, &json!({"accounts": ids})))
}

pub async fn get(ctx: &Ctx, id: &AccountId) -> Result<Response, GatewayError> {
    known(ctx, id).await?;
    let kv = ctx.kv()?;
    let pool = pool_state::current(kv, &ctx.cfg, now_ms()).await?;
    let creds = accounts::get(kv, &ctx.cfg, id).await;
    let r = report(
        id.as_str(),
        creds.as_ref().map(Option::as_ref).map_err(|e| e.0.clone()),
        &pool.failed,
        &pool.status,
        now_ms(),
        &ctx.cfg.api_base_url,
    );
    let mut body = serde_json::to_value(&r).unwrap_or_default();
    // Never the tokens themselves: only what they are.
    match creds {
        Ok(Some(Credentials::OAuth(o))) => {
            body["resource_url"] = json!(o.resource_url);
            body["expiry_date"] = json!(o.expiry_date);
            body["has_refresh_token"] = json!(!o.refresh_token.is_empty());
        }
        Ok(Some(Credentials::ApiKey(k))) => body["base_url"] = json!(k.base_url),
        _ => {}
    }
    Ok(respond::json(200, &body))
}

pub async fn put(ctx: &Ctx, req: &Request, id: &AccountId) -> Result<Response, GatewayError> {
    let bytes = body::read(req, &ctx.heads, ADMIN_BODY_CAP).await?;
    let text = String::from_utf8(bytes).map_err(|_| {
        GatewayError::invalid("Account credentials rejected: the body is not UTF-8.", None)
    })?;
    let creds = Credentials::parse(&text).map_err(|e| {
        GatewayError::invalid(
            format!("Account credentials rejected: {e}. Send the qwen-code oauth_creds.json content, or {{\"kind\":\"api_key\",\"api_key\":\"...\",\"base_url\":\"...\"}}."),
            None,
        )
    })?;
    let kv = ctx.kv()?;
    let now = now_ms();
    store::put_account(kv, id, &creds).await?;
    accounts::adopt(id, &creds);
    pool_state::write(&ctx.env, kv, vec![StateChange::Reset(id.clone())], now).await?;
    let pool = pool_state::reload(kv, &ctx.cfg, now).await?;
    let r = report(
        id.as_str(),
        Ok(Some(&creds)),
        &pool.failed,
        &pool.status,
        now,
        &ctx.cfg.api_base_url,
    );
    Ok(respond::json(
        200,
        &json!({"account": id, "stored": true, "status": r.status, "kind": r.kind}),
    ))
}

pub async fn delete(ctx: &Ctx, id: &AccountId) -> Result<Response, GatewayError> {
    known(ctx, id).await?;
    let kv = ctx.kv()?;
    store::drop_account(kv, id).await?;
    accounts::forget(id.as_str());
    pool_state::write(&ctx.env, kv, vec![StateChange::Reset(id.clone())], now_ms()).await?;
    pool_state::reload(kv, &ctx.cfg, now_ms()).await?;
    Ok(respond::json(200, &json!({"account": id, "deleted": true})))
}

pub async fn reset(ctx: &Ctx, id: &AccountId) -> Result<Response, GatewayError> {
    known(ctx, id).await?;
    let kv = ctx.kv()?;
    let now = now_ms();
    let change = vec![StateChange::Reset(id.clone())];
    pool_state::apply_here(change.clone(), now);
    // Whatever this isolate believes, KV must end up without the account's state.
    pool_state::write(&ctx.env, kv, change, now).await?;
    pool_state::reload(kv, &ctx.cfg, now).await?;
    Ok(respond::json(200, &json!({"account": id, "reset": true})))
}
