//! `POST /v1/messages/count_tokens`, answered here and never sent upstream: an estimate, cheap
//! to make, that adds up the same way the real count does (Claude Code subtracts the count of
//! a bare message from the count with one tool to price that tool).
//!
//! The estimator:
//! - text (system, messages, thinking, tool results, documents given as text): 1 token per 4
//!   bytes of UTF-8, rounded up;
//! - each message 4 tokens, the system prompt 4, each content block 2;
//! - a tool_use: its name and its input's JSON, as text;
//! - each tool definition 8 tokens plus its name, description and schema JSON as text;
//! - an image: `width × height / 750` tokens after scaling it to at most 1568 pixels on its long
//!   side, when its size can be read from the first bytes (PNG, GIF, WebP); otherwise 1,600
//!   (the most an image costs);
//! - a PDF given as bytes: 1 token per 16 bytes, at least 1,600.
//!
//! Claude Code's billing marker is not counted: it is not sent upstream.

use super::request::{parse_for_count, MessagesRequest};
use super::request_blocks::{Block, Content, DocSource, Document, ImageSource, ResultPart};
use crate::error::GatewayError;
use base64::Engine;

const PER_MESSAGE: u64 = 4;
const PER_BLOCK: u64 = 2;
const PER_TOOL: u64 = 8;
const MAX_IMAGE: u64 = 1_600;

/// The estimated input tokens of a `count_tokens` body.
pub fn count(body: &[u8]) -> Result<u64, GatewayError> {
    Ok(estimate(&parse_for_count(body)?))
}

fn text(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(4)
}

fn estimate(req: &MessagesRequest) -> u64 {
    let mut n = 0;
    let system: usize = req
        .system
        .iter()
        .chain(&req.system_entries)
        .map(String::len)
        .sum();
    if system > 0 {
        n += PER_MESSAGE + text(system);
    }
    for m in &req.messages {
        n += PER_MESSAGE;
        match &m.content {
            Content::Text(s) => n += text(s.len()),
            Content::Blocks(blocks) => n += blocks.iter().map(block).sum::<u64>(),
        }
    }
    for t in &req.tools {
        let schema = t.schema.as_ref().map_or(0, |s| s.get().len());
        n += PER_TOOL + text(t.name.len() + t.description.as_ref().map_or(0, String::len) + schema);
    }
    n.max(1)
}

fn block(b: &Block) -> u64 {
    PER_BLOCK
        + match b {
            Block::Text(s) | Block::Thinking(s) => text(s.len()),
            Block::Image(img) => image(img),
            Block::Document(d) => document(d),
            Block::ToolUse { name, input, .. } => text(name.len() + input.get().len()),
            Block::ToolResult { content, .. } => content
                .iter()
                .map(|p| match p {
                    ResultPart::Text(s) | ResultPart::ToolReference(s) => text(s.len()),
                    ResultPart::Image(img) => image(img),
                    ResultPart::Document(d) => document(d),
                })
                .sum(),
            Block::RedactedThinking => 0,
        }
}

fn document(d: &Document) -> u64 {
    let title = d.title.as_ref().map_or(0, |t| text(t.len()));
    title
        + match &d.source {
            DocSource::Text(s) => text(s.len()),
            DocSource::Base64 { bytes, .. } => (*bytes as u64 / 16).max(MAX_IMAGE),
            DocSource::Url(_) => MAX_IMAGE,
        }
}

fn image(img: &ImageSource) -> u64 {
    let ImageSource::Base64 { data, .. } = img else {
        return MAX_IMAGE;
    };
    match dimensions(data) {
        Some((w, h)) => image_tokens(w, h),
        None => MAX_IMAGE,
    }
}

/// Tokens of a `w × h` image once scaled to at most 1568 pixels on its long side.
fn image_tokens(w: u32, h: u32) -> u64 {
    let (w, h) = (u64::from(w.max(1)), u64::from(h.max(1)));
    let long = w.max(h);
    let (w, h) = if long > 1568 {
        (w * 1568 / long, h * 1568 / long)
    } else {
        (w, h)
    };
    ((w * h).div_ceil(750)).clamp(1, MAX_IMAGE)
}

/// Width and height from the first bytes of a PNG, GIF or WebP (VP8X, VP8, VP8L) in base64.
fn dimensions(data: &str) -> Option<(u32, u32)> {
    // 40 base64 characters are 30 bytes: enough for every header read here.
    let head = data.get(..40.min(data.len() / 4 * 4))?;
    let b = base64::engine::general_purpose::STANDARD
        .decode(head)
        .ok()?;
    let be32 = |i: usize| Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?));
    let le16 = |i: usize| {
        Some(u32::from(u16::from_le_bytes(
            b.get(i..i + 2)?.try_into().ok()?,
        )))
    };
    let le24 = |i: usize| {
        let s = b.get(i..i + 3)?;
        Some(u32::from(s[0]) | u32::from(s[1]) << 8 | u32::from(s[2]) << 16)
    };
    if b.starts_with(b"\x89PNG\r\n\x1a\n") && b.get(12..16) == Some(b"IHDR") {
        return Some((be32(16)?, be32(20)?));
    }
    if b.starts_with(b"GIF8") {
        return Some((le16(6)?, le16(8)?));
    }
    if b.starts_with(b"RIFF") && b.get(8..12) == Some(b"WEBP") {
        return match b.get(12..16)? {
            b"VP8X" => Some((le24(24)? + 1, le24(27)? + 1)),
            b"VP8 " => Some((le16(26)? & 0x3fff, le16(28)? & 0x3fff)),
            b"VP8L" => {
                let bits = u32::from_le_bytes(b.get(21..25)?.try_into().ok()?);
                Some(((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1))
            }
            _ => None,
        };
    }
    None
}

#[cfg(test)]
#[path = "tests/count_tokens.rs"]
mod tests;
