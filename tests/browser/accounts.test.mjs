// The Accounts tab in headless Chromium against the built Worker and the mock upstream: every
// account state as the pool really reaches it, and the operator's actions.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, chat } from '../harness.mjs';
import { launch, open, signedIn, shot, accountRow, assertNoProblems, PHONE } from './browser.mjs';

const hello = { messages: [{ role: 'user', content: 'hello' }] };
let browser;
let s;

/** One pinned request to `id`, to let the pool learn what the mock was scripted to do. */
async function pinned(id) {
  const res = await chat(s.url, hello, { headers: { 'x-qwen-account': id } });
  await res.text();
  return res.status;
}

/** A key account of `kind` at the mock, stored as its record (the mock's own base URL). */
async function keyAccount(id, kind, extra = {}) {
  const acct = await s.mock.account(id, { kind });
  await s.kv.put(`ACCOUNT:${id}`, JSON.stringify({ kind, api_key: acct.api_key, region: 'intl', base_url: acct.base_url, ...extra }));
  const ids = JSON.parse((await s.kv.get('ACCOUNTS')) ?? '[]');
  await s.kv.put('ACCOUNTS', JSON.stringify([...ids, id]));
  return acct;
}

before(async () => {
  browser = await launch();
  s = await startStack({ dashboard: true, chunkDelayMs: 1, vars: { FIRST_BYTE_TIMEOUT_MS: '1500' } });
  await s.addAccount('fine');
  await s.addAccount('stale', { expires_in: -60 });
  for (const id of ['cool', 'spent', 'gone', 'ended']) await s.addAccount(id);
  await keyAccount('plan', 'coding_plan');
  await s.mock.script('cool', { default_chat: { kind: 'throttle', retry_after: 300 } });
  await s.mock.script('spent', { default_chat: 'quota' });
  await s.mock.script('ended', { default_chat: 'auth' });
  await s.mock.script('plan', { default_chat: 'hour_quota' });
  await s.mock.revoke('gone');
  for (const id of ['cool', 'spent', 'gone', 'ended', 'plan']) assert.notEqual(await pinned(id), 200, id);
});
after(async () => {
  await browser?.close();
  await s?.close();
});

const badge = async (page, id) => (await accountRow(page, id).locator('.badge').textContent()).trim();

