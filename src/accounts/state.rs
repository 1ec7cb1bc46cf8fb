//! What the gateway remembers about an account beyond its credentials (KV `ACCOUNT_STATUS`), and
//! the rules by which a failure changes it. Every rule is here, as [`AccountState::apply`]: which
//! change is written, which is a repeat not worth a write, what a reset clears.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The same error again within this long is not written again.
pub const REPEAT_ERROR_MS: u64 = 10_000;
/// A cool-down that ends within this long of the one already recorded is not written again.
pub const COOLDOWN_SLACK_MS: u64 = 1_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    /// Why the account was declared dead (needs a person: a new login, a new key); `None` while
    /// alive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_at: Option<u64>,
    /// Fingerprint of the credentials that were declared dead: replacing them brings the
    /// account back by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_credentials: Option<String>,
    /// Declared dead because the service behind it ended (a legacy OAuth account).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub discontinued: bool,
    /// A plan window (hours, a week, a month) spent: out until this instant, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_until: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_reason: Option<String>,
    /// Throttled until this instant (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_until: Option<u64>,
    /// The last failure, in our words (never upstream's text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<u64>,
}

/// Every account's state, by id: the value of `ACCOUNT_STATUS`.
pub type StatusMap = BTreeMap<String, AccountState>;

/// A change to one account's state, as the failover policy decides it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// Note a failure that excludes nothing (a 5xx, a timeout).
    Error { error: String },
    /// Throttled: out until `until_ms`.
    CoolDown { until_ms: u64, error: String },
    /// Out until a person acts. `fingerprint`: of the credentials that failed (the ones the
    /// failing request sent), so that new credentials revive the account.
    Dead {
        reason: String,
        fingerprint: Option<String>,
        #[serde(default)]
        discontinued: bool,
    },
    /// A plan window spent: out until `until_ms`.
    Out { until_ms: u64, reason: String },
    /// Back to healthy: no dead mark, no cool-down, no last error.
    Clear,
}

impl AccountState {
    /// The state after `change` at `now_ms`, or `None` when nothing worth writing changes (a
    /// repeat of what is already recorded).
    pub fn apply(&self, change: &Change, now_ms: u64) -> Option<AccountState> {
        let mut next = self.clone();
        match change {
            Change::Error { error } => {
                let repeat = self.last_error.as_deref() == Some(error.as_str())
                    && self
                        .last_error_at
                        .is_some_and(|at| now_ms < at.saturating_add(REPEAT_ERROR_MS));
                if repeat {
                    return None;
                }
                next.note(error, now_ms);
            }
            Change::CoolDown { until_ms, error } => {
                if self
                    .cooldown_until
                    .is_some_and(|u| u.saturating_add(COOLDOWN_SLACK_MS) >= *until_ms)
                {
                    return None;
                }
                next.cooldown_until = Some(*until_ms);
                next.note(error, now_ms);
            }
            Change::Dead {
                reason,
                fingerprint,
                discontinued,
            } => {
                if self.dead_reason.is_some() && self.dead_credentials == *fingerprint {
                    return None;
                }
                next.dead_reason = Some(reason.clone());
                next.dead_at = Some(now_ms);
                next.dead_credentials = fingerprint.clone();
                next.discontinued = *discontinued;
                next.note(reason, now_ms);
            }
            Change::Out { until_ms, reason } => {
                if self.out_until.is_some_and(|u| u >= *until_ms) {
                    return None;
                }
                next.out_until = Some(*until_ms);
                next.out_reason = Some(reason.clone());
                next.note(reason, now_ms);
            }
            Change::Clear => next = AccountState::default(),
        }
        (next != *self).then_some(next)
    }

    fn note(&mut self, error: &str, now_ms: u64) {
        self.last_error = Some(error.to_owned());
        self.last_error_at = Some(now_ms);
    }

    pub fn is_default(&self) -> bool {
        *self == AccountState::default()
    }
}

/// Applies `change` to `id` in `map`; true when the map changed. Accounts whose state becomes
/// empty leave the map, so it only holds what matters.
pub fn apply_to_map(map: &mut StatusMap, id: &str, change: &Change, now_ms: u64) -> bool {
    let current = map.get(id).cloned().unwrap_or_default();
    match current.apply(change, now_ms) {
        None => false,
        Some(next) if next.is_default() => map.remove(id).is_some(),
        Some(next) => {
            map.insert(id.to_owned(), next);
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_795_600_000_000;

    #[test]
    fn an_error_is_noted_once_per_ten_seconds() {
        let s = AccountState::default();
        let e = Change::Error {
            error: "HTTP 500".into(),
        };
        let s1 = s.apply(&e, NOW).expect("first error is written");
        assert_eq!(s1.last_error.as_deref(), Some("HTTP 500"));
        assert_eq!(s1.apply(&e, NOW + REPEAT_ERROR_MS - 1), None);
        assert!(s1.apply(&e, NOW + REPEAT_ERROR_MS).is_some());
        let other = Change::Error {
            error: "HTTP 502".into(),
        };
        assert!(s1.apply(&other, NOW + 1).is_some());
    }

    #[test]
    fn a_cooldown_is_written_only_when_it_ends_later() {
        let s = AccountState::default()
            .apply(
                &Change::CoolDown {
                    until_ms: NOW + 10_000,
                    error: "throttled".into(),
                },
                NOW,
            )
            .unwrap();
        let again = |until| Change::CoolDown {
            until_ms: until,
            error: "throttled".into(),
        };
        assert_eq!(s.apply(&again(NOW + 10_500), NOW), None);
        assert_eq!(s.apply(&again(NOW + 5_000), NOW), None);
        assert_eq!(
            s.apply(&again(NOW + 12_000), NOW).unwrap().cooldown_until,
            Some(NOW + 12_000)
        );
    }

    #[test]
    fn dead_is_written_once_per_fingerprint() {
        let dead = |fp: &str| Change::Dead {
            reason: "refresh token rejected".into(),
            fingerprint: Some(fp.into()),
            discontinued: false,
        };
        let s = AccountState::default().apply(&dead("aa"), NOW).unwrap();
        assert_eq!(s.dead_credentials.as_deref(), Some("aa"));
        assert_eq!(s.last_error.as_deref(), Some("refresh token rejected"));
        assert_eq!(s.apply(&dead("aa"), NOW + 1), None);
        assert_eq!(
            s.apply(&dead("bb"), NOW + 1)
                .unwrap()
                .dead_credentials
                .as_deref(),
            Some("bb")
        );
    }

    #[test]
    fn a_plan_window_is_written_only_when_it_ends_later() {
        let out = |until| Change::Out {
            until_ms: until,
            reason: "5-hour quota spent".into(),
        };
        let s = AccountState::default().apply(&out(NOW + 100), NOW).unwrap();
        assert_eq!(
            (s.out_until, s.out_reason.as_deref()),
            (Some(NOW + 100), Some("5-hour quota spent"))
        );
        assert_eq!(s.apply(&out(NOW + 50), NOW), None);
        assert!(s.apply(&out(NOW + 200), NOW).is_some());
    }

    #[test]
    fn clear_empties_and_leaves_the_map() {
        let mut map = StatusMap::new();
        assert!(apply_to_map(
            &mut map,
            "a",
            &Change::Error { error: "x".into() },
            NOW
        ));
        assert!(map.contains_key("a"));
        assert!(apply_to_map(&mut map, "a", &Change::Clear, NOW));
        assert!(map.is_empty());
        assert!(!apply_to_map(&mut map, "a", &Change::Clear, NOW));
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
        assert_eq!(serde_json::from_str::<StatusMap>(&text).unwrap(), m);
    }
}
