// The official `openai` npm package against the Worker: non-streamed, streamed, tool calls,
// errors, and proof that streamed chunks reach the client while upstream is still sending.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startStack, CLIENT_KEY } from '../harness.mjs';

describe('openai (Node SDK)', () => {
  let s, client;
  before(async () => {
    s = await startStack({ chunkDelayMs: 20 });
    await s.addAccount('node1');
    client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
  });
  after(() => s.close());

  test('non-streamed completion', async () => {
    const r = await client.chat.completions.create({
      model: 'qwen3-coder-plus',
      messages: [{ role: 'user', content: 'write hello world' }],
    });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.choices[0].message.content, 'Echo: write hello world');
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.ok(r.usage.total_tokens > 0);
  });

  test('streamed completion, with the usage chunk kept intact', async () => {
    const stream = await client.chat.completions.create({
      model: 'qwen3-coder-flash',
      messages: [{ role: 'user', content: 'stream me a long answer please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage = null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      if (chunk.usage) usage = chunk.usage;
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    assert.equal(text, 'Echo: stream me a long answer please');
    assert.ok(chunks > 5);
    assert.ok(usage && usage.total_tokens === usage.prompt_tokens + usage.completion_tokens);
  });

  test('tool-call round trip', async () => {
    const tools = [{
      type: 'function',
      function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
    }];
    const messages = [{ role: 'user', content: 'weather in Paris?' }];
    const first = await client.chat.completions.create({ model: 'qwen3-coder-plus', messages, tools, tool_choice: 'auto' });
    const call = first.choices[0].message.tool_calls[0];
    assert.equal(first.choices[0].finish_reason, 'tool_calls');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
    messages.push(first.choices[0].message);
    messages.push({ role: 'tool', tool_call_id: call.id, content: 'sunny, 21C' });
    const second = await client.chat.completions.create({ model: 'qwen3-coder-plus', messages, tools });
    assert.equal(second.choices[0].message.content, 'Tool said: sunny, 21C');
    // The tool result and the assistant's tool call went upstream as sent.
    const rec = (await s.mock.requests('/v1/chat/completions')).at(-1);
    assert.equal(rec.body.messages[1].tool_calls[0].id, call.id);
    assert.equal(rec.body.messages[2].tool_call_id, call.id);
  });

  test('streamed tool call arrives in pieces and reassembles', async () => {
    const stream = await client.chat.completions.create({
      model: 'qwen3-coder-plus',
      messages: [{ role: 'user', content: 'weather?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
      stream: true,
    });
    let args = '';
    let name = '';
    for await (const chunk of stream) {
      const tc = chunk.choices[0]?.delta?.tool_calls?.[0];
      if (tc?.function?.name) name = tc.function.name;
      if (tc?.function?.arguments) args += tc.function.arguments;
    }
    assert.equal(name, 'get_weather');
    assert.deepEqual(JSON.parse(args), { city: 'Paris' });
  });

  test('the first streamed chunk reaches the client long before upstream finishes', async () => {
    // 60 events at 20 ms each: upstream needs over a second to finish.
    const t0 = performance.now();
    const stream = await client.chat.completions.create({
      model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'x' }], stream: true, mock_events: 60,
    });
    const arrivals = [];
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta?.content) arrivals.push(performance.now() - t0);
    }
    assert.equal(arrivals.length, 60);
    const total = arrivals.at(-1);
    assert.ok(total > 900, `upstream took ${total} ms`);
    assert.ok(arrivals[0] < total / 3, `first content at ${arrivals[0]} ms of ${total}`);
    // Chunks keep arriving over time instead of in one burst at the end.
    const spread = arrivals[Math.floor(arrivals.length / 2)] - arrivals[0];
    assert.ok(spread > 300, `half the chunks spread over ${spread} ms`);
  });

  test('errors surface as the SDK\'s typed errors', async () => {
    const bad = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'sk-wrong', maxRetries: 0 });
    await assert.rejects(bad.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
    await assert.rejects(
      client.chat.completions.create({ model: 'qwen3-coder-plus', messages: [] }),
      (e) => e instanceof OpenAI.BadRequestError && /at least one/.test(e.message),
    );
    await s.mock.script('node1', { chat: ['model_not_found'] });
    await assert.rejects(
      client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
      (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found',
    );
  });

  test('models list', async () => {
    const page = await client.models.list();
    assert.ok(page.data.some((m) => m.id === 'qwen3-coder-plus'));
  });
});
