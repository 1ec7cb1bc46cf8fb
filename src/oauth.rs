//! The Qwen OAuth protocol (RFC 8628 device flow with PKCE, and refresh), as pure functions.
//!
//! Both the worker and the account tool (`qwen-accounts`) build their requests and read the
//! answers through this module; only the HTTP transport differs.

use crate::credentials::OAuthCredentials;
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

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
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
    (interval_ms * 3 / 2).min(POLL_MAX_MS)
}

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

pub fn parse_token_answer(status: u16, body: &str) -> TokenOutcome {
    if (200..300).contains(&status) {
        return match serde_json::from_str::<TokenAnswer>(body) {
            Ok(t) if !t.access_token.is_empty() => TokenOutcome::Token(t),
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
    match v.get("error")? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o
            .get("code")
            .or_else(|| o.get("type"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

/// Credentials after a refresh: rotated refresh token and resource_url kept from the old ones when
/// the answer has none; unknown fields of the old record kept.
pub fn apply_refresh(old: &OAuthCredentials, answer: TokenAnswer, now_ms: u64) -> OAuthCredentials {
    let mut extra = old.extra.clone();
    if let Some(scope) = answer.extra.get("scope") {
        extra.insert("scope".into(), scope.clone());
    }
    OAuthCredentials {
        access_token: answer.access_token,
        refresh_token: answer
            .refresh_token
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| old.refresh_token.clone()),
        token_type: answer.token_type.unwrap_or_else(|| "Bearer".into()),
        resource_url: answer
            .resource_url
            .or(answer.endpoint)
            .or_else(|| old.resource_url.clone()),
        expiry_date: now_ms + answer.expires_in.unwrap_or(3600) * 1000,
        extra,
    }
}

/// Credentials from a device-flow token answer.
pub fn credentials_from_token(answer: TokenAnswer, now_ms: u64) -> Option<OAuthCredentials> {
    let refresh_token = answer.refresh_token.clone().filter(|s| !s.is_empty())?;
    let mut extra = Map::new();
    if let Some(scope) = answer.extra.get("scope") {
        extra.insert("scope".into(), scope.clone());
    }
    Some(OAuthCredentials {
        access_token: answer.access_token,
        refresh_token,
        token_type: answer.token_type.unwrap_or_else(|| "Bearer".into()),
        resource_url: answer.resource_url.or(answer.endpoint),
        expiry_date: now_ms + answer.expires_in.unwrap_or(3600) * 1000,
        extra,
    })
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
            parse_token_answer(200, ok),
            TokenOutcome::Token(_)
        ));
        assert_eq!(
            parse_token_answer(400, r#"{"error":"authorization_pending"}"#),
            TokenOutcome::Pending
        );
        assert_eq!(
            parse_token_answer(429, r#"{"error":"slow_down"}"#),
            TokenOutcome::SlowDown
        );
        assert_eq!(
            parse_token_answer(400, r#"{"error":"slow_down"}"#),
            TokenOutcome::SlowDown
        );
        assert!(matches!(
            parse_token_answer(400, r#"{"error":"invalid_grant","error_description":"Invalid refresh token or client_id"}"#),
            TokenOutcome::Rejected { ref code, .. } if code == "invalid_grant"
        ));
        assert!(matches!(
            parse_token_answer(401, "nope"),
            TokenOutcome::Rejected { .. }
        ));
        assert!(matches!(
            parse_token_answer(500, "{}"),
            TokenOutcome::Unavailable { .. }
        ));
        assert!(matches!(
            parse_token_answer(200, "{}"),
            TokenOutcome::Unavailable { .. }
        ));
        assert!(matches!(
            parse_token_answer(400, r#"{"error":"expired_token"}"#),
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
            parse_token_answer(200, r#"{"access_token":"new","expires_in":60}"#)
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
    }
}
