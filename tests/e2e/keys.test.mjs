// Named client keys, limits and usage through the real parts: keys created through the admin
// API (the ledger Durable Object, SQLite, in Miniflare), used by the OpenAI and Anthropic SDKs;
// refusals (model, expiry, rate, budget) in each dialect; usage that matches what upstream
// reported for every endpoint, streamed and not; the budget's overshoot bound under
// concurrency; revocation seen by a second isolate; request logs and security headers.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Miniflare } from 'miniflare';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startStack, assertNoSecretsLogged, storedCredentials, workerOptions, ADMIN_KEY, CLIENT_KEY } from '../harness.mjs';
import { startMock } from '../mock/upstream.mjs';
import { MockControl, ROOT } from '../harness.mjs';
import { execFile } from 'node:child_process';
import { promisify, isDeepStrictEqual } from 'node:util';
import path from 'node:path';

const TOOL = path.join(ROOT, 'target/release/qwen-accounts');
/** The account tool against `url`; resolves {code, stdout, stderr}. */
function tool(url, args) {
  return promisify(execFile)(TOOL, [...args, '--url', url], { env: { ...process.env, ADMIN_SECRET_KEY: ADMIN_KEY } })
    .then(({ stdout, stderr }) => ({ code: 0, stdout, stderr }), (e) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }));
}

const ADMIN = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function adminOf(url, fetcher = fetch) {
  return async (method, p, body) => {
    const res = await fetcher(`${url}${p}`, { method, headers: ADMIN, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, headers: res.headers, body: await res.json() };
  };
}

/** Usage rows of `key` (summed over everything else), once they stop changing. */
async function usageOf(admin, key) {
  let last = null;
  for (let i = 0; i < 40; i++) {
    const { body } = await admin('GET', `/admin/usage?group_by=key&key=${key}`);
    const row = body.rows[0] ?? null;
    if (row && last && JSON.stringify(row) === JSON.stringify(last)) return row;
    last = row;
    await sleep(100);
  }
  return last;
}

describe('named keys: the admin API', () => {
  let s, admin;
  before(async () => {
    s = await startStack({ chunkDelayMs: 2 });
    await s.addAccount('k1', { kind: 'dashscope' });
    admin = adminOf(s.url);
  });
  after(() => s.close());

  test('create shows the key once; list, show, update and revoke never show it', async () => {
    const created = await admin('POST', '/admin/keys', {
      name: 'ci runner', models: ['qwen3-coder-plus', 'claude-*'], expires_at: '2099-01-01T00:00:00Z',
      limits: { requests_per_minute: 30, tokens_per_day: 100000, tokens_per_month: 2000000 },
    });
    assert.equal(created.status, 201);
    const k = created.body;
    assert.match(k.key, /^sk-qw-[a-z2-7]{8}-[A-Za-z0-9_-]{32}$/);
    assert.equal(k.key.slice(6, 14), k.id);
    assert.deepEqual(k.limits, { requests_per_minute: 30, tokens_per_day: 100000, tokens_per_month: 2000000 });
    assert.equal(k.expires_at, '2099-01-01T00:00:00Z');
    const list = await admin('GET', '/admin/keys');
    const listed = list.body.keys.find((x) => x.id === k.id);
    assert.equal(listed.name, 'ci runner');
    assert.deepEqual(listed.spend, { tokens_today: 0, tokens_this_month: 0, requests_today: 0 });
    const one = await admin('GET', `/admin/keys/${k.id}`);
    assert.equal(one.body.models.length, 2);
    const patched = await admin('PATCH', `/admin/keys/${k.id}`, { limits: { tokens_per_day: null }, name: 'renamed' });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.name, 'renamed');
    assert.deepEqual(patched.body.limits, { requests_per_minute: 30, tokens_per_month: 2000000 });
    for (const view of [list, one, patched]) {
      assert.ok(!JSON.stringify(view.body).includes(k.key.slice(15)), 'the key is never shown again');
    }
    const revoked = await admin('DELETE', `/admin/keys/${k.id}`);
    assert.deepEqual(revoked.body, { id: k.id, revoked: true });
    assert.equal((await admin('GET', `/admin/keys/${k.id}`)).body.revoked, true);
    assert.ok(!s.logs.join('').includes(k.key), 'the key never reaches a log');
  });

  test('the account tool creates, lists and revokes keys and prints usage as a table', async () => {
    let r = await tool(s.url, ['key-create', 'from the tool', '--tokens-per-day', '5000', '--models', 'qwen3-coder-plus,fast']);
    assert.equal(r.code, 0, r.stderr);
    const key = r.stdout.trim().split('\n').at(-1);
    const id = key.slice(6, 14);
    assert.match(key, /^sk-qw-/);
    const openai = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: key, maxRetries: 0 });
    const answer = await openai.chat.completions.create({ model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'tool test' }] });
    await usageOf(admin, id);
    r = await tool(s.url, ['keys']);
    assert.match(r.stdout, /^ID\s+NAME\s+MODELS\s+RPM\s+TOKENS\/DAY/m);
    assert.match(r.stdout, new RegExp(`${id}\\s+from the tool\\s+qwen3-coder-plus,fast\\s+-\\s+5000\\s+-\\s+${answer.usage.total_tokens}\\s`));
    assert.ok(!r.stdout.includes(key), 'the list never shows a key');
    r = await tool(s.url, ['key-update', id, '--rpm', '10', '--tokens-per-day', 'none']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((await admin('GET', `/admin/keys/${id}`)).body.limits, { requests_per_minute: 10 });
    r = await tool(s.url, ['usage', '--group-by', 'key']);
    assert.match(r.stdout, /^KEY\s+REQUESTS\s+ERRORS\s+INPUT\s+OUTPUT\s+CACHED\s+REASONING\s+AVG MS/m);
    assert.match(r.stdout, new RegExp(`^${id}\\s+1\\s+0\\s+${answer.usage.prompt_tokens}\\s+${answer.usage.completion_tokens}\\s`, 'm'));
    r = await tool(s.url, ['key-revoke', id]);
    assert.equal(r.code, 0, r.stderr);
    await assert.rejects(openai.chat.completions.create({ model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'x' }] }), (e) => e.status === 401);
    r = await tool(s.url, ['key-create', 'x', '--tokens-per-day', 'lots']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /tokens_per_day must be a whole number/);
  });

  test('bad settings are 400s naming the field; unknown ids 404s; client keys cannot manage keys', async () => {
    for (const [body, param] of [[{}, 'name'], [{ name: 'x', limits: { tokens_per_day: -1 } }, 'limits'], [{ name: 'x', expires_at: 'soon' }, 'expires_at']]) {
      const r = await admin('POST', '/admin/keys', body);
      assert.equal(r.status, 400);
      assert.equal(r.body.error.param, param);
    }
    assert.equal((await admin('GET', '/admin/keys/zzzzzzzz')).status, 404);
    assert.equal((await admin('PATCH', '/admin/keys/not-an-id', {})).status, 404);
    const res = await fetch(`${s.url}/admin/keys`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    assert.equal(res.status, 401);
  });
});

