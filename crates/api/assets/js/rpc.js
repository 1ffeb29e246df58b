// JSON-RPC over fetch, straight from the browser to the node (its CORS is permissive).
let nextId = 1;

function rpcError(method, err) {
  const e = new Error(`${method}: ${err.message}${err.data ? ` (${typeof err.data === 'string' ? err.data : JSON.stringify(err.data)})` : ''}`);
  e.rpc = err;
  return e;
}

/** One JSON-RPC call; throws with the node's error message. */
export async function rpc(url, method, params = []) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }),
  });
  if (!res.ok) throw new Error(`${method}: HTTP ${res.status} from ${url}`);
  const j = await res.json();
  if (j.error) throw rpcError(method, j.error);
  return j.result;
}

/**
 * A batch of calls [[method, params], …]; resolves to one {result} or {error} per call, in
 * order, so one failing call does not hide the others.
 */
export async function rpcBatch(url, calls) {
  if (!calls.length) return [];
  const ids = calls.map(() => nextId++);
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(calls.map(([method, params], i) => ({ jsonrpc: '2.0', id: ids[i], method, params: params || [] }))),
  });
  if (!res.ok) throw new Error(`batch: HTTP ${res.status} from ${url}`);
  const answers = await res.json();
  if (!Array.isArray(answers)) throw new Error(answers?.error?.message || 'batch answer is not an array');
  const byId = new Map(answers.map((a) => [a.id, a]));
  return calls.map(([method], i) => {
    const a = byId.get(ids[i]);
    if (!a) return { error: new Error(`${method}: no answer in the batch`) };
    return a.error ? { error: rpcError(method, a.error) } : { result: a.result };
  });
}

/** Hex quantity → BigInt. */
export const qty = (h) => (h == null ? null : BigInt(h));
/** Number → hex quantity. */
export const toQty = (n) => '0x' + BigInt(n).toString(16);
