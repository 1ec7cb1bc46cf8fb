// Self-test of the mock: scripted agent turns (chat and Anthropic), the prompt cache imitation,
// recording and per-endpoint counters.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';

import { startMock } from './upstream.mjs';
import { kit, readSse } from './testkit.mjs';

let mock;
before(async () => { mock = await startMock({ chunkDelayMs: 1 }); });
after(async () => { await mock.close(); });
const { ctl, account, script, agent, chat, messages, post, get } = kit(() => mock.url);
beforeEach(async () => { await ctl('POST', '/__mock/reset'); });

const dashscopeKey = async (id = 'd', extra = {}) => (await account(id, { kind: 'dashscope', ...extra })).api_key;
const deltas = (events) => events.filter((e) => e.data !== '[DONE]' && e.data.choices.length).map((e) => e.data.choices[0]);

test('chat: turns come in order, streamed tool-call arguments in fragments, Qwen\'s finish_reason stop', async () => {
  const key = await dashscopeKey();
  await agent('d', [
    { tool_calls: [{ name: 'Write', arguments: { file_path: '/tmp/a.txt', content: 'hi' } }, { name: 'Bash', arguments: '{"command":"ls"}', id: 'call_fixed' }], finish_reason: 'stop' },
    { reasoning: 'The file is written.', content: 'Done.' },
    { content: 'Bye.' },
  ]);
  const events = await readSse(await chat(key, { stream: true, stream_options: { include_usage: true } }));
  assert.equal(events.at(-1).data, '[DONE]');
  const d = deltas(events);
  const heads = d.filter((c) => c.delta.tool_calls?.[0].id);
  assert.deepEqual(heads.map((c) => [c.delta.tool_calls[0].index, c.delta.tool_calls[0].function.name]), [[0, 'Write'], [1, 'Bash']]);
  assert.equal(heads[1].delta.tool_calls[0].id, 'call_fixed');
  assert.match(heads[0].delta.tool_calls[0].id, /^call_\d+$/);
  for (const index of [0, 1]) {
    const frags = d.filter((c) => c.delta.tool_calls?.[0].index === index && !c.delta.tool_calls[0].id).map((c) => c.delta.tool_calls[0].function.arguments);
    assert.ok(frags.length >= 3, `several fragments: ${frags}`);
    assert.ok(frags.every((f) => f.length > 0));
    const args = JSON.parse(frags.join(''));
    assert.deepEqual(args, index === 0 ? { file_path: '/tmp/a.txt', content: 'hi' } : { command: 'ls' });
  }
  assert.equal(d.at(-1).finish_reason, 'stop');
  assert.ok(events.at(-2).data.usage.completion_tokens > 0);

  const second = await (await chat(key)).json();
  assert.deepEqual(second.choices[0].message, { role: 'assistant', content: 'Done.', reasoning_content: 'The file is written.' });
  assert.equal(second.choices[0].finish_reason, 'stop');
  assert.ok(second.usage.completion_tokens_details.reasoning_tokens > 0);

  // A scripted error does not consume a turn.
  await script('d', { chat: ['limit_requests'] });
  assert.equal((await chat(key)).status, 429);
  const third = await readSse(await chat(key, { stream: true }));
  assert.equal(deltas(third).map((c) => c.delta.content ?? '').join(''), 'Bye.');
  assert.equal((await (await chat(key)).json()).choices[0].message.content, 'Echo: hello there', 'no turn left: echo');
});

test('chat: reasoning streams as reasoning_content deltas before the content; tool calls default to tool_calls', async () => {
  const key = await dashscopeKey();
  await agent('d', [{ reasoning: 'Let me think about it.', content: 'Answer.' }, { tool_calls: [{ name: 'f' }] }]);
  const d = deltas(await readSse(await chat(key, { stream: true })));
  const reasoning = d.filter((c) => 'reasoning_content' in c.delta);
  assert.ok(reasoning.length > 1);
  assert.equal(reasoning.map((c) => c.delta.reasoning_content).join(''), 'Let me think about it.');
  const firstContent = d.findIndex((c) => c.delta.content);
  assert.ok(firstContent > d.indexOf(reasoning.at(-1)));
  const j = await (await chat(key)).json();
  assert.equal(j.choices[0].finish_reason, 'tool_calls');
  assert.deepEqual(j.choices[0].message.tool_calls[0].function, { name: 'f', arguments: '{}' });
  assert.equal(j.choices[0].message.content, null);
});

