// Streams translated into the client's dialect: the runtime reads upstream and hands each chunk
// once to a translator in WebAssembly (src/worker/translate.rs), keeping the idle deadline and the
// keep-alive timer itself.

/**
 * The client's side of a committed upstream stream that needs translation: each upstream chunk is
 * handed once to `pump` (a translator in WebAssembly) and what it returns goes to the client.
 * `pump.finish()` when upstream ends, `pump.broke()` when it fails, `pump.idle()` after `idleMs`
 * of upstream silence (then upstream is cancelled), `pump.ping()` whenever the client has had
 * nothing for `pingMs` (0: never). The stream ends as soon as the translator says it is over.
 * Returns {stream, ended}: `ended` resolves when the stream is over, however it ended (and what
 * was left of upstream after a complete answer has been read).
 *
 * A chunk made in JavaScript costs the runtime far more than the translation, so when upstream
 * is ahead of the client (an event translated in the same millisecond as the last one handed on),
 * what the chunks of that turn of the event loop translate to goes out as one chunk, at the end
 * of the turn (a timer of 0 ms). An event that comes by itself goes out at once; no output waits
 * for a later chunk. The output waits in the pump (`pump.push` says how many bytes wait) and
 * leaves it in one piece (`pump.take()`).
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
  // Bytes of output waiting in the pump (upstream ahead of the client: this turn's batch).
  let pending = 0;
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
        // Output waiting in the pump goes out at the end of this turn: no keep-alive before it.
        if (!pending) {
          const bytes = pump.ping();
          if (bytes.length && ctrl) ctrl.enqueue(bytes);
          lastOut = now;
        }
        wait = Math.min(wait, pingMs);
      } else {
        wait = Math.min(wait, pingMs - silent);
      }
    }
    timer = setTimeout(check, wait);
  };
  timer = setTimeout(check, pingMs > 0 ? Math.min(idleMs, pingMs) : idleMs);
  // The batch (output waiting in the pump while upstream is ahead) goes out with a chunk that
  // comes in a later millisecond, or at the end of the turn in which it began (one timer per
  // batch), while the pull that made it waits on for upstream's next chunk.
  let turn = null;
  // A batch handed on by its timer while the pull waits on, and left queued (the client has not
  // asked for more): the pull then hands on what the next chunk gives and returns, so that a slow
  // client holds at most that much more.
  let queuedAhead = false;
  const batchOut = () => {
    clearTimeout(turn);
    turn = null;
    lastOut = Date.now();
    pending = 0;
    ctrl.enqueue(pump.take());
  };
  const endTurn = () => {
    turn = null;
    if (pending && !over) {
      batchOut();
      queuedAhead = ctrl.desiredSize < 0;
    }
  };
  // A throw from the translator (a panic in WebAssembly): the stream fails, its timers stop and
  // upstream is cancelled; the translator is not called again.
  const broken = (controller, e) => {
    if (over) return;
    over = true;
    clearTimeout(timer);
    clearTimeout(turn);
    reader.cancel().catch(() => {});
    abort?.abort();
    resolveEnded();
    controller.error(e);
  };
  // `upstream`: DONE (it has ended: nothing to cancel), ANSWERED (the translator has all it needs:
  // what is left, the end of the stream, is read to free the connection) or anything else (it
  // failed or went silent: cancelled).
  // `bytes`: the pump's last output, what waited in it included.
  const end = (controller, bytes, upstream) => {
    over = true;
    clearTimeout(timer);
    clearTimeout(turn);
    if (bytes.length) controller.enqueue(bytes);
    controller.close();
    pump.free();
    if (upstream === ANSWERED) {
      // The request lasts until the connection is free (the runtime drops a connection whose
      // answer is still being read when the request ends): `ended` waits for the rest.
      readRest(reader, abort).then(resolveEnded);
      return;
    }
    if (upstream !== DONE) {
      reader.cancel().catch(() => {});
      abort?.abort();
    }
    resolveEnded();
  };
  // One pull: upstream read and translated until something goes to the client or it ends.
  const pullFrom = async (controller) => {
    queuedAhead = false;
    for (;;) {
      let res;
      last = Date.now();
      reading = true;
      try {
        res = await reader.read();
      } catch {
        res = FAILED;
      }
      reading = false;
      // Cancelled by the client while waiting: the translator is freed.
      if (over) return;
      if (res === FAILED) return end(controller, idled ? pump.idle() : pump.broke(), null);
      if (idled) return end(controller, pump.idle(), null);
      if (res.done) return end(controller, pump.finish(), DONE);
      const waiting = pump.push(res.value);
      if (waiting < 0) return end(controller, pump.take(), ANSWERED);
      const first = !pending;
      pending = waiting;
      if (!waiting) continue;
      if (queuedAhead || (first && Date.now() !== lastOut) || waiting >= BATCH_CAP) {
        batchOut();
        return;
      }
      // Upstream is ahead: the next chunk is read at once.
      turn ??= setTimeout(endTurn, 0);
    }
  };
  return {
    ended,
    stream: new ReadableStream({
      start(controller) {
        ctrl = controller;
      },
      async pull(controller) {
        try {
          await pullFrom(controller);
        } catch (e) {
          broken(controller, e);
        }
      },
      cancel(reason) {
        if (over) return;
        over = true;
        clearTimeout(timer);
        clearTimeout(turn);
        reader.cancel(reason).catch(() => {});
        abort?.abort();
        pump.free();
        resolveEnded();
      },
    }, { highWaterMark: 0 }),
  };
}

const FAILED = {};
const TIMED_OUT = {};
const DONE = 'done';
const ANSWERED = 'answered';

/**
 * Reads what is left of an upstream stream whose answer is complete (its closing `[DONE]`, as a
 * rule) so that the connection can serve again; cancels it (and `abort`s the fetch) when more
 * than a few chunks or a second are left.
 */
async function readRest(reader, abort) {
  let timer;
  const deadline = new Promise((resolve) => { timer = setTimeout(resolve, 1000, TIMED_OUT); });
  try {
    for (let n = 0; n < 8; n++) {
      const r = await Promise.race([reader.read(), deadline]);
      if (r === TIMED_OUT) break;
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
