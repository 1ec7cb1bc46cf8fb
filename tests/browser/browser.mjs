// Headless Chromium for the dashboard tests: Debian's chromium (CHROMIUM_PATH to use another)
// driven by playwright-core, with no network of its own. Screenshots go to test-output/browser/.
import { chromium } from 'playwright-core';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { ROOT, ADMIN_KEY } from '../harness.mjs';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SHOTS = path.join(ROOT, 'test-output/browser');
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1360, height: 900 };

// playwright-core gives every launch a fresh --user-data-dir of its own and adds --headless.
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

export async function launch() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/setup.sh does) or set CHROMIUM_PATH`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
}

/**
 * A new tab on the dashboard of `stack`, recording what must never happen: uncaught errors,
 * Content-Security-Policy violations, dialogs of the browser's own (alert, confirm).
 */
export async function open(browser, stack, { viewport = DESKTOP, path: p = '/admin' } = {}) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, isMobile: viewport.width < 500, hasTouch: viewport.width < 500 });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('dialog', async (d) => { problems.push(`browser dialog: ${d.message()}`); await d.dismiss(); });
  page.on('console', (m) => {
    // Failed fetches (the 401 of a wrong key, a 404 the page expects) are logged by Chromium too.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console error: ${m.text()}`);
  });
  // Runs outside the page's CSP: counts every violation the page causes.
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  await page.goto(stack.url + p);
  page.problems = async () => [...problems, ...(await page.evaluate(() => window.__violations ?? []))
    .map((v) => `CSP violation: ${v}`)];
  page.closeAll = () => context.close();
  return page;
}

/** Signs in with `key` through the form. */
export async function signIn(page, key = ADMIN_KEY) {
  await page.getByLabel('Admin key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Signs in and waits for the accounts table. */
export async function signedIn(browser, stack, opts) {
  const page = await open(browser, stack, opts);
  await signIn(page);
  await page.locator('#view-accounts').waitFor();
  return page;
}

/** A full-page screenshot under test-output/browser/ for a person to look at. */
export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** The row of an account in the accounts table. */
export const accountRow = (page, id) => page.locator(`#view-accounts tbody tr[data-account="${id}"]`);

/** Fails with everything that went wrong in the page. */
export async function assertNoProblems(page) {
  const found = await page.problems();
  if (found.length) throw new Error(`the page had problems:\n${found.join('\n')}`);
}
