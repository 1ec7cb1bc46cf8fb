//! Account credentials as the isolate holds them: read from KV once and kept, re-read when it
//! matters (before a refresh, after a pool read for dead accounts), written when refreshed or
//! replaced. Which copy wins is the pure rule `accounts::credentials::resolve`.

use super::cache;
use super::fetch::sleep_ms;
use super::kv::Kv;
use crate::accounts::credentials::{newest, resolve, Credentials, Resolution};
use crate::accounts::id::AccountId;
use crate::config::Config;
use crate::kv_layout::{self as kv, KvAccess, StoreError};
use crate::store;

/// KV takes one write per second per key: a refused write of a refreshed token is tried once
/// more after this long.
const RETRY_WRITE_MS: u64 = 1_000;

/// The isolate's copy, if any.
pub fn cached(id: &str) -> Option<Credentials> {
    cache::with(|c| c.creds.get(id).cloned())
}

/// Credentials from the isolate, else from KV.
pub async fn get(kv: &Kv, cfg: &Config, id: &AccountId) -> Result<Option<Credentials>, StoreError> {
    if let Some(c) = cached(id.as_str()) {
        return Ok(Some(c));
    }
    reread(kv, cfg, id).await
}

/// What KV (and, for account `default`, the secret) holds now, reconciled with the isolate's copy
/// by the resolve rule; the isolate keeps the winner.
pub async fn reread(
    kv: &Kv,
    cfg: &Config,
    id: &AccountId,
) -> Result<Option<Credentials>, StoreError> {
    let stored = store::read_credentials(kv, id).await?;
    let from_secret = if id == kv::SECRET_ACCOUNT_ID {
        match cfg.secret_creds.as_deref().map(Credentials::parse) {
            Some(Ok(c)) => Some(c),
            Some(Err(e)) => {
                return Err(StoreError(format!(
                    "the QWEN_OAUTH_CREDS secret is unusable: {e}"
                )))
            }
            None => None,
        }
    } else {
        None
    };
    let stored = newest(stored, from_secret);
    Ok(cache::with(|c| {
        let unsaved = c.unsaved.contains(id.as_str());
        match resolve(c.creds.get(id.as_str()), stored, unsaved) {
            Resolution::Take(fresh) => {
                c.creds.insert(id.to_string(), fresh);
            }
            Resolution::KeepCached | Resolution::Nothing => {}
        }
        c.creds.get(id.as_str()).cloned()
    }))
}

/// Makes refreshed credentials the isolate's copy, then writes them to KV, once more a second
/// later if KV refuses (this is the only retry of a refreshed token's write). Until a write
/// succeeds the isolate's copy is marked unsaved: it holds the only valid refresh token.
pub async fn save_refreshed(
    kv: &Kv,
    id: &AccountId,
    creds: &Credentials,
) -> Result<(), StoreError> {
    cache::with(|c| {
        c.creds.insert(id.to_string(), creds.clone());
        c.unsaved.insert(id.to_string());
    });
    let key = kv::account_key(id);
    let json = creds.to_json();
    let mut result = kv.put(&key, &json).await;
    if result.is_err() {
        sleep_ms(RETRY_WRITE_MS).await;
        result = kv.put(&key, &json).await;
    }
    if result.is_ok() {
        cache::with(|c| c.unsaved.remove(id.as_str()));
    }
    result
}

/// The isolate takes credentials that were just stored on purpose (admin PUT, device login).
pub fn adopt(id: &AccountId, creds: &Credentials) {
    cache::with(|c| {
        c.creds.insert(id.to_string(), creds.clone());
        c.unsaved.remove(id.as_str());
    });
}

/// The isolate forgets an account's credentials (deleted, or marked dead: read them again).
pub fn forget(id: &str) {
    cache::with(|c| {
        c.creds.remove(id);
        c.unsaved.remove(id);
    });
}

/// Makes sure the isolate holds credentials for each of `ids` (a cold start reads them from KV,
/// concurrently). Unreadable records are logged and left out: such accounts are skipped.
pub async fn load_all(kv: &Kv, cfg: &Config, ids: &[AccountId]) {
    let missing: Vec<&AccountId> = ids
        .iter()
        .filter(|id| cached(id.as_str()).is_none())
        .collect();
    let reads = missing.iter().map(|id| reread(kv, cfg, id));
    for (id, r) in missing
        .iter()
        .zip(futures_util::future::join_all(reads).await)
    {
        if let Err(e) = r {
            worker::console_error!("account {id}: {e}");
        }
    }
}
