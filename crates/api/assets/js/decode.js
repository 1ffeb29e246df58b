// Decoding the project's transactions with the embedded ABIs (js/abis.js): calls by
// selector, events by topic (AuditAnchor's anonymous Anchored by its shape), reverts by
// error selector, and AuditAnchor's packed anchor calldata.
import { ABIS } from './abis.js';
import { decodeInputs, decodeLog, decode, formatValue } from './abi.js';
import { selectorOf, toHex, fromHex, keccak256 } from './crypto.js';

export const ANCHOR_TAG = selectorOf('anchorPacked(bytes)');
const ERROR_STRING = '0x08c379a0';
const PANIC = '0x4e487b71';
const PANICS = { 0x01: 'assert failed', 0x11: 'arithmetic overflow or underflow', 0x12: 'division by zero', 0x21: 'invalid enum value', 0x22: 'bad storage byte array', 0x31: 'pop on an empty array', 0x32: 'array index out of bounds', 0x41: 'out of memory', 0x51: 'call to an uninitialised function' };

const functions = new Map(), errors = new Map(), events = new Map();
for (const [contract, items] of Object.entries(ABIS)) {
  for (const item of items) {
    const map = item.type === 'function' ? functions : item.type === 'error' ? errors : events;
    const key = item.type === 'event' ? item.topic : item.selector;
    if (!map.has(key)) map.set(key, []);
    map.get(key).push({ contract, item });
  }
}

/** Every selector and topic, recomputed with this page's Keccak-256, against the generator's. */
export function selfTest() {
  const bad = [];
  let n = 0;
  for (const items of Object.values(ABIS)) {
    for (const it of items) {
      n++;
      const want = it.type === 'event' ? it.topic : it.selector;
      const got = it.type === 'event' ? topicOf(it.signature) : selectorOf(it.signature);
      if (got !== want) bad.push(`${it.signature}: ${got} ≠ ${want}`);
    }
  }
  return { checked: n, mismatches: bad };
}

const topicOf = (sig) => '0x' + toHex(keccak256(sig));

/** The contracts by lower-case address, from /info's {Name: address}. */
export function addressBook(contracts) {
  const m = new Map();
  for (const [name, addr] of Object.entries(contracts || {})) m.set(addr.toLowerCase(), name);
  return m;
}

/** Decodes calldata sent to `to` (lower-case lookups in `book`). */
export function decodeCall(input, to, book) {
  if (!input || input === '0x') return { kind: 'transfer', text: 'plain value transfer (no calldata)' };
  const sel = input.slice(0, 10).toLowerCase();
  const name = to ? book.get(to.toLowerCase()) : undefined;
  if (sel === ANCHOR_TAG && (!name || name === 'AuditAnchor')) {
    const b = fromHex(input.slice(10));
    if (b.length >= 16 && (b.length - 16) % 32 === 0) {
      const view = new DataView(b.buffer, b.byteOffset);
      const oldSize = view.getBigUint64(0), newSize = view.getBigUint64(8);
      const hashes = [];
      for (let i = 16; i < b.length; i += 32) hashes.push('0x' + toHex(b.slice(i, i + 32)));
      return { kind: 'call', contract: 'AuditAnchor', name: 'anchor (packed)', signature: 'ANCHOR_TAG ‖ uint64 oldSize ‖ uint64 newSize ‖ bytes32[] hashes',
        args: [{ name: 'oldSize', type: 'uint64', value: oldSize }, { name: 'newSize', type: 'uint64', value: newSize }, { name: 'hashes', type: 'bytes32[]', value: hashes }] };
    }
  }
  const candidates = functions.get(sel) || [];
  const ordered = name ? [...candidates.filter((c) => c.contract === name), ...candidates.filter((c) => c.contract !== name)] : candidates;
  for (const c of ordered) {
    try {
      return { kind: 'call', contract: c.contract, name: c.item.name, signature: c.item.signature, args: decodeInputs(c.item, input.slice(10)), item: c.item };
    } catch (e) { /* try the next */ }
  }
  return { kind: 'unknown', selector: sel, text: `unknown function ${sel}${name ? ` on ${name}` : ''}` };
}

/** Decodes a function's return data. */
export function decodeOutput(item, output) {
  try {
    const vals = decode(item.outputs || [], output);
    return (item.outputs || []).map((p, i) => ({ name: p.name, type: p.type, value: vals[i] }));
  } catch (e) {
    return null;
  }
}

/** Decodes an event log. */
export function decodeEvent(log, book) {
  const name = book.get((log.address || '').toLowerCase());
  if (name === 'AuditAnchor' && log.topics.length === 1 && (log.data.length - 2) / 2 === 64) {
    const anchored = ABIS.AuditAnchor.find((i) => i.name === 'Anchored');
    try { return { contract: name, name: 'Anchored', signature: anchored.signature, args: decodeLog(anchored, log.topics, log.data) }; } catch (e) { /* fall through */ }
  }
  const candidates = log.topics.length ? events.get(log.topics[0].toLowerCase()) || [] : [];
  for (const c of [...candidates.filter((x) => x.contract === name), ...candidates.filter((x) => x.contract !== name)]) {
    try { return { contract: c.contract, name: c.item.name, signature: c.item.signature, args: decodeLog(c.item, log.topics, log.data) }; } catch (e) { /* next */ }
  }
  return null;
}

/** Decodes revert data: Error(string), Panic(uint256) or a custom error of the ABIs. */
export function decodeRevert(data) {
  if (!data || data === '0x') return { text: 'reverted without data' };
  const sel = data.slice(0, 10).toLowerCase();
  try {
    if (sel === ERROR_STRING) return { name: 'Error', text: decode(['string'], data.slice(10))[0] };
    if (sel === PANIC) { const code = decode(['uint256'], data.slice(10))[0]; return { name: 'Panic', text: `panic 0x${code.toString(16)}: ${PANICS[Number(code)] || 'unknown code'}` }; }
  } catch (e) { /* undecodable */ }
  for (const c of errors.get(sel) || []) {
    try {
      const args = decodeInputs(c.item, data.slice(10));
      return { name: c.item.name, contract: c.contract, text: `${c.item.name}(${args.map((a) => `${a.name || a.type}: ${formatValue(a.value)}`).join(', ')})`, args };
    } catch (e) { /* next */ }
  }
  return { text: `unknown error ${sel}`, raw: data };
}
