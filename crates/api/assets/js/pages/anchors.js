// Anchored checkpoints on a timeline: tree size over time (or block), one point per anchor
// transaction; block times are read from the chain after the list is on screen.
import { h, api, mount, errorBox, empty, loading, table, fmtInt, fmtTime, txLink, blockLink, mono, stat, rpcUrl, ready, logPicker } from '../core.js';
import { lineChart } from '../chart.js';
import { rpcBatch, toQty } from '../rpc.js';

export async function render(root, parts, query, current) {
  const chartBox = h('div', { id: 'anchor-chart' });
  const list = h('div', { id: 'anchor-list' }, loading('Loading anchors…'));
  const tiles = h('div', { class: 'grid' });
  mount(root, h('div', { class: 'row' }, h('h1', { style: 'margin:0;flex:1' }, 'Anchors'), logPicker(query, ['anchors'])), tiles, h('div', { class: 'card' }, chartBox), list);
  let anchors;
  try {
    anchors = await api('/audit/anchors', { query: { log: query.log } });
  } catch (e) {
    if (current()) { mount(list, errorBox(e)); ready('anchors'); }
    return;
  }
  if (!current()) return;
  if (!anchors.length) {
    mount(chartBox);
    mount(list, empty('No checkpoint of this log is anchored yet.', 'alara audit anchor --now'));
    ready('anchors');
    return;
  }
  const last = anchors.at(-1);
  mount(tiles, stat('Anchors', fmtInt(anchors.length)), stat('Latest anchored size', fmtInt(last.size)), stat('Latest block', String(last.block_number)),
    stat('Gas of the latest', last.gas_used != null ? fmtInt(last.gas_used) : '–'));
  const times = new Map();
  const draw = () => {
    const byTime = anchors.every((a) => times.has(a.block_number));
    mount(chartBox,
      h('h2', { style: 'margin-top:0' }, `Tree size anchored, by ${byTime ? 'time' : 'block'}`),
      lineChart({
        id: 'anchor-timeline', step: true, width: 1100, height: 300, yMin: 0, yLabel: 'tree size', xLabel: byTime ? 'time (UTC)' : 'block',
        xFormat: byTime ? (ms) => new Date(ms).toISOString().slice(5, 16).replace('T', ' ') : undefined,
        series: [{ name: 'anchored size', points: anchors.map((a) => ({ x: byTime ? times.get(a.block_number) : a.block_number, y: a.size, label: `size ${a.size} · block ${a.block_number} · tx ${a.tx_hash}${byTime ? ' · ' + fmtTime(times.get(a.block_number)) : ''}` })) }],
      }));
    mount(list, table(['Size', 'Root', 'Block', 'Time', 'Transaction', ['Gas', { class: 'num' }]],
      anchors.slice().reverse().map((a) => h('tr', null,
        h('td', { class: 'num' }, fmtInt(a.size)), h('td', null, mono(a.root)), h('td', null, blockLink(a.block_number)),
        h('td', { class: 'mono' }, times.has(a.block_number) ? fmtTime(times.get(a.block_number)) : '…'),
        h('td', null, txLink(a.tx_hash, 14)), h('td', { class: 'num' }, a.gas_used != null ? fmtInt(a.gas_used) : ''))), { id: 'anchors' }));
  };
  draw();
  ready('anchors');
  try {
    const url = await rpcUrl();
    const blocks = [...new Set(anchors.map((a) => a.block_number))];
    const answers = await rpcBatch(url, blocks.map((b) => ['eth_getBlockByNumber', [toQty(b), false]]));
    answers.forEach((a, i) => { if (a.result) times.set(blocks[i], Number(a.result.timestamp) * 1000); });
    if (current()) { draw(); chartBox.dataset.times = 'loaded'; }
  } catch (e) {
    if (current()) { list.append(errorBox(e, 'Block times from the chain')); chartBox.dataset.times = 'failed'; }
  }
}
