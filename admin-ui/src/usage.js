// The Usage tab: requests, tokens, error rate and latency per day, split by key, model or
// account, over a chosen range of (UTC) days, from GET /admin/usage.

import { api, ApiError, isMissingRoute } from './api.js';
import { h, replace, toast } from './dom.js';
import { barChart, lineChart, PALETTE_SIZE } from './charts.js';
import { fmtNumber, fmtCompact, fmtPercent, fmtMs } from './format.js';

const PRESETS = [[1, 'Today'], [7, '7 days'], [30, '30 days'], [90, '90 days']];
const DIMENSIONS = [['key', 'Key'], ['model', 'Model'], ['account', 'Account']];
const DAY_MS = 86_400_000;

const utcDay = (ms) => new Date(ms).toISOString().slice(0, 10);

/** Every UTC day from `from` to `to`, both included. */
export function daysBetween(from, to) {
  const out = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`) && out.length < 400; t += DAY_MS) out.push(utcDay(t));
  return out;
}

const tokensOf = (r) => (r.input_tokens || 0) + (r.output_tokens || 0);
const SUMS = ['requests', 'errors', 'input_tokens', 'output_tokens', 'cached_tokens', 'reasoning_tokens', 'latency_ms_total'];
/** A row's total latency: the API's sum, or its average times its requests. */
const latencyOf = (r) => (Number.isFinite(r.latency_ms_total) ? r.latency_ms_total
  : Number.isFinite(r.latency_ms_avg) ? r.latency_ms_avg * (r.requests || 0) : NaN);

/**
 * Rows of `group_by=day,<dim>` to the charts' series: the busiest groups each on their own, the
 * rest as "other". `names` turns a group value into what is shown.
 */
export function summarize(rows, dim, days, names = (v) => v) {
  const byGroup = new Map();
  for (const r of rows) {
    const g = r[dim] === undefined || r[dim] === null || r[dim] === '' ? '(none)' : names(String(r[dim]));
    const t = byGroup.get(g) ?? { name: g, requests: 0, errors: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0, reasoning_tokens: 0, latencySum: 0, latencyN: 0, days: new Map() };
    t.requests += r.requests || 0;
    t.errors += r.errors || 0;
    for (const k of ['input_tokens', 'output_tokens', 'cached_tokens', 'reasoning_tokens']) t[k] += r[k] || 0;
    if (Number.isFinite(latencyOf(r)) && r.requests > 0) { t.latencySum += latencyOf(r); t.latencyN += r.requests; }
    if (r.day) {
      const d = t.days.get(r.day) ?? { requests: 0, tokens: 0 };
      d.requests += r.requests || 0;
      d.tokens += tokensOf(r);
      t.days.set(r.day, d);
    }
    byGroup.set(g, t);
  }
  const groups = [...byGroup.values()].sort((a, b) => b.requests - a.requests || a.name.localeCompare(b.name));
  const shown = groups.length > PALETTE_SIZE ? groups.slice(0, PALETTE_SIZE - 1) : groups;
  const rest = groups.slice(shown.length);
  const series = (metric) => {
    const out = shown.map((g) => ({ name: g.name, values: days.map((d) => g.days.get(d)?.[metric] ?? 0) }));
    if (rest.length) out.push({ name: `other (${rest.length})`, values: days.map((d) => rest.reduce((s, g) => s + (g.days.get(d)?.[metric] ?? 0), 0)) });
    return out;
  };
  const perDay = days.map((d) => rows.filter((r) => r.day === d));
  const sum = (list, f) => list.reduce((s, r) => s + f(r), 0);
  const errorRate = perDay.map((list) => { const n = sum(list, (r) => r.requests || 0); return n ? sum(list, (r) => r.errors || 0) / n : null; });
  const latency = perDay.map((list) => {
    const timed = list.filter((r) => Number.isFinite(latencyOf(r)) && r.requests > 0);
    const n = sum(timed, (r) => r.requests);
    return n ? sum(timed, latencyOf) / n : null;
  });
  return { groups, requests: series('requests'), tokens: series('tokens'), errorRate, latency };
}

export function usageView() {
  const from = h('input', { type: 'date', name: 'from', 'aria-label': 'From (UTC day)' });
  const to = h('input', { type: 'date', name: 'to', 'aria-label': 'To (UTC day)' });
  const dim = h('select', { name: 'group_by', 'aria-label': 'Split by' }, DIMENSIONS.map(([v, l]) => h('option', { value: v }, `by ${l.toLowerCase()}`)));
  const presets = h('div', { class: 'segmented', role: 'group', 'aria-label': 'Range' });
  const out = h('div', { class: 'usage-body' }, h('p', { class: 'muted' }, 'Loading usage…'));
  let preset = 7;

  function setPreset(n) {
    preset = n;
    const now = Date.now();
    to.value = utcDay(now);
    from.value = utcDay(now - (n - 1) * DAY_MS);
    for (const b of presets.children) b.setAttribute('aria-pressed', String(Number(b.dataset.days) === n));
  }
  for (const [n, label] of PRESETS) presets.append(h('button', { type: 'button', dataset: { days: n }, onclick: () => { setPreset(n); load(); } }, label));
  setPreset(preset);
  const custom = () => { preset = null; for (const b of presets.children) b.setAttribute('aria-pressed', 'false'); load(); };
  from.addEventListener('change', custom);
  to.addEventListener('change', custom);
  dim.addEventListener('change', () => load());

  async function keyNames() {
    try {
      const { data } = await api('GET', '/admin/keys', undefined, { quiet: true });
      return new Map((data?.keys ?? []).map((k) => [String(k.id), String(k.name ?? k.id)]));
    } catch {
      return new Map();
    }
  }

  /**
   * Rows with both `day` and the dimension `d`: one call where the API groups by both at once;
   * else the dimension's totals, each of the busiest groups day by day (filtered by it), and the
   * rest as each day's total less those.
   */
  async function fetchRows(range, d) {
    const base = `/admin/usage?from=${range.from}&to=${range.to}`;
    try {
      const rows = (await api('GET', `${base}&group_by=day,${d}`)).data?.rows ?? [];
      return { rows, table: rows };
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 400)) throw err;
    }
    const [byDim, byDay] = await Promise.all([api('GET', `${base}&group_by=${d}`), api('GET', `${base}&group_by=day`)]);
    const table = byDim.data?.rows ?? [];
    const groups = table.filter((r) => r[d] !== undefined && r[d] !== null).sort((a, b) => b.requests - a.requests);
    const top = groups.slice(0, groups.length > PALETTE_SIZE ? PALETTE_SIZE - 1 : PALETTE_SIZE);
    const each = await Promise.all(top.map((g) => api('GET', `${base}&group_by=day&${d}=${encodeURIComponent(g[d])}`)));
    const rows = top.flatMap((g, i) => (each[i].data?.rows ?? []).map((r) => ({ ...r, [d]: g[d] })));
    if (groups.length > top.length) {
      const other = `other (${groups.length - top.length})`;
      for (const total of byDay.data?.rows ?? []) {
        const rest = { day: total.day, [d]: other };
        for (const k of SUMS) rest[k] = Math.max(0, (total[k] || 0) - rows.filter((r) => r.day === total.day).reduce((n, r) => n + (r[k] || 0), 0));
        if (rest.requests > 0) rows.push(rest);
      }
    }
    return { rows, table };
  }

  let latest = 0;
  async function load() {
    // Only the last load asked for is shown, whichever answers first.
    const mine = ++latest;
    const range = { from: from.value, to: to.value };
    if (!range.from || !range.to || range.from > range.to) {
      replace(out, h('p', { class: 'form-error', role: 'alert' }, 'Choose a range whose start is on or before its end.'));
      return;
    }
    const d = dim.value;
    try {
      const [got, names] = await Promise.all([fetchRows(range, d), d === 'key' ? keyNames() : new Map()]);
      if (mine === latest) render(range, d, got, (v) => names.get(v) ?? v);
    } catch (err) {
      if (mine !== latest) return;
      replace(out, isMissingRoute(err)
        ? h('div', { class: 'empty' }, h('p', {}, 'This gateway has no usage API (GET /admin/usage answered 404).'))
        : h('p', { class: 'form-error', role: 'alert' }, `Could not load usage: ${err.message}`));
    }
  }

  function render(range, d, got, names) {
    const days = daysBetween(range.from, range.to);
    const label = DIMENSIONS.find(([v]) => v === d)[1];
    const split = summarize(got.rows, d, days, names);
    const table = summarize(got.table, d, days, names).groups;
    const total = table.reduce((t, g) => ({ requests: t.requests + g.requests, errors: t.errors + g.errors, tokens: t.tokens + g.input_tokens + g.output_tokens, latencySum: t.latencySum + g.latencySum, latencyN: t.latencyN + g.latencyN }),
      { requests: 0, errors: 0, tokens: 0, latencySum: 0, latencyN: 0 });
    if (!total.requests) {
      replace(out, h('div', { class: 'empty' }, h('p', {}, `No traffic from ${range.from} to ${range.to} (UTC).`)));
      return;
    }
    replace(out,
      h('div', { class: 'summary' },
        tile(fmtNumber(total.requests), 'requests', 'requests'),
        tile(fmtCompact(total.tokens), 'tokens', 'tokens'),
        tile(fmtPercent(total.errors / total.requests), 'error rate', 'error-rate'),
        tile(total.latencyN ? fmtMs(total.latencySum / total.latencyN) : '–', 'avg latency', 'latency')),
      h('div', { class: 'charts' },
        barChart({ title: `Requests per day by ${label.toLowerCase()}`, name: 'requests', days, series: split.requests, format: fmtCompact }),
        barChart({ title: `Tokens per day by ${label.toLowerCase()}`, name: 'tokens', days, series: split.tokens, format: fmtCompact }),
        lineChart({ title: 'Error rate per day', name: 'errors', days, values: split.errorRate, format: fmtPercent }),
        lineChart({ title: 'Average latency per day', name: 'latency', days, values: split.latency, format: fmtMs })),
      h('div', { class: 'table-wrap' }, h('table', { class: 'grid usage' },
        h('thead', {}, h('tr', {}, [label, 'Requests', 'Errors', 'Error rate', 'Input tokens', 'Output tokens', 'Cached', 'Reasoning', 'Avg latency'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, table.map((g) => h('tr', { dataset: { group: g.name } },
          h('th', { scope: 'row', 'data-label': label, class: 'mono' }, g.name),
          h('td', { 'data-label': 'Requests' }, fmtNumber(g.requests)),
          h('td', { 'data-label': 'Errors' }, fmtNumber(g.errors)),
          h('td', { 'data-label': 'Error rate' }, fmtPercent(g.requests ? g.errors / g.requests : NaN)),
          h('td', { 'data-label': 'Input tokens' }, fmtNumber(g.input_tokens)),
          h('td', { 'data-label': 'Output tokens' }, fmtNumber(g.output_tokens)),
          h('td', { 'data-label': 'Cached' }, fmtNumber(g.cached_tokens)),
          h('td', { 'data-label': 'Reasoning' }, fmtNumber(g.reasoning_tokens)),
          h('td', { 'data-label': 'Avg latency' }, g.latencyN ? fmtMs(g.latencySum / g.latencyN) : '–')))))));
  }

  const tile = (value, label, name) => h('div', { class: 'tile', dataset: { tile: name } }, h('span', { class: 'tile-value' }, value), h('span', { class: 'tile-label' }, label));

  const el = h('section', { class: 'view', id: 'view-usage', 'aria-labelledby': 'usage-title' },
    h('div', { class: 'view-head' }, h('h1', { id: 'usage-title' }, 'Usage'),
      h('div', { class: 'toolbar range' }, presets, h('span', { class: 'range-dates' }, from, '–', to), dim,
        h('button', { type: 'button', onclick: () => { if (preset) setPreset(preset); load().catch((e) => toast(e.message, 'error')); } }, 'Refresh'))),
    out);
  return { el, show: () => { if (preset) setPreset(preset); return load(); }, hide() {} };
}
