//! One attempt's rules, reply by reply: what each kind of reply means, the one refresh after a
//! refused OAuth token, and whose credentials a failure names.

use super::*;
use crate::error::AccountFailure as Failure;

const NOW: u64 = 1_767_268_800_000; // 2026-01-01 12:00 UTC
const BASE: &str = "https://dashscope.example/compatible-mode/v1";

fn oauth(token: &str) -> Credentials {
    Credentials::parse(&format!(
        r#"{{"access_token":"{token}","refresh_token":"rt-{token}","expiry_date":{}}}"#,
        NOW + 3_600_000
    ))
    .unwrap()
}

fn key(json: &str) -> Credentials {
    Credentials::parse(json).unwrap()
}

fn dashscope() -> Credentials {
    key(r#"{"kind":"dashscope","api_key":"sk-secret-1","region":"intl"}"#)
}

fn error(status: u16, body: &str) -> Setback<'_> {
    Setback::Error {
        status,
        retry_after: None,
        body: Ok(body),
    }
}

fn fail_over(next: Next) -> Failure {
    match next {
        Next::FailOver(f) => f,
        other => panic!("expected a fail-over, got {other:?}"),
    }
}

#[test]
fn what_to_read_follows_the_status_and_the_mode() {
    assert_eq!(read_for(200, false), Read::Whole);
    assert_eq!(read_for(299, false), Read::Whole);
    assert_eq!(read_for(100, true), Read::ErrorBody);
    assert_eq!(read_for(300, true), Read::ErrorBody);
    assert_eq!(read_for(201, true), Read::StreamHead);
    assert_eq!(read_for(204, false), Read::Nothing);
    assert_eq!(read_for(205, true), Read::Nothing);
    assert_eq!(read_for(304, false), Read::ErrorBody);
    assert_eq!(read_for(429, true), Read::ErrorBody);
    assert_eq!(read_for(500, false), Read::ErrorBody);
}

#[test]
fn a_stream_waits_for_its_head_only_the_short_wait() {
    assert_eq!(head_wait_ms(true, 600_000, 30_000), 30_000);
    assert_eq!(head_wait_ms(false, 600_000, 30_000), 600_000);
}

#[test]
fn outgoing_names_the_endpoint_url_and_secret_of_the_account() {
    let a = Attempt::new(dashscope());
    let out = a
        .outgoing(BASE, Some(Endpoint::ChatCompletions), true, Some("curl/8"))
        .unwrap();
    assert_eq!(out.endpoint, Endpoint::ChatCompletions);
    // A key of a region goes to its region's preset base, not the configured default.
    assert_eq!(
        out.url,
        "https://dashscope-intl.aliyuncs.com/compatible-mode/v1/chat/completions"
    );
    assert_eq!(out.bearer, "sk-secret-1");
    assert!(out
        .headers
        .iter()
        .any(|(k, v)| *k == "accept" && v == "text/event-stream"));
    // An OAuth account serves chat only: asked for embeddings, it is no candidate.
    let o = Attempt::new(oauth("at-1"));
    let refused = o.outgoing(BASE, Some(Endpoint::Embeddings), false, None);
    assert!(matches!(refused, Err(Failure::Unavailable { .. })));
    let none = a.outgoing(BASE, None, false, None);
    assert!(
        matches!(none, Err(Failure::Unavailable { detail, .. }) if detail.contains("does not serve"))
    );
}

