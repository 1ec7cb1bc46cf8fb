// Self-test of the upstream mock, through real HTTP.
// Run from the repository root:  node --test tests/mock/*.test.mjs
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';

import { CLIENT_ID, startMock } from './upstream.mjs';

let mock;
before(async () => { mock = await startMock({ chunkDelayMs: 1 }); });
after(async () => { await mock.close(); });
beforeEach(async () => { await ctl('POST', '/__mock/reset'); });

async function ctl(method, path, body) {
  const res = await fetch(mock.url + path, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  assert.equal(res.status, 200, `${method} ${path} -> ${res.status}`);
  return res.json();
}

const account = (id, extra = {}) => ctl('POST', '/__mock/accounts', { id, ...extra });
const script = (id, body) => ctl('POST', `/__mock/accounts/${id}/script`, body);

function chat(token, body, path = '/v1/chat/completions') {
  return fetch(mock.url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'hello there' }], ...body }),
  });
}

function form(path, fields) {
  return fetch(mock.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(fields),
  });
}

const refresh = (refreshToken, clientId = CLIENT_ID) =>
  form('/api/v1/oauth2/token', { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId });

/** Read a streamed answer: raw reads, parsed data payloads (JSON or the string "[DONE]"). */
async function readSse(res) {
  const decoder = new TextDecoder();
  let text = '';
  let reads = 0;
  for await (const chunk of res.body) { text += decoder.decode(chunk, { stream: true }); reads++; }
  text += decoder.decode();
  const events = text.split('\n\n').filter(Boolean).map((block) => {
    assert.match(block, /^data: /);
    const data = block.slice(6);
    return data === '[DONE]' ? data : JSON.parse(data);
  });
  return { text, events, reads };
}

test('oauth account, authenticated non-streamed chat', async () => {
  const a = await account('a1');
  assert.match(a.access_token, /^at-a1-/);
  assert.match(a.refresh_token, /^rt-a1-/);
  assert.equal(a.resource_url, mock.url);
  assert.equal(a.token_type, 'Bearer');
  assert.ok(Math.abs(a.expiry_date - (Date.now() + 3600_000)) < 5000);

  const res = await chat(a.access_token, { messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }] });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /application\/json/);
  const j = await res.json();
  assert.equal(j.object, 'chat.completion');
  assert.equal(j.model, 'qwen3-coder-plus');
  assert.equal(j.choices[0].message.content, 'Echo: a b');
  assert.equal(j.choices[0].finish_reason, 'stop');
  assert.equal(j.usage.total_tokens, j.usage.prompt_tokens + j.usage.completion_tokens);

  // The DashScope compatible-mode path and api_key accounts work the same way.
  const k = await account('k1', { kind: 'api_key' });
  assert.deepEqual(Object.keys(k).sort(), ['api_key', 'id']);
  const r2 = await chat(k.api_key, {}, '/compatible-mode/v1/chat/completions');
  assert.equal((await r2.json()).choices[0].message.content, 'Echo: hello there');
});

