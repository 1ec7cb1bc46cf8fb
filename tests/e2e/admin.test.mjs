// The admin API (/admin/*) and a pool degrading one account at a time under the OpenAI SDK.
import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startStack, chat, assertNoSecretsLogged, CLIENT_KEY, ADMIN_KEY } from '../harness.mjs';

const hello = { messages: [{ role: 'user', content: 'hello' }] };
const admin = (s, p, init = {}) =>
  fetch(s.url + p, { ...init, headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(init.headers ?? {}) } });
const chatCalls = async (s, id) => (await s.mock.stats()).chat_calls[id] ?? 0;

async function stack(ids) {
  const s = await startStack({ chunkDelayMs: 5, vars: { FIRST_BYTE_TIMEOUT_MS: '1500' } });
  for (const id of ids) await s.addAccount(id);
  return s;
}

/** Scripts `id` to run out of quota and pins one request to it, so it is marked. */
async function exhaust(s, id) {
  await s.mock.script(id, { default_chat: 'quota' });
  const res = await chat(s.url, hello, { headers: { 'x-qwen-account': id } });
  assert.equal(res.status, 429);
  await res.text();
}

describe('admin API', () => {
  let s;
  beforeEach(async () => { s = await stack(['h1', 'h2']); });
  afterEach(async () => {
    assertNoSecretsLogged(s.logs, s.secrets());
    await s.close();
  });

  test('rejects missing and wrong keys, and client keys', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: `Bearer ${CLIENT_KEY}` }]) {
      for (const [method, p] of [['GET', '/admin/health'], ['GET', '/admin/accounts/h1'], ['DELETE', '/admin/accounts/h1'], ['POST', '/admin/accounts/h1/reset'], ['PUT', '/admin/accounts/x']]) {
        const res = await fetch(s.url + p, { method, headers, body: method === 'PUT' ? '{}' : undefined });
        assert.equal(res.status, 401, `${method} ${p}`);
        assert.equal((await res.json()).error.code, 'invalid_admin_key');
      }
    }
  });

  test('/admin/health JSON has the TypeScript worker\'s shape plus ours', async () => {
    await exhaust(s, 'h2');
    const res = await admin(s, '/admin/health');
    const body = await res.json();
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(body.summary.total_accounts, 2);
    assert.equal(body.summary.healthy_accounts, 1);
    assert.equal(body.summary.failed_accounts, 1);
    assert.equal(body.summary.quota_exceeded_accounts, 1);
    assert.ok(body.timestamp > 0);
    const h1 = body.accounts.find((a) => a.account === 'h1');
    assert.equal(h1.status, 'healthy');
    assert.match(h1.expiresIn, /^\d+ min$/);
    assert.equal(h1.kind, 'oauth');
    assert.equal(body.accounts.find((a) => a.account === 'h2').status, 'quota_exceeded');
    assert.doesNotMatch(JSON.stringify(body), /at-h1|rt-h1/, 'no tokens');
  });

  test('/admin/health for curl is a readable table', async () => {
    await exhaust(s, 'h2');
    const res = await admin(s, '/admin/health', { headers: { 'user-agent': 'curl/8.5.0' } });
    const text = await res.text();
    assert.match(res.headers.get('content-type'), /text\/plain/);
    assert.match(text, /^ACCOUNT\s+STATUS\s+KIND\s+TOKEN/);
    assert.match(text, /h2\s+quota_exceeded/);
    assert.match(text, /1 of 2 accounts usable/);
    const forced = await admin(s, '/admin/health?format=text');
    assert.match(await forced.text(), /^ACCOUNT/);
  });

  test('?probe=true sends one tiny real request per account', async () => {
    await exhaust(s, 'h2');
    await s.mock.clearRequests();
    const body = await (await admin(s, '/admin/health?probe=true')).json();
    const probes = await s.mock.requests('/v1/chat/completions');
    assert.equal(probes.length, 2, 'one per account, the quota-exceeded one too (is it back?)');
    assert.equal(probes[0].body.max_tokens, 1);
    assert.equal(body.accounts.find((a) => a.account === 'h1').probe, 'ok');
    assert.match(body.accounts.find((a) => a.account === 'h2').probe, /quota/);
    // The default check costs nothing.
    await s.mock.clearRequests();
    await admin(s, '/admin/health');
    assert.equal((await s.mock.requests()).length, 0);
  });

  test('reset brings an account back, GET shows no secret, DELETE removes, PUT adds', async () => {
    await exhaust(s, 'h2');
    let res = await admin(s, '/admin/accounts/h2/reset', { method: 'POST' });
    assert.equal(res.status, 200);
    assert.equal(await s.kv.get('FAILED_ACCOUNTS'), '');
    await s.mock.script('h2', { default_chat: 'ok' });
    res = await chat(s.url, hello, { headers: { 'x-qwen-account': 'h2' } });
    assert.equal(res.status, 200);
    await res.text();

    res = await admin(s, '/admin/accounts/h1');
    const info = await res.json();
    assert.equal(info.account, 'h1');
    assert.equal(info.has_refresh_token, true);
    assert.doesNotMatch(JSON.stringify(info), /at-h1|rt-h1/);

    res = await admin(s, '/admin/accounts/h1', { method: 'DELETE' });
    assert.equal(res.status, 200);
    assert.equal(await s.kv.get('ACCOUNT:h1'), null);
    for (let i = 0; i < 5; i++) {
      const r = await chat(s.url, hello);
      assert.equal(r.headers.get('x-qwen-account'), 'h2');
      await r.text();
    }

    const fresh = await s.mock.account('added', { kind: 'api_key' });
    res = await admin(s, '/admin/accounts/added', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'api_key', api_key: fresh.api_key, base_url: s.mockUrl }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    res = await chat(s.url, hello, { headers: { 'x-qwen-account': 'added' } });
    assert.equal(res.status, 200);
    await res.text();
    assert.deepEqual(JSON.parse(await s.kv.get('ACCOUNTS')).sort(), ['added', 'h2']);
  });

  test('bad admin input is rejected without touching stored credentials', async () => {
    const before = await s.kv.get('ACCOUNT:h2');
    for (const body of ['{', '{"access_token":"x"}', '{"kind":"robot"}', '[]']) {
      const res = await admin(s, '/admin/accounts/h2', { method: 'PUT', body });
      assert.equal(res.status, 400, body);
      assert.ok((await res.json()).error.message.includes('rejected'));
    }
    assert.equal(await s.kv.get('ACCOUNT:h2'), before);
    let res = await admin(s, '/admin/accounts/bad%2Fid', { method: 'PUT', body: '{}' });
    assert.equal(res.status, 400);
    res = await admin(s, '/admin/accounts/ghost', { method: 'DELETE' });
    assert.equal(res.status, 404);
  });
});

