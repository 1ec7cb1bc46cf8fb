//! The account pool's pure state and decisions: the FAILED_ACCOUNTS list and its lazy reset at
//! UTC midnight, per-account status (dead, cooling down, last error), and weighted selection.
//! Time is always passed in (`now_ms`, epoch milliseconds) so every rule is testable.

use crate::credentials::Credentials;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// KV keys, shared with the TypeScript worker where the names match.
pub mod keys {
    pub const ACCOUNT_PREFIX: &str = "ACCOUNT:";
    pub const FAILED_ACCOUNTS: &str = "FAILED_ACCOUNTS";
    pub const LAST_FAILED_RESET_DATE: &str = "LAST_FAILED_RESET_DATE";
    /// Ours: JSON array of account ids, so the hot path never lists KV.
    pub const ACCOUNTS_INDEX: &str = "ACCOUNTS";
    /// Ours: JSON object id -> [`super::AccountState`].
    pub const ACCOUNT_STATUS: &str = "ACCOUNT_STATUS";

    pub fn account(id: &str) -> String {
        format!("{ACCOUNT_PREFIX}{id}")
    }
}

/// The id of the account that comes from the `QWEN_OAUTH_CREDS` secret.
pub const SECRET_ACCOUNT_ID: &str = "default";

/// `YYYY-MM-DD` of a UTC instant (civil-from-days, Howard Hinnant's algorithm).
pub fn utc_date(now_ms: u64) -> String {
    let days = (now_ms / 86_400_000) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Milliseconds until the next UTC midnight.
pub fn ms_until_utc_midnight(now_ms: u64) -> u64 {
    86_400_000 - now_ms % 86_400_000
}

/// FAILED_ACCOUNTS + LAST_FAILED_RESET_DATE, in the TypeScript worker's format
/// (comma-separated ids; `YYYY-MM-DD`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

    /// The lazy daily reset: at the first look on a new UTC day the list empties.
    /// Returns true when something changed and must be written back.
    pub fn reset_if_new_day(&mut self, now_ms: u64) -> bool {
        let today = utc_date(now_ms);
        if self.reset_date.as_deref() == Some(today.as_str()) {
            return false;
        }
        self.ids.clear();
        self.reset_date = Some(today);
        true
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

/// What we remember about an account beyond its credentials (KV `ACCOUNT_STATUS`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    /// Why the account was declared dead (needs a new login); `None` while alive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_at: Option<u64>,
    /// Fingerprint of the credentials that were declared dead ([`Credentials::fingerprint`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_credentials: Option<String>,
    /// Throttled until this instant (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_until: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<u64>,
}

pub type StatusMap = BTreeMap<String, AccountState>;

pub fn parse_status_map(text: Option<&str>) -> StatusMap {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default()
}

/// Why an account is not used right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    QuotaExceeded,
    CoolingDown { until_ms: u64 },
    Dead { reason: String },
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
            let replaced = match (&s.dead_credentials, creds) {
                (Some(dead), Some(c)) => *dead != c.fingerprint(),
                _ => false,
            };
            if !replaced {
                return Some(Unusable::Dead {
                    reason: reason.clone(),
                });
            }
        }
    }
    if failed.contains(id) {
        return Some(Unusable::QuotaExceeded);
    }
    match st.and_then(|s| s.cooldown_until) {
        Some(until) if until > now_ms => Some(Unusable::CoolingDown { until_ms: until }),
        _ => None,
    }
}

/// A usable account as selection sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate<'a> {
    pub id: &'a str,
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
pub fn choose<'a>(candidates: &[Candidate<'a>], now_ms: u64, unit: f64) -> Option<&'a str> {
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
            Unusable::CoolingDown { until_ms } => Some(until_ms.saturating_sub(now_ms)),
            Unusable::Dead { .. } => None,
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400_000;
    // 2026-11-25T12:00:00Z
    const NOON: u64 = 1_795_608_000_000 + 12 * 3_600_000 - 1_795_608_000_000 % DAY;

    #[test]
    fn utc_dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(951_782_400_000), "2000-02-29");
        assert_eq!(utc_date(1_764_028_800_000), "2025-11-25");
        assert_eq!(utc_date(1_764_028_800_000 - 1), "2025-11-24");
        assert_eq!(ms_until_utc_midnight(1_764_028_800_000 - 1), 1);
    }

    #[test]
    fn failed_list_resets_lazily_on_a_new_utc_day() {
        let today = utc_date(NOON);
        let mut f = FailedAccounts::parse(Some("a,b"), Some(&utc_date(NOON - DAY)));
        assert!(f.reset_if_new_day(NOON));
        assert!(f.ids.is_empty());
        assert_eq!(f.reset_date.as_deref(), Some(today.as_str()));
        // Same day: nothing to do.
        f.add("c");
        assert!(!f.reset_if_new_day(NOON + 3_600_000));
        assert_eq!(f.to_kv(), "c");
        // One millisecond before midnight it holds, at midnight it resets.
        let midnight = NOON - NOON % DAY + DAY;
        assert!(!f.reset_if_new_day(midnight - 1));
        assert!(f.reset_if_new_day(midnight));
        assert!(f.ids.is_empty());
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
        // Never reset before: the first look writes today's date.
        assert!(f.reset_if_new_day(NOON));
    }

    #[test]
    fn unusable_reasons() {
        let failed = FailedAccounts::parse(Some("q"), None);
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
            earliest_recovery_ms(&[Unusable::Dead { reason: "x".into() }], NOON),
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
        let c = [
            Candidate {
                id: "fresh",
                expiry_ms: Some(now + 3_000_000),
            },
            Candidate {
                id: "old",
                expiry_ms: Some(now + 600_000),
            },
            Candidate {
                id: "expired",
                expiry_ms: Some(now - 10),
            },
            Candidate {
                id: "key",
                expiry_ms: None,
            },
        ];
        let mut counts = BTreeMap::new();
        let n = 10_000;
        for i in 0..n {
            let u = (i as f64 + 0.5) / n as f64;
            *counts.entry(choose(&c, now, u).unwrap()).or_insert(0) += 1;
        }
        let total: u64 = c.iter().map(|x| weight(x, now)).sum();
        for x in &c {
            let expected = weight(x, now) as f64 / total as f64 * n as f64;
            let got = counts[x.id] as f64;
            assert!(
                (got - expected).abs() < n as f64 * 0.01,
                "{}: got {got}, expected {expected}",
                x.id
            );
        }
        assert!(counts["fresh"] > counts["old"]);
        assert!(counts["expired"] > 0);
        assert_eq!(choose(&[], now, 0.5), None);
        assert_eq!(choose(&c[..1], now, 0.999_999_9), Some("fresh"));
    }

    #[test]
    fn status_map_round_trip() {
        let mut m = StatusMap::new();
        m.insert(
            "a".into(),
            AccountState {
                cooldown_until: Some(5),
                ..Default::default()
            },
        );
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(parse_status_map(Some(&text)), m);
        assert!(parse_status_map(Some("garbage")).is_empty());
    }
}
