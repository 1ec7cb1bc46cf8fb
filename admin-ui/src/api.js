// The admin JSON API as the page calls it: the admin key from sessionStorage as a bearer header,
// no cookies, and every failure as an ApiError whose message a person can act on.

const STORAGE_KEY = 'qwen-worker.admin-key';

export const session = {
  get: () => sessionStorage.getItem(STORAGE_KEY),
  set: (key) => sessionStorage.setItem(STORAGE_KEY, key),
  clear: () => sessionStorage.removeItem(STORAGE_KEY),
};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Called when the key stops working or admin is turned off while the page is open. */
let onSignedOut = () => {};
export function whenSignedOut(f) { onSignedOut = f; }

/** `api(method, path, body?, {key?})` → `{status, data}`; throws ApiError. */
export async function api(method, path, body, { key = session.get(), quiet = false } = {}) {
  const headers = { accept: 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      redirect: 'error',
    });
  } catch {
    throw new ApiError(0, 'network_error', 'The gateway could not be reached. Check that it is running and try again.');
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON: described below */ }
  if (res.ok) return { status: res.status, data };
  const e = data?.error;
  const code = typeof e?.code === 'string' ? e.code : null;
  const message = typeof e?.message === 'string' && e.message
    ? e.message
    : `The gateway answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''} without an explanation.`;
  const err = new ApiError(res.status, code, message);
  if (!quiet && (code === 'invalid_admin_key' || code === 'admin_disabled')) onSignedOut(err);
  return Promise.reject(err);
}

/** Is this the 404 of a route the gateway does not have (an older build)? */
export function isMissingRoute(err) {
  return err instanceof ApiError && err.status === 404 && err.code === 'not_found';
}

/** `/admin/accounts/<id>` and the like, with the id percent-encoded. */
export function accountPath(id, rest = '') {
  return `/admin/accounts/${encodeURIComponent(id)}${rest}`;
}
