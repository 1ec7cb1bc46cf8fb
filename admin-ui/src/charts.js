// Hand-drawn SVG charts: stacked bars per day and a line per day. Labels are text nodes; colours
// come from the stylesheet (classes s0…s7), so no style is written here.

import { h, s } from './dom.js';

const W = 640;
const H = 220;
const PAD = { top: 12, right: 12, bottom: 30, left: 64 };
export const PALETTE_SIZE = 8;

/** A round upper bound for an axis and its step (4 steps). */
function scale(max) {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((v) => v >= raw);
  return { top: step * 4, step };
}

function frame(label, top, step, format, days) {
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const y = (v) => PAD.top + plotH - (v / top) * plotH;
  const grid = [];
  for (let v = 0; v <= top + step / 2; v += step) {
    grid.push(s('line', { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: 'grid-line' }),
      s('text', { x: PAD.left - 6, y: y(v) + 4, class: 'axis-label', 'text-anchor': 'end' }, format(v)));
  }
  const every = Math.ceil(days.length / 10);
  const slot = plotW / Math.max(1, days.length);
  const xLabels = days.map((d, i) => (i % every === 0
    ? s('text', { x: PAD.left + slot * (i + 0.5), y: H - 8, class: 'axis-label', 'text-anchor': 'middle' }, d.slice(5))
    : null));
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart-svg', role: 'img', 'aria-label': label }, grid, xLabels);
  return { svg, y, slot, plotH };
}

function card(title, chartName, svg, legend) {
  return h('figure', { class: 'chart', dataset: { chart: chartName } }, h('figcaption', {}, title), svg, legend ?? null);
}

/**
 * Stacked bars: `days` (YYYY-MM-DD), `series` [{name, values[] per day}]. Every bar carries its
 * numbers in data attributes and a <title> tooltip.
 */
export function barChart({ title, name, days, series, format }) {
  const totals = days.map((_, i) => series.reduce((sum, se) => sum + (se.values[i] || 0), 0));
  const { top, step } = scale(Math.max(0, ...totals));
  const f = frame(title, top, step, format, days);
  const barW = Math.max(2, f.slot * 0.7);
  days.forEach((day, i) => {
    let base = 0;
    series.forEach((se, k) => {
      const v = se.values[i] || 0;
      if (v <= 0) return;
      const y0 = f.y(base);
      const y1 = f.y(base + v);
      base += v;
      f.svg.append(s('rect', {
        x: PAD.left + f.slot * i + (f.slot - barW) / 2, y: y1, width: barW, height: Math.max(0.5, y0 - y1),
        class: `bar s${k % PALETTE_SIZE}`, dataset: { day, group: se.name, value: v },
      }, s('title', {}, `${day} · ${se.name}: ${format(v)}`)));
    });
  });
  const legend = h('ul', { class: 'legend' }, series.map((se, k) =>
    h('li', {}, h('span', { class: `swatch s${k % PALETTE_SIZE}`, 'aria-hidden': 'true' }), se.name)));
  return card(title, name, f.svg, legend);
}

/** A line of one value per day; null values leave a gap. */
export function lineChart({ title, name, days, values, format }) {
  const { top, step } = scale(Math.max(0, ...values.filter(Number.isFinite)));
  const f = frame(title, top, step, format, days);
  let d = '';
  let pen = false;
  const points = [];
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) { pen = false; return; }
    const x = PAD.left + f.slot * (i + 0.5);
    d += `${pen ? 'L' : 'M'}${x.toFixed(1)} ${f.y(v).toFixed(1)}`;
    pen = true;
    points.push(s('circle', { cx: x, cy: f.y(v), r: 3, class: 'point', dataset: { day: days[i], value: v } },
      s('title', {}, `${days[i]}: ${format(v)}`)));
  });
  if (d) f.svg.append(s('path', { d, class: 'line' }));
  f.svg.append(...points);
  return card(title, name, f.svg);
}
