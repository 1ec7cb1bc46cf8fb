// The Accounts tab: every account of /admin/health with its state, and what an operator does
// with them (reset, delete, probe, add an API-key account, log an OAuth account in).

import { api, accountPath } from './api.js';
import { h, replace, toast, confirmAction } from './dom.js';
import { STATUS, KIND_NAMES, fmtDateTime, fmtDuration, fmtRelative, nextUtcMidnight } from './format.js';
import { addKeyAccount } from './account-form.js';
import { deviceLogin } from './device-login.js';

const REFRESH_MS = 30_000;
const SUMMARY = [
  ['total_accounts', 'accounts'],
  ['usable_accounts', 'usable'],
  ['throttled_accounts', 'cooling down'],
  ['quota_exceeded_accounts', 'quota exceeded'],
  ['out_accounts', 'out'],
  ['dead_accounts', 'dead'],
  ['discontinued_accounts', 'discontinued'],
];

export function accountsView() {
  const summary = h('div', { class: 'summary', 'aria-label': 'Account summary' });
  const updated = h('span', { class: 'muted updated' });
  const body = h('div', { class: 'table-wrap' }, h('p', { class: 'muted' }, 'Loading accounts…'));
  let probes = new Map();
  let timer = null;
  let last = null;

  async function load({ probe = false } = {}) {
    const { data } = await api('GET', `/admin/health?format=json${probe ? '&probe=true' : ''}`);
    take(data);
  }

  function take(data) {
    last = data;
    // A probe's results stay shown until the next probe.
    if (data.accounts.some((a) => a.probe !== undefined)) probes = new Map(data.accounts.map((a) => [a.account, a.probe]));
    render();
  }

  function render() {
    if (!last) return;
    replace(summary, SUMMARY.map(([k, label]) =>
      h('div', { class: `tile ${k}` }, h('span', { class: 'tile-value' }, String(last.summary?.[k] ?? 0)), h('span', { class: 'tile-label' }, label))));
    replace(updated, `Updated ${fmtDateTime(last.timestamp)}`);
    replace(body, last.accounts.length ? table(last.accounts) : empty());
  }

  function empty() {
    return h('div', { class: 'empty' }, h('p', {}, 'No account yet.'),
      h('p', { class: 'muted' }, 'Add an API-key account or log in a Qwen OAuth account with the buttons above.'));
  }

  function table(accounts) {
    const now = Date.now();
    const showProbe = probes.size > 0;
    const head = ['Account', 'Kind', 'Status', 'Capabilities', 'Token', 'Last error', 'Back', ...(showProbe ? ['Probe'] : []), ''];
    return h('table', { class: 'grid accounts' },
      h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, accounts.map((a) => row(a, now, showProbe))));
  }

  function row(a, now, showProbe) {
    const st = STATUS[a.status] ?? { label: String(a.status), tone: 'bad' };
    const label = a.status === 'out' && Number.isFinite(a.out_until) ? `out until ${fmtDateTime(a.out_until)}` : st.label;
    const status = h('td', { 'data-label': 'Status' },
      h('span', { class: `badge ${st.tone}`, dataset: { status: a.status } }, label),
      st.note ? h('div', { class: 'muted small' }, st.note) : null,
      a.failure_reason ? h('div', { class: 'small reason' }, a.failure_reason) : null);
    const lastError = a.last_error
      ? [h('div', { class: 'small error-text' }, a.last_error), a.last_error_at ? h('div', { class: 'muted small' }, fmtRelative(a.last_error_at, now)) : null]
      : h('span', { class: 'muted' }, '–');
    return h('tr', { dataset: { account: a.account } },
      h('th', { scope: 'row', class: 'account-id', 'data-label': 'Account' }, a.account),
      h('td', { 'data-label': 'Kind' }, KIND_NAMES[a.kind] ?? (a.kind ? String(a.kind) : '–')),
      status,
      h('td', { 'data-label': 'Capabilities' }, (a.capabilities ?? []).map((c) => h('span', { class: 'chip' }, c))),
      h('td', { 'data-label': 'Token' }, token(a)),
      h('td', { 'data-label': 'Last error' }, lastError),
      h('td', { 'data-label': 'Back' }, backAt(a, now)),
      showProbe ? h('td', { 'data-label': 'Probe', class: 'small' }, probes.get(a.account) ?? '–') : null,
      h('td', { class: 'actions' },
        h('button', { type: 'button', onclick: () => reset(a.account) }, 'Reset'),
        h('button', { type: 'button', class: 'danger', onclick: () => remove(a.account) }, 'Delete')));
  }

  function token(a) {
    if (a.kind && a.kind !== 'oauth') return h('span', { class: 'muted' }, 'key (no expiry)');
    if (!Number.isFinite(a.expires_in_seconds)) return a.expiresIn ?? '–';
    return a.expires_in_seconds > 0 ? `${fmtDuration(a.expires_in_seconds * 1000)} left` : 'expired';
  }

  function backAt(a, now) {
    let at = null;
    if (a.status === 'out') at = a.out_until;
    else if (a.status === 'throttled') at = a.cooldown_until;
    else if (a.status === 'quota_exceeded') at = nextUtcMidnight(now);
    if (!Number.isFinite(at)) return h('span', { class: 'muted' }, a.status === 'dead' || a.status === 'discontinued' ? 'needs new credentials' : '–');
    return [h('div', {}, fmtDateTime(at)), h('div', { class: 'muted small' }, fmtRelative(at, now))];
  }

  async function reset(id) {
    try {
      await api('POST', accountPath(id, '/reset'));
      toast(`Account ${id} reset: it is back in the pool.`);
      await load();
    } catch (err) {
      toast(`Reset of ${id} failed: ${err.message}`, 'error');
    }
  }

  async function remove(id) {
    const sure = await confirmAction('Delete account', `Delete the account ${id} and its stored credentials? This cannot be undone.`, 'Delete', true);
    if (!sure) return;
    try {
      await api('DELETE', accountPath(id));
      toast(`Account ${id} deleted.`);
      probes.delete(id);
      await load();
    } catch (err) {
      toast(`Delete of ${id} failed: ${err.message}`, 'error');
    }
  }

  async function probeAll(button) {
    const n = last?.accounts.length ?? 0;
    const sure = await confirmAction('Probe every account',
      `Send one tiny real request through each of the ${n} accounts? It costs one request of each account's quota.`, 'Probe');
    if (!sure) return;
    button.disabled = true;
    replace(button, 'Probing…');
    try {
      await load({ probe: true });
      toast('Probe finished: see the Probe column.');
    } catch (err) {
      toast(`Probe failed: ${err.message}`, 'error');
    } finally {
      button.disabled = false;
      replace(button, 'Probe all');
    }
  }

  const ids = () => new Set(last?.accounts.map((a) => a.account) ?? []);
  const probeButton = h('button', { type: 'button', onclick: (e) => probeAll(e.currentTarget) }, 'Probe all');
  const view = h('section', { class: 'view', id: 'view-accounts', 'aria-labelledby': 'accounts-title' },
    h('div', { class: 'view-head' },
      h('h1', { id: 'accounts-title' }, 'Accounts'),
      h('div', { class: 'toolbar' },
        h('button', { type: 'button', onclick: () => load().catch((err) => toast(err.message, 'error')) }, 'Refresh'),
        probeButton,
        h('button', { type: 'button', class: 'primary', onclick: async () => { if (await addKeyAccount(ids())) await load(); } }, 'Add API-key account'),
        h('button', { type: 'button', class: 'primary', onclick: async () => { if (await deviceLogin(ids())) await load(); } }, 'Log in OAuth account'))),
    summary, updated, body);

  return {
    el: view,
    /** `fetched`: the /admin/health answer that signing in already got, shown without asking again. */
    async show(fetched) {
      clearInterval(timer);
      timer = setInterval(() => { if (!document.hidden) load().catch(() => {}); }, REFRESH_MS);
      if (fetched) return take(fetched);
      try {
        await load();
      } catch (err) {
        replace(body, h('p', { class: 'form-error', role: 'alert' }, `Could not load the accounts: ${err.message}`));
      }
    },
    hide() { clearInterval(timer); },
  };
}
