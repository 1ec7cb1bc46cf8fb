//! Upstream streams on their way to the client: the first-event peek that decides on failover,
//! and the guarded stream the client gets (piped by the runtime when its bytes need no change),
//! through the runtime helpers of `js/streams.js`.

use super::fetch::{js_detail, with_deadline, Exchange};
use crate::qwen::sse::{FirstEvent, StreamStart};
use js_sys::Uint8Array;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, ReadableStream, ReadableStreamDefaultReader};

#[wasm_bindgen(module = "/src/worker/js/streams.js")]
extern "C" {
    #[wasm_bindgen(js_name = guardStream)]
    fn guard_stream_js(
        body: &ReadableStream,
        idle_ms: f64,
        idle_bytes: &Uint8Array,
        fail_bytes: &Uint8Array,
        abort: &AbortController,
        find: Option<Uint8Array>,
        replacement: Option<Uint8Array>,
        drop_usage: bool,
    ) -> Relayed;

    #[wasm_bindgen(js_name = passStream)]
    fn pass_stream_js(
        body: &ReadableStream,
        idle_ms: f64,
        idle_bytes: &Uint8Array,
        fail_bytes: &Uint8Array,
        abort: &AbortController,
    ) -> Relayed;

    #[wasm_bindgen(js_name = usageIn)]
    fn usage_in_js(bytes: &Uint8Array) -> Option<String>;
}

#[wasm_bindgen]
extern "C" {
    /// What the runtime helpers that make a client's stream return: the stream, and a promise
    /// that resolves when it is over (for a passed-through stream, to the text of the last
    /// `usage` object upstream sent, or null); fields read by name, no key crossing.
    pub type Relayed;
    #[wasm_bindgen(method, getter)]
    pub fn stream(this: &Relayed) -> ReadableStream;
    #[wasm_bindgen(method, getter)]
    pub fn ended(this: &Relayed) -> js_sys::Promise;

    /// What a stream reader's `read()` resolves to.
    type ReadResult;
    #[wasm_bindgen(method, getter)]
    fn done(this: &ReadResult) -> bool;
    #[wasm_bindgen(method, getter)]
    fn value(this: &ReadResult) -> JsValue;
}

/// The text of the last `usage` object in a JSON answer or a stream's tail, found in the
/// runtime (only that object enters WebAssembly).
pub fn usage_in(bytes: &Uint8Array) -> Option<String> {
    usage_in_js(bytes)
}

/// The client's side of a committed stream: passed on in the runtime (piped natively when its
/// bytes need no change, chunk by chunk otherwise), ended with `idle` (an error event) after
/// `idle_ms` of upstream silence or with `fail` when upstream breaks, upstream then cancelled.
/// With `swap`, every occurrence of its first text is replaced by its second (still in the
/// runtime); with `drop_usage`, the usage-only chunk the client did not ask for is kept from it.
pub fn guard_stream(
    body: &ReadableStream,
    idle_ms: u64,
    idle: &[u8],
    fail: &[u8],
    abort: &AbortController,
    swap: Option<(&str, &str)>,
    drop_usage: bool,
) -> Relayed {
    let idle = Uint8Array::from(idle);
    let fail = Uint8Array::from(fail);
    if swap.is_none() && !drop_usage {
        // Nothing to change in the bytes: the runtime pipes them, JavaScript only watches.
        return pass_stream_js(body, idle_ms as f64, &idle, &fail, abort);
    }
    let (find, replacement) = match swap {
        Some((f, r)) => (
            Some(Uint8Array::from(f.as_bytes())),
            Some(Uint8Array::from(r.as_bytes())),
        ),
        None => (None, None),
    };
    guard_stream_js(
        body,
        idle_ms as f64,
        &idle,
        &fail,
        abort,
        find,
        replacement,
        drop_usage,
    )
}

/// The start of a streamed answer, read until its first complete SSE event.
pub enum StreamHead {
    /// The first event is normal: the client gets `stream`, the whole answer from its first
    /// byte; the usage the first event reports comes with it.
    Started(ReadableStream, Option<crate::usage::Usage>),
    /// The first event is an error object.
    ErrorEvent(String),
    /// Upstream closed before a complete event.
    Ended,
    /// The first event is longer than any real one (no boundary within the cap).
    TooLong,
}

/// Reads the start of a streamed answer to decide on failover, without holding the rest back:
/// the body is teed; one branch is read here up to the first event and then cancelled, the other
/// goes to the client untouched, piped by the runtime (its bytes never enter WebAssembly).
pub async fn read_stream_head(ex: &Exchange, timeout_ms: u64) -> Result<StreamHead, String> {
    let body = ex.response.body().ok_or_else(|| "empty body".to_owned())?;
    let branches = body.tee();
    let peek: ReadableStream = branches.get(0).unchecked_into();
    let client: ReadableStream = branches.get(1).unchecked_into();
    let reader: ReadableStreamDefaultReader = peek.get_reader().unchecked_into();
    let mut first = FirstEvent::default();
    let read_head = async {
        loop {
            let r: ReadResult = JsFuture::from(reader.read())
                .await
                .map_err(js_detail)?
                .unchecked_into();
            if r.done() {
                return Ok::<_, String>(None);
            }
            let value = r.value();
            let Some(bytes) = value.dyn_ref::<Uint8Array>() else {
                continue;
            };
            // The scanner keeps at most its cap: copy no more than that into WebAssembly.
            let take = bytes.length().min(crate::qwen::sse::FIRST_EVENT_CAP as u32);
            match first.push(&bytes.subarray(0, take).to_vec()) {
                StreamStart::NeedMore => continue,
                done => return Ok(Some(done)),
            }
        }
    };
    let head = with_deadline(read_head, timeout_ms, &ex.abort).await;
    // The peek branch is done with either way; cancelling one branch leaves the other flowing.
    let _ = reader.cancel();
    let head = match head {
        None => {
            return Err(format!(
                "no streamed data within {} s",
                timeout_ms.div_ceil(1000)
            ))
        }
        Some(r) => r?,
    };
    match head {
        None => Ok(StreamHead::Ended),
        Some(StreamStart::Data) => Ok(StreamHead::Started(client, first.usage())),
        Some(other) => {
            let _ = client.cancel();
            ex.abort.abort();
            Ok(match other {
                StreamStart::Error(data) => StreamHead::ErrorEvent(data),
                _ => StreamHead::TooLong,
            })
        }
    }
}
