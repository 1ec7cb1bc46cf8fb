//! `GET /v1/models` and `GET /v1/models/<id>`: what the configured accounts serve (each kind's
//! catalogue, an account's own list, or what its provider lists), and the aliases. Provider lists
//! are fetched after the answer, at most once an hour per account, never on a request's path.

use crate::accounts::credentials::Credentials;
use crate::accounts::id::AccountId;
use crate::api::openai::models;
use crate::catalogue;
use crate::error::GatewayError;
use crate::qwen::request::{bearer, headers, url, Endpoint};
use crate::worker::cache;
use crate::worker::ctx::Ctx;
use crate::worker::fetch::{self, now_ms};
use crate::worker::{pool_state, respond};
// The isolate cache is borrowed once here (pool, credentials and fetched lists together).
use web_sys::Response;

/// A provider's list is fetched again after this long.
const LIST_TTL_MS: u64 = 3_600_000;
const LIST_FETCH_MS: u64 = 10_000;
const LIST_CAP: usize = 1024 * 1024;

/// Every model id some account serves, in a stable order, then the exact alias names.
async fn served(ctx: &Ctx) -> Result<Vec<String>, GatewayError> {
    let kv = ctx.kv()?;
    pool_state::refresh_if_stale(kv, &ctx.cfg, now_ms()).await?;
    let now = now_ms();
    let (ids, stale) = cache::with(|c| {
        let mut ids: Vec<String> = Vec::new();
        let mut stale: Vec<(AccountId, Credentials)> = Vec::new();
        let pool_ids = c
            .pool
            .as_ref()
            .map(|p| p.state.ids.as_slice())
            .unwrap_or_default();
        for id in pool_ids {
            let Some(cr) = c.creds.get(id.as_str()) else {
                continue;
            };
            let fetched = c.model_lists.get(id.as_str());
            if url(cr, &ctx.cfg.api_base_url, Endpoint::Models).is_some()
                && fetched.is_none_or(|(_, at)| now >= at.saturating_add(LIST_TTL_MS))
            {
                stale.push((id.clone(), cr.clone()));
            }
            for m in catalogue::models_of(cr, fetched.map(|(l, _)| l.as_slice())) {
                if !ids.contains(&m) {
                    ids.push(m);
                }
            }
        }
        (ids, stale)
    });
    if !stale.is_empty() {
        let base = ctx.cfg.api_base_url.clone();
        ctx.keep_running(async move {
            for (id, creds) in stale {
                fetch_list(&id, &creds, &base).await;
            }
        });
    }
    let mut all = ids;
    for a in ctx.cfg.aliases.names() {
        if !all.iter().any(|m| m == a) {
            all.push(a.to_owned());
        }
    }
    Ok(all)
}

/// Asks a provider for its model list and keeps it in the isolate (a failure keeps the old one
/// and is tried again in an hour).
async fn fetch_list(id: &AccountId, creds: &Credentials, base: &str) {
    let Some(target) = url(creds, base, Endpoint::Models) else {
        return;
    };
    let h = headers(creds.kind(), false, None);
    let list = match fetch::get(&target, &h, Some(bearer(creds)), LIST_FETCH_MS).await {
        Ok(ex) if ex.status() == 200 => fetch::read_body(&ex, LIST_CAP, LIST_FETCH_MS)
            .await
            .ok()
            .and_then(|b| catalogue::parse_model_list(&b.text())),
        _ => None,
    };
    let now = now_ms();
    cache::with(|c| {
        let entry = c
            .model_lists
            .entry(id.to_string())
            .or_insert_with(|| (Vec::new(), now));
        if let Some(l) = list {
            entry.0 = l;
        }
        entry.1 = now;
    });
}

pub async fn list(ctx: &Ctx) -> Result<Response, GatewayError> {
    let ids = served(ctx).await?;
    Ok(respond::json(200, &models::list(&ids)))
}

pub async fn get(ctx: &Ctx, id: &str) -> Result<Response, GatewayError> {
    let ids = served(ctx).await?;
    if ids.iter().any(|m| m == id) || ctx.cfg.aliases.resolve(id).is_some() {
        return Ok(respond::json(200, &models::entry(id)));
    }
    Err(GatewayError::ModelNotFound {
        model: id.to_owned(),
    })
}
