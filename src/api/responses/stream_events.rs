//! The Responses events the stream translator writes, and the items it opens and closes.
//!
//! Every event is `event: <type>\ndata: <json>\n\n`, its JSON starting with `type` and
//! `sequence_number` (from 0, one more per event). Text is carried as the inside of JSON string
//! literals (see `json`), so a delta is copied from upstream as it came.

use super::context::{write_response, ResponseContext, Status};
use super::json::{put_u64, Sink};
use super::output::{
    call_item, custom_input, message_item, output_text_part, reasoning_item, COMPLETED, IN_PROGRESS,
};
use super::tools::ToolKind;
use crate::usage::Usage;

/// The reasoning or message item being streamed.
#[derive(Debug)]
pub(crate) struct TextItem {
    pub reasoning: bool,
    pub index: usize,
    /// Its text so far, the inside of a literal.
    pub text: String,
}

/// A tool call, by the index upstream gave it.
#[derive(Debug)]
pub(crate) struct Call {
    pub upstream_index: u64,
    /// Its output index, once its name is known and its item added.
    pub output: Option<usize>,
    pub closed: bool,
    /// Inside of a literal.
    pub id: String,
    /// The upstream function name, decoded.
    pub name: String,
    /// Arguments so far, the inside of a literal.
    pub args: String,
}

impl Call {
    /// A call upstream has just begun at `upstream_index`: nothing known of it yet.
    pub fn new(upstream_index: u64) -> Self {
        Call {
            upstream_index,
            output: None,
            closed: false,
            id: String::new(),
            name: String::new(),
            args: String::new(),
        }
    }
}

/// Writes events: the sequence numbers, and the items finished so far (for the final
/// `response` object).
#[derive(Debug)]
pub(crate) struct Writer {
    pub ctx: ResponseContext,
    seq: u64,
    /// Finished items, comma-separated: the final response's `output`.
    pub done: String,
    done_count: usize,
}

impl Writer {
    pub fn new(ctx: ResponseContext) -> Self {
        Writer {
            ctx,
            seq: 0,
            done: String::new(),
            done_count: 0,
        }
    }

    /// `event: <ty>\ndata: {"type":"<ty>","sequence_number":N` — the caller adds the fields
    /// and calls [`Writer::end`].
    pub fn begin(&mut self, out: &mut Vec<u8>, ty: &str) {
        out.put("event: ");
        out.put(ty);
        out.put("\ndata: {\"type\":\"");
        out.put(ty);
        out.put("\",\"sequence_number\":");
        put_u64(out, self.seq);
        self.seq += 1;
    }

    pub fn end(out: &mut Vec<u8>) {
        out.put("}\n\n");
    }

    /// `,"item_id":"…","output_index":N`
    fn item_ref(&self, out: &mut Vec<u8>, prefix: &str, index: usize) {
        out.put(",\"item_id\":");
        self.ctx.put_item_id(out, prefix, index);
        out.put(",\"output_index\":");
        put_u64(out, index as u64);
    }

    /// A lifecycle event carrying the whole response.
    pub fn lifecycle(
        &mut self,
        out: &mut Vec<u8>,
        ty: &str,
        status: Status,
        usage: Option<&Usage>,
    ) {
        self.begin(out, ty);
        out.put(",\"response\":");
        let output = if status == Status::InProgress {
            ""
        } else {
            self.done.as_str()
        };
        write_response(out, &self.ctx, status, output, usage);
        Writer::end(out);
    }

    fn added(
        &mut self,
        out: &mut Vec<u8>,
        index: usize,
        item: impl FnOnce(&mut Vec<u8>, &ResponseContext),
    ) {
        self.begin(out, "response.output_item.added");
        out.put(",\"output_index\":");
        put_u64(out, index as u64);
        out.put(",\"item\":");
        item(out, &self.ctx);
        Writer::end(out);
    }

    /// `output_item.done` with the finished item, which is also kept for the final response.
    fn item_done(
        &mut self,
        out: &mut Vec<u8>,
        index: usize,
        item: impl FnOnce(&mut String, &ResponseContext),
    ) {
        if self.done_count > 0 {
            self.done.push(',');
        }
        self.done_count += 1;
        let start = self.done.len();
        item(&mut self.done, &self.ctx);
        self.begin(out, "response.output_item.done");
        out.put(",\"output_index\":");
        put_u64(out, index as u64);
        out.put(",\"item\":");
        out.put(&self.done[start..]);
        Writer::end(out);
    }

