//! The KV binding, behind the shared [`KvAccess`] interface, with this isolate's operation
//! counters (shown in `/admin/health`, read by the benchmarks).

use crate::error::GatewayError;
use crate::kv_layout::{KvAccess, StoreError, BINDING};
use std::cell::Cell;
use worker::kv::KvStore;
use worker::Env;

/// KV operations done by this isolate.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct KvCounters {
    pub reads: u64,
    pub writes: u64,
    pub lists: u64,
    pub deletes: u64,
}

thread_local! {
    static COUNTERS: Cell<KvCounters> = const { Cell::new(KvCounters { reads: 0, writes: 0, lists: 0, deletes: 0 }) };
}

fn count(f: impl FnOnce(&mut KvCounters)) {
    COUNTERS.with(|c| {
        let mut v = c.get();
        f(&mut v);
        c.set(v);
    });
}

pub fn counters() -> KvCounters {
    COUNTERS.with(Cell::get)
}

/// The namespace of accounts and pool state.
#[derive(Clone)]
pub struct Kv {
    store: KvStore,
}

fn failed(what: &str, key: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("KV {what} of {key} failed: {e}"))
}

impl Kv {
    pub fn from_env(env: &Env) -> Result<Kv, GatewayError> {
        env.kv(BINDING)
            .map(|store| Kv { store })
            .map_err(|_| GatewayError::Storage {
                message: format!("the KV binding {BINDING} is missing in wrangler.toml"),
            })
    }

    /// A value that KV drops by itself after `ttl_secs` (at least KV's minimum of 60 s).
    pub async fn put_with_ttl(
        &self,
        key: &str,
        value: &str,
        ttl_secs: u64,
    ) -> Result<(), StoreError> {
        count(|c| c.writes += 1);
        self.store
            .put(key, value)
            .map_err(|e| failed("write", key, e))?
            .expiration_ttl(ttl_secs.max(60))
            .execute()
            .await
            .map_err(|e| failed("write", key, e))
    }
}

impl KvAccess for Kv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        count(|c| c.reads += 1);
        self.store
            .get(key)
            .text()
            .await
            .map_err(|e| failed("read", key, e))
    }

    async fn put(&self, key: &str, value: &str) -> Result<(), StoreError> {
        count(|c| c.writes += 1);
        self.store
            .put(key, value)
            .map_err(|e| failed("write", key, e))?
            .execute()
            .await
            .map_err(|e| failed("write", key, e))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        count(|c| c.deletes += 1);
        self.store
            .delete(key)
            .await
            .map_err(|e| failed("delete", key, e))
    }

    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            count(|c| c.lists += 1);
            let mut list = self.store.list().prefix(prefix.to_owned());
            if let Some(cur) = cursor.take() {
                list = list.cursor(cur);
            }
            let page = list
                .execute()
                .await
                .map_err(|e| failed("list", prefix, e))?;
            keys.extend(page.keys.into_iter().map(|k| k.name));
            match page.cursor {
                Some(c) if !page.list_complete && !c.is_empty() => cursor = Some(c),
                _ => return Ok(keys),
            }
        }
    }
}
