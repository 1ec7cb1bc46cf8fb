//! A streamed OpenAI chat completion → Anthropic server-sent events, chunk by chunk.
//!
//! [`StreamTranslator`] sees each upstream byte once (through the shared
//! [`EventReader`](crate::qwen::sse::EventReader)), parses each chunk into borrowed structs and
//! writes its events by hand into the caller's buffer. The order it guarantees:
//! `message_start` (on the first upstream chunk, usage present with zeros until known) →
//! `content_block_start` / `_delta` / `_stop` (see `stream_blocks`) → `message_delta` (held until
//! upstream's usage chunk or the end, with the stop reason and the usage) → `message_stop`;
//! or an `error` event, after which nothing is written.

use super::errors::push_stream_error;
use super::stream_blocks::Blocks;
use super::wire::{push_str, push_usage, string_contents, Finish};
use crate::qwen::sse::{EventReader, SseEvent};
use crate::usage::Usage;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::marker::PhantomData;

/// Most bytes held back at once (tool calls waiting for the one before them to finish, text
/// after the tools): past this, upstream's answer is not a real one.
const HELD_CAP: usize = 8 * 1024 * 1024;

/// How a stream that breaks is reported to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFailure {
    /// `api_error`: upstream broke.
    Api,
    /// `overloaded_error`: upstream is throttling or out of capacity; worth retrying later.
    Overloaded,
}

impl StreamFailure {
    fn error_type(self) -> &'static str {
        match self {
            StreamFailure::Api => "api_error",
            StreamFailure::Overloaded => "overloaded_error",
        }
    }
}

/// Translates one upstream stream into one Anthropic stream.
#[derive(Debug)]
pub struct StreamTranslator {
    reader: EventReader,
    state: State,
}

#[derive(Debug)]
struct State {
    message_id: String,
    model: String,
    started: bool,
    ended: bool,
    blocks: Blocks,
    finish: Option<Finish>,
    usage: Usage,
    /// Upstream's error event, as it came (cut to 2 KiB), for the logs.
    upstream_error: Option<String>,
}

impl StreamTranslator {
    /// `requested_model`: the name the client asked for (answers carry it); `message_id`: the
    /// id the message gets (`msg_…`).
    pub fn new(requested_model: &str, message_id: &str) -> Self {
        StreamTranslator {
            reader: EventReader::default(),
            state: State {
                message_id: message_id.to_owned(),
                model: requested_model.to_owned(),
                started: false,
                ended: false,
                blocks: Blocks::new(message_id),
                finish: None,
                usage: Usage::default(),
                upstream_error: None,
            },
        }
    }

    /// Upstream bytes in (any cut), Anthropic event bytes appended to `out`.
    pub fn push(&mut self, upstream: &[u8], out: &mut Vec<u8>) {
        if self.state.ended {
            return;
        }
        let state = &mut self.state;
        if self
            .reader
            .push(upstream, |e| state.on_event(e, out))
            .is_err()
        {
            self.state.fail(
                StreamFailure::Api,
                "Upstream sent an event larger than the gateway accepts.",
                out,
            );
        }
    }

    /// Upstream ended (with or without `[DONE]`): open blocks close, then `message_delta` and
    /// `message_stop`. Written once; nothing after a failure.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.state.ended {
            return;
        }
        let state = &mut self.state;
        self.reader.finish(|e| state.on_event(e, out));
        self.state.end(out);
    }

    /// Upstream broke or went silent after the stream started: an `api_error` event, and
    /// nothing after it.
    pub fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        self.state.fail(StreamFailure::Api, message, out);
    }

    /// [`fail`](Self::fail) with the error type of the client's choosing.
    pub fn fail_as(&mut self, kind: StreamFailure, message: &str, out: &mut Vec<u8>) {
        self.state.fail(kind, message, out);
    }

    /// A `ping` event, sent while upstream is silent so that nothing between gives up on the
    /// connection. Nothing once the stream is over.
    pub fn ping(&self, out: &mut Vec<u8>) {
        if !self.state.ended {
            out.extend_from_slice(b"event: ping\ndata: {\"type\":\"ping\"}\n\n");
        }
    }

    /// Upstream's usage as last reported (zeros until then).
    pub fn usage(&self) -> Usage {
        self.state.usage
    }

    /// `message_stop` or an error has been written.
    pub fn is_finished(&self) -> bool {
        self.state.ended
    }

    /// Upstream has said how the answer ended (a `finish_reason`): only its usage may still
    /// come, so an upstream going silent now calls for [`finish`](Self::finish), not
    /// [`fail`](Self::fail).
    pub fn answer_complete(&self) -> bool {
        self.state.finish.is_some()
    }

    /// Upstream's own error event, when it sent one (cut to 2 KiB), for the logs; the client
    /// is told only its code.
    pub fn upstream_error(&self) -> Option<&str> {
        self.state.upstream_error.as_deref()
    }
}

