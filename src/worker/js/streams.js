// Streams passed on to the client without entering WebAssembly: piped by the runtime when their
// bytes need no change, chunk by chunk when the model's name is swapped or a usage chunk the
// client did not ask for is taken out; both watched for silence, both ended with an error event
// in the client's dialect when upstream goes quiet or breaks, both keeping their tail for the
// usage. Called from src/worker/fetch.rs.

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
  // Reads the watching branch into the tail until upstream ends or `stopAt` settles first
  // (EMPTY: at once, when nothing more is queued).
  const readUntil = async (stopAt) => {
    while (!upstreamDone) {
      pending ??= reader.read();
      let r;
      try {
        r = await Promise.race([pending, stopAt]);
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
  // What is already queued on the watching branch, without waiting for more.
  const drain = () => readUntil(EMPTY);
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
    if (bytes) {
      try {
        const writer = out.writable.getWriter();
        await writer.write(bytes);
        await writer.close();
      } catch {
        // The client went away.
      }
      abort?.abort();
      reader.cancel().catch(() => {});
    } else {
      // Upstream has ended: the watching branch ends too, once it has what the client got.
      await readToEnd();
    }
    resolveEnded(usageIn(tail.bytes()));
  };
  // The rest of the watching branch, for at most two seconds.
  const readToEnd = async () => {
    let timer;
    await readUntil(new Promise((resolve) => { timer = setTimeout(resolve, 2000, EMPTY); }));
    clearTimeout(timer);
  };
  // A clean end closes the client's stream in the pipe; a broken or stopped one leaves it open
  // for the error event.
  client.pipeTo(out.writable, { preventAbort: true, signal: stop.signal }).then(
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

// One of each per isolate: making a TextDecoder costs the runtime more than a short decode.
const DECODER = new TextDecoder();
const ENCODER = new TextEncoder();

/**
 * The text of the last `"usage": {…}` object in `bytes` (a JSON answer, or the end of an SSE
 * stream), or null. Looks at the last 16 KiB first (where every dialect puts it), then, for a
 * body up to 1 MiB, at all of it.
 */
export function usageIn(bytes) {
  if (!bytes || !bytes.length) return null;
  const from = Math.max(0, bytes.length - TAIL_BYTES);
  const found = lastUsage(DECODER.decode(bytes.subarray(from)));
  if (found || from === 0 || bytes.length > 1024 * 1024) return found;
  return lastUsage(DECODER.decode(bytes));
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

const EMPTY_CHOICES = ENCODER.encode('"choices":[]');

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
  const text = DECODER.decode(chunk);
  const events = text.split(/(?<=\n\n)/);
  let usage = null;
  const kept = events.filter((e) => {
    if (!e.includes('"choices":[]') || !e.includes('"usage"')) return true;
    usage = lastUsage(e) ?? usage;
    return false;
  });
  return { bytes: usage ? ENCODER.encode(kept.join('')) : chunk, usage };
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
