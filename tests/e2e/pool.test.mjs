// The account pool: selection, failover by error class, FAILED_ACCOUNTS and its lazy reset,
// compatibility with the TypeScript worker's KV, and the admin API.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, chat, qwenCodeCreds, assertNoSecretsLogged, ADMIN_KEY } from '../harness.mjs';

const hello = { messages: [{ role: 'user', content: 'hello' }] };
const today = () => new Date().toISOString().slice(0, 10);
const yesterday = () => new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
const admin = (s, p, init = {}) =>
  fetch(s.url + p, { ...init, headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(init.headers ?? {}) } });

async function stack(ids, opts = {}) {
  const s = await startStack({ chunkDelayMs: 5, vars: { FIRST_BYTE_TIMEOUT_MS: '1500', ...(opts.vars ?? {}) } });
  for (const id of ids) await s.addAccount(id);
  return s;
}

const chatCalls = async (s, id) => (await s.mock.stats()).chat_calls[id] ?? 0;

/** Sends requests until `id` has been tried (or `max` requests); every answer must be 200. */
async function sendUntilHit(s, id, max = 40) {
  for (let i = 0; i < max; i++) {
    const res = await chat(s.url, hello);
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    if ((await chatCalls(s, id)) > 0) return;
  }
  assert.fail(`${id} was never selected`);
}

describe('selection', () => {
  let s;
  before(async () => { s = await stack(['s1', 's2', 's3']); });
  after(() => s.close());
  test('spreads requests over every usable account', async () => {
    const seen = new Map();
    for (let i = 0; i < 30; i++) {
      const res = await chat(s.url, hello);
      assert.equal(res.status, 200);
      await res.text();
      const who = res.headers.get('x-qwen-account');
      seen.set(who, (seen.get(who) ?? 0) + 1);
    }
    assert.deepEqual([...seen.keys()].sort(), ['s1', 's2', 's3'], JSON.stringify([...seen]));
  });
  test('X-Qwen-Account pins an account', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await chat(s.url, hello, { headers: { 'x-qwen-account': 's2' } });
      await res.text();
      assert.equal(res.headers.get('x-qwen-account'), 's2');
    }
    const res = await chat(s.url, hello, { headers: { 'x-qwen-account': 'nobody' } });
    assert.equal(res.status, 404);
    assert.equal((await res.json()).error.code, 'account_not_found');
  });
});

