//! The shared pool state and the pure decisions on it: the FAILED_ACCOUNTS list (the TypeScript
//! worker's daily quota list) and its reset at UTC midnight, whether an account is usable now,
//! and weighted selection. Time is always passed in (`now_ms`, epoch milliseconds).

use crate::accounts::credentials::Credentials;
use crate::accounts::id::AccountId;
use crate::accounts::state::{apply_to_map, Change, StatusMap};
use crate::time::{ms_until_utc_midnight, utc_date};
use serde::{Deserialize, Serialize};

/// FAILED_ACCOUNTS + LAST_FAILED_RESET_DATE, in the TypeScript worker's format
/// (comma-separated ids; `YYYY-MM-DD`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedAccounts {
    pub ids: Vec<String>,
    pub reset_date: Option<String>,
}

impl FailedAccounts {
    pub fn parse(failed: Option<&str>, reset_date: Option<&str>) -> Self {
        let failed = failed.unwrap_or("").trim();
        let ids: Vec<String> = if failed.starts_with('[') {
            serde_json::from_str(failed).unwrap_or_default()
        } else {
            failed
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        FailedAccounts {
            ids,
            reset_date: reset_date
                .map(|d| d.trim().to_owned())
                .filter(|d| !d.is_empty()),
        }
    }

    pub fn to_kv(&self) -> String {
        self.ids.join(",")
    }

    /// Is the list from before today (UTC)? Then it is due for the daily reset. A stale list
    /// still counts as read: deciding and writing the reset is the caller's explicit step.
    pub fn is_stale(&self, now_ms: u64) -> bool {
        self.reset_date.as_deref() != Some(utc_date(now_ms).as_str())
    }

    /// The daily reset: the list empties and is dated today.
    pub fn reset(&mut self, now_ms: u64) {
        self.ids.clear();
        self.reset_date = Some(utc_date(now_ms));
    }

    /// The list as it stands today: empty when it is from an earlier day.
    pub fn current(&self, now_ms: u64) -> FailedAccounts {
        let mut c = self.clone();
        if c.is_stale(now_ms) {
            c.reset(now_ms);
        }
        c
    }

    pub fn contains(&self, id: &str) -> bool {
        self.ids.iter().any(|x| x == id)
    }

    /// Adds an id; true when it was not there.
    pub fn add(&mut self, id: &str) -> bool {
        if self.contains(id) {
            return false;
        }
        self.ids.push(id.to_owned());
        true
    }

    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.ids.len();
        self.ids.retain(|x| x != id);
        before != self.ids.len()
    }
}

/// The shared state every isolate reads: which accounts exist (the `ACCOUNTS` index), which are
/// out of daily quota, and each account's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoolState {
    pub ids: Vec<AccountId>,
    pub failed: FailedAccounts,
    pub status: StatusMap,
}

impl PoolState {
    pub fn contains(&self, id: &str) -> bool {
        self.ids.iter().any(|i| i == id)
    }
}

/// A change to the shared pool state, to be written by the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", content = "args", rename_all = "snake_case")]
pub enum StateChange {
    /// Into `FAILED_ACCOUNTS` until UTC midnight.
    Quota(AccountId),
    /// A change to the account's entry in `ACCOUNT_STATUS`.
    Status(AccountId, Change),
    /// Back to healthy: out of `FAILED_ACCOUNTS`, no state at all.
    Reset(AccountId),
}

impl StateChange {
    /// Applies the change to `pool` (the isolate's copy); true when something changed, so that
    /// the change is worth writing to storage. A quota mark on yesterday's list starts today's.
    pub fn apply_to(&self, pool: &mut PoolState, now_ms: u64) -> bool {
        match self {
            StateChange::Quota(id) => {
                let stale = pool.failed.is_stale(now_ms);
                if stale {
                    pool.failed.reset(now_ms);
                }
                pool.failed.add(id.as_str()) || stale
            }
            StateChange::Status(id, change) => {
                apply_to_map(&mut pool.status, id.as_str(), change, now_ms)
            }
            StateChange::Reset(id) => {
                let unquota = pool.failed.remove(id.as_str());
                apply_to_map(&mut pool.status, id.as_str(), &Change::Clear, now_ms) || unquota
            }
        }
    }