describe('named keys: refusals in every dialect', () => {
  let s, admin;
  before(async () => {
    s = await startStack({ chunkDelayMs: 2 });
    await s.addAccount('r1', { kind: 'dashscope' });
    admin = adminOf(s.url);
  });
  after(async () => {
    assertNoSecretsLogged(s.logs, s.secrets());
    await s.close();
  });

  const newKey = async (settings) => (await admin('POST', '/admin/keys', { name: 't', ...settings })).body;

  /** One request per dialect with `key`; resolves {dialect: error} for those refused. */
  async function eachDialect(key, model = 'qwen3-coder-plus') {
    const openai = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: key, maxRetries: 0 });
    const claude = new Anthropic({ baseURL: s.url, apiKey: key, maxRetries: 0 });
    const out = {};
    const tryIt = async (name, f) => { try { await f(); out[name] = null; } catch (e) { out[name] = e; } };
    await tryIt('chat', () => openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }));
    await tryIt('responses', () => openai.responses.create({ model, input: 'hi' }));
    await tryIt('messages', () => claude.messages.create({ model, max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }));
    return out;
  }

  test('the key works through both SDKs, as Bearer and as x-api-key', async () => {
    const k = await newKey({});
    const r = await eachDialect(k.key);
    assert.deepEqual(r, { chat: null, responses: null, messages: null });
  });

  test('a model the key may not use: 403 in each dialect', async () => {
    const k = await newKey({ models: ['qwen3-coder-flash'] });
    const r = await eachDialect(k.key, 'qwen3-coder-plus');
    for (const [dialect, e] of Object.entries(r)) {
      assert.equal(e?.status, 403, dialect);
      assert.match(e.message, /may not use the model 'qwen3-coder-plus'/, dialect);
    }
    assert.equal(r.messages.error.error.type, 'permission_error');
    assert.equal(r.chat.code, 'model_not_allowed');
    assert.deepEqual(await eachDialect(k.key, 'qwen3-coder-flash'), { chat: null, responses: null, messages: null });
  });

  test('an expired key: 401 in each dialect', async () => {
    const k = await newKey({ expires_at: new Date(Date.now() + 1500).toISOString() });
    await sleep(1700);
    const r = await eachDialect(k.key);
    for (const [dialect, e] of Object.entries(r)) {
      assert.equal(e?.status, 401, dialect);
      assert.match(e.message, /has expired/, dialect);
    }
    assert.equal(r.messages.error.error.type, 'authentication_error');
  });

  test('over the request rate: 429 with Retry-After in each dialect', async () => {
    const k = await newKey({ limits: { requests_per_minute: 3 } });
    const first = await eachDialect(k.key);
    assert.deepEqual(first, { chat: null, responses: null, messages: null });
    const second = await eachDialect(k.key);
    for (const [dialect, e] of Object.entries(second)) {
      assert.equal(e?.status, 429, dialect);
      assert.match(e.message, /limited to 3 requests per minute/, dialect);
      const wait = Number(e.headers.get('retry-after'));
      assert.ok(wait >= 1 && wait <= 60, `${dialect}: retry-after ${wait}`);
    }
    assert.equal(second.messages.error.error.type, 'rate_limit_error');
  });

  test('a spent budget: 429 naming the budget and when it resets, in each dialect', async () => {
    const k = await newKey({ limits: { tokens_per_day: 10 } });
    const openai = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: k.key, maxRetries: 0 });
    await openai.chat.completions.create({ model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'spend it' }] });
    await usageOf(admin, k.id);
    const r = await eachDialect(k.key);
    const midnight = new Date(Math.ceil(Date.now() / 86400000) * 86400000).toISOString().replace('.000Z', 'Z');
    for (const [dialect, e] of Object.entries(r)) {
      assert.equal(e?.status, 429, dialect);
      assert.match(e.message, /budget tokens_per_day \(10 tokens\) is spent/, dialect);
      assert.ok(e.message.includes(midnight), `${dialect}: ${e.message}`);
      assert.ok(Number(e.headers.get('retry-after')) > 0);
    }
    assert.equal(r.chat.code, 'budget_exceeded');
  });

  test('a budget is overshot at most by the requests in flight when it is crossed', async () => {
    const budget = 40;
    const k = await newKey({ limits: { tokens_per_day: budget } });
    const openai = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: k.key, maxRetries: 0 });
    const N = 8;
    const answers = await Promise.allSettled(Array.from({ length: N }, (_, i) =>
      openai.chat.completions.create({ model: 'qwen3-coder-plus', messages: [{ role: 'user', content: `concurrent ${i}` }] })));
    const served = answers.filter((a) => a.status === 'fulfilled').map((a) => a.value.usage.total_tokens);
    const largest = Math.max(...served);
    const row = await usageOf(admin, k.id);
    const spent = row.input_tokens + row.output_tokens;
    assert.equal(spent, served.reduce((a, b) => a + b, 0), 'every answer accounted');
    assert.ok(spent <= budget + N * largest, `overshoot bound: ${spent} <= ${budget} + ${N} x ${largest}`);
    // Once the spend is known, nothing more gets through.
    if (spent >= budget) {
      await assert.rejects(openai.chat.completions.create({ model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'more' }] }), (e) => e.status === 429);
    }
  });
});

