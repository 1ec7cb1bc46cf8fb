//! Access tokens that are good to use: refreshed before they expire, one refresh per account at a
//! time in this isolate, the rotated refresh token stored before use, and never over credentials
//! that someone replaced or removed while the refresh was in flight.

use super::accounts;
use super::cache;
use super::ctx::Ctx;
use super::fetch::{now_ms, post_form, sleep_ms};
use crate::accounts::credentials::{Credentials, OAuthCredentials};
use crate::accounts::id::AccountId;
use crate::error::AccountFailure as Failure;
use crate::kv_layout::SECRET_ACCOUNT_ID;
use crate::qwen::oauth::{
    apply_refresh, parse_token_answer, refresh_form, token_url, TokenOutcome,
};
use crate::store;

/// How long a request waits for another request's refresh of the same account.
const WAIT_FOR_REFRESH_MS: u64 = 20_000;
const WAIT_STEP_MS: u64 = 20;
/// After a rejected refresh, how long to wait before the second look at KV.
const RACE_RECHECK_MS: u64 = 1_000;
/// The token endpoint gets at most this long (or what is left of the request's time).
const TOKEN_ENDPOINT_MS: u64 = 30_000;
/// A refresh that has not finished after this long (its request was cancelled, say) no longer
/// holds the account's refresh right.
pub const STALE_MS: u64 = 40_000;

/// Refresh single-flight within the isolate: true when the caller now holds the right.
fn try_begin(id: &str, now_ms: u64) -> bool {
    cache::with(|c| match c.refreshing.get(id) {
        Some(&started) if now_ms < started.saturating_add(STALE_MS) => false,
        _ => {
            c.refreshing.insert(id.to_owned(), now_ms);
            true
        }
    })
}

fn end(id: &str) {
    cache::with(|c| c.refreshing.remove(id));
}

fn in_progress(id: &str, now_ms: u64) -> bool {
    cache::with(|c| {
        c.refreshing
            .get(id)
            .is_some_and(|&started| now_ms < started.saturating_add(STALE_MS))
    })
}

fn good_to_use(c: &OAuthCredentials, rejected_token: Option<&str>) -> bool {
    c.is_fresh(now_ms()) && rejected_token != Some(c.access_token.as_str())
}

/// The account's credentials, ready to send. `rejected_token` is an access token upstream just
/// refused (401): a refresh is forced unless someone already replaced that token. `deadline_ms`
/// bounds the wait for the token endpoint. Storage trouble is a failure of this account (the
/// request moves on), never an error of the request.
pub async fn usable_credentials(
    ctx: &Ctx,
    id: &AccountId,
    rejected_token: Option<&str>,
    deadline_ms: u64,
) -> Result<Credentials, Failure> {
    let kv = ctx
        .kv()
        .map_err(|e| Failure::unavailable(e.message(ctx.audience())))?;
    let creds = accounts::get(kv, &ctx.cfg, id)
        .await
        .map_err(|e| Failure::unavailable(e.0))?
        .ok_or_else(|| Failure::unavailable("the account has no credentials (removed?)"))?;
    let Credentials::OAuth(oauth) = &creds else {
        return Ok(creds);
    };
    if good_to_use(oauth, rejected_token) {
        return Ok(creds);
    }
    if try_begin(id.as_str(), now_ms()) {
        return refresh_to_the_end(ctx, id, rejected_token, deadline_ms).await;
    }
    // Another request of this isolate is refreshing this account: wait for its result (polling
    // the isolate cache keeps every request's I/O in its own request context).
    let mut waited = 0;
    while in_progress(id.as_str(), now_ms()) {
        if waited >= WAIT_FOR_REFRESH_MS || now_ms() >= deadline_ms {
            return Err(Failure::unavailable("token refresh took too long"));
        }
        sleep_ms(WAIT_STEP_MS).await;
        waited += WAIT_STEP_MS;
    }
    match accounts::cached(id.as_str()) {
        Some(Credentials::OAuth(o)) if good_to_use(&o, rejected_token) => Ok(Credentials::OAuth(o)),
        // The other refresh failed: report the account as failed without refreshing again.
        _ => Err(Failure::unavailable("token refresh failed")),
    }
}

