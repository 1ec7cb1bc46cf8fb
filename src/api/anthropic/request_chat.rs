//! A Messages request written as an OpenAI chat-completions body, by hand into one buffer.
//!
//! - The system prompt (string or blocks, billing marker left out) and every mid-conversation
//!   `system` entry become ONE leading system message, joined by blank lines.
//! - User blocks become content parts (`text`, `image_url` with a data URL or the URL);
//!   `tool_result` blocks become `tool` messages placed first, right after the assistant turn;
//!   the images a result holds go in a user message after them, with the rest of the turn.
//! - Assistant text becomes `content`, `thinking` becomes `reasoning_content`,
//!   `redacted_thinking` is dropped, `tool_use` becomes `tool_calls` (input as a JSON string).
//! - Tools become function tools with their schema as written; Anthropic-defined tool types
//!   (no `input_schema`) and deferred tools that no tool search has loaded are left out.
//! - `thinking` and `output_config.effort` become neutral reasoning fields
//!   (`enable_thinking`, `thinking_budget`, `reasoning_effort`) that the per-account rewrite
//!   maps to what the target model accepts.

use super::request::{MessagesRequest, Thinking, ToolChoice};
use super::request_blocks::{
    Block, Content, DocSource, Document, ImageSource, Message, ResultPart, Role,
};
use super::wire::{into_string, push_escaped, push_str, push_u64};

pub(super) fn write(req: &MessagesRequest, upstream_model: &str) -> String {
    let mut out = Vec::with_capacity(req.top.len_hint() + 256);
    out.extend_from_slice(b"{\"model\":");
    push_str(&mut out, upstream_model);
    out.extend_from_slice(b",\"messages\":[");
    let mut list = List {
        out: &mut out,
        empty: true,
    };
    let system: Vec<&str> = req
        .system
        .iter()
        .chain(&req.system_entries)
        .map(String::as_str)
        .collect();
    if !system.is_empty() {
        list.open("system");
        list.out.push(b'"');
        for (i, text) in system.iter().enumerate() {
            if i > 0 {
                list.out.extend_from_slice(b"\\n\\n");
            }
            push_escaped(list.out, text);
        }
        list.out.extend_from_slice(b"\"}");
    }
    for m in &req.messages {
        match m.role {
            Role::User => user(&mut list, m),
            Role::Assistant => assistant(&mut list, m),
        }
    }
    out.push(b']');
    tools(req, &mut out);
    if let Some(raw) = req.raw("max_tokens") {
        out.extend_from_slice(b",\"max_tokens\":");
        out.extend_from_slice(raw.get().as_bytes());
    }
    if req.stream {
        out.extend_from_slice(b",\"stream\":true,\"stream_options\":{\"include_usage\":true}");
    } else {
        out.extend_from_slice(b",\"stream\":false");
    }
    if let Some(raw) = req
        .raw("stop_sequences")
        .filter(|r| r.get().trim_start_matches('[').trim() != "]")
    {
        out.extend_from_slice(b",\"stop\":");
        out.extend_from_slice(raw.get().as_bytes());
    }
    for key in ["temperature", "top_p", "top_k"] {
        if let Some(raw) = req.raw(key) {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(b"\":");
            out.extend_from_slice(raw.get().as_bytes());
        }
    }
    if let Some(user) = &req.user {
        out.extend_from_slice(b",\"user\":");
        push_str(&mut out, user);
    }
    match req.thinking {
        Some(Thinking::Enabled { budget_tokens }) => {
            out.extend_from_slice(b",\"enable_thinking\":true,\"thinking_budget\":");
            push_u64(&mut out, budget_tokens);
        }
        Some(Thinking::Adaptive) => out.extend_from_slice(b",\"enable_thinking\":true"),
        Some(Thinking::Disabled) => out.extend_from_slice(b",\"enable_thinking\":false"),
        None => {}
    }
    if let Some(effort) = &req.effort {
        out.extend_from_slice(b",\"reasoning_effort\":");
        push_str(&mut out, effort);
    }
    out.push(b'}');
    into_string(out)
}

/// The `messages` array being written.
struct List<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl List<'_> {
    /// Starts a message object up to `"content":`.
    fn open(&mut self, role: &str) {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.extend_from_slice(b"{\"role\":\"");
        self.out.extend_from_slice(role.as_bytes());
        self.out.extend_from_slice(b"\",\"content\":");
    }
}

