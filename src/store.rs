//! The storage procedures of the account domain, written once against [`KvAccess`] and used by
//! both the Worker (its KV binding) and the account tool (wrangler): reading the pool, the rules
//! of the `ACCOUNTS` index, storing and removing an account, writing state changes.
//!
//! Writes of shared keys re-read them first, so that what other writers put there stays.

use crate::accounts::credentials::Credentials;
use crate::accounts::id::AccountId;
use crate::accounts::pool::{FailedAccounts, PoolState, StateChange};
use crate::kv_layout::{self as kv, KvAccess, StoreError};
use crate::time::utc_date;

/// The `ACCOUNTS` index as stored; `None` when it is missing or unreadable.
pub async fn read_index<K: KvAccess>(store: &K) -> Result<Option<Vec<AccountId>>, StoreError> {
    Ok(store
        .get(kv::ACCOUNTS_INDEX)
        .await?
        .and_then(|t| kv::decode_index(&t)))
}

/// Rebuilds the index from the `ACCOUNT:*` keys and stores it. Used when the index is missing
/// (a namespace written by the TypeScript worker) or unreadable, and on request (`reindex`).
pub async fn rebuild_index<K: KvAccess>(store: &K) -> Result<Vec<AccountId>, StoreError> {
    let mut ids: Vec<AccountId> = store
        .list_keys(kv::ACCOUNT_PREFIX)
        .await?
        .iter()
        .filter_map(|k| kv::account_id_of_key(k))
        .collect();
    ids.sort();
    ids.dedup();
    store
        .put(kv::ACCOUNTS_INDEX, &kv::encode_index(&ids))
        .await?;
    Ok(ids)
}

/// The index, rebuilt first when it is missing or unreadable.
pub async fn index<K: KvAccess>(store: &K) -> Result<Vec<AccountId>, StoreError> {
    match read_index(store).await? {
        Some(ids) => Ok(ids),
        None => rebuild_index(store).await,
    }
}

/// The pool's ids as requests see them: the index, with the account of the `QWEN_OAUTH_CREDS`
/// secret first when the secret is set (the one place that rule lives).
pub fn with_secret_account(mut ids: Vec<AccountId>, has_secret: bool) -> Vec<AccountId> {
    if has_secret && !ids.iter().any(|i| i == kv::SECRET_ACCOUNT_ID) {
        if let Ok(id) = AccountId::parse(kv::SECRET_ACCOUNT_ID) {
            ids.insert(0, id);
        }
    }
    ids
}

/// An account's stored credentials; an unreadable record is an error naming the key.
pub async fn read_credentials<K: KvAccess>(
    store: &K,
    id: &AccountId,
) -> Result<Option<Credentials>, StoreError> {
    match store.get(&kv::account_key(id)).await? {
        None => Ok(None),
        Some(text) => Credentials::parse(&text)
            .map(Some)
            .map_err(|e| StoreError(format!("ACCOUNT:{id} is unreadable: {e}"))),
    }
}

/// The whole shared pool state, read fresh (4 reads; a `list` too when the index is rebuilt).
pub async fn read_pool<K: KvAccess>(store: &K, has_secret: bool) -> Result<PoolState, StoreError> {
    let (index, failed, date, status) = futures_util::join!(
        read_index(store),
        store.get(kv::FAILED_ACCOUNTS),
        store.get(kv::LAST_FAILED_RESET_DATE),
        store.get(kv::ACCOUNT_STATUS),
    );
    let ids = match index? {
        Some(ids) => ids,
        None => rebuild_index(store).await?,
    };
    Ok(PoolState {
        ids: with_secret_account(ids, has_secret),
        failed: kv::decode_failed(failed?.as_deref(), date?.as_deref()),
        status: kv::decode_status(status?.as_deref()),
    })
}

