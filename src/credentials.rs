//! Account credentials as stored in KV (`ACCOUNT:<id>`) and in the `QWEN_OAUTH_CREDS` secret.
//!
//! The stored JSON is the qwen-code credentials file (`{access_token, refresh_token, token_type,
//! resource_url, expiry_date}`, expiry in epoch milliseconds), which is also what the TypeScript
//! worker stores. A record with no `kind` is an OAuth account. An API-key account is
//! `{"kind":"api_key","api_key":"...","base_url":"..."}`. Unknown fields (`id_token`, `scope`...)
//! are kept on every rewrite so nothing a user stored is lost.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A token is used only while `now < expiry - REFRESH_MARGIN_MS` (qwen-code's rule).
pub const REFRESH_MARGIN_MS: u64 = 30_000;

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

/// expiry_date written as a number, a float or a numeric string: all seen in the wild.
fn lenient_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().map(|f| f.max(0.0) as u64))
            .unwrap_or(0),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map(|f| f.max(0.0) as u64)
            .unwrap_or(0),
        _ => 0,
    })
}

impl OAuthCredentials {
    pub fn is_fresh(&self, now_ms: u64) -> bool {
        !self.access_token.is_empty() && now_ms + REFRESH_MARGIN_MS < self.expiry_date
    }

    pub fn millis_left(&self, now_ms: u64) -> i64 {
        self.expiry_date as i64 - now_ms as i64
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyCredentials {
    pub api_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Credentials {
    OAuth(OAuthCredentials),
    ApiKey(ApiKeyCredentials),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    Oauth,
    ApiKey,
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

    pub fn from_value(mut value: Value) -> Result<Self, CredentialsError> {
        let obj = value
            .as_object_mut()
            .ok_or_else(|| CredentialsError("credentials must be a JSON object".into()))?;
        let kind = obj.remove("kind");
        match kind.as_ref().and_then(Value::as_str) {
            None | Some("oauth") | Some("qwen-oauth") => {
                match obj.get("refresh_token") {
                    Some(Value::String(s)) if !s.is_empty() => {}
                    _ => return Err(CredentialsError("refresh_token is missing or empty".into())),
                }
                let c: OAuthCredentials = serde_json::from_value(value).map_err(|e| {
                    CredentialsError(format!(
                        "invalid OAuth credentials: {}",
                        scrub(&e.to_string())
                    ))
                })?;
                Ok(Credentials::OAuth(c))
            }
            Some("api_key") => {
                match obj.get("api_key") {
                    Some(Value::String(s)) if !s.is_empty() => {}
                    _ => return Err(CredentialsError("api_key is missing or empty".into())),
                }
                let c: ApiKeyCredentials = serde_json::from_value(value).map_err(|e| {
                    CredentialsError(format!(
                        "invalid api_key account: {}",
                        scrub(&e.to_string())
                    ))
                })?;
                Ok(Credentials::ApiKey(c))
            }
            Some(other) => Err(CredentialsError(format!(
                "unknown account kind '{other}' (expected 'oauth' or 'api_key')"
            ))),
        }
    }

    pub fn to_json(&self) -> String {
        match self {
            // Plain qwen-code shape, no kind field: the TypeScript worker reads it unchanged.
            Credentials::OAuth(c) => serde_json::to_string(c).unwrap_or_default(),
            Credentials::ApiKey(c) => {
                let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
                if let Some(o) = v.as_object_mut() {
                    o.insert("kind".into(), Value::String("api_key".into()));
                }
                v.to_string()
            }
        }
    }

    pub fn kind(&self) -> AccountKind {
        match self {
            Credentials::OAuth(_) => AccountKind::Oauth,
            Credentials::ApiKey(_) => AccountKind::ApiKey,
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

/// Chat completions URL for a base (`resource_url` or a configured default): add `https://`
/// when there is no scheme, trim trailing `/`, add `/v1` when missing.
pub fn chat_completions_url(base: &str) -> String {
    let base = base.trim().trim_end_matches('/');
    let with_scheme = if base.contains("://") {
        base.to_owned()
    } else {
        format!("https://{base}")
    };
    let with_v1 = if with_scheme.ends_with("/v1") {
        with_scheme
    } else {
        format!("{with_scheme}/v1")
    };
    format!("{with_v1}/chat/completions")
}

/// Account ids end up in KV keys and URLs: keep them short and plain.
pub fn validate_account_id(id: &str) -> Result<(), CredentialsError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if ok {
        Ok(())
    } else {
        Err(CredentialsError(
            "account id must be 1-64 characters of letters, digits, '-', '_', '.', '@'".into(),
        ))
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
            .contains("unknown account kind"));
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
    fn chat_urls() {
        assert_eq!(
            chat_completions_url("portal.qwen.ai"),
            "https://portal.qwen.ai/v1/chat/completions"
        );
        assert_eq!(
            chat_completions_url("https://portal.qwen.ai/"),
            "https://portal.qwen.ai/v1/chat/completions"
        );
        assert_eq!(
            chat_completions_url("http://127.0.0.1:8787"),
            "http://127.0.0.1:8787/v1/chat/completions"
        );
        assert_eq!(
            chat_completions_url("https://dashscope.aliyuncs.com/compatible-mode/v1"),
            "https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions"
        );
    }

    #[test]
    fn newer_never_loses_to_older() {
        let old = Credentials::parse(r#"{"refresh_token":"a","expiry_date":1000}"#).unwrap();
        let new = Credentials::parse(r#"{"refresh_token":"b","expiry_date":2000}"#).unwrap();
        assert!(new.is_newer_or_same(&old));
        assert!(!old.is_newer_or_same(&new));
    }

    #[test]
    fn account_ids() {
        assert!(validate_account_id("account1").is_ok());
        assert!(validate_account_id("me@example.com").is_ok());
        assert!(validate_account_id("").is_err());
        assert!(validate_account_id("a/b").is_err());
        assert!(validate_account_id(&"x".repeat(65)).is_err());
    }
}
