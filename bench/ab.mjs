#!/usr/bin/env node
// Two (or more) builds of the Worker side by side in one sitting: each build's workerd CPU per
// request (user + system, from /proc) and time per request, route by route, one client, the
// builds taken in turn twice (A B A B) so that a drift of the machine shows as a drift, not as a
// difference. For a before/after of a change:
//
//   git stash; bash scripts/build.sh; cp -r build .ab/before
//   git stash pop; bash scripts/build.sh; cp -r build .ab/after
//   node bench/ab.mjs [--requests N] [--chunk-ms MS] [--routes chat,messages,...] .ab/before .ab/after
//   node bench/ab.mjs --cold K .ab/before .ab/after
//
// The build directories must lie inside the repository (workerd reads no module outside it).
// Routes: chat, messages, responses, completions (200-event streams; the last three translated
// from chat), chat-whole (non-streamed) and chat-large (non-streamed, 100 KB of request).
// --chunk-ms spaces the mock's events (0: back to back). --cold K measures instead, per build, K
// new Workers' first and second non-streamed chat request (the CPU of workerd's main thread, where
// the isolate runs: 10 ms ticks, so the mean of K).
import http from 'node:http';
import { parseArgs } from 'node:util';
import { Miniflare } from 'miniflare';
import { startMock } from '../tests/mock/upstream.mjs';
import { MockControl, qwenCodeCreds, workerOptions } from '../tests/harness.mjs';
import { mainThreadCpuMs, workerdCpuMs, workerdPids } from './proc.mjs';

const { values: opt, positionals: builds } = parseArgs({
  allowPositionals: true,
  options: {
    requests: { type: 'string', default: '200' },
    'chunk-ms': { type: 'string', default: '0' },
    routes: { type: 'string', default: 'chat,messages,responses,completions,chat-whole' },
    cold: { type: 'string' },
  },
});
if (builds.length < 1) {
  console.error('usage: node bench/ab.mjs [--requests N] [--chunk-ms MS] [--routes a,b] BUILD_DIR [BUILD_DIR ...]');
  process.exit(2);
}
const N = Number(opt.requests);
const LONG = 'x'.repeat(893);
const ROUTES = {
  chat: ['/v1/chat/completions', { model: 'qwen3-coder-plus', stream: true, messages: [{ role: 'user', content: LONG }] }],
  messages: ['/v1/messages', { model: 'qwen3-coder-plus', stream: true, max_tokens: 4000, messages: [{ role: 'user', content: LONG }] }],
  responses: ['/v1/responses', { model: 'qwen3-coder-plus', stream: true, input: LONG }],
  completions: ['/v1/completions', { model: 'qwen3-coder-plus', stream: true, max_tokens: 4000, prompt: LONG }],
  'chat-whole': ['/v1/chat/completions', { model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'hi' }] }],
  // A coding agent's turn is large: 100 KB of context, a short answer.
  'chat-large': ['/v1/chat/completions', { model: 'qwen3-coder-plus', max_tokens: 20, messages: [{ role: 'system', content: 'y'.repeat(100_000) }, { role: 'user', content: 'hi' }] }],
};
const routes = opt.routes.split(',');
for (const r of routes) if (!ROUTES[r]) throw new Error(`unknown route ${r}`);

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const one = (url, body) => new Promise((resolve, reject) => {
  const u = new URL(url);
  const req = http.request({ agent, host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: {
    authorization: 'Bearer sk-ab', 'content-type': 'application/json', 'x-qwen-account': 'ab',
  } }, (res) => {
    res.resume();
    res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${u.pathname}: HTTP ${res.statusCode}`))));
  });
  req.on('error', reject);
  req.end(body);
});

const mock = await startMock({ chunkDelayMs: Number(opt['chunk-ms']) });
const ctl = new MockControl(mock.url);
/** A new Worker of the build in `dir`, its account stored: [url, its workerd processes, dispose]. */
async function start(dir) {
  const before = workerdPids();
  const mf = new Miniflare({
    ...workerOptions({ QWEN_OAUTH_BASE_URL: mock.url, QWEN_API_BASE_URL: mock.url, OPENAI_API_KEYS: 'sk-ab' }),
    scriptPath: `${dir}/index.js`,
    handleRuntimeStdio(stdout, stderr) { stdout.resume(); stderr.resume(); },
  });
  try {
    const url = (await mf.ready).toString().replace(/\/$/, '');
    const pids = workerdPids().filter((p) => !before.includes(p));
    const kv = await mf.getKVNamespace('QWEN_TOKEN_CACHE');
    await kv.put('ACCOUNT:ab', JSON.stringify(qwenCodeCreds(await ctl.account('ab'))));
    await kv.put('ACCOUNTS', JSON.stringify(['ab']));
    return [url, pids, () => mf.dispose()];
  } catch (e) {
    await mf.dispose();
    throw e;
  }
}

if (opt.cold) {
  const K = Number(opt.cold);
  const [route, b] = ROUTES['chat-whole'];
  const body = JSON.stringify(b);
  console.log(`${K} new Workers per build and round: workerd main-thread CPU ms of the first and the second non-streamed chat request (means)`);
  const cells = new Map(builds.map((d) => [d, []]));
  try {
    for (let round = 0; round < 2; round++) {
      for (const dir of builds) {
        const first = [];
        const second = [];
        for (let i = 0; i < K; i++) {
          const [url, pids, dispose] = await start(dir);
          try {
            for (const into of [first, second]) {
              const m0 = mainThreadCpuMs(pids);
              await one(url + route, body);
              into.push(mainThreadCpuMs(pids) - m0);
            }
          } finally {
            await dispose();
          }
        }
        const mean = (xs) => (xs.reduce((a, x) => a + x, 0) / xs.length).toFixed(1);
        cells.get(dir).push(`${mean(first)} / ${mean(second)}`);
      }
    }
  } finally {
    await mock.close();
  }
  for (const dir of builds) console.log(`${dir.padEnd(28)} ${cells.get(dir).map((c) => c.padEnd(14)).join('  ')}`);
  process.exit(0);
}

const rows = new Map();
console.log(`${N} requests per route and build, one client, mock events ${opt['chunk-ms']} ms apart: workerd CPU ms per request, ms per request`);
try {
  for (let round = 0; round < 2; round++) {
    for (const dir of builds) {
      const [url, , dispose] = await start(dir);
      try {
        for (const r of routes) {
          const [route, b] = ROUTES[r];
          const body = JSON.stringify(b);
          for (let i = 0; i < Math.min(20, N); i++) await one(url + route, body);
          const c0 = workerdCpuMs();
          const t0 = performance.now();
          for (let i = 0; i < N; i++) await one(url + route, body);
          const cell = `${((workerdCpuMs() - c0) / N).toFixed(2)}  ${((performance.now() - t0) / N).toFixed(1)}`;
          const key = `${r.padEnd(12)} ${dir}`;
          rows.set(key, [...(rows.get(key) ?? []), cell]);
        }
      } finally {
        await dispose();
      }
    }
  }
} finally {
  await mock.close();
}
for (const r of routes) for (const dir of builds) console.log(`${`${r.padEnd(12)} ${dir}`.padEnd(40)} ${rows.get(`${r.padEnd(12)} ${dir}`).map((c) => c.padEnd(14)).join('  ')}`);
