// Self-test of the mock: embeddings, completions (FIM), models and the Anthropic-compatible endpoint.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';

import { DEFAULT_MODELS, embeddingOf, fimMiddle, startMock } from './upstream.mjs';
import { kit, readSse } from './testkit.mjs';

let mock;
before(async () => { mock = await startMock({ chunkDelayMs: 1 }); });
after(async () => { await mock.close(); });
const { ctl, account, messages, post, get } = kit(() => mock.url);
beforeEach(async () => { await ctl('POST', '/__mock/reset'); });

const dashscopeKey = async (id = 'd', extra = {}) => (await account(id, { kind: 'dashscope', ...extra })).api_key;
async function ok(res) {
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return JSON.parse(text);
}

test('embeddings: OpenAI shape, deterministic unit vectors, dimensions, arrays, base64', async () => {
  const key = await dashscopeKey();
  const one = await ok(await post('/compatible-mode/v1/embeddings', key, { model: 'text-embedding-v4', input: 'hello' }));
  assert.equal(one.object, 'list');
  assert.equal(one.model, 'text-embedding-v4');
  assert.equal(one.data.length, 1);
  assert.deepEqual(Object.keys(one.data[0]).sort(), ['embedding', 'index', 'object']);
  assert.equal(one.data[0].object, 'embedding');
  const v = one.data[0].embedding;
  assert.equal(v.length, 1024);
  assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-9);
  assert.deepEqual(v, embeddingOf('hello'));
  assert.deepEqual(one.usage, { prompt_tokens: 2, total_tokens: 2 });

  const again = await ok(await post('/compatible-mode/v1/embeddings', key, { model: 'text-embedding-v4', input: ['hello', 'world'], dimensions: 256 }));
  assert.deepEqual(again.data.map((d) => d.index), [0, 1]);
  assert.equal(again.data[0].embedding.length, 256);
  assert.deepEqual(again.data[0].embedding, embeddingOf('hello', 256));
  assert.notDeepEqual(again.data[0].embedding, again.data[1].embedding);

  const b64 = await ok(await post('/compatible-mode/v1/embeddings', key, { input: 'hello', encoding_format: 'base64', dimensions: 8 }));
  const raw = Buffer.from(b64.data[0].embedding, 'base64');
  const floats = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  assert.deepEqual([...floats], embeddingOf('hello', 8).map((x) => Math.fround(x)));

  const compatible = (await account('x', { kind: 'openai_compatible' })).api_key;
  await ok(await post('/v1/embeddings', compatible, { input: 'hi' }));
  for (const bad of [{ input: '' }, { input: [] }, { input: [1, 2] }, { input: 'x', dimensions: 0 }, { input: 'x', encoding_format: 'hex' }]) {
    const res = await post('/compatible-mode/v1/embeddings', key, bad);
    assert.equal(res.status, 400, JSON.stringify(bad));
    assert.equal((await res.json()).error.type, 'invalid_request_error');
  }
});

