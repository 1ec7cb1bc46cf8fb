// Streams translated into the client's dialect: the runtime reads upstream and hands each chunk
// once to a translator in WebAssembly (src/worker/translate.rs), keeping the idle deadline and the
// keep-alive timer itself.

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
