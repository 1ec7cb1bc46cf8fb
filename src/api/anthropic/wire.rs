//! What the answer side shares: JSON written by hand into a byte buffer, the usage object, the
//! stop reason, and the names given to tool calls that upstream left unnamed.

use crate::usage::Usage;

/// Appends `s` as a JSON string literal (quotes included).
pub(crate) fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    push_escaped(out, s);
    out.push(b'"');
}

/// Appends the escaped contents of a JSON string literal for `s` (no quotes). Runs of bytes
/// that need no escape are copied whole.
pub(crate) fn push_escaped(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !NEEDS_ESCAPE[b as usize] {
            continue;
        }
        out.extend_from_slice(&bytes[from..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
        }
        from = i + 1;
    }
    out.extend_from_slice(&bytes[from..]);
}

/// The bytes a JSON string cannot hold as they are: controls, `"` and `\`.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends a decimal number.
pub(crate) fn push_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(crate::raw_json::decimal(n, &mut [0; 20]).as_bytes());
}

/// The bytes as a `String`; they were written from `&str`s and JSON, so they are UTF-8.
pub(crate) fn into_string(buf: Vec<u8>) -> String {
    String::from_utf8(buf).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The inside of a raw JSON string literal (`"abc"` → `abc`), still escaped; `None` when the
/// raw value is not a string.
pub(crate) fn string_contents(raw: &str) -> Option<&str> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    Some(inner)
}

/// The Anthropic `usage` object. Anthropic counts cached prompt tokens apart from
/// `input_tokens`; OpenAI's `prompt_tokens` includes them, so they are taken out.
pub(crate) fn push_usage(out: &mut Vec<u8>, u: &Usage) {
    out.extend_from_slice(b"{\"input_tokens\":");
    push_u64(out, u.input_tokens.saturating_sub(u.cached_tokens));
    out.extend_from_slice(b",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":");
    push_u64(out, u.cached_tokens);
    out.extend_from_slice(b",\"output_tokens\":");
    push_u64(out, u.output_tokens);
    out.push(b'}');
}

/// How upstream said it stopped (`finish_reason`, plus a matched stop string when it names one).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum Finish {
    /// No finish reason (yet): the answer ended on its own.
    #[default]
    Unknown,
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
    /// A stop sequence matched, with the sequence when upstream names it.
    StopSequence(Option<String>),
}

impl Finish {
    pub(crate) fn from_openai(reason: &str) -> Finish {
        match reason {
            "stop" => Finish::Stop,
            "length" => Finish::Length,
            "tool_calls" | "function_call" => Finish::ToolCalls,
            "content_filter" => Finish::ContentFilter,
            "stop_sequence" => Finish::StopSequence(None),
            _ => Finish::Unknown,
        }
    }

    /// Anthropic's `stop_reason`. A truncated answer is `max_tokens` even when it holds a tool
    /// call (its arguments are cut); otherwise `tool_use` exactly when a tool_use block was
    /// emitted, whatever upstream's finish reason says (Qwen says `stop` with tool calls).
    pub(crate) fn stop_reason(&self, tool_emitted: bool) -> &'static str {
        match self {
            Finish::Length => "max_tokens",
            _ if tool_emitted => "tool_use",
            Finish::ContentFilter => "refusal",
            Finish::StopSequence(_) => "stop_sequence",
            _ => "end_turn",
        }
    }

    /// The matched stop sequence, when known and it is what stopped the answer.
    pub(crate) fn stop_sequence(&self, tool_emitted: bool) -> Option<&str> {
        match self {
            Finish::StopSequence(Some(s)) if !tool_emitted => Some(s),
            _ => None,
        }
    }
}

/// The name given to a tool call whose name upstream never sent: the client answers that no
/// such tool exists, and the model can try again.
pub(crate) const UNNAMED_TOOL: &str = "unnamed_tool";

/// An id for the `n`th tool call of a message when upstream sent none: unique per message.
pub(crate) fn synth_tool_id(message_id: &str, n: usize) -> String {
    let tail = message_id.strip_prefix("msg_").unwrap_or(message_id);
    format!("toolu_{tail}_{n}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &str) -> String {
        let mut v = Vec::new();
        push_str(&mut v, s);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn escaping_matches_serde_json() {
        for s in [
            "",
            "plain",
            "q\"b\\s",
            "line\nbreak\ttab\r",
            "\u{1}\u{1f}",
            "é 中 🦀",
            "</script>",
        ] {
            assert_eq!(esc(s), serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn numbers_and_usage() {
        let mut v = Vec::new();
        for n in [0, 7, 10, 1234567890, u64::MAX] {
            v.clear();
            push_u64(&mut v, n);
            assert_eq!(String::from_utf8(v.clone()).unwrap(), n.to_string());
        }
        v.clear();
        let u = Usage {
            input_tokens: 100,
            output_tokens: 7,
            cached_tokens: 60,
            reasoning_tokens: 0,
        };
        push_usage(&mut v, &u);
        assert_eq!(
            String::from_utf8(v).unwrap(),
            r#"{"input_tokens":40,"cache_creation_input_tokens":0,"cache_read_input_tokens":60,"output_tokens":7}"#
        );
    }

    #[test]
    fn stop_reason_follows_what_was_emitted() {
        assert_eq!(Finish::Stop.stop_reason(true), "tool_use");
        assert_eq!(Finish::ToolCalls.stop_reason(false), "end_turn");
        assert_eq!(Finish::Length.stop_reason(true), "max_tokens");
        assert_eq!(Finish::Unknown.stop_reason(false), "end_turn");
        assert_eq!(Finish::ContentFilter.stop_reason(false), "refusal");
        let seq = Finish::StopSequence(Some("END".into()));
        assert_eq!(
            (seq.stop_reason(false), seq.stop_sequence(false)),
            ("stop_sequence", Some("END"))
        );
        assert_eq!(seq.stop_sequence(true), None);
        assert_eq!(synth_tool_id("msg_abc", 2), "toolu_abc_2");
    }
}
