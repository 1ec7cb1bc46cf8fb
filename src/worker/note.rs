//! What a request comes to, as its handler learns it (the route, the models, the account, where
//! the answer's usage will come from): filled during the request, accounted when it is over
//! (`accounting`).

use crate::usage::Usage;
use wasm_bindgen::JsValue;

/// Where a request's usage comes from.
#[derive(Default)]
pub enum UsageSource {
    /// No answer, or one without usage.
    #[default]
    None,
    Known(Usage),
    /// A stream: `ended` resolves when it is over, and `read` turns what it resolved to into
    /// the usage.
    Later {
        ended: js_sys::Promise,
        read: Box<dyn FnOnce(JsValue) -> Usage>,
    },
}

/// What a request was, as far as the handler got.
#[derive(Default)]
pub struct Note {
    /// A model route's name (`chat`, `messages`, …); other routes are logged, not accounted.
    pub route: Option<&'static str>,
    pub model: String,
    pub model_sent: String,
    pub account: Option<String>,
    pub attempts: u32,
    pub upstream_status: Option<u16>,
    pub first_byte_ms: Option<u64>,
    pub usage: UsageSource,
}

/// The usage in the text of a `usage` object (OpenAI's or Anthropic's shape).
pub fn parse_usage(text: Option<&str>) -> Option<Usage> {
    serde_json::from_str(text?)
        .ok()
        .as_ref()
        .and_then(Usage::from_any)
}
