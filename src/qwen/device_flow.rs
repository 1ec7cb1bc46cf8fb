//! The OAuth device flow as a state machine, shared by the admin login routes of the Worker (one
//! poll per HTTP call, the state kept in KV between calls) and the account tool (a loop that
//! sleeps between polls). Only the transport and the waiting differ.

use crate::accounts::credentials::OAuthCredentials;
use crate::qwen::oauth::{
    credentials_from_token, device_poll_form, parse_token_answer, slowed_down, DeviceAuthorization,
    TokenOutcome, POLL_MAX_MS, POLL_START_MS,
};
use serde::{Deserialize, Serialize};

/// A device code lives at most this long, whatever the server says.
const MAX_LOGIN_SECS: u64 = 3_600;

/// A login in progress: what the next poll needs, and when to give up. Stored as `LOGIN:<id>` by
/// the Worker (the device code and the PKCE verifier never leave the server side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceLogin {
    pub device_code: String,
    pub verifier: String,
    pub user_code: String,
    /// Where the user approves: the complete URI (with the code) when the server gives one.
    pub verification_uri: String,
    pub expires_at: u64,
    pub interval_ms: u64,
}

/// What one poll came to.
#[derive(Debug, Clone, PartialEq)]
pub enum PollStep {
    /// Not approved yet: poll again after `interval_ms`.
    Pending,
    /// The server asked to slow down: the interval grew (the login must be saved again).
    SlowDown,
    /// Approved: the account's credentials.
    Authorized(OAuthCredentials),
    /// The login is over without credentials: nothing is stored.
    Refused(String),
    /// The server failed (5xx, garbage): polling may go on.
    ServerTrouble(String),
}

impl DeviceLogin {
    pub fn start(auth: DeviceAuthorization, verifier: String, now_ms: u64) -> DeviceLogin {
        let lifetime = auth.expires_in.clamp(1, MAX_LOGIN_SECS);
        DeviceLogin {
            device_code: auth.device_code,
            verifier,
            user_code: auth.user_code,
            verification_uri: auth
                .verification_uri_complete
                .unwrap_or(auth.verification_uri),
            expires_at: now_ms.saturating_add(lifetime * 1000),
            interval_ms: auth
                .interval
                .map(|s| s.saturating_mul(1000))
                .unwrap_or(POLL_START_MS)
                .clamp(POLL_START_MS, POLL_MAX_MS),
        }
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        now_ms >= self.expires_at
    }

    /// Seconds left before the device code expires.
    pub fn secs_left(&self, now_ms: u64) -> u64 {
        self.expires_at.saturating_sub(now_ms) / 1000
    }

    /// The form body of the next poll.
    pub fn poll_form(&self) -> String {
        device_poll_form(&self.device_code, &self.verifier)
    }

    /// What the token endpoint's answer to a poll means.
    pub fn on_answer(&mut self, status: u16, body: &str, now_ms: u64) -> PollStep {
        match parse_token_answer(status, body, &[&self.device_code, &self.verifier]) {
            TokenOutcome::Pending => PollStep::Pending,
            TokenOutcome::SlowDown => {
                self.interval_ms = slowed_down(self.interval_ms);
                PollStep::SlowDown
            }
            TokenOutcome::Token(answer) => match credentials_from_token(answer, now_ms) {
                Some(c) => PollStep::Authorized(c),
                None => PollStep::Refused(
                    "The OAuth server answered without a refresh_token; nothing was stored.".into(),
                ),
            },
            TokenOutcome::Rejected { code, description } => {
                PollStep::Refused(match code.as_str() {
                    "access_denied" => "The login was denied in the browser.".to_owned(),
                    "expired_token" => EXPIRED.to_owned(),
                    _ => format!(
                        "The OAuth server rejected the login ({code}{}{description}).",
                        if description.is_empty() { "" } else { ": " }
                    ),
                })
            }
            TokenOutcome::Unavailable { detail } => {
                PollStep::ServerTrouble(format!("the Qwen OAuth server failed: {detail}"))
            }
        }
    }
}

/// What a login that outlived its device code says.
pub const EXPIRED: &str = "The device code expired before it was approved: start again.";

#[cfg(test)]
mod tests {
    use super::*;

    fn login(interval: Option<u64>, expires_in: u64) -> DeviceLogin {
        DeviceLogin::start(
            DeviceAuthorization {
                device_code: "devcode-42".into(),
                user_code: "UC".into(),
                verification_uri: "https://x/authorize".into(),
                verification_uri_complete: Some("https://x/authorize?user_code=UC".into()),
                expires_in,
                interval,
            },
            "verifier".into(),
            1_000,
        )
    }

    #[test]
    fn start_clamps_what_the_server_says() {
        let l = login(Some(5), 600);
        assert_eq!((l.interval_ms, l.expires_at), (5_000, 601_000));
        assert_eq!(l.verification_uri, "https://x/authorize?user_code=UC");
        assert_eq!(login(None, 600).interval_ms, POLL_START_MS);
        assert_eq!(login(Some(u64::MAX), 600).interval_ms, POLL_MAX_MS);
        assert_eq!(
            login(Some(0), u64::MAX).expires_at,
            1_000 + MAX_LOGIN_SECS * 1000
        );
        assert!(login(None, 600)
            .poll_form()
            .contains("device_code=devcode-42"));
    }

    #[test]
    fn a_poll_session_from_pending_to_authorized() {
        let mut l = login(None, 600);
        assert_eq!(
            l.on_answer(400, r#"{"error":"authorization_pending"}"#, 2_000),
            PollStep::Pending
        );
        assert_eq!(
            l.on_answer(429, r#"{"error":"slow_down"}"#, 4_000),
            PollStep::SlowDown
        );
        assert_eq!(l.interval_ms, 3_000);
        let ok = r#"{"access_token":"a","refresh_token":"r","expires_in":3600,"resource_url":"portal.qwen.ai"}"#;
        let PollStep::Authorized(c) = l.on_answer(200, ok, 9_000) else {
            panic!()
        };
        assert_eq!(
            (c.refresh_token.as_str(), c.expiry_date),
            ("r", 9_000 + 3_600_000)
        );
    }

    #[test]
    fn refusals_and_trouble_say_what_to_do() {
        let mut l = login(None, 600);
        let refused = |l: &mut DeviceLogin, body: &str| match l.on_answer(400, body, 2_000) {
            PollStep::Refused(m) => m,
            other => panic!("{other:?}"),
        };
        assert!(refused(&mut l, r#"{"error":"access_denied"}"#).contains("denied"));
        assert!(refused(&mut l, r#"{"error":"expired_token"}"#).contains("expired"));
        let m = refused(
            &mut l,
            r#"{"error":"invalid_grant","error_description":"device devcode-42 unknown"}"#,
        );
        assert!(
            m.contains("invalid_grant") && !m.contains("devcode-42"),
            "{m}"
        );
        assert!(matches!(
            l.on_answer(200, r#"{"access_token":"a"}"#, 2_000),
            PollStep::Refused(_)
        ));
        assert!(matches!(
            l.on_answer(500, "oops", 2_000),
            PollStep::ServerTrouble(_)
        ));
        assert!(l.is_expired(601_000) && !l.is_expired(600_999));
        assert_eq!(l.secs_left(1_000), 600);
    }
}
