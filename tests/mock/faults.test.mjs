// Self-test of the mock: fault modes for hardening tests, on chat, Anthropic and the token endpoint,
// and close() cancelling every wait.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';

import { CLIENT_ID, startMock } from './upstream.mjs';
import { kit, parseSse, rawRequest, readFor } from './testkit.mjs';

let mock;
before(async () => { mock = await startMock({ chunkDelayMs: 1 }); });
after(async () => { await mock.close(); });
const { ctl, account, script, chat, chatBody, messages } = kit(() => mock.url);
beforeEach(async () => { await ctl('POST', '/__mock/reset'); });

const STALL_MS = 300; // how long a client waits before deciding a stall is a stall

async function dashscope(chatScript) {
  const { api_key: key } = await account('d', { kind: 'dashscope' });
  await script('d', { chat: chatScript });
  return key;
}
const refresh = (rt) => fetch(`${mock.url}/api/v1/oauth2/token`, {
  method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: rt, client_id: CLIENT_ID }),
});

test('head_stall: status and headers, then nothing until the client gives up (or ms ends it)', async () => {
  const key = await dashscope(['head_stall', { kind: 'head_stall', status: 503 }, { kind: 'head_stall', ms: 100 }]);
  const res = await chat(key);
  assert.equal(res.status, 200);
  const r = await readFor(res, STALL_MS);
  assert.deepEqual([r.text, r.ended, r.error], ['', false, undefined]);
  const r503 = await chat(key, { stream: true });
  assert.equal(r503.status, 503);
  assert.equal(r503.headers.get('content-type'), 'text/event-stream');
  assert.equal((await readFor(r503, STALL_MS)).ended, false);
  const t0 = Date.now();
  const cut = await readFor(await chat(key), 5000);
  assert.ok(cut.error, 'the connection is cut when ms ends');
  assert.ok(Date.now() - t0 >= 90 && Date.now() - t0 < 4000);
});

test('body_stall: part of the body, then nothing; for 200 and for an error status', async () => {
  const key = await dashscope(['body_stall', { kind: 'body_stall', status: 500 }, { kind: 'body_stall', bytes: 10 }]);
  const ok = await chat(key);
  assert.equal(ok.status, 200);
  const len = Number(ok.headers.get('content-length'));
  const r = await readFor(ok, STALL_MS);
  assert.equal(r.ended, false);
  assert.ok(r.text.startsWith('{"id":"chatcmpl-') && r.text.length === len >> 1, r.text);
  const err = await chat(key);
  assert.equal(err.status, 500);
  const r2 = await readFor(err, STALL_MS);
  assert.ok(r2.text.startsWith('{"error":') && !r2.ended);
  const r3 = await readFor(await chat(key), STALL_MS);
  assert.equal(r3.text.length, 10);
});

test('stream_stall: a 200 stream that stops after N events', async () => {
  const key = await dashscope([{ kind: 'stream_stall', after: 3 }]);
  const res = await chat(key, { stream: true });
  assert.equal(res.status, 200);
  const r = await readFor(res, STALL_MS);
  assert.equal(r.ended, false);
  const events = parseSse(r.text);
  assert.equal(events.length, 3);
  assert.deepEqual(events[0].data.choices[0].delta, { role: 'assistant', content: '' });

  await script('d', { default_messages: { kind: 'stream_stall', after: 2 } });
  const a = await readFor(await messages(key, { stream: true }), STALL_MS);
  assert.deepEqual(parseSse(a.text).map((e) => e.event), ['message_start', 'ping']);
});

test('huge_event: a 200 event stream of N MiB without an event boundary', async () => {
  const key = await dashscope([{ kind: 'huge_event', mib: 2 }]);
  const res = await chat(key, { stream: true });
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  const text = await res.text();
  assert.ok(text.length >= 2 * 1024 * 1024, String(text.length));
  assert.ok(text.startsWith('data: {'));
  assert.ok(!text.includes('\n\n') && !text.includes('\r\r'));
});

test('huge_body: a JSON body of N MiB, 200 or error', async () => {
  const key = await dashscope([{ kind: 'huge_body', mib: 1 }, { kind: 'huge_body', status: 500, mib: 1.5 }]);
  const ok = await chat(key);
  const j = JSON.parse(await ok.text());
  assert.equal(ok.status, 200);
  assert.equal(j.choices[0].message.content.length, 1024 * 1024);
  const err = await chat(key);
  assert.equal(err.status, 500);
  assert.equal(Number(err.headers.get('content-length')), (await err.arrayBuffer()).byteLength);
  await script('d', { default_messages: { kind: 'huge_body', mib: 0.5 } });
  const m = await (await messages(key)).json();
  assert.equal(m.content[0].text.length, 512 * 1024);
});

