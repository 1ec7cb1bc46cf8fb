//! A streamed chat completion → the Responses event stream.
//!
//! A state machine that sees each upstream byte once: [`EventReader`] cuts the SSE events,
//! each chunk is read with borrowed structs (no JSON tree), text deltas are copied as the JSON
//! literals they came as, and everything is written into the caller's buffer.
//!
//! Order: `response.created`, `response.in_progress`, then the items in the order they start:
//! - reasoning (`reasoning_content`): `output_item.added` → `reasoning_summary_part.added` →
//!   `reasoning_summary_text.delta`* → `reasoning_summary_text.done` →
//!   `reasoning_summary_part.done` → `output_item.done`;
//! - text: `output_item.added` → `content_part.added` → `output_text.delta`* →
//!   `output_text.done` → `content_part.done` → `output_item.done`;
//! - a function call: `output_item.added` → `function_call_arguments.delta`* → `.done` →
//!   `output_item.done` (with the complete arguments, which is where Codex reads them);
//! - a custom tool call: `output_item.added`, then at its end one
//!   `custom_tool_call_input.delta` with the whole input and `custom_tool_call_input.done`
//!   (the input sits inside JSON arguments upstream, readable only once they are complete);
//!
//! and last `response.completed` (or `response.incomplete` when upstream stopped for length),
//! with every item and the usage (zeros when upstream reported none); or `response.failed` and
//! nothing after: on an upstream error event (`{"error": …}` or a bare `{code, message}`; its
//! code mapped to one Codex acts on), an unreadable event, or [`StreamTranslator::fail`].
//!
//! Items rules: one reasoning or message item is open at a time; each upstream
//! `tool_calls[].index` is one item with a stable output index, added once its name is known
//! (arguments that come first are held and sent when it is); a call whose name never comes is
//! added at the end with an empty name, so the client can answer it; a fragment with a name and
//! a new id at an index already used is a new call (servers that number every call 0). A new kind of item closes
//! the open ones, in order: text after tool calls closes them, and later fragments of a closed
//! call are dropped. Upstream's `finish_reason` is not trusted to say whether tools were called
//! (Qwen sends `stop` with tool calls): the items emitted are what counts.

use super::context::{ResponseContext, Status};
use super::json::inner;
use super::output::{read_usage, status_for, synthetic_call_id};
use super::stream_chunk::{error_code, CallDeltaIn, ChunkIn, ErrorIn};
use super::stream_events::{closing_status, Call, TextItem, Writer};
use super::tools::ToolKind;
use crate::qwen::scrub::scrub_short;
use crate::qwen::sse::{EventReader, SseEvent};
use crate::usage::Usage;
use serde_json::value::RawValue;

/// Translates one streamed answer. Feed it upstream's bytes as they come ([`push`]); call
/// [`finish`] when upstream ends, or [`fail`] when it breaks off. Output is appended to the
/// caller's buffer.
///
/// [`push`]: StreamTranslator::push
/// [`finish`]: StreamTranslator::finish
/// [`fail`]: StreamTranslator::fail
#[derive(Debug)]
pub struct StreamTranslator {
    reader: EventReader,
    state: State,
}

#[derive(Debug)]
struct State {
    w: Writer,
    started: bool,
    ended: bool,
    next_index: usize,
    text: Option<TextItem>,
    calls: Vec<Call>,
    usage: Option<Usage>,
    finish_reason: Option<String>,
}

impl StreamTranslator {
    pub fn new(ctx: &ResponseContext) -> Self {
        StreamTranslator {
            reader: EventReader::default(),
            state: State {
                w: Writer::new(ctx.clone()),
                started: false,
                ended: false,
                next_index: 0,
                text: None,
                calls: Vec::new(),
                usage: None,
                finish_reason: None,
            },
        }
    }

    /// Takes the next bytes of upstream's SSE stream.
    pub fn push(&mut self, upstream: &[u8], out: &mut Vec<u8>) {
        if self.state.ended {
            return;
        }
        self.state.start(out);
        let state = &mut self.state;
        let read = self.reader.push(upstream, |e| state.on_event(&e, out));
        if read.is_err() {
            self.state.fail(
                out,
                "server_error",
                "upstream sent an event too long to be real",
            );
        }
    }

