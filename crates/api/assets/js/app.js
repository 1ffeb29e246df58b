// The dashboard's router: hash routes, each page a module loaded when first visited.
import { h, mount, errorBox, parseRoute, info, loading } from './core.js';

const PAGES = {
  audit: () => import('./pages/audit.js'),
  anchors: () => import('./pages/anchors.js'),
  explorer: () => import('./pages/explorer.js'),
  fl: () => import('./pages/fl.js'),
  insurance: () => import('./pages/insurance.js'),
  claims: () => import('./pages/claims.js'),
  compute: () => import('./pages/compute.js'),
  art: () => import('./pages/art.js'),
  market: () => import('./pages/market.js'),
  models: () => import('./pages/models.js'),
  oracle: () => import('./pages/oracle.js'),
  registry: () => import('./pages/registry.js'),
};

const view = document.getElementById('view');
let generation = 0;

async function show() {
  const gen = ++generation;
  const { parts, query } = parseRoute(location.hash);
  if (!parts.length) { location.replace('#/audit'); return; }
  const name = parts[0];
  const section = name === 'audit' && parts[1] === 'verify' ? 'verify' : name;
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.section === section);
  delete document.body.dataset.ready;
  const load = PAGES[name];
  if (!load) {
    mount(view, errorBox({ code: 'not_found', message: `no page ${location.hash}`, hint: 'pick one in the bar above' }));
    return;
  }
  mount(view, loading());
  try {
    const page = await load();
    if (gen !== generation) return;
    const root = h('div', { class: 'page', 'data-page': section });
    mount(view, root);
    await page.render(root, parts.slice(1), query, () => gen === generation);
  } catch (e) {
    if (gen === generation) mount(view, errorBox(e));
  }
}

window.addEventListener('hashchange', show);
show();

// The chain badge comes after the page, never before it.
setTimeout(() => {
  info().then((inf) => {
    const badge = document.getElementById('chain-badge');
    const c = inf.chain || inf;
    badge.textContent = c.chain_id != null ? `chain ${c.chain_id} · block ${c.head_block}` : 'no chain';
    badge.title = c.rpc_url || inf.chain_error || '';
  }).catch(() => {
    document.getElementById('chain-badge').textContent = 'no chain info';
  });
}, 0);
