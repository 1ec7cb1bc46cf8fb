//! `POST /admin/accounts/<id>/login`: the OAuth device flow driven from anywhere with curl.
//! Starting stores the pending login in KV (`LOGIN:<id>`, expiring with the device code); each
//! poll asks the token endpoint once and, when the user has approved, stores the account.

use super::http::json_response;
use super::net::{now_ms, post_form, random_bytes};
use super::store::Store;
use crate::credentials::Credentials;
use crate::error::GatewayError;
use crate::oauth::{
    credentials_from_token, device_code_form, device_code_url, device_poll_form,
    parse_device_authorization, parse_token_answer, slowed_down, token_url, Pkce, TokenOutcome,
    POLL_START_MS,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::Response;

#[derive(Serialize, Deserialize)]
struct PendingLogin {
    device_code: String,
    verifier: String,
    user_code: String,
    verification_uri: String,
    expires_at: u64,
    interval_ms: u64,
}

fn key(id: &str) -> String {
    format!("LOGIN:{id}")
}

fn upstream(message: String) -> GatewayError {
    GatewayError::Internal { message }
}

pub async fn start(store: &Store, id: &str) -> Result<Response, GatewayError> {
    let mut random = [0u8; 32];
    random_bytes(&mut random)?;
    let pkce = Pkce::from_random(&random);
    let base = &store.config().oauth_base_url;
    let (status, body) = post_form(&device_code_url(base), &device_code_form(&pkce))
        .await
        .map_err(|e| upstream(format!("the Qwen OAuth server is unreachable: {e}")))?;
    let auth = parse_device_authorization(status, &body).map_err(upstream)?;
    let pending = PendingLogin {
        device_code: auth.device_code.clone(),
        verifier: pkce.verifier,
        user_code: auth.user_code.clone(),
        verification_uri: auth
            .verification_uri_complete
            .clone()
            .unwrap_or_else(|| auth.verification_uri.clone()),
        expires_at: now_ms() + auth.expires_in * 1000,
        interval_ms: auth
            .interval
            .map(|s| s * 1000)
            .unwrap_or(POLL_START_MS)
            .max(POLL_START_MS),
    };
    store
        .put_with_ttl(
            &key(id),
            serde_json::to_string(&pending).unwrap_or_default(),
            auth.expires_in.max(60),
        )
        .await?;
    json_response(
        200,
        &json!({
            "account": id,
            "status": "pending",
            "verification_uri": auth.verification_uri,
            "verification_uri_complete": auth.verification_uri_complete,
            "user_code": auth.user_code,
            "expires_in": auth.expires_in,
            "interval": pending.interval_ms / 1000,
            "next": format!("Open the URL, approve, then POST /admin/accounts/{id}/login/poll every {} s until status is 'authorized'.", pending.interval_ms / 1000),
        }),
    )
    .map_err(GatewayError::from)
}

pub async fn poll(store: &Store, id: &str) -> Result<Response, GatewayError> {
    let Some(text) = store.get_raw(&key(id)).await? else {
        return Err(GatewayError::invalid(
            format!("No login in progress for '{id}' (or it expired): start one with POST /admin/accounts/{id}/login."),
            None,
        ));
    };
    let mut pending: PendingLogin =
        serde_json::from_str(&text).map_err(|_| GatewayError::Storage {
            message: format!("LOGIN:{id} is unreadable"),
        })?;
    let now = now_ms();
    if now >= pending.expires_at {
        store.delete_raw(&key(id)).await?;
        return Err(GatewayError::invalid(
            "The device code expired before it was approved: start again.",
            None,
        ));
    }
    let base = &store.config().oauth_base_url;
    let (status, body) = post_form(
        &token_url(base),
        &device_poll_form(&pending.device_code, &pending.verifier),
    )
    .await
    .map_err(|e| upstream(format!("the Qwen OAuth server is unreachable: {e}")))?;
    let pending_answer = |p: &PendingLogin, s: &str| {
        json_response(
            202,
            &json!({"account": id, "status": s, "user_code": p.user_code, "verification_uri": p.verification_uri, "interval": p.interval_ms / 1000}),
        )
        .map_err(GatewayError::from)
    };
    match parse_token_answer(status, &body) {
        TokenOutcome::Pending => pending_answer(&pending, "pending"),
        TokenOutcome::SlowDown => {
            pending.interval_ms = slowed_down(pending.interval_ms);
            let ttl = (pending.expires_at.saturating_sub(now) / 1000).max(60);
            store
                .put_with_ttl(
                    &key(id),
                    serde_json::to_string(&pending).unwrap_or_default(),
                    ttl,
                )
                .await?;
            pending_answer(&pending, "slow_down")
        }
        TokenOutcome::Token(answer) => {
            let Some(creds) = credentials_from_token(answer, now_ms()) else {
                return Err(upstream("the token answer has no refresh_token".into()));
            };
            let creds = Credentials::OAuth(creds);
            store.replace_credentials(id, &creds).await?;
            store.add_to_index(now, id).await?;
            store.reset_account(now, id).await?;
            store.delete_raw(&key(id)).await?;
            json_response(
                200,
                &json!({"account": id, "status": "authorized", "stored": true}),
            )
            .map_err(GatewayError::from)
        }
        TokenOutcome::Rejected { code, description } => {
            store.delete_raw(&key(id)).await?;
            let why = match code.as_str() {
                "access_denied" => "The login was denied in the browser.".to_owned(),
                "expired_token" => {
                    "The device code expired before it was approved: start again.".to_owned()
                }
                _ => format!(
                    "The OAuth server rejected the login ({code}{}{description}).",
                    if description.is_empty() { "" } else { ": " }
                ),
            };
            Err(GatewayError::invalid(why, None))
        }
        TokenOutcome::Unavailable { detail } => {
            Err(upstream(format!("the Qwen OAuth server failed: {detail}")))
        }
    }
}
