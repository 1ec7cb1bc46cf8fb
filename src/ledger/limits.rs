//! What a named key may do now: its token budgets against what it has spent, and its request
//! rate through permits.
//!
//! **Rate.** The ledger (one Durable Object) counts each key's requests in fixed windows of a
//! minute and grants permits, never more than the limit per window. An isolate asks for a few
//! permits at a time ([`batch`]) and spends them locally, so a request costs a ledger call only
//! when its isolate has none left. Nothing is ever admitted over the limit within a window; a
//! client can be refused early by up to one batch per isolate (permits another isolate holds),
//! and two windows back to back allow up to twice the limit within 60 s.
//!
//! **Budgets.** A request is admitted while the key's spend (tokens of the UTC day and month)
//! is under each budget; its tokens are known only once it has been answered. A budget can
//! therefore be overshot by the tokens of the requests already admitted when the spend crossed
//! it: those in flight at that moment, plus those admitted by isolates whose view of the spend
//! is up to `SPEND_TTL_MS` old. The isolate that records an answer adds its tokens to its own
//! view at once.

use super::keys::Limits;
use crate::error::GatewayError;
use crate::time::{next_utc_midnight, next_utc_month, utc_date, utc_month};
use serde::{Deserialize, Serialize};

/// A key's spend as the ledger last reported it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spend {
    /// The UTC day `tokens_today` and `requests_today` count (`YYYY-MM-DD`).
    pub day: String,
    pub tokens_today: u64,
    pub requests_today: u64,
    /// The UTC month `tokens_this_month` counts (`YYYY-MM`).
    pub month: String,
    pub tokens_this_month: u64,
}

impl Spend {
    /// The spend as of `now_ms`: a day or month that has ended counts nothing.
    pub fn at(&self, now_ms: u64) -> Spend {
        let (day, month) = (utc_date(now_ms), utc_month(now_ms));
        Spend {
            tokens_today: if self.day == day {
                self.tokens_today
            } else {
                0
            },
            requests_today: if self.day == day {
                self.requests_today
            } else {
                0
            },
            tokens_this_month: if self.month == month {
                self.tokens_this_month
            } else {
                0
            },
            day,
            month,
        }
    }

    /// One more request of `tokens` at `now_ms`.
    pub fn add(&mut self, tokens: u64, now_ms: u64) {
        *self = self.at(now_ms);
        self.tokens_today += tokens;
        self.tokens_this_month += tokens;
        self.requests_today += 1;
    }
}

/// Refuses a request when a budget of `limits` is spent.
pub fn check_budgets(limits: &Limits, spend: &Spend, now_ms: u64) -> Result<(), GatewayError> {
    let spend = spend.at(now_ms);
    let spent = |budget: &'static str, limit: Option<u64>, used: u64, resets_at_ms: u64| match limit
    {
        Some(limit) if used >= limit => Err(GatewayError::BudgetSpent {
            budget,
            limit,
            resets_at_ms,
            retry_after_secs: resets_at_ms.saturating_sub(now_ms).div_ceil(1000).max(1),
        }),
        _ => Ok(()),
    };
    spent(
        "tokens_per_month",
        limits.tokens_per_month,
        spend.tokens_this_month,
        next_utc_month(now_ms),
    )?;
    spent(
        "tokens_per_day",
        limits.tokens_per_day,
        spend.tokens_today,
        next_utc_midnight(now_ms),
    )
}

/// Length of a rate window.
pub const WINDOW_MS: u64 = 60_000;

/// The ledger's count of one key's requests in its current window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateWindow {
    pub start_ms: u64,
    pub used: u64,
}

/// Permits granted, valid until `until_ms` (the end of the window they count in).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub granted: u64,
    pub until_ms: u64,
}

impl RateWindow {
    /// Up to `want` permits of `limit` per window, at `now_ms`.
    pub fn grant(&mut self, limit: u64, want: u64, now_ms: u64) -> Grant {
        let start = now_ms - now_ms % WINDOW_MS;
        if self.start_ms != start {
            *self = RateWindow {
                start_ms: start,
                used: 0,
            };
        }
        let granted = want.min(limit.saturating_sub(self.used));
        self.used += granted;
        Grant {
            granted,
            until_ms: start + WINDOW_MS,
        }
    }
}

