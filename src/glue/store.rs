//! Accounts and pool state in Workers KV, with an isolate-wide cache so that a request in steady
//! state costs no KV read at all.
//!
//! Layout (compatible with the TypeScript worker): `ACCOUNT:<id>` credentials,
//! `FAILED_ACCOUNTS` + `LAST_FAILED_RESET_DATE`; ours: `ACCOUNTS` (index of ids) and
//! `ACCOUNT_STATUS` (dead / cooling-down state and last errors).

use super::config::{Config, KV_BINDING};
use super::net::sleep_ms;
use crate::credentials::Credentials;
use crate::error::GatewayError;
use crate::pool::{
    keys, parse_status_map, AccountState, FailedAccounts, StatusMap, SECRET_ACCOUNT_ID,
};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use worker::kv::KvStore;
use worker::{Context, Env};

#[derive(Debug, Clone, Default)]
pub struct PoolState {
    pub ids: Vec<String>,
    pub failed: FailedAccounts,
    pub status: StatusMap,
}

/// KV operations done by this isolate (reported by /admin/health, read by the benchmarks).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct KvCounters {
    pub reads: u64,
    pub writes: u64,
    pub lists: u64,
    pub deletes: u64,
}

#[derive(Default)]
struct Cache {
    pool: Option<(PoolState, u64)>,
    creds: HashMap<String, Credentials>,
    /// Accounts whose refreshed credentials KV refused: the isolate's copy is the valid one.
    unsaved: HashSet<String>,
    /// Accounts being refreshed in this isolate, with when the refresh started.
    refreshing: HashMap<String, u64>,
    /// Shared keys being read-modified-written by a request of this isolate.
    locks: HashSet<&'static str>,
    counters: KvCounters,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

fn with_cache<R>(f: impl FnOnce(&mut Cache) -> R) -> R {
    CACHE.with(|c| f(&mut c.borrow_mut()))
}

pub fn kv_counters() -> KvCounters {
    with_cache(|c| c.counters)
}

/// A refresh that has not finished after this long (its request was cancelled, say) no longer
/// holds the account's refresh right.
const REFRESH_STALE_MS: u64 = 40_000;

/// Refresh single-flight within the isolate: true when the caller now holds the right to refresh.
pub fn try_begin_refresh(id: &str, now_ms: u64) -> bool {
    with_cache(|c| match c.refreshing.get(id) {
        Some(&started) if now_ms < started + REFRESH_STALE_MS => false,
        _ => {
            c.refreshing.insert(id.to_owned(), now_ms);
            true
        }
    })
}

pub fn end_refresh(id: &str) {
    with_cache(|c| c.refreshing.remove(id));
}

pub fn is_refreshing(id: &str, now_ms: u64) -> bool {
    with_cache(|c| {
        c.refreshing
            .get(id)
            .is_some_and(|&started| now_ms < started + REFRESH_STALE_MS)
    })
}

/// Isolate-wide mutual exclusion for a read-modify-write of one shared KV key, released on drop.
struct KeyLock(&'static str);

impl Drop for KeyLock {
    fn drop(&mut self) {
        with_cache(|c| c.locks.remove(self.0));
    }
}

async fn lock(key: &'static str) -> KeyLock {
    // Bounded: a holder that never finished must not block the isolate for good.
    for _ in 0..400 {
        if with_cache(|c| c.locks.insert(key)) {
            return KeyLock(key);
        }
        sleep_ms(5).await;
    }
    KeyLock(key)
}

fn logged(what: &str, r: Result<(), GatewayError>) {
    if let Err(e) = r {
        worker::console_error!("{what}: {}", e.message());
    }
}

pub fn cached_credentials(id: &str) -> Option<Credentials> {
    with_cache(|c| c.creds.get(id).cloned())
}

fn storage(e: impl std::fmt::Display) -> GatewayError {
    GatewayError::Storage {
        message: e.to_string(),
    }
}

/// One request's handle on the store: the KV binding, the settings and the request's context
/// (for work that must outlive the client, like persisting a refreshed token).
#[derive(Clone)]
pub struct Store {
    kv: KvStore,
    cfg: Rc<Config>,
    ctx: Rc<Context>,
}

impl Store {
    pub fn new(env: &Env, cfg: &Rc<Config>, ctx: &Rc<Context>) -> Result<Self, GatewayError> {
        let kv = env.kv(KV_BINDING).map_err(|_| GatewayError::Storage {
            message: format!("the KV binding {KV_BINDING} is missing in wrangler.toml"),
        })?;
        Ok(Store {
            kv,
            cfg: cfg.clone(),
            ctx: ctx.clone(),
        })
    }

    /// Runs `task` to its end even if the client goes away.
    pub fn keep_running(&self, task: impl std::future::Future<Output = ()> + 'static) {
        self.ctx.wait_until(task);
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    async fn get(&self, key: &str) -> Result<Option<String>, GatewayError> {
        with_cache(|c| c.counters.reads += 1);
        self.kv.get(key).text().await.map_err(storage)
    }

    async fn put(&self, key: &str, value: String) -> Result<(), GatewayError> {
        with_cache(|c| c.counters.writes += 1);
        self.kv
            .put(key, value)
            .map_err(storage)?
            .execute()
            .await
            .map_err(storage)
    }

    /// Plain KV access for keys the pool does not own (pending logins).
    pub async fn get_raw(&self, key: &str) -> Result<Option<String>, GatewayError> {
        self.get(key).await
    }

    pub async fn delete_raw(&self, key: &str) -> Result<(), GatewayError> {
        self.delete(key).await
    }

    pub async fn put_with_ttl(
        &self,
        key: &str,
        value: String,
        ttl_secs: u64,
    ) -> Result<(), GatewayError> {
        with_cache(|c| c.counters.writes += 1);
        self.kv
            .put(key, value)
            .map_err(storage)?
            .expiration_ttl(ttl_secs.max(60))
            .execute()
            .await
            .map_err(storage)
    }

    async fn delete(&self, key: &str) -> Result<(), GatewayError> {
        with_cache(|c| c.counters.deletes += 1);
        self.kv.delete(key).await.map_err(storage)
    }

    /// The pool as this isolate knows it, re-read from KV once the cache is older than the TTL.
    /// The daily reset of FAILED_ACCOUNTS is applied (and written back) here.
    pub async fn pool(&self, now_ms: u64) -> Result<PoolState, GatewayError> {
        let cached = with_cache(|c| c.pool.clone());
        let mut pool = match cached {
            Some((p, at)) if now_ms < at + self.cfg.cache_ttl_ms => p,
            _ => self.reload_pool(now_ms).await?,
        };
        if pool.failed.clone().reset_if_new_day(now_ms) {
            // A new UTC day: decide on what KV says now, not on a copy from before midnight
            // (another isolate may already have reset it and recorded today's failures).
            let _held = lock(keys::FAILED_ACCOUNTS).await;
            pool = self.reload_pool(now_ms).await?;
            if pool.failed.reset_if_new_day(now_ms) {
                with_cache(|c| {
                    if let Some((p, _)) = c.pool.as_mut() {
                        p.failed = pool.failed.clone();
                    }
                });
                logged(
                    "FAILED_ACCOUNTS reset",
                    self.put(keys::FAILED_ACCOUNTS, String::new()).await,
                );
                let date = pool.failed.reset_date.clone().unwrap_or_default();
                logged(
                    "FAILED_ACCOUNTS reset",
                    self.put(keys::LAST_FAILED_RESET_DATE, date).await,
                );
            }
        }
        Ok(pool)
    }

    pub async fn reload_pool(&self, now_ms: u64) -> Result<PoolState, GatewayError> {
        let (index, failed, date, status) = futures_util::join!(
            self.get(keys::ACCOUNTS_INDEX),
            self.get(keys::FAILED_ACCOUNTS),
            self.get(keys::LAST_FAILED_RESET_DATE),
            self.get(keys::ACCOUNT_STATUS),
        );
        let mut ids: Vec<String> = match index?.and_then(|text| serde_json::from_str(&text).ok()) {
            Some(ids) => ids,
            // Missing (a namespace written by the TypeScript worker) or unreadable: rebuild.
            None => self.rebuild_index().await?,
        };
        if self.cfg.secret_creds.is_some() && !ids.iter().any(|i| i == SECRET_ACCOUNT_ID) {
            ids.insert(0, SECRET_ACCOUNT_ID.to_owned());
        }
        let pool = PoolState {
            ids,
            failed: FailedAccounts::parse(failed?.as_deref(), date?.as_deref()),
            status: parse_status_map(status?.as_deref()),
        };
        with_cache(|c| {
            // Dead accounts' credentials are re-read from KV: newer ones (a new login, a refresh
            // by another isolate) bring the account back.
            for (id, st) in &pool.status {
                if st.dead_reason.is_some() {
                    c.creds.remove(id);
                }
            }
            c.pool = Some((pool.clone(), now_ms));
        });
        Ok(pool)
    }

    /// Lists `ACCOUNT:*` (only when the index is missing, e.g. a namespace written by the
    /// TypeScript worker) and stores the index.
    async fn rebuild_index(&self) -> Result<Vec<String>, GatewayError> {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            with_cache(|c| c.counters.lists += 1);
            let mut list = self.kv.list().prefix(keys::ACCOUNT_PREFIX.to_owned());
            if let Some(cur) = cursor.take() {
                list = list.cursor(cur);
            }
            let page = list.execute().await.map_err(storage)?;
            ids.extend(
                page.keys
                    .iter()
                    .filter_map(|k| k.name.strip_prefix(keys::ACCOUNT_PREFIX).map(str::to_owned)),
            );
            match page.cursor {
                Some(c) if !page.list_complete && !c.is_empty() => cursor = Some(c),
                _ => break,
            }
        }
        ids.retain(|i| i != SECRET_ACCOUNT_ID || self.cfg.secret_creds.is_none());
        self.put(
            keys::ACCOUNTS_INDEX,
            serde_json::to_string(&ids).unwrap_or_default(),
        )
        .await?;
        Ok(ids)
    }

    /// Credentials from the isolate cache, else from KV.
    pub async fn credentials(&self, id: &str) -> Result<Option<Credentials>, GatewayError> {
        if let Some(c) = cached_credentials(id) {
            return Ok(Some(c));
        }
        self.read_credentials(id).await
    }

    /// Credentials re-read from KV (for the secret account: the newer of the secret and KV).
    /// The isolate cache takes the result unless it already holds something newer.
    pub async fn read_credentials(&self, id: &str) -> Result<Option<Credentials>, GatewayError> {
        let stored = match self.get(&keys::account(id)).await? {
            Some(text) => Some(
                Credentials::parse(&text).map_err(|e| GatewayError::Storage {
                    message: format!("ACCOUNT:{id} is unreadable: {e}"),
                })?,
            ),
            None => None,
        };
        let from_secret = if id == SECRET_ACCOUNT_ID {
            match self.cfg.secret_creds.as_deref().map(Credentials::parse) {
                Some(Ok(c)) => Some(c),
                Some(Err(e)) => {
                    return Err(GatewayError::Storage {
                        message: format!("the QWEN_OAUTH_CREDS secret is unusable: {e}"),
                    })
                }
                None => None,
            }
        } else {
            None
        };
        let best = match (stored, from_secret) {
            (Some(a), Some(b)) => Some(if a.is_newer_or_same(&b) { a } else { b }),
            (a, b) => a.or(b),
        };
        let Some(best) = best else {
            return Ok(cached_credentials(id));
        };
        Ok(with_cache(|c| {
            let keep_cached = match c.creds.get(id) {
                // Same lineage (same refresh token): the newer one.
                Some(old) if old.fingerprint() == best.fingerprint() => !best.is_newer_or_same(old),
                // KV holds other credentials: someone replaced them (a new login, an admin,
                // another isolate's refresh) and KV is right — unless this isolate holds a
                // rotated token it could not store.
                Some(_) => c.unsaved.contains(id),
                None => false,
            };
            if !keep_cached {
                c.creds.insert(id.to_owned(), best);
            }
            c.creds.get(id).cloned()
        }))
    }

    /// Makes refreshed credentials the isolate's copy and writes them to KV, trying once more a
    /// second later (KV allows one write per second per key). The isolate keeps them even when
    /// KV refuses: they hold the only valid refresh token.
    pub async fn save_credentials(
        &self,
        id: &str,
        creds: &Credentials,
    ) -> Result<(), GatewayError> {
        with_cache(|c| {
            c.creds.insert(id.to_owned(), creds.clone());
            c.unsaved.insert(id.to_owned());
        });
        let mut result = self.put(&keys::account(id), creds.to_json()).await;
        if result.is_err() {
            sleep_ms(1_000).await;
            result = self.put(&keys::account(id), creds.to_json()).await;
        }
        if result.is_ok() {
            with_cache(|c| c.unsaved.remove(id));
        }
        result
    }

    /// Replace credentials unconditionally (admin PUT): the caller asked for exactly these.
    pub async fn replace_credentials(
        &self,
        id: &str,
        creds: &Credentials,
    ) -> Result<(), GatewayError> {
        self.put(&keys::account(id), creds.to_json()).await?;
        with_cache(|c| {
            c.creds.insert(id.to_owned(), creds.clone());
            c.unsaved.remove(id);
        });
        Ok(())
    }

    /// Applies `f` to the account's state: in the isolate at once, then in KV (merged with
    /// what other isolates wrote). A change that changes nothing writes nothing. KV failures
    /// are logged, not returned: the isolate already acts on the new state.
    async fn update_status(&self, now_ms: u64, id: &str, f: impl FnOnce(&mut AccountState)) {
        let after = with_cache(|c| {
            let stale = now_ms.saturating_sub(self.cfg.cache_ttl_ms);
            let (pool, _) = c.pool.get_or_insert_with(|| (PoolState::default(), stale));
            let before = pool.status.get(id).cloned().unwrap_or_default();
            let mut after = before.clone();
            f(&mut after);
            (after != before).then(|| {
                pool.status.insert(id.to_owned(), after.clone());
                after
            })
        });
        let Some(after) = after else { return };
        let _held = lock(keys::ACCOUNT_STATUS).await;
        let mut map = match self.get(keys::ACCOUNT_STATUS).await {
            Ok(text) => parse_status_map(text.as_deref()),
            Err(e) => return logged("ACCOUNT_STATUS", Err(e)),
        };
        map.insert(id.to_owned(), after);
        map.retain(|_, s| *s != AccountState::default());
        logged(
            "ACCOUNT_STATUS",
            self.put(
                keys::ACCOUNT_STATUS,
                serde_json::to_string(&map).unwrap_or_default(),
            )
            .await,
        );
        with_cache(|c| {
            if let Some((p, _)) = c.pool.as_mut() {
                p.status = map;
            }
        });
    }

    fn cached_state(id: &str) -> AccountState {
        with_cache(|c| c.pool.as_ref().and_then(|(p, _)| p.status.get(id).cloned()))
            .unwrap_or_default()
    }

    /// Notes an error; the same error again within 10 s is not written again.
    pub async fn record_error(&self, now_ms: u64, id: &str, error: &str) {
        let st = Self::cached_state(id);
        if st.last_error.as_deref() == Some(error)
            && st.last_error_at.is_some_and(|at| now_ms < at + 10_000)
        {
            return;
        }
        let error = error.to_owned();
        self.update_status(now_ms, id, |s| {
            s.last_error = Some(error);
            s.last_error_at = Some(now_ms);
        })
        .await
    }

    /// Declares the account dead; `credentials` is the fingerprint of the credentials that died,
    /// so that replacing them brings the account back. Already dead with them: nothing to write.
    pub async fn mark_dead(
        &self,
        now_ms: u64,
        id: &str,
        reason: &str,
        credentials: Option<String>,
    ) {
        let st = Self::cached_state(id);
        if st.dead_reason.is_some() && st.dead_credentials == credentials {
            return;
        }
        let reason = reason.to_owned();
        self.update_status(now_ms, id, |s| {
            s.dead_reason = Some(reason.clone());
            s.dead_at = Some(now_ms);
            s.dead_credentials = credentials;
            s.last_error = Some(reason);
            s.last_error_at = Some(now_ms);
        })
        .await
    }

    pub async fn cool_down(&self, now_ms: u64, id: &str, until_ms: u64, error: &str) {
        if Self::cached_state(id)
            .cooldown_until
            .is_some_and(|u| u + 1_000 >= until_ms)
        {
            return;
        }
        let error = error.to_owned();
        self.update_status(now_ms, id, |s| {
            s.cooldown_until = Some(until_ms);
            s.last_error = Some(error);
            s.last_error_at = Some(now_ms);
        })
        .await
    }

    /// Daily quota spent: into FAILED_ACCOUNTS, in the isolate at once, then in KV (re-read
    /// first so other isolates' entries stay).
    pub async fn mark_quota_exceeded(&self, now_ms: u64, id: &str) {
        let known = with_cache(|c| match c.pool.as_mut() {
            Some((p, _)) => !p.failed.add(id),
            None => false,
        });
        if known {
            return;
        }
        {
            let _held = lock(keys::FAILED_ACCOUNTS).await;
            let (failed, date) = futures_util::join!(
                self.get(keys::FAILED_ACCOUNTS),
                self.get(keys::LAST_FAILED_RESET_DATE)
            );
            let (Ok(failed), Ok(date)) = (failed, date) else {
                return logged(
                    "FAILED_ACCOUNTS",
                    Err(GatewayError::Storage {
                        message: "read failed".into(),
                    }),
                );
            };
            let mut list = FailedAccounts::parse(failed.as_deref(), date.as_deref());
            let reset = list.reset_if_new_day(now_ms);
            if list.add(id) {
                logged(
                    "FAILED_ACCOUNTS",
                    self.put(keys::FAILED_ACCOUNTS, list.to_kv()).await,
                );
            }
            if reset {
                let date = list.reset_date.clone().unwrap_or_default();
                logged(
                    "FAILED_ACCOUNTS",
                    self.put(keys::LAST_FAILED_RESET_DATE, date).await,
                );
            }
            with_cache(|c| {
                if let Some((p, _)) = c.pool.as_mut() {
                    p.failed = list;
                }
            });
        }
        self.record_error(now_ms, id, "daily quota exhausted").await;
    }

    /// Back to healthy: out of FAILED_ACCOUNTS, no dead mark, no cool-down, no last error.
    pub async fn reset_account(&self, now_ms: u64, id: &str) -> Result<(), GatewayError> {
        {
            let _held = lock(keys::FAILED_ACCOUNTS).await;
            let (failed, date) = futures_util::join!(
                self.get(keys::FAILED_ACCOUNTS),
                self.get(keys::LAST_FAILED_RESET_DATE)
            );
            let mut list = FailedAccounts::parse(failed?.as_deref(), date?.as_deref());
            if list.remove(id) {
                self.put(keys::FAILED_ACCOUNTS, list.to_kv()).await?;
            }
            with_cache(|c| {
                if let Some((p, _)) = c.pool.as_mut() {
                    p.failed = list;
                }
            });
        }
        // Whatever this isolate believes, KV must end up without the account's state.
        let _held = lock(keys::ACCOUNT_STATUS).await;
        let mut map = parse_status_map(self.get(keys::ACCOUNT_STATUS).await?.as_deref());
        if map.remove(id).is_some() {
            self.put(
                keys::ACCOUNT_STATUS,
                serde_json::to_string(&map).unwrap_or_default(),
            )
            .await?;
        }
        with_cache(|c| match c.pool.as_mut() {
            Some((p, _)) => p.status = map,
            None => {
                let stale = now_ms.saturating_sub(self.cfg.cache_ttl_ms);
                c.pool = Some((
                    PoolState {
                        status: map,
                        ..Default::default()
                    },
                    stale,
                ));
            }
        });
        Ok(())
    }

    pub async fn add_to_index(&self, now_ms: u64, id: &str) -> Result<(), GatewayError> {
        let mut ids = self.index_ids().await?;
        if !ids.iter().any(|i| i == id) {
            ids.push(id.to_owned());
            self.put(
                keys::ACCOUNTS_INDEX,
                serde_json::to_string(&ids).unwrap_or_default(),
            )
            .await?;
        }
        self.reload_pool(now_ms).await.map(|_| ())
    }

    pub async fn remove_account(&self, now_ms: u64, id: &str) -> Result<(), GatewayError> {
        let mut ids = self.index_ids().await?;
        ids.retain(|i| i != id);
        self.put(
            keys::ACCOUNTS_INDEX,
            serde_json::to_string(&ids).unwrap_or_default(),
        )
        .await?;
        self.delete(&keys::account(id)).await?;
        with_cache(|c| c.creds.remove(id));
        self.reset_account(now_ms, id).await?;
        self.reload_pool(now_ms).await.map(|_| ())
    }

    async fn index_ids(&self) -> Result<Vec<String>, GatewayError> {
        match self
            .get(keys::ACCOUNTS_INDEX)
            .await?
            .and_then(|text| serde_json::from_str(&text).ok())
        {
            Some(ids) => Ok(ids),
            None => self.rebuild_index().await,
        }
    }

    /// Rebuild the index from `list()` now (admin action after editing KV by hand).
    pub async fn reindex(&self, now_ms: u64) -> Result<Vec<String>, GatewayError> {
        let ids = self.rebuild_index().await?;
        self.reload_pool(now_ms).await?;
        Ok(ids)
    }
}
