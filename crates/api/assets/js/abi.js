// A small Solidity ABI codec: enough to call the AuditAnchor from the browser and to decode
// calldata, return data, events and revert data of the project's contracts.
import { concat, fromHex, toHex, checksumAddress, selectorOf } from './crypto.js';

/** A type from an ABI parameter ({type, components}) or a type string. */
export function parseType(p) {
  const param = typeof p === 'string' ? { type: p } : p;
  let t = param.type;
  const m = t.match(/^(.*)\[(\d*)\]$/);
  if (m) {
    const inner = parseType({ ...param, type: m[1] });
    return { kind: 'array', inner, len: m[2] === '' ? null : Number(m[2]) };
  }
  if (t === 'tuple') return { kind: 'tuple', components: (param.components || []).map((c) => ({ name: c.name, type: parseType(c) })) };
  if (t.startsWith('(')) {
    // "(uint256,bytes32)": split at top-level commas.
    const body = t.slice(1, -1), parts = [];
    let depth = 0, cur = '';
    for (const ch of body) {
      if (ch === ',' && depth === 0) { parts.push(cur); cur = ''; continue; }
      if (ch === '(') depth++;
      if (ch === ')') depth--;
      cur += ch;
    }
    if (cur) parts.push(cur);
    return { kind: 'tuple', components: parts.map((s) => ({ name: '', type: parseType(s) })) };
  }
  let mm;
  if ((mm = t.match(/^(u?)int(\d*)$/))) return { kind: mm[1] ? 'uint' : 'int', bits: Number(mm[2] || 256) };
  if ((mm = t.match(/^bytes(\d+)$/))) return { kind: 'fixedbytes', size: Number(mm[1]) };
  if (t === 'address' || t === 'bool' || t === 'bytes' || t === 'string') return { kind: t };
  if (t === 'function') return { kind: 'fixedbytes', size: 24 };
  throw new Error(`unsupported ABI type ${t}`);
}

/** Canonical type string (for signatures). */
export function typeString(t) {
  switch (t.kind) {
    case 'array': return `${typeString(t.inner)}[${t.len ?? ''}]`;
    case 'tuple': return `(${t.components.map((c) => typeString(c.type)).join(',')})`;
    case 'uint': case 'int': return `${t.kind}${t.bits}`;
    case 'fixedbytes': return `bytes${t.size}`;
    default: return t.kind;
  }
}

/** `name(type,…)` of an ABI item. */
export const signatureOf = (item) => `${item.name}(${(item.inputs || []).map((p) => typeString(parseType(p))).join(',')})`;

const isDynamic = (t) => t.kind === 'bytes' || t.kind === 'string' || (t.kind === 'array' && (t.len === null || isDynamic(t.inner))) || (t.kind === 'tuple' && t.components.some((c) => isDynamic(c.type)));
const headSize = (t) => (isDynamic(t) ? 32 : t.kind === 'array' ? t.len * headSize(t.inner) : t.kind === 'tuple' ? t.components.reduce((n, c) => n + headSize(c.type), 0) : 32);

function word(v) {
  let x = BigInt(v);
  if (x < 0n) x += 1n << 256n;
  return fromHex(x.toString(16).padStart(64, '0'));
}

function encodeOne(t, v) {
  switch (t.kind) {
    case 'uint': case 'int': return word(v);
    case 'bool': return word(v ? 1 : 0);
    case 'address': return word(BigInt(v));
    case 'fixedbytes': { const b = fromHex(v), out = new Uint8Array(32); out.set(b.slice(0, 32)); return out; }
    case 'bytes': case 'string': {
      const b = t.kind === 'string' ? new TextEncoder().encode(v) : fromHex(v);
      const padded = new Uint8Array(Math.ceil(b.length / 32) * 32);
      padded.set(b);
      return concat(word(b.length), padded);
    }
    case 'array': {
      const body = encodeTuple(v.map(() => t.inner), v);
      return t.len === null ? concat(word(v.length), body) : body;
    }
    case 'tuple': return encodeTuple(t.components.map((c) => c.type), Array.isArray(v) ? v : t.components.map((c) => v[c.name]));
    default: throw new Error(`cannot encode ${t.kind}`);
  }
}

function encodeTuple(types, values) {
  const heads = [], tails = [];
  let offset = types.reduce((n, t) => n + headSize(t), 0);
  types.forEach((t, i) => {
    const enc = encodeOne(t, values[i]);
    if (isDynamic(t)) { heads.push(word(offset)); tails.push(enc); offset += enc.length; } else heads.push(enc);
  });
  return concat(...heads, ...tails);
}

