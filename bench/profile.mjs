#!/usr/bin/env node
// Where the Worker's CPU goes, route by route: a V8 CPU profile of the built Worker's isolate,
// taken through workerd's inspector while one client sends the same request N times, beside the
// same profile of two floors (bench/proxy-floor.mjs, and a stream re-made in JavaScript from
// bench/stream-shapes-worker.mjs). Prints, per route, the time per request the isolate spent in
// WebAssembly, in the bundle's JavaScript (the bindings and our runtime helpers), in the
// runtime's built-ins and in the garbage collector, then the functions that cost most, each with
// its caller. The mock upstream answers at once, its events back to back unless --chunk-ms.
//
//   node bench/profile.mjs [--requests N] [--route NAME[,NAME...]] [--top K] [--interval-us US]
//                          [--chunk-ms MS] [--inclusive] [--build DIR] [--save DIR] [--log off]
//   node bench/profile.mjs --cold K
//
// Build with QW_WASM_NAMES=1 bash scripts/build.sh first: the release build drops the names.
//
// --log off drops the request's log line in our Worker (REQUEST_LOG = "off", with --cold too)
// and in the same-work floor: under the inspector every console.log is sent to it, which costs
// the isolate 35-110 µs depending on where the call is made, enough to blur a comparison.
// --chunk-ms spaces the mock's events; --inclusive adds, per route, the time in each of our Rust
// functions with all it called. The *-long routes (3,600-event answers) run only when named.
// Named routes run in the order given (a name may repeat): an isolate's cost per request can
// drift as it serves thousands of requests, so compare routes run in the same place.
// --cold K profiles instead the first and the second chat request of K new Workers (a new isolate
// each), and what the first one spends most on. --build profiles another build directory (inside
// the repository) than build/; --save writes each route's profile to DIR/<route>.cpuprofile
// (Chrome's DevTools open it; with --cold, each new Worker's first request as cold-first-<i>).
//
// The profile sees only the isolate's own work: the runtime's socket and stream work outside V8
// is not in it (bench/run.mjs and bench/ab.mjs measure workerd's whole CPU from /proc). What
// Cloudflare bills as a request's CPU time is the isolate's work, so this is the closer measure
// of it, but a rough one: on a busy 2-core machine V8's sampler falls behind its interval, and a
// sample stands for the time since the one before, at most twice the interval.
import { parseArgs } from 'node:util';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Miniflare } from 'miniflare';
import { ledgerSql } from './ledger-sql.mjs';
import { startMock } from '../tests/mock/upstream.mjs';
import { MockControl, qwenCodeCreds, workerOptions, freePort, ROOT, COMPATIBILITY_DATE } from '../tests/harness.mjs';

const { values: opt } = parseArgs({
  options: {
    requests: { type: 'string', default: '300' },
    route: { type: 'string' },
    top: { type: 'string', default: '8' },
    'interval-us': { type: 'string', default: '100' },
    inclusive: { type: 'boolean', default: false },
    'chunk-ms': { type: 'string', default: '0' },
    log: { type: 'string', default: 'on' },
    warmup: { type: 'string', default: '30' },
    cold: { type: 'string' },
    build: { type: 'string', default: 'build' },
    save: { type: 'string' },
  },
});
if (!['on', 'off'].includes(opt.log)) throw new Error(`--log on or off, not ${opt.log}`);
const N = Number(opt.requests);
// Without the WebAssembly's names section (scripts/build.sh drops it) our functions show as
// wasm-function[N]: say how to keep it.
if (!readFileSync(path.join(ROOT, opt.build, 'index_bg.wasm')).includes(Buffer.from('\x04name'))) {
  console.log(`${opt.build}/index_bg.wasm has no names section: build it with QW_WASM_NAMES=1 bash scripts/build.sh to see our functions by name`);
}
const TOP = Number(opt.top);
const KEY = 'sk-profile';

