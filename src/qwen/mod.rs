//! The upstream, pure: where a request goes and what it carries for each account, what an
//! answer means (error classes, the first streamed event, one attempt's steps), the OAuth
//! protocol and its device flow, and the scrubbing of secrets from upstream text.

pub mod attempt;
pub mod classify;
pub mod device_flow;
pub mod normalize;
pub mod oauth;
pub mod request;
pub mod scrub;
pub mod sse;
