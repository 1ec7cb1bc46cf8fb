// Account kinds, the URL surfaces of one mock host, and who may call what (cross-wiring errors).
//
// One host imitates every upstream by path prefix:
//   portal      /v1                              legacy OAuth portal; also any OpenAI-compatible provider
//   dashscope   /compatible-mode/v1              DashScope pay-as-you-go (OpenAI-compatible)
//               /apps/anthropic/v1/messages      DashScope Anthropic-compatible
//   token_plan  /token-plan/compatible-mode/v1   Token Plan (team seats)
//               /token-plan/apps/anthropic/v1/messages
//   coding      /coding/v1                       Coding Plan (chat only, no /models)
//               /coding/apps/anthropic/v1/messages
import { hex, rand } from './wire.mjs';

export const KINDS = ['oauth', 'api_key', 'dashscope', 'token_plan', 'coding_plan', 'openai_compatible'];
/** Kinds that authenticate with a static key (everything but oauth). */
export const KEY_KINDS = new Set(KINDS.filter((k) => k !== 'oauth'));

const OPENAI_PREFIXES = [
  ['/token-plan/compatible-mode/v1', 'token_plan'],
  ['/compatible-mode/v1', 'dashscope'],
  ['/coding/v1', 'coding'],
  ['/v1', 'portal'],
];
const ANTHROPIC_PATHS = new Map([
  ['/apps/anthropic/v1/messages', 'dashscope'],
  ['/token-plan/apps/anthropic/v1/messages', 'token_plan'],
  ['/coding/apps/anthropic/v1/messages', 'coding'],
]);
/** The endpoints each surface serves; anything else there is a 404 before any authentication. */
const SURFACE_ENDPOINTS = {
  portal: new Set(['chat', 'embeddings', 'completions', 'models']),
  dashscope: new Set(['chat', 'embeddings', 'completions', 'models', 'messages']),
  token_plan: new Set(['chat', 'models', 'messages']),
  coding: new Set(['chat', 'messages']),
};
const ALL = (surface) => SURFACE_ENDPOINTS[surface];
const PORTAL_KEY_KINDS = new Set(['api_key', 'openai_compatible']);
/** kind -> surface -> endpoints its credentials are accepted on. */
const ACCESS = {
  oauth: { portal: new Set(['chat']), dashscope: new Set(['chat']) },
  api_key: { portal: ALL('portal'), dashscope: ALL('dashscope') },
  dashscope: { dashscope: ALL('dashscope') },
  token_plan: { token_plan: ALL('token_plan') },
  coding_plan: { coding: ALL('coding') },
  openai_compatible: { portal: ALL('portal'), dashscope: new Set(['chat', 'embeddings', 'completions', 'models']) },
};

/**
 * The route of a model-API request: {surface, endpoint, dialect, model_id?}, or null (no such
 * route: 404). Endpoints: chat, embeddings, completions, models (GET, also /models/<id>), messages.
 */
export function routeOf(method, path) {
  const anthropic = ANTHROPIC_PATHS.get(path);
  if (anthropic) return method === 'POST' ? { surface: anthropic, endpoint: 'messages', dialect: 'anthropic' } : null;
  for (const [prefix, surface] of OPENAI_PREFIXES) {
    if (!path.startsWith(`${prefix}/`)) continue;
    const rest = path.slice(prefix.length + 1);
    let route = null;
    if (method === 'POST' && rest === 'chat/completions') route = { endpoint: 'chat' };
    else if (method === 'POST' && rest === 'embeddings') route = { endpoint: 'embeddings' };
    else if (method === 'POST' && rest === 'completions') route = { endpoint: 'completions' };
    else if (method === 'GET' && rest === 'models') route = { endpoint: 'models' };
    else if (method === 'GET' && rest.startsWith('models/') && rest.length > 7) {
      route = { endpoint: 'models', model_id: decodeURIComponent(rest.slice(7)) };
    }
    if (!route || !SURFACE_ENDPOINTS[surface].has(route.endpoint)) return null;
    return { surface, dialect: 'openai', ...route };
  }
  return null;
}

/** A fresh key of the kind (none for oauth). */
export function newKey(kind, id) {
  switch (kind) {
    case 'api_key': return `sk-${id}-${rand()}`;
    case 'dashscope':
    case 'token_plan': return `sk-${hex(16)}`;
    case 'coding_plan': return `sk-sp-${hex(16)}`;
    case 'openai_compatible': return `key-${id}-${rand()}`;
    default: return null;
  }
}

