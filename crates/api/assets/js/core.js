// Shared helpers: DOM building, the API client with its JSON errors, states (loading,
// empty, error), formatting, and the server's info (chain RPC URL, contracts).

/** Builds an element: h('a', {href: '#/x', class: 'y'}, 'text', child, …). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    // Through the CSSOM: the server's CSP (style-src 'self') refuses style attributes.
    else if (k === 'style') el.style.cssText = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** An SVG element with attributes. */
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== undefined && c !== null) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** An error of the API, with its JSON error fields. */
export class ApiError extends Error {
  constructor(status, code, message, hint, path) {
    super(message);
    this.status = status; this.code = code; this.hint = hint; this.path = path;
  }
}

export const API = '/api/v1';

/** GET (or another method with a JSON body) an API path; throws ApiError. */
export async function api(path, { method = 'GET', body, query } = {}) {
  let url = API + path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
    const s = q.toString();
    if (s) url += '?' + s;
  }
  let res;
  try {
    res = await fetch(url, { method, headers: body !== undefined ? { 'content-type': 'application/json' } : {}, body: body !== undefined ? (typeof body === 'string' ? body : JSON.stringify(body)) : undefined });
  } catch (e) {
    throw new ApiError(0, 'network', `cannot reach the API at ${url}: ${e.message}`, 'is `alara up` still running?', path);
  }
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { /* not JSON */ }
  if (!res.ok) {
    const err = json && json.error;
    if (err) throw new ApiError(res.status, err.code, err.message, err.hint, path);
    throw new ApiError(res.status, `http_${res.status}`, `${method} ${url}: HTTP ${res.status}${text ? ` — ${text.slice(0, 200)}` : ''}`, res.status === 404 ? 'this server has no such endpoint yet' : undefined, path);
  }
  if (json === null && text) throw new ApiError(res.status, 'bad_json', `${url} did not answer JSON`, undefined, path);
  return json;
}

/** The error box: code, message and hint of an API error (or any error). */
export function errorBox(err, what) {
  const e = err || {};
  return h('div', { class: 'error-box', role: 'alert', 'data-error-code': e.code || 'error' },
    what ? h('div', null, what) : null,
    h('div', null, h('span', { class: 'code' }, e.code || 'error'), ': ', e.message || String(err)),
    e.hint ? h('div', { class: 'hint' }, 'Hint: ', e.hint) : null);
}

/** An empty state that says which command fills it. */
export function empty(text, command) {
  return h('div', { class: 'empty', 'data-empty': '' }, h('div', null, text), command ? h('div', { style: 'margin-top:8px' }, 'Run ', h('code', null, command), ' to fill it.') : null);
}

export const loading = (what = 'Loading…') => h('p', { class: 'loading', 'data-loading': '' }, what);

/** Replaces an element's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Runs `fn` into `el`, with a loading state first and an error box on failure. */
export async function section(el, fn, what) {
  mount(el, loading(what));
  try {
    const out = await fn();
    if (out !== undefined) mount(el, out);
  } catch (e) {
    mount(el, errorBox(e));
  }
}

