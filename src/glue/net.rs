//! Time, sleeping and HTTP to upstream, on the Workers runtime.

use futures_util::future::{select, Either};
use js_sys::{Reflect, Uint8Array};
use std::time::Duration;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, ReadableStream, ReadableStreamDefaultReader};

pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

pub async fn sleep_ms(ms: u64) {
    worker::Delay::from(Duration::from_millis(ms)).await;
}

/// Runs `fut` with a deadline; on timeout aborts `abort` (the fetch it belongs to).
async fn with_deadline<T>(
    fut: impl std::future::Future<Output = T>,
    ms: u64,
    abort: &AbortController,
) -> Option<T> {
    let fut = std::pin::pin!(fut);
    let delay = std::pin::pin!(sleep_ms(ms));
    match select(fut, delay).await {
        Either::Left((v, _)) => Some(v),
        Either::Right(_) => {
            abort.abort();
            None
        }
    }
}

fn js_detail(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "network error".into())
}

/// An HTTP exchange still in flight; dropping it does not cancel anything, `abort` does.
pub struct Exchange {
    pub response: web_sys::Response,
    pub abort: AbortController,
}

/// POST `body` to `url` and wait for the response head (not the body), at most `timeout_ms`.
pub async fn post(
    url: &str,
    headers: &[(&str, String)],
    bearer: Option<&str>,
    body: &str,
    timeout_ms: u64,
) -> Result<Exchange, String> {
    let h = web_sys::Headers::new().map_err(js_detail)?;
    for (k, v) in headers {
        h.set(k, v).map_err(js_detail)?;
    }
    if let Some(t) = bearer {
        h.set("authorization", &format!("Bearer {t}"))
            .map_err(|_| "the stored token is not a valid header value".to_owned())?;
    }
    let abort = AbortController::new().map_err(js_detail)?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_headers(&h);
    init.set_body(&JsValue::from_str(body));
    init.set_signal(Some(&abort.signal()));
    let request = web_sys::Request::new_with_str_and_init(url, &init).map_err(js_detail)?;
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let fetch = JsFuture::from(global.fetch_with_request(&request));
    match with_deadline(fetch, timeout_ms, &abort).await {
        None => Err(format!("no answer within {} s", timeout_ms / 1000)),
        Some(Err(e)) => Err(js_detail(e)),
        Some(Ok(v)) => Ok(Exchange {
            response: v.unchecked_into(),
            abort,
        }),
    }
}

/// Reads a body to its end and drops it, in the runtime.
pub async fn discard(body: Option<ReadableStream>) {
    if let (Some(body), Ok(sink)) = (body, web_sys::WritableStream::new()) {
        let _ = JsFuture::from(body.pipe_to(&sink)).await;
    }
}

/// The whole body as text.
pub async fn text(response: &web_sys::Response) -> Result<String, String> {
    let p = response.text().map_err(js_detail)?;
    let v = JsFuture::from(p).await.map_err(js_detail)?;
    Ok(v.as_string().unwrap_or_default())
}

/// A form POST to the OAuth server: (status, body).
pub async fn post_form(url: &str, form: &str) -> Result<(u16, String), String> {
    let headers = [
        (
            "content-type",
            "application/x-www-form-urlencoded".to_owned(),
        ),
        ("accept", "application/json".to_owned()),
        ("x-request-id", request_id()),
    ];
    let ex = post(url, &headers, None, form, 30_000).await?;
    let status = ex.response.status();
    Ok((status, text(&ex.response).await?))
}

/// Cryptographically random bytes from the runtime.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), crate::error::GatewayError> {
    let crypto: web_sys::Crypto = Reflect::get(&js_sys::global(), &"crypto".into())
        .and_then(|c| c.dyn_into())
        .map_err(|_| crate::error::GatewayError::Internal {
            message: "no crypto in this runtime".into(),
        })?;
    crypto
        .get_random_values_with_u8_array(buf)
        .map(|_| ())
        .map_err(|e| crate::error::GatewayError::Internal {
            message: js_detail(e),
        })
}

/// A random UUID (v4) from the runtime.
pub fn request_id() -> String {
    let crypto: Result<web_sys::Crypto, _> =
        Reflect::get(&js_sys::global(), &"crypto".into()).and_then(|c| c.dyn_into());
    crypto
        .map(|c| c.random_uuid())
        .unwrap_or_else(|_| format!("{:x}", (js_sys::Math::random() * 1e16) as u64))
}

/// The start of a streamed answer, read until its first complete SSE event.
pub enum StreamHead {
    /// The first event is normal: the client gets `stream`, the whole answer from its first byte.
    Started(ReadableStream),
    /// The first event is an error object.
    ErrorEvent(String),
    /// Upstream closed before a complete event.
    Ended,
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
    let mut seen: Vec<u8> = Vec::new();
    let read_head = async {
        loop {
            let r = JsFuture::from(reader.read()).await.map_err(js_detail)?;
            let done = Reflect::get(&r, &"done".into())
                .ok()
                .and_then(|d| d.as_bool())
                .unwrap_or(true);
            if done {
                return Ok::<_, String>(None);
            }
            let value = Reflect::get(&r, &"value".into()).map_err(js_detail)?;
            if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
                seen.extend(bytes.to_vec());
            }
            match crate::sse::inspect_start(&seen) {
                crate::sse::StreamStart::NeedMore => continue,
                crate::sse::StreamStart::Data => return Ok(Some(None)),
                crate::sse::StreamStart::Error(data) => return Ok(Some(Some(data))),
            }
        }
    };
    let head = with_deadline(read_head, timeout_ms, &ex.abort).await;
    // The peek branch is done with either way; cancelling one branch leaves the other flowing.
    let _ = reader.cancel();
    match head {
        None => Err(format!("no streamed data within {} s", timeout_ms / 1000)),
        Some(Err(e)) => Err(e),
        Some(Ok(None)) => Ok(StreamHead::Ended),
        Some(Ok(Some(Some(data)))) => {
            let _ = client.cancel();
            Ok(StreamHead::ErrorEvent(data))
        }
        Some(Ok(Some(None))) => Ok(StreamHead::Started(client)),
    }
}
