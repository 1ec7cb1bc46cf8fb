use super::*;
use crate::api::anthropic::fixtures::read;
use base64::Engine;
use serde_json::{json, Value};

fn n(body: &Value) -> u64 {
    count(body.to_string().as_bytes()).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn claude_codes_count_requests_are_answered_and_a_tool_costs_what_it_adds() {
    let baseline = count(&read("cc_count_baseline.request.json")).unwrap();
    let with_tool = count(&read("cc_count_tool.request.json")).unwrap();
    assert_eq!(baseline, 5, "4 for the message, 1 for \"foo\"");
    assert!(
        with_tool > baseline + 300 && with_tool < baseline + 700,
        "{with_tool}"
    );
    let full = count(&read("cc_tool_search.request.json")).unwrap();
    assert!(
        (10_000..15_000).contains(&full),
        "a whole Claude Code turn: {full}"
    );
}

#[test]
fn the_estimate_adds_up_text_blocks_and_tools() {
    let msg =
        |content: Value| json!({"model": "m", "messages": [{"role": "user", "content": content}]});
    assert_eq!(n(&msg(json!("abcd"))), 4 + 1);
    assert_eq!(n(&msg(json!("abcde"))), 4 + 2);
    assert_eq!(
        n(&msg(json!([{"type": "text", "text": "abcd"}]))),
        4 + 2 + 1
    );
    let mut body = msg(json!("abcd"));
    body["system"] = json!([{"type": "text", "text": "x-anthropic-billing-header: cc_version=1;"}, {"type": "text", "text": "12345678"}]);
    assert_eq!(n(&body), 5 + 4 + 2, "the billing marker is not counted");
    body["tools"] = json!([{"name": "abcd", "description": "efgh", "input_schema": {}}]);
    assert_eq!(n(&body), 11 + 8 + 3);
    let history = json!({"model": "m", "messages": [
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "abcd", "signature": "s"}, {"type": "tool_use", "id": "t", "name": "ab", "input": {"k": 1}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "abcdefgh"}]}]});
    assert_eq!(n(&history), (4 + 2 + 1 + 2 + 3) + (4 + 2 + 2));
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0, 0]);
    b
}

#[test]
fn images_cost_by_their_size_when_it_can_be_read() {
    let image = |data: String| {
        json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}]}]})
    };
    assert_eq!(n(&image(b64(&png(200, 150)))) - 6, 40, "200 × 150 / 750");
    assert_eq!(
        n(&image(b64(&png(4000, 3000)))) - 6,
        1_600,
        "scaled down, then capped"
    );
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&[
        0x20, 0x03, 0x58, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0,
    ]);
    assert_eq!(n(&image(b64(&gif))) - 6, 640, "800 × 600 / 750");
    assert_eq!(
        n(&image(b64(
            b"\xff\xd8\xff\xe0 a jpeg header of no use here"
        ))) - 6,
        1_600
    );
    assert_eq!(n(&image("!!not base64!!".into())) - 6, 1_600);
    let url = json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "https://x/a.png"}}]}]});
    assert_eq!(n(&url) - 6, 1_600);
}

#[test]
fn webp_sizes_are_read_from_each_header_kind() {
    let riff = |kind: &[u8], rest: &[u8]| {
        let mut b = b"RIFF\0\0\0\0WEBP".to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(rest);
        b.resize(32, 0);
        b64(&b)
    };
    // VP8X: canvas size minus one, 24 bits each, after 4 size bytes and 4 flag bytes.
    assert_eq!(
        dimensions(&riff(
            b"VP8X",
            &[0, 0, 0, 0, 0, 0, 0, 0, 0x1f, 0x03, 0, 0x57, 0x02, 0]
        )),
        Some((800, 600))
    );
    // VP8: 14-bit sizes after the frame tag and start code.
    assert_eq!(
        dimensions(&riff(
            b"VP8 ",
            &[0, 0, 0, 0, 0, 0, 0, 0x9d, 0x01, 0x2a, 0x20, 0x03, 0x58, 0x02]
        )),
        Some((800, 600))
    );
    // VP8L: signature, then width-1 and height-1 in 14 bits each.
    let bits: u32 = 799 | (599 << 14);
    let mut rest = vec![0, 0, 0, 0, 0x2f];
    rest.extend_from_slice(&bits.to_le_bytes());
    assert_eq!(dimensions(&riff(b"VP8L", &rest)), Some((800, 600)));
}

#[test]
fn count_validates_like_messages_but_without_max_tokens() {
    assert!(count(br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#).is_ok());
    let e = count(br#"{"messages":[{"role":"user","content":"hi"}]}"#).unwrap_err();
    assert_eq!((e.status(), e.param()), (400, Some("model")));
    let e = count(br#"{"model":"m","messages":[{"role":"user","content":[{"type":"nope"}]}]}"#)
        .unwrap_err();
    assert_eq!(e.status(), 400);
    let e = count(br#"{"model":"m","max_tokens":-1,"messages":[{"role":"user","content":"hi"}]}"#)
        .unwrap_err();
    assert_eq!(
        e.param(),
        Some("max_tokens"),
        "given, it must still be valid"
    );
}
