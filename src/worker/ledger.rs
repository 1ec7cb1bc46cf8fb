//! The ledger: one Durable Object with SQLite storage that holds the named client keys, every
//! request's usage (rolled up per key, day, account, model and route) and the request-rate
//! windows. Isolates ask it only when their cached view is stale (keys, spend), when their
//! permits run out, and once per answered request (the usage upsert, under `waitUntil`).
//!
//! Why a Durable Object: budgets and revocation need one consistent count, which KV cannot give
//! (eventually consistent, one write per second per key); a Durable Object serializes its
//! requests, keeps SQLite beside them, runs on the free plan, and needs no set-up beyond the
//! binding (a D1 database would need creating and migrating by each user). One object serves
//! every key: each request costs it a few microseconds of SQL, far below what a Worker's traffic
//! on the free plan can send.

use crate::ledger::keys::NamedKey;
use crate::ledger::limits::{Grant, RateWindow, Spend};
use crate::ledger::usage::{self, Param, UsageEvent, UsageQuery};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

#[wasm_bindgen(module = "/src/worker/js/bindings.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = sqlRows)]
    fn sql_rows(sql: &JsValue, query: &str, params: &str) -> std::result::Result<String, JsValue>;
}

pub const BINDING: &str = "LEDGER";
const OBJECT_NAME: &str = "ledger";

/// What an isolate asks the ledger.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Store a new key (its id is new: the isolate minted it).
    Put {
        key: NamedKey,
    },
    Get {
        id: String,
    },
    /// Every key, with its spend.
    List {
        now_ms: u64,
    },
    /// How many keys there are.
    Count,
    /// A key (for a presented one), its spend, and permits when it has a rate limit.
    Lookup {
        id: String,
        now_ms: u64,
        permits: u64,
    },
    /// Up to `want` permits of `limit` per minute for `id`.
    Permits {
        id: String,
        limit: u64,
        want: u64,
        now_ms: u64,
    },
    /// Requests' usage, one row upsert each; answers the new spend of the keys in `spend_of`.
    Record {
        events: Vec<UsageEvent>,
        spend_of: Vec<String>,
        now_ms: u64,
    },
    Report {
        query: UsageQuery,
    },
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Looked {
    pub key: Option<NamedKey>,
    pub spend: Spend,
    pub grant: Option<Grant>,
}

#[durable_object]
pub struct Ledger {
    /// The object's SQLite storage (`state.storage.sql`).
    sql: JsValue,
    windows: RefCell<HashMap<String, RateWindow>>,
}