#[test]
fn a_refused_oauth_token_is_refreshed_once_then_the_account_is_discontinued() {
    let mut a = Attempt::new(oauth("at-old"));
    let first = a.setback(error(401, r#"{"error":{"message":"expired"}}"#), NOW);
    assert_eq!(
        first,
        Next::Refresh {
            rejected: "at-old".into()
        }
    );
    a.after_refresh(oauth("at-new"));
    assert_eq!(
        a.outgoing(BASE, Some(Endpoint::ChatCompletions), false, None)
            .unwrap()
            .bearer,
        "at-new"
    );
    let second = fail_over(a.setback(error(401, "{}"), NOW));
    assert_eq!(
        second,
        Failure::Discontinued {
            fingerprint: Some(oauth("at-new").fingerprint())
        }
    );
}

#[test]
fn a_refused_api_key_is_dead_at_once_naming_the_key_sent() {
    let a = Attempt::new(dashscope());
    let f = fail_over(a.setback(error(401, "Incorrect API key provided: sk-secret-1"), NOW));
    let Failure::Dead {
        reason,
        note,
        fingerprint,
    } = f
    else {
        panic!("expected dead, got {f:?}")
    };
    assert!(
        reason.contains("HTTP 401") && reason.contains("region"),
        "{reason}"
    );
    let note = note.expect("upstream's message kept for the admin");
    assert!(
        note.contains("Incorrect API key") && !note.contains("sk-secret-1"),
        "{note}"
    );
    assert_eq!(fingerprint, Some(dashscope().fingerprint()));
}

#[test]
fn a_dead_verdict_names_the_credentials_sent() {
    let a = Attempt::new(dashscope());
    let body = r#"{"error":{"code":"Arrearage","message":"in arrears"}}"#;
    let f = fail_over(a.setback(error(400, body), NOW));
    assert!(
        matches!(f, Failure::Dead { fingerprint: Some(ref p), .. } if *p == dashscope().fingerprint()),
        "{f:?}"
    );
}

#[test]
fn the_clients_own_mistake_ends_the_request_without_the_secret() {
    let a = Attempt::new(dashscope());
    let next = a.setback(error(400, "bad parameter near sk-secret-1"), NOW);
    let Next::Fatal(GatewayError::UpstreamClient { status, body }) = next else {
        panic!("expected the client's error, got {next:?}")
    };
    assert_eq!(status, 400);
    assert!(!body.contains("sk-secret-1"), "{body}");
}

#[test]
fn server_errors_throttling_and_quota_move_the_request_on() {
    let a = Attempt::new(dashscope());
    assert!(matches!(
        fail_over(a.setback(error(503, "busy"), NOW)),
        Failure::Unavailable { detail, .. } if detail == "HTTP 503"
    ));
    let throttled = a.setback(
        Setback::Error {
            status: 429,
            retry_after: Some("7"),
            body: Ok("slow down"),
        },
        NOW,
    );
    assert_eq!(
        fail_over(throttled),
        Failure::Throttled {
            retry_after_secs: 7
        }
    );
    let quota = r#"{"error":{"code":"insufficient_quota"}}"#;
    assert_eq!(fail_over(a.setback(error(429, quota), NOW)), Failure::Quota);
}

#[test]
fn an_unreadable_error_body_or_no_head_is_upstream_trouble() {
    let a = Attempt::new(dashscope());
    let unread = a.setback(
        Setback::Error {
            status: 500,
            retry_after: None,
            body: Err("the body did not arrive within 30 s".into()),
        },
        NOW,
    );
    assert!(
        matches!(fail_over(unread), Failure::Unavailable { detail, .. }
        if detail == "HTTP 500, then the body did not arrive within 30 s")
    );
    let silent = a.setback(Setback::NoHead("no answer within 30 s".into()), NOW);
    assert!(
        matches!(fail_over(silent), Failure::Unavailable { detail, .. } if detail == "no answer within 30 s")
    );
    let empty = a.setback(Setback::NoContent { status: 204 }, NOW);
    assert!(
        matches!(fail_over(empty), Failure::Unavailable { detail, .. } if detail == "HTTP 204 without an answer")
    );
}

#[test]
fn a_spent_plan_window_is_out_until_it_renews_on_the_subscription_day() {
    let plan = Attempt::new(key(
        r#"{"kind":"coding_plan","api_key":"sk-sp-1","subscription_day":15}"#,
    ));
    let body = r#"{"error":{"code":"Throttling.AllocationQuota","message":"month allocated quota exceeded"}}"#;
    let f = fail_over(plan.setback(error(429, body), NOW));
    let renews = crate::time::next_month_day_utc8(NOW, 15);
    assert_eq!(
        f,
        Failure::OutUntil {
            until_ms: renews,
            reason: super::super::classify::Window::Month.describe().into()
        }
    );
    assert!(renews > NOW);
}

#[test]
fn a_whole_answer_is_handed_on_when_it_looks_like_json_and_fits() {
    let a = Attempt::new(dashscope());
    let whole = |start: &'static [u8], truncated| Reply::Whole {
        status: 200,
        body: Ok(WholeBody {
            answer: "the body",
            start,
            truncated,
        }),
    };
    assert_eq!(
        a.reply(whole(b"  \n{\"id\":1}", false), NOW),
        Ok("the body")
    );
    assert!(matches!(
        a.reply(whole(b"<html>", false), NOW),
        Err(Next::FailOver(Failure::Unavailable { detail, .. })) if detail == "HTTP 200 with an answer that is not JSON"
    ));
    assert!(matches!(
        a.reply(whole(b"{", true), NOW),
        Err(Next::Fatal(GatewayError::UpstreamService { message })) if message.contains("10 MiB")
    ));
    let unread: Reply<()> = Reply::Whole {
        status: 200,
        body: Err("the body could not be read: reset".into()),
    };
    assert!(matches!(
        a.reply(unread, NOW),
        Err(Next::FailOver(Failure::Unavailable { .. }))
    ));
}

#[test]
fn a_stream_is_judged_by_its_first_event() {
    let mut a = Attempt::new(oauth("at-1"));
    let stream = |first| Reply::Stream(Ok(first));
    assert_eq!(a.reply(stream(FirstEvent::Data(7)), NOW), Ok(7));
    for (first, detail) in [
        (
            FirstEvent::Ended,
            "stream ended before any event".to_owned(),
        ),
        (
            FirstEvent::TooLong,
            format!(
                "no event boundary in the first {} KiB of the stream",
                FIRST_EVENT_CAP >> 10
            ),
        ),
        (
            FirstEvent::Error("not json"),
            "stream started with an unreadable event".into(),
        ),
    ] {
        assert!(matches!(
            a.reply(stream(first), NOW),
            Err(Next::FailOver(Failure::Unavailable { detail: d, .. })) if d == detail
        ));
    }
    let quota = r#"{"error":{"code":"insufficient_quota","message":"quota"}}"#;
    assert_eq!(
        a.reply(stream(FirstEvent::Error(quota)), NOW),
        Err(Next::FailOver(Failure::Quota))
    );
    // A refused token in the first event is refreshed like a 401 answer, once.
    let refused = r#"{"error":{"code":"invalid_api_key","message":"bad"}}"#;
    assert_eq!(
        a.reply(stream(FirstEvent::Error(refused)), NOW),
        Err(Next::Refresh {
            rejected: "at-1".into()
        })
    );
    a.after_refresh(oauth("at-2"));
    assert!(matches!(
        a.reply(stream(FirstEvent::Error(refused)), NOW),
        Err(Next::FailOver(Failure::Discontinued { .. }))
    ));
}

#[test]
fn a_key_that_took_the_accounts_place_during_the_refresh_is_not_refreshed_again() {
    let mut a = Attempt::new(oauth("at-old"));
    assert!(matches!(
        a.setback(error(403, "{}"), NOW),
        Next::Refresh { .. }
    ));
    a.after_refresh(dashscope());
    let f = fail_over(a.setback(error(401, "{}"), NOW));
    assert!(
        matches!(&f, Failure::Dead { reason, fingerprint: Some(p), .. }
            if reason.contains("API key rejected") && *p == dashscope().fingerprint()),
        "{f:?}"
    );
}

#[test]
fn a_plan_window_on_oauth_credentials_renews_on_the_first_of_the_month() {
    let a = Attempt::new(oauth("at-1"));
    let body = r#"{"error":{"message":"month allocated quota exceeded"}}"#;
    let Failure::OutUntil { until_ms, .. } = fail_over(a.setback(error(429, body), NOW)) else {
        panic!("expected out until the window renews")
    };
    assert_eq!(until_ms, crate::time::next_month_day_utc8(NOW, 1));
}

#[test]
fn the_clients_mistake_in_a_first_event_ends_the_request() {
    let a = Attempt::new(dashscope());
    let bad = r#"{"error":{"code":"invalid_parameter_error","message":"bad value"}}"#;
    let next = a.reply::<()>(Reply::Stream(Ok(FirstEvent::Error(bad))), NOW);
    assert!(
        matches!(
            &next,
            Err(Next::Fatal(GatewayError::UpstreamClient {
                status: 400,
                ..
            }))
        ),
        "{next:?}"
    );
}

#[test]
fn what_a_read_failure_said_is_kept_as_the_detail() {
    let a = Attempt::new(dashscope());
    let unread: Reply<()> = Reply::Whole {
        status: 200,
        body: Err("the body did not arrive within 30 s".into()),
    };
    assert!(matches!(a.reply(unread, NOW),
        Err(Next::FailOver(Failure::Unavailable { detail, .. })) if detail == "the body did not arrive within 30 s"));
    let broken = a.reply::<()>(Reply::Stream(Err("network error".into())), NOW);
    assert!(matches!(broken,
        Err(Next::FailOver(Failure::Unavailable { detail, .. })) if detail == "network error"));
}

#[test]
fn a_refresh_step_does_not_show_the_token() {
    let shown = format!(
        "{:?}",
        Next::Refresh {
            rejected: "at-live-token".into()
        }
    );
    assert!(!shown.contains("at-live-token"), "{shown}");
}
