//! What a chat body must say for the account and model it goes to: the one place every dialect's
//! upstream call passes through. It works on the body's top level (values kept as raw JSON), so a
//! large conversation is never rebuilt.
//!
//! - Model Studio (DashScope, Token Plan, Coding Plan) wants `max_completion_tokens`, not the
//!   deprecated `max_tokens`.
//! - Reasoning: requests may say `reasoning_effort`, `enable_thinking` and/or `thinking_budget`
//!   (the translated dialects say them too); each model family takes one form: none at all for
//!   qwen3-coder-*, `enable_thinking`/`thinking_budget` for the 3.5-3.7 families (plus
//!   `preserve_thinking` for 3.6/3.7), `reasoning_effort` (low/medium/xhigh, `none` = off) for 3.8.
//!   Budgets are clamped to the Coding Plan's caps. Models we do not know, and accounts that are
//!   not Model Studio's (legacy records, other providers), are left as they are.
//! - Everything else is forwarded untouched.

use crate::accounts::kinds::AccountKind;
use crate::raw_json::RawObject;
use serde_json::value::RawValue;

/// How a model family takes reasoning controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reasoning {
    /// The model cannot think: the controls are dropped.
    None,
    /// `enable_thinking` + `thinking_budget` (and `preserve_thinking` when `preserve`).
    Budget { preserve: bool },
    /// `reasoning_effort`: low, medium, xhigh, or none.
    Effort,
    /// Not a model we know: whatever the client sent goes as it is.
    Unknown,
}

/// The reasoning form of a model id.
pub fn reasoning_of(model: &str) -> Reasoning {
    let m = model.to_ascii_lowercase();
    if m.starts_with("qwen3-coder")
        || m == "coder-model"
        || m.starts_with("qwen2.5")
        || m.starts_with("qwen-coder")
    {
        Reasoning::None
    } else if m.starts_with("qwen3.8") {
        Reasoning::Effort
    } else if m.starts_with("qwen3.6") || m.starts_with("qwen3.7") {
        Reasoning::Budget { preserve: true }
    } else if m.starts_with("qwen3.5")
        || m.starts_with("qwen3-max")
        || m.starts_with("qwen4")
        || m.starts_with("glm-")
    {
        Reasoning::Budget { preserve: false }
    } else {
        Reasoning::Unknown
    }
}

/// The largest thinking budget a Coding Plan account takes for a model, when capped.
pub fn coding_plan_budget_cap(model: &str) -> Option<u64> {
    let m = model.to_ascii_lowercase();
    if m.starts_with("qwen3.7-plus") {
        Some(262_144)
    } else if m.starts_with("qwen3.6-plus") || m.starts_with("qwen3.5-plus") || m.contains("max") {
        Some(81_920)
    } else if m.starts_with("glm") {
        Some(32_768)
    } else {
        None
    }
}

/// Thinking budget for an effort word (for models that take a budget).
fn budget_of_effort(effort: &str) -> Option<u64> {
    Some(match effort {
        "minimal" | "low" => 4_096,
        "medium" => 16_384,
        "high" => 32_768,
        "xhigh" | "max" => 65_536,
        _ => return None,
    })
}

/// Effort word for a thinking budget (for models that take an effort).
fn effort_of_budget(budget: u64) -> &'static str {
    match budget {
        0..=8_192 => "low",
        8_193..=24_576 => "medium",
        _ => "xhigh",
    }
}

/// A 3.8 model takes low, medium or xhigh.
fn effort_word(effort: &str) -> &'static str {
    match effort {
        "none" => "none",
        "minimal" | "low" => "low",
        "medium" => "medium",
        _ => "xhigh",
    }
}

fn as_str(v: &RawValue) -> Option<String> {
    serde_json::from_str(v.get()).ok()
}

