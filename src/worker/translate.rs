//! Streams that need translating: the runtime reads upstream and hands each chunk once to a
//! [`StreamPump`] (one of the pure translators, `api::translate::StreamTranslate`), whose output
//! goes to the client. The reading, the idle deadline and the keep-alive timer are in the
//! runtime (`js/translate.js`); only the bytes to translate enter WebAssembly.

use super::note::UsageSource;
use super::streams::Relayed;
use crate::api::translate::StreamTranslate;
use crate::usage::Usage;
use js_sys::{Promise, Uint8Array};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::wasm_bindgen;
use web_sys::{AbortController, ReadableStream};

#[wasm_bindgen(module = "/src/worker/js/translate.js")]
extern "C" {
    #[wasm_bindgen(js_name = translateStream)]
    fn translate_stream_js(
        body: &ReadableStream,
        idle_ms: f64,
        ping_ms: f64,
        pump: StreamPump,
        abort: &AbortController,
    ) -> Relayed;
}

type Shared = Rc<RefCell<Box<dyn StreamTranslate>>>;

/// A translator as the runtime's stream reader sees it. Its output waits in one buffer until
/// the reader takes it, so that the chunks of one turn of the event loop (upstream ahead of the
/// client) leave WebAssembly as one array.
#[wasm_bindgen]
pub struct StreamPump {
    translator: Shared,
    out: Vec<u8>,
    idle_secs: u64,
}

#[wasm_bindgen]
impl StreamPump {
    /// The next upstream chunk, its translation added to the waiting output: how many bytes
    /// wait, or -1 when the translator has all it needs (the output waits for [`take`]).
    ///
    /// [`take`]: StreamPump::take
    pub fn push(&mut self, chunk: &[u8]) -> i32 {
        let mut t = self.translator.borrow_mut();
        t.push(chunk, &mut self.out);
        if t.is_finished() {
            -1
        } else {
            i32::try_from(self.out.len()).unwrap_or(i32::MAX)
        }
    }

    /// The waiting output, for the client.
    pub fn take(&mut self) -> Uint8Array {
        let bytes = Uint8Array::from(self.out.as_slice());
        self.out.clear();
        bytes
    }

    /// Upstream ended: the waiting output and the stream's end.
    pub fn finish(&mut self) -> Uint8Array {
        self.translator.borrow_mut().finish(&mut self.out);
        self.take()
    }

    /// Upstream failed: the waiting output and an error event.
    pub fn broke(&mut self) -> Uint8Array {
        self.translator.borrow_mut().broke(&mut self.out);
        self.take()
    }

    /// Upstream silent too long: the waiting output and an error event.
    pub fn idle(&mut self) -> Uint8Array {
        self.translator
            .borrow_mut()
            .idle(self.idle_secs, &mut self.out);
        self.take()
    }

    /// A keep-alive (asked for only while no output waits).
    pub fn ping(&mut self) -> Uint8Array {
        self.translator.borrow().ping(&mut self.out);
        self.take()
    }
}

/// A translated stream for the client.
pub struct Translated {
    stream: ReadableStream,
    /// Resolves when the stream is over, however it ended.
    ended: Promise,
    translator: Shared,
}

impl Translated {
    /// The stream for the client, and its usage once it is over (what upstream reported, as
    /// far as the stream got).
    pub fn split(self) -> (ReadableStream, UsageSource) {
        let translator = self.translator;
        let read = move |_: wasm_bindgen::JsValue| -> Usage { translator.borrow().usage() };
        (
            self.stream,
            UsageSource::Later {
                ended: self.ended,
                read: Box::new(read),
            },
        )
    }
}

/// `body` (upstream's committed stream) through `translator`. Upstream silent for `idle_ms`
/// ends the stream (see `StreamTranslate::idle`) and cancels upstream through `abort`; with
/// `ping_ms` > 0 the translator's keep-alive goes out whenever the client has had nothing
/// for that long.
pub fn translate(
    body: &ReadableStream,
    translator: Box<dyn StreamTranslate>,
    idle_ms: u64,
    ping_ms: u64,
    abort: &AbortController,
) -> Translated {
    let shared: Shared = Rc::new(RefCell::new(translator));
    let pump = StreamPump {
        translator: shared.clone(),
        out: Vec::with_capacity(4096),
        idle_secs: idle_ms.div_ceil(1000),
    };
    let r = translate_stream_js(body, idle_ms as f64, ping_ms as f64, pump, abort);
    Translated {
        stream: r.stream(),
        ended: r.ended(),
        translator: shared,
    }
}