// Formatting.
export const short = (s, n = 10) => (s && s.length > n + 6 ? `${s.slice(0, n)}…${s.slice(-4)}` : s || '');
export const fmtTime = (ms) => (ms == null ? '' : new Date(Number(ms)).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z'));
export const fmtInt = (n) => (n == null ? '' : BigInt(n).toLocaleString('en-US'));
export function fmtEth(wei, decimals = 18, unit = 'ETH') {
  const w = BigInt(wei), d = 10n ** BigInt(decimals);
  const whole = w / d, frac = (w % d).toString().padStart(decimals, '0').replace(/0+$/, '').slice(0, 6);
  return `${whole.toLocaleString('en-US')}${frac ? '.' + frac : ''} ${unit}`;
}
export const kv = (pairs) => h('dl', { class: 'kv' }, pairs.filter(Boolean).flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
export const stat = (k, v) => h('div', { class: 'stat' }, h('div', { class: 'k' }, k), h('div', { class: 'v' }, v));
export const mono = (s) => h('span', { class: 'mono hash' }, s);

/** A table from column headers and rows of cells. */
export function table(headers, rows, attrs) {
  return h('table', attrs, h('thead', null, h('tr', null, headers.map((c) => (typeof c === 'string' ? h('th', null, c) : h('th', c[1], c[0]))))),
    h('tbody', null, rows));
}

// Links into the explorer.
export const blockLink = (n) => h('a', { href: `#/explorer/block/${BigInt(n)}` }, String(BigInt(n)));
export const txLink = (hash, n = 10) => h('a', { href: `#/explorer/tx/${hash}`, class: 'mono', title: hash }, short(hash, n));
export const addrLink = (a, label) => (a ? h('a', { href: `#/explorer/address/${a}`, class: 'mono', title: a }, label || short(a, 10)) : '');

let infoPromise = null;
/** GET /info, once (the chain's RPC URL, chain id, contracts). Never awaited before first paint. */
export function info() {
  if (!infoPromise) infoPromise = api('/info').catch((e) => { infoPromise = null; throw e; });
  return infoPromise;
}

/** The contracts of /info as {Name: address}, whichever case the names come in. */
export function contractsOf(inf) {
  const out = {};
  const raw = (inf && inf.contracts) || {};
  const names = { alara_token: 'AlaraToken', audit_anchor: 'AuditAnchor', data_market: 'DataMarket', federated_training: 'FederatedTraining' };
  for (const [k, v] of Object.entries(raw)) {
    const addr = typeof v === 'string' ? v : v && v.address;
    if (addr) out[names[k] || k] = addr;
  }
  return out;
}

/** The chain's JSON-RPC URL from /info. */
export async function rpcUrl() {
  const inf = await info();
  const url = inf.chain?.rpc_url || inf.rpc_url;
  if (!url) throw new ApiError(0, 'no_rpc', `the API info names no chain RPC URL${inf.chain_error ? `: ${inf.chain_error}` : ''}`, 'start the chain with `alara up`');
  // `alara up` serves JSON-RPC on the dashboard's own port: call it through the page's
  // origin, which the server's CSP (connect-src 'self') allows whatever host name the
  // browser used (localhost, 127.0.0.1, a LAN name for a 0.0.0.0 bind).
  try {
    const u = new URL(url);
    const loopbackOrAny = ['127.0.0.1', 'localhost', '[::1]', '0.0.0.0', '[::]'].includes(u.hostname);
    if (u.port === location.port && (loopbackOrAny || u.hostname === location.hostname)) return location.origin;
  } catch (e) { /* not a URL: used as given */ }
  return url;
}

/** Parses the hash route: '#/audit/entry/3?x=1' → {parts: ['audit','entry','3'], query}. */
export function parseRoute(hash) {
  const raw = (hash || '').replace(/^#\/?/, '');
  const [path, qs] = raw.split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), query: Object.fromEntries(new URLSearchParams(qs || '')) };
}

/** A route string from parts and a query. */
export function route(parts, query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return '#/' + parts.map(encodeURIComponent).join('/') + (s ? '?' + s : '');
}

/** The log picker: a select of the served logs (GET /audit/logs), shown when there are several. */
export function logPicker(query, parts) {
  const box = h('span', { id: 'log-picker' });
  api('/audit/logs').then((logs) => {
    if (!Array.isArray(logs) || logs.length < 2) return;
    const sel = h('select', { id: 'log-select', title: 'audit log' }, logs.map((l) => h('option', { value: l.name, selected: (query.log || logs[0].name) === l.name }, `${l.name} (${Number(l.size).toLocaleString('en-US')} entries)`)));
    sel.addEventListener('change', () => { location.hash = route(parts, { log: sel.value === logs[0].name ? '' : sel.value }); });
    mount(box, h('label', { class: 'muted' }, 'Log ', sel));
  }).catch(() => {});
  return box;
}

/** Marks the page as ready (its first meaningful content is on screen). */
export function ready(name) {
  document.body.dataset.ready = name;
  if (window.__dashReady === undefined) window.__dashReady = { name, ms: performance.now() };
  window.dispatchEvent(new CustomEvent('dash-ready', { detail: name }));
}
