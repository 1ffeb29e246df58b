// Federated learning: tasks and rounds from the API (accuracy, loss, contribution scores,
// rewards, from the coordinator's round records), each round matched to its settlement
// transaction in the FederatedTraining contract by the global model's hash; claims from the
// contract's events. Without the API's FL endpoints, rounds and rewards come from the chain.
import { h, api, mount, errorBox, empty, loading, table, short, fmtEth, txLink, addrLink, mono, info, contractsOf, rpcUrl, stat, route, ready } from '../core.js';
import { addressBook } from '../decode.js';
import { contractEvents } from '../chainlogs.js';
import { lineChart, barChart, legend } from '../chart.js';

const units = (v) => Number(BigInt(v)) / 1e18;
const fmtUnits = (v) => `${units(v).toLocaleString('en-US', { maximumFractionDigits: 6 })} ALARA`;

async function chainSide() {
  const [url, inf] = await Promise.all([rpcUrl(), info()]);
  const contracts = contractsOf(inf);
  const fl = contracts.FederatedTraining;
  if (!fl) return { events: [], fl: null };
  return { events: await contractEvents(url, fl, addressBook(contracts)), fl };
}

export async function render(root, parts, query, current) {
  const tiles = h('div', { class: 'grid' });
  const body = h('div', null, loading('Reading the FL rounds…'));
  mount(root, h('h1', null, 'Federated learning rounds'), tiles, body);
  const [tasksR, chainR] = await Promise.allSettled([api('/fl/tasks'), chainSide()]);
  if (!current()) return;
  const chain = chainR.status === 'fulfilled' ? chainR.value : { events: [], fl: null, error: chainR.reason };
  const settled = chain.events.filter((e) => e.name === 'RoundSettled');
  const claims = chain.events.filter((e) => e.name === 'Claimed');

  if (tasksR.status === 'rejected' && tasksR.reason.status !== 404) {
    mount(body, errorBox(tasksR.reason));
    ready('fl');
    return;
  }
  if (tasksR.status === 'rejected') {
    await chainOnly(body, tiles, chain, query, current);
    ready('fl');
    return;
  }
  const tasks = tasksR.value || [];
  if (!tasks.length) {
    mount(body, empty('No FL task has round records on this server yet.', 'alara demo fl'));
    ready('fl');
    return;
  }
  const task = tasks.find((t) => t.task_id === query.task) || tasks[tasks.length - 1];
  let rounds;
  try {
    rounds = await api(`/fl/tasks/${encodeURIComponent(task.task_id)}/rounds`);
  } catch (e) {
    if (current()) { mount(body, errorBox(e)); ready('fl'); }
    return;
  }
  const apiClaims = await api(`/fl/tasks/${encodeURIComponent(task.task_id)}/claims`).catch(() => []);
  if (!current()) return;
  const byHash = new Map(settled.map((e) => [e.args.globalModelHash.slice(2).toLowerCase(), e]));
  const clientIds = [...new Set(rounds.flatMap((r) => r.clients.map((c) => c.client_id)))];
  const last = rounds.at(-1);
  mount(tiles, stat('Tasks', String(tasks.length)), stat('Rounds', String(rounds.length)),
    stat('Latest accuracy', last ? last.accuracy.toFixed(4) : '–'), stat('Clients', String(clientIds.length)),
    stat('Settled on-chain', `${rounds.filter((r) => byHash.has(r.global_model_hash)).length} of ${rounds.length} rounds`));

  const picker = tasks.length > 1 ? h('div', { class: 'row' }, 'Task: ', tasks.map((t) => h('a', { class: `button ${t.task_id === task.task_id ? '' : 'secondary'}`, href: route(['fl'], { task: t.task_id }) }, t.task_id))) : null;
  const accuracy = rounds.length
    ? lineChart({ id: 'fl-accuracy', xLabel: 'round', yLabel: 'accuracy / loss', yMin: 0, xFormat: (x) => String(x),
      series: [
        { name: 'accuracy', points: rounds.map((r) => ({ x: r.round, y: r.accuracy, label: `round ${r.round}: accuracy ${r.accuracy.toFixed(4)}` })) },
        { name: 'validation loss', points: rounds.map((r) => ({ x: r.round, y: r.loss, label: `round ${r.round}: loss ${r.loss.toFixed(4)}` })) },
      ] })
    : empty('No round yet.', 'alara demo fl');
  const rewards = rounds.length
    ? barChart({ id: 'fl-rewards', yLabel: 'ALARA', groups: rounds.map((r) => ({ label: `round ${r.round}`, values: r.clients.map((c) => ({ series: c.client_id, value: units(c.reward) })) })), seriesNames: clientIds })
    : empty('No round yet.', 'alara demo fl');

  mount(body, picker,
    h('div', { class: 'split' },
      h('div', { class: 'card' }, h('h2', { style: 'margin-top:0' }, 'Global model by round'), legend(['accuracy', 'validation loss']), accuracy),
      h('div', { class: 'card' }, h('h2', { style: 'margin-top:0' }, 'Rewards by round and client'), legend(clientIds), rewards)),
    h('h2', null, `Rounds of ${task.task_id}`),
    table(['Round', 'Accuracy', 'Loss', 'Global model (SHA-256)', 'Clients used', ['Reward pool', { class: 'num' }], 'DP ε', 'Settlement'], rounds.map((r) => {
      const s = byHash.get(r.global_model_hash);
      return h('tr', null, h('td', null, String(r.round)), h('td', null, r.accuracy.toFixed(4)), h('td', null, r.loss.toFixed(4)),
        h('td', null, h('a', { href: `#/market?lineage=${r.global_model_hash}`, class: 'mono', title: r.global_model_hash }, short(r.global_model_hash, 12))),
        h('td', null, `${r.clients.filter((c) => c.selected).length} of ${r.clients.length}`), h('td', { class: 'num' }, fmtUnits(r.reward_pool)),
        h('td', null, r.dp_epsilon != null ? r.dp_epsilon.toFixed(3) : '–'),
        h('td', null, s ? txLink(s.log.transactionHash) : h('span', { class: 'muted' }, 'not on this chain')));
    }), { id: 'fl-rounds' }),
    h('h2', null, 'Clients'),
    table(['Client', ['Samples', { class: 'num' }], 'Contribution (latest)', 'Flags', ['Cumulative reward', { class: 'num' }]], clientIds.map((id) => {
      const c = last.clients.find((x) => x.client_id === id) || rounds.flatMap((r) => r.clients).reverse().find((x) => x.client_id === id);
      const flagged = rounds.some((r) => r.clients.some((x) => x.client_id === id && x.free_rider));
      return h('tr', null, h('td', { class: 'mono' }, id), h('td', { class: 'num' }, String(c.sample_count)), h('td', null, c.score.toFixed(4)),
        h('td', null, flagged ? h('span', { class: 'bad' }, 'free rider in some round') : c.selected ? 'used' : 'not used'), h('td', { class: 'num' }, fmtUnits(c.cumulative_reward)));
    }), { id: 'fl-clients' }),
    h('h2', null, 'Claims'),
    apiClaims.length ? apiClaimsTable(apiClaims, claims) : claimsTable(claims, chain));
  ready('fl');
}