// "Echo: " and 893 characters chopped by the mock into pieces of 3 to 6: 200 content events.
const LONG = 'x'.repeat(893);
const ROUTES = [
  ['chat-stream', 'chat, 200 events, passed through', '/v1/chat/completions', 'prof', { model: 'qwen3-coder-plus', stream: true, messages: [{ role: 'user', content: LONG }] }],
  ['messages-stream', 'messages, 200 events, translated from chat', '/v1/messages', 'prof', { model: 'qwen3-coder-plus', stream: true, max_tokens: 4000, messages: [{ role: 'user', content: LONG }] }],
  ['responses-stream', 'responses, 200 events, translated from chat', '/v1/responses', 'prof', { model: 'qwen3-coder-plus', stream: true, input: LONG }],
  ['completions-stream', 'completions, 200 events, translated from chat', '/v1/completions', 'prof', { model: 'qwen3-coder-plus', stream: true, max_tokens: 4000, prompt: LONG }],
  ['chat', 'chat, non-streamed', '/v1/chat/completions', 'prof', { model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'hi' }] }],
  ['messages', 'messages, non-streamed, translated', '/v1/messages', 'prof', { model: 'qwen3-coder-plus', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }],
  ['responses', 'responses, non-streamed, translated', '/v1/responses', 'prof', { model: 'qwen3-coder-plus', input: 'hi' }],
  // A long answer: "Echo: " and 16,000 characters, about 3,600 content events.
  ['chat-stream-long', 'chat, 3,600 events, passed through', '/v1/chat/completions', 'prof', { model: 'qwen3-coder-plus', stream: true, messages: [{ role: 'user', content: 'x'.repeat(16000) }] }],
  ['messages-stream-long', 'messages, 3,600 events, translated from chat', '/v1/messages', 'prof', { model: 'qwen3-coder-plus', stream: true, max_tokens: 32000, messages: [{ role: 'user', content: 'x'.repeat(16000) }] }],
  ['responses-stream-long', 'responses, 3,600 events, translated from chat', '/v1/responses', 'prof', { model: 'qwen3-coder-plus', stream: true, input: 'x'.repeat(16000) }],
  ['embeddings', 'embeddings, passed through', '/v1/embeddings', 'prof-ds', { model: 'text-embedding-v4', input: ['a', 'b'] }],
  // GETs (no body): the Rust entry and nothing else (the liveness answer), and a small handler.
  ['health', 'GET /health: the entry alone', '/health', 'prof', null],
  ['models', 'GET /v1/models', '/v1/models', 'prof', null],
];
// The five-line JavaScript proxy (bench/proxy-floor.mjs), the floor of any gateway here.
const FLOOR = [
  ['floor-stream', 'floor: 5-line JS proxy, chat, 200 events', '/', 'prof', ROUTES[0][4]],
  ['floor', 'floor: 5-line JS proxy, chat, non-streamed', '/', 'prof', ROUTES[4][4]],
  // bench/stream-shapes-worker.mjs: the same answer re-made in JavaScript, a pull per chunk
  // (the floor of any stream a Worker makes itself, as a translator must).
  ['shape-js-pull', 'floor: a JS pull stream, chat, 200 events', '/js-pull', 'prof', ROUTES[0][4]],
  ['shape-js-pull-long', 'floor: a JS pull stream, chat, 3,600 events', '/js-pull', 'prof', ROUTES.find((r) => r[0] === 'chat-stream-long')[4]],
  // What our Worker does with a stream it passes through, in JavaScript: the first event read
  // (to decide on failover), one branch piped natively, the other read for the usage and the
  // idle deadline (bench/stream-shapes-worker.mjs, /peek-tee-pipe-watch).
  ['shape-peek-tee-pipe-watch', 'the same stream handling in JavaScript, chat, 200 events', '/peek-tee-pipe-watch', 'prof', ROUTES[0][4]],
  // Non-streamed, what any gateway that counts tokens does at least: the answer read whole, its
  // usage parsed, a new Response (bench/stream-shapes-worker.mjs, /buffered).
  ['shape-buffered', 'floor: a JS gateway reading the answer whole, non-streamed', '/buffered', 'prof', ROUTES[4][4]],
  // What our Worker does for a non-streamed chat request, written in plain JavaScript
  // (bench/same-work-worker.mjs): the cost of the work itself, without WebAssembly.
  ['same-work', 'the same work in JavaScript, chat, non-streamed', '/v1/chat/completions', 'prof', ROUTES[4][4]],
];
const chosen = opt.route ? opt.route.split(',').map((id) => [...FLOOR, ...ROUTES].find((r) => r[0] === id)).filter(Boolean) : [...FLOOR, ...ROUTES].filter((r) => !r[0].endsWith('-long'));

