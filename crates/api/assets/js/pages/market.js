// The data market: listings, sales with their steps, compute-to-data jobs, and the lineage
// of a dataset or a model (listings → sales → jobs → models → inferences), from the API's
// market endpoints (built from the audit logs), beside the DataMarket contract's own count
// of events on the chain.
import { h, api, mount, errorBox, empty, loading, table, short, fmtTime, txLink, addrLink, mono, info, contractsOf, rpcUrl, stat, route, ready } from '../core.js';
import { addressBook } from '../decode.js';
import { contractEvents } from '../chainlogs.js';

const entryLink = (at) => (at ? h('a', { href: route(['audit', 'entry', String(at.index)], { log: at.log === 'main' ? '' : at.log }) }, `${at.log}#${at.index}`) : '');
const stepLinks = (steps) => steps.map((s, i) => [i ? ' → ' : '', s.at?.tx ? h('a', { href: `#/explorer/tx/${s.at.tx}`, class: 'tag', title: `${fmtTime(s.at.time_ms)} · ${s.at.tx}` }, s.event) : h('span', { class: 'tag', title: fmtTime(s.at?.time_ms) }, s.event)]);

export async function render(root, parts, query, current) {
  const tiles = h('div', { class: 'grid' });
  const body = h('div', null, loading('Reading the market…'));
  const lineage = h('div', { id: 'lineage' });
  mount(root, h('h1', null, 'Data market'), tiles, body, h('h2', null, 'Lineage'), lineage);
  const [listingsR, salesR, jobsR] = await Promise.allSettled([api('/market/listings'), api('/market/sales'), api('/market/jobs')]);
  if (!current()) return;
  const fail = [listingsR, salesR, jobsR].find((r) => r.status === 'rejected');
  if (fail) { mount(body, errorBox(fail.reason)); ready('market'); return; }
  const listings = listingsR.value, sales = salesR.value, jobs = jobsR.value;
  mount(tiles, stat('Listings', String(listings.length)), stat('Sales', String(sales.length)), stat('Compute jobs', String(jobs.length)), h('div', { class: 'stat', id: 'onchain-count' }, h('div', { class: 'k' }, 'DataMarket events on-chain'), h('div', { class: 'v' }, '…')));
  mount(body,
    h('h2', null, 'Listings'),
    listings.length ? table(['Listing', 'Dataset (ciphertext CID)', 'Seller', ['Price', { class: 'num' }], 'Entry', 'Transaction'], listings.map((l) => h('tr', null,
      h('td', { class: 'mono' }, l.listing.split('/').pop()), h('td', null, h('a', { href: route(['market'], { lineage: l.dataset }), class: 'mono', title: 'lineage of this dataset' }, l.dataset)),
      h('td', null, addrLink(l.seller)), h('td', { class: 'num' }, l.price_display), h('td', null, entryLink(l.at)), h('td', null, l.at?.tx ? txLink(l.at.tx) : '–'))), { id: 'listings' })
      : empty('Nothing is listed yet.', 'alara demo data'),
    h('h2', null, 'Sales'),
    sales.length ? table(['Sale', 'Dataset', 'Buyer', 'Seller', ['Amount', { class: 'num' }], 'Steps'], sales.map((s) => h('tr', null,
      h('td', { class: 'mono' }, s.sale.split('/').pop()), h('td', null, mono(short(s.dataset, 14))), h('td', null, addrLink(s.buyer)), h('td', null, addrLink(s.seller)),
      h('td', { class: 'num' }, s.amount_display), h('td', null, stepLinks(s.steps)))), { id: 'sales' })
      : empty('No sale yet.', 'alara demo data'),
    h('h2', null, 'Compute-to-data jobs'),
    jobs.length ? table(['Job', 'Dataset', 'Algorithm', 'Buyer', 'Result', 'Model trained', 'Steps'], jobs.map((j) => h('tr', null,
      h('td', { class: 'mono' }, j.job.split('/').pop()), h('td', null, mono(short(j.dataset, 14))), h('td', null, mono(short(j.algorithm, 10))), h('td', null, addrLink(j.buyer)),
      h('td', null, j.result ? mono(short(j.result, 10)) : '–'),
      h('td', null, j.model ? h('a', { href: route(['market'], { lineage: j.model }), class: 'mono', title: 'lineage of this model' }, short(j.model, 10)) : '–'),
      h('td', null, stepLinks(j.steps)))), { id: 'jobs' })
      : empty('No compute job yet.', 'alara demo data'));
  ready('market');

  const target = query.lineage || jobs.find((j) => j.model)?.model || listings[0]?.dataset;
  const lineageTask = target ? showLineage(lineage, target, current) : Promise.resolve(mount(lineage, empty('Nothing to trace yet.', 'alara demo data')));
  const chainTask = (async () => {
    const [url, inf] = await Promise.all([rpcUrl(), info()]);
    const contracts = contractsOf(inf);
    if (!contracts.DataMarket) return 'no DataMarket';
    const events = await contractEvents(url, contracts.DataMarket, addressBook(contracts));
    const count = (n) => events.filter((e) => e.name === n).length;
    return `${count('Listed')} listed · ${count('Purchased')} bought · ${count('JobRequested')} jobs`;
  })().then((t) => current() && mount(document.querySelector('#onchain-count .v'), t), (e) => current() && mount(document.querySelector('#onchain-count .v'), h('span', { class: 'bad', title: e.message }, 'unreadable')));
  await Promise.all([lineageTask, chainTask]);
}

