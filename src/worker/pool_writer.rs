//! The one writer of the shared pool state. `FAILED_ACCOUNTS` and `ACCOUNT_STATUS` are shared
//! by every isolate, and KV has no compare-and-swap: two isolates that read, change and write
//! the same key at once lose one of the changes. So every isolate sends its changes to this one
//! Durable Object, which applies them one request at a time (the shared `store::write_changes`:
//! re-read, merge, write) and answers the keys' new contents.
//!
//! Without the binding (a deployment made before it existed), isolates write themselves, as
//! before, under their own lock.

use super::fetch::sleep_ms;
use super::kv::Kv;
use crate::accounts::pool::{FailedAccounts, StateChange};
use crate::accounts::state::StatusMap;
use crate::store;
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

/// The Durable Object binding and the one object behind it.
pub const BINDING: &str = "POOL_WRITER";
const OBJECT_NAME: &str = "pool";
/// A turn waits at most this long for the one before it (a KV call that never returns must not
/// stop every later write).
const TURN_WAIT_MS: u64 = 10_000;

#[derive(Serialize, Deserialize)]
pub struct Changes {
    pub now_ms: u64,
    pub changes: Vec<StateChange>,
}

/// What the touched keys hold after the changes.
#[derive(Serialize, Deserialize)]
pub struct Written {
    pub failed: Option<FailedAccounts>,
    pub status: Option<StatusMap>,
}

#[durable_object]
pub struct PoolWriter {
    env: Env,
    /// Ticket of the next request to arrive, and of the one being served.
    next_ticket: Cell<u64>,
    serving: Cell<u64>,
}

impl DurableObject for PoolWriter {
    fn new(_state: State, env: Env) -> Self {
        PoolWriter {
            env,
            next_ticket: Cell::new(0),
            serving: Cell::new(0),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let body: Changes = serde_json::from_str(&req.text().await?)?;
        let ticket = self.next_ticket.get();
        self.next_ticket.set(ticket + 1);
        // KV calls are not serialized by the object's input gate: take turns explicitly.
        let mut waited = 0;
        while self.serving.get() < ticket && waited < TURN_WAIT_MS {
            sleep_ms(2).await;
            waited += 2;
        }
        let result = self.apply(&body).await;
        self.serving.set(self.serving.get().max(ticket + 1));
        match result {
            Ok(written) => Response::from_json(&written),
            Err(e) => Response::error(e, 500),
        }
    }
}

impl PoolWriter {
    async fn apply(&self, body: &Changes) -> std::result::Result<Written, String> {
        let kv = Kv::from_env(&self.env).map_err(|e| e.to_string())?;
        let pool = store::write_changes(&kv, &body.changes, body.now_ms)
            .await
            .map_err(|e| e.0)?;
        Ok(Written {
            failed: body
                .changes
                .iter()
                .any(StateChange::touches_failed)
                .then_some(pool.failed),
            status: body
                .changes
                .iter()
                .any(StateChange::touches_status)
                .then_some(pool.status),
        })
    }
}

/// Sends `changes` to the writer; `None` when this deployment has no writer binding.
pub async fn send(
    env: &Env,
    changes: &[StateChange],
    now_ms: u64,
) -> Option<std::result::Result<Written, String>> {
    let body = Changes {
        now_ms,
        changes: changes.to_vec(),
    };
    super::objects::call(env, BINDING, OBJECT_NAME, &body).await
}
