//! Named client keys: what the admin API creates, how a key looks, and how one presented is
//! checked. Only a key's SHA-256 is stored; the key itself is shown once, at creation.
//!
//! A key is `sk-qw-<id>-<secret>`: `id` (8 characters of `a-z2-7`) names the record and is not
//! secret (logs, usage and the admin API use it); `secret` is 32 characters from 24 random bytes.
//! A presented key finds its record by the id inside it, so checking one is one lookup and one
//! constant-time comparison of hashes.

use crate::error::GatewayError;
use crate::time::{parse_rfc3339, rfc3339};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const KEY_PREFIX: &str = "sk-qw-";
const ID_LEN: usize = 8;
const SECRET_LEN: usize = 32;
const ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// Bytes of randomness a new key needs.
pub const RANDOM_BYTES: usize = ID_LEN + SECRET_LEN;
const MAX_NAME: usize = 100;
const MAX_MODELS: usize = 100;

/// Limits of one key; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u64>,
    /// Input plus output tokens per UTC day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_day: Option<u64>,
    /// Input plus output tokens per UTC calendar month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_month: Option<u64>,
}

/// A stored key: everything but the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedKey {
    pub id: String,
    pub name: String,
    /// Hex SHA-256 of the key.
    pub hash: String,
    /// Model names it may use (aliases included); empty: any.
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub expires_at_ms: Option<u64>,
    #[serde(default)]
    pub limits: Limits,
    pub created_at_ms: u64,
    #[serde(default)]
    pub revoked_at_ms: Option<u64>,
}

impl NamedKey {
    /// The record as the admin API shows it (never the hash).
    pub fn view(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "models": self.models,
            "expires_at": self.expires_at_ms.map(rfc3339),
            "limits": self.limits,
            "created_at": rfc3339(self.created_at_ms),
            "revoked": self.revoked_at_ms.is_some(),
            "revoked_at": self.revoked_at_ms.map(rfc3339),
        })
    }

    /// Why the key cannot be used at `now_ms`, if it cannot.
    pub fn inactive(&self, now_ms: u64) -> Option<&'static str> {
        if self.revoked_at_ms.is_some() {
            Some("has been revoked")
        } else if self.expires_at_ms.is_some_and(|t| now_ms >= t) {
            Some("has expired")
        } else {
            None
        }
    }

    /// May this key use the model a request names (`asked`), or the model that name stands for
    /// (`resolved`)? An entry ending in `*` allows every name it starts.
    pub fn allows_model(&self, asked: &str, resolved: &str) -> bool {
        let matches = |m: &str, name: &str| match m.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => m == name,
        };
        self.models.is_empty()
            || self
                .models
                .iter()
                .any(|m| matches(m, asked) || matches(m, resolved))
    }
}

/// A new key: its id, the key to show once, and the hash to store.
pub struct Minted {
    pub id: String,
    pub key: String,
    pub hash: String,
}

/// A new key from `RANDOM_BYTES` random bytes.
pub fn mint(random: &[u8; RANDOM_BYTES]) -> Minted {
    let pick = |alphabet: &[u8], b: &u8| alphabet[*b as usize % alphabet.len()] as char;
    let id: String = random[..ID_LEN]
        .iter()
        .map(|b| pick(ID_ALPHABET, b))
        .collect();
    let secret: String = random[ID_LEN..]
        .iter()
        .map(|b| pick(SECRET_ALPHABET, b))
        .collect();
    let key = format!("{KEY_PREFIX}{id}-{secret}");
    Minted {
        hash: hash(&key),
        id,
        key,
    }
}

/// The id inside a presented key of ours, or `None` when it is not one.
pub fn id_in(presented: &str) -> Option<&str> {
    let rest = presented.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_at_checked(ID_LEN)?;
    let secret = secret.strip_prefix('-')?;
    (is_id(id) && secret.len() == SECRET_LEN).then_some(id)
}

/// Is `id` shaped like a key id (what the admin API's path segments must be)?
pub fn is_id(id: &str) -> bool {
    id.len() == ID_LEN && id.bytes().all(|b| ID_ALPHABET.contains(&b))
}

pub fn hash(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Does `presented` match the stored key? Constant-time in the key.
pub fn verify(presented: &str, record: &NamedKey) -> bool {
    hash(presented)
        .as_bytes()
        .ct_eq(record.hash.as_bytes())
        .into()
}

fn invalid(message: impl Into<String>, param: &str) -> GatewayError {
    GatewayError::invalid(message, Some(param))
}

/// A change to a key's settings, from `POST` (all of it) or `PATCH` (what it names; `null`
/// clears an expiry or a limit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySettings {
    pub name: Option<String>,
    pub models: Option<Vec<String>>,
    pub expires_at_ms: Option<Option<u64>>,
    pub requests_per_minute: Option<Option<u64>>,
    pub tokens_per_day: Option<Option<u64>>,
    pub tokens_per_month: Option<Option<u64>>,
}

