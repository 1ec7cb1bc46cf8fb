//! The KV binding, behind the shared [`KvAccess`] interface, with this isolate's operation
//! counters (shown in `/admin/health`, read by the benchmarks). Each operation is one call to
//! `js/bindings.js`.

use super::fetch::js_detail;
use crate::error::GatewayError;
use crate::kv_layout::{KvAccess, StoreError, BINDING};
use js_sys::Promise;
use std::cell::Cell;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
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

#[wasm_bindgen(module = "/src/worker/js/bindings.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = kvGet)]
    fn kv_get(ns: &JsValue, key: &str) -> Result<Promise, JsValue>;
    #[wasm_bindgen(catch, js_name = kvPut)]
    fn kv_put(ns: &JsValue, key: &str, value: &str, ttl_secs: f64) -> Result<Promise, JsValue>;
    #[wasm_bindgen(catch, js_name = kvDelete)]
    fn kv_delete(ns: &JsValue, key: &str) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_name = kvList)]
    fn kv_list(ns: &JsValue, prefix: &str, cursor: Option<String>) -> Promise;

    /// What `kvList` resolves to: one page of key names, and the cursor of the next (none on
    /// the last page).
    type Page;
    #[wasm_bindgen(method, getter)]
    fn names(this: &Page) -> Vec<String>;
    #[wasm_bindgen(method, getter)]
    fn cursor(this: &Page) -> Option<String>;
}

/// The namespace of accounts and pool state.
#[derive(Clone)]
pub struct Kv {
    ns: JsValue,
}

fn failed(what: &str, key: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("KV {what} of {key} failed: {e}"))
}

/// Waits for a KV call: its value, or the runtime's error as `what` of `key` failing.
async fn settled(
    call: Result<Promise, JsValue>,
    what: &str,
    key: &str,
) -> Result<JsValue, StoreError> {
    let promise = call.map_err(|e| failed(what, key, js_detail(e)))?;
    JsFuture::from(promise)
        .await
        .map_err(|e| failed(what, key, js_detail(e)))
}

impl Kv {
    pub fn from_env(env: &Env) -> Result<Kv, GatewayError> {
        let ns = super::ctx::binding(env, BINDING);
        if !ns.is_object() {
            return Err(GatewayError::Storage {
                message: format!("the KV binding {BINDING} is missing in wrangler.toml"),
            });
        }
        Ok(Kv { ns })
    }

    /// A value that KV drops by itself after `ttl_secs` (at least KV's minimum of 60 s).
    pub async fn put_with_ttl(
        &self,
        key: &str,
        value: &str,
        ttl_secs: u64,
    ) -> Result<(), StoreError> {
        count(|c| c.writes += 1);
        let ttl = ttl_secs.max(60) as f64;
        settled(kv_put(&self.ns, key, value, ttl), "write", key).await?;
        Ok(())
    }
}

impl KvAccess for Kv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        count(|c| c.reads += 1);
        Ok(settled(kv_get(&self.ns, key), "read", key)
            .await?
            .as_string())
    }

    async fn put(&self, key: &str, value: &str) -> Result<(), StoreError> {
        count(|c| c.writes += 1);
        settled(kv_put(&self.ns, key, value, 0.0), "write", key).await?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        count(|c| c.deletes += 1);
        settled(kv_delete(&self.ns, key), "delete", key).await?;
        Ok(())
    }

    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            count(|c| c.lists += 1);
            let page: Page = settled(Ok(kv_list(&self.ns, prefix, cursor.take())), "list", prefix)
                .await?
                .unchecked_into();
            keys.extend(page.names());
            match page.cursor() {
                Some(c) => cursor = Some(c),
                None => return Ok(keys),
            }
        }
    }
}
