// Logging an OAuth account in from the dashboard: the device flow against the mock's OAuth
// server, its QR code read back as a phone camera would, polling until approved or denied.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import { startStack, chat } from '../harness.mjs';
import { launch, signedIn, shot, accountRow, assertNoProblems, PHONE } from './browser.mjs';

let browser;
let s;
before(async () => {
  browser = await launch();
  s = await startStack({ dashboard: true, chunkDelayMs: 1 });
  await s.addAccount('first');
});
after(async () => {
  await browser?.close();
  await s?.close();
});

/** What a camera reads from the QR code on screen. */
async function readQr(locator) {
  const png = PNG.sync.read(await locator.screenshot());
  return jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data ?? null;
}

async function startLogin(page, id) {
  await page.getByRole('button', { name: 'Log in OAuth account' }).click();
  const d = page.getByRole('dialog');
  await d.getByLabel('Account id').fill(id);
  await d.getByRole('button', { name: 'Start login' }).click();
  return d;
}

describe('device login', () => {
  test('the QR code carries the sign-in link; approval stores the account, which then serves', async () => {
    await s.mock.call('POST', '/__mock/device/script', { polls: ['pending', 'approve'], account_id: 'via-dashboard' });
    const page = await signedIn(browser, s);
    const d = await startLogin(page, 'newbie');
    const qr = d.locator('svg.qr');
    await qr.waitFor();
    const link = await d.locator('a.device-link').getAttribute('href');
    assert.match(link, new RegExp(`^${s.mockUrl}/authorize\\?user_code=`));
    assert.equal(await readQr(qr), link, 'the QR code reads as the link');
    const code = await d.locator('.user-code').textContent();
    assert.ok(code && link.endsWith(encodeURIComponent(code)), `${code} in ${link}`);
    assert.match(await d.textContent(), /Expires in (9|10) min/);
    await shot(page, 'device-login');
    await d.locator('.device-status.ok').waitFor({ timeout: 20_000 });
    assert.match(await d.locator('.device-status').textContent(), /Authorized: the account newbie is logged in/);
    assert.equal((await s.mock.stats()).device_poll_calls, 2, 'pending, then approved');
    const stored = JSON.parse(await s.kv.get('ACCOUNT:newbie'));
    assert.equal(stored.refresh_token, (await s.mock.call('GET', '/__mock/accounts/via-dashboard')).refresh_token);
    await shot(page, 'device-login-done');
    await d.getByRole('button', { name: 'Close' }).click();
    await accountRow(page, 'newbie').waitFor();
    assert.equal((await accountRow(page, 'newbie').locator('.badge').textContent()), 'healthy');
    const res = await chat(s.url, { messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-qwen-account': 'newbie' } });
    assert.equal(res.status, 200);
    await res.text();
    await assertNoProblems(page);
    await page.closeAll();
  });

  test('a denied login says so, stores nothing and stops polling', async () => {
    await s.mock.call('POST', '/__mock/device/script', { polls: ['denied'] });
    const before = (await s.mock.stats()).device_poll_calls ?? 0;
    const page = await signedIn(browser, s, { viewport: PHONE });
    const d = await startLogin(page, 'refused');
    await d.locator('svg.qr').waitFor();
    await shot(page, 'device-login-phone');
    await d.locator('.device-status.failed').waitFor({ timeout: 20_000 });
    assert.match(await d.locator('.device-status').textContent(), /The login ended: .*denied/i);
    assert.equal(await s.kv.get('ACCOUNT:refused'), null);
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await s.mock.stats()).device_poll_calls, before + 1, 'no poll after the end');
    await assertNoProblems(page);
    await page.closeAll();
  });

  test('cancelling stops the polling', async () => {
    await s.mock.call('POST', '/__mock/device/script', { polls: ['pending', 'pending', 'pending', 'approve'], account_id: 'never' });
    const page = await signedIn(browser, s);
    const d = await startLogin(page, 'cancelled');
    await d.locator('svg.qr').waitFor();
    const before = (await s.mock.stats()).device_poll_calls ?? 0;
    await d.getByRole('button', { name: 'Cancel' }).click();
    await new Promise((r) => setTimeout(r, 4500));
    assert.equal((await s.mock.stats()).device_poll_calls ?? 0, before);
    assert.equal(await s.kv.get('ACCOUNT:cancelled'), null);
    await page.closeAll();
  });
});
