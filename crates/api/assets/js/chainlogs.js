// Events of one platform contract, read with eth_getLogs (paged by block range) and decoded
// with the embedded ABIs.
import { rpc, qty, toQty } from './rpc.js';
import { decodeEvent } from './decode.js';

const RANGE = 5000n;

/** Every event of `address` from block 0 to the head, decoded: [{name, args, log}]. */
export async function contractEvents(url, address, book) {
  const head = qty(await rpc(url, 'eth_blockNumber'));
  const out = [];
  for (let from = 0n; from <= head; from += RANGE) {
    const to = from + RANGE - 1n < head ? from + RANGE - 1n : head;
    const logs = await rpc(url, 'eth_getLogs', [{ address, fromBlock: toQty(from), toBlock: toQty(to) }]);
    for (const log of logs) {
      const ev = decodeEvent(log, book);
      if (ev) out.push({ name: ev.name, args: Object.fromEntries(ev.args.map((a) => [a.name, a.value])), log });
    }
  }
  return out;
}