/// Writes `changes` into `FAILED_ACCOUNTS` / `ACCOUNT_STATUS`: each key touched is re-read, the
/// changes applied, and written back only if something changed. Returns the keys' new contents
/// (those that were read), for the caller's copy.
pub async fn write_changes<K: KvAccess>(
    store: &K,
    changes: &[StateChange],
    now_ms: u64,
) -> Result<PoolState, StoreError> {
    let mut pool = PoolState::default();
    let failed_too = changes.iter().any(StateChange::touches_failed);
    let status_too = changes.iter().any(StateChange::touches_status);
    if failed_too {
        let (failed, date) = futures_util::join!(
            store.get(kv::FAILED_ACCOUNTS),
            store.get(kv::LAST_FAILED_RESET_DATE)
        );
        pool.failed = kv::decode_failed(failed?.as_deref(), date?.as_deref());
    }
    if status_too {
        pool.status = kv::decode_status(store.get(kv::ACCOUNT_STATUS).await?.as_deref());
    }
    let (failed_before, status_before) = (pool.failed.clone(), pool.status.clone());
    for c in changes {
        c.apply_to(&mut pool, now_ms);
    }
    if failed_too && pool.failed != failed_before {
        store.put(kv::FAILED_ACCOUNTS, &pool.failed.to_kv()).await?;
        if pool.failed.reset_date != failed_before.reset_date {
            let date = pool.failed.reset_date.clone().unwrap_or_default();
            store.put(kv::LAST_FAILED_RESET_DATE, &date).await?;
        }
    }
    if status_too && pool.status != status_before {
        store
            .put(kv::ACCOUNT_STATUS, &kv::encode_status(&pool.status))
            .await?;
    }
    Ok(pool)
}

/// The daily reset of `FAILED_ACCOUNTS`, as its own explicit step: re-read, and when the list is
/// from an earlier UTC day, write it empty and dated today. Returns the list as it now stands.
pub async fn write_daily_reset<K: KvAccess>(
    store: &K,
    now_ms: u64,
) -> Result<FailedAccounts, StoreError> {
    let (failed, date) = futures_util::join!(
        store.get(kv::FAILED_ACCOUNTS),
        store.get(kv::LAST_FAILED_RESET_DATE)
    );
    let mut list = kv::decode_failed(failed?.as_deref(), date?.as_deref());
    if list.is_stale(now_ms) {
        list.reset(now_ms);
        store.put(kv::FAILED_ACCOUNTS, "").await?;
        store
            .put(kv::LAST_FAILED_RESET_DATE, &utc_date(now_ms))
            .await?;
    }
    Ok(list)
}

/// Stores an account's credentials and its place in the index; returns the index. Its state is
/// cleared with [`StateChange::Reset`] by the caller (see [`store_account`]).
pub async fn put_account<K: KvAccess>(
    store: &K,
    id: &AccountId,
    creds: &Credentials,
) -> Result<Vec<AccountId>, StoreError> {
    store.put(&kv::account_key(id), &creds.to_json()).await?;
    let mut ids = index(store).await?;
    if !ids.contains(id) {
        ids.push(id.clone());
        store
            .put(kv::ACCOUNTS_INDEX, &kv::encode_index(&ids))
            .await?;
    }
    Ok(ids)
}

/// Takes an account out of the index first (so requests stop choosing it), then deletes its
/// credentials. False when there was nothing to remove. Its state is cleared by the caller.
pub async fn drop_account<K: KvAccess>(store: &K, id: &AccountId) -> Result<bool, StoreError> {
    let key = kv::account_key(id);
    let exists = store.get(&key).await?.is_some();
    let mut ids = read_index(store).await?.unwrap_or_default();
    let indexed = ids.contains(id);
    if !exists && !indexed {
        return Ok(false);
    }
    if indexed {
        ids.retain(|i| i != id);
        store
            .put(kv::ACCOUNTS_INDEX, &kv::encode_index(&ids))
            .await?;
    }
    if exists {
        store.delete(&key).await?;
    }
    Ok(true)
}

/// Stores an account and clears its state (a freshly stored account starts healthy).
pub async fn store_account<K: KvAccess>(
    store: &K,
    id: &AccountId,
    creds: &Credentials,
    now_ms: u64,
) -> Result<Vec<AccountId>, StoreError> {
    let ids = put_account(store, id, creds).await?;
    write_changes(store, &[StateChange::Reset(id.clone())], now_ms).await?;
    Ok(ids)
}

