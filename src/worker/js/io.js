// Byte work that must not enter WebAssembly: reading an upstream body in the runtime, with a cap
// on its size and a deadline, so the Worker can decide on it (fail over, or answer) without
// copying it into Wasm memory (which never shrinks). Called from src/worker/fetch.rs.

/**
 * Reads `body` to its end, at most `cap` bytes, within `ms` milliseconds. On timeout `abort`
 * (the fetch's AbortController, if any) is aborted. Past the cap, `drain` keeps reading and
 * dropping what comes (so that a client gets its 413 instead of a reset connection); otherwise
 * the read stops there. Resolves {bytes: Uint8Array, truncated, timedOut, error}; never rejects.
 */
export async function readCapped(body, cap, ms, abort, drain) {
  const out = { bytes: new Uint8Array(0), truncated: false, timedOut: false, error: null };
  if (!body) return out;
  const reader = body.getReader();
  const chunks = [];
  let size = 0;
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    for (;;) {
      const r = await Promise.race([reader.read(), timeout]);
      if (r === 'timeout') {
        out.timedOut = true;
        abort?.abort();
        break;
      }
      if (r.done) break;
      if (out.truncated) continue; // draining
      const room = cap - size;
      if (r.value.byteLength > room) {
        chunks.push(r.value.subarray(0, room));
        size += room;
        out.truncated = true;
        if (drain) continue;
        break;
      }
      chunks.push(r.value);
      size += r.value.byteLength;
    }
  } catch (e) {
    out.error = String(e?.message ?? e);
  } finally {
    clearTimeout(timer);
    reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  out.bytes = bytes;
  return out;
}

/**
 * The client's side of a committed upstream stream: every chunk passed on as it arrives (it
 * never enters WebAssembly), and a stream that ends cleanly whatever upstream does. When upstream
 * sends nothing for `idleMs`, or fails while sending, `idleBytes` or `failBytes` (an error event
 * in the client's dialect) end the stream and `abort` cancels upstream.
 */
export function guardStream(body, idleMs, idleBytes, failBytes, abort) {
  const reader = body.getReader();
  let last = Date.now();
  let timer = null;
  let wake = null;
  // One timer for the whole stream: it re-arms itself for whatever is left of the idle time, so
  // a chunk costs a clock read, not a timer.
  const idle = new Promise((resolve) => { wake = resolve; });
  const arm = (ms) => {
    timer = setTimeout(() => {
      const quiet = Date.now() - last;
      if (quiet >= idleMs) wake('idle');
      else arm(idleMs - quiet);
    }, ms);
  };
  arm(idleMs);
  const end = (controller, bytes) => {
    clearTimeout(timer);
    if (bytes) controller.enqueue(bytes);
    controller.close();
    reader.cancel().catch(() => {});
    abort?.abort();
  };
  return new ReadableStream({
    async pull(controller) {
      let r;
      try {
        r = await Promise.race([reader.read(), idle]);
      } catch {
        return end(controller, failBytes);
      }
      if (r === 'idle') return end(controller, idleBytes);
      if (r.done) {
        clearTimeout(timer);
        return controller.close();
      }
      last = Date.now();
      controller.enqueue(r.value);
    },
    cancel(reason) {
      clearTimeout(timer);
      reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}
