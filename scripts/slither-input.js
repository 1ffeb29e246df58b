#!/usr/bin/env node
// Prints the solc standard JSON input that scripts/slither.sh hands to Slither: every
// contract under contracts/src (test helpers included, so the compilation is the one
// contracts/build.js makes), with build.js's compiler settings, plus the outputs Slither
// needs (AST, source maps). Paths are relative to the repository root, where it runs.
'use strict';
const path = require('path');
const { SETTINGS, listSources, srcDir } = require('../contracts/build.js');

const root = path.resolve(__dirname, '..');
const rel = path.relative(root, srcDir).split(path.sep).join('/');

const sources = {};
for (const file of listSources(srcDir)) {
  const name = `${rel}/${file}`;
  sources[name] = { urls: [name] };
}
if (Object.keys(sources).length === 0) {
  console.error(`no Solidity sources under ${srcDir}`);
  process.exit(1);
}

const settings = {
  optimizer: SETTINGS.optimizer,
  evmVersion: SETTINGS.evmVersion,
  viaIR: SETTINGS.viaIR,
  // build.js resolves `@openzeppelin/...` and `@chainlink/...` in node_modules; remappings give the same files
  // real paths, so findings in them can be told apart (and filtered) as dependencies.
  remappings: ['@openzeppelin/=node_modules/@openzeppelin/', '@chainlink/=node_modules/@chainlink/'],
  outputSelection: {
    '*': {
      '*': ['abi', 'metadata', 'devdoc', 'userdoc', 'evm.bytecode', 'evm.deployedBytecode'],
      '': ['ast'],
    },
  },
};

process.stdout.write(JSON.stringify({ language: 'Solidity', sources, settings }, null, 2) + '\n');
