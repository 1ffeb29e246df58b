// The data market: listings, sales with their steps, and compute-to-data jobs with their
// lineage (dataset → algorithm → result → model), read from the DataMarket contract's
// events and the audit log's market entries.
import { h, api, mount, errorBox, empty, loading, table, short, fmtEth, fmtInt, txLink, addrLink, mono, info, contractsOf, rpcUrl, stat, ready } from '../core.js';
import { addressBook } from '../decode.js';
import { contractEvents } from '../chainlogs.js';

const SALE_EVENTS = ['Purchased', 'KeyDelivered', 'Confirmed', 'Released', 'Refunded', 'Disputed', 'Resolved'];
const JOB_EVENTS = ['JobRequested', 'JobCompleted', 'JobFailed', 'JobRefunded'];

export async function render(root, parts, query, current) {
  const tiles = h('div', { class: 'grid' });
  const body = h('div', null, loading('Reading the DataMarket contract…'));
  mount(root, h('h1', null, 'Data market'), tiles, body);
  let url, inf;
  try {
    [url, inf] = await Promise.all([rpcUrl(), info()]);
  } catch (e) {
    if (current()) { mount(body, errorBox(e)); ready('market'); }
    return;
  }
  const contracts = contractsOf(inf);
  const market = contracts.DataMarket;
  if (!market) {
    mount(body, empty('No DataMarket on this chain yet.', 'alara up (deploys it), then alara demo data'));
    ready('market');
    return;
  }
  let events;
  try {
    events = await contractEvents(url, market, addressBook(contracts));
  } catch (e) {
    if (current()) { mount(body, errorBox(e)); ready('market'); }
    return;
  }
  if (!current()) return;
  const listings = events.filter((e) => e.name === 'Listed');
  const sales = new Map(), jobs = new Map();
  for (const e of events) {
    if (SALE_EVENTS.includes(e.name)) {
      const id = String(e.args.saleId);
      if (!sales.has(id)) sales.set(id, { id, steps: [] });
      const s = sales.get(id);
      s.steps.push(e);
      if (e.name === 'Purchased') Object.assign(s, { listingId: String(e.args.listingId), buyer: e.args.buyer, amount: e.args.amount });
    }
    if (JOB_EVENTS.includes(e.name)) {
      const id = String(e.args.jobId);
      if (!jobs.has(id)) jobs.set(id, { id, steps: [] });
      const j = jobs.get(id);
      j.steps.push(e);
      if (e.name === 'JobRequested') Object.assign(j, { listingId: String(e.args.listingId), buyer: e.args.buyer, algorithm: e.args.algorithm, amount: e.args.amount });
      if (e.name === 'JobCompleted') Object.assign(j, { result: e.args.receipt?.result, resultCid: e.args.resultCid, rows: e.args.receipt?.rows });
    }
  }
  const byListing = new Map(listings.map((l) => [String(l.args.listingId), l]));
  mount(tiles, stat('Listings', String(listings.length)), stat('Sales', String(sales.size)), stat('Compute jobs', String(jobs.size)),
    stat('DataMarket', addrLink(market, short(market, 10))));

  const lineage = h('div', { id: 'job-lineage' });
  mount(body,
    h('h2', null, 'Listings'),
    listings.length ? table(['#', 'Dataset (CID)', 'Seller', ['Price', { class: 'num' }], 'Download', 'Listed in'], listings.map((l) => h('tr', null,
      h('td', null, String(l.args.listingId)), h('td', null, mono(l.args.cid)), h('td', null, addrLink(l.args.seller)),
      h('td', { class: 'num' }, fmtEth(l.args.price, 18, tokenName(l.args.token, contracts))), h('td', null, l.args.downloadable ? 'yes' : 'compute only'),
      h('td', null, txLink(l.log.transactionHash)))), { id: 'listings' }) : empty('Nothing is listed yet.', 'alara demo data'),
    h('h2', null, 'Sales'),
    sales.size ? table(['Sale', 'Listing', 'Buyer', ['Amount', { class: 'num' }], 'Steps'], [...sales.values()].map((s) => h('tr', null,
      h('td', null, String(s.id)), h('td', null, s.listingId ?? ''), h('td', null, addrLink(s.buyer)),
      h('td', { class: 'num' }, s.amount != null ? fmtEth(s.amount, 18, tokenName(byListing.get(s.listingId)?.args.token, contracts)) : ''),
      h('td', null, s.steps.map((e, i) => [i ? ' → ' : '', h('a', { href: `#/explorer/tx/${e.log.transactionHash}`, class: 'tag' }, e.name)])))), { id: 'sales' }) : empty('No sales yet.', 'alara demo data'),
    h('h2', null, 'Compute-to-data jobs'),
    jobs.size ? table(['Job', 'Listing', 'Buyer', 'Algorithm', 'Result', 'Steps'], [...jobs.values()].map((j) => h('tr', null,
      h('td', null, String(j.id)), h('td', null, j.listingId ?? ''), h('td', null, addrLink(j.buyer)), h('td', null, mono(short(j.algorithm || '', 12))),
      h('td', null, j.resultCid ? mono(j.resultCid) : h('span', { class: 'muted' }, '–')),
      h('td', null, j.steps.map((e, i) => [i ? ' → ' : '', h('a', { href: `#/explorer/tx/${e.log.transactionHash}`, class: 'tag' }, e.name)])))), { id: 'jobs' }) : empty('No compute jobs yet.', 'alara demo data'),
    h('h2', null, 'Lineage (audit log)'), lineage);
  ready('market');

  // Lineage from the audit log's compute_job entries: dataset → algorithm → result → model.
  try {
    const page = await api('/audit/entries', { query: { kind: 'compute_job', limit: 100 } });
    if (!current()) return;
    const items = (page.items || []).filter((it) => (it.kind || it.entry?.type) === 'compute_job');
    mount(lineage, items.length ? table(['Entry', 'Job', 'Event', 'Dataset', 'Algorithm', 'Result', 'Model'], items.map((it) => {
      const e = it.entry;
      return h('tr', null, h('td', null, h('a', { href: `#/audit/entry/${it.index}` }, `#${it.index}`)), h('td', null, e.job), h('td', null, h('span', { class: 'tag' }, e.event)),
        h('td', null, mono(short(e.dataset, 14))), h('td', null, mono(short(e.algorithm, 10))), h('td', null, e.result ? mono(short(e.result, 10)) : '–'),
        h('td', null, e.model ? h('a', { href: `#/audit?model=${e.model}`, class: 'mono' }, short(e.model, 10)) : '–'));
    }), { id: 'lineage' }) : empty(page.next_cursor != null ? `No compute_job entry among the newest ${fmtInt(page.scanned)} entries.` : 'No compute job is in the audit log yet.', 'alara demo data'));
  } catch (e) {
    if (current()) mount(lineage, errorBox(e));
  }
}

function tokenName(addr, contracts) {
  if (!addr || /^0x0{40}$/i.test(addr)) return 'ETH';
  return addr.toLowerCase() === (contracts.AlaraToken || '').toLowerCase() ? 'ALARA' : short(addr, 6);
}

