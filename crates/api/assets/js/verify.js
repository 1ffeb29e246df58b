// Verifies an audit receipt (docs/receipt.md) entirely in the browser: every hash with
// WebCrypto SHA-256, the checkpoint signatures with WebCrypto Ed25519, the proofs with the
// RFC 9162 algorithms, and the anchor by reading the AuditAnchor contract over JSON-RPC.
// Nothing the receipt says is trusted: the key and the contract are pinned by the caller.
import { fromBase64, fromHex, toHex, bytesEqual, checksumAddress } from './crypto.js';
import { leafHash, verifyInclusion, verifyConsistency } from './merkle.js';
import { parseVerifierKey, parseCheckpoint, openNote } from './note.js';
import { decodeEntry, entryDiff } from './entry.js';
import { encodeCall, decode } from './abi.js';
import { rpc } from './rpc.js';

export const SCHEMAS = ['alara.audit.receipt/v2', 'alara.audit.receipt/v1'];

const hexOf = (h, what) => {
  if (typeof h !== 'string' || !/^(0x)?[0-9a-fA-F]{64}$/.test(h)) throw new Error(`${what} is not a 32-byte hex hash`);
  return fromHex(h);
};
const sameAddr = (a, b) => typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();

/**
 * Runs every check and reports each step: {id, title, status: 'ok'|'fail'|'skip', detail}.
 * opts: {pinnedKey, pinnedKeySource, rpcUrl, contract, onStep(step)}. Resolves to
 * {valid, steps, firstFailure, anchored}.
 */