impl KeySettings {
    /// Reads a `POST /admin/keys` (`creating`: a name is required) or `PATCH` body.
    pub fn parse(body: &[u8], creating: bool, now_ms: u64) -> Result<KeySettings, GatewayError> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|_| GatewayError::invalid("The body must be a JSON object.", None))?;
        let Value::Object(obj) = v else {
            return Err(GatewayError::invalid(
                "The body must be a JSON object.",
                None,
            ));
        };
        const FIELDS: &[&str] = &["name", "models", "expires_at", "limits"];
        if let Some(k) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(invalid(
                format!("Unknown field '{k}'; a key has: {}.", FIELDS.join(", ")),
                k,
            ));
        }
        let mut s = KeySettings::default();
        match obj.get("name") {
            Some(Value::String(n)) if !n.trim().is_empty() && n.chars().count() <= MAX_NAME => {
                s.name = Some(n.trim().to_owned())
            }
            None if !creating => {}
            _ => {
                return Err(invalid(
                    format!(
                        "'name' is required: a non-empty string of at most {MAX_NAME} characters."
                    ),
                    "name",
                ))
            }
        }
        match obj.get("models") {
            None => {}
            Some(Value::Null) => s.models = Some(Vec::new()),
            Some(Value::Array(a))
                if a.len() <= MAX_MODELS
                    && a.iter().all(|m| m.as_str().is_some_and(|m| !m.trim().is_empty())) =>
            {
                s.models = Some(
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(|m| m.trim().to_owned())
                        .collect(),
                )
            }
            Some(_) => {
                return Err(invalid(
                    "'models' must be a list of model names (aliases included); empty or null allows every model.",
                    "models",
                ))
            }
        }
        match obj.get("expires_at") {
            None => {}
            Some(Value::Null) => s.expires_at_ms = Some(None),
            Some(Value::String(t)) => match parse_rfc3339(t) {
                Some(ms) if ms > now_ms => s.expires_at_ms = Some(Some(ms)),
                Some(_) => return Err(invalid("'expires_at' is in the past.", "expires_at")),
                None => {
                    return Err(invalid(
                        "'expires_at' must be an RFC 3339 time such as 2026-12-31T23:59:59Z.",
                        "expires_at",
                    ))
                }
            },
            Some(_) => {
                return Err(invalid(
                    "'expires_at' must be an RFC 3339 time such as 2026-12-31T23:59:59Z, or null.",
                    "expires_at",
                ))
            }
        }
        match obj.get("limits") {
            None | Some(Value::Null) => {}
            Some(Value::Object(l)) => parse_limits(l, &mut s)?,
            Some(_) => {
                return Err(invalid(
                    "'limits' must be an object: {\"requests_per_minute\", \"tokens_per_day\", \"tokens_per_month\"}.",
                    "limits",
                ))
            }
        }
        Ok(s)
    }

    /// A new record with these settings.
    pub fn create(&self, minted: &Minted, now_ms: u64) -> NamedKey {
        let mut k = NamedKey {
            id: minted.id.clone(),
            name: String::new(),
            hash: minted.hash.clone(),
            models: Vec::new(),
            expires_at_ms: None,
            limits: Limits::default(),
            created_at_ms: now_ms,
            revoked_at_ms: None,
        };
        self.apply(&mut k);
        k
    }

    /// These settings applied to `key`.
    pub fn apply(&self, key: &mut NamedKey) {
        if let Some(n) = &self.name {
            key.name = n.clone();
        }
        if let Some(m) = &self.models {
            key.models = m.clone();
        }
        if let Some(e) = self.expires_at_ms {
            key.expires_at_ms = e;
        }
        if let Some(v) = self.requests_per_minute {
            key.limits.requests_per_minute = v;
        }
        if let Some(v) = self.tokens_per_day {
            key.limits.tokens_per_day = v;
        }
        if let Some(v) = self.tokens_per_month {
            key.limits.tokens_per_month = v;
        }
    }
}

