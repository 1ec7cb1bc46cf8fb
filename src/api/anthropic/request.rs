//! `POST /v1/messages`: the request validated once ([`parse`]), then written for the upstream
//! an account has: an OpenAI chat-completions body ([`MessagesRequest::chat_body`]) or the same
//! Anthropic body ([`MessagesRequest::native_body`]).
//!
//! Both bodies leave out Claude Code's per-request billing marker ([`is_volatile_marker`]) and
//! carry mid-conversation `system` entries in the system prompt, so that what goes upstream
//! starts with the same bytes turn after turn and upstream prompt caching works.

use super::request_blocks::{
    self, invalid, serde_msg, Block, Content, Message, Place, ResultPart, Role,
};
use super::request_fields::{thinking, tool_choice, tools};
pub(super) use super::request_fields::{Thinking, Tool, ToolChoice};
use crate::error::GatewayError;
use crate::raw_json::{parse_body, RawObject};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// Largest request body accepted (bytes): the gateway's one cap for every dialect (Anthropic's
/// own API takes up to 32 MB, more than an isolate's memory allows for a request held in
/// several copies; see `api::openai::chat::MAX_BODY_BYTES`).
pub const MAX_BODY_BYTES: usize = crate::api::openai::chat::MAX_BODY_BYTES;

/// Is this Claude Code's billing marker, the text of the first system block:
/// `x-anthropic-billing-header: cc_version=<version>.<hash>; cc_entrypoint=<name>;` (more
/// `key=value;` pairs may follow)? Its hash follows the conversation's first prompt, so it
/// changes from one conversation to the next and, left in, would make every upstream prompt
/// start differently. It is metadata for Anthropic's billing, not an instruction to the model.
pub fn is_volatile_marker(text: &str) -> bool {
    text.starts_with("x-anthropic-billing-header:")
}

/// A validated Messages request.
#[derive(Debug)]
pub struct MessagesRequest {
    pub(super) top: RawObject,
    /// The model as the client named it (answers carry this name).
    pub model: String,
    pub stream: bool,
    /// Top-level system texts, in order, without the billing marker.
    pub(super) system: Vec<String>,
    /// The top-level system's first block was the billing marker (left out upstream).
    pub(super) marker: bool,
    /// Texts of the `system` entries found among `messages`, in order.
    pub(super) system_entries: Vec<String>,
    /// Positions of those entries in the client's `messages` array.
    pub(super) system_entry_at: Vec<usize>,
    /// The user and assistant turns, in order.
    pub(super) messages: Vec<Message>,
    pub(super) tools: Vec<Tool>,
    pub(super) tool_choice: Option<ToolChoice>,
    /// `tool_choice.disable_parallel_tool_use`.
    pub(super) disable_parallel: bool,
    /// Tools the client's tool search loaded (named by `tool_reference` blocks).
    pub(super) loaded_tools: Vec<String>,
    pub(super) user: Option<String>,
    pub(super) thinking: Option<Thinking>,
    pub(super) effort: Option<String>,
}

/// Parses and validates a Messages request body.
pub fn parse(body: &[u8]) -> Result<MessagesRequest, GatewayError> {
    parse_with(body, true)
}

/// Parses a `count_tokens` body: the same checks, but `max_tokens` is not required.
pub(super) fn parse_for_count(body: &[u8]) -> Result<MessagesRequest, GatewayError> {
    parse_with(body, false)
}

