// The Keys and Usage tabs against the real keys and usage API (POST/GET/PATCH/DELETE
// /admin/keys, GET /admin/usage). A build without that API fails them, saying so.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import { startStack, ROOT, ADMIN_KEY } from '../harness.mjs';
import { launch, signedIn, shot, assertNoProblems, PHONE } from './browser.mjs';

const run = promisify(execFile);
let browser;
let s;
const missing = {};

const admin = async (method, p, body) => {
  const res = await fetch(s.url + p, {
    method, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
};

/** Fails the test when the gateway has no such route. */
function needs(t, ...apis) {
  const absent = apis.filter((a) => missing[a]);
  assert.deepEqual(absent, [], `GET /admin/${absent[0]} answers 404 on this build`);
  return true;
}

before(async () => {
  browser = await launch();
  s = await startStack({ dashboard: true, chunkDelayMs: 1 });
  await s.addAccount('u1');
  await s.addAccount('u2');
  for (const api of ['keys', 'usage']) {
    const r = await admin('GET', `/admin/${api}${api === 'usage' ? '?group_by=day' : ''}`);
    missing[api] = r.status === 404 && r.body?.error?.code === 'not_found';
  }
});
after(async () => {
  await browser?.close();
  await s?.close();
});

const keyRow = (page, name) => page.locator('#view-keys tbody tr').filter({ has: page.locator('.key-name', { hasText: name }) });

async function openTab(page, name) {
  await page.locator(`nav a[href="#${name}"]`).click();
  await page.locator(`#view-${name}`).waitFor();
}

describe('keys', () => {
  test('create shows the key once with a working copy button; the key serves the SDK', async (t) => {
    if (!needs(t, 'keys')) return;
    const page = await signedIn(browser, s);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: s.url });
    await openTab(page, 'keys');
    await page.getByRole('button', { name: 'Create key' }).click();
    const form = page.getByRole('dialog');
    await form.getByLabel('Name').fill('ci-bot');
    await form.getByLabel('Models (optional)').fill('qwen3-coder-plus');
    await form.getByLabel('Requests per minute').fill('60');
    await form.getByLabel('Tokens per day').fill('100000');
    await form.getByRole('button', { name: 'Create key' }).click();
    const once = page.locator('input.once-key');
    await once.waitFor();
    const key = await once.inputValue();
    assert.ok(key.length >= 16, 'a key is shown');
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByText('Copied.').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key);
    await shot(page, 'key-created');
    await page.getByRole('button', { name: 'I have copied it' }).click();
    assert.ok(!(await page.content()).includes(key), 'the key is gone from the page');
    const row = keyRow(page, 'ci-bot');
    await row.waitFor();
    assert.match(await row.textContent(), /Requests per minute: 60.*Tokens per day: 100,000/s);
    assert.match(await row.locator('td[data-label=Models]').textContent(), /qwen3-coder-plus/);
    const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: key, maxRetries: 0 });
    const r = await client.chat.completions.create({ model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'via a new key' }] });
    assert.equal(r.choices[0].message.content, 'Echo: via a new key');
    await assertNoProblems(page);
    await page.closeAll();
  });

  test('edit changes the limits; revoke asks first and the key stops working', async (t) => {
    if (!needs(t, 'keys')) return;
    const created = await admin('POST', '/admin/keys', { name: 'temp-user', limits: { tokens_per_day: 5000 } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const page = await signedIn(browser, s);
    await openTab(page, 'keys');
    const row = keyRow(page, 'temp-user');
    await row.getByRole('button', { name: 'Edit' }).click();
    const form = page.getByRole('dialog');
    assert.equal(await form.getByLabel('Tokens per day').inputValue(), '5000');
    await form.getByLabel('Tokens per day').fill('7500');
    await form.getByLabel('Tokens per month').fill('90000');
    await form.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Key temp-user saved.').waitFor();
    const listed = (await admin('GET', '/admin/keys')).body.keys.find((k) => k.id === created.body.id);
    assert.equal(listed.limits.tokens_per_day, 7500);
    assert.equal(listed.limits.tokens_per_month, 90000);
    assert.match(await keyRow(page, 'temp-user').textContent(), /Tokens per day: 7,500/);
    await keyRow(page, 'temp-user').getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
    await keyRow(page, 'temp-user').locator('.badge', { hasText: 'revoked' }).waitFor();
    const res = await fetch(`${s.url}/v1/models`, { headers: { authorization: `Bearer ${created.body.key}` } });
    assert.equal(res.status, 401);
    await res.text();
    await shot(page, 'keys');
    await assertNoProblems(page);
    await page.closeAll();
  });
});

