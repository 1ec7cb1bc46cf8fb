// Routes, client auth, bad input and request forwarding, through the real Worker in workerd.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startStack, chat, assertNoSecretsLogged, CLIENT_KEY } from '../harness.mjs';

const run = promisify(execFile);

function assertOpenAIError(body, status, res) {
  assert.equal(res.status, status, JSON.stringify(body));
  assert.ok(body.error, 'error object');
  for (const f of ['message', 'type', 'param', 'code']) assert.ok(f in body.error, `${f} in ${JSON.stringify(body)}`);
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 10);
}

describe('with client keys', () => {
  let s, acct;
  before(async () => {
    s = await startStack({ vars: { OPENAI_API_KEYS: `${CLIENT_KEY}, sk-second`, OPENAI_API_KEY: 'sk-legacy' } });
    acct = await s.addAccount('a1');
  });
  after(async () => {
    assertNoSecretsLogged(s.logs, [...s.secrets(), 'sk-second', 'sk-legacy']);
    await s.close();
  });

  test("the futures' executor takes promise reactions at start-up (no warning that it kept queueMicrotask)", async () => {
    const res = await chat(s.url, { model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(res.status, 200);
    // The isolate has started and served: its start-up lines are in the log by now.
    assert.match(s.logs.join(''), /API protected by/);
    assert.doesNotMatch(s.logs.join(''), /did not take promise reactions/);
  });

  test('GET / describes the service and its auth', async () => {
    const res = await fetch(s.url + '/');
    const body = await res.json();
    assert.equal(res.status, 200);
    assert.equal(body.name, 'qwen-worker');
    assert.match(body.auth, /api_key/);
    assert.equal(body.admin_api, true);
  });

  test('GET /health', async () => {
    const res = await fetch(s.url + '/health');
    assert.equal(res.status, 200);
    assert.equal((await res.json()).status, 'ok');
  });

  test('GET /v1/models lists the coder models in OpenAI shape', async () => {
    const res = await fetch(s.url + '/v1/models', { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    const body = await res.json();
    assert.equal(body.object, 'list');
    const ids = body.data.map((m) => m.id);
    assert.ok(ids.includes('qwen3-coder-plus') && ids.includes('qwen3-coder-flash'));
    for (const m of body.data) assert.equal(m.object, 'model');
    const one = await fetch(s.url + '/v1/models/qwen3-coder-flash', { headers: { 'x-api-key': CLIENT_KEY } });
    assert.equal((await one.json()).id, 'qwen3-coder-flash');
  });

  test('missing or wrong key is a 401 in OpenAI shape', async () => {
    for (const headers of [{}, { authorization: 'Bearer sk-wrong' }, { 'x-api-key': 'nope' }, { authorization: 'Basic abc' }]) {
      const res = await fetch(s.url + '/v1/models', { headers });
      const body = await res.json();
      assertOpenAIError(body, 401, res);
      assert.equal(body.error.type, 'authentication_error');
      assert.equal(body.error.code, 'invalid_api_key');
    }
    const res = await chat(s.url, { messages: [{ role: 'user', content: 'x' }] }, { key: 'sk-wrong' });
    assert.equal(res.status, 401);
  });

  test('every configured key works, by Bearer and by x-api-key, and the legacy key too', async () => {
    for (const key of [CLIENT_KEY, 'sk-second', 'sk-legacy']) {
      const r1 = await fetch(s.url + '/v1/models', { headers: { authorization: `Bearer ${key}` } });
      assert.equal(r1.status, 200, key);
      const r2 = await fetch(s.url + '/v1/models', { headers: { 'x-api-key': key } });
      assert.equal(r2.status, 200, key);
    }
  });

  test('unknown route 404, wrong method 405', async () => {
    let res = await fetch(s.url + '/v1/nothing', { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    assertOpenAIError(await res.json(), 404, res);
    res = await fetch(s.url + '/v1/chat/completions', { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    const body = await res.json();
    assertOpenAIError(body, 405, res);
    assert.equal(res.headers.get('allow'), 'POST');
    res = await fetch(s.url + '/health', { method: 'DELETE' });
    assert.equal(res.status, 405);
  });

  test('bad inputs get clear 4xx errors', async () => {
    const cases = [
      ['', 400, /empty/],
      ['{"messages": [', 400, /not valid JSON/],
      ['[1,2]', 400, /JSON object/],
      ['{"model":"qwen3-coder-plus"}', 400, /'messages' is required/],
      ['{"messages":"hello"}', 400, /array/],
      ['{"messages":[]}', 400, /at least one/],
      ['{"messages":[{"role":"user","content":42}]}', 400, /content/],
      ['{"messages":[{"role":"wizard","content":"x"}]}', 400, /role/],
      ['{"model":7,"messages":[{"role":"user","content":"x"}]}', 400, /model/],
      ['{"stream":"yes","messages":[{"role":"user","content":"x"}]}', 400, /stream/],
    ];
    for (const [body, status, re] of cases) {
      const res = await chat(s.url, body);
      const json = await res.json();
      assertOpenAIError(json, status, res);
      assert.match(json.error.message, re, body);
      assert.equal(json.error.type, 'invalid_request_error');
    }
    const res = await chat(s.url, '{"messages":[]}');
    assert.equal((await res.json()).error.param, 'messages');
  });

  test("an oversized body is a 413, a multipart upload a 415, curl's default form type is fine", async () => {
    // The Worker drains the body before answering, so the client gets the 413 rather than a
    // connection reset (curl and Node's fetch, the OpenAI SDK's transport, both).
    const big = JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(17 * 1024 * 1024) }] });
    let res = await chat(s.url, big);
    assertOpenAIError(await res.json(), 413, res);
    const dir = mkdtempSync(path.join(tmpdir(), 'qwen-big-'));
    const file = path.join(dir, 'big.json');
    writeFileSync(file, big);
    try {
      const { stdout } = await run('curl', ['-s', '-w', '\n%{http_code}', `${s.url}/v1/chat/completions`,
        '-H', `Authorization: Bearer ${CLIENT_KEY}`, '-H', 'Content-Type: application/json', '--data-binary', `@${file}`]);
      const cut = stdout.lastIndexOf('\n');
      assert.equal(stdout.slice(cut + 1), '413');
      assert.match(JSON.parse(stdout.slice(0, cut)).error.message, /larger than the limit/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    res = await fetch(s.url + '/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'multipart/form-data; boundary=x' },
      body: '--x--',
    });
    assertOpenAIError(await res.json(), 415, res);
    res = await fetch(s.url + '/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'curl -d' }] }),
    });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).choices[0].message.content, 'Echo: curl -d');
  });

  test('every request parameter is forwarded, and the CLI headers are sent', async () => {
    await s.mock.clearRequests();
    const body = {
      model: 'qwen3-coder-flash',
      messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }],
      temperature: 0.2, top_p: 0.9, max_tokens: 50, stop: ['END'], seed: 42,
      presence_penalty: 0.1, frequency_penalty: 0.2, response_format: { type: 'json_object' },
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } }],
      tool_choice: 'none', n: 1, user: 'u1', enable_thinking: false, reasoning_effort: 'low',
      metadata: { nested: [1, { deep: true }] },
    };
    const res = await chat(s.url, body);
    assert.equal(res.status, 200);
    await res.text();
    const [rec] = await s.mock.requests('/v1/chat/completions');
    assert.deepEqual(rec.body, body);
    assert.equal(rec.headers.authorization, `Bearer ${acct.access_token}`);
    assert.match(rec.headers['user-agent'], /^QwenCode\//);
    assert.equal(rec.headers['x-dashscope-authtype'], 'qwen-oauth');
    assert.equal(rec.headers['x-dashscope-cachecontrol'], 'enable');
    assert.ok(rec.headers['x-stainless-lang']);
  });

  test('stream_options is forwarded, the default model filled in, text parts flattened', async () => {
    await s.mock.clearRequests();
    const res = await chat(s.url, {
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: [{ type: 'text', text: 'part one' }, { type: 'text', text: 'part two' }] }],
    });
    const text = await res.text();
    assert.match(text, /"usage":\{"prompt_tokens"/);
    const [rec] = await s.mock.requests('/v1/chat/completions');
    assert.equal(rec.body.model, 'qwen3-coder-plus');
    assert.deepEqual(rec.body.stream_options, { include_usage: true });
    assert.equal(rec.body.messages[0].content, 'part one\npart two');
  });

  test("an answer names upstream's request id beside ours, passed through or translated, whole or streamed", async () => {
    const post = (route, body) => fetch(s.url + route, {
      method: 'POST',
      headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const messages = [{ role: 'user', content: 'hi' }];
    for (const [route, body] of [
      ['/v1/chat/completions', { messages }],
      ['/v1/chat/completions', { messages, stream: true }],
      ['/v1/messages', { model: 'qwen3-coder-plus', max_tokens: 50, messages }],
      ['/v1/messages', { model: 'qwen3-coder-plus', max_tokens: 50, messages, stream: true }],
    ]) {
      const res = await post(route, body);
      await res.text();
      const what = `${route} stream=${Boolean(body.stream)}`;
      assert.equal(res.status, 200, what);
      assert.match(res.headers.get('x-upstream-request-id') ?? '', /^mock-[0-9a-f]{16}$/, what);
      assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, what);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', what);
      assert.match(res.headers.get('content-type'), body.stream ? /^text\/event-stream/ : /^application\/json/, what);
    }
  });

  test('CORS preflight', async () => {
    const res = await fetch(s.url + '/v1/chat/completions', { method: 'OPTIONS' });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.match(res.headers.get('access-control-allow-headers'), /authorization/);
  });
});