describe('three accounts exhausted, throttled and killed one by one', () => {
  let s;
  beforeEach(async () => { s = await stack(['p1', 'p2', 'p3']); });
  afterEach(() => s.close());
  test('the SDK keeps getting answers and /admin/health tells the truth', async () => {
    const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: CLIENT_KEY }); // default retries
    const ask = async () => (await client.chat.completions.create({ model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'go' }] })).choices[0].message.content;
    const statusOf = async () => Object.fromEntries((await (await admin(s, '/admin/health')).json()).accounts.map((a) => [a.account, a.status]));
    /** Asks until `id` has been called `n` more times; every answer must arrive. */
    const askUntilCalled = async (id, n = 1) => {
      const target = (await chatCalls(s, id)) + n;
      for (let i = 0; i < 60 && (await chatCalls(s, id)) < target; i++) assert.equal(await ask(), 'Echo: go');
      assert.ok((await chatCalls(s, id)) >= target, `${id} was never selected`);
    };

    for (let i = 0; i < 5; i++) assert.equal(await ask(), 'Echo: go');
    await s.mock.script('p1', { default_chat: 'quota' });
    await askUntilCalled('p1');
    await s.mock.script('p2', { default_chat: { kind: 'throttle', retry_after: 30 } });
    await askUntilCalled('p2');
    let st = await statusOf();
    assert.deepEqual(st, { p1: 'quota_exceeded', p2: 'throttled', p3: 'healthy' });
    // p3 is discontinued (an OAuth 401 that a fresh token does not cure: the free tier behind it
    // ended) while p1 and p2 are out: that request
    // ends in a 503 whose Retry-After names p2's return (30 s; this client does not wait).
    await s.mock.script('p3', { default_chat: 'auth' });
    const once = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
    await assert.rejects(
      once.chat.completions.create({ model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'go' }] }),
      (e) => e.status === 503 && Number(e.headers.get('retry-after')) > 20,
    );
    st = await statusOf();
    assert.deepEqual(st, { p1: 'quota_exceeded', p2: 'throttled', p3: 'discontinued' });
    // p2 is reset and throttled once more for 1 s: nobody else is left, so the client gets a 429
    // with Retry-After, the SDK waits that long, and p2 answers after its cool-down.
    await admin(s, '/admin/accounts/p2/reset', { method: 'POST' });
    await s.mock.script('p2', { chat: [{ kind: 'throttle', retry_after: 1 }], default_chat: 'ok' });
    const t0 = Date.now();
    assert.equal(await ask(), 'Echo: go');
    assert.ok(Date.now() - t0 >= 900, 'the SDK waited for the cool-down');
    for (let i = 0; i < 4; i++) assert.equal(await ask(), 'Echo: go');
    st = await statusOf();
    assert.deepEqual(st, { p1: 'quota_exceeded', p2: 'healthy', p3: 'discontinued' });
    assertNoSecretsLogged(s.logs, s.secrets());
  });
});