describe('usage', () => {
  test('traffic through the SDKs shows up per key, model and account, with charts', async (t) => {
    if (!needs(t, 'keys', 'usage')) return;
    const created = await admin('POST', '/admin/keys', { name: 'sdk-traffic' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: created.body.key, maxRetries: 0 });
    let sent = 0;
    for (let i = 0; i < 3; i++, sent++) await client.chat.completions.create({ model: 'qwen3-coder-plus', messages: [{ role: 'user', content: `n${i}` }] });
    const stream = await client.chat.completions.create({ model: 'qwen3-coder-flash', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'streamed' }] });
    for await (const _ of stream) { /* drained */ }
    sent++;
    const py = path.join(ROOT, '.tools/venv/bin/python');
    if (existsSync(py)) {
      await run(py, [path.join(ROOT, 'tests/python/sdk_smoke.py'), s.url, created.body.key]);
      sent += 2;
    }
    // Usage may be written just after each answer: wait until the API counts every request.
    const today = new Date().toISOString().slice(0, 10);
    let counted = 0;
    for (let i = 0; i < 50 && counted !== sent; i++) {
      const { body } = await admin('GET', `/admin/usage?from=${today}&to=${today}&group_by=key`);
      counted = (body?.rows ?? []).filter((r) => r.key === created.body.id).reduce((n, r) => n + r.requests, 0);
      if (counted !== sent) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(counted, sent, 'the usage API counts every request of the key');
    const page = await signedIn(browser, s);
    await openTab(page, 'usage');
    const row = page.locator('#view-usage tbody tr[data-group="sdk-traffic"]');
    await row.waitFor();
    assert.equal(await row.locator('td[data-label=Requests]').textContent(), String(sent));
    assert.ok(Number((await row.locator('td[data-label="Output tokens"]').textContent()).replace(/\D/g, '')) > 0);
    // Today's bars add up to what was sent with this key.
    const bars = await page.locator(`[data-chart=requests] rect[data-day="${today}"][data-group="sdk-traffic"]`).evaluateAll((r) => r.map((b) => Number(b.dataset.value)));
    assert.deepEqual(bars, [sent]);
    for (const chart of ['tokens', 'errors', 'latency']) assert.equal(await page.locator(`[data-chart=${chart}] svg`).count(), 1, chart);
    await shot(page, 'usage');
    await page.getByLabel('Split by').selectOption('model');
    await page.locator('#view-usage tbody tr[data-group="qwen3-coder-flash"]').waitFor();
    await page.getByLabel('Split by').selectOption('account');
    await page.locator('#view-usage tbody tr[data-group^="u"]').first().waitFor();
    // The range picker: 30 days, then a range before any traffic.
    await page.getByRole('button', { name: '30 days' }).click();
    await page.locator('[data-chart=requests] text', { hasText: today.slice(5) }).first().waitFor();
    await page.getByLabel('From (UTC day)').fill('2020-01-01');
    await page.getByLabel('To (UTC day)').fill('2020-01-31');
    await page.getByText('No traffic from 2020-01-01 to 2020-01-31').waitFor();
    await assertNoProblems(page);
    await page.closeAll();
  });

  test('the usage charts fit a phone', async (t) => {
    if (!needs(t, 'usage')) return;
    const page = await signedIn(browser, s, { viewport: PHONE });
    await openTab(page, 'usage');
    await page.locator('#view-usage .chart, #view-usage .empty').first().waitFor();
    assert.equal(await page.evaluate(() => document.scrollingElement.scrollWidth - window.innerWidth), 0);
    await shot(page, 'usage-phone');
    await page.closeAll();
  });
});