/** A minimal client of the inspector protocol over one WebSocket. */
async function inspector(port) {
  let targets = [];
  for (let i = 0; i < 50 && !targets.length; i++) {
    try {
      targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  // The user Worker's isolate (Miniflare's own entry and helper workers have names of their own).
  const target = targets.find((t) => !/^core:|loopback|miniflare/i.test(t.title ?? '')) ?? targets[0];
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  let id = 0;
  const waiting = new Map();
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.id && waiting.has(msg.id)) {
      const { resolve, reject } = waiting.get(msg.id);
      waiting.delete(msg.id);
      if (msg.error) reject(new Error(msg.error.message));
      else resolve(msg.result);
    }
  };
  return {
    title: target.title,
    send: (method, params = {}) => new Promise((resolve, reject) => {
      waiting.set(++id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
    }),
    close: () => ws.close(),
  };
}

/**
 * Self time (µs) per profile node: the time deltas of its samples, each capped at twice the
 * sampling interval (V8 samples the isolate only while the runtime has it entered, so the delta
 * after a pause in the isolate's work holds the pause too).
 */
function selfTimes(profile, interval) {
  const self = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = Math.min(profile.timeDeltas[i + 1] ?? interval, 2 * interval);
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
  }
  return self;
}

function kindOf(frame) {
  const name = frame.functionName;
  if (name === '(garbage collector)') return 'gc';
  if (name === '(program)' || name === '(root)') return 'program';
  if (name === '(idle)') return 'idle';
  if (frame.url.startsWith('wasm://')) return 'wasm';
  if (frame.url) return 'js';
  return 'runtime';
}

/** The isolate's time in a profile (WebAssembly, JavaScript, built-ins, collector), in µs. */
function isolateTime(profile, interval) {
  const self = selfTimes(profile, interval);
  let total = 0;
  for (const node of profile.nodes) {
    const kind = kindOf(node.callFrame);
    if (kind !== 'program' && kind !== 'idle') total += self.get(node.id) ?? 0;
  }
  return { total, self };
}

/** The first and second chat request of `k` new Workers, profiled. */
async function coldStarts(k) {
  const interval = Number(opt['interval-us']);
  const mock = await startMock({ chunkDelayMs: 0 });
  const ctl = new MockControl(mock.url);
  const body = JSON.stringify({ model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'hi' }] });
  const firsts = [];
  const seconds = [];
  const costliest = new Map();
  const kinds = new Map();
  try {
    for (let i = 0; i < k; i++) {
      const port = await freePort();
      const mf = new Miniflare({
        ...workerOptions({ QWEN_OAUTH_BASE_URL: mock.url, QWEN_API_BASE_URL: mock.url, OPENAI_API_KEYS: KEY, REQUEST_LOG: opt.log }),
        scriptPath: `${opt.build}/index.js`,
        inspectorPort: port,
        handleRuntimeStdio(stdout, stderr) { stdout.resume(); stderr.resume(); },
      });
      const url = (await mf.ready).toString().replace(/\/$/, '');
      const kv = await mf.getKVNamespace('QWEN_TOKEN_CACHE');
      await kv.put('ACCOUNT:cold', JSON.stringify(qwenCodeCreds(await ctl.account('cold'))));
      await kv.put('ACCOUNTS', JSON.stringify(['cold']));
      const insp = await inspector(port);
      try {
        await insp.send('Profiler.enable');
        await insp.send('Profiler.setSamplingInterval', { interval });
        for (const into of [firsts, seconds]) {
          await insp.send('Profiler.start');
          const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body });
          await res.text();
          if (res.status !== 200) throw new Error(`cold request: HTTP ${res.status}`);
          const { profile } = await insp.send('Profiler.stop');
          const { total, self } = isolateTime(profile, interval);
          into.push(total);
          if (into === firsts) {
            if (opt.save) {
              mkdirSync(opt.save, { recursive: true });
              writeFileSync(path.join(opt.save, `cold-first-${i}.cpuprofile`), JSON.stringify(profile));
            }
            for (const node of profile.nodes) {
              const t = self.get(node.id) ?? 0;
              const kind = kindOf(node.callFrame);
              if (!t || kind === 'program' || kind === 'idle') continue;
              const name = `${kind} ${(node.callFrame.functionName || '(anonymous)').replace(/::h[0-9a-f]{16}$/, '')}`;
              costliest.set(name, (costliest.get(name) ?? 0) + t / k);
              kinds.set(kind, (kinds.get(kind) ?? 0) + t / k);
            }
          }
        }
      } finally {
        insp.close();
        await mf.dispose();
      }
    }
  } finally {
    await mock.close();
  }
  const mean = (xs) => (xs.reduce((a, b) => a + b, 0) / xs.length / 1000).toFixed(1);
  console.log(`${k} new Workers, a non-streamed chat request each, then a second: the isolate's time (V8 profile, every ${interval} µs)`);
  const split = [...kinds].sort((a, b) => b[1] - a[1]).map(([kind, t]) => `${kind} ${(t / 1000).toFixed(1)}`).join(', ');
  console.log(`  first request ${mean(firsts)} ms (${split}), second ${mean(seconds)} ms`);
  console.log('the first request\'s costliest functions, ms');
  for (const [name, t] of [...costliest].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`  ${(t / 1000).toFixed(2).padStart(6)}  ${name}`);
}
if (opt.cold) {
  await coldStarts(Number(opt.cold));
  process.exit(0);
}

