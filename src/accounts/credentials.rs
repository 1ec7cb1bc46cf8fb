//! Account credentials as stored in KV (`ACCOUNT:<id>`) and in the `QWEN_OAUTH_CREDS` secret.
//!
//! The stored JSON is the qwen-code credentials file (`{access_token, refresh_token, token_type,
//! resource_url, expiry_date}`, expiry in epoch milliseconds), which is also what the TypeScript
//! worker stores. A record with no `kind` is an OAuth account. An API-key account is
//! `{"kind":"api_key","api_key":"...","base_url":"..."}`. Unknown fields (`id_token`, `scope`...)
//! are kept on every rewrite so nothing a user stored is lost.
//!
//! Also here: the rule that decides which copy of an account's credentials wins when the isolate,
//! KV and the `QWEN_OAUTH_CREDS` secret disagree ([`resolve`]).

pub use crate::accounts::key_account::ApiKeyCredentials;
pub use crate::accounts::kinds::AccountKind;
use crate::accounts::kinds::KIND_NAMES;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A token is used only while `now < expiry - REFRESH_MARGIN_MS` (qwen-code's rule).
pub const REFRESH_MARGIN_MS: u64 = 30_000;

/// Expiry dates are clamped to this (9999-12-31T23:59:59.999Z): any later value is a typo or
/// garbage, and arithmetic on it must not wrap.
pub const MAX_EXPIRY_MS: u64 = 253_402_300_799_999;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuthCredentials {
    #[serde(default)]
    pub access_token: String,
    pub refresh_token: String,
    #[serde(default = "bearer", skip_serializing_if = "String::is_empty")]
    pub token_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_url: Option<String>,
    /// Epoch milliseconds. qwen-code always writes it; 0 means "unknown, refresh first".
    #[serde(default, deserialize_with = "lenient_u64")]
    pub expiry_date: u64,
    /// Every other field, kept as it was.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn bearer() -> String {
    "Bearer".into()
}

/// expiry_date written as a number, a float or a numeric string: all seen in the wild. Negative,
/// unreadable or infinite values are 0 ("refresh first"); anything past [`MAX_EXPIRY_MS`] is
/// clamped to it.
fn lenient_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = Value::deserialize(d)?;
    let from_f64 = |f: f64| {
        if f.is_finite() {
            f.clamp(0.0, MAX_EXPIRY_MS as f64) as u64
        } else {
            0
        }
    };
    let ms = match v {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(from_f64)).unwrap_or(0),
        Value::String(s) => s.trim().parse::<f64>().map(from_f64).unwrap_or(0),
        _ => 0,
    };
    Ok(ms.min(MAX_EXPIRY_MS))
}

