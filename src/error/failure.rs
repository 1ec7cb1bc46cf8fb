//! Why one account could not serve one request: the failover-relevant classes of upstream
//! answers (docs/UPSTREAM.md), and what may be said about each to whom.

use super::Audience;

/// One account's failure on one request. Texts in `reason` and `detail` are ours (status codes,
/// error codes, our wording); `note` is upstream's own text, already scrubbed of secrets, and
/// only ever shown to the admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountFailure {
    /// Daily quota spent: out until UTC midnight (`FAILED_ACCOUNTS`).
    Quota,
    /// Throttled: out for this many seconds.
    Throttled { retry_after_secs: u64 },
    /// Credentials refused after everything was tried (a fresh token, a second look at
    /// storage): out until a person acts. `fingerprint`: of the credentials the failing request
    /// actually sent, so that credentials replaced meanwhile are not declared dead.
    Dead {
        reason: String,
        note: Option<String>,
        fingerprint: Option<String>,
    },
    /// A legacy OAuth account refused even with a freshly refreshed token: the free tier behind
    /// it is over. Out for good; `fingerprint` as for `Dead`.
    Discontinued { fingerprint: Option<String> },
    /// A plan's allocation for a window (hours, a week, a month) is spent: out until it renews.
    OutUntil { until_ms: u64, reason: String },
    /// The provider refused this request on this account for what the request is, not for
    /// what the account is (a Coding Plan key outside an interactive coding tool): the account
    /// stays usable for other requests and is not marked.
    Refused {
        reason: String,
        note: Option<String>,
    },
    /// Upstream trouble (5xx, network error, timeout, an unreadable answer) or an unreadable
    /// account record: the next account may do better.
    Unavailable {
        detail: String,
        note: Option<String>,
    },
}

/// What a discontinued OAuth account says, to everyone.
pub const DISCONTINUED: &str = "the Qwen OAuth free tier behind this account ended on 2026-04-15; add a Model Studio key instead (kind dashscope, token_plan or coding_plan)";

impl AccountFailure {
    pub fn unavailable(detail: impl Into<String>) -> Self {
        AccountFailure::Unavailable {
            detail: detail.into(),
            note: None,
        }
    }

    /// The machine-readable class, the same for every audience.
    pub fn code(&self) -> &'static str {
        match self {
            AccountFailure::Quota => "insufficient_quota",
            AccountFailure::Throttled { .. } => "rate_limit_exceeded",
            AccountFailure::Dead { .. } => "account_dead",
            AccountFailure::Discontinued { .. } => "account_discontinued",
            AccountFailure::OutUntil { .. } => "plan_quota_exceeded",
            AccountFailure::Refused { .. } => "refused_by_provider",
            AccountFailure::Unavailable { .. } => "upstream_unavailable",
        }
    }

    /// What happened, for `audience`. Clients get our wording; the admin also gets upstream's
    /// (scrubbed) text.
    pub fn describe(&self, audience: Audience) -> String {
        let with_note = |ours: String, note: &Option<String>| match (audience, note) {
            (Audience::Admin, Some(n)) if !n.is_empty() => format!("{ours}: {n}"),
            _ => ours,
        };
        match self {
            AccountFailure::Quota => "daily quota exhausted (resets at UTC midnight)".into(),
            AccountFailure::Throttled { retry_after_secs } => {
                format!("throttled by upstream, retry after {retry_after_secs}s")
            }
            AccountFailure::Dead { reason, note, .. } => format!(
                "credentials no longer accepted ({}); log the account in again or replace its key",
                with_note(reason.clone(), note)
            ),
            AccountFailure::Unavailable { detail, note } => {
                format!("upstream unavailable ({})", with_note(detail.clone(), note))
            }
            AccountFailure::Discontinued { .. } => DISCONTINUED.into(),
            AccountFailure::OutUntil { reason, .. } => reason.clone(),
            AccountFailure::Refused { reason, note } => with_note(reason.clone(), note),
        }
    }

    /// What is written as the account's last error (seen by the admin only).
    pub fn admin_text(&self) -> String {
        match self {
            AccountFailure::Dead { reason, note, .. }
            | AccountFailure::Refused { reason, note }
            | AccountFailure::Unavailable {
                detail: reason,
                note,
            } => match note {
                Some(n) if !n.is_empty() => format!("{reason}: {n}"),
                _ => reason.clone(),
            },
            other => other.describe(Audience::Admin),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_text_reaches_the_admin_only() {
        let f = AccountFailure::Dead {
            reason: "API key rejected (HTTP 401)".into(),
            note: Some("Incorrect API key provided: sk-***".into()),
            fingerprint: None,
        };
        assert!(f.describe(Audience::Admin).contains("Incorrect API key"));
        for a in [Audience::Client, Audience::Public] {
            let d = f.describe(a);
            assert!(d.contains("HTTP 401") && !d.contains("Incorrect"), "{d}");
        }
        assert_eq!(
            f.admin_text(),
            "API key rejected (HTTP 401): Incorrect API key provided: sk-***"
        );
        assert_eq!(
            AccountFailure::unavailable("HTTP 500").admin_text(),
            "HTTP 500"
        );
        assert_eq!(f.code(), "account_dead");
    }
}