/// Removes an account and its state; false when there was nothing to remove.
pub async fn remove_account<K: KvAccess>(
    store: &K,
    id: &AccountId,
    now_ms: u64,
) -> Result<bool, StoreError> {
    let removed = drop_account(store, id).await?;
    if removed {
        write_changes(store, &[StateChange::Reset(id.clone())], now_ms).await?;
    }
    Ok(removed)
}

#[cfg(test)]
pub mod memory {
    //! An in-memory [`KvAccess`] for native tests, with operation counts.

    use super::*;
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    #[derive(Default)]
    pub struct MemoryKv {
        pub data: RefCell<BTreeMap<String, String>>,
        pub writes: RefCell<Vec<String>>,
    }

    impl MemoryKv {
        pub fn with(pairs: &[(&str, &str)]) -> Self {
            let kv = MemoryKv::default();
            for (k, v) in pairs {
                kv.data.borrow_mut().insert((*k).into(), (*v).into());
            }
            kv
        }

        pub fn value(&self, k: &str) -> Option<String> {
            self.data.borrow().get(k).cloned()
        }
    }

    impl KvAccess for MemoryKv {
        async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
            Ok(self.value(key))
        }
        async fn put(&self, key: &str, value: &str) -> Result<(), StoreError> {
            self.writes.borrow_mut().push(key.into());
            self.data.borrow_mut().insert(key.into(), value.into());
            Ok(())
        }
        async fn delete(&self, key: &str) -> Result<(), StoreError> {
            self.writes.borrow_mut().push(format!("-{key}"));
            self.data.borrow_mut().remove(key);
            Ok(())
        }
        async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
            Ok(self
                .data
                .borrow()
                .keys()
                .filter(|k| k.starts_with(prefix))
                .cloned()
                .collect())
        }
    }

    pub use crate::kv_layout::block_on_ready as run;
}

#[cfg(test)]
mod tests {
    use super::memory::{run, MemoryKv};
    use super::*;
    use crate::accounts::state::Change;
    use crate::time::DAY_MS;

    const NOW: u64 = 1_795_608_000_000;
    const CREDS: &str = r#"{"access_token":"a","refresh_token":"r","expiry_date":5}"#;

    fn id(s: &str) -> AccountId {
        AccountId::parse(s).unwrap()
    }

