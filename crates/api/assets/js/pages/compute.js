// Verifiable compute: the tasks of ComputeMarket (phase, reward, stake, submissions), and
// for one task every worker's revealed claim and every dispute with its DisputeGame — the
// bisection of the two execution traces round by round down to the first diverging step,
// the one operator the chain re-executed, the gas of each move and the winner.
// GET /api/v1/compute, /compute/tasks/{id} and /compute/games/{id} compute it
// (docs/compute.md defines the game).
import { h, api, mount, errorBox, empty, loading, table, stat, kv, fmtEth, fmtInt, fmtTime, txLink, addrLink, short, route, ready } from '../core.js';

const amount = (v, token) => (/^0x0+$/.test(token) ? fmtEth(v) : `${fmtInt(v)} base units of ${short(token)}`);
const time = (s) => h('span', { class: 'mono' }, fmtTime(s * 1000));
const hash = (x, n = 10) => (x ? h('code', { title: x }, short(x, n)) : '—');
const phaseTag = (p) => h('span', { class: 'tag', 'data-phase': p }, p);

async function list(root) {
  const body = h('div', null, loading('Reading ComputeMarket…'));
  mount(root, h('h1', null, 'Verifiable compute'), h('p', { class: 'muted' },
    'Workers train a model for a task, commit to it before the held-out evaluation set is opened, then reveal their count of correct answers and the root of their execution trace. ',
    'On an optimistic task anyone may re-execute a claim and dispute it: a game bisects the two traces to the first step they disagree on, and the chain re-executes that one operator to decide who was right.'), body);
  let r;
  try { r = await api('/compute'); } catch (e) { mount(body, errorBox(e)); ready('compute'); return; }
  if (!r.deployed) {
    const note = empty(`ComputeMarket is not deployed on this chain yet.${r.hint ? ` ${r.hint}.` : ''}`, 'alara demo compute');
    note.id = 'compute-not-deployed';
    mount(body, note);
    ready('compute');
    return;
  }
  const tiles = h('div', { class: 'grid' }, stat('Tasks', String(r.total)), stat('ComputeMarket', addrLink(r.contracts.market)),
    stat('DisputeGame', addrLink(r.contracts.game)), stat('Chain time', fmtTime(r.chain_time * 1000)));
  if (!r.tasks.length) { mount(body, tiles, empty('No task is posted on this ComputeMarket yet.', 'alara demo compute')); ready('compute'); return; }
  const rows = r.tasks.map((t) => h('tr', { 'data-task': String(t.id), 'data-phase': t.phase },
    h('td', null, h('a', { href: route(['compute', String(t.id)]) }, String(t.id))),
    h('td', null, t.tier),
    h('td', null, phaseTag(t.phase)),
    h('td', { class: 'num' }, amount(t.reward, t.token)),
    h('td', { class: 'num' }, amount(t.stake, t.token)),
    h('td', { class: 'num' }, String(t.submissions)),
    h('td', { class: 'num' }, String(t.revealed)),
    h('td', { class: 'num' }, String(t.unsettled_games)),
    h('td', null, t.winner ? [addrLink(t.winner), ` (${t.winner_correct} of ${t.row_count})`] : '—')));
  mount(body, tiles, table(['Id', 'Tier', 'Phase', ['Reward', { class: 'num' }], ['Stake', { class: 'num' }], ['Submissions', { class: 'num' }],
    ['Revealed', { class: 'num' }], ['Unsettled games', { class: 'num' }], 'Winner'], rows, { id: 'compute-tasks' }));
  ready('compute');
}

