// Small SVG charts: lines (with dots), grouped bars, and a step timeline. Each data point
// is a <circle> or <rect> with class "point" and a <title>, so tests and people can read it.
import { svg } from './core.js';

export const COLORS = ['#2454d6', '#d9480f', '#2b8a3e', '#862e9c', '#c92a2a', '#0b7285', '#e67700', '#5c7cfa'];

function niceTicks(min, max, count = 5) {
  if (!(max > min)) { max = min + 1; }
  const span = max - min, raw = span / count, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) || 10 * mag;
  const out = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const fmt = (v) => (Math.abs(v) >= 1e6 ? v.toExponential(2) : Number.isInteger(v) ? v.toLocaleString('en-US') : v.toPrecision(3));

function frame({ width, height, pad, x0, x1, y0, y1, xTicks, yTicks, xFormat, yFormat, xLabel, yLabel }) {
  const sx = (x) => pad.l + ((x - x0) / (x1 - x0 || 1)) * (width - pad.l - pad.r);
  const sy = (y) => height - pad.b - ((y - y0) / (y1 - y0 || 1)) * (height - pad.t - pad.b);
  const g = svg('g', null);
  for (const t of yTicks) {
    g.append(svg('line', { class: 'grid', x1: pad.l, x2: width - pad.r, y1: sy(t), y2: sy(t) }));
    g.append(svg('text', { x: pad.l - 6, y: sy(t) + 4, 'text-anchor': 'end' }, (yFormat || fmt)(t)));
  }
  for (const t of xTicks) g.append(svg('text', { x: sx(t), y: height - pad.b + 16, 'text-anchor': 'middle' }, (xFormat || fmt)(t)));
  g.append(svg('line', { class: 'axis', x1: pad.l, x2: width - pad.r, y1: height - pad.b, y2: height - pad.b }));
  g.append(svg('line', { class: 'axis', x1: pad.l, x2: pad.l, y1: pad.t, y2: height - pad.b }));
  if (xLabel) g.append(svg('text', { x: (width + pad.l - pad.r) / 2, y: height - 4, 'text-anchor': 'middle' }, xLabel));
  if (yLabel) g.append(svg('text', { x: 12, y: pad.t - 8 }, yLabel));
  return { g, sx, sy };
}

/** A line chart. series: [{name, points: [{x, y, label}]}]. */
export function lineChart({ series, width = 640, height = 260, xLabel, yLabel, yMin, yMax, xFormat, yFormat, step = false, id }) {
  const pts = series.flatMap((s) => s.points);
  const xs = pts.map((p) => p.x), ys = pts.map((p) => p.y);
  let x0 = Math.min(...xs), x1 = Math.max(...xs);
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  let y0 = yMin ?? Math.min(...ys), y1 = yMax ?? Math.max(...ys);
  if (y0 === y1) { y0 -= 1; y1 += 1; }
  const yTicks = niceTicks(y0, y1);
  y0 = Math.min(y0, yTicks[0]); y1 = Math.max(y1, yTicks.at(-1));
  const xTicks = niceTicks(x0, x1, 6).filter((t) => t >= x0 && t <= x1);
  const pad = { l: 56, r: 16, t: 22, b: 34 };
  const root = svg('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', id, 'data-points': pts.length });
  const { g, sx, sy } = frame({ width, height, pad, x0, x1, y0, y1, xTicks, yTicks, xFormat, yFormat, xLabel, yLabel });
  root.append(g);
  series.forEach((s, i) => {
    const color = s.color || COLORS[i % COLORS.length];
    const sorted = s.points.slice().sort((a, b) => a.x - b.x);
    let d = '';
    sorted.forEach((p, j) => {
      if (j === 0) d += `M${sx(p.x)},${sy(p.y)}`;
      else if (step) d += `H${sx(p.x)}V${sy(p.y)}`;
      else d += `L${sx(p.x)},${sy(p.y)}`;
    });
    root.append(svg('path', { class: 'series', d, stroke: color }));
    for (const p of sorted) {
      root.append(svg('circle', { class: 'dot point', cx: sx(p.x), cy: sy(p.y), r: 4, fill: color, 'data-x': p.x, 'data-y': p.y, 'data-href': p.href },
        svg('title', null, p.label || `${s.name}: ${fmt(p.y)} at ${(xFormat || fmt)(p.x)}`)));
    }
  });
  return root;
}

