//! Usage accounting as the ledger stores it: one row per (key, UTC day, account, model asked,
//! model sent, route), added to by every request (one upsert per row of a batch of requests),
//! and the reports read from them.
//! The SQL lives here, beside the rules it encodes; the Durable Object only runs it.

use crate::error::GatewayError;
use crate::time::{parse_rfc3339, utc_date, DAY_MS};
use crate::usage::Usage;
use serde::{Deserialize, Serialize};

/// The tables, created when the ledger first starts.
pub const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS keys (id TEXT PRIMARY KEY, record TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS usage (
        key TEXT NOT NULL, day TEXT NOT NULL, account TEXT NOT NULL, model TEXT NOT NULL,
        model_sent TEXT NOT NULL, route TEXT NOT NULL,
        requests INTEGER NOT NULL, errors INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
        cached_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL,
        latency_ms_total INTEGER NOT NULL,
        PRIMARY KEY (key, day, account, model, model_sent, route)
    ) WITHOUT ROWID",
];

/// One request, as it is accounted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageEvent {
    /// The caller: a named key's id, `env-<hash>` for a key from the secrets, `admin`, or
    /// `public`.
    pub key: String,
    pub at_ms: u64,
    /// The account that answered; empty when none did.
    pub account: String,
    /// The model as the client named it, and as it went upstream.
    pub model: String,
    pub model_sent: String,
    pub route: String,
    pub error: bool,
    pub usage: Usage,
    pub latency_ms: u64,
}

/// One request's log line (`wrangler tail`, Workers Logs): who, what, how it went. Never a key,
/// a token or any message content.
#[derive(Debug, Serialize)]
pub struct LogLine<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub request_id: &'a str,
    pub key: &'a str,
    pub route: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_sent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<&'a str>,
    pub attempts: u32,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_status: Option<u16>,
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_byte_ms: Option<u64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    pub reasoning_tokens: u64,
}

impl LogLine<'_> {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Adds a batch's requests of one row to it (an upsert: one row written, however many requests
/// of the batch it holds).
pub const RECORD: &str =
    "INSERT INTO usage (key, day, account, model, model_sent, route, requests, errors,
        input_tokens, output_tokens, cached_tokens, reasoning_tokens, latency_ms_total)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (key, day, account, model, model_sent, route) DO UPDATE SET
        requests = requests + excluded.requests, errors = errors + excluded.errors,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cached_tokens = cached_tokens + excluded.cached_tokens,
        reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
        latency_ms_total = latency_ms_total + excluded.latency_ms_total";

/// A bound SQL value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    Text(String),
    Int(i64),
}

fn int(n: u64) -> Param {
    Param::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// What a batch adds to one row of the usage table.
struct RowSum {
    /// The row's key columns: key, day, account, model, model sent, route.
    row: [String; 6],
    requests: u64,
    errors: u64,
    usage: Usage,
    latency_ms: u64,
}

/// The values of [`RECORD`] for a batch of events, one upsert per row: the events of a row
/// (same key, UTC day, account, models and route) summed, rows in the order they first appear.
/// A busy isolate's batch is mostly one key's requests to one model, so it writes one row
/// instead of one per request.
pub fn record_params(events: &[UsageEvent]) -> Vec<Vec<Param>> {
    let mut sums: Vec<RowSum> = Vec::new();
    for e in events {
        let day = utc_date(e.at_ms);
        let found = sums.iter().position(|s| {
            let [key, d, account, model, sent, route] = &s.row;
            *key == e.key
                && *d == day
                && *account == e.account
                && *model == e.model
                && *sent == e.model_sent
                && *route == e.route
        });
        let at = found.unwrap_or_else(|| {
            sums.push(RowSum {
                row: [
                    e.key.clone(),
                    day,
                    e.account.clone(),
                    e.model.clone(),
                    e.model_sent.clone(),
                    e.route.clone(),
                ],
                requests: 0,
                errors: 0,
                usage: Usage::default(),
                latency_ms: 0,
            });
            sums.len() - 1
        });
        let sum = &mut sums[at];
        sum.requests += 1;
        sum.errors += u64::from(e.error);
        sum.usage = sum.usage.plus(e.usage);
        sum.latency_ms = sum.latency_ms.saturating_add(e.latency_ms);
    }
    sums.into_iter()
        .map(|s| {
            let mut p: Vec<Param> = s.row.into_iter().map(Param::Text).collect();
            p.extend([
                int(s.requests),
                int(s.errors),
                int(s.usage.input_tokens),
                int(s.usage.output_tokens),
                int(s.usage.cached_tokens),
                int(s.usage.reasoning_tokens),
                int(s.latency_ms),
            ]);
            p
        })
        .collect()
}

/// A key's spend: tokens and requests of the day, tokens of the month.
pub const SPEND: &str = "SELECT
        COALESCE(SUM(CASE WHEN day = ? THEN input_tokens + output_tokens ELSE 0 END), 0) AS tokens_today,
        COALESCE(SUM(CASE WHEN day = ? THEN requests ELSE 0 END), 0) AS requests_today,
        COALESCE(SUM(input_tokens + output_tokens), 0) AS tokens_this_month
    FROM usage WHERE key = ? AND day >= ?";

/// The values of [`SPEND`] for `key` at `now_ms`.
pub fn spend_params(key: &str, now_ms: u64) -> Vec<Param> {
    let today = utc_date(now_ms);
    vec![
        Param::Text(today.clone()),
        Param::Text(today),
        Param::Text(key.to_owned()),
        Param::Text(crate::time::utc_month_start(now_ms)),
    ]
}

/// What `GET /admin/usage` groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Key,
    Model,
    Account,
    Day,
}

