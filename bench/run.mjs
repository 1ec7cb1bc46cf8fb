#!/usr/bin/env node
// qwen-worker benchmarks: what the gateway adds on top of the model.
//
//   node bench/run.mjs [--quick] [--requests N] [--budget-service-ms MS] [--events N] [--chunk-ms MS] [--no-pin]
//
// The built Worker runs in workerd through Miniflare's API (the lowest-overhead vehicle with real
// local KV); the mock upstream runs in its own process with a fixed service time. Prints tables and
// writes bench/results/<time>.json and bench/results/latest.json. Run it with `npm run bench`.
import http from 'node:http';
import { spawn, spawnSync, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, writeFileSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Miniflare } from 'miniflare';
import { ledgerSql } from './ledger-sql.mjs';
import { ROOT, MockControl, qwenCodeCreds, workerOptions, COMPATIBILITY_DATE } from '../tests/harness.mjs';
import { workerdPids, workerdCpuMs, mainThreadCpuMs } from './proc.mjs';

const run = promisify(execFile);
const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    requests: { type: 'string' },
    events: { type: 'string', default: '500' },
    'chunk-ms': { type: 'string', default: '2' },
    'no-pin': { type: 'boolean', default: false },
    'budget-service-ms': { type: 'string', default: '10' },
  },
});
const QUICK = opt.quick;
const N = Number(opt.requests ?? (QUICK ? 60 : 2000));
const EVENTS = Number(QUICK && !process.argv.includes('--events') ? 50 : opt.events);
const CHUNK_MS = Number(opt['chunk-ms']);
const LEVELS = QUICK ? [1, 8] : [1, 8, 32];
const BUDGET_SERVICE_MS = Number(opt['budget-service-ms']);
const KEY = 'sk-bench';
const BODY = JSON.stringify({ model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'benchmark prompt: reverse a linked list in Rust' }] });
const STREAM_BODY = JSON.stringify({ model: 'qwen3-coder-plus', stream: true, mock_events: 20, messages: [{ role: 'user', content: 'benchmark prompt' }] });

// ------------------------------------------------------------------ helpers

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), max: s.at(-1), n: s.length };
};
const r2 = (x) => Math.round(x * 100) / 100;

