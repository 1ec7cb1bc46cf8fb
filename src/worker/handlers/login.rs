//! `POST /admin/accounts/<id>/login` and `…/login/poll`: the OAuth device flow driven from
//! anywhere with curl. The state machine is `qwen::device_flow` (the account tool runs the same
//! one); here each poll is one HTTP call, and the login in progress waits in KV (`LOGIN:<id>`,
//! expiring with its code).

use crate::accounts::credentials::Credentials;
use crate::accounts::id::AccountId;
use crate::accounts::pool::StateChange;
use crate::error::GatewayError;
use crate::kv_layout::{self as kvl, KvAccess};
use crate::qwen::device_flow::{DeviceLogin, PollStep, EXPIRED};
use crate::qwen::oauth::{
    device_code_form, device_code_url, parse_device_authorization, token_url, Pkce,
};
use crate::store;
use crate::worker::ctx::Ctx;
use crate::worker::fetch::{now_ms, post_form, random_bytes};
use crate::worker::{accounts, pool_state, respond};
use serde_json::json;
use web_sys::Response;

/// The OAuth server gets this long to answer each call.
const OAUTH_SERVER_MS: u64 = 30_000;

fn upstream(message: String) -> GatewayError {
    GatewayError::UpstreamService { message }
}

pub async fn start(ctx: &Ctx, id: &AccountId) -> Result<Response, GatewayError> {
    let mut random = [0u8; 32];
    random_bytes(&mut random).map_err(|message| GatewayError::Internal { message })?;
    let pkce = Pkce::from_random(&random);
    let base = &ctx.cfg.oauth_base_url;
    let (status, body) = post_form(
        &device_code_url(base),
        &device_code_form(&pkce),
        OAUTH_SERVER_MS,
    )
    .await
    .map_err(|e| upstream(format!("the Qwen OAuth server is unreachable: {e}")))?;
    let auth = parse_device_authorization(status, &body).map_err(upstream)?;
    let verification_uri = auth.verification_uri.clone();
    let complete = auth.verification_uri_complete.clone();
    let now = now_ms();
    let login = DeviceLogin::start(auth, pkce.verifier, now);
    let kv = ctx.kv()?;
    kv.put_with_ttl(
        &kvl::login_key(id),
        &kvl::encode_login(&login),
        login.secs_left(now),
    )
    .await?;
    let interval = login.interval_ms / 1000;
    Ok(respond::json(
        200,
        &json!({
            "account": id,
            "status": "pending",
            "verification_uri": verification_uri,
            "verification_uri_complete": complete,
            "user_code": login.user_code,
            "expires_in": login.secs_left(now),
            "interval": interval,
            "next": format!("Open the URL, approve, then POST /admin/accounts/{id}/login/poll every {interval} s until status is 'authorized'."),
        }),
    ))
}

pub async fn poll(ctx: &Ctx, id: &AccountId) -> Result<Response, GatewayError> {
    let kv = ctx.kv()?;
    let key = kvl::login_key(id);
    let Some(text) = kv.get(&key).await? else {
        return Err(GatewayError::invalid(
            format!("No login in progress for '{id}' (or it expired): start one with POST /admin/accounts/{id}/login."),
            None,
        ));
    };
    let mut login = kvl::decode_login(&text).ok_or_else(|| GatewayError::Storage {
        message: format!("LOGIN:{id} is unreadable"),
    })?;
    let now = now_ms();
    if login.is_expired(now) {
        kv.delete(&key).await?;
        return Err(GatewayError::invalid(EXPIRED, None));
    }
    let (status, body) = post_form(
        &token_url(&ctx.cfg.oauth_base_url),
        &login.poll_form(),
        OAUTH_SERVER_MS,
    )
    .await
    .map_err(|e| upstream(format!("the Qwen OAuth server is unreachable: {e}")))?;
    let pending = |login: &DeviceLogin, s: &str| {
        respond::json(
            202,
            &json!({"account": id, "status": s, "user_code": login.user_code, "verification_uri": login.verification_uri, "interval": login.interval_ms / 1000}),
        )
    };
    match login.on_answer(status, &body, now_ms()) {
        PollStep::Pending => Ok(pending(&login, "pending")),
        PollStep::SlowDown => {
            kv.put_with_ttl(&key, &kvl::encode_login(&login), login.secs_left(now))
                .await?;
            Ok(pending(&login, "slow_down"))
        }
        PollStep::Authorized(creds) => {
            let creds = Credentials::OAuth(creds);
            let now = now_ms();
            store::put_account(kv, id, &creds).await?;
            accounts::adopt(id, &creds);
            pool_state::write(&ctx.env, kv, vec![StateChange::Reset(id.clone())], now).await?;
            kv.delete(&key).await?;
            pool_state::reload(kv, &ctx.cfg, now).await?;
            Ok(respond::json(
                200,
                &json!({"account": id, "status": "authorized", "stored": true}),
            ))
        }
        PollStep::Refused(why) => {
            kv.delete(&key).await?;
            Err(GatewayError::invalid(why, None))
        }
        PollStep::ServerTrouble(why) => Err(upstream(why)),
    }
}
