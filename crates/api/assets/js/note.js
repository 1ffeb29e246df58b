// C2SP signed notes with Ed25519 (WebCrypto) and tlog-checkpoint bodies, as
// crates/audit/src/checkpoint.rs writes them.
import { concat, fromBase64, fromHex, sha256, toHex, utf8, bytesEqual } from './crypto.js';

const SIG_PREFIX = '\u2014 ';

/** Parses a verifier key `name+<hex key id>+<base64(0x01 ‖ 32-byte key)>` and checks its id. */
export async function parseVerifierKey(vkey) {
  const s = String(vkey).trim();
  const i = s.indexOf('+'), j = s.indexOf('+', i + 1);
  if (i < 1 || j < 0) throw new Error(`${JSON.stringify(s.slice(0, 80))} is not name+hash+key`);
  const name = s.slice(0, i), idHex = s.slice(i + 1, j), raw = fromBase64(s.slice(j + 1));
  if (/\s/.test(name)) throw new Error('key name has spaces');
  if (raw.length !== 33 || raw[0] !== 0x01) throw new Error('expected 0x01 followed by a 32-byte Ed25519 public key');
  const publicKey = raw.slice(1);
  const id = (await sha256(concat(utf8(name), new Uint8Array([0x0a, 0x01]), publicKey))).slice(0, 4);
  if (toHex(id) !== idHex) throw new Error(`key hash ${idHex} does not match name and key (${toHex(id)})`);
  return { name, id, publicKey, text: s };
}

/** Splits a signed note into its text (ending in a newline) and its signature lines. */
export function splitNote(note) {
  const idx = note.indexOf('\n\n');
  if (idx < 0) throw new Error('no blank line between text and signatures');
  const text = note.slice(0, idx + 1);
  let sigs = note.slice(idx + 2);
  if (!sigs.endsWith('\n')) throw new Error('signature block does not end in a newline');
  const lines = sigs.slice(0, -1).split('\n');
  if (lines.some((l) => !l.startsWith(SIG_PREFIX))) throw new Error('a signature line does not start with an em dash');
  return { text, lines };
}

/** Parses a checkpoint body: origin, canonical decimal size, base64 root, extension lines. */
export function parseCheckpointBody(text) {
  if (!text.endsWith('\n')) throw new Error('body does not end in a newline');
  const lines = text.slice(0, -1).split('\n');
  const [origin, sizeLine, rootLine, ...extensions] = lines;
  if (!origin) throw new Error('missing origin line');
  if (sizeLine === undefined || !/^(0|[1-9][0-9]*)$/.test(sizeLine)) throw new Error(`tree size ${JSON.stringify(sizeLine)} is not a canonical decimal number`);
  if (rootLine === undefined) throw new Error('missing root hash line');
  const root = fromBase64(rootLine);
  if (root.length !== 32) throw new Error('root is not 32 bytes');
  if (extensions.some((l) => l === '')) throw new Error('empty extension line');
  return { origin, size: BigInt(sizeLine), root, extensions };
}

/** Parses a signed checkpoint note without verifying it. */
export function parseCheckpoint(note) {
  const { text, lines } = splitNote(note);
  return { ...parseCheckpointBody(text), text, sigLines: lines };
}

let ed25519Support;
/** Whether WebCrypto verifies Ed25519 here. */
export async function ed25519Supported() {
  if (ed25519Support === undefined) {
    try {
      await crypto.subtle.importKey('raw', new Uint8Array(32).fill(1), { name: 'Ed25519' }, false, ['verify']);
      ed25519Support = true;
    } catch (e) {
      ed25519Support = false;
    }
  }
  return ed25519Support;
}

/**
 * Verifies the note's signature by `key` (from parseVerifierKey) over its text with
 * WebCrypto Ed25519. Resolves to the text; throws with the reason.
 */
export async function openNote(note, key) {
  const { text, lines } = splitNote(note);
  for (const line of lines) {
    const rest = line.slice(SIG_PREFIX.length);
    const sp = rest.indexOf(' ');
    if (sp < 0) throw new Error('signature line without name and signature');
    const name = rest.slice(0, sp), blob = fromBase64(rest.slice(sp + 1));
    if (name !== key.name || blob.length !== 68 || !bytesEqual(blob.slice(0, 4), key.id)) continue;
    const pk = await crypto.subtle.importKey('raw', key.publicKey, { name: 'Ed25519' }, false, ['verify']);
    const ok = await crypto.subtle.verify({ name: 'Ed25519' }, pk, blob.slice(4), utf8(text));
    if (!ok) throw new Error(`signature by ${key.name} does not verify`);
    return text;
  }
  throw new Error(`note carries no signature by ${key.name}+${toHex(key.id)}`);
}

export { fromHex };
