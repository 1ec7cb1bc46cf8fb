#!/usr/bin/env node
// Mock of Qwen's upstreams for tests and benchmarks, on one host: the OAuth endpoints of chat.qwen.ai
// (refresh and device flow with PKCE), the legacy OAuth portal, DashScope, Token Plan and Coding Plan
// (OpenAI- and Anthropic-compatible). What it imitates: docs/UPSTREAM.md. Node standard library only.
//
//   import { startMock } from './upstream.mjs';
//   const mock = await startMock({ chunkDelayMs: 1 });   // mock.url = 'http://127.0.0.1:PORT'
//   ...; await mock.close();                               // also cancels every stall and delay
//
//   node tests/mock/upstream.mjs --port 8790 [--host 127.0.0.1] [--chunk-delay-ms 15] [--service-time-ms 0]
//
// Files: upstream.mjs (this: server, routing, command line), kinds.mjs (kinds, URL surfaces, auth and
// cross-wiring), state.mjs (accounts, tokens, scripts, prompt cache, recording), control.mjs (/__mock),
// oauth.mjs, chat.mjs, anthropic.mjs, completions.mjs, embeddings.mjs, models.mjs, agent.mjs (turns and
// default answers), errors.mjs (fixtures in tests/fixtures/qwen/errors/), faults.mjs (behaviours), wire.mjs.
//
// ROUTES (recorded; `endpoint` in /__mock/requests and /__mock/stats.endpoint_calls)
//   POST /api/v1/oauth2/device/code, POST /api/v1/oauth2/token          device_code, token
//   POST {base}/chat/completions   POST {base}/embeddings   POST {base}/completions   GET {base}/models[/<id>]
//     {base} = /v1 (portal: chat; embeddings, completions and models for api_key and openai_compatible
//              keys only, a 404 for anyone else)   /compatible-mode/v1 (DashScope; all four)
//              /token-plan/compatible-mode/v1 (chat, models)         /coding/v1 (chat only; /models is a 404)
//   POST /apps/anthropic/v1/messages (DashScope), /token-plan/apps/anthropic/v1/messages (Token Plan),
//        /coding/apps/anthropic/v1/messages (Coding Plan)
//   Anything else: 404 not_found. A query string (?beta=true) is ignored.
//
// ACCOUNT KINDS (POST /__mock/accounts {id, kind})    key              accepted on
//   oauth (default)     refreshed access token (Bearer only)        /v1 and /compatible-mode/v1 chat
//   api_key             sk-<id>-…                                   /v1, /compatible-mode/v1, /apps/anthropic
//   dashscope           sk-…                                        /compatible-mode/v1, /apps/anthropic
//   token_plan          sk-…  (Authorization: Bearer required)      /token-plan/compatible-mode/v1,
//                                                                   /token-plan/apps/anthropic
//   coding_plan         sk-sp-…                                     /coding/v1, /coding/apps/anthropic
//   openai_compatible   key-<id>-… (any key via api_key)            /v1, /compatible-mode/v1 (no Anthropic)
// Keys go in Authorization: Bearer or x-api-key (Anthropic routes: either). Refusals:
//   unknown/expired/revoked token: 401 "invalid access token or token expired" (portal shape)
//   token-plan without Bearer: 401 no_api_key;  sk- key on a /coding URL: 401 general_key_on_coding_url;
//   sk-sp- key on a general URL: 403 coding_key_on_general_url;  token_plan key on DashScope or another
//   key on Token Plan: 401 invalid_api_key;  other wrong-surface calls: 401 as unknown.
// On Anthropic routes every error is Anthropic's envelope {type:"error", error:{type, message}}.
//
// CONTROL API (JSON; never recorded; 400 {error} on a bad body, 404 on an unknown account)
//   POST /__mock/accounts {id, kind?="oauth", expires_in?=3600 (oauth), api_key? (key kinds),
//        models?, agents_only?=false, strict_models?=false, prompt_cache?=true}   create or replace
//        -> oauth: {id, access_token, refresh_token, expiry_date, resource_url, token_type};
//           api_key: {id, api_key}; others: {id, kind, api_key, base_url, anthropic_base_url?, base_urls}
//   GET  /__mock/accounts[/<id>]       state: credentials, kind, revoked, chat, refresh, default_chat,
//        default_refresh, scripts, defaults, agent, models, options, base_urls, cache_chars
//   POST /__mock/accounts/<id>/expire  oauth: the access token expires; a key is withdrawn
//   POST /__mock/accounts/<id>/revoke  refresh token and access token (or key) stop working
//   POST /__mock/accounts/<id>/script  {chat?:[b…], default_chat?: b, refresh?:[b…], default_refresh?: b,
//        messages?|completions?|embeddings?|models?:[b…], default_<those>?: b|null, and options}
//        chat takes chat, then default_chat. messages/completions/embeddings take their own queue, then
//        their own default, then chat, then default_chat. models: its own queue, its default, else ok.
//   POST /__mock/accounts/<id>/agent   {turns:[…], append?=false}; GET it: {turns} left
//   POST /__mock/accounts/<id>/models  {models: [id | {id, …}] | null (the kind's list)}; GET it
//   POST /__mock/accounts/<id>/options {agents_only?, strict_models?, prompt_cache?} -> the options
//   POST /__mock/device/script         {polls?:[b…], account_id?}
//   GET  /__mock/requests[?path=&account=&endpoint=&surface=]   DELETE /__mock/requests
//        (each: seq, method, path, query, headers, body parsed, raw_body as sent, account, endpoint, surface)
//   GET  /__mock/stats   {refresh_calls, chat_calls, messages_calls, embeddings_calls, completions_calls,
//        models_calls: {account: n}, device_code_calls, device_poll_calls, endpoint_calls: {kind: n},
//        connections (TCP connections accepted)}
//   POST /__mock/reset   GET|POST /__mock/config {chunk_delay_ms?=15, service_time_ms?=0, refresh_delay_ms?=0}
//   GET  /__mock/errors[/<name>]       the error fixtures
//
// BEHAVIOURS b: a name ("quota") or an object ({kind: "throttle", retry_after: 3}); every one takes
// delay_ms (wait before answering; delayed_auth: 1000 by default).
//   ok                       the normal answer (agent turn, or echo / tool call / mock_events)
//   quota | quota403         429 | 403 insufficient_quota "Free allocated quota exceeded."
//   throttle {retry_after=2} 429 rate_limit_exceeded with Retry-After
//   auth                     401 invalid access token;   bad_request {field="messages"}, context_length: 400
//   model_not_found          404;   server_error 500;  bad_gateway 502 text/html;  unavailable 503;  timeout 504
//   drop                     connection destroyed;   stall {ms=30000}: wait, then the normal answer
//   midstream_quota          stream: 3 events then an in-stream quota error, no [DONE]; else 429 quota
//   <fixture name> {shape?: "native", retry_after?}  the fixture's status, headers, body (see ERROR_KINDS):
//     limit_requests, throttling_rate_quota, throttling_allocation_quota, free_exceeded, insufficient_quota,
//     arrearage, invalid_api_key, access_denied, access_denied_unpurchased, hour_quota, week_quota,
//     month_quota, concurrency_quota, coding_agents_only, data_inspection, model_unsupported (the request's
//     model), input_length, discontinued (as default_chat: every chat 401, refreshes still fine),
//     no_api_key, general_key_on_coding_url, coding_key_on_general_url
//   head_stall {status=200, ms=∞}       status and headers, then nothing (then the connection is cut)
//   body_stall {status=200, bytes=½, ms=∞}  part of the body (the normal answer, or an error), then nothing
//   stream_stall {after=3, ms=∞}        200 stream of the normal answer cut after `after` events, then nothing
//   huge_event {mib=1, then="end"|"stall"}   200 event stream: one event of mib MiB with no boundary
//   huge_body {status=200, mib=1}       a JSON body of mib MiB (a completion, or an error)
//   odd_status {status=600, body?}      raw answer, Connection: close; body: object|string|null (none)
//   echo_key {status=401}               error whose message quotes the key/token that was sent
//   delayed_auth                        401 invalid access token after delay_ms (default 1000)
//   first_event_error {type="insufficient_quota", code=type, message?}  200 stream, the first event an error
//   html_200                            200 text/html
// Refresh b: ok (rotates), no_rotation, invalid_grant 400, unauthorized 401, server_error 500,
//   head_stall|body_stall {ms=∞, rotate=false}, echo_refresh (400 quoting the refresh token),
//   huge_expires_in {expires_in=1e12}, zero_expires_in, bad_access_token (access_token with a newline).
// Poll b: pending, slow_down (429), slow_down_400, denied, expired, unauthorized, approve {account_id?}.
//
// ACCOUNT OPTIONS: agents_only (coding_plan: 405 coding_agents_only unless the User-Agent matches
// AGENT_USER_AGENT), strict_models (a model outside the account's list: 400 model_unsupported),
// prompt_cache (on: the prefix a prompt shares with the account's previous one is reported as
// cached: chat usage.prompt_tokens_details.cached_tokens, Anthropic usage.cache_read_input_tokens).
//
// AGENT TURNS: {content} | {reasoning, content?} | {tool_calls: [{name, arguments: object|string, id?}],
// content?, reasoning?, finish_reason? (default tool_calls / stop), stop_reason? (Anthropic)}. Each ok
// chat or messages answer of the account takes the next turn; echo answers when none is left.

