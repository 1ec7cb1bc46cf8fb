// The dashboard's page and its sign-in, in headless Chromium: the admin key refused or taken,
// where it is kept, admin turned off, and what the page and its headers promise.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startStack, ROOT, ADMIN_KEY, CLIENT_KEY } from '../harness.mjs';
import { launch, open, signIn, shot, assertNoProblems } from './browser.mjs';
import { measure, report, BUDGET_BYTES } from '../../admin-ui/size.mjs';

let browser;
before(async () => { browser = await launch(); });
after(() => browser?.close());

describe('sign-in', () => {
  let s;
  before(async () => {
    s = await startStack({ dashboard: true, chunkDelayMs: 1 });
    await s.addAccount('a1');
  });
  after(() => s.close());

  test('a wrong key is refused with a clear message; the right one opens the accounts', async () => {
    const page = await open(browser, s);
    await signIn(page, 'not-the-key');
    const alert = page.locator('form.signin [role=alert]');
    await alert.waitFor();
    assert.match(await alert.textContent(), /That key was refused: it is not this gateway's admin key \(ADMIN_SECRET_KEY\)/);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'a refused key is not kept');
    await shot(page, 'signin-refused');
    await signIn(page, ADMIN_KEY);
    await page.locator('#view-accounts tbody tr[data-account="a1"]').waitFor();
    assert.equal(await page.locator('nav a[aria-current=page]').textContent(), 'Accounts');
    await assertNoProblems(page);
    await page.closeAll();
  });

  test('the key lives in sessionStorage only: no cookie, no localStorage, gone on sign-out', async () => {
    const page = await open(browser, s);
    await signIn(page);
    await page.locator('#view-accounts').waitFor();
    const stored = await page.evaluate(() => ({ session: Object.values(sessionStorage), local: localStorage.length, cookie: document.cookie }));
    assert.deepEqual(stored, { session: [ADMIN_KEY], local: 0, cookie: '' });
    assert.deepEqual(await page.context().cookies(), []);
    assert.ok(!(await page.content()).includes(ADMIN_KEY), 'the key is not in the DOM');
    // A reload stays signed in (same tab), and the calls carry the key as a bearer header.
    const call = page.waitForRequest((r) => r.url().includes('/admin/health'));
    await page.reload();
    assert.equal((await call).headers().authorization, `Bearer ${ADMIN_KEY}`);
    await page.locator('#view-accounts').waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Admin key').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await assertNoProblems(page);
    await page.closeAll();
  });

  test('a key that stops working while the page is open sends the user back to sign-in', async () => {
    const page = await open(browser, s);
    await signIn(page);
    await page.locator('#view-accounts').waitFor();
    await page.evaluate(() => sessionStorage.setItem('qwen-worker.admin-key', 'changed-meanwhile'));
    await page.getByRole('button', { name: 'Refresh' }).click();
    const alert = page.locator('form.signin [role=alert]');
    await alert.waitFor();
    assert.match(await alert.textContent(), /admin key was refused/);
    await page.closeAll();
  });
});

describe('admin disabled', () => {
  let s;
  before(async () => { s = await startStack({ dashboard: true, chunkDelayMs: 1, vars: { ADMIN_SECRET_KEY: undefined } }); });
  after(() => s.close());

  test('the page says so and how to turn it on, without a sign-in form', async () => {
    const page = await open(browser, s);
    const notice = page.locator('#admin-disabled');
    await notice.waitFor();
    assert.match(await notice.textContent(), /Admin is disabled on this gateway.*ADMIN_SECRET_KEY/s);
    assert.equal(await page.getByLabel('Admin key').count(), 0);
    await shot(page, 'admin-disabled');
    await assertNoProblems(page);
    await page.closeAll();
  });
});

describe('the page and its assets', () => {
  let s;
  before(async () => {
    s = await startStack({ dashboard: true, chunkDelayMs: 1 });
    await s.addAccount('a1');
  });
  after(() => s.close());

  test('strict headers: CSP without inline script or style, nosniff, no referrer, no framing, caching', async () => {
    const page = await fetch(`${s.url}/admin`);
    const html = await page.text();
    const csp = Object.fromEntries(page.headers.get('content-security-policy').split(';')
      .map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v.join(' ')]));
    assert.equal(csp['default-src'], "'none'");
    assert.equal(csp['script-src'], "'self'");
    assert.equal(csp['style-src'], "'self'");
    assert.equal(csp['frame-ancestors'], "'none'");
    assert.equal(csp['base-uri'], "'none'");
    assert.equal(csp['form-action'], "'none'");
    assert.equal(csp['require-trusted-types-for'], "'script'");
    assert.doesNotMatch(page.headers.get('content-security-policy'), /unsafe|\*|data:|https?:/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    assert.equal(page.headers.get('cache-control'), 'no-store');
    assert.match(page.headers.get('content-type'), /^text\/html/);
    // No inline script, style or handler in the page.
    assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=/i);
    const assets = [...html.matchAll(/(?:src|href)="(\/admin\/assets\/[^"]+)"/g)].map((m) => m[1]);
    assert.ok(assets.length >= 3, assets.join());
    for (const a of new Set(assets)) {
      assert.match(a, /-[0-9a-f]{12}\.(js|css|svg)$/, 'hashed names');
      const res = await fetch(s.url + a);
      assert.equal(res.status, 200, a);
      assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      await res.arrayBuffer();
    }
    assert.match(html, /<script type="module" src="\/admin\/assets\/app-[0-9a-f]{12}\.js" integrity="sha384-/);
    // Unknown or odd asset names are plain 404s; the JSON API keeps its own answers.
    for (const p of ['/admin/assets/app-000000000000.js', '/admin/assets/.hidden', '/admin/assets/a/b.js']) {
      const res = await fetch(s.url + p);
      assert.equal(res.status, 404, p);
      await res.text();
    }
    const api = await fetch(`${s.url}/admin/health`);
    assert.equal(api.status, 401);
    assert.equal((await api.json()).error.code, 'invalid_admin_key');
  });

  test('nothing secret in the page source or its scripts', async () => {
    const html = await (await fetch(`${s.url}/admin`)).text();
    const bodies = [html];
    for (const [, a] of html.matchAll(/(?:src|href)="(\/admin\/assets\/[^"]+)"/g)) bodies.push(await (await fetch(s.url + a)).text());
    const secrets = [...s.secrets(), ADMIN_KEY, CLIENT_KEY];
    for (const body of bodies) {
      for (const secret of secrets) assert.ok(!body.includes(secret), `a secret (${secret.slice(0, 6)}…) is in the page's files`);
      assert.doesNotMatch(body, /\bsk-[A-Za-z0-9]{8,}/, 'no key-shaped text');
    }
  });

  test('in the browser, the policy holds: no inline script runs and no HTML string reaches the DOM', async () => {
    const page = await open(browser, s);
    await page.getByLabel('Admin key').waitFor();
    const got = await page.evaluate(() => {
      const out = {};
      try { document.body.insertAdjacentHTML('beforeend', '<img id="x" src="x">'); out.html = 'accepted'; } catch (e) { out.html = e.name; }
      const script = document.createElement('script');
      try { script.textContent = 'window.__ran = true'; document.body.append(script); } catch (e) { out.script = e.name; }
      out.ran = window.__ran === true;
      const button = document.createElement('button');
      try { button.setAttribute('onclick', 'window.__clicked = true'); } catch (e) { out.handler = e.name; }
      document.body.append(button);
      button.click();
      out.clicked = window.__clicked === true;
      return out;
    });
    assert.deepEqual(got, { html: 'TypeError', script: 'TypeError', ran: false, handler: 'TypeError', clicked: false });
    const violations = (await page.problems()).filter((p) => /CSP violation: require-trusted-types-for/.test(p));
    assert.equal(violations.length, 3, 'each attempt was stopped by the policy');
    await page.closeAll();
  });

  test('the source never parses HTML strings or evaluates code', () => {
    const sinks = /\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\s*\(|new Function\s*\(|setTimeout\(\s*['"`]/;
    const dir = path.join(ROOT, 'admin-ui/src');
    const files = readdirSync(dir).map((f) => path.join(dir, f));
    files.push(...readdirSync(path.join(ROOT, 'admin-ui/dist/assets')).filter((f) => f.endsWith('.js')).map((f) => path.join(ROOT, 'admin-ui/dist/assets', f)));
    assert.ok(files.length > 5);
    for (const f of files) assert.doesNotMatch(readFileSync(f, 'utf8'), sinks, f);
  });

  test(`all assets together are at most ${BUDGET_BYTES / 1024} KiB gzipped`, () => {
    const m = measure();
    console.log(report(m));
    assert.ok(m.total <= BUDGET_BYTES, `${m.total} bytes gzipped`);
    assert.ok(m.files.some((f) => /^assets\/app-/.test(f.file)), 'the measure saw the built files');
  });
});
