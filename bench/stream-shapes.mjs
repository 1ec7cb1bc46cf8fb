#!/usr/bin/env node
// What handing a stream on costs workerd, by shape: passed as it is (native), teed with
// JavaScript reading one branch, piped into an IdentityTransformStream, teed and piped with the
// other branch drained every 250 ms (what the gateway does with a stream it passes on; with
// `peek-`, after a first tee whose other branch gave up its first chunk and was cancelled),
// re-made in JavaScript (a pull stream, chunks written into an IdentityTransformStream one by
// one or gathered per turn of the event loop as the translators do, a TransformStream). The same
// 200-event answer from the mock each time; workerd's CPU per request (user + system) from
// /proc. The figures explain where the gateway's per-chunk cost comes from (docs/PERFORMANCE.md).
//
//   node bench/stream-shapes.mjs [--requests N] [--chunk-ms MS]
import http from 'node:http';
import { parseArgs } from 'node:util';
import { Miniflare } from 'miniflare';
import { startMock } from '../tests/mock/upstream.mjs';
import { MockControl, ROOT, COMPATIBILITY_DATE } from '../tests/harness.mjs';
import { workerdStats } from './proc.mjs';

/** User and system ms of this process's workerd children. */
const cpu = () => workerdStats().reduce((t, s) => ({ user: t.user + s.userMs, sys: t.sys + s.systemMs }), { user: 0, sys: 0 });

const { values: opt } = parseArgs({ options: { requests: { type: 'string', default: '200' }, 'chunk-ms': { type: 'string', default: '0' } } });
const N = Number(opt.requests);
const mock = await startMock({ chunkDelayMs: Number(opt['chunk-ms']) });
const acct = await new MockControl(mock.url).account('shapes');
const mf = new Miniflare({
  rootPath: ROOT, scriptPath: 'bench/stream-shapes-worker.mjs', modules: true, compatibilityDate: COMPATIBILITY_DATE,
  bindings: { UPSTREAM: mock.url }, host: '127.0.0.1', port: 0,
});
const url = (await mf.ready).toString().replace(/\/$/, '');

// "Echo: " and 893 characters, chopped by the mock into 200 content events.
const body = JSON.stringify({ model: 'qwen3-coder-plus', stream: true, messages: [{ role: 'user', content: 'x'.repeat(893) }] });
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const one = (shape) => new Promise((resolve, reject) => {
  const u = new URL(`${url}/${shape}`);
  const req = http.request({ agent, host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: {
    'x-upstream-auth': `Bearer ${acct.access_token}`, 'content-type': 'application/json',
  } }, (res) => { res.resume(); res.on('end', resolve); });
  req.on('error', reject);
  req.end(body);
});

console.log(`stream shapes: ${N} requests each, 200-event answers, mock chunk delay ${opt['chunk-ms']} ms`);
console.log('shape                        workerd CPU ms/request (user + system)   ms/request');
try {
  for (const shape of (process.env.SHAPES ?? 'native,tee-and-read,pipe-to-identity,tee-pipe-watch,js-pull,js-write-identity,js-write-behind,js-transform').split(',')) {
    for (let i = 0; i < Math.min(20, N); i++) await one(shape);
    const c0 = cpu();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await one(shape);
    const c1 = cpu();
    const user = (c1.user - c0.user) / N;
    const sys = (c1.sys - c0.sys) / N;
    console.log(`${shape.padEnd(28)} ${(user + sys).toFixed(2).padStart(6)} (${user.toFixed(2)} + ${sys.toFixed(2)})               ${((performance.now() - t0) / N).toFixed(2)}`);
  }
} finally {
  await mf.dispose();
  await mock.close();
}
