// Logging an OAuth account in with the device flow: POST …/login shows a QR code, the link and
// the code to approve; …/login/poll is asked every `interval` seconds until the login is
// authorized, denied or expired.

import { api, accountPath, ApiError } from './api.js';
import { h, field, replace, safeUrl, toast, copyText } from './dom.js';
import { qrCode } from './qr.js';
import { fmtDuration } from './format.js';
import { ACCOUNT_ID_RULE, ACCOUNT_ID_HINT } from './account-form.js';

/** Opens the login dialog; resolves to true when an account was logged in. */
export function deviceLogin(existing) {
  const id = h('input', { name: 'id', required: true, maxlength: 64, autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. alice' });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const start = h('button', { type: 'submit', class: 'primary' }, 'Start login');
  const cancel = h('button', { type: 'button' }, 'Cancel');
  const stage = h('div', { class: 'device-stage' });
  const form = h('form', { class: 'form', novalidate: true },
    field('Account id', id, `${ACCOUNT_ID_HINT}. Logging in an existing id replaces its credentials.`), error,
    h('div', { class: 'dialog-buttons' }, cancel, start));
  const d = h('dialog', { class: 'dialog device', 'aria-label': 'Log in an OAuth account' },
    h('h2', {}, 'Log in a Qwen OAuth account'), form, stage);

  let timer = null;
  let stopped = false;
  let loggedIn = false;

  const fail = (message) => { replace(error, message); error.hidden = false; };

  return new Promise((resolve) => {
    const close = () => {
      stopped = true;
      clearTimeout(timer);
      d.close();
      d.remove();
      resolve(loggedIn);
    };
    cancel.addEventListener('click', close);
    d.addEventListener('cancel', (e) => { e.preventDefault(); close(); });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      error.hidden = true;
      const account = id.value.trim();
      if (!ACCOUNT_ID_RULE.test(account)) return fail(`The account id must be ${ACCOUNT_ID_HINT}.`);
      start.disabled = true;
      try {
        const { data } = await api('POST', accountPath(account, '/login'));
        form.hidden = true;
        begin(account, data);
      } catch (err) {
        fail(`The login could not start: ${err.message}`);
      } finally {
        start.disabled = false;
      }
    });

    function begin(account, login) {
      const url = safeUrl(login.verification_uri_complete) ?? safeUrl(login.verification_uri);
      const status = h('p', { class: 'device-status', role: 'status' }, 'Waiting for approval…');
      const countdown = h('span', { class: 'muted' });
      const code = String(login.user_code ?? '');
      const copy = h('button', { type: 'button', onclick: async () => toast(await copyText(code) ? 'Code copied.' : 'Copy the code by hand.', 'ok') }, 'Copy code');
      const done = h('button', { type: 'button' }, 'Cancel');
      done.addEventListener('click', close);
      replace(stage,
        h('p', {}, 'Scan the code with a phone, or open the link, sign in to Qwen and approve this login.'),
        url ? h('div', { class: 'qr-box' }, qrCode(url.url, { label: `QR code of the sign-in link for ${account}` })) : h('p', { class: 'form-error' }, 'The OAuth server sent no usable link.'),
        url ? h('p', {}, h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', class: 'device-link' }, url.url)) : null,
        h('p', { class: 'user-code-line' }, 'Code: ', h('strong', { class: 'user-code' }, code), ' ', copy),
        h('p', {}, 'Expires ', countdown),
        status,
        h('div', { class: 'dialog-buttons' }, done));

      const deadline = Date.now() + Number(login.expires_in ?? 600) * 1000;
      let interval = Math.max(1, Number(login.interval ?? 5));
      const tick = () => replace(countdown, `in ${fmtDuration(deadline - Date.now())}`);
      tick();
      const clock = setInterval(() => { if (stopped) clearInterval(clock); else tick(); }, 1000);

      const finish = (message, ok) => {
        clearInterval(clock);
        replace(status, message);
        status.className = `device-status ${ok ? 'ok' : 'failed'}`;
        replace(done, 'Close');
      };

      const poll = async () => {
        if (stopped) return;
        if (Date.now() > deadline) return finish('The code expired before it was approved: start the login again.', false);
        try {
          const { status: code2, data } = await api('POST', accountPath(account, '/login/poll'));
          if (stopped) return;
          if (code2 === 200 && data?.status === 'authorized') {
            loggedIn = true;
            finish(`Authorized: the account ${account} is logged in and in the pool.`, true);
            toast(`Account ${account} logged in.`);
            return;
          }
          if (data?.status === 'slow_down') interval = Math.max(interval + 1, Number(data.interval) || interval + 5);
          replace(status, data?.status === 'slow_down' ? 'Waiting for approval… (the server asked us to poll more slowly)' : 'Waiting for approval…');
        } catch (err) {
          if (stopped) return;
          // The OAuth server had trouble: the login is still there, ask again.
          if (err instanceof ApiError && err.status === 502) {
            replace(status, `The Qwen OAuth server had trouble (${err.message}); trying again…`);
          } else {
            return finish(`The login ended: ${err.message}`, false);
          }
        }
        timer = setTimeout(poll, interval * 1000);
      };
      timer = setTimeout(poll, interval * 1000);
    }

    document.body.append(d);
    d.showModal();
  });
}
