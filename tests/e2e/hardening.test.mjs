// Regression tests of the adversarial review's findings (H1 … L14), each through the Worker in
// workerd against the mock's fault modes: bounded time, bounded memory, no panic from upstream
// input, no secret in any answer, view or log, no admin write lost to a race.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, assertNoSecretsLogged, storedCredentials, qwenCodeCreds, ADMIN_KEY, CLIENT_KEY } from '../harness.mjs';

const ADMIN = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const BODY = { model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'hi' }] };

function chat(s, body = BODY, headers = {}) {
  return fetch(`${s.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** A request's status, body text and how long it took. */
async function timed(p) {
  const t0 = Date.now();
  const res = await p;
  const text = await res.text();
  return { status: res.status, text, ms: Date.now() - t0, headers: res.headers };
}

async function health(s, id) {
  const res = await fetch(`${s.url}/admin/health`, { headers: { ...ADMIN, accept: 'application/json' } });
  const body = await res.json();
  return id ? body.accounts.find((a) => a.account === id) : body;
}

async function eventually(f, what, ms = 3000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) assert.fail(`never: ${what}`);
    await sleep(100);
  }
}

const FAST = { FIRST_BYTE_TIMEOUT_MS: '1500', REQUEST_TIMEOUT_MS: '4000', STREAM_IDLE_TIMEOUT_MS: '1500' };

describe('H1: a stalled upstream never hangs a request', () => {
  let s;
  before(async () => {
    s = await startStack({ chunkDelayMs: 2, vars: FAST });
    for (const id of ['st1', 'st2', 'ok1']) await s.addAccount(id);
  });
  after(async () => {
    assertNoSecretsLogged(s.logs, s.secrets());
    await s.close();
  });

  for (const [name, behaviour, stream] of [
    ['an error head, then a body that stops', { kind: 'body_stall', status: 500 }, false],
    ['a 429 head, then a body that stops', { kind: 'body_stall', status: 429 }, false],
    ['a 200 head, then a body that stops', { kind: 'body_stall', status: 200 }, false],
    ['a streamed 500 whose body stops', { kind: 'body_stall', status: 500 }, true],
    ['a head and then nothing', { kind: 'head_stall' }, true],
  ]) {
    test(`${name}: 502 within the short deadline, the account marked, others serve`, async () => {
      await s.mock.script('st1', { default_chat: behaviour });
      const pinned = await timed(chat(s, { ...BODY, stream }, { 'x-qwen-account': 'st1' }));
      assert.equal(pinned.status, 502, pinned.text);
      assert.ok(pinned.ms < 3500, `answered after ${pinned.ms} ms`);
      const marked = await eventually(() => health(s, 'st1').then((h) => h.last_error && h), 'the account marked');
      assert.ok(marked.last_error);
      await s.mock.script('st1', { default_chat: 'ok' });
      await fetch(`${s.url}/admin/accounts/st1/reset`, { method: 'POST', headers: ADMIN });
    });
  }

  test('unpinned traffic over a stalling account is all answered, each within the budget', async () => {
    await s.mock.script('st2', { default_chat: { kind: 'body_stall', status: 200 } });
    const all = await Promise.all(Array.from({ length: 6 }, () => timed(chat(s))));
    for (const r of all) {
      assert.equal(r.status, 200, r.text);
      assert.ok(r.ms < 4000, `${r.ms} ms`);
    }
    await s.mock.script('st2', { default_chat: 'ok' });
  });

  test('a token endpoint that stalls after its head costs at most the request budget', async () => {
    const acct = await s.mock.account('tok-stall', { expires_in: -10 });
    await s.mock.script('tok-stall', { default_refresh: { kind: 'head_stall' } });
    await s.kv.put('ACCOUNT:tok-stall', JSON.stringify(qwenCodeCreds(acct)));
    await fetch(`${s.url}/admin/reindex`, { method: 'POST', headers: ADMIN });
    const r = await timed(chat(s, BODY, { 'x-qwen-account': 'tok-stall' }));
    assert.ok([502, 503].includes(r.status), r.text);
    assert.ok(r.ms < 5000, `${r.ms} ms`);
    const again = await timed(chat(s, BODY, { 'x-qwen-account': 'tok-stall' }));
    assert.ok(again.ms < 5000, `the refresh right was not held: ${again.ms} ms`);
  });
});

describe('H2 and L6: client bodies are capped before they are buffered', () => {
  let s;
  before(async () => {
    s = await startStack({ chunkDelayMs: 2 });
    await s.addAccount('cap1');
  });
  after(() => s.close());

  test('a chunked 24 MiB chat body (no Content-Length) is a 413', async () => {
    const piece = new Uint8Array(1024 * 1024).fill(32);
    let sent = 0;
    const body = new ReadableStream({
      pull(c) {
        if (sent === 0) c.enqueue(new TextEncoder().encode('{"messages":[{"role":"user","content":"'));
        if (sent++ < 24) c.enqueue(piece);
        else { c.enqueue(new TextEncoder().encode('"}]}')); c.close(); }
      },
    });
    const res = await fetch(`${s.url}/v1/chat/completions`, {
      method: 'POST', body, duplex: 'half', headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json' },
    });
    assert.equal(res.status, 413);
    assert.equal((await res.json()).error.code, 'payload_too_large');
  });

  test('an admin body over 64 KiB is a 413 and stores nothing', async () => {
    const big = JSON.stringify({ kind: 'api_key', api_key: 'sk-' + 'x'.repeat(70 * 1024) });
    const res = await fetch(`${s.url}/admin/accounts/big1`, { method: 'PUT', headers: ADMIN, body: big });
    assert.equal(res.status, 413);
    assert.equal((await fetch(`${s.url}/admin/accounts/big1`, { headers: ADMIN })).status, 404);
  });
});

describe('M1 and L12: odd upstream statuses and bodies are upstream errors, never a panic', () => {
  let s;
  before(async () => {
    s = await startStack({ chunkDelayMs: 20, vars: FAST });
    for (const id of ['odd1', 'calm1']) await s.addAccount(id);
  });
  after(() => s.close());

  for (const [name, behaviour] of [
    ['status 600', { kind: 'odd_status', status: 600 }],
    ['status 304', { kind: 'odd_status', status: 304, body: null }],
    ['status 204', { kind: 'odd_status', status: 204, body: null }],
    ['status 399', { kind: 'odd_status', status: 399 }],
    ['a 200 in HTML', 'html_200'],
  ]) {
    test(`${name}: 502 in the client's dialect, and requests in flight elsewhere live on`, async () => {
      await s.mock.script('odd1', { default_chat: behaviour });
      const inFlight = chat(s, { ...BODY, stream: true, mock_events: 30 }, { 'x-qwen-account': 'calm1' });
      const r = await timed(chat(s, BODY, { 'x-qwen-account': 'odd1' }));
      assert.equal(r.status, 502, r.text);
      assert.equal(JSON.parse(r.text).error.type, 'upstream_error');
      const other = await timed(inFlight);
      assert.equal(other.status, 200);
      assert.ok(other.text.endsWith('data: [DONE]\n\n'), 'the stream in flight completed');
    });
  }

  test('no panic was ever logged', () => {
    assert.ok(!s.logs.join('').includes('panic'), 'a panic in the logs');
  });
});

