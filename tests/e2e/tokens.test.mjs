// Access tokens: refresh before expiry, persistence of rotated tokens, 401 -> refresh -> retry,
// one refresh for many concurrent requests, dead refresh tokens, the QWEN_OAUTH_CREDS secret.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startStack, chat, qwenCodeCreds, assertNoSecretsLogged, ADMIN_KEY } from '../harness.mjs';

const hello = { messages: [{ role: 'user', content: 'hello' }] };

describe('tokens', () => {
  let s;
  before(async () => { s = await startStack(); });
  after(async () => {
    // Refresh failures and dead accounts were logged above, with upstream's words.
    assertNoSecretsLogged(s.logs, s.secrets());
    await s.close();
  });

  test('an expired token is refreshed, persisted to KV before use, and used', async () => {
    const a = await s.addAccount('exp', { expires_in: -60 });
    const res = await chat(s.url, { ...hello, messages: [{ role: 'user', content: 'after refresh' }] }, { headers: { 'x-qwen-account': 'exp' } });
    // Pinning needs a key: the client key is enough.
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.choices[0].message.content, 'Echo: after refresh');
    const stats = await s.mock.stats();
    assert.equal(stats.refresh_calls.exp, 1);
    const stored = JSON.parse(await s.kv.get('ACCOUNT:exp'));
    assert.notEqual(stored.refresh_token, a.refresh_token, 'the rotated refresh token is stored');
    assert.notEqual(stored.access_token, a.access_token);
    assert.ok(stored.expiry_date > Date.now() + 3_000_000);
    assert.equal(stored.resource_url, s.mockUrl);
    const chats = (await s.mock.requests('/v1/chat/completions')).filter((r) => r.account === 'exp');
    assert.equal(chats.at(-1).headers.authorization, `Bearer ${stored.access_token}`);
    // The refresh was a proper form post with the client id.
    const [refresh] = (await s.mock.requests('/api/v1/oauth2/token')).filter((r) => r.account === 'exp');
    assert.equal(refresh.body.grant_type, 'refresh_token');
    assert.equal(refresh.body.client_id, 'f0304373b74a44d2b584a3fb70ca9e56');
    assert.match(refresh.headers['content-type'], /x-www-form-urlencoded/);
  });

  test('a 401 with a token that looked valid triggers one refresh and one retry', async () => {
    await s.addAccount('tok401');
    await s.mock.expire('tok401');
    const before = (await s.mock.stats()).refresh_calls.tok401 ?? 0;
    const res = await chat(s.url, hello, { headers: { 'x-qwen-account': 'tok401' } });
    assert.equal(res.status, 200);
    await res.json();
    assert.equal((await s.mock.stats()).refresh_calls.tok401 - before, 1);
    const calls = (await s.mock.requests('/v1/chat/completions')).filter((r) => r.account === 'tok401');
    assert.equal(calls.length, 2, 'the 401 and the retry');
  });

  test('20 concurrent requests on an expired token cause exactly one refresh', async () => {
    await s.addAccount('herd', { expires_in: -5 });
    await s.mock.config({ refresh_delay_ms: 300 });
    try {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          chat(s.url, { messages: [{ role: 'user', content: `n${i}` }] }, { headers: { 'x-qwen-account': 'herd' } })
            .then(async (r) => [r.status, await r.json()]),
        ),
      );
      for (const [status, body] of results) assert.equal(status, 200, JSON.stringify(body));
      assert.equal((await s.mock.stats()).refresh_calls.herd, 1);
    } finally {
      await s.mock.config({ refresh_delay_ms: 0 });
    }
  });

  test('a refresh token the server rejects marks the account dead, with a clear error', async () => {
    await s.addAccount('gone', { expires_in: -5 });
    await s.mock.revoke('gone');
    const stored = await s.kv.get('ACCOUNT:gone');
    const res = await chat(s.url, hello, { headers: { 'x-qwen-account': 'gone' } });
    const body = await res.json();
    assert.equal(res.status, 503, JSON.stringify(body));
    assert.match(body.error.message, /gone/);
    assert.match(body.error.message, /log the account in again/);
    assert.doesNotMatch(JSON.stringify(body), /rt-gone|at-gone/, 'no token in the error');
    assert.equal(await s.kv.get('ACCOUNT:gone'), stored, 'credentials untouched');
    const status = JSON.parse(await s.kv.get('ACCOUNT_STATUS'));
    assert.match(status.gone.dead_reason, /invalid_grant/);
    // Dead accounts are not tried again: no new refresh call.
    const refreshes = (await s.mock.stats()).refresh_calls.gone;
    const again = await chat(s.url, hello, { headers: { 'x-qwen-account': 'gone' } });
    assert.equal(again.status, 503);
    assert.equal((await s.mock.stats()).refresh_calls.gone, refreshes);
  });

  test('a refresh that lost a race to another isolate adopts the winner\'s credentials', async () => {
    await s.addAccount('race', { expires_in: -5 });
    await s.mock.config({ refresh_delay_ms: 400 });
    try {
      const pending = chat(s.url, hello, { headers: { 'x-qwen-account': 'race' } });
      await new Promise((r) => setTimeout(r, 150));
      // Meanwhile another isolate refreshed: the mock issues new tokens (ours die) and KV gets them.
      const winner = await s.mock.account('race');
      await s.kv.put('ACCOUNT:race', JSON.stringify(qwenCodeCreds(winner)));
      const res = await pending;
      const body = await res.json();
      assert.equal(res.status, 200, JSON.stringify(body));
      const status = JSON.parse((await s.kv.get('ACCOUNT_STATUS')) ?? '{}');
      assert.ok(!status.race?.dead_reason, 'not declared dead');
      assert.equal(JSON.parse(await s.kv.get('ACCOUNT:race')).refresh_token, winner.refresh_token);
    } finally {
      await s.mock.config({ refresh_delay_ms: 0 });
    }
  });

  test('a dead account comes back when its credentials are replaced', async () => {
    const a = await s.addAccount('phoenix');
    const fingerprint = createHash('sha256').update(a.refresh_token).digest().subarray(0, 8).toString('hex');
    const status = JSON.parse((await s.kv.get('ACCOUNT_STATUS')) ?? '{}');
    status.phoenix = { dead_reason: 'refresh token rejected (invalid_grant)', dead_at: Date.now() - 60_000, dead_credentials: fingerprint };
    await s.kv.put('ACCOUNT_STATUS', JSON.stringify(status));
    // Still the credentials it died with: out.
    let res = await chat(s.url, hello, { headers: { 'x-qwen-account': 'phoenix' } });
    assert.equal(res.status, 503);
    await res.text();
    // A new login lands in KV (e.g. npm run setup:deploy): back in service.
    const relogged = await s.mock.account('phoenix');
    await s.kv.put('ACCOUNT:phoenix', JSON.stringify(qwenCodeCreds(relogged)));
    const health = await fetch(s.url + '/admin/health', { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    assert.equal((await health.json()).accounts.find((x) => x.account === 'phoenix').status, 'healthy');
    res = await chat(s.url, hello, { headers: { 'x-qwen-account': 'phoenix' } });
    assert.equal(res.status, 200);
    await res.text();
  });

  test('credentials replaced in KV elsewhere win at the next refresh, even with an older expiry', async () => {
    await s.addAccount('swap');
    let res = await chat(s.url, hello, { headers: { 'x-qwen-account': 'swap' } });
    assert.equal(res.status, 200);
    await res.text();
    // A new login lands in KV from another isolate or `setup:deploy`: its access token has
    // already expired (older expiry than this isolate's copy), its refresh token is the live one.
    const relogin = await s.mock.account('swap', { expires_in: -30 });
    await s.kv.put('ACCOUNT:swap', JSON.stringify(qwenCodeCreds(relogin)));
    res = await chat(s.url, hello, { headers: { 'x-qwen-account': 'swap' } });
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    const stored = JSON.parse(await s.kv.get('ACCOUNT:swap'));
    assert.notEqual(stored.refresh_token, relogin.refresh_token, 'refreshed from the new login');
    const status = JSON.parse((await s.kv.get('ACCOUNT_STATUS')) ?? '{}');
    assert.ok(!status.swap?.dead_reason);
  });

  test('a token endpoint without rotation keeps the old refresh token', async () => {
    const a = await s.addAccount('norot', { expires_in: -5 });
    await s.mock.script('norot', { refresh: ['no_rotation'] });
    const res = await chat(s.url, hello, { headers: { 'x-qwen-account': 'norot' } });
    assert.equal(res.status, 200);
    await res.text();
    const stored = JSON.parse(await s.kv.get('ACCOUNT:norot'));
    assert.equal(stored.refresh_token, a.refresh_token);
    assert.equal(stored.resource_url, s.mockUrl);
  });
});