impl State {
    fn on_event(&mut self, e: SseEvent<'_>, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        let data = e.data.trim();
        if data == "[DONE]" {
            self.end(out);
            return;
        }
        if e.name == Some("error") {
            self.upstream_failed(data, out);
            return;
        }
        if !data.starts_with('{') {
            // Not a chunk (a keep-alive of some upstreams).
            return;
        }
        let chunk: Chunk = match serde_json::from_str(data) {
            Ok(c) => c,
            Err(_) => {
                self.fail(
                    StreamFailure::Api,
                    "Upstream sent an unreadable stream event.",
                    out,
                );
                return;
            }
        };
        if chunk.error.is_some() {
            self.upstream_failed(data, out);
            return;
        }
        let usage = chunk.usage.and_then(WireUsage::into_usage);
        if let Some(u) = usage {
            self.usage = u;
        }
        if !self.started {
            self.start(out);
        }
        if let Some(c) = chunk.choices.0 {
            if let Some(d) = c.delta {
                if let Some(r) = d.reasoning_content.and_then(|r| string_contents(r.get())) {
                    self.blocks.reasoning(r, out);
                }
                if let Some(t) = d.content.and_then(|t| string_contents(t.get())) {
                    self.blocks.text(t, out);
                }
                for call in d.tool_calls.unwrap_or_default() {
                    let (name, args) = match &call.function {
                        Some(f) => (
                            f.name.and_then(|n| string_contents(n.get())),
                            f.arguments.as_ref().map(arguments),
                        ),
                        None => (None, None),
                    };
                    let id = call.id.and_then(|i| string_contents(i.get()));
                    let args = args.unwrap_or(Cow::Borrowed(""));
                    self.blocks.tool(call.index, id, name, &args, out);
                }
            }
            if let Some(f) = c.finish_reason {
                let matched = c
                    .stop_reason
                    .and_then(|r| serde_json::from_str::<String>(r.get()).ok());
                self.finish = Some(match matched {
                    Some(s) if f == "stop" => Finish::StopSequence(Some(s)),
                    _ => Finish::from_openai(&f),
                });
            }
        }
        if self.blocks.held() > HELD_CAP {
            self.fail(
                StreamFailure::Api,
                "Upstream's answer holds more than the gateway can translate.",
                out,
            );
            return;
        }
        if usage.is_some() && self.finish.is_some() {
            self.end(out);
        }
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        self.started = true;
        out.extend_from_slice(
            b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":",
        );
        push_str(out, &self.message_id);
        out.extend_from_slice(b",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
        push_str(out, &self.model);
        out.extend_from_slice(
            b",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":",
        );
        push_usage(out, &self.usage);
        out.extend_from_slice(b"}}\n\n");
    }

    /// The answer is complete: blocks close, then `message_delta` and `message_stop`.
    fn end(&mut self, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        if !self.started {
            self.fail(
                StreamFailure::Api,
                "Upstream ended the stream without an answer.",
                out,
            );
            return;
        }
        self.blocks.close_all(out);
        let finish = self.finish.take().unwrap_or_default();
        let tools = self.blocks.tool_emitted();
        out.extend_from_slice(b"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"");
        out.extend_from_slice(finish.stop_reason(tools).as_bytes());
        out.extend_from_slice(b"\",\"stop_sequence\":");
        match finish.stop_sequence(tools) {
            Some(s) => push_str(out, s),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b"},\"usage\":");
        push_usage(out, &self.usage);
        out.extend_from_slice(b"}\n\n");
        out.extend_from_slice(b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
        self.ended = true;
    }

    fn fail(&mut self, kind: StreamFailure, message: &str, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        push_stream_error(out, kind.error_type(), message);
        self.ended = true;
    }

    /// Upstream reported an error inside the stream. The client learns its code, not its text
    /// (which may name the account); throttling and capacity codes are `overloaded_error`.
    fn upstream_failed(&mut self, data: &str, out: &mut Vec<u8>) {
        let mut cut = data.len().min(2048);
        while !data.is_char_boundary(cut) {
            cut -= 1;
        }
        self.upstream_error = Some(data[..cut].to_owned());
        #[derive(Deserialize, Default)]
        struct Body {
            #[serde(default)]
            error: Option<Detail>,
        }
        #[derive(Deserialize, Default)]
        struct Detail {
            code: Option<serde_json::Value>,
            #[serde(rename = "type")]
            kind: Option<String>,
        }
        let detail = serde_json::from_str::<Body>(data)
            .ok()
            .and_then(|b| b.error)
            .unwrap_or_default();
        let code = detail
            .code
            .map(|c| match c {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
            .or(detail.kind)
            .unwrap_or_default();
        let code: String = code
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            .take(64)
            .collect();
        let lower = code.to_ascii_lowercase();
        let busy = [
            "limit", "quota", "throttl", "overload", "capacity", "busy", "429", "503",
        ]
        .iter()
        .any(|k| lower.contains(k));
        let (kind, what) = if busy {
            (
                StreamFailure::Overloaded,
                "Upstream is overloaded or rate-limited; try again shortly",
            )
        } else {
            (
                StreamFailure::Api,
                "Upstream failed in the middle of the answer",
            )
        };
        let message = if code.is_empty() {
            format!("{what}.")
        } else {
            format!("{what} ({code}).")
        };
        self.fail(kind, &message, out);
    }
}

/// Tool arguments as escaped string contents: upstream's string as it is, or an object some
/// upstreams send in its place, written as a string.
fn arguments<'a>(raw: &&'a RawValue) -> Cow<'a, str> {
    if let Some(s) = string_contents(raw.get()) {
        return Cow::Borrowed(s);
    }
    if raw.get().starts_with('{') {
        let mut buf = Vec::new();
        super::wire::push_escaped(&mut buf, raw.get());
        return Cow::Owned(super::wire::into_string(buf));
    }
    Cow::Borrowed("")
}

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(borrow, default)]
    choices: FirstChoice<'a>,
    usage: Option<WireUsage>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

/// The first choice of `choices`, the rest skipped without being kept.
#[derive(Default)]
struct FirstChoice<'a>(Option<Choice<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for FirstChoice<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = FirstChoice<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of choices")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                let first = s.next_element::<Choice<'a>>()?;
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FirstChoice(first))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(FirstChoice(None))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(borrow)]
    delta: Option<Delta<'a>>,
    #[serde(borrow)]
    finish_reason: Option<Cow<'a, str>>,
    /// The stop string that matched, from upstreams that say it.
    #[serde(borrow)]
    stop_reason: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow)]
    content: Option<&'a RawValue>,
    #[serde(borrow)]
    reasoning_content: Option<&'a RawValue>,
    #[serde(borrow)]
    tool_calls: Option<Vec<ToolDelta<'a>>>,
}

#[derive(Deserialize)]
struct ToolDelta<'a> {
    index: Option<u64>,
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    function: Option<FunctionDelta<'a>>,
}

#[derive(Deserialize)]
struct FunctionDelta<'a> {
    #[serde(borrow)]
    name: Option<&'a RawValue>,
    #[serde(borrow)]
    arguments: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WireUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    prompt_tokens_details: Option<Details>,
    completion_tokens_details: Option<Details>,
}

#[derive(Deserialize)]
struct Details {
    cached_tokens: Option<u64>,
    reasoning_tokens: Option<u64>,
}

impl WireUsage {
    /// The same reading as [`Usage::from_openai`]: a usage object has `prompt_tokens`.
    fn into_usage(self) -> Option<Usage> {
        Some(Usage {
            input_tokens: self.prompt_tokens?,
            output_tokens: self.completion_tokens.unwrap_or(0),
            cached_tokens: self
                .prompt_tokens_details
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
            reasoning_tokens: self
                .completion_tokens_details
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
        })
    }
}

#[cfg(test)]
#[path = "tests/stream.rs"]
mod tests;

#[cfg(test)]
#[path = "tests/stream_random.rs"]
mod random_tests;
