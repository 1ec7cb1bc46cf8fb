//! The futures' executor, set up once per isolate: wasm-bindgen's task queue runs as a promise
//! reaction rather than through the runtime's `queueMicrotask` (see `js/executor.js` for why).

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(module = "/src/worker/js/executor.js")]
extern "C" {
    #[wasm_bindgen(js_name = withoutQueueMicrotask)]
    fn without_queue_microtask(make: &dyn Fn()) -> bool;
}

/// Makes the executor's queue (its first task does it) while `queueMicrotask` is hidden, so
/// that it schedules itself with promise reactions from then on. Says so in the log when the
/// executor did not look (its queue was made before, or a new version decides otherwise): the
/// Worker then works as before, only slower.
pub fn prefer_promise_reactions() {
    let looked = without_queue_microtask(&|| wasm_bindgen_futures::spawn_local(async {}));
    if !looked {
        worker::console_warn!("{NOT_APPLIED}");
    }
}

/// The start-up warning when the executor kept `queueMicrotask` (tests look for it).
const NOT_APPLIED: &str =
    "qwen-worker: the futures' executor did not take promise reactions (queueMicrotask kept)";
