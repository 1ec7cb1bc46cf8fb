// The OpenAI Responses dialect through the official `openai` npm package against the Worker in
// workerd: responses.create, responses.stream with its event accumulation, a function-tool round
// trip, structured output, reasoning, errors in OpenAI's shape, and a stream broken mid-answer.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startStack, assertNoSecretsLogged, CLIENT_KEY } from '../harness.mjs';

const WEATHER = {
  type: 'function', name: 'get_weather', description: 'Weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

describe('OpenAI SDK, Responses API', () => {
  let s, client;
  before(async () => {
    s = await startStack({ chunkDelayMs: 5, vars: { STREAM_IDLE_TIMEOUT_MS: '1500' } });
    await s.addAccount('r1', { kind: 'dashscope' });
    client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
  });
  after(async () => {
    assertNoSecretsLogged(s.logs, s.secrets());
    await s.close();
  });

  test('create: a response object with output text and usage, named as asked', async () => {
    await s.mock.clearRequests();
    const r = await client.responses.create({ model: 'gpt-5', instructions: 'Be brief.', input: 'hello there' });
    assert.equal(r.object, 'response');
    assert.match(r.id, /^resp_/);
    assert.equal(r.status, 'completed');
    assert.equal(r.model, 'gpt-5');
    assert.equal(r.output_text, 'Echo: hello there');
    assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0);
    assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
    const [call] = await s.mock.requests();
    assert.equal(call.endpoint, 'chat');
    assert.equal(call.body.model, 'qwen3-coder-plus');
    assert.deepEqual(call.body.messages[0], { role: 'system', content: 'Be brief.' });
  });

  test('stream helper: events in order, each with an increasing sequence number', async () => {
    const stream = client.responses.stream({ model: 'qwen3-coder-plus', input: 'stream a reply' });
    const events = [];
    for await (const e of stream) events.push(e);
    const final = await stream.finalResponse();
    assert.equal(final.output_text, 'Echo: stream a reply');
    const types = events.map((e) => e.type);
    assert.deepEqual(types.slice(0, 4), ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    assert.deepEqual(types.slice(-4), ['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
    const seq = events.map((e) => e.sequence_number);
    assert.deepEqual(seq, [...seq].sort((a, b) => a - b));
    assert.equal(new Set(seq).size, seq.length);
    assert.ok(final.usage.output_tokens > 0);
  });

  test('function tool round trip', async () => {
    const input = [{ role: 'user', content: 'weather in Paris?' }];
    const first = await client.responses.create({ model: 'qwen3-coder-plus', input, tools: [WEATHER], stream: false });
    const call = first.output.find((o) => o.type === 'function_call');
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.arguments), { city: 'Paris' });
    input.push(call, { type: 'function_call_output', call_id: call.call_id, output: 'sunny, 21C' });
    const second = await client.responses.create({ model: 'qwen3-coder-plus', input, tools: [WEATHER] });
    assert.match(second.output_text, /Tool said: sunny, 21C/);
  });

  test('a scripted agent turn streamed: reasoning, text and a call in fragments', async () => {
    await s.mock.agent('r1', [{ reasoning: 'Think first.', content: 'Checking.', tool_calls: [{ name: 'get_weather', arguments: { city: 'Lyon' } }] }]);
    const stream = client.responses.stream({ model: 'qwen3-coder-plus', input: 'go', tools: [WEATHER], reasoning: { effort: 'high', summary: 'auto' } });
    const deltas = [];
    stream.on('response.function_call_arguments.delta', (e) => deltas.push(e.delta));
    const final = await stream.finalResponse();
    assert.deepEqual(final.output.map((o) => o.type), ['reasoning', 'message', 'function_call']);
    assert.equal(final.output[0].summary[0].text, 'Think first.');
    assert.equal(final.output[1].content[0].text, 'Checking.');
    assert.ok(deltas.length >= 2, 'arguments arrive in fragments');
    assert.deepEqual(JSON.parse(final.output[2].arguments), { city: 'Lyon' });
  });

  test('structured output: text.format json_schema becomes response_format upstream', async () => {
    await s.mock.clearRequests();
    await s.mock.agent('r1', [{ content: '{"answer":42}' }]);
    const r = await client.responses.create({
      model: 'qwen3-coder-plus', input: 'the answer?',
      text: { format: { type: 'json_schema', name: 'answer', schema: { type: 'object', properties: { answer: { type: 'integer' } }, required: ['answer'] }, strict: true } },
    });
    assert.deepEqual(JSON.parse(r.output_text), { answer: 42 });
    const [call] = await s.mock.requests();
    assert.equal(call.body.response_format.type, 'json_schema');
    assert.equal(call.body.response_format.json_schema.name, 'answer');
  });

  test('errors before the stream: OpenAI error shape, right status', async () => {
    await assert.rejects(
      client.responses.create({ model: 'qwen3-coder-plus', input: 'x', store: true }),
      (e) => e instanceof OpenAI.BadRequestError && e.param === 'store' && /server-side state/.test(e.message),
    );
    await assert.rejects(
      client.responses.create({ model: 'qwen3-coder-plus', input: 'x', previous_response_id: 'resp_1' }),
      (e) => e.status === 400 && e.param === 'previous_response_id',
    );
    const stranger = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'sk-nope', maxRetries: 0 });
    await assert.rejects(stranger.responses.create({ model: 'm', input: 'x' }), (e) => e.status === 401);
  });

  test('a stream upstream breaks off ends with response.failed', async () => {
    await s.mock.script('r1', { chat: [{ kind: 'stream_stall', after: 2 }] });
    const stream = client.responses.stream({ model: 'qwen3-coder-plus', input: 'long answer please' });
    const types = [];
    let failed = null;
    try {
      for await (const e of stream) {
        types.push(e.type);
        if (e.type === 'response.failed') failed = e.response;
      }
    } catch {
      // The SDK may raise on response.failed; the events before it are what is checked.
    }
    assert.equal(types[0], 'response.created');
    assert.ok(failed, `response.failed was sent: ${types.join(' ')}`);
    assert.equal(failed.status, 'failed');
    assert.match(failed.error.message, /sent nothing for 2 s/);
    assert.ok(!types.includes('response.completed'));
  });
});
