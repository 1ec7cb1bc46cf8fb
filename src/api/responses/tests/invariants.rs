//! What every translated stream must hold, whatever upstream sent: the rules clients rely on.
//!
//! - every event's `type` is its `event:` name, and `sequence_number` counts from 0 by one;
//! - `response.created` then `response.in_progress` come first, with the same response id;
//! - items are added with output indexes 0, 1, 2, … and unique ids;
//! - every delta or done event names an item that was added and is not done yet, by its id
//!   and output index, and of the right type;
//! - items are done in the order they were added, each once;
//! - the deltas of an item add up to its done text / arguments / input, and to the item in
//!   `output_item.done`;
//! - exactly one terminal event (`response.completed`, `.incomplete` or `.failed`) ends the
//!   stream; a completed or incomplete response lists every item as it was done and carries
//!   usage; a failed one carries an error;
//! - no `[DONE]`.

use super::fixtures::{events, Event};
use serde_json::Value;

/// What a valid stream said, for the tests to look at.
#[derive(Debug)]
pub struct Checked {
    pub events: Vec<Event>,
    /// The response of the terminal event.
    pub response: Value,
    pub terminal: String,
}

struct Item {
    id: String,
    kind: String,
    /// Deltas so far, per kind of delta.
    text: String,
    done: bool,
}

const TERMINALS: &[&str] = &[
    "response.completed",
    "response.incomplete",
    "response.failed",
];

