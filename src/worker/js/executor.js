// How the Worker's Rust futures are woken. wasm-bindgen's executor runs its ready tasks in a
// microtask: queued with the global queueMicrotask when there is one, otherwise as the reaction
// to a promise it resolved once; it chooses when its queue is first made. workerd's
// queueMicrotask wraps every callback it is given (for its error reporting and async context),
// which cost the isolate 20-40 µs of a non-streamed request; a promise reaction is a plain
// microtask. So the queue is made at start-up with queueMicrotask hidden from it (for that
// moment only). A Rust panic in a task still ends in a new WebAssembly instance for the next
// request: the bindings catch the trap where WebAssembly is called (checked by hand with a
// panicking build). Called from src/worker/executor.rs.

/**
 * Runs `make` with `globalThis.queueMicrotask` hidden, then puts it back as it was. Returns
 * whether anything looked for it meanwhile (the executor does when it makes its queue; if it
 * did not, its queue was made before, with queueMicrotask).
 */
export function withoutQueueMicrotask(make) {
  const own = Object.getOwnPropertyDescriptor(globalThis, 'queueMicrotask');
  let looked = false;
  try {
    Object.defineProperty(globalThis, 'queueMicrotask', {
      get() {
        looked = true;
        return undefined;
      },
      configurable: true,
    });
  } catch {
    // The runtime does not let it be hidden: the executor keeps using it.
    make();
    return false;
  }
  try {
    make();
  } finally {
    if (own) Object.defineProperty(globalThis, 'queueMicrotask', own);
    else delete globalThis.queueMicrotask;
  }
  return looked;
}
