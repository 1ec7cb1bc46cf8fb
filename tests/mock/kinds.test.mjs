// Self-test of the mock: account kinds, their surfaces, cross-wiring errors and account options.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';

import { FIXTURES, startMock } from './upstream.mjs';
import { kit } from './testkit.mjs';

let mock;
before(async () => { mock = await startMock({ chunkDelayMs: 1 }); });
after(async () => { await mock.close(); });
const { ctl, account, chat, messages, get, post } = kit(() => mock.url);
beforeEach(async () => { await ctl('POST', '/__mock/reset'); });

const fixtureBody = (name, dialect = 'openai') => (dialect === 'anthropic' ? FIXTURES.get(name).anthropic : FIXTURES.get(name).body);
async function expectFixture(res, name, dialect) {
  assert.equal(res.status, FIXTURES.get(name).status, name);
  assert.deepEqual(await res.json(), fixtureBody(name, dialect), name);
}
async function expectOk(res) {
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return JSON.parse(text);
}

test('account creation: keys and base URLs per kind; oauth and api_key answer as before', async () => {
  const o = await account('o');
  assert.deepEqual(Object.keys(o).sort(), ['access_token', 'expiry_date', 'id', 'refresh_token', 'resource_url', 'token_type']);
  const k = await account('k', { kind: 'api_key' });
  assert.deepEqual(Object.keys(k).sort(), ['api_key', 'id']);

  const d = await account('d', { kind: 'dashscope' });
  assert.match(d.api_key, /^sk-[0-9a-f]{32}$/);
  assert.equal(d.base_url, `${mock.url}/compatible-mode/v1`);
  assert.equal(d.anthropic_base_url, `${mock.url}/apps/anthropic`);
  const t = await account('t', { kind: 'token_plan' });
  assert.match(t.api_key, /^sk-(?!sp-)/);
  assert.equal(t.base_url, `${mock.url}/token-plan/compatible-mode/v1`);
  assert.equal(t.anthropic_base_url, `${mock.url}/token-plan/apps/anthropic`);
  const c = await account('c', { kind: 'coding_plan' });
  assert.match(c.api_key, /^sk-sp-/);
  assert.deepEqual(c.base_urls, { openai: `${mock.url}/coding/v1`, anthropic: `${mock.url}/coding/apps/anthropic` });
  const x = await account('x', { kind: 'openai_compatible', api_key: 'anything-goes' });
  assert.equal(x.api_key, 'anything-goes');
  assert.deepEqual(x.base_urls, { openai: `${mock.url}/v1`, compatible: `${mock.url}/compatible-mode/v1` });

  const view = await ctl('GET', '/__mock/accounts/c');
  assert.equal(view.kind, 'coding_plan');
  assert.deepEqual(view.options, { agents_only: false, strict_models: false, prompt_cache: true });

  await ctl('POST', '/__mock/accounts', { id: 'bad', kind: 'robot' }, 400);
  await ctl('POST', '/__mock/accounts', { id: 'bad', kind: 'coding_plan', api_key: 'sk-general' }, 400);
  await ctl('POST', '/__mock/accounts', { id: 'bad', kind: 'dashscope', api_key: 'sk-sp-coding' }, 400);
  await ctl('POST', '/__mock/accounts', { id: 'bad', kind: 'oauth', api_key: 'sk-x' }, 400);
  await ctl('POST', '/__mock/accounts', { id: 'other', kind: 'openai_compatible', api_key: 'anything-goes' }, 400);
});

test('dashscope: compatible-mode and Anthropic-compatible, Bearer or x-api-key; refused elsewhere', async () => {
  const { api_key: key } = await account('d', { kind: 'dashscope' });
  await expectOk(await chat(key));
  await expectOk(await chat(key, {}, undefined, { via: 'x-api-key' }));
  await expectOk(await messages(key, {}, undefined, { via: 'x-api-key' }));
  await expectOk(await messages(key, {}, '/apps/anthropic/v1/messages?beta=true'));
  await expectOk(await post('/compatible-mode/v1/embeddings', key, { model: 'text-embedding-v4', input: 'x' }));
  await expectOk(await get('/compatible-mode/v1/models', key));

  await expectFixture(await chat(key, {}, '/coding/v1/chat/completions'), 'general_key_on_coding_url');
  await expectFixture(await messages(key, {}, '/coding/apps/anthropic/v1/messages'), 'general_key_on_coding_url', 'anthropic');
  await expectFixture(await chat(key, {}, '/token-plan/compatible-mode/v1/chat/completions'), 'invalid_api_key');
  const portal = await chat(key, {}, '/v1/chat/completions');
  assert.equal(portal.status, 401);
  assert.equal((await portal.json()).error.message, 'invalid access token or token expired');
});

test('token_plan: Bearer required; x-api-key alone is "No API-key provided."', async () => {
  const { api_key: key } = await account('t', { kind: 'token_plan' });
  const path = '/token-plan/compatible-mode/v1/chat/completions';
  await expectOk(await chat(key, {}, path));
  await expectFixture(await chat(key, {}, path, { via: 'x-api-key' }), 'no_api_key');
  await expectFixture(await chat(key, {}, path, { via: 'none' }), 'no_api_key');
  assert.equal((await get('/token-plan/compatible-mode/v1/models', key)).status, 200);
  await expectOk(await messages(key, {}, '/token-plan/apps/anthropic/v1/messages'));
  await expectFixture(await messages(key, {}, '/token-plan/apps/anthropic/v1/messages', { via: 'x-api-key' }), 'no_api_key', 'anthropic');
  await expectFixture(await messages(key), 'invalid_api_key', 'anthropic');
  await expectFixture(await chat(key), 'invalid_api_key');
  await expectFixture(await chat(key, {}, '/coding/v1/chat/completions'), 'general_key_on_coding_url');
});