test('odd_status: raw statuses, with or without a body', async () => {
  const key = await dashscope([
    { kind: 'odd_status', status: 600 }, { kind: 'odd_status', status: 204, body: 'surprise' },
    { kind: 'odd_status', status: 304, body: null }, { kind: 'odd_status', status: 399, body: { x: 1 } },
    { kind: 'odd_status', status: 205 },
  ]);
  const send = () => rawRequest(mock.url, 'POST', '/compatible-mode/v1/chat/completions',
    { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, JSON.stringify(chatBody()));
  const s600 = await send();
  assert.equal(s600.status, 600);
  assert.equal(JSON.parse(s600.body).error.message, 'odd status 600');
  const s204 = await send();
  assert.equal(s204.status, 204);
  assert.equal(s204.body, 'surprise');
  assert.match(s204.head, /content-type: text\/plain/);
  const s304 = await send();
  assert.equal(s304.status, 304);
  assert.equal(s304.body, '');
  assert.doesNotMatch(s304.head, /content-length/);
  assert.deepEqual(JSON.parse((await send()).body), { x: 1 });
  assert.equal((await send()).status, 205);
});

test('echo_key, delayed_auth, first_event_error, html_200', async () => {
  const key = await dashscope(['echo_key', { kind: 'echo_key', status: 400 }, { kind: 'delayed_auth', delay_ms: 150 },
    'first_event_error', { kind: 'first_event_error', type: 'invalid_request_error', code: 'invalid_parameter_error', message: 'bad' }, 'html_200']);
  const e401 = await chat(key);
  assert.equal(e401.status, 401);
  assert.ok((await e401.json()).error.message.includes(key));
  const e400 = await chat(key, {}, undefined, { via: 'x-api-key' });
  assert.equal(e400.status, 400);
  assert.ok((await e400.json()).error.message.includes(key));
  const t0 = Date.now();
  const late = await chat(key);
  assert.equal(late.status, 401);
  assert.ok(Date.now() - t0 >= 140);
  await late.text();
  const f1 = parseSse(await (await chat(key, { stream: true })).text());
  assert.deepEqual(f1, [{ data: { error: { message: 'Free allocated quota exceeded.', type: 'insufficient_quota', code: 'insufficient_quota' } } }]);
  const f2 = await chat(key);
  assert.equal(f2.status, 200);
  assert.deepEqual(parseSse(await f2.text())[0].data.error, { message: 'bad', type: 'invalid_request_error', code: 'invalid_parameter_error' });
  const html = await chat(key);
  assert.equal(html.status, 200);
  assert.match(html.headers.get('content-type'), /^text\/html/);
  assert.match(await html.text(), /^<!DOCTYPE html>/);

  await script('d', { messages: ['first_event_error', { kind: 'first_event_error', type: 'overloaded_error', message: 'busy' }] });
  assert.deepEqual(parseSse(await (await messages(key, { stream: true })).text()),
    [{ event: 'error', data: { type: 'error', error: { type: 'rate_limit_error', message: 'Free allocated quota exceeded.' } } }]);
  assert.equal(parseSse(await (await messages(key, { stream: true })).text())[0].data.error.type, 'overloaded_error');
});

test('token endpoint faults: stalls, echo_refresh, odd expires_in, an access token with a newline', async () => {
  const a = await account('o');
  await script('o', { refresh: ['head_stall', 'body_stall', 'echo_refresh', 'huge_expires_in', 'zero_expires_in', 'bad_access_token', { kind: 'body_stall', rotate: true }] });
  const h = await refresh(a.refresh_token);
  assert.equal(h.status, 200);
  assert.equal((await readFor(h, STALL_MS)).ended, false);
  const b = await readFor(await refresh(a.refresh_token), STALL_MS);
  assert.ok(b.text.startsWith('{"access_token":') && !b.ended);
  assert.equal((await ctl('GET', '/__mock/accounts/o')).refresh_token, a.refresh_token, 'a stall without rotate changes nothing');
  const echo = await refresh(a.refresh_token);
  assert.equal(echo.status, 400);
  assert.ok((await echo.json()).error_description.includes(a.refresh_token));
  const huge = await (await refresh(a.refresh_token)).json();
  assert.equal(huge.expires_in, 1e12);
  const zero = await (await refresh(huge.refresh_token)).json();
  assert.equal(zero.expires_in, 0);
  const bad = await (await refresh(zero.refresh_token)).json();
  assert.match(bad.access_token, /\n/);
  const real = await ctl('GET', '/__mock/accounts/o');
  assert.equal(bad.access_token.split('\n')[0], real.access_token);
  assert.equal((await chat(real.access_token, {}, '/v1/chat/completions')).status, 200);
  const lost = await readFor(await refresh(bad.refresh_token), STALL_MS);
  assert.equal(lost.ended, false);
  assert.equal((await refresh(bad.refresh_token)).status, 400, 'rotate: true rotated before the answer got lost');
});

test('close() cancels stalls and delays at once', async () => {
  const m2 = await startMock({ chunkDelayMs: 1 });
  const k2 = kit(() => m2.url);
  const { api_key: key } = await k2.account('d', { kind: 'dashscope' });
  const o = await k2.account('o');
  await k2.script('d', { chat: ['head_stall', { kind: 'stream_stall', after: 2 }, { kind: 'ok', delay_ms: 60_000 }, { kind: 'stall', ms: 60_000 }] });
  await k2.script('o', { refresh: ['body_stall'] });
  const stalled = await k2.chat(key);
  const streaming = await k2.chat(key, { stream: true });
  // Settled at once (as values), so that no rejection is ever unhandled.
  const pending = [k2.chat(key), k2.chat(key), fetch(`${m2.url}/api/v1/oauth2/token`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: o.refresh_token, client_id: CLIENT_ID }),
  }).then((r) => r.text())].map((p) => p.then(() => null, (err) => err));
  const reads = [readFor(stalled, 5000), readFor(streaming, 5000)];
  await new Promise((r) => setTimeout(r, 100));
  const t0 = Date.now();
  await m2.close();
  assert.ok(Date.now() - t0 < 1000, `close took ${Date.now() - t0} ms`);
  for (const r of await Promise.all(reads)) assert.ok(r.error, 'the stalled body ends in an error');
  for (const err of await Promise.all(pending)) assert.ok(err instanceof TypeError, String(err));
  assert.ok(Date.now() - t0 < 1000);
});
