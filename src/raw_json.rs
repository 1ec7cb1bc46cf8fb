//! JSON read one level deep: an object whose values are kept as raw text, in their order, and
//! written back verbatim except for what a rewrite replaces. A large conversation is never
//! rebuilt into a tree just to change one field.

use crate::error::GatewayError;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::fmt;

/// A JSON object with its values kept raw, in their original order. Duplicate keys are kept
/// (and written back); lookups see the last one, as most parsers do.
#[derive(Debug, Default)]
pub struct RawObject(pub Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<RawObject, A::Error> {
                let mut v = Vec::with_capacity(m.size_hint().unwrap_or(8));
                while let Some((k, val)) = m.next_entry::<String, Box<RawValue>>()? {
                    v.push((k, val));
                }
                Ok(RawObject(v))
            }
        }
        d.deserialize_map(V)
    }
}

impl RawObject {
    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| &**v)
    }

    /// Bytes needed to write it back (a capacity hint).
    pub fn len_hint(&self) -> usize {
        self.0
            .iter()
            .map(|(k, v)| k.len() + v.get().len() + 4)
            .sum::<usize>()
            + 2
    }

    /// Writes the object to `out` with top-level `edits` applied: `(key, Some(json))` sets a key
    /// (in place, or at the end when absent), `(key, None)` drops it; the last edit of a key
    /// wins. Other values as they came, or `replace(key)` when that is `Some`.
    pub fn write_edited(
        &self,
        out: &mut String,
        edits: &[(&str, Option<String>)],
        replace: &dyn Fn(&str) -> Option<String>,
    ) {
        let edit_of = |k: &str| edits.iter().rev().find(|(e, _)| *e == k).map(|(_, v)| v);
        out.push('{');
        let mut n = 0;
        let mut key = |out: &mut String, k: &str| {
            if n > 0 {
                out.push(',');
            }
            n += 1;
            push_json_string(out, k);
            out.push(':');
        };
        for (i, (k, v)) in self.0.iter().enumerate() {
            match edit_of(k) {
                Some(None) => {}
                // A duplicate key that is set is written once.
                Some(Some(_)) if self.0[..i].iter().any(|(p, _)| p == k) => {}
                Some(Some(e)) => {
                    key(out, k);
                    out.push_str(e);
                }
                None => {
                    key(out, k);
                    match replace(k) {
                        Some(r) => out.push_str(&r),
                        None => out.push_str(v.get()),
                    }
                }
            }
        }
        for (i, (k, v)) in edits.iter().enumerate() {
            let last_of_key = !edits[i + 1..].iter().any(|(e, _)| e == k);
            if let (Some(v), true, None) = (v, last_of_key, self.get(k)) {
                key(out, k);
                out.push_str(v);
            }
        }
        out.push('}');
    }

    /// Writes the object to `out`: each value as it came, or `replace(key)` when that is `Some`.
    pub fn write(&self, out: &mut String, replace: &dyn Fn(&str) -> Option<String>) {
        out.push('{');
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_json_string(out, k);
            out.push(':');
            match replace(k) {
                Some(r) => out.push_str(&r),
                None => out.push_str(v.get()),
            }
        }
        out.push('}');
    }
}

/// The decimal digits of `n`, written at the end of `buf`, without allocating.
pub fn decimal(n: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

pub fn push_json_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

/// A request body as a raw object, with the errors a client should see: empty, not UTF-8, not
/// JSON (with where), not an object. `what` names the expected content in the empty-body error.
pub fn parse_body(body: &[u8], what: &str) -> Result<RawObject, GatewayError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(GatewayError::invalid(
            format!("Request body is empty: send a JSON object with {what}."),
            None,
        ));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| GatewayError::invalid("Request body is not valid UTF-8.", None))?;
    serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            GatewayError::invalid("Request body must be a JSON object.", None)
        } else {
            GatewayError::invalid(
                format!(
                    "Request body is not valid JSON: {} at line {} column {}.",
                    json_error_kind(&e),
                    e.line(),
                    e.column()
                ),
                None,
            )
        }
    })
}

fn json_error_kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Eof => "unexpected end of input",
        serde_json::error::Category::Syntax => "syntax error",
        _ => "invalid input",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_back_verbatim_with_replacements() {
        let o: RawObject =
            serde_json::from_str(r#"{"a": [1, 2], "b":"x","a":{"k":null}}"#).unwrap();
        assert_eq!(
            o.get("a").unwrap().get(),
            r#"{"k":null}"#,
            "the last duplicate wins"
        );
        let mut out = String::new();
        o.write(&mut out, &|k| (k == "b").then(|| "\"y\"".to_owned()));
        assert_eq!(out, r#"{"a":[1, 2],"b":"y","a":{"k":null}}"#);
        assert!(o.len_hint() >= out.len());
    }

    #[test]
    fn edits_set_in_place_append_and_drop() {
        let o: RawObject = serde_json::from_str(r#"{"a":1,"b":2,"a":3,"c":4}"#).unwrap();
        let mut out = String::new();
        let edits = [
            ("b", None),
            ("a", Some("9".to_owned())),
            ("d", Some("1".to_owned())),
            ("d", Some("5".to_owned())),
        ];
        o.write_edited(&mut out, &edits, &|k| (k == "c").then(|| "0".to_owned()));
        assert_eq!(out, r#"{"a":9,"c":0,"d":5}"#);
        let mut plain = String::new();
        o.write_edited(&mut plain, &[], &|_| None);
        assert_eq!(plain, r#"{"a":1,"b":2,"a":3,"c":4}"#);
    }

    #[test]
    fn body_errors_say_what_is_wrong() {
        let msg = |b: &[u8]| {
            parse_body(b, "'messages'")
                .unwrap_err()
                .message(crate::api::Audience::Client)
        };
        assert!(msg(b"  ").contains("empty"));
        assert!(msg(b"{").contains("not valid JSON"));
        assert!(msg(b"[1]").contains("JSON object"));
        assert!(msg(&[0xff, 0xfe]).contains("UTF-8"));
        assert!(parse_body(b"{}", "x").is_ok());
    }
}
