// The model marketplace: models and versions as ModelRegistry holds them on the served
// chain (owner, prices, the file's SHA-256 that pins each version, parents and their share
// of every payment), each version's card when its package is in this store, and its paid
// usage read from the paid_inference entries of every served audit log. A model's page
// shows the usage per period with every receipt verified. GET /api/v1/registry and
// /api/v1/registry/{id}/usage compute it.
import { h, api, mount, errorBox, empty, loading, table, stat, fmtEth, fmtTime, addrLink, short, route, ready } from '../core.js';

const bps = (b) => `${(b / 100).toFixed(b % 100 ? 2 : 0)}%`;
const parents = (v) => (v.parents.length
  ? v.parents.map((p) => `${p.kind} ${p.id} → ${bps(p.bps)}`).join(', ')
  : 'none');

async function list(root) {
  const body = h('div', null, loading('Reading ModelRegistry…'));
  mount(root, h('h1', null, 'Model market'), h('p', { class: 'muted' },
    'Models published content-addressed: each version is pinned by its file\'s SHA-256 and carries a Hugging Face-style card. ',
    'Buyers pay per call through a payment channel whose vouchers acknowledge the previous call\'s receipt, or hold a one-time licence (ERC-1155); ',
    'one claim settles any number of calls and pays each parent (a dataset\'s seller, a base model\'s owner) its share.'), body);
  let r;
  try { r = await api('/registry'); } catch (e) { mount(body, errorBox(e)); ready('registry'); return; }
  if (!r.deployed || !r.models.length) {
    mount(body, empty('No model is published on this chain yet.', 'alara demo market'));
    ready('registry');
    return;
  }
  const calls = r.models.reduce((n, m) => n + m.detail.reduce((k, v) => k + v.calls, 0), 0);
  const tiles = h('div', { class: 'grid' }, stat('Models', String(r.models.length)), stat('Paid calls recorded', String(calls)),
    stat('ModelRegistry', addrLink(r.contracts.registry)), stat('InferenceChannels', addrLink(r.contracts.channels)));
  const rows = r.models.map((m) => {
    const v = m.detail[m.detail.length - 1];
    return h('tr', { 'data-model': String(m.id), 'data-calls': String(v.calls) },
      h('td', null, h('a', { href: route(['registry', String(m.id)]) }, String(m.id))),
      h('td', null, m.name),
      h('td', null, addrLink(m.owner)),
      h('td', { class: 'num' }, `v${m.versions}`),
      h('td', null, h('code', { title: v.file_sha256 }, short(v.file_sha256, 12))),
      h('td', null, v.card ? `${v.card.license}${v.card.pipeline_tag ? `, ${v.card.pipeline_tag}` : ''}` : '—'),
      h('td', { class: 'num' }, fmtEth(v.price_per_call)),
      h('td', { class: 'num' }, v.license_price === '0' ? '—' : fmtEth(v.license_price)),
      h('td', null, parents(v)),
      h('td', { class: 'num' }, String(v.calls)),
      h('td', { class: 'num' }, fmtEth(v.revenue)),
      h('td', null, v.deprecated ? 'deprecated' : 'live'));
  });
  mount(body, tiles, table(['Id', 'Name', 'Owner', 'Versions', 'File SHA-256', 'Card', 'Per call', 'Licence', 'Parents', 'Calls', 'Revenue', 'State'], rows, { id: 'registry-table' }));
  ready('registry');
}

async function one(root, id, query) {
  const body = h('div', null, loading(`Reading model ${id}…`));
  const usage = h('div', null);
  mount(root, h('p', null, h('a', { href: '#/registry' }, '← all models')), h('h1', null, `Model ${id}`), body, usage);
  let m;
  try { m = await api(`/registry/${encodeURIComponent(id)}`); } catch (e) { mount(body, errorBox(e)); ready('registry'); return; }
  const versions = m.detail.map((v) => h('tr', { 'data-version': String(v.version) },
    h('td', { class: 'num' }, `v${v.version}`),
    h('td', null, h('code', { title: v.file_sha256 }, short(v.file_sha256, 16))),
    h('td', null, v.format),
    h('td', null, h('code', { title: v.package }, short(v.package, 14))),
    h('td', { class: 'num' }, fmtEth(v.price_per_call)),
    h('td', null, parents(v)),
    h('td', null, v.card ? JSON.stringify({ license: v.card.license, datasets: v.card.datasets, metrics: v.card.metrics }) : 'not in this store'),
    h('td', null, fmtTime(v.published_at * 1000)),
    h('td', null, v.deprecated ? 'deprecated' : 'live')));
  mount(body, h('p', null, `${m.name}, owned by `, addrLink(m.owner), `, paid in ${/^0x0+$/.test(m.token) ? 'ETH' : m.token}.`),
    table(['Version', 'File SHA-256', 'Format', 'Package', 'Per call', 'Parents', 'Card', 'Published', 'State'], versions, { id: 'registry-versions' }));
  mount(usage, loading('Verifying every paid call\'s receipt…'));
  let u;
  try { u = await api(`/registry/${encodeURIComponent(id)}/usage`, { query: { period: query.period || 'day' } }); } catch (e) { mount(usage, errorBox(e)); ready('registry'); return; }
  if (!u.length) { mount(usage, empty('No paid call of the latest version is recorded in the logs this server serves.')); ready('registry'); return; }
  const rows = u.flatMap((l) => l.report.periods.map((p) => h('tr', { 'data-log': l.log },
    h('td', null, l.log), h('td', null, fmtTime(p.start_ms)), h('td', { class: 'num' }, String(p.calls)),
    h('td', { class: 'num' }, String(p.channel_calls)), h('td', { class: 'num' }, String(p.licensed_calls)),
    h('td', { class: 'num' }, fmtEth(p.revenue)), h('td', { class: 'num' }, String(p.payers)))));
  const verified = u.reduce((n, l) => n + l.report.receipts_verified, 0);
  const total = u.reduce((n, l) => n + l.report.calls, 0);
  mount(usage, h('h2', null, 'Usage'), h('p', { id: 'registry-verified' }, `${verified} of ${total} receipts verified (inclusion proof and signed checkpoint).`),
    table(['Log', 'Period', 'Calls', 'Channel', 'Licence', 'Revenue', 'Payers'], rows, { id: 'registry-usage' }));
  ready('registry');
}

// `parts` are the route's parts after the page's own name: `#/registry/3` gives ['3'].
export async function render(root, parts, query) {
  if (parts[0]) return one(root, parts[0], query);
  return list(root);
}
