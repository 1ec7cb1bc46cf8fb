//! The isolate's shared state: what it read from KV and what it learned since, so that a request
//! in steady state reads no KV at all. One instance per isolate (a `thread_local`: an isolate
//! runs one thread), reached only through [`with`], which never holds the borrow across an await.

use crate::accounts::failover::CredentialsById;
use crate::accounts::pool::PoolState;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

/// The pool state and when it was read.
#[derive(Debug, Clone)]
pub struct CachedPool {
    /// The index, FAILED_ACCOUNTS and ACCOUNT_STATUS as last read, with this isolate's own
    /// changes applied on top since.
    pub state: PoolState,
    /// When it was read from KV (epoch ms); it is read again `ACCOUNT_CACHE_TTL_SECS` later.
    pub loaded_at: u64,
}

#[derive(Default)]
pub struct IsolateCache {
    /// `None` until the first read.
    pub pool: Option<CachedPool>,
    /// Each account's credentials as last read or refreshed. Entries of accounts marked dead
    /// are dropped at every pool read, so that new credentials in KV are seen (and revive them).
    pub creds: CredentialsById,
    /// Accounts whose refreshed credentials KV refused: the isolate's copy holds the only valid
    /// refresh token, and wins over KV until a write succeeds.
    pub unsaved: HashSet<String>,
    /// Accounts being refreshed by a request of this isolate, with when the refresh started (a
    /// refresh older than `refresh::STALE_MS` no longer holds the right).
    pub refreshing: HashMap<String, u64>,
    /// Shared KV keys being read-modified-written by a request of this isolate.
    pub locks: HashSet<&'static str>,
    /// Model lists fetched from providers' `GET /models`, by account id, with when: shown by
    /// `/v1/models`, fetched again after an hour.
    pub model_lists: HashMap<String, (Vec<String>, u64)>,
    /// Pinned ids looked up in KV and not found, with when: asked again within a second, they
    /// are refused without another KV read.
    pub unknown_pins: HashMap<String, u64>,
    /// State changes this isolate made and has not yet seen written, by write: a read of KV in
    /// the meantime gets them applied again, so that the isolate never forgets what it learnt.
    pub pending: Vec<(u64, crate::accounts::pool::StateChange)>,
    /// The number of the last write started.
    pub writes: u64,
}

thread_local! {
    static CACHE: RefCell<IsolateCache> = RefCell::new(IsolateCache::default());
}

/// Runs `f` on the isolate cache. `f` is synchronous: the borrow never spans an await.
pub fn with<R>(f: impl FnOnce(&mut IsolateCache) -> R) -> R {
    CACHE.with(|c| f(&mut c.borrow_mut()))
}
