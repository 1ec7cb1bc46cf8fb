//! The account report behind `/admin/health`: per-account status in the TypeScript worker's JSON
//! shape (plus our fields), and a plain-text table for curl.

use crate::accounts::credentials::{AccountKind, Credentials, MAX_EXPIRY_MS};
use crate::accounts::pool::{unusable_reason, FailedAccounts, Unusable};
use crate::accounts::state::StatusMap;
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Healthy,
    /// Access token expired; it will be refreshed on next use.
    Expired,
    QuotaExceeded,
    Throttled,
    /// A plan window (hours, a week, a month) spent: out until `out_until`.
    Out,
    Dead,
    /// Dead because the service behind it ended (legacy OAuth).
    Discontinued,
    MissingCredentials,
}

impl Status {
    pub fn as_str(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    pub fn usable(self) -> bool {
        matches!(self, Status::Healthy | Status::Expired)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountReport {
    pub account: String,
    pub status: Status,
    /// Human form, as the TypeScript worker reports it ("45 min", "expired", "never").
    #[serde(rename = "expiresIn")]
    pub expires_in: String,
    pub expires_in_seconds: Option<i64>,
    pub kind: Option<AccountKind>,
    pub failure_reason: Option<String>,
    /// What the account can serve: chat, embeddings, completions, anthropic, models.
    pub capabilities: Vec<&'static str>,
    /// A plan window's renewal (epoch ms), while the account is out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_until: Option<u64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<u64>,
    pub cooldown_until: Option<u64>,
    /// Set by `?probe=true`: what a tiny real request said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
}

/// `creds`: `Ok(None)` when the account has no credentials, `Err(why)` when they are unreadable.
/// `default_base`: the chat base of records that name none.
pub fn report(
    id: &str,
    creds: Result<Option<&Credentials>, String>,
    failed: &FailedAccounts,
    status: &StatusMap,
    now_ms: u64,
    default_base: &str,
) -> AccountReport {
    let st = status.get(id);
    let current = match &creds {
        Ok(Some(c)) => Some(*c),
        _ => None,
    };
    let mut r = AccountReport {
        account: id.to_owned(),
        status: Status::Healthy,
        expires_in: "never".into(),
        expires_in_seconds: None,
        kind: None,
        failure_reason: None,
        capabilities: Vec::new(),
        out_until: None,
        last_error: st.and_then(|s| s.last_error.clone()),
        last_error_at: st.and_then(|s| s.last_error_at),
        cooldown_until: st.and_then(|s| s.cooldown_until).filter(|u| *u > now_ms),
        probe: None,
    };
    match creds {
        Ok(Some(c)) => {
            r.kind = Some(c.kind());
            r.capabilities = capabilities(c, default_base);
            if let Some(exp) = c.expiry_ms() {
                // Both clamped far below i64::MAX: no wrap whatever was stored.
                let secs =
                    (exp.min(MAX_EXPIRY_MS) as i64 - now_ms.min(MAX_EXPIRY_MS) as i64) / 1000;
                r.expires_in_seconds = Some(secs);
                r.expires_in = if secs <= 0 {
                    "expired".into()
                } else {
                    format!("{} min", secs / 60)
                };
                if let Credentials::OAuth(o) = c {
                    if !o.is_fresh(now_ms) {
                        r.status = Status::Expired;
                    }
                }
            }
        }
        Ok(None) => {
            r.status = Status::MissingCredentials;
            r.failure_reason = Some("no ACCOUNT:<id> record in KV".into());
        }
        Err(why) => {
            r.status = Status::MissingCredentials;
            r.failure_reason = Some(why);
        }
    }
    match unusable_reason(id, failed, status, now_ms, current) {
        Some(Unusable::Dead {
            reason,
            discontinued,
        }) => {
            r.status = if discontinued {
                Status::Discontinued
            } else {
                Status::Dead
            };
            r.failure_reason = Some(reason);
        }
        Some(Unusable::OutUntil { until_ms, reason }) if r.status != Status::MissingCredentials => {
            r.status = Status::Out;
            r.out_until = Some(until_ms);
            r.failure_reason = Some(format!(
                "{reason}; back in {}",
                time_left(until_ms.saturating_sub(now_ms))
            ));
        }
        Some(Unusable::QuotaExceeded) if r.status != Status::MissingCredentials => {
            r.status = Status::QuotaExceeded;
            r.failure_reason = Some("daily quota exhausted; back after UTC midnight".into());
        }
        Some(Unusable::CoolingDown { until_ms }) if r.status.usable() => {
            r.status = Status::Throttled;
            r.failure_reason = Some(format!(
                "throttled; cooling down for {} s",
                until_ms.saturating_sub(now_ms).div_ceil(1000)
            ));
        }
        _ => {}
    }
    r
}

/// "5 min", "3 h 20 min", "2 d 4 h": how long until something.
pub fn time_left(ms: u64) -> String {
    let mins = ms.div_ceil(60_000);
    match mins {
        0..=59 => format!("{mins} min"),
        60..=1439 => format!("{} h {} min", mins / 60, mins % 60),
        _ => format!("{} d {} h", mins / 1440, (mins % 1440) / 60),
    }
}

/// What an account can serve, by name.
pub fn capabilities(c: &Credentials, default_base: &str) -> Vec<&'static str> {
    use crate::accounts::kinds::Capability::*;
    let mut out = vec!["chat"];
    if let Credentials::ApiKey(k) = c {
        let b = k.bases(default_base);
        for (cap, name) in [
            (Embeddings, "embeddings"),
            (Completions, "completions"),
            (AnthropicMessages, "anthropic"),
            (ModelList, "models"),
        ] {
            if b.can(cap) {
                out.push(name);
            }
        }
    }
    out
}

pub fn summary_json(reports: &[AccountReport], failed: &FailedAccounts, now_ms: u64) -> Value {
    let count = |s: Status| reports.iter().filter(|r| r.status == s).count();
    json!({
        "summary": {
            "total_accounts": reports.len(),
            "healthy_accounts": count(Status::Healthy),
            "failed_accounts": reports.iter().filter(|r| !r.status.usable()).count(),
            "quota_exceeded_accounts": count(Status::QuotaExceeded),
            "usable_accounts": reports.iter().filter(|r| r.status.usable()).count(),
            "expired_accounts": count(Status::Expired),
            "throttled_accounts": count(Status::Throttled),
            "dead_accounts": count(Status::Dead),
            "out_accounts": count(Status::Out),
            "discontinued_accounts": count(Status::Discontinued),
            "missing_credentials_accounts": count(Status::MissingCredentials),
            "failed_list_reset_date": failed.reset_date,
        },
        "accounts": reports,
        "timestamp": now_ms,
    })
}

/// A fixed-width table for terminals.
pub fn text_table(reports: &[AccountReport], failed: &FailedAccounts) -> String {
    let mut rows: Vec<[String; 5]> = vec![[
        "ACCOUNT".into(),
        "STATUS".into(),
        "KIND".into(),
        "TOKEN".into(),
        "DETAIL".into(),
    ]];
    for r in reports {
        let kind = r.kind.map(AccountKind::name).unwrap_or("-");
        let detail = r
            .failure_reason
            .clone()
            .or_else(|| r.last_error.clone().map(|e| format!("last error: {e}")))
            .unwrap_or_default();
        let detail = match &r.probe {
            Some(p) => format!(
                "probe: {p}{}{detail}",
                if detail.is_empty() { "" } else { "; " }
            ),
            None => detail,
        };
        rows.push([
            r.account.clone(),
            r.status.as_str(),
            kind.into(),
            r.expires_in.clone(),
            detail,
        ]);
    }
    let widths: Vec<usize> = (0..4)
        .map(|i| {
            rows.iter()
                .map(|row| row[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &rows {
        for i in 0..4 {
            out.push_str(&format!("{:<w$}  ", row[i], w = widths[i]));
        }
        out.push_str(&row[4]);
        out.push('\n');
    }
    let usable = reports.iter().filter(|r| r.status.usable()).count();
    out.push_str(&format!(
        "\n{usable} of {} accounts usable; FAILED_ACCOUNTS last reset {}\n",
        reports.len(),
        failed.reset_date.as_deref().unwrap_or("never")
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::state::AccountState;

    const NOW: u64 = 1_795_600_000_000;
    const BASE: &str = "https://dashscope.aliyuncs.com/compatible-mode/v1";

    fn oauth(expiry: u64) -> Credentials {
        Credentials::parse(&format!(
            r#"{{"access_token":"a","refresh_token":"r","expiry_date":{expiry}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn statuses() {
        let failed = FailedAccounts::parse(Some("q"), Some("2026-11-25"));
        let mut status = StatusMap::new();
        status.insert(
            "d".into(),
            AccountState {
                dead_reason: Some("refresh token rejected".into()),
                ..Default::default()
            },
        );
        status.insert(
            "t".into(),
            AccountState {
                cooldown_until: Some(NOW + 9_000),
                ..Default::default()
            },
        );
        let fresh = oauth(NOW + 2_700_000);
        let r = report("h", Ok(Some(&fresh)), &failed, &status, NOW, BASE);
        assert_eq!(
            (r.status, r.expires_in.as_str()),
            (Status::Healthy, "45 min")
        );
        let old = oauth(NOW - 1);
        assert_eq!(
            report("e", Ok(Some(&old)), &failed, &status, NOW, BASE).status,
            Status::Expired
        );
        assert_eq!(
            report("q", Ok(Some(&fresh)), &failed, &status, NOW, BASE).status,
            Status::QuotaExceeded
        );
        let d = report("d", Ok(Some(&fresh)), &failed, &status, NOW, BASE);
        assert_eq!(d.status, Status::Dead);
        assert!(d.failure_reason.unwrap().contains("refresh token"));
        assert_eq!(
            report("t", Ok(Some(&fresh)), &failed, &status, NOW, BASE).status,
            Status::Throttled
        );
        assert_eq!(
            report("m", Ok(None), &failed, &status, NOW, BASE).status,
            Status::MissingCredentials
        );
        assert_eq!(
            report("x", Err("bad json".into()), &failed, &status, NOW, BASE).status,
            Status::MissingCredentials
        );
        let key = Credentials::parse(r#"{"kind":"api_key","api_key":"k"}"#).unwrap();
        let k = report("k", Ok(Some(&key)), &failed, &status, NOW, BASE);
        assert_eq!(
            (k.status, k.expires_in.as_str()),
            (Status::Healthy, "never")
        );
    }

    #[test]
    fn precedence_dead_over_quota_over_throttled_and_missing_credentials_stay_missing() {
        let failed = FailedAccounts::parse(Some("both,gone"), Some("2026-11-25"));
        let mut status = StatusMap::new();
        status.insert(
            "both".into(),
            AccountState {
                dead_reason: Some("rejected".into()),
                cooldown_until: Some(NOW + 9_000),
                ..Default::default()
            },
        );
        status.insert(
            "cool".into(),
            AccountState {
                cooldown_until: Some(NOW + 9_000),
                ..Default::default()
            },
        );
        let fresh = oauth(NOW + 600_000);
        let old = oauth(NOW - 1);
        assert_eq!(
            report("both", Ok(Some(&fresh)), &failed, &status, NOW, BASE).status,
            Status::Dead
        );
        // No credentials: that says more than "out of quota".
        let gone = report("gone", Ok(None), &failed, &status, NOW, BASE);
        assert_eq!(gone.status, Status::MissingCredentials);
        // Expired but refreshable and cooling down: throttled is what keeps it out.
        assert_eq!(
            report("cool", Ok(Some(&old)), &failed, &status, NOW, BASE).status,
            Status::Throttled
        );
        assert_eq!(
            report("cool", Ok(None), &failed, &status, NOW, BASE).status,
            Status::MissingCredentials
        );
    }

    #[test]
    fn json_and_text() {
        let failed = FailedAccounts::parse(Some("q"), Some("2026-11-25"));
        let status = StatusMap::new();
        let fresh = oauth(NOW + 600_000);
        let reports = vec![
            report("a", Ok(Some(&fresh)), &failed, &status, NOW, BASE),
            report("q", Ok(Some(&fresh)), &failed, &status, NOW, BASE),
        ];
        let j = summary_json(&reports, &failed, NOW);
        assert_eq!(j["summary"]["total_accounts"], 2);
        assert_eq!(j["summary"]["healthy_accounts"], 1);
        assert_eq!(j["summary"]["quota_exceeded_accounts"], 1);
        assert_eq!(j["accounts"][0]["account"], "a");
        assert_eq!(j["accounts"][0]["expiresIn"], "10 min");
        let t = text_table(&reports, &failed);
        assert!(t.starts_with("ACCOUNT"));
        assert!(t.contains("quota_exceeded"));
        assert!(t.contains("1 of 2 accounts usable"));
    }
}