impl GroupBy {
    pub fn name(self) -> &'static str {
        match self {
            GroupBy::Key => "key",
            GroupBy::Model => "model",
            GroupBy::Account => "account",
            GroupBy::Day => "day",
        }
    }
}

/// A usage report's question: a range of UTC days, a grouping, optional filters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageQuery {
    pub from: String,
    pub to: String,
    pub group_by: GroupBy,
    pub key: Option<String>,
    pub model: Option<String>,
    pub account: Option<String>,
}

/// Days a report covers when `from` is not given: the last 30, today included.
const DEFAULT_DAYS: u64 = 30;

impl UsageQuery {
    /// From a query string's `(name, value)` pairs (values decoded).
    pub fn parse<'a>(
        pairs: impl Iterator<Item = (&'a str, &'a str)>,
        now_ms: u64,
    ) -> Result<UsageQuery, GatewayError> {
        let mut q = UsageQuery {
            from: utc_date(now_ms.saturating_sub((DEFAULT_DAYS - 1) * DAY_MS)),
            to: utc_date(now_ms),
            group_by: GroupBy::Day,
            key: None,
            model: None,
            account: None,
        };
        let day = |name: &str, v: &str| {
            (v.len() == 10 && parse_rfc3339(v).is_some())
                .then(|| v.to_owned())
                .ok_or_else(|| {
                    GatewayError::invalid(
                        format!("'{name}' must be a date such as 2026-11-26."),
                        Some(name),
                    )
                })
        };
        for (name, value) in pairs {
            match name {
                "from" => q.from = day("from", value)?,
                "to" => q.to = day("to", value)?,
                "group_by" => {
                    q.group_by = match value {
                        "key" => GroupBy::Key,
                        "model" => GroupBy::Model,
                        "account" => GroupBy::Account,
                        "day" => GroupBy::Day,
                        _ => {
                            return Err(GatewayError::invalid(
                                "'group_by' must be key, model, account or day.",
                                Some("group_by"),
                            ))
                        }
                    }
                }
                "key" => q.key = Some(value.to_owned()),
                "model" => q.model = Some(value.to_owned()),
                "account" => q.account = Some(value.to_owned()),
                _ => {}
            }
        }
        if q.from > q.to {
            return Err(GatewayError::invalid("'from' is after 'to'.", Some("from")));
        }
        Ok(q)
    }

    /// The report's SQL and its values. Columns: the group (named as `group_by`), then the
    /// sums [`ROW_FIELDS`].
    pub fn sql(&self) -> (String, Vec<Param>) {
        let group = self.group_by.name();
        let mut sql = format!(
            "SELECT {group} AS {group}, SUM(requests) AS requests, SUM(errors) AS errors, \
             SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens, \
             SUM(cached_tokens) AS cached_tokens, SUM(reasoning_tokens) AS reasoning_tokens, \
             SUM(latency_ms_total) AS latency_ms_total FROM usage WHERE day >= ? AND day <= ?"
        );
        let mut params = vec![Param::Text(self.from.clone()), Param::Text(self.to.clone())];
        for (column, value) in [
            ("key", &self.key),
            ("model", &self.model),
            ("account", &self.account),
        ] {
            if let Some(v) = value {
                sql.push_str(&format!(" AND {column} = ?"));
                params.push(Param::Text(v.clone()));
            }
        }
        sql.push_str(&format!(" GROUP BY {group} ORDER BY {group}"));
        (sql, params)
    }
}

