// The canonical encoding of audit entries (crates/audit/src/entry.rs, format 1): decoding
// to the JSON the API and receipts show, so a verifier can check that `entry` is exactly
// what `entry_bytes` says.
import { toHex } from './crypto.js';

// Kind number → [name, fields in encoding order as [field, type]]. Types: str, u8, u32,
// u64, hash, ohash (optional hash), model (id + version hash), u128 and i128 (decimal
// strings in JSON).
export const KINDS = {
  1: ['inference', [['system', 'str'], ['model', 'model'], ['started_ms', 'u64'], ['ended_ms', 'u64'], ['input', 'hash'], ['output', 'hash'], ['verified_by', 'ohash'], ['purpose', 'str']]],
  2: ['model_registered', [['model', 'model'], ['uri', 'str'], ['owner', 'str'], ['license', 'str']]],
  3: ['data_access', [['dataset', 'str'], ['accessor', 'str'], ['mode', 'str'], ['purpose', 'str'], ['subject', 'ohash']]],
  4: ['training_round', [['task', 'str'], ['round', 'u64'], ['model_hash', 'hash'], ['updates_root', 'hash'], ['participants', 'u32'], ['aggregator', 'str']]],
  5: ['oracle_report', [['feed', 'str'], ['round', 'u64'], ['value', 'i128'], ['decimals', 'u8'], ['report_hash', 'hash'], ['reporters', 'u32']]],
  6: ['payout', [['context', 'str'], ['recipient', 'str'], ['token', 'str'], ['amount', 'u128'], ['tx', 'ohash']]],
  7: ['erasure', [['basis', 'str'], ['request', 'hash'], ['commitments_erased', 'u64']]],
  8: ['data_listing', [['listing', 'str'], ['dataset', 'str'], ['plaintext', 'hash'], ['terms', 'hash'], ['seller', 'str'], ['token', 'str'], ['price', 'u128'], ['tx', 'ohash']]],
  9: ['data_sale', [['sale', 'str'], ['dataset', 'str'], ['event', 'str'], ['buyer', 'str'], ['seller', 'str'], ['token', 'str'], ['amount', 'u128'], ['tx', 'ohash']]],
  10: ['compute_job', [['job', 'str'], ['dataset', 'str'], ['algorithm', 'hash'], ['event', 'str'], ['buyer', 'str'], ['owner', 'str'], ['result', 'ohash'], ['model', 'ohash'], ['receipt', 'ohash'], ['signature', 'str'], ['tx', 'ohash']]],
  11: ['oracle_round', [['feed', 'str'], ['round', 'u64'], ['value', 'i128'], ['decimals', 'u8'], ['quotes', 'hash'], ['accepted', 'u32'], ['dropped', 'str'], ['detector', 'hash'], ['confidence_bp', 'u32']]],
  12: ['claim_assessment', [['policy', 'str'], ['claim', 'str'], ['model', 'hash'], ['input', 'hash'], ['fraud_bp', 'u32'], ['confidence_bp', 'u32'], ['amount', 'u128'], ['decision', 'str']]],
};

export const KIND_NAMES = Object.values(KINDS).map(([n]) => n);

class Reader {
  constructor(b) { this.b = b; this.pos = 0; }
  fail(msg) { throw new Error(`${msg} (at byte ${this.pos})`); }
  take(n) {
    if (this.pos + n > this.b.length) this.fail(`needed ${n} more bytes, ${this.b.length - this.pos} left`);
    const s = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  uint(n) { let v = 0n; for (const x of this.take(n)) v = (v << 8n) | BigInt(x); return v; }
  str() {
    const n = Number(this.uint(2));
    try { return new TextDecoder('utf-8', { fatal: true }).decode(this.take(n)); } catch (e) { return this.fail('string is not UTF-8'); }
  }
  hash() { return toHex(this.take(32)); }
  opt(f) {
    const t = this.take(1)[0];
    if (t === 0) return null;
    if (t === 1) return f();
    return this.fail(`option tag ${t}, expected 0 or 1`);
  }
}

// JSON numbers for u64 that fit; larger ones stay BigInt (compared exactly below).
const num = (v) => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);