    /// Upstream ended: the open items are closed and the response completes (once).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.state.ended {
            return;
        }
        self.state.start(out);
        let state = &mut self.state;
        self.reader.finish(|e| state.on_event(&e, out));
        self.state.complete(out);
    }

    /// Upstream broke off or went quiet after the stream started: `response.failed` with
    /// `message`, and nothing after.
    pub fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        self.state.fail(out, "server_error", message);
    }

    /// The usage upstream reported (zeros until it does).
    pub fn usage(&self) -> Usage {
        self.state.usage.unwrap_or_default()
    }

    /// `response.completed` (or `.incomplete`, `.failed`) has been written.
    pub fn is_finished(&self) -> bool {
        self.state.ended
    }

    /// Upstream has said how the answer ended: only its usage may still come.
    pub fn answer_complete(&self) -> bool {
        self.state.finish_reason.is_some()
    }
}

/// A non-empty JSON string literal.
fn text(raw: Option<&RawValue>) -> Option<&RawValue> {
    raw.filter(|r| inner(r).is_some_and(|s| !s.is_empty()))
}

impl State {
    fn start(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.started = true;
            self.w
                .lifecycle(out, "response.created", Status::InProgress, None);
            self.w
                .lifecycle(out, "response.in_progress", Status::InProgress, None);
        }
    }

    fn on_event(&mut self, e: &SseEvent, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        let data = e.data.trim();
        if data == "[DONE]" || data.is_empty() {
            return;
        }
        let chunk: ChunkIn = match serde_json::from_str(data) {
            Ok(c) => c,
            Err(_) => {
                return self.fail(
                    out,
                    "server_error",
                    "upstream sent an event that is not a chat completion chunk",
                )
            }
        };
        if let Some(err) = chunk.error.filter(|e| e.get() != "null") {
            return self.upstream_error(out, err);
        }
        if chunk.choices.is_none() && chunk.message.is_some_and(|m| inner(m).is_some()) {
            // Not a chunk: the whole event is the error.
            if let Ok(raw) = serde_json::from_str::<&RawValue>(data) {
                return self.upstream_error(out, raw);
            }
        }
        if let Some(u) = chunk.usage.and_then(|u| read_usage(u.get())) {
            self.usage = Some(u);
        }
        let Some(choice) = chunk.choices.and_then(|c| c.0) else {
            return;
        };
        if let Some(delta) = choice.delta {
            if let Some(r) = text(delta.reasoning_content) {
                self.text_delta(out, true, r);
            }
            if let Some(c) = text(delta.content) {
                self.text_delta(out, false, c);
            }
            for (pos, call) in delta.tool_calls.iter().flatten().enumerate() {
                self.call_delta(out, pos, call);
            }
        }
        if let Some(f) = choice.finish_reason {
            self.finish_reason = Some(f.into_owned());
        }
    }

    fn text_delta(&mut self, out: &mut Vec<u8>, reasoning: bool, delta: &RawValue) {
        if self.text.as_ref().is_some_and(|t| t.reasoning != reasoning) {
            self.close_text(out, super::output::COMPLETED);
        }
        if self.text.is_none() {
            self.close_calls(out, super::output::COMPLETED);
            let t = TextItem {
                reasoning,
                index: self.take_index(),
                text: String::new(),
            };
            self.w.open_text(out, &t);
            self.text = Some(t);
        }
        if let Some(t) = &mut self.text {
            t.text.push_str(inner(delta).unwrap_or(""));
            self.w.text_delta(out, t, delta.get());
        }
    }

    fn call_delta(&mut self, out: &mut Vec<u8>, pos: usize, d: &CallDeltaIn) {
        self.close_text(out, super::output::COMPLETED);
        let upstream_index = d.index.unwrap_or(pos as u64);
        let at = match self
            .calls
            .iter()
            .position(|c| c.upstream_index == upstream_index)
        {
            Some(at) => at,
            None => {
                self.calls.push(Call::new(upstream_index));
                self.calls.len() - 1
            }
        };
        let mut next_index = self.next_index;
        let c = &mut self.calls[at];
        let new_id = d.id.and_then(inner).filter(|id| !id.is_empty());
        let named = d
            .function
            .as_ref()
            .is_some_and(|f| f.name.as_deref().is_some_and(|n| !n.is_empty()));
        if named && !c.id.is_empty() && new_id.is_some_and(|id| id != c.id) {
            // Another call at an index already used (some servers number every call 0): the
            // earlier one keeps its item, this one gets its own.
            c.upstream_index = u64::MAX;
            self.calls.push(Call::new(upstream_index));
            return self.call_delta(out, pos, d);
        }
        if c.closed {
            return;
        }
        if c.id.is_empty() {
            if let Some(id) = d.id.and_then(inner) {
                c.id.push_str(id);
            }
        }
        let (name, args) = match &d.function {
            Some(f) => (f.name.as_deref(), f.arguments.and_then(inner)),
            None => (None, None),
        };
        match (c.output, name) {
            (None, Some(n)) if !n.is_empty() => {
                c.name.push_str(n);
                if c.id.is_empty() {
                    c.id = synthetic_call_id(&self.w.ctx, next_index);
                }
                let index = next_index;
                next_index += 1;
                c.output = Some(index);
                self.w.open_call(out, c, index);
                let custom = self.w.ctx.tools.called(&c.name).kind == ToolKind::Custom;
                if let Some(a) = args {
                    c.args.push_str(a);
                }
                if !custom && !c.args.is_empty() {
                    self.w.args_delta(out, index, &c.args);
                }
            }
            (Some(index), _) => {
                if let Some(a) = args.filter(|a| !a.is_empty()) {
                    c.args.push_str(a);
                    if self.w.ctx.tools.called(&c.name).kind == ToolKind::Function {
                        self.w.args_delta(out, index, a);
                    }
                }
            }
            (None, _) => {
                if let Some(a) = args {
                    c.args.push_str(a);
                }
            }
        }
        self.next_index = next_index;
    }

    fn take_index(&mut self) -> usize {
        self.next_index += 1;
        self.next_index - 1
    }

    fn close_text(&mut self, out: &mut Vec<u8>, status: &str) {
        if let Some(t) = self.text.take() {
            self.w.close_text(out, &t, status);
        }
    }

    /// Closes every open call: the added ones in output order, then those whose name never
    /// came (added now, with an empty name).
    fn close_calls(&mut self, out: &mut Vec<u8>, status: &str) {
        if self.calls.iter().all(|c| c.closed) {
            return;
        }
        let mut calls = std::mem::take(&mut self.calls);
        calls.sort_by_key(|c| (c.output.is_none(), c.output, c.upstream_index));
        for c in calls.iter_mut().filter(|c| !c.closed) {
            let index = match c.output {
                Some(i) => i,
                None => {
                    let i = self.take_index();
                    if c.id.is_empty() {
                        c.id = synthetic_call_id(&self.w.ctx, i);
                    }
                    c.output = Some(i);
                    self.w.open_call(out, c, i);
                    if !c.args.is_empty()
                        && self.w.ctx.tools.called(&c.name).kind == ToolKind::Function
                    {
                        self.w.args_delta(out, i, &c.args);
                    }
                    i
                }
            };
            self.w.close_call(out, c, index, status);
            c.closed = true;
            c.args = String::new();
        }
        self.calls = calls;
    }

    fn complete(&mut self, out: &mut Vec<u8>) {
        if self.ended {
            // The last event, delivered only now, was an error.
            return;
        }
        let status = status_for(self.finish_reason.as_deref());
        let item_status = closing_status(status);
        self.close_text(out, item_status);
        self.close_calls(out, item_status);
        let usage = self.usage.unwrap_or_default();
        let ty = match status {
            Status::Incomplete(_) => "response.incomplete",
            _ => "response.completed",
        };
        self.w.lifecycle(out, ty, status, Some(&usage));
        self.ended = true;
    }

    fn fail(&mut self, out: &mut Vec<u8>, code: &str, message: &str) {
        if self.ended {
            return;
        }
        self.start(out);
        self.ended = true;
        let usage = self.usage;
        self.w.lifecycle(
            out,
            "response.failed",
            Status::Failed(code, message),
            usage.as_ref(),
        );
    }

    /// An error event from upstream in the middle of the stream.
    fn upstream_error(&mut self, out: &mut Vec<u8>, raw: &RawValue) {
        let e: Option<ErrorIn> = serde_json::from_str(raw.get()).ok();
        let (code, kind, message) = match &e {
            Some(e) => (
                e.code.as_ref().map(|c| match c {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                }),
                e.kind.clone(),
                e.message.clone(),
            ),
            None => (None, None, None),
        };
        let message = message.unwrap_or_else(|| raw.get().to_owned());
        let code = error_code(code.as_deref(), kind.as_deref(), &message);
        let text = format!(
            "upstream reported an error mid-stream: {}",
            scrub_short(&message, &[], 300)
        );
        self.fail(out, code, &text);
    }
}