describe('usage accounting matches what upstream reported, every endpoint', () => {
  let s, admin;
  before(async () => {
    s = await startStack({ chunkDelayMs: 1 });
    await s.addAccount('ds', { kind: 'dashscope' });
    await s.addAccount('oa');
    admin = adminOf(s.url);
  });
  after(async () => {
    assertNoSecretsLogged(s.logs, s.secrets());
    await s.close();
  });

  const openaiUsage = (u) => ({ input: u.prompt_tokens, output: u.completion_tokens ?? 0, cached: u.prompt_tokens_details?.cached_tokens ?? 0 });
  const anthropicUsage = (u) => ({ input: u.input_tokens + (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0), output: u.output_tokens, cached: u.cache_read_input_tokens ?? 0 });
  const responsesUsage = (u) => ({ input: u.input_tokens, output: u.output_tokens, cached: u.input_tokens_details?.cached_tokens ?? 0 });

  const cases = [
    ['chat', 'ds', async (c) => openaiUsage((await c.openai.chat.completions.create({ model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'count me' }] })).usage)],
    ['chat streamed, usage asked', 'ds', async (c) => {
      let u = null;
      for await (const ch of await c.openai.chat.completions.create({ model: 'qwen3-coder-plus', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'count me' }] })) if (ch.usage) u = ch.usage;
      return openaiUsage(u);
    }],
    ['messages native', 'ds', async (c) => anthropicUsage((await c.claude.messages.create({ model: 'qwen3-coder-plus', max_tokens: 50, messages: [{ role: 'user', content: 'count me' }] })).usage)],
    ['messages native streamed', 'ds', async (c) => anthropicUsage((await c.claude.messages.stream({ model: 'qwen3-coder-plus', max_tokens: 50, messages: [{ role: 'user', content: 'count me' }] }).finalMessage()).usage)],
    ['messages translated', 'oa', async (c) => anthropicUsage((await c.claude.messages.create({ model: 'qwen3-coder-plus', max_tokens: 50, messages: [{ role: 'user', content: 'count me' }] })).usage)],
    ['messages translated streamed', 'oa', async (c) => anthropicUsage((await c.claude.messages.stream({ model: 'qwen3-coder-plus', max_tokens: 50, messages: [{ role: 'user', content: 'count me' }] }).finalMessage()).usage)],
    ['responses', 'ds', async (c) => responsesUsage((await c.openai.responses.create({ model: 'qwen3-coder-plus', input: 'count me' })).usage)],
    ['responses streamed', 'ds', async (c) => responsesUsage((await c.openai.responses.stream({ model: 'qwen3-coder-plus', input: 'count me' }).finalResponse()).usage)],
    ['completions native', 'ds', async (c) => openaiUsage((await c.openai.completions.create({ model: 'qwen3-coder-plus', prompt: 'def f(' })).usage)],
    ['completions translated', 'oa', async (c) => openaiUsage((await c.openai.completions.create({ model: 'qwen3-coder-plus', prompt: 'def f(' })).usage)],
    ['completions translated streamed', 'oa', async (c) => {
      let u = null;
      for await (const ch of await c.openai.completions.create({ model: 'qwen3-coder-plus', prompt: 'def f(', stream: true, stream_options: { include_usage: true } })) if (ch.usage) u = ch.usage;
      return openaiUsage(u);
    }],
    ['embeddings', 'ds', async (c) => openaiUsage((await c.openai.embeddings.create({ model: 'text-embedding-v4', input: ['a', 'bb'] })).usage)],
  ];

  for (const [name, account, run] of cases) {
    test(name, async () => {
      const k = (await admin('POST', '/admin/keys', { name })).body;
      const headers = { 'x-qwen-account': account };
      const c = {
        openai: new OpenAI({ baseURL: `${s.url}/v1`, apiKey: k.key, maxRetries: 0, defaultHeaders: headers }),
        claude: new Anthropic({ baseURL: s.url, apiKey: k.key, maxRetries: 0, defaultHeaders: headers }),
      };
      const reported = await run(c);
      const row = await usageOf(admin, k.id);
      assert.deepEqual(
        { requests: row.requests, errors: row.errors, input: row.input_tokens, output: row.output_tokens, cached: row.cached_tokens },
        { requests: 1, errors: 0, ...reported },
      );
    });
  }

  test('a stream whose client did not ask for usage is accounted, and the client sees no usage chunk', async () => {
    const k = (await admin('POST', '/admin/keys', { name: 'hidden' })).body;
    const openai = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: k.key, maxRetries: 0, defaultHeaders: { 'x-qwen-account': 'ds' } });
    const chunks = [];
    for await (const ch of await openai.chat.completions.create({ model: 'qwen3-coder-plus', stream: true, messages: [{ role: 'user', content: 'count me too' }] })) chunks.push(ch);
    assert.ok(chunks.every((ch) => ch.choices.length === 1 && !ch.usage), 'no usage chunk reached the client');
    const [sent] = (await s.mock.requests()).slice(-1);
    assert.equal(sent.body.stream_options.include_usage, true);
    const row = await usageOf(admin, k.id);
    assert.ok(row.input_tokens > 0 && row.output_tokens > 0, JSON.stringify(row));
  });

  test('requests answered together, their usage written in one batch, are each counted', async () => {
    const k = (await admin('POST', '/admin/keys', { name: 'together' })).body;
    const openai = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: k.key, maxRetries: 0, defaultHeaders: { 'x-qwen-account': 'ds' } });
    // Six at once (one batch of usage events): four to one model, two to another, of different
    // lengths, so that a row counted once per batch or summed wrongly shows.
    const asks = [['qwen3-coder-plus', 'a'], ['qwen3-coder-flash', 'bb bb'], ['qwen3-coder-plus', 'ccc ccc ccc'],
      ['qwen3-coder-plus', 'dddd'], ['qwen3-coder-flash', 'e e e e e e e'], ['qwen3-coder-plus', 'ffffff ff']];
    const answers = await Promise.all(asks.map(([model, content]) => openai.chat.completions.create({ model, messages: [{ role: 'user', content }] })));
    const expected = {};
    asks.forEach(([model], i) => {
      const e = expected[model] ??= { requests: 0, input: 0, output: 0 };
      e.requests += 1;
      e.input += answers[i].usage.prompt_tokens;
      e.output += answers[i].usage.completion_tokens;
    });
    let got = null;
    for (let i = 0; i < 40; i++) {
      const rows = (await admin('GET', `/admin/usage?group_by=model&key=${k.id}`)).body.rows;
      got = Object.fromEntries(rows.map((r) => [r.model, { requests: r.requests, input: r.input_tokens, output: r.output_tokens }]));
      if (isDeepStrictEqual(got, expected)) break;
      await sleep(100);
    }
    assert.deepEqual(got, expected);
  });

  test('/admin/usage groups by key, model, account and day', async () => {
    for (const group of ['key', 'model', 'account', 'day']) {
      const { status, body } = await admin('GET', `/admin/usage?group_by=${group}`);
      assert.equal(status, 200);
      assert.ok(body.rows.length > 0);
      for (const row of body.rows) {
        assert.ok(group in row, `${group} in ${JSON.stringify(row)}`);
        for (const f of ['requests', 'errors', 'input_tokens', 'output_tokens', 'cached_tokens', 'reasoning_tokens']) assert.equal(typeof row[f], 'number');
      }
    }
    const byAccount = (await admin('GET', '/admin/usage?group_by=account')).body.rows.map((r) => r.account).sort();
    assert.deepEqual(byAccount, ['ds', 'oa']);
    const models = (await admin('GET', '/admin/usage?group_by=model')).body.rows.map((r) => r.model);
    assert.ok(models.includes('text-embedding-v4') && models.includes('qwen3-coder-plus'));
    assert.equal((await admin('GET', '/admin/usage?group_by=colour')).status, 400);
  });

  test('every answer has an x-request-id that its one log line carries, and the security headers', async () => {
    const res = await fetch(`${s.url}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'secret words in a prompt' }] }),
    });
    await res.json();
    const bad = await fetch(`${s.url}/v1/nothing`);
    for (const r of [res, bad]) {
      assert.match(r.headers.get('x-request-id'), /^[0-9a-f-]{36}$/);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
      assert.equal(r.headers.get('x-frame-options'), 'DENY');
    }
    await sleep(300);
    const lines = s.logs.join('').split('\n').filter((l) => l.includes('"type":"request"')).map((l) => JSON.parse(l.slice(l.indexOf('{'))));
    const mine = lines.filter((l) => l.request_id === res.headers.get('x-request-id'));
    assert.equal(mine.length, 1);
    const [line] = mine;
    assert.equal(line.route, 'chat');
    assert.equal(line.status, 200);
    assert.equal(line.model, 'qwen3-coder-plus');
    assert.ok(line.account && line.attempts >= 1 && line.latency_ms >= 0 && line.input_tokens > 0);
    assert.match(line.key, /^env-[0-9a-f]{10}$/);
    assert.ok(lines.some((l) => l.request_id === bad.headers.get('x-request-id') && l.status === 404));
    assert.ok(!s.logs.join('').includes('secret words in a prompt'), 'no message content in the logs');
  });
});

describe('revocation reaches a second isolate', () => {
  let mock, mf, a, b;
  before(async () => {
    mock = await startMock({ chunkDelayMs: 1 });
    const ctl = new MockControl(mock.url);
    const bindings = { QWEN_OAUTH_BASE_URL: mock.url, QWEN_API_BASE_URL: mock.url, OPENAI_API_KEYS: CLIENT_KEY, ADMIN_SECRET_KEY: ADMIN_KEY };
    const base = workerOptions(bindings);
    const common = {
      rootPath: base.rootPath, scriptPath: base.scriptPath, modules: base.modules, modulesRules: base.modulesRules,
      compatibilityDate: base.compatibilityDate, bindings, kvNamespaces: { QWEN_TOKEN_CACHE: 'shared' },
    };
    mf = new Miniflare({
      host: '127.0.0.1', port: 0,
      workers: [
        { ...common, name: 'a', routes: ['a.test/*'], durableObjects: { POOL_WRITER: 'PoolWriter', LEDGER: { className: 'Ledger', useSQLite: true } } },
        { ...common, name: 'b', routes: ['b.test/*'], durableObjects: { POOL_WRITER: { className: 'PoolWriter', scriptName: 'a' }, LEDGER: { className: 'Ledger', scriptName: 'a', useSQLite: true } } },
      ],
    });
    await mf.ready;
    [a, b] = [await mf.getWorker('a'), await mf.getWorker('b')];
    const acct = await ctl.account('iso', { kind: 'dashscope' });
    const kv = await mf.getKVNamespace('QWEN_TOKEN_CACHE', 'a');
    await kv.put('ACCOUNT:iso', JSON.stringify(storedCredentials(acct, mock.url)));
    await kv.put('ACCOUNTS', JSON.stringify(['iso']));
  });
  after(async () => {
    await mf?.dispose();
    await mock?.close();
  });

  test('a key revoked through one isolate is refused by the other within 5 seconds', async () => {
    const admin = adminOf('http://a.test', (u, init) => a.fetch(u, init));
    const k = (await admin('POST', '/admin/keys', { name: 'roaming' })).body;
    const ask = async () => (await b.fetch('http://b.test/v1/chat/completions', {
      method: 'POST', headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'hi' }] }),
    })).status;
    assert.equal(await ask(), 200, 'isolate b knows the key');
    await admin('DELETE', `/admin/keys/${k.id}`);
    const revokedAt = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - revokedAt < 8000) {
      status = await ask();
      if (status === 200) await sleep(200);
    }
    const took = Date.now() - revokedAt;
    assert.equal(status, 401);
    assert.ok(took <= 5500, `refused after ${took} ms`);
  });
});

describe('REQUEST_LOG = "off"', () => {
  let s;
  before(async () => {
    s = await startStack({ chunkDelayMs: 2, vars: { REQUEST_LOG: 'off', FIRST_BYTE_TIMEOUT_MS: '5 s' } });
    await s.addAccount('oa');
  });
  after(() => s?.close());

  test('no request lines, usage still recorded, warnings still logged', async () => {
    const res = await fetch(`${s.url}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 200);
    await res.json();
    assert.equal((await fetch(`${s.url}/v1/nothing`)).status, 404);
    const admin = adminOf(s.url);
    let rows = [];
    for (let i = 0; i < 40 && !rows.length; i++) {
      rows = (await admin('GET', '/admin/usage?group_by=key')).body.rows;
      if (!rows.length) await sleep(100);
    }
    assert.equal(rows.length, 1, `usage recorded: ${JSON.stringify(rows)}`);
    assert.match(rows[0].key, /^env-[0-9a-f]{10}$/);
    assert.ok(rows[0].requests >= 1 && rows[0].input_tokens > 0, JSON.stringify(rows[0]));
    const all = s.logs.join('');
    assert.ok(!all.includes('"type":"request"'), 'no request line');
    assert.ok(!all.includes('API protected by'), 'no start-up line either');
    assert.match(all, /configuration: FIRST_BYTE_TIMEOUT_MS must be/, 'a bad var is still reported');
  });
});