    pub fn account(&self) -> &AccountId {
        match self {
            StateChange::Quota(id) | StateChange::Status(id, _) | StateChange::Reset(id) => id,
        }
    }

    /// Does it touch `FAILED_ACCOUNTS` (and its date)?
    pub fn touches_failed(&self) -> bool {
        matches!(self, StateChange::Quota(_) | StateChange::Reset(_))
    }

    /// Does it touch `ACCOUNT_STATUS`?
    pub fn touches_status(&self) -> bool {
        matches!(self, StateChange::Status(..) | StateChange::Reset(_))
    }
}

/// Why an account is not used right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    QuotaExceeded,
    CoolingDown {
        until_ms: u64,
    },
    /// A plan window spent.
    OutUntil {
        until_ms: u64,
        reason: String,
    },
    Dead {
        reason: String,
        discontinued: bool,
    },
}

/// Why `id` cannot be used now, if it cannot. `creds` are its current credentials, when known:
/// an account declared dead comes back by itself when its credentials were replaced after the
/// declaration (a new login, or a refresh by another isolate that raced ours and won).
pub fn unusable_reason(
    id: &str,
    failed: &FailedAccounts,
    status: &StatusMap,
    now_ms: u64,
    creds: Option<&Credentials>,
) -> Option<Unusable> {
    let st = status.get(id);
    if let Some(s) = st {
        if let Some(reason) = &s.dead_reason {
            // The fingerprint (a hash) is computed only for accounts marked dead.
            let replaced = match (&s.dead_credentials, creds) {
                (Some(dead), Some(c)) => *dead != c.fingerprint(),
                _ => false,
            };
            if !replaced {
                return Some(Unusable::Dead {
                    reason: reason.clone(),
                    discontinued: s.discontinued,
                });
            }
        }
    }
    // A list from an earlier UTC day no longer counts, whether or not its reset is written yet.
    if failed.contains(id) && !failed.is_stale(now_ms) {
        return Some(Unusable::QuotaExceeded);
    }
    if let Some(s) = st {
        if let Some(until) = s.out_until.filter(|u| *u > now_ms) {
            return Some(Unusable::OutUntil {
                until_ms: until,
                reason: s.out_reason.clone().unwrap_or_default(),
            });
        }
    }
    match st.and_then(|s| s.cooldown_until) {
        Some(until) if until > now_ms => Some(Unusable::CoolingDown { until_ms: until }),
        _ => None,
    }
}

/// A usable account as selection sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate<'a> {
    pub id: &'a AccountId,
    /// Access-token expiry (epoch ms); `None` for API-key accounts that never expire.
    pub expiry_ms: Option<u64>,
}

/// Token lifetime used as the weight of a key that never expires, and as the cap for others.
const FULL_WEIGHT_MS: u64 = 3_600_000;
/// Floor so that an account with an expired (still refreshable) token keeps some traffic.
const MIN_WEIGHT_MS: u64 = 60_000;

pub fn weight(c: &Candidate, now_ms: u64) -> u64 {
    match c.expiry_ms {
        None => FULL_WEIGHT_MS,
        Some(e) => e
            .saturating_sub(now_ms)
            .clamp(MIN_WEIGHT_MS, FULL_WEIGHT_MS),
    }
}

/// Pick one candidate with probability proportional to its weight (time its token has left).
/// `unit` is a uniform random number in `[0, 1)`.
pub fn choose<'a>(candidates: &[Candidate<'a>], now_ms: u64, unit: f64) -> Option<&'a AccountId> {
    let total: u64 = candidates.iter().map(|c| weight(c, now_ms)).sum();
    if total == 0 {
        return None;
    }
    let mut target = (unit.clamp(0.0, 1.0 - f64::EPSILON) * total as f64) as u64;
    for c in candidates {
        let w = weight(c, now_ms);
        if target < w {
            return Some(c.id);
        }
        target -= w;
    }
    candidates.last().map(|c| c.id)
}

