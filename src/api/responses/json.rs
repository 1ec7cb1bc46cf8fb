//! Writing JSON by hand, and JSON string literals kept as they came.
//!
//! Text (a prompt, a streamed delta, tool arguments) is carried from one side to the other as
//! the *inside* of a JSON string literal, escapes and all: it is never decoded and encoded again.
//! Two such insides written one after the other are again the inside of a valid literal, which
//! is how streamed fragments are accumulated.

use serde_json::value::RawValue;

/// Where JSON text is written: a `String` (request bodies, answers) or a `Vec<u8>` (streams).
pub trait Sink {
    fn put(&mut self, s: &str);
}

impl Sink for String {
    fn put(&mut self, s: &str) {
        self.push_str(s);
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
}

/// The characters between the quotes of a JSON string literal, still escaped; `None` when the
/// value is not a string.
pub fn inner(raw: &RawValue) -> Option<&str> {
    let s = raw.get();
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        Some(&s[1..s.len() - 1])
    } else {
        None
    }
}

/// Whether a raw value is JSON `null`.
pub fn is_null(raw: &RawValue) -> bool {
    raw.get() == "null"
}

/// Writes `s` as a JSON string literal, quotes included.
pub fn put_str<O: Sink + ?Sized>(out: &mut O, s: &str) {
    out.put("\"");
    put_escaped(out, s);
    out.put("\"");
}

/// Writes `s` escaped for the inside of a JSON string literal (no quotes).
pub fn put_escaped<O: Sink + ?Sized>(out: &mut O, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        if start < i {
            out.put(&s[start..i]);
        }
        if esc.is_empty() {
            let code = [
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ];
            // Only ASCII bytes were written into `code`.
            out.put(std::str::from_utf8(&code).unwrap_or("\\u0000"));
        } else {
            out.put(esc);
        }
        start = i + 1;
    }
    if start < bytes.len() {
        out.put(&s[start..]);
    }
}

/// Writes an unsigned integer.
pub fn put_u64<O: Sink + ?Sized>(out: &mut O, n: u64) {
    out.put(crate::raw_json::decimal(n, &mut [0; 20]));
}

/// JSON text without the whitespace between its tokens (a client's pretty-printed value must
/// not put line breaks into an SSE `data:` line).
pub fn compact(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, b) in json.bytes().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        } else if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
            out.push_str(&json[start..i]);
            start = i + 1;
        }
    }
    out.push_str(&json[start..]);
    out
}

/// The decoded text of the inside of a JSON string literal (for the rare places that must read
/// text rather than carry it).
pub fn decode_inner(inner: &str) -> Option<String> {
    if !inner.contains('\\') {
        return Some(inner.to_owned());
    }
    let mut lit = String::with_capacity(inner.len() + 2);
    lit.push('"');
    lit.push_str(inner);
    lit.push('"');
    serde_json::from_str(&lit).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &str) -> String {
        let mut out = String::new();
        put_str(&mut out, s);
        out
    }

    #[test]
    fn escaping_matches_serde_json() {
        for s in [
            "",
            "plain",
            "quote \" back \\ slash",
            "lines\nand\ttabs\r",
            "\u{1}\u{1f}\u{8}\u{c} control",
            "unicode é 😀 \u{2028}",
        ] {
            assert_eq!(esc(s), serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn compacting_drops_whitespace_between_tokens_only() {
        assert_eq!(
            compact("{\n \"a b\": [1, 2],\r\n\t\"c\": \"x \\\" y\"\n}"),
            r#"{"a b":[1,2],"c":"x \" y"}"#
        );
    }

    #[test]
    fn integers_are_written_in_decimal() {
        for n in [0u64, 7, 10, 12345, u64::MAX] {
            let mut out = String::new();
            put_u64(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }

    #[test]
    fn insides_of_literals_concatenate_into_a_valid_literal() {
        let a: Box<RawValue> = serde_json::from_str(r#""a\"b\n""#).unwrap();
        let b: Box<RawValue> = serde_json::from_str(r#""\u00e9c""#).unwrap();
        let joined = format!("\"{}{}\"", inner(&a).unwrap(), inner(&b).unwrap());
        assert_eq!(serde_json::from_str::<String>(&joined).unwrap(), "a\"b\néc");
        assert_eq!(decode_inner(r#"x\ty"#).unwrap(), "x\ty");
        let n: Box<RawValue> = serde_json::from_str("5").unwrap();
        assert_eq!(inner(&n), None);
    }
}