// Claims as the coordinator's log records them, each checked against the contract's Claimed
// events (same client and amount, in the recorded transaction).
function apiClaimsTable(list, chainClaims) {
  const onChain = (c) => chainClaims.some((e) => e.log.transactionHash.toLowerCase() === (c.at.tx || '').toLowerCase() && e.args.client.toLowerCase() === c.recipient.toLowerCase() && String(e.args.amount) === c.amount);
  return table(['Client', ['Amount', { class: 'num' }], 'Entry', 'Transaction', 'On-chain Claimed event'], list.map((c) => h('tr', null,
    h('td', null, addrLink(c.recipient, c.recipient)), h('td', { class: 'num' }, c.token === 'ETH' ? fmtEth(c.amount) : fmtUnits(c.amount)),
    h('td', null, h('a', { href: route(['audit', 'entry', String(c.at.index)], { log: c.at.log === 'main' ? '' : c.at.log }) }, `${c.at.log}#${c.at.index}`)),
    h('td', null, c.at.tx ? txLink(c.at.tx) : '–'), h('td', null, onChain(c) ? h('span', { class: 'ok' }, '✓ found') : h('span', { class: 'warn' }, 'not found')))), { id: 'fl-claims' });
}

function claimsTable(claims, chain) {
  if (chain.error) return errorBox(chain.error, 'FederatedTraining events');
  if (!claims.length) return empty('No reward claimed on this chain yet.', 'alara fl claim');
  return table(['Task', 'Client', ['Claimed', { class: 'num' }], 'Transaction'], claims.map((c) => h('tr', null,
    h('td', null, String(c.args.taskId)), h('td', null, addrLink(c.args.client, c.args.client)), h('td', { class: 'num' }, fmtUnits(c.args.amount)), h('td', null, txLink(c.log.transactionHash)))), { id: 'fl-claims' });
}

