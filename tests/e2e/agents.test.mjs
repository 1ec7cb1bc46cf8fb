// The coding agents themselves, headless, through the Worker in workerd: Claude Code (`claude -p`,
// Anthropic Messages) and Codex CLI (`codex exec`, the Responses API), each completing a task that
// makes it call a tool (write a file, run a command) and then finish. The model side is the mock's
// scripted agent turns. Both agents are kept off the internet by their settings and by their only
// base URL, the Worker on 127.0.0.1.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack, assertNoSecretsLogged, CLIENT_KEY, ROOT } from '../harness.mjs';

const CLAUDE = path.join(ROOT, 'node_modules/.bin/claude');
const CODEX = path.join(ROOT, 'node_modules/.bin/codex');
const RUN_MS = 120_000;

/** Runs `cmd` with exactly `env` (nothing inherited), stdin closed; resolves {code, stdout, stderr}. */
function run(cmd, args, { env, cwd }) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function scratch(name) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `qw-${name}-`));
  const home = path.join(dir, 'home');
  const proj = path.join(dir, 'proj');
  mkdirSync(home);
  mkdirSync(proj);
  return { dir, home, proj };
}

const baseEnv = (home) => ({ PATH: process.env.PATH, HOME: home, LANG: 'C.UTF-8' });

for (const [path_, kind] of [['native', 'dashscope'], ['translated', 'oauth']]) {
  describe(`Claude Code through the gateway, ${path_} path`, () => {
    let s, box;
    before(async () => {
      s = await startStack({ chunkDelayMs: 2 });
      await s.addAccount('cc1', kind === 'oauth' ? {} : { kind });
      box = scratch('claude');
    });
    after(async () => {
      assertNoSecretsLogged(s.logs, s.secrets());
      await s.close();
      rmSync(box.dir, { recursive: true, force: true });
    });

    test('claude -p writes a file with its Write tool and finishes', async () => {
      const target = path.join(box.proj, 'hello.txt');
      await s.mock.agent('cc1', [
        { content: 'I will create the file.', tool_calls: [{ name: 'Write', arguments: { file_path: target, content: 'hello from qwen\n' } }] },
        { content: 'Created hello.txt with a greeting.' },
      ]);
      await s.mock.clearRequests();
      const r = await run(CLAUDE, ['-p', 'Create hello.txt containing a greeting.', '--allowedTools', 'Write'], {
        cwd: box.proj,
        env: {
          ...baseEnv(box.home),
          ANTHROPIC_BASE_URL: s.url,
          ANTHROPIC_AUTH_TOKEN: CLIENT_KEY,
          ANTHROPIC_MODEL: 'qwen3-coder-plus',
          DISABLE_TELEMETRY: '1',
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
          DISABLE_AUTOUPDATER: '1',
        },
      });
      assert.equal(r.code, 0, `claude exited ${r.code}\n${r.stdout}\n${r.stderr}`);
      assert.equal(readFileSync(target, 'utf8'), 'hello from qwen\n');
      assert.match(r.stdout, /Created hello\.txt with a greeting\./);
      const calls = (await s.mock.requests()).filter((c) => c.account === 'cc1');
      assert.equal(calls.length, 2, 'one call for the tool, one for the answer');
      assert.deepEqual(calls.map((c) => c.endpoint), kind === 'oauth' ? ['chat', 'chat'] : ['messages', 'messages']);
      // The second call carries the tool's result back.
      assert.match(calls[1].raw_body, /tool_result|"role":"tool"/);
      assert.ok(!calls.some((c) => c.raw_body.includes('cc_version')), 'the billing marker stays here');
      assert.equal((await s.mock.agent('cc1', [], { append: true })).turns.length, 0, 'both turns used');
    });
  });
}

describe('Codex CLI through the gateway (Responses API)', () => {
  let s, box;
  before(async () => {
    s = await startStack({ chunkDelayMs: 2 });
    await s.addAccount('cx1', { kind: 'dashscope' });
    box = scratch('codex');
    writeFileSync(path.join(box.home, 'config.toml'), [
      'model = "qwen3-coder-plus"',
      'model_provider = "qwen"',
      'check_for_update_on_startup = false',
      '',
      '[model_providers.qwen]',
      'name = "qwen-worker"',
      `base_url = "${s.url}/v1"`,
      'env_key = "QWEN_WORKER_KEY"',
      'wire_api = "responses"',
      '',
      '[features]',
      'plugins = false',
      '',
      '[analytics]',
      'enabled = false',
      '',
      '[feedback]',
      'enabled = false',
      '',
    ].join('\n'));
  });
  after(async () => {
    assertNoSecretsLogged(s.logs, s.secrets());
    await s.close();
    rmSync(box.dir, { recursive: true, force: true });
  });

  test('codex exec runs a shell command through its tool and finishes', async () => {
    await s.mock.agent('cx1', [
      {
        reasoning: 'I should run the command.', content: 'Running it.',
        tool_calls: [{ name: 'exec_command', arguments: { cmd: 'echo from-qwen > seen.txt && ls', workdir: box.proj } }],
      },
      { content: 'Wrote seen.txt — done.' },
    ]);
    await s.mock.clearRequests();
    const r = await run(CODEX, ['exec', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox', 'Write from-qwen into seen.txt.'], {
      cwd: box.proj,
      env: { ...baseEnv(box.home), CODEX_HOME: box.home, QWEN_WORKER_KEY: CLIENT_KEY },
    });
    assert.equal(r.code, 0, `codex exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    assert.ok(existsSync(path.join(box.proj, 'seen.txt')), `the command ran\n${r.stderr}`);
    assert.equal(readFileSync(path.join(box.proj, 'seen.txt'), 'utf8'), 'from-qwen\n');
    assert.match(r.stdout + r.stderr, /Wrote seen\.txt — done\./);
    const calls = (await s.mock.requests()).filter((c) => c.account === 'cx1');
    assert.equal(calls.length, 2);
    assert.ok(calls.every((c) => c.endpoint === 'chat' && c.body.stream === true));
    // The second turn carries the command's output back as a tool message.
    const second = calls[1].body.messages;
    const toolMsg = second.find((m) => m.role === 'tool');
    assert.ok(toolMsg, 'the tool output went back upstream');
    assert.ok(!second.some((m) => m.role === 'developer'), 'developer messages become system');
  });
});