fn parse_limits(l: &Map<String, Value>, s: &mut KeySettings) -> Result<(), GatewayError> {
    const LIMITS: &[&str] = &["requests_per_minute", "tokens_per_day", "tokens_per_month"];
    if let Some(k) = l.keys().find(|k| !LIMITS.contains(&k.as_str())) {
        return Err(invalid(
            format!("Unknown limit '{k}'; limits are: {}.", LIMITS.join(", ")),
            "limits",
        ));
    }
    for name in LIMITS {
        let value = match l.get(*name) {
            None => continue,
            Some(Value::Null) => None,
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 => Some(n),
                _ => {
                    return Err(invalid(
                        format!(
                        "'limits.{name}' must be a positive whole number, or null for no limit."
                    ),
                        "limits",
                    ))
                }
            },
        };
        match *name {
            "requests_per_minute" => s.requests_per_minute = Some(value),
            "tokens_per_day" => s.tokens_per_day = Some(value),
            _ => s.tokens_per_month = Some(value),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_795_694_400_000; // 2026-11-26T12:00:00Z

    fn minted() -> Minted {
        let mut r = [0u8; RANDOM_BYTES];
        for (i, b) in r.iter_mut().enumerate() {
            *b = (i * 37 + 11) as u8;
        }
        mint(&r)
    }

    #[test]
    fn a_minted_key_carries_its_id_and_verifies_only_itself() {
        let m = minted();
        assert_eq!(id_in(&m.key), Some(m.id.as_str()));
        assert!(m.key.starts_with(KEY_PREFIX) && m.key.len() == KEY_PREFIX.len() + 8 + 1 + 32);
        let rec = KeySettings::parse(br#"{"name":"ci"}"#, true, NOW)
            .unwrap()
            .create(&m, NOW);
        assert!(verify(&m.key, &rec));
        let mut other = m.key.clone();
        other.pop();
        other.push('x');
        assert!(!verify(&other, &rec));
        for not_ours in [
            "sk-test-client",
            "sk-qw-",
            "sk-qw-abcdefgh",
            "sk-qw-ABCDEFGH-0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(id_in(not_ours), None, "{not_ours}");
        }
        assert!(
            !rec.view().to_string().contains(&rec.hash),
            "the view never shows the hash"
        );
    }

    #[test]
    fn settings_are_checked_with_a_message_naming_the_field() {
        let bad: &[(&[u8], &str)] = &[
            (br#"{}"#, "name"),
            (br#"{"name":""}"#, "name"),
            (br#"{"name":"x","models":"qwen"}"#, "models"),
            (br#"{"name":"x","expires_at":"soon"}"#, "expires_at"),
            (
                br#"{"name":"x","expires_at":"2020-01-01T00:00:00Z"}"#,
                "expires_at",
            ),
            (br#"{"name":"x","limits":{"tokens_per_day":0}}"#, "limits"),
            (br#"{"name":"x","limits":{"tokens_per_week":5}}"#, "limits"),
            (br#"{"name":"x","colour":"red"}"#, "colour"),
            (br#"[1]"#, ""),
        ];
        for (body, param) in bad {
            let e = KeySettings::parse(body, true, NOW).unwrap_err();
            assert_eq!(e.status(), 400);
            if !param.is_empty() {
                assert_eq!(e.param(), Some(*param), "{}", String::from_utf8_lossy(body));
            }
        }
        assert!(
            KeySettings::parse(br#"{}"#, false, NOW).is_ok(),
            "a patch may change nothing"
        );
    }

    #[test]
    fn create_then_patch() {
        let s = KeySettings::parse(
            br#"{"name":"team","models":["qwen3-coder-plus","claude-*"],"expires_at":"2027-01-01T00:00:00Z","limits":{"requests_per_minute":60,"tokens_per_day":100000}}"#,
            true,
            NOW,
        )
        .unwrap();
        let mut k = s.create(&minted(), NOW);
        assert_eq!(k.limits.requests_per_minute, Some(60));
        assert_eq!(k.limits.tokens_per_month, None);
        assert_eq!(k.view()["expires_at"], "2027-01-01T00:00:00Z");
        KeySettings::parse(
            br#"{"limits":{"tokens_per_day":null,"tokens_per_month":5},"expires_at":null}"#,
            false,
            NOW,
        )
        .unwrap()
        .apply(&mut k);
        assert_eq!(
            k.limits,
            Limits {
                requests_per_minute: Some(60),
                tokens_per_day: None,
                tokens_per_month: Some(5)
            }
        );
        assert_eq!(k.expires_at_ms, None);
        assert_eq!(k.name, "team", "untouched");
    }

    #[test]
    fn expiry_revocation_and_models() {
        let mut k = KeySettings::parse(
            br#"{"name":"a","models":["fast"],"expires_at":"2026-11-27T00:00:00Z"}"#,
            true,
            NOW,
        )
        .unwrap()
        .create(&minted(), NOW);
        assert_eq!(k.inactive(NOW), None);
        assert_eq!(k.inactive(NOW + 12 * 3_600_000), Some("has expired"));
        assert!(k.allows_model("fast", "qwen3-coder-flash"));
        assert!(k.allows_model("qwen3-coder-flash-alias", "fast"));
        assert!(!k.allows_model("qwen3-max", "qwen3-max"));
        k.models = vec!["claude-*".into()];
        assert!(k.allows_model("claude-opus-5-5", "qwen3-coder-plus"));
        assert!(!k.allows_model("gpt-5", "qwen3-coder-plus"));
        k.revoked_at_ms = Some(NOW);
        assert_eq!(k.inactive(NOW), Some("has been revoked"));
    }
}
