// Accounts and models of 2026 through the real parts: keys of each kind stored through the admin
// API, their capabilities in /admin/health, each Model Studio error class driving the account's
// state, Coding Plan requests carrying the client's own User-Agent, aliases and unknown models in
// each dialect, and /v1/embeddings and /v1/completions (native and translated) through the SDKs.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startStack, assertNoSecretsLogged, ADMIN_KEY, CLIENT_KEY, ROOT } from '../harness.mjs';

const ADMIN = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
const FIXTURES = path.join(ROOT, 'tests/fixtures/qwen/errors');

async function admin(s, method, p, body) {
  const res = await fetch(`${s.url}${p}`, { method, headers: ADMIN, body: body && JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

async function health(s, id) {
  const { body } = await admin(s, 'GET', '/admin/health');
  return body.accounts.find((a) => a.account === id);
}

/** Stores a key of `kind` under `id` through the admin API, its bases at the mock. */
async function storeKey(s, id, kind) {
  const acct = await s.mock.account(id, { kind });
  const record = { kind, api_key: acct.api_key, base_url: acct.base_url };
  if (acct.anthropic_base_url) record.anthropic_base_url = acct.anthropic_base_url;
  const r = await admin(s, 'PUT', `/admin/accounts/${id}`, record);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return acct;
}

describe('keys of 2026 stored through the admin API', () => {
  let s;
  before(async () => {
    s = await startStack({ chunkDelayMs: 2 });
    await storeKey(s, 'ds', 'dashscope');
    await storeKey(s, 'cp', 'coding_plan');
    await storeKey(s, 'tp', 'token_plan');
  });
  after(async () => {
    assertNoSecretsLogged(s.logs, s.secrets());
    await s.close();
  });

  test('a key\'s shape is checked against its kind, with a clear error', async () => {
    const wrong = [
      [{ kind: 'coding_plan', api_key: 'sk-0123456789abcdef' }, /sk-sp-/],
      [{ kind: 'dashscope', api_key: 'sk-sp-0123456789abcdef', region: 'cn' }, /Coding Plan|coding_plan|sk-sp-/],
      [{ kind: 'dashscope', api_key: 'sk-0123456789abcdef' }, /region/],
      [{ kind: 'openai_compatible', api_key: 'k' }, /base_url/],
      [{ kind: 'martian', api_key: 'k' }, /kind/],
    ];
    for (const [record, why] of wrong) {
      const r = await admin(s, 'PUT', '/admin/accounts/bad', record);
      assert.equal(r.status, 400, JSON.stringify(record));
      assert.match(r.body.error.message, why);
    }
    const { body } = await admin(s, 'GET', '/admin/accounts');
    assert.ok(!JSON.stringify(body).includes('"bad"'), 'nothing stored');
  });

  test('/admin/health shows each key with its kind and capabilities, and no key', async () => {
    const ds = await health(s, 'ds');
    const cp = await health(s, 'cp');
    assert.equal(ds.kind, 'dashscope');
    assert.equal(cp.kind, 'coding_plan');
    for (const c of ['chat', 'anthropic', 'embeddings', 'completions']) assert.ok(ds.capabilities.includes(c), `ds ${c}`);
    assert.deepEqual(cp.capabilities.filter((c) => ['embeddings', 'completions'].includes(c)), []);
    assert.ok(cp.capabilities.includes('anthropic'));
    const text = JSON.stringify(await admin(s, 'GET', '/admin/health'));
    for (const secret of s.secrets()) assert.ok(!text.includes(secret));
  });

  test('Coding Plan requests carry the client\'s own User-Agent; others do not need one', async () => {
    await s.mock.clearRequests();
    const ua = 'my-editor/2.0 (interactive)';
    for (const id of ['cp', 'ds']) {
      const r = await fetch(`${s.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json', 'user-agent': ua, 'x-qwen-account': id },
        body: JSON.stringify({ model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'hi' }] }),
      });
      assert.equal(r.status, 200);
    }
    const calls = await s.mock.requests();
    assert.equal(calls.find((c) => c.account === 'cp').headers['user-agent'], ua);
    assert.notEqual(calls.find((c) => c.account === 'ds').headers['user-agent'], ua);
  });

  test('embeddings go only to accounts that serve them', async () => {
    const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
    await s.mock.clearRequests();
    for (let i = 0; i < 4; i++) {
      const e = await client.embeddings.create({ model: 'text-embedding-v4', input: [`text ${i}`, 'more'] });
      assert.equal(e.data.length, 2);
      assert.equal(e.model, 'text-embedding-v4');
    }
    const accounts = new Set((await s.mock.requests()).map((c) => c.account));
    assert.deepEqual([...accounts], ['ds']);
    const pinned = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0, defaultHeaders: { 'x-qwen-account': 'cp' } });
    await assert.rejects(pinned.embeddings.create({ model: 'text-embedding-v4', input: 'x' }), (e) => e.status === 404);
  });
});

/** What the gateway makes of each error class, as seen by a client pinned to the account. */
const EXPECT = {
  throttled: { status: 429, health: 'throttled', retryAfter: true },
  concurrency: { status: 429, health: 'throttled', retryAfter: true },
  daily_quota: { status: 429, health: 'quota_exceeded', retryAfter: true },
  plan_window: { status: 429, health: 'out', retryAfter: true },
  dead: { status: 503, health: 'dead' },
  agents_only: { status: 403, health: 'healthy' },
  client: { status: 400, health: 'healthy' },
};

describe('Model Studio error classes drive the pool', () => {
  let s;
  const fixtures = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(path.join(FIXTURES, f), 'utf8')))
    .filter((f) => EXPECT[f.class]);
  before(async () => {
    s = await startStack({ chunkDelayMs: 2 });
    for (const f of fixtures) {
      const coding = f.class === 'plan_window' || f.class === 'agents_only' || f.name.startsWith('coding_');
      await s.addAccount(`e-${f.name.replaceAll('_', '-')}`, { kind: coding ? 'coding_plan' : 'dashscope' });
    }
  });
  after(async () => {
    assertNoSecretsLogged(s.logs, s.secrets());
    await s.close();
  });

  for (const f of fixtures) {
    test(`${f.name} (${f.class})`, async () => {
      const id = `e-${f.name.replaceAll('_', '-')}`;
      const want = EXPECT[f.class];
      await s.mock.script(id, { chat: [f.name] });
      const res = await fetch(`${s.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json', 'x-qwen-account': id },
        body: JSON.stringify({ model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'hi' }] }),
      });
      const body = await res.json();
      assert.equal(res.status, want.status, JSON.stringify(body));
      assert.equal(typeof body.error.message, 'string');
      if (want.retryAfter) assert.ok(Number(res.headers.get('retry-after')) >= 1, 'retry-after');
      // The account's new state is written after the answer: wait for it to land.
      let h = await health(s, id);
      for (let i = 0; i < 30 && h.status !== want.health; i++) {
        await new Promise((r) => setTimeout(r, 100));
        h = await health(s, id);
      }
      assert.equal(h.status, want.health, JSON.stringify(h));
      if (f.class === 'plan_window') {
        assert.ok(h.out_until > Date.now() + 60_000, `out until the window renews: ${h.out_until}`);
        const reset = f.window === 'hour' ? 5 * 3600_000 : f.window === 'week' ? 7 * 86400_000 : 31 * 86400_000;
        assert.ok(h.out_until <= Date.now() + reset + 60_000);
      }
      if (f.class === 'concurrency') assert.ok(h.cooldown_until - Date.now() <= 60_000, 'seconds, not minutes');
      if (f.class === 'dead') assert.ok(h.failure_reason?.length > 10, 'says what to do');
      if (f.class === 'client') assert.equal(body.error.message, f.body.error.message.replace(f.vars?.model ?? '\0', 'qwen3-coder-plus'));
      await admin(s, 'POST', `/admin/accounts/${id}/reset`);
    });
  }
});

describe('aliases and unknown models, in each dialect', () => {
  let s;
  before(async () => {
    s = await startStack({ chunkDelayMs: 2, vars: { MODEL_ALIASES: JSON.stringify({ 'fast-*': 'qwen3-coder-flash' }) } });
    await s.addAccount('al1', { kind: 'dashscope' });
  });
  after(() => s.close());

  test('an alias is served by its model and answered under the name asked (OpenAI SDK)', async () => {
    const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
    await s.mock.clearRequests();
    const r = await client.chat.completions.create({ model: 'fast-lane', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(r.model, 'fast-lane');
    let streamed = '';
    for await (const c of await client.chat.completions.create({ model: 'qwen-oauth:qwen3-coder-plus', stream: true, messages: [{ role: 'user', content: 'hi' }] })) {
      streamed = c.model;
    }
    assert.equal(streamed, 'qwen-oauth:qwen3-coder-plus');
    const sent = (await s.mock.requests()).map((c) => c.body.model);
    assert.deepEqual(sent, ['qwen3-coder-flash', 'qwen3-coder-plus']);
    const listed = (await client.models.list()).data.map((m) => m.id);
    assert.ok(listed.includes('qwen3-coder-plus') && listed.includes('text-embedding-v4'));
  });

  test('an unknown model is a 404 model_not_found in OpenAI\'s and in Anthropic\'s shape', async () => {
    const openai = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
    await assert.rejects(
      openai.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
      (e) => e.status === 404 && e.code === 'model_not_found',
    );
    await assert.rejects(openai.responses.create({ model: 'no-such-model', input: 'x' }), (e) => e.status === 404 && e.code === 'model_not_found');
    const anthropic = new Anthropic({ baseURL: s.url, apiKey: CLIENT_KEY, maxRetries: 0 });
    await assert.rejects(
      anthropic.messages.create({ model: 'no-such-model', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
      (e) => e instanceof Anthropic.NotFoundError && e.error.error.type === 'not_found_error',
    );
    const one = await fetch(`${s.url}/v1/models/no-such-model`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    assert.equal(one.status, 404);
  });
});

describe('completions and embeddings through the OpenAI SDK', () => {
  let s, client;
  before(async () => {
    s = await startStack({ chunkDelayMs: 2 });
    await s.addAccount('beijing', { kind: 'dashscope' });
    await s.addAccount('legacy');
    client = (account) => new OpenAI({ baseURL: `${s.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0, defaultHeaders: { 'x-qwen-account': account } });
  });
  after(async () => {
    assertNoSecretsLogged(s.logs, s.secrets());
    await s.close();
  });

  for (const [account, endpoint] of [['beijing', 'completions'], ['legacy', 'chat']]) {
    test(`text completions on ${account} (upstream ${endpoint}), whole and streamed`, async () => {
      await s.mock.clearRequests();
      const c = client(account);
      const whole = await c.completions.create({ model: 'qwen3-coder-plus', prompt: 'def add(a, b):', max_tokens: 20 });
      assert.equal(whole.object, 'text_completion');
      assert.equal(whole.model, 'qwen3-coder-plus');
      assert.ok(whole.choices[0].text.length > 0);
      assert.equal(whole.choices[0].finish_reason, 'stop');
      assert.ok(whole.usage.total_tokens > 0);
      let text = '';
      let usage = null;
      for await (const chunk of await c.completions.create({ model: 'qwen3-coder-plus', prompt: 'def add(a, b):', stream: true, stream_options: { include_usage: true } })) {
        text += chunk.choices[0]?.text ?? '';
        if (chunk.usage) usage = chunk.usage;
      }
      assert.equal(text, whole.choices[0].text);
      assert.ok(usage?.completion_tokens > 0, 'the usage chunk');
      const calls = await s.mock.requests();
      assert.deepEqual(new Set(calls.map((r) => r.endpoint)), new Set([endpoint]));
    });
  }

  test('fill-in-the-middle: a suffix goes to a completions base, and where none serves it a clear 400', async () => {
    await s.mock.clearRequests();
    const r = await client('beijing').completions.create({ model: 'qwen2.5-coder-7b-instruct', prompt: 'def f(', suffix: '\n    return x' });
    assert.ok(r.choices[0].text.length > 0);
    const [call] = await s.mock.requests();
    assert.match(call.body.prompt, /<\|fim_prefix\|>def f\(<\|fim_suffix\|>/);
    await assert.rejects(
      client('legacy').completions.create({ model: 'qwen3-coder-plus', prompt: 'def f(', suffix: 'x' }),
      (e) => e.status === 400 || e.status === 404,
    );
  });

  test('embeddings, whole batch, with usage', async () => {
    const e = await client('beijing').embeddings.create({ model: 'text-embedding-v4', input: ['a', 'b', 'c'] });
    assert.equal(e.data.length, 3);
    assert.ok(e.data.every((d) => d.embedding.length > 0));
    assert.ok(e.usage.total_tokens > 0);
    await assert.rejects(client('beijing').embeddings.create({ model: 'text-embedding-v4', input: [] }), (err) => err.status === 400);
  });
});
