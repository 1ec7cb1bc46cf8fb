// The Anthropic Messages dialect through the official `@anthropic-ai/sdk` against the Worker in
// workerd, on both paths: native (a DashScope account's Anthropic-compatible endpoint) and
// translated (an OAuth account's chat endpoint). Create, the stream helper with its event
// accumulation, a tool round trip, count_tokens, errors in Anthropic's envelope, failover that
// crosses paths, a stream broken mid-answer, session affinity with a byte-stable prefix, and how a
// translated stream is handed on (gathered when upstream is ahead, upstream read to its end).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startStack, assertNoSecretsLogged, CLIENT_KEY } from '../harness.mjs';

const WEATHER = {
  name: 'get_weather',
  description: 'Weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

/** A client that pins its requests to `account` (allowed to client-key holders). */
function pinned(url, account) {
  return new Anthropic({
    baseURL: url, apiKey: CLIENT_KEY, maxRetries: 0, defaultHeaders: { 'x-qwen-account': account },
  });
}

/** The model calls the mock saw, in order. */
async function modelCalls(s) {
  return (await s.mock.requests()).filter((r) => r.endpoint === 'messages' || r.endpoint === 'chat');
}

for (const [path, kind, account, upstreamEndpoint] of [
  ['native', 'dashscope', 'ds1', 'messages'],
  ['translated', 'oauth', 'oa1', 'chat'],
]) {
  describe(`Anthropic SDK, ${path} path (${kind} account)`, () => {
    let s, client;
    before(async () => {
      s = await startStack({ chunkDelayMs: 5 });
      await s.addAccount(account, kind === 'oauth' ? {} : { kind });
      client = pinned(s.url, account);
    });
    after(async () => {
      assertNoSecretsLogged(s.logs, s.secrets());
      await s.close();
    });

    test('create: an Anthropic message named as asked, with usage', async () => {
      await s.mock.clearRequests();
      const m = await client.messages.create({
        model: 'claude-opus-5-5', max_tokens: 200, messages: [{ role: 'user', content: 'hello there' }],
      });
      assert.equal(m.type, 'message');
      assert.equal(m.role, 'assistant');
      assert.match(m.id, /^msg_/);
      assert.equal(m.model, 'claude-opus-5-5');
      assert.deepEqual(m.content, [{ type: 'text', text: 'Echo: hello there' }]);
      assert.equal(m.stop_reason, 'end_turn');
      assert.ok(m.usage.input_tokens > 0 && m.usage.output_tokens > 0);
      const [call] = await modelCalls(s);
      assert.equal(call.endpoint, upstreamEndpoint);
      assert.equal(call.body.model, 'qwen3-coder-plus', 'the alias went upstream as the default model');
    });

    test('stream helper: events accumulate into the final message', async () => {
      const stream = client.messages.stream({
        model: 'qwen3-coder-plus', max_tokens: 200, messages: [{ role: 'user', content: 'stream a reply' }],
      });
      const types = [];
      let text = '';
      stream.on('streamEvent', (e) => types.push(e.type));
      stream.on('text', (t) => { text += t; });
      const m = await stream.finalMessage();
      assert.equal(text, 'Echo: stream a reply');
      assert.deepEqual(m.content, [{ type: 'text', text: 'Echo: stream a reply' }]);
      assert.equal(types[0], 'message_start');
      assert.deepEqual(types.slice(-2), ['message_delta', 'message_stop']);
      assert.ok(types.includes('content_block_delta'));
      assert.ok(m.usage.output_tokens > 0);
    });

    test('tool round trip: tool_use with its input, then the answer after the result', async () => {
      const messages = [{ role: 'user', content: 'weather in Paris?' }];
      const first = await client.messages.stream({ model: 'qwen3-coder-plus', max_tokens: 200, tools: [WEATHER], messages }).finalMessage();
      assert.equal(first.stop_reason, 'tool_use');
      const use = first.content.find((b) => b.type === 'tool_use');
      assert.equal(use.name, 'get_weather');
      assert.deepEqual(use.input, { city: 'Paris' });
      assert.match(use.id, /^(toolu|call)_/);
      messages.push({ role: 'assistant', content: first.content });
      messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'sunny, 21C' }] });
      const second = await client.messages.create({ model: 'qwen3-coder-plus', max_tokens: 200, tools: [WEATHER], messages });
      assert.equal(second.stop_reason, 'end_turn');
      assert.match(second.content[0].text, /Tool said: sunny, 21C/);
    });

    test('scripted agent turn: thinking, text and a tool call streamed in fragments', async () => {
      await s.mock.agent(account, [{
        reasoning: 'Let me check the files first.', content: 'Looking.',
        tool_calls: [{ name: 'get_weather', arguments: { city: 'Lyon' } }],
      }]);
      const m = await client.messages.stream({
        model: 'qwen3-coder-plus', max_tokens: 300, tools: [WEATHER], messages: [{ role: 'user', content: 'go' }],
      }).finalMessage();
      const kinds = m.content.map((b) => b.type);
      assert.deepEqual(kinds, ['thinking', 'text', 'tool_use']);
      assert.equal(m.content[0].thinking, 'Let me check the files first.');
      assert.deepEqual(m.content[2].input, { city: 'Lyon' });
      assert.equal(m.stop_reason, 'tool_use');
    });

    test('count_tokens is answered locally and never goes upstream', async () => {
      await s.mock.clearRequests();
      const bare = await client.messages.countTokens({
        model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'hello' }],
      });
      const withTool = await client.messages.countTokens({
        model: 'qwen3-coder-plus', tools: [WEATHER], messages: [{ role: 'user', content: 'hello' }],
      });
      assert.ok(bare.input_tokens > 0);
      assert.ok(withTool.input_tokens > bare.input_tokens);
      assert.equal((await s.mock.requests()).length, 0);
    });

    test('errors come in Anthropic\'s envelope with the right status', async () => {
      await assert.rejects(
        client.messages.create({ model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'x' }] }),
        (e) => e instanceof Anthropic.BadRequestError && e.error.type === 'error'
          && e.error.error.type === 'invalid_request_error' && /max_tokens/.test(e.error.error.message),
      );
      const stranger = new Anthropic({ baseURL: s.url, apiKey: 'sk-wrong', maxRetries: 0 });
      await assert.rejects(
        stranger.messages.create({ model: 'qwen3-coder-plus', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
        (e) => e instanceof Anthropic.AuthenticationError && e.error.error.type === 'authentication_error',
      );
      const raw = await fetch(`${s.url}/v1/messages`, { method: 'GET', headers: { 'x-api-key': CLIENT_KEY } });
      assert.equal(raw.status, 405);
      assert.equal((await raw.json()).error.type, 'invalid_request_error');
    });

    test('upstream quota everywhere: 429 rate_limit_error with retry-after', async () => {
      await s.mock.script(account, { chat: ['quota'] });
      try {
        await assert.rejects(
          client.messages.create({ model: 'qwen3-coder-plus', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
          (e) => e instanceof Anthropic.RateLimitError && e.error.error.type === 'rate_limit_error'
            && Number(e.headers.get('retry-after')) > 0,
        );
      } finally {
        await fetch(`${s.url}/admin/accounts/${account}/reset`, {
          method: 'POST', headers: { authorization: 'Bearer admin-test-secret' },
        });
      }
    });
  });
}