/// A user content part: a block of the user's own, or an image a tool result carried.
enum Part<'a> {
    Text(&'a str),
    Image(&'a ImageSource),
    Document(&'a Document),
}

fn user(list: &mut List, m: &Message) {
    let blocks = match &m.content {
        Content::Text(s) => {
            list.open("user");
            push_str(list.out, s);
            list.out.push(b'}');
            return;
        }
        Content::Blocks(b) => b,
    };
    let mut parts = Vec::new();
    for b in blocks {
        if let Block::ToolResult {
            tool_use_id,
            content,
            is_error,
        } = b
        {
            tool_message(list, tool_use_id, content, *is_error);
            parts.extend(content.iter().filter_map(|p| match p {
                ResultPart::Image(i) => Some(Part::Image(i)),
                _ => None,
            }));
        }
    }
    for b in blocks {
        match b {
            Block::Text(t) => parts.push(Part::Text(t)),
            Block::Image(i) => parts.push(Part::Image(i)),
            Block::Document(d) => parts.push(Part::Document(d)),
            _ => {}
        }
    }
    if parts.is_empty() {
        return;
    }
    list.open("user");
    list.out.push(b'[');
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            list.out.push(b',');
        }
        match p {
            Part::Text(t) => text_part(list.out, |o| push_escaped(o, t)),
            Part::Image(img) => image_part(list.out, img),
            Part::Document(d) => text_part(list.out, |o| document_text(o, d)),
        }
    }
    list.out.extend_from_slice(b"]}");
}

fn text_part(out: &mut Vec<u8>, text: impl FnOnce(&mut Vec<u8>)) {
    out.extend_from_slice(b"{\"type\":\"text\",\"text\":\"");
    text(out);
    out.extend_from_slice(b"\"}");
}

fn image_part(out: &mut Vec<u8>, img: &ImageSource) {
    out.extend_from_slice(b"{\"type\":\"image_url\",\"image_url\":{\"url\":\"");
    match img {
        ImageSource::Base64 { media_type, data } => {
            out.extend_from_slice(b"data:");
            push_escaped(out, media_type);
            out.extend_from_slice(b";base64,");
            push_escaped(out, data);
        }
        ImageSource::Url(url) => push_escaped(out, url),
    }
    out.extend_from_slice(b"\"}}");
}

/// A document as text (escaped contents). Only text travels over a chat upstream: a PDF is
/// named, not sent.
fn document_text(out: &mut Vec<u8>, d: &Document) {
    if let Some(title) = &d.title {
        push_escaped(out, title);
        out.extend_from_slice(b"\\n\\n");
    }
    match &d.source {
        DocSource::Text(t) => push_escaped(out, t),
        DocSource::Base64 { media_type, bytes } => {
            out.extend_from_slice(b"[document not forwarded: ");
            push_escaped(out, media_type);
            out.extend_from_slice(b", ");
            push_u64(out, *bytes as u64);
            out.extend_from_slice(b" bytes; this model is given text and images only]");
        }
        DocSource::Url(url) => {
            out.extend_from_slice(b"[document not forwarded: ");
            push_escaped(out, url);
            out.push(b']');
        }
    }
}

/// One `tool` message: the result's text (an error marked as such), what a tool search
/// loaded, and a note when images follow in the next user message.
fn tool_message(list: &mut List, tool_use_id: &str, content: &[ResultPart], is_error: bool) {
    list.open("tool");
    list.out.push(b'"');
    let mut any = false;
    let mut sep = |out: &mut Vec<u8>| {
        if any {
            out.extend_from_slice(b"\\n");
        }
        any = true;
    };
    if is_error {
        list.out.extend_from_slice(b"Error: ");
    }
    let mut images = 0u64;
    for p in content {
        match p {
            ResultPart::Text(t) => {
                sep(list.out);
                push_escaped(list.out, t);
            }
            ResultPart::Document(d) => {
                sep(list.out);
                document_text(list.out, d);
            }
            ResultPart::ToolReference(name) => {
                sep(list.out);
                list.out.extend_from_slice(b"Tool ");
                push_escaped(list.out, name);
                list.out
                    .extend_from_slice(b" is loaded and can be called now.");
            }
            ResultPart::Image(_) => images += 1,
        }
    }
    if images > 0 {
        sep(list.out);
        if images == 1 {
            list.out
                .extend_from_slice(b"[the image from this result is in the next message]");
        } else {
            list.out.extend_from_slice(b"[the ");
            push_u64(list.out, images);
            list.out
                .extend_from_slice(b" images from this result are in the next message]");
        }
    }
    list.out.extend_from_slice(b"\",\"tool_call_id\":");
    push_str(list.out, tool_use_id);
    list.out.push(b'}');
}

