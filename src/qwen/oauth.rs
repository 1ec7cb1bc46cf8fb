//! The Qwen OAuth protocol (RFC 8628 device flow with PKCE, and refresh), as pure functions.
//!
//! Both the worker and the account tool (`qwen-accounts`) build their requests and read the
//! answers through this module; only the HTTP transport differs.

use crate::accounts::credentials::{is_header_safe, OAuthCredentials};
use crate::qwen::scrub::scrub_short;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub const DEFAULT_OAUTH_BASE_URL: &str = "https://chat.qwen.ai";
pub const CLIENT_ID: &str = "f0304373b74a44d2b584a3fb70ca9e56";
pub const SCOPE: &str = "openid profile email model.completion";
pub const DEVICE_CODE_PATH: &str = "/api/v1/oauth2/device/code";
pub const TOKEN_PATH: &str = "/api/v1/oauth2/token";
pub const DEVICE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

pub fn token_url(base: &str) -> String {
    format!("{}{TOKEN_PATH}", base.trim_end_matches('/'))
}

pub fn device_code_url(base: &str) -> String {
    format!("{}{DEVICE_CODE_PATH}", base.trim_end_matches('/'))
}

/// `application/x-www-form-urlencoded` body.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    fn enc(s: &str, out: &mut String) {
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    out.push(b as char)
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        enc(k, &mut out);
        out.push('=');
        enc(v, &mut out);
    }
    out
}

pub fn refresh_form(refresh_token: &str) -> String {
    form_encode(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", CLIENT_ID),
    ])
}

/// PKCE pair from 32 random bytes supplied by the caller (so tests are deterministic).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn from_random(bytes: &[u8; 32]) -> Self {
        let verifier = URL_SAFE_NO_PAD.encode(bytes);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Pkce {
            verifier,
            challenge,
        }
    }
}

pub fn device_code_form(pkce: &Pkce) -> String {
    form_encode(&[
        ("client_id", CLIENT_ID),
        ("scope", SCOPE),
        ("code_challenge", &pkce.challenge),
        ("code_challenge_method", "S256"),
    ])
}

pub fn device_poll_form(device_code: &str, verifier: &str) -> String {
    form_encode(&[
        ("grant_type", DEVICE_GRANT_TYPE),
        ("client_id", CLIENT_ID),
        ("device_code", device_code),
        ("code_verifier", verifier),
    ])
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    #[serde(default)]
    pub verification_uri_complete: Option<String>,
    #[serde(default = "default_expires_in")]
    pub expires_in: u64,
    #[serde(default)]
    pub interval: Option<u64>,
}

fn default_expires_in() -> u64 {
    600
}

pub fn parse_device_authorization(status: u16, body: &str) -> Result<DeviceAuthorization, String> {
    if !(200..300).contains(&status) {
        return Err(format!(
            "device authorization failed: HTTP {status} {}",
            error_code(body).unwrap_or_default()
        ));
    }
    serde_json::from_str(body)
        .map_err(|_| "device authorization answer is not the expected JSON".to_owned())
}

/// Polling schedule: start at 2 s; `slow_down` multiplies by 1.5 up to 10 s.
pub const POLL_START_MS: u64 = 2_000;
pub const POLL_MAX_MS: u64 = 10_000;

pub fn slowed_down(interval_ms: u64) -> u64 {
    (interval_ms.saturating_mul(3) / 2).min(POLL_MAX_MS)
}

/// `expires_in` of a token answer, clamped to [1 min, 1 day]: a token born expired would be
/// refreshed on every request, and a huge value must not overflow.
pub const MIN_TOKEN_LIFETIME_SECS: u64 = 60;
pub const MAX_TOKEN_LIFETIME_SECS: u64 = 86_400;
const DEFAULT_TOKEN_LIFETIME_SECS: u64 = 3_600;

/// A successful token-endpoint answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TokenAnswer {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
    #[serde(default)]
    pub resource_url: Option<String>,
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What the token endpoint said.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenOutcome {
    Token(TokenAnswer),
    /// Device flow: keep polling.
    Pending,
    /// Device flow: keep polling, slower.
    SlowDown,
    /// The grant is dead (invalid_grant, expired_token, access_denied, 400/401): needs a new login.
    Rejected {
        code: String,
        description: String,
    },
    /// The endpoint failed (5xx, garbage): try again later; nothing is dead.
    Unavailable {
        detail: String,
    },
}

