// The ways a Worker can hand an upstream stream to its client, side by side, for
// bench/stream-shapes.mjs: what each costs the runtime per chunk, with nothing else done.
export default {
  async fetch(req, env) {
    const shape = new URL(req.url).pathname.slice(1);
    const up = await fetch(`${env.UPSTREAM}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: req.headers.get('x-upstream-auth') },
      body: await req.text(),
    });
    let body = up.body;
    if (shape === 'buffered') {
      // Not a stream: the whole answer read, its usage taken, a new Response made of it (what any
      // gateway that counts the tokens of a non-streamed answer must do at least).
      const text = await up.text();
      const tokens = JSON.parse(text).usage?.total_tokens ?? 0;
      return new Response(text, { status: up.status, headers: { 'content-type': 'application/json', 'x-tokens': String(tokens) } });
    } else if (shape === 'tee-and-read') {
      // The client gets one branch as it is; JavaScript reads the other (to watch the stream).
      const [client, watch] = up.body.tee();
      const reader = watch.getReader();
      (async () => { for (;;) if ((await reader.read()).done) break; })();
      body = client;
    } else if (shape === 'pipe-to-identity') {
      const its = new IdentityTransformStream();
      up.body.pipeTo(its.writable, { preventClose: true }).then(() => its.writable.getWriter().close(), () => {});
      body = its.readable;
    } else if (shape === 'tee-pipe-watch' || shape === 'peek-tee-pipe-watch') {
      // What the gateway does: one branch piped natively, the other drained every 250 ms (and,
      // with "peek-", the first chunk read from a branch of a first tee, cancelled after).
      let source = up.body;
      if (shape === 'peek-tee-pipe-watch') {
        const [rest, peek] = up.body.tee();
        const r = peek.getReader();
        await r.read();
        r.cancel().catch(() => {});
        source = rest;
      }
      const [a, b] = source.tee();
      const reader = b.getReader();
      const EMPTY = {};
      let pending = null;
      let done = false;
      const drain = async () => {
        for (;;) {
          pending ??= reader.read();
          const r = await Promise.race([pending, EMPTY]);
          if (r === EMPTY) return;
          pending = null;
          if (r.done) { done = true; return; }
        }
      };
      const timer = setInterval(() => { drain().then(() => { if (done) clearInterval(timer); }); }, 250);
      const its = new IdentityTransformStream();
      a.pipeTo(its.writable).then(() => drain(), () => {}).finally(() => clearInterval(timer));
      body = its.readable;
    } else if (shape === 'js-pull') {
      // A stream made in JavaScript, one upstream chunk per pull (what a per-chunk guard does).
      const reader = up.body.getReader();
      body = new ReadableStream({
        async pull(c) {
          const r = await reader.read();
          if (r.done) c.close();
          else c.enqueue(r.value);
        },
      }, { highWaterMark: 0 });
    } else if (shape === 'js-write-identity') {
      // Each upstream chunk read in JavaScript and written into an IdentityTransformStream,
      // whose readable side is the runtime's own (what a translator could write into).
      const reader = up.body.getReader();
      const its = new IdentityTransformStream();
      const writer = its.writable.getWriter();
      (async () => {
        for (;;) {
          const r = await reader.read();
          if (r.done) break;
          await writer.write(r.value);
        }
        await writer.close();
      })().catch(() => {});
      body = its.readable;
    } else if (shape === 'js-write-behind') {
      // Read in JavaScript; what is made from the chunks that arrive in one turn of the event
      // loop is written once, by a timer of 0 ms (the end of that turn).
      const reader = up.body.getReader();
      const its = new IdentityTransformStream();
      const writer = its.writable.getWriter();
      let parts = [];
      let size = 0;
      let scheduled = false;
      const flush = () => {
        scheduled = false;
        if (!parts.length) return;
        let out = parts[0];
        if (parts.length > 1) {
          out = new Uint8Array(size);
          let at = 0;
          for (const p of parts) { out.set(p, at); at += p.length; }
        }
        parts = [];
        size = 0;
        writer.write(out).catch(() => {});
      };
      (async () => {
        for (;;) {
          const r = await reader.read();
          if (r.done) break;
          parts.push(r.value);
          size += r.value.length;
          if (!scheduled) { scheduled = true; setTimeout(flush, 0); }
          if (writer.desiredSize !== null && writer.desiredSize <= 0) await writer.ready;
        }
        flush();
        await writer.close();
      })().catch(() => {});
      body = its.readable;
    } else if (shape === 'js-transform') {
      body = up.body.pipeThrough(new TransformStream({ transform(chunk, c) { c.enqueue(chunk); } }));
    }
    return new Response(body, { status: up.status, headers: { 'content-type': 'text/event-stream' } });
  },
};
