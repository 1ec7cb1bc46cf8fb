//! The one loop every endpoint runs: the pure plan (`accounts::failover::Plan`) picks accounts,
//! [`upstream::attempt`] tries them, and what a failure changes is applied in the isolate at once
//! and written to KV after the answer.

use super::cache;
use super::ctx::Ctx;
use super::fetch::now_ms;
use super::pool_state;
use super::upstream::{self, Answer, AttemptError, Deadlines};
use crate::accounts::credentials::Credentials;
use crate::accounts::failover::Plan;
use crate::accounts::id::AccountId;
use crate::accounts::pool::StateChange;
use crate::api::Audience;
use crate::api::UpstreamCall;
use crate::catalogue;
use crate::error::GatewayError;

/// A pinned id not found is looked up in KV again at most this often.
const UNKNOWN_PIN_RECHECK_MS: u64 = 1_000;

/// Tries accounts for `call` until one answers, the plan gives up, or the request's time is up.
pub async fn run(
    ctx: &Ctx,
    pinned: Option<AccountId>,
    session: Option<&str>,
    call: &dyn UpstreamCall,
    deadlines: Deadlines,
) -> Result<(AccountId, Answer), GatewayError> {
    let kv = ctx.kv()?;
    let cfg = &ctx.cfg;
    pool_state::refresh_if_stale(kv, cfg, now_ms()).await?;
    if let Some(id) = &pinned {
        look_up_pin(ctx, id).await?;
    }
    pool_state::ensure_daily_reset(kv, now_ms()).await;
    let base = cfg.api_base_url.as_str();
    let eligible = |c: &Credentials| {
        call.endpoint_for(c, base).is_some() && catalogue::serves(c, None, call.upstream_model())
    };
    let mut plan = pool_state::with_pool(|pool, creds| {
        let plan = Plan::new(pinned.clone(), pool)?.with_session(session);
        // No account at all serves this model: say so, rather than that none is usable.
        let served = pool
            .ids
            .iter()
            .filter(|id| pinned.as_ref().is_none_or(|p| p == *id))
            .any(|id| creds.get(id.as_str()).is_some_and(&eligible));
        if !served && pool.ids.iter().any(|id| creds.contains_key(id.as_str())) {
            return Err(GatewayError::ModelNotFound {
                model: call.upstream_model().to_owned(),
            });
        }
        Ok(plan)
    })?;
    let mut changes: Vec<StateChange> = Vec::new();
    loop {
        if deadlines.passed() {
            break;
        }
        let now = now_ms();
        let next = pool_state::with_pool(|pool, creds| {
            plan.next(pool, creds, now, js_sys::Math::random(), &eligible)
        });
        let Some(id) = next else { break };
        ctx.note.borrow_mut().attempts += 1;
        match upstream::attempt(ctx, &id, call, deadlines).await {
            Ok(answer) => {
                write_later(ctx, changes);
                let mut note = ctx.note.borrow_mut();
                note.account = Some(id.to_string());
                note.upstream_status = Some(answer.status());
                note.first_byte_ms = Some(now_ms().saturating_sub(ctx.started_ms));
                drop(note);
                return Ok((id, answer));
            }
            Err(AttemptError::FailOver(failure)) => {
                worker::console_warn!("account {id}: {}", failure.describe(Audience::Admin));
                let now = now_ms();
                let recorded = plan.record(&id, failure, now);
                changes.extend(pool_state::apply_here(recorded, now));
            }
            Err(AttemptError::Fatal(e)) => {
                write_later(ctx, changes);
                return Err(e);
            }
        }
    }
    write_later(ctx, changes);
    Err(pool_state::with_pool(|pool, creds| {
        plan.give_up(pool, creds, now_ms(), &eligible)
    }))
}

/// What the attempts changed goes to KV after the answer, not before it.
fn write_later(ctx: &Ctx, changes: Vec<StateChange>) {
    if changes.is_empty() {
        return;
    }
    if let Ok(kv) = ctx.kv() {
        let (kv, env) = (kv.clone(), ctx.env.clone());
        ctx.keep_running(async move {
            if let Err(e) = pool_state::write(&env, &kv, changes, now_ms()).await {
                worker::console_error!("pool state: {e}");
            }
        });
    }
}

/// A pinned account the isolate does not know may have been added since its last read of the
/// index: read it again, but not more than once a second per id (so that pinning unknown ids
/// cannot be used to spend KV reads).
async fn look_up_pin(ctx: &Ctx, id: &AccountId) -> Result<(), GatewayError> {
    if pool_state::with_pool(|pool, _| pool.contains(id.as_str())) {
        return Ok(());
    }
    let now = now_ms();
    let recent = cache::with(|c| {
        c.unknown_pins
            .get(id.as_str())
            .is_some_and(|at| now < at.saturating_add(UNKNOWN_PIN_RECHECK_MS))
    });
    if recent {
        return Err(GatewayError::UnknownAccount { id: id.to_string() });
    }
    pool_state::reload(ctx.kv()?, &ctx.cfg, now).await?;
    if !pool_state::with_pool(|pool, _| pool.contains(id.as_str())) {
        cache::with(|c| {
            c.unknown_pins
                .retain(|_, at| now < at.saturating_add(UNKNOWN_PIN_RECHECK_MS));
            c.unknown_pins.insert(id.to_string(), now);
        });
        return Err(GatewayError::UnknownAccount { id: id.to_string() });
    }
    Ok(())
}

/// One attempt on one account outside any request's failover (the admin probe): its failure
/// is recorded like a request's.
pub async fn probe(
    ctx: &Ctx,
    id: &AccountId,
    call: &dyn UpstreamCall,
    deadlines: Deadlines,
) -> Result<Answer, GatewayError> {
    match upstream::attempt(ctx, id, call, deadlines).await {
        Ok(a) => Ok(a),
        Err(AttemptError::Fatal(e)) => Err(e),
        Err(AttemptError::FailOver(f)) => {
            let now = now_ms();
            let message = f.describe(Audience::Admin);
            let mut plan = pool_state::with_pool(|pool, _| Plan::new(Some(id.clone()), pool))?;
            let changed = pool_state::apply_here(plan.record(id, f, now), now);
            pool_state::write(&ctx.env, ctx.kv()?, changed, now).await?;
            Err(GatewayError::UpstreamService { message })
        }
    }
}