async function showLineage(el, target, current) {
  const form = h('form', { class: 'filters' }, h('label', null, 'Dataset CID or model hash', h('input', { name: 't', value: target, size: 70, class: 'mono', id: 'lineage-target' })), h('button', { type: 'submit' }, 'Trace'));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); location.hash = route(['market'], { lineage: new FormData(form).get('t').trim() }); });
  const out = h('div', null, loading('Tracing…'));
  mount(el, form, out);
  let logs = [];
  try { logs = await api('/audit/logs'); } catch (e) { /* links without log names */ }
  const nameOf = new Map(logs.map((l) => [l.origin, l.name]));
  const step = (s) => h('li', null, h('span', { class: 'tag' }, s.kind), ' ', s.summary, ' ',
    h('a', { class: 'muted', href: route(['audit', 'entry', String(s.leaf_index)], { log: nameOf.get(s.origin) === 'main' ? '' : nameOf.get(s.origin) }) }, `(${nameOf.get(s.origin) || s.origin} #${s.leaf_index}, ${fmtTime(s.time_ms)})`));
  const model = (m) => h('div', { class: 'card' }, h('div', null, 'Model ', mono(m.model_hash)),
    m.provenance.length ? h('ul', { class: 'calltree' }, m.provenance.map(step)) : null,
    h('div', { class: 'muted' }, `${m.inference_count} inference${m.inference_count === 1 ? '' : 's'} with it`), m.inferences.length ? h('ul', { class: 'calltree' }, m.inferences.map(step)) : null);
  try {
    const l = await api(`/lineage/${encodeURIComponent(target)}`);
    if (!current()) return;
    mount(out, h('div', { id: 'lineage-result' },
      l.datasets.map((d) => h('div', { class: 'card', 'data-dataset': d.cid },
        h('div', null, h('strong', null, 'Dataset '), mono(d.cid)),
        d.listings.length ? h('div', null, 'Listed', h('ul', { class: 'calltree' }, d.listings.map(step))) : null,
        d.sales.length ? h('div', null, 'Sold', h('ul', { class: 'calltree' }, d.sales.map(step))) : null,
        d.jobs.map((j) => h('div', null, `Compute job ${j.job.split('/').pop()} (algorithm ${short(j.algorithm, 10)})`, h('ul', { class: 'calltree' }, j.steps.map(step)), j.model ? model(j.model) : null)))),
      l.model ? model(l.model) : null,
      !l.datasets.length && !l.model ? empty(`Nothing in the audit logs leads to ${target}.`) : null));
  } catch (e) {
    if (current()) mount(out, errorBox(e));
  }
}
