//! The conversation of a Messages request, validated block by block into owned types the
//! writers walk. Each error names the place (`messages[2].content[1]`) and what is expected.

use crate::error::GatewayError;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    User,
    Assistant,
}

/// One user or assistant turn. `system` entries are not turns: their text is kept apart.
#[derive(Debug)]
pub(crate) struct Message {
    pub role: Role,
    pub content: Content,
}

#[derive(Debug)]
pub(crate) enum Content {
    Text(String),
    Blocks(Vec<Block>),
}

#[derive(Debug)]
pub(crate) enum Block {
    Text(String),
    Image(ImageSource),
    Document(Document),
    ToolUse {
        id: String,
        name: String,
        /// The input object as the client wrote it.
        input: Box<RawValue>,
    },
    ToolResult {
        tool_use_id: String,
        content: Vec<ResultPart>,
        is_error: bool,
    },
    Thinking(String),
    RedactedThinking,
}

/// What a tool result holds.
#[derive(Debug)]
pub(crate) enum ResultPart {
    Text(String),
    Image(ImageSource),
    Document(Document),
    /// A tool whose definition the client's tool search loaded.
    ToolReference(String),
}

#[derive(Debug)]
pub(crate) enum ImageSource {
    Base64 { media_type: String, data: String },
    Url(String),
}

#[derive(Debug)]
pub(crate) struct Document {
    pub title: Option<String>,
    pub source: DocSource,
}

#[derive(Debug)]
pub(crate) enum DocSource {
    /// Plain text, or the text blocks of a `content` source.
    Text(String),
    /// Bytes (a PDF) given inline: only their size is kept.
    Base64 {
        media_type: String,
        bytes: usize,
    },
    Url(String),
}

/// Where a block sits, for error messages.
#[derive(Clone, Copy)]
pub(crate) enum Place<'a> {
    Block(usize, usize),
    ResultPart(usize, usize, usize),
    System(&'a str, usize),
}

impl std::fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Block(m, b) => write!(f, "messages[{m}].content[{b}]"),
            Place::ResultPart(m, b, p) => write!(f, "messages[{m}].content[{b}].content[{p}]"),
            Place::System(at, b) => write!(f, "{at}[{b}]"),
        }
    }
}

pub(crate) fn invalid(message: String, param: &str) -> GatewayError {
    GatewayError::invalid(message, Some(param))
}

/// serde's description of a type error, without its line and column (the client's JSON is
/// not what it wrote by hand).
pub(crate) fn serde_msg(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.find(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// Every field any block type has, read in one pass; which ones are required depends on the
/// type and is checked after.
#[derive(Deserialize)]
struct WireBlock<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    text: Option<String>,
    #[serde(borrow)]
    source: Option<&'a RawValue>,
    title: Option<String>,
    id: Option<String>,
    name: Option<String>,
    input: Option<Box<RawValue>>,
    tool_use_id: Option<String>,
    #[serde(borrow)]
    content: Option<&'a RawValue>,
    is_error: Option<bool>,
    thinking: Option<String>,
    data: Option<String>,
    tool_name: Option<String>,
}

#[derive(Deserialize)]
struct WireSource<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    media_type: Option<String>,
    data: Option<String>,
    url: Option<String>,
    #[serde(borrow)]
    content: Option<&'a RawValue>,
}

fn wire_block<'a>(raw: &'a RawValue, at: Place) -> Result<(WireBlock<'a>, String), GatewayError> {
    if !raw.get().starts_with('{') {
        return Err(invalid(
            format!("{at} must be a content block object."),
            "messages",
        ));
    }
    let b: WireBlock = serde_json::from_str(raw.get())
        .map_err(|e| invalid(format!("{at}: {}.", serde_msg(&e)), "messages"))?;
    let kind = match &b.kind {
        Some(k) => k.clone().into_owned(),
        None => return Err(invalid(format!("{at} needs a string 'type'."), "messages")),
    };
    Ok((b, kind))
}

fn required<T>(
    v: Option<T>,
    at: Place,
    kind: &str,
    field: &str,
    what: &str,
) -> Result<T, GatewayError> {
    v.ok_or_else(|| {
        invalid(
            format!("{at}: a '{kind}' block needs '{field}' ({what})."),
            "messages",
        )
    })
}