/** A stack with `accounts` ([id, options]) stored before the Worker reads its pool. */
function stackWith(accounts, vars = {}) {
  const box = {};
  before(async () => {
    box.s = await startStack({ chunkDelayMs: 5, vars });
    for (const [id, opts] of accounts) await box.s.addAccount(id, opts);
  });
  after(async () => {
    assertNoSecretsLogged(box.s.logs, box.s.secrets());
    await box.s.close();
  });
  return box;
}

describe('Anthropic dialect: failover across paths', () => {
  const box = stackWith([['cross-ds', { kind: 'dashscope' }], ['cross-oa', {}]]);

  test('the native account fails, the translated one answers in Anthropic\'s shape', async () => {
    const { s } = box;
    await s.mock.script('cross-ds', { default_messages: 'server_error' });
    const client = new Anthropic({ baseURL: s.url, apiKey: CLIENT_KEY, maxRetries: 0 });
    // A session ranks the accounts in a fixed order: find one that tries the failing one first.
    let crossed = null;
    for (let i = 0; i < 32 && !crossed; i++) {
      await s.mock.clearRequests();
      const m = await client.messages.stream(
        { model: 'qwen3-coder-plus', max_tokens: 50, messages: [{ role: 'user', content: `turn ${i}` }] },
        { headers: { 'x-claude-code-session-id': `cross-${i}` } },
      ).finalMessage();
      assert.deepEqual(m.content, [{ type: 'text', text: `Echo: turn ${i}` }]);
      const calls = await modelCalls(s);
      if (calls.length === 2) crossed = calls;
    }
    assert.ok(crossed, 'some session tried the native account first');
    assert.deepEqual(crossed.map((c) => [c.account, c.endpoint]), [['cross-ds', 'messages'], ['cross-oa', 'chat']]);
    await s.mock.script('cross-ds', { default_messages: null });
  });

});

