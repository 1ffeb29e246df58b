#!/usr/bin/env python3
"""Checks a node's eth_getProof answers against a block header's stateRoot.

The proofs are verified with py-trie (`trie`, Ethereum's reference Merkle-Patricia trie)
and `rlp`, never with Alara's own code: every account proof and every storage proof, of
present and of absent keys, must lead from the root to the value the answer states (or to
its absence).

usage: verify_proofs.py URL BLOCK ADDRESS[,ADDRESS...] [SLOT[,SLOT...]]

BLOCK is a number or a tag (latest). Prints one JSON line with what was checked; exits 1
on the first proof that does not verify.
"""

import json
import sys
import urllib.request

import rlp
from eth_utils import keccak
from trie import HexaryTrie
from trie.exceptions import BadTrieProof

BLANK_ROOT = keccak(rlp.encode(b""))
EMPTY_CODE = keccak(b"")


def rpc(url, method, params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    req = urllib.request.Request(
        url, data=body.encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        answer = json.load(resp)
    if "error" in answer:
        fail(f"{method} failed: {answer['error']}")
    return answer["result"]


def fail(message):
    print(f"verify_proofs: {message}", file=sys.stderr)
    sys.exit(1)


def data(hex_string):
    s = hex_string[2:] if hex_string.startswith("0x") else hex_string
    return bytes.fromhex(s if len(s) % 2 == 0 else "0" + s)


def quantity(hex_string):
    return int(hex_string, 16)


def from_proof(root, key, proof, what):
    try:
        # py-trie takes the proof's nodes decoded.
        return HexaryTrie.get_from_proof(root, key, [rlp.decode(data(n)) for n in proof])
    except BadTrieProof as e:
        fail(f"{what}: the proof does not verify against {root.hex()}: {e}")


def main():
    if len(sys.argv) not in (4, 5):
        fail("usage: verify_proofs.py URL BLOCK ADDRESS[,ADDRESS...] [SLOT[,SLOT...]]")
    url, block = sys.argv[1], sys.argv[2]
    addresses = sys.argv[3].split(",")
    slots = sys.argv[4].split(",") if len(sys.argv) == 5 and sys.argv[4] else []
    tag = block if not block.isdigit() else hex(int(block))
    header = rpc(url, "eth_getBlockByNumber", [tag, False])
    if header is None:
        fail(f"no block {block}")
    state_root = data(header["stateRoot"])
    seen = {"accounts": 0, "absent_accounts": 0, "slots": 0, "absent_slots": 0, "zero_leaves": 0}
    for address in addresses:
        answer = rpc(url, "eth_getProof", [address, slots, tag])
        if answer["address"].lower() != address.lower():
            fail(f"asked for {address}, the answer is for {answer['address']}")
        nonce, balance = quantity(answer["nonce"]), quantity(answer["balance"])
        storage_hash, code_hash = data(answer["storageHash"]), data(answer["codeHash"])
        leaf = from_proof(state_root, keccak(data(address)), answer["accountProof"], address)
        seen["accounts"] += 1
        if leaf == b"":
            seen["absent_accounts"] += 1
            if (nonce, balance, storage_hash, code_hash) != (0, 0, BLANK_ROOT, EMPTY_CODE):
                fail(f"{address} is absent from the trie but the answer gives {answer}")
        else:
            fields = rlp.decode(leaf)
            stated = [nonce, balance, storage_hash, code_hash]
            proven = [
                int.from_bytes(fields[0], "big"),
                int.from_bytes(fields[1], "big"),
                fields[2],
                fields[3],
            ]
            if stated != proven:
                fail(f"{address}: the answer says {stated}, the trie holds {proven}")
        if len(answer["storageProof"]) != len(slots):
            fail(f"{address}: {len(slots)} slots asked, {len(answer['storageProof'])} proven")
        for slot, proof in zip(slots, answer["storageProof"]):
            if quantity(proof["key"]) != quantity(slot):
                fail(f"{address}: slot {slot} answered as {proof['key']}")
            key = quantity(slot).to_bytes(32, "big")
            value = quantity(proof["value"])
            got = from_proof(storage_hash, keccak(key), proof["proof"], f"{address} {slot}")
            proven = 0 if got == b"" else int.from_bytes(rlp.decode(got), "big")
            if proven != value:
                fail(f"{address} slot {slot}: the answer says {value}, the trie holds {proven}")
            seen["slots"] += 1
            seen["absent_slots"] += got == b""
            # Ethereum removes a slot set to zero; a leaf holding zero is a deviation (anvil
            # keeps them), counted so that callers can tell.
            seen["zero_leaves"] += got != b"" and value == 0
    seen["block"] = quantity(header["number"])
    seen["state_root"] = header["stateRoot"]
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
