//! The pool state as the isolate holds it: read from KV at most once per
//! `ACCOUNT_CACHE_TTL_SECS`, changed in the isolate at once when a request learns something, and
//! written to KV after (best effort: the isolate already acts on the new state). Reading never
//! writes; the daily reset of FAILED_ACCOUNTS is its own explicit step.

use super::accounts;
use super::cache::{self, CachedPool};
use super::fetch::sleep_ms;
use super::kv::Kv;
use super::pool_writer::{self, Written};
use crate::accounts::failover::CredentialsById;
use crate::accounts::pool::{PoolState, StateChange};
use crate::config::Config;
use crate::kv_layout as kv;
use crate::kv_layout::StoreError;
use crate::store;
use worker::Env;

/// A read-modify-write of a shared key waits at most this long for another request of this
/// isolate to finish its own, then goes ahead without the lock.
const LOCK_WAIT_MS: u64 = 2_000;
const LOCK_STEP_MS: u64 = 5;

/// Isolate-wide mutual exclusion for a read-modify-write of one shared KV key, released on drop.
struct KeyLock(&'static str);

impl Drop for KeyLock {
    fn drop(&mut self) {
        cache::with(|c| c.locks.remove(self.0));
    }
}

/// The lock on `key`, or `None` when another request held it for longer than the bound (a
/// holder that never finished must not block the isolate for good). `None` owns nothing, so it
/// can never release somebody else's lock.
async fn lock(key: &'static str) -> Option<KeyLock> {
    let mut waited = 0;
    loop {
        if cache::with(|c| c.locks.insert(key)) {
            return Some(KeyLock(key));
        }
        if waited >= LOCK_WAIT_MS {
            return None;
        }
        sleep_ms(LOCK_STEP_MS).await;
        waited += LOCK_STEP_MS;
    }
}

/// Makes sure the isolate's copy of the pool state is at most the TTL old (re-reading KV if
/// not); look at it with [`with_pool`].
pub async fn refresh_if_stale(kv: &Kv, cfg: &Config, now_ms: u64) -> Result<(), StoreError> {
    let fresh = cache::with(|c| {
        c.pool
            .as_ref()
            .is_some_and(|p| now_ms < p.loaded_at.saturating_add(cfg.cache_ttl_ms))
    });
    if !fresh {
        reload(kv, cfg, now_ms).await?;
    }
    Ok(())
}

/// Runs `f` on the isolate's pool state and credentials without copying them (an empty pool
/// until the first read).
pub fn with_pool<R>(f: impl FnOnce(&PoolState, &CredentialsById) -> R) -> R {
    cache::with(|c| match &c.pool {
        Some(p) => f(&p.state, &c.creds),
        None => f(&PoolState::default(), &c.creds),
    })
}

/// A copy of the pool state, fresh within the TTL (for the admin views).
pub async fn current(kv: &Kv, cfg: &Config, now_ms: u64) -> Result<PoolState, StoreError> {
    refresh_if_stale(kv, cfg, now_ms).await?;
    Ok(with_pool(|p, _| p.clone()))
}

/// Reads the pool state from KV now, and the credentials of every account the isolate does not
/// hold yet.
pub async fn reload(kv: &Kv, cfg: &Config, now_ms: u64) -> Result<PoolState, StoreError> {
    let mut state = store::read_pool(kv, cfg.secret_creds.is_some()).await?;
    // Dead accounts' credentials are read again: new ones (a new login, another isolate's
    // refresh) bring the account back.
    for (id, st) in &state.status {
        if st.dead_reason.is_some() {
            accounts::forget(id);
        }
    }
    cache::with(|c| {
        // What this isolate learnt and has not seen written yet still holds.
        for (_, change) in &c.pending {
            change.apply_to(&mut state, now_ms);
        }
        c.pool = Some(CachedPool {
            state: state.clone(),
            loaded_at: now_ms,
        })
    });
    accounts::load_all(kv, cfg, &state.ids).await;
    Ok(state)
}

/// The daily reset of FAILED_ACCOUNTS, as an explicit step before selection: when the isolate's
/// list is from an earlier UTC day, KV decides (another isolate may have reset it already and
/// recorded today's failures) and the reset is written once.
pub async fn ensure_daily_reset(kv: &Kv, now_ms: u64) {
    let stale = cache::with(|c| {
        c.pool
            .as_ref()
            .is_some_and(|p| p.state.failed.is_stale(now_ms))
    });
    if !stale {
        return;
    }
    let _held = lock(kv::FAILED_ACCOUNTS).await;
    match store::write_daily_reset(kv, now_ms).await {
        Ok(list) => cache::with(|c| {
            if let Some(p) = c.pool.as_mut() {
                p.state.failed = list;
            }
        }),
        Err(e) => worker::console_error!("FAILED_ACCOUNTS reset: {e}"),
    }
}

/// Applies `changes` to the isolate's copy at once; returns those that changed something (what
/// is worth writing with [`write`]).
pub fn apply_here(changes: Vec<StateChange>, now_ms: u64) -> Vec<StateChange> {
    cache::with(|c| match c.pool.as_mut() {
        Some(p) => changes
            .into_iter()
            .filter(|ch| ch.apply_to(&mut p.state, now_ms))
            .collect(),
        None => changes,
    })
}

/// Writes `changes` to KV, merged with what other isolates wrote there: through the pool writer
/// (one Durable Object, so that no isolate's change is lost to another's), or, in a deployment
/// without it, under this isolate's lock. The isolate then takes KV's result as its copy of the
/// keys touched.
pub async fn write(
    env: &Env,
    kv: &Kv,
    changes: Vec<StateChange>,
    now_ms: u64,
) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    let token = cache::with(|c| {
        c.writes += 1;
        let token = c.writes;
        c.pending
            .extend(changes.iter().cloned().map(|ch| (token, ch)));
        token
    });
    let written = match pool_writer::send(env, &changes, now_ms).await {
        Some(Ok(w)) => Ok(w),
        other => {
            if let Some(Err(e)) = other {
                worker::console_error!("pool writer: {e}; writing from this isolate");
            }
            write_here(kv, &changes, now_ms).await
        }
    };
    cache::with(|c| {
        c.pending.retain(|(t, _)| *t != token);
        let (Ok(written), Some(p)) = (&written, c.pool.as_mut()) else {
            return;
        };
        if let Some(failed) = &written.failed {
            p.state.failed = failed.clone();
        }
        if let Some(status) = &written.status {
            p.state.status = status.clone();
        }
        // Other requests' changes still on their way to KV.
        for (_, change) in &c.pending {
            change.apply_to(&mut p.state, now_ms);
        }
    });
    written.map(|_| ())
}

/// The write itself, under this isolate's lock on each key it touches.
async fn write_here(kv: &Kv, changes: &[StateChange], now_ms: u64) -> Result<Written, StoreError> {
    let touches_failed = changes.iter().any(StateChange::touches_failed);
    let touches_status = changes.iter().any(StateChange::touches_status);
    let _failed_lock = if touches_failed {
        lock(kv::FAILED_ACCOUNTS).await
    } else {
        None
    };
    let _status_lock = if touches_status {
        lock(kv::ACCOUNT_STATUS).await
    } else {
        None
    };
    let pool = store::write_changes(kv, changes, now_ms).await?;
    Ok(Written {
        failed: touches_failed.then_some(pool.failed),
        status: touches_status.then_some(pool.status),
    })
}