describe('without client keys', () => {
  let s;
  before(async () => {
    s = await startStack({ vars: { OPENAI_API_KEYS: undefined, ADMIN_SECRET_KEY: undefined } });
    await s.addAccount('a1');
  });
  after(() => s.close());

  test('the API is public, and / and the startup log say so', async () => {
    const res = await chat(s.url, { messages: [{ role: 'user', content: 'hello' }] }, { key: 'anything' });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).choices[0].message.content, 'Echo: hello');
    const info = await (await fetch(s.url + '/')).json();
    assert.match(info.auth, /public/);
    assert.equal(info.admin_api, false);
    assert.match(s.logs.join(''), /API is PUBLIC/);
  });

  test('the admin API is off without ADMIN_SECRET_KEY', async () => {
    const res = await fetch(s.url + '/admin/health', { headers: { authorization: 'Bearer x' } });
    const body = await res.json();
    assert.equal(res.status, 404);
    assert.equal(body.error.code, 'admin_disabled');
    assert.match(body.error.message, /ADMIN_SECRET_KEY/);
  });
});

describe('with no account at all', () => {
  let s;
  before(async () => { s = await startStack(); });
  after(() => s.close());

  test('chat says how to add one (503)', async () => {
    const res = await chat(s.url, { messages: [{ role: 'user', content: 'x' }] });
    const body = await res.json();
    assert.equal(res.status, 503);
    assert.equal(body.error.code, 'no_accounts_configured');
    assert.match(body.error.message, /QWEN_OAUTH_CREDS|ACCOUNT:<id>/);
  });
});
