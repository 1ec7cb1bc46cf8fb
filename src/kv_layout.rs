//! Every key the gateway keeps in Workers KV, and how its value is written and read. The Worker
//! and the account tool both go through here; the keys of the TypeScript Qwen worker keep its
//! names and formats, so a namespace it wrote is served as it is.
//!
//! | key | written by | value |
//! |---|---|---|
//! | `ACCOUNT:<id>` | admin API, account tool, refreshes | credentials JSON (see `accounts::credentials`) |
//! | `ACCOUNTS` | gateway, admin API, account tool | JSON array of account ids (ours) |
//! | `FAILED_ACCOUNTS` | gateway | comma-separated ids out of daily quota (TypeScript worker's) |
//! | `LAST_FAILED_RESET_DATE` | gateway | UTC `YYYY-MM-DD` of the last reset (TypeScript worker's) |
//! | `ACCOUNT_STATUS` | gateway | JSON `{id: AccountState}` (ours) |
//! | `LOGIN:<id>` | admin login | a device flow in progress, expiring with its code (ours) |

use crate::accounts::id::AccountId;
use crate::accounts::pool::FailedAccounts;
use crate::accounts::state::StatusMap;
pub use crate::error::StoreError;
use crate::qwen::device_flow::DeviceLogin;

/// The KV namespace binding.
pub const BINDING: &str = "QWEN_TOKEN_CACHE";
pub const ACCOUNT_PREFIX: &str = "ACCOUNT:";
pub const ACCOUNTS_INDEX: &str = "ACCOUNTS";
pub const FAILED_ACCOUNTS: &str = "FAILED_ACCOUNTS";
pub const LAST_FAILED_RESET_DATE: &str = "LAST_FAILED_RESET_DATE";
pub const ACCOUNT_STATUS: &str = "ACCOUNT_STATUS";
pub const LOGIN_PREFIX: &str = "LOGIN:";

/// The account that the `QWEN_OAUTH_CREDS` secret provides.
pub const SECRET_ACCOUNT_ID: &str = "default";

pub fn account_key(id: &AccountId) -> String {
    format!("{ACCOUNT_PREFIX}{id}")
}

pub fn login_key(id: &AccountId) -> String {
    format!("{LOGIN_PREFIX}{id}")
}

/// The account id of an `ACCOUNT:<id>` key; `None` for other keys and unusable ids.
pub fn account_id_of_key(key: &str) -> Option<AccountId> {
    AccountId::parse(key.strip_prefix(ACCOUNT_PREFIX)?).ok()
}

/// The `ACCOUNTS` index; `None` when it is not a JSON array of valid ids (then it is rebuilt).
pub fn decode_index(text: &str) -> Option<Vec<AccountId>> {
    serde_json::from_str(text).ok()
}

pub fn encode_index(ids: &[AccountId]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".into())
}

/// `ACCOUNT_STATUS`; unreadable or missing is empty (the state is advisory).
pub fn decode_status(text: Option<&str>) -> StatusMap {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default()
}

pub fn encode_status(map: &StatusMap) -> String {
    serde_json::to_string(map).unwrap_or_else(|_| "{}".into())
}

/// `FAILED_ACCOUNTS` with `LAST_FAILED_RESET_DATE`.
pub fn decode_failed(failed: Option<&str>, reset_date: Option<&str>) -> FailedAccounts {
    FailedAccounts::parse(failed, reset_date)
}

pub fn decode_login(text: &str) -> Option<DeviceLogin> {
    serde_json::from_str(text).ok()
}

pub fn encode_login(login: &DeviceLogin) -> String {
    serde_json::to_string(login).unwrap_or_default()
}

/// KV as both sides reach it: the Worker through its binding, the account tool through wrangler.
/// The procedures of `accounts::store` are written once against this.
#[allow(async_fn_in_trait)]
pub trait KvAccess {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn put(&self, key: &str, value: &str) -> Result<(), StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Every key that starts with `prefix`, all pages.
    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
}

/// Runs a future whose I/O never waits to be woken: a [`KvAccess`] that blocks inside each call
/// (the account tool's wrangler commands), or one that is all in memory (tests).
pub fn block_on_ready<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_codecs() {
        let id = AccountId::parse("a@b.c").unwrap();
        assert_eq!(account_key(&id), "ACCOUNT:a@b.c");
        assert_eq!(login_key(&id), "LOGIN:a@b.c");
        assert_eq!(account_id_of_key("ACCOUNT:a@b.c"), Some(id.clone()));
        assert_eq!(account_id_of_key("ACCOUNT:../x"), None);
        assert_eq!(account_id_of_key("FAILED_ACCOUNTS"), None);
        assert_eq!(
            decode_index(&encode_index(std::slice::from_ref(&id))),
            Some(vec![id])
        );
        assert_eq!(decode_index("{}"), None);
        assert_eq!(decode_index(r#"["ok","bad/id"]"#), None);
        assert!(decode_status(Some("garbage")).is_empty());
        assert!(decode_status(None).is_empty());
    }
}
