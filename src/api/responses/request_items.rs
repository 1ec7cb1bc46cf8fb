//! `input` items → chat messages.
//!
//! - `instructions` and every `system`/`developer` message become ONE leading system message
//!   (in their order, joined by a blank line): Qwen rejects the developer role, and many
//!   upstreams reject a system message that is not the first.
//! - `user` messages keep their parts: text, and images as `image_url` parts. One text part is
//!   sent as a plain string.
//! - `assistant` messages (`output_text`, `refusal`) open an assistant message; the
//!   `function_call` / `custom_tool_call` items that follow join it as `tool_calls`, so
//!   consecutive calls make one assistant message. A namespaced call is replayed under its
//!   upstream name (`<namespace>__<name>`), a custom call with its input as `{"input": …}`.
//! - `function_call_output` / `custom_tool_call_output` become `tool` messages. Images in a
//!   tool output cannot go in a tool message: they follow the run of tool messages as one user
//!   message.
//! - `reasoning` items become `reasoning_content` of the assistant message they precede (their
//!   `content` text, else their summary); encrypted reasoning is dropped, and reasoning never
//!   becomes text. Reasoning followed by no assistant message is dropped.
//! - Results of built-in tools the gateway never offers (`web_search_call`, …) are dropped;
//!   `item_reference` needs stored responses (400); any other type is a 400 naming it.

use super::json::{inner, is_null, put_escaped, put_str};
use super::request_parts::{parts_text, tool_output_parts, user_content};
use super::tools::upstream_name;
use crate::error::GatewayError;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// Item types that are results of built-in tools run by another provider: harmless to drop.
const DROPPED_ITEMS: &[&str] = &[
    "web_search_call",
    "file_search_call",
    "image_generation_call",
    "code_interpreter_call",
    "mcp_list_tools",
    "tool_search_call",
    "tool_search_output",
];

#[derive(Deserialize)]
pub(crate) struct ItemIn<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    role: Option<Cow<'a, str>>,
    #[serde(borrow)]
    content: Option<&'a RawValue>,
    #[serde(borrow)]
    call_id: Option<&'a RawValue>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    namespace: Option<Cow<'a, str>>,
    #[serde(borrow)]
    arguments: Option<&'a RawValue>,
    #[serde(borrow)]
    input: Option<&'a RawValue>,
    #[serde(borrow)]
    output: Option<&'a RawValue>,
    #[serde(borrow)]
    summary: Option<&'a RawValue>,
}

/// An assistant message being assembled: its text, its tool calls, its reasoning.
#[derive(Default)]
struct Draft {
    content: Option<String>,
    tool_calls: String,
    reasoning: String,
}

/// The conversation as chat messages.
#[derive(Default)]
pub(crate) struct Conversation {
    /// The leading system message's text (escaped, without quotes).
    system: String,
    /// Every other message, comma-separated.
    messages: String,
    count: usize,
    draft: Option<Draft>,
    /// Reasoning seen before its assistant message started.
    reasoning: String,
    /// Image parts from tool outputs, waiting for the run of tool messages to end.
    images: String,
}

pub(crate) fn bad(message: String) -> GatewayError {
    GatewayError::invalid(message, Some("input"))
}

pub(crate) fn join(into: &mut String, inner_text: &str, sep: &str) {
    if !into.is_empty() && !inner_text.is_empty() {
        into.push_str(sep);
    }
    into.push_str(inner_text);
}

impl Conversation {
    pub fn instructions(&mut self, text_inner: &str) {
        join(&mut self.system, text_inner, "\\n\\n");
    }

