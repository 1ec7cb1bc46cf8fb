//! The OpenAI Responses dialect (`POST /v1/responses`, what Codex CLI speaks), answered through
//! one chat-completions call upstream. Pure: bytes in, bytes out.
//!
//! - [`request`]: a Responses body → [`ResponsesRequest`], whose [`ResponsesRequest::chat_body`]
//!   is the chat call for an upstream model; input items in `request_items` and
//!   `request_parts`, generation parameters in `request_params`, tools in [`tools`].
//! - [`ResponseContext`] ([`ResponsesRequest::context`]): what the answer needs from the
//!   request — the tool map, the echoed parameters, the id and time the Worker chose.
//! - [`response::from_chat`]: a chat completion → a `response` object.
//! - [`stream::StreamTranslator`]: chat chunks → Responses events.
//!
//! Errors are [`GatewayError`](crate::error::GatewayError)s, rendered in OpenAI's shape by
//! `api::openai::errors`. Nothing is stored: `store: true` and `previous_response_id` are
//! refused with a 400 saying so.

mod context;
mod json;
mod output;
pub mod request;
mod request_items;
mod request_params;
mod request_parts;
pub mod response;
pub mod stream;
mod stream_chunk;
mod stream_events;
pub mod tools;

pub use context::ResponseContext;
pub use request::{parse, ResponsesRequest};
pub use response::from_chat;
pub use stream::StreamTranslator;
pub use tools::{ClientTool, ToolKind, ToolMap};

#[cfg(test)]
mod tests;
