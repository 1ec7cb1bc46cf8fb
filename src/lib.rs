//! qwen-worker: a gateway to Qwen models for OpenAI-style clients, as a Cloudflare Worker.
//!
//! Every rule lives in the pure modules below, tested natively with `cargo test`: the account
//! domain and its failover policy (`accounts`), the upstream protocol (`qwen`), the client
//! dialects (`api`), the KV layout (`kv_layout`), configuration and errors. `worker` (compiled
//! for wasm32 only) sequences the I/O: routes, KV, fetch, streams. docs/ARCHITECTURE.md has the
//! picture.

// Nothing outside tests may panic on what a client or upstream sends.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod accounts;
pub mod api;
pub mod catalogue;
pub mod config;
pub mod error;
pub mod kv_layout;
pub mod ledger;
pub mod qwen;
pub mod raw_json;
pub mod store;
pub mod time;
pub mod usage;

#[cfg(target_arch = "wasm32")]
mod worker;