/** Grouped bars. groups: [{label, values: [{series, value}]}]; series names give colors.
 * A value's own color overrides its series'. rules: horizontal reference lines
 * [{value, label, color}] (class "rule", data-y). */
export function barChart({ groups, seriesNames, width = 640, height = 260, yLabel, yFormat, id, rules = [] }) {
  const names = seriesNames || [...new Set(groups.flatMap((g) => g.values.map((v) => v.series)))];
  const max = Math.max(0, ...groups.flatMap((g) => g.values.map((v) => v.value)), ...rules.map((r) => r.value));
  const yTicks = niceTicks(0, max || 1);
  const y1 = Math.max(max, yTicks.at(-1));
  const pad = { l: 64, r: 16, t: 22, b: 34 };
  const root = svg('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', id, 'data-points': groups.reduce((n, g) => n + g.values.length, 0) });
  const sy = (y) => height - pad.b - (y / (y1 || 1)) * (height - pad.t - pad.b);
  for (const t of yTicks) {
    root.append(svg('line', { class: 'grid', x1: pad.l, x2: width - pad.r, y1: sy(t), y2: sy(t) }));
    root.append(svg('text', { x: pad.l - 6, y: sy(t) + 4, 'text-anchor': 'end' }, (yFormat || fmt)(t)));
  }
  const gw = (width - pad.l - pad.r) / Math.max(1, groups.length);
  const bw = Math.max(2, Math.min(28, (gw * 0.8) / Math.max(1, names.length)));
  groups.forEach((g, gi) => {
    const left = pad.l + gi * gw + (gw - bw * names.length) / 2;
    for (const v of g.values) {
      const si = names.indexOf(v.series);
      root.append(svg('rect', { class: 'point', x: left + si * bw, y: sy(v.value), width: bw - 1, height: Math.max(0, sy(0) - sy(v.value)), fill: v.color || COLORS[si % COLORS.length], 'data-y': v.value },
        svg('title', null, `${g.label} · ${v.series}: ${(yFormat || fmt)(v.value)}`)));
    }
    root.append(svg('text', { x: pad.l + gi * gw + gw / 2, y: height - pad.b + 16, 'text-anchor': 'middle' }, g.label));
  });
  root.append(svg('line', { class: 'axis', x1: pad.l, x2: width - pad.r, y1: sy(0), y2: sy(0) }));
  for (const r of rules) {
    const color = r.color || '#495057';
    root.append(svg('line', { class: 'rule', x1: pad.l, x2: width - pad.r, y1: sy(r.value), y2: sy(r.value), stroke: color, 'stroke-dasharray': '6 4', 'data-y': r.value },
      svg('title', null, `${r.label}: ${(yFormat || fmt)(r.value)}`)));
    root.append(svg('text', { class: 'rule-label', x: width - pad.r - 4, y: sy(r.value) - 4, 'text-anchor': 'end' }, `${r.label} ${(yFormat || fmt)(r.value)}`));
  }
  if (yLabel) root.append(svg('text', { x: 12, y: pad.t - 8 }, yLabel));
  return root;
}

/** A legend for series names. */
export function legend(names, doc = document) {
  const el = doc.createElement('div');
  el.className = 'legend';
  names.forEach((n, i) => {
    const s = doc.createElement('span');
    const sw = doc.createElement('i');
    sw.style.background = COLORS[i % COLORS.length];
    s.append(sw, n);
    el.append(s);
  });
  return el;
}
