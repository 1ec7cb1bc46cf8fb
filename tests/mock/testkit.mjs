// Helpers for the mock's self-tests: a control client, requests to every surface, stream readers.
import net from 'node:net';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';

export function kit(getUrl) {
  const url = () => getUrl();
  async function ctl(method, path, body, expect = 200) {
    const res = await fetch(url() + path, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    assert.equal(res.status, expect, `${method} ${path} -> ${res.status}`);
    return res.json();
  }
  const account = (id, extra = {}) => ctl('POST', '/__mock/accounts', { id, ...extra });
  const script = (id, body) => ctl('POST', `/__mock/accounts/${id}/script`, body);
  const agent = (id, turns, extra = {}) => ctl('POST', `/__mock/accounts/${id}/agent`, { turns, ...extra });

  /** POST JSON to a path with a key (Bearer by default; {via: 'x-api-key'} or {via: 'none'}). */
  function post(path, key, body, { via = 'bearer', headers = {}, signal } = {}) {
    const auth = via === 'bearer' ? { authorization: `Bearer ${key}` } : via === 'x-api-key' ? { 'x-api-key': key } : {};
    return fetch(url() + path, {
      method: 'POST', signal,
      headers: { 'content-type': 'application/json', ...auth, ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }
  const chatBody = (extra = {}) => ({ model: 'qwen3-coder-plus', messages: [{ role: 'user', content: 'hello there' }], ...extra });
  const chat = (key, extra = {}, path = '/compatible-mode/v1/chat/completions', opts) => post(path, key, chatBody(extra), opts);
  const messagesBody = (extra = {}) => ({ model: 'qwen3-coder-plus', max_tokens: 1024, messages: [{ role: 'user', content: 'hello there' }], ...extra });
  const messages = (key, extra = {}, path = '/apps/anthropic/v1/messages', opts) => post(path, key, messagesBody(extra), opts);
  const get = (path, key) => fetch(url() + path, { headers: { authorization: `Bearer ${key}` } });
  return { ctl, account, script, agent, post, chat, chatBody, messages, messagesBody, get };
}

/** SSE blocks of a whole text: [{event?, data}] with data parsed as JSON (or the string [DONE]). */
export function parseSse(text) {
  return text.split('\n\n').filter(Boolean).map((block) => {
    const out = {};
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) out.event = line.slice(7);
      else if (line.startsWith('data: ')) out.data = line.slice(6) === '[DONE]' ? '[DONE]' : JSON.parse(line.slice(6));
    }
    return out;
  });
}

export async function readSse(res) {
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  return parseSse(await res.text());
}

/**
 * Reads a body for at most `ms`: {text, ended} (ended: the body was complete), or {text, error}
 * when the connection broke first. Cancels the read at the deadline.
 */
export async function readFor(res, ms) {
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let text = '';
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    const timer = new AbortController();
    let r;
    try {
      r = await Promise.race([reader.read(), delay(Math.max(left, 0), 'timeout', { signal: timer.signal })]);
    } catch (error) {
      return { text, ended: false, error };
    } finally {
      timer.abort();
    }
    if (r === 'timeout') { await reader.cancel().catch(() => {}); return { text, ended: false }; }
    if (r.done) return { text: text + dec.decode(), ended: true };
    text += dec.decode(r.value, { stream: true });
  }
}

/** A raw HTTP/1.1 exchange (for statuses fetch refuses): {status, head, body} as text. */
export function rawRequest(base, method, path, headers, body = '') {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const chunks = [];
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const cut = text.indexOf('\r\n\r\n');
      const head = text.slice(0, cut);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), head, body: text.slice(cut + 4) });
    });
    const lines = [`${method} ${path} HTTP/1.1`, `host: ${hostname}:${port}`, 'connection: close',
      `content-length: ${Buffer.byteLength(body)}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
  });
}