fn parse_with(body: &[u8], need_max_tokens: bool) -> Result<MessagesRequest, GatewayError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(GatewayError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    let top = parse_body(body, "'model', 'max_tokens' and 'messages'")?;
    let get = |k: &str| top.get(k).filter(|v| v.get() != "null");

    let model = match get("model").map(|r| serde_json::from_str::<String>(r.get())) {
        Some(Ok(m)) if !m.trim().is_empty() => m,
        None => {
            return Err(invalid(
                "'model' is required: the name of the model to answer.".into(),
                "model",
            ))
        }
        _ => {
            return Err(invalid(
                "'model' must be a non-empty string.".into(),
                "model",
            ))
        }
    };
    match get("max_tokens") {
        Some(r) if matches!(serde_json::from_str::<u64>(r.get()), Ok(n) if n > 0) => {}
        None if !need_max_tokens => {}
        None => {
            return Err(invalid(
                "'max_tokens' is required: the most tokens the answer may have.".into(),
                "max_tokens",
            ))
        }
        Some(_) => {
            return Err(invalid(
                "'max_tokens' must be a positive integer.".into(),
                "max_tokens",
            ))
        }
    }
    let stream = match get("stream") {
        None => false,
        Some(r) => serde_json::from_str::<bool>(r.get())
            .map_err(|_| invalid("'stream' must be a boolean.".into(), "stream"))?,
    };
    for key in ["temperature", "top_p"] {
        if let Some(r) = get(key) {
            if serde_json::from_str::<f64>(r.get()).is_err() {
                return Err(invalid(format!("'{key}' must be a number."), key));
            }
        }
    }
    if let Some(r) = get("top_k") {
        if serde_json::from_str::<u64>(r.get()).is_err() {
            return Err(invalid(
                "'top_k' must be a non-negative integer.".into(),
                "top_k",
            ));
        }
    }
    if let Some(r) = get("stop_sequences") {
        if serde_json::from_str::<Vec<String>>(r.get()).is_err() {
            return Err(invalid(
                "'stop_sequences' must be an array of strings.".into(),
                "stop_sequences",
            ));
        }
    }
    let user = match get("metadata") {
        None => None,
        Some(r) => {
            #[derive(Deserialize)]
            struct Metadata {
                user_id: Option<String>,
            }
            serde_json::from_str::<Metadata>(r.get())
                .map_err(|_| {
                    invalid(
                        "'metadata' must be an object whose 'user_id' is a string.".into(),
                        "metadata",
                    )
                })?
                .user_id
        }
    };
    let thinking = get("thinking").map(thinking).transpose()?;
    let effort = match get("output_config") {
        None => None,
        Some(r) => {
            #[derive(Deserialize)]
            struct OutputConfig {
                effort: Option<String>,
            }
            serde_json::from_str::<OutputConfig>(r.get())
                .map_err(|_| {
                    invalid(
                        "'output_config' must be an object whose 'effort' is a string.".into(),
                        "output_config",
                    )
                })?
                .effort
        }
    };

    let (system, marker) = match get("system") {
        None => (Vec::new(), false),
        Some(r) => top_system(r)?,
    };
    let mut req = MessagesRequest {
        model,
        stream,
        system,
        marker,
        system_entries: Vec::new(),
        system_entry_at: Vec::new(),
        messages: Vec::new(),
        tools: Vec::new(),
        tool_choice: None,
        disable_parallel: false,
        loaded_tools: Vec::new(),
        user,
        thinking,
        effort,
        top: RawObject::default(),
    };
    messages(&mut req, get("messages"))?;
    if let Some(r) = get("tools") {
        req.tools = tools(r)?;
    }
    if let Some(r) = get("tool_choice") {
        let (choice, disable_parallel) = tool_choice(r)?;
        req.tool_choice = Some(choice);
        req.disable_parallel = disable_parallel;
    }
    req.top = top;
    Ok(req)
}

/// The top-level system texts, and whether its first block (the billing marker) was left out.
fn top_system(raw: &RawValue) -> Result<(Vec<String>, bool), GatewayError> {
    let mut texts = request_blocks::system_texts(raw, "system")?;
    let marker = raw.get().starts_with('[') && texts.first().is_some_and(|t| is_volatile_marker(t));
    if marker {
        texts.remove(0);
    }
    Ok((texts, marker))
}

