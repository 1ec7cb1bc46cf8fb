//! qwen-worker: an OpenAI-compatible gateway to Qwen's coder models, as a Cloudflare Worker.
//!
//! The pure modules below hold every rule and are tested natively with `cargo test`; `glue`
//! (compiled for wasm32 only) wires them to the Workers runtime: routes, KV, fetch and streams.

pub mod chat_request;
pub mod classify;
pub mod client_auth;
pub mod credentials;
pub mod error;
pub mod health;
#[cfg(not(target_arch = "wasm32"))]
pub mod local_accounts;
pub mod models;
pub mod oauth;
pub mod pool;
pub mod sse;
pub mod upstream;

#[cfg(target_arch = "wasm32")]
mod glue;