const mock = await startMock({ chunkDelayMs: Number(opt['chunk-ms']) });
const ctl = new MockControl(mock.url);
const persist = mkdtempSync(path.join(tmpdir(), 'qwen-profile-'));
const inspectorPort = await freePort();
const mf = new Miniflare({
  ...workerOptions({ QWEN_OAUTH_BASE_URL: mock.url, QWEN_API_BASE_URL: mock.url, OPENAI_API_KEYS: KEY, ADMIN_SECRET_KEY: 'admin-profile', REQUEST_LOG: opt.log }, persist),
  scriptPath: `${opt.build}/index.js`,
  inspectorPort,
  handleRuntimeStdio(stdout, stderr) { stdout.resume(); stderr.resume(); },
});
const url = (await mf.ready).toString().replace(/\/$/, '');
const floorPort = await freePort();
const floor = new Miniflare({
  rootPath: ROOT, scriptPath: 'bench/proxy-floor.mjs', modules: true, compatibilityDate: COMPATIBILITY_DATE,
  bindings: { UPSTREAM: mock.url }, host: '127.0.0.1', port: 0, inspectorPort: floorPort,
});
const floorUrl = (await floor.ready).toString().replace(/\/$/, '');
const shapesPort = await freePort();
const shapes = new Miniflare({
  rootPath: ROOT, scriptPath: 'bench/stream-shapes-worker.mjs', modules: true, compatibilityDate: COMPATIBILITY_DATE,
  bindings: { UPSTREAM: mock.url }, host: '127.0.0.1', port: 0, inspectorPort: shapesPort,
});
const shapesUrl = (await shapes.ready).toString().replace(/\/$/, '');
const samePort = await freePort();
const same = new Miniflare({
  rootPath: ROOT, scriptPath: 'bench/same-work-worker.mjs', modules: true, compatibilityDate: COMPATIBILITY_DATE,
  bindings: { UPSTREAM: mock.url, LOG: opt.log, ...ledgerSql(ROOT) }, durableObjects: { LEDGER: { className: 'Ledger', useSQLite: true } },
  host: '127.0.0.1', port: 0, inspectorPort: samePort,
  handleRuntimeStdio(stdout, stderr) { stdout.resume(); stderr.resume(); },
});
const sameUrl = (await same.ready).toString().replace(/\/$/, '');
const kv = await mf.getKVNamespace('QWEN_TOKEN_CACHE');
const acct = await ctl.account('prof');
const ds = await ctl.account('prof-ds', { kind: 'dashscope' });
await kv.put('ACCOUNT:prof', JSON.stringify(qwenCodeCreds(acct)));
await kv.put('ACCOUNT:prof-ds', JSON.stringify({ kind: 'dashscope', api_key: ds.api_key, base_url: ds.base_url, anthropic_base_url: ds.anthropic_base_url }));
await kv.put('ACCOUNTS', JSON.stringify(['prof', 'prof-ds']));

