//! Token usage as upstream reports it, in one shape for every dialect: read from an OpenAI-style
//! `usage` object (a JSON answer, or the last events of a stream).

use serde_json::Value;

/// Tokens of one answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt tokens, cached ones included.
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Prompt tokens served from upstream's prompt cache.
    pub cached_tokens: u64,
    /// Output tokens spent on reasoning (included in `output_tokens`).
    pub reasoning_tokens: u64,
}

impl Usage {
    /// From an OpenAI chat `usage` object: `prompt_tokens`, `completion_tokens`,
    /// `prompt_tokens_details.cached_tokens`, `completion_tokens_details.reasoning_tokens`.
    /// `None` when it is not such an object.
    pub fn from_openai(usage: &Value) -> Option<Usage> {
        let n = |p: &str| usage.pointer(p).and_then(Value::as_u64).unwrap_or(0);
        usage.get("prompt_tokens")?;
        Some(Usage {
            input_tokens: n("/prompt_tokens"),
            output_tokens: n("/completion_tokens"),
            cached_tokens: n("/prompt_tokens_details/cached_tokens"),
            reasoning_tokens: n("/completion_tokens_details/reasoning_tokens"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn openai_usage_with_and_without_details() {
        let u = Usage::from_openai(&json!({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 8}, "completion_tokens_details": {"reasoning_tokens": 2}}))
        .unwrap();
        assert_eq!(
            u,
            Usage {
                input_tokens: 10,
                output_tokens: 5,
                cached_tokens: 8,
                reasoning_tokens: 2
            }
        );
        let u = Usage::from_openai(&json!({"prompt_tokens": 3, "completion_tokens": 1})).unwrap();
        assert_eq!((u.cached_tokens, u.reasoning_tokens), (0, 0));
        assert_eq!(Usage::from_openai(&json!({"input_tokens": 3})), None);
    }
}