impl DurableObject for Ledger {
    fn new(state: State, _env: Env) -> Self {
        let sql: JsValue = state.storage().sql().as_ref().clone();
        for statement in usage::SCHEMA {
            if let Err(e) = rows::<Value>(&sql, statement, Vec::new()) {
                worker::console_error!("ledger schema: {e}");
            }
        }
        Ledger {
            sql,
            windows: RefCell::new(HashMap::new()),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let op: Op = serde_json::from_str(&req.text().await?)?;
        match self.serve(op) {
            Ok(v) => Response::from_json(&v),
            Err(e) => Response::error(e.to_string(), 500),
        }
    }
}

/// The rows `query` gives with `params`, each read as a `T`.
fn rows<T: for<'de> Deserialize<'de>>(
    sql: &JsValue,
    query: &str,
    params: Vec<Param>,
) -> Result<Vec<T>> {
    // Counts and times in milliseconds: well inside a JavaScript number's exact integers.
    let bound: Vec<serde_json::Value> = params
        .into_iter()
        .map(|p| match p {
            Param::Text(s) => serde_json::Value::from(s),
            Param::Int(n) => serde_json::Value::from(n),
        })
        .collect();
    let bound = serde_json::to_string(&bound)?;
    let json = sql_rows(sql, query, &bound)
        .map_err(|e| worker::Error::from(super::fetch::js_detail(e)))?;
    Ok(serde_json::from_str(&json)?)
}

/// The one row `query` gives with `params`.
fn one<T: for<'de> Deserialize<'de>>(sql: &JsValue, query: &str, params: Vec<Param>) -> Result<T> {
    match rows(sql, query, params)?.into_iter().next() {
        Some(row) => Ok(row),
        None => Err(worker::Error::from("the query gave no row")),
    }
}

#[derive(Deserialize)]
struct SpendRow {
    tokens_today: f64,
    requests_today: f64,
    tokens_this_month: f64,
}

#[derive(Deserialize)]
struct KeyRow {
    record: String,
}

impl Ledger {
    fn serve(&self, op: Op) -> Result<Value> {
        Ok(match op {
            Op::Put { key } => {
                let record = serde_json::to_string(&key)?;
                rows::<Value>(
                    &self.sql,
                    "INSERT INTO keys (id, record) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record",
                    vec![Param::Text(key.id.clone()), Param::Text(record)],
                )?;
                json!(key)
            }
            Op::Get { id } => json!(self.key(&id)?),
            Op::List { now_ms } => {
                let records: Vec<KeyRow> =
                    rows(&self.sql, "SELECT record FROM keys ORDER BY id", Vec::new())?;
                let mut out = Vec::with_capacity(records.len());
                for r in records {
                    let key: NamedKey = serde_json::from_str(&r.record)?;
                    let spend = self.spend(&key.id, now_ms)?;
                    out.push(json!({"key": key, "spend": spend}));
                }
                Value::Array(out)
            }
            Op::Count => {
                #[derive(Deserialize)]
                struct N {
                    n: f64,
                }
                let n: N = one(&self.sql, "SELECT COUNT(*) AS n FROM keys", Vec::new())?;
                json!(n.n as u64)
            }
            Op::Lookup {
                id,
                now_ms,
                permits,
            } => {
                let key = self.key(&id)?;
                let spend = self.spend(&id, now_ms)?;
                let grant = match key.as_ref().and_then(|k| k.limits.requests_per_minute) {
                    Some(limit) if permits > 0 => Some(self.grant(&id, limit, permits, now_ms)),
                    _ => None,
                };
                json!(Looked { key, spend, grant })
            }
            Op::Permits {
                id,
                limit,
                want,
                now_ms,
            } => json!(self.grant(&id, limit, want, now_ms)),
            Op::Record {
                events,
                spend_of,
                now_ms,
            } => {
                for params in usage::record_params(&events) {
                    rows::<Value>(&self.sql, usage::RECORD, params)?;
                }
                let mut spends = serde_json::Map::new();
                for key in spend_of {
                    let spend = self.spend(&key, now_ms)?;
                    spends.insert(key, json!(spend));
                }
                Value::Object(spends)
            }
            Op::Report { query } => {
                let (sql, params) = query.sql();
                let found: Vec<Value> = rows(&self.sql, &sql, params)?;
                json!({ "rows": found })
            }
        })
    }

    fn key(&self, id: &str) -> Result<Option<NamedKey>> {
        let found: Vec<KeyRow> = rows(
            &self.sql,
            "SELECT record FROM keys WHERE id = ?",
            vec![Param::Text(id.to_owned())],
        )?;
        match found.first() {
            Some(r) => Ok(Some(serde_json::from_str(&r.record)?)),
            None => Ok(None),
        }
    }

    fn spend(&self, key: &str, now_ms: u64) -> Result<Spend> {
        let row: SpendRow = one(&self.sql, usage::SPEND, usage::spend_params(key, now_ms))?;
        Ok(Spend {
            day: crate::time::utc_date(now_ms),
            tokens_today: row.tokens_today as u64,
            requests_today: row.requests_today as u64,
            month: crate::time::utc_month(now_ms),
            tokens_this_month: row.tokens_this_month as u64,
        })
    }

    fn grant(&self, id: &str, limit: u64, want: u64, now_ms: u64) -> Grant {
        self.windows
            .borrow_mut()
            .entry(id.to_owned())
            .or_default()
            .grant(limit, want, now_ms)
    }
}

/// Asks the ledger; `None` when this deployment has no ledger binding.
pub async fn ask<T: for<'de> Deserialize<'de>>(
    env: &Env,
    op: &Op,
) -> Option<std::result::Result<T, String>> {
    super::objects::call(env, BINDING, OBJECT_NAME, op).await
}