describe('failover by error class', () => {
  const stacks = [];
  after(async () => {
    // Every failure above was logged, with upstream's words: none may carry a secret.
    for (const s of stacks) assertNoSecretsLogged(s.logs, s.secrets());
    await Promise.all(stacks.map((s) => s.close()));
  });
  const make = async (ids) => { const s = await stack(ids); stacks.push(s); return s; };

  test('daily quota: into FAILED_ACCOUNTS, the client never notices', async () => {
    const s = await make(['q1', 'ok1']);
    await s.mock.script('q1', { default_chat: 'quota' });
    await sendUntilHit(s, 'q1');
    assert.equal(await s.kv.get('FAILED_ACCOUNTS'), 'q1');
    assert.equal(await s.kv.get('LAST_FAILED_RESET_DATE'), today());
    for (let i = 0; i < 8; i++) {
      const res = await chat(s.url, hello);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-qwen-account'), 'ok1');
      await res.text();
    }
    assert.equal(await chatCalls(s, 'q1'), 1, 'a failed account is not tried again');
  });

  test('quota as 403 too', async () => {
    const s = await make(['q403', 'ok']);
    await s.mock.script('q403', { default_chat: 'quota403' });
    await sendUntilHit(s, 'q403');
    assert.equal(await s.kv.get('FAILED_ACCOUNTS'), 'q403');
  });

  test('throttling: a cool-down honouring Retry-After, not failed for the day', async () => {
    const s = await make(['th', 'ok']);
    await s.mock.script('th', { default_chat: { kind: 'throttle', retry_after: 30 } });
    const t0 = Date.now();
    await sendUntilHit(s, 'th');
    const status = JSON.parse(await s.kv.get('ACCOUNT_STATUS'));
    assert.ok(status.th.cooldown_until >= t0 + 29_000 && status.th.cooldown_until <= Date.now() + 31_000);
    assert.ok(!(await s.kv.get('FAILED_ACCOUNTS') ?? '').includes('th'));
    const health = await (await admin(s, '/admin/health')).json();
    assert.equal(health.accounts.find((a) => a.account === 'th').status, 'throttled');
  });

  test('an OAuth 401 that survives a fresh token: the account is discontinued (the free tier ended), the client is served by another', async () => {
    const s = await make(['au', 'ok']);
    await s.mock.script('au', { default_chat: 'auth' });
    await sendUntilHit(s, 'au');
    assert.equal((await s.mock.stats()).refresh_calls.au, 1, 'one refresh');
    assert.equal(await chatCalls(s, 'au'), 2, 'one retry');
    const status = JSON.parse(await s.kv.get('ACCOUNT_STATUS'));
    assert.match(status.au.dead_reason, /free tier .* ended/);
    assert.equal(status.au.discontinued, true);
    const health = await (await admin(s, '/admin/health')).json();
    const au = health.accounts.find((a) => a.account === 'au');
    assert.equal(au.status, 'discontinued');
    assert.match(au.failure_reason, /Model Studio key/);
  });

  for (const kind of ['server_error', 'bad_gateway', 'unavailable', 'timeout', 'drop']) {
    test(`${kind} before the first byte: retried on another account`, async () => {
      const s = await make(['bad', 'ok']);
      await s.mock.script('bad', { default_chat: kind });
      await sendUntilHit(s, 'bad');
      const status = JSON.parse(await s.kv.get('ACCOUNT_STATUS'));
      assert.ok(status.bad.last_error, 'last error recorded');
      assert.ok(!status.bad.dead_reason && !status.bad.cooldown_until, 'not excluded');
    });
  }

  test('a stalled first byte times out and fails over (streamed)', async () => {
    const s = await make(['slow', 'ok']);
    await s.mock.script('slow', { default_chat: { kind: 'stall', ms: 10_000 } });
    for (let i = 0; i < 40 && (await chatCalls(s, 'slow')) === 0; i++) {
      const t0 = Date.now();
      const res = await chat(s.url, { ...hello, stream: true });
      const text = await res.text();
      assert.equal(res.status, 200);
      assert.match(text, /\[DONE\]/);
      assert.ok(Date.now() - t0 < 5_000);
    }
    assert.equal(await chatCalls(s, 'slow'), 1);
  });

  test('client errors go straight back, no rotation', async () => {
    const s = await make(['c1', 'c2']);
    for (const [kind, status] of [['bad_request', 400], ['context_length', 400], ['model_not_found', 404]]) {
      await s.mock.script('c1', { default_chat: kind });
      await s.mock.script('c2', { default_chat: kind });
      await s.mock.clearRequests();
      const res = await chat(s.url, hello);
      const body = await res.json();
      assert.equal(res.status, status, JSON.stringify(body));
      assert.ok(body.error.message);
      assert.equal((await s.mock.requests('/v1/chat/completions')).length, 1, kind);
    }
    assert.equal((await s.kv.get('FAILED_ACCOUNTS')) ?? '', '', 'nobody marked failed');
  });

  test('a quota error mid-stream is not retried', async () => {
    const s = await make(['mid']);
    await s.mock.script('mid', { chat: ['midstream_quota'] });
    const res = await chat(s.url, { ...hello, stream: true });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /insufficient_quota/);
    assert.equal(await chatCalls(s, 'mid'), 1);
  });

  test('at most 3 attempts per request', async () => {
    const s = await make(['f1', 'f2', 'f3', 'f4']);
    for (const id of ['f1', 'f2', 'f3', 'f4']) await s.mock.script(id, { default_chat: 'server_error' });
    const res = await chat(s.url, hello);
    const body = await res.json();
    assert.equal(res.status, 502);
    assert.equal(body.error.code, 'all_accounts_failed');
    assert.match(body.error.message, /3 of 4 tried/);
    const calls = (await s.mock.requests('/v1/chat/completions')).length;
    assert.equal(calls, 3);
  });

  test('every account on quota: 429 with Retry-After until UTC midnight', async () => {
    const s = await make(['e1', 'e2']);
    for (const id of ['e1', 'e2']) await s.mock.script(id, { default_chat: 'quota' });
    const res = await chat(s.url, hello);
    const body = await res.json();
    assert.equal(res.status, 429);
    assert.equal(body.error.code, 'insufficient_quota');
    const retry = Number(res.headers.get('retry-after'));
    const midnight = Math.ceil((86_400_000 - (Date.now() % 86_400_000)) / 1000);
    assert.ok(Math.abs(retry - midnight) <= 2, `${retry} vs ${midnight}`);
    // And the next request fails fast, without calling upstream.
    await s.mock.clearRequests();
    const again = await chat(s.url, hello);
    assert.equal(again.status, 429);
    assert.match((await again.json()).error.message, /quota/);
    assert.equal((await s.mock.requests('/v1/chat/completions')).length, 0);
  });

  test('every account dead: 503 that says so, never a raw upstream 401', async () => {
    const s = await make(['d1']);
    await s.mock.script('d1', { default_chat: 'auth' });
    const res = await chat(s.url, hello);
    const body = await res.json();
    assert.equal(res.status, 503);
    assert.match(body.error.message, /free tier .* ended.*Model Studio key/);
  });
});