/// Permits an isolate asks for at once, for a key of `limit` requests per minute: a tenth of
/// the limit, between 1 and 10.
pub fn batch(limit: u64) -> u64 {
    (limit / 10).clamp(1, 10)
}

/// Permits an isolate holds for one key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Permits {
    left: u64,
    until_ms: u64,
}

impl Permits {
    /// Spends one permit, if one is held and still valid.
    pub fn take(&mut self, now_ms: u64) -> bool {
        if self.left > 0 && now_ms < self.until_ms {
            self.left -= 1;
            true
        } else {
            false
        }
    }

    /// Adds a grant; its permits replace any left from an earlier window.
    pub fn fill(&mut self, grant: Grant) {
        if grant.until_ms != self.until_ms {
            self.left = 0;
        }
        self.left += grant.granted;
        self.until_ms = grant.until_ms;
    }

    /// The refusal when none is left and the ledger granted none.
    pub fn refusal(limit: u64, grant: Grant, now_ms: u64) -> GatewayError {
        GatewayError::KeyRateLimited {
            limit,
            retry_after_secs: grant.until_ms.saturating_sub(now_ms).div_ceil(1000).max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_rfc3339;

    fn at(t: &str) -> u64 {
        parse_rfc3339(t).unwrap()
    }

    #[test]
    fn budgets_refuse_once_spent_and_name_when_they_reset() {
        let now = at("2026-11-26T12:00:00Z");
        let limits = Limits {
            requests_per_minute: None,
            tokens_per_day: Some(1_000),
            tokens_per_month: Some(5_000),
        };
        let mut spend = Spend::default();
        assert!(check_budgets(&limits, &spend, now).is_ok());
        spend.add(999, now);
        assert!(check_budgets(&limits, &spend, now).is_ok());
        spend.add(1, now);
        let e = check_budgets(&limits, &spend, now).unwrap_err();
        assert_eq!(e.status(), 429);
        assert_eq!(e.retry_after_secs(), Some(12 * 3600));
        assert!(e
            .message(crate::error::Audience::Client)
            .contains("tokens_per_day"));
        assert!(e
            .message(crate::error::Audience::Client)
            .contains("2026-11-27T00:00:00Z"));
        // The next day the daily budget is back; the month's still counts.
        let tomorrow = at("2026-11-27T00:00:01Z");
        assert!(check_budgets(&limits, &spend, tomorrow).is_ok());
        spend.add(4_000, tomorrow);
        let e = check_budgets(&limits, &spend, tomorrow).unwrap_err();
        assert!(e
            .message(crate::error::Audience::Client)
            .contains("tokens_per_month"));
        assert!(e
            .message(crate::error::Audience::Client)
            .contains("2026-12-01T00:00:00Z"));
        assert!(check_budgets(&limits, &spend, at("2026-12-01T00:00:00Z")).is_ok());
    }

    #[test]
    fn the_ledger_never_grants_more_than_the_limit_per_window() {
        let mut w = RateWindow::default();
        let t = at("2026-11-26T12:00:05Z");
        let mut total = 0;
        for i in 0..30 {
            total += w.grant(25, batch(25), t + i * 100).granted;
        }
        assert_eq!(total, 25);
        let g = w.grant(25, 1, t + 10_000);
        assert_eq!(g.granted, 0);
        assert_eq!(
            Permits::refusal(25, g, t + 10_000).retry_after_secs(),
            Some(45)
        );
        // A new minute, a new window.
        assert_eq!(w.grant(25, 3, at("2026-11-26T12:01:00Z")).granted, 3);
    }

    #[test]
    fn permits_are_spent_locally_and_expire_with_their_window() {
        let t = at("2026-11-26T12:00:05Z");
        let mut p = Permits::default();
        assert!(!p.take(t));
        p.fill(Grant {
            granted: 2,
            until_ms: at("2026-11-26T12:01:00Z"),
        });
        assert!(p.take(t) && p.take(t) && !p.take(t));
        p.fill(Grant {
            granted: 2,
            until_ms: at("2026-11-26T12:01:00Z"),
        });
        assert!(
            !p.take(at("2026-11-26T12:01:00Z")),
            "expired with the window"
        );
        assert_eq!(batch(5), 1);
        assert_eq!(batch(600), 10);
    }
}
