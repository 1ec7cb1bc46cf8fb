// The README's `npm run dev -- --mock` (scripts/dev.sh: wrangler dev with [assets], the mock
// upstream and its seeded accounts), opened in headless Chromium at /admin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDev } from '../harness.mjs';
import { launch, open, signIn, shot, accountRow, assertNoProblems } from './browser.mjs';

const ADMIN = 'admin-dashboard-dev';
let dev;
let browser;
let url;

before(async () => {
  browser = await launch();
  dev = await startDev({ OPENAI_API_KEYS: 'sk-dashboard-dev', ADMIN_SECRET_KEY: ADMIN });
  url = dev.url;
});

after(async () => {
  await browser?.close();
  dev?.stop();
});

test('npm run dev -- --mock: /admin shows the seeded accounts, painted within a second', async () => {
  assert.match(dev.output(), /admin dashboard: http:\/\/127\.0\.0\.1:\d+\/admin/);
  const page = await open(browser, { url });
  await signIn(page, ADMIN);
  await accountRow(page, 'legacy').waitFor();
  const badge = async (id) => accountRow(page, id).locator('.badge').textContent();
  assert.equal(await badge('demo'), 'healthy');
  assert.match(await badge('coder'), /^out until /);
  assert.equal(await badge('legacy'), 'discontinued');
  const t0 = Date.now();
  await page.reload();
  await accountRow(page, 'demo').waitFor();
  const ms = Date.now() - t0;
  assert.ok(ms <= 1000, `first paint of the accounts table took ${ms} ms`);
  const res = await fetch(`${url}/admin`);
  assert.match(res.headers.get('content-security-policy'), /script-src 'self'/);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  await res.text();
  await shot(page, 'wrangler-dev-accounts');
  await assertNoProblems(page);
  await page.closeAll();
});
