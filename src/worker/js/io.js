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
export function guardStream(body, idleMs, idleBytes, failBytes, abort, find, replacement) {
  const reader = body.getReader();
  const swap = find && find.length ? replacer(find, replacement) : null;
  let last = Date.now();
  let timer = null;
  let wake = null;
  // One timer for the whole stream: it re-arms itself for whatever is left of the idle time, so
  // a chunk costs a clock read, not a timer.
  let reading = false;
  const idle = new Promise((resolve) => { wake = resolve; });
  // Upstream is silent only while a read of it is outstanding: time spent waiting for a slow
  // client does not count.
  const arm = (ms) => {
    timer = setTimeout(() => {
      const quiet = reading ? Date.now() - last : 0;
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
      last = Date.now();
      reading = true;
      try {
        r = await Promise.race([reader.read(), idle]);
      } catch {
        return end(controller, failBytes);
      } finally {
        reading = false;
      }
      if (r === 'idle') return end(controller, idleBytes);
      if (r.done) {
        clearTimeout(timer);
        if (swap) {
          const rest = swap.flush();
          if (rest.length) controller.enqueue(rest);
        }
        return controller.close();
      }
      controller.enqueue(swap ? swap.push(r.value) : r.value);
    },
    cancel(reason) {
      clearTimeout(timer);
      reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}

/**
 * Replaces every occurrence of the bytes `find` with `replacement` in a stream of chunks,
 * occurrences cut across chunks included. Only bytes that could be the start of `find` are held
 * back at the end of a chunk (for `"model":"…"` that is never an event's closing blank line, so
 * no event waits for the next chunk).
 */
function replacer(find, replacement) {
  let carry = new Uint8Array(0);
  const at = (buf, from) => {
    for (let i = buf.indexOf(find[0], from); i >= 0 && i + find.length <= buf.length; i = buf.indexOf(find[0], i + 1)) {
      let j = 1;
      while (j < find.length && buf[i + j] === find[j]) j++;
      if (j === find.length) return i;
    }
    return -1;
  };
  const startOfFind = (buf) => {
    for (let k = Math.min(find.length - 1, buf.length); k > 0; k--) {
      let j = 0;
      while (j < k && buf[buf.length - k + j] === find[j]) j++;
      if (j === k) return k;
    }
    return 0;
  };
  return {
    push(chunk) {
      let buf = chunk;
      if (carry.length) {
        buf = new Uint8Array(carry.length + chunk.length);
        buf.set(carry);
        buf.set(chunk, carry.length);
      }
      const parts = [];
      let from = 0;
      for (let i = at(buf, 0); i >= 0; i = at(buf, from)) {
        parts.push(buf.subarray(from, i), replacement);
        from = i + find.length;
      }
      const keep = startOfFind(buf.subarray(from));
      parts.push(buf.subarray(from, buf.length - keep));
      carry = buf.slice(buf.length - keep);
      if (parts.length === 1) return parts[0];
      const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of parts) { out.set(p, o); o += p.length; }
      return out;
    },
    flush() {
      const c = carry;
      carry = new Uint8Array(0);
      return c;
    },
  };
}

/**
 * The client's side of a committed upstream stream that needs translation: each upstream chunk is
 * handed once to `pump` (a translator in WebAssembly) and what it returns goes to the client.
 * `pump.finish()` when upstream ends, `pump.broke()` when it fails, `pump.idle()` after `idleMs`
 * of upstream silence (then upstream is cancelled), `pump.ping()` whenever the client has had
 * nothing for `pingMs` (0: never). The stream ends as soon as the translator says it is over.
 * Returns {stream, ended}: `ended` resolves when the stream is over, however it ended.
 */
export function translateStream(body, idleMs, pingMs, pump, abort) {
  const reader = body.getReader();
  let last = Date.now();
  let lastOut = last;
  let pending = null;
  let due = null;
  let wake = null;
  let woke = null;
  let timer = null;
  let over = false;
  let resolveEnded;
  const ended = new Promise((resolve) => { resolveEnded = resolve; });
  const WAKE = {};
  const rewake = () => { woke = new Promise((resolve) => { wake = () => resolve(WAKE); }); };
  rewake();
  // One timer re-arming itself for the nearest of the idle deadline and the next ping, so that a
  // chunk costs two clock reads, not a timer.
  // Upstream is silent only while a read of it is outstanding: time spent waiting for a slow
  // client does not count.
  const check = () => {
    const now = Date.now();
    const quiet = pending ? now - last : 0;
    if (quiet >= idleMs) {
      due = 'idle';
      wake();
      return;
    }
    let wait = idleMs - quiet;
    if (pingMs > 0) {
      const silent = now - lastOut;
      if (silent >= pingMs) {
        due = due ?? 'ping';
        lastOut = now;
        wake();
        wait = Math.min(wait, pingMs);
      } else {
        wait = Math.min(wait, pingMs - silent);
      }
    }
    timer = setTimeout(check, wait);
  };
  timer = setTimeout(check, pingMs > 0 ? Math.min(idleMs, pingMs) : idleMs);
  const end = (controller, bytes) => {
    over = true;
    clearTimeout(timer);
    if (bytes && bytes.length) controller.enqueue(bytes);
    controller.close();
    reader.cancel().catch(() => {});
    abort?.abort();
    pump.free();
    resolveEnded();
  };
  return {
    ended,
    stream: new ReadableStream({
      async pull(controller) {
        for (;;) {
          if (!pending) {
            last = Date.now();
            pending = reader.read();
            pending.catch(() => {});
          }
          let r;
          try {
            r = await Promise.race([pending, woke]);
          } catch {
            return end(controller, pump.broke());
          }
          if (r === WAKE) {
            const what = due;
            due = null;
            rewake();
            if (what === 'idle') return end(controller, pump.idle());
            const bytes = pump.ping();
            if (bytes.length) {
              controller.enqueue(bytes);
              return;
            }
            continue;
          }
          pending = null;
          if (r.done) return end(controller, pump.finish());
          const out = pump.push(r.value);
          if (pump.finished()) return end(controller, out);
          if (out.length) {
            lastOut = Date.now();
            controller.enqueue(out);
            return;
          }
        }
      },
      cancel(reason) {
        if (over) return;
        over = true;
        clearTimeout(timer);
        reader.cancel(reason).catch(() => {});
        abort?.abort();
        pump.free();
        resolveEnded();
      },
    }, { highWaterMark: 0 }),
  };
}
