//! Who is calling: the client keys from `OPENAI_API_KEYS` (comma-separated) and the legacy
//! `OPENAI_API_KEY`, the admin key, and the key a request presents (`Authorization: Bearer <key>`
//! or `x-api-key: <key>`). Every comparison is constant-time.

use crate::api::Audience;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, Default)]
pub struct ClientKeys {
    /// Each key with its id, computed once.
    keys: Vec<(String, KeyId)>,
}

/// A stable, short, non-secret name for a client key (a prefix of its SHA-256): what usage
/// accounting and logs use instead of the key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyId(String);

impl KeyId {
    pub fn of(key: &str) -> KeyId {
        let digest = Sha256::digest(key.as_bytes());
        KeyId(digest[..5].iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The id of a named key (created through the admin API; `ledger::keys`).
    pub fn named(id: &str) -> KeyId {
        KeyId(id.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The identity of a request's caller, established once per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No client key is configured: anyone may call, and nobody is known.
    Public,
    /// Holds one of the client keys from the secrets (no limits).
    Client(KeyId),
    /// Holds a named key, with its limits (`ledger::keys`).
    Named(KeyId),
    /// Holds the admin key.
    Admin,
}

impl Caller {
    pub fn audience(&self) -> Audience {
        match self {
            Caller::Public => Audience::Public,
            Caller::Client(_) | Caller::Named(_) => Audience::Client,
            Caller::Admin => Audience::Admin,
        }
    }

    /// Did the caller present a key we know? (Pinning an account needs one.)
    pub fn holds_key(&self) -> bool {
        !matches!(self, Caller::Public)
    }

    pub fn key_id(&self) -> Option<&KeyId> {
        match self {
            Caller::Client(id) | Caller::Named(id) => Some(id),
            _ => None,
        }
    }
}

impl ClientKeys {
    pub fn from_secrets(keys: Option<&str>, legacy_key: Option<&str>) -> Self {
        let mut all: Vec<(String, KeyId)> = Vec::new();
        for k in keys.unwrap_or("").split(',').chain(legacy_key) {
            let k = k.trim();
            if !k.is_empty() && !all.iter().any(|(x, _)| x == k) {
                all.push((k.to_owned(), KeyId::of(k)));
            }
        }
        ClientKeys { keys: all }
    }

    /// No key configured in the secrets: the API is public (unless named keys exist).
    pub fn is_public(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn count(&self) -> usize {
        self.keys.len()
    }

    /// The id of the configured key equal to `presented`, compared in constant time against
    /// every key whatever matches first.
    fn find(&self, presented: &str) -> Option<&KeyId> {
        let mut found = None;
        for (k, id) in &self.keys {
            if constant_time_eq(k, presented) {
                found = Some(id);
            }
        }
        found
    }
}

pub fn constant_time_eq(expected: &str, presented: &str) -> bool {
    // ct_eq on slices of different lengths returns false without leaking where they differ.
    bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

/// The key a client presented: `Authorization: Bearer <key>` first, then `x-api-key`.
pub fn presented_key<'a>(
    authorization: Option<&'a str>,
    x_api_key: Option<&'a str>,
) -> Option<&'a str> {
    if let Some(a) = authorization {
        let a = a.trim();
        // Byte-wise: a header may carry non-ASCII characters, and slicing a str inside one panics.
        if a.len() > 7 && a.as_bytes()[..7].eq_ignore_ascii_case(b"bearer ") {
            let k = a[7..].trim();
            if !k.is_empty() {
                return Some(k);
            }
        }
    }
    x_api_key.map(str::trim).filter(|k| !k.is_empty())
}

/// The caller of an API route: the admin key, a client key, anyone when the API is public, or
/// `None` (refused) for a missing or wrong key.
pub fn identify(
    keys: &ClientKeys,
    admin_key: Option<&str>,
    presented: Option<&str>,
) -> Option<Caller> {
    let is_admin = match (admin_key, presented) {
        (Some(a), Some(p)) => constant_time_eq(a, p),
        _ => false,
    };
    let client = presented.and_then(|p| keys.find(p));
    if is_admin {
        Some(Caller::Admin)
    } else if let Some(id) = client {
        Some(Caller::Client(id.clone()))
    } else if keys.is_public() {
        Some(Caller::Public)
    } else {
        None
    }
}

/// Is `presented` the admin key? (The admin routes accept nothing else.)
pub fn is_admin(admin_key: Option<&str>, presented: Option<&str>) -> bool {
    matches!((admin_key, presented), (Some(a), Some(p)) if constant_time_eq(a, p))
}

impl Caller {
    /// The name usage and logs give the caller: a key's id (`env-<hash>` for keys from the
    /// secrets), `admin` or `public`. Never a secret.
    pub fn usage_name(&self) -> String {
        match self {
            Caller::Public => "public".into(),
            Caller::Admin => "admin".into(),
            Caller::Client(id) => format!("env-{}", id.as_str()),
            Caller::Named(id) => id.as_str().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_both_secrets() {
        let k = ClientKeys::from_secrets(Some(" sk-a, sk-b ,,sk-a"), Some("sk-legacy"));
        assert_eq!(k.count(), 3);
        for ok in ["sk-a", "sk-b", "sk-legacy"] {
            assert_eq!(
                identify(&k, None, Some(ok)),
                Some(Caller::Client(KeyId::of(ok)))
            );
        }
        for bad in [Some("sk-c"), Some("sk-a "), Some(""), None] {
            assert_eq!(identify(&k, None, bad), None, "{bad:?}");
        }
    }

    #[test]
    fn public_when_unset_and_the_admin_is_always_known() {
        let k = ClientKeys::from_secrets(None, Some("  "));
        assert!(k.is_public());
        assert_eq!(identify(&k, None, None), Some(Caller::Public));
        assert_eq!(identify(&k, None, Some("anything")), Some(Caller::Public));
        assert_eq!(identify(&k, Some("adm"), Some("adm")), Some(Caller::Admin));
        let keyed = ClientKeys::from_secrets(Some("sk-a"), None);
        assert_eq!(
            identify(&keyed, Some("adm"), Some("adm")),
            Some(Caller::Admin)
        );
        assert_eq!(identify(&keyed, Some("adm"), Some("ad")), None);
        assert!(is_admin(Some("adm"), Some("adm")));
        assert!(!is_admin(None, Some("adm")) && !is_admin(Some("adm"), None));
    }

    #[test]
    fn key_ids_are_short_stable_and_not_the_key() {
        let id = KeyId::of("sk-secret-value");
        assert_eq!(id, KeyId::of("sk-secret-value"));
        assert_ne!(id, KeyId::of("sk-other"));
        assert_eq!(id.as_str().len(), 10);
        assert!(!id.as_str().contains("secret"));
        assert_eq!(Caller::Client(id).audience(), Audience::Client);
        assert!(!Caller::Public.holds_key());
    }

    #[test]
    fn presented_key_sources() {
        assert_eq!(presented_key(Some("Bearer sk-1"), None), Some("sk-1"));
        assert_eq!(presented_key(Some("bearer   sk-1 "), None), Some("sk-1"));
        assert_eq!(presented_key(Some("Basic abc"), Some("sk-2")), Some("sk-2"));
        assert_eq!(presented_key(None, Some("sk-2")), Some("sk-2"));
        assert_eq!(presented_key(Some("Bearer "), None), None);
        assert_eq!(presented_key(None, None), None);
        // Non-ASCII where the scheme would end: no panic, no key.
        assert_eq!(presented_key(Some("abcdefé-x"), None), None);
        assert_eq!(presented_key(Some("Bearer é"), None), Some("é"));
    }
}