/** ABI-encodes values of the given types (strings or ABI params). */
export const encode = (types, values) => encodeTuple(types.map(parseType), values);

/** Calldata of `signature` (e.g. `isLatest(address,uint64,bytes32)`) with values. */
export function encodeCall(signature, values) {
  const types = parseType(signature.slice(signature.indexOf('('))).components.map((c) => c.type);
  return selectorOf(signature) + toHex(encodeTuple(types, values));
}

function readWord(b, off) {
  if (off + 32 > b.length) throw new Error(`data too short: word at ${off} of ${b.length} bytes`);
  let v = 0n;
  for (let i = off; i < off + 32; i++) v = (v << 8n) | BigInt(b[i]);
  return v;
}

function decodeOne(t, b, base, off) {
  switch (t.kind) {
    case 'uint': return readWord(b, base + off);
    case 'int': { const v = readWord(b, base + off); return v >= 1n << 255n ? v - (1n << 256n) : v; }
    case 'bool': return readWord(b, base + off) !== 0n;
    case 'address': return checksumAddress('0x' + readWord(b, base + off).toString(16).padStart(64, '0').slice(24));
    case 'fixedbytes': readWord(b, base + off); return '0x' + toHex(b.slice(base + off, base + off + t.size));
    case 'bytes': case 'string': {
      const at = base + Number(readWord(b, base + off));
      const n = Number(readWord(b, at));
      if (at + 32 + n > b.length) throw new Error('bytes run past the data');
      const raw = b.slice(at + 32, at + 32 + n);
      return t.kind === 'string' ? new TextDecoder().decode(raw) : '0x' + toHex(raw);
    }
    case 'array': {
      if (t.len === null) {
        const at = base + Number(readWord(b, base + off));
        const n = Number(readWord(b, at));
        if (n > b.length) throw new Error('array length past the data');
        return decodeTuple(Array(n).fill(t.inner), b, at + 32);
      }
      if (isDynamic(t)) return decodeTuple(Array(t.len).fill(t.inner), b, base + Number(readWord(b, base + off)));
      return decodeTuple(Array(t.len).fill(t.inner), b, base + off);
    }
    case 'tuple': {
      const types = t.components.map((c) => c.type);
      const at = isDynamic(t) ? base + Number(readWord(b, base + off)) : base + off;
      const vals = decodeTuple(types, b, at);
      return named(t.components, vals);
    }
    default: throw new Error(`cannot decode ${t.kind}`);
  }
}

function named(components, vals) {
  const out = vals.slice();
  components.forEach((c, i) => { if (c.name) out[c.name] = vals[i]; });
  return out;
}

function decodeTuple(types, b, base) {
  const out = [];
  let off = 0;
  for (const t of types) { out.push(decodeOne(t, b, base, off)); off += isDynamic(t) ? 32 : headSize(t); }
  return out;
}

/** Decodes ABI data (hex or bytes) of the given types (strings or ABI params). */
export function decode(types, data) {
  const b = typeof data === 'string' ? fromHex(data) : data;
  return decodeTuple(types.map(parseType), b, 0);
}

/** Decodes the inputs of an ABI item (function, error) from data after the selector. */
export function decodeInputs(item, data) {
  const vals = decode(item.inputs || [], data);
  return (item.inputs || []).map((p, i) => ({ name: p.name, type: typeString(parseType(p)), value: vals[i] }));
}

/** Decodes an event log of an ABI event item: indexed inputs from topics, others from data. */
export function decodeLog(item, topics, data) {
  let ti = item.anonymous ? 0 : 1;
  const plain = (item.inputs || []).filter((p) => !p.indexed);
  const vals = decode(plain, data);
  let pi = 0;
  return (item.inputs || []).map((p) => {
    const t = parseType(p);
    if (p.indexed) {
      const topic = topics[ti++];
      if (topic === undefined) throw new Error('fewer topics than indexed inputs');
      const value = isDynamic(t) || t.kind === 'tuple' || t.kind === 'array' ? `${topic} (hash)` : decodeTuple([t], fromHex(topic), 0)[0];
      return { name: p.name, type: typeString(t), value, indexed: true };
    }
    return { name: p.name, type: typeString(t), value: vals[pi++] };
  });
}

/** Human text of a decoded value. */
export function formatValue(v) {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return `[${v.map(formatValue).join(', ')}]`;
  return String(v);
}
