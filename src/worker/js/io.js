// Byte work that must not enter WebAssembly: reading an upstream body in the runtime, with a cap
// on its size and a deadline, so the Worker can decide on it (fail over, or answer) without
// copying it into Wasm memory (which never shrinks). Called from src/worker/fetch.rs.

/**
 * Reads `body` to its end, at most `cap` bytes, within `ms` milliseconds. On timeout `abort`
 * (the fetch's AbortController, if any) is aborted. Past the cap, `drain` keeps reading and
 * dropping what comes (so that a client gets its 413 instead of a reset connection); otherwise
 * the read stops there. Resolves {bytes: Uint8Array, truncated, timedOut, error}; never rejects.
 */
async function readCapped(body, cap, ms, abort, drain) {
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
 * The body of `message` (a client's request or upstream's answer), read as `readCapped` reads
 * its stream (at most `cap` bytes, within `ms`, `abort` aborted on timeout, past the cap drained
 * with `drain`), but when the message says its length, that length fits the cap and nothing is to
 * be decoded, read by the runtime in one piece.
 */
export async function readWhole(message, cap, ms, abort, drain) {
  const length = Number(message.headers.get('content-length'));
  if (!(length > 0 && length <= cap) || message.headers.has('content-encoding')) {
    return readCapped(message.body, cap, ms, abort, drain);
  }
  const out = { bytes: new Uint8Array(0), truncated: false, timedOut: false, error: null };
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(resolve, ms, TIMED_OUT); });
  try {
    const r = await Promise.race([message.arrayBuffer(), timeout]);
    if (r === TIMED_OUT) {
      out.timedOut = true;
      abort?.abort();
    } else {
      out.bytes = new Uint8Array(r);
    }
  } catch (e) {
    out.error = String(e?.message ?? e);
  } finally {
    clearTimeout(timer);
  }
  return out;
}

const TIMED_OUT = {};

/**
 * Sets on `headers` the `name\nvalue\n` pairs of `lines`, in one call from WebAssembly (a
 * pair the runtime refuses is left out).
 */
export function setHeaders(headers, lines) {
  const parts = lines.split('\n');
  for (let i = 0; i + 1 < parts.length; i += 2) {
    try {
      headers.set(parts[i], parts[i + 1]);
    } catch {
      // Not a valid header: left out, as a single set would have been.
    }
  }
  return headers;
}

/**
 * One request to upstream in one call from WebAssembly: `headerLines` holds the headers as
 * `name\nvalue\n` pairs (the caller has made sure that no name or value holds a line break),
 * `bearer` (or null) goes into `authorization`, `body` (bytes, or null) is sent as it is (the
 * runtime copies it at once). Waits for the response head at most `ms`, then aborts the request.
 * Resolves {response, abort}, {badToken: true} (the bearer cannot be a header value),
 * {timedOut: true} or {error}; never rejects.
 */
