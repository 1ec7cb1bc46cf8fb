// The /__mock control API (JSON in, JSON out; never recorded). Reference: the header of upstream.mjs.
import { parseTurns } from './agent.mjs';
import { FIXTURES } from './errors.mjs';
import { CHAT_KINDS } from './faults.mjs';
import { KINDS, keyProblem } from './kinds.mjs';
import { parseModels } from './models.mjs';
import { POLL_KINDS, REFRESH_KINDS } from './oauth.mjs';
import { DEFAULT_OPTIONS, SCRIPTED_ENDPOINTS, accountView, behaviour, createAccount, credentials, freshState } from './state.mjs';
import { send } from './wire.mjs';

function parseOptions(body) {
  const out = {};
  for (const key of Object.keys(DEFAULT_OPTIONS)) {
    if (body[key] === undefined) continue;
    if (typeof body[key] !== 'boolean') throw new Error(`${key} must be a boolean`);
    out[key] = body[key];
  }
  return out;
}

function parseBehaviours(list, allowed, name) {
  if (!Array.isArray(list)) throw new Error(`${name} must be an array`);
  return list.map((b) => behaviour(b, allowed));
}

/** POST /__mock/accounts/<id>/script */
function script(acc, body) {
  const next = {};
  if (body.chat !== undefined) next.chat = parseBehaviours(body.chat, CHAT_KINDS, 'chat');
  if (body.refresh !== undefined) next.refresh = parseBehaviours(body.refresh, REFRESH_KINDS, 'refresh');
  if (body.default_chat !== undefined) next.default_chat = behaviour(body.default_chat, CHAT_KINDS);
  if (body.default_refresh !== undefined) next.default_refresh = behaviour(body.default_refresh, REFRESH_KINDS);
  const scripts = {};
  const defaults = {};
  for (const ep of SCRIPTED_ENDPOINTS) {
    if (body[ep] !== undefined) scripts[ep] = parseBehaviours(body[ep], CHAT_KINDS, ep);
    const d = body[`default_${ep}`];
    if (d !== undefined) defaults[ep] = d === null ? null : behaviour(d, CHAT_KINDS);
  }
  const options = parseOptions(body);
  // Validated whole before anything changes.
  Object.assign(acc, next);
  Object.assign(acc.scripts, scripts);
  Object.assign(acc.defaults, defaults);
  Object.assign(acc.options, options);
}

function accountRoute(rt, req, res, route, body) {
  const m = /^(GET|POST) \/accounts\/([^/]+)(?:\/(expire|revoke|script|agent|models|options))?$/.exec(route);
  if (!m) return false;
  const acc = rt.st.accounts.get(decodeURIComponent(m[2]));
  if (!acc) return send(res, 404, { error: `no account ${m[2]}` });
  const [, method, , action] = m;
  if (method === 'GET' && !action) return send(res, 200, accountView(acc, rt.baseUrl));
  if (method === 'GET' && action === 'agent') return send(res, 200, { turns: acc.agent });
  if (method === 'GET' && action === 'models') return send(res, 200, { models: acc.models });
  // expire, revoke and script have always answered GET as well as POST.
  if (!action || (method !== 'POST' && !['expire', 'revoke', 'script'].includes(action))) {
    return send(res, 404, { error: `no route ${route}` });
  }
  switch (action) {
    case 'expire':
      // A key has no expiry: the key is withdrawn instead.
      if (acc.kind === 'oauth') acc.expiry_date = Date.now() - 1; else acc.revoked = true;
      break;
    case 'revoke': acc.revoked = true; break;
    case 'script': script(acc, body); break;
    case 'agent': {
      const turns = parseTurns(body.turns);
      acc.agent = body.append === true ? [...acc.agent, ...turns] : turns;
      return send(res, 200, { turns: acc.agent });
    }
    case 'models':
      if (body.models === undefined) throw new Error('models is required (an array, or null for the kind\'s list)');
      acc.models = parseModels(body.models);
      return send(res, 200, { models: acc.models });
    case 'options':
      Object.assign(acc.options, parseOptions(body));
      return send(res, 200, acc.options);
  }
  return send(res, 200, accountView(acc, rt.baseUrl));
}

