// HTTP and SSE helpers shared by every part of the mock upstream.
import { randomBytes } from 'node:crypto';
import { STATUS_CODES } from 'node:http';

export const rand = (bytes = 12) => randomBytes(bytes).toString('base64url');
export const hex = (bytes = 16) => randomBytes(bytes).toString('hex');
export const bump = (counts, key) => { counts[key] = (counts[key] ?? 0) + 1; };
export const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
export const tokensOf = (text) => Math.max(1, Math.ceil(text.length / 4));

/** OpenAI's error shape, as the compatible-mode endpoints send it. */
export const apiError = (message, type, code) => ({ error: { message, type, param: null, code } });

export function send(res, status, obj, headers = {}) {
  const data = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers });
  res.end(data);
}

export async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** Parsed form object, parsed JSON, the raw string when neither parses, or null when empty. */
export function parseBody(contentType = '', raw) {
  if (raw === '') return null;
  if (contentType.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(raw));
  try { return JSON.parse(raw); } catch { return raw; }
}

/** Text of a message content: a string as is; an array of parts -> its text parts joined with a space. */
export function textOf(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((p) => (typeof p === 'string' ? p : p?.text)).filter((t) => typeof t === 'string').join(' ');
  }
  return content == null ? '' : JSON.stringify(content);
}

/** Split text into pieces of 3-6 code points (deterministic cycle, never splits a surrogate pair). */
export function chop(text) {
  const cps = Array.from(text);
  const out = [];
  for (let i = 0, k = 0; i < cps.length; k++) {
    const n = [3, 5, 4, 6][k % 4];
    out.push(cps.slice(i, i + n).join(''));
    i += n;
  }
  return out;
}

/** Split a string into `n` pieces of about equal length (code points), none empty unless the string is. */
export function fragments(text, n = 3) {
  const cps = Array.from(text);
  if (cps.length <= 1) return [text];
  const size = Math.ceil(cps.length / Math.min(n, cps.length));
  const out = [];
  for (let i = 0; i < cps.length; i += size) out.push(cps.slice(i, i + size).join(''));
  return out;
}

/** Length of the common prefix of two strings, in UTF-16 units. */
export function sharedPrefix(a, b) {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/** One SSE event: `data: <json>` (OpenAI) or `event: <name>` + data (Anthropic). */
export const sse = (obj, event) => `${event ? `event: ${event}\n` : ''}data: ${typeof obj === 'string' ? obj : JSON.stringify(obj)}\n\n`;

/** Writes, waiting for 'drain' when the socket's buffer is full; false when the client went away. */
export async function writeAll(res, chunk) {
  if (res.destroyed) return false;
  if (res.write(chunk)) return true;
  await new Promise((resolve) => {
    const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
    res.on('drain', done);
    res.on('close', done);
  });
  return !res.destroyed;
}

/** `mib` MiB of `fill` bytes, written 64 KiB at a time with back-pressure. */
export async function writeFill(res, mib, fill = 'x') {
  const block = Buffer.alloc(64 * 1024, fill);
  let left = Math.round(mib * 1024 * 1024);
  while (left > 0) {
    const piece = left >= block.length ? block : block.subarray(0, left);
    if (!(await writeAll(res, piece))) return false;
    left -= piece.length;
  }
  return true;
}

/**
 * Writes a raw HTTP/1.1 answer on the socket, bypassing Node's checks (odd statuses, a body on 204
 * or 304), then closes the connection.
 */
export function sendRaw(res, status, headers, body) {
  const socket = res.socket;
  if (!socket || socket.destroyed) return;
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Odd Status'}`];
  const all = { ...headers, connection: 'close' };
  if (body !== null && body !== undefined) all['content-length'] = Buffer.byteLength(body);
  for (const [k, v] of Object.entries(all)) lines.push(`${k}: ${v}`);
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body ?? ''}`);
}

/**
 * Write SSE events the way a real upstream arrives over TCP, with `delayMs` between writes.
 * Fixed pattern, so runs are reproducible: of every 5 events, the 3rd is split in the middle of its
 * bytes (possibly inside a UTF-8 sequence) across two writes, and the 5th shares a write with the next.
 */
export async function writeEvents(res, events, sleep, delayMs) {
  const writes = [];
  for (let i = 0; i < events.length; i++) {
    const bytes = Buffer.from(events[i]);
    if (i % 5 === 2 && bytes.length > 12) {
      const mid = bytes.length >> 1;
      writes.push(bytes.subarray(0, mid), bytes.subarray(mid));
    } else if (i % 5 === 4 && i + 1 < events.length) {
      writes.push(Buffer.concat([bytes, Buffer.from(events[++i])]));
    } else {
      writes.push(bytes);
    }
  }
  for (const [k, chunk] of writes.entries()) {
    if (k > 0) await sleep(delayMs);
    if (res.destroyed) return; // the client went away
    res.write(chunk);
  }
}

/**
 * Benchmarks (`"mock_stamp": true`): one event per write, each carrying the wall-clock time of
 * its write as `mock_sent_at` (ms, sub-ms precision), so a client can measure every chunk's
 * transit time.
 */
export async function writeStamped(res, events, sleep, delayMs) {
  for (const [k, event] of events.entries()) {
    if (k > 0) await sleep(delayMs);
    if (res.destroyed) return;
    const now = (performance.timeOrigin + performance.now()).toFixed(3);
    res.write(event.startsWith('data: {') ? `data: {"mock_sent_at":${now},${event.slice(7)}` : event);
  }
}
