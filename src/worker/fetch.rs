//! HTTP to upstream on the Workers runtime: every request with a deadline on its response head,
//! every body read with a byte cap and a deadline. Also the runtime's clock, sleep and
//! randomness.

use futures_util::future::{select, Either};
use js_sys::Uint8Array;
use std::time::Duration;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortController;

#[wasm_bindgen(module = "/src/worker/js/http.js")]
extern "C" {
    #[wasm_bindgen(js_name = sendRequest)]
    fn send_request_js(
        method: &str,
        url: &str,
        header_lines: &str,
        bearer: Option<String>,
        body: Option<Box<[u8]>>,
        ms: f64,
        read_headers: &str,
    ) -> js_sys::Promise;

    /// What `sendRequest` resolves to (its fields read by name, no key crossing).
    type Sent;
    #[wasm_bindgen(method, getter)]
    fn response(this: &Sent) -> Option<web_sys::Response>;
    #[wasm_bindgen(method, getter)]
    fn abort(this: &Sent) -> AbortController;
    #[wasm_bindgen(method, getter)]
    fn head(this: &Sent) -> String;
    #[wasm_bindgen(method, getter)]
    fn failure(this: &Sent) -> Option<String>;
    #[wasm_bindgen(method, getter)]
    fn error(this: &Sent) -> Option<String>;

    #[wasm_bindgen(js_name = readWhole)]
    fn read_whole_js(
        message: &JsValue,
        cap: f64,
        ms: f64,
        abort: Option<AbortController>,
        drain: bool,
    ) -> js_sys::Promise;

    /// What `readWhole` resolves to.
    type Read;
    #[wasm_bindgen(method, getter)]
    fn bytes(this: &Read) -> Uint8Array;
    #[wasm_bindgen(method, getter)]
    fn truncated(this: &Read) -> bool;
    #[wasm_bindgen(method, getter, js_name = timedOut)]
    fn timed_out(this: &Read) -> bool;
    #[wasm_bindgen(method, getter)]
    fn error(this: &Read) -> Option<String>;

    #[wasm_bindgen(js_name = headerValues)]
    fn header_values_js(message: &JsValue, names: &str) -> String;
}

/// The values of the headers `names` (joined by line breaks) of `message`, a runtime `Request`
/// or `Response`, read in one call: one per name, `None` when absent.
pub fn header_values(message: &JsValue, names: &str) -> Vec<Option<String>> {
    values_of(&header_values_js(message, names))
}

/// The values as `headerValues` gives them: a line per name, `+value` or `-`.
fn values_of(lines: &str) -> Vec<Option<String>> {
    lines
        .split('\n')
        .map(|l| l.strip_prefix('+').map(str::to_owned))
        .collect()
}

pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

pub async fn sleep_ms(ms: u64) {
    worker::Delay::from(Duration::from_millis(ms)).await;
}

/// Runs `fut` with a deadline; on timeout aborts `abort` (the fetch it belongs to).
pub async fn with_deadline<T>(
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

pub fn js_detail(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "network error".into())
}

/// An HTTP exchange whose head has arrived; `abort` cancels what is still in flight.
pub struct Exchange {
    pub response: web_sys::Response,
    pub abort: AbortController,
    status: u16,
    /// The values of [`ANSWER_HEADERS`], read with the head.
    headers: Vec<Option<String>>,
}

/// The response headers the Worker reads of an upstream answer, read in the same call as its
/// head; in the order of [`ANSWER_HEADERS`].
#[derive(Debug, Clone, Copy)]
pub enum AnswerHeader {
    ContentType,
    DashScopeRequestId,
    XRequestId,
    RequestId,
    RetryAfter,
}

/// The names of the [`AnswerHeader`]s, one line each, as `headerValues` takes them.
const ANSWER_HEADERS: &str =
    "content-type\nx-dashscope-request-id\nx-request-id\nrequest-id\nretry-after";

impl Exchange {
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The value of a response header read with the head.
    pub fn header(&self, header: AnswerHeader) -> Option<String> {
        self.headers.get(header as usize).cloned().flatten()
    }
}

/// POST `body` to `url` and wait for the response head (not the body), at most `timeout_ms`.
pub async fn post(
    url: &str,
    headers: &[(&str, String)],
    bearer: Option<&str>,
    body: &str,
    timeout_ms: u64,
) -> Result<Exchange, String> {
    send("POST", url, headers, bearer, Some(body), timeout_ms).await
}

/// GET `url`, waiting for the response head at most `timeout_ms`.
pub async fn get(
    url: &str,
    headers: &[(&str, String)],
    bearer: Option<&str>,
    timeout_ms: u64,
) -> Result<Exchange, String> {
    send("GET", url, headers, bearer, None, timeout_ms).await
}

