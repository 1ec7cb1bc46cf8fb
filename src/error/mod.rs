//! The one error type of the gateway, with no wire shape.
//!
//! Every failure that can reach a client is a [`GatewayError`]. Each variant knows its
//! [`Category`] (and so its HTTP status), its machine-readable code, whether the client may
//! retry, the level it is logged at, and its message for each [`Audience`]. How it looks on the
//! wire belongs to the client's dialect (`api::openai::errors`, and the others beside it).

use std::fmt;

mod failure;
pub use failure::{AccountFailure, DISCONTINUED};

/// Who an error message or a view is for: what they may learn depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Anyone (a public API): no account ids, no failure reasons.
    Public,
    /// A holder of a client key: account ids and our own descriptions, never upstream's text.
    Client,
    /// The admin: everything, with secrets scrubbed.
    Admin,
}

/// What kind of failure, independent of any dialect. Each dialect maps it to its own error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// 400: the request is malformed or names something that cannot work.
    InvalidRequest,
    /// 401
    Authentication,
    /// 403
    Permission,
    /// 404
    NotFound,
    /// 405
    MethodNotAllowed,
    /// 413
    TooLarge,
    /// 415
    UnsupportedMediaType,
    /// 429: every usable account is throttled or out of quota.
    RateLimited,
    /// 502: upstream failed.
    Upstream,
    /// 503: nothing can serve (no account, or only dead ones).
    Unavailable,
    /// 500: our bug or our storage.
    Internal,
}

impl Category {
    pub fn status(self) -> u16 {
        match self {
            Category::InvalidRequest => 400,
            Category::Authentication => 401,
            Category::Permission => 403,
            Category::NotFound => 404,
            Category::MethodNotAllowed => 405,
            Category::TooLarge => 413,
            Category::UnsupportedMediaType => 415,
            Category::RateLimited => 429,
            Category::Upstream => 502,
            Category::Unavailable => 503,
            Category::Internal => 500,
        }
    }
}