describe('Anthropic dialect: a stream broken off', () => {
  const box = stackWith([['stall1', {}]], { STREAM_IDLE_TIMEOUT_MS: '1500' });

  test('a translated stream that upstream breaks off ends with an Anthropic error event', async () => {
    const { s } = box;
    await s.mock.script('stall1', { chat: [{ kind: 'stream_stall', after: 2 }] });
    const client = pinned(s.url, 'stall1');
    const stream = client.messages.stream({
      model: 'qwen3-coder-plus', max_tokens: 50, messages: [{ role: 'user', content: 'a long answer please' }],
    });
    const started = Date.now();
    await assert.rejects(stream.finalMessage(), (e) => /sent nothing for 2 s/.test(e.message));
    assert.ok(Date.now() - started < 8000);
  });

});

describe('Anthropic dialect: session affinity', () => {
  const box = stackWith(['aff-a', 'aff-b', 'aff-c'].map((id) => [id, { kind: 'dashscope' }]));

  test('a session stays on its account and its upstream prefix is byte-identical from turn to turn', async () => {
    const { s } = box;
    const client = new Anthropic({ baseURL: s.url, apiKey: CLIENT_KEY, maxRetries: 0 });
    const session = { headers: { 'x-claude-code-session-id': '5f0c6a1e-affinity' } };
    // Claude Code's first system block: a billing marker whose hash changes every request.
    const system = (hash) => [
      { type: 'text', text: `x-anthropic-billing-header: cc_version=2.1.332.${hash}; cc_entrypoint=sdk-cli;` },
      { type: 'text', text: 'You are a careful coding agent. '.repeat(40) },
    ];
    const first = [{ role: 'user', content: 'Read the README and summarise it.' }];
    await s.mock.clearRequests();
    const one = await client.messages.create({ model: 'qwen3-coder-plus', max_tokens: 100, system: system('a1f'), messages: first }, session);
    const turn2 = [...first, { role: 'assistant', content: one.content }, { role: 'user', content: 'Now the tests.' }];
    const two = await client.messages.create({ model: 'qwen3-coder-plus', max_tokens: 100, system: system('9c4'), messages: turn2 }, session);
    const calls = (await modelCalls(s)).filter((c) => c.account?.startsWith('aff-'));
    assert.equal(calls.length, 2);
    assert.equal(calls[0].account, calls[1].account, 'the second turn went to the same account');
    const [a, b] = calls.map((c) => c.raw_body);
    assert.ok(!a.includes('cc_version') && !b.includes('cc_version'), 'the billing marker never goes upstream');
    const endOfFirstTurn = a.indexOf('Read the README and summarise it.') + 'Read the README and summarise it.'.length;
    assert.equal(b.slice(0, endOfFirstTurn), a.slice(0, endOfFirstTurn), 'the prefix is byte-identical');
    assert.equal(one.usage.cache_read_input_tokens, 0);
    assert.ok(two.usage.cache_read_input_tokens > 100, `cached tokens reported: ${JSON.stringify(two.usage)}`);
  });
});

