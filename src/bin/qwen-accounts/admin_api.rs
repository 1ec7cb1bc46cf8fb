//! Client keys and usage through the Worker's admin API (`/admin/keys`, `/admin/usage`): the
//! Worker at `--url` (or `QWEN_WORKER_URL`; default `http://127.0.0.1:8787`, wrangler dev), the
//! admin key from `ADMIN_SECRET_KEY` or typed at a hidden prompt.

use crate::args::Options;
use crate::{http, secrets};
use serde_json::{json, Map, Value};

const DEFAULT_URL: &str = "http://127.0.0.1:8787";

fn base(o: &Options) -> String {
    o.url
        .clone()
        .or_else(|| std::env::var("QWEN_WORKER_URL").ok())
        .unwrap_or_else(|| DEFAULT_URL.into())
        .trim_end_matches('/')
        .to_owned()
}

fn admin_key() -> Result<String, String> {
    match std::env::var("ADMIN_SECRET_KEY") {
        Ok(k) if !k.trim().is_empty() => Ok(k.trim().to_owned()),
        _ => secrets::secret_input("Admin key (ADMIN_SECRET_KEY, input hidden): ")
            .map(|k| k.trim().to_owned()),
    }
}

/// Calls the admin API; a non-2xx answer is an error carrying the API's own message.
fn call(o: &Options, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let url = format!("{}{path}", base(o));
    let body = body.map(Value::to_string);
    let (status, text) = http::admin(method, &url, &admin_key()?, body.as_deref())?;
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if !(200..300).contains(&status) {
        let message = v
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or(&text);
        return Err(format!("{method} {path}: HTTP {status}: {message}"));
    }
    Ok(v)
}

/// Prints rows as a table with a header, columns as wide as their widest cell.
fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(header.iter().map(|h| (*h).to_owned()).collect());
    for r in rows {
        line(r.clone());
    }
}

fn num(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}

/// `usage`: the usage report as a table.
pub fn usage(o: &Options) -> Result<(), String> {
    let mut query = vec![format!(
        "group_by={}",
        o.report.group_by.as_deref().unwrap_or("day")
    )];
    for (name, value) in [("from", &o.report.from), ("to", &o.report.to)] {
        if let Some(v) = value {
            query.push(format!("{name}={v}"));
        }
    }
    let group = o.report.group_by.clone().unwrap_or_else(|| "day".into());
    let v = call(o, "GET", &format!("/admin/usage?{}", query.join("&")), None)?;
    let rows: Vec<Vec<String>> = v
        .get("rows")
        .and_then(Value::as_array)
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    let requests = num(r, "requests");
                    let avg = num(r, "latency_ms_total")
                        .checked_div(requests)
                        .map_or("-".into(), |a| a.to_string());
                    vec![
                        r.get(&group)
                            .and_then(Value::as_str)
                            .filter(|s| !s.is_empty())
                            .unwrap_or("-")
                            .to_owned(),
                        requests.to_string(),
                        num(r, "errors").to_string(),
                        num(r, "input_tokens").to_string(),
                        num(r, "output_tokens").to_string(),
                        num(r, "cached_tokens").to_string(),
                        num(r, "reasoning_tokens").to_string(),
                        avg,
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    if rows.is_empty() {
        println!("no usage in that range");
        return Ok(());
    }
    let head = group.to_uppercase();
    table(
        &[
            &head,
            "REQUESTS",
            "ERRORS",
            "INPUT",
            "OUTPUT",
            "CACHED",
            "REASONING",
            "AVG MS",
        ],
        &rows,
    );
    Ok(())
}

fn limit(v: &Value, k: &str) -> String {
    v.pointer(&format!("/limits/{k}"))
        .and_then(Value::as_u64)
        .map_or("-".into(), |n| n.to_string())
}

/// `keys`: every key, its limits and spend.
pub fn list(o: &Options) -> Result<(), String> {
    let v = call(o, "GET", "/admin/keys", None)?;
    let keys = v
        .get("keys")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if keys.is_empty() {
        println!("no client keys (create one with: npm run keys:create -- <name>)");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            let s = |f: &str| k.get(f).and_then(Value::as_str).unwrap_or("").to_owned();
            let models = k
                .get("models")
                .and_then(Value::as_array)
                .map(|m| {
                    m.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "any".into());
            let state = if k.get("revoked").and_then(Value::as_bool) == Some(true) {
                "revoked".to_owned()
            } else {
                k.get("expires_at")
                    .and_then(Value::as_str)
                    .map_or("active".into(), |t| format!("until {t}"))
            };
            vec![
                s("id"),
                s("name"),
                models,
                limit(k, "requests_per_minute"),
                limit(k, "tokens_per_day"),
                limit(k, "tokens_per_month"),
                k.pointer("/spend/tokens_today")
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
                    .to_string(),
                k.pointer("/spend/tokens_this_month")
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
                    .to_string(),
                state,
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "NAME",
            "MODELS",
            "RPM",
            "TOKENS/DAY",
            "TOKENS/MONTH",
            "TODAY",
            "MONTH",
            "STATE",
        ],
        &rows,
    );
    Ok(())
}

/// The settings given on the command line, as the admin API takes them.
fn settings(o: &Options, name: Option<&str>) -> Result<Value, String> {
    let r = &o.report;
    let mut body = Map::new();
    if let Some(n) = name {
        body.insert("name".into(), n.into());
    }
    if let Some(m) = &r.models {
        let list: Vec<&str> = m
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        body.insert("models".into(), json!(list));
    }
    if let Some(t) = &r.expires_at {
        body.insert(
            "expires_at".into(),
            if t == "never" {
                Value::Null
            } else {
                t.as_str().into()
            },
        );
    }
    let mut limits = Map::new();
    for (name, value) in [
        ("requests_per_minute", &r.rpm),
        ("tokens_per_day", &r.tokens_per_day),
        ("tokens_per_month", &r.tokens_per_month),
    ] {
        if let Some(v) = value {
            let n = match v.as_str() {
                "none" => Value::Null,
                v => v
                    .parse::<u64>()
                    .map(Value::from)
                    .map_err(|_| format!("{name} must be a whole number or 'none', not '{v}'"))?,
            };
            limits.insert(name.into(), n);
        }
    }
    if !limits.is_empty() {
        body.insert("limits".into(), Value::Object(limits));
    }
    Ok(Value::Object(body))
}

/// `key-create <name>`: the key is printed this once.
pub fn create(o: &Options, name: &str) -> Result<(), String> {
    let v = call(o, "POST", "/admin/keys", Some(&settings(o, Some(name))?))?;
    let id = v.get("id").and_then(Value::as_str).unwrap_or("");
    let key = v.get("key").and_then(Value::as_str).unwrap_or("");
    println!("created key {id} ({name}); it is shown this once, keep it now:\n{key}");
    Ok(())
}

/// `key-update <id>`.
pub fn update(o: &Options, id: &str) -> Result<(), String> {
    call(
        o,
        "PATCH",
        &format!("/admin/keys/{id}"),
        Some(&settings(o, None)?),
    )?;
    println!("updated key {id}");
    Ok(())
}

/// `key-revoke <id>`.
pub fn revoke(o: &Options, id: &str) -> Result<(), String> {
    call(o, "DELETE", &format!("/admin/keys/{id}"), None)?;
    println!("revoked key {id}");
    Ok(())
}