async function one(root, id) {
  const body = h('div', null, loading(`Reading task ${id}…`));
  mount(root, h('p', null, h('a', { href: '#/compute' }, '← all tasks')), h('h1', null, `Compute task ${id}`), body);
  let a;
  try { a = await api(`/compute/tasks/${encodeURIComponent(id)}`); } catch (e) { mount(body, errorBox(e)); ready('compute'); return; }
  const t = a.task;
  const params = h('div', { id: 'compute-task', 'data-task': String(t.id), 'data-phase': t.phase },
    h('div', { class: 'grid' }, stat('Tier', t.tier), stat('Phase', phaseTag(t.phase)), stat('Reward', amount(t.reward, t.token)),
      stat('Stake (and challenge bond)', amount(t.stake, t.token)), stat('Winner', t.winner ? addrLink(t.winner) : '—')),
    h('div', { class: 'card' }, kv([
      ['Poster', addrLink(t.poster, t.poster)],
      ['Commits until', time(t.commit_deadline)],
      ['Reveals until', time(t.reveal_deadline)],
      ['Challenge window', t.challenge_window ? [`${t.challenge_window} s, until `, time(t.challenge_ends_at)] : 'none (trusted tier)'],
      ['Move timeout', `${t.move_timeout} s per move of a dispute`],
      ['Evaluation set', `${t.row_count} rows in ${t.chunk_count} chunks, ${t.evaluation_open ? 'opened' : 'not opened yet'}`],
      ['Evaluation commitment', hash(t.eval_commitment, 18)],
      t.eval_root && ['Evaluation root', hash(t.eval_root, 18)],
      t.eval_cid && ['Evaluation set CID', h('code', null, t.eval_cid)],
      ['Training data CID', h('code', null, t.dataset_cid)],
      ['Recipe', hash(t.recipe, 18)],
      ['Contracts', ['ComputeMarket ', addrLink(a.contracts.market), ', DisputeGame ', addrLink(a.contracts.game)]],
    ])));
  const subs = a.submissions.length ? table(['Worker', ['Claimed correct', { class: 'num' }], ['Accuracy', { class: 'num' }], 'Status', 'Reveal', 'Trace root', 'Model hash'],
    a.submissions.map((s) => h('tr', { 'data-worker': s.worker, 'data-status': s.status, 'data-winner': s.winner ? 'true' : 'false' },
      h('td', null, addrLink(s.worker)),
      h('td', { class: 'num' }, s.revealed ? `${s.correct} / ${t.row_count}` : '—'),
      h('td', { class: 'num' }, s.accuracy_pct != null ? `${s.accuracy_pct.toFixed(2)}%` : '—'),
      h('td', null, h('span', { class: s.invalid ? 'bad' : s.revealed ? 'ok' : 'muted' }, s.invalid ? 'invalid (proven wrong)' : s.status),
        s.winner ? [' ', h('span', { class: 'tag' }, 'winner')] : null),
      h('td', null, s.reveal_order ? `#${s.reveal_order}` : 'not revealed'),
      h('td', null, hash(s.trace_root)),
      h('td', null, hash(s.model_hash)))), { id: 'compute-submissions' })
    : empty('No worker has committed to this task yet.', 'alara compute commit');
  const games = a.disputes.map((d) => h('div', { class: 'card', 'data-game': String(d.game_id) }, loading(`Reading game ${d.game_id}…`)));
  mount(body, params, h('h2', null, 'Submissions'), subs, h('h2', null, 'Disputes'),
    h('div', { id: 'compute-disputes' }, games.length ? games : empty(t.tier === 'trusted' ? 'A trusted task takes no disputes.' : 'Nobody disputed a claim of this task.')));
  await Promise.all(a.disputes.map(async (d, i) => {
    try { mount(games[i], gameView(d, await api(`/compute/games/${d.game_id}`), t)); } catch (e) { mount(games[i], errorBox(e, `Game ${d.game_id}`)); }
  }));
  ready('compute');
}

// A bar: the interval [lo, hi] of the game's n steps.
function bar(lo, hi, n, color = 'var(--accent)') {
  const pct = (x) => `${(100 * x) / (n || 1)}%`;
  return h('div', { style: 'position:relative;height:14px;min-width:260px;background:#eef1f5;border-radius:3px', title: `[${lo}, ${hi}] of ${n}` },
    h('div', { style: `position:absolute;top:0;bottom:0;left:${pct(lo)};width:max(3px, ${pct(hi - lo)});background:${color};border-radius:3px` }));
}

function meaning(g, d) {
  const other = g.winner === 'claimer' ? 'challenger' : 'claimer';
  if (g.phase !== 'resolved') {
    return `In play (${g.phase}): after ${g.rounds} of at most ${g.max_rounds} rounds the traces agree at state ${g.lo} and disagree at state ${g.hi}; the next move is due ${fmtTime(g.deadline * 1000)}${g.overdue ? ' and is overdue (anyone may call timeout)' : ''}.`;
  }
  if (g.resolved_by_timeout) return `The ${other} did not move within ${g.move_timeout} s, so the game was resolved for the ${g.winner} by timeout.`;
  if (g.winner === 'neither') return `The re-executed step ${g.diverging_step} (${g.diverging_operation}) matched neither party's state: both traces were wrong.`;
  const outcome = g.winner === 'challenger'
    ? `the worker's claim of ${g.claimed_correct} correct is proven wrong${d && d.invalidated ? ' and its submission is invalid' : ''}`
    : `the challenge failed and the claim of ${g.claimed_correct} correct stands`;
  return `The honest side, the ${g.winner}, proved its claim by re-executing one operator on-chain (${g.diverging_operation}, step ${g.diverging_step}) out of ${g.steps} steps, `
    + `found in ${g.rounds} rounds of bisection (⌈log2 ${g.steps}⌉ = ${g.max_rounds}): ${outcome}.`;
}

function moveDetail(m) {
  switch (m.kind) {
    case 'opened': return `interval [${m.lo}, ${m.hi}]`;
    case 'reveal': return [`state ${m.mid}: `, hash(m.leaf)];
    case 'bisect': return `${m.agreed ? 'leaves agreed: lo' : 'leaves differed: hi'} moved → [${m.lo}, ${m.hi}]`;
    case 'step': return [`re-executed step ${m.step}, computed `, hash(m.computed)];
    case 'resolved': return `winner: ${m.winner}${m.by_timeout ? ' (by timeout)' : ''}`;
    case 'settled': return `winner: ${m.winner}; submission ${m.invalidated ? 'invalidated' : 'kept'}`;
    default: return '';
  }
}

