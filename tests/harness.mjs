// Test harness: the built Worker in workerd (through Miniflare, with real local KV) in front of
// our mock Qwen upstream on 127.0.0.1.
import { Miniflare } from 'miniflare';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { startMock } from './mock/upstream.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The runtime date the Worker is deployed with: tests and benchmarks run the same. */
export const COMPATIBILITY_DATE = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8'))[1];
export const CLIENT_KEY = 'sk-test-client';
export const ADMIN_KEY = 'admin-test-secret';

/** Control client for the mock upstream's /__mock API. */
export class MockControl {
  constructor(url) { this.url = url; }
  async call(method, p, body) {
    const res = await fetch(this.url + p, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`mock ${method} ${p}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }
  account(id, opts = {}) { return this.call('POST', '/__mock/accounts', { id, ...opts }); }
  script(id, s) { return this.call('POST', `/__mock/accounts/${id}/script`, s); }
  expire(id) { return this.call('POST', `/__mock/accounts/${id}/expire`); }
  revoke(id) { return this.call('POST', `/__mock/accounts/${id}/revoke`); }
  requests(p) { return this.call('GET', '/__mock/requests' + (p ? `?path=${encodeURIComponent(p)}` : '')); }
  clearRequests() { return this.call('DELETE', '/__mock/requests'); }
  stats() { return this.call('GET', '/__mock/stats'); }
  config(c) { return this.call('POST', '/__mock/config', c); }
  reset() { return this.call('POST', '/__mock/reset'); }
  /** Scripted agent turns for an account (replacing those left, or appended). */
  agent(id, turns, { append = false } = {}) { return this.call('POST', `/__mock/accounts/${id}/agent`, { turns, append }); }
  /** The model list an account's GET …/models answers (null: its kind's). */
  models(id, models) { return this.call('POST', `/__mock/accounts/${id}/models`, { models }); }
  /** Account options: agents_only, strict_models, prompt_cache. */
  options(id, o) { return this.call('POST', `/__mock/accounts/${id}/options`, o); }
  /** The error fixtures by name (tests/fixtures/qwen/errors/). */
  errors() { return this.call('GET', '/__mock/errors'); }
}

/** Credentials as qwen-code stores them, from a mock account. */
export function qwenCodeCreds(acct) {
  return {
    access_token: acct.access_token,
    refresh_token: acct.refresh_token,
    token_type: 'Bearer',
    resource_url: acct.resource_url,
    expiry_date: acct.expiry_date,
  };
}

/**
 * The record the Worker stores for a mock account: qwen-code's file for OAuth, a legacy api_key
 * record, or a key of a 2026 kind with its bases at the mock (as `qwen-accounts key` writes it).
 */
export function storedCredentials(acct, mockUrl) {
  if (!acct.api_key) return qwenCodeCreds(acct);
  if (!acct.kind || acct.kind === 'api_key') return { kind: 'api_key', api_key: acct.api_key, base_url: mockUrl };
  return {
    kind: acct.kind,
    api_key: acct.api_key,
    base_url: acct.base_url,
    ...(acct.anthropic_base_url ? { anthropic_base_url: acct.anthropic_base_url } : {}),
  };
}

/**
 * Miniflare options for the built Worker on 127.0.0.1, with its KV namespace and, with
 * `dashboard`, the dashboard's assets as wrangler.toml's [assets] serves them. Off by default:
 * the asset router in front of the Worker makes Miniflare reset a kept-alive connection now and
 * then after an answer that left the request body unread (a 401 to a PUT), which the suites that
 * do not look at the dashboard have no reason to meet; the browser tests turn it on.
 */
export function workerOptions(bindings, persistDir, { dashboard = false } = {}) {
  return {
    rootPath: ROOT,
    scriptPath: 'build/index.js',
    modules: true,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'], fallthrough: true }],
    compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces: ['QWEN_TOKEN_CACHE'],
    kvPersist: persistDir ?? false,
    durableObjects: { POOL_WRITER: 'PoolWriter', LEDGER: { className: 'Ledger', useSQLite: true } },
    durableObjectsPersist: persistDir ?? false,
    // The admin dashboard, as wrangler.toml's [assets] serves it: the Worker first for every path.
    ...(dashboard ? {
      assets: {
        directory: path.join(ROOT, 'admin-ui/dist'),
        binding: 'ASSETS',
        routerConfig: { has_user_worker: true, invoke_user_worker_ahead_of_assets: true },
        assetConfig: { html_handling: 'none', not_found_handling: 'none' },
      },
    } : {}),
    bindings,
    host: '127.0.0.1',
    port: 0,
  };
}

/**
 * Starts the mock and the Worker. `vars` override/add Worker bindings; pass
 * `OPENAI_API_KEYS: undefined` to run a public API.
 */
export async function startStack({ vars = {}, chunkDelayMs = 15, persistDir, dashboard = false } = {}) {
  const mock = await startMock({ chunkDelayMs });
  const bindings = {
    QWEN_OAUTH_BASE_URL: mock.url,
    QWEN_API_BASE_URL: mock.url,
    DEFAULT_MODEL: 'qwen3-coder-plus',
    FIRST_BYTE_TIMEOUT_MS: '5000',
    REQUEST_TIMEOUT_MS: '10000',
    ACCOUNT_CACHE_TTL_SECS: '15',
    OPENAI_API_KEYS: CLIENT_KEY,
    ADMIN_SECRET_KEY: ADMIN_KEY,
    ...vars,
  };
  for (const k of Object.keys(bindings)) if (bindings[k] === undefined) delete bindings[k];
  const logs = [];
  const mf = new Miniflare({
    ...workerOptions(bindings, persistDir, { dashboard }),
    handleRuntimeStdio(stdout, stderr) {
      for (const s of [stdout, stderr]) s.on('data', (d) => logs.push(String(d)));
    },
  });
  const url = (await mf.ready).toString().replace(/\/$/, '');
  const kv = await mf.getKVNamespace('QWEN_TOKEN_CACHE');
  return {
    url,
    mf,
    kv,
    logs,
    /** Every key this stack knows and every token or key the mock ever issued. */
    secrets() {
      return [CLIENT_KEY, ADMIN_KEY, ...Object.values(vars).filter((v) => typeof v === 'string' && /^sk-|^admin-/.test(v)),
        ...mock.state.owners.keys()];
    },
    mock: new MockControl(mock.url),
    mockUrl: mock.url,
    /** Creates an account at the mock and stores it in KV as ACCOUNT:<id>. */
    async addAccount(id, opts = {}, { index = true } = {}) {
      const acct = await new MockControl(mock.url).account(id, opts);
      const creds = storedCredentials(acct, mock.url);
      await kv.put(`ACCOUNT:${id}`, JSON.stringify(creds));
      if (index) {
        const ids = JSON.parse((await kv.get('ACCOUNTS')) ?? '[]');
        if (!ids.includes(id)) ids.push(id);
        await kv.put('ACCOUNTS', JSON.stringify(ids));
      }
      return { ...acct, creds };
    },
    async close() {
      await mf.dispose();
      await mock.close();
    },
  };
}

/** Fails when any of `secrets` appears in the Worker's log lines. */
export function assertNoSecretsLogged(logs, secrets) {
  const all = logs.join('');
  for (const secret of secrets) {
    if (secret && all.includes(secret)) throw new Error(`a secret (${secret.slice(0, 6)}…) appears in the Worker's logs`);
  }
}

export function authHeaders(key = CLIENT_KEY) {
  return { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
}

export async function chat(url, body, { key = CLIENT_KEY, headers = {} } = {}) {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { ...authHeaders(key), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** A TCP port free on 127.0.0.1 just now. */
export function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The README's `npm run dev -- --mock` (scripts/dev.sh: wrangler dev on local KV with the mock
 * upstream and its seeded accounts) on free ports, with `secrets` in an env file and `args`
 * passed on. Resolves, once wrangler says it is ready, to {url, mockUrl, dir (a temporary folder;
 * its `state` is wrangler's local storage), output(), stop()}.
 */
export async function startDev(secrets, args = []) {
  const dir = mkdtempSync(path.join(tmpdir(), 'qwen-dev-'));
  const envFile = path.join(dir, 'test.vars');
  writeFileSync(envFile, Object.entries(secrets).map(([k, v]) => `${k}="${v}"\n`).join(''));
  const [port, mockPort] = [await freePort(), await freePort()];
  let output = '';
  const dev = spawn('bash', ['scripts/dev.sh', '--mock', '--persist-to', path.join(dir, 'state'), '--env-file', envFile, ...args], {
    cwd: ROOT,
    env: { ...process.env, SKIP_SETUP: '1', PORT: String(port), MOCK_PORT: String(mockPort) },
    detached: true,
  });
  dev.stdout.on('data', (d) => { output += d; });
  dev.stderr.on('data', (d) => { output += d; });
  const stop = () => {
    try { process.kill(-dev.pid, 'SIGTERM'); } catch { /* already gone */ }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 180_000;
  while (!/Ready on/.test(output)) {
    if (Date.now() > deadline || dev.exitCode !== null) {
      stop();
      throw new Error(`wrangler dev did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url: `http://127.0.0.1:${port}`, mockUrl: `http://127.0.0.1:${mockPort}`, dir, output: () => output, stop };
}
