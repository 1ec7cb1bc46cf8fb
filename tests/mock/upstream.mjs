#!/usr/bin/env node
// Mock of Qwen's upstream for tests and benchmarks: the OAuth endpoints of chat.qwen.ai (refresh and
// device flow with PKCE) and the OpenAI-compatible chat endpoint of portal.qwen.ai / DashScope.
// Facts it imitates: /work/shared/UPSTREAM.md. Node standard library only.
//
//   import { startMock } from './upstream.mjs';
//   const mock = await startMock({ chunkDelayMs: 1 });   // mock.url = 'http://127.0.0.1:PORT'
//   ...; await mock.close();
//
//   node tests/mock/upstream.mjs --port 8790 [--host 127.0.0.1] [--chunk-delay-ms 15] [--service-time-ms 0]
//
// Control API (JSON), never recorded:
//   POST   /__mock/accounts                {id, expires_in?=3600, kind?="oauth"|"api_key"}  create/replace
//   GET    /__mock/accounts[/<id>]         current state (tokens, revoked, queued behaviours)
//   POST   /__mock/accounts/<id>/expire    current access token (or api key) stops working
//   POST   /__mock/accounts/<id>/revoke    refresh token and access token stop working
//   POST   /__mock/accounts/<id>/script    {chat?:[...], refresh?:[...], default_chat?, default_refresh?}
//   POST   /__mock/device/script           {polls?:[...], account_id?}
//   GET    /__mock/requests[?path=&account=]   DELETE /__mock/requests
//   GET    /__mock/stats                   POST /__mock/reset
//   GET|POST /__mock/config                {chunk_delay_ms?, service_time_ms?, refresh_delay_ms?}
// A behaviour is a name ("quota") or an object ({kind: "throttle", retry_after: 3}); every behaviour
// accepts delay_ms (wait before answering). Names: see CHAT_KINDS, REFRESH_KINDS, POLL_KINDS.

import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export const CLIENT_ID = 'f0304373b74a44d2b584a3fb70ca9e56';
export const SCOPE = 'openid profile email model.completion';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const CHAT_PATHS = new Set(['/v1/chat/completions', '/compatible-mode/v1/chat/completions']);

export const CHAT_KINDS = new Set([
  'ok', 'quota', 'quota403', 'throttle', 'auth', 'bad_request', 'context_length', 'model_not_found',
  'server_error', 'bad_gateway', 'unavailable', 'timeout', 'drop', 'stall', 'midstream_quota',
]);
export const REFRESH_KINDS = new Set(['ok', 'no_rotation', 'invalid_grant', 'unauthorized', 'server_error']);
export const POLL_KINDS = new Set(['pending', 'slow_down', 'slow_down_400', 'denied', 'expired', 'unauthorized', 'approve']);

const apiError = (message, type, code) => ({ error: { message, type, param: null, code } });
const INVALID_TOKEN = apiError('invalid access token or token expired', 'invalid_request_error', 'invalid_api_key');
const QUOTA = apiError('Free allocated quota exceeded.', 'insufficient_quota', 'insufficient_quota');
const INVALID_GRANT = { error: 'invalid_grant', error_description: 'Invalid refresh token or client_id' };
const TOOL_ARGUMENTS = '{"city":"Paris"}';

const rand = (bytes = 12) => randomBytes(bytes).toString('base64url');
const bump = (counts, key) => { counts[key] = (counts[key] ?? 0) + 1; };
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** "quota" | {kind: "quota", ...params} -> {kind, ...params}; throws on an unknown name. */
function behaviour(b, allowed) {
  const obj = typeof b === 'string' ? { kind: b } : b;
  if (!isObject(obj) || !allowed.has(obj.kind)) {
    throw new Error(`unknown behaviour ${JSON.stringify(b)}; expected one of ${[...allowed].join(', ')}`);
  }
  return obj;
}

function send(res, status, obj, headers = {}) {
  const data = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers });
  res.end(data);
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** Parsed form object, parsed JSON, the raw string when neither parses, or null when empty. */
function parseBody(contentType = '', raw) {
  if (raw === '') return null;
  if (contentType.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(raw));
  try { return JSON.parse(raw); } catch { return raw; }
}

/** Text of a message content: a string as is; an array of parts -> its text parts joined with a space. */
function textOf(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((p) => (typeof p === 'string' ? p : p?.text)).filter((t) => typeof t === 'string').join(' ');
  }
  return content == null ? '' : JSON.stringify(content);
}

