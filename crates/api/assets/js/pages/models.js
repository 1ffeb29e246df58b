// Models and datasets as the audit log knows them: registered models, global models of FL
// rounds, models in recent inferences, listed datasets and recent data accesses; and what
// the content store pins.
import { h, api, mount, errorBox, empty, loading, table, short, fmtTime, fmtEth, mono, route, ready } from '../core.js';

const RECENT = 500;

const auditLink = (model, text, log) => h('a', { href: route(['audit'], { model, log: log === 'main' ? '' : log }), class: 'mono', title: model }, text || short(model, 14));

let logsPromise = null;
const servedLogs = () => (logsPromise ||= api('/audit/logs').catch(() => [{ name: 'main' }]));

/** The newest entries of one kind in every served log, each with its log's name. */
async function entries(kind, limit = 200) {
  const logs = await servedLogs();
  const pages = await Promise.all(logs.map((l) => api('/audit/entries', { query: { log: l.name, kind, limit } }).then((p) => (p.items || []).map((it) => ({ ...it, log: l.name })))));
  return pages.flat().filter((it) => (it.kind || it.entry?.type) === kind).sort((a, b) => b.time_ms - a.time_ms);
}

const entryLink = (it) => h('a', { href: route(['audit', 'entry', String(it.index)], { log: it.log === 'main' ? '' : it.log }) }, `${it.log}#${it.index}`);

export async function render(root, parts, query, current) {
  logsPromise = null;
  const models = h('div', { id: 'models' }, loading('Reading the audit log…'));
  const datasets = h('div', { id: 'datasets' }, loading());
  const pins = h('div', { id: 'pins' }, loading());
  mount(root, h('h1', null, 'Models and datasets'),
    h('h2', null, 'Models'), models, h('h2', null, 'Datasets'), datasets, h('h2', null, 'Content store pins'), pins);

  const tasks = [
    (async () => {
      const [registered, rounds, inferences] = await Promise.all([entries('model_registered'), entries('training_round'), entries('inference', RECENT)]);
      const seen = new Map();
      const add = (key, row) => { if (!seen.has(key)) seen.set(key, row); };
      for (const it of registered) add(it.entry.model.version_hash, { id: it.entry.model.id, hash: it.entry.model.version_hash, source: `registered by ${short(it.entry.owner, 8)} (${it.entry.license})`, it, time: it.time_ms });
      for (const it of rounds) add(it.entry.model_hash, { id: `${it.entry.task} round ${it.entry.round}`, filter: it.entry.model_hash, hash: it.entry.model_hash, source: `FL global model (${it.entry.aggregator}, ${it.entry.participants} participants)`, it, time: it.time_ms });
      for (const it of inferences) add(it.entry.model.version_hash, { id: it.entry.model.id, hash: it.entry.model.version_hash, source: `used by ${it.entry.system}`, it, time: it.time_ms });
      if (!current()) return;
      mount(models, seen.size ? table(['Model', 'Version hash (SHA-256)', 'Known as', 'Latest entry', 'Time'], [...seen.values()].map((m) => h('tr', null,
        h('td', null, auditLink(m.filter || m.id, m.id, m.it.log)), h('td', null, h('a', { href: route(['market'], { lineage: m.hash }), class: 'mono', title: 'lineage of this model' }, short(m.hash, 14))), h('td', null, m.source),
        h('td', null, entryLink(m.it)), h('td', { class: 'mono' }, fmtTime(m.time)))), { id: 'models-table' })
        : empty('No model appears in the audit log yet.', 'alara demo audit'));
    })().catch((e) => current() && mount(models, errorBox(e))),
    (async () => {
      const [listings, accesses] = await Promise.all([entries('data_listing'), entries('data_access', 100)]);
      const seen = new Map();
      for (const it of listings) if (!seen.has(it.entry.dataset)) seen.set(it.entry.dataset, { cid: it.entry.dataset, what: `listed as ${it.entry.listing} at ${it.entry.token === 'ETH' ? fmtEth(it.entry.price) : `${it.entry.price} base units of ${it.entry.token}`}`, it, time: it.time_ms });
      for (const it of accesses) if (!seen.has(it.entry.dataset)) seen.set(it.entry.dataset, { cid: it.entry.dataset, what: `${it.entry.mode} by ${short(it.entry.accessor, 8)} (${it.entry.purpose})`, it, time: it.time_ms });
      if (!current()) return;
      mount(datasets, seen.size ? table(['Dataset (CID)', 'Latest', 'Entry', 'Time'], [...seen.values()].map((d) => h('tr', null,
        h('td', null, mono(d.cid)), h('td', null, d.what), h('td', null, entryLink(d.it)), h('td', { class: 'mono' }, fmtTime(d.time)))), { id: 'datasets-table' })
        : empty('No dataset appears in the audit log yet.', 'alara demo data'));
    })().catch((e) => current() && mount(datasets, errorBox(e))),
    (async () => {
      const p = await api('/store/pins');
      const list = Array.isArray(p) ? p : p.pins || p.items || [];
      if (!current()) return;
      mount(pins, list.length ? table(['CID', 'Size'], list.map((x) => h('tr', null, h('td', null, mono(typeof x === 'string' ? x : x.cid)), h('td', null, typeof x === 'object' && x.size != null ? `${x.size} bytes` : '')))) : empty('The content store pins nothing yet.', 'alara store add FILE'));
    })().catch((e) => current() && mount(pins, errorBox(e))),
  ];
  await Promise.all(tasks);
  if (current()) ready('models');
}