import http from 'node:http';
import { realpathSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { messagesPlan } from './anthropic.mjs';
import { chatPlan } from './chat.mjs';
import { completionsPlan } from './completions.mjs';
import { control } from './control.mjs';
import { embeddingsPlan } from './embeddings.mjs';
import { sendDenied, sendError, sendFixture } from './errors.mjs';
import { DEFAULT_DELAY_MS, perform } from './faults.mjs';
import { AGENT_USER_AGENT, authorize, credentialOf, routeOf } from './kinds.mjs';
import { modelIds, modelsPlan } from './models.mjs';
import { deviceCode, token } from './oauth.mjs';
import { freshState, nextBehaviour, record } from './state.mjs';
import { apiError, bump, isObject, parseBody, readBody, send } from './wire.mjs';

export { CLIENT_ID, SCOPE, REFRESH_KINDS, POLL_KINDS } from './oauth.mjs';
export { CHAT_KINDS, LEGACY_CHAT_KINDS, FAULT_KINDS } from './faults.mjs';
export { ERROR_KINDS, FIXTURES } from './errors.mjs';
export { KINDS, AGENT_USER_AGENT } from './kinds.mjs';
export { DEFAULT_MODELS } from './models.mjs';
export { embeddingOf } from './embeddings.mjs';
export { fimMiddle } from './completions.mjs';

const PLANS = { chat: chatPlan, messages: messagesPlan, completions: completionsPlan, embeddings: embeddingsPlan, models: modelsPlan };

export async function startMock({ port = 0, host = '127.0.0.1', chunkDelayMs = 15, serviceTimeMs = 0 } = {}) {
  // Every wait goes through rt.sleep, so close() can cancel pending stalls and delays at once.
  const stopping = new AbortController();
  const rt = {
    config: { chunk_delay_ms: chunkDelayMs, service_time_ms: serviceTimeMs, refresh_delay_ms: 0 },
    st: freshState(),
    baseUrl: '', // set once listening
    stopping,
    sleep: (ms, signal = stopping.signal) => (ms > 0 ? delay(ms, undefined, { signal }) : Promise.resolve()),
  };

  /** A call to a model API (chat, messages, completions, embeddings, models). */
  async function modelCall(req, res, body, rec, route) {
    const cred = credentialOf(req);
    const { id, acc, deny } = authorize(rt.st, route, cred);
    const ctx = { req, res, body, rec, acc, route, dialect: route.dialect, token: cred.token };
    if (deny === 'no_route') return sendDenied(ctx, deny); // as unknown routes: at once, unattributed
    rec.account = id;
    if (id) bump(rt.st.stats[`${route.endpoint}_calls`], id);
    await rt.sleep(rt.config.service_time_ms);
    if (deny) return sendDenied(ctx, deny);
    if (route.endpoint !== 'models' && !isObject(body)) {
      return sendError(ctx, 400, apiError('request body is not a JSON object', 'invalid_request_error', 'invalid_parameter_error'));
    }
    if (acc.options.agents_only && route.surface === 'coding' && !AGENT_USER_AGENT.test(req.headers['user-agent'] ?? '')) {
      return sendFixture(ctx, 'coding_agents_only');
    }
    if (acc.options.strict_models && route.endpoint !== 'models' && !modelIds(acc).includes(body.model)) {
      return sendFixture(ctx, 'model_unsupported');
    }
    const b = nextBehaviour(acc, route.endpoint);
    await rt.sleep(b.delay_ms ?? DEFAULT_DELAY_MS[b.kind] ?? 0);
    let plan = null;
    ctx.plan = () => (plan ??= PLANS[route.endpoint](rt, ctx));
    return perform(rt, ctx, b);
  }

  async function handle(req, res) {
    const url = new URL(req.url, 'http://mock');
    const raw = await readBody(req);
    if (url.pathname.startsWith('/__mock/')) return control(rt, req, res, url, raw);

    const body = parseBody(req.headers['content-type'], raw);
    const post = req.method === 'POST';
    const route = routeOf(req.method, url.pathname);
    let endpoint = route?.endpoint ?? 'unknown';
    if (post && url.pathname === '/api/v1/oauth2/token') endpoint = 'token';
    if (post && url.pathname === '/api/v1/oauth2/device/code') endpoint = 'device_code';
    const rec = record(rt.st, req, url, body, endpoint, route?.surface ?? (endpoint === 'unknown' ? null : 'oauth'), raw);
    if (endpoint === 'token') return token(rt, req, res, body, rec);
    if (endpoint === 'device_code') return deviceCode(rt, req, res, body ?? {});
    if (route) return modelCall(req, res, body, rec, route);
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
  server.on('connection', (socket) => {
    rt.st.stats.connections++;
    socket.setNoDelay(true); // each res.write leaves at once
  });
  // Idle keep-alive connections live longer than the clients' pools keep them, so a client never
  // reuses a socket the mock is just closing (which would look like a spurious network error).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const actualPort = server.address().port;
  rt.baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;

  return {
    url: rt.baseUrl,
    port: actualPort,
    host,
    server,
    config: rt.config,
    /** Direct read access to the state (accounts, requests, stats) for in-process tests. */
    get state() { return rt.st; },
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
