// POST /admin/accounts/<id>/login: the device flow driven through the Worker with curl-like calls.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, chat, ADMIN_KEY } from '../harness.mjs';

const admin = (s, p, method = 'POST') => fetch(s.url + p, { method, headers: { authorization: `Bearer ${ADMIN_KEY}` } });

describe('admin login', () => {
  let s;
  before(async () => { s = await startStack({ chunkDelayMs: 2 }); });
  after(() => s.close());

  test('start, poll while pending, then the approved account is stored and serves', async () => {
    await s.mock.call('POST', '/__mock/device/script', { polls: ['pending', 'slow_down', 'approve'], account_id: 'via-admin' });
    let res = await admin(s, '/admin/accounts/remote1/login');
    const started = await res.json();
    assert.equal(res.status, 200, JSON.stringify(started));
    assert.match(started.verification_uri_complete, /user_code=/);
    assert.ok(started.user_code && started.expires_in > 0);
    assert.doesNotMatch(JSON.stringify(started), /device_code|verifier/, 'the device code and verifier stay server-side');
    const pending = JSON.parse(await s.kv.get('LOGIN:remote1'));
    assert.ok(pending.verifier);

    res = await admin(s, '/admin/accounts/remote1/login/poll');
    assert.equal(res.status, 202);
    assert.equal((await res.json()).status, 'pending');
    res = await admin(s, '/admin/accounts/remote1/login/poll');
    const slow = await res.json();
    assert.equal(slow.status, 'slow_down');
    assert.equal(slow.interval, 3);
    res = await admin(s, '/admin/accounts/remote1/login/poll');
    assert.equal(res.status, 200);
    assert.equal((await res.json()).status, 'authorized');

    const stored = JSON.parse(await s.kv.get('ACCOUNT:remote1'));
    const issued = await s.mock.call('GET', '/__mock/accounts/via-admin');
    assert.equal(stored.refresh_token, issued.refresh_token);
    assert.equal(await s.kv.get('LOGIN:remote1'), null);
    assert.ok(JSON.parse(await s.kv.get('ACCOUNTS')).includes('remote1'));
    res = await chat(s.url, { messages: [{ role: 'user', content: 'new account' }] }, { headers: { 'x-qwen-account': 'remote1' } });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).choices[0].message.content, 'Echo: new account');
    // PKCE: the mock only approves with the right verifier.
    const polls = (await s.mock.requests('/api/v1/oauth2/token')).filter((r) => r.body.grant_type?.includes('device_code'));
    assert.ok(polls.every((p) => p.body.code_verifier === pending.verifier));
  });

  test('denied and expired logins say so and store nothing', async () => {
    for (const [kind, re] of [['denied', /denied/], ['expired', /expired/]]) {
      await s.mock.call('POST', '/__mock/device/script', { polls: [kind] });
      let res = await admin(s, `/admin/accounts/no-${kind}/login`);
      assert.equal(res.status, 200);
      await res.text();
      res = await admin(s, `/admin/accounts/no-${kind}/login/poll`);
      const body = await res.json();
      assert.equal(res.status, 400);
      assert.match(body.error.message, re);
      assert.equal(await s.kv.get(`ACCOUNT:no-${kind}`), null);
    }
    const res = await admin(s, '/admin/accounts/never-started/login/poll');
    assert.equal(res.status, 400);
    assert.match((await res.json()).error.message, /No login in progress/);
  });

  test('needs the admin key', async () => {
    const res = await fetch(s.url + '/admin/accounts/x/login', { method: 'POST' });
    assert.equal(res.status, 401);
  });
});
