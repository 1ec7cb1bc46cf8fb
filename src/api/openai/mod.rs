//! The OpenAI dialect: chat completions (validated and rewritten one level deep), the model list,
//! and the error shape `{"error":{"message","type","param","code"}}`.

pub mod chat;
pub mod completions;
pub mod embeddings;
pub mod errors;
pub mod models;
