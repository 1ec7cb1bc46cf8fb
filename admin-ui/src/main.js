// The dashboard's entry: sign-in with the admin key (kept in this tab's sessionStorage, sent as
// a bearer header), the "admin is disabled" notice, and the three tabs.

import { api, session, whenSignedOut } from './api.js';
import { h, replace } from './dom.js';
import { accountsView } from './accounts.js';
import { keysView } from './keys.js';
import { usageView } from './usage.js';

const app = document.getElementById('app');
const nav = document.getElementById('nav');
const signOut = document.getElementById('sign-out');
const views = { accounts: accountsView(), keys: keysView(), usage: usageView() };
let current = null;

function leave() {
  current?.hide();
  current = null;
  nav.hidden = true;
  signOut.hidden = true;
}

function showSignIn(message) {
  leave();
  const key = h('input', { type: 'password', name: 'key', id: 'admin-key', required: true, autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'signin-help' });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: !message }, message ?? '');
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'form signin', novalidate: true },
    h('h1', {}, 'Sign in'),
    h('div', { class: 'field' }, h('label', { class: 'field-label', for: 'admin-key' }, 'Admin key'), key),
    h('p', { class: 'field-hint', id: 'signin-help' },
      "The gateway's ADMIN_SECRET_KEY. It stays in this browser tab only (sessionStorage) and is sent to this gateway as an Authorization header."),
    error, button);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const value = key.value.trim();
    if (!value) { replace(error, 'Enter the admin key.'); error.hidden = false; return; }
    button.disabled = true;
    try {
      const { data } = await api('GET', '/admin/health?format=json', undefined, { key: value, quiet: true });
      session.set(value);
      enter(data);
    } catch (err) {
      if (err.code === 'admin_disabled') return showDisabled();
      replace(error, err.code === 'invalid_admin_key'
        ? "That key was refused: it is not this gateway's admin key (ADMIN_SECRET_KEY)."
        : `Signing in failed: ${err.message}`);
      error.hidden = false;
      key.select();
    } finally {
      button.disabled = false;
    }
  });
  replace(app, h('section', { class: 'center-card' }, form));
  key.focus();
}

function showDisabled() {
  leave();
  replace(app, h('section', { class: 'center-card notice', id: 'admin-disabled', role: 'alert' },
    h('h1', {}, 'Admin is disabled on this gateway'),
    h('p', {}, 'The admin API is turned off because the ADMIN_SECRET_KEY secret is not set, so there is nothing to sign in to.'),
    h('p', {}, 'Set it with ', h('code', {}, 'npm run secrets:put'), ' or ', h('code', {}, 'wrangler secret put ADMIN_SECRET_KEY'),
      ' (for wrangler dev: in .dev.vars), then reload this page.'),
    h('button', { type: 'button', onclick: () => location.reload() }, 'Reload')));
}

function enter(health) {
  nav.hidden = false;
  signOut.hidden = false;
  route(health);
}

function route(health) {
  const name = Object.hasOwn(views, location.hash.slice(1)) ? location.hash.slice(1) : 'accounts';
  current?.hide();
  current = views[name];
  for (const a of nav.querySelectorAll('a')) {
    if (a.getAttribute('href') === `#${name}`) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  replace(app, current.el);
  current.show(name === 'accounts' ? health : undefined);
}

window.addEventListener('hashchange', () => { if (session.get() && !nav.hidden) route(); });
signOut.addEventListener('click', () => { session.clear(); showSignIn(); });
whenSignedOut((err) => {
  session.clear();
  if (err.code === 'admin_disabled') showDisabled();
  else showSignIn('Your admin key was refused (has it changed?). Sign in again.');
});

async function boot() {
  const key = session.get();
  if (key) {
    try {
      const { data } = await api('GET', '/admin/health?format=json', undefined, { quiet: true });
      return enter(data);
    } catch (err) {
      if (err.code === 'admin_disabled') return showDisabled();
      if (err.code === 'invalid_admin_key') { session.clear(); return showSignIn('The saved admin key was refused. Sign in again.'); }
      return showSignIn(`The gateway could not be asked: ${err.message}`);
    }
  }
  try {
    const { data } = await api('GET', '/', undefined, { key: null, quiet: true });
    if (data?.admin_api === false) return showDisabled();
  } catch { /* the sign-in form says what goes wrong */ }
  showSignIn();
}

boot();
