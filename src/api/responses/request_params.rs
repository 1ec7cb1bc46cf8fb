//! The request's generation parameters: `reasoning`, `text.format`.

use super::json::inner;
use super::request::{given, invalid};
use crate::error::GatewayError;
use serde::Deserialize;
use serde_json::value::RawValue;

/// Reasoning efforts a client may ask for; each is passed on as `reasoning_effort`.
pub const EFFORTS: &[&str] = &["none", "minimal", "low", "medium", "high", "xhigh"];

#[derive(Deserialize)]
struct ReasoningIn<'a> {
    #[serde(borrow)]
    effort: Option<&'a RawValue>,
    #[serde(borrow)]
    summary: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct TextIn<'a> {
    #[serde(borrow)]
    format: Option<&'a RawValue>,
    #[serde(borrow)]
    verbosity: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct FormatIn<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<&'a str>,
    #[serde(borrow)]
    name: Option<&'a RawValue>,
    #[serde(borrow)]
    schema: Option<&'a RawValue>,
    #[serde(borrow)]
    description: Option<&'a RawValue>,
    #[serde(borrow)]
    strict: Option<&'a RawValue>,
}

pub(crate) fn read_reasoning(
    raw: Option<&RawValue>,
) -> Result<(Option<&RawValue>, Option<&RawValue>), GatewayError> {
    let Some(raw) = given(raw) else {
        return Ok((None, None));
    };
    let r: ReasoningIn = serde_json::from_str(raw.get())
        .map_err(|_| invalid("'reasoning' must be an object.", "reasoning"))?;
    let effort = match given(r.effort) {
        None => None,
        Some(e) if inner(e).is_some_and(|s| EFFORTS.contains(&s)) => Some(e),
        Some(e) => {
            return Err(invalid(
                format!(
                    "reasoning.effort {} is not one of {}.",
                    e.get(),
                    EFFORTS.join(", ")
                ),
                "reasoning.effort",
            ))
        }
    };
    Ok((effort, given(r.summary)))
}

pub(crate) fn read_text(
    raw: Option<&RawValue>,
) -> Result<(Option<&RawValue>, Option<&RawValue>), GatewayError> {
    let Some(raw) = given(raw) else {
        return Ok((None, None));
    };
    let t: TextIn = serde_json::from_str(raw.get())
        .map_err(|_| invalid("'text' must be an object.", "text"))?;
    Ok((given(t.format), given(t.verbosity)))
}

/// `text.format` → `response_format` (nothing for plain text).
pub(crate) fn write_response_format(out: &mut String, raw: &RawValue) -> Result<(), GatewayError> {
    let param = "text.format";
    let f: FormatIn = serde_json::from_str(raw.get())
        .map_err(|_| invalid("text.format must be a format object.", param))?;
    match f.kind {
        Some("text") => Ok(()),
        Some("json_object") => {
            out.push_str(r#","response_format":{"type":"json_object"}"#);
            Ok(())
        }
        Some("json_schema") => {
            let name = given(f.name)
                .filter(|n| inner(n).is_some_and(|s| !s.is_empty()))
                .ok_or_else(|| invalid("text.format.name is required for json_schema.", param))?;
            let schema = given(f.schema)
                .filter(|s| s.get().starts_with('{'))
                .ok_or_else(|| {
                    invalid("text.format.schema must be a JSON schema object.", param)
                })?;
            out.push_str(r#","response_format":{"type":"json_schema","json_schema":{"name":"#);
            out.push_str(name.get());
            if let Some(d) = given(f.description).filter(|d| inner(d).is_some()) {
                out.push_str(r#","description":"#);
                out.push_str(d.get());
            }
            out.push_str(r#","schema":"#);
            out.push_str(schema.get());
            if let Some(s) = given(f.strict) {
                out.push_str(r#","strict":"#);
                out.push_str(if s.get() == "true" { "true" } else { "false" });
            }
            out.push_str("}}");
            Ok(())
        }
        Some(other) => Err(invalid(
            format!("text.format.type '{other}' is not one of text, json_object, json_schema."),
            param,
        )),
        None => Err(invalid("text.format.type is required.", param)),
    }
}
