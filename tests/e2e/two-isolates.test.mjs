// Two isolates of the Worker on one KV namespace and one pool writer: quota marks recorded by
// both at the same moment all survive (KV has no compare-and-swap; the writer serializes).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Miniflare } from 'miniflare';
import { startMock } from '../mock/upstream.mjs';
import { MockControl, qwenCodeCreds, workerOptions, CLIENT_KEY } from '../harness.mjs';

const N = 24;
let mock, ctl, mf, workers;

before(async () => {
  mock = await startMock({ chunkDelayMs: 1 });
  ctl = new MockControl(mock.url);
  const bindings = {
    QWEN_OAUTH_BASE_URL: mock.url,
    QWEN_API_BASE_URL: mock.url,
    OPENAI_API_KEYS: CLIENT_KEY,
    ACCOUNT_CACHE_TTL_SECS: '60',
  };
  const base = workerOptions(bindings);
  const common = {
    rootPath: base.rootPath, scriptPath: base.scriptPath, modules: base.modules, modulesRules: base.modulesRules,
    compatibilityDate: base.compatibilityDate, bindings,
    // One namespace for both, as in production.
    kvNamespaces: { QWEN_TOKEN_CACHE: 'shared-namespace' },
  };
  mf = new Miniflare({
    host: '127.0.0.1',
    port: 0,
    workers: [
      { ...common, name: 'a', routes: ['a.test/*'], durableObjects: { POOL_WRITER: 'PoolWriter', LEDGER: { className: 'Ledger', useSQLite: true } } },
      { ...common, name: 'b', routes: ['b.test/*'], durableObjects: { POOL_WRITER: { className: 'PoolWriter', scriptName: 'a' }, LEDGER: { className: 'Ledger', scriptName: 'a', useSQLite: true } } },
    ],
  });
  await mf.ready;
  workers = [await mf.getWorker('a'), await mf.getWorker('b')];
  const kv = await mf.getKVNamespace('QWEN_TOKEN_CACHE', 'a');
  const ids = [];
  for (let i = 0; i < N; i++) {
    const id = `q${i}`;
    const acct = await ctl.account(id);
    await ctl.script(id, { default_chat: 'quota' });
    await kv.put(`ACCOUNT:${id}`, JSON.stringify(qwenCodeCreds(acct)));
    ids.push(id);
  }
  await kv.put('ACCOUNTS', JSON.stringify(ids));
});

after(async () => {
  await mf?.dispose();
  await mock?.close();
});

test('quota marks recorded by two isolates at once are all kept', async () => {
  const ask = (w, id) => w.fetch('http://x.test/v1/chat/completions', {
    method: 'POST',
    headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json', 'x-qwen-account': id },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
  }).then(async (r) => { await r.text(); return r.status; });
  // Half the accounts through each isolate, all at once.
  const statuses = await Promise.all(Array.from({ length: N }, (_, i) => ask(workers[i % 2], `q${i}`)));
  assert.ok(statuses.every((s) => s === 429), JSON.stringify(statuses));
  // The writes run after the answers: give them a moment, then KV must name every account.
  const kv = await mf.getKVNamespace('QWEN_TOKEN_CACHE', 'b');
  let failed = [];
  for (let i = 0; i < 50; i++) {
    failed = ((await kv.get('FAILED_ACCOUNTS')) ?? '').split(',').filter(Boolean);
    const status = JSON.parse((await kv.get('ACCOUNT_STATUS')) ?? '{}');
    if (failed.length === N && Object.keys(status).length === N) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(failed.length, N, `FAILED_ACCOUNTS kept ${failed.length} of ${N}`);
  const status = JSON.parse(await kv.get('ACCOUNT_STATUS'));
  assert.equal(Object.keys(status).length, N, 'every account has its last error');
});