function gameView(d, ga, task) {
  const g = ga.game, n = g.steps;
  // Gas of a set of moves, each transaction counted once.
  const gasOf = (ms) => [...new Map(ms.map((m) => [m.tx_hash, m.gas_used])).values()].reduce((x, y) => x + y, 0);
  const bisects = ga.moves.filter((m) => m.kind === 'bisect');
  const step = ga.moves.find((m) => m.kind === 'step');
  const rows = [
    h('tr', { 'data-start': '' }, h('td', null, 'start'), h('td', null, '—'), h('td', null, `[0, ${n}]`), h('td', null, bar(0, n, n, '#9aa5b4')), h('td', { class: 'num' }, String(n)), h('td', { class: 'num' }, '—')),
    bisects.map((m) => h('tr', { 'data-round': String(m.round), 'data-lo': String(m.lo), 'data-hi': String(m.hi) },
      h('td', null, String(m.round)),
      h('td', null, `${(m.agreed ? m.lo : m.hi)}: ${m.agreed ? 'agreed' : 'differed'}`),
      h('td', { class: 'mono' }, `[${m.lo}, ${m.hi}]`),
      h('td', null, bar(m.lo, m.hi, n)),
      h('td', { class: 'num' }, String(m.hi - m.lo)),
      h('td', { class: 'num' }, fmtInt(gasOf(ga.moves.filter((x) => x.round === m.round)))))),
    step && h('tr', { 'data-step': String(step.step) },
      h('td', null, 'one step'), h('td', null, g.diverging_operation || ''), h('td', { class: 'mono' }, `${step.step} → ${step.step + 1}`),
      h('td', null, bar(step.step, step.step + 1, n, g.winner === 'claimer' ? 'var(--ok)' : 'var(--bad)')), h('td', { class: 'num' }, '1'), h('td', { class: 'num' }, fmtInt(step.gas_used))),
  ];
  let prev = null;
  const moves = ga.moves.map((m) => {
    const shared = m.tx_hash === prev;
    prev = m.tx_hash;
    return h('tr', { 'data-move': m.kind },
      h('td', null, m.kind), h('td', null, m.round != null ? String(m.round) : ''),
      h('td', null, m.role ? `${m.role} ` : '', m.party ? addrLink(m.party) : ''),
      h('td', null, moveDetail(m)), h('td', null, txLink(m.tx_hash)),
      h('td', { class: 'num' }, shared ? h('span', { class: 'muted', title: 'the same transaction as the move above' }, 'same tx') : fmtInt(m.gas_used)));
  });
  return [
    h('h3', { style: 'margin-top:0' }, `Game ${g.game_id}: `, addrLink(g.challenger), ` disputes `, addrLink(g.claimer), `'s claim`),
    h('div', { class: 'grid' }, stat('Claimed correct', `${g.claimed_correct} / ${task.row_count}`), stat('Challenger says', `${g.challenger_correct} / ${task.row_count}`),
      stat('Bond', amount(d.bond, task.token)), stat('Rounds', `${g.rounds} (at most ⌈log2 ${n}⌉ = ${g.max_rounds})`),
      stat('Diverging step', g.diverging_step != null ? `${g.diverging_step}: ${g.diverging_operation}` : '—'),
      h('div', { class: 'stat', 'data-winner': g.winner }, h('div', { class: 'k' }, 'Winner'), h('div', { class: 'v' }, g.winner === 'none' ? 'not resolved' : g.winner))),
    h('p', { 'data-meaning': '' }, meaning(g, d)),
    h('h4', null, `Bisection over ${n} steps (${task.chunk_count} chunks × ${g.layer_count + 1} steps: ${g.layer_count} layers and a score)`),
    table(['Round', 'State revealed at mid', 'Interval [lo, hi]', 'Where in the trace', ['Width', { class: 'num' }], ['Gas', { class: 'num' }]], rows, { 'data-bisection': String(g.game_id) }),
    h('h4', null, 'Moves'),
    table(['Move', 'Round', 'Party', 'What', 'Transaction', ['Gas', { class: 'num' }]], [moves,
      h('tr', null, h('td', { colspan: 5 }, h('strong', null, 'Total (each transaction once)')), h('td', { class: 'num', 'data-gas-total': String(ga.gas_used_total) }, h('strong', null, fmtInt(ga.gas_used_total))))],
    { 'data-moves': String(g.game_id) }),
  ];
}

// `parts` are the route's parts after the page's own name: `#/compute/3` gives ['3'].
export async function render(root, parts) {
  if (parts[0]) return one(root, parts[0]);
  return list(root);
}
