//! The client dialects, pure: who is calling ([`keys`]), the raw one-level JSON the request
//! mappings share ([`raw_json`]), and one folder per dialect with its request mapping, its
//! answer translation and its error shape.

use crate::accounts::credentials::Credentials;
pub use crate::error::Audience;
use crate::qwen::request::Endpoint;

pub mod anthropic;
pub mod keys;
pub mod openai;
pub mod raw_json;
pub mod routes;

/// The client dialect a route speaks, which decides the shape of its errors and answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    OpenAI,
}

/// What a client request becomes, whatever its dialect: one upstream call, written for each
/// account the failover loop tries.
pub trait UpstreamCall {
    /// The upstream endpoint it goes to.
    fn endpoint(&self) -> Endpoint;
    /// A streamed (SSE) answer, or one JSON answer.
    fn stream(&self) -> bool;
    /// The body for this account.
    fn body_for(&self, creds: &Credentials) -> String;
}