function createRoute(rt, res, body) {
  const { id, expires_in: expiresIn = 3600, kind = 'oauth', api_key: key, models } = body;
  if (typeof id !== 'string' || !id) return send(res, 400, { error: 'id (string) is required' });
  if (!KINDS.includes(kind)) return send(res, 400, { error: `kind must be one of ${KINDS.join(', ')}` });
  if (typeof expiresIn !== 'number') return send(res, 400, { error: 'expires_in must be a number' });
  if (key !== undefined) {
    if (kind === 'oauth') return send(res, 400, { error: 'an oauth account has no api_key' });
    const why = keyProblem(kind, key);
    if (why) return send(res, 400, { error: why });
    const owner = rt.st.owners.get(key);
    if (owner && owner !== id) return send(res, 400, { error: `api_key already belongs to account ${owner}` });
  }
  const options = parseOptions(body);
  const list = models === undefined ? null : parseModels(models);
  return send(res, 200, credentials(createAccount(rt.st, id, kind, expiresIn, { key, options, models: list }), rt.baseUrl));
}

export function control(rt, req, res, url, raw) {
  let body = {};
  if (raw) {
    try { body = JSON.parse(raw); } catch { return send(res, 400, { error: 'body is not JSON' }); }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return send(res, 400, { error: 'body must be a JSON object' });
  }
  const route = `${req.method} ${url.pathname.replace(/^\/__mock/, '')}`;
  try {
    // Everything that throws in there is a validation of the body.
    if (accountRoute(rt, req, res, route, body) !== false) return;
  } catch (err) {
    return send(res, 400, { error: err.message });
  }
  const st = rt.st;
  switch (route) {
    case 'POST /accounts':
      try { return createRoute(rt, res, body); } catch (err) { return send(res, 400, { error: err.message }); }
    case 'GET /accounts':
      return send(res, 200, [...st.accounts.values()].map((acc) => accountView(acc, rt.baseUrl)));
    case 'POST /device/script':
      try {
        if (body.polls !== undefined) st.deviceScript.polls = parseBehaviours(body.polls, POLL_KINDS, 'polls');
      } catch (err) {
        return send(res, 400, { error: err.message });
      }
      if (body.account_id !== undefined) st.deviceScript.account_id = body.account_id;
      return send(res, 200, st.deviceScript);
    case 'GET /requests': {
      const want = (k) => url.searchParams.get(k);
      return send(res, 200, st.requests.filter((r) => (!want('path') || r.path === want('path'))
        && (!want('account') || r.account === want('account'))
        && (!want('endpoint') || r.endpoint === want('endpoint'))
        && (!want('surface') || r.surface === want('surface'))));
    }
    case 'DELETE /requests':
      st.requests = [];
      return send(res, 200, { ok: true });
    case 'GET /stats':
      return send(res, 200, st.stats);
    case 'POST /reset':
      rt.st = freshState();
      return send(res, 200, { ok: true });
    case 'POST /config':
      for (const key of Object.keys(rt.config)) {
        if (body[key] === undefined) continue;
        if (typeof body[key] !== 'number' || body[key] < 0) return send(res, 400, { error: `${key} must be a number >= 0` });
        rt.config[key] = body[key];
      }
      return send(res, 200, rt.config);
    case 'GET /config':
      return send(res, 200, rt.config);
    case 'GET /errors':
      return send(res, 200, Object.fromEntries(FIXTURES));
    default: {
      const e = /^GET \/errors\/([^/]+)$/.exec(route);
      if (e && FIXTURES.has(e[1])) return send(res, 200, FIXTURES.get(e[1]));
      return send(res, 404, { error: `no route ${route}` });
    }
  }
}