fn assistant(list: &mut List, m: &Message) {
    list.open("assistant");
    let blocks = match &m.content {
        Content::Text(s) => {
            push_str(list.out, s);
            list.out.push(b'}');
            return;
        }
        Content::Blocks(b) => b,
    };
    let joined = |out: &mut Vec<u8>, pick: fn(&Block) -> Option<&str>| {
        out.push(b'"');
        for (i, t) in blocks.iter().filter_map(pick).enumerate() {
            if i > 0 {
                out.extend_from_slice(b"\\n\\n");
            }
            push_escaped(out, t);
        }
        out.push(b'"');
    };
    joined(list.out, |b| match b {
        Block::Text(t) => Some(t),
        _ => None,
    });
    if blocks
        .iter()
        .any(|b| matches!(b, Block::Thinking(t) if !t.is_empty()))
    {
        list.out.extend_from_slice(b",\"reasoning_content\":");
        joined(list.out, |b| match b {
            Block::Thinking(t) if !t.is_empty() => Some(t),
            _ => None,
        });
    }
    let mut calls = blocks.iter().filter_map(|b| match b {
        Block::ToolUse { id, name, input } => Some((id, name, input)),
        _ => None,
    });
    if let Some(first) = calls.next() {
        list.out.extend_from_slice(b",\"tool_calls\":[");
        for (i, (id, name, input)) in std::iter::once(first).chain(calls).enumerate() {
            if i > 0 {
                list.out.push(b',');
            }
            list.out.extend_from_slice(b"{\"id\":");
            push_str(list.out, id);
            list.out
                .extend_from_slice(b",\"type\":\"function\",\"function\":{\"name\":");
            push_str(list.out, name);
            list.out.extend_from_slice(b",\"arguments\":");
            push_str(list.out, input.get());
            list.out.extend_from_slice(b"}}");
        }
        list.out.push(b']');
    }
    list.out.push(b'}');
}

fn tools(req: &MessagesRequest, out: &mut Vec<u8>) {
    let mut visible = req
        .tools
        .iter()
        .filter(|t| !t.deferred || req.loaded_tools.contains(&t.name))
        .filter_map(|t| t.schema.as_ref().map(|s| (t, s)))
        .peekable();
    if visible.peek().is_none() {
        return;
    }
    out.extend_from_slice(b",\"tools\":[");
    for (i, (t, schema)) in visible.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"type\":\"function\",\"function\":{\"name\":");
        push_str(out, &t.name);
        if let Some(d) = &t.description {
            out.extend_from_slice(b",\"description\":");
            push_str(out, d);
        }
        out.extend_from_slice(b",\"parameters\":");
        out.extend_from_slice(schema.get().as_bytes());
        out.extend_from_slice(b"}}");
    }
    out.push(b']');
    match &req.tool_choice {
        Some(ToolChoice::Auto) => out.extend_from_slice(b",\"tool_choice\":\"auto\""),
        Some(ToolChoice::Any) => out.extend_from_slice(b",\"tool_choice\":\"required\""),
        Some(ToolChoice::None) => out.extend_from_slice(b",\"tool_choice\":\"none\""),
        Some(ToolChoice::Tool(name)) => {
            out.extend_from_slice(
                b",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":",
            );
            push_str(out, name);
            out.extend_from_slice(b"}}");
        }
        None => {}
    }
    // Anthropic lets a model call several tools at once unless told otherwise; OpenAI-compatible
    // upstreams may default to one, so the choice is always said.
    out.extend_from_slice(if req.disable_parallel {
        b",\"parallel_tool_calls\":false"
    } else {
        b",\"parallel_tool_calls\":true"
    });
}