test('coding_plan: /coding/v1 chat and its Anthropic endpoint only; sk-sp- elsewhere is 403 invalid api-key', async () => {
  const { api_key: key } = await account('c', { kind: 'coding_plan' });
  await expectOk(await chat(key, {}, '/coding/v1/chat/completions'));
  await expectOk(await messages(key, {}, '/coding/apps/anthropic/v1/messages'));
  const models = await get('/coding/v1/models', key);
  assert.equal(models.status, 404, 'Coding Plan has no model listing');
  assert.equal((await models.json()).error.code, 'not_found');
  assert.equal((await post('/coding/v1/embeddings', key, { input: 'x' })).status, 404);

  await expectFixture(await chat(key), 'coding_key_on_general_url');
  assert.equal((await chat(key)).status, 403);
  await expectFixture(await chat(key, {}, '/token-plan/compatible-mode/v1/chat/completions'), 'coding_key_on_general_url');
  await expectFixture(await chat(key, {}, '/v1/chat/completions'), 'coding_key_on_general_url');
  await expectFixture(await messages(key), 'coding_key_on_general_url', 'anthropic');
  const unknown = await chat('sk-sp-unknown', {}, '/coding/v1/chat/completions');
  assert.equal(unknown.status, 401);
});

test('openai_compatible: /v1 and /compatible-mode/v1 both; no Anthropic endpoint; api_key and oauth as before', async () => {
  const { api_key: key } = await account('x', { kind: 'openai_compatible' });
  assert.match(key, /^key-x-/);
  await expectOk(await chat(key, {}, '/v1/chat/completions'));
  await expectOk(await chat(key));
  await expectOk(await post('/v1/completions', key, { model: 'm', prompt: 'p' }));
  assert.equal((await messages(key)).status, 401);

  const k = await account('k', { kind: 'api_key' });
  await expectOk(await chat(k.api_key, {}, '/v1/chat/completions'));
  await expectOk(await messages(k.api_key));
  const o = await account('o');
  await expectOk(await chat(o.access_token, {}, '/v1/chat/completions'));
  await expectOk(await chat(o.access_token));
  assert.equal((await chat(o.access_token, {}, '/v1/chat/completions', { via: 'x-api-key' })).status, 401, 'oauth tokens: Bearer only');
  assert.equal((await ctl('GET', '/__mock/requests?path=/v1/chat/completions')).at(-1).account, null, 'and unattributed, as before');
  for (const res of [await post('/v1/embeddings', o.access_token, { input: 'x' }), await get('/v1/models', o.access_token), await get('/v1/models', 'nobody')]) {
    assert.equal(res.status, 404, 'the portal serves chat only');
    assert.equal((await res.json()).error.code, 'not_found');
  }
  assert.deepEqual((await ctl('GET', '/__mock/requests?path=/v1/models')).map((r) => r.account), [null, null]);
});

test('expire and revoke withdraw a key; requests are attributed to its account', async () => {
  const { api_key: key } = await account('d', { kind: 'dashscope' });
  await ctl('POST', '/__mock/accounts/d/expire');
  assert.equal((await chat(key)).status, 401);
  const recs = await ctl('GET', '/__mock/requests?account=d');
  assert.deepEqual(recs.map((r) => [r.endpoint, r.surface]), [['chat', 'dashscope']]);
  assert.equal((await ctl('GET', '/__mock/stats')).chat_calls.d, 1);
});

test('agents_only: a coding_plan account answers 405 unless the User-Agent is a coding agent', async () => {
  const { api_key: key } = await account('c', { kind: 'coding_plan', agents_only: true });
  const path = '/coding/v1/chat/completions';
  const refused = await chat(key, {}, path, { headers: { 'user-agent': 'python-requests/2.32' } });
  assert.equal(refused.status, 405);
  assert.deepEqual(await refused.json(), { error: 'Coding Plan is currently only available for Coding Agents' });
  await expectFixture(await messages(key, {}, '/coding/apps/anthropic/v1/messages', { headers: { 'user-agent': 'curl/8' } }), 'coding_agents_only', 'anthropic');
  for (const ua of ['claude-cli/2.1.197 (external, cli)', 'QwenCode/0.9.0 (linux; x64)', 'codex_cli_rs/0.171.0', 'opencode/1.14']) {
    await expectOk(await chat(key, {}, path, { headers: { 'user-agent': ua } }));
  }
  await ctl('POST', '/__mock/accounts/c/options', { agents_only: false });
  await expectOk(await chat(key, {}, path, { headers: { 'user-agent': 'curl/8' } }));
  await ctl('POST', '/__mock/accounts/c/options', { agents_only: 'yes' }, 400);
});

test('strict_models: a model outside the account list is "model \'x\' is not supported"', async () => {
  const { api_key: key } = await account('d', { kind: 'dashscope', strict_models: true });
  await expectOk(await chat(key, { model: 'qwen3.8-max' }));
  const res = await chat(key, { model: 'Qwen3-Coder-Plus' });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error.message, "model 'Qwen3-Coder-Plus' is not supported");
  await ctl('POST', '/__mock/accounts/d/models', { models: ['Qwen3-Coder-Plus'] });
  await expectOk(await chat(key, { model: 'Qwen3-Coder-Plus' }));
});
