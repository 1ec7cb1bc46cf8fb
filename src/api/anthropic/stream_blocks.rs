//! The content blocks of a streamed answer: which one is open, which index comes next, and the
//! tool calls upstream is still sending. One block is open at a time; every index is opened
//! once, closed once, and never referenced before it is opened or after it is closed.
//!
//! Text is handled as escaped JSON string contents, copied from upstream's bytes to ours
//! without decoding.
//!
//! - Reasoning opens a thinking block; text closes it and opens one text block.
//! - A tool call opens its tool_use block once its name is known (upstream may send the name
//!   after the id or after some arguments: those wait) and once the block open before it is a
//!   tool whose arguments have closed their JSON object (a parallel call interleaved with the
//!   open one waits, whole, and is sent after it). What waits is sent at the end.
//! - Text after a tool block opened is kept and sent as a text block after the tools, at the
//!   end. Reasoning after text or tools is dropped: Anthropic puts thinking first.
//! - Arguments for a tool whose block was closed are dropped (its JSON was complete).
//! - A tool without an id, or with the id of a call already sent, gets a made-up id.

use super::wire::{push_str, push_u64, synth_tool_id, UNNAMED_TOOL};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    None,
    Thinking(u32),
    Text(u32),
    /// The tool's slot, and its block index.
    Tool(usize, u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ToolState {
    Pending,
    Open,
    Closed,
}

/// One upstream tool call.
#[derive(Debug)]
struct ToolSlot {
    upstream_index: Option<u64>,
    /// Escaped contents of the id and name strings, once upstream has sent them.
    id: Option<String>,
    name: Option<String>,
    /// Arguments received while the block was not open yet (escaped contents).
    pending: String,
    state: ToolState,
    json: JsonEnd,
}

#[derive(Debug)]
pub(super) struct Blocks {
    message_id: String,
    next_index: u32,
    open: Open,
    text_started: bool,
    tool_started: bool,
    tools: Vec<ToolSlot>,
    /// Text that came after a tool block opened (escaped contents).
    late_text: String,
}

const THINKING_START: &[u8] = b"{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}";
const TEXT_START: &[u8] = b"{\"type\":\"text\",\"text\":\"\"}";
const THINKING_DELTA: &[u8] = b"thinking_delta\",\"thinking\":\"";
const TEXT_DELTA: &[u8] = b"text_delta\",\"text\":\"";
const INPUT_DELTA: &[u8] = b"input_json_delta\",\"partial_json\":\"";

impl Blocks {
    pub(super) fn new(message_id: &str) -> Self {
        Blocks {
            message_id: message_id.to_owned(),
            next_index: 0,
            open: Open::None,
            text_started: false,
            tool_started: false,
            tools: Vec::new(),
            late_text: String::new(),
        }
    }

    /// Was a tool_use block emitted?
    pub(super) fn tool_emitted(&self) -> bool {
        self.tool_started
    }

    pub(super) fn reasoning(&mut self, s: &str, out: &mut Vec<u8>) {
        if s.is_empty() {
            return;
        }
        match self.open {
            Open::Thinking(i) => delta(out, i, THINKING_DELTA, s),
            Open::None if !self.text_started && self.tools.is_empty() => {
                let i = self.start(out, THINKING_START);
                self.open = Open::Thinking(i);
                delta(out, i, THINKING_DELTA, s);
            }
            _ => {}
        }
    }

    pub(super) fn text(&mut self, s: &str, out: &mut Vec<u8>) {
        if s.is_empty() {
            return;
        }
        if self.tool_started {
            self.late_text.push_str(s);
            return;
        }
        let i = match self.open {
            Open::Text(i) => i,
            _ => {
                self.close(out);
                let i = self.start(out, TEXT_START);
                self.open = Open::Text(i);
                self.text_started = true;
                i
            }
        };
        delta(out, i, TEXT_DELTA, s);
    }

    /// A `tool_calls[]` entry: its upstream index, and the escaped contents of its id, name and
    /// arguments fragment.
    pub(super) fn tool(
        &mut self,
        index: Option<u64>,
        id: Option<&str>,
        name: Option<&str>,
        args: &str,
        out: &mut Vec<u8>,
    ) {
        let id = id.filter(|s| !s.is_empty());
        let slot = self.slot_for(index, id);
        let t = &mut self.tools[slot];
        if t.id.is_none() {
            t.id = id.map(str::to_owned);
        }
        if t.name.is_none() {
            t.name = name.filter(|s| !s.is_empty()).map(str::to_owned);
        }
        match (t.state, self.open) {
            (ToolState::Open, Open::Tool(_, i)) if !args.is_empty() => {
                t.json.feed(args);
                delta(out, i, INPUT_DELTA, args);
            }
            (ToolState::Pending, _) => {
                t.json.feed(args);
                t.pending.push_str(args);
            }
            _ => {}
        }
        self.advance(out);
    }

    /// The slot of an upstream call: by index (or by id when upstream gives no index). A new
    /// id on a known index is a new call: some upstreams number every call 0.
    fn slot_for(&mut self, index: Option<u64>, id: Option<&str>) -> usize {
        let found = match (index, id) {
            (Some(ix), _) => self
                .tools
                .iter()
                .rposition(|t| t.upstream_index == Some(ix)),
            (None, Some(id)) => self.tools.iter().rposition(|t| t.id.as_deref() == Some(id)),
            (None, None) => self.tools.len().checked_sub(1),
        };
        if let Some(p) = found {
            let other_id =
                matches!((id, self.tools[p].id.as_deref()), (Some(a), Some(b)) if a != b);
            if !other_id {
                return p;
            }
        }
        self.tools.push(ToolSlot {
            upstream_index: index,
            id: None,
            name: None,
            pending: String::new(),
            state: ToolState::Pending,
            json: JsonEnd::default(),
        });
        self.tools.len() - 1
    }

    /// Opens the next named tool when the open block allows it.
    fn advance(&mut self, out: &mut Vec<u8>) {
        while let Some(next) = self
            .tools
            .iter()
            .position(|t| t.state == ToolState::Pending && t.name.is_some())
        {
            if let Open::Tool(cur, _) = self.open {
                if !self.tools[cur].json.complete() {
                    return;
                }
            }
            self.close(out);
            self.open_tool(next, out);
        }
    }

    fn open_tool(&mut self, slot: usize, out: &mut Vec<u8>) {
        let i = self.take_index();
        event_head(out, b"content_block_start", i);
        out.extend_from_slice(b",\"content_block\":{\"type\":\"tool_use\",\"id\":");
        // An id upstream gave an earlier call too would pair both with one result: made up.
        let taken = |id: &String| {
            self.tools.iter().enumerate().any(|(j, o)| {
                j != slot && o.state != ToolState::Pending && o.id.as_ref() == Some(id)
            })
        };
        if self.tools[slot].id.as_ref().is_some_and(taken) {
            self.tools[slot].id = None;
        }
        let t = &mut self.tools[slot];
        match &t.id {
            Some(id) => quoted(out, id),
            None => push_str(out, &synth_tool_id(&self.message_id, slot)),
        }
        out.extend_from_slice(b",\"name\":");
        match &t.name {
            Some(name) => quoted(out, name),
            None => push_str(out, UNNAMED_TOOL),
        }
        out.extend_from_slice(b",\"input\":{}}}\n\n");
        let pending = std::mem::take(&mut t.pending);
        if !pending.is_empty() {
            delta(out, i, INPUT_DELTA, &pending);
        }
        t.state = ToolState::Open;
        self.open = Open::Tool(slot, i);
        self.tool_started = true;
    }

    fn take_index(&mut self) -> u32 {
        let i = self.next_index;
        self.next_index = self.next_index.saturating_add(1);
        i
    }

    /// Bytes held back (tool arguments waiting for their block, text waiting for the end).
    pub(super) fn held(&self) -> usize {
        self.late_text.len() + self.tools.iter().map(|t| t.pending.len()).sum::<usize>()
    }

    fn start(&mut self, out: &mut Vec<u8>, block: &[u8]) -> u32 {
        let i = self.take_index();
        event_head(out, b"content_block_start", i);
        out.extend_from_slice(b",\"content_block\":");
        out.extend_from_slice(block);
        out.extend_from_slice(b"}\n\n");
        i
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        let i = match self.open {
            Open::None => return,
            Open::Thinking(i) | Open::Text(i) => i,
            Open::Tool(slot, i) => {
                self.tools[slot].state = ToolState::Closed;
                i
            }
        };
        event_head(out, b"content_block_stop", i);
        out.extend_from_slice(b"}\n\n");
        self.open = Open::None;
    }

    /// The answer is over: the open block closes, waiting tools are sent whole (named
    /// `unnamed_tool` if upstream never named them), then text that came after the tools.
    pub(super) fn close_all(&mut self, out: &mut Vec<u8>) {
        self.close(out);
        for slot in 0..self.tools.len() {
            if self.tools[slot].state == ToolState::Pending {
                self.open_tool(slot, out);
                self.close(out);
            }
        }
        if !is_blank(&self.late_text) {
            let late = std::mem::take(&mut self.late_text);
            let i = self.start(out, TEXT_START);
            delta(out, i, TEXT_DELTA, &late);
            self.open = Open::Text(i);
            self.close(out);
        }
        self.late_text.clear();
    }
}

/// `event: NAME\ndata: {"type":"NAME","index":I` (the caller closes the object).
fn event_head(out: &mut Vec<u8>, name: &[u8], index: u32) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name);
    out.extend_from_slice(b"\ndata: {\"type\":\"");
    out.extend_from_slice(name);
    out.extend_from_slice(b"\",\"index\":");
    push_u64(out, u64::from(index));
}

