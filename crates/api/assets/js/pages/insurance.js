// Crop insurance: a drought cover quoted against Seattle's real growing seasons
// (datasets/seattle_weather.csv, 2012–2015). The chart shows each season's rainfall index
// against the cover's trigger and exit; the table what the cover pays and why, by
// CropInsurance's own integer rule. GET /api/v1/insurance/seasons computes it (the same
// code whose payouts `alara demo insurance` checks against the pool's settlement). The
// query string is the form, so a cover is a link: #/insurance?trigger=2500&exit=1400.
import { h, api, mount, errorBox, loading, table, stat, route, ready, fmtEth } from '../core.js';
import { barChart } from '../chart.js';

const DEFAULTS = { trigger: '2500', exit: '1400', sum_insured: '1000000000000000000', months: '5-9' };
const BANDS = { nothing: ['index ≥ trigger: nothing', '#2454d6'], partial: ['between: a share', '#e67700'], full: ['index ≤ exit: in full', '#c92a2a'] };
const mm = (tenths) => `${(Number(tenths) / 10).toFixed(1)} mm`;

export async function render(root, parts, query, current) {
  const cover = Object.fromEntries(Object.entries(DEFAULTS).map(([k, v]) => [k, query[k] ?? v]));
  const input = (name, label, attrs) => h('label', null, `${label} `, h('input', { name, id: `insurance-${name.replace('_', '-')}`, value: cover[name], ...attrs }));
  const form = h('form', { class: 'row', id: 'insurance-form' },
    input('trigger', 'Trigger (0.1 mm)', { type: 'number', min: 1, max: 200000, style: 'width:7em' }),
    input('exit', ' Exit (0.1 mm)', { type: 'number', min: 0, max: 199999, style: 'width:7em' }),
    input('sum_insured', ' Sum insured (wei)', { type: 'text', inputmode: 'numeric', style: 'width:14em' }),
    input('months', ' Months', { type: 'text', pattern: '\\d{1,2}(-\\d{1,2})?', title: 'START-END, 1-12, e.g. 5-9', style: 'width:4em' }),
    h('button', { type: 'submit', id: 'insurance-run' }, 'Quote'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = new FormData(form);
    location.hash = route(['insurance'], Object.fromEntries(Object.keys(DEFAULTS).map((k) => [k, String(f.get(k) ?? '').trim()])));
  });
  const tiles = h('div', { class: 'grid' });
  const body = h('div', null, loading('Quoting the cover…'));
  mount(root, h('h1', null, 'Crop insurance'), h('p', { class: 'muted' },
    'A drought cover on Seattle\'s rainfall over the growing season: an index at or above the trigger pays nothing, at or below the exit the sum insured, and in between a linear share, rounded down to the wei as CropInsurance pays it on-chain. Levels are tenths of a millimetre (2500 = 250.0 mm).'),
    form, tiles, body);
  let q;
  try {
    q = await api('/insurance/seasons', { query: cover });
  } catch (e) {
    if (current()) { mount(body, errorBox(e, 'The API refused this cover.')); ready('insurance'); }
    return;
  }
  if (!current()) return;
  const total = q.seasons.reduce((n, s) => n + BigInt(s.payout), 0n);
  const paying = q.seasons.filter((s) => s.payout !== '0').length;
  mount(tiles, stat('Trigger / exit', `${mm(q.trigger)} / ${mm(q.exit)}`), stat('Sum insured', fmtEth(q.sum_insured)),
    stat('Seasons that pay', `${paying} of ${q.seasons.length}`), stat('Paid over all seasons', fmtEth(total)));
  const chart = barChart({
    id: 'insurance-chart',
    groups: q.seasons.map((s) => ({ label: String(s.year), values: [{ series: 'rainfall index', value: s.index / 10, color: BANDS[s.band]?.[1] }] })),
    seriesNames: ['rainfall index'],
    rules: [{ value: q.trigger / 10, label: 'trigger', color: '#2b8a3e' }, { value: q.exit / 10, label: 'exit', color: '#c92a2a' }],
    yLabel: `rainfall, months ${q.months[0]}–${q.months[1]} (mm)`,
    yFormat: (v) => v.toLocaleString('en-US', { maximumFractionDigits: 1 }),
  });
  const rows = q.seasons.map((s) => h('tr', { 'data-year': s.year, 'data-payout': s.payout, 'data-band': s.band },
    h('td', null, String(s.year)), h('td', { class: 'num' }, String(s.index)), h('td', { class: 'num' }, mm(s.index)),
    h('td', { class: 'num', title: `${s.payout} wei` }, fmtEth(s.payout)), h('td', { class: 'num' }, `${(s.fraction * 100).toFixed(1)}%`),
    h('td', null, s.reason)));
  const key = h('div', { class: 'legend' }, Object.values(BANDS).map(([name, color]) => h('span', null, h('i', { style: `background:${color}` }), name)));
  mount(body,
    h('div', { class: 'card' }, h('h2', { style: 'margin-top:0' }, 'Each season\'s index against the levels'), key, chart),
    h('h2', null, 'Seasons'),
    table(['Year', 'Index (0.1 mm)', 'Rainfall', 'Payout', 'Share', 'Why'], rows, { id: 'insurance-seasons' }));
  ready('insurance');
}
