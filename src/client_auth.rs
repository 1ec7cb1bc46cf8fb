//! Client authentication: the keys from `OPENAI_API_KEYS` (comma-separated) and the legacy
//! `OPENAI_API_KEY`, presented as `Authorization: Bearer <key>` or `x-api-key: <key>`.

use subtle::ConstantTimeEq;

#[derive(Debug, Clone, Default)]
pub struct ClientKeys {
    keys: Vec<String>,
}

impl ClientKeys {
    pub fn from_secrets(keys: Option<&str>, legacy_key: Option<&str>) -> Self {
        let mut all: Vec<String> = keys
            .unwrap_or("")
            .split(',')
            .chain(legacy_key)
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect();
        all.dedup();
        ClientKeys { keys: all }
    }

    /// No key configured: the API is public.
    pub fn is_public(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Does the presented key match one of ours? Every configured key is compared, in constant
    /// time, whatever matches first.
    pub fn accepts(&self, presented: Option<&str>) -> bool {
        if self.is_public() {
            return true;
        }
        let Some(p) = presented else { return false };
        let mut ok = 0u8;
        for k in &self.keys {
            ok |= constant_time_eq(k, p) as u8;
        }
        ok == 1
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_both_secrets() {
        let k = ClientKeys::from_secrets(Some(" sk-a, sk-b ,,"), Some("sk-legacy"));
        assert_eq!(k.len(), 3);
        assert!(k.accepts(Some("sk-a")));
        assert!(k.accepts(Some("sk-b")));
        assert!(k.accepts(Some("sk-legacy")));
        assert!(!k.accepts(Some("sk-c")));
        assert!(!k.accepts(Some("sk-a ")));
        assert!(!k.accepts(Some("")));
        assert!(!k.accepts(None));
    }

    #[test]
    fn public_when_unset() {
        let k = ClientKeys::from_secrets(None, Some("  "));
        assert!(k.is_public());
        assert!(k.accepts(None));
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
