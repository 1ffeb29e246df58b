#!/usr/bin/env node
// Compiles the Halo2 verifier that EZKL renders (scripts/ezkl_peer.py) with solc-js from
// node_modules/solc (pinned in package-lock.json), optimizer on, so the zk peer of
// `alara bench compute` never needs a native solc.
//
//   node scripts/ezkl_verifier_compile.js <Verifier.sol> <bytecode.hex> [--abi <abi.json>]
//        [--contract <Name>] [--runs <N>] [--evm-version <fork>]
//
// Writes the contract's creation bytecode as 0x-prefixed hex (no newline) to <bytecode.hex>,
// its ABI to <abi.json> when asked, and prints one JSON object on stdout: the contract name,
// the solc version, the creation and runtime sizes in bytes, whether it is deployable
// (runtime within EIP-170's 24,576 bytes, creation code within EIP-3860's 49,152 bytes, no
// unlinked library), the libraries it needs and its method identifiers.
// Errors: one line on stderr, exit 1.
'use strict';
const fs = require('fs');
const path = require('path');

const EIP170_RUNTIME_LIMIT = 24576;
const EIP3860_INITCODE_LIMIT = 49152;

function die(message) {
  process.stderr.write(`ezkl_verifier_compile: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const opts = { contract: 'Halo2Verifier', runs: 200, evmVersion: 'cancun', abi: null, positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) die(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--abi') opts.abi = value();
    else if (a === '--contract') opts.contract = value();
    else if (a === '--runs') {
      opts.runs = Number(value());
      if (!Number.isInteger(opts.runs) || opts.runs < 0) die('--runs needs a non-negative integer');
    } else if (a === '--evm-version') opts.evmVersion = value();
    else if (a.startsWith('--')) die(`unknown option ${a}`);
    else opts.positional.push(a);
  }
  if (opts.positional.length !== 2) {
    die('usage: ezkl_verifier_compile.js <Verifier.sol> <bytecode.hex> [--abi <abi.json>] [--contract <Name>] [--runs <N>] [--evm-version <fork>]');
  }
  return opts;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const [solPath, bytecodePath] = opts.positional;

  const solcDir = path.resolve(__dirname, '..', 'node_modules', 'solc');
  let solc;
  try {
    solc = require(solcDir);
  } catch (e) {
    die(`solc-js is not installed (${solcDir}): run \`npm ci\` in the repository root`);
  }

  let source;
  try {
    source = fs.readFileSync(solPath, 'utf8');
  } catch (e) {
    die(`cannot read ${solPath}: ${e.message}`);
  }

  const unit = path.basename(solPath);
  const input = {
    language: 'Solidity',
    sources: { [unit]: { content: source } },
    settings: {
      optimizer: { enabled: true, runs: opts.runs },
      evmVersion: opts.evmVersion,
      outputSelection: {
        '*': { '*': ['abi', 'evm.bytecode.object', 'evm.bytecode.linkReferences', 'evm.deployedBytecode.object', 'evm.methodIdentifiers'] },
      },
    },
  };
  const output = JSON.parse(
    solc.compile(JSON.stringify(input), { import: (p) => ({ error: `imports are not supported (${p})` }) }),
  );
  const errors = (output.errors || []).filter((e) => e.severity === 'error');
  if (errors.length > 0) {
    die(`solc-js ${solc.version()} failed on ${solPath}: ${errors[0].formattedMessage.split('\n')[0]}`);
  }
  const contract = ((output.contracts || {})[unit] || {})[opts.contract];
  if (!contract) die(`contract ${opts.contract} not found in ${solPath}`);

  const creation = contract.evm.bytecode.object;
  const runtime = contract.evm.deployedBytecode.object;
  if (!creation) die(`${opts.contract} has no creation bytecode (abstract contract or interface?)`);
  const libraries = [];
  for (const [file, libs] of Object.entries(contract.evm.bytecode.linkReferences || {})) {
    for (const lib of Object.keys(libs)) libraries.push(`${file}:${lib}`);
  }
  const creationBytes = creation.length / 2;
  const runtimeBytes = runtime.length / 2;

  fs.writeFileSync(bytecodePath, `0x${creation}`);
  if (opts.abi) fs.writeFileSync(opts.abi, `${JSON.stringify(contract.abi, null, 2)}\n`);

  const report = {
    contract: opts.contract,
    solc_version: solc.version(),
    optimizer_runs: opts.runs,
    evm_version: opts.evmVersion,
    creation_bytes: creationBytes,
    runtime_bytes: runtimeBytes,
    runtime_limit_bytes: EIP170_RUNTIME_LIMIT,
    initcode_limit_bytes: EIP3860_INITCODE_LIMIT,
    libraries,
    deployable: libraries.length === 0 && runtimeBytes <= EIP170_RUNTIME_LIMIT && creationBytes <= EIP3860_INITCODE_LIMIT,
    method_identifiers: contract.evm.methodIdentifiers || {},
    warnings: (output.errors || []).filter((e) => e.severity !== 'error').length,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main();