    pub fn input_text(&mut self, raw: &RawValue) {
        self.begin(false);
        self.open_message("user");
        self.messages.push_str(r#","content":"#);
        self.messages.push_str(raw.get());
        self.messages.push('}');
    }

    pub fn item(&mut self, i: usize, item: &ItemIn) -> Result<(), GatewayError> {
        let kind = item.kind.as_deref().unwrap_or("message");
        match kind {
            "message" => self.message(i, item),
            "function_call" | "custom_tool_call" => self.call(i, item, kind == "custom_tool_call"),
            "function_call_output" | "custom_tool_call_output" => self.output(i, item),
            "reasoning" => self.reasoning(i, item),
            "item_reference" => Err(bad(format!(
                "input[{i}] is an item_reference: this gateway stores no responses or items; \
                 send the full items instead."
            ))),
            t if DROPPED_ITEMS.contains(&t) => Ok(()),
            t => Err(bad(format!(
                "input[{i}].type '{t}' is not supported by this gateway: send messages, \
                 function_call / function_call_output, custom_tool_call / \
                 custom_tool_call_output and reasoning items."
            ))),
        }
    }

    /// Writes `"messages":[…]` and says whether any message other than the system one exists.
    pub fn finish(mut self, out: &mut String) -> bool {
        self.flush_draft();
        self.flush_images();
        out.push_str(r#""messages":["#);
        if !self.system.is_empty() {
            out.push_str(r#"{"role":"system","content":""#);
            out.push_str(&self.system);
            out.push_str("\"}");
            if self.count > 0 {
                out.push(',');
            }
        }
        out.push_str(&self.messages);
        out.push(']');
        self.count > 0
    }

    /// Before a message that is not a tool result: the open assistant message (unless `keep`)
    /// and images waiting after tool results go out first.
    fn begin(&mut self, keep_draft: bool) {
        if !keep_draft {
            self.flush_draft();
        }
        self.flush_images();
    }

    fn open_message(&mut self, role: &str) {
        if self.count > 0 {
            self.messages.push(',');
        }
        self.count += 1;
        self.messages.push_str(r#"{"role":""#);
        self.messages.push_str(role);
        self.messages.push('"');
    }

    fn flush_draft(&mut self) {
        let Some(d) = self.draft.take() else { return };
        self.open_message("assistant");
        self.messages.push_str(r#","content":"#);
        match &d.content {
            Some(c) => self.messages.push_str(c),
            None => self.messages.push_str("null"),
        }
        if !d.reasoning.is_empty() {
            self.messages.push_str(r#","reasoning_content":""#);
            self.messages.push_str(&d.reasoning);
            self.messages.push('"');
        }
        if !d.tool_calls.is_empty() {
            self.messages.push_str(r#","tool_calls":["#);
            self.messages.push_str(&d.tool_calls);
            self.messages.push(']');
        }
        self.messages.push('}');
    }

    fn flush_images(&mut self) {
        if self.images.is_empty() {
            return;
        }
        let images = std::mem::take(&mut self.images);
        self.open_message("user");
        self.messages.push_str(r#","content":["#);
        self.messages.push_str(&images);
        self.messages.push_str("]}");
    }

    fn new_draft(&mut self) -> Draft {
        Draft {
            reasoning: std::mem::take(&mut self.reasoning),
            ..Draft::default()
        }
    }

    fn message(&mut self, i: usize, item: &ItemIn) -> Result<(), GatewayError> {
        let role = item
            .role
            .as_deref()
            .ok_or_else(|| bad(format!("input[{i}].role is required for a message.")))?;
        let content = item
            .content
            .filter(|c| !is_null(c))
            .ok_or_else(|| bad(format!("input[{i}].content is required for a message.")))?;
        match role {
            "system" | "developer" => {
                let mut text = String::new();
                parts_text(content, &mut text, i)?;
                join(&mut self.system, &text, "\\n\\n");
                Ok(())
            }
            "user" => {
                self.begin(false);
                self.reasoning.clear();
                let mut body = String::new();
                user_content(content, &mut body, i)?;
                self.open_message("user");
                self.messages.push_str(r#","content":"#);
                self.messages.push_str(&body);
                self.messages.push('}');
                Ok(())
            }
            "assistant" => {
                let mut text = String::new();
                parts_text(content, &mut text, i)?;
                self.begin(false);
                let mut d = self.new_draft();
                d.content = Some(format!("\"{text}\""));
                self.draft = Some(d);
                Ok(())
            }
            r => Err(bad(format!(
                "input[{i}].role '{r}' is not one of user, assistant, system, developer."
            ))),
        }
    }

    fn call(&mut self, i: usize, item: &ItemIn, custom: bool) -> Result<(), GatewayError> {
        let call_id = item
            .call_id
            .filter(|c| inner(c).is_some())
            .ok_or_else(|| bad(format!("input[{i}].call_id must be a string.")))?;
        let name = item
            .name
            .as_deref()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| bad(format!("input[{i}].name must be a non-empty string.")))?;
        let name = upstream_name(name, item.namespace.as_deref());
        self.begin(true);
        let mut d = match self.draft.take() {
            Some(mut d) => {
                join(
                    &mut d.reasoning,
                    &std::mem::take(&mut self.reasoning),
                    "\\n\\n",
                );
                d
            }
            None => self.new_draft(),
        };
        if !d.tool_calls.is_empty() {
            d.tool_calls.push(',');
        }
        let t = &mut d.tool_calls;
        t.push_str(r#"{"id":"#);
        t.push_str(call_id.get());
        t.push_str(r#","type":"function","function":{"name":"#);
        put_str(t, &name);
        t.push_str(r#","arguments":"#);
        if custom {
            let input = item
                .input
                .filter(|v| inner(v).is_some())
                .ok_or_else(|| bad(format!("input[{i}].input must be a string.")))?;
            t.push('"');
            put_escaped(t, r#"{"input":"#);
            put_escaped(t, input.get());
            put_escaped(t, "}");
            t.push('"');
        } else {
            match item.arguments.filter(|v| inner(v).is_some()) {
                Some(a) => t.push_str(a.get()),
                None => return Err(bad(format!("input[{i}].arguments must be a string."))),
            }
        }
        t.push_str("}}");
        self.draft = Some(d);
        Ok(())
    }

    fn output(&mut self, i: usize, item: &ItemIn) -> Result<(), GatewayError> {
        let call_id = item
            .call_id
            .filter(|c| inner(c).is_some())
            .ok_or_else(|| bad(format!("input[{i}].call_id must be a string.")))?;
        let output = item
            .output
            .ok_or_else(|| bad(format!("input[{i}].output is required.")))?;
        self.flush_draft();
        self.reasoning.clear();
        let mut content = String::new();
        if inner(output).is_some() {
            content.push_str(output.get());
        } else if output.get().starts_with('[') {
            let mut text = String::new();
            tool_output_parts(output, &mut text, &mut self.images, call_id, i)?;
            content = format!("\"{text}\"");
        } else {
            return Err(bad(format!(
                "input[{i}].output must be a string or an array of content parts."
            )));
        }
        self.open_message("tool");
        self.messages.push_str(r#","tool_call_id":"#);
        self.messages.push_str(call_id.get());
        self.messages.push_str(r#","content":"#);
        self.messages.push_str(&content);
        self.messages.push('}');
        Ok(())
    }

    fn reasoning(&mut self, i: usize, item: &ItemIn) -> Result<(), GatewayError> {
        let mut text = String::new();
        if let Some(c) = item.content.filter(|c| !is_null(c)) {
            parts_text(c, &mut text, i)?;
        }
        if text.is_empty() {
            if let Some(s) = item.summary.filter(|s| !is_null(s)) {
                parts_text(s, &mut text, i)?;
            }
        }
        match &mut self.draft {
            Some(d) => join(&mut d.reasoning, &text, "\\n\\n"),
            None => join(&mut self.reasoning, &text, "\\n\\n"),
        }
        Ok(())
    }
}
