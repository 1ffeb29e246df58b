// RFC 6962 / RFC 9162 Merkle hashing and proof verification (§2.1.3.2 inclusion, §2.1.4.2
// consistency), the same algorithms as crates/audit/src/proof.rs. Sizes and indices are
// BigInt so trees past 2^32 leaves walk correctly.
import { concat, sha256, toHex, fromHex, bytesEqual } from './crypto.js';

/** Leaf hash: SHA-256(0x00 ‖ data). */
export const leafHash = (data) => sha256(concat(new Uint8Array([0]), data));
/** Interior node hash: SHA-256(0x01 ‖ left ‖ right). */
export const nodeHash = (l, r) => sha256(concat(new Uint8Array([1]), l, r));

function hashList(path, what) {
  return path.map((h, i) => {
    const b = typeof h === 'string' ? fromHex(h) : h;
    if (b.length !== 32) throw new Error(`${what} hash ${i} is not 32 bytes`);
    return b;
  });
}

function inclusionLen(index, size) {
  let a = 0n, b = size, n = 0;
  while (b - a > 1n) {
    let k = 1n;
    while (k << 1n < b - a) k <<= 1n;
    if (index < a + k) b = a + k; else a += k;
    n++;
  }
  return n;
}

/**
 * Root that an inclusion proof leads to from `leaf` at `index` in a tree of `size`
 * leaves. Throws with the reason when the proof's shape does not fit.
 */
export async function inclusionRoot(leaf, index, size, path) {
  index = BigInt(index); size = BigInt(size);
  const hashes = hashList(path, 'inclusion proof');
  if (index >= size) throw new Error(`leaf index ${index} is not below tree size ${size}`);
  let fn = index, sn = size - 1n, r = leaf;
  for (const p of hashes) {
    if (sn === 0n) throw new Error(`path is longer than ${inclusionLen(index, size)} hashes`);
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n; sn >>= 1n;
  }
  if (sn !== 0n) {
    throw new Error(`path has ${hashes.length} hashes, a leaf at index ${index} of a tree of ${size} needs ${inclusionLen(index, size)}`);
  }
  return r;
}

/** Verifies an inclusion proof; resolves to the computed root, throws on a mismatch. */
export async function verifyInclusion(leaf, index, size, path, root) {
  const got = await inclusionRoot(leaf, index, size, path);
  if (!bytesEqual(got, root)) throw new Error(`leads to root ${toHex(got)}, the checkpoint's root is ${toHex(root)}`);
  return got;
}

/** Verifies that the tree (oldSize, oldRoot) is a prefix of (newSize, newRoot). */
export async function verifyConsistency(oldSize, newSize, path, oldRoot, newRoot) {
  const first = BigInt(oldSize), second = BigInt(newSize);
  const hashes = hashList(path, 'consistency proof');
  if (first > second) throw new Error(`old size ${first} is larger than new size ${second}`);
  if (first === second || first === 0n) {
    if (hashes.length) throw new Error(`expected an empty path for sizes ${first} → ${second}`);
    if (first === second && !bytesEqual(oldRoot, newRoot)) throw new Error(`same size ${first} but different roots`);
    return;
  }
  if (!hashes.length) throw new Error('empty path');
  let i = 0;
  const pow2 = (first & (first - 1n)) === 0n;
  const seed = pow2 ? oldRoot : hashes[i++];
  let fn = first - 1n, sn = second - 1n;
  while ((fn & 1n) === 1n) { fn >>= 1n; sn >>= 1n; }
  let fr = seed, sr = seed;
  for (; i < hashes.length; i++) {
    const c = hashes[i];
    if (sn === 0n) throw new Error('path is longer than the sizes need');
    if ((fn & 1n) === 1n || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if ((fn & 1n) === 0n) while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n; sn >>= 1n;
  }
  if (sn !== 0n) throw new Error(`path has ${hashes.length} hashes, too few for sizes ${first} → ${second}`);
  if (!bytesEqual(fr, oldRoot)) throw new Error(`leads to old root ${toHex(fr)}, expected ${toHex(oldRoot)}`);
  if (!bytesEqual(sr, newRoot)) throw new Error(`leads to new root ${toHex(sr)}, expected ${toHex(newRoot)}`);
}