/// The text of a `system` entry or of the top-level `system`: a string or text blocks.
pub(crate) fn system_texts(raw: &RawValue, at: &str) -> Result<Vec<String>, GatewayError> {
    let param = if at == "system" { "system" } else { "messages" };
    if raw.get().starts_with('"') {
        let s: String = serde_json::from_str(raw.get())
            .map_err(|e| invalid(format!("{at}: {}.", serde_msg(&e)), param))?;
        return Ok(vec![s]);
    }
    let list: Vec<&RawValue> = serde_json::from_str(raw.get()).map_err(|_| {
        invalid(
            format!("{at} must be a string or an array of text blocks."),
            param,
        )
    })?;
    let mut texts = Vec::with_capacity(list.len());
    for (i, raw) in list.into_iter().enumerate() {
        let place = Place::System(at, i);
        let (b, kind) = wire_block(raw, place).map_err(|e| reparam(e, param))?;
        if kind != "text" {
            return Err(invalid(
                format!("{place}: only 'text' blocks are allowed here, not '{kind}'."),
                param,
            ));
        }
        texts.push(
            required(b.text, place, "text", "text", "a string").map_err(|e| reparam(e, param))?,
        );
    }
    Ok(texts)
}

fn reparam(e: GatewayError, param: &str) -> GatewayError {
    match e {
        GatewayError::InvalidRequest { message, .. } => invalid(message, param),
        other => other,
    }
}

/// One user or assistant block.
pub(crate) fn block(raw: &RawValue, role: Role, at: Place) -> Result<Block, GatewayError> {
    let (b, kind) = wire_block(raw, at)?;
    let for_role = |ok: bool| -> Result<(), GatewayError> {
        if ok {
            return Ok(());
        }
        let owner = if role == Role::User {
            "an assistant"
        } else {
            "a user"
        };
        Err(invalid(
            format!("{at}: a '{kind}' block belongs in {owner} message."),
            "messages",
        ))
    };
    Ok(match kind.as_str() {
        "text" => Block::Text(required(b.text, at, "text", "text", "a string")?),
        "image" => {
            for_role(role == Role::User)?;
            Block::Image(image_source(b.source, at)?)
        }
        "document" => {
            for_role(role == Role::User)?;
            Block::Document(document(b.source, b.title, at)?)
        }
        "tool_use" => {
            for_role(role == Role::Assistant)?;
            let input = required(b.input, at, "tool_use", "input", "an object")?;
            if !input.get().starts_with('{') {
                return Err(invalid(format!("{at}: a 'tool_use' block's 'input' must be an object."), "messages"));
            }
            Block::ToolUse {
                id: required(b.id, at, "tool_use", "id", "a string")?,
                name: required(b.name, at, "tool_use", "name", "a string")?,
                input,
            }
        }
        "tool_result" => {
            for_role(role == Role::User)?;
            let Place::Block(m, j) = at else {
                return Err(invalid(format!("{at}: a tool result cannot be nested."), "messages"));
            };
            Block::ToolResult {
                tool_use_id: required(b.tool_use_id, at, "tool_result", "tool_use_id", "a string")?,
                content: result_parts(b.content, m, j)?,
                is_error: b.is_error.unwrap_or(false),
            }
        }
        "thinking" => {
            for_role(role == Role::Assistant)?;
            Block::Thinking(required(b.thinking, at, "thinking", "thinking", "a string")?)
        }
        "redacted_thinking" => {
            for_role(role == Role::Assistant)?;
            required(b.data, at, "redacted_thinking", "data", "a string")?;
            Block::RedactedThinking
        }
        other => {
            return Err(invalid(
                format!("{at}: unsupported content block type '{other}'; this gateway accepts text, image, document, tool_use, tool_result, thinking and redacted_thinking."),
                "messages",
            ))
        }
    })
}

