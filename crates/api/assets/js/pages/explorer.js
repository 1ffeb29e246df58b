// The chain explorer, over JSON-RPC from the browser: latest blocks, a block, a
// transaction (decoded call, events, revert reason, internal calls), an address (balance,
// code, history). Otterscan's ots_* methods are used when the node has them.
import { h, mount, errorBox, empty, loading, table, short, fmtTime, fmtInt, fmtEth, kv, mono, blockLink, txLink, addrLink, info, contractsOf, rpcUrl, ready } from '../core.js';
import { rpc, rpcBatch, qty, toQty } from '../rpc.js';
import { addressBook, decodeCall, decodeEvent, decodeRevert, decodeOutput } from '../decode.js';
import { formatValue } from '../abi.js';
import { checksumAddress } from '../crypto.js';

const LATEST = 15;
const SCAN_BLOCKS = 200;

async function context() {
  const [url, inf] = await Promise.all([rpcUrl(), info()]);
  const contracts = contractsOf(inf);
  return { url, contracts, book: addressBook(contracts) };
}

export async function render(root, parts, query, current) {
  const body = h('div', null, loading('Reading the chain…'));
  mount(root, searchBar(), body);
  let ctx;
  try {
    ctx = await context();
  } catch (e) {
    if (current()) { mount(body, errorBox(e)); ready('explorer'); }
    return;
  }
  try {
    if (parts[0] === 'block') await blockPage(body, ctx, parts[1], current);
    else if (parts[0] === 'tx') await txPage(body, ctx, parts[1], current);
    else if (parts[0] === 'address') await addressPage(body, ctx, parts[1], current);
    else await homePage(body, ctx, current);
  } catch (e) {
    if (current()) mount(body, errorBox(e));
  }
  if (current()) ready('explorer');
}

function searchBar() {
  const input = h('input', { id: 'explorer-search', size: 70, class: 'mono', placeholder: 'block number, block or transaction hash, address' });
  const form = h('form', { class: 'filters' }, h('label', null, 'Search the chain', input), h('button', { type: 'submit' }, 'Go'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = input.value.trim();
    if (/^\d+$/.test(v)) location.hash = `#/explorer/block/${v}`;
    else if (/^0x[0-9a-fA-F]{40}$/.test(v)) location.hash = `#/explorer/address/${v}`;
    else if (/^0x[0-9a-fA-F]{64}$/.test(v)) location.hash = `#/explorer/tx/${v}`;
    else input.setCustomValidity('a block number, a 32-byte hash or a 20-byte address'), input.reportValidity();
  });
  input.addEventListener('input', () => input.setCustomValidity(''));
  return h('div', null, h('h1', null, 'Chain explorer'), form);
}

const named = (ctx, addr, fallback) => {
  if (!addr) return fallback || '';
  const n = ctx.book.get(addr.toLowerCase());
  return addrLink(checksumAddress(addr), n ? `${n} ${short(addr, 6)}` : short(addr, 10));
};

function methodName(ctx, tx) {
  if (!tx.to) return h('span', { class: 'tag' }, 'create');
  const d = decodeCall(tx.input, tx.to, ctx.book);
  return d.kind === 'call' ? h('span', { class: 'tag', title: d.signature }, d.name) : d.kind === 'transfer' ? h('span', { class: 'tag' }, 'transfer') : h('span', { class: 'tag muted' }, d.selector || '?');
}

async function homePage(body, ctx, current) {
  const head = qty(await rpc(ctx.url, 'eth_blockNumber'));
  const nums = [];
  for (let n = head; n >= 0n && nums.length < LATEST; n--) nums.push(n);
  const answers = await rpcBatch(ctx.url, nums.map((n) => ['eth_getBlockByNumber', [toQty(n), true]]));
  if (!current()) return;
  const blocks = answers.map((a) => a.result).filter(Boolean);
  const txs = blocks.flatMap((b) => b.transactions.map((t) => ({ ...t, timestamp: b.timestamp }))).slice(0, 25);
  mount(body,
    h('div', { class: 'split' },
      h('div', null, h('h2', null, `Latest blocks (head ${head})`),
        table(['Block', 'Time', ['Txs', { class: 'num' }], ['Gas used', { class: 'num' }], 'Hash'], blocks.map((b) => h('tr', null,
          h('td', null, blockLink(b.number)), h('td', { class: 'mono' }, fmtTime(Number(b.timestamp) * 1000)),
          h('td', { class: 'num' }, String(b.transactions.length)), h('td', { class: 'num' }, fmtInt(qty(b.gasUsed))), h('td', { class: 'mono', title: b.hash }, short(b.hash, 10)))), { id: 'latest-blocks' })),
      h('div', null, h('h2', null, 'Latest transactions'),
        txs.length ? table(['Transaction', 'Block', 'From', 'To', 'Method'], txs.map((t) => h('tr', null,
          h('td', null, txLink(t.hash)), h('td', null, blockLink(t.blockNumber)), h('td', null, named(ctx, t.from)), h('td', null, t.to ? named(ctx, t.to) : h('span', { class: 'muted' }, 'contract creation')),
          h('td', null, methodName(ctx, t)))), { id: 'latest-txs' }) : empty('No transactions in the latest blocks.', 'alara demo audit'))));
}