test('Anthropic: the same turns as thinking, text and tool_use blocks; chat and messages share the queue', async () => {
  const key = await dashscopeKey();
  await agent('d', [
    { reasoning: 'Plan: write the file.', tool_calls: [{ name: 'Write', arguments: { file_path: '/tmp/x', content: 'x' } }] },
    { content: 'From chat.' },
    { content: 'Written.', finish_reason: 'stop' },
  ]);
  const events = await readSse(await messages(key, { stream: true }));
  const starts = events.filter((e) => e.event === 'content_block_start').map((e) => e.data);
  assert.deepEqual(starts.map((s) => [s.index, s.content_block.type]), [[0, 'thinking'], [1, 'tool_use']]);
  assert.equal(starts[1].content_block.name, 'Write');
  const blockDeltas = (i) => events.filter((e) => e.event === 'content_block_delta' && e.data.index === i).map((e) => e.data.delta);
  assert.equal(blockDeltas(0).map((x) => x.thinking).join(''), 'Plan: write the file.');
  const json = blockDeltas(1);
  assert.ok(json.length >= 3 && json.every((x) => x.type === 'input_json_delta'));
  assert.deepEqual(JSON.parse(json.map((x) => x.partial_json).join('')), { file_path: '/tmp/x', content: 'x' });
  assert.equal(events.filter((e) => e.event === 'content_block_stop').length, 2);
  assert.equal(events.at(-2).data.delta.stop_reason, 'tool_use');

  assert.equal((await (await chat(key)).json()).choices[0].message.content, 'From chat.');
  const last = await (await messages(key)).json();
  assert.deepEqual(last.content, [{ type: 'text', text: 'Written.' }]);
  assert.equal(last.stop_reason, 'end_turn');
  assert.deepEqual((await ctl('GET', '/__mock/accounts/d/agent')).turns, []);
});

test('agent control: validation, append, completions and embeddings leave turns alone', async () => {
  const key = await dashscopeKey();
  for (const bad of [{ turns: 'x' }, { turns: [{}] }, { turns: [{ tool_calls: [{ arguments: {} }] }] }, { turns: [{ content: 3 }] }, { turns: [{ tool_calls: [{ name: 'f', arguments: 3 }] }] }]) {
    await ctl('POST', '/__mock/accounts/d/agent', bad, 400);
  }
  await agent('d', [{ content: 'one' }]);
  assert.equal((await agent('d', [{ content: 'two' }], { append: true })).turns.length, 2);
  await post('/compatible-mode/v1/completions', key, { prompt: 'x' }).then((r) => r.text());
  await post('/compatible-mode/v1/embeddings', key, { input: 'x' }).then((r) => r.text());
  assert.equal((await (await chat(key)).json()).choices[0].message.content, 'one');
  await ctl('POST', '/__mock/accounts/nobody/agent', { turns: [] }, 404);
});

test('prompt cache imitation: a byte-identical prefix on the same account reports cached tokens', async () => {
  const key = await dashscopeKey();
  const turn1 = [{ role: 'system', content: 'You are a careful coding agent. '.repeat(20) }, { role: 'user', content: 'first question' }];
  const r1 = await (await chat(key, { messages: turn1 })).json();
  assert.equal(r1.usage.prompt_tokens_details, undefined, 'nothing cached on the first request');
  const turn2 = [...turn1, { role: 'assistant', content: r1.choices[0].message.content }, { role: 'user', content: 'second' }];
  const r2 = await (await chat(key, { messages: turn2 })).json();
  const shared = JSON.stringify(turn1).length - 1; // everything but the closing bracket
  assert.equal(r2.usage.prompt_tokens_details.cached_tokens, Math.floor(shared / 4));
  assert.ok(r2.usage.prompt_tokens_details.cached_tokens < r2.usage.prompt_tokens);

  // Streamed usage carries it too; a changed first byte of the prefix defeats it.
  const turn3 = [...turn2, { role: 'assistant', content: 'ok' }, { role: 'user', content: 'third' }];
  const events = await readSse(await chat(key, { messages: turn3, stream: true, stream_options: { include_usage: true } }));
  assert.ok(events.at(-2).data.usage.prompt_tokens_details.cached_tokens > r2.usage.prompt_tokens_details.cached_tokens);
  const changed = [{ role: 'system', content: 'Xou are' }, ...turn3.slice(1)];
  const r4 = await (await chat(key, { messages: changed })).json();
  assert.equal(r4.usage.prompt_tokens_details.cached_tokens, Math.floor('[{"role":"system","content":"'.length / 4), 'only the start is shared');

  // Another account has its own memory; prompt_cache: false turns it off.
  const other = await dashscopeKey('e', { prompt_cache: false });
  await chat(other, { messages: turn1 }).then((r) => r.text());
  assert.equal((await (await chat(other, { messages: turn2 })).json()).usage.prompt_tokens_details, undefined);
});

