//! Access tokens that are good to use: cached, refreshed before they expire, one refresh per
//! account at a time in this isolate, and the rotated refresh token persisted before use.

use super::net::{now_ms, post_form, sleep_ms};
use super::store::{self, Store};
use crate::credentials::{Credentials, OAuthCredentials};
use crate::error::{AccountFailure, GatewayError};
use crate::oauth::{apply_refresh, parse_token_answer, refresh_form, token_url, TokenOutcome};

/// How long a request waits for another request's refresh of the same account.
const WAIT_FOR_REFRESH_MS: u64 = 20_000;
const WAIT_STEP_MS: u64 = 20;
/// After a rejected refresh, how long to wait before the second look at KV.
const RACE_RECHECK_MS: u64 = 1_000;

fn account_failure(id: &str, failure: AccountFailure) -> GatewayError {
    GatewayError::Account {
        account: id.to_owned(),
        failure,
    }
}

/// Credentials whose token can be used now. `rejected_token` is the access token that upstream
/// just refused (401): then a refresh is forced unless someone already replaced that token.
pub async fn usable_credentials(
    store: &Store,
    id: &str,
    rejected_token: Option<&str>,
) -> Result<Credentials, GatewayError> {
    let creds = store
        .credentials(id)
        .await?
        .ok_or_else(|| GatewayError::Storage {
            message: format!("account '{id}' has no credentials"),
        })?;
    let Credentials::OAuth(oauth) = &creds else {
        return Ok(creds);
    };
    if good_to_use(oauth, rejected_token) {
        return Ok(creds);
    }
    if store::try_begin_refresh(id, now_ms()) {
        return refresh_to_the_end(store, id, rejected_token).await;
    }
    // Another request of this isolate is refreshing this account: wait for its result (polling
    // the isolate cache keeps every request's I/O in its own request context).
    let mut waited = 0;
    while store::is_refreshing(id, now_ms()) {
        if waited >= WAIT_FOR_REFRESH_MS {
            return Err(account_failure(
                id,
                AccountFailure::Unavailable {
                    detail: "token refresh took too long".into(),
                },
            ));
        }
        sleep_ms(WAIT_STEP_MS).await;
        waited += WAIT_STEP_MS;
    }
    match store::cached_credentials(id) {
        Some(Credentials::OAuth(o)) if good_to_use(&o, rejected_token) => Ok(Credentials::OAuth(o)),
        // The other refresh failed: report the account as failed without refreshing again.
        _ => Err(account_failure(
            id,
            AccountFailure::Unavailable {
                detail: "token refresh failed".into(),
            },
        )),
    }
}

/// Runs the refresh under the request's `waitUntil`: if the client goes away mid-refresh, the
/// rotated refresh token the server has already issued is still stored, and the refresh right is
/// still released.
async fn refresh_to_the_end(
    store: &Store,
    id: &str,
    rejected_token: Option<&str>,
) -> Result<Credentials, GatewayError> {
    struct Right(String);
    impl Drop for Right {
        fn drop(&mut self) {
            store::end_refresh(&self.0);
        }
    }
    let (tx, rx) = futures_channel::oneshot::channel();
    let (task_store, task_id, rejected) = (
        store.clone(),
        id.to_owned(),
        rejected_token.map(str::to_owned),
    );
    store.keep_running(async move {
        let _right = Right(task_id.clone());
        let result = refresh_locked(&task_store, &task_id, rejected.as_deref()).await;
        let _ = tx.send(result);
    });
    rx.await.unwrap_or_else(|_| {
        Err(account_failure(
            id,
            AccountFailure::Unavailable {
                detail: "token refresh was interrupted".into(),
            },
        ))
    })
}

fn good_to_use(c: &OAuthCredentials, rejected_token: Option<&str>) -> bool {
    c.is_fresh(now_ms()) && rejected_token != Some(c.access_token.as_str())
}

/// Holding the account's refresh right: re-read KV (another isolate may have refreshed), else
/// call the token endpoint, persist, then return.
async fn refresh_locked(
    store: &Store,
    id: &str,
    rejected_token: Option<&str>,
) -> Result<Credentials, GatewayError> {
    let current = match store.read_credentials(id).await? {
        Some(Credentials::OAuth(o)) => o,
        Some(other) => return Ok(other),
        None => {
            return Err(GatewayError::Storage {
                message: format!("account '{id}' has no credentials"),
            })
        }
    };
    if good_to_use(&current, rejected_token) {
        return Ok(Credentials::OAuth(current));
    }
    let url = token_url(&store.config().oauth_base_url);
    let answer = post_form(&url, &refresh_form(&current.refresh_token)).await;
    let (status, body) = match answer {
        Ok(x) => x,
        Err(detail) => {
            return Err(account_failure(
                id,
                AccountFailure::Unavailable {
                    detail: format!("token endpoint unreachable: {detail}"),
                },
            ))
        }
    };
    match parse_token_answer(status, &body) {
        TokenOutcome::Token(answer) => {
            let fresh = Credentials::OAuth(apply_refresh(&current, answer, now_ms()));
            // Persist first: the old refresh token may already be dead.
            if let Err(e) = store.save_credentials(id, &fresh).await {
                worker::console_error!(
                    "account {id}: refreshed credentials could not be saved to KV: {e}"
                );
                if let Err(e) = store.save_credentials(id, &fresh).await {
                    worker::console_error!(
                        "account {id}: second save failed too ({e}); serving from the isolate"
                    );
                }
            }
            Ok(fresh)
        }
        TokenOutcome::Rejected { code, description } => {
            // Another isolate may have spent this refresh token a moment before us (rotation
            // makes our copy invalid): look at KV again, now and once more shortly after, before
            // declaring the account dead.
            for wait in [0, RACE_RECHECK_MS] {
                sleep_ms(wait).await;
                if let Some(Credentials::OAuth(stored)) = store.read_credentials(id).await? {
                    if stored.refresh_token != current.refresh_token {
                        return if good_to_use(&stored, rejected_token) {
                            Ok(Credentials::OAuth(stored))
                        } else {
                            Err(account_failure(
                                id,
                                AccountFailure::Unavailable {
                                    detail: "credentials were just replaced; try again".into(),
                                },
                            ))
                        };
                    }
                }
            }
            let reason = if description.is_empty() {
                format!("refresh token rejected ({code})")
            } else {
                format!("refresh token rejected ({code}: {description})")
            };
            let died = Credentials::OAuth(current).fingerprint();
            store.mark_dead(now_ms(), id, &reason, Some(died)).await;
            Err(account_failure(id, AccountFailure::Dead { reason }))
        }
        TokenOutcome::Pending | TokenOutcome::SlowDown => Err(account_failure(
            id,
            AccountFailure::Unavailable {
                detail: "token endpoint asked to slow down".into(),
            },
        )),
        TokenOutcome::Unavailable { detail } => {
            let detail = format!("token endpoint failed: {detail}");
            store.record_error(now_ms(), id, &detail).await;
            Err(account_failure(id, AccountFailure::Unavailable { detail }))
        }
    }
}
