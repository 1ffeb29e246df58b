// Federated learning: tasks, rounds (global model, participants, accuracy), rewards —
// rounds and rewards from the FederatedTraining contract's events, accuracy and losses from
// the API's FL endpoints when the server has them.
import { h, api, mount, errorBox, empty, loading, table, short, fmtEth, txLink, addrLink, mono, info, contractsOf, rpcUrl, stat, ready } from '../core.js';
import { addressBook } from '../decode.js';
import { contractEvents } from '../chainlogs.js';
import { lineChart, barChart, legend } from '../chart.js';

const toNum = (v) => Number(v) / 1e18;

/** Round metrics from the API, or null when the server has no FL endpoints. */
async function apiRounds() {
  try {
    const tasks = await api('/fl/tasks');
    const list = Array.isArray(tasks) ? tasks : tasks.items || tasks.tasks || [];
    const out = new Map();
    for (const t of list) {
      const id = String(t.task ?? t.task_id ?? t.id);
      let rounds = t.rounds;
      if (!Array.isArray(rounds)) {
        const r = await api(`/fl/tasks/${encodeURIComponent(id)}/rounds`);
        rounds = Array.isArray(r) ? r : r.items || r.rounds || [];
      }
      out.set(id, { task: t, rounds });
    }
    return out;
  } catch (e) {
    if (e.status === 404) return null;
    throw e;
  }
}

