// Upstream error answers: the fixture files under tests/fixtures/qwen/errors/ (one per error class,
// shared with the gateway's classifier tests), the legacy inline bodies, and their Anthropic form.
import { readdirSync, readFileSync } from 'node:fs';
import { apiError, send } from './wire.mjs';

const FIXTURE_DIR = new URL('../fixtures/qwen/errors/', import.meta.url);

function loadFixtures() {
  const out = new Map();
  for (const file of readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.json')).sort()) {
    const fx = JSON.parse(readFileSync(new URL(file, FIXTURE_DIR), 'utf8'));
    if (fx.name !== file.slice(0, -5)) throw new Error(`fixture ${file}: name ${fx.name} differs from the file name`);
    if (!Number.isInteger(fx.status) || fx.body === undefined) throw new Error(`fixture ${file}: status and body are required`);
    out.set(fx.name, fx);
  }
  return out;
}

/** name -> {name, about, class, status, headers, body, native?, anthropic, vars?} */
export const FIXTURES = loadFixtures();
export const ERROR_KINDS = new Set(FIXTURES.keys());

export const INVALID_TOKEN = apiError('invalid access token or token expired', 'invalid_request_error', 'invalid_api_key');
export const QUOTA = apiError('Free allocated quota exceeded.', 'insufficient_quota', 'insufficient_quota');

const ANTHROPIC_TYPES = {
  400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error',
  413: 'request_too_large', 429: 'rate_limit_error', 500: 'api_error', 503: 'overloaded_error', 529: 'overloaded_error',
};
export const anthropicType = (status) => ANTHROPIC_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
export const anthropicError = (status, message) => ({ type: 'error', error: { type: anthropicType(status), message } });

/** Sends an OpenAI-shaped error, or its Anthropic envelope on an Anthropic route. */
export function sendError(ctx, status, openaiBody, headers = {}) {
  if (ctx.dialect !== 'anthropic') return send(ctx.res, status, openaiBody, headers);
  const message = openaiBody?.error?.message ?? String(openaiBody?.error ?? 'error');
  return send(ctx.res, status, anthropicError(status, message), headers);
}

/**
 * The answer of an error fixture for a request: {status, headers, text}. Options: dialect
 * ('openai' | 'anthropic'), shape ('native' for the {code, message, request_id} body), model (put
 * in place of the fixture's vars.model), retry_after (adds a Retry-After header).
 */
export function fixtureAnswer(name, { dialect = 'openai', shape, model, retry_after: retryAfter } = {}) {
  const fx = FIXTURES.get(name);
  let body = fx.body;
  if (dialect === 'anthropic') body = fx.anthropic ?? anthropicError(fx.status, fx.body?.error?.message ?? String(fx.body?.error));
  else if (shape === 'native' && fx.native) body = fx.native;
  let text = JSON.stringify(body);
  if (fx.vars?.model && typeof model === 'string') {
    const inJson = JSON.stringify(model).slice(1, -1);
    text = text.split(fx.vars.model).join(inJson);
  }
  const headers = { ...fx.headers };
  if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
  return { status: fx.status, headers, text };
}

export function sendFixture(ctx, name, params = {}) {
  const { status, headers, text } = fixtureAnswer(name, { dialect: ctx.dialect, model: ctx.body?.model, ...params });
  ctx.res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(text) });
  ctx.res.end(text);
}

/** The answer to a request refused by authorize() (see kinds.mjs). */
export function sendDenied(ctx, deny) {
  if (deny === 'no_route') {
    const { method, url } = ctx.req;
    return send(ctx.res, 404, apiError(`No route for ${method} ${new URL(url, 'http://mock').pathname}`, 'invalid_request_error', 'not_found'));
  }
  if (deny === 'invalid_token') return sendError(ctx, 401, INVALID_TOKEN);
  return sendFixture(ctx, deny);
}