async function blockPage(body, ctx, id, current) {
  let block;
  if (/^0x[0-9a-fA-F]{64}$/.test(id || '')) block = await rpc(ctx.url, 'eth_getBlockByHash', [id, true]);
  else if (/^\d+$/.test(id || '')) block = await rpc(ctx.url, 'eth_getBlockByNumber', [toQty(id), true]);
  else throw Object.assign(new Error(`${JSON.stringify(id)} is not a block number or hash`), { code: 'bad_request' });
  if (!current()) return;
  if (!block) { mount(body, empty(`No block ${id} on this chain (yet).`)); return; }
  const n = qty(block.number);
  mount(body,
    h('h2', null, `Block ${n}`),
    h('div', { class: 'row' }, n > 0n ? h('a', { class: 'button secondary', href: `#/explorer/block/${n - 1n}` }, '← Parent') : null, h('a', { class: 'button secondary', href: `#/explorer/block/${n + 1n}`, id: 'next-block' }, 'Next →')),
    h('div', { class: 'card', id: 'block-header' }, kv([
      ['Hash', mono(block.hash)], ['Parent', h('a', { href: `#/explorer/block/${block.parentHash}`, class: 'mono hash' }, block.parentHash)],
      ['Time', `${fmtTime(Number(block.timestamp) * 1000)} (${Number(block.timestamp)})`], ['Miner', named(ctx, block.miner)],
      ['Gas used / limit', `${fmtInt(qty(block.gasUsed))} / ${fmtInt(qty(block.gasLimit))}`],
      block.baseFeePerGas ? ['Base fee', `${fmtInt(qty(block.baseFeePerGas))} wei`] : null,
      ['State root', mono(block.stateRoot)], ['Transactions root', mono(block.transactionsRoot)], ['Receipts root', mono(block.receiptsRoot)],
      ['Size', block.size ? `${fmtInt(qty(block.size))} bytes` : ''],
    ])),
    h('h2', null, `Transactions (${block.transactions.length})`),
    block.transactions.length
      ? table(['#', 'Hash', 'From', 'To', 'Method', ['Value', { class: 'num' }]], block.transactions.map((t, i) => h('tr', null,
        h('td', { class: 'num' }, String(i)), h('td', null, txLink(t.hash, 14)), h('td', null, named(ctx, t.from)), h('td', null, t.to ? named(ctx, t.to) : h('span', { class: 'muted' }, 'create')),
        h('td', null, methodName(ctx, t)), h('td', { class: 'num' }, fmtEth(qty(t.value))))), { id: 'block-txs' })
      : empty('This block has no transactions.'));
}

function argList(args) {
  return h('table', { class: 'args' }, h('tbody', null, args.map((a) => h('tr', null,
    h('td', { class: 'muted' }, a.name || ''), h('td', { class: 'muted mono' }, a.type), h('td', { class: 'mono hash' }, valueNode(a))))));
}

function valueNode(a) {
  if (a.type === 'address' && typeof a.value === 'string') return addrLink(a.value, a.value);
  return formatValue(a.value);
}

function callNode(ctx, c) {
  const d = c.input ? decodeCall(c.input, c.to, ctx.book) : null;
  const out = d && d.item && c.output ? decodeOutput(d.item, c.output) : null;
  const err = c.error ? (c.output && c.output !== '0x' ? decodeRevert(c.output).text : c.revertReason || c.error) : null;
  return h('li', { 'data-call': c.type },
    h('span', { class: 'tag' }, c.type), ' ', named(ctx, c.from), ' → ', c.to ? named(ctx, c.to) : 'new contract', ' ',
    d && d.kind === 'call' ? h('strong', { title: d.signature }, `${d.contract}.${d.name}`) : d && d.kind === 'unknown' ? h('span', { class: 'muted' }, d.text) : null,
    c.value && qty(c.value) > 0n ? ` · ${fmtEth(qty(c.value))}` : '',
    c.gasUsed ? h('span', { class: 'muted' }, ` · gas ${fmtInt(qty(c.gasUsed))}`) : '',
    out && out.length ? h('span', { class: 'muted' }, ` → ${out.map((o) => formatValue(o.value)).join(', ')}`) : '',
    err ? h('span', { class: 'bad' }, ` ✗ ${err}`) : '',
    c.calls && c.calls.length ? h('ul', { class: 'calltree' }, c.calls.map((x) => callNode(ctx, x))) : null);
}