/// Reads a token-endpoint answer. `secrets` (the refresh token or device code sent) are scrubbed
/// from the upstream description kept in `Rejected`.
pub fn parse_token_answer(status: u16, body: &str, secrets: &[&str]) -> TokenOutcome {
    if (200..300).contains(&status) {
        return match serde_json::from_str::<TokenAnswer>(body) {
            Ok(t) if is_header_safe(&t.access_token) => TokenOutcome::Token(t),
            Ok(t) if !t.access_token.is_empty() => TokenOutcome::Unavailable {
                detail: "the token endpoint issued an access_token that cannot be sent in a header"
                    .into(),
            },
            _ => TokenOutcome::Unavailable {
                detail: format!("HTTP {status} without an access_token"),
            },
        };
    }
    let code = error_code(body).unwrap_or_default();
    match code.as_str() {
        "authorization_pending" => return TokenOutcome::Pending,
        "slow_down" => return TokenOutcome::SlowDown,
        _ => {}
    }
    if status == 429 {
        return TokenOutcome::SlowDown;
    }
    if status == 400 || status == 401 || status == 403 {
        let description = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| {
                v.get("error_description")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .map(|d| scrub_short(&d, secrets, 200))
            .unwrap_or_default();
        let code = if code.is_empty() {
            format!("http_{status}")
        } else {
            code
        };
        return TokenOutcome::Rejected { code, description };
    }
    TokenOutcome::Unavailable {
        detail: format!("HTTP {status}"),
    }
}

fn error_code(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let code = match v.get("error")? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o
            .get("code")
            .or_else(|| o.get("type"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }?;
    // A code is a short identifier; anything else is not a code we can show.
    (code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.'))
    .then_some(code)
}

/// Credentials from a token answer: `old` supplies what the answer leaves out after a refresh
/// (the refresh token when it is not rotated, the resource URL, unknown fields).
fn credentials_of(
    answer: TokenAnswer,
    now_ms: u64,
    old: Option<&OAuthCredentials>,
) -> OAuthCredentials {
    let mut extra = old.map(|o| o.extra.clone()).unwrap_or_default();
    if let Some(scope) = answer.extra.get("scope") {
        extra.insert("scope".into(), scope.clone());
    }
    let lifetime = answer
        .expires_in
        .unwrap_or(DEFAULT_TOKEN_LIFETIME_SECS)
        .clamp(MIN_TOKEN_LIFETIME_SECS, MAX_TOKEN_LIFETIME_SECS);
    OAuthCredentials {
        access_token: answer.access_token,
        refresh_token: answer
            .refresh_token
            .filter(|s| !s.is_empty())
            .or_else(|| old.map(|o| o.refresh_token.clone()))
            .unwrap_or_default(),
        token_type: answer.token_type.unwrap_or_else(|| "Bearer".into()),
        resource_url: answer
            .resource_url
            .or(answer.endpoint)
            .or_else(|| old.and_then(|o| o.resource_url.clone())),
        expiry_date: now_ms.saturating_add(lifetime * 1000),
        extra,
    }
}

/// Credentials after a refresh: rotated refresh token and resource_url kept from the old ones when
/// the answer has none; unknown fields of the old record kept.
pub fn apply_refresh(old: &OAuthCredentials, answer: TokenAnswer, now_ms: u64) -> OAuthCredentials {
    credentials_of(answer, now_ms, Some(old))
}

/// Credentials from a device-flow token answer; `None` without a refresh token.
pub fn credentials_from_token(answer: TokenAnswer, now_ms: u64) -> Option<OAuthCredentials> {
    let c = credentials_of(answer, now_ms, None);
    (!c.refresh_token.is_empty()).then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc7636_example() {
        // RFC 7636 appendix B.
        let bytes: [u8; 32] = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
            37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ];
        let p = Pkce::from_random(&bytes);
        assert_eq!(p.verifier, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(p.challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn forms_are_encoded() {
        assert_eq!(form_encode(&[("a b", "c&d=e/f")]), "a+b=c%26d%3De%2Ff");
        let f = refresh_form("rt/x");
        assert!(f.starts_with("grant_type=refresh_token&refresh_token=rt%2Fx&client_id="));
        let p = Pkce::from_random(&[0; 32]);
        let f = device_code_form(&p);
        assert!(f.contains("scope=openid+profile+email+model.completion"));
        assert!(f.contains("code_challenge_method=S256"));
        assert!(device_poll_form("dc", "v")
            .contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"));
    }

    #[test]
    fn token_answers() {
        let ok = r#"{"access_token":"a","refresh_token":"r2","token_type":"Bearer","expires_in":3600,"resource_url":"portal.qwen.ai","scope":"s"}"#;
        assert!(matches!(
            parse_token_answer(200, ok, &[]),
            TokenOutcome::Token(_)
        ));
        assert_eq!(
            parse_token_answer(400, r#"{"error":"authorization_pending"}"#, &[]),
            TokenOutcome::Pending
        );
        assert_eq!(
            parse_token_answer(429, r#"{"error":"slow_down"}"#, &[]),
            TokenOutcome::SlowDown
        );
        assert_eq!(
            parse_token_answer(400, r#"{"error":"slow_down"}"#, &[]),
            TokenOutcome::SlowDown
        );
        assert!(matches!(
            parse_token_answer(400, r#"{"error":"invalid_grant","error_description":"Invalid refresh token or client_id"}"#, &[]),
            TokenOutcome::Rejected { ref code, .. } if code == "invalid_grant"
        ));
        assert!(matches!(
            parse_token_answer(401, "nope", &[]),
            TokenOutcome::Rejected { .. }
        ));
        assert!(matches!(
            parse_token_answer(500, "{}", &[]),
            TokenOutcome::Unavailable { .. }
        ));
        assert!(matches!(
            parse_token_answer(200, "{}", &[]),
            TokenOutcome::Unavailable { .. }
        ));
        assert!(matches!(
            parse_token_answer(400, r#"{"error":"expired_token"}"#, &[]),
            TokenOutcome::Rejected { .. }
        ));
    }

    #[test]
    fn refresh_keeps_old_refresh_token_and_resource_url_when_absent() {
        let old = OAuthCredentials {
            access_token: "old".into(),
            refresh_token: "rt1".into(),
            token_type: "Bearer".into(),
            resource_url: Some("portal.qwen.ai".into()),
            expiry_date: 0,
            extra: Map::from_iter([("id_token".to_owned(), Value::from("x"))]),
        };
        let TokenOutcome::Token(a) =
            parse_token_answer(200, r#"{"access_token":"new","expires_in":60}"#, &[])
        else {
            panic!()
        };
        let c = apply_refresh(&old, a, 1_000);
        assert_eq!(c.refresh_token, "rt1");
        assert_eq!(c.resource_url.as_deref(), Some("portal.qwen.ai"));
        assert_eq!(c.expiry_date, 61_000);
        assert_eq!(c.extra["id_token"], "x");
        let TokenOutcome::Token(a) = parse_token_answer(
            200,
            r#"{"access_token":"new","refresh_token":"rt2","endpoint":"x.qwen.ai"}"#,
            &[],
        ) else {
            panic!()
        };
        let c = apply_refresh(&old, a, 0);
        assert_eq!(c.refresh_token, "rt2");
        assert_eq!(c.resource_url.as_deref(), Some("x.qwen.ai"));
    }

    #[test]
    fn poll_interval() {
        assert_eq!(slowed_down(2_000), 3_000);
        assert_eq!(slowed_down(9_000), 10_000);
        assert_eq!(slowed_down(u64::MAX), POLL_MAX_MS);
    }

    #[test]
    fn token_lifetimes_are_clamped() {
        for (expires_in, want_secs) in [
            ("18446744073709551", MAX_TOKEN_LIFETIME_SECS),
            ("0", MIN_TOKEN_LIFETIME_SECS),
            ("3600", 3600),
        ] {
            let body =
                format!(r#"{{"access_token":"a","refresh_token":"r","expires_in":{expires_in}}}"#);
            let TokenOutcome::Token(t) = parse_token_answer(200, &body, &[]) else {
                panic!("{body}")
            };
            let c = credentials_from_token(t, u64::MAX - 5).unwrap();
            assert_eq!(c.expiry_date, u64::MAX, "saturates instead of wrapping");
            let TokenOutcome::Token(t) = parse_token_answer(200, &body, &[]) else {
                panic!()
            };
            assert_eq!(
                credentials_from_token(t, 1_000).unwrap().expiry_date,
                1_000 + want_secs * 1000
            );
        }
    }

    #[test]
    fn answers_that_cannot_be_used_or_shown() {
        // An access token with a line break would disable the account for its lifetime.
        assert!(matches!(
            parse_token_answer(200, "{\"access_token\":\"a\\nb\"}", &[]),
            TokenOutcome::Unavailable { .. }
        ));
        // A description quoting the refresh token sent is scrubbed.
        let TokenOutcome::Rejected { description, .. } = parse_token_answer(
            400,
            r#"{"error":"invalid_grant","error_description":"token rt-secret-value-1 is revoked"}"#,
            &["rt-secret-value-1"],
        ) else {
            panic!()
        };
        assert_eq!(description, "token *** is revoked");
        // A non-code in the error field is not repeated as a code.
        let TokenOutcome::Rejected { code, .. } =
            parse_token_answer(400, r#"{"error":"bad thing: sk-1234567890abc"}"#, &[])
        else {
            panic!()
        };
        assert_eq!(code, "http_400");
    }
}