export async function sendRequest(method, url, headerLines, bearer, body, ms) {
  const headers = new Headers();
  const parts = headerLines.split('\n');
  try {
    for (let i = 0; i + 1 < parts.length; i += 2) headers.set(parts[i], parts[i + 1]);
  } catch (e) {
    return { error: String(e?.message ?? e) };
  }
  if (bearer !== null && bearer !== undefined) {
    try {
      headers.set('authorization', `Bearer ${bearer}`);
    } catch {
      return { badToken: true };
    }
  }
  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, ms);
  try {
    const response = await fetch(url, { method, headers, body: body ?? undefined, signal: abort.signal });
    return { response, abort };
  } catch (e) {
    return timedOut ? { timedOut: true } : { error: e?.message ? String(e.message) : typeof e === 'string' ? e : 'network error' };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The client's side of a committed upstream stream: every chunk passed on as it arrives (it
 * never enters WebAssembly), and a stream that ends cleanly whatever upstream does. When upstream
 * sends nothing for `idleMs`, or fails while sending, `idleBytes` or `failBytes` (an error event
 * in the client's dialect) end the stream and `abort` cancels upstream. With `dropUsage`, the
 * usage-only chunk (`"choices":[]`) that the gateway asked upstream for is kept from the client.
 * Returns {stream, ended}: `ended` resolves, once the stream is over, to the text of the last
 * `usage` object upstream sent (from the stream's tail), or null.
 */
export function guardStream(body, idleMs, idleBytes, failBytes, abort, find, replacement, dropUsage) {
  const reader = body.getReader();
  const swap = find && find.length ? replacer(find, replacement) : null;
  const tail = tailKeeper(TAIL_BYTES);
  let usageText = null;
  const usageFilter = dropUsage ? usageDropper((u) => { usageText = u; }) : null;
  let resolveEnded;
  const ended = new Promise((resolve) => { resolveEnded = resolve; });
  let over = false;
  const finish = () => {
    if (over) return;
    over = true;
    resolveEnded(usageText ?? usageIn(tail.bytes()));
  };
  let last = Date.now();
  let timer = null;
  let reading = false;
  let idled = false;
  // One timer for the whole stream: it re-arms itself for whatever is left of the idle time, so
  // a chunk costs a clock read, not a timer or a promise. Upstream is silent only while a read
  // of it is outstanding (time spent waiting for a slow client does not count); when it has
  // been silent too long, the read is cancelled, which ends it.
  const arm = (ms) => {
    timer = setTimeout(() => {
      const quiet = reading ? Date.now() - last : 0;
      if (quiet >= idleMs) {
        idled = true;
        reader.cancel().catch(() => {});
      } else arm(idleMs - quiet);
    }, ms);
  };
  arm(idleMs);
  const end = (controller, bytes) => {
    clearTimeout(timer);
    if (bytes) controller.enqueue(bytes);
    controller.close();
    reader.cancel().catch(() => {});
    abort?.abort();
    finish();
  };
  const stream = new ReadableStream({
    async pull(controller) {
      for (;;) {
        let r;
        last = Date.now();
        reading = true;
        try {
          r = await reader.read();
        } catch {
          reading = false;
          return end(controller, idled ? idleBytes : failBytes);
        }
        reading = false;
        if (idled) return end(controller, idleBytes);
        if (r.done) {
          clearTimeout(timer);
          const held = usageFilter ? usageFilter.flush() : null;
          if (held?.length) controller.enqueue(swap ? swap.push(held) : held);
          if (swap) {
            const rest = swap.flush();
            if (rest.length) controller.enqueue(rest);
          }
          controller.close();
          return finish();
        }
        let chunk = r.value;
        tail.push(chunk);
        if (usageFilter) {
          chunk = usageFilter.push(chunk);
          if (!chunk.length) continue;
        }
        controller.enqueue(swap ? swap.push(chunk) : chunk);
        return;
      }
    },
    cancel(reason) {
      clearTimeout(timer);
      reader.cancel(reason).catch(() => {});
      finish();
    },
  }, { highWaterMark: 0 });
  return { stream, ended };
}

/**
 * The client's side of a committed upstream stream that needs no change to its bytes, at the
 * runtime's own speed: upstream is teed, one branch piped natively into the client's stream (no
 * JavaScript per chunk), the other drained every `WATCH_MS` by JavaScript, only to see that
 * upstream is still sending and to keep the stream's tail for its usage. When upstream sends
 * nothing for `idleMs`, or fails, the pipe is stopped and `idleBytes` or `failBytes` (an error
 * event in the client's dialect) end the client's stream; upstream is cancelled. Returns
 * {stream, ended} as guardStream does.
 */
export function passStream(body, idleMs, idleBytes, failBytes, abort) {
  const [client, watch] = body.tee();
  const out = new IdentityTransformStream();
  const stop = new AbortController();
  const reader = watch.getReader();
  const tail = tailKeeper(TAIL_BYTES);
  const EMPTY = {};
  let pending = null;
  let upstreamDone = false;
  let last = Date.now();
  let idled = false;
  let over = false;
  let resolveEnded;
  const ended = new Promise((resolve) => { resolveEnded = resolve; });
  // Reads what is already queued on the watching branch, without waiting for more.
  const drain = async () => {
    while (!upstreamDone) {
      pending ??= reader.read();
      let r;
      try {
        r = await Promise.race([pending, EMPTY]);
      } catch {
        upstreamDone = true;
        return;
      }
      if (r === EMPTY) return;
      pending = null;
      if (r.done) {
        upstreamDone = true;
        return;
      }
      last = Date.now();
      tail.push(r.value);
    }
  };
  const timer = setInterval(async () => {
    await drain();
    if (!over && !upstreamDone && Date.now() - last >= idleMs) {
      idled = true;
      stop.abort();
    }
  }, Math.max(1, Math.min(WATCH_MS, idleMs / 4)));
  const finish = async (bytes) => {
    if (over) return;
    over = true;
    clearInterval(timer);
    try {
      const writer = out.writable.getWriter();
      if (bytes) await writer.write(bytes);
      await writer.close();
    } catch {
      // The client went away.
    }
    if (bytes) {
      abort?.abort();
      reader.cancel().catch(() => {});
    } else {
      // Upstream has ended: the watching branch ends too, once it has what the client got.
      await readToEnd();
    }
    resolveEnded(usageIn(tail.bytes()));
  };
  const readToEnd = async () => {
    const deadline = new Promise((resolve) => setTimeout(resolve, 2000, EMPTY));
    while (!upstreamDone) {
      pending ??= reader.read();
      let r;
      try {
        r = await Promise.race([pending, deadline]);
      } catch {
        return;
      }
      if (r === EMPTY) return;
      pending = null;
      if (r.done) return;
      tail.push(r.value);
    }
  };
  client.pipeTo(out.writable, { preventClose: true, preventAbort: true, signal: stop.signal }).then(
    () => finish(null),
    () => finish(idled ? idleBytes : failBytes),
  );
  return { stream: out.readable, ended };
}

/** How often the watching branch of a passed-through stream is drained. */
const WATCH_MS = 250;

/** Bytes of a stream's end kept to find its usage. */
const TAIL_BYTES = 16 * 1024;

/** The last `n` bytes (or a little more) of a stream, keeping its chunks rather than copying. */
function tailKeeper(n) {
  const chunks = [];
  let size = 0;
  return {
    push(c) {
      chunks.push(c);
      size += c.length;
      while (chunks.length > 1 && size - chunks[0].length >= n) size -= chunks.shift().length;
    },
    bytes() {
      const out = new Uint8Array(size);
      let at = 0;
      for (const c of chunks) { out.set(c, at); at += c.length; }
      return out;
    },
  };
}

/**
 * The text of the last `"usage": {…}` object in `bytes` (a JSON answer, or the end of an SSE
 * stream), or null. Looks at the last 16 KiB first (where every dialect puts it), then, for a
 * body up to 1 MiB, at all of it.
 */
export function usageIn(bytes) {
  if (!bytes || !bytes.length) return null;
  const decoder = new TextDecoder();
  const from = Math.max(0, bytes.length - TAIL_BYTES);
  const found = lastUsage(decoder.decode(bytes.subarray(from)));
  if (found || from === 0 || bytes.length > 1024 * 1024) return found;
  return lastUsage(decoder.decode(bytes));
}

function lastUsage(text) {
  for (let i = text.lastIndexOf('"usage"'); i >= 0; i = i > 0 ? text.lastIndexOf('"usage"', i - 1) : -1) {
    let j = i + 7;
    while (j < text.length && (text[j] === ' ' || text[j] === ':' || text[j] === '\n' || text[j] === '\r' || text[j] === '\t')) j++;
    if (text[j] !== '{') continue;
    let depth = 0;
    let inString = false;
    for (let k = j; k < text.length; k++) {
      const c = text.charCodeAt(k);
      if (inString) {
        if (c === 92) k++;
        else if (c === 34) inString = false;
      } else if (c === 34) inString = true;
      else if (c === 123) depth++;
      else if (c === 125 && --depth === 0) return text.slice(j, k + 1);
    }
  }
  return null;
}

const EMPTY_CHOICES = new TextEncoder().encode('"choices":[]');

/** Does `chunk` hold `"choices":[]` (a usage-only chat chunk)? Looks only at the `]`s. */
function hasEmptyChoices(chunk) {
  const n = EMPTY_CHOICES.length;
  for (let i = chunk.indexOf(93, n - 1); i >= 0; i = chunk.indexOf(93, i + 1)) {
    if (chunk[i - 1] !== 91) continue;
    let j = 0;
    while (j < n && chunk[i - n + 1 + j] === EMPTY_CHOICES[j]) j++;
    if (j === n) return true;
  }
  return false;
}

/** Most bytes held back waiting for the end of an event. */
const HOLD_CAP = 1024 * 1024;

/**
 * Takes the usage-only events out of a stream of chunks, events cut across chunks included:
 * whatever follows a chunk's last event boundary waits for the next chunk (a client cannot use
 * part of an event anyway). `found(text)` gets each usage object taken out.
 */
function usageDropper(found) {
  let carry = null;
  return {
    push(chunk) {
      let buf = chunk;
      if (carry) {
        buf = new Uint8Array(carry.length + chunk.length);
        buf.set(carry);
        buf.set(chunk, carry.length);
        carry = null;
      }
      const end = lastEventEnd(buf);
      if (end < buf.length && buf.length < HOLD_CAP) {
        carry = buf.slice(end);
        buf = buf.subarray(0, end);
      }
      if (!buf.length || !hasEmptyChoices(buf)) return buf;
      const kept = withoutUsageEvents(buf);
      if (kept.usage) found(kept.usage);
      return kept.bytes;
    },
    flush() {
      const c = carry;
      carry = null;
      return c;
    },
  };
}

/** The index just past the last blank line (`\n\n` or `\r\n\r\n`) of `buf`, or 0. */
function lastEventEnd(buf) {
  for (let i = buf.length - 1; i >= 1; i--) {
    if (buf[i] === 10 && (buf[i - 1] === 10 || (i >= 3 && buf[i - 1] === 13 && buf[i - 2] === 10))) return i + 1;
  }
  return 0;
}

/** `chunk` without its usage-only events; {bytes, usage: the usage object's text or null}. */
function withoutUsageEvents(chunk) {
  const text = new TextDecoder().decode(chunk);
  const events = text.split(/(?<=\n\n)/);
  let usage = null;
  const kept = events.filter((e) => {
    if (!e.includes('"choices":[]') || !e.includes('"usage"')) return true;
    usage = lastUsage(e) ?? usage;
    return false;
  });
  return { bytes: usage ? new TextEncoder().encode(kept.join('')) : chunk, usage };
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
 *
 * A chunk made in JavaScript costs the runtime far more than the translation, so when upstream
 * is ahead of the client (an event translated in the same millisecond as the last one handed on),
 * what the chunks of that turn of the event loop translate to goes out as one chunk, at the end
 * of the turn (a timer of 0 ms). An event that comes by itself goes out at once; no output waits
 * for a later chunk.
 */
export function translateStream(body, idleMs, pingMs, pump, abort) {
  const reader = body.getReader();
  let last = Date.now();
  let lastOut = last;
  let reading = false;
  let idled = false;
  let timer = null;
  let over = false;
  let ctrl = null;
  // The read of upstream in flight (it may outlive a pull: the client's next pull takes it).
  let pending = null;
  let resolveEnded;
  const ended = new Promise((resolve) => { resolveEnded = resolve; });
  // One timer re-arming itself for the nearest of the idle deadline and the next keep-alive, so
  // a chunk costs a clock read, not a timer or a promise. Upstream is silent only while a read of
  // it is outstanding (a slow client does not count); too long, and the read is cancelled, which
  // ends it. A keep-alive goes straight into the client's queue.
  const check = () => {
    if (over) return;
    const now = Date.now();
    const quiet = reading ? now - last : 0;
    if (quiet >= idleMs) {
      idled = true;
      reader.cancel().catch(() => {});
      return;
    }
    let wait = idleMs - quiet;
    if (pingMs > 0) {
      const silent = now - lastOut;
      if (silent >= pingMs) {
        const bytes = pump.ping();
        if (bytes.length && ctrl) ctrl.enqueue(bytes);
        lastOut = now;
        wait = Math.min(wait, pingMs);
      } else {
        wait = Math.min(wait, pingMs - silent);
      }
    }
    timer = setTimeout(check, wait);
  };
  timer = setTimeout(check, pingMs > 0 ? Math.min(idleMs, pingMs) : idleMs);
  const readAhead = () => {
    last = Date.now();
    reading = true;
    pending = reader.read();
  };
  // A read that outlives its turn keeps `reading` true only until it settles.
  const settled = () => { reading = false; };
  const batch = joiner();
  // The end of the turn in which the batch began.
  let turn = null;
  // `upstream`: DONE (it has ended: nothing to cancel), ANSWERED (the translator has all it needs:
  // what is left, the end of the stream, is read to free the connection) or anything else (it
  // failed or went silent: cancelled).
  const end = (controller, bytes, upstream) => {
    over = true;
    clearTimeout(timer);
    if (bytes && bytes.length) batch.push(bytes);
    if (batch.length) controller.enqueue(batch.join());
    controller.close();
    if (upstream === ANSWERED) readRest(reader, abort);
    else if (upstream !== DONE) {
      reader.cancel().catch(() => {});
      abort?.abort();
    }
    pump.free();
    resolveEnded();
  };
  return {
    ended,
    stream: new ReadableStream({
      start(controller) {
        ctrl = controller;
      },
      async pull(controller) {
        for (;;) {
          let r;
          try {
            if (batch.length) {
              // Upstream is ahead: the next chunk only if it comes in this turn.
              if (!pending) readAhead();
              turn ??= endOfTurn();
              r = await Promise.race([pending, turn]);
              if (r === END_OF_TURN) {
                pending.then(settled, settled);
                turn = null;
                lastOut = Date.now();
                controller.enqueue(batch.join());
                return;
              }
              pending = null;
              reading = false;
            } else if (pending) {
              r = await pending;
              pending = null;
            } else {
              last = Date.now();
              reading = true;
              r = await reader.read();
              reading = false;
            }
          } catch {
            reading = false;
            pending = null;
            return end(controller, idled ? pump.idle() : pump.broke(), null);
          }
          if (idled) return end(controller, pump.idle(), null);
          if (r.done) return end(controller, pump.finish(), DONE);
          const out = pump.push(r.value);
          if (pump.finished()) return end(controller, out, ANSWERED);
          if (!out.length) continue;
          batch.push(out);
          const now = Date.now();
          if ((batch.length === 1 && now !== lastOut) || batch.size >= BATCH_CAP) {
            turn = null;
            lastOut = now;
            controller.enqueue(batch.join());
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

const END_OF_TURN = {};
const DONE = 'done';
const ANSWERED = 'answered';

/**
 * Reads what is left of an upstream stream whose answer is complete (its closing `[DONE]`, as a
 * rule) so that the connection can serve again; cancels it (and `abort`s the fetch) when more
 * than a few chunks or a second are left.
 */
async function readRest(reader, abort) {
  let timer;
  const deadline = new Promise((resolve) => { timer = setTimeout(resolve, 1000, END_OF_TURN); });
  try {
    for (let n = 0; n < 8; n++) {
      const r = await Promise.race([reader.read(), deadline]);
      if (r === END_OF_TURN) break;
      if (r.done) return;
    }
  } catch {
    return;
  } finally {
    clearTimeout(timer);
  }
  reader.cancel().catch(() => {});
  abort?.abort();
}

/** Most bytes of translated output gathered into one chunk. */
const BATCH_CAP = 64 * 1024;

/** Resolves to END_OF_TURN once the event loop has done what is ready now. */
const endOfTurn = () => new Promise((resolve) => { setTimeout(resolve, 0, END_OF_TURN); });

/** Byte chunks gathered to be handed on as one. */
function joiner() {
  const parts = [];
  let size = 0;
  return {
    get length() { return parts.length; },
    get size() { return size; },
    push(p) { parts.push(p); size += p.length; },
    /** The chunks as one; the joiner is empty again. */
    join() {
      let out = parts[0];
      if (parts.length > 1) {
        out = new Uint8Array(size);
        let at = 0;
        for (const p of parts) { out.set(p, at); at += p.length; }
      }
      parts.length = 0;
      size = 0;
      return out;
    },
  };
}