test('completions: text_completion shape, FIM prompts, max_tokens, streamed with usage', async () => {
  const key = await dashscopeKey();
  const path = '/compatible-mode/v1/completions';
  const plain = await ok(await post(path, key, { model: 'qwen2.5-coder-7b-instruct', prompt: 'def add(a, b):' }));
  assert.equal(plain.object, 'text_completion');
  assert.match(plain.id, /^cmpl-/);
  assert.deepEqual(plain.choices, [{ text: 'Echo: def add(a, b):', index: 0, logprobs: null, finish_reason: 'stop' }]);
  assert.equal(plain.usage.total_tokens, plain.usage.prompt_tokens + plain.usage.completion_tokens);

  const prefix = 'function sum(a, b) {\n  ';
  const suffix = '\n}\n';
  const fim = await ok(await post(path, key, { model: 'qwen2.5-coder-7b-instruct', prompt: `<|fim_prefix|>${prefix}<|fim_suffix|>${suffix}<|fim_middle|>` }));
  assert.equal(fim.choices[0].text, fimMiddle(prefix, suffix));
  assert.equal(fim.choices[0].text, '/* fim 23:3 */');
  const again = await ok(await post(path, key, { model: 'qwen2.5-coder-7b-instruct', prompt: `<|fim_prefix|>${prefix}<|fim_suffix|>${suffix}<|fim_middle|>` }));
  assert.equal(again.choices[0].text, fim.choices[0].text, 'deterministic');
  const viaSuffix = await ok(await post(path, key, { prompt: prefix, suffix }));
  assert.equal(viaSuffix.choices[0].text, fimMiddle(prefix, suffix));

  const cut = await ok(await post(path, key, { prompt: 'a long enough prompt to cut', max_tokens: 2 }));
  assert.equal(cut.choices[0].finish_reason, 'length');
  assert.equal(cut.usage.completion_tokens, 2);
  const two = await ok(await post('/v1/completions', (await account('x', { kind: 'openai_compatible' })).api_key, { prompt: ['a', 'b'] }));
  assert.deepEqual(two.choices.map((c) => [c.index, c.text]), [[0, 'Echo: a'], [1, 'Echo: b']]);

  const events = await readSse(await post(path, key, { prompt: 'stream it', stream: true, stream_options: { include_usage: true } }));
  assert.equal(events.at(-1).data, '[DONE]');
  const chunks = events.slice(0, -1).map((e) => e.data);
  for (const c of chunks) assert.equal(c.object, 'text_completion');
  const usage = chunks.at(-1);
  assert.deepEqual(usage.choices, []);
  assert.equal(usage.usage.total_tokens, usage.usage.prompt_tokens + usage.usage.completion_tokens);
  assert.equal(chunks.at(-2).choices[0].finish_reason, 'stop');
  assert.equal(chunks.slice(0, -2).map((c) => c.choices[0].text).join(''), 'Echo: stream it');
  assert.equal((await post(path, key, { prompt: 42 })).status, 400);
});

test('models: a list per kind, settable per account, single model, 404s', async () => {
  const key = await dashscopeKey();
  const list = await ok(await get('/compatible-mode/v1/models', key));
  assert.equal(list.object, 'list');
  const ids = list.data.map((m) => m.id);
  for (const id of ['qwen3-coder-plus', 'qwen3-coder-flash', 'qwen3.6-plus', 'qwen3.8-max', 'text-embedding-v4', 'qwen2.5-coder-7b-instruct']) assert.ok(ids.includes(id), id);
  assert.deepEqual(list.data[0], { id: 'qwen3-coder-plus', object: 'model', created: 1_767_225_600, owned_by: 'system' });
  assert.deepEqual(await ok(await get('/compatible-mode/v1/models/qwen3.8-max', key)), { id: 'qwen3.8-max', object: 'model', created: 1_767_225_600, owned_by: 'system' });
  const missing = await get('/compatible-mode/v1/models/nope', key);
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.code, 'model_not_found');

  await ctl('POST', '/__mock/accounts/d/models', { models: ['only-one', { id: 'custom', owned_by: 'me' }] });
  assert.deepEqual((await ok(await get('/compatible-mode/v1/models', key))).data.map((m) => [m.id, m.owned_by]), [['only-one', 'system'], ['custom', 'me']]);
  await ctl('POST', '/__mock/accounts/d/models', { models: null });
  assert.equal((await ok(await get('/compatible-mode/v1/models', key))).data.length, DEFAULT_MODELS.dashscope.length);
  await ctl('POST', '/__mock/accounts/d/models', { models: [3] }, 400);

  const tp = (await account('t', { kind: 'token_plan' })).api_key;
  assert.deepEqual((await ok(await get('/token-plan/compatible-mode/v1/models', tp))).data.map((m) => m.id), DEFAULT_MODELS.token_plan);
  assert.equal((await get('/compatible-mode/v1/models', 'sk-unknown')).status, 401, 'the listing needs the key');
  // Model listings have their own script and never take the chat queue.
  await ctl('POST', '/__mock/accounts/d/script', { chat: ['arrearage'], models: ['server_error'] });
  assert.equal((await get('/compatible-mode/v1/models', key)).status, 500);
  assert.equal((await get('/compatible-mode/v1/models', key)).status, 200);
  assert.equal((await ctl('GET', '/__mock/accounts/d')).chat.length, 1);
});