// Without the API's FL endpoints: tasks, settled rounds and rewards from the contract alone.
async function chainOnly(body, tiles, chain, query, current) {
  if (chain.error) { mount(body, errorBox(chain.error)); return; }
  if (!chain.fl) { mount(body, empty('No FederatedTraining contract on this chain yet.', 'alara up (deploys it), then alara demo fl')); return; }
  const tasks = chain.events.filter((e) => e.name === 'TaskCreated');
  if (!tasks.length) { mount(body, empty('No training task on this chain yet.', 'alara demo fl')); return; }
  const taskId = query.task || String(tasks.at(-1).args.taskId);
  const task = tasks.find((t) => String(t.args.taskId) === taskId) || tasks.at(-1);
  const rounds = chain.events.filter((e) => e.name === 'RoundSettled' && String(e.args.taskId) === String(task.args.taskId)).sort((a, b) => Number(a.args.round) - Number(b.args.round));
  mount(tiles, stat('Tasks', String(tasks.length)), stat('Rounds settled', String(rounds.length)), stat('Reward pool', fmtEth(task.args.pool, 18, 'ALARA')));
  let prev = 0;
  const perRound = rounds.map((r) => { const total = units(r.args.totalCumulative); const d = total - prev; prev = total; return { round: Number(r.args.round), total, delta: d }; });
  mount(body,
    h('div', { class: 'split' },
      h('div', { class: 'card' }, h('h2', { style: 'margin-top:0' }, 'Accuracy by round'),
        h('div', { class: 'empty', 'data-empty': '' }, 'Accuracy per round needs the API\'s FL endpoints (', h('code', null, 'GET /api/v1/fl/tasks'), '), which this server does not serve.')),
      h('div', { class: 'card' }, h('h2', { style: 'margin-top:0' }, 'Rewards by round'), legend(['settled this round', 'cumulative']),
        rounds.length ? barChart({ id: 'fl-rewards', yLabel: 'ALARA settled', groups: perRound.map((r) => ({ label: `round ${r.round}`, values: [{ series: 'settled this round', value: r.delta }, { series: 'cumulative', value: r.total }] })) }) : empty('No round settled yet.', 'alara demo fl'))),
    h('h2', null, `Rounds of task #${task.args.taskId}`),
    rounds.length ? table(['Round', 'Global model (SHA-256)', 'Rewards root', ['Settled (cumulative)', { class: 'num' }], 'Settlement'], rounds.map((r) => h('tr', null,
      h('td', null, String(r.args.round)), h('td', null, mono(short(r.args.globalModelHash, 12))), h('td', null, mono(short(r.args.rewardsRoot, 10))),
      h('td', { class: 'num' }, fmtEth(r.args.totalCumulative, 18, 'ALARA')), h('td', null, txLink(r.log.transactionHash)))), { id: 'fl-rounds' }) : empty('No round settled yet.', 'alara demo fl'),
    h('h2', null, 'Claims on-chain'), claimsTable(chain.events.filter((e) => e.name === 'Claimed'), chain));
  return current;
}