describe('M2: upstream data is read under caps, and the isolate stays responsive', () => {
  let s;
  before(async () => {
    s = await startStack({ chunkDelayMs: 2, vars: FAST });
    await s.addAccount('big1');
  });
  after(() => s.close());

  test('a 16 MiB first event with no boundary: 502 at once, /health answers meanwhile', async () => {
    await s.mock.script('big1', { chat: [{ kind: 'huge_event', mib: 16, then: 'stall' }] });
    const req = timed(chat(s, { ...BODY, stream: true }, { 'x-qwen-account': 'big1' }));
    await sleep(100);
    const h = await timed(fetch(`${s.url}/health`));
    assert.ok(h.ms < 500, `/health took ${h.ms} ms`);
    const r = await req;
    assert.equal(r.status, 502);
    assert.ok(r.ms < 3500, `${r.ms} ms`);
  });

  test('a 32 MiB error body: 502, read only up to its cap', async () => {
    await s.mock.script('big1', { chat: [{ kind: 'huge_body', status: 500, mib: 32 }] });
    const r = await timed(chat(s, BODY, { 'x-qwen-account': 'big1' }));
    assert.equal(r.status, 502);
    assert.ok(r.text.length < 4096);
  });
});

describe('M3: upstream text that quotes a secret reaches nobody', () => {
  let s, key;
  before(async () => {
    s = await startStack({ chunkDelayMs: 2 });
    key = (await s.addAccount('echo1', { kind: 'dashscope' })).api_key;
    const acct = await s.mock.account('echo2', { expires_in: -10 });
    await s.kv.put('ACCOUNT:echo2', JSON.stringify(qwenCodeCreds(acct)));
    await s.kv.put('ACCOUNTS', JSON.stringify(['echo1', 'echo2']));
  });
  after(() => s.close());

  test('a 401 quoting the key: not in the answer, /admin/health or the logs', async () => {
    await s.mock.script('echo1', { chat: [{ kind: 'echo_key', status: 401 }] });
    const r = await timed(chat(s, BODY, { 'x-qwen-account': 'echo1' }));
    assert.ok(!r.text.includes(key), r.text);
    const h = JSON.stringify(await health(s));
    assert.ok(!h.includes(key));
    assert.ok(h.includes('***') || h.includes('rejected'), 'the admin still sees what happened');
    assert.ok(!s.logs.join('').includes(key));
  });

  test('a 400 quoting the key is relayed scrubbed', async () => {
    await fetch(`${s.url}/admin/accounts/echo1/reset`, { method: 'POST', headers: ADMIN });
    await s.mock.script('echo1', { chat: [{ kind: 'echo_key', status: 400 }] });
    const r = await timed(chat(s, BODY, { 'x-qwen-account': 'echo1' }));
    assert.equal(r.status, 400);
    assert.ok(!r.text.includes(key), r.text);
  });

  test('a token endpoint quoting the refresh token: nowhere either', async () => {
    const refresh = JSON.parse(await s.kv.get('ACCOUNT:echo2')).refresh_token;
    await s.mock.script('echo2', { refresh: ['echo_refresh'] });
    const r = await timed(chat(s, BODY, { 'x-qwen-account': 'echo2' }));
    assert.ok(!r.text.includes(refresh));
    assert.ok(!JSON.stringify(await health(s)).includes(refresh));
    assert.ok(!s.logs.join('').includes(refresh));
    assertNoSecretsLogged(s.logs, s.secrets());
  });
});

