//! Scripted failover scenarios: a pool, what each account's upstream answers, and what must
//! come of it (who answered, what the client is told, which state changes are written, how
//! many upstream calls were made). The driver below is the Worker's loop without the I/O.

use super::*;
use crate::accounts::pool::FailedAccounts;
use crate::accounts::state::{AccountState, StatusMap};
use crate::error::Audience;
use crate::error::Category;
use crate::time::{ms_until_utc_midnight, utc_date, DAY_MS};
use std::collections::HashMap;

// 2026-11-26T12:00:00Z
const NOON: u64 = 1_795_608_000_000 + 12 * 3_600_000 - 1_795_608_000_000 % DAY_MS;

/// What an account's upstream does when called.
#[derive(Clone)]
enum Upstream {
    Ok,
    Fails(Failure),
}

struct World {
    pool: PoolState,
    creds: CredentialsById,
    /// Answers per account, used in order; the last one repeats.
    script: HashMap<String, Vec<Upstream>>,
}

/// What one request came to.
#[derive(Debug)]
struct Outcome {
    answered_by: Option<String>,
    error: Option<GatewayError>,
    /// Changes that changed something (what the Worker writes to storage).
    written: Vec<StateChange>,
    calls: Vec<String>,
}

fn id(s: &str) -> AccountId {
    AccountId::parse(s).unwrap()
}

fn oauth(refresh: &str, expiry_ms: u64) -> Credentials {
    Credentials::parse(&format!(
        r#"{{"access_token":"at-{refresh}","refresh_token":"{refresh}","expiry_date":{expiry_ms}}}"#
    ))
    .unwrap()
}

impl World {
    fn new(accounts: &[&str]) -> World {
        let mut creds = CredentialsById::default();
        for a in accounts {
            creds.insert((*a).into(), oauth(&format!("rt-{a}"), NOON + 3_000_000));
        }
        World {
            pool: PoolState {
                ids: accounts.iter().map(|a| id(a)).collect(),
                failed: FailedAccounts::parse(None, Some(&utc_date(NOON))),
                status: StatusMap::new(),
            },
            creds,
            script: HashMap::new(),
        }
    }

    fn answers(mut self, account: &str, answers: &[Upstream]) -> World {
        self.script.insert(account.into(), answers.to_vec());
        self
    }

    fn upstream(&mut self, account: &str) -> Upstream {
        let list = self.script.entry(account.into()).or_default();
        match list.len() {
            0 => Upstream::Ok,
            1 => list[0].clone(),
            _ => list.remove(0),
        }
    }

    /// One request, as the Worker's loop runs it; `units` are the random draws.
    fn request(&mut self, pinned: Option<&str>, now: u64) -> Outcome {
        self.request_in(pinned, None, now)
    }

    /// One request of a client session.
    fn request_in(&mut self, pinned: Option<&str>, session: Option<&str>, now: u64) -> Outcome {
        let mut out = Outcome {
            answered_by: None,
            error: None,
            written: vec![],
            calls: vec![],
        };
        let mut plan = match Plan::new(pinned.map(id), &self.pool) {
            Ok(p) => p.with_session(session),
            Err(e) => {
                out.error = Some(e);
                return out;
            }
        };
        let mut draw = 0.0;
        while let Some(account) = plan.next(&self.pool, &self.creds, now, draw, &|_| true) {
            draw = (draw + 0.37) % 1.0;
            out.calls.push(account.to_string());
            match self.upstream(account.as_str()) {
                Upstream::Ok => {
                    out.answered_by = Some(account.to_string());
                    return out;
                }
                Upstream::Fails(f) => {
                    for change in plan.record(&account, f, now) {
                        if change.apply_to(&mut self.pool, now) {
                            out.written.push(change);
                        }
                    }
                }
            }
        }
        out.error = Some(plan.give_up(&self.pool, &self.creds, now, &|_| true));
        out
    }
}

fn dead(reason: &str, fingerprint: Option<String>) -> Failure {
    Failure::Dead {
        reason: reason.into(),
        note: None,
        fingerprint,
    }
}

fn throttled(secs: u64) -> Upstream {
    Upstream::Fails(Failure::Throttled {
        retry_after_secs: secs,
    })
}

fn server_error() -> Upstream {
    Upstream::Fails(Failure::unavailable("HTTP 500"))
}