fn delta(out: &mut Vec<u8>, index: u32, kind: &[u8], escaped: &str) {
    event_head(out, b"content_block_delta", index);
    out.extend_from_slice(b",\"delta\":{\"type\":\"");
    out.extend_from_slice(kind);
    out.extend_from_slice(escaped.as_bytes());
    out.extend_from_slice(b"\"}}\n\n");
}

fn quoted(out: &mut Vec<u8>, escaped: &str) {
    out.push(b'"');
    out.extend_from_slice(escaped.as_bytes());
    out.push(b'"');
}

/// Escaped contents that decode to whitespace only.
fn is_blank(escaped: &str) -> bool {
    let mut b = escaped.as_bytes().iter();
    while let Some(&c) = b.next() {
        match c {
            b' ' => {}
            b'\\' if matches!(b.next(), Some(b'n' | b'r' | b't')) => {}
            _ => return false,
        }
    }
    true
}

/// Watches a tool's arguments (escaped JSON string contents, fragment by fragment) for the
/// end of their top-level JSON object, decoding each byte once.
#[derive(Debug, Default)]
pub(super) struct JsonEnd {
    depth: u32,
    in_string: bool,
    escaped: bool,
    closed: bool,
}

impl JsonEnd {
    pub(super) fn feed(&mut self, fragment: &str) {
        let b = fragment.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let mut c = b[i];
            i += 1;
            if c == b'\\' {
                let Some(&e) = b.get(i) else { break };
                i += 1;
                c = match e {
                    b'"' | b'\\' | b'/' => e,
                    b'u' => {
                        let code = b
                            .get(i..i + 4)
                            .and_then(|h| std::str::from_utf8(h).ok())
                            .and_then(|h| u8::from_str_radix(h.trim_start_matches("00"), 16).ok());
                        i += 4;
                        code.filter(u8::is_ascii).unwrap_or(b'x')
                    }
                    // \n \r \t \b \f: whitespace, or a character inside a string.
                    _ => b' ',
                };
            }
            self.step(c);
        }
    }

    fn step(&mut self, c: u8) {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if c == b'\\' {
                self.escaped = true;
            } else if c == b'"' {
                self.in_string = false;
            }
            return;
        }
        match c {
            b'"' => self.in_string = true,
            b'{' | b'[' => self.depth = self.depth.saturating_add(1),
            b'}' | b']' if self.depth > 0 => {
                self.depth -= 1;
                self.closed |= self.depth == 0;
            }
            _ => {}
        }
    }

    /// The top-level value has been closed.
    pub(super) fn complete(&self) -> bool {
        self.closed && self.depth == 0 && !self.in_string
    }
}
