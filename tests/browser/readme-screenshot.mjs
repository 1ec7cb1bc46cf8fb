// Writes the README's picture of the dashboard (docs/dashboard.png): the Worker in workerd with
// the mock upstream and accounts in several states, shot in headless Chromium.
//   node tests/browser/readme-screenshot.mjs [out.png]
// With Debian's pngquant installed, the picture is quantized to stay well under 100 KiB.
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { startStack, chat, ROOT } from '../harness.mjs';
import { launch, signedIn, accountRow } from './browser.mjs';

const out = path.resolve(process.argv[2] ?? path.join(ROOT, 'docs/dashboard.png'));
const s = await startStack({ dashboard: true, chunkDelayMs: 1 });
const browser = await launch();
try {
  for (const id of ['alice', 'bob', 'carol', 'dave']) await s.addAccount(id);
  const paid = await s.mock.account('paid', { kind: 'dashscope' });
  const coder = await s.mock.account('coder', { kind: 'coding_plan' });
  await s.kv.put('ACCOUNT:paid', JSON.stringify({ kind: 'dashscope', api_key: paid.api_key, region: 'intl', base_url: paid.base_url }));
  await s.kv.put('ACCOUNT:coder', JSON.stringify({ kind: 'coding_plan', api_key: coder.api_key, region: 'intl', base_url: coder.base_url }));
  await s.kv.put('ACCOUNTS', JSON.stringify(['alice', 'bob', 'carol', 'dave', 'paid', 'coder']));
  await s.mock.script('bob', { default_chat: { kind: 'throttle', retry_after: 240 } });
  await s.mock.script('carol', { default_chat: 'quota' });
  await s.mock.script('coder', { default_chat: 'hour_quota' });
  await s.mock.revoke('dave');
  for (const id of ['bob', 'carol', 'coder', 'dave']) {
    const res = await chat(s.url, { messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-qwen-account': id } });
    await res.text();
  }
  const page = await signedIn(browser, s, { viewport: { width: 1240, height: 700 } });
  await accountRow(page, 'coder').waitFor();
  await page.screenshot({ path: out });
  try {
    execFileSync('pngquant', ['--force', '--skip-if-larger', '--quality=70-95', '--output', out, out]);
  } catch (e) {
    console.log(`not quantized (${e.code === 'ENOENT' ? 'no pngquant' : e.message})`);
  }
  console.log(`wrote ${path.relative(process.cwd(), out)}: ${(statSync(out).size / 1024).toFixed(1)} KiB`);
} finally {
  await browser.close();
  await s.close();
}