/** Split text into pieces of 3-6 code points (deterministic cycle, never splits a surrogate pair). */
function chop(text) {
  const cps = Array.from(text);
  const out = [];
  for (let i = 0, k = 0; i < cps.length; k++) {
    const n = [3, 5, 4, 6][k % 4];
    out.push(cps.slice(i, i + n).join(''));
    i += n;
  }
  return out;
}

function freshState() {
  return {
    accounts: new Map(), // id -> account
    owners: new Map(), // every token ever issued -> account id (to attribute stale tokens too)
    devices: new Map(), // device_code -> {challenge, user_code}
    deviceScript: { polls: [], account_id: null },
    requests: [],
    seq: 0,
    deviceAccounts: 0,
    toolCalls: 0,
    stats: { refresh_calls: {}, chat_calls: {}, device_code_calls: 0, device_poll_calls: 0 },
  };
}

export async function startMock({ port = 0, host = '127.0.0.1', chunkDelayMs = 15, serviceTimeMs = 0 } = {}) {
  const config = { chunk_delay_ms: chunkDelayMs, service_time_ms: serviceTimeMs, refresh_delay_ms: 0 };
  let st = freshState();
  let baseUrl = ''; // set once listening
  // Every wait goes through sleep(), so close() can cancel pending stalls and delays at once.
  const stopping = new AbortController();
  const sleep = (ms) => (ms > 0 ? delay(ms, undefined, { signal: stopping.signal }) : Promise.resolve());

  // ---- accounts ----------------------------------------------------------------------------------

  function issueAccess(acc, expiresInS) {
    acc.access_token = `at-${acc.id}-${rand()}`;
    acc.expiry_date = Date.now() + expiresInS * 1000;
    st.owners.set(acc.access_token, acc.id);
  }
  function issueRefresh(acc) {
    acc.refresh_token = `rt-${acc.id}-${rand()}`;
    st.owners.set(acc.refresh_token, acc.id);
  }
  function createAccount(id, kind = 'oauth', expiresInS = 3600) {
    const acc = {
      id, kind, revoked: false,
      chat: [], refresh: [], default_chat: { kind: 'ok' }, default_refresh: { kind: 'ok' },
    };
    if (kind === 'api_key') {
      acc.api_key = `sk-${id}-${rand()}`;
      st.owners.set(acc.api_key, id);
    } else {
      issueAccess(acc, expiresInS);
      issueRefresh(acc);
    }
    st.accounts.set(id, acc);
    return acc;
  }
  /** What POST /__mock/accounts answers: the credentials the worker stores. */
  function credentials(acc) {
    if (acc.kind === 'api_key') return { id: acc.id, api_key: acc.api_key };
    const { id, access_token, refresh_token, expiry_date } = acc;
    return { id, access_token, refresh_token, expiry_date, resource_url: baseUrl, token_type: 'Bearer' };
  }
  function accountView(acc) {
    return {
      ...credentials(acc), kind: acc.kind, revoked: acc.revoked,
      chat: acc.chat, refresh: acc.refresh, default_chat: acc.default_chat, default_refresh: acc.default_refresh,
    };
  }
  /** -> {id, acc}: id when the token was ever issued, acc only when the token is valid now. */
  function authenticate(token) {
    const id = (token && st.owners.get(token)) ?? null;
    const acc = id && st.accounts.get(id);
    if (!acc || acc.revoked) return { id, acc: null };
    const valid = acc.kind === 'api_key'
      ? token === acc.api_key
      : token === acc.access_token && Date.now() < acc.expiry_date;
    return { id, acc: valid ? acc : null };
  }

  // ---- control API -------------------------------------------------------------------------------

  function control(req, res, url, raw) {
    let body = {};
    if (raw) {
      try { body = JSON.parse(raw); } catch { return send(res, 400, { error: 'body is not JSON' }); }
    }
    const route = `${req.method} ${url.pathname.replace(/^\/__mock/, '')}`;
    const m = /^(GET|POST) \/accounts\/([^/]+)(?:\/(expire|revoke|script))?$/.exec(route);
    if (m) {
      const acc = st.accounts.get(decodeURIComponent(m[2]));
      if (!acc) return send(res, 404, { error: `no account ${m[2]}` });
      if (m[1] === 'GET' && !m[3]) return send(res, 200, accountView(acc));
      if (m[3] === 'expire') {
        // For an api_key account there is no expiry: the key is withdrawn instead.
        if (acc.kind === 'api_key') acc.revoked = true; else acc.expiry_date = Date.now() - 1;
      } else if (m[3] === 'revoke') {
        acc.revoked = true;
      } else if (m[3] === 'script') {
        try {
          if (body.chat !== undefined) acc.chat = body.chat.map((b) => behaviour(b, CHAT_KINDS));
          if (body.refresh !== undefined) acc.refresh = body.refresh.map((b) => behaviour(b, REFRESH_KINDS));
          if (body.default_chat !== undefined) acc.default_chat = behaviour(body.default_chat, CHAT_KINDS);
          if (body.default_refresh !== undefined) acc.default_refresh = behaviour(body.default_refresh, REFRESH_KINDS);
        } catch (err) {
          return send(res, 400, { error: err.message });
        }
      } else {
        return send(res, 404, { error: `no route ${route}` });
      }
      return send(res, 200, accountView(acc));
    }
    switch (route) {
      case 'POST /accounts': {
        const { id, expires_in: expiresIn = 3600, kind = 'oauth' } = body;
        if (typeof id !== 'string' || !id) return send(res, 400, { error: 'id (string) is required' });
        if (kind !== 'oauth' && kind !== 'api_key') return send(res, 400, { error: 'kind must be oauth or api_key' });
        if (typeof expiresIn !== 'number') return send(res, 400, { error: 'expires_in must be a number' });
        return send(res, 200, credentials(createAccount(id, kind, expiresIn)));
      }
      case 'GET /accounts':
        return send(res, 200, [...st.accounts.values()].map(accountView));
      case 'POST /device/script':
        try {
          if (body.polls !== undefined) st.deviceScript.polls = body.polls.map((b) => behaviour(b, POLL_KINDS));
        } catch (err) {
          return send(res, 400, { error: err.message });
        }
        if (body.account_id !== undefined) st.deviceScript.account_id = body.account_id;
        return send(res, 200, st.deviceScript);
      case 'GET /requests': {
        const path = url.searchParams.get('path');
        const account = url.searchParams.get('account');
        return send(res, 200, st.requests.filter((r) => (!path || r.path === path) && (!account || r.account === account)));
      }
      case 'DELETE /requests':
        st.requests = [];
        return send(res, 200, { ok: true });
      case 'GET /stats':
        return send(res, 200, st.stats);
      case 'POST /reset':
        st = freshState();
        return send(res, 200, { ok: true });
      case 'POST /config':
        for (const key of Object.keys(config)) {
          if (body[key] === undefined) continue;
          if (typeof body[key] !== 'number' || body[key] < 0) return send(res, 400, { error: `${key} must be a number >= 0` });
          config[key] = body[key];
        }
        return send(res, 200, config);
      case 'GET /config':
        return send(res, 200, config);
      default:
        return send(res, 404, { error: `no route ${route}` });
    }
  }

  // ---- OAuth endpoints ---------------------------------------------------------------------------

  const isForm = (req) => (req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded');

  function deviceCode(req, res, form) {
    st.stats.device_code_calls++;
    if (!isForm(req)) return send(res, 400, { error: 'invalid_request', error_description: 'expected a form body' });
    if (form.client_id !== CLIENT_ID) return send(res, 400, { error: 'invalid_client' });
    if (!form.code_challenge || form.code_challenge_method !== 'S256') {
      return send(res, 400, { error: 'invalid_request', error_description: 'code_challenge with S256 is required' });
    }
    const deviceCode = `dc-${rand()}`;
    const userCode = randomBytes(4).toString('hex').toUpperCase();
    st.devices.set(deviceCode, { challenge: form.code_challenge, user_code: userCode });
    return send(res, 200, {
      device_code: deviceCode,
      user_code: userCode,
      verification_uri: `${baseUrl}/authorize`,
      verification_uri_complete: `${baseUrl}/authorize?user_code=${userCode}`,
      expires_in: 600,
      interval: 2,
    });
  }

  async function token(req, res, body, rec) {
    const form = isObject(body) ? body : {};
    const grant = form.grant_type;
    // Count and attribute on arrival (a rotated-away refresh token still names its account).
    if (grant === 'refresh_token') {
      rec.account = st.owners.get(form.refresh_token) ?? null;
      if (rec.account) bump(st.stats.refresh_calls, rec.account);
    } else if (grant === DEVICE_GRANT) {
      st.stats.device_poll_calls++;
    }
    // Delay before looking anything up, so overlapping refreshes of one token race like upstream:
    // the first to finish rotates it and the others then get invalid_grant.
    await sleep(config.refresh_delay_ms);
    if (!isForm(req)) return send(res, 400, { error: 'invalid_request', error_description: 'expected a form body' });
    if (form.client_id !== CLIENT_ID) return send(res, 400, { error: 'invalid_client' });
    if (grant === 'refresh_token') return refresh(res, form);
    if (grant === DEVICE_GRANT) return devicePoll(res, form, rec);
    return send(res, 400, { error: 'unsupported_grant_type' });
  }

  async function refresh(res, form) {
    const acc = st.accounts.get(st.owners.get(form.refresh_token));
    if (!acc || acc.kind !== 'oauth' || acc.revoked || acc.refresh_token !== form.refresh_token) {
      return send(res, 400, INVALID_GRANT);
    }
    const b = acc.refresh.shift() ?? acc.default_refresh;
    // State changes happen now, synchronously; only the answer is delayed.
    let answer;
    if (b.kind === 'ok' || b.kind === 'no_rotation') {
      issueAccess(acc, 3600);
      answer = { access_token: acc.access_token, token_type: 'Bearer', expires_in: 3600, scope: SCOPE };
      if (b.kind === 'ok') {
        issueRefresh(acc); // rotation: the old refresh token is dead from now on
        answer = { ...answer, refresh_token: acc.refresh_token, resource_url: baseUrl };
      }
    }
    await sleep(b.delay_ms ?? 0);
    switch (b.kind) {
      case 'invalid_grant': return send(res, 400, INVALID_GRANT);
      case 'unauthorized': return send(res, 401, INVALID_GRANT);
      case 'server_error': return send(res, 500, { error: 'server_error' });
      default: return send(res, 200, answer);
    }
  }

  async function devicePoll(res, form, rec) {
    const dev = st.devices.get(form.device_code);
    if (!dev) return send(res, 400, { error: 'invalid_grant', error_description: 'Invalid device code' });
    const verifier = form.code_verifier ?? '';
    if (createHash('sha256').update(verifier).digest('base64url') !== dev.challenge) {
      return send(res, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
    }
    const b = st.deviceScript.polls.shift() ?? { kind: 'pending' };
    await sleep(b.delay_ms ?? 0);
    switch (b.kind) {
      case 'pending': return send(res, 400, { error: 'authorization_pending' });
      case 'slow_down': return send(res, 429, { error: 'slow_down' });
      case 'slow_down_400': return send(res, 400, { error: 'slow_down' });
      case 'denied': return send(res, 400, { error: 'access_denied' });
      case 'expired': return send(res, 400, { error: 'expired_token' });
      case 'unauthorized': return send(res, 401, { error: 'unauthorized_client' });
      default: { // approve
        st.devices.delete(form.device_code);
        const id = b.account_id ?? st.deviceScript.account_id ?? `device-${++st.deviceAccounts}`;
        const acc = createAccount(id, 'oauth', 3600);
        rec.account = id;
        return send(res, 200, {
          access_token: acc.access_token, refresh_token: acc.refresh_token, token_type: 'Bearer',
          expires_in: 3600, scope: SCOPE, resource_url: baseUrl,
        });
      }
    }
  }

  // ---- chat endpoint -----------------------------------------------------------------------------

  /** Deterministic answer for a request: text pieces, or one tool call whose arguments come in 3 pieces. */
  function buildAnswer(body) {
    const messages = Array.isArray(body.messages) ? body.messages : [];
    const last = messages.at(-1);
    const tools = Array.isArray(body.tools) ? body.tools : [];
    let toolCall = null;
    let pieces;
    if (tools.length > 0 && last?.role === 'user') {
      toolCall = {
        id: `call_${++st.toolCalls}`, type: 'function',
        function: { name: tools[0]?.function?.name ?? 'unknown', arguments: TOOL_ARGUMENTS },
      };
      pieces = [TOOL_ARGUMENTS.slice(0, 5), TOOL_ARGUMENTS.slice(5, 11), TOOL_ARGUMENTS.slice(11)];
    } else if (Number.isInteger(body.mock_events) && body.mock_events >= 0) {
      pieces = Array.from({ length: Math.min(body.mock_events, 100_000) }, (_, i) => `w${i} `);
    } else if (last?.role === 'tool') {
      pieces = chop(`Tool said: ${textOf(last.content)}`);
    } else {
      const lastUser = messages.findLast((msg) => msg?.role === 'user');
      pieces = chop(`Echo: ${textOf(lastUser?.content)}`);
    }
    const promptTokens = Math.max(1, Math.ceil(JSON.stringify(messages).length / 4));
    const completionTokens = Math.max(1, pieces.length);
    return {
      toolCall, pieces,
      content: toolCall ? null : pieces.join(''),
      finishReason: toolCall ? 'tool_calls' : 'stop',
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    };
  }

  /**
   * Write SSE events the way a real upstream arrives over TCP, with chunk_delay_ms between writes.
   * Fixed pattern, so runs are reproducible: of every 5 events, the 3rd is split in the middle of its
   * bytes (possibly inside a UTF-8 sequence) across two writes, and the 5th shares a write with the next.
   */
  async function writeEvents(res, events) {
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
      if (k > 0) await sleep(config.chunk_delay_ms);
      if (res.destroyed) return; // the client went away
      res.write(chunk);
    }
  }

  /**
   * Benchmarks (`"mock_stamp": true`): one event per write, each carrying the wall-clock time of
   * its write as `mock_sent_at` (ms, sub-ms precision), so a client can measure every chunk's
   * transit time.
   */
  async function writeStamped(res, events) {
    for (const [k, event] of events.entries()) {
      if (k > 0) await sleep(config.chunk_delay_ms);
      if (res.destroyed) return;
      const now = (performance.timeOrigin + performance.now()).toFixed(3);
      res.write(event.startsWith('data: {') ? `data: {"mock_sent_at":${now},${event.slice(7)}` : event);
    }
  }

  /** A normal answer; with quotaAfter = n (streams only) cut after n events with an in-stream error. */
  async function answer(res, body, quotaAfter = null) {
    const ans = buildAnswer(body);
    const id = `chatcmpl-${rand(9)}`;
    const created = Math.floor(Date.now() / 1000);
    const model = body.model ?? 'qwen3-coder-plus';
    if (body.stream !== true) {
      const message = { role: 'assistant', content: ans.content };
      if (ans.toolCall) message.tool_calls = [ans.toolCall];
      return send(res, 200, {
        id, object: 'chat.completion', created, model,
        choices: [{ index: 0, message, finish_reason: ans.finishReason }],
        usage: ans.usage,
      });
    }
    const base = { id, object: 'chat.completion.chunk', created, model };
    const chunk = (delta, finishReason = null) => ({ ...base, choices: [{ index: 0, delta, finish_reason: finishReason }] });
    const chunks = [chunk({ role: 'assistant', content: '' })];
    if (ans.toolCall) {
      const { id: callId, type, function: fn } = ans.toolCall;
      chunks.push(chunk({ tool_calls: [{ index: 0, id: callId, type, function: { name: fn.name, arguments: '' } }] }));
      for (const piece of ans.pieces) chunks.push(chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }));
    } else {
      for (const piece of ans.pieces) chunks.push(chunk({ content: piece }));
    }
    chunks.push(chunk({}, ans.finishReason));
    if (body.stream_options?.include_usage === true) chunks.push({ ...base, choices: [], usage: ans.usage });

    let events = chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`);
    if (quotaAfter !== null) {
      const { message, type, code } = QUOTA.error;
      events = [...events.slice(0, quotaAfter), `data: ${JSON.stringify({ error: { message, type, code } })}\n\n`];
    } else {
      events.push('data: [DONE]\n\n');
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    if (body.mock_stamp === true) await writeStamped(res, events);
    else await writeEvents(res, events);
    res.end();
  }

  async function chat(req, res, body, rec) {
    const bearer = /^Bearer\s+(\S+)/i.exec(req.headers.authorization ?? '')?.[1];
    const { id, acc } = authenticate(bearer);
    rec.account = id;
    if (id) bump(st.stats.chat_calls, id);
    await sleep(config.service_time_ms);
    if (!acc) return send(res, 401, INVALID_TOKEN);
    if (!isObject(body)) {
      return send(res, 400, apiError('request body is not a JSON object', 'invalid_request_error', 'invalid_parameter_error'));
    }
    const b = acc.chat.shift() ?? acc.default_chat;
    await sleep(b.delay_ms ?? 0);
    switch (b.kind) {
      case 'ok': return answer(res, body);
      case 'stall': await sleep(b.ms ?? 30_000); return answer(res, body);
      case 'midstream_quota': return body.stream === true ? answer(res, body, 3) : send(res, 429, QUOTA);
      case 'drop': return req.socket.destroy();
      case 'quota': return send(res, 429, QUOTA);
      case 'quota403': return send(res, 403, QUOTA);
      case 'throttle':
        return send(res, 429, apiError('Requests throttling triggered.', 'rate_limit_error', 'rate_limit_exceeded'),
          { 'retry-after': String(b.retry_after ?? 2) });
      case 'auth': return send(res, 401, INVALID_TOKEN);
      case 'bad_request':
        return send(res, 400, apiError(`${b.field ?? 'messages'} is invalid`, 'invalid_request_error', 'invalid_parameter_error'));
      case 'context_length':
        return send(res, 400, apiError('Range of input length should be [1, 129024]', 'invalid_request_error', 'invalid_parameter_error'));
      case 'model_not_found':
        return send(res, 404, apiError(`The model \`${body.model}\` does not exist or you do not have access to it.`,
          'invalid_request_error', 'model_not_found'));
      case 'server_error': return send(res, 500, apiError('Internal server error', 'server_error', 'internal_error'));
      case 'bad_gateway':
        res.writeHead(502, { 'content-type': 'text/html' });
        return res.end('Bad Gateway');
      case 'unavailable': return send(res, 503, apiError('Service Unavailable', 'server_error', 'service_unavailable'));
      case 'timeout': return send(res, 504, apiError('stream timeout', 'server_error', 'timeout'));
    }
  }

  // ---- server ------------------------------------------------------------------------------------

  async function handle(req, res) {
    const url = new URL(req.url, 'http://mock');
    const raw = await readBody(req);
    if (url.pathname.startsWith('/__mock/')) return control(req, res, url, raw);

    const body = parseBody(req.headers['content-type'], raw);
    const rec = {
      seq: ++st.seq, time_ms: Date.now(), method: req.method, path: url.pathname, query: url.search,
      headers: { ...req.headers }, body, account: null,
    };
    st.requests.push(rec);
    if (req.method === 'POST') {
      if (url.pathname === '/api/v1/oauth2/token') return token(req, res, body, rec);
      if (url.pathname === '/api/v1/oauth2/device/code') return deviceCode(req, res, body ?? {});
      if (CHAT_PATHS.has(url.pathname)) return chat(req, res, body, rec);
    }
    return send(res, 404, apiError(`No route for ${req.method} ${url.pathname}`, 'invalid_request_error', 'not_found'));
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!stopping.signal.aborted && !res.headersSent) {
        send(res, 500, apiError(`mock failure: ${err.message}`, 'server_error', 'mock_failure'));
      } else {
        res.destroy();
      }
    });
  });
  server.on('connection', (socket) => socket.setNoDelay(true)); // each res.write leaves at once
  // Idle keep-alive connections live longer than the clients' pools keep them, so a client never
  // reuses a socket the mock is just closing (which would look like a spurious network error).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const actualPort = server.address().port;
  baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;

  return {
    url: baseUrl,
    port: actualPort,
    host,
    server,
    config,
    /** Direct read access to the state (accounts, requests, stats) for in-process tests. */
    get state() { return st; },
    async close() {
      stopping.abort();
      const closed = new Promise((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

// ---- command line --------------------------------------------------------------------------------

function isMain() {
  try {
    return Boolean(process.argv[1]) && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}

if (isMain()) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8790' },
      host: { type: 'string', default: '127.0.0.1' },
      'chunk-delay-ms': { type: 'string', default: '15' },
      'service-time-ms': { type: 'string', default: '0' },
    },
  });
  const mock = await startMock({
    port: Number(values.port),
    host: values.host,
    chunkDelayMs: Number(values['chunk-delay-ms']),
    serviceTimeMs: Number(values['service-time-ms']),
  });
  console.log(`mock upstream listening on ${mock.url}`);
  const stop = async () => { await mock.close(); process.exit(0); };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
