// A scripted ethers v6 session against a JSON-RPC endpoint: deploy, call, transfer, receipts,
// logs, filters, unlocked-account signing. Exits non-zero on the first failed check.
//
//   node ethers_session.mjs <rpc-url> <AlaraToken artifact.json>
import { createRequire } from 'module';
import fs from 'fs';
const require = createRequire(import.meta.url);
const ethers = require(process.env.ETHERS_PATH || 'ethers');

const [url, artifactPath] = process.argv.slice(2);
const artifact = JSON.parse(fs.readFileSync(artifactPath, 'utf8'));
const DEV_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
const OTHER = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';

function check(cond, what) {
  if (!cond) { console.error(`FAILED: ${what}`); process.exit(1); }
  console.log(`ok - ${what}`);
}

// ethers shares identical requests for 250 ms (`cacheTimeout`): against a node that mines
// and answers within that window, `getNonce('pending')` right after `wait()` would be the
// cached pre-transaction value. Turn the cache off, as scripts against fast devnets must.
const provider = new ethers.JsonRpcProvider(url, undefined, { pollingInterval: 100, cacheTimeout: -1 });
const network = await provider.getNetwork();
check(network.chainId === 31337n, `chain id is 31337 (got ${network.chainId})`);
const wallet = new ethers.Wallet(DEV_KEY, provider);
check((await provider.getBalance(wallet.address)) > 0n, 'dev account is funded');

// Deploy with a locally signed transaction.
const factory = new ethers.ContractFactory(artifact.abi, artifact.bytecode, wallet);
const supply = ethers.parseUnits('1000', 18);
const token = await factory.deploy(wallet.address, supply);
const deployTx = token.deploymentTransaction();
await token.waitForDeployment();
const tokenAddress = await token.getAddress();
check((await provider.getCode(tokenAddress)).length > 2, `contract deployed at ${tokenAddress}`);
const deployReceipt = await provider.getTransactionReceipt(deployTx.hash);
check(deployReceipt.status === 1 && deployReceipt.contractAddress === tokenAddress, 'deployment receipt names the contract');
check(await token.symbol() === 'ALR', 'eth_call reads the symbol');
check((await token.balanceOf(wallet.address)) === supply, 'deployer holds the supply');

// Transfer, receipt, parsed logs.
const tx = await token.transfer(OTHER, 42n);
const receipt = await tx.wait();
check(receipt.status === 1, 'transfer succeeded');
check(receipt.logs.length === 1, 'transfer emitted one log');
const parsed = token.interface.parseLog(receipt.logs[0]);
check(parsed.name === 'Transfer' && parsed.args.value === 42n && parsed.args.to === OTHER, 'Transfer log decodes');
check((await token.balanceOf(OTHER)) === 42n, 'recipient balance updated');
const fetched = await provider.getTransaction(tx.hash);
check(fetched.blockNumber === receipt.blockNumber && fetched.from === wallet.address, 'getTransaction matches the receipt');
const block = await provider.getBlock(receipt.blockNumber);
check(block.hash === receipt.blockHash && block.transactions.includes(tx.hash), 'block holds the transaction');

// Logs by filter and by event query.
const logs = await provider.getLogs({ address: tokenAddress, fromBlock: 0, topics: [token.interface.getEvent('Transfer').topicHash] });
check(logs.length === 2, `getLogs finds mint and transfer (${logs.length})`);
const events = await token.queryFilter(token.filters.Transfer(wallet.address, OTHER));
check(events.length === 1 && events[0].args.value === 42n, 'queryFilter with indexed topics');

// Reverts surface as CALL_EXCEPTION with the reason.
try {
  await token.transfer.staticCall(OTHER, supply * 2n);
  check(false, 'over-transfer must revert');
} catch (e) {
  check(e.code === 'CALL_EXCEPTION' && e.data && e.data.startsWith('0xe450d38c'), `revert carries ERC20InsufficientBalance data (${e.shortMessage})`);
}

// A subscription by polling filters (eth_newFilter / eth_getFilterChanges).
const seen = new Promise((resolve) => token.once('Transfer', (from, to, value) => resolve(value)));
await new Promise((r) => setTimeout(r, 300));
await (await token.transfer(OTHER, 7n)).wait();
const value = await Promise.race([seen, new Promise((_, rej) => setTimeout(() => rej(new Error('no event within 10 s')), 10000))]);
check(value === 7n, 'event listener saw the transfer');
await token.removeAllListeners();

// Unlocked-account signing through the node.
const signer = await provider.getSigner(0);
check(signer.address === wallet.address, 'eth_accounts lists the dev account first');
const sig = await signer.signMessage('hello alara');
check(ethers.verifyMessage('hello alara', sig) === wallet.address, 'personal_sign verifies');
const domain = { name: 'Alara', version: '1', chainId: 31337, verifyingContract: tokenAddress };
const types = { Mail: [{ name: 'to', type: 'address' }, { name: 'contents', type: 'string' }] };
const mail = { to: OTHER, contents: 'hi' };
const typedSig = await signer.signTypedData(domain, types, mail);
check(ethers.verifyTypedData(domain, types, mail, typedSig) === wallet.address, 'eth_signTypedData_v4 verifies');
const sent = await signer.sendTransaction({ to: OTHER, value: ethers.parseEther('1') });
const sentReceipt = await sent.wait();
check(sentReceipt.status === 1, 'eth_sendTransaction from an unlocked account');

provider.destroy();
console.log('ethers session passed');