async function txPage(body, ctx, hash, current) {
  if (!/^0x[0-9a-fA-F]{64}$/.test(hash || '')) throw Object.assign(new Error(`${JSON.stringify(hash)} is not a transaction hash`), { code: 'bad_request' });
  const [txA, rcA] = await rpcBatch(ctx.url, [['eth_getTransactionByHash', [hash]], ['eth_getTransactionReceipt', [hash]]]);
  if (txA.error) throw txA.error;
  const tx = txA.result, rc = rcA.result;
  if (!current()) return;
  if (!tx) { mount(body, empty(`No transaction ${hash} on this chain.`)); return; }
  const call = tx.to ? decodeCall(tx.input, tx.to, ctx.book) : null;
  const ok = rc ? rc.status === '0x1' : null;
  const reason = h('div', { id: 'revert-reason' });
  const trace = h('div', { id: 'call-trace' }, loading('Tracing the internal calls (debug_traceTransaction, callTracer)…'));
  const created = rc && rc.contractAddress;
  mount(body,
    h('h2', null, 'Transaction'),
    h('div', { class: 'card', id: 'tx-summary' }, kv([
      ['Hash', mono(tx.hash)],
      ['Status', rc ? (ok ? h('span', { class: 'ok', id: 'tx-status' }, '✓ success') : h('span', { class: 'bad', id: 'tx-status' }, '✗ reverted')) : h('span', { class: 'warn' }, 'pending')],
      ['Block', tx.blockNumber ? blockLink(tx.blockNumber) : 'pending'], ['From', named(ctx, tx.from)],
      ['To', tx.to ? named(ctx, tx.to) : h('span', null, 'contract creation', created ? [' → ', named(ctx, created)] : '')],
      ['Value', fmtEth(qty(tx.value))], ['Nonce', String(qty(tx.nonce))],
      rc ? ['Gas used', `${fmtInt(qty(rc.gasUsed))} of ${fmtInt(qty(tx.gas))}`] : ['Gas limit', fmtInt(qty(tx.gas))],
      rc && rc.effectiveGasPrice ? ['Gas price', `${fmtInt(qty(rc.effectiveGasPrice))} wei`] : null,
      ['Type', String(qty(tx.type ?? '0x0'))],
    ]), reason),
    h('h2', null, 'Call'),
    h('div', { class: 'card', id: 'tx-call' },
      !tx.to ? h('p', null, `Contract creation, ${(tx.input.length - 2) / 2} bytes of init code.`)
        : call.kind === 'call' ? h('div', null, h('div', null, h('strong', { id: 'tx-method' }, `${call.contract}.${call.name}`), ' ', h('span', { class: 'mono muted' }, call.signature)), argList(call.args))
          : h('p', { id: 'tx-method' }, call.text),
      h('details', null, h('summary', null, 'Raw input'), h('pre', null, tx.input))),
    h('h2', null, `Events (${rc ? rc.logs.length : 0})`),
    h('div', { id: 'tx-events' }, rc && rc.logs.length ? rc.logs.map((l) => {
      const ev = decodeEvent(l, ctx.book);
      return h('div', { class: 'card', 'data-event': ev ? ev.name : 'unknown' },
        h('div', null, named(ctx, l.address), ' ', ev ? h('strong', { title: ev.signature }, `${ev.contract}.${ev.name}`) : h('span', { class: 'muted' }, 'unknown event')),
        ev ? argList(ev.args) : h('pre', null, `topics: ${l.topics.join('\n        ')}\ndata: ${l.data}`));
    }) : empty('No events.')),
    h('h2', null, 'Internal calls'), trace);

  // The revert reason and the call tree come after the page, from the node's tracers.
  let traceResult = null;
  try {
    traceResult = await rpc(ctx.url, 'debug_traceTransaction', [hash, { tracer: 'callTracer' }]);
    if (!current()) return;
    mount(trace, h('ul', { class: 'calltree', style: 'border:none;padding-left:0' }, callNode(ctx, traceResult)));
  } catch (e) {
    if (current()) mount(trace, errorBox(e, 'Call trace'));
  }
  if (ok === false) {
    let data = null, via = '';
    try {
      data = await rpc(ctx.url, 'ots_getTransactionError', [hash]);
      via = 'ots_getTransactionError';
    } catch (e) {
      if (traceResult) { data = traceResult.output || null; via = 'debug_traceTransaction'; }
    }
    const text = data && data !== '0x' ? decodeRevert(data).text : traceResult?.revertReason || traceResult?.error || 'no revert data';
    if (current()) mount(reason, h('p', { class: 'bad', 'data-revert': text }, h('strong', null, 'Revert reason: '), text, via ? h('span', { class: 'muted' }, ` (via ${via})`) : ''));
  }
}

