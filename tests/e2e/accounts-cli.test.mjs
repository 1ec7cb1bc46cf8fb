// The account tool (qwen-accounts, behind npm run auth:* / setup:*): the OAuth device flow against
// the mock, local files, and wrangler's local KV.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, writeFileSync, statSync, existsSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startMock } from '../mock/upstream.mjs';
import { MockControl, ROOT } from '../harness.mjs';

const BIN = path.join(ROOT, 'target/release/qwen-accounts');
const execFileP = promisify(execFile);

/** Runs the tool; resolves {code, stdout, stderr} whatever the exit code. */
function tool(args, { env = {}, input } = {}) {
  return new Promise((resolve) => {
    const child = spawn(BIN, args, { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {}); // the tool may exit before reading its input
    child.stdin.end(input ?? '');
  });
}

let mock, ctl, dir, kvDir;
before(async () => {
  mock = await startMock({ chunkDelayMs: 1 });
  ctl = new MockControl(mock.url);
  dir = mkdtempSync(path.join(tmpdir(), 'qwen-accounts-'));
  kvDir = path.join(dir, 'kv');
});
after(async () => { await mock.close(); rmSync(dir, { recursive: true, force: true }); });

const local = () => path.join(dir, 'local');
const login = (id, extra = []) => tool(['login', id, '--no-browser', '--poll-ms', '40', '--oauth-base', mock.url, '--dir', local(), ...extra]);

describe('device flow (auth:add)', () => {
  test('pending, slow_down, then approval: saved 0600 with the issued tokens, PKCE verified', async () => {
    await ctl.call('POST', '/__mock/device/script', { polls: ['pending', 'slow_down', 'pending', 'approve'], account_id: 'dev-ok' });
    const r = await tool(['login', 'ok1', '--no-browser', '--poll-ms', '100', '--oauth-base', mock.url, '--dir', local()]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /code: \w+/);
    assert.match(r.stdout, /authorize\?user_code=/);
    assert.match(r.stdout, /[▀▄█]/, 'a QR code is drawn');
    const file = path.join(local(), 'oauth_creds_ok1.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    const issued = await ctl.call('GET', '/__mock/accounts/dev-ok');
    assert.equal(saved.refresh_token, issued.refresh_token);
    assert.equal(saved.resource_url, mock.url);
    assert.ok(saved.expiry_date > Date.now() + 3_000_000);
    const polls = (await ctl.requests('/api/v1/oauth2/token')).filter((q) => q.body.grant_type?.includes('device_code'));
    assert.equal(polls.length, 4);
    // slow_down makes the next waits 1.5 times longer: 100 ms (--poll-ms) becomes
    // 150 ms. A sleep is a lower bound, so the gaps after it are at least 150 ms however loaded
    // the machine is.
    const gaps = polls.slice(1).map((p, i) => p.time_ms - polls[i].time_ms);
    assert.ok(gaps[0] >= 95 && gaps[1] >= 145 && gaps[2] >= 145, `gaps ${gaps}`);
    const [device] = await ctl.requests('/api/v1/oauth2/device/code');
    assert.equal(device.body.code_challenge_method, 'S256');
    assert.equal(device.body.client_id, 'f0304373b74a44d2b584a3fb70ca9e56');
  });

  test('denial and expiry stop with a clear message and save nothing', async () => {
    for (const [kind, re] of [['denied', /denied/], ['expired', /expired/]]) {
      await ctl.call('POST', '/__mock/device/script', { polls: ['pending', kind] });
      const r = await login(`no-${kind}`);
      assert.equal(r.code, 1);
      assert.match(r.stderr, re);
      assert.ok(!existsSync(path.join(local(), `oauth_creds_no-${kind}.json`)));
    }
  });

  test('Ctrl-C while waiting saves nothing and leaves other accounts alone', async () => {
    await ctl.call('POST', '/__mock/device/script', { polls: Array(200).fill('pending') });
    const before = readFileSync(path.join(local(), 'oauth_creds_ok1.json'), 'utf8');
    const child = spawn(BIN, ['login', 'ok1', '--no-browser', '--poll-ms', '40', '--oauth-base', mock.url, '--dir', local()]);
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    while (!out.includes('waiting for approval')) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    const code = await new Promise((r) => child.on('close', r));
    assert.equal(code, 130);
    assert.match(err, /cancelled: nothing was saved/);
    assert.equal(readFileSync(path.join(local(), 'oauth_creds_ok1.json'), 'utf8'), before);
  });
});

describe('local accounts', () => {
  test('import qwen-code credentials; missing and corrupt files are one clear line', async () => {
    const src = path.join(dir, 'oauth_creds.json');
    writeFileSync(src, JSON.stringify({ access_token: 'a', refresh_token: 'r-import', token_type: 'Bearer', resource_url: 'portal.qwen.ai', expiry_date: Date.now() + 600_000 }));
    let r = await tool(['import', 'imp', src, '--dir', local()]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(readFileSync(path.join(local(), 'oauth_creds_imp.json'), 'utf8')).refresh_token, 'r-import');
    r = await tool(['import', 'imp2', path.join(dir, 'nope.json'), '--dir', local()]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /does not exist/);
    writeFileSync(src, '{"access_token": "half');
    r = await tool(['import', 'imp', src, '--dir', local()]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not usable credentials: not valid JSON/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.equal(JSON.parse(readFileSync(path.join(local(), 'oauth_creds_imp.json'), 'utf8')).refresh_token, 'r-import', 'the good copy is untouched');
  });

  test('API-key accounts take the key from the environment or stdin, never argv', async () => {
    let r = await tool(['key', 'k1', 'https://dashscope-intl.aliyuncs.com/compatible-mode/v1', '--dir', local()], { env: { QWEN_API_KEY: 'sk-env' } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(readFileSync(path.join(local(), 'api_key_k1.json'), 'utf8')).api_key, 'sk-env');
    r = await tool(['key', 'k2', 'https://x/v1', '--dir', local()], { input: 'sk-stdin\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(readFileSync(path.join(local(), 'api_key_k2.json'), 'utf8')).api_key, 'sk-stdin');
    r = await tool(['key', 'k3', 'ftp://x', '--dir', local()], { input: 'sk\n' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /must start with https/);
    r = await tool(['key', 'k4', 'https://x/v1', '--dir', local()], { input: '\n' });
    assert.match(r.stderr, /no API key given/);
  });

  test('list shows validity and time left; remove deletes; bad ids are refused', async () => {
    let r = await tool(['list', '--dir', local()]);
    assert.match(r.stdout, /ok1\s+oauth\s+valid\s+\d+ min left/);
    assert.match(r.stdout, /k1\s+api_key\s+api_key\s+never expires/);
    r = await tool(['remove', 'k2', '--dir', local()]);
    assert.equal(r.code, 0);
    r = await tool(['remove', 'k2', '--dir', local()]);
    assert.match(r.stderr, /no local account 'k2'/);
    r = await tool(['deploy', 'ghost', '--local', '--dir', local(), '--persist-to', kvDir]);
    assert.match(r.stderr, /no local account 'ghost'/);
    r = await tool(['login', '../etc/passwd', '--dir', local()]);
    assert.match(r.stderr, /account id must be/);
  });
});

describe('KV through wrangler (setup:*)', () => {
  const kv = (...args) => {
    const opts = typeof args.at(-1) === 'object' ? args.pop() : {};
    return tool([...args, '--local', '--persist-to', kvDir, '--dir', local()], opts);
  };
  const wranglerGet = async (key) => {
    const { stdout } = await execFileP('bash', ['-c', `source scripts/env.sh && wrangler kv key get --local --persist-to '${kvDir}' --binding QWEN_TOKEN_CACHE '${key}' --text`], { cwd: ROOT });
    return stdout.trim() === 'Value not found' ? null : stdout;
  };

  test('deploy keeps the index right; list-kv and health report it', async () => {
    let r = await kv('deploy', 'ok1');
    assert.equal(r.code, 0, r.stderr);
    r = await kv('deploy-all');
    assert.equal(r.code, 0, r.stderr);
    const index = JSON.parse(await wranglerGet('ACCOUNTS'));
    assert.deepEqual(index.sort(), ['imp', 'k1', 'ok1']);
    assert.equal(JSON.parse(await wranglerGet('ACCOUNT:ok1')).refresh_token, JSON.parse(readFileSync(path.join(local(), 'oauth_creds_ok1.json'), 'utf8')).refresh_token);
    r = await kv('list-kv');
    assert.deepEqual(r.stdout.trim().split('\n').sort(), ['imp', 'k1', 'ok1']);
    r = await kv('health');
    assert.match(r.stdout, /ok1\s+healthy\s+oauth/);
    assert.match(r.stdout, /k1\s+healthy\s+api_key\s+never/);
  });

  test('older local credentials never overwrite newer ones in KV (unless --force)', async () => {
    const newer = { access_token: 'x', refresh_token: 'rotated-by-worker', token_type: 'Bearer', expiry_date: Date.now() + 7_200_000 };
    await execFileP('bash', ['-c', `source scripts/env.sh && wrangler kv key put --local --persist-to '${kvDir}' --binding QWEN_TOKEN_CACHE ACCOUNT:imp '${JSON.stringify(newer)}'`], { cwd: ROOT });
    let r = await kv('deploy', 'imp');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /KV holds newer credentials for 'imp'/);
    assert.equal(JSON.parse(await wranglerGet('ACCOUNT:imp')).refresh_token, 'rotated-by-worker');
    r = await kv('deploy', 'imp', '--force');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(await wranglerGet('ACCOUNT:imp')).refresh_token, 'r-import');
  });

  test('a key of a kind in one command: checked by the Worker\'s rules, saved and deployed', async () => {
    const key = 'sk-0123456789abcdef0123456789abcdef';
    let r = await kv('key', 'ds1', 'dashscope', '--region', 'intl', '--deploy', { env: { QWEN_API_KEY: key } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\(dashscope\)/);
    const stored = JSON.parse(await wranglerGet('ACCOUNT:ds1'));
    assert.deepEqual(stored, { kind: 'dashscope', api_key: key, region: 'intl' });
    assert.ok(JSON.parse(await wranglerGet('ACCOUNTS')).includes('ds1'));
    assert.ok(!r.stdout.includes(key) && !r.stderr.includes(key), 'the key is never printed');
    r = await kv('health');
    assert.match(r.stdout, /ds1\s+healthy\s+dashscope/);
    r = await kv('key', 'cp1', 'coding_plan', '--region', 'intl', { env: { QWEN_API_KEY: key } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /sk-sp-/);
    assert.match(r.stderr, /nothing was saved/);
    r = await kv('key', 'cp1', 'coding_plan', '--region', 'intl', { env: { QWEN_API_KEY: 'sk-sp-0123456789abcdef' } });
    assert.equal(r.code, 0, r.stderr);
    r = await kv('key', 'x1', 'martian', { env: { QWEN_API_KEY: key } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /kind/);
    r = await kv('list');
    assert.match(r.stdout, /cp1\s+coding_plan/);
  });

  test('remove-kv takes the account out of the index and KV', async () => {
    let r = await kv('remove-kv', 'k1');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await wranglerGet('ACCOUNT:k1'), null);
    assert.deepEqual(JSON.parse(await wranglerGet('ACCOUNTS')).sort(), ['ds1', 'imp', 'ok1']);
    r = await kv('remove-kv', 'k1');
    assert.match(r.stderr, /no account 'k1'/);
  });

  test('the deployed namespace needs an id in wrangler.toml, and a Cloudflare login', async () => {
    let r = await tool(['list-kv']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no KV namespace id for QWEN_TOKEN_CACHE/);
    const cfg = path.join(dir, 'wrangler.toml');
    writeFileSync(cfg, readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8').replace(/id = "0+"/, 'id = "0123456789abcdef0123456789abcdef"').replace('main = "build/worker/shim.mjs"', `main = "${ROOT}/build/worker/shim.mjs"`));
    r = await tool(['list-kv', '--config', cfg], { env: { CLOUDFLARE_API_TOKEN: '', CI: 'true' } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not logged in to Cloudflare: run `npx wrangler login`/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });
});
