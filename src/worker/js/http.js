// Upstream requests and bodies in the runtime: a request with its headers, body and deadline
// made in one call from WebAssembly, headers set in one call, and a body read with a cap on its
// size and a deadline, so the Worker can decide on it (fail over, or answer) without copying it
// into Wasm memory (which never shrinks). Called from src/worker/fetch.rs and respond.rs.

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
  const timeout = new Promise((resolve) => { timer = setTimeout(resolve, ms, TIMED_OUT); });
  try {
    for (;;) {
      const r = await Promise.race([reader.read(), timeout]);
      if (r === TIMED_OUT) {
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
  eachHeader(lines, (name, value) => {
    try {
      headers.set(name, value);
    } catch {
      // Not a valid header: left out, as a single set would have been.
    }
  });
  return headers;
}

/**
 * A response in one call from WebAssembly: `status`, the headers of `lines` (a pair the runtime
 * refuses is left out) and `body` (bytes, a stream, text or null). If the runtime refuses the
 * response itself (it never should), a plain 500 rather than an exception.
 */
export function newResponse(status, lines, body) {
  try {
    return new Response(body, { status, headers: setHeaders(new Headers(), lines) });
  } catch {
    return new Response('internal error building the response', { status: 500 });
  }
}

/**
 * The values of the headers of `message` (a runtime `Request` or `Response`) named in `names`
 * (one name per line), in one call: a line per name, `+value`, or `-` when it has none.
 */
export function headerValues(message, names) {
  return valuesOf(message.headers, names);
}

function valuesOf(headers, names) {
  const list = names.split('\n');
  let out = '';
  for (let i = 0; i < list.length; i++) {
    const v = headers.get(list[i]);
    out += (i ? '\n' : '') + (v === null ? '-' : `+${v}`);
  }
  return out;
}

/** Calls `f(name, value)` for each `name\nvalue\n` pair of `lines`. */
function eachHeader(lines, f) {
  const parts = lines.split('\n');
  for (let i = 0; i + 1 < parts.length; i += 2) f(parts[i], parts[i + 1]);
}

/**
 * One request to upstream in one call from WebAssembly: `headerLines` holds the headers as
 * `name\nvalue\n` pairs (the caller has made sure that no name or value holds a line break),
 * `bearer` (or null) goes into `authorization`, `body` (bytes, or null) is sent as it is (the
 * runtime copies it at once). Waits for the response head at most `ms`, then aborts the request.
 * Resolves {response, abort, head} (`head`: the status, then the values of the response
 * headers named in `readHeaders` as `headerValues` gives them), or {failure} with `failure`
 * `badToken` (the bearer cannot be a header value), `timedOut` or `error` (and {error}, what
 * the runtime said); never rejects.
 */
export async function sendRequest(method, url, headerLines, bearer, body, ms, readHeaders) {
  const headers = new Headers();
  try {
    eachHeader(headerLines, (name, value) => headers.set(name, value));
  } catch (e) {
    return { failure: 'error', error: String(e?.message ?? e) };
  }
  if (bearer !== null && bearer !== undefined) {
    try {
      headers.set('authorization', `Bearer ${bearer}`);
    } catch {
      return { failure: 'badToken' };
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
    return { response, abort, head: `${response.status}\n${valuesOf(response.headers, readHeaders)}` };
  } catch (e) {
    return timedOut
      ? { failure: 'timedOut' }
      : { failure: 'error', error: e?.message ? String(e.message) : typeof e === 'string' ? e : 'network error' };
  } finally {
    clearTimeout(timer);
  }
}
