//! The tool and reasoning fields of a Messages request: `tools`, `tool_choice`, `thinking`.

use super::request_blocks::{invalid, serde_msg};
use crate::error::GatewayError;
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Debug)]
pub(crate) struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// `input_schema` as the client wrote it; `None` for Anthropic-defined tool types.
    pub schema: Option<Box<RawValue>>,
    /// `defer_loading: true`: hidden from the model until a tool search loads it.
    pub deferred: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToolChoice {
    Auto,
    Any,
    Tool(String),
    None,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Thinking {
    Enabled { budget_tokens: u64 },
    Disabled,
    Adaptive,
}

pub(super) fn tools(raw: &RawValue) -> Result<Vec<Tool>, GatewayError> {
    let list: Vec<&RawValue> = serde_json::from_str(raw.get()).map_err(|_| {
        invalid(
            "'tools' must be an array of tool definitions.".into(),
            "tools",
        )
    })?;
    #[derive(Deserialize)]
    struct WireTool {
        #[serde(rename = "type")]
        kind: Option<String>,
        name: Option<String>,
        description: Option<String>,
        input_schema: Option<Box<RawValue>>,
        defer_loading: Option<bool>,
    }
    let mut tools = Vec::with_capacity(list.len());
    for (i, raw) in list.into_iter().enumerate() {
        let t: WireTool = serde_json::from_str(raw.get())
            .map_err(|e| invalid(format!("tools[{i}]: {}.", serde_msg(&e)), "tools"))?;
        let name = match t.name {
            Some(n) if !n.is_empty() => n,
            _ => {
                return Err(invalid(
                    format!("tools[{i}] needs a non-empty string 'name'."),
                    "tools",
                ))
            }
        };
        let custom = matches!(t.kind.as_deref(), None | Some("custom"));
        let schema = match t.input_schema {
            Some(s) if s.get().starts_with('{') => Some(s),
            Some(_) => {
                return Err(invalid(
                    format!("tools[{i}] ('{name}'): 'input_schema' must be a JSON Schema object."),
                    "tools",
                ))
            }
            None if custom => {
                return Err(invalid(
                    format!("tools[{i}] ('{name}') needs 'input_schema', a JSON Schema object."),
                    "tools",
                ))
            }
            None => None,
        };
        tools.push(Tool {
            name,
            description: t.description,
            schema,
            deferred: t.defer_loading == Some(true),
        });
    }
    Ok(tools)
}

pub(super) fn tool_choice(raw: &RawValue) -> Result<(ToolChoice, bool), GatewayError> {
    #[derive(Deserialize)]
    struct WireChoice {
        #[serde(rename = "type")]
        kind: String,
        name: Option<String>,
        disable_parallel_tool_use: Option<bool>,
    }
    let c: WireChoice = serde_json::from_str(raw.get()).map_err(|_| {
        invalid(
            "'tool_choice' must be an object with 'type' auto, any, tool or none.".into(),
            "tool_choice",
        )
    })?;
    let choice = match c.kind.as_str() {
        "auto" => ToolChoice::Auto,
        "any" => ToolChoice::Any,
        "none" => ToolChoice::None,
        "tool" => match c.name {
            Some(n) if !n.is_empty() => ToolChoice::Tool(n),
            _ => {
                return Err(invalid(
                    "'tool_choice' of type 'tool' needs the tool's 'name'.".into(),
                    "tool_choice",
                ))
            }
        },
        other => {
            return Err(invalid(
                format!("'tool_choice.type' '{other}' is not one of auto, any, tool, none."),
                "tool_choice",
            ))
        }
    };
    Ok((choice, c.disable_parallel_tool_use == Some(true)))
}

pub(super) fn thinking(raw: &RawValue) -> Result<Thinking, GatewayError> {
    #[derive(Deserialize)]
    struct WireThinking {
        #[serde(rename = "type")]
        kind: String,
        budget_tokens: Option<Box<RawValue>>,
    }
    let t: WireThinking = serde_json::from_str(raw.get()).map_err(|_| {
        invalid(
            "'thinking' must be an object with 'type' enabled, disabled or adaptive.".into(),
            "thinking",
        )
    })?;
    Ok(match t.kind.as_str() {
        "enabled" => {
            match t
                .budget_tokens
                .map(|b| serde_json::from_str::<u64>(b.get()))
            {
                Some(Ok(n)) if n > 0 => Thinking::Enabled { budget_tokens: n },
                _ => return Err(invalid(
                    "'thinking.budget_tokens' must be a positive integer when thinking is enabled."
                        .into(),
                    "thinking",
                )),
            }
        }
        "disabled" => Thinking::Disabled,
        "adaptive" => Thinking::Adaptive,
        other => {
            return Err(invalid(
                format!("'thinking.type' '{other}' is not one of enabled, disabled, adaptive."),
                "thinking",
            ))
        }
    })
}