describe('accounts', () => {
  test('every state reads as a person would say it, with when it comes back', async () => {
    const page = await signedIn(browser, s);
    await accountRow(page, 'plan').waitFor();
    assert.equal(await badge(page, 'fine'), 'healthy');
    assert.equal(await badge(page, 'stale'), 'token expired');
    assert.equal(await badge(page, 'cool'), 'cooling down');
    assert.equal(await badge(page, 'spent'), 'quota exceeded');
    assert.equal(await badge(page, 'gone'), 'dead');
    assert.equal(await badge(page, 'ended'), 'discontinued');
    assert.match(await badge(page, 'plan'), /^out until \S/);
    // When each comes back: the cool-down's end, UTC midnight, the plan window's renewal.
    const back = async (id) => accountRow(page, id).locator('td[data-label=Back]').textContent();
    assert.match(await back('cool'), /in (4 min|5 min|\d+ s)/);
    assert.match(await back('spent'), /in \d/);
    assert.match(await back('plan'), /in \d/);
    assert.match(await back('gone'), /needs new credentials/);
    assert.match(await accountRow(page, 'ended').locator('.reason').textContent(), /free tier/);
    assert.match(await accountRow(page, 'plan').locator('td[data-label=Kind]').textContent(), /Coding Plan/);
    assert.match(await accountRow(page, 'plan').locator('td[data-label=Token]').textContent(), /no expiry/);
    assert.match(await accountRow(page, 'fine').locator('td[data-label=Token]').textContent(), /^(1 h 0 min|\d+ min) left$/);
    assert.match(await accountRow(page, 'cool').locator('td[data-label="Last error"]').textContent(), /\S.*ago/);
    const tiles = Object.fromEntries(await page.locator('.summary .tile').evaluateAll((ts) =>
      ts.map((t) => [t.querySelector('.tile-label').textContent, Number(t.querySelector('.tile-value').textContent)])));
    assert.deepEqual(tiles, { accounts: 7, usable: 2, 'cooling down': 1, 'quota exceeded': 1, out: 1, dead: 1, discontinued: 1 });
    await shot(page, 'accounts');
    await assertNoProblems(page);
    await page.closeAll();
  });

  test('the accounts table paints within a second of opening the page, signed in', async () => {
    const page = await signedIn(browser, s);
    const t0 = Date.now();
    await page.reload();
    await accountRow(page, 'fine').waitFor();
    const ms = Date.now() - t0;
    assert.ok(ms <= 1000, `${ms} ms`);
    await page.closeAll();
  });

  test('reset brings a cooling account back at once', async () => {
    const page = await signedIn(browser, s);
    await accountRow(page, 'cool').getByRole('button', { name: 'Reset' }).click();
    await page.getByText('Account cool reset').waitFor();
    await page.waitForFunction(() => document.querySelector('tr[data-account="cool"] .badge')?.textContent === 'healthy');
    assert.equal(JSON.parse(await s.kv.get('ACCOUNT_STATUS')).cool, undefined, 'its state is gone from KV');
    await s.mock.script('cool', { default_chat: 'ok' });
    assert.equal(await pinned('cool'), 200);
    await assertNoProblems(page);
    await page.closeAll();
  });

  test('probe all shows what one real request on each account said', async () => {
    const page = await signedIn(browser, s);
    await page.getByRole('button', { name: 'Probe all' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Probe' }).click();
    const probe = (id) => accountRow(page, id).locator('td[data-label=Probe]');
    await probe('fine').waitFor();
    assert.equal(await probe('fine').textContent(), 'ok');
    assert.match(await probe('spent').textContent(), /quota/i);
    assert.notEqual(await probe('gone').textContent(), 'ok');
    await assertNoProblems(page);
    await page.closeAll();
  });

  test('adding an API-key account: a bad key shape shows the API\'s message; a good one serves', async () => {
    const page = await signedIn(browser, s);
    await page.getByRole('button', { name: 'Add API-key account' }).click();
    const form = page.getByRole('dialog');
    await form.getByLabel('Account id').fill('paid');
    await form.getByLabel('Kind').selectOption('coding_plan');
    await form.getByLabel('API key').fill('sk-0123456789abcdef');
    await form.getByRole('button', { name: 'Add account' }).click();
    const error = form.locator('.form-error');
    await error.waitFor();
    assert.match(await error.textContent(), /a coding_plan key starts with 'sk-sp-'; for a pay-as-you-go key use kind dashscope/);
    await shot(page, 'add-account-refused');
    // A DashScope key, pointed at the mock with the endpoint override.
    const acct = await s.mock.account('paid', { kind: 'dashscope' });
    await form.getByLabel('Kind').selectOption('dashscope');
    await form.getByLabel('API key').fill(acct.api_key);
    await form.getByLabel('Region').selectOption('intl');
    await form.getByText('Endpoint overrides').click();
    await form.getByLabel('OpenAI-compatible base URL').fill(acct.base_url);
    await form.getByLabel('Models (optional)').fill('qwen3-coder-plus, qwen3-coder-flash');
    await form.getByRole('button', { name: 'Add account' }).click();
    await accountRow(page, 'paid').waitFor();
    assert.equal(await form.count(), 0, 'the dialog closed');
    assert.equal(await badge(page, 'paid'), 'healthy');
    assert.match(await accountRow(page, 'paid').locator('td[data-label=Kind]').textContent(), /DashScope/);
    const stored = JSON.parse(await s.kv.get('ACCOUNT:paid'));
    assert.deepEqual({ ...stored, api_key: stored.api_key === acct.api_key },
      { kind: 'dashscope', api_key: true, region: 'intl', base_url: acct.base_url, models: ['qwen3-coder-plus', 'qwen3-coder-flash'] });
    assert.equal(await pinned('paid'), 200);
    await assertNoProblems(page);
    await page.closeAll();
  });

  test('delete asks first, then the account and its credentials are gone', async () => {
    const page = await signedIn(browser, s);
    await accountRow(page, 'ended').getByRole('button', { name: 'Delete' }).click();
    const ask = page.getByRole('dialog');
    assert.match(await ask.textContent(), /Delete the account ended and its stored credentials/);
    await ask.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await accountRow(page, 'ended').count(), 1, 'cancel keeps it');
    await accountRow(page, 'ended').getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await accountRow(page, 'ended').waitFor({ state: 'detached' });
    assert.equal(await s.kv.get('ACCOUNT:ended'), null);
    await assertNoProblems(page);
    await page.closeAll();
  });

  test('on a phone: one card per account, nothing wider than the screen', async () => {
    const page = await signedIn(browser, s, { viewport: PHONE });
    await accountRow(page, 'fine').waitFor();
    const layout = await page.evaluate(() => ({
      overflow: document.scrollingElement.scrollWidth - window.innerWidth,
      head: getComputedStyle(document.querySelector('#view-accounts thead')).display,
      label: getComputedStyle(document.querySelector('#view-accounts td[data-label=Kind]'), '::before').content,
    }));
    assert.deepEqual(layout, { overflow: 0, head: 'none', label: '"Kind"' });
    await shot(page, 'accounts-phone');
    await page.getByRole('button', { name: 'Add API-key account' }).click();
    const box = await page.getByRole('dialog').boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= PHONE.width, JSON.stringify(box));
    await shot(page, 'add-account-phone');
    await assertNoProblems(page);
    await page.closeAll();
  });
});
