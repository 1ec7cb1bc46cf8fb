//! What the stream translator reads from upstream: chat chunks, read with borrowed structs
//! (no JSON tree, no list of choices), and the error events some servers send instead.

use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// Only the first element of an array, without collecting the rest.
pub(crate) struct First<T>(pub Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for First<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = First<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_unit<E>(self) -> Result<First<T>, E> {
                Ok(First(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<First<T>, A::Error> {
                let first = seq.next_element()?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(First(first))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

#[derive(Deserialize)]
pub(crate) struct ChunkIn<'a> {
    #[serde(borrow)]
    pub choices: Option<First<ChoiceIn<'a>>>,
    #[serde(borrow)]
    pub usage: Option<&'a RawValue>,
    #[serde(borrow)]
    pub error: Option<&'a RawValue>,
    /// A bare `{"code", "message"}` (DashScope's native error shape) instead of a chunk.
    #[serde(borrow)]
    pub message: Option<&'a RawValue>,
}

#[derive(Deserialize)]
pub(crate) struct ChoiceIn<'a> {
    #[serde(borrow)]
    pub delta: Option<DeltaIn<'a>>,
    #[serde(borrow)]
    pub finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub(crate) struct DeltaIn<'a> {
    #[serde(borrow)]
    pub content: Option<&'a RawValue>,
    #[serde(borrow)]
    pub reasoning_content: Option<&'a RawValue>,
    #[serde(borrow)]
    pub tool_calls: Option<Vec<CallDeltaIn<'a>>>,
}

#[derive(Deserialize)]
pub(crate) struct CallDeltaIn<'a> {
    pub index: Option<u64>,
    #[serde(borrow)]
    pub id: Option<&'a RawValue>,
    #[serde(borrow)]
    pub function: Option<FunctionDeltaIn<'a>>,
}

#[derive(Deserialize)]
pub(crate) struct FunctionDeltaIn<'a> {
    #[serde(borrow)]
    pub name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub arguments: Option<&'a RawValue>,
}

#[derive(Deserialize)]
pub(crate) struct ErrorIn {
    pub code: Option<serde_json::Value>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub message: Option<String>,
}

/// The Responses error code for an upstream error: the ones Codex acts on (no retry on a full
/// context window, a wait on rate limits), `server_error` for the rest (retried as a stream
/// error).
pub(crate) fn error_code(code: Option<&str>, kind: Option<&str>, message: &str) -> &'static str {
    let hay =
        format!("{} {} {message}", code.unwrap_or(""), kind.unwrap_or("")).to_ascii_lowercase();
    if hay.contains("context_length") || hay.contains("input length") {
        "context_length_exceeded"
    } else if hay.contains("insufficient_quota") || hay.contains("quota exceeded") {
        "insufficient_quota"
    } else if hay.contains("rate_limit")
        || hay.contains("throttl")
        || hay.contains("limit_requests")
    {
        "rate_limit_exceeded"
    } else {
        "server_error"
    }
}