export async function render(root, parts, query, current) {
  const tiles = h('div', { class: 'grid' });
  const body = h('div', null, loading('Reading the FederatedTraining contract…'));
  mount(root, h('h1', null, 'Federated learning rounds'), tiles, body);
  let url, inf;
  try {
    [url, inf] = await Promise.all([rpcUrl(), info()]);
  } catch (e) {
    if (current()) { mount(body, errorBox(e)); ready('fl'); }
    return;
  }
  const contracts = contractsOf(inf);
  const fl = contracts.FederatedTraining;
  if (!fl) {
    mount(body, empty('No FederatedTraining contract on this chain yet.', 'alara up (deploys it), then alara demo fl'));
    ready('fl');
    return;
  }
  let events, metrics;
  try {
    [events, metrics] = await Promise.all([contractEvents(url, fl, addressBook(contracts)), apiRounds().catch((e) => ({ error: e }))]);
  } catch (e) {
    if (current()) { mount(body, errorBox(e)); ready('fl'); }
    return;
  }
  if (!current()) return;
  const tasks = events.filter((e) => e.name === 'TaskCreated');
  if (!tasks.length) {
    mount(body, empty('No training task on this chain yet.', 'alara demo fl'));
    ready('fl');
    return;
  }
  const taskId = query.task || String(tasks.at(-1).args.taskId);
  const task = tasks.find((t) => String(t.args.taskId) === taskId) || tasks.at(-1);
  const rounds = events.filter((e) => e.name === 'RoundSettled' && String(e.args.taskId) === taskId).sort((a, b) => Number(a.args.round) - Number(b.args.round));
  const claims = events.filter((e) => e.name === 'Claimed' && String(e.args.taskId) === taskId);
  const clients = events.filter((e) => e.name === 'ClientRegistered' && String(e.args.taskId) === taskId);
  const m = metrics && !metrics.error ? metrics.get(taskId) : null;
  const metricByRound = new Map((m?.rounds || []).map((r) => [Number(r.round), r]));
  const accuracy = rounds.map((r) => metricByRound.get(Number(r.args.round))).filter((x) => x && x.accuracy != null);

  mount(tiles, stat('Tasks', String(tasks.length)), stat('Rounds settled', String(rounds.length)), stat('Clients', String(clients.length || '–')),
    stat('Reward pool', fmtEth(task.args.pool, 18, 'ALARA')));
  const picker = tasks.length > 1 ? h('div', { class: 'row' }, 'Task: ', tasks.map((t) => h('a', { class: `button ${String(t.args.taskId) === taskId ? '' : 'secondary'}`, href: `#/fl?task=${t.args.taskId}` }, `#${t.args.taskId}`))) : null;

  // Rewards: the cumulative total settled after each round, and what each client claimed.
  let prev = 0;
  const perRound = rounds.map((r) => { const total = toNum(r.args.totalCumulative); const d = total - prev; prev = total; return { round: Number(r.args.round), total, delta: d }; });
  const rewardChart = rounds.length
    ? barChart({ id: 'fl-rewards', yLabel: 'ALARA settled', groups: perRound.map((r) => ({ label: `round ${r.round}`, values: [{ series: 'settled this round', value: r.delta }, { series: 'cumulative', value: r.total }] })) })
    : empty('No round settled yet.', 'alara demo fl');
  const accuracyChart = accuracy.length
    ? lineChart({ id: 'fl-accuracy', yLabel: 'accuracy', xLabel: 'round', yMax: 1, xFormat: (x) => String(x),
      series: [{ name: 'global model accuracy', points: accuracy.map((a) => ({ x: Number(a.round), y: Number(a.accuracy), label: `round ${a.round}: accuracy ${Number(a.accuracy).toFixed(4)}` })) },
        ...(accuracy.some((a) => a.validation_loss != null) ? [{ name: 'validation loss', points: accuracy.filter((a) => a.validation_loss != null).map((a) => ({ x: Number(a.round), y: Number(a.validation_loss) })) }] : [])] })
    : metrics === null
      ? h('div', { class: 'empty', 'data-empty': '' }, 'Accuracy per round needs the API\'s FL endpoints (', h('code', null, 'GET /api/v1/fl/tasks'), '), which this server does not serve yet.')
      : metrics?.error ? errorBox(metrics.error, 'FL metrics') : empty('No accuracy recorded for this task\'s rounds.', 'alara demo fl');
  const byClient = new Map();
  for (const c of claims) byClient.set(c.args.client, (byClient.get(c.args.client) || 0) + toNum(c.args.amount));

  mount(body, picker,
    h('div', { class: 'split' },
      h('div', { class: 'card' }, h('h2', { style: 'margin-top:0' }, 'Accuracy by round'), accuracyChart),
      h('div', { class: 'card' }, h('h2', { style: 'margin-top:0' }, 'Rewards by round'), rounds.length ? legend(['settled this round', 'cumulative']) : null, rewardChart)),
    h('h2', null, `Rounds of task #${taskId}`),
    rounds.length ? table(['Round', 'Global model (SHA-256)', 'Model CID digest', 'Rewards root', ['Settled (cumulative)', { class: 'num' }], 'Accuracy', 'Participants', 'Settlement'], rounds.map((r) => {
      const mr = metricByRound.get(Number(r.args.round));
      return h('tr', null, h('td', null, String(r.args.round)),
        h('td', null, h('a', { href: `#/audit?model=${r.args.globalModelHash.slice(2)}`, class: 'mono', title: r.args.globalModelHash }, short(r.args.globalModelHash, 12))),
        h('td', null, mono(short(r.args.globalModelCid, 10))), h('td', null, mono(short(r.args.rewardsRoot, 10))),
        h('td', { class: 'num' }, fmtEth(r.args.totalCumulative, 18, 'ALARA')),
        h('td', null, mr?.accuracy != null ? Number(mr.accuracy).toFixed(4) : '–'), h('td', null, mr?.participants != null ? String(mr.participants) : '–'),
        h('td', null, txLink(r.log.transactionHash)));
    }), { id: 'fl-rounds' }) : empty('No round settled yet.', 'alara demo fl'),
    h('h2', null, 'Claims'),
    byClient.size ? table(['Client', ['Claimed', { class: 'num' }]], [...byClient.entries()].map(([c, v]) => h('tr', null, h('td', null, addrLink(c, c)), h('td', { class: 'num' }, `${v.toLocaleString('en-US', { maximumFractionDigits: 6 })} ALARA`))), { id: 'fl-claims' })
      : empty('No reward claimed yet.', 'alara fl claim'));
  ready('fl');
}
