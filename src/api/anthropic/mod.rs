//! The Anthropic Messages dialect (Claude Code, the Anthropic SDKs), pure:
//!
//! - [`request`]: `POST /v1/messages` validated, then written as an OpenAI chat-completions body
//!   (`chat_body`) or as the same Anthropic body for an Anthropic-compatible upstream
//!   (`native_body`);
//! - [`response`]: a non-streamed chat completion → one Anthropic message;
//! - [`stream`]: a streamed chat completion → Anthropic server-sent events, chunk by chunk;
//! - [`count_tokens`]: `POST /v1/messages/count_tokens`, estimated locally;
//! - [`errors`]: the error shape `{"type":"error","error":{"type","message"}}`.
//!
//! The facts these rely on (what Claude Code sends, what it expects back) are in
//! docs/UPSTREAM.md.

pub mod count_tokens;
pub mod errors;
pub mod request;
mod request_blocks;
mod request_chat;
mod request_fields;
mod request_native;
pub mod response;
pub mod stream;
mod stream_blocks;
mod wire;

#[cfg(test)]
#[path = "tests/fixtures.rs"]
mod fixtures;
