//! Who is calling, established once per request from its headers, and who may pin an account.

use super::client_headers::ClientHeaders;
use super::clients;
use super::fetch::now_ms;
use crate::accounts::id::AccountId;
use crate::api::keys::{self, presented_key, Caller};
use crate::config::Config;
use crate::error::GatewayError;
use crate::ledger::keys::id_in;
use worker::Env;

/// The caller of an API route: the admin, a holder of a key from the secrets or of a named key,
/// or anyone on a public API (one with no key in its secrets and no named key).
pub async fn api_caller(
    heads: &ClientHeaders,
    cfg: &Config,
    env: &Env,
) -> Result<Caller, GatewayError> {
    let key = presented_key(heads.authorization.as_deref(), heads.x_api_key.as_deref());
    if let Some(k) = key.filter(|k| id_in(k).is_some()) {
        return clients::identify(env, k, now_ms()).await.map(Caller::Named);
    }
    match keys::identify(&cfg.client_keys, cfg.admin_key.as_deref(), key) {
        Some(Caller::Public) if clients::any_keys(env, now_ms()).await => {
            Err(GatewayError::Unauthorized)
        }
        Some(caller) => Ok(caller),
        None => Err(GatewayError::Unauthorized),
    }
}

/// The caller of an admin route: only the admin key opens it (also as `x-admin-key`).
pub fn admin_caller(heads: &ClientHeaders, cfg: &Config) -> Result<Caller, GatewayError> {
    if cfg.admin_key.is_none() {
        return Err(GatewayError::AdminDisabled);
    }
    let xkey = heads.x_admin_key.as_deref().or(heads.x_api_key.as_deref());
    if keys::is_admin(
        cfg.admin_key.as_deref(),
        presented_key(heads.authorization.as_deref(), xkey),
    ) {
        Ok(Caller::Admin)
    } else {
        Err(GatewayError::AdminUnauthorized)
    }
}

/// `X-Qwen-Account: <id>` pins a request to one account. It is honoured for callers holding a
/// key: a client key or the admin key (on a public API only the admin key). An id that cannot
/// exist is an unknown account.
pub fn pinned_account(
    heads: &ClientHeaders,
    caller: &Caller,
) -> Result<Option<AccountId>, GatewayError> {
    let Some(raw) = heads
        .x_qwen_account
        .as_deref()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
    else {
        return Ok(None);
    };
    if !caller.holds_key() {
        return Err(GatewayError::invalid(
            "X-Qwen-Account needs an API key from OPENAI_API_KEYS or the admin key; remove the header or send a key.",
            None,
        ));
    }
    AccountId::parse(&raw)
        .map(Some)
        .map_err(|_| GatewayError::UnknownAccount { id: raw })
}

/// The client's session, when it names one: Claude Code's `X-Claude-Code-Session-Id`, Codex's
/// `session-id` / `session_id`, or a generic `x-session-id`. Requests of one session stay on one
/// account while it is usable (see `Plan::with_session`).
pub fn session_id(heads: &ClientHeaders) -> Option<String> {
    heads
        .sessions
        .iter()
        .find_map(|s| s.as_deref())
        .map(|s| s.trim().chars().take(256).collect::<String>())
        .filter(|s| !s.is_empty())
}
