//! The futures' executor, set up once per isolate: wasm-bindgen's task queue runs as a promise
//! reaction rather than through the runtime's `queueMicrotask` (see `js/executor.js` for why).

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(module = "/src/worker/js/executor.js")]
extern "C" {
    #[wasm_bindgen(js_name = withoutQueueMicrotask)]
    fn without_queue_microtask(make: &dyn Fn());
}

/// Makes the executor's queue (its first task does it) while `queueMicrotask` is hidden, so
/// that it schedules itself with promise reactions from then on.
pub fn prefer_promise_reactions() {
    without_queue_microtask(&|| wasm_bindgen_futures::spawn_local(async {}));
}
