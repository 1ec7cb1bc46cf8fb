// What the gateway does for one non-streamed chat request, written in plain JavaScript, for
// bench/profile.mjs: the cost of the work itself on this runtime, without WebAssembly or Rust
// futures. Not a gateway (one account, its token in the request's `x-upstream-auth`, no
// failover, no error handling beyond a 4xx/5xx): each step stands for one of ours.
//
// A client key checked in constant time; the client's body read with a cap and a deadline,
// parsed and its model checked; the upstream request with the OAuth account kind's headers
// (the profile's account), a first-byte deadline that aborts it; the answer read whole with a
// cap and a deadline; its usage read; the answer with the CORS, security and id headers; one
// JSON log line (unless LOG is "off"); the usage event queued and written in batches every 20 ms
// to a SQLite Durable Object (the ledger's own table and upsert, given as the bindings
// USAGE_TABLE and USAGE_RECORD by bench/ledger-sql.mjs, a batch's events summed per row as the
// ledger does), the batch's write kept running by the request that started it.
const CAP = 16 * 1024 * 1024;
const FLUSH_MS = 20;
const TIMED_OUT = {};
let queue = [];
let scheduled = false;

function sameKey(a, b) {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a.charCodeAt(i % (a.length || 1)) ^ b.charCodeAt(i % (b.length || 1)));
  return diff === 0;
}

async function readWhole(message, ms, abort) {
  const length = Number(message.headers.get('content-length'));
  if (!(length > 0 && length <= CAP)) throw new Error('no length');
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(resolve, ms, TIMED_OUT); });
  try {
    const r = await Promise.race([message.arrayBuffer(), timeout]);
    if (r === TIMED_OUT) { abort?.abort(); throw new Error('timed out'); }
    return new Uint8Array(r);
  } finally {
    clearTimeout(timer);
  }
}

function upstreamHeaders(token) {
  const ua = 'QwenCode/0.0.14 (linux; x64)';
  return {
    'content-type': 'application/json', accept: 'application/json', 'user-agent': ua,
    'x-dashscope-useragent': ua, 'x-dashscope-cachecontrol': 'enable', 'x-dashscope-authtype': 'qwen-oauth',
    'x-stainless-lang': 'js', 'x-stainless-package-version': '5.11.0', 'x-stainless-os': 'Linux',
    'x-stainless-arch': 'x64', 'x-stainless-runtime': 'node', 'x-stainless-runtime-version': 'v22.17.0',
    'x-stainless-retry-count': '0', authorization: token,
  };
}

function flushLater(env) {
  return new Promise((resolve) => setTimeout(resolve, FLUSH_MS)).then(async () => {
    const events = queue;
    queue = [];
    scheduled = false;
    const stub = env.LEDGER.get(env.LEDGER.idFromName('ledger'));
    const r = await stub.fetch('http://ledger/record', { method: 'POST', body: JSON.stringify(events) });
    const text = await r.text();
    if (!r.ok) console.error(`usage not recorded: ${text}`);
  });
}

export class Ledger {
  constructor(state, env) {
    this.sql = state.storage.sql;
    this.record = env.USAGE_RECORD;
    this.sql.exec(env.USAGE_TABLE);
  }

  async fetch(req) {
    const events = JSON.parse(await req.text());
    // One upsert per row the batch adds to, its events summed (as the ledger does).
    const rows = new Map();
    for (const e of events) {
      const id = [e.key, e.day, e.account, e.model, e.model_sent, e.route].join('\n');
      const r = rows.get(id) ?? rows.set(id, { e, n: [0, 0, 0, 0, 0, 0, 0] }).get(id);
      const add = [1, e.error ? 1 : 0, e.input_tokens, e.output_tokens, e.cached_tokens, e.reasoning_tokens, e.latency_ms];
      for (let i = 0; i < 7; i++) r.n[i] += add[i];
    }
    for (const { e, n } of rows.values()) {
      this.sql.exec(this.record, e.key, e.day, e.account, e.model, e.model_sent, e.route, ...n);
    }
    // An empty batch asks how many requests are recorded (a check of this stand-in).
    if (!events.length) return new Response(JSON.stringify({ requests: this.sql.exec('SELECT SUM(requests) AS n FROM usage').one().n }));
    return new Response('{}');
  }
}

export default {
  async fetch(req, env, ctx) {
    const started = Date.now();
    const id = crypto.randomUUID();
    const auth = req.headers.get('authorization') ?? '';
    const given = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (![env.CLIENT_KEY ?? 'sk-profile'].some((k) => sameKey(k, given))) return new Response('{"error":"unauthorized"}', { status: 401 });
    const body = JSON.parse(new TextDecoder().decode(await readWhole(req, 30_000)));
    if (typeof body.model !== 'string' || !Array.isArray(body.messages)) return new Response('{"error":"bad request"}', { status: 400 });
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 60_000);
    let up;
    try {
      up = await fetch(`${env.UPSTREAM}/v1/chat/completions`, {
        method: 'POST', headers: upstreamHeaders(req.headers.get('x-upstream-auth')), body: JSON.stringify(body), signal: abort.signal,
      });
    } finally {
      clearTimeout(timer);
    }
    const bytes = await readWhole(up, 120_000, abort);
    const text = new TextDecoder().decode(bytes);
    const usage = JSON.parse(text).usage ?? {};
    const res = new Response(bytes, {
      status: up.status,
      headers: {
        'content-type': 'application/json', 'access-control-allow-origin': '*',
        'access-control-expose-headers': 'x-qwen-account, x-request-id, x-upstream-request-id, retry-after',
        'x-upstream-request-id': up.headers.get('x-request-id') ?? '', 'x-qwen-account': 'prof',
        'x-request-id': id, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY',
      },
    });
    const latency = Date.now() - started;
    const event = {
      key: 'env-0', day: new Date(started).toISOString().slice(0, 10), account: 'prof', model: body.model, model_sent: body.model,
      route: 'chat', error: up.status >= 400, input_tokens: usage.prompt_tokens ?? 0, output_tokens: usage.completion_tokens ?? 0,
      cached_tokens: usage.prompt_tokens_details?.cached_tokens ?? 0, reasoning_tokens: 0, latency_ms: latency,
    };
    if (env.LOG !== 'off') console.log(JSON.stringify({ type: 'request', request_id: id, ...event, status: up.status, upstream_status: up.status, attempts: 1 }));
    queue.push(event);
    if (!scheduled) {
      scheduled = true;
      ctx.waitUntil(flushLater(env));
    }
    return res;
  },
};
