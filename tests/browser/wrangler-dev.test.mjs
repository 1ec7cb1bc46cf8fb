// The README's `npm run dev -- --mock` (scripts/dev.sh: wrangler dev with [assets], the mock
// upstream and its seeded accounts), opened in headless Chromium at /admin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { ROOT } from '../harness.mjs';
import { launch, open, signIn, shot, accountRow, assertNoProblems } from './browser.mjs';

const ADMIN = 'admin-dashboard-dev';
let dev;
let dir;
let browser;
let url;
let output = '';

const freePort = () => new Promise((resolve) => {
  const srv = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = srv.address();
    srv.close(() => resolve(port));
  });
});

before(async () => {
  browser = await launch();
  dir = mkdtempSync(path.join(tmpdir(), 'qwen-dashboard-dev-'));
  const envFile = path.join(dir, 'test.vars');
  writeFileSync(envFile, `OPENAI_API_KEYS="sk-dashboard-dev"\nADMIN_SECRET_KEY="${ADMIN}"\n`);
  const [port, mockPort] = [await freePort(), await freePort()];
  url = `http://127.0.0.1:${port}`;
  dev = spawn('bash', ['scripts/dev.sh', '--mock', '--persist-to', path.join(dir, 'state'), '--env-file', envFile], {
    cwd: ROOT,
    env: { ...process.env, SKIP_SETUP: '1', PORT: String(port), MOCK_PORT: String(mockPort) },
    detached: true,
  });
  dev.stdout.on('data', (d) => { output += d; });
  dev.stderr.on('data', (d) => { output += d; });
  const deadline = Date.now() + 180_000;
  while (!/Ready on/.test(output)) {
    if (Date.now() > deadline || dev.exitCode !== null) throw new Error(`wrangler dev did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
});

after(async () => {
  await browser?.close();
  try { process.kill(-dev.pid, 'SIGTERM'); } catch { /* already gone */ }
  rmSync(dir, { recursive: true, force: true });
});

test('npm run dev -- --mock: /admin shows the seeded accounts, painted within a second', async () => {
  assert.match(output, /admin dashboard: http:\/\/127\.0\.0\.1:\d+\/admin/);
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
