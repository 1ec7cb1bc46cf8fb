//! The failover policy, whole and pure: which account a request tries next, what a failure does
//! to the account, when the request gives up, and what the client is told then.
//!
//! The Worker runs it in one short loop shared by every endpoint:
//!
//! ```text
//! let mut plan = Plan::new(pinned, &pool)?;
//! while let Some(id) = plan.next(&pool, &credentials, now, random) {
//!     match attempt(id) {
//!         answered => return answered,
//!         failed   => write(plan.record(id, failure, now)),   // then look at the pool again
//!     }
//! }
//! return plan.give_up(&pool, &credentials, now)
//! ```

use crate::accounts::credentials::Credentials;
use crate::accounts::id::AccountId;
use crate::accounts::pool::{
    choose, earliest_recovery_ms, unusable_reason, Candidate, PoolState, StateChange, Unusable,
};
use crate::accounts::state::Change;
use crate::error::AccountFailure as Failure;
use crate::error::GatewayError;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// At most this many accounts are tried for one request.
pub const MAX_ATTEMPTS: usize = 3;

/// The credentials the isolate knows, by account id. Selection looks up every account on every
/// request, so the map hashes with FNV-1a (ids are short and chosen by the admin, so the
/// flooding resistance of the default hasher buys nothing here).
pub type CredentialsById = HashMap<String, Credentials, BuildHasherDefault<Fnv1a>>;

/// FNV-1a, 64-bit.
pub struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// One request's way through the pool.
#[derive(Debug)]
pub struct Plan {
    pinned: Option<AccountId>,
    /// The client's session (a hash of its session id): the conversation stays on one account.
    session: Option<u64>,
    max_attempts: usize,
    tried: Vec<AccountId>,
    failures: Vec<(AccountId, Failure)>,
}

impl Plan {
    /// A plan for one request, or the error that ends it before any attempt: no account at all,
    /// or a pinned account the pool does not have.
    pub fn new(pinned: Option<AccountId>, pool: &PoolState) -> Result<Plan, GatewayError> {
        if pool.ids.is_empty() {
            return Err(GatewayError::NoAccountAvailable {
                attempts: vec![],
                retry_after_secs: None,
                configured: 0,
            });
        }
        if let Some(id) = &pinned {
            if !pool.contains(id.as_str()) {
                return Err(GatewayError::UnknownAccount { id: id.to_string() });
            }
        }
        Ok(Plan {
            pinned,
            session: None,
            max_attempts: MAX_ATTEMPTS,
            tried: Vec::new(),
            failures: Vec::new(),
        })
    }

    /// Keeps the requests of one client session on one account (the client's session id, e.g.
    /// Claude Code's `X-Claude-Code-Session-Id`): upstream's prompt cache only hits on the
    /// account that saw the conversation before. The account is chosen by rendezvous hashing
    /// of the session and the account ids among the usable candidates, so a session moves only
    /// when its account is out (and comes back with it), and adding an account moves only the
    /// sessions it now ranks first for.
    pub fn with_session(mut self, session_id: Option<&str>) -> Plan {
        self.session = session_id.filter(|s| !s.is_empty()).map(|s| {
            let mut h = Fnv1a::default();
            h.write(s.as_bytes());
            h.finish()
        });
        self
    }

    /// The next account to try, drawn among the usable ones not tried yet that can serve the
    /// call (`eligible`), weighted by the time their token has left (or, for a session, the
    /// one its rendezvous hash ranks first); `None` when the request should give up. `unit` is
    /// a uniform random number in `[0, 1)`. Accounts without known credentials are skipped.
    pub fn next(
        &mut self,
        pool: &PoolState,
        creds: &CredentialsById,
        now_ms: u64,
        unit: f64,
        eligible: &dyn Fn(&Credentials) -> bool,
    ) -> Option<AccountId> {
        if self.tried.len() >= self.max_attempts {
            return None;
        }
        let candidates: Vec<Candidate> = pool
            .ids
            .iter()
            .filter(|id| self.pinned.as_ref().is_none_or(|p| p == *id))
            .filter(|id| !self.tried.contains(id))
            .filter_map(|id| {
                let c = creds.get(id.as_str()).filter(|c| eligible(c))?;
                unusable_reason(id.as_str(), &pool.failed, &pool.status, now_ms, Some(c))
                    .is_none()
                    .then(|| Candidate {
                        id,
                        expiry_ms: c.expiry_ms(),
                    })
            })
            .collect();
        let id = match self.session {
            Some(session) => candidates
                .iter()
                .max_by_key(|c| rendezvous(session, c.id.as_str()))?
                .id
                .clone(),
            None => choose(&candidates, now_ms, unit)?.clone(),
        };
        self.tried.push(id.clone());
        Some(id)
    }