/// A chat body (a JSON object) rewritten for `kind` and `model`: what the translated dialects
/// build goes through here like the OpenAI requests do. A body that is not an object is
/// returned as it is.
pub fn apply(body: &str, kind: AccountKind, model: &str) -> String {
    let Ok(top) = serde_json::from_str::<RawObject>(body) else {
        return body.to_owned();
    };
    let e = edits(&top, kind, model);
    if e.is_empty() {
        return body.to_owned();
    }
    let mut out = String::with_capacity(body.len() + 32);
    top.write_edited(&mut out, &e, &|_| None);
    out
}

/// What an Anthropic-compatible upstream takes of a Messages body for `model`: a model that
/// cannot think gets no `thinking` (Claude Code sends it on every request).
pub fn native_edits(body: &RawObject, kind: AccountKind, model: &str) -> Edits {
    let mut out: Edits = Vec::new();
    if kind.is_model_studio()
        && reasoning_of(model) == Reasoning::None
        && body.get("thinking").is_some()
    {
        out.push(("thinking", None));
    }
    out
}

/// Top-level changes to a body: `(key, Some(json))` sets a key (where it is, or at the end),
/// `(key, None)` removes it. Applied while the body is written ([`RawObject::write_edited`]),
/// so the body is never copied to be changed.
pub type Edits = Vec<(&'static str, Option<String>)>;

/// What `body` needs for `kind` and `model` (the upstream model id).
pub fn edits(body: &RawObject, kind: AccountKind, model: &str) -> Edits {
    let mut out: Edits = Vec::new();
    if kind.is_model_studio() {
        if let Some(v) = body.get("max_tokens") {
            out.push(("max_tokens", None));
            if body.get("max_completion_tokens").is_none() {
                out.push(("max_completion_tokens", Some(v.get().to_owned())));
            }
        }
    }
    let effort = body.get("reasoning_effort").and_then(as_str);
    let enable = body
        .get("enable_thinking")
        .and_then(|v| serde_json::from_str::<bool>(v.get()).ok());
    let budget = body
        .get("thinking_budget")
        .and_then(|v| serde_json::from_str::<u64>(v.get()).ok());
    let asked = effort.is_some() || enable.is_some() || budget.is_some();
    // Only Model Studio's models are known here; other providers (and the legacy records) get
    // what the client sent.
    let form = if kind.is_model_studio() {
        reasoning_of(model)
    } else {
        Reasoning::Unknown
    };
    match form {
        Reasoning::Unknown => {}
        _ if !asked => {}
        Reasoning::None => {
            for k in [
                "reasoning_effort",
                "enable_thinking",
                "thinking_budget",
                "preserve_thinking",
            ] {
                out.push((k, None));
            }
        }
        Reasoning::Budget { preserve } => {
            out.push(("reasoning_effort", None));
            let on = match (enable, effort.as_deref()) {
                (Some(on), _) => on,
                (None, Some("none")) => false,
                _ => true,
            };
            out.push(("enable_thinking", Some(on.to_string())));
            let mut b = budget.or_else(|| effort.as_deref().and_then(budget_of_effort));
            if kind == AccountKind::CodingPlan {
                if let (Some(v), Some(cap)) = (b, coding_plan_budget_cap(model)) {
                    b = Some(v.min(cap));
                }
            }
            out.push(("thinking_budget", b.filter(|_| on).map(|v| v.to_string())));
            if preserve && on && body.get("preserve_thinking").is_none() {
                out.push(("preserve_thinking", Some("true".into())));
            }
        }
        Reasoning::Effort => {
            let word = match (enable, effort.as_deref(), budget) {
                (Some(false), _, _) => "none",
                (_, Some(e), _) => effort_word(e),
                (_, None, Some(b)) => effort_of_budget(b),
                _ => "medium",
            };
            for k in ["enable_thinking", "thinking_budget", "preserve_thinking"] {
                out.push((k, None));
            }
            out.push(("reasoning_effort", Some(format!("\"{word}\""))));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn run(body: Value, kind: AccountKind, model: &str) -> Value {
        let o: RawObject = serde_json::from_str(&body.to_string()).unwrap();
        let mut out = String::new();
        o.write_edited(&mut out, &edits(&o, kind, model), &|_| None);
        serde_json::from_str(&out).unwrap()
    }

    #[test]
    fn model_studio_wants_max_completion_tokens() {
        let out = run(
            json!({"max_tokens": 50}),
            AccountKind::Dashscope,
            "qwen3-coder-plus",
        );
        assert_eq!(out, json!({"max_completion_tokens": 50}));
        let out = run(
            json!({"max_tokens": 50, "max_completion_tokens": 9}),
            AccountKind::CodingPlan,
            "x",
        );
        assert_eq!(out, json!({"max_completion_tokens": 9}));
        for kind in [
            AccountKind::Oauth,
            AccountKind::ApiKey,
            AccountKind::OpenaiCompatible,
        ] {
            assert_eq!(
                run(json!({"max_tokens": 50}), kind, "x"),
                json!({"max_tokens": 50})
            );
        }
    }

    #[test]
    fn coder_models_get_no_reasoning_controls() {
        let body = json!({"reasoning_effort": "high", "enable_thinking": true, "thinking_budget": 5, "x": 1});
        assert_eq!(
            run(body, AccountKind::Dashscope, "qwen3-coder-plus"),
            json!({"x": 1})
        );
    }

    #[test]
    fn budget_families_take_enable_thinking_and_a_budget() {
        let out = run(
            json!({"reasoning_effort": "high"}),
            AccountKind::Dashscope,
            "qwen3.5-plus",
        );
        assert_eq!(
            out,
            json!({"enable_thinking": true, "thinking_budget": 32768})
        );
        let out = run(
            json!({"enable_thinking": true, "thinking_budget": 500000}),
            AccountKind::CodingPlan,
            "qwen3.6-plus",
        );
        assert_eq!(
            out,
            json!({"enable_thinking": true, "thinking_budget": 81920, "preserve_thinking": true})
        );
        let out = run(
            json!({"thinking_budget": 500000}),
            AccountKind::CodingPlan,
            "qwen3.7-plus",
        );
        assert_eq!(out["thinking_budget"], 262144);
        let out = run(
            json!({"reasoning_effort": "none"}),
            AccountKind::Dashscope,
            "qwen3.7-plus",
        );
        assert_eq!(out, json!({"enable_thinking": false}));
        let out = run(
            json!({"enable_thinking": true}),
            AccountKind::CodingPlan,
            "glm-5",
        );
        assert_eq!(out, json!({"enable_thinking": true}));
    }

    #[test]
    fn effort_family_takes_low_medium_xhigh_or_none() {
        let e = |body: Value| {
            run(body, AccountKind::Dashscope, "qwen3.8-max")["reasoning_effort"].clone()
        };
        assert_eq!(e(json!({"reasoning_effort": "high"})), "xhigh");
        assert_eq!(e(json!({"reasoning_effort": "minimal"})), "low");
        assert_eq!(e(json!({"enable_thinking": false})), "none");
        assert_eq!(
            e(json!({"enable_thinking": true, "thinking_budget": 16000})),
            "medium"
        );
        assert_eq!(e(json!({"enable_thinking": true})), "medium");
        let out = run(
            json!({"enable_thinking": true, "thinking_budget": 1}),
            AccountKind::Dashscope,
            "qwen3.8-flash",
        );
        assert!(out.get("enable_thinking").is_none() && out.get("thinking_budget").is_none());
    }

    #[test]
    fn unknown_models_and_requests_without_controls_are_left_alone() {
        let body = json!({"reasoning_effort": "high", "enable_thinking": true});
        assert_eq!(
            run(body.clone(), AccountKind::OpenaiCompatible, "gpt-4.1"),
            body
        );
        assert_eq!(
            run(body.clone(), AccountKind::Oauth, "qwen3-coder-plus"),
            body
        );
        assert_eq!(
            run(body.clone(), AccountKind::Dashscope, "some-new-model"),
            body
        );
        assert_eq!(
            run(
                json!({"temperature": 0.2}),
                AccountKind::Dashscope,
                "qwen3.6-plus"
            ),
            json!({"temperature": 0.2})
        );
    }
}
