//! The admin API of named client keys (`/admin/keys`) and of usage (`/admin/usage`). The rules
//! are in `ledger::{keys, usage}`; the records live in the ledger.

use super::admin::ADMIN_BODY_CAP;
use crate::error::GatewayError;
use crate::ledger::keys::{is_id, mint, KeySettings, NamedKey, RANDOM_BYTES};
use crate::ledger::limits::Spend;
use crate::ledger::usage::UsageQuery;
use crate::worker::clients;
use crate::worker::ctx::Ctx;
use crate::worker::fetch::{now_ms, random_bytes};
use crate::worker::ledger::{self, Looked, Op};
use crate::worker::{body, respond};
use serde::Deserialize;
use serde_json::{json, Value};
use web_sys::{Request, Response};

fn storage(e: String) -> GatewayError {
    GatewayError::Storage {
        message: format!("the key ledger: {e}"),
    }
}

/// Asks the ledger, or says why it cannot be asked.
async fn ask<T: for<'de> Deserialize<'de>>(ctx: &Ctx, op: &Op) -> Result<T, GatewayError> {
    match ledger::ask::<T>(&ctx.env, op).await {
        Some(r) => r.map_err(storage),
        None => Err(GatewayError::Internal {
            message: "this deployment has no LEDGER binding (Durable Object); add it to wrangler.toml as the README shows".into(),
        }),
    }
}

fn spend_view(spend: &Spend, now: u64) -> Value {
    let s = spend.at(now);
    json!({
        "tokens_today": s.tokens_today,
        "tokens_this_month": s.tokens_this_month,
        "requests_today": s.requests_today,
    })
}

fn with_spend(key: &NamedKey, spend: &Spend, now: u64) -> Value {
    let mut v = key.view();
    v["spend"] = spend_view(spend, now);
    v
}

fn key_id(segment: &str) -> Result<&str, GatewayError> {
    if is_id(segment) {
        Ok(segment)
    } else {
        Err(GatewayError::UnknownKey {
            id: segment.chars().take(64).collect(),
        })
    }
}

/// `POST /admin/keys`: a new key, shown this once.
pub async fn create(ctx: &Ctx, req: &Request) -> Result<Response, GatewayError> {
    let bytes = body::read(req, &ctx.heads, ADMIN_BODY_CAP).await?;
    let now = now_ms();
    let settings = KeySettings::parse(&bytes, true, now)?;
    for _ in 0..3 {
        let mut random = [0u8; RANDOM_BYTES];
        random_bytes(&mut random).map_err(|message| GatewayError::Internal { message })?;
        let minted = mint(&random);
        let taken: Option<NamedKey> = ask(
            ctx,
            &Op::Get {
                id: minted.id.clone(),
            },
        )
        .await?;
        if taken.is_some() {
            continue;
        }
        let key = settings.create(&minted, now);
        let _: Value = ask(ctx, &Op::Put { key: key.clone() }).await?;
        clients::forget(&key.id);
        let mut v = key.view();
        v["key"] = Value::from(minted.key);
        return Ok(respond::json(201, &v));
    }
    Err(GatewayError::Internal {
        message: "could not find a free key id".into(),
    })
}

/// `GET /admin/keys`: every key, with its spend.
pub async fn list(ctx: &Ctx) -> Result<Response, GatewayError> {
    let now = now_ms();
    #[derive(Deserialize)]
    struct Row {
        key: NamedKey,
        spend: Spend,
    }
    let rows: Vec<Row> = ask(ctx, &Op::List { now_ms: now }).await?;
    let keys: Vec<Value> = rows
        .iter()
        .map(|r| with_spend(&r.key, &r.spend, now))
        .collect();
    Ok(respond::json(200, &json!({ "keys": keys })))
}

async fn look_up(ctx: &Ctx, id: &str, now: u64) -> Result<(NamedKey, Spend), GatewayError> {
    let looked: Looked = ask(
        ctx,
        &Op::Lookup {
            id: id.to_owned(),
            now_ms: now,
            permits: 0,
        },
    )
    .await?;
    let key = looked
        .key
        .ok_or_else(|| GatewayError::UnknownKey { id: id.to_owned() })?;
    Ok((key, looked.spend))
}

/// `GET /admin/keys/<id>`.
pub async fn get(ctx: &Ctx, segment: &str) -> Result<Response, GatewayError> {
    let now = now_ms();
    let (key, spend) = look_up(ctx, key_id(segment)?, now).await?;
    Ok(respond::json(200, &with_spend(&key, &spend, now)))
}

/// `PATCH /admin/keys/<id>`: new settings; every isolate applies them within the key TTL,
/// this one at once.
pub async fn update(ctx: &Ctx, req: &Request, segment: &str) -> Result<Response, GatewayError> {
    let id = key_id(segment)?;
    let bytes = body::read(req, &ctx.heads, ADMIN_BODY_CAP).await?;
    let now = now_ms();
    let settings = KeySettings::parse(&bytes, false, now)?;
    let (mut key, spend) = look_up(ctx, id, now).await?;
    settings.apply(&mut key);
    let _: Value = ask(ctx, &Op::Put { key: key.clone() }).await?;
    clients::forget(id);
    Ok(respond::json(200, &with_spend(&key, &spend, now)))
}

/// `DELETE /admin/keys/<id>`: the key is revoked (its record and usage stay, for the reports).
pub async fn revoke(ctx: &Ctx, segment: &str) -> Result<Response, GatewayError> {
    let id = key_id(segment)?;
    let now = now_ms();
    let (mut key, _) = look_up(ctx, id, now).await?;
    if key.revoked_at_ms.is_none() {
        key.revoked_at_ms = Some(now);
        let _: Value = ask(ctx, &Op::Put { key }).await?;
    }
    clients::forget(id);
    Ok(respond::json(200, &json!({"id": id, "revoked": true})))
}

/// `GET /admin/usage?from=&to=&group_by=key|model|account|day[&key=&model=&account=]`.
pub async fn usage(ctx: &Ctx, req: &Request) -> Result<Response, GatewayError> {
    let url = req.url();
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                js_sys::decode_uri_component(&s.replace('+', " "))
                    .ok()
                    .and_then(|s| s.as_string())
                    .unwrap_or_default()
            };
            (decode(k), decode(v))
        })
        .collect();
    let q = UsageQuery::parse(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        now_ms(),
    )?;
    let report: Value = ask(ctx, &Op::Report { query: q }).await?;
    Ok(respond::json(200, &report))
}
