// Account ids and error messages are attacker-influenced: the page must show them as text. HTML
// put straight into KV, and HTML in every string field of the API's answers (served to the page
// in place of the real ones), must come out as the same characters, with no element made and
// nothing run.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../harness.mjs';
import { launch, open, signIn, signedIn, shot, accountRow, assertNoProblems } from './browser.mjs';

const PAYLOAD = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
const day = new Date().toISOString().slice(0, 10);

let browser;
let s;
before(async () => {
  browser = await launch();
  s = await startStack({ dashboard: true, chunkDelayMs: 1 });
  await s.addAccount('victim');
  await s.addAccount('buried');
});
after(async () => {
  await browser?.close();
  await s?.close();
});

/** Nothing of the payload became an element or ran. */
async function assertInert(page) {
  const got = await page.evaluate(() => ({
    pwned: window.__pwned ?? null,
    images: document.querySelectorAll('main img, dialog img').length,
    scripts: document.querySelectorAll('body script').length,
  }));
  assert.deepEqual(got, { pwned: null, images: 0, scripts: 0 });
  await assertNoProblems(page);
}

describe('untrusted text', () => {
  test('HTML stored in KV (an account id, an error, a dead reason) shows as text', async () => {
    const now = Date.now();
    // The API refuses such an id, so it goes straight into KV, index and all.
    await s.kv.put(`ACCOUNT:${PAYLOAD}`, JSON.stringify({ kind: 'api_key', api_key: 'sk-x', base_url: s.mockUrl }));
    await s.kv.put('ACCOUNTS', JSON.stringify(['victim', 'buried', PAYLOAD]));
    await s.kv.put('ACCOUNT_STATUS', JSON.stringify({
      victim: { last_error: PAYLOAD, last_error_at: now - 5000 },
      buried: { dead_reason: PAYLOAD, dead_at: now - 5000 },
    }));
    const page = await signedIn(browser, s);
    await accountRow(page, 'victim').waitFor();
    assert.equal(await accountRow(page, 'victim').locator('.error-text').textContent(), PAYLOAD);
    assert.equal(await accountRow(page, 'buried').locator('.badge').textContent(), 'dead');
    assert.equal(await accountRow(page, 'buried').locator('.reason').textContent(), PAYLOAD);
    // The Worker itself drops an id it would never accept (the index is rebuilt from the valid
    // keys), so that id cannot reach the page through the real API; the next test hands it over.
    const ids = await page.locator('#view-accounts tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.account));
    assert.deepEqual(ids.sort(), ['buried', 'victim']);
    await shot(page, 'untrusted-kv');
    await assertInert(page);
    await page.closeAll();
  });

  test('HTML in every field of the API\'s answers (accounts, keys, usage) shows as text', async () => {
    const page = await open(browser, s);
    const now = Date.now();
    const account = {
      account: PAYLOAD, status: 'out', kind: PAYLOAD, capabilities: [PAYLOAD], expiresIn: PAYLOAD, expires_in_seconds: null,
      failure_reason: PAYLOAD, out_until: now + 3600_000, last_error: PAYLOAD, last_error_at: now, cooldown_until: null, probe: PAYLOAD,
    };
    const answers = {
      '/admin/health': { summary: { total_accounts: 1 }, accounts: [account, { ...account, status: PAYLOAD }], timestamp: now },
      '/admin/keys': { keys: [{ id: PAYLOAD, name: PAYLOAD, models: [PAYLOAD], expires_at: null, limits: { tokens_per_day: 10 }, created_at: now, spend: { tokens_today: 3, tokens_this_month: 3, requests_today: 1 } }] },
      '/admin/usage': { rows: [{ day, key: PAYLOAD, model: PAYLOAD, account: PAYLOAD, requests: 2, errors: 1, input_tokens: 5, output_tokens: 7, cached_tokens: 0, reasoning_tokens: 0, latency_ms_avg: 12 }] },
    };
    await page.route((url) => Object.hasOwn(answers, url.pathname), (route) => route.fulfill({
      status: 200, contentType: 'application/json', body: JSON.stringify(answers[new URL(route.request().url()).pathname]),
    }));
    await signIn(page);
    const rows = page.locator('#view-accounts tbody tr');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 2);
    const first = rows.first();
    assert.equal(await first.locator('th').textContent(), PAYLOAD);
    for (const label of ['Kind', 'Capabilities', 'Probe']) assert.equal(await first.locator(`td[data-label=${label}]`).textContent(), PAYLOAD, label);
    assert.equal(await first.locator('.reason').textContent(), PAYLOAD);
    assert.equal(await first.locator('.error-text').textContent(), PAYLOAD);
    assert.equal(await rows.nth(1).locator('.badge').textContent(), PAYLOAD, 'an unknown status is shown as sent');
    // Actions on such an id address it percent-encoded, never as a path.
    const call = page.waitForRequest((r) => r.method() === 'POST');
    await first.getByRole('button', { name: 'Reset' }).click();
    assert.equal(new URL((await call).url()).pathname, `/admin/accounts/${encodeURIComponent(PAYLOAD)}/reset`);
    await shot(page, 'untrusted-api-accounts');
    await assertInert(page);

    await page.locator('nav a[href="#keys"]').click();
    const key = page.locator('#view-keys tbody tr').first();
    await key.waitFor();
    assert.equal(await key.locator('.key-name').textContent(), PAYLOAD);
    assert.equal(await key.locator('td[data-label=Models]').textContent(), PAYLOAD);
    await assertInert(page);

    await page.locator('nav a[href="#usage"]').click();
    const group = page.locator('#view-usage tbody tr').first();
    await group.waitFor();
    assert.equal(await group.locator('th').textContent(), PAYLOAD);
    assert.equal(await page.locator('#view-usage .legend li').first().textContent(), PAYLOAD);
    await assertInert(page);
    await page.closeAll();
  });
});