async function addressPage(body, ctx, addr, current) {
  if (!/^0x[0-9a-fA-F]{40}$/.test(addr || '')) throw Object.assign(new Error(`${JSON.stringify(addr)} is not an address`), { code: 'bad_request' });
  const a = checksumAddress(addr);
  const [bal, nonce, code, head] = await rpcBatch(ctx.url, [['eth_getBalance', [a, 'latest']], ['eth_getTransactionCount', [a, 'latest']], ['eth_getCode', [a, 'latest']], ['eth_blockNumber', []]]);
  for (const x of [bal, nonce, code, head]) if (x.error) throw x.error;
  if (!current()) return;
  const isContract = code.result && code.result !== '0x';
  const name = ctx.book.get(a.toLowerCase());
  const creator = h('span', { id: 'creator' }, isContract ? '…' : '');
  const history = h('div', { id: 'address-history' }, loading('Looking for its transactions…'));
  mount(body,
    h('h2', null, name ? `${name} ` : isContract ? 'Contract ' : 'Account ', h('span', { class: 'mono' }, a)),
    h('div', { class: 'card', id: 'address-summary' }, kv([
      ['Kind', isContract ? `contract (${(code.result.length - 2) / 2} bytes of code)` : 'externally owned account (no code)'],
      name ? ['Platform contract', name] : null,
      ['Balance', fmtEth(qty(bal.result))], ['Nonce', String(qty(nonce.result))],
      isContract ? ['Created by', creator] : null,
    ])),
    h('h2', null, 'Transactions'), history);
  if (isContract) {
    rpc(ctx.url, 'ots_getContractCreator', [a]).then((c) => {
      if (c) mount(creator, named(ctx, c.creator), ' in ', txLink(c.hash, 14));
      else mount(creator, 'unknown (genesis)');
    }).catch(() => mount(creator, h('span', { class: 'muted' }, 'unknown (the node has no ots_getContractCreator)')));
  }
  let rows = null, note = '';
  try {
    const page = await rpc(ctx.url, 'ots_searchTransactionsBefore', [a, 0, 25]);
    rows = page.txs.map((t, i) => ({ ...t, status: page.receipts?.[i]?.status, timestamp: page.receipts?.[i]?.timestamp }));
    note = 'newest first, via ots_searchTransactionsBefore';
  } catch (e) {
    const last = qty(head.result);
    const nums = [];
    for (let n = last; n >= 0n && nums.length < SCAN_BLOCKS; n--) nums.push(n);
    rows = [];
    for (let i = 0; i < nums.length && rows.length < 25; i += 50) {
      const answers = await rpcBatch(ctx.url, nums.slice(i, i + 50).map((n) => ['eth_getBlockByNumber', [toQty(n), true]]));
      for (const ans of answers) {
        for (const t of ans.result?.transactions || []) {
          if (t.from?.toLowerCase() === a.toLowerCase() || t.to?.toLowerCase() === a.toLowerCase()) rows.push({ ...t, timestamp: ans.result.timestamp });
        }
      }
    }
    note = `from the latest ${Math.min(nums.length, SCAN_BLOCKS)} blocks (the node has no ots_searchTransactionsBefore)`;
  }
  if (!current()) return;
  mount(history, rows.length
    ? h('div', null, h('p', { class: 'muted' }, note), table(['Transaction', 'Block', 'From', 'To', 'Method', ['Value', { class: 'num' }]], rows.slice(0, 25).map((t) => h('tr', null,
      h('td', null, txLink(t.hash, 14)), h('td', null, blockLink(t.blockNumber)), h('td', null, named(ctx, t.from)), h('td', null, t.to ? named(ctx, t.to) : 'create'),
      h('td', null, methodName(ctx, t)), h('td', { class: 'num' }, fmtEth(qty(t.value))))), { id: 'address-txs' }))
    : empty(`No transactions ${note}.`));
}
