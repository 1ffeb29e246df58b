// Bytes, hex, base64, SHA-256 (WebCrypto), Keccak-256 and EIP-55 addresses.

const enc = new TextEncoder();

/** UTF-8 bytes of a string. */
export const utf8 = (s) => enc.encode(s);

/** Lower-case hex of bytes, without 0x. */
export function toHex(bytes) {
  let s = '';
  for (const b of bytes) s += (b < 16 ? '0' : '') + b.toString(16);
  return s;
}

/** Bytes of a hex string (an optional 0x prefix is accepted); throws on bad input. */
export function fromHex(hex) {
  let s = String(hex);
  if (s.startsWith('0x') || s.startsWith('0X')) s = s.slice(2);
  if (s.length % 2 || /[^0-9a-fA-F]/.test(s)) throw new Error(`not hex: ${s.slice(0, 80)}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}

/** Bytes of standard base64 (padding required, as Rust's STANDARD engine writes it). */
export function fromBase64(b64) {
  const s = String(b64);
  if (s.length % 4 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new Error(`not base64: ${s.slice(0, 80)}`);
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Standard base64 of bytes. */
export function toBase64(bytes) {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** Concatenation of byte arrays. */
export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** Whether two byte arrays are equal. */
export function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** SHA-256 with WebCrypto. */
export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

// Keccak-f[1600] on 25 lanes held as 32-bit halves (lo, hi).
const RC = [
  0x00000001, 0x00000000, 0x00008082, 0x00000000, 0x0000808a, 0x80000000, 0x80008000, 0x80000000,
  0x0000808b, 0x00000000, 0x80000001, 0x00000000, 0x80008081, 0x80000000, 0x00008009, 0x80000000,
  0x0000008a, 0x00000000, 0x00000088, 0x00000000, 0x80008009, 0x00000000, 0x8000000a, 0x00000000,
  0x8000808b, 0x00000000, 0x0000008b, 0x80000000, 0x00008089, 0x80000000, 0x00008003, 0x80000000,
  0x00008002, 0x80000000, 0x00000080, 0x80000000, 0x0000800a, 0x00000000, 0x8000000a, 0x80000000,
  0x80008081, 0x80000000, 0x00008080, 0x80000000, 0x80000001, 0x00000000, 0x80008008, 0x80000000,
];
// Rotation offsets, lane x + 5y.
const ROT = [0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14];
// Destination of lane x + 5y under pi: y + 5((2x + 3y) mod 5).
const PI = ROT.map((_, i) => { const x = i % 5, y = (i / 5) | 0; return y + 5 * ((2 * x + 3 * y) % 5); });

function keccakF(lo, hi) {
  const clo = new Int32Array(5), chi = new Int32Array(5);
  const blo = new Int32Array(25), bhi = new Int32Array(25);
  for (let round = 0; round < 24; round++) {
    for (let x = 0; x < 5; x++) {
      clo[x] = lo[x] ^ lo[x + 5] ^ lo[x + 10] ^ lo[x + 15] ^ lo[x + 20];
      chi[x] = hi[x] ^ hi[x + 5] ^ hi[x + 10] ^ hi[x + 15] ^ hi[x + 20];
    }
    for (let x = 0; x < 5; x++) {
      const nl = clo[(x + 1) % 5], nh = chi[(x + 1) % 5];
      const dlo = clo[(x + 4) % 5] ^ ((nl << 1) | (nh >>> 31));
      const dhi = chi[(x + 4) % 5] ^ ((nh << 1) | (nl >>> 31));
      for (let y = 0; y < 25; y += 5) { lo[x + y] ^= dlo; hi[x + y] ^= dhi; }
    }
    for (let i = 0; i < 25; i++) {
      let l = lo[i], h = hi[i], r = ROT[i];
      if (r >= 32) { const t = l; l = h; h = t; r -= 32; }
      if (r) { const nl = (l << r) | (h >>> (32 - r)); h = (h << r) | (l >>> (32 - r)); l = nl; }
      blo[PI[i]] = l; bhi[PI[i]] = h;
    }
    for (let y = 0; y < 25; y += 5) {
      for (let x = 0; x < 5; x++) {
        const a = x + y, b = ((x + 1) % 5) + y, c = ((x + 2) % 5) + y;
        lo[a] = blo[a] ^ (~blo[b] & blo[c]);
        hi[a] = bhi[a] ^ (~bhi[b] & bhi[c]);
      }
    }
    lo[0] ^= RC[2 * round];
    hi[0] ^= RC[2 * round + 1];
  }
}

/** Keccak-256 (Ethereum's, padding 0x01 … 0x80) of bytes or of a string's UTF-8. */
export function keccak256(input) {
  const data = typeof input === 'string' ? utf8(input) : input;
  const rate = 136;
  const padded = new Uint8Array((Math.floor(data.length / rate) + 1) * rate);
  padded.set(data);
  padded[data.length] ^= 0x01;
  padded[padded.length - 1] ^= 0x80;
  const lo = new Int32Array(25), hi = new Int32Array(25);
  for (let off = 0; off < padded.length; off += rate) {
    for (let i = 0; i < rate / 8; i++) {
      const p = off + 8 * i;
      lo[i] ^= padded[p] | (padded[p + 1] << 8) | (padded[p + 2] << 16) | (padded[p + 3] << 24);
      hi[i] ^= padded[p + 4] | (padded[p + 5] << 8) | (padded[p + 6] << 16) | (padded[p + 7] << 24);
    }
    keccakF(lo, hi);
  }
  const out = new Uint8Array(32);
  for (let i = 0; i < 4; i++) {
    for (let k = 0; k < 4; k++) { out[8 * i + k] = (lo[i] >>> (8 * k)) & 0xff; out[8 * i + 4 + k] = (hi[i] >>> (8 * k)) & 0xff; }
  }
  return out;
}

/** 0x + the first 4 bytes of keccak256(signature): a function or error selector. */
export const selectorOf = (signature) => '0x' + toHex(keccak256(signature).slice(0, 4));

/** EIP-55 checksummed form of an address (any case, 0x optional). */
export function checksumAddress(addr) {
  const a = String(addr).toLowerCase().replace(/^0x/, '');
  if (!/^[0-9a-f]{40}$/.test(a)) return String(addr);
  const h = toHex(keccak256(a));
  let out = '0x';
  for (let i = 0; i < 40; i++) out += parseInt(h[i], 16) >= 8 ? a[i].toUpperCase() : a[i];
  return out;
}