/// Can this be sent in an HTTP header (`Authorization: Bearer <token>`)? Visible ASCII only: a
/// token with a space, a control character or a non-ASCII byte is refused where it enters, so
/// it can never disable an account later.
pub fn is_header_safe(token: &str) -> bool {
    !token.is_empty() && token.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

impl OAuthCredentials {
    pub fn is_fresh(&self, now_ms: u64) -> bool {
        !self.access_token.is_empty() && now_ms + REFRESH_MARGIN_MS < self.expiry_date
    }

    pub fn millis_left(&self, now_ms: u64) -> i64 {
        // Both are at most MAX_EXPIRY_MS (or a clock), far below i64::MAX.
        self.expiry_date.min(MAX_EXPIRY_MS) as i64 - now_ms.min(MAX_EXPIRY_MS) as i64
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Credentials {
    OAuth(OAuthCredentials),
    ApiKey(ApiKeyCredentials),
}

/// Why a stored record could not be used. Never contains secret values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialsError(pub String);

impl std::fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Credentials {
    pub fn parse(text: &str) -> Result<Self, CredentialsError> {
        let value: Value = serde_json::from_str(text.trim()).map_err(|e| {
            CredentialsError(format!(
                "not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        Self::from_value(value)
    }

    fn from_value(mut value: Value) -> Result<Self, CredentialsError> {
        let obj = value
            .as_object_mut()
            .ok_or_else(|| CredentialsError("credentials must be a JSON object".into()))?;
        let kind = match obj.remove("kind") {
            None | Some(Value::Null) => AccountKind::Oauth,
            Some(Value::String(k)) => AccountKind::of_record(&k).ok_or_else(|| {
                CredentialsError(format!(
                    "unknown account kind '{}' (expected one of {KIND_NAMES})",
                    k.chars().take(40).collect::<String>()
                ))
            })?,
            Some(_) => {
                return Err(CredentialsError(format!(
                    "'kind' must be a string: one of {KIND_NAMES}"
                )))
            }
        };
        if kind != AccountKind::Oauth {
            let obj = std::mem::take(obj);
            return ApiKeyCredentials::from_object(kind, obj).map(Credentials::ApiKey);
        }
        match obj.get("refresh_token") {
            Some(Value::String(s)) if !s.is_empty() => {}
            _ => return Err(CredentialsError("refresh_token is missing or empty".into())),
        }
        for field in ["access_token", "refresh_token"] {
            if let Some(Value::String(t)) = obj.get(field) {
                if !t.is_empty() && !is_header_safe(t) {
                    return Err(CredentialsError(format!(
                        "{field} must be visible ASCII (no spaces, line breaks or other characters a header cannot carry)"
                    )));
                }
            }
        }
        let c: OAuthCredentials = serde_json::from_value(value).map_err(|e| {
            CredentialsError(format!(
                "invalid OAuth credentials: {}",
                scrub(&e.to_string())
            ))
        })?;
        Ok(Credentials::OAuth(c))
    }

    pub fn to_json(&self) -> String {
        match self {
            // Plain qwen-code shape, no kind field: the TypeScript worker reads it unchanged.
            Credentials::OAuth(c) => serde_json::to_string(c).unwrap_or_default(),
            Credentials::ApiKey(c) => c.to_value().to_string(),
        }
    }

    pub fn kind(&self) -> AccountKind {
        match self {
            Credentials::OAuth(_) => AccountKind::Oauth,
            Credentials::ApiKey(c) => c.kind,
        }
    }

    /// Epoch ms after which the access token must not be used; `None` never expires.
    pub fn expiry_ms(&self) -> Option<u64> {
        match self {
            Credentials::OAuth(c) => Some(c.expiry_date),
            Credentials::ApiKey(_) => None,
        }
    }

    /// A short, non-reversible fingerprint of the long-lived secret (refresh token or API key):
    /// tells whether an account's credentials were replaced, without storing the secret twice.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let secret = match self {
            Credentials::OAuth(c) => &c.refresh_token,
            Credentials::ApiKey(c) => &c.api_key,
        };
        Sha256::digest(secret.as_bytes())[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Is `self` at least as new as `other`? Used so older credentials never overwrite newer.
    pub fn is_newer_or_same(&self, other: &Credentials) -> bool {
        match (self, other) {
            (Credentials::OAuth(a), Credentials::OAuth(b)) => a.expiry_date >= b.expiry_date,
            _ => true,
        }
    }
}

/// serde messages can quote input fragments; keep only the part before any quoted value.
fn scrub(msg: &str) -> String {
    match msg.find('`').or_else(|| msg.find('"')) {
        Some(i) => msg[..i].trim_end().to_owned(),
        None => msg.to_owned(),
    }
}

/// Of the stored record (KV) and the `QWEN_OAUTH_CREDS` secret (account `default` only), the
/// one to use: the newer expiry wins, so a refreshed copy in KV beats the secret it came from.
pub fn newest(stored: Option<Credentials>, secret: Option<Credentials>) -> Option<Credentials> {
    match (stored, secret) {
        (Some(a), Some(b)) => Some(if a.is_newer_or_same(&b) { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// What the isolate should hold after looking at storage again.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// The isolate's copy stays: it is newer, or it holds a rotated token storage refused.
    KeepCached,
    /// Storage's copy replaces the isolate's.
    Take(Credentials),
    /// Neither side has credentials.
    Nothing,
}

/// Who wins between the isolate's copy (`cached`) and what storage holds now (`stored`, already
/// reduced with [`newest`]). `unsaved`: the isolate holds refreshed credentials that storage
/// refused to take, so they carry the only valid refresh token.
///
/// - same lineage (same refresh token or key): the newer expiry;
/// - other credentials in storage: someone replaced them (a new login, an admin, another
///   isolate's refresh), and storage wins, unless the isolate's copy is unsaved;
/// - nothing stored: the isolate's copy, if any (a refresh KV refused, or a write not yet seen).
pub fn resolve(
    cached: Option<&Credentials>,
    stored: Option<Credentials>,
    unsaved: bool,
) -> Resolution {
    match (cached, stored) {
        (None, None) => Resolution::Nothing,
        (Some(_), None) => Resolution::KeepCached,
        (None, Some(s)) => Resolution::Take(s),
        (Some(c), Some(s)) if c.fingerprint() == s.fingerprint() => {
            if s.is_newer_or_same(c) {
                Resolution::Take(s)
            } else {
                Resolution::KeepCached
            }
        }
        (Some(_), Some(s)) => {
            if unsaved {
                Resolution::KeepCached
            } else {
                Resolution::Take(s)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QWEN_CODE: &str = r#"{"access_token":"at","refresh_token":"rt","token_type":"Bearer","resource_url":"portal.qwen.ai","expiry_date":1764000000000,"id_token":"keep-me"}"#;

    #[test]
    fn plain_qwen_code_file_is_oauth_and_round_trips_unknown_fields() {
        let c = Credentials::parse(QWEN_CODE).unwrap();
        let Credentials::OAuth(o) = &c else {
            panic!("oauth expected")
        };
        assert_eq!(o.expiry_date, 1_764_000_000_000);
        assert_eq!(o.resource_url.as_deref(), Some("portal.qwen.ai"));
        let back: Value = serde_json::from_str(&c.to_json()).unwrap();
        assert_eq!(back["id_token"], "keep-me");
        assert!(
            back.get("kind").is_none(),
            "oauth records stay in the TypeScript worker's shape"
        );
    }

    #[test]
    fn api_key_accounts() {
        let c = Credentials::parse(r#"{"kind":"api_key","api_key":"sk-1","base_url":"https://dashscope-intl.aliyuncs.com/compatible-mode/v1"}"#).unwrap();
        assert_eq!(c.kind(), AccountKind::ApiKey);
        assert_eq!(c.expiry_ms(), None);
        let back: Value = serde_json::from_str(&c.to_json()).unwrap();
        assert_eq!(back["kind"], "api_key");
    }

    #[test]
    fn bad_records_say_why_without_echoing_secrets() {
        assert!(Credentials::parse("{")
            .unwrap_err()
            .0
            .contains("not valid JSON"));
        assert!(Credentials::parse("[]").unwrap_err().0.contains("object"));
        assert!(Credentials::parse(r#"{"access_token":"secret-at"}"#)
            .unwrap_err()
            .0
            .contains("refresh_token"));
        let e = Credentials::parse(r#"{"refresh_token":"rt","access_token":5}"#).unwrap_err();
        assert!(!e.0.contains("rt"), "{e}");
        assert!(Credentials::parse(r#"{"kind":"magic"}"#)
            .unwrap_err()
            .0
            .contains("unknown account kind 'magic' (expected one of oauth, api_key, dashscope"));
    }

    #[test]
    fn lenient_expiry() {
        let c =
            Credentials::parse(r#"{"refresh_token":"r","expiry_date":"1700000000000"}"#).unwrap();
        assert_eq!(c.expiry_ms(), Some(1_700_000_000_000));
        let c = Credentials::parse(r#"{"refresh_token":"r","expiry_date":1.7e12}"#).unwrap();
        assert_eq!(c.expiry_ms(), Some(1_700_000_000_000));
        let c = Credentials::parse(r#"{"refresh_token":"r"}"#).unwrap();
        assert_eq!(c.expiry_ms(), Some(0));
    }

    #[test]
    fn freshness_uses_thirty_second_margin() {
        let Credentials::OAuth(c) = Credentials::parse(QWEN_CODE).unwrap() else {
            unreachable!()
        };
        assert!(c.is_fresh(c.expiry_date - 30_001));
        assert!(!c.is_fresh(c.expiry_date - 30_000));
    }

    #[test]
    fn odd_expiry_values_are_clamped_not_wrapped() {
        for (raw, want) in [
            ("18446744073709551615", MAX_EXPIRY_MS),
            ("\"1e400\"", 0),
            ("-5", 0),
            ("\"abc\"", 0),
            ("9.3e18", MAX_EXPIRY_MS),
        ] {
            let c = Credentials::parse(&format!(r#"{{"refresh_token":"r","expiry_date":{raw}}}"#))
                .unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(c.expiry_ms(), Some(want), "{raw}");
        }
        // A number JSON itself cannot hold is not JSON: the record is refused, not misread.
        assert!(Credentials::parse(r#"{"refresh_token":"r","expiry_date":1e400}"#).is_err());
        let Credentials::OAuth(o) =
            Credentials::parse(r#"{"refresh_token":"r","expiry_date":18446744073709551615}"#)
                .unwrap()
        else {
            unreachable!()
        };
        assert!(o.millis_left(u64::MAX) <= 0);
        assert!(o.millis_left(0) > 0);
    }

    #[test]
    fn kind_must_be_a_known_string_and_tokens_header_safe() {
        let e = Credentials::parse(r#"{"kind":5,"refresh_token":"rt-secret-yyyy"}"#).unwrap_err();
        assert!(e.0.contains("'kind' must be a string: one of oauth"), "{e}");
        assert!(Credentials::parse(r#"{"kind":["api_key"],"api_key":"k"}"#).is_err());
        let e = Credentials::parse("{\"kind\":\"api_key\",\"api_key\":\"sk-a\\nb\"}").unwrap_err();
        assert!(
            e.0.contains("visible ASCII") && !e.0.contains("sk-a"),
            "{e}"
        );
        let e =
            Credentials::parse("{\"refresh_token\":\"r\",\"access_token\":\"a b\"}").unwrap_err();
        assert!(e.0.contains("access_token"), "{e}");
        assert!(Credentials::parse(r#"{"kind":null,"refresh_token":"r"}"#).is_ok());
        assert!(is_header_safe("sk-abc_DEF.123~"));
        assert!(!is_header_safe("") && !is_header_safe("a\tb") && !is_header_safe("é"));
    }

    #[test]
    fn who_wins_between_the_isolate_and_storage() {
        let a1 = Credentials::parse(r#"{"refresh_token":"a","expiry_date":1000}"#).unwrap();
        let a2 = Credentials::parse(r#"{"refresh_token":"a","expiry_date":2000}"#).unwrap();
        let b0 = Credentials::parse(r#"{"refresh_token":"b","expiry_date":500}"#).unwrap();
        // Same lineage: the newer.
        assert_eq!(
            resolve(Some(&a1), Some(a2.clone()), false),
            Resolution::Take(a2.clone())
        );
        assert_eq!(
            resolve(Some(&a2), Some(a1.clone()), false),
            Resolution::KeepCached
        );
        // Replaced in storage (even with an older expiry): storage wins...
        assert_eq!(
            resolve(Some(&a2), Some(b0.clone()), false),
            Resolution::Take(b0.clone())
        );
        // ...unless the isolate holds a rotated token storage refused.
        assert_eq!(
            resolve(Some(&a2), Some(b0.clone()), true),
            Resolution::KeepCached
        );
        assert_eq!(resolve(Some(&a2), None, false), Resolution::KeepCached);
        assert_eq!(
            resolve(None, Some(b0.clone()), false),
            Resolution::Take(b0.clone())
        );
        assert_eq!(resolve(None, None, false), Resolution::Nothing);
        // The secret against KV: the newer expiry.
        assert_eq!(newest(Some(a1.clone()), Some(a2.clone())), Some(a2.clone()));
        assert_eq!(newest(Some(a2.clone()), Some(a1.clone())), Some(a2));
        assert_eq!(newest(None, Some(b0.clone())), Some(b0));
    }

    #[test]
    fn newer_never_loses_to_older() {
        let old = Credentials::parse(r#"{"refresh_token":"a","expiry_date":1000}"#).unwrap();
        let new = Credentials::parse(r#"{"refresh_token":"b","expiry_date":2000}"#).unwrap();
        assert!(new.is_newer_or_same(&old));
        assert!(!old.is_newer_or_same(&new));
    }
}