fn messages(req: &mut MessagesRequest, raw: Option<&RawValue>) -> Result<(), GatewayError> {
    let raw = raw.ok_or_else(|| {
        invalid(
            "'messages' is required: a non-empty array of user and assistant messages.".into(),
            "messages",
        )
    })?;
    let list: Vec<&RawValue> = serde_json::from_str(raw.get()).map_err(|_| {
        invalid(
            "'messages' must be an array of message objects.".into(),
            "messages",
        )
    })?;
    #[derive(Deserialize)]
    struct WireMessage<'a> {
        #[serde(borrow)]
        role: Option<Cow<'a, str>>,
        #[serde(borrow)]
        content: Option<&'a RawValue>,
    }
    for (i, raw) in list.into_iter().enumerate() {
        let m: WireMessage = serde_json::from_str(raw.get()).map_err(|_| {
            invalid(
                format!("messages[{i}] must be a message object with 'role' and 'content'."),
                "messages",
            )
        })?;
        let content = m.content.filter(|c| c.get() != "null").ok_or_else(|| {
            invalid(
                format!(
                    "messages[{i}].content is required: a string or an array of content blocks."
                ),
                "messages",
            )
        })?;
        let role = match m.role.as_deref() {
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            Some("system") => {
                let texts =
                    request_blocks::system_texts(content, &format!("messages[{i}].content"))?;
                req.system_entries.extend(texts);
                req.system_entry_at.push(i);
                continue;
            }
            Some(other) => {
                return Err(invalid(
                    format!("messages[{i}].role '{other}' is not one of user, assistant, system."),
                    "messages",
                ))
            }
            None => {
                return Err(invalid(
                    format!("messages[{i}].role must be a string."),
                    "messages",
                ))
            }
        };
        let content = match content.get().as_bytes().first() {
            Some(b'"') => Content::Text(serde_json::from_str(content.get()).map_err(|e| {
                invalid(
                    format!("messages[{i}].content: {}.", serde_msg(&e)),
                    "messages",
                )
            })?),
            Some(b'[') => {
                let blocks: Vec<&RawValue> = serde_json::from_str(content.get()).map_err(|e| {
                    invalid(
                        format!("messages[{i}].content: {}.", serde_msg(&e)),
                        "messages",
                    )
                })?;
                let mut out = Vec::with_capacity(blocks.len());
                for (j, b) in blocks.into_iter().enumerate() {
                    out.push(request_blocks::block(b, role, Place::Block(i, j))?);
                }
                Content::Blocks(out)
            }
            _ => {
                return Err(invalid(
                    format!(
                        "messages[{i}].content must be a string or an array of content blocks."
                    ),
                    "messages",
                ))
            }
        };
        if let Content::Blocks(blocks) = &content {
            for b in blocks {
                if let Block::ToolResult { content, .. } = b {
                    for p in content {
                        if let ResultPart::ToolReference(name) = p {
                            if !req.loaded_tools.contains(name) {
                                req.loaded_tools.push(name.clone());
                            }
                        }
                    }
                }
            }
        }
        req.messages.push(Message { role, content });
    }
    if req.messages.is_empty() {
        return Err(invalid(
            "'messages' must contain at least one user or assistant message.".into(),
            "messages",
        ));
    }
    Ok(())
}

impl MessagesRequest {
    /// The OpenAI chat-completions body for an OpenAI-compatible upstream.
    pub fn chat_body(&self, upstream_model: &str) -> String {
        super::request_chat::write(self, upstream_model)
    }

    /// The Anthropic body for an Anthropic-compatible upstream.
    pub fn native_body(&self, upstream_model: &str) -> String {
        super::request_native::write(self, upstream_model)
    }

    /// The raw value of a top-level field, `null` counting as absent.
    pub(super) fn raw(&self, key: &str) -> Option<&RawValue> {
        self.top.get(key).filter(|v| v.get() != "null")
    }
}

#[cfg(test)]
#[path = "tests/request.rs"]
mod tests;