test('prompt cache imitation on the Anthropic endpoint: cache_read_input_tokens; a changing system prefix gets none', async () => {
  const key = await dashscopeKey();
  const system = [{ type: 'text', text: 'You are Claude Code. '.repeat(30), cache_control: { type: 'ephemeral' } }];
  const m1 = await (await messages(key, { system })).json();
  assert.equal(m1.usage.cache_read_input_tokens, 0);
  const history = [{ role: 'user', content: 'hello there' }, { role: 'assistant', content: m1.content }, { role: 'user', content: 'more' }];
  const m2 = await (await messages(key, { system, messages: history })).json();
  assert.ok(m2.usage.cache_read_input_tokens > 100);
  const total = Math.ceil(JSON.stringify([system, history]).length / 4);
  assert.equal(m2.usage.input_tokens + m2.usage.cache_read_input_tokens, total);
  const events = await readSse(await messages(key, { system, messages: history, stream: true }));
  assert.ok(events[0].data.message.usage.cache_read_input_tokens > m2.usage.cache_read_input_tokens);

  const versioned = (v) => [{ type: 'text', text: `x-version: ${v}` }, ...system];
  await messages(key, { system: versioned('a1') }).then((r) => r.text());
  const m3 = await (await messages(key, { system: versioned('b2'), messages: history })).json();
  assert.ok(m3.usage.cache_read_input_tokens < 10, String(m3.usage.cache_read_input_tokens));
});

test('recording and counters per endpoint', async () => {
  const key = await dashscopeKey();
  const coding = (await account('c', { kind: 'coding_plan' })).api_key;
  await chat(key).then((r) => r.text());
  await messages(key, {}, '/apps/anthropic/v1/messages?beta=true', { headers: { 'anthropic-version': '2023-06-01' } }).then((r) => r.text());
  await post('/compatible-mode/v1/embeddings', key, { input: 'x' }).then((r) => r.text());
  await post('/compatible-mode/v1/completions', key, { prompt: 'x' }).then((r) => r.text());
  await get('/compatible-mode/v1/models', key).then((r) => r.text());
  await chat(coding, {}, '/coding/v1/chat/completions').then((r) => r.text());
  const stats = await ctl('GET', '/__mock/stats');
  assert.deepEqual([stats.chat_calls, stats.messages_calls, stats.embeddings_calls, stats.completions_calls, stats.models_calls],
    [{ d: 1, c: 1 }, { d: 1 }, { d: 1 }, { d: 1 }, { d: 1 }]);
  assert.deepEqual(stats.endpoint_calls, { chat: 2, messages: 1, embeddings: 1, completions: 1, models: 1, token: 0, device_code: 0, unknown: 0 });
  const anth = await ctl('GET', '/__mock/requests?endpoint=messages');
  assert.equal(anth.length, 1);
  assert.deepEqual([anth[0].path, anth[0].query, anth[0].account, anth[0].surface], ['/apps/anthropic/v1/messages', '?beta=true', 'd', 'dashscope']);
  assert.equal(anth[0].headers['anthropic-version'], '2023-06-01');
  assert.equal(anth[0].body.max_tokens, 1024);
  assert.deepEqual((await ctl('GET', '/__mock/requests?surface=coding')).map((r) => r.account), ['c']);
});
