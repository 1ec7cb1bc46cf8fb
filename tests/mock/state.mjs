// The mock's state: accounts, the tokens and keys they were issued, recorded requests, counters.
import { KEY_KINDS, baseUrls, newKey } from './kinds.mjs';
import { isObject, rand, sharedPrefix } from './wire.mjs';

/** Endpoints with their own (optional) script queue and default, besides chat. */
export const SCRIPTED_ENDPOINTS = ['messages', 'completions', 'embeddings', 'models'];
export const ENDPOINT_KINDS = ['chat', 'messages', 'embeddings', 'completions', 'models', 'token', 'device_code', 'unknown'];
export const DEFAULT_OPTIONS = { agents_only: false, strict_models: false, prompt_cache: true };

export function freshState() {
  return {
    accounts: new Map(), // id -> account
    owners: new Map(), // every token or key ever issued -> account id (to attribute stale tokens too)
    devices: new Map(), // device_code -> {challenge, user_code}
    deviceScript: { polls: [], account_id: null },
    requests: [],
    seq: 0,
    deviceAccounts: 0,
    toolCalls: 0,
    stats: {
      refresh_calls: {}, chat_calls: {}, device_code_calls: 0, device_poll_calls: 0,
      messages_calls: {}, embeddings_calls: {}, completions_calls: {}, models_calls: {},
      endpoint_calls: Object.fromEntries(ENDPOINT_KINDS.map((k) => [k, 0])),
      // TCP connections accepted (a client that reuses its connections opens few).
      connections: 0,
    },
  };
}

/** "quota" | {kind: "quota", ...params} -> {kind, ...params}; throws on an unknown name. */
export function behaviour(b, allowed) {
  const obj = typeof b === 'string' ? { kind: b } : b;
  if (!isObject(obj) || !allowed.has(obj.kind)) {
    throw new Error(`unknown behaviour ${JSON.stringify(b)}; expected one of ${[...allowed].join(', ')}`);
  }
  return obj;
}

export function issueAccess(st, acc, expiresInS) {
  acc.access_token = `at-${acc.id}-${rand()}`;
  acc.expiry_date = Date.now() + expiresInS * 1000;
  st.owners.set(acc.access_token, acc.id);
}

export function issueRefresh(st, acc) {
  acc.refresh_token = `rt-${acc.id}-${rand()}`;
  st.owners.set(acc.refresh_token, acc.id);
}

/** Creates (or replaces) an account; `key` overrides the generated key of a key kind. */
export function createAccount(st, id, kind = 'oauth', expiresInS = 3600, { key, options = {}, models = null } = {}) {
  const acc = {
    id, kind, revoked: false,
    chat: [], refresh: [], default_chat: { kind: 'ok' }, default_refresh: { kind: 'ok' },
    scripts: Object.fromEntries(SCRIPTED_ENDPOINTS.map((e) => [e, []])),
    defaults: Object.fromEntries(SCRIPTED_ENDPOINTS.map((e) => [e, null])),
    agent: [],
    models,
    options: { ...DEFAULT_OPTIONS, ...options },
    cache: { chat: '', anthropic: '' },
  };
  if (KEY_KINDS.has(kind)) {
    acc.api_key = key ?? newKey(kind, id);
    st.owners.set(acc.api_key, id);
  } else {
    issueAccess(st, acc, expiresInS);
    issueRefresh(st, acc);
  }
  st.accounts.set(id, acc);
  return acc;
}

/**
 * What POST /__mock/accounts answers: the credentials the worker stores. oauth and api_key answer
 * exactly as they always did; the other kinds add their base URLs on this mock.
 */
export function credentials(acc, base) {
  if (acc.kind === 'api_key') return { id: acc.id, api_key: acc.api_key };
  if (acc.kind === 'oauth') {
    const { id, access_token, refresh_token, expiry_date } = acc;
    return { id, access_token, refresh_token, expiry_date, resource_url: base, token_type: 'Bearer' };
  }
  const urls = baseUrls(acc.kind, base);
  return {
    id: acc.id, kind: acc.kind, api_key: acc.api_key, base_url: urls.openai,
    ...(urls.anthropic ? { anthropic_base_url: urls.anthropic } : {}), base_urls: urls,
  };
}

export function accountView(acc, base) {
  return {
    ...credentials(acc, base), kind: acc.kind, revoked: acc.revoked,
    chat: acc.chat, refresh: acc.refresh, default_chat: acc.default_chat, default_refresh: acc.default_refresh,
    scripts: acc.scripts, defaults: acc.defaults, agent: acc.agent, models: acc.models, options: acc.options,
    base_urls: baseUrls(acc.kind, base),
    cache_chars: { chat: acc.cache.chat.length, anthropic: acc.cache.anthropic.length },
  };
}

/**
 * The behaviour for the next call to `endpoint`: chat takes its `chat` queue, then `default_chat`.
 * messages, completions and embeddings take their own queue, then their own default, and only
 * when neither is set the chat queue and default_chat. models never touches the chat settings.
 */
export function nextBehaviour(acc, endpoint) {
  if (endpoint === 'chat') return acc.chat.shift() ?? acc.default_chat;
  const own = acc.scripts[endpoint]?.shift() ?? acc.defaults[endpoint];
  if (own) return own;
  if (endpoint === 'models') return { kind: 'ok' };
  return acc.chat.shift() ?? acc.default_chat;
}

/**
 * Prompt caching imitation: the account remembers the serialized prompt of its previous request
 * (per dialect); the prefix a new prompt shares with it counts as cached, 4 characters a token.
 * Returns the cached token count (0 when the account's prompt_cache option is off).
 */
export function promptCache(acc, dialect, serialized, promptTokens) {
  if (!acc.options.prompt_cache) return 0;
  const shared = sharedPrefix(acc.cache[dialect], serialized);
  acc.cache[dialect] = serialized;
  return Math.min(Math.floor(shared / 4), promptTokens);
}

/** Records a request (never the control API) and counts it by endpoint kind. */
export function record(st, req, url, body, endpoint, surface, raw) {
  const rec = {
    seq: ++st.seq, time_ms: Date.now(), method: req.method, path: url.pathname, query: url.search,
    headers: { ...req.headers }, body, account: null, endpoint, surface,
    // The body's bytes as sent (model calls only), for tests of what reaches upstream byte for byte.
    raw_body: endpoint !== 'token' && endpoint !== 'device_code' && raw ? raw : undefined,
  };
  st.requests.push(rec);
  st.stats.endpoint_calls[endpoint]++;
  return rec;
}