#[test]
fn scenario_quota_on_a1_ok_on_a2_answered_by_a2_one_quota_mark_written() {
    let mut w = World::new(&["a1", "a2"]).answers("a1", &[Upstream::Fails(Failure::Quota)]);
    // The first draw (0.0) picks a1.
    let o = w.request(None, NOON);
    assert_eq!(o.calls, ["a1", "a2"]);
    assert_eq!(o.answered_by.as_deref(), Some("a2"));
    assert_eq!(o.written[0], StateChange::Quota(id("a1")));
    assert!(matches!(&o.written[1], StateChange::Status(a, Change::Error { .. }) if a == "a1"));
    assert_eq!(o.written.len(), 2);
    // The next request does not call a1 again.
    let o = w.request(None, NOON + 1);
    assert_eq!(o.calls, ["a2"]);
    assert!(o.written.is_empty());
}

#[test]
fn scenario_throttle_on_a1_cools_it_down_for_retry_after_then_it_returns() {
    let mut w = World::new(&["a1", "a2"]).answers("a1", &[throttled(30), Upstream::Ok]);
    let o = w.request(None, NOON);
    assert_eq!(o.answered_by.as_deref(), Some("a2"));
    assert_eq!(w.pool.status["a1"].cooldown_until, Some(NOON + 30_000));
    assert!(!w.pool.failed.contains("a1"), "not out for the day");
    let o = w.request(Some("a1"), NOON + 29_999);
    assert_eq!(o.calls, Vec::<String>::new(), "still cooling down");
    assert_eq!(o.error.unwrap().retry_after_secs(), Some(1));
    let o = w.request(Some("a1"), NOON + 30_000);
    assert_eq!(o.answered_by.as_deref(), Some("a1"));
}

#[test]
fn scenario_dead_on_a1_is_marked_with_the_fingerprint_of_the_credentials_sent() {
    let sent = oauth("rt-a1", NOON + 3_000_000).fingerprint();
    let mut w = World::new(&["a1", "a2"]).answers(
        "a1",
        &[Upstream::Fails(dead(
            "API key rejected (HTTP 401)",
            Some(sent.clone()),
        ))],
    );
    let o = w.request(None, NOON);
    assert_eq!(o.answered_by.as_deref(), Some("a2"));
    let st = &w.pool.status["a1"];
    assert_eq!(st.dead_credentials.as_deref(), Some(sent.as_str()));
    assert_eq!(
        st.dead_reason.as_deref(),
        Some("API key rejected (HTTP 401)")
    );
}

#[test]
fn scenario_credentials_replaced_during_the_request_revive_the_dead_account() {
    // The failing request sent the old key; meanwhile an admin stored a new one.
    let old = oauth("rt-old", NOON + 3_000_000).fingerprint();
    let mut w = World::new(&["a1"]).answers(
        "a1",
        &[Upstream::Fails(dead("rejected", Some(old))), Upstream::Ok],
    );
    w.creds
        .insert("a1".into(), oauth("rt-new", NOON + 3_000_000));
    let o = w.request(None, NOON);
    assert!(o.error.is_some());
    assert!(w.pool.status["a1"].dead_reason.is_some());
    // The mark names the old credentials, so the new ones are usable at once.
    let o = w.request(None, NOON + 1);
    assert_eq!(o.answered_by.as_deref(), Some("a1"));
}

#[test]
fn scenario_server_error_everywhere_fails_over_three_times_then_502() {
    let mut w = World::new(&["f1", "f2", "f3", "f4"]);
    for a in ["f1", "f2", "f3", "f4"] {
        w = w.answers(a, &[server_error()]);
    }
    let o = w.request(None, NOON);
    assert_eq!(o.calls.len(), MAX_ATTEMPTS);
    let e = o.error.unwrap();
    assert_eq!(e.status(), 502);
    assert_eq!(e.code(), Some("all_accounts_failed"));
    assert!(e.message(Audience::Client).contains("3 of 4 tried"));
    // Errors are noted, nobody is excluded.
    assert_eq!(o.written.len(), 3);
    assert!(w
        .pool
        .status
        .values()
        .all(|s| s.dead_reason.is_none() && s.cooldown_until.is_none()));
}

#[test]
fn scenario_every_account_on_quota_gives_429_with_retry_after_until_utc_midnight() {
    let mut w = World::new(&["e1", "e2"])
        .answers("e1", &[Upstream::Fails(Failure::Quota)])
        .answers("e2", &[Upstream::Fails(Failure::Quota)]);
    let o = w.request(None, NOON);
    let e = o.error.unwrap();
    assert_eq!((e.status(), e.code()), (429, Some("insufficient_quota")));
    assert_eq!(
        e.retry_after_secs(),
        Some(ms_until_utc_midnight(NOON).div_ceil(1000))
    );
    // The next request fails fast, without an upstream call.
    let o = w.request(None, NOON + 1);
    assert!(o.calls.is_empty());
    assert_eq!(o.error.unwrap().status(), 429);
}