describe('Anthropic dialect: keep-alive while upstream is slow', () => {
  const box = stackWith([['slow1', {}]], { KEEPALIVE_MS: '150' });

  test('ping events go out between slow upstream chunks, and the message is intact', async () => {
    const { s } = box;
    await s.mock.config({ chunk_delay_ms: 400 });
    try {
      const res = await fetch(`${s.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': CLIENT_KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'qwen3-coder-plus', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'slow' }] }),
      });
      const text = await res.text();
      const events = text.split('\n\n').filter(Boolean).map((e) => /^event: (.+)$/m.exec(e)?.[1]);
      assert.ok(events.filter((e) => e === 'ping').length >= 2, events.join(' '));
      assert.equal(events[0], 'message_start');
      assert.equal(events.at(-1), 'message_stop');
      const deltas = [...text.matchAll(/"text_delta","text":"([^"]*)"/g)].map((m) => m[1]).join('');
      assert.equal(deltas, 'Echo: slow');
    } finally {
      await s.mock.config({ chunk_delay_ms: 5 });
    }
  });
});

describe('Anthropic dialect: how a translated stream is handed on', () => {
  const box = stackWith([['hand1', {}]]);

  /** A streamed Messages request; the text and the chunks as the client read them. */
  async function streamed(s, content, maxTokens = 4000) {
    const res = await fetch(`${s.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': CLIENT_KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'qwen3-coder-plus', max_tokens: maxTokens, stream: true, messages: [{ role: 'user', content }] }),
    });
    assert.equal(res.status, 200);
    const chunks = [];
    const decoder = new TextDecoder();
    for await (const c of res.body) chunks.push(decoder.decode(c, { stream: true }));
    const text = chunks.join('');
    const deltas = [...text.matchAll(/"text_delta","text":"([^"]*)"/g)].map((m) => m[1]).join('');
    return { text, chunks, deltas };
  }

  test('upstream ahead of the client: its events reach the client gathered, the answer intact', async () => {
    const { s } = box;
    await s.mock.config({ chunk_delay_ms: 0 });
    try {
      const long = 'x'.repeat(893); // "Echo: " and this, in about 200 events
      const { chunks, deltas, text } = await streamed(s, long);
      assert.equal(deltas, `Echo: ${long}`);
      assert.ok(text.endsWith('event: message_stop\ndata: {"type":"message_stop"}\n\n'));
      const events = text.split('\n\n').filter(Boolean).length;
      assert.ok(events > 200, `${events} events`);
      // One chunk per turn of the Worker's event loop, not one per event (the client's own reads
      // gather some too: a Worker handing on each event alone was read here in about 15).
      assert.ok(chunks.length <= 8, `${chunks.length} chunks for ${events} events`);
    } finally {
      await s.mock.config({ chunk_delay_ms: 5 });
    }
  });

  test('events that come apart go out as they come', async () => {
    const { s } = box;
    await s.mock.config({ chunk_delay_ms: 150 });
    try {
      const { chunks, deltas } = await streamed(s, 'one by one', 50);
      assert.equal(deltas, 'Echo: one by one');
      const withText = chunks.filter((c) => c.includes('"text_delta"'));
      assert.ok(withText.length >= 3, `text came in ${withText.length} chunks: ${JSON.stringify(chunks)}`);
    } finally {
      await s.mock.config({ chunk_delay_ms: 5 });
    }
  });

  test('a finished answer leaves upstream\'s connection to serve again (read to its end, not cancelled)', async () => {
    const { s } = box;
    // Back to back, so that answers end within one accounting batch: a request that does not
    // start a batch has no other work left when its stream ends.
    await s.mock.config({ chunk_delay_ms: 0 });
    try {
      const before = (await s.mock.stats()).connections;
      for (let i = 0; i < 12; i++) assert.equal((await streamed(s, `turn ${i}`, 50)).deltas, `Echo: turn ${i}`);
      const opened = (await s.mock.stats()).connections - before;
      assert.ok(opened <= 2, `${opened} new upstream connections for 12 answers`);
    } finally {
      await s.mock.config({ chunk_delay_ms: 5 });
    }
  });
});