export async function verifyReceipt(receipt, opts = {}) {
  const steps = [];
  const step = async (id, title, fn) => {
    let s;
    try {
      const detail = await fn();
      s = detail && detail.skip ? { id, title, status: 'skip', detail: detail.skip } : { id, title, status: 'ok', detail: detail || '' };
    } catch (e) {
      s = { id, title, status: 'fail', detail: e.message || String(e) };
    }
    steps.push(s);
    if (opts.onStep) opts.onStep(s);
    return s.status === 'ok';
  };
  const r = receipt || {};

  await step('schema', 'Receipt schema is known', () => {
    if (!SCHEMAS.includes(r.schema)) throw new Error(`schema ${JSON.stringify(r.schema)}; this page reads ${SCHEMAS.join(' and ')}`);
    return r.schema;
  });

  let bytes = null;
  await step('entry', 'Entry bytes decode to exactly the entry shown', () => {
    bytes = fromBase64(r.entry_bytes);
    const decoded = decodeEntry(bytes);
    const diff = entryDiff(decoded, r.entry);
    if (diff) throw new Error(`the decoded entry differs: ${diff}`);
    return `${bytes.length} bytes, a ${decoded.type} entry`;
  });

  let leaf = null;
  await step('leaf', 'Leaf hash = SHA-256(0x00 ‖ entry bytes)', async () => {
    if (!bytes) throw new Error('no entry bytes to hash');
    leaf = await leafHash(bytes);
    const claimed = hexOf(r.leaf_hash, 'leaf_hash');
    if (!bytesEqual(leaf, claimed)) throw new Error(`entry bytes hash to ${toHex(leaf)}, the receipt says ${toHex(claimed)}`);
    return toHex(leaf);
  });

  let key = null;
  await step('key', 'Log key', async () => {
    const receiptKey = await parseVerifierKey(r.log?.verifier_key ?? '');
    if (opts.pinnedKey) {
      const pinned = await parseVerifierKey(opts.pinnedKey);
      if (pinned.text !== receiptKey.text) throw new Error(`the receipt names key ${receiptKey.text}, the pinned key is ${pinned.text}`);
      key = pinned;
      return `${pinned.text} (pinned: ${opts.pinnedKeySource || 'given'})`;
    }
    key = receiptKey;
    return `${receiptKey.text} — the receipt's own key, NOT pinned: it proves consistency, not who signed`;
  });

  let cp = null;
  await step('signature', 'Checkpoint signed by the log key (Ed25519, C2SP signed note)', async () => {
    if (!key) throw new Error('no usable key');
    const parsed = parseCheckpoint(r.checkpoint ?? '');
    await openNote(r.checkpoint, key);
    if (parsed.origin !== r.log?.origin) throw new Error(`checkpoint origin ${JSON.stringify(parsed.origin)} is not the receipt's log ${JSON.stringify(r.log?.origin)}`);
    cp = parsed;
    return `${cp.origin}, size ${cp.size}, root ${toHex(cp.root)}`;
  });

  await step('inclusion', 'Inclusion proof leads to the checkpoint root (RFC 9162 §2.1.3.2)', async () => {
    if (!leaf) throw new Error('no recomputed leaf hash');
    if (!cp) throw new Error('no verified checkpoint');
    if (!Number.isSafeInteger(r.leaf_index) || r.leaf_index < 0) throw new Error('leaf_index is not a non-negative integer');
    await verifyInclusion(leaf, r.leaf_index, cp.size, r.inclusion_proof || [], cp.root);
    return `leaf ${r.leaf_index} of ${cp.size}, ${(r.inclusion_proof || []).length} hashes`;
  });

  const a = r.anchor;
  let acp = null, binding = null;
  if (!a) {
    const skip = { skip: 'the receipt carries no anchor yet (refresh it after the next anchor)' };
    await step('anchor-checkpoint', 'Anchored checkpoint signed and bound to its chain', () => skip);
    await step('anchor-proofs', 'Consistency and inclusion in the anchored tree', () => skip);
    await step('onchain', 'Anchor read from the AuditAnchor contract', () => skip);
  } else {
    await step('anchor-checkpoint', 'Anchored checkpoint signed and bound to its chain', async () => {
      if (!key) throw new Error('no usable key');
      const parsed = parseCheckpoint(a.checkpoint ?? '');
      await openNote(a.checkpoint, key);
      if (parsed.origin !== r.log?.origin) throw new Error('the anchored checkpoint is from another log');
      acp = parsed;
      const lines = acp.extensions.filter((l) => l.split(' ')[0] === 'alara-anchor');
      if (lines.length > 1) throw new Error('more than one alara-anchor line');
      if (!lines.length) {
        if (r.schema !== 'alara.audit.receipt/v1') throw new Error('the anchored checkpoint names no chain, contract and account (alara-anchor line)');
        return `size ${acp.size} (v1 receipt: no chain binding; refresh it with alara audit receipt --upgrade)`;
      }
      const w = lines[0].split(' ');
      const m = w.length === 4 && w[1].match(/^eip155:(\d+)$/);
      if (!m) throw new Error(`${JSON.stringify(lines[0])} is not alara-anchor eip155:<chain id> <contract> <account>`);
      for (const addr of [w[2], w[3]]) if (checksumAddress(addr) !== addr) throw new Error(`${addr} is not a checksummed address`);
      binding = { chainId: Number(m[1]), contract: w[2], account: w[3] };
      if (binding.chainId !== a.chain_id || !sameAddr(binding.contract, a.contract) || !sameAddr(binding.account, a.log_id)) {
        throw new Error(`signed for chain ${binding.chainId} contract ${binding.contract} account ${binding.account}, the receipt's anchor says chain ${a.chain_id} contract ${a.contract} account ${a.log_id}`);
      }
      return `size ${acp.size}, root ${toHex(acp.root)}, signed for chain ${binding.chainId} ${binding.contract} account ${binding.account}`;
    });

    await step('anchor-proofs', 'Consistency and inclusion in the anchored tree (RFC 9162 §2.1.4.2)', async () => {
      if (!cp || !acp || !leaf) throw new Error('needs the verified checkpoints and leaf above');
      await verifyConsistency(cp.size, acp.size, a.consistency_proof || [], cp.root, acp.root).catch((e) => { throw new Error(`consistency proof: ${e.message}`); });
      await verifyInclusion(leaf, r.leaf_index, acp.size, a.inclusion_proof || [], acp.root).catch((e) => { throw new Error(`anchored inclusion proof: ${e.message}`); });
      return `tree ${cp.size} is a prefix of ${acp.size}; leaf ${r.leaf_index} is in it`;
    });

    await step('onchain', 'Anchor read from the AuditAnchor contract', async () => {
      if (!opts.rpcUrl) return { skip: 'no chain RPC URL known (the API info endpoint gives it)' };
      if (!acp) throw new Error('needs the verified anchored checkpoint');
      if (!binding) throw new Error('a v1 receipt names no chain binding: refresh it with alara audit receipt --upgrade');
      if (!opts.contract) throw new Error('no AuditAnchor address pinned (the API info endpoint gives it)');
      const url = opts.rpcUrl, contract = opts.contract, notes = [];
      const chainId = Number(await rpc(url, 'eth_chainId'));
      if (chainId !== binding.chainId) throw new Error(`the anchor is signed for chain ${binding.chainId}, the RPC serves chain ${chainId}`);
      if (!sameAddr(binding.contract, contract)) throw new Error(`the anchor is signed for contract ${binding.contract}, not the pinned AuditAnchor ${contract}`);
      notes.push(`chain ${chainId}, contract ${checksumAddress(contract)} (pinned)`);
      const call = async (sig, args) => rpc(url, 'eth_call', [{ to: contract, data: encodeCall(sig, args) }, 'latest']);
      const [logId] = decode(['address'], await call('logOfKey(bytes32)', ['0x' + toHex(key.publicKey)]));
      if (/^0x0{40}$/i.test(logId)) throw new Error(`the key is not registered in ${contract}`);
      if (!sameAddr(logId, binding.account)) throw new Error(`the key is registered for account ${logId}, the anchor is signed for ${binding.account}`);
      notes.push(`logOfKey(key) = ${logId}`);
      const rc = await rpc(url, 'eth_getTransactionReceipt', [a.tx_hash]);
      if (!rc) throw new Error(`transaction ${a.tx_hash} is not on this chain`);
      if (rc.status !== '0x1' || Number(rc.blockNumber) !== a.block_number) throw new Error(`transaction ${a.tx_hash} failed or is not in block ${a.block_number}`);
      const topic = '0x' + logId.slice(2).toLowerCase().padStart(64, '0');
      const data = '0x' + BigInt(acp.size).toString(16).padStart(64, '0') + toHex(acp.root);
      const found = (rc.logs || []).some((l) => sameAddr(l.address, contract) && l.topics?.length === 1 && l.topics[0].toLowerCase() === topic && l.data.toLowerCase() === data);
      if (!found) throw new Error(`no Anchored(${logId}, ${acp.size}, ${toHex(acp.root)}) event from ${contract} in ${a.tx_hash}`);
      notes.push(`Anchored event in block ${a.block_number}`);
      const root32 = '0x' + toHex(acp.root);
      const [latest] = decode(['bool'], await call('isLatest(address,uint64,bytes32)', [logId, acp.size, root32]));
      if (!latest) throw new Error('a later anchor superseded this one: fetch the entry\'s current receipt (alara audit receipt --upgrade) and verify that');
      const [ok] = decode(['bool'], await call('verifyInclusion(address,bytes32,uint64,uint64,bytes32,bytes32[])', [logId, '0x' + toHex(leaf), r.leaf_index, acp.size, root32, (a.inclusion_proof || []).map((h) => '0x' + String(h).replace(/^0x/, ''))]));
      if (!ok) throw new Error("the contract's verifyInclusion returned false");
      notes.push('isLatest and the contract\'s verifyInclusion: true');
      return notes.join('; ');
    });
  }

  const failed = steps.filter((s) => s.status === 'fail');
  return { valid: failed.length === 0, steps, firstFailure: failed[0] || null, anchored: !!a };
}