#[test]
fn scenario_quota_and_throttle_mixed_give_429_with_the_earliest_recovery() {
    let mut w = World::new(&["q", "t"])
        .answers("q", &[Upstream::Fails(Failure::Quota)])
        .answers("t", &[throttled(7)]);
    let e = w.request(None, NOON).error.unwrap();
    assert_eq!((e.status(), e.code()), (429, Some("rate_limit_exceeded")));
    assert_eq!(e.retry_after_secs(), Some(7));
}

#[test]
fn scenario_pinned_account_never_fails_over() {
    let mut w = World::new(&["p1", "p2"]).answers("p1", &[server_error()]);
    let o = w.request(Some("p1"), NOON);
    assert_eq!(o.calls, ["p1"]);
    let e = o.error.unwrap();
    assert_eq!(e.status(), 502);
    assert!(e.message(Audience::Client).contains("1 of 1 tried"));
}

#[test]
fn scenario_pinned_unknown_account_is_404_and_no_account_at_all_is_503() {
    let mut w = World::new(&["p1"]);
    let e = w.request(Some("ghost"), NOON).error.unwrap();
    assert_eq!((e.status(), e.code()), (404, Some("account_not_found")));
    let mut empty = World::new(&[]);
    let e = empty.request(None, NOON).error.unwrap();
    assert_eq!(
        (e.status(), e.code()),
        (503, Some("no_accounts_configured"))
    );
}

#[test]
fn scenario_every_account_dead_before_the_request_is_503_without_upstream_calls() {
    let mut w = World::new(&["d1", "d2"]);
    for a in ["d1", "d2"] {
        w.pool.status.insert(
            a.into(),
            AccountState {
                dead_reason: Some("refresh token rejected (invalid_grant)".into()),
                dead_credentials: Some(w.creds[a].fingerprint()),
                ..Default::default()
            },
        );
    }
    let o = w.request(None, NOON);
    assert!(o.calls.is_empty());
    let e = o.error.unwrap();
    assert_eq!(e.status(), 503);
    assert_eq!(
        e.retry_after_secs(),
        None,
        "dead accounts never come back by themselves"
    );
    assert!(e.message(Audience::Admin).contains("invalid_grant"));
    assert!(e
        .message(Audience::Client)
        .contains("log the account in again"));
    assert!(!e.message(Audience::Client).contains("invalid_grant"));
}

#[test]
fn scenario_accounts_without_credentials_are_skipped() {
    let mut w = World::new(&["gone", "here"]);
    w.creds.remove("gone");
    for _ in 0..5 {
        let o = w.request(None, NOON);
        assert_eq!(o.calls, ["here"]);
    }
}

#[test]
fn scenario_yesterdays_quota_list_no_longer_counts() {
    let mut w = World::new(&["y1"]);
    w.pool.failed = FailedAccounts::parse(Some("y1"), Some(&utc_date(NOON - DAY_MS)));
    let o = w.request(None, NOON);
    assert_eq!(o.answered_by.as_deref(), Some("y1"));
    // A quota mark today starts today's list.
    let mut w = w.answers("y1", &[Upstream::Fails(Failure::Quota)]);
    w.request(None, NOON);
    assert_eq!(w.pool.failed.ids, ["y1"]);
    assert_eq!(
        w.pool.failed.reset_date.as_deref(),
        Some(utc_date(NOON).as_str())
    );
}

#[test]
fn scenario_the_same_error_twice_within_ten_seconds_is_written_once() {
    let mut w = World::new(&["r1"]).answers("r1", &[server_error()]);
    assert_eq!(w.request(None, NOON).written.len(), 1);
    assert_eq!(w.request(None, NOON + 5_000).written.len(), 0);
    assert_eq!(w.request(None, NOON + 10_000).written.len(), 1);
}

#[test]
fn scenario_a_dead_account_is_not_marked_again_for_the_same_credentials() {
    let fp = oauth("rt-x", NOON + 3_000_000).fingerprint();
    let mut w = World::new(&["x", "y"])
        .answers("x", &[Upstream::Fails(dead("rejected", Some(fp.clone())))]);
    let first = w.request(Some("x"), NOON);
    assert_eq!(first.written.len(), 1);
    // Another isolate's request that was already in flight reports the same death.
    let mut plan = Plan::new(None, &w.pool).unwrap();
    let changes = plan.record(&id("x"), dead("rejected", Some(fp)), NOON + 1);
    assert!(changes.iter().all(|c| !c.apply_to(&mut w.pool, NOON + 1)));
}