pub fn check(bytes: &[u8]) -> Result<Checked, String> {
    if bytes.windows(6).any(|w| w == b"[DONE]") {
        return Err("the stream carries [DONE]".into());
    }
    let events = events(bytes);
    let mut items: Vec<Item> = Vec::new();
    let mut next_done = 0usize;
    let mut terminal = None;
    let mut id = None;
    for (n, e) in events.iter().enumerate() {
        let d = &e.data;
        let at = |msg: String| format!("event {n} ({}): {msg}", e.name);
        if d["type"] != e.name.as_str() {
            return Err(at(format!("type {} is not the event name", d["type"])));
        }
        if d["sequence_number"] != n {
            return Err(at(format!(
                "sequence_number {} where {n} was due",
                d["sequence_number"]
            )));
        }
        if terminal.is_some() {
            return Err(at("an event after the terminal event".into()));
        }
        match (n, e.name.as_str()) {
            (0, "response.created") | (1, "response.in_progress") => {}
            (0 | 1, _) => return Err(at("the stream must open with created, in_progress".into())),
            _ => {}
        }
        if let Some(r) = d.get("response") {
            let rid = r["id"]
                .as_str()
                .ok_or_else(|| at("response without id".into()))?;
            if *id.get_or_insert_with(|| rid.to_owned()) != rid {
                return Err(at("the response id changed".into()));
            }
        }
        match e.name.as_str() {
            "response.created" | "response.in_progress" => {
                if n > 1 {
                    return Err(at("lifecycle event in the middle".into()));
                }
            }
            "response.output_item.added" => {
                let item = &d["item"];
                if d["output_index"] != items.len() {
                    return Err(at(format!(
                        "added at {} instead of {}",
                        d["output_index"],
                        items.len()
                    )));
                }
                let iid = item["id"]
                    .as_str()
                    .ok_or_else(|| at("item without id".into()))?;
                if items.iter().any(|i| i.id == iid) {
                    return Err(at(format!("item id {iid} used twice")));
                }
                items.push(Item {
                    id: iid.to_owned(),
                    kind: item["type"].as_str().unwrap_or("").to_owned(),
                    text: String::new(),
                    done: false,
                });
            }
            "response.output_item.done" => {
                let i = index_of(d, &items).map_err(at)?;
                if i != next_done {
                    return Err(at(format!("item {i} done before item {next_done}")));
                }
                next_done += 1;
                let item = &d["item"];
                let it = &mut items[i];
                if item["id"] != it.id.as_str() || item["type"] != it.kind.as_str() {
                    return Err(at("the done item is not the added one".into()));
                }
                let full = match it.kind.as_str() {
                    "message" => item["content"][0]["text"].as_str(),
                    "reasoning" => item["summary"][0]["text"].as_str().or(Some("")),
                    "function_call" => item["arguments"].as_str(),
                    "custom_tool_call" => item["input"].as_str(),
                    k => return Err(at(format!("unexpected item type {k}"))),
                };
                if full != Some(it.text.as_str()) {
                    return Err(at(format!(
                        "deltas {:?} do not add up to the item {item}",
                        it.text
                    )));
                }
                it.done = true;
            }
            name if TERMINALS.contains(&name) => terminal = Some(name.to_owned()),
            name => {
                let (kind, field, is_done) = match name {
                    "response.output_text.delta" => ("message", "delta", false),
                    "response.output_text.done" => ("message", "text", true),
                    "response.content_part.added" | "response.content_part.done" => {
                        ("message", "", true)
                    }
                    "response.reasoning_summary_text.delta" => ("reasoning", "delta", false),
                    "response.reasoning_summary_text.done" => ("reasoning", "text", true),
                    "response.reasoning_summary_part.added"
                    | "response.reasoning_summary_part.done" => ("reasoning", "", true),
                    "response.function_call_arguments.delta" => ("function_call", "delta", false),
                    "response.function_call_arguments.done" => ("function_call", "arguments", true),
                    "response.custom_tool_call_input.delta" => ("custom_tool_call", "delta", false),
                    "response.custom_tool_call_input.done" => ("custom_tool_call", "input", true),
                    other => return Err(at(format!("unknown event {other}"))),
                };
                let i = index_of(d, &items).map_err(at)?;
                let it = &mut items[i];
                if it.kind != kind {
                    return Err(at(format!("{name} for a {} item", it.kind)));
                }
                if d["item_id"] != it.id.as_str() {
                    return Err(at("item_id does not match the output index".into()));
                }
                let value = if field.is_empty() {
                    None
                } else {
                    d[field].as_str()
                };
                match (is_done, value) {
                    (false, Some(delta)) => it.text.push_str(delta),
                    (true, Some(full)) if full != it.text => {
                        return Err(at(format!(
                            "done text {full:?} is not the deltas {:?}",
                            it.text
                        )))
                    }
                    (false, None) => return Err(at("delta without text".into())),
                    _ => {}
                }
            }
        }
    }
    let terminal = terminal.ok_or("the stream has no terminal event")?;
    let response = events
        .last()
        .map(|e| e.data["response"].clone())
        .unwrap_or_default();
    if terminal == "response.failed" {
        if !response["error"]["message"].is_string() {
            return Err("a failed response carries no error message".into());
        }
    } else {
        if items.iter().any(|i| !i.done) {
            return Err("the response ended with items not done".into());
        }
        let output = response["output"].as_array().ok_or("no output")?;
        let done: Vec<&Value> = events
            .iter()
            .filter(|e| e.name == "response.output_item.done")
            .map(|e| &e.data["item"])
            .collect();
        if output.iter().collect::<Vec<_>>() != done {
            return Err("the final output is not the items as they were done".into());
        }
        let u = &response["usage"];
        for f in ["input_tokens", "output_tokens", "total_tokens"] {
            if !u[f].is_u64() {
                return Err(format!("usage.{f} missing"));
            }
        }
        if !u["input_tokens_details"]["cached_tokens"].is_u64()
            || !u["output_tokens_details"]["reasoning_tokens"].is_u64()
        {
            return Err("usage details missing".into());
        }
        if u["total_tokens"].as_u64()
            != Some(
                u["input_tokens"].as_u64().unwrap_or(0) + u["output_tokens"].as_u64().unwrap_or(0),
            )
        {
            return Err("usage.total_tokens is not input + output".into());
        }
        let want = if terminal == "response.completed" {
            "completed"
        } else {
            "incomplete"
        };
        if response["status"] != want {
            return Err(format!("{terminal} with status {}", response["status"]));
        }
    }
    Ok(Checked {
        events,
        response,
        terminal,
    })
}

fn index_of(d: &Value, items: &[Item]) -> Result<usize, String> {
    let i = d["output_index"]
        .as_u64()
        .ok_or("event without output_index")? as usize;
    match items.get(i) {
        None => Err(format!("output_index {i} names no added item")),
        Some(it) if it.done => Err(format!("output_index {i} names an item already done")),
        Some(_) => Ok(i),
    }
}