/// When will the first of these accounts be usable again (ms from now)? Quota recovers at UTC
/// midnight, throttling when its cool-down ends; dead accounts never.
pub fn earliest_recovery_ms(reasons: &[Unusable], now_ms: u64) -> Option<u64> {
    reasons
        .iter()
        .filter_map(|r| match r {
            Unusable::QuotaExceeded => Some(ms_until_utc_midnight(now_ms)),
            Unusable::CoolingDown { until_ms } | Unusable::OutUntil { until_ms, .. } => {
                Some(until_ms.saturating_sub(now_ms))
            }
            Unusable::Dead { .. } => None,
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::state::AccountState;

    const DAY: u64 = 86_400_000;
    // 2026-11-25T12:00:00Z
    const NOON: u64 = 1_795_608_000_000 + 12 * 3_600_000 - 1_795_608_000_000 % DAY;

    #[test]
    fn failed_list_is_stale_from_utc_midnight() {
        let today = utc_date(NOON);
        let mut f = FailedAccounts::parse(Some("a,b"), Some(&utc_date(NOON - DAY)));
        assert!(f.is_stale(NOON));
        assert!(
            f.current(NOON).ids.is_empty(),
            "reading a stale list changes nothing..."
        );
        assert_eq!(f.ids, ["a", "b"], "...in the list itself");
        f.reset(NOON);
        assert!(f.ids.is_empty());
        assert_eq!(f.reset_date.as_deref(), Some(today.as_str()));
        // Same day: nothing to do.
        f.add("c");
        assert!(!f.is_stale(NOON + 3_600_000));
        assert_eq!(f.current(NOON + 3_600_000).to_kv(), "c");
        // One millisecond before midnight it holds, at midnight it is stale.
        let midnight = NOON - NOON % DAY + DAY;
        assert!(!f.is_stale(midnight - 1));
        assert!(f.is_stale(midnight));
        assert_eq!(
            unusable_reason("c", &f, &StatusMap::new(), midnight - 1, None),
            Some(Unusable::QuotaExceeded)
        );
        assert_eq!(
            unusable_reason("c", &f, &StatusMap::new(), midnight, None),
            None
        );
    }

    #[test]
    fn state_changes_travel_as_json() {
        let id = AccountId::parse("a1").unwrap();
        let changes = vec![
            StateChange::Quota(id.clone()),
            StateChange::Status(
                id.clone(),
                Change::CoolDown {
                    until_ms: 5,
                    error: "t".into(),
                },
            ),
            StateChange::Reset(id),
        ];
        let text = serde_json::to_string(&changes).unwrap();
        assert!(text.contains(r#"{"op":"quota","args":"a1"}"#), "{text}");
        assert_eq!(
            serde_json::from_str::<Vec<StateChange>>(&text).unwrap(),
            changes
        );
    }

    #[test]
    fn failed_list_formats() {
        let f = FailedAccounts::parse(Some(" a , b,,"), None);
        assert_eq!(f.ids, vec!["a", "b"]);
        let f = FailedAccounts::parse(Some(r#"["x","y"]"#), Some("2026-01-01"));
        assert_eq!(f.ids, vec!["x", "y"]);
        let mut f = FailedAccounts::parse(None, None);
        assert!(f.add("a"));
        assert!(!f.add("a"));
        assert!(f.remove("a"));
        // Never reset before: due for its first reset.
        assert!(f.is_stale(NOON));
    }

    #[test]
    fn unusable_reasons() {
        let failed = FailedAccounts::parse(Some("q"), Some(&utc_date(NOON)));
        let mut status = StatusMap::new();
        status.insert(
            "d".into(),
            AccountState {
                dead_reason: Some("revoked".into()),
                ..Default::default()
            },
        );
        status.insert(
            "t".into(),
            AccountState {
                cooldown_until: Some(NOON + 5_000),
                ..Default::default()
            },
        );
        assert_eq!(
            unusable_reason("q", &failed, &status, NOON, None),
            Some(Unusable::QuotaExceeded)
        );
        assert!(matches!(
            unusable_reason("d", &failed, &status, NOON, None),
            Some(Unusable::Dead { .. })
        ));
        assert_eq!(
            unusable_reason("t", &failed, &status, NOON, None),
            Some(Unusable::CoolingDown {
                until_ms: NOON + 5_000
            })
        );
        assert_eq!(
            unusable_reason("t", &failed, &status, NOON + 5_000, None),
            None
        );
        assert_eq!(unusable_reason("ok", &failed, &status, NOON, None), None);
        let reasons = [
            Unusable::QuotaExceeded,
            Unusable::CoolingDown {
                until_ms: NOON + 5_000,
            },
        ];
        assert_eq!(earliest_recovery_ms(&reasons, NOON), Some(5_000));
        assert_eq!(
            earliest_recovery_ms(
                &[Unusable::Dead {
                    reason: "x".into(),
                    discontinued: false
                }],
                NOON
            ),
            None
        );
    }

    #[test]
    fn dead_accounts_revive_when_their_credentials_are_replaced() {
        let failed = FailedAccounts::default();
        let died_with = Credentials::parse(r#"{"refresh_token":"old","expiry_date":5}"#).unwrap();
        let fresh_but_same =
            Credentials::parse(r#"{"refresh_token":"old","expiry_date":99999999999999}"#).unwrap();
        let relogged = Credentials::parse(r#"{"refresh_token":"new","expiry_date":6}"#).unwrap();
        let mut status = StatusMap::new();
        status.insert(
            "d".into(),
            AccountState {
                dead_reason: Some("x".into()),
                dead_credentials: Some(died_with.fingerprint()),
                ..Default::default()
            },
        );
        assert!(unusable_reason("d", &failed, &status, NOON, Some(&died_with)).is_some());
        assert!(unusable_reason("d", &failed, &status, NOON, Some(&fresh_but_same)).is_some());
        assert!(unusable_reason("d", &failed, &status, NOON, None).is_some());
        assert_eq!(
            unusable_reason("d", &failed, &status, NOON, Some(&relogged)),
            None
        );
        // A dead mark without a fingerprint (written by hand) holds until reset.
        status.get_mut("d").unwrap().dead_credentials = None;
        assert!(unusable_reason("d", &failed, &status, NOON, Some(&relogged)).is_some());
    }

    #[test]
    fn selection_is_weighted_by_time_left_and_reaches_everyone() {
        let now = NOON;
        let ids: Vec<AccountId> = ["fresh", "old", "expired", "key"]
            .iter()
            .map(|i| AccountId::parse(i).unwrap())
            .collect();
        let c = [
            Candidate {
                id: &ids[0],
                expiry_ms: Some(now + 3_000_000),
            },
            Candidate {
                id: &ids[1],
                expiry_ms: Some(now + 600_000),
            },
            Candidate {
                id: &ids[2],
                expiry_ms: Some(now - 10),
            },
            Candidate {
                id: &ids[3],
                expiry_ms: None,
            },
        ];
        let mut counts = std::collections::BTreeMap::new();
        let n = 10_000;
        for i in 0..n {
            let u = (i as f64 + 0.5) / n as f64;
            *counts
                .entry(choose(&c, now, u).unwrap().as_str())
                .or_insert(0) += 1;
        }
        let total: u64 = c.iter().map(|x| weight(x, now)).sum();
        for x in &c {
            let expected = weight(x, now) as f64 / total as f64 * n as f64;
            let got = counts[x.id.as_str()] as f64;
            assert!(
                (got - expected).abs() < n as f64 * 0.01,
                "{}: got {got}, expected {expected}",
                x.id
            );
        }
        assert!(counts["fresh"] > counts["old"]);
        assert!(counts["expired"] > 0);
        assert_eq!(choose(&[], now, 0.5), None);
        assert_eq!(choose(&c[..1], now, 0.999_999_9), Some(&ids[0]));
    }
}
