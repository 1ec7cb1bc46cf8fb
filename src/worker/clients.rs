//! Named client keys as an isolate sees them: each key's record and spend read from the ledger
//! at most every `KEY_TTL_MS` (so a revocation or a change of limits reaches every isolate
//! within that time), and its request permits. What is decided is in `ledger::{keys, limits}`.

use super::ledger::{self, Looked, Op};
use crate::api::keys::KeyId;
use crate::error::GatewayError;
use crate::ledger::keys::{id_in, verify, NamedKey};
use crate::ledger::limits::{batch, check_budgets, Grant, Permits, Spend};
use std::cell::RefCell;
use std::collections::HashMap;
use worker::Env;

/// How long an isolate trusts what it read of a key (its record and spend).
pub const KEY_TTL_MS: u64 = 5_000;

struct Entry {
    key: Option<NamedKey>,
    spend: Spend,
    fetched_ms: u64,
    permits: Permits,
}

thread_local! {
    static ENTRIES: RefCell<HashMap<String, Entry>> = RefCell::new(HashMap::new());
    /// Whether the ledger holds any key, and when that was read.
    static ANY_KEYS: RefCell<Option<(bool, u64)>> = const { RefCell::new(None) };
}

fn storage(e: String) -> GatewayError {
    GatewayError::Storage {
        message: format!("client keys: {e}"),
    }
}

/// The isolate's entry for `id`, read from the ledger when missing or stale (with permits, when
/// `want` > 0 and the key has a rate limit). A ledger that fails keeps a stale entry in use.
async fn entry(env: &Env, id: &str, now_ms: u64, want: u64) -> Result<(), GatewayError> {
    let fresh = ENTRIES.with(|e| {
        e.borrow()
            .get(id)
            .is_some_and(|x| now_ms < x.fetched_ms.saturating_add(KEY_TTL_MS))
    });
    if fresh {
        return Ok(());
    }
    let op = Op::Lookup {
        id: id.to_owned(),
        now_ms,
        permits: want,
    };
    match ledger::ask::<Looked>(env, &op).await {
        Some(Ok(looked)) => {
            ENTRIES.with(|e| {
                let mut e = e.borrow_mut();
                let entry = e.entry(id.to_owned()).or_insert(Entry {
                    key: None,
                    spend: Spend::default(),
                    fetched_ms: 0,
                    permits: Permits::default(),
                });
                entry.key = looked.key;
                entry.spend = looked.spend;
                entry.fetched_ms = now_ms;
                if let Some(g) = looked.grant {
                    entry.permits.fill(g);
                }
            });
            Ok(())
        }
        None => Err(GatewayError::Unauthorized),
        Some(Err(e)) => {
            let known = ENTRIES.with(|x| x.borrow().contains_key(id));
            if known {
                worker::console_error!("client keys: {e}; using what this isolate read before");
                Ok(())
            } else {
                Err(storage(e))
            }
        }
    }
}

fn with_entry<R>(id: &str, f: impl FnOnce(&mut Entry) -> R) -> Option<R> {
    ENTRIES.with(|e| e.borrow_mut().get_mut(id).map(f))
}

/// The caller presenting `presented`, a key of ours (`sk-qw-…`): a named key that exists,
/// matches and is active, or the reason it is refused.
pub async fn identify(env: &Env, presented: &str, now_ms: u64) -> Result<KeyId, GatewayError> {
    let id = id_in(presented).ok_or(GatewayError::Unauthorized)?;
    entry(env, id, now_ms, 0).await?;
    let key = with_entry(id, |e| e.key.clone())
        .flatten()
        .ok_or(GatewayError::Unauthorized)?;
    if !verify(presented, &key) {
        return Err(GatewayError::Unauthorized);
    }
    if let Some(why) = key.inactive(now_ms) {
        return Err(GatewayError::KeyInactive {
            id: id.to_owned(),
            why,
        });
    }
    Ok(KeyId::named(id))
}

/// Whether the ledger holds any named key (read at most every `KEY_TTL_MS`): a deployment
/// without keys in its secrets is public only while it has no named key either.
pub async fn any_keys(env: &Env, now_ms: u64) -> bool {
    if let Some((any, at)) = ANY_KEYS.with(|a| *a.borrow()) {
        if now_ms < at.saturating_add(KEY_TTL_MS) {
            return any;
        }
    }
    let any = match ledger::ask::<u64>(env, &Op::Count).await {
        Some(Ok(n)) => n > 0,
        None => false,
        // Unknown: refuse rather than open a deployment that may have keys.
        Some(Err(e)) => {
            worker::console_error!("client keys: {e}");
            true
        }
    };
    ANY_KEYS.with(|a| *a.borrow_mut() = Some((any, now_ms)));
    any
}

/// May the named key `id` make this request now? Its expiry, its models (`asked`, or the model
/// it stands for, `resolved`), its request rate and its token budgets.
pub async fn admit(
    env: &Env,
    id: &KeyId,
    asked: &str,
    resolved: &str,
    now_ms: u64,
) -> Result<(), GatewayError> {
    let id = id.as_str();
    entry(env, id, now_ms, 0).await?;
    let key = with_entry(id, |e| e.key.clone())
        .flatten()
        .ok_or(GatewayError::Unauthorized)?;
    if let Some(why) = key.inactive(now_ms) {
        return Err(GatewayError::KeyInactive {
            id: id.to_owned(),
            why,
        });
    }
    if !key.allows_model(asked, resolved) {
        return Err(GatewayError::ModelNotAllowed {
            model: asked.to_owned(),
            allowed: key.models.clone(),
        });
    }
    if let Some(limit) = key.limits.requests_per_minute {
        if !with_entry(id, |e| e.permits.take(now_ms)).unwrap_or(false) {
            let op = Op::Permits {
                id: id.to_owned(),
                limit,
                want: batch(limit),
                now_ms,
            };
            let grant = match ledger::ask::<Grant>(env, &op).await {
                Some(Ok(g)) => g,
                Some(Err(e)) => return Err(storage(e)),
                None => return Err(storage("no LEDGER binding".into())),
            };
            let admitted = with_entry(id, |e| {
                e.permits.fill(grant);
                e.permits.take(now_ms)
            })
            .unwrap_or(false);
            if !admitted {
                return Err(Permits::refusal(limit, grant, now_ms));
            }
        }
    }
    let spend = with_entry(id, |e| e.spend.clone()).unwrap_or_default();
    check_budgets(&key.limits, &spend, now_ms)
}

/// `tokens` more spent by `id` (known here before the ledger has them).
pub fn spent(id: &str, tokens: u64, now_ms: u64) {
    with_entry(id, |e| e.spend.add(tokens, now_ms));
}

/// The ledger's figure of `id`'s spend, after a request was recorded.
pub fn recorded(id: &str, spend: Spend) {
    with_entry(id, |e| e.spend = spend);
}

/// Forgets what this isolate read of `id` (after an admin changed it here).
pub fn forget(id: &str) {
    ENTRIES.with(|e| e.borrow_mut().remove(id));
    ANY_KEYS.with(|a| *a.borrow_mut() = None);
}