describe('M4 and M5: an admin\'s write wins over a request already in flight', () => {
  let s;
  before(async () => {
    s = await startStack({ chunkDelayMs: 2 });
  });
  after(() => s.close());

  test('M4: credentials PUT during a refresh stay in KV', async () => {
    const old = await s.addAccount('race1', { expires_in: -10 });
    const fresh = await s.mock.account('race1-new');
    await s.mock.config({ refresh_delay_ms: 800 });
    try {
      const inFlight = chat(s, BODY, { 'x-qwen-account': 'race1' });
      await sleep(200);
      const put = await fetch(`${s.url}/admin/accounts/race1`, { method: 'PUT', headers: ADMIN, body: JSON.stringify(qwenCodeCreds(fresh)) });
      assert.equal(put.status, 200);
      await (await inFlight).text();
      await sleep(300);
      const stored = JSON.parse(await s.kv.get('ACCOUNT:race1'));
      assert.equal(stored.refresh_token, fresh.refresh_token, 'the admin\'s credentials are what KV holds');
      assert.notEqual(stored.refresh_token, old.refresh_token);
    } finally {
      await s.mock.config({ refresh_delay_ms: 0 });
    }
  });

  test('M4: an account deleted during a refresh stays deleted', async () => {
    await s.addAccount('race2', { expires_in: -10 });
    await s.mock.config({ refresh_delay_ms: 800 });
    try {
      const inFlight = chat(s, BODY, { 'x-qwen-account': 'race2' });
      await sleep(200);
      assert.equal((await fetch(`${s.url}/admin/accounts/race2`, { method: 'DELETE', headers: ADMIN })).status, 200);
      await (await inFlight).text();
      await sleep(300);
      assert.equal(await s.kv.get('ACCOUNT:race2'), null);
    } finally {
      await s.mock.config({ refresh_delay_ms: 0 });
    }
  });

  test('M5: a key replaced while a request with the old one fails is not declared dead', async () => {
    const first = await s.addAccount('kx', { kind: 'dashscope' });
    const second = await s.mock.account('kx-new', { kind: 'dashscope' });
    await s.mock.script('kx', { chat: [{ kind: 'delayed_auth', delay_ms: 800 }] });
    const inFlight = chat(s, BODY, { 'x-qwen-account': 'kx' });
    await sleep(200);
    const put = await fetch(`${s.url}/admin/accounts/kx`, { method: 'PUT', headers: ADMIN, body: JSON.stringify(storedCredentials(second, s.mockUrl)) });
    assert.equal(put.status, 200);
    await (await inFlight).text();
    await sleep(300);
    assert.notEqual((await health(s, 'kx')).status, 'dead');
    const r = await timed(chat(s, BODY, { 'x-qwen-account': 'kx' }));
    assert.equal(r.status, 200, r.text);
    assert.ok(first.api_key !== second.api_key);
  });
});