describe('the QWEN_OAUTH_CREDS secret', () => {
  let s, mock, acct;
  before(async () => {
    // The account is created first at a mock; the secret must be known before the Worker starts.
    const { startMock } = await import('../mock/upstream.mjs');
    mock = await startMock({ chunkDelayMs: 5 });
    const res = await fetch(mock.url + '/__mock/accounts', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'sec', expires_in: -10 }),
    });
    acct = await res.json();
    s = await startStack({
      vars: {
        QWEN_OAUTH_CREDS: JSON.stringify({ ...qwenCodeCreds(acct), id_token: 'kept' }),
        QWEN_OAUTH_BASE_URL: mock.url,
        QWEN_API_BASE_URL: mock.url,
      },
    });
  });
  after(async () => { await s.close(); await mock.close(); });

  test('serves as account "default"; its refreshed credentials go to KV (which copy wins is a unit test of the resolve rule)', async () => {
    const res = await chat(s.url, hello);
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(res.headers.get('x-qwen-account'), 'default');
    const stored = JSON.parse(await s.kv.get('ACCOUNT:default'));
    assert.notEqual(stored.refresh_token, acct.refresh_token);
    assert.equal(stored.id_token, 'kept', 'unknown fields survive a refresh');
    const res2 = await chat(s.url, hello);
    assert.equal(res2.status, 200);
    await res2.text();
    const stats = await (await fetch(mock.url + '/__mock/stats')).json();
    assert.equal(stats.refresh_calls.sec, 1);
  });

  test('health lists it', async () => {
    const res = await fetch(s.url + '/admin/health', { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const body = await res.json();
    assert.equal(body.accounts[0].account, 'default');
    assert.equal(body.accounts[0].status, 'healthy');
  });
});
