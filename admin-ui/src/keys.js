// The Keys tab: client keys with their limits and spend (GET /admin/keys); create (the key is
// shown once, with a copy button), edit limits (PATCH), revoke (DELETE).

import { api, isMissingRoute } from './api.js';
import { h, field, replace, toast, confirmAction, formDialog, dialog, copyText } from './dom.js';
import { fmtDateTime, fmtNumber, fmtCompact } from './format.js';

const LIMITS = [
  ['requests_per_minute', 'Requests per minute'],
  ['tokens_per_day', 'Tokens per day'],
  ['tokens_per_month', 'Tokens per month'],
];

/** Epoch ms of an API time (RFC 3339 text or epoch ms); NaN when absent. */
export function toMs(v) {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v) return Date.parse(v);
  return NaN;
}

export function keysView() {
  const body = h('div', { class: 'table-wrap' }, h('p', { class: 'muted' }, 'Loading keys…'));
  let keys = [];

  async function load() {
    try {
      const { data } = await api('GET', '/admin/keys');
      keys = Array.isArray(data?.keys) ? data.keys : [];
      replace(body, keys.length ? table() : h('div', { class: 'empty' }, h('p', {}, 'No client key yet.'),
        h('p', { class: 'muted' }, 'Create one for each person or tool, with its own limits.')));
    } catch (err) {
      replace(body, isMissingRoute(err)
        ? h('div', { class: 'empty' }, h('p', {}, 'This gateway has no keys API (GET /admin/keys answered 404).'),
          h('p', { class: 'muted' }, 'Its client keys come from the OPENAI_API_KEYS secret; a newer build manages them here.'))
        : h('p', { class: 'form-error', role: 'alert' }, `Could not load the keys: ${err.message}`));
    }
  }

  function table() {
    const now = Date.now();
    return h('table', { class: 'grid keys' },
      h('thead', {}, h('tr', {}, ['Name', 'Models', 'Limits', 'Spend', 'Expires', 'Created', ''].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, keys.map((k) => row(k, now))));
  }

  function row(k, now) {
    const revoked = Number.isFinite(toMs(k.revoked_at));
    const expiresAt = toMs(k.expires_at);
    const expired = Number.isFinite(expiresAt) && expiresAt <= now;
    const limits = k.limits ?? {};
    const spend = k.spend ?? {};
    const state = revoked ? h('span', { class: 'badge bad' }, 'revoked') : expired ? h('span', { class: 'badge warn' }, 'expired') : null;
    return h('tr', { class: revoked ? 'revoked' : '', dataset: { key: k.id } },
      h('th', { scope: 'row', 'data-label': 'Name' }, h('div', { class: 'key-name' }, k.name ?? '–'), h('div', { class: 'muted small mono' }, k.id), state),
      h('td', { 'data-label': 'Models' }, Array.isArray(k.models) && k.models.length ? k.models.map((m) => h('span', { class: 'chip' }, m)) : h('span', { class: 'muted' }, 'all')),
      h('td', { 'data-label': 'Limits', class: 'small' }, LIMITS.map(([name, label]) =>
        Number.isFinite(limits[name]) ? h('div', {}, `${label}: ${fmtNumber(limits[name])}`) : null),
      LIMITS.some(([name]) => Number.isFinite(limits[name])) ? null : h('span', { class: 'muted' }, 'none')),
      h('td', { 'data-label': 'Spend', class: 'small' },
        h('div', {}, `Today: ${fmtNumber(spend.requests_today)} requests, ${fmtCompact(spend.tokens_today)} tokens`),
        meter(spend.tokens_today, limits.tokens_per_day, 'of the daily token limit'),
        h('div', {}, `This month: ${fmtCompact(spend.tokens_this_month)} tokens`),
        meter(spend.tokens_this_month, limits.tokens_per_month, 'of the monthly token limit')),
      h('td', { 'data-label': 'Expires' }, Number.isFinite(expiresAt) ? fmtDateTime(expiresAt) : h('span', { class: 'muted' }, 'never')),
      h('td', { 'data-label': 'Created' }, fmtDateTime(toMs(k.created_at))),
      h('td', { class: 'actions' }, revoked ? h('span', { class: 'muted small' }, `revoked ${fmtDateTime(toMs(k.revoked_at))}`) : [
        h('button', { type: 'button', onclick: () => edit(k) }, 'Edit'),
        h('button', { type: 'button', class: 'danger', onclick: () => revoke(k) }, 'Revoke')]));
  }

  function meter(used, limit, what) {
    if (!Number.isFinite(limit) || limit <= 0 || !Number.isFinite(used)) return null;
    const share = Math.min(1, used / limit);
    return h('div', { class: 'meter-line' },
      h('progress', { max: '100', value: String(Math.round(share * 100)), class: share >= 0.9 ? 'high' : '' }),
      h('span', { class: 'muted' }, ` ${Math.round(share * 100)}% ${what}`));
  }

  /** The fields of create and edit, filled from `k` when editing. */
  function keyFields(k) {
    const num = (name) => h('input', { name, type: 'number', min: '0', step: '1', inputmode: 'numeric', value: Number.isFinite(k?.limits?.[name]) ? String(k.limits[name]) : '' });
    const expires = Number.isFinite(toMs(k?.expires_at)) ? localInput(toMs(k.expires_at)) : '';
    return [
      field('Name', h('input', { name: 'name', required: true, maxlength: 100, autocomplete: 'off', value: k?.name ?? '' }), 'Who or what uses it.'),
      field('Models (optional)', h('input', { name: 'models', autocomplete: 'off', value: (k?.models ?? []).join(', '), placeholder: 'all models' }), 'Comma-separated; empty: every model.'),
      field('Expires (optional)', h('input', { name: 'expires_at', type: 'datetime-local', value: expires }), 'Your local time; empty: never.'),
      h('fieldset', { class: 'limits' }, h('legend', {}, 'Limits (empty: none)'), LIMITS.map(([name, label]) => field(label, num(name)))),
    ];
  }

  /** The request body from the form; `clearing`: send null for emptied fields (edit). */
  function keyBody(form, clearing) {
    const v = (n) => form.elements[n].value.trim();
    const body = { name: v('name') };
    const models = v('models').split(/[\s,]+/).filter(Boolean);
    if (models.length) body.models = models; else if (clearing) body.models = null;
    if (v('expires_at')) body.expires_at = new Date(v('expires_at')).toISOString(); else if (clearing) body.expires_at = null;
    const limits = {};
    for (const [name, label] of LIMITS) {
      if (v(name) === '') { if (clearing) limits[name] = null; continue; }
      const n = Number(v(name));
      if (!Number.isInteger(n) || n < 0) throw new Error(`${label} must be a whole number (or empty for no limit).`);
      limits[name] = n;
    }
    if (Object.keys(limits).length) body.limits = limits;
    return body;
  }

  async function create() {
    const created = await formDialog({
      title: 'Create a client key',
      fields: keyFields(null),
      submitLabel: 'Create key',
      async submit(form) {
        const { data } = await api('POST', '/admin/keys', keyBody(form, false));
        return data;
      },
    });
    if (!created) return;
    await load();
    await showOnce(created);
  }

  async function showOnce(created) {
    const key = String(created.key ?? '');
    const out = h('input', { class: 'mono once-key', readonly: true, value: key, 'aria-label': 'The new key' });
    const copied = h('span', { class: 'muted', role: 'status' });
    const copy = h('button', { type: 'button', class: 'primary', onclick: async () => {
      out.select();
      replace(copied, (await copyText(key)) ? 'Copied.' : 'Select it and copy it by hand.');
    } }, 'Copy');
    await dialog({
      title: `Key for ${created.name ?? 'the new client'}`,
      body: h('div', { class: 'once' }, h('p', {}, 'This is the only time the key is shown. Copy it now and give it to its user.'),
        h('div', { class: 'copy-row' }, out, copy), copied),
      buttons: [{ label: 'I have copied it', value: true }],
    });
  }

  async function edit(k) {
    const saved = await formDialog({
      title: `Edit ${k.name ?? k.id}`,
      fields: keyFields(k),
      submitLabel: 'Save',
      async submit(form) {
        await api('PATCH', `/admin/keys/${encodeURIComponent(k.id)}`, keyBody(form, true));
        return true;
      },
    });
    if (saved) { toast(`Key ${k.name ?? k.id} saved.`); await load(); }
  }

  async function revoke(k) {
    if (!(await confirmAction('Revoke key', `Revoke the key ${k.name ?? k.id}? Its user gets 401 from now on. This cannot be undone.`, 'Revoke', true))) return;
    try {
      await api('DELETE', `/admin/keys/${encodeURIComponent(k.id)}`);
      toast(`Key ${k.name ?? k.id} revoked.`);
      await load();
    } catch (err) {
      toast(`Revoking failed: ${err.message}`, 'error');
    }
  }

  const el = h('section', { class: 'view', id: 'view-keys', 'aria-labelledby': 'keys-title' },
    h('div', { class: 'view-head' }, h('h1', { id: 'keys-title' }, 'Client keys'),
      h('div', { class: 'toolbar' },
        h('button', { type: 'button', onclick: () => load() }, 'Refresh'),
        h('button', { type: 'button', class: 'primary', onclick: () => create().catch((err) => toast(err.message, 'error')) }, 'Create key'))),
    body);
  return { el, show: load, hide() {} };
}

/** A datetime-local value for epoch ms, in local time. */
function localInput(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
