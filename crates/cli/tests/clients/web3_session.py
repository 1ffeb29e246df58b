"""A scripted web3.py session against a JSON-RPC endpoint: deploy, call, transfer, receipts,
logs, filters, unlocked-account transactions. Exits non-zero on the first failed check.

    python web3_session.py <rpc-url> <AlaraToken artifact.json>
"""
import json
import sys

from eth_account import Account
from web3 import Web3

url, artifact_path = sys.argv[1], sys.argv[2]
artifact = json.load(open(artifact_path))
DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
OTHER = Web3.to_checksum_address("0x70997970c51812dc3a010c7d01b50e0d17dc79c8")


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok - {what}")


w3 = Web3(Web3.HTTPProvider(url))
check(w3.is_connected(), "connected")
check(w3.eth.chain_id == 31337, "chain id is 31337")
acct = Account.from_key(DEV_KEY)
check(w3.eth.accounts[0] == acct.address, "eth_accounts lists dev account 0")

Token = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
supply = 1000 * 10**18
tx = Token.constructor(acct.address, supply).build_transaction(
    {"from": acct.address, "nonce": w3.eth.get_transaction_count(acct.address)}
)
signed = acct.sign_transaction(tx)
tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.05)
check(receipt.status == 1 and receipt.contractAddress, "deployed by raw transaction")
token = w3.eth.contract(address=receipt.contractAddress, abi=artifact["abi"])
check(token.functions.symbol().call() == "ALR", "eth_call reads the symbol")
check(token.functions.balanceOf(acct.address).call() == supply, "deployer holds the supply")

# Transfer from the unlocked account (eth_sendTransaction), receipt and decoded event.
tx_hash = token.functions.transfer(OTHER, 42).transact({"from": acct.address})
receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.05)
check(receipt.status == 1, "transfer succeeded")
events = token.events.Transfer().process_receipt(receipt)
check(len(events) == 1 and events[0].args.value == 42 and events[0].args.to == OTHER, "Transfer event decodes")
check(token.functions.balanceOf(OTHER).call() == 42, "recipient balance updated")
tx = w3.eth.get_transaction(tx_hash)
check(tx.blockNumber == receipt.blockNumber and tx["from"] == acct.address, "get_transaction matches")
block = w3.eth.get_block(receipt.blockNumber, full_transactions=True)
check(block.hash == receipt.blockHash and block.transactions[0].hash == tx_hash, "block with full transactions")

logs = token.events.Transfer().get_logs(from_block=0)
check(len(logs) == 2, f"get_logs finds mint and transfer ({len(logs)})")

flt = w3.eth.filter({"address": token.address, "fromBlock": "latest"})
token.functions.transfer(OTHER, 7).transact({"from": acct.address})
changes = flt.get_new_entries()
check(len(changes) == 1, "log filter reports the new transfer")
check(w3.eth.uninstall_filter(flt.filter_id), "filter uninstalled")

# A plain value transfer signed locally, legacy (type 0) to exercise that path too.
before = w3.eth.get_balance(OTHER)
legacy = {
    "to": OTHER,
    "value": 12345,
    "gas": 21000,
    "gasPrice": w3.eth.gas_price,
    "nonce": w3.eth.get_transaction_count(acct.address),
    "chainId": 31337,
}
h = w3.eth.send_raw_transaction(acct.sign_transaction(legacy).raw_transaction)
r = w3.eth.wait_for_transaction_receipt(h, timeout=30, poll_latency=0.05)
check(r.status == 1 and r.type == 0, "legacy transaction mined")
check(w3.eth.get_balance(OTHER) == before + 12345, "balance moved")

try:
    token.functions.transfer(OTHER, supply * 2).call({"from": acct.address})
    check(False, "over-transfer must revert")
except Exception as e:  # ContractCustomError in web3 7
    check("0xe450d38c" in str(e), f"revert carries ERC20InsufficientBalance ({type(e).__name__})")

print("web3.py session passed")