/// Runs the refresh under the request's `waitUntil`: if the client goes away mid-refresh, the
/// rotated refresh token the server has already issued is still stored, and the refresh right is
/// still released.
async fn refresh_to_the_end(
    ctx: &Ctx,
    id: &AccountId,
    rejected_token: Option<&str>,
    deadline_ms: u64,
) -> Result<Credentials, Failure> {
    struct Right(String);
    impl Drop for Right {
        fn drop(&mut self) {
            end(&self.0);
        }
    }
    let (tx, rx) = futures_channel::oneshot::channel();
    let (task_ctx, task_id, rejected) =
        (ctx.clone(), id.clone(), rejected_token.map(str::to_owned));
    ctx.keep_running(async move {
        let _right = Right(task_id.to_string());
        let result = refresh_locked(&task_ctx, &task_id, rejected.as_deref(), deadline_ms).await;
        let _ = tx.send(result);
    });
    rx.await
        .unwrap_or_else(|_| Err(Failure::unavailable("token refresh was interrupted")))
}

/// Holding the account's refresh right: re-read KV (another isolate may have refreshed), else
/// call the token endpoint, store the result, then return it.
async fn refresh_locked(
    ctx: &Ctx,
    id: &AccountId,
    rejected_token: Option<&str>,
    deadline_ms: u64,
) -> Result<Credentials, Failure> {
    let kv = ctx
        .kv()
        .map_err(|e| Failure::unavailable(e.message(ctx.audience())))?;
    let current = match accounts::reread(kv, &ctx.cfg, id).await {
        Ok(Some(Credentials::OAuth(o))) => o,
        Ok(Some(other)) => return Ok(other),
        Ok(None) => {
            return Err(Failure::unavailable(
                "the account has no credentials (removed?)",
            ))
        }
        Err(e) => return Err(Failure::unavailable(e.0)),
    };
    if good_to_use(&current, rejected_token) {
        return Ok(Credentials::OAuth(current));
    }
    let sent = Credentials::OAuth(current.clone());
    let budget = deadline_ms
        .saturating_sub(now_ms())
        .clamp(1, TOKEN_ENDPOINT_MS);
    let url = token_url(&ctx.cfg.oauth_base_url);
    let (status, body) = post_form(&url, &refresh_form(&current.refresh_token), budget)
        .await
        .map_err(|d| Failure::unavailable(format!("token endpoint unreachable: {d}")))?;
    match parse_token_answer(status, &body, &[&current.refresh_token]) {
        TokenOutcome::Token(answer) => {
            let fresh = Credentials::OAuth(apply_refresh(&current, answer, now_ms()));
            // Someone may have replaced or removed the account while the token endpoint
            // answered: their write wins, and this refresh is dropped.
            let from_secret = id.as_str() == SECRET_ACCOUNT_ID && ctx.cfg.secret_creds.is_some();
            match store::read_credentials(kv, id).await {
                Ok(Some(stored)) if stored.fingerprint() != sent.fingerprint() => {
                    accounts::adopt(id, &stored);
                    return usable_now(stored, rejected_token);
                }
                Ok(None) if !from_secret => {
                    return Err(Failure::unavailable(
                        "the account was removed during its token refresh",
                    ));
                }
                _ => {}
            }
            // Stored first: the old refresh token may already be dead.
            if let Err(e) = accounts::save_refreshed(kv, id, &fresh).await {
                worker::console_error!(
                    "account {id}: refreshed credentials could not be saved to KV ({e}); serving from the isolate"
                );
            }
            Ok(fresh)
        }
        TokenOutcome::Rejected { code, description } => {
            // Another isolate may have spent this refresh token a moment before us (rotation
            // makes our copy invalid): look at KV again, now and once more shortly after, before
            // declaring the account dead.
            for wait in [0, RACE_RECHECK_MS] {
                sleep_ms(wait).await;
                if let Ok(Some(stored)) = accounts::reread(kv, &ctx.cfg, id).await {
                    if stored.fingerprint() != sent.fingerprint() {
                        return usable_now(stored, rejected_token);
                    }
                }
            }
            Err(Failure::Dead {
                reason: format!("refresh token rejected ({code})"),
                note: (!description.is_empty()).then_some(description),
                fingerprint: Some(sent.fingerprint()),
            })
        }
        TokenOutcome::SlowDown => Err(Failure::unavailable(
            "the token endpoint asked to slow down",
        )),
        TokenOutcome::Pending => Err(Failure::unavailable(
            "the token endpoint answered a refresh with authorization_pending",
        )),
        TokenOutcome::Unavailable { detail } => Err(Failure::unavailable(format!(
            "token endpoint failed: {detail}"
        ))),
    }
}

/// Credentials someone else just stored: usable if their token is, else this attempt fails
/// (the next request refreshes them).
fn usable_now(stored: Credentials, rejected_token: Option<&str>) -> Result<Credentials, Failure> {
    match &stored {
        Credentials::OAuth(o) if !good_to_use(o, rejected_token) => Err(Failure::unavailable(
            "credentials were just replaced; try again",
        )),
        _ => Ok(stored),
    }
}
