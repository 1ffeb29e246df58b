// "Verify in your browser": paste, load or fetch a receipt and check it here, step by step.
// The log key and the AuditAnchor address are pinned from this server (its log and its
// address book), never taken from the receipt; the server's own verdict (POST
// /audit/verify) is shown beside for comparison only.
import { h, api, mount, errorBox, info, contractsOf, rpcUrl, loading } from './core.js';
import { verifyReceipt } from './verify.js';
import { ed25519Supported } from './note.js';

const MARK = { ok: '✓', fail: '✗', skip: '–' };

export function verifyPanel({ receipt, index, log }) {
  const text = h('textarea', { id: 'receipt-input', spellcheck: 'false', placeholder: 'Paste a receipt JSON here' }, receipt ? JSON.stringify(receipt, null, 2) : '');
  const out = h('div', { id: 'verify-result' });
  const server = h('div', { id: 'server-verdict' });
  const file = h('input', { type: 'file', accept: '.json,application/json', id: 'receipt-file' });
  file.addEventListener('change', async () => {
    const f = file.files && file.files[0];
    if (f) text.value = await f.text();
  });
  const fetchBtn = index !== undefined
    ? h('button', { type: 'button', class: 'secondary', id: 'fetch-receipt', onclick: async () => {
      try { text.value = JSON.stringify(await api(`/audit/entries/${index}/receipt`, { query: { log } }), null, 2); } catch (e) { mount(out, errorBox(e, 'Fetching the receipt')); }
    } }, "Fetch this entry's receipt")
    : h('span', { class: 'row' }, h('input', { id: 'receipt-index', type: 'number', min: 0, placeholder: 'entry #', style: 'width:90px' }),
      h('button', { type: 'button', class: 'secondary', id: 'fetch-receipt', onclick: async (ev) => {
        const i = ev.target.parentNode.querySelector('input').value;
        try { text.value = JSON.stringify(await api(`/audit/entries/${Number(i)}/receipt`, { query: { log } }), null, 2); } catch (e) { mount(out, errorBox(e, 'Fetching the receipt')); }
      } }, 'Fetch receipt'));
  const run = h('button', { type: 'button', id: 'verify-btn', onclick: () => runVerify(text.value, out, server, log) }, 'Verify in your browser');
  const cmp = h('button', { type: 'button', class: 'secondary', id: 'server-verify-btn', onclick: () => serverVerify(text.value, server, log) }, 'Ask the server too');
  return h('div', null,
    h('h2', { style: 'margin-top:0' }, 'Verify in your browser'),
    h('p', { class: 'muted' }, 'SHA-256 and Ed25519 with WebCrypto, the RFC 9162 proofs in JavaScript, the anchor read from the AuditAnchor contract over JSON-RPC. Change a byte and it fails.'),
    h('div', { class: 'row' }, fetchBtn, h('label', { class: 'muted' }, 'or a file: ', file)),
    text,
    h('div', { class: 'row' }, run, cmp),
    out, server);
}

async function pins(log, receipt) {
  const out = { pinnedKey: null, pinnedKeySource: null, rpcUrl: null, contract: null, notes: [] };
  if (!log && receipt?.log?.origin) {
    // The served log the receipt says it is from: its key is pinned from the server, so a
    // receipt naming another key still fails.
    const logs = await api('/audit/logs').catch(() => []);
    log = (Array.isArray(logs) ? logs : []).find((l) => l.origin === receipt.log.origin)?.name;
  }
  const [status, inf] = await Promise.allSettled([api('/audit/status', { query: { log } }), info()]);
  if (status.status === 'fulfilled' && status.value.verifier_key) {
    out.pinnedKey = status.value.verifier_key;
    out.pinnedKeySource = `this server's log ${status.value.name || ''} (GET /api/v1/audit/status)`;
  } else out.notes.push(`no log key to pin: ${status.reason?.message || 'the server has no log'}`);
  if (inf.status === 'fulfilled') {
    out.rpcUrl = await rpcUrl().catch(() => null);
    out.contract = contractsOf(inf.value).AuditAnchor || status.value?.anchoring?.contract || null;
  } else out.notes.push(`no chain info: ${inf.reason?.message}`);
  return out;
}

async function runVerify(text, out, server, log) {
  mount(server);
  let receipt;
  try {
    receipt = JSON.parse(text);
  } catch (e) {
    mount(out, h('div', { class: 'verdict invalid', id: 'verdict', 'data-valid': 'false' }, '✗ INVALID — not JSON'), errorBox({ code: 'bad_json', message: e.message, hint: 'paste the whole receipt file' }));
    return;
  }
  if (!(await ed25519Supported())) {
    mount(out, errorBox({ code: 'unsupported', message: 'this browser\'s WebCrypto has no Ed25519', hint: 'use a current Chromium, Firefox or Safari, or `alara audit verify receipt.json`' }));
    return;
  }
  const list = h('ol', { class: 'steps', id: 'verify-steps' });
  const verdict = h('div', { class: 'verdict', id: 'verdict' }, 'Verifying…');
  mount(out, verdict, list);
  const p = await pins(log, receipt);
  const result = await verifyReceipt(receipt, {
    ...p,
    onStep: (s) => list.append(h('li', { class: `st-${s.status}`, 'data-step': s.id, 'data-status': s.status },
      h('span', { class: `mark ${s.status === 'ok' ? 'ok' : s.status === 'fail' ? 'bad' : 'muted'}` }, MARK[s.status]),
      h('span', null, s.title), h('span', { class: 'detail' }, s.detail))),
  });
  verdict.dataset.valid = String(result.valid);
  if (result.valid) {
    const onchain = result.steps.find((s) => s.id === 'onchain');
    verdict.className = 'verdict valid';
    verdict.textContent = `✓ VALID${onchain?.status === 'ok' ? ' — anchored on-chain and checked against the contract' : result.anchored ? ' — offline; the on-chain check did not run' : ' — offline; not anchored yet'}`;
  } else {
    verdict.className = 'verdict invalid';
    verdict.textContent = `✗ INVALID — failed: ${result.firstFailure.title}`;
    verdict.dataset.failedStep = result.firstFailure.id;
  }
  for (const n of p.notes) out.append(h('p', { class: 'muted' }, n));
}

async function serverVerify(text, server, log) {
  mount(server, loading('Asking the server…'));
  try {
    const v = await api('/audit/verify', { method: 'POST', body: text, query: { log } });
    mount(server, h('div', { class: 'card' }, h('strong', null, 'Server (POST /api/v1/audit/verify): '), v.valid ? h('span', { class: 'ok' }, '✓ valid') : h('span', { class: 'bad' }, `✗ ${v.error || 'invalid'}`), h('pre', null, JSON.stringify(v, null, 2))));
  } catch (e) {
    mount(server, errorBox(e, 'Server verification'));
  }
}