    #[test]
    fn a_typescript_namespace_gets_its_index_built_once() {
        let kv = MemoryKv::with(&[
            ("ACCOUNT:ts-a", CREDS),
            ("ACCOUNT:ts-b", CREDS),
            ("ACCOUNT:bad/id", CREDS),
            ("FAILED_ACCOUNTS", "ts-b"),
        ]);
        let pool = run(read_pool(&kv, false)).unwrap();
        assert_eq!(pool.ids, [id("ts-a"), id("ts-b")]);
        assert_eq!(kv.value("ACCOUNTS").unwrap(), r#"["ts-a","ts-b"]"#);
        assert!(pool.failed.contains("ts-b"));
        kv.writes.borrow_mut().clear();
        run(read_pool(&kv, false)).unwrap();
        assert!(kv.writes.borrow().is_empty(), "reads never write");
        // An unreadable index is rebuilt too.
        kv.data
            .borrow_mut()
            .insert("ACCOUNTS".into(), "{oops".into());
        assert_eq!(run(read_pool(&kv, false)).unwrap().ids.len(), 2);
    }

    #[test]
    fn the_secret_account_is_added_in_one_place() {
        let kv = MemoryKv::with(&[("ACCOUNTS", r#"["a"]"#)]);
        assert_eq!(
            run(read_pool(&kv, true)).unwrap().ids,
            [id("default"), id("a")]
        );
        assert_eq!(run(read_pool(&kv, false)).unwrap().ids, [id("a")]);
        let kv = MemoryKv::with(&[("ACCOUNTS", r#"["a","default"]"#)]);
        assert_eq!(
            run(read_pool(&kv, true)).unwrap().ids,
            [id("a"), id("default")]
        );
    }

    #[test]
    fn storing_an_account_indexes_it_and_clears_its_state() {
        let kv = MemoryKv::with(&[
            ("ACCOUNTS", r#"["a"]"#),
            ("FAILED_ACCOUNTS", "a,b"),
            ("LAST_FAILED_RESET_DATE", &utc_date(NOW)),
            (
                "ACCOUNT_STATUS",
                r#"{"b":{"dead_reason":"x"},"a":{"last_error":"y"}}"#,
            ),
        ]);
        let creds = Credentials::parse(CREDS).unwrap();
        let ids = run(store_account(&kv, &id("b"), &creds, NOW)).unwrap();
        assert_eq!(ids, [id("a"), id("b")]);
        assert_eq!(kv.value("FAILED_ACCOUNTS").unwrap(), "a");
        assert_eq!(
            kv.value("ACCOUNT_STATUS").unwrap(),
            r#"{"a":{"last_error":"y"}}"#
        );
        assert_eq!(kv.value("ACCOUNT:b").unwrap(), creds.to_json());
        // Again: the index does not grow, nothing else changes.
        kv.writes.borrow_mut().clear();
        run(store_account(&kv, &id("b"), &creds, NOW)).unwrap();
        assert_eq!(*kv.writes.borrow(), ["ACCOUNT:b"]);
    }

    #[test]
    fn removing_an_account_takes_it_out_of_the_index_first() {
        let kv = MemoryKv::with(&[("ACCOUNTS", r#"["a","b"]"#), ("ACCOUNT:b", CREDS)]);
        assert!(run(remove_account(&kv, &id("b"), NOW)).unwrap());
        assert_eq!(
            kv.writes.borrow()[..2],
            ["ACCOUNTS".to_string(), "-ACCOUNT:b".into()]
        );
        assert_eq!(kv.value("ACCOUNTS").unwrap(), r#"["a"]"#);
        assert!(!run(remove_account(&kv, &id("b"), NOW)).unwrap());
    }

    #[test]
    fn changes_are_merged_into_what_storage_holds_now() {
        // Another writer marked x since this isolate last read: its mark stays.
        let kv = MemoryKv::with(&[
            ("FAILED_ACCOUNTS", "x"),
            ("LAST_FAILED_RESET_DATE", &utc_date(NOW)),
        ]);
        let changes = [
            StateChange::Quota(id("y")),
            StateChange::Status(
                id("y"),
                Change::Error {
                    error: "quota".into(),
                },
            ),
        ];
        run(write_changes(&kv, &changes, NOW)).unwrap();
        assert_eq!(kv.value("FAILED_ACCOUNTS").unwrap(), "x,y");
        assert!(kv.value("ACCOUNT_STATUS").unwrap().contains("\"y\""));
        // Yesterday's list: today's starts with the new mark, dated today.
        let kv = MemoryKv::with(&[
            ("FAILED_ACCOUNTS", "x"),
            ("LAST_FAILED_RESET_DATE", &utc_date(NOW - DAY_MS)),
        ]);
        run(write_changes(&kv, &[StateChange::Quota(id("y"))], NOW)).unwrap();
        assert_eq!(kv.value("FAILED_ACCOUNTS").unwrap(), "y");
        assert_eq!(kv.value("LAST_FAILED_RESET_DATE").unwrap(), utc_date(NOW));
    }

    #[test]
    fn the_daily_reset_is_written_once() {
        let kv = MemoryKv::with(&[
            ("FAILED_ACCOUNTS", "x"),
            ("LAST_FAILED_RESET_DATE", &utc_date(NOW - DAY_MS)),
        ]);
        assert!(run(write_daily_reset(&kv, NOW)).unwrap().ids.is_empty());
        assert_eq!(kv.writes.borrow().len(), 2);
        run(write_daily_reset(&kv, NOW + 1)).unwrap();
        assert_eq!(kv.writes.borrow().len(), 2, "already reset today");
    }
}