fn result_parts(
    raw: Option<&RawValue>,
    m: usize,
    j: usize,
) -> Result<Vec<ResultPart>, GatewayError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let at = Place::Block(m, j);
    match raw.get().as_bytes().first() {
        Some(b'"') => {
            let s: String = serde_json::from_str(raw.get())
                .map_err(|e| invalid(format!("{at}.content: {}.", serde_msg(&e)), "messages"))?;
            Ok(vec![ResultPart::Text(s)])
        }
        Some(b'n') => Ok(Vec::new()),
        Some(b'[') => {
            let list: Vec<&RawValue> = serde_json::from_str(raw.get())
                .map_err(|e| invalid(format!("{at}.content: {}.", serde_msg(&e)), "messages"))?;
            let mut parts = Vec::with_capacity(list.len());
            for (p, raw) in list.into_iter().enumerate() {
                let at = Place::ResultPart(m, j, p);
                let (b, kind) = wire_block(raw, at)?;
                parts.push(match kind.as_str() {
                    "text" => ResultPart::Text(required(b.text, at, "text", "text", "a string")?),
                    "image" => ResultPart::Image(image_source(b.source, at)?),
                    "document" => ResultPart::Document(document(b.source, b.title, at)?),
                    "tool_reference" => ResultPart::ToolReference(required(
                        b.tool_name, at, "tool_reference", "tool_name", "a string",
                    )?),
                    other => {
                        return Err(invalid(
                            format!("{at}: unsupported tool result block type '{other}'; use text, image, document or tool_reference."),
                            "messages",
                        ))
                    }
                });
            }
            Ok(parts)
        }
        _ => Err(invalid(
            format!("{at}.content must be a string or an array of blocks."),
            "messages",
        )),
    }
}

fn wire_source<'a>(
    raw: Option<&'a RawValue>,
    at: Place,
    kind: &str,
) -> Result<(WireSource<'a>, String), GatewayError> {
    let raw = required(raw, at, kind, "source", "an object")?;
    let s: WireSource = serde_json::from_str(raw.get())
        .map_err(|e| invalid(format!("{at}.source: {}.", serde_msg(&e)), "messages"))?;
    let t = s.kind.clone().map(Cow::into_owned).unwrap_or_default();
    Ok((s, t))
}

fn image_source(raw: Option<&RawValue>, at: Place) -> Result<ImageSource, GatewayError> {
    let (s, t) = wire_source(raw, at, "image")?;
    let missing = |f: &str| {
        invalid(
            format!("{at}.source: a '{t}' image source needs '{f}'."),
            "messages",
        )
    };
    match t.as_str() {
        "base64" => Ok(ImageSource::Base64 {
            media_type: s.media_type.ok_or_else(|| missing("media_type"))?,
            data: s.data.ok_or_else(|| missing("data"))?,
        }),
        "url" => Ok(ImageSource::Url(s.url.ok_or_else(|| missing("url"))?)),
        _ => Err(invalid(
            format!(
                "{at}.source: image source type '{t}' is not supported; send 'base64' or 'url'."
            ),
            "messages",
        )),
    }
}

fn document(
    raw: Option<&RawValue>,
    title: Option<String>,
    at: Place,
) -> Result<Document, GatewayError> {
    let (s, t) = wire_source(raw, at, "document")?;
    let missing = |f: &str| {
        invalid(
            format!("{at}.source: a '{t}' document source needs '{f}'."),
            "messages",
        )
    };
    let source = match t.as_str() {
        "text" => DocSource::Text(s.data.ok_or_else(|| missing("data"))?),
        "base64" => DocSource::Base64 {
            bytes: s.data.as_ref().ok_or_else(|| missing("data"))?.len() / 4 * 3,
            media_type: s.media_type.unwrap_or_else(|| "application/pdf".into()),
        },
        "url" => DocSource::Url(s.url.ok_or_else(|| missing("url"))?),
        "content" => {
            let raw = s.content.ok_or_else(|| missing("content"))?;
            let mut text = Vec::new();
            for t in system_texts(raw, &format!("{at}.source.content"))? {
                text.push(t);
            }
            DocSource::Text(text.join("\n\n"))
        }
        _ => {
            return Err(invalid(
                format!("{at}.source: document source type '{t}' is not supported; send 'text', 'content', 'base64' or 'url'."),
                "messages",
            ))
        }
    };
    Ok(Document { title, source })
}