#[test]
fn scenario_selection_spreads_over_every_usable_account() {
    let mut w = World::new(&["s1", "s2", "s3"]);
    let mut seen = std::collections::BTreeSet::new();
    for u in [0.05, 0.5, 0.95] {
        let mut plan = Plan::new(None, &w.pool).unwrap();
        seen.insert(
            plan.next(&w.pool, &w.creds, NOON, u, &|_| true)
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    let o = w.request(None, NOON);
    assert!(o.answered_by.is_some());
}

#[test]
fn scenario_only_accounts_that_can_serve_the_call_are_tried() {
    let mut w = World::new(&["oauth1", "key1"]);
    w.creds.insert(
        "key1".into(),
        Credentials::parse(r#"{"kind":"dashscope","api_key":"sk-1","region":"cn"}"#).unwrap(),
    );
    let embeddings = |c: &Credentials| matches!(c, Credentials::ApiKey(_));
    for u in [0.0, 0.5, 0.99] {
        let mut plan = Plan::new(None, &w.pool).unwrap();
        assert_eq!(
            plan.next(&w.pool, &w.creds, NOON, u, &embeddings).unwrap(),
            "key1"
        );
        assert_eq!(plan.next(&w.pool, &w.creds, NOON, u, &embeddings), None);
    }
}

#[test]
fn scenario_public_callers_learn_no_account_ids_or_reasons() {
    let mut w = World::new(&["alice@example.com"]).answers(
        "alice@example.com",
        &[Upstream::Fails(Failure::Dead {
            reason: "refresh token rejected (invalid_grant)".into(),
            note: Some("Invalid refresh token".into()),
            fingerprint: None,
        })],
    );
    let e = w.request(None, NOON).error.unwrap();
    assert_eq!(e.category(), Category::Unavailable);
    let public = e.message(Audience::Public);
    assert!(
        !public.contains("alice") && !public.contains("invalid_grant"),
        "{public}"
    );
    assert!(e.message(Audience::Client).contains("alice@example.com"));
    assert!(e.message(Audience::Admin).contains("Invalid refresh token"));
}

#[test]
fn scenario_a_session_stays_on_its_account_moves_while_it_is_out_and_returns() {
    let accounts = ["a1", "a2", "a3", "a4"];
    let mut w = World::new(&accounts).answers("a1", &[]);
    // Each session keeps its account over many requests, whatever the random draws.
    let mut home = HashMap::new();
    for s in 0..40 {
        let session = format!("session-{s}");
        let first = w
            .request_in(None, Some(&session), NOON)
            .answered_by
            .unwrap();
        for _ in 0..5 {
            let again = w.request_in(None, Some(&session), NOON);
            assert_eq!(
                again.answered_by.as_deref(),
                Some(first.as_str()),
                "{session}"
            );
        }
        home.insert(session, first);
    }
    // Sessions spread over the pool.
    for a in accounts {
        assert!(home.values().any(|h| h == a), "no session on {a}");
    }
    // a2 out: its sessions move (each to one other account, consistently); the others stay.
    let (session, _) = home.iter().find(|(_, h)| *h == "a2").unwrap();
    let session = session.clone();
    let mut w = w.answers("a2", &[throttled(60), Upstream::Ok]);
    let moved = w.request_in(None, Some(&session), NOON);
    assert_eq!(moved.calls[0], "a2");
    let elsewhere = moved.answered_by.unwrap();
    assert_ne!(elsewhere, "a2");
    let again = w.request_in(None, Some(&session), NOON + 1_000);
    assert_eq!(
        again.calls,
        [elsewhere],
        "no second try of a2 while it cools down"
    );
    for (s, h) in home.iter().filter(|(_, h)| *h != "a2") {
        assert_eq!(
            &w.request_in(None, Some(s), NOON + 1_000).calls,
            &[h.as_str()],
            "{s}"
        );
    }
    // Back after its cool-down.
    let back = w.request_in(None, Some(&session), NOON + 60_000);
    assert_eq!(back.answered_by.as_deref(), Some("a2"));
}

#[test]
fn scenario_adding_an_account_moves_only_the_sessions_it_ranks_first() {
    let mut w = World::new(&["a1", "a2", "a3"]);
    let sessions: Vec<String> = (0..60).map(|s| format!("s{s}")).collect();
    let before: Vec<String> = sessions
        .iter()
        .map(|s| w.request_in(None, Some(s), NOON).answered_by.unwrap())
        .collect();
    let mut w = World::new(&["a1", "a2", "a3", "a4"]);
    let mut moved = 0;
    for (s, b) in sessions.iter().zip(&before) {
        let now = w.request_in(None, Some(s), NOON).answered_by.unwrap();
        if &now != b {
            assert_eq!(now, "a4", "{s} moved between old accounts");
            moved += 1;
        }
    }
    assert!(
        moved > 0 && moved < sessions.len() / 2,
        "{moved} of {} moved",
        sessions.len()
    );
}