/** One HTTP request; resolves {ms, ttfb} measured from send to last byte / first byte. */
function request(agent, url, { method = 'POST', body, headers = {} }) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const u = new URL(url);
    const req = http.request({ agent, host: u.hostname, port: u.port, path: u.pathname, method, headers: {
      'content-type': 'application/json', authorization: `Bearer ${KEY}`, ...headers,
      ...(body ? { 'content-length': Buffer.byteLength(body) } : {}),
    } }, (res) => {
      let ttfb = null;
      res.on('data', () => { ttfb ??= performance.now() - t0; });
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${url}: HTTP ${res.statusCode}`));
        else resolve({ ms: performance.now() - t0, ttfb: ttfb ?? performance.now() - t0 });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** `total` requests from `concurrency` clients; returns latencies, time-to-first-byte, req/s and
 * workerd's CPU per request. */
async function load(url, init, concurrency, total, pids) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  // Open every connection first: a new connection's first request is not what is measured.
  await Promise.all(Array.from({ length: concurrency * 2 }, () => request(agent, url, init)));
  const lat = [], ttfb = [];
  let next = 0;
  const cpu0 = workerdCpuMs(pids);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      next++;
      const r = await request(agent, url, init);
      lat.push(r.ms);
      ttfb.push(r.ttfb);
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  const cpuPerRequest = (workerdCpuMs(pids) - cpu0) / total;
  agent.destroy();
  return { latency: stats(lat), ttfb: stats(ttfb), rps: Math.round(total / secs), workerd_cpu_ms_per_request: cpuPerRequest };
}

/** One streamed answer of `events` events with mock send stamps: per-event transit times. */
function stampedStream(url, events, headers = {}) {
  const body = JSON.stringify({ model: 'qwen3-coder-plus', stream: true, mock_stamp: true, mock_events: events, messages: [{ role: 'user', content: 'x' }] });
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const t0 = performance.now();
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: {
      'content-type': 'application/json', authorization: `Bearer ${KEY}`, 'content-length': Buffer.byteLength(body), ...headers,
    } }, (res) => {
      let buf = '';
      let ttfb = null;
      const transit = [];
      res.setEncoding('utf8');
      res.on('data', (d) => {
        const now = performance.timeOrigin + performance.now();
        ttfb ??= performance.now() - t0;
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const m = /"mock_sent_at":([\d.]+)/.exec(ev);
          if (m) transit.push(now - Number(m[1]));
        }
      });
      res.on('end', () => resolve({ ttfb, transit }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function startMockProcess() {
  const child = spawn(process.execPath, [path.join(ROOT, 'tests/mock/upstream.mjs'), '--port', '0', '--chunk-delay-ms', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', () => reject(new Error('mock exited')));
  });
  return { url, stop: () => child.kill() };
}

async function startWorker(mockUrl, persist) {
  const t0 = performance.now();
  const mf = new Miniflare({
    ...workerOptions(
      { QWEN_OAUTH_BASE_URL: mockUrl, QWEN_API_BASE_URL: mockUrl, OPENAI_API_KEYS: KEY, ADMIN_SECRET_KEY: 'admin-bench' },
      persist,
    ),
    // The Worker's log lines (one per request) are read and dropped, as a log drain would.
    handleRuntimeStdio(stdout, stderr) {
      stdout.resume();
      stderr.resume();
    },
  });
  const url = (await mf.ready).toString().replace(/\/$/, '');
  // Time to the first answered request (a route that needs no KV and no upstream).
  await new Promise((resolve, reject) => http.get(`${url}/health`, (res) => { res.resume(); res.on('end', resolve); }).on('error', reject));
  return { mf, url, startMs: performance.now() - t0 };
}

async function kvOps(url) {
  const res = await fetch(`${url}/admin/health?format=json`, { headers: { authorization: 'Bearer admin-bench' } });
  return (await res.json()).kv_operations;
}
const minus = (a, b) => Object.fromEntries(Object.keys(a).map((k) => [k, a[k] - b[k]]));

// ------------------------------------------------------------------ the run

const results = { machine: { cpus: (await import('node:os')).cpus().length, node: process.version }, config: { requests: N, budget_service_ms: BUDGET_SERVICE_MS, events: EVENTS, chunk_ms: CHUNK_MS, quick: QUICK }, at: new Date().toISOString() };

// Pin the load generator and the mock to core 0 and workerd to the other cores, so that the
// client's own CPU does not queue the Worker's requests (Linux with taskset; skipped elsewhere).
function pin(pid, cpus) {
  try { spawnSync('taskset', ['-a', '-pc', cpus, String(pid)], { stdio: 'ignore' }); return true; } catch { return false; }
}
const CPUS = (await import('node:os')).cpus().length;
const PIN = CPUS >= 2 && !opt['no-pin'];
if (PIN) pin(process.pid, '0');
const mock = await startMockProcess();
const ctl = new MockControl(mock.url);
const persist = mkdtempSync(path.join(tmpdir(), 'qwen-bench-kv-'));
const worker = await startWorker(mock.url, persist);
worker.pids = workerdPids();
const proxy = new Miniflare({
  rootPath: ROOT, scriptPath: 'bench/proxy-floor.mjs', modules: true, compatibilityDate: COMPATIBILITY_DATE,
  bindings: { UPSTREAM: mock.url }, host: '127.0.0.1', port: 0,
});
proxy.url = (await proxy.ready).toString().replace(/\/$/, '');
proxy.pids = workerdPids().filter((p) => !worker.pids.includes(p));
if (PIN) {
  for (const pid of workerdPids()) pin(pid, `1-${CPUS - 1}`);
}
results.config.pinned = PIN ? 'client and mock on core 0, workerd on the others' : 'no';
const kv = await worker.mf.getKVNamespace('QWEN_TOKEN_CACHE');
const acct = await ctl.account('bench');
await kv.put('ACCOUNT:bench', JSON.stringify(qwenCodeCreds(acct)));
await kv.put('ACCOUNTS', JSON.stringify(['bench']));

try {
  const direct = `${mock.url}/v1/chat/completions`;
  const through = `${worker.url}/v1/chat/completions`;
  const floor = `${worker.url}/health`;
  const directHeaders = { authorization: `Bearer ${acct.access_token}` };
  // Warm-up: JIT, connections, the isolate's pool cache.
  await load(through, { body: BODY }, 4, QUICK ? 20 : 300);
  await load(direct, { body: BODY, headers: directHeaders }, 4, QUICK ? 20 : 300);

  // 1. Latency overhead, non-streamed and streamed, at two mock service times: 0 ms (the mock
  // answers at once: the runtime saturates, so this measures throughput) and BUDGET_SERVICE_MS
  // (requests arrive at a pace the runtime keeps up with: this measures added latency).
  results.latency = [];
  const viaProxy = `${proxy.url}/`;
  const proxyHeaders = { 'x-upstream-auth': `Bearer ${acct.access_token}` };
  for (const service of [0, BUDGET_SERVICE_MS]) {
    await ctl.config({ service_time_ms: service });
    const n = service === 0 ? N : Math.max(100, Math.round(N / 2));
    for (const [kind, body] of [['non-streamed', BODY], ['streamed', STREAM_BODY]]) {
      let floor1 = null;
      for (const c of LEVELS) {
        const d = await load(direct, { body, headers: directHeaders }, c, n);
        const w = await load(through, { body }, c, n, worker.pids);
        const f = await load(floor, { method: 'GET' }, c, n, worker.pids);
        const px = await load(viaProxy, { body, headers: proxyHeaders }, c, n, proxy.pids);
        // The floor is the vehicle's cost for one request when nothing queues: the trivial route
        // at one client. (At 8 or 32 clients hammering a route that does nothing, the floor
        // itself only measures saturation.)
        floor1 ??= c === 1 ? f : null;
        const fl = floor1 ?? f;
        const own = { p50: w.latency.p50 - d.latency.p50 - fl.latency.p50, p99: w.latency.p99 - d.latency.p99 - fl.latency.p99 };
        const ownTtfb = { p50: w.ttfb.p50 - d.ttfb.p50 - fl.ttfb.p50, p99: w.ttfb.p99 - d.ttfb.p99 - fl.ttfb.p99 };
        results.latency.push({
          service_ms: service, kind, concurrency: c, requests: n, direct: d, worker: w, floor: f, js_proxy: px,
          added: { p50: w.latency.p50 - d.latency.p50, p99: w.latency.p99 - d.latency.p99 },
          own, own_ttfb: ownTtfb,
          above_js_proxy: { p50: w.latency.p50 - px.latency.p50, p99: w.latency.p99 - px.latency.p99, cpu_ms: w.workerd_cpu_ms_per_request - px.workerd_cpu_ms_per_request },
        });
      }
    }
  }
  await ctl.config({ service_time_ms: 0 });

  // 2. Streaming: time to first byte and every chunk's transit, ~EVENTS events.
  await ctl.config({ chunk_delay_ms: CHUNK_MS });
  const sd = await stampedStream(direct, EVENTS, directHeaders);
  const sw = await stampedStream(through, EVENTS);
  await ctl.config({ chunk_delay_ms: 0 });
  const base = stats(sd.transit).p50;
  const added = sw.transit.map((t) => t - base);
  results.streaming = {
    events: sw.transit.length,
    direct: { ttfb_ms: sd.ttfb, transit: stats(sd.transit) },
    worker: { ttfb_ms: sw.ttfb, transit: stats(sw.transit) },
    added_per_chunk: stats(added),
    worst_added_ms: Math.max(...added),
    ttfb_added_ms: sw.ttfb - sd.ttfb,
  };

  // 3. KV operations, counted by the Worker and read through /admin/health.
  const h0 = await kvOps(worker.url);
  const h1 = await kvOps(worker.url);
  const healthCost = minus(h1, h0);
  const steadyN = QUICK ? 50 : 500;
  await load(through, { body: BODY }, 4, steadyN);
  const h2 = await kvOps(worker.url);
  const hot = minus(minus(h2, h1), healthCost);
  const expired = await ctl.account('bench-refresh', { expires_in: -10 });
  await kv.put('ACCOUNT:bench-refresh', JSON.stringify(qwenCodeCreds(expired)));
  await kv.put('ACCOUNTS', JSON.stringify(['bench', 'bench-refresh']));
  const h3 = await kvOps(worker.url);
  await request(new http.Agent(), through, { body: BODY, headers: { 'x-qwen-account': 'bench-refresh' } });
  const h4 = await kvOps(worker.url);
  const refresh = minus(minus(h4, h3), healthCost);
  results.kv = {
    hot_path_per_request: Object.fromEntries(Object.entries(hot).map(([k, v]) => [k, v / steadyN])),
    hot_path_requests: steadyN,
    first_request_on_a_new_account_with_refresh: refresh,
    note: 'per isolate; the pool state is re-read every ACCOUNT_CACHE_TTL_SECS (15 s)',
  };

  // 4. The dialects and client keys: workerd CPU per request of each route at one client (mock
  // service time 0), a 200-event answer passed through and the same answer translated, and the
  // cost of a named key's limits and accounting over a key from the secrets.
  const dsAcct = await ctl.account('bench-ds', { kind: 'dashscope' });
  await kv.put('ACCOUNT:bench-ds', JSON.stringify({ kind: 'dashscope', api_key: dsAcct.api_key, base_url: dsAcct.base_url, anthropic_base_url: dsAcct.anthropic_base_url }));
  await kv.put('ACCOUNTS', JSON.stringify(['bench', 'bench-refresh', 'bench-ds']));
  await request(new http.Agent(), `${worker.url}/admin/reindex`, { headers: { authorization: 'Bearer admin-bench' } }).catch(() => {});
  // "Echo: " and 893 characters chopped by the mock into pieces of 3 to 6: 200 content events.
  const LONG = 'x'.repeat(893);
  const routes = [
    ['chat, 200 events, passed through', '/v1/chat/completions', 'bench', { model: 'qwen3-coder-plus', stream: true, messages: [{ role: 'user', content: LONG }] }],
    ['messages, 200 events, native (passed through)', '/v1/messages', 'bench-ds', { model: 'qwen3-coder-plus', stream: true, max_tokens: 4000, messages: [{ role: 'user', content: LONG }] }],
    ['messages, 200 events, translated from chat', '/v1/messages', 'bench', { model: 'qwen3-coder-plus', stream: true, max_tokens: 4000, messages: [{ role: 'user', content: LONG }] }],
    ['responses, 200 events, translated from chat', '/v1/responses', 'bench', { model: 'qwen3-coder-plus', stream: true, input: LONG }],
    ['completions, 200 events, translated from chat', '/v1/completions', 'bench', { model: 'qwen3-coder-plus', stream: true, max_tokens: 4000, prompt: LONG }],
    ['chat, non-streamed', '/v1/chat/completions', 'bench', { model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'hi' }] }],
    ['messages, non-streamed, translated', '/v1/messages', 'bench', { model: 'qwen3-coder-plus', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }],
    ['responses, non-streamed, translated', '/v1/responses', 'bench', { model: 'qwen3-coder-plus', input: 'hi' }],
    ['embeddings, passed through', '/v1/embeddings', 'bench-ds', { model: 'text-embedding-v4', input: ['a', 'b'] }],
    ['completions, non-streamed, passed through', '/v1/completions', 'bench-ds', { model: 'qwen3-coder-plus', prompt: 'def f(' }],
  ];
  const n4 = QUICK ? 30 : 300;
  results.dialects = [];
  {
    const r = await load(viaProxy, { body: JSON.stringify(routes[0][3]), headers: proxyHeaders }, 1, n4, proxy.pids);
    results.dialects.push({ name: 'floor: 5-line JS proxy, chat, 200 events', route: '/', account: 'bench', ...r });
  }
  for (const [name, route, account, body] of routes) {
    const r = await load(`${worker.url}${route}`, { body: JSON.stringify(body), headers: { 'x-qwen-account': account } }, 1, n4, worker.pids);
    results.dialects.push({ name, route, account, ...r });
  }
  const named = JSON.parse(await new Promise((resolve, reject) => {
    const payload = JSON.stringify({ name: 'bench', limits: { requests_per_minute: 1000000, tokens_per_day: 1e12 } });
    const u = new URL(`${worker.url}/admin/keys`);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { authorization: 'Bearer admin-bench', 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      let t = '';
      res.on('data', (d) => { t += d; });
      res.on('end', () => resolve(t));
    });
    req.on('error', reject);
    req.end(payload);
  }));
  results.keys = [];
  for (const [name, key] of [['key from the secrets', KEY], ['named key with limits', named.key]]) {
    const r = await load(through, { body: BODY, headers: { authorization: `Bearer ${key}` } }, 8, QUICK ? 60 : 1000, worker.pids);
    results.keys.push({ name, ...r });
  }
  // What accounting costs: the same Worker without its LEDGER binding records no usage (it
  // still logs each request), against this one, at 8 clients, mock service time 0.
  {
    const bare = workerOptions(
      { QWEN_OAUTH_BASE_URL: mock.url, QWEN_API_BASE_URL: mock.url, OPENAI_API_KEYS: KEY, ADMIN_SECRET_KEY: 'admin-bench' },
    );
    const before = workerdPids();
    const noLedger = new Miniflare({
      ...bare,
      durableObjects: { POOL_WRITER: 'PoolWriter' },
      handleRuntimeStdio(stdout, stderr) { stdout.resume(); stderr.resume(); },
    });
    const url = (await noLedger.ready).toString().replace(/\/$/, '');
    const pids = workerdPids().filter((p) => !before.includes(p));
    if (PIN) for (const pid of pids) pin(pid, `1-${CPUS - 1}`);
    const k = await noLedger.getKVNamespace('QWEN_TOKEN_CACHE');
    await k.put('ACCOUNT:bench', JSON.stringify(qwenCodeCreds(acct)));
    await k.put('ACCOUNTS', JSON.stringify(['bench']));
    try {
      const n = QUICK ? 60 : 1000;
      await load(`${url}/v1/chat/completions`, { body: BODY }, 4, QUICK ? 20 : 200);
      const off = await load(`${url}/v1/chat/completions`, { body: BODY }, 8, n, pids);
      const on = await load(through, { body: BODY }, 8, n, worker.pids);
      results.accounting = { without_ledger: off, with_ledger: on };
    } finally {
      await noLedger.dispose();
    }
  }
  // The same work in plain JavaScript (bench/same-work-worker.mjs: what this Worker does for a
  // non-streamed chat request, without WebAssembly), beside the JS proxy and this Worker, at 8
  // clients, mock service time 0: how much of the cost is the work and how much ours.
  {
    const before = workerdPids();
    const same = new Miniflare({
      rootPath: ROOT, scriptPath: 'bench/same-work-worker.mjs', modules: true, compatibilityDate: COMPATIBILITY_DATE,
      bindings: { UPSTREAM: mock.url, CLIENT_KEY: KEY, ...ledgerSql(ROOT) }, durableObjects: { LEDGER: { className: 'Ledger', useSQLite: true } },
      host: '127.0.0.1', port: 0, handleRuntimeStdio(stdout, stderr) { stdout.resume(); stderr.resume(); },
    });
    const url = `${(await same.ready).toString().replace(/\/$/, '')}/v1/chat/completions`;
    const pids = workerdPids().filter((p) => !before.includes(p));
    if (PIN) for (const pid of pids) pin(pid, `1-${CPUS - 1}`);
    try {
      const n = QUICK ? 60 : 1000;
      await load(url, { body: BODY, headers: proxyHeaders }, 4, QUICK ? 20 : 200);
      const sameWork = await load(url, { body: BODY, headers: proxyHeaders }, 8, n, pids);
      const jsProxy = await load(viaProxy, { body: BODY, headers: proxyHeaders }, 8, n, proxy.pids);
      const ours = await load(through, { body: BODY }, 8, n, worker.pids);
      results.same_work = { same_work_js: sameWork, js_proxy: jsProxy, worker: ours };
    } finally {
      await same.dispose();
    }
  }
  // 64 streamed clients at once: every answer complete, and the rate against the JS proxy's.
  const wide = QUICK ? 128 : 1280;
  const w64 = await load(through, { body: STREAM_BODY }, 64, wide, worker.pids).catch((e) => ({ error: String(e) }));
  const p64 = await load(viaProxy, { body: STREAM_BODY, headers: proxyHeaders }, 64, wide, proxy.pids).catch((e) => ({ error: String(e) }));
  results.concurrency64 = { worker: w64, js_proxy: p64 };

  // 5. Size and start. A new isolate's first model request (its account and pool read from KV,
  // the glue's first runs) against its second, workerd CPU from /proc (10 ms ticks, so the mean
  // of several fresh Workers); the start itself (compiling the WebAssembly) comes before both.
  const cold = { first: [], second: [], first_main: [], second_main: [], floor_first: [], floor_first_main: [] };
  for (let i = 0; i < (QUICK ? 2 : 8); i++) {
    // The same for the five-line proxy: what any Worker's first request costs under Miniflare.
    const freshFloor = new Miniflare({
      rootPath: ROOT, scriptPath: 'bench/proxy-floor.mjs', modules: true, compatibilityDate: COMPATIBILITY_DATE,
      bindings: { UPSTREAM: mock.url }, host: '127.0.0.1', port: 0,
    });
    const beforeFloor = workerdPids();
    try {
      const url = (await freshFloor.ready).toString().replace(/\/$/, '');
      const pids = workerdPids().filter((p) => !beforeFloor.includes(p));
      const c0 = workerdCpuMs(pids);
      const m0 = mainThreadCpuMs(pids);
      await request(new http.Agent(), `${url}/`, { body: BODY, headers: proxyHeaders });
      cold.floor_first.push(workerdCpuMs(pids) - c0);
      cold.floor_first_main.push(mainThreadCpuMs(pids) - m0);
    } finally {
      await freshFloor.dispose();
    }
    const fresh = new Miniflare({
      ...workerOptions({ QWEN_OAUTH_BASE_URL: mock.url, QWEN_API_BASE_URL: mock.url, OPENAI_API_KEYS: KEY }),
      handleRuntimeStdio(stdout, stderr) { stdout.resume(); stderr.resume(); },
    });
    const before = workerdPids();
    try {
      const url = (await fresh.ready).toString().replace(/\/$/, '');
      const pids = workerdPids().filter((p) => !before.includes(p));
      const k = await fresh.getKVNamespace('QWEN_TOKEN_CACHE');
      await k.put('ACCOUNT:bench', JSON.stringify(qwenCodeCreds(acct)));
      await k.put('ACCOUNTS', JSON.stringify(['bench']));
      const agent = new http.Agent({ keepAlive: true });
      for (const which of ['first', 'second']) {
        const c0 = workerdCpuMs(pids);
        const m0 = mainThreadCpuMs(pids);
        await request(agent, `${url}/v1/chat/completions`, { body: BODY });
        cold[which].push(workerdCpuMs(pids) - c0);
        cold[`${which}_main`].push(mainThreadCpuMs(pids) - m0);
      }
      agent.destroy();
    } finally {
      await fresh.dispose();
    }
  }
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  results.start = {
    miniflare_start_to_first_answer_ms: worker.startMs,
    first_request_workerd_cpu_ms: mean(cold.first),
    second_request_workerd_cpu_ms: mean(cold.second),
    first_request_main_thread_cpu_ms: mean(cold.first_main),
    floor_first_request_workerd_cpu_ms: mean(cold.floor_first),
    floor_first_request_main_thread_cpu_ms: mean(cold.floor_first_main),
    second_request_main_thread_cpu_ms: mean(cold.second_main),
    fresh_workers: cold.first.length,
  };
  const wasm = readFileSync(path.join(ROOT, 'build/index_bg.wasm')).length;
  const js = readFileSync(path.join(ROOT, 'build/index.js')).length;
  results.size = { wasm_bytes: wasm, js_bytes: js };
  if (!QUICK) {
    const out = mkdtempSync(path.join(tmpdir(), 'qwen-bench-deploy-'));
    try {
      const { stdout } = await run('bash', ['-c', `source scripts/env.sh && wrangler deploy --dry-run --outdir '${out}' 2>&1`], { cwd: ROOT, maxBuffer: 1 << 24 });
      const m = /Total Upload:\s*([\d.]+)\s*KiB\s*\/\s*gzip:\s*([\d.]+)\s*KiB/.exec(stdout);
      if (m) Object.assign(results.size, { upload_kib: Number(m[1]), upload_gzip_kib: Number(m[2]) });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }

  // 6. Native micro-benchmarks of the pure hot paths (cargo bench).
  if (!QUICK) {
    const { stdout } = await run('cargo', ['bench', '--quiet', '--bench', 'hot_paths'], { cwd: ROOT, maxBuffer: 1 << 24 });
    results.micro = Object.fromEntries([...stdout.matchAll(/^bench (.+?)\s+([\d.]+) ns\/op/gm)].map((m) => [m[1], Number(m[2])]));
  }
} finally {
  await proxy.dispose();
  await worker.mf.dispose();
  mock.stop();
  rmSync(persist, { recursive: true, force: true });
}

// ------------------------------------------------------------------ report

const budget = [];
for (const row of results.latency.filter((r) => r.concurrency === 8 && r.service_ms === BUDGET_SERVICE_MS)) {
  budget.push([`own added latency p50, ${row.kind}, 8 clients`, row.own.p50, '≤ 1 ms']);
  budget.push([`own added latency p99, ${row.kind}, 8 clients`, row.own.p99, '≤ 3 ms']);
}
const ttfbRow = results.latency.find((r) => r.kind === 'streamed' && r.concurrency === 1 && r.service_ms === BUDGET_SERVICE_MS);
budget.push(['own added time to first streamed byte (p50, 1 client)', ttfbRow.own_ttfb.p50, '≤ 1 ms']);
budget.push(['worst added delay of any chunk (ms)', results.streaming.worst_added_ms, 'no chunk held back']);
budget.push(['KV reads per request (steady state)', results.kv.hot_path_per_request.reads, '≤ 1']);
budget.push(['KV writes + lists per request (steady state)', results.kv.hot_path_per_request.writes + results.kv.hot_path_per_request.lists, '0']);
if (results.size.upload_gzip_kib) budget.push(['compressed upload (KiB)', results.size.upload_gzip_kib, '< 1024']);
results.budget = budget.map(([what, value, limit]) => ({ what, value: r2(value), limit }));

console.log(`\nqwen-worker benchmark — ${results.at}, ${results.machine.cpus} cores, pinning: ${results.config.pinned}`);
for (const service of [0, BUDGET_SERVICE_MS]) {
  const rows = results.latency.filter((r) => r.service_ms === service);
  console.log(`\nlatency in ms, mock service time ${service} ms, ${rows[0].requests} requests per cell${service === 0 ? ' (saturates the runtime: a throughput test)' : ''}`);
  console.log('                 clients  direct p50/p99   worker p50/p90/p99      floor p50/p99  js-proxy p50/p99  own p50  own p99  req/s  workerd CPU ms/req: worker floor js-proxy');
  for (const r of rows) {
    const two = (s) => `${r2(s.p50)}/${r2(s.p99)}`;
    console.log(`${r.kind.padEnd(16)} ${String(r.concurrency).padStart(7)}  ${two(r.direct.latency).padEnd(16)} ${`${r2(r.worker.latency.p50)}/${r2(r.worker.latency.p90)}/${r2(r.worker.latency.p99)}`.padEnd(23)} ${two(r.floor.latency).padEnd(14)} ${two(r.js_proxy.latency).padEnd(17)} ${String(r2(r.own.p50)).padStart(7)} ${String(r2(r.own.p99)).padStart(8)} ${String(r.worker.rps).padStart(6)}  ${r2(r.worker.workerd_cpu_ms_per_request)} ${r2(r.floor.workerd_cpu_ms_per_request)} ${r2(r.js_proxy.workerd_cpu_ms_per_request)}`);
  }
}
const st = results.streaming;
console.log(`\nstreaming, ${st.events} events: ttfb direct ${r2(st.direct.ttfb_ms)} ms, worker ${r2(st.worker.ttfb_ms)} ms; per-chunk transit direct p50 ${r2(st.direct.transit.p50)} ms, worker p50 ${r2(st.worker.transit.p50)} / p99 ${r2(st.worker.transit.p99)} ms; worst added ${r2(st.worst_added_ms)} ms`);
console.log(`KV per request (steady state, ${results.kv.hot_path_requests} requests): ${JSON.stringify(results.kv.hot_path_per_request)}; first request on a new account, with its refresh: ${JSON.stringify(results.kv.first_request_on_a_new_account_with_refresh)}`);
console.log(`size: wasm ${results.size.wasm_bytes} B, js ${results.size.js_bytes} B${results.size.upload_gzip_kib ? `, wrangler upload ${results.size.upload_kib} KiB / gzip ${results.size.upload_gzip_kib} KiB` : ''}; start to first answer ${r2(results.start.miniflare_start_to_first_answer_ms)} ms (Miniflare + workerd)`);
console.log(`a new Worker's first chat request: workerd CPU ${r2(results.start.first_request_workerd_cpu_ms)} ms (main thread ${r2(results.start.first_request_main_thread_cpu_ms)}), its second ${r2(results.start.second_request_workerd_cpu_ms)} ms (main thread ${r2(results.start.second_request_main_thread_cpu_ms)}); the JS proxy's first ${r2(results.start.floor_first_request_workerd_cpu_ms)} ms (main thread ${r2(results.start.floor_first_request_main_thread_cpu_ms)}); mean of ${results.start.fresh_workers}, 10 ms ticks`);
console.log('\nroutes at one client, mock service time 0 ms: workerd CPU ms per request, p50 ms');
for (const d of results.dialects) console.log(`  ${d.name.padEnd(48)} ${String(r2(d.workerd_cpu_ms_per_request)).padStart(6)}  ${r2(d.latency.p50)}`);
console.log('\nclient keys, non-streamed, 8 clients: workerd CPU ms per request, p50 ms, req/s');
for (const k of results.keys) console.log(`  ${k.name.padEnd(48)} ${String(r2(k.workerd_cpu_ms_per_request)).padStart(6)}  ${r2(k.latency.p50)}  ${k.rps}`);
const acc = results.accounting;
console.log(`\nusage accounting, non-streamed, 8 clients: workerd CPU ms per request without the ledger ${r2(acc.without_ledger.workerd_cpu_ms_per_request)}, with it ${r2(acc.with_ledger.workerd_cpu_ms_per_request)}; p50 ${r2(acc.without_ledger.latency.p50)} / ${r2(acc.with_ledger.latency.p50)} ms`);
const sw = results.same_work;
console.log(`the same work in plain JavaScript, non-streamed, 8 clients: workerd CPU ms per request ${r2(sw.same_work_js.workerd_cpu_ms_per_request)} (JS proxy ${r2(sw.js_proxy.workerd_cpu_ms_per_request)}, this Worker ${r2(sw.worker.workerd_cpu_ms_per_request)}); req/s ${sw.same_work_js.rps} (${sw.js_proxy.rps}, ${sw.worker.rps})`);
const c64 = results.concurrency64;
console.log(`\n64 streamed clients: worker ${c64.worker.error ?? `${c64.worker.rps} req/s, p50 ${r2(c64.worker.latency.p50)} ms`}; JS proxy ${c64.js_proxy.error ?? `${c64.js_proxy.rps} req/s`}`);
if (results.micro) {
  console.log('\nnative hot paths (ns per call):');
  for (const [k, v] of Object.entries(results.micro)) console.log(`  ${k.padEnd(44)} ${v}`);
}
console.log('\nbudget:');
for (const b of results.budget) console.log(`  ${b.what.padEnd(58)} ${String(b.value).padStart(10)}   (${b.limit})`);

mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
const file = path.join(ROOT, 'bench/results', `${results.at.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify(results, null, 2));
writeFileSync(path.join(ROOT, 'bench/results/latest.json'), JSON.stringify(results, null, 2));
console.log(`\nwritten ${path.relative(ROOT, file)}`);
process.exit(0);
