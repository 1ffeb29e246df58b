// Audit log: the paginated, filterable list (cursor-paged by the server, newest first), an
// entry's page (entry, bytes, leaf hash, inclusion proof, checkpoint) and the receipt
// verifier.
import { h, api, mount, errorBox, empty, loading, table, short, fmtTime, fmtInt, kv, stat, mono, route, ready, logPicker } from '../core.js';
import { KIND_NAMES, entrySummary } from '../entry.js';

const PAGE = 50;

export async function render(root, parts, query, current) {
  if (parts[0] === 'entry' && parts[1] !== undefined) return renderEntry(root, parts[1], query, current);
  if (parts[0] === 'verify') return renderVerify(root, query);
  return renderList(root, query, current);
}

function filterForm(query) {
  const input = (name, label, attrs) => h('label', null, label, h('input', { name, value: query[name] || '', ...attrs }));
  const kind = h('select', { name: 'kind' }, h('option', { value: '' }, 'any kind'), KIND_NAMES.map((k) => h('option', { value: k, selected: query.kind === k }, k)));
  const form = h('form', { class: 'filters', id: 'audit-filters' },
    input('leaf', 'Leaf hash (hex)', { size: 30, placeholder: '64 hex characters', class: 'mono', id: 'f-leaf' }),
    input('subject', 'Data subject', { size: 14, id: 'f-subject' }),
    input('model', 'Model (id or version hash)', { size: 22, id: 'f-model' }),
    h('label', null, 'Kind', kind),
    input('from', 'From (UTC)', { type: 'datetime-local', value: query.from_ms ? toLocalInput(query.from_ms) : '' }),
    input('to', 'To (UTC)', { type: 'datetime-local', value: query.to_ms ? toLocalInput(query.to_ms) : '' }),
    h('button', { type: 'submit', id: 'f-search' }, 'Search'),
    h('a', { class: 'button secondary', href: route(['audit'], { log: query.log }) }, 'Clear'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const leaf = String(f.get('leaf') || '').trim().toLowerCase().replace(/^0x/, '');
    const toMs = (v) => (v ? Date.parse(v + 'Z') : '');
    location.hash = route(['audit'], {
      log: query.log, leaf, subject: String(f.get('subject') || '').trim(), model: String(f.get('model') || '').trim(),
      kind: f.get('kind'), from_ms: toMs(f.get('from')), to_ms: toMs(f.get('to')),
    });
  });
  return form;
}

const toLocalInput = (ms) => new Date(Number(ms)).toISOString().slice(0, 16);

function entryRow(item, log) {
  const e = item.entry || {};
  return h('tr', { 'data-index': item.index },
    h('td', { class: 'num' }, h('a', { href: route(['audit', 'entry', String(item.index)], { log }) }, String(item.index))),
    h('td', { class: 'mono' }, fmtTime(item.time_ms ?? e.time_ms)),
    h('td', null, h('span', { class: 'tag' }, item.kind || e.type)),
    h('td', null, entrySummary(e)),
    h('td', { class: 'mono', title: item.leaf_hash }, short(item.leaf_hash, 12)));
}

