// The README's local command, `npm run dev -- --mock` (scripts/dev.sh): wrangler dev on local KV,
// seeded with `wrangler kv key put --local`, serving the OpenAI Python SDK and curl.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { ROOT, startDev } from '../harness.mjs';

const run = promisify(execFile);
const KEY = 'sk-wrangler-dev-test';
let dev, url, mockUrl, dir;

before(async () => {
  // ACCOUNT_CACHE_TTL_SECS=0: accounts deployed or removed with the tool count from the next request.
  dev = await startDev({ OPENAI_API_KEYS: KEY, ADMIN_SECRET_KEY: 'admin-dev-test' }, ['--var', 'ACCOUNT_CACHE_TTL_SECS:0']);
  ({ url, mockUrl, dir } = dev);
});

after(() => dev?.stop());

test('the OpenAI Python SDK gets a non-streamed and a streamed answer', async () => {
  const py = path.join(ROOT, '.tools/venv/bin/python');
  const { stdout } = await run(py, [path.join(ROOT, 'tests/python/sdk_smoke.py'), url, KEY]);
  const got = JSON.parse(stdout);
  assert.equal(got.plain, 'Echo: non-streamed via wrangler dev');
  assert.equal(got.streamed, 'Echo: streamed via wrangler dev');
  assert.ok(got.chunks > 5);
});

test('curl: a streamed answer, a bad key, bad JSON, and the health table', async () => {
  const { stdout: sse } = await run('curl', ['-sN', `${url}/v1/chat/completions`, '-H', `Authorization: Bearer ${KEY}`,
    '-d', '{"stream":true,"messages":[{"role":"user","content":"curl"}]}']);
  assert.match(sse, /^data: \{/);
  assert.match(sse, /data: \[DONE\]/);
  const { stdout: unauthorized } = await run('curl', ['-s', '-w', '\\n%{http_code}', `${url}/v1/models`, '-H', 'Authorization: Bearer nope']);
  assert.match(unauthorized, /"code":"invalid_api_key"[\s\S]*\n401$/);
  const { stdout: badJson } = await run('curl', ['-s', '-w', '\\n%{http_code}', `${url}/v1/chat/completions`, '-H', `x-api-key: ${KEY}`, '-d', '{"messages":']);
  assert.match(badJson, /not valid JSON[\s\S]*\n400$/);
  const { stdout: table } = await run('curl', ['-s', `${url}/admin/health`, '-H', 'Authorization: Bearer admin-dev-test']);
  assert.match(table, /demo\s+healthy\s+oauth/);
});

test('an account added with auth:add and setup:deploy --local is served; remove-kv takes it out', async () => {
  const tool = (args, env = {}) => run(path.join(ROOT, 'target/release/qwen-accounts'),
    [...args, '--dir', path.join(dir, 'local')], { cwd: ROOT, env: { ...process.env, ...env } });
  await fetch(`${mockUrl}/__mock/device/script`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ polls: ['pending', 'approve'], account_id: 'cli-acct' }) });
  await tool(['login', 'fresh', '--no-browser', '--poll-ms', '30', '--oauth-base', mockUrl]);
  await tool(['deploy', 'fresh', '--local', '--persist-to', path.join(dir, 'state')]);
  const ask = async (headers = {}) => {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'who' }] }),
    });
    await res.text();
    return [res.status, res.headers.get('x-qwen-account')];
  };
  assert.deepEqual(await ask({ 'x-qwen-account': 'fresh' }), [200, 'fresh']);
  const seen = new Set();
  for (let i = 0; i < 30 && seen.size < 2; i++) seen.add((await ask())[1]);
  assert.deepEqual([...seen].sort(), ['demo', 'fresh'], 'in rotation with the demo account');
  await tool(['remove-kv', 'fresh', '--local', '--persist-to', path.join(dir, 'state')]);
  for (let i = 0; i < 10; i++) assert.deepEqual(await ask(), [200, 'demo']);
  assert.equal((await ask({ 'x-qwen-account': 'fresh' }))[0], 404);
});
