//! Content parts of `input` items: text, images, tool outputs given as parts.

use super::json::{inner, is_null, put_escaped};
use super::request_items::{bad, join};
use crate::error::GatewayError;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

#[derive(Deserialize)]
struct PartIn<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    text: Option<&'a RawValue>,
    #[serde(borrow)]
    refusal: Option<&'a RawValue>,
    #[serde(borrow)]
    image_url: Option<&'a RawValue>,
    #[serde(borrow)]
    file_id: Option<&'a RawValue>,
    #[serde(borrow)]
    detail: Option<Cow<'a, str>>,
}

fn parts(raw: &RawValue, i: usize) -> Result<Vec<PartIn<'_>>, GatewayError> {
    serde_json::from_str(raw.get()).map_err(|e| {
        bad(format!(
            "input[{i}].content must be a string or an array of content parts ({e})."
        ))
    })
}

/// The text of a content that may hold text only (system, developer, assistant, reasoning), as
/// the inside of a literal; parts joined by a newline.
pub(crate) fn parts_text(raw: &RawValue, out: &mut String, i: usize) -> Result<(), GatewayError> {
    if let Some(s) = inner(raw) {
        out.push_str(s);
        return Ok(());
    }
    for p in parts(raw, i)? {
        let text = match p.kind.as_deref() {
            Some("input_text" | "output_text" | "text" | "summary_text" | "reasoning_text") => {
                p.text
            }
            Some("refusal") => p.refusal,
            Some(t) => {
                return Err(bad(format!(
                    "input[{i}]: a content part of type '{t}' is not allowed in this message \
                     (text only)."
                )))
            }
            None => return Err(bad(format!("input[{i}]: every content part needs a type."))),
        };
        let text = text
            .and_then(inner)
            .ok_or_else(|| bad(format!("input[{i}]: a text part needs a string 'text'.")))?;
        join(out, text, "\\n");
    }
    Ok(())
}

/// A user message's content: a string for one text part, otherwise chat content parts.
pub(crate) fn user_content(raw: &RawValue, out: &mut String, i: usize) -> Result<(), GatewayError> {
    if inner(raw).is_some() {
        out.push_str(raw.get());
        return Ok(());
    }
    let list = parts(raw, i)?;
    if let [only] = list.as_slice() {
        if let (Some("input_text" | "text" | "output_text"), Some(t)) = (
            only.kind.as_deref(),
            only.text.filter(|t| inner(t).is_some()),
        ) {
            out.push_str(t.get());
            return Ok(());
        }
    }
    out.push('[');
    for (n, p) in list.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        content_part(p, out, i)?;
    }
    out.push(']');
    Ok(())
}

/// One chat content part (text or image) from a Responses part.
fn content_part(p: &PartIn, out: &mut String, i: usize) -> Result<(), GatewayError> {
    match p.kind.as_deref() {
        Some("input_text" | "text" | "output_text") => {
            let t = p
                .text
                .filter(|t| inner(t).is_some())
                .ok_or_else(|| bad(format!("input[{i}]: a text part needs a string 'text'.")))?;
            out.push_str(r#"{"type":"text","text":"#);
            out.push_str(t.get());
            out.push('}');
            Ok(())
        }
        Some("input_image") => image_part(p, out, i),
        Some(t @ ("input_file" | "input_audio")) => Err(bad(format!(
            "input[{i}]: '{t}' parts are not supported by this gateway; send text or images."
        ))),
        Some(t) => Err(bad(format!(
            "input[{i}]: content part type '{t}' is not supported."
        ))),
        None => Err(bad(format!("input[{i}]: every content part needs a type."))),
    }
}

fn image_part(p: &PartIn, out: &mut String, i: usize) -> Result<(), GatewayError> {
    let url = match p.image_url.filter(|u| !is_null(u)) {
        Some(u) if inner(u).is_some() => u,
        _ if p.file_id.is_some_and(|f| !is_null(f)) => {
            return Err(bad(format!(
                "input[{i}]: images by file_id are not supported (this gateway stores no \
                 files); send image_url with a URL or a data: URL."
            )))
        }
        _ => return Err(bad(format!("input[{i}]: an input_image needs image_url."))),
    };
    out.push_str(r#"{"type":"image_url","image_url":{"url":"#);
    out.push_str(url.get());
    if let Some(d @ ("low" | "high")) = p.detail.as_deref() {
        out.push_str(r#","detail":""#);
        out.push_str(d);
        out.push('"');
    }
    out.push_str("}}");
    Ok(())
}

/// A tool output given as parts: its text joined by newlines into `text`, its images into
/// `images` (sent as a user message after the tool messages).
pub(crate) fn tool_output_parts(
    raw: &RawValue,
    text: &mut String,
    images: &mut String,
    call_id: &RawValue,
    i: usize,
) -> Result<(), GatewayError> {
    let list = parts(raw, i)?;
    let mut first_image = true;
    for p in &list {
        match p.kind.as_deref() {
            Some("input_image") => {
                if first_image {
                    if !images.is_empty() {
                        images.push(',');
                    }
                    images.push_str(r#"{"type":"text","text":"Image output of the tool call "#);
                    put_escaped(images, &inner(call_id).map(unescaped).unwrap_or_default());
                    images.push_str(":\"},");
                    first_image = false;
                } else {
                    images.push(',');
                }
                image_part(p, images, i)?;
            }
            Some("input_text" | "text" | "output_text") => {
                let t = p.text.and_then(inner).ok_or_else(|| {
                    bad(format!("input[{i}]: a text part needs a string 'text'."))
                })?;
                join(text, t, "\\n");
            }
            Some(t) => {
                return Err(bad(format!(
                    "input[{i}]: a tool output part of type '{t}' is not supported; send text \
                     or images."
                )))
            }
            None => return Err(bad(format!("input[{i}]: every content part needs a type."))),
        }
    }
    Ok(())
}

fn unescaped(inner_text: &str) -> String {
    super::json::decode_inner(inner_text).unwrap_or_default()
}
