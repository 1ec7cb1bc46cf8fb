// Starts the mock upstream and the Worker (Miniflare) with two accounts (py1: legacy OAuth, whose
// calls are translated where the dialect needs it; py-ds: a DashScope key, with its own
// Anthropic-compatible, embeddings and completions endpoints), prints
// {"worker": URL, "mock": URL} on one line, and runs until stdin closes or SIGTERM.
// Used by the Python SDK tests (tests/python/conftest.py).
import { startStack } from './harness.mjs';

const s = await startStack({ chunkDelayMs: 20 });
await s.addAccount('py1');
await s.addAccount('py-ds', { kind: 'dashscope' });
process.stdout.write(JSON.stringify({ worker: s.url, mock: s.mockUrl }) + '\n');
const stop = async () => { await s.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
