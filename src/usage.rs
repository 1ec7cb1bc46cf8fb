//! Token usage as upstream reports it, in one shape for every dialect: read from an OpenAI-style
//! `usage` object (a JSON answer, or the last events of a stream).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Tokens of one answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
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
        let n = |path: &[&str]| {
            path.iter()
                .try_fold(usage, |v, k| v.get(k))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        usage.get("prompt_tokens")?;
        Some(Usage {
            input_tokens: n(&["prompt_tokens"]),
            output_tokens: n(&["completion_tokens"]),
            cached_tokens: n(&["prompt_tokens_details", "cached_tokens"]),
            reasoning_tokens: n(&["completion_tokens_details", "reasoning_tokens"]),
        })
    }

    /// From an Anthropic `usage` object: `input_tokens` (those not read from the cache),
    /// `cache_read_input_tokens`, `cache_creation_input_tokens`, `output_tokens`. `None` when
    /// it is not such an object.
    pub fn from_anthropic(usage: &Value) -> Option<Usage> {
        let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
        if usage.get("input_tokens").is_none() && usage.get("output_tokens").is_none() {
            return None;
        }
        let cached = n("cache_read_input_tokens");
        Some(Usage {
            input_tokens: n("input_tokens") + cached + n("cache_creation_input_tokens"),
            output_tokens: n("output_tokens"),
            cached_tokens: cached,
            reasoning_tokens: 0,
        })
    }

    /// From whichever shape `usage` has (OpenAI chat and completions, Anthropic, embeddings'
    /// `prompt_tokens` only).
    pub fn from_any(usage: &Value) -> Option<Usage> {
        Usage::from_openai(usage).or_else(|| Usage::from_anthropic(usage))
    }

    /// Each field the larger of the two (an Anthropic stream reports input at its start and
    /// output at its end).
    pub fn max(self, other: Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens.max(other.input_tokens),
            output_tokens: self.output_tokens.max(other.output_tokens),
            cached_tokens: self.cached_tokens.max(other.cached_tokens),
            reasoning_tokens: self.reasoning_tokens.max(other.reasoning_tokens),
        }
    }

    /// Each field the sum of the two (requests added up), at most `u64::MAX`.
    pub fn plus(self, other: Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens.saturating_add(other.input_tokens),
            output_tokens: self.output_tokens.saturating_add(other.output_tokens),
            cached_tokens: self.cached_tokens.saturating_add(other.cached_tokens),
            reasoning_tokens: self.reasoning_tokens.saturating_add(other.reasoning_tokens),
        }
    }

    pub fn tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens
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

    #[test]
    fn anthropic_usage_counts_cached_input_in_the_input() {
        let u = Usage::from_any(&json!({"input_tokens": 3, "cache_read_input_tokens": 8, "cache_creation_input_tokens": 0, "output_tokens": 4}))
            .unwrap();
        assert_eq!(
            (u.input_tokens, u.cached_tokens, u.output_tokens),
            (11, 8, 4)
        );
        assert_eq!(
            Usage::from_any(&json!({"prompt_tokens": 7, "total_tokens": 7}))
                .unwrap()
                .input_tokens,
            7
        );
        assert_eq!(Usage::from_any(&json!({"x": 1})), None);
    }

    #[test]
    fn plus_adds_each_field_and_saturates() {
        let a = Usage {
            input_tokens: 10,
            output_tokens: 5,
            cached_tokens: 4,
            reasoning_tokens: 1,
        };
        let b = Usage {
            input_tokens: u64::MAX,
            output_tokens: 2,
            cached_tokens: 0,
            reasoning_tokens: 3,
        };
        let sum = a.plus(b);
        assert_eq!(
            (
                sum.input_tokens,
                sum.output_tokens,
                sum.cached_tokens,
                sum.reasoning_tokens
            ),
            (u64::MAX, 7, 4, 4)
        );
    }
}