/// How loudly an error is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// The client's own mistake: not logged.
    Quiet,
    /// Upstream trouble: worth a line.
    Warn,
    /// Our bug or storage: always logged.
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub enum GatewayError {
    /// The client sent something we cannot forward (400).
    InvalidRequest {
        message: String,
        param: Option<String>,
    },
    /// Request body larger than we accept (413).
    PayloadTooLarge { limit: usize },
    /// A multipart upload (415).
    UnsupportedMediaType,
    /// Missing or wrong client key (401).
    Unauthorized,
    /// Missing or wrong admin key (401).
    AdminUnauthorized,
    /// A named client key that has expired or been revoked (401).
    KeyInactive { id: String, why: &'static str },
    /// A named client key used for a model it may not use (403).
    ModelNotAllowed { model: String, allowed: Vec<String> },
    /// A named client key over its requests per minute (429).
    KeyRateLimited { limit: u64, retry_after_secs: u64 },
    /// A named client key's token budget is spent until `resets_at_ms` (429).
    BudgetSpent {
        budget: &'static str,
        limit: u64,
        resets_at_ms: u64,
        retry_after_secs: u64,
    },
    /// No such client key (admin API) (404).
    UnknownKey { id: String },
    /// ADMIN_SECRET_KEY is not set, so the admin API is off (404 keeps it invisible).
    AdminDisabled,
    /// No such route (404).
    NotFound { path: String },
    /// The route exists, the method does not (405, with `Allow`).
    MethodNotAllowed { method: String, allowed: String },
    /// No such account (admin API, pinned account) (404).
    UnknownAccount { id: String },
    /// No account serves this model (404).
    ModelNotFound { model: String },
    /// Upstream said the request itself is wrong (400-499 other than auth, quota and
    /// throttling): its status and its body, scrubbed of secrets, go back as they are.
    UpstreamClient { status: u16, body: String },
    /// Every account is unusable or every attempt failed.
    NoAccountAvailable {
        attempts: Vec<(String, AccountFailure)>,
        retry_after_secs: Option<u64>,
        configured: usize,
    },
    /// A service we depend on (the OAuth server) failed or answered nonsense (502).
    UpstreamService { message: String },
    /// Account storage (KV) failed or holds something unreadable (500).
    Storage { message: String },
    /// A bug or an unexpected runtime failure (500).
    Internal { message: String },
}

impl GatewayError {
    pub fn invalid(message: impl Into<String>, param: Option<&str>) -> Self {
        GatewayError::InvalidRequest {
            message: message.into(),
            param: param.map(str::to_owned),
        }
    }

    pub fn category(&self) -> Category {
        use GatewayError::*;
        match self {
            InvalidRequest { .. } => Category::InvalidRequest,
            PayloadTooLarge { .. } => Category::TooLarge,
            UnsupportedMediaType => Category::UnsupportedMediaType,
            Unauthorized | AdminUnauthorized | KeyInactive { .. } => Category::Authentication,
            ModelNotAllowed { .. } => Category::Permission,
            KeyRateLimited { .. } | BudgetSpent { .. } => Category::RateLimited,
            AdminDisabled
            | NotFound { .. }
            | UnknownAccount { .. }
            | ModelNotFound { .. }
            | UnknownKey { .. } => Category::NotFound,
            MethodNotAllowed { .. } => Category::MethodNotAllowed,
            UpstreamClient { status, .. } => match status {
                401 => Category::Authentication,
                403 => Category::Permission,
                404 => Category::NotFound,
                405 => Category::MethodNotAllowed,
                413 => Category::TooLarge,
                415 => Category::UnsupportedMediaType,
                429 => Category::RateLimited,
                _ => Category::InvalidRequest,
            },
            NoAccountAvailable {
                attempts,
                configured,
                ..
            } => {
                let throttled = |f: &AccountFailure| {
                    matches!(
                        f,
                        AccountFailure::Quota
                            | AccountFailure::Throttled { .. }
                            | AccountFailure::OutUntil { .. }
                    )
                };
                let refused = |f: &AccountFailure| matches!(f, AccountFailure::Refused { .. });
                if *configured == 0 {
                    Category::Unavailable
                } else if !attempts.is_empty() && attempts.iter().all(|(_, f)| refused(f)) {
                    Category::Permission
                } else if !attempts.is_empty() && attempts.iter().all(|(_, f)| throttled(f)) {
                    Category::RateLimited
                } else if attempts
                    .iter()
                    .any(|(_, f)| matches!(f, AccountFailure::Unavailable { .. }))
                {
                    Category::Upstream
                } else {
                    Category::Unavailable
                }
            }
            UpstreamService { .. } => Category::Upstream,
            Storage { .. } | Internal { .. } => Category::Internal,
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            // Only statuses 400-499 are relayed (classification guarantees it); the category
            // covers anything else.
            GatewayError::UpstreamClient { status, .. } if (400..500).contains(status) => *status,
            other => other.category().status(),
        }
    }

    /// A machine-readable code, the same in every dialect that has a place for one.
    pub fn code(&self) -> Option<&'static str> {
        use GatewayError::*;
        Some(match self {
            InvalidRequest { .. } => "invalid_request",
            PayloadTooLarge { .. } => "payload_too_large",
            UnsupportedMediaType => "unsupported_media_type",
            Unauthorized => "invalid_api_key",
            AdminUnauthorized => "invalid_admin_key",
            KeyInactive { .. } => "invalid_api_key",
            ModelNotAllowed { .. } => "model_not_allowed",
            KeyRateLimited { .. } => "rate_limit_exceeded",
            BudgetSpent { .. } => "budget_exceeded",
            UnknownKey { .. } => "key_not_found",
            AdminDisabled => "admin_disabled",
            NotFound { .. } => "not_found",
            MethodNotAllowed { .. } => "method_not_allowed",
            UnknownAccount { .. } => "account_not_found",
            ModelNotFound { .. } => "model_not_found",
            UpstreamClient { .. } => return None,
            NoAccountAvailable { configured: 0, .. } => "no_accounts_configured",
            NoAccountAvailable { attempts, .. } => {
                if attempts.is_empty() {
                    "no_account_available"
                } else if attempts
                    .iter()
                    .all(|(_, f)| matches!(f, AccountFailure::Quota))
                {
                    "insufficient_quota"
                } else if self.category() == Category::RateLimited {
                    "rate_limit_exceeded"
                } else {
                    "all_accounts_failed"
                }
            }
            UpstreamService { .. } => "upstream_error",
            Storage { .. } => "storage_error",
            Internal { .. } => "internal_error",
        })
    }

    /// The request parameter at fault, when known.
    pub fn param(&self) -> Option<&str> {
        match self {
            GatewayError::InvalidRequest { param, .. } => param.as_deref(),
            GatewayError::ModelNotFound { .. } | GatewayError::ModelNotAllowed { .. } => {
                Some("model")
            }
            _ => None,
        }
    }

    /// Seconds a client should wait before trying again, when we know. Sent on the 503 too:
    /// SDKs that retry honour it, and some account comes back then.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            GatewayError::NoAccountAvailable {
                retry_after_secs, ..
            } => *retry_after_secs,
            GatewayError::KeyRateLimited {
                retry_after_secs, ..
            }
            | GatewayError::BudgetSpent {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// The methods a 405 names in `Allow`.
    pub fn allow(&self) -> Option<&str> {
        match self {
            GatewayError::MethodNotAllowed { allowed, .. } => Some(allowed),
            _ => None,
        }
    }

    /// May the same request succeed if the client sends it again later?
    pub fn retryable(&self) -> bool {
        matches!(
            self.category(),
            Category::RateLimited | Category::Upstream | Category::Unavailable
        ) && !matches!(self, GatewayError::NoAccountAvailable { configured: 0, .. })
    }

    pub fn level(&self) -> Level {
        match self.category() {
            Category::Internal => Level::Error,
            Category::Upstream | Category::Unavailable => Level::Warn,
            _ => Level::Quiet,
        }
    }

    /// The message for `audience`. Upstream's own words reach the admin only; in a public
    /// deployment nobody but the admin learns account ids or why they failed.
    pub fn message(&self, audience: Audience) -> String {
        use GatewayError::*;
        match self {
            InvalidRequest { message, .. } => message.clone(),
            PayloadTooLarge { limit } => format!("Request body is larger than the limit of {limit} bytes."),
            UnsupportedMediaType => "Request body must be a JSON object (Content-Type: application/json), not a multipart upload.".into(),
            Unauthorized => "Invalid or missing API key. Send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'.".into(),
            AdminUnauthorized => "Invalid or missing admin key. Send ADMIN_SECRET_KEY as 'Authorization: Bearer <key>'.".into(),
            AdminDisabled => "The admin API is disabled: set the ADMIN_SECRET_KEY secret to enable it.".into(),
            KeyInactive { id, why } => format!("The API key '{id}' {why}; ask the gateway's admin for a new one."),
            ModelNotAllowed { model, allowed } => format!(
                "This API key may not use the model '{model}'; it may use: {}.",
                allowed.join(", ")
            ),
            KeyRateLimited { limit, retry_after_secs } => format!(
                "This API key is limited to {limit} requests per minute; try again in {retry_after_secs} s."
            ),
            BudgetSpent { budget, limit, resets_at_ms, .. } => format!(
                "This API key's budget {budget} ({limit} tokens) is spent; it resets at {}.",
                crate::time::rfc3339(*resets_at_ms)
            ),
            UnknownKey { id } => format!("No client key with id '{id}'."),
            NotFound { path } => format!("Unknown route '{path}'. See GET / for the routes this gateway serves."),
            MethodNotAllowed { method, allowed } => format!("Method {method} is not allowed here; use {allowed}."),
            UnknownAccount { id } => format!("No account with id '{id}'."),
            ModelNotFound { model } => format!(
                "The model '{model}' does not exist or no account here serves it; GET /v1/models lists the models and aliases this gateway serves."
            ),
            UpstreamClient { body, .. } => upstream_message(body),
            NoAccountAvailable { configured: 0, .. } => {
                "No Qwen account is configured: set the QWEN_OAUTH_CREDS secret or add ACCOUNT:<id> keys to the QWEN_TOKEN_CACHE KV namespace.".into()
            }
            NoAccountAvailable { attempts, configured, .. } => {
                if attempts.is_empty() {
                    return format!("None of the {configured} configured Qwen accounts is usable right now (quota spent, cooling down or dead); see /admin/health.");
                }
                if audience == Audience::Public {
                    return format!("No Qwen account could answer right now ({} of {configured} tried); the admin can see why in /admin/health.", attempts.len());
                }
                let tried: Vec<String> = attempts
                    .iter()
                    .map(|(id, f)| format!("'{id}': {}", f.describe(audience)))
                    .collect();
                format!("No Qwen account could answer ({} of {configured} tried): {}.", attempts.len(), tried.join("; "))
            }
            UpstreamService { message } => format!("Upstream service error: {message}"),
            Storage { message } => format!("Account storage error: {message}"),
            Internal { message } => format!("Internal error: {message}"),
        }
    }
}

/// The message of an upstream error body: its `error.message` or `message`, else the start of it.
fn upstream_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        if let Some(m) = v.pointer("/error/message").and_then(|m| m.as_str()) {
            return m.to_owned();
        }
        if let Some(m) = v.get("message").and_then(|m| m.as_str()) {
            return m.to_owned();
        }
    }
    let trimmed: String = body.chars().take(300).collect();
    format!("Upstream rejected the request: {trimmed}")
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status(), self.message(Audience::Admin))
    }
}

impl std::error::Error for GatewayError {}

/// A storage failure, in words that name the key and never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<StoreError> for GatewayError {
    fn from(e: StoreError) -> Self {
        GatewayError::Storage { message: e.0 }
    }
}

#[cfg(test)]
mod tests;