    pub fn open_text(&mut self, out: &mut Vec<u8>, t: &TextItem) {
        if t.reasoning {
            self.added(out, t.index, |o, c| reasoning_item(o, c, t.index, None));
            self.begin(out, "response.reasoning_summary_part.added");
            self.item_ref(out, "rs", t.index);
            out.put(r#","summary_index":0,"part":{"type":"summary_text","text":""}"#);
        } else {
            self.added(out, t.index, |o, c| {
                message_item(o, c, t.index, IN_PROGRESS, None)
            });
            self.begin(out, "response.content_part.added");
            self.item_ref(out, "msg", t.index);
            out.put(r#","content_index":0,"part":"#);
            output_text_part(out, "");
        }
        Writer::end(out);
    }

    /// One text delta; `delta` is a whole JSON string literal.
    pub fn text_delta(&mut self, out: &mut Vec<u8>, t: &TextItem, delta: &str) {
        if t.reasoning {
            self.begin(out, "response.reasoning_summary_text.delta");
            self.item_ref(out, "rs", t.index);
            out.put(",\"summary_index\":0,\"delta\":");
            out.put(delta);
        } else {
            self.begin(out, "response.output_text.delta");
            self.item_ref(out, "msg", t.index);
            out.put(",\"content_index\":0,\"delta\":");
            out.put(delta);
            out.put(",\"logprobs\":[]");
        }
        Writer::end(out);
    }

    pub fn close_text(&mut self, out: &mut Vec<u8>, t: &TextItem, status: &str) {
        let text = t.text.as_str();
        if t.reasoning {
            self.begin(out, "response.reasoning_summary_text.done");
            self.item_ref(out, "rs", t.index);
            out.put(",\"summary_index\":0,\"text\":\"");
            out.put(text);
            out.put("\"");
            Writer::end(out);
            self.begin(out, "response.reasoning_summary_part.done");
            self.item_ref(out, "rs", t.index);
            out.put(r#","summary_index":0,"part":{"type":"summary_text","text":""#);
            out.put(text);
            out.put("\"}");
            Writer::end(out);
            self.item_done(out, t.index, |o, c| {
                reasoning_item(o, c, t.index, Some(text))
            });
        } else {
            self.begin(out, "response.output_text.done");
            self.item_ref(out, "msg", t.index);
            out.put(",\"content_index\":0,\"text\":\"");
            out.put(text);
            out.put("\",\"logprobs\":[]");
            Writer::end(out);
            self.begin(out, "response.content_part.done");
            self.item_ref(out, "msg", t.index);
            out.put(",\"content_index\":0,\"part\":");
            output_text_part(out, text);
            Writer::end(out);
            self.item_done(out, t.index, |o, c| {
                message_item(o, c, t.index, status, Some(text))
            });
        }
    }

    /// Adds a call's item (its name is known, or it never will be).
    pub fn open_call(&mut self, out: &mut Vec<u8>, c: &Call, index: usize) {
        self.added(out, index, |o, ctx| {
            call_item(
                o,
                ctx,
                index,
                IN_PROGRESS,
                &ctx.tools.called(&c.name),
                &c.id,
                "",
            )
        });
    }

    /// One arguments fragment of a function call (the inside of a literal).
    pub fn args_delta(&mut self, out: &mut Vec<u8>, index: usize, fragment: &str) {
        self.begin(out, "response.function_call_arguments.delta");
        self.item_ref(out, "fc", index);
        out.put(",\"delta\":\"");
        out.put(fragment);
        out.put("\"");
        Writer::end(out);
    }

    pub fn close_call(&mut self, out: &mut Vec<u8>, c: &Call, index: usize, status: &str) {
        let custom = self.ctx.tools.called(&c.name).kind == ToolKind::Custom;
        let input;
        let payload = if custom {
            input = custom_input(&c.args);
            if !input.is_empty() {
                self.begin(out, "response.custom_tool_call_input.delta");
                self.item_ref(out, "ctc", index);
                out.put(",\"delta\":\"");
                out.put(&input);
                out.put("\"");
                Writer::end(out);
            }
            self.begin(out, "response.custom_tool_call_input.done");
            self.item_ref(out, "ctc", index);
            out.put(",\"input\":\"");
            out.put(&input);
            out.put("\"");
            Writer::end(out);
            input.as_str()
        } else {
            self.begin(out, "response.function_call_arguments.done");
            self.item_ref(out, "fc", index);
            out.put(",\"arguments\":\"");
            out.put(&c.args);
            out.put("\"");
            Writer::end(out);
            c.args.as_str()
        };
        self.item_done(out, index, |o, ctx| {
            call_item(
                o,
                ctx,
                index,
                status,
                &ctx.tools.called(&c.name),
                &c.id,
                payload,
            )
        });
    }
}

/// The status of an item closed by the end of the stream.
pub(crate) fn closing_status(response: Status) -> &'static str {
    match response {
        Status::Incomplete(_) => super::output::INCOMPLETE,
        _ => COMPLETED,
    }
}
