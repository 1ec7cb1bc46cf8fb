// Self-test of the mock: every error class answers its fixture file, in every dialect.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, beforeEach, test } from 'node:test';

import { CLIENT_ID, ERROR_KINDS, FIXTURES, startMock } from './upstream.mjs';
import { kit } from './testkit.mjs';

let mock;
before(async () => { mock = await startMock({ chunkDelayMs: 1 }); });
after(async () => { await mock.close(); });
const { ctl, account, script, chat, messages, post } = kit(() => mock.url);
beforeEach(async () => { await ctl('POST', '/__mock/reset'); });

const FIXTURE_DIR = new URL('../fixtures/qwen/errors/', import.meta.url);
const REQUIRED = [
  'limit_requests', 'throttling_rate_quota', 'throttling_allocation_quota', 'free_exceeded', 'insufficient_quota',
  'arrearage', 'invalid_api_key', 'access_denied', 'access_denied_unpurchased', 'hour_quota', 'week_quota',
  'month_quota', 'concurrency_quota', 'coding_agents_only', 'data_inspection', 'model_unsupported', 'input_length',
  'discontinued',
];

test('the fixture files: one per class, well formed, loaded by the mock and listed by /__mock/errors', async () => {
  const files = readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.json'));
  assert.deepEqual(files.map((f) => f.slice(0, -5)).sort(), [...ERROR_KINDS].sort());
  for (const name of REQUIRED) assert.ok(ERROR_KINDS.has(name), name);
  const classes = new Set(['throttled', 'daily_quota', 'plan_window', 'concurrency', 'dead', 'agents_only', 'client', 'discontinued']);
  for (const f of files) {
    const fx = JSON.parse(readFileSync(new URL(f, FIXTURE_DIR), 'utf8'));
    assert.ok(classes.has(fx.class), `${f}: class ${fx.class}`);
    assert.ok(typeof fx.about === 'string' && fx.about.length > 10, f);
    assert.equal(fx.headers['content-type'], 'application/json', f);
    assert.ok(fx.status >= 400 && fx.status < 500, f);
    if (fx.body.error && typeof fx.body.error === 'object') {
      assert.deepEqual(Object.keys(fx.body.error).sort(), ['code', 'message', 'param', 'type'], `${f}: OpenAI shape`);
    }
    if (fx.native) assert.deepEqual(Object.keys(fx.native).sort(), ['code', 'message', 'request_id'], `${f}: native shape`);
    assert.ok(fx.anthropic, `${f}: anthropic body`);
    if (fx.class === 'plan_window') assert.ok(['hour', 'week', 'month'].includes(fx.window), f);
  }
  const listed = await ctl('GET', '/__mock/errors');
  assert.deepEqual(Object.keys(listed).sort(), [...ERROR_KINDS].sort());
  assert.deepEqual(await ctl('GET', '/__mock/errors/arrearage'), FIXTURES.get('arrearage'));
});

test('every error class, as a chat behaviour, answers its fixture (compatible-mode body)', async () => {
  const { api_key: key } = await account('d', { kind: 'dashscope' });
  await script('d', { chat: [...ERROR_KINDS] });
  for (const name of ERROR_KINDS) {
    const fx = FIXTURES.get(name);
    const res = await chat(key, { model: 'qwen-unknown' });
    assert.equal(res.status, fx.status, name);
    assert.equal(res.headers.get('content-type'), fx.headers['content-type'], name);
    assert.equal(res.headers.get('retry-after'), null, name);
    assert.deepEqual(await res.json(), fx.body, name);
  }
  assert.equal((await chat(key)).status, 200, 'the script is used up');
});

test('native shape, Retry-After, the request\'s model, Anthropic envelopes, other endpoints', async () => {
  const { api_key: key } = await account('d', { kind: 'dashscope' });
  await script('d', { chat: [{ kind: 'throttling_rate_quota', shape: 'native' }, { kind: 'limit_requests', retry_after: 7 }, 'model_unsupported', 'insufficient_quota'] });
  const native = await chat(key);
  assert.equal(native.status, 429);
  assert.deepEqual(await native.json(), FIXTURES.get('throttling_rate_quota').native);
  const limited = await chat(key);
  assert.equal(limited.headers.get('retry-after'), '7');
  assert.equal((await limited.json()).error.code, 'limit_requests');
  const unsupported = await chat(key, { model: 'qwen9-"ultra"' });
  assert.equal((await unsupported.json()).error.message, "model 'qwen9-\"ultra\"' is not supported");
  const noNative = await chat(key);
  assert.deepEqual(await noNative.json(), FIXTURES.get('insufficient_quota').body);

  for (const name of ['arrearage', 'hour_quota', 'coding_agents_only', 'data_inspection']) {
    await script('d', { default_messages: name });
    const res = await messages(key);
    assert.equal(res.status, FIXTURES.get(name).status, name);
    assert.deepEqual(await res.json(), FIXTURES.get(name).anthropic, name);
  }
  assert.deepEqual(FIXTURES.get('hour_quota').anthropic, { type: 'error', error: { type: 'rate_limit_error', message: 'hour allocated quota exceeded' } });

  // Legacy behaviours on the Anthropic route come in Anthropic's envelope too.
  await script('d', { default_messages: null, chat: ['quota', { kind: 'throttle', retry_after: 4 }] });
  const q = await messages(key);
  assert.equal(q.status, 429);
  assert.deepEqual(await q.json(), { type: 'error', error: { type: 'rate_limit_error', message: 'Free allocated quota exceeded.' } });
  const th = await messages(key);
  assert.equal(th.headers.get('retry-after'), '4');

  // Embeddings and completions take the chat script unless they have their own.
  await script('d', { chat: ['arrearage'], default_embeddings: 'access_denied' });
  const emb = await post('/compatible-mode/v1/embeddings', key, { input: 'x' });
  assert.deepEqual(await emb.json(), FIXTURES.get('access_denied').body);
  const cmp = await post('/compatible-mode/v1/completions', key, { model: 'qwen2.5-coder-7b-instruct', prompt: 'x' });
  assert.deepEqual(await cmp.json(), FIXTURES.get('arrearage').body);
  assert.equal((await chat(key)).status, 200, 'completions used the chat queue');
});

test('discontinued: an OAuth account refuses every chat, even right after a refresh', async () => {
  const a = await account('o');
  await script('o', { default_chat: 'discontinued' });
  const first = await chat(a.access_token, {}, '/v1/chat/completions');
  assert.equal(first.status, 401);
  assert.deepEqual(await first.json(), FIXTURES.get('discontinued').body);
  const refreshed = await fetch(`${mock.url}/api/v1/oauth2/token`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: a.refresh_token, client_id: CLIENT_ID }),
  });
  assert.equal(refreshed.status, 200);
  const { access_token: fresh } = await refreshed.json();
  const again = await chat(fresh, {}, '/v1/chat/completions');
  assert.equal(again.status, 401);
  assert.equal((await again.json()).error.message, 'invalid access token or token expired');
});

test('an unknown behaviour name is refused, and nothing of that script is applied', async () => {
  await account('d', { kind: 'dashscope' });
  await ctl('POST', '/__mock/accounts/d/script', { chat: ['arrearage'], default_chat: 'no_such_error' }, 400);
  assert.deepEqual((await ctl('GET', '/__mock/accounts/d')).chat, []);
  await ctl('POST', '/__mock/accounts/d/script', { embeddings: ['nope'] }, 400);
});