/// The sums of a report row, in the order of [`UsageQuery::sql`].
pub const ROW_FIELDS: &[&str] = &[
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "latency_ms_total",
];

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_795_694_400_000; // 2026-11-26T12:00:00Z

    #[test]
    fn a_report_query_from_its_parameters() {
        let q = UsageQuery::parse(
            [
                ("from", "2026-11-01"),
                ("to", "2026-11-26"),
                ("group_by", "model"),
                ("key", "abcdefgh"),
            ]
            .into_iter(),
            NOW,
        )
        .unwrap();
        let (sql, params) = q.sql();
        assert!(sql.starts_with("SELECT model AS model, SUM(requests)"));
        assert!(sql.ends_with("AND key = ? GROUP BY model ORDER BY model"));
        assert_eq!(params.len(), 3);
        let d = UsageQuery::parse(std::iter::empty(), NOW).unwrap();
        assert_eq!(
            (d.from.as_str(), d.to.as_str(), d.group_by),
            ("2026-10-28", "2026-11-26", GroupBy::Day)
        );
        for bad in [
            ("from", "yesterday"),
            ("group_by", "colour"),
            ("to", "2026-02-30"),
        ] {
            assert_eq!(
                UsageQuery::parse([bad].into_iter(), NOW)
                    .unwrap_err()
                    .status(),
                400,
                "{bad:?}"
            );
        }
        assert!(UsageQuery::parse(
            [("from", "2026-11-27"), ("to", "2026-11-26")].into_iter(),
            NOW
        )
        .is_err());
    }

    #[test]
    fn a_log_line_leaves_out_what_is_unknown() {
        let line = LogLine {
            kind: "request",
            request_id: "r1",
            key: "env-0123456789",
            route: "chat",
            model: Some("fast"),
            model_sent: Some("qwen3-coder-flash"),
            account: None,
            attempts: 0,
            status: 401,
            upstream_status: None,
            latency_ms: 2,
            first_byte_ms: None,
            input_tokens: 0,
            output_tokens: 0,
            cached_tokens: 0,
            reasoning_tokens: 0,
        }
        .to_json();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["type"], "request");
        assert_eq!(v["model_sent"], "qwen3-coder-flash");
        assert!(v.get("account").is_none() && v.get("upstream_status").is_none());
    }

    fn event(key: &str, at_ms: u64, model: &str, error: bool, tokens: u64) -> UsageEvent {
        UsageEvent {
            key: key.into(),
            at_ms,
            account: "a1".into(),
            model: model.into(),
            model_sent: "qwen3-coder-plus".into(),
            route: "messages".into(),
            error,
            usage: Usage {
                input_tokens: tokens,
                output_tokens: 5,
                cached_tokens: 4,
                reasoning_tokens: 1,
            },
            latency_ms: 120,
        }
    }

    #[test]
    fn an_event_binds_its_day_and_sums() {
        let p = record_params(&[event("k", NOW, "claude-opus-5-5", false, 10)]);
        assert_eq!(p.len(), 1);
        let p = &p[0];
        assert_eq!(p.len(), RECORD.matches('?').count());
        assert_eq!(p[1], Param::Text("2026-11-26".into()));
        assert_eq!(p[3], Param::Text("claude-opus-5-5".into()));
        assert_eq!(&p[6..], &[1, 0, 10, 5, 4, 1, 120].map(Param::Int)[..]);
        assert_eq!(spend_params("k", NOW)[3], Param::Text("2026-11-01".into()));
        assert_eq!(spend_params("k", NOW).len(), SPEND.matches('?').count());
    }

    #[test]
    fn a_batch_writes_one_row_per_row_it_adds_to() {
        let next_day = NOW + DAY_MS;
        let batch = [
            event("k", NOW, "m1", false, 10),
            event("k", NOW + 1, "m2", false, 7),
            event("k", NOW + 2, "m1", true, 20),
            event("other", NOW, "m1", false, 1),
            event("k", next_day, "m1", false, 3),
            event("k", NOW + 3, "m1", false, 30),
        ];
        let rows = record_params(&batch);
        let key_of = |p: &Vec<Param>| p[..6].to_vec();
        let text = |s: &str| Param::Text(s.into());
        assert_eq!(rows.len(), 4, "{rows:?}");
        // Rows in the order they first appear; each one's sums.
        assert_eq!(key_of(&rows[0])[0], text("k"));
        assert_eq!(key_of(&rows[0])[3], text("m1"));
        assert_eq!(
            &rows[0][6..],
            &[3, 1, 60, 15, 12, 3, 360].map(Param::Int)[..]
        );
        assert_eq!(key_of(&rows[1])[3], text("m2"));
        assert_eq!(&rows[1][6..8], &[Param::Int(1), Param::Int(0)]);
        assert_eq!(key_of(&rows[2])[0], text("other"));
        assert_eq!(key_of(&rows[3])[1], Param::Text(utc_date(next_day)));
        // Every request of the batch is counted once.
        let requests: i64 = rows
            .iter()
            .map(|r| match r[6] {
                Param::Int(n) => n,
                Param::Text(_) => 0,
            })
            .sum();
        assert_eq!(requests, batch.len() as i64);
        assert!(record_params(&[]).is_empty());
    }
}