/// One request in one call to the runtime (headers, body and the deadline on the response head
/// all set there): a header name or value with a line break is refused here.
async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    bearer: Option<&str>,
    body: Option<&str>,
    timeout_ms: u64,
) -> Result<Exchange, String> {
    let lines = header_lines(headers.iter().map(|(k, v)| (*k, v.as_str())))
        .map_err(|k| format!("the header {k} has a line break"))?;
    if bearer.is_some_and(has_line_break) {
        return Err(BAD_TOKEN.to_owned());
    }
    let sent: Sent = JsFuture::from(send_request_js(
        method,
        url,
        &lines,
        bearer.map(str::to_owned),
        body.map(|b| b.as_bytes().into()),
        timeout_ms as f64,
        ANSWER_HEADERS,
    ))
    .await
    .map_err(js_detail)?
    .unchecked_into();
    let Some(response) = sent.response() else {
        return Err(match sent.failure().as_deref() {
            Some("badToken") => BAD_TOKEN.to_owned(),
            Some("timedOut") => format!("no answer within {} s", timeout_ms.div_ceil(1000)),
            _ => sent.error().unwrap_or_else(|| "network error".into()),
        });
    };
    let head = sent.head();
    let (status, values) = head.split_once('\n').unwrap_or((&head, ""));
    Ok(Exchange {
        response,
        abort: sent.abort(),
        status: status.parse().unwrap_or(0),
        headers: values_of(values),
    })
}

const BAD_TOKEN: &str = "the stored token is not a valid header value";

/// A line break, which no header name or value may hold.
pub fn has_line_break(s: &str) -> bool {
    s.bytes().any(|b| b == b'\n' || b == b'\r')
}

/// Headers as the runtime helpers of `js/http.js` take them in one call: `name\nvalue\n` pairs.
/// A name or value with a line break cannot be written so: its name is the error.
pub fn header_lines<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<String, &'a str> {
    let mut lines = String::with_capacity(256);
    for (k, v) in pairs {
        if has_line_break(k) || has_line_break(v) {
            return Err(k);
        }
        lines.push_str(k);
        lines.push('\n');
        lines.push_str(v);
        lines.push('\n');
    }
    Ok(lines)
}

/// A body read in the runtime under a cap and a deadline.
pub struct Capped {
    /// The bytes, as a JS array (they enter WebAssembly only when asked for).
    pub bytes: Uint8Array,
    /// More came than the cap allowed.
    pub truncated: bool,
}

impl Capped {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes.to_vec()).into_owned()
    }
}

/// Reads the exchange's body, at most `cap` bytes, within `ms`. A stall past the deadline
/// aborts the exchange and is an error, like a network failure while reading.
pub async fn read_body(ex: &Exchange, cap: usize, ms: u64) -> Result<Capped, String> {
    read_whole(&ex.response, cap, ms, Some(ex.abort.clone()), false).await
}

/// Reads the body of `message` (a runtime `Request` or `Response`) in the runtime: at most
/// `cap` bytes (past the cap, `drain` reads and drops the rest), within `ms` (then `abort`),
/// in one piece when it says its length and that fits `cap`.
pub async fn read_whole(
    message: &JsValue,
    cap: usize,
    ms: u64,
    abort: Option<AbortController>,
    drain: bool,
) -> Result<Capped, String> {
    let promise = read_whole_js(message, cap as f64, ms.max(1) as f64, abort, drain);
    let read: Read = JsFuture::from(promise)
        .await
        .map_err(js_detail)?
        .unchecked_into();
    if read.timed_out() {
        return Err(format!(
            "the body did not arrive within {} s",
            ms.div_ceil(1000)
        ));
    }
    if let Some(e) = read.error() {
        return Err(format!("the body could not be read: {e}"));
    }
    Ok(Capped {
        bytes: read.bytes(),
        truncated: read.truncated(),
    })
}

/// A form POST to the OAuth server, answered within `ms` (head and body): (status, body).
pub async fn post_form(url: &str, form: &str, ms: u64) -> Result<(u16, String), String> {
    let headers = [
        (
            "content-type",
            "application/x-www-form-urlencoded".to_owned(),
        ),
        ("accept", "application/json".to_owned()),
        ("x-request-id", request_id()),
    ];
    let started = now_ms();
    let ex = post(url, &headers, None, form, ms).await?;
    let left = ms.saturating_sub(now_ms() - started).max(1);
    let body = read_body(&ex, 64 * 1024, left).await?;
    Ok((ex.status(), body.text()))
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_namespace = crypto, js_name = randomUUID)]
    fn random_uuid() -> Result<String, JsValue>;
}

/// Cryptographically random bytes from the runtime.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), String> {
    get_random_values(buf).map(|_| ()).map_err(js_detail)
}

/// A random UUID (v4) from the runtime.
pub fn request_id() -> String {
    random_uuid().unwrap_or_else(|_| format!("{:x}", (js_sys::Math::random() * 1e16) as u64))
}

/// A random id for an answer: `prefix` then 24 letters and digits.
pub fn answer_id(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut raw = [0u8; 24];
    if random_bytes(&mut raw).is_err() {
        for b in raw.iter_mut() {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    let mut id = String::with_capacity(prefix.len() + raw.len());
    id.push_str(prefix);
    id.extend(
        raw.iter()
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char),
    );
    id
}