/** Why a key given at account creation does not fit its kind, or null. */
export function keyProblem(kind, key) {
  if (typeof key !== 'string' || !key || /\s/.test(key)) return 'api_key must be a non-empty string without spaces';
  if (kind === 'coding_plan' && !key.startsWith('sk-sp-')) return 'a coding_plan key starts with sk-sp-';
  if ((kind === 'dashscope' || kind === 'token_plan') && (!key.startsWith('sk-') || key.startsWith('sk-sp-'))) {
    return `a ${kind} key starts with sk- (and not sk-sp-)`;
  }
  return null;
}

/** The base URLs of a kind on this mock: `openai` is the one to configure; others work too. */
export function baseUrls(kind, base) {
  switch (kind) {
    case 'oauth': return { openai: `${base}/v1` };
    case 'api_key': return { openai: `${base}/compatible-mode/v1`, portal: `${base}/v1`, anthropic: `${base}/apps/anthropic` };
    case 'dashscope': return { openai: `${base}/compatible-mode/v1`, anthropic: `${base}/apps/anthropic` };
    case 'token_plan': return { openai: `${base}/token-plan/compatible-mode/v1`, anthropic: `${base}/token-plan/apps/anthropic` };
    case 'coding_plan': return { openai: `${base}/coding/v1`, anthropic: `${base}/coding/apps/anthropic` };
    default: return { openai: `${base}/v1`, compatible: `${base}/compatible-mode/v1` };
  }
}

/** The credential a request carries: Authorization: Bearer first, else x-api-key. */
export function credentialOf(req) {
  const bearer = /^Bearer\s+(\S+)/i.exec(req.headers.authorization ?? '')?.[1] ?? null;
  const x = req.headers['x-api-key'];
  const xkey = typeof x === 'string' && x ? x : null;
  return { bearer, xkey, token: bearer ?? xkey };
}

/**
 * -> {id, acc, deny}: id when the token was ever issued (for attribution), acc when it may call
 * this route now, else deny = the error to answer: 'no_route' (404), 'invalid_token' (the portal's
 * 401) or the name of an error fixture ('no_api_key', 'invalid_api_key', 'general_key_on_coding_url',
 * 'coding_key_on_general_url').
 */
export function authorize(st, route, cred) {
  const { surface, endpoint } = route;
  let id = (cred.token && st.owners.get(cred.token)) ?? null;
  // The OAuth portal reads Authorization only: an OAuth token in x-api-key is no credential at all.
  if (id && !cred.bearer && st.accounts.get(id)?.kind === 'oauth') id = null;
  // Token Plan reads only Authorization: Bearer (on its Anthropic endpoint too).
  if (surface === 'token_plan' && !cred.bearer) return { id, acc: null, deny: 'no_api_key' };
  const acc = id ? st.accounts.get(id) : null;
  let valid = false;
  if (acc && !acc.revoked) {
    valid = acc.kind === 'oauth'
      ? cred.bearer === acc.access_token && Date.now() < acc.expiry_date
      : cred.token === acc.api_key;
  }
  // The OAuth portal itself serves chat only: its other endpoints exist for key accounts alone
  // (OpenAI-compatible providers), anyone else gets the unknown-route 404, unattributed.
  if (surface === 'portal' && endpoint !== 'chat' && !(valid && PORTAL_KEY_KINDS.has(acc.kind))) {
    return { id: null, acc: null, deny: 'no_route' };
  }
  if (!valid) return { id, acc: null, deny: surface === 'coding' ? 'general_key_on_coding_url' : 'invalid_token' };
  if (ACCESS[acc.kind][surface]?.has(endpoint)) return { id, acc, deny: null };
  let deny = 'invalid_token';
  if (acc.kind === 'coding_plan') deny = 'coding_key_on_general_url';
  else if (surface === 'coding') deny = 'general_key_on_coding_url';
  else if (surface === 'token_plan' || acc.kind === 'token_plan') deny = 'invalid_api_key';
  return { id, acc: null, deny };
}

/** User-Agents a coding_plan account with agents_only takes for coding agents. */
export const AGENT_USER_AGENT = /claude-cli|claude-code|qwencode|qwen-code|codex|opencode|cline|roo-?code|kilo-?code|crush|cursor|aider|goose|openclaw/i;