test('streamed chat: SSE chunks, usage chunk, [DONE]', async () => {
  const a = await account('a1');
  const res = await chat(a.access_token, { stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream me — ünïcødé 🎉 please' }] });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  assert.equal(res.headers.get('cache-control'), 'no-cache');
  const { events, reads } = await readSse(res);
  assert.ok(reads > 1, 'the stream arrives in several reads');
  assert.equal(events.at(-1), '[DONE]');
  const chunks = events.slice(0, -1);
  for (const c of chunks) assert.equal(c.object, 'chat.completion.chunk');
  assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant', content: '' });
  const usage = chunks.at(-1);
  assert.deepEqual(usage.choices, []);
  assert.equal(usage.usage.total_tokens, usage.usage.prompt_tokens + usage.usage.completion_tokens);
  assert.equal(chunks.at(-2).choices[0].finish_reason, 'stop');
  const text = chunks.slice(1, -2).map((c) => c.choices[0].delta.content).join('');
  assert.equal(text, 'Echo: stream me — ünïcødé 🎉 please');

  // Without include_usage there is no usage chunk; mock_events fixes the number of content pieces.
  const r2 = await chat(a.access_token, { stream: true, mock_events: 50 });
  const e2 = (await readSse(r2)).events;
  assert.equal(e2.filter((c) => c !== '[DONE]' && c.choices[0]?.delta?.content).length, 50);
  assert.ok(e2.every((c) => c === '[DONE]' || c.choices.length === 1));
});

test('tool calls and tool results', async () => {
  const a = await account('a1');
  const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }];
  const j = await (await chat(a.access_token, { tools })).json();
  const msg = j.choices[0].message;
  assert.equal(msg.content, null);
  assert.equal(j.choices[0].finish_reason, 'tool_calls');
  assert.match(msg.tool_calls[0].id, /^call_\d+$/);
  assert.deepEqual(msg.tool_calls[0].function, { name: 'get_weather', arguments: '{"city":"Paris"}' });

  const { events } = await readSse(await chat(a.access_token, { tools, stream: true }));
  const deltas = events.filter((e) => e !== '[DONE]').map((e) => e.choices[0]);
  assert.equal(deltas[1].delta.tool_calls[0].function.name, 'get_weather');
  const args = deltas.slice(2).map((d) => d.delta.tool_calls?.[0].function.arguments ?? '').join('');
  assert.equal(args, '{"city":"Paris"}');
  assert.equal(deltas.at(-1).finish_reason, 'tool_calls');

  const messages = [{ role: 'user', content: 'weather?' }, { role: 'assistant', content: null, tool_calls: msg.tool_calls },
    { role: 'tool', tool_call_id: msg.tool_calls[0].id, content: 'sunny' }];
  const j3 = await (await chat(a.access_token, { tools, messages })).json();
  assert.equal(j3.choices[0].message.content, 'Tool said: sunny');
});

test('401 on a wrong, an expired and an expired-by-control token', async () => {
  const expectInvalid = async (res) => {
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error.code, 'invalid_api_key');
  };
  await expectInvalid(await chat('nonsense', {}));
  const old = await account('old', { expires_in: -10 });
  await expectInvalid(await chat(old.access_token, {}));
  const a = await account('a1');
  assert.equal((await chat(a.access_token, {})).status, 200);
  await ctl('POST', '/__mock/accounts/a1/expire');
  await expectInvalid(await chat(a.access_token, {}));
  const recs = await ctl('GET', '/__mock/requests?path=/v1/chat/completions');
  assert.deepEqual(recs.map((r) => r.account), [null, 'old', 'a1', 'a1']);
});