const send = async (base, route, account, body) => {
  const res = body === null
    ? await fetch(`${base}${route}`, { headers: { authorization: `Bearer ${KEY}` } })
    : await fetch(`${base}${route}`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'x-upstream-auth': `Bearer ${acct.access_token}`, 'content-type': 'application/json', 'x-qwen-account': account }, body });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${route}: HTTP ${res.status} ${text.slice(0, 200)}`);
};

const insp = await inspector(inspectorPort);
const floorInsp = await inspector(floorPort);
const shapesInsp = await inspector(shapesPort);
const sameInsp = await inspector(samePort);
console.log(`V8 CPU profiles of each Worker's isolate, ${N} requests per route, one client, sampling every ${opt['interval-us']} µs`);
console.log('µs per request the isolate spent in WebAssembly, in the bundle\'s JavaScript (the bindings and our runtime helpers), in the runtime\'s built-ins and in the garbage collector');
console.log(`${'route'.padEnd(46)} ${'total'.padStart(7)} ${'wasm'.padStart(6)} ${'js'.padStart(6)} ${'runtime'.padStart(7)} ${'gc'.padStart(6)} ${'samples'.padStart(8)}`);
const tops = [];
try {
  for (const i of [insp, floorInsp, shapesInsp, sameInsp]) {
    await i.send('Profiler.enable');
    await i.send('Profiler.setSamplingInterval', { interval: Number(opt['interval-us']) });
  }
  for (const [id, name, route, account, body] of chosen) {
    const [base, target] = id.startsWith('floor') ? [floorUrl, floorInsp] : id.startsWith('shape') ? [shapesUrl, shapesInsp]
      : id === 'same-work' ? [sameUrl, sameInsp] : [url, insp];
    const text = body === null ? null : JSON.stringify(body);
    for (let i = 0; i < Math.min(30, N, Number(opt.warmup ?? 30)); i++) await send(base, route, account, text);
    await target.send('Profiler.start');
    for (let i = 0; i < N; i++) await send(base, route, account, text);
    const { profile } = await target.send('Profiler.stop');
    if (opt.save) {
      mkdirSync(opt.save, { recursive: true });
      writeFileSync(path.join(opt.save, `${id}.cpuprofile`), JSON.stringify(profile));
    }
    const self = selfTimes(profile, Number(opt['interval-us']));
    const byKind = { wasm: 0, js: 0, runtime: 0, gc: 0, program: 0, idle: 0 };
    const byFn = new Map();
    const parent = new Map();
    for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node);
    const label = (f) => `${f.functionName || '(anonymous)'}${f.url ? ` ${f.url.split('/').pop()}:${f.lineNumber + 1}` : ''}`;
    for (const node of profile.nodes) {
      const t = self.get(node.id) ?? 0;
      if (!t) continue;
      const kind = kindOf(node.callFrame);
      byKind[kind] += t;
      if (kind === 'program' || kind === 'idle') continue;
      const f = node.callFrame;
      const caller = parent.get(node.id)?.callFrame;
      const key = `${kind} ${label(f)}${caller ? ` ← ${label(caller)}` : ''}`;
      byFn.set(key, (byFn.get(key) ?? 0) + t);
    }
    const per = (t) => (t / N).toFixed(0);
    const total = byKind.wasm + byKind.js + byKind.runtime + byKind.gc;
    console.log(`${name.padEnd(46)} ${per(total).padStart(7)} ${per(byKind.wasm).padStart(6)} ${per(byKind.js).padStart(6)} ${per(byKind.runtime).padStart(7)} ${per(byKind.gc).padStart(6)} ${(profile.samples.length / N).toFixed(1).padStart(8)}`);
    if (opt.inclusive) {
      // Time spent in each of our Rust functions and everything it called, the WebAssembly's
      // calls out to JavaScript included (a function counted once per sample however deep).
      const incl = new Map();
      for (const node of profile.nodes) {
        const t = self.get(node.id) ?? 0;
        if (!t) continue;
        const seen = new Set();
        for (let n = node; n; n = parent.get(n.id)) {
          const f = n.callFrame.functionName;
          if (!f.startsWith('qwen_worker::') || seen.has(f)) continue;
          seen.add(f);
          incl.set(f, (incl.get(f) ?? 0) + t);
        }
      }
      tops.push([`${name}, our functions inclusive`, [...incl].map(([f, t]) => [f.replace(/::h[0-9a-f]{16}$/, ''), t]).sort((a, b) => b[1] - a[1]).slice(0, TOP)]);
    }
    tops.push([name, [...byFn].sort((a, b) => b[1] - a[1]).slice(0, TOP)]);
  }
} finally {
  insp.close();
  floorInsp.close();
  shapesInsp.close();
  sameInsp.close();
  await floor.dispose();
  await shapes.dispose();
  await same.dispose();
  await mf.dispose();
  await mock.close();
  rmSync(persist, { recursive: true, force: true });
}
for (const [name, fns] of tops) {
  console.log(`\n${name}: the costliest functions, µs per request`);
  for (const [fn, t] of fns) console.log(`  ${(t / N).toFixed(1).padStart(7)}  ${fn}`);
}
