// The OAuth endpoints of chat.qwen.ai: device code, and the token endpoint (device-code polls with
// PKCE, refresh with rotation), with the refresh script's errors and faults.
import { createHash, randomBytes } from 'node:crypto';
import { hold } from './faults.mjs';
import { createAccount, issueAccess, issueRefresh } from './state.mjs';
import { bump, isObject, rand, send } from './wire.mjs';

export const CLIENT_ID = 'f0304373b74a44d2b584a3fb70ca9e56';
export const SCOPE = 'openid profile email model.completion';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export const REFRESH_KINDS = new Set([
  'ok', 'no_rotation', 'invalid_grant', 'unauthorized', 'server_error',
  'head_stall', 'body_stall', 'echo_refresh', 'huge_expires_in', 'zero_expires_in', 'bad_access_token',
]);
export const POLL_KINDS = new Set(['pending', 'slow_down', 'slow_down_400', 'denied', 'expired', 'unauthorized', 'approve']);

const INVALID_GRANT = { error: 'invalid_grant', error_description: 'Invalid refresh token or client_id' };
/** Refresh behaviours that answer new tokens, rotating the refresh token (no_rotation keeps it). */
const ISSUING = new Set(['ok', 'no_rotation', 'huge_expires_in', 'zero_expires_in', 'bad_access_token']);

const isForm = (req) => (req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded');

export function deviceCode(rt, req, res, form) {
  const st = rt.st;
  st.stats.device_code_calls++;
  if (!isForm(req)) return send(res, 400, { error: 'invalid_request', error_description: 'expected a form body' });
  if (form.client_id !== CLIENT_ID) return send(res, 400, { error: 'invalid_client' });
  if (!form.code_challenge || form.code_challenge_method !== 'S256') {
    return send(res, 400, { error: 'invalid_request', error_description: 'code_challenge with S256 is required' });
  }
  const code = `dc-${rand()}`;
  const userCode = randomBytes(4).toString('hex').toUpperCase();
  st.devices.set(code, { challenge: form.code_challenge, user_code: userCode });
  return send(res, 200, {
    device_code: code,
    user_code: userCode,
    verification_uri: `${rt.baseUrl}/authorize`,
    verification_uri_complete: `${rt.baseUrl}/authorize?user_code=${userCode}`,
    expires_in: 600,
    interval: 2,
  });
}

export async function token(rt, req, res, body, rec) {
  const form = isObject(body) ? body : {};
  const grant = form.grant_type;
  // Count and attribute on arrival (a rotated-away refresh token still names its account).
  if (grant === 'refresh_token') {
    rec.account = rt.st.owners.get(form.refresh_token) ?? null;
    if (rec.account) bump(rt.st.stats.refresh_calls, rec.account);
  } else if (grant === DEVICE_GRANT) {
    rt.st.stats.device_poll_calls++;
  }
  // Delay before looking anything up, so overlapping refreshes of one token race like upstream:
  // the first to finish rotates it and the others then get invalid_grant.
  await rt.sleep(rt.config.refresh_delay_ms);
  if (!isForm(req)) return send(res, 400, { error: 'invalid_request', error_description: 'expected a form body' });
  if (form.client_id !== CLIENT_ID) return send(res, 400, { error: 'invalid_client' });
  if (grant === 'refresh_token') return refresh(rt, res, form);
  if (grant === DEVICE_GRANT) return devicePoll(rt, res, form, rec);
  return send(res, 400, { error: 'unsupported_grant_type' });
}

async function refresh(rt, res, form) {
  const st = rt.st;
  const acc = st.accounts.get(st.owners.get(form.refresh_token));
  if (!acc || acc.kind !== 'oauth' || acc.revoked || acc.refresh_token !== form.refresh_token) {
    return send(res, 400, INVALID_GRANT);
  }
  const b = acc.refresh.shift() ?? acc.default_refresh;
  // State changes happen now, synchronously; only the answer is delayed. A stalled answer changes
  // nothing unless the behaviour says rotate: true (upstream did the work, the answer got lost).
  const issuing = ISSUING.has(b.kind) || ((b.kind === 'head_stall' || b.kind === 'body_stall') && b.rotate === true);
  let answer;
  if (issuing) {
    issueAccess(st, acc, 3600);
    answer = { access_token: acc.access_token, token_type: 'Bearer', expires_in: 3600, scope: SCOPE };
    if (b.kind !== 'no_rotation') {
      issueRefresh(st, acc); // rotation: the old refresh token is dead from now on
      answer = { ...answer, refresh_token: acc.refresh_token, resource_url: rt.baseUrl };
    }
    if (b.kind === 'huge_expires_in') answer.expires_in = b.expires_in ?? 1e12;
    if (b.kind === 'zero_expires_in') answer.expires_in = 0;
    if (b.kind === 'bad_access_token') answer.access_token = `${acc.access_token}\nX-Injected: 1`;
  } else {
    answer = { access_token: acc.access_token, token_type: 'Bearer', expires_in: 3600, scope: SCOPE, refresh_token: acc.refresh_token, resource_url: rt.baseUrl };
  }
  await rt.sleep(b.delay_ms ?? 0);
  switch (b.kind) {
    case 'invalid_grant': return send(res, 400, INVALID_GRANT);
    case 'unauthorized': return send(res, 401, INVALID_GRANT);
    case 'server_error': return send(res, 500, { error: 'server_error' });
    case 'echo_refresh':
      return send(res, 400, { error: 'invalid_grant', error_description: `Refresh token ${form.refresh_token} is invalid or expired` });
    case 'head_stall':
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      await hold(rt, res, b.ms);
      return res.destroy();
    case 'body_stall': {
      const data = Buffer.from(JSON.stringify(answer));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': data.length });
      res.write(data.subarray(0, data.length >> 1));
      await hold(rt, res, b.ms);
      return res.destroy();
    }
    default: return send(res, 200, answer);
  }
}

async function devicePoll(rt, res, form, rec) {
  const st = rt.st;
  const dev = st.devices.get(form.device_code);
  if (!dev) return send(res, 400, { error: 'invalid_grant', error_description: 'Invalid device code' });
  const verifier = form.code_verifier ?? '';
  if (createHash('sha256').update(verifier).digest('base64url') !== dev.challenge) {
    return send(res, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
  }
  const b = st.deviceScript.polls.shift() ?? { kind: 'pending' };
  await rt.sleep(b.delay_ms ?? 0);
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
      const acc = createAccount(st, id, 'oauth', 3600);
      rec.account = id;
      return send(res, 200, {
        access_token: acc.access_token, refresh_token: acc.refresh_token, token_type: 'Bearer',
        expires_in: 3600, scope: SCOPE, resource_url: rt.baseUrl,
      });
    }
  }
}