function field(r, type) {
  switch (type) {
    case 'str': return r.str();
    case 'u8': return Number(r.uint(1));
    case 'u32': return Number(r.uint(4));
    case 'u64': return num(r.uint(8));
    case 'u128': return r.uint(16).toString();
    case 'i128': { const v = r.uint(16); return (v >= 1n << 127n ? v - (1n << 128n) : v).toString(); }
    case 'hash': return r.hash();
    case 'ohash': return r.opt(() => r.hash());
    case 'model': return { id: r.str(), version_hash: r.hash() };
    default: throw new Error(`unknown field type ${type}`);
  }
}

/** Decodes canonical entry bytes to the entry's JSON form; throws where they are malformed. */
export function decodeEntry(bytes) {
  const r = new Reader(bytes);
  const format = Number(r.uint(1));
  if (format !== 1) r.fail(`format ${format}, only 1 is known`);
  const kind = Number(r.uint(2));
  const version = Number(r.uint(1));
  const time = num(r.uint(8));
  const known = KINDS[kind];
  let out;
  if (!known) {
    out = { time_ms: time, type: 'unknown', kind, version, fields: toHex(r.take(bytes.length - r.pos)) };
  } else {
    if (version !== 1) r.fail(`kind ${kind} version ${version}, only version 1 is known`);
    out = { time_ms: time, type: known[0] };
    for (const [name, type] of known[1]) out[name] = field(r, type);
  }
  if (r.pos !== bytes.length) r.fail(`${bytes.length - r.pos} trailing bytes`);
  return out;
}

/** Exact structural equality of a decoded entry and a JSON one; the first difference or null. */
export function entryDiff(decoded, json, path = 'entry') {
  if (typeof decoded === 'bigint') {
    return (typeof json === 'number' && BigInt(Math.trunc(json)) === decoded && Number.isInteger(json)) ? null : `${path}: bytes say ${decoded}, the JSON says ${JSON.stringify(json)}`;
  }
  if (decoded === null || typeof decoded !== 'object') {
    return decoded === json ? null : `${path}: bytes say ${JSON.stringify(decoded)}, the JSON says ${JSON.stringify(json)}`;
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return `${path}: the JSON has ${JSON.stringify(json)}, not an object`;
  for (const k of Object.keys(json)) if (!(k in decoded)) return `${path}.${k}: in the JSON, not in the bytes`;
  for (const k of Object.keys(decoded)) {
    if (!(k in json)) return `${path}.${k}: in the bytes, missing from the JSON`;
    const d = entryDiff(decoded[k], json[k], `${path}.${k}`);
    if (d) return d;
  }
  return null;
}

/** A one-line summary of an entry for tables. */
export function entrySummary(e) {
  if (!e) return '';
  switch (e.type) {
    case 'inference': return `${e.system} · ${e.model?.id ?? ''} · ${e.purpose}`;
    case 'model_registered': return `${e.model?.id ?? ''} by ${e.owner}`;
    case 'data_access': return `${e.dataset} by ${e.accessor} (${e.mode})`;
    case 'training_round': return `${e.task} round ${e.round}, ${e.participants} participants (${e.aggregator})`;
    case 'oracle_report': return `${e.feed} round ${e.round} = ${e.value}e-${e.decimals}`;
    case 'payout': return `${e.amount} ${e.token} to ${e.recipient} (${e.context})`;
    case 'erasure': return `${e.basis}: ${e.commitments_erased} commitments erased`;
    case 'data_listing': return `${e.listing} ${e.dataset} at ${e.price} ${e.token}`;
    case 'data_sale': return `${e.sale} ${e.event} ${e.amount} ${e.token}`;
    case 'compute_job': return `${e.job} ${e.event}`;
    case 'oracle_round': return `${e.feed} round ${e.round} = ${e.value}e-${e.decimals} (${e.accepted} sources, confidence ${e.confidence_bp / 100}%)`;
    case 'claim_assessment': return `${e.claim} ${e.decision}: fraud ${e.fraud_bp / 100}%, confidence ${e.confidence_bp / 100}%, ${e.amount}`;
    default: return `kind ${e.kind ?? '?'} v${e.version ?? '?'}`;
  }
}
