// The AI oracle: a feed over a shipped real series (datasets/stocks.csv, seattle_weather.csv)
// quoted by simulated sources with seeded noise, latency and outages, and the attack you
// pick. The chart shows the real value, the plain median of every quote and the consensus
// of the accepted ones; the table says which sources were dropped in each round and why.
// GET /api/v1/oracle/simulate computes it (the same code as `alara oracle feed`).
import { h, api, mount, errorBox, loading, table, stat, route, ready } from '../core.js';
import { lineChart, legend } from '../chart.js';

const pct = (x) => `${(x * 100).toFixed(3)}%`;

export async function render(root, parts, query, current) {
  const series = query.series || 'AAPL';
  const manipulate = query.manipulate || '0';
  const seed = query.seed || '42';
  const tiles = h('div', { class: 'grid' });
  const body = h('div', null, loading('Running the feed…'));
  const form = h('form', { class: 'row', id: 'oracle-form' },
    h('label', null, 'Series ', h('select', { name: 'series', id: 'oracle-series' })),
    h('label', null, ' Colluding sources (×10) ', h('input', { name: 'manipulate', type: 'number', min: 0, max: 10, value: manipulate, style: 'width:4em' })),
    h('label', null, ' Seed ', h('input', { name: 'seed', type: 'number', min: 0, value: seed, style: 'width:6em' })),
    h('button', { type: 'submit' }, 'Run'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = new FormData(form);
    location.hash = route(['oracle'], { series: f.get('series'), manipulate: f.get('manipulate'), seed: f.get('seed') });
  });
  mount(root, h('h1', null, 'Oracle feed'), h('p', { class: 'muted' },
    'Ten sources quote a real series; the detectors (median/MAD within a round, each source\'s history and rolling z-score across rounds, and a learned random forest run with tract) drop the ones that lie. Consensus = median of the accepted quotes, reported only when a strict majority of the sources agree with it.'),
    form, tiles, body);
  let list, sim;
  try {
    [list, sim] = await Promise.all([
      api('/oracle/series'),
      api('/oracle/simulate', { query: { series, manipulate, seed, last: 60 } }),
    ]);
  } catch (e) {
    if (current()) { mount(body, errorBox(e)); ready('oracle'); }
    return;
  }
  if (!current()) return;
  mount(form.querySelector('select'), list.map((s) => h('option', { value: s.name, selected: s.name === series ? '' : null, title: s.description }, s.name)));
  const s = sim.summary;
  mount(tiles, stat('Mean error, consensus', pct(s.filter_mean)), stat('Mean error, plain median', pct(s.median_mean)),
    stat('Worst error, consensus', pct(s.filter_max)), stat('Worst error, plain median', pct(s.median_max)),
    stat('Rounds without a report', String(s.no_report)));
  const points = (f) => sim.rounds.map((r, i) => ({ x: r.decision.round, y: f(r), label: `${sim.dates[i]}: ${f(r).toFixed(4)}` }));
  const chart = lineChart({ id: 'oracle-chart', xLabel: 'round', yLabel: series === 'seattle-rain' ? 'mm' : 'USD',
    series: [
      { name: 'real', points: points((r) => r.truth) },
      { name: 'plain median', points: points((r) => r.median) },
      { name: 'consensus', points: points((r) => r.decision.value) },
    ] });
  const rows = sim.rounds.slice().reverse().map((r, i) => h('tr', { 'data-round': r.decision.round },
    h('td', null, String(r.decision.round)), h('td', null, sim.dates[sim.rounds.length - 1 - i]),
    h('td', { class: 'num' }, r.truth.toFixed(4)), h('td', { class: 'num' }, r.median.toFixed(4)), h('td', { class: 'num' }, r.decision.value.toFixed(4)),
    h('td', { class: 'num' }, `${Math.round(r.decision.confidence * 100)}%`),
    h('td', null, r.decision.dropped.length ? r.decision.dropped.map((d) => h('div', null, h('b', null, d.source), ` ${d.reason}`)) : '–')));
  mount(body,
    h('div', { class: 'card' }, h('h2', { style: 'margin-top:0' }, `${sim.feed}: the last ${sim.rounds.length} rounds`), legend(['real', 'plain median', 'consensus']), chart),
    h('h2', null, 'Rounds'),
    table(['Round', 'Date', 'Real', 'Plain median', 'Consensus', 'Confidence', 'Dropped and why'], rows, { id: 'oracle-rounds' }));
  ready('oracle');
}
