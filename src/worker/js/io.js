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
