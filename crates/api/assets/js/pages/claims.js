// AI-assessed claims: the pinned claims model (models/claims_assessor.onnx, run with tract)
// on real workers' compensation claims it never saw in training, and the decision
// ClaimsInsurance would take under the demo's rules: paid automatically, or sent to review
// (and why). The model learns long claims (over 26 weeks of benefits), the proxy the
// contract reads as its fraud score. GET /api/v1/claims/held-out computes it.
import { h, api, mount, errorBox, loading, table, stat, route, ready } from '../core.js';

const bp = (x) => `${(x / 100).toFixed(1)}%`;
const eth = (wei) => (Number(BigInt(wei) / 10n ** 12n) / 1e6).toFixed(4);

export async function render(root, parts, query, current) {
  const offset = query.offset || '0';
  const limit = query.limit || '20';
  const tiles = h('div', { class: 'grid' });
  const body = h('div', null, loading('Assessing the held-out claims…'));
  const form = h('form', { class: 'row', id: 'claims-form' },
    h('label', null, 'From claim ', h('input', { name: 'offset', id: 'claims-offset', type: 'number', min: 0, value: offset, style: 'width:6em' })),
    h('label', null, ' Show ', h('input', { name: 'limit', id: 'claims-limit', type: 'number', min: 1, max: 200, value: limit, style: 'width:5em' })),
    h('button', { type: 'submit', id: 'claims-run' }, 'Assess'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = new FormData(form);
    location.hash = route(['claims'], { offset: f.get('offset'), limit: f.get('limit') });
  });
  mount(root, h('h1', null, 'Claims'), h('p', { class: 'muted' },
    'Real workers\' compensation claims the model never saw in training, assessed by the claims model pinned by hash in every ClaimsInsurance policy. ',
    'A claim is paid automatically only under the fraud score, above the confidence, within the automatic maximum and the daily cap; otherwise a reviewer decides. The label is a long claim (over 26 weeks), not proven fraud.'),
    form, tiles, body);
  let a;
  try {
    a = await api('/claims/held-out', { query: { offset, limit } });
  } catch (e) {
    if (current()) { mount(body, errorBox(e)); ready('claims'); }
    return;
  }
  if (!current()) return;
  const auto = a.claims.filter((c) => c.assessment.decision === 'auto_approved').length;
  mount(tiles, stat('Model (SHA-256)', `${a.model.slice(0, 16)}…`), stat('Held-out claims', String(a.total)),
    stat('Paid automatically', `${auto} of ${a.claims.length}`),
    stat('Rules', `fraud < ${bp(a.rules.max_fraud_bp)}, confidence ≥ ${bp(a.rules.min_confidence_bp)}, ≤ ${eth(a.rules.auto_max_amount)} ETH`));
  const rows = a.claims.map((c) => h('tr', { 'data-row': c.row, 'data-decision': c.assessment.decision, 'data-fraud-bp': c.assessment.fraud_bp },
    h('td', null, String(c.row)),
    h('td', { class: 'num' }, `$${Math.round(c.features.claimed_usd).toLocaleString('en-US')}`),
    h('td', { class: 'num' }, eth(c.assessment.amount)),
    h('td', { class: 'num' }, bp(c.assessment.fraud_bp)),
    h('td', { class: 'num' }, bp(c.assessment.confidence_bp)),
    h('td', null, c.assessment.decision.replace('_', ' ')),
    h('td', null, c.long_claim ? 'long claim' : 'short'),
    h('td', null, h('code', { title: c.assessment.input }, `${c.assessment.input.slice(0, 12)}…`))));
  mount(body, table(['Row', 'Claimed', 'Assessed (ETH)', 'Fraud score', 'Confidence', 'Decision', 'In fact', 'Input commitment'], rows, { id: 'claims-table' }));
  ready('claims');
}
