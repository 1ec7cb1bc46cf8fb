//! Account ids: validated once, where they enter (admin path, pinning header, the tool's
//! arguments, the index read from KV), and carried as [`AccountId`] from then on.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest id accepted: ids end up in KV keys (512 bytes at most) and in URLs.
pub const MAX_ID_LEN: usize = 64;

/// An account id: 1-64 characters of ASCII letters, digits, `-`, `_`, `.`, `@`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

/// Why a string is not an account id. Never quotes the input (it may be anything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidAccountId;

impl fmt::Display for InvalidAccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "account id must be 1-{MAX_ID_LEN} characters of letters, digits, '-', '_', '.', '@'"
        )
    }
}

impl std::error::Error for InvalidAccountId {}

impl AccountId {
    pub fn parse(s: &str) -> Result<Self, InvalidAccountId> {
        let ok = !s.is_empty()
            && s.len() <= MAX_ID_LEN
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'@'));
        if ok {
            Ok(AccountId(s.to_owned()))
        } else {
            Err(InvalidAccountId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AccountId {
    type Error = InvalidAccountId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        AccountId::parse(&s)
    }
}

impl From<AccountId> for String {
    fn from(id: AccountId) -> String {
        id.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for AccountId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for AccountId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for AccountId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_ids_at_every_edge() {
        for ok in [
            "a",
            "account1",
            "me@example.com",
            "a.b-c_d",
            &"x".repeat(64),
        ] {
            assert!(AccountId::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a/b",
            "..%2F",
            "a b",
            "ACCOUNT:x",
            "é",
            "a\u{202e}b",
            "a\0b",
            &"x".repeat(65),
        ] {
            assert_eq!(AccountId::parse(bad), Err(InvalidAccountId), "{bad:?}");
        }
    }

    #[test]
    fn serde_validates() {
        let ids: Vec<AccountId> = serde_json::from_str(r#"["a","b"]"#).unwrap();
        assert_eq!(ids[1], "b");
        assert!(serde_json::from_str::<Vec<AccountId>>(r#"["a","../x"]"#).is_err());
        assert_eq!(serde_json::to_string(&ids).unwrap(), r#"["a","b"]"#);
    }
}