test('refresh rotates the refresh token; revoke kills it', async () => {
  const a = await account('a1');
  const res = await refresh(a.refresh_token);
  assert.equal(res.status, 200);
  const t = await res.json();
  assert.equal(t.expires_in, 3600);
  assert.equal(t.resource_url, mock.url);
  assert.notEqual(t.refresh_token, a.refresh_token);
  assert.equal((await chat(t.access_token, {})).status, 200);
  assert.equal((await chat(a.access_token, {})).status, 401, 'the replaced access token is dead');

  const stale = await refresh(a.refresh_token);
  assert.equal(stale.status, 400);
  assert.deepEqual(await stale.json(), { error: 'invalid_grant', error_description: 'Invalid refresh token or client_id' });
  assert.equal((await refresh(t.refresh_token, 'wrong-client')).status, 400);

  // no_rotation: new access token, no refresh_token / resource_url, the old refresh token stays valid.
  await script('a1', { refresh: ['no_rotation', 'server_error'] });
  const nr = await (await refresh(t.refresh_token)).json();
  assert.ok(nr.access_token && !('refresh_token' in nr) && !('resource_url' in nr));
  assert.equal((await refresh(t.refresh_token)).status, 500);
  assert.equal((await refresh(t.refresh_token)).status, 200);

  // A JSON body is not accepted by the token endpoint.
  const json = await fetch(`${mock.url}/api/v1/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'refresh_token' }) });
  assert.equal(json.status, 400);

  const b = await account('b1');
  await ctl('POST', '/__mock/accounts/b1/revoke');
  assert.equal((await refresh(b.refresh_token)).status, 400);
  assert.equal((await chat(b.access_token, {})).status, 401);
  assert.equal((await ctl('GET', '/__mock/stats')).refresh_calls.a1, 6);
});

test('overlapping refreshes of one token: one wins, the other gets invalid_grant', async () => {
  const a = await account('a1');
  await ctl('POST', '/__mock/config', { refresh_delay_ms: 50 });
  try {
    const results = await Promise.all([refresh(a.refresh_token), refresh(a.refresh_token)]);
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 400]);
  } finally {
    await ctl('POST', '/__mock/config', { refresh_delay_ms: 0 });
  }
});

test('chat scripts: quota then ok, throttle, errors, drop, stall', async () => {
  const a = await account('a1');
  await script('a1', { chat: ['quota', 'ok', { kind: 'throttle', retry_after: 3 }, 'quota403', 'model_not_found',
    'context_length', 'bad_gateway', 'timeout', 'drop', { kind: 'stall', ms: 100 }] });
  const q = await chat(a.access_token, {});
  assert.equal(q.status, 429);
  assert.equal((await q.json()).error.code, 'insufficient_quota');
  assert.equal((await chat(a.access_token, {})).status, 200);
  const th = await chat(a.access_token, {});
  assert.equal(th.status, 429);
  assert.equal(th.headers.get('retry-after'), '3');
  assert.equal((await th.json()).error.code, 'rate_limit_exceeded');
  assert.equal((await chat(a.access_token, {})).status, 403);
  const nf = await chat(a.access_token, { model: 'nope' });
  assert.equal(nf.status, 404);
  assert.equal((await nf.json()).error.message, 'The model `nope` does not exist or you do not have access to it.');
  assert.match((await (await chat(a.access_token, {})).json()).error.message, /Range of input length/);
  const bg = await chat(a.access_token, {});
  assert.equal(bg.status, 502);
  assert.equal(await bg.text(), 'Bad Gateway');
  assert.equal((await chat(a.access_token, {})).status, 504);
  await assert.rejects(chat(a.access_token, {}), TypeError);
  const t0 = Date.now();
  assert.equal((await chat(a.access_token, {})).status, 200);
  assert.ok(Date.now() - t0 >= 90);
  assert.equal((await chat(a.access_token, {})).status, 200, 'queue empty: default ok');

  await assert.doesNotReject(ctl('POST', '/__mock/accounts/a1/script', { default_chat: 'server_error' }));
  assert.equal((await chat(a.access_token, {})).status, 500);
  const bad = await fetch(`${mock.url}/__mock/accounts/a1/script`, { method: 'POST', body: JSON.stringify({ chat: ['nope'] }) });
  assert.equal(bad.status, 400);
});

test('midstream_quota: 200, three events, an error event, no [DONE]', async () => {
  const a = await account('a1');
  await script('a1', { chat: ['midstream_quota'] });
  const res = await chat(a.access_token, { stream: true });
  assert.equal(res.status, 200);
  const { events } = await readSse(res);
  assert.equal(events.length, 4);
  assert.equal(events[3].error.code, 'insufficient_quota');
  assert.ok(!events.includes('[DONE]'));
});

test('device flow with PKCE', async () => {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const dc = await form('/api/v1/oauth2/device/code',
    { client_id: CLIENT_ID, scope: 'openid profile email model.completion', code_challenge: challenge, code_challenge_method: 'S256' });
  assert.equal(dc.status, 200);
  const d = await dc.json();
  assert.equal(d.verification_uri, `${mock.url}/authorize`);
  assert.equal(d.verification_uri_complete, `${mock.url}/authorize?user_code=${d.user_code}`);
  assert.equal(d.interval, 2);

  await ctl('POST', '/__mock/device/script', { polls: ['pending', 'slow_down', 'approve'], account_id: 'dev1' });
  const poll = (v = verifier) => form('/api/v1/oauth2/token',
    { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', client_id: CLIENT_ID, device_code: d.device_code, code_verifier: v });
  const wrong = await poll('x'.repeat(43));
  assert.equal(wrong.status, 400);
  assert.equal((await wrong.json()).error_description, 'PKCE verification failed');
  const p1 = await poll();
  assert.equal(p1.status, 400);
  assert.equal((await p1.json()).error, 'authorization_pending');
  const p2 = await poll();
  assert.equal(p2.status, 429);
  assert.equal((await p2.json()).error, 'slow_down');
  const p3 = await poll();
  assert.equal(p3.status, 200);
  const tok = await p3.json();
  assert.equal(tok.resource_url, mock.url);
  assert.ok(tok.refresh_token);
  assert.equal((await chat(tok.access_token, {})).status, 200);
  assert.equal((await ctl('GET', '/__mock/accounts/dev1')).access_token, tok.access_token);
  assert.equal((await poll()).status, 400, 'a used device code is gone');
  const stats = await ctl('GET', '/__mock/stats');
  assert.equal(stats.device_code_calls, 1);
  assert.equal(stats.device_poll_calls, 5);
});

test('request recording, stats, clear and reset', async () => {
  const a = await account('a1');
  await fetch(`${mock.url}/v1/chat/completions`, { method: 'POST',
    headers: { Authorization: `Bearer ${a.access_token}`, 'X-DashScope-AuthType': 'qwen-oauth', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }) }).then((r) => r.text());
  await refresh(a.refresh_token);
  const nf = await fetch(`${mock.url}/nowhere`);
  assert.equal(nf.status, 404);
  await nf.text();

  const recs = await ctl('GET', '/__mock/requests');
  assert.deepEqual(recs.map((r) => r.path), ['/v1/chat/completions', '/api/v1/oauth2/token', '/nowhere']);
  assert.deepEqual(recs.map((r) => r.seq), [1, 2, 3]);
  assert.equal(recs[0].headers['x-dashscope-authtype'], 'qwen-oauth');
  assert.equal(recs[0].body.messages[0].content, 'hi');
  assert.equal(recs[1].body.grant_type, 'refresh_token');
  assert.equal(recs[1].account, 'a1');
  const stats = await ctl('GET', '/__mock/stats');
  const { refresh_calls, chat_calls, device_code_calls, device_poll_calls } = stats;
  assert.deepEqual({ refresh_calls, chat_calls, device_code_calls, device_poll_calls },
    { refresh_calls: { a1: 1 }, chat_calls: { a1: 1 }, device_code_calls: 0, device_poll_calls: 0 });
  assert.deepEqual(stats.endpoint_calls, { chat: 1, messages: 0, embeddings: 0, completions: 0, models: 0, token: 1, device_code: 0, unknown: 1 });
  assert.deepEqual(recs.map((r) => r.endpoint), ['chat', 'token', 'unknown']);

  await ctl('DELETE', '/__mock/requests');
  assert.deepEqual(await ctl('GET', '/__mock/requests'), []);
  await ctl('POST', '/__mock/reset');
  assert.deepEqual(await ctl('GET', '/__mock/accounts'), []);
  assert.equal((await chat(a.access_token, {})).status, 401);
});

test('runs as a script and stops on SIGTERM', async () => {
  const script = fileURLToPath(new URL('./upstream.mjs', import.meta.url));
  const child = spawn(process.execPath, [script, '--port', '0', '--chunk-delay-ms', '1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [line] = await once(child.stdout, 'data');
    const m = /^mock upstream listening on (http:\/\/127\.0\.0\.1:\d+)\n$/.exec(line.toString());
    assert.ok(m, line.toString());
    const res = await fetch(`${m[1]}/__mock/stats`);
    assert.equal(res.status, 200);
    await res.json();
  } finally {
    child.kill('SIGTERM');
  }
  const [code] = await once(child, 'exit');
  assert.equal(code, 0);
});

test('stats count the TCP connections accepted: kept-alive requests share one, a closed one does not', async () => {
  const a = await account('conn');
  const http = await import('node:http');
  const url = new URL(mock.url);
  const call = (agent) => new Promise((resolve, reject) => {
    const req = http.request({ agent, host: url.hostname, port: url.port, path: '/v1/chat/completions', method: 'POST', headers: {
      authorization: `Bearer ${a.access_token}`, 'content-type': 'application/json',
    } }, (res) => { res.resume(); res.on('end', resolve); });
    req.on('error', reject);
    req.end(JSON.stringify({ model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'hi' }] }));
  });
  const kept = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const before = (await ctl('GET', '/__mock/stats')).connections;
  for (let i = 0; i < 3; i++) await call(kept);
  assert.equal((await ctl('GET', '/__mock/stats')).connections - before, 1);
  kept.destroy();
  const fresh = new http.Agent({ keepAlive: false });
  for (let i = 0; i < 2; i++) await call(fresh);
  assert.equal((await ctl('GET', '/__mock/stats')).connections - before, 3);
});