test('Anthropic messages: whole answer, x-api-key or Bearer, tool_use, tool_result, invalid requests', async () => {
  const key = await dashscopeKey();
  const m = await ok(await messages(key, { model: 'qwen3.6-plus' }, undefined, { via: 'x-api-key', headers: { 'anthropic-version': '2023-06-01' } }));
  assert.match(m.id, /^msg_/);
  assert.deepEqual([m.type, m.role, m.model, m.stop_reason, m.stop_sequence], ['message', 'assistant', 'qwen3.6-plus', 'end_turn', null]);
  assert.deepEqual(m.content, [{ type: 'text', text: 'Echo: hello there' }]);
  assert.deepEqual(Object.keys(m.usage).sort(), ['cache_creation_input_tokens', 'cache_read_input_tokens', 'input_tokens', 'output_tokens']);

  const tools = [{ name: 'get_weather', description: 'weather', input_schema: { type: 'object' } }];
  const t = await ok(await messages(key, { tools, messages: [{ role: 'user', content: [{ type: 'text', text: 'weather?' }] }] }));
  assert.equal(t.stop_reason, 'tool_use');
  assert.equal(t.content[0].type, 'tool_use');
  assert.match(t.content[0].id, /^toolu_/);
  assert.deepEqual([t.content[0].name, t.content[0].input], ['get_weather', { city: 'Paris' }]);
  const r = await ok(await messages(key, { tools, messages: [
    { role: 'user', content: 'weather?' }, { role: 'assistant', content: t.content },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: t.content[0].id, content: 'sunny' }] },
  ] }));
  assert.deepEqual(r.content, [{ type: 'text', text: 'Tool said: sunny' }]);

  for (const [bad, re] of [[{ max_tokens: undefined }, /max_tokens/], [{ messages: [] }, /messages/], [{ model: 7 }, /model/]]) {
    const res = await messages(key, bad);
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'invalid_request_error');
    assert.match(body.error.message, re);
  }
});

test('Anthropic messages streamed: message_start with usage, one block per kind, message_delta, message_stop', async () => {
  const key = await dashscopeKey();
  const events = await readSse(await messages(key, { stream: true, messages: [{ role: 'user', content: 'stream me — ünïcødé 🎉' }] }, '/apps/anthropic/v1/messages?beta=true'));
  assert.deepEqual(events.map((e) => e.event).filter((e, i, all) => e !== all[i - 1]),
    ['message_start', 'ping', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
  for (const e of events) assert.equal(e.data.type, e.event);
  const start = events[0].data.message;
  assert.deepEqual([start.content, start.stop_reason], [[], null]);
  assert.ok(start.usage.input_tokens > 0 && start.usage.output_tokens >= 0);
  assert.deepEqual(events[2].data, { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
  const text = events.filter((e) => e.event === 'content_block_delta').map((e) => e.data.delta.text).join('');
  assert.equal(text, 'Echo: stream me — ünïcødé 🎉');
  const delta = events.at(-2).data;
  assert.equal(delta.delta.stop_reason, 'end_turn');
  assert.equal(delta.usage.output_tokens, events.filter((e) => e.event === 'content_block_delta').length);

  const tools = [{ name: 'Bash', input_schema: { type: 'object' } }];
  const te = await readSse(await messages(key, { stream: true, tools }));
  const blockStart = te.find((e) => e.event === 'content_block_start').data.content_block;
  assert.deepEqual([blockStart.type, blockStart.name, blockStart.input], ['tool_use', 'Bash', {}]);
  const parts = te.filter((e) => e.event === 'content_block_delta').map((e) => e.data.delta);
  assert.ok(parts.length >= 3 && parts.every((p) => p.type === 'input_json_delta'));
  assert.deepEqual(JSON.parse(parts.map((p) => p.partial_json).join('')), { city: 'Paris' });
  assert.equal(te.at(-2).data.delta.stop_reason, 'tool_use');
});
