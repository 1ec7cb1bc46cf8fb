// Formatting of times, durations, numbers and statuses for people.

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });
const number = new Intl.NumberFormat();
const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });

export const fmtNumber = (n) => (Number.isFinite(n) ? number.format(n) : '–');
export const fmtCompact = (n) => (Number.isFinite(n) ? compact.format(n) : '–');

export function fmtDateTime(ms) {
  if (!Number.isFinite(ms)) return '–';
  const d = new Date(ms);
  return Math.abs(ms - Date.now()) < 12 * 3600_000 ? timeOnly.format(d) : dateTime.format(d);
}

/** "3 h 20 min", "45 s", "2 d 4 h". */
export function fmtDuration(ms) {
  const secs = Math.max(0, Math.round(ms / 1000));
  if (secs < 90) return `${secs} s`;
  const mins = Math.round(secs / 60);
  if (mins < 60) return `${mins} min`;
  if (mins < 1440) return `${Math.floor(mins / 60)} h ${mins % 60} min`;
  return `${Math.floor(mins / 1440)} d ${Math.floor((mins % 1440) / 60)} h`;
}

/** "in 5 min" / "5 min ago". */
export function fmtRelative(ms, now = Date.now()) {
  if (!Number.isFinite(ms)) return '';
  return ms >= now ? `in ${fmtDuration(ms - now)}` : `${fmtDuration(now - ms)} ago`;
}

export const fmtPercent = (x) => (Number.isFinite(x) ? `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%` : '–');
export const fmtMs = (ms) => (Number.isFinite(ms) ? (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`) : '–');

/** The next UTC midnight after `now`: when the daily quota list is cleared. */
export function nextUtcMidnight(now = Date.now()) {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
}

/** `YYYY-MM-DD` of a local date. */
export function isoDay(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** The words and badge class of each account status of /admin/health. */
export const STATUS = {
  healthy: { label: 'healthy', tone: 'good' },
  expired: { label: 'token expired', tone: 'good', note: 'refreshed on next use' },
  throttled: { label: 'cooling down', tone: 'warn' },
  quota_exceeded: { label: 'quota exceeded', tone: 'warn' },
  out: { label: 'out', tone: 'warn' },
  dead: { label: 'dead', tone: 'bad' },
  discontinued: { label: 'discontinued', tone: 'bad' },
  missing_credentials: { label: 'no credentials', tone: 'bad' },
};

export const KIND_NAMES = {
  oauth: 'Qwen OAuth',
  api_key: 'API key',
  dashscope: 'DashScope',
  token_plan: 'Token Plan',
  coding_plan: 'Coding Plan',
  openai_compatible: 'OpenAI-compatible',
};
