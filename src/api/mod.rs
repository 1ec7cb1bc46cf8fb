//! The client dialects, pure: who is calling ([`keys`]), the route table, and one folder per
//! dialect with its request mapping, its answer translation and its error shape.

use crate::accounts::credentials::Credentials;
pub use crate::error::Audience;
use crate::qwen::request::Endpoint;

pub mod anthropic;
pub mod calls;
pub mod keys;
pub mod openai;
pub mod responses;
pub mod routes;
pub mod translate;

/// The client dialect a route speaks, which decides the shape of its errors and answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// OpenAI's error shape: chat, completions, embeddings, models, Responses, admin.
    OpenAI,
    /// Anthropic's: `/v1/messages` and `count_tokens`.
    Anthropic,
}

/// What a client request becomes, whatever its dialect: one upstream call, written for each
/// account the failover loop tries.
pub trait UpstreamCall {
    /// The model as the client named it.
    fn asked_model(&self) -> &str;
    /// The model it asks upstream for (aliases resolved).
    fn upstream_model(&self) -> &str;
    /// Where this account is sent it, or `None` when this account cannot serve it.
    fn endpoint_for(&self, creds: &Credentials, default_base: &str) -> Option<Endpoint>;
    /// A streamed (SSE) answer, or one JSON answer.
    fn stream(&self) -> bool;
    /// The body for this account at `endpoint`.
    fn body_for(&self, creds: &Credentials, endpoint: Endpoint) -> String;
}