describe('FAILED_ACCOUNTS reset at UTC midnight', () => {
  let s;
  before(async () => { s = await startStack({ chunkDelayMs: 5 }); });
  after(() => s.close());
  test('a list dated yesterday is cleared on the next request; today\'s holds', async () => {
    await s.addAccount('y1');
    await s.kv.put('FAILED_ACCOUNTS', 'y1');
    await s.kv.put('LAST_FAILED_RESET_DATE', yesterday());
    const res = await chat(s.url, hello);
    assert.equal(res.status, 200);
    await res.text();
    assert.equal(await s.kv.get('FAILED_ACCOUNTS'), '');
    assert.equal(await s.kv.get('LAST_FAILED_RESET_DATE'), today());
  });
});

describe('a failed list dated today', () => {
  let s;
  before(async () => { s = await startStack({ chunkDelayMs: 5 }); });
  after(() => s.close());
  test('keeps the account out', async () => {
    await s.addAccount('t1');
    await s.kv.put('FAILED_ACCOUNTS', 't1');
    await s.kv.put('LAST_FAILED_RESET_DATE', today());
    const res = await chat(s.url, hello);
    assert.equal(res.status, 429);
    assert.equal(await chatCalls(s, 't1'), 0);
  });
});

describe('the TypeScript worker\'s KV contents', () => {
  let s;
  before(async () => { s = await startStack({ chunkDelayMs: 5 }); });
  after(() => s.close());
  test('are served without change', async () => {
    // Written exactly as the TypeScript worker and its scripts do: no index, no status key.
    const a = await s.mock.account('ts-a');
    const b = await s.mock.account('ts-b');
    const ca = JSON.stringify(qwenCodeCreds(a));
    await s.kv.put('ACCOUNT:ts-a', ca);
    await s.kv.put('ACCOUNT:ts-b', JSON.stringify(qwenCodeCreds(b)));
    await s.kv.put('FAILED_ACCOUNTS', 'ts-b');
    await s.kv.put('LAST_FAILED_RESET_DATE', today());
    await s.kv.put('qwen_access_token', JSON.stringify({ access_token: 'cached', expiry: 1 }));
    for (let i = 0; i < 3; i++) {
      const res = await chat(s.url, hello);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-qwen-account'), 'ts-a');
      await res.text();
    }
    assert.equal(await s.kv.get('ACCOUNT:ts-a'), ca, 'credentials not rewritten');
    assert.equal(await s.kv.get('FAILED_ACCOUNTS'), 'ts-b');
    assert.deepEqual(JSON.parse(await s.kv.get('ACCOUNTS')).sort(), ['ts-a', 'ts-b'], 'index built once from list()');
    const health = await (await admin(s, '/admin/health')).json();
    assert.equal(health.summary.total_accounts, 2);
    assert.equal(health.summary.quota_exceeded_accounts, 1);
  });
});