async function renderList(root, query, current) {
  const status = h('div', { class: 'grid', id: 'audit-status' });
  const results = h('div', { id: 'audit-results' }, loading('Loading entries…'));
  mount(root, h('div', { class: 'row' }, h('h1', { style: 'margin:0;flex:1' }, 'Audit log'), logPicker(query, ['audit'])), status, h('div', { class: 'card' }, filterForm(query), results));
  const log = query.log || undefined;

  // The status tiles come beside the rows, never before them.
  api('/audit/status', { query: { log } }).then((s) => {
    mount(status,
      stat('Entries', fmtInt(s.size)),
      stat('Latest checkpoint', s.checkpoint ? `size ${fmtInt(s.checkpoint.size)}` : 'none yet'),
      stat('Anchored', s.anchoring && s.anchoring.anchored?.length ? `size ${fmtInt(s.anchoring.anchored.at(-1).size)} in block ${s.anchoring.anchored.at(-1).block_number}` : 'not yet'),
      stat('Log', h('span', { class: 'mono', style: 'font-size:12px', title: s.verifier_key }, s.origin)));
  }).catch((e) => mount(status, errorBox(e, 'Log status')));

  if (query.leaf) {
    if (!/^[0-9a-f]{64}$/.test(query.leaf)) {
      mount(results, errorBox({ code: 'bad_request', message: `${JSON.stringify(query.leaf)} is not a leaf hash`, hint: 'a leaf hash is 64 hex characters (SHA-256 of 0x00 ‖ entry bytes)' }));
      ready('audit');
      return;
    }
    try {
      const item = await api(`/audit/leaves/${query.leaf}`, { query: { log } });
      if (!current()) return;
      mount(results, h('p', { class: 'muted' }, 'One entry has this leaf hash.'), table(['#', 'Time', 'Kind', 'What', 'Leaf hash'], [entryRow(item, log)], { id: 'entries' }));
    } catch (e) {
      mount(results, e.status === 404 ? empty(`No entry has leaf hash ${query.leaf}.`) : errorBox(e));
    }
    ready('audit');
    return;
  }

  const params = { log, limit: PAGE, cursor: query.cursor, kind: query.kind, model: query.model, subject: query.subject, from_ms: query.from_ms, to_ms: query.to_ms };
  let pageData;
  try {
    pageData = await api('/audit/entries', { query: params });
  } catch (e) {
    if (current()) { mount(results, errorBox(e)); ready('audit'); }
    return;
  }
  if (!current()) return;
  const filtered = ['kind', 'model', 'subject', 'from_ms', 'to_ms'].some((k) => query[k]);
  const items = pageData.items || [];
  // Newer pages: unfiltered pages are contiguous index ranges, so the cursor is computed;
  // filtered ones keep the cursors they came through in the route.
  const trail = (query.trail || '').split(',').filter(Boolean).slice(-40);
  const { trail: _t, cursor: _c, ...base } = query;
  let newer = null;
  if (query.cursor) {
    if (!filtered) {
      const c = Number(query.cursor) + PAGE;
      newer = route(['audit'], { ...base, cursor: pageData.size != null && c >= pageData.size ? '' : c });
    } else {
      newer = route(['audit'], { ...base, cursor: trail.at(-1) || '', trail: trail.slice(0, -1).join(',') });
    }
  }
  const older = pageData.next_cursor != null
    ? route(['audit'], { ...base, cursor: pageData.next_cursor, trail: filtered ? [...trail, query.cursor || ''].join(',') : '' })
    : null;
  const jump = h('form', { class: 'row', style: 'margin:0', id: 'goto-entry' }, h('input', { name: 'n', type: 'number', min: 0, placeholder: 'entry #', style: 'width:110px' }), h('button', { type: 'submit', class: 'secondary' }, 'Go to entry'));
  jump.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const n = new FormData(jump).get('n');
    if (n !== '' && n !== null) location.hash = route(['audit', 'entry', String(Number(n))], { log });
  });
  const pager = h('div', { class: 'pager' },
    newer ? h('a', { class: 'button secondary', id: 'newer', href: newer }, '← Newer') : h('span', { class: 'button secondary', 'aria-disabled': 'true', style: 'opacity:.45' }, '← Newer'),
    older ? h('a', { class: 'button secondary', id: 'older', href: older }, 'Older →') : h('span', null, 'start of the log'),
    h('span', null, `${items.length} shown${pageData.size != null ? ` of ${fmtInt(pageData.size)} entries` : ''}${filtered && pageData.scanned != null ? ` (${fmtInt(pageData.scanned)} scanned)` : ''}`),
    h('span', { style: 'flex:1' }), jump);
  if (!items.length) {
    mount(results, filtered
      ? h('div', null, empty(pageData.next_cursor != null ? 'No match in this stretch of the log; older entries may match.' : 'No entry matches these filters.'), pager)
      : empty('The audit log is empty.', 'alara demo audit'));
  } else {
    mount(results, table(['#', 'Time', 'Kind', 'What', 'Leaf hash'], items.map((it) => entryRow(it, log)), { id: 'entries' }), pager);
  }
  ready('audit');
}

function hexdump(bytes) {
  const lines = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const row = Array.from(bytes.slice(i, i + 16));
    lines.push(i.toString(16).padStart(4, '0') + '  ' + row.map((b) => b.toString(16).padStart(2, '0')).join(' ').padEnd(48) + ' ' + row.map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join(''));
  }
  return lines.join('\n');
}