describe('M6: storage trouble during an attempt fails over', () => {
  let s;
  before(async () => {
    s = await startStack({ chunkDelayMs: 2 });
    for (const id of ['cp', 'cq']) await s.addAccount(id);
  });
  after(() => s.close());

  test('an unreadable record of a revoked account: every request answered by the other', async () => {
    for (const id of ['cp', 'cq']) assert.equal((await chat(s, BODY, { 'x-qwen-account': id })).status, 200);
    await s.kv.put('ACCOUNT:cp', '{not json');
    await s.mock.revoke('cp');
    const all = await Promise.all(Array.from({ length: 8 }, () => timed(chat(s))));
    for (const r of all) assert.equal(r.status, 200, r.text);
  });
});

describe('L1, L3, L4, L5, L7, L8, L9, L10, L11, L13: the low findings', () => {
  let s;
  before(async () => {
    s = await startStack({ chunkDelayMs: 2, vars: FAST });
    for (const id of ['l1', 'l2']) await s.addAccount(id);
  });
  after(async () => {
    assertNoSecretsLogged(s.logs, s.secrets());
    await s.close();
  });

  test('L1: pinning unknown ids cannot be used to spend KV reads', async () => {
    const before = (await health(s)).kv_operations.reads;
    for (let i = 0; i < 25; i++) {
      const r = await chat(s, BODY, { 'x-qwen-account': 'ghost-1' });
      assert.equal(r.status, 404);
      await r.text();
    }
    const after = (await health(s)).kv_operations.reads;
    // Two /admin/health reads of the pool in between, and at most a reload or two for the ghost.
    assert.ok(after - before <= 12, `${after - before} KV reads`);
  });

  test('L4: unknown methods are never taken for GET', async () => {
    let r = await fetch(`${s.url}/v1/models`, { method: 'PROPFIND', headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'GET');
    r = await fetch(`${s.url}/admin/accounts/l1`, { method: 'PURGE', headers: ADMIN });
    assert.equal(r.status, 405);
  });

  test('L5 and L8: a non-string kind, a key with a newline: 400, stored credentials untouched', async () => {
    const before = await s.kv.get('ACCOUNT:l1');
    for (const body of [{ kind: 5, refresh_token: 'rt-x' }, { kind: 'api_key', api_key: 'sk-a\nb', base_url: s.mockUrl }]) {
      const r = await fetch(`${s.url}/admin/accounts/l1`, { method: 'PUT', headers: ADMIN, body: JSON.stringify(body) });
      assert.equal(r.status, 400);
    }
    assert.equal(await s.kv.get('ACCOUNT:l1'), before);
  });

  test('L7: a huge or zero expires_in does not refresh on every request', async () => {
    for (const [id, behaviour] of [['l7a', 'huge_expires_in'], ['l7b', 'zero_expires_in']]) {
      const acct = await s.mock.account(id, { expires_in: -10 });
      await s.mock.script(id, { refresh: [behaviour] });
      await s.kv.put(`ACCOUNT:${id}`, JSON.stringify(qwenCodeCreds(acct)));
      await fetch(`${s.url}/admin/reindex`, { method: 'POST', headers: ADMIN });
      for (let i = 0; i < 5; i++) await (await chat(s, BODY, { 'x-qwen-account': id })).text();
      const calls = (await s.mock.stats()).refresh_calls[id] ?? 0;
      assert.ok(calls <= 1, `${id}: ${calls} refreshes for 5 requests`);
      const h = await health(s, id);
      assert.ok(h.expires_in_seconds === null || h.expires_in_seconds < 400 * 86400, JSON.stringify(h));
    }
  });

  test('L8: a refreshed access token that is not a header value is refused, not used', async () => {
    const acct = await s.mock.account('l8', { expires_in: -10 });
    await s.mock.script('l8', { refresh: ['bad_access_token'] });
    await s.kv.put('ACCOUNT:l8', JSON.stringify(qwenCodeCreds(acct)));
    await fetch(`${s.url}/admin/reindex`, { method: 'POST', headers: ADMIN });
    const r = await timed(chat(s, BODY, { 'x-qwen-account': 'l8' }));
    assert.ok([502, 503].includes(r.status), r.text);
    const stored = JSON.parse(await s.kv.get('ACCOUNT:l8'));
    assert.ok(!String(stored.access_token ?? '').includes('\n'), 'the bad token was never stored');
  });

  test('L9: a client error as the first streamed event is a 400, not retried elsewhere', async () => {
    await s.mock.clearRequests();
    await s.mock.script('l1', { chat: [{ kind: 'first_event_error', type: 'invalid_request_error', code: 'invalid_parameter_error', message: 'bad parameter' }] });
    const r = await timed(chat(s, { ...BODY, stream: true }, { 'x-qwen-account': 'l1' }));
    assert.equal(r.status, 400, r.text);
    assert.equal((await s.mock.requests()).filter((q) => q.endpoint === 'chat').length, 1);
  });

  test('L10: three hanging accounts cost one request budget, not three', async () => {
    const t = await startStack({ chunkDelayMs: 2, vars: { FIRST_BYTE_TIMEOUT_MS: '2000', REQUEST_TIMEOUT_MS: '3000' } });
    try {
      for (const id of ['h1', 'h2', 'h3']) {
        await t.addAccount(id);
        await t.mock.script(id, { default_chat: { kind: 'head_stall' } });
      }
      const r = await timed(chat(t, { ...BODY, stream: true }));
      assert.equal(r.status, 502);
      assert.ok(r.ms < 4000, `${r.ms} ms`);
    } finally {
      await t.close();
    }
  });

  test('L11: a login against a failing OAuth server is a 502', async () => {
    const t = await startStack({ vars: { QWEN_OAUTH_BASE_URL: 'http://127.0.0.1:9' } });
    try {
      const r = await fetch(`${t.url}/admin/accounts/new1/login`, { method: 'POST', headers: ADMIN });
      assert.equal(r.status, 502);
      assert.equal((await r.json()).error.type, 'upstream_error');
    } finally {
      await t.close();
    }
  });

  test('L13: a stream that goes silent after its first event ends with an error event', async () => {
    await s.mock.script('l2', { chat: [{ kind: 'stream_stall', after: 2 }] });
    const r = await timed(chat(s, { ...BODY, stream: true }, { 'x-qwen-account': 'l2' }));
    assert.equal(r.status, 200);
    const last = JSON.parse(r.text.trim().split('\n\n').at(-1).slice(6));
    assert.equal(last.error.code, 'stream_idle_timeout');
    assert.equal(last.error.message, 'upstream sent nothing for 2 s; the answer is incomplete');
    assert.ok(r.ms < 4000, `${r.ms} ms`);
  });
});

describe('L3: a public API names no account and no reason', () => {
  let s;
  before(async () => {
    s = await startStack({ chunkDelayMs: 2, vars: { OPENAI_API_KEYS: undefined } });
    await s.addAccount('alice@example.com');
    await s.mock.script('alice@example.com', { default_chat: 'quota' });
  });
  after(() => s.close());

  test('errors and answers to anonymous callers say nothing of the accounts', async () => {
    const r = await fetch(`${s.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(BODY) });
    const text = await r.text();
    assert.equal(r.status, 429);
    assert.ok(!text.includes('alice'), text);
    assert.equal(r.headers.get('x-qwen-account'), null);
  });
});
