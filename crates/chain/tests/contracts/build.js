#!/usr/bin/env node
// Compiles the contracts the chain's integration tests deploy (crates/chain/tests/contracts)
// with the repository's pinned solc-js and settings (contracts/build.js) into one artifact
// per contract (<Name>.json, which alloy's `sol!` reads), committed beside the sources.
//
//   node crates/chain/tests/contracts/build.js          write the artifacts
//   node crates/chain/tests/contracts/build.js --check  fail (exit 1) if one is stale
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '../../../..');
const { SETTINGS } = require(path.join(root, 'contracts/build.js'));
let solc;
try {
  solc = require(path.join(root, 'node_modules', 'solc'));
} catch (e) {
  console.error('solc-js is not installed: run `npm ci` in the repository root first.');
  process.exit(2);
}

const check = process.argv.includes('--check');
const stale = [];
for (const file of fs.readdirSync(__dirname).filter((f) => f.endsWith('.sol')).sort()) {
  const sourceName = `crates/chain/tests/contracts/${file}`;
  const input = {
    language: 'Solidity',
    sources: { [sourceName]: { content: fs.readFileSync(path.join(__dirname, file), 'utf8') } },
    settings: SETTINGS,
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (output.errors || []).filter((e) => e.severity === 'error');
  for (const e of errors) console.error(e.formattedMessage);
  if (errors.length) process.exit(1);
  for (const [name, c] of Object.entries(output.contracts[sourceName])) {
    const artifact = {
      contractName: name,
      sourceName,
      compiler: { name: 'solc', version: solc.version() },
      abi: c.abi,
      bytecode: '0x' + c.evm.bytecode.object,
      deployedBytecode: '0x' + c.evm.deployedBytecode.object,
    };
    const text = JSON.stringify(artifact, null, 2) + '\n';
    const out = path.join(__dirname, `${name}.json`);
    if (check) {
      if (!fs.existsSync(out) || fs.readFileSync(out, 'utf8') !== text) stale.push(`${name}.json`);
    } else {
      fs.writeFileSync(out, text);
    }
  }
}
if (stale.length) {
  console.error(`stale test artifacts: ${stale.join(', ')}\nrun \`node crates/chain/tests/contracts/build.js\` and commit them`);
  process.exit(1);
}
console.log(check ? 'test artifacts up to date' : 'wrote the test artifacts');