async function renderEntry(root, indexText, query, current) {
  const log = query.log || undefined;
  if (!/^\d+$/.test(indexText)) {
    mount(root, errorBox({ code: 'bad_request', message: `${JSON.stringify(indexText)} is not an entry index`, hint: 'entries are numbered from 0' }));
    return;
  }
  const index = Number(indexText);
  const body = h('div', null, loading('Loading the entry…'));
  mount(root, h('h1', null, `Audit entry #${index}`, log ? h('span', { class: 'tag', style: 'margin-left:8px' }, `log ${log}`) : null), body);
  let item;
  try {
    item = await api(`/audit/entries/${index}`, { query: { log } });
  } catch (e) {
    if (current()) mount(body, errorBox(e));
    ready('entry');
    return;
  }
  if (!current()) return;
  const e = item.entry || {};
  const proofBox = h('div', { id: 'entry-proof' }, loading('Loading its receipt (proof and checkpoint)…'));
  const verifyBox = h('div', { id: 'verify-panel' });
  mount(body,
    h('div', { class: 'split' },
      h('div', { class: 'card' }, h('h2', { style: 'margin-top:0' }, 'Entry'),
        kv([['Index', String(item.index)], ['Kind', h('span', { class: 'tag' }, item.kind || e.type)], ['Time', fmtTime(item.time_ms ?? e.time_ms)], ['Leaf hash', mono(item.leaf_hash)]]),
        h('h2', null, 'Decoded'), h('pre', { id: 'entry-json' }, JSON.stringify(e, null, 2))),
      h('div', { class: 'card' }, proofBox)),
    h('div', { class: 'card' }, verifyBox));
  ready('entry');

  let receipt = null;
  try {
    receipt = await api(`/audit/entries/${index}/receipt`, { query: { log } });
    if (!current()) return;
    const { fromBase64 } = await import('../crypto.js');
    const bytes = fromBase64(receipt.entry_bytes);
    const cpLines = receipt.checkpoint.split('\n');
    mount(proofBox,
      h('h2', { style: 'margin-top:0' }, 'Entry bytes'), h('pre', { class: 'hexdump' }, hexdump(bytes)),
      h('h2', null, `Inclusion proof (leaf ${receipt.leaf_index} of ${cpLines[1]})`),
      receipt.inclusion_proof.length ? h('ol', { start: 0, class: 'mono', id: 'proof-hashes' }, receipt.inclusion_proof.map((p) => h('li', { class: 'hash' }, p))) : h('p', { class: 'muted' }, 'Empty: the entry is the whole tree.'),
      h('h2', null, 'Checkpoint (signed note)'), h('pre', { id: 'checkpoint-note' }, receipt.checkpoint),
      receipt.anchor
        ? h('div', null, h('h2', null, 'Anchor'), kv([['Chain', String(receipt.anchor.chain_id)], ['Contract', h('a', { href: `#/explorer/address/${receipt.anchor.contract}`, class: 'mono' }, receipt.anchor.contract)], ['Transaction', h('a', { href: `#/explorer/tx/${receipt.anchor.tx_hash}`, class: 'mono hash' }, receipt.anchor.tx_hash)], ['Block', h('a', { href: `#/explorer/block/${receipt.anchor.block_number}` }, String(receipt.anchor.block_number))]]), h('pre', null, receipt.anchor.checkpoint))
        : h('p', { class: 'muted' }, 'Not anchored yet: ', h('code', null, 'alara audit anchor'), ' anchors the log\'s checkpoint.'));
  } catch (err) {
    if (current()) mount(proofBox, errorBox(err, 'Receipt'));
  }
  const { verifyPanel } = await import('../verifypanel.js');
  if (current()) mount(verifyBox, verifyPanel({ receipt, index, log }));
}

async function renderVerify(root, query) {
  mount(root, h('h1', null, 'Verify a receipt'),
    h('p', { class: 'muted' }, 'Paste or load a receipt (as written by ', h('code', null, 'alara audit receipt'), ', ', h('code', null, 'alara infer --receipts-dir'), ' or ', h('code', null, 'alara audit export'), '). Every check runs in this browser: the server is only asked for the key and contract to pin.'),
    h('div', { class: 'card', id: 'verify-panel' }, loading()));
  const { verifyPanel } = await import('../verifypanel.js');
  mount(root.querySelector('#verify-panel'), verifyPanel({ log: query.log || undefined }));
  ready('verify');
}