    /// Notes that `id` failed with `failure`, and returns what that changes in the shared state.
    pub fn record(&mut self, id: &AccountId, failure: Failure, now_ms: u64) -> Vec<StateChange> {
        let status = |change| StateChange::Status(id.clone(), change);
        let changes = match &failure {
            Failure::Quota => vec![
                StateChange::Quota(id.clone()),
                status(Change::Error {
                    error: failure.admin_text(),
                }),
            ],
            Failure::Throttled { retry_after_secs } => vec![status(Change::CoolDown {
                until_ms: now_ms.saturating_add(retry_after_secs.saturating_mul(1000)),
                error: failure.admin_text(),
            })],
            Failure::Dead { fingerprint, .. } => vec![status(Change::Dead {
                reason: failure.admin_text(),
                fingerprint: fingerprint.clone(),
                discontinued: false,
            })],
            Failure::Discontinued { fingerprint } => vec![status(Change::Dead {
                reason: failure.admin_text(),
                fingerprint: fingerprint.clone(),
                discontinued: true,
            })],
            Failure::OutUntil { until_ms, reason } => vec![status(Change::Out {
                until_ms: *until_ms,
                reason: reason.clone(),
            })],
            Failure::Refused { .. } => vec![status(Change::Error {
                error: failure.admin_text(),
            })],
            Failure::Unavailable { .. } => vec![status(Change::Error {
                error: failure.admin_text(),
            })],
        };
        self.failures.push((id.clone(), failure));
        changes
    }

    /// The error for a request that nothing answered: what each tried account said or, when none
    /// was tried, why each account is out; `Retry-After` when some account comes back later.
    pub fn give_up(
        self,
        pool: &PoolState,
        creds: &CredentialsById,
        now_ms: u64,
        eligible: &dyn Fn(&Credentials) -> bool,
    ) -> GatewayError {
        let out: Vec<(&AccountId, Unusable)> = pool
            .ids
            .iter()
            .filter(|id| self.pinned.as_ref().is_none_or(|p| p == *id))
            .filter(|id| creds.get(id.as_str()).is_none_or(eligible))
            .filter_map(|id| {
                let c = creds.get(id.as_str());
                unusable_reason(id.as_str(), &pool.failed, &pool.status, now_ms, c).map(|r| (id, r))
            })
            .collect();
        let reasons: Vec<Unusable> = out.iter().map(|(_, r)| r.clone()).collect();
        let retry_after_secs =
            earliest_recovery_ms(&reasons, now_ms).map(|ms| ms.div_ceil(1000).max(1));
        let attempts = if self.failures.is_empty() {
            out.into_iter()
                .map(|(id, r)| (id.to_string(), failure_of(r, now_ms)))
                .collect()
        } else {
            self.failures
                .into_iter()
                .map(|(id, f)| (id.to_string(), f))
                .collect()
        };
        GatewayError::NoAccountAvailable {
            attempts,
            retry_after_secs,
            configured: if self.pinned.is_some() {
                1
            } else {
                pool.ids.len()
            },
        }
    }
}

/// The rank of `account` for `session`: FNV-1a of the account id seeded with the session's
/// hash, then mixed (the finaliser of SplitMix64) so that similar ids rank independently.
fn rendezvous(session: u64, account: &str) -> u64 {
    let mut h = Fnv1a(session);
    h.write(account.as_bytes());
    let mut z = h.finish();
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// An account that was already out before the request, described as the failure that put it
/// there.
fn failure_of(r: Unusable, now_ms: u64) -> Failure {
    match r {
        Unusable::QuotaExceeded => Failure::Quota,
        Unusable::CoolingDown { until_ms } => Failure::Throttled {
            retry_after_secs: until_ms.saturating_sub(now_ms).div_ceil(1000).max(1),
        },
        Unusable::Dead {
            discontinued: true, ..
        } => Failure::Discontinued { fingerprint: None },
        Unusable::Dead { reason, .. } => Failure::Dead {
            reason: "declared dead earlier".into(),
            note: Some(reason),
            fingerprint: None,
        },
        Unusable::OutUntil { until_ms, reason } => Failure::OutUntil { until_ms, reason },
    }
}

#[cfg(test)]
#[path = "failover_scenarios.rs"]
mod scenarios;
