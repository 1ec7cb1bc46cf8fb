//! Golden files under tests/fixtures/responses/: reading them, comparing with them, and
//! writing them anew on request (`RESPONSES_BLESS=1 cargo test --lib api::responses`; review the
//! diff before committing it).

use crate::api::responses::{parse, ResponseContext};
use serde_json::Value;
use std::path::PathBuf;

/// The response id and time every golden answer is written with.
pub const ID: &str = "resp_test";
pub const CREATED_AT: u64 = 1_764_000_000;

pub fn path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/responses")
        .join(rel)
}

pub fn read(rel: &str) -> Vec<u8> {
    std::fs::read(path(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

fn bless() -> bool {
    std::env::var_os("RESPONSES_BLESS").is_some_and(|v| v == "1")
}

/// `actual` must equal the file byte for byte.
pub fn golden_text(rel: &str, actual: &str) {
    if bless() {
        std::fs::write(path(rel), actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(path(rel)).unwrap_or_else(|e| {
        panic!("golden {rel}: {e} (RESPONSES_BLESS=1 writes it; review it before committing)")
    });
    if want != actual {
        let at = want
            .bytes()
            .zip(actual.bytes())
            .position(|(a, b)| a != b)
            .unwrap_or(want.len().min(actual.len()));
        let from = at.saturating_sub(120);
        panic!(
            "golden {rel} differs at byte {at}:\n  want …{}\n  got  …{}",
            &want[from..(at + 200).min(want.len())],
            &actual[from..(at + 200).min(actual.len())]
        );
    }
}

/// `actual` (JSON text) must be the same JSON value as the file (stored pretty-printed).
pub fn golden_json(rel: &str, actual: &str) {
    let got: Value = serde_json::from_str(actual)
        .unwrap_or_else(|e| panic!("{rel}: output is not JSON ({e}): {actual}"));
    if bless() {
        let mut pretty = serde_json::to_string_pretty(&got).unwrap();
        pretty.push('\n');
        std::fs::write(path(rel), pretty).unwrap();
        return;
    }
    let want: Value = serde_json::from_slice(&read(rel)).unwrap();
    if want != got {
        panic!(
            "golden {rel} differs:\n want {}\n got  {}",
            serde_json::to_string(&want).unwrap(),
            serde_json::to_string(&got).unwrap()
        );
    }
}

/// The context of a request fixture, with the golden id and time.
pub fn context(request_rel: &str) -> ResponseContext {
    parse(&read(request_rel))
        .unwrap_or_else(|e| panic!("{request_rel}: {e}"))
        .context(ID, CREATED_AT)
}

/// One event of a Responses stream: its `event:` name and its data.
#[derive(Debug, Clone)]
pub struct Event {
    pub name: String,
    pub data: Value,
}

/// The events of a Responses stream. Panics unless every event is exactly
/// `event: <name>\ndata: <one line of JSON>\n\n`.
pub fn events(bytes: &[u8]) -> Vec<Event> {
    let text = std::str::from_utf8(bytes).expect("stream is UTF-8");
    assert!(
        text.is_empty() || text.ends_with("\n\n"),
        "stream ends mid-event"
    );
    let mut out = Vec::new();
    for block in text.split_terminator("\n\n") {
        let mut lines = block.split('\n');
        let name = lines
            .next()
            .and_then(|l| l.strip_prefix("event: "))
            .unwrap_or_else(|| panic!("event without its name line: {block}"));
        let data = lines
            .next()
            .and_then(|l| l.strip_prefix("data: "))
            .unwrap_or_else(|| panic!("event without its data line: {block}"));
        assert!(lines.next().is_none(), "event with extra lines: {block}");
        let data: Value = serde_json::from_str(data)
            .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {data}"));
        out.push(Event {
            name: name.to_owned(),
            data,
        });
    }
    out
}
