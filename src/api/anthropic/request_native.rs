//! A Messages request written back for an Anthropic-compatible upstream: the client's body one
//! level deep, verbatim, except
//! - `model`, which names the upstream model;
//! - `system`, without the billing marker and with the mid-conversation `system` entries
//!   appended as text blocks (as they came: their blocks verbatim, a string as one text block);
//! - `messages`, without those entries.
//!
//! Nothing else is rebuilt: tools, thinking, cache_control and unknown fields go as they are.

use super::request::{is_volatile_marker, MessagesRequest};
use super::wire::{into_string, push_str};
use serde::Deserialize;
use serde_json::value::RawValue;

pub(super) fn write(req: &MessagesRequest, upstream_model: &str) -> String {
    let mut out = Vec::with_capacity(req.top.len_hint() + 64);
    let hoist = !req.system_entry_at.is_empty();
    let system = (hoist || req.marker).then(|| system_json(req));
    let mut wrote_system = false;
    let mut any = false;
    out.push(b'{');
    for (key, value) in &req.top.0 {
        let replaced: Option<&[u8]> = match key.as_str() {
            "model" => {
                field(&mut out, &mut any, key);
                push_str(&mut out, upstream_model);
                continue;
            }
            "system" if system.is_some() => {
                wrote_system = true;
                match &system {
                    Some(Some(s)) => Some(s.as_bytes()),
                    // Nothing left: the key goes.
                    _ => continue,
                }
            }
            "messages" if hoist => {
                field(&mut out, &mut any, key);
                messages_without_system(req, value, &mut out);
                continue;
            }
            _ => None,
        };
        field(&mut out, &mut any, key);
        out.extend_from_slice(replaced.unwrap_or(value.get().as_bytes()));
    }
    if let (false, Some(Some(s))) = (wrote_system, &system) {
        field(&mut out, &mut any, "system");
        out.extend_from_slice(s.as_bytes());
    }
    out.push(b'}');
    into_string(out)
}

fn field(out: &mut Vec<u8>, any: &mut bool, key: &str) {
    if *any {
        out.push(b',');
    }
    *any = true;
    push_str(out, key);
    out.push(b':');
}

/// The new `system` array; `None` when nothing is left in it.
fn system_json(req: &MessagesRequest) -> Option<String> {
    let mut blocks: Vec<String> = Vec::new();
    if let Some(raw) = req.raw("system") {
        push_blocks(raw, &mut blocks, req.marker);
    }
    if !req.system_entry_at.is_empty() {
        if let Some(list) = req
            .raw("messages")
            .and_then(|r| serde_json::from_str::<Vec<&RawValue>>(r.get()).ok())
        {
            for &i in &req.system_entry_at {
                if let Some(content) = list.get(i).and_then(|m| entry_content(m)) {
                    push_blocks(content, &mut blocks, false);
                }
            }
        }
    }
    (!blocks.is_empty()).then(|| format!("[{}]", blocks.join(",")))
}

/// The blocks of a system value: a string as one text block, an array's blocks verbatim (the
/// first left out when it is the billing marker).
fn push_blocks(raw: &RawValue, blocks: &mut Vec<String>, drop_marker: bool) {
    if raw.get().starts_with('"') {
        let mut b = b"{\"type\":\"text\",\"text\":".to_vec();
        b.extend_from_slice(raw.get().as_bytes());
        b.push(b'}');
        blocks.push(into_string(b));
        return;
    }
    let Ok(list) = serde_json::from_str::<Vec<&RawValue>>(raw.get()) else {
        return;
    };
    for (i, b) in list.into_iter().enumerate() {
        if i == 0 && drop_marker && is_marker_block(b) {
            continue;
        }
        blocks.push(b.get().to_owned());
    }
}

fn is_marker_block(raw: &RawValue) -> bool {
    #[derive(Deserialize)]
    struct Text {
        text: Option<String>,
    }
    serde_json::from_str::<Text>(raw.get())
        .ok()
        .and_then(|t| t.text)
        .is_some_and(|t| is_volatile_marker(&t))
}

fn entry_content(message: &RawValue) -> Option<&RawValue> {
    #[derive(Deserialize)]
    struct Entry<'a> {
        #[serde(borrow)]
        content: Option<&'a RawValue>,
    }
    serde_json::from_str::<Entry>(message.get()).ok()?.content
}

fn messages_without_system(req: &MessagesRequest, raw: &RawValue, out: &mut Vec<u8>) {
    let Ok(list) = serde_json::from_str::<Vec<&RawValue>>(raw.get()) else {
        out.extend_from_slice(raw.get().as_bytes());
        return;
    };
    out.push(b'[');
    let mut first = true;
    for (i, m) in list.into_iter().enumerate() {
        if req.system_entry_at.contains(&i) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(m.get().as_bytes());
    }
    out.push(b']');
}
