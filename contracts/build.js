#!/usr/bin/env node
// Compiles every contract under contracts/src with solc-js (pinned in package-lock.json)
// into committed artifacts under contracts/out/<Name>.json.
//
//   node contracts/build.js          write the artifacts
//   node contracts/build.js --check  fail (exit 1) if a committed artifact is stale
//
// Settings are fixed so the same sources always give byte-identical artifacts.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const srcDir = path.join(__dirname, 'src');
const outDir = path.join(__dirname, 'out');
const nodeModules = path.join(root, 'node_modules');

let solc;
try {
  solc = require(path.join(nodeModules, 'solc'));
} catch (e) {
  console.error('solc-js is not installed: run `npm ci` in the repository root first.');
  process.exit(2);
}

// Also used by scripts/slither-input.js, so static analysis sees the code as built here.
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'cancun',
  viaIR: false,
  metadata: { bytecodeHash: 'ipfs', appendCBOR: true },
  outputSelection: {
    // No storageLayout or AST: their node ids depend on which other sources share the
    // compilation, so they would change an artifact when an unrelated contract is added.
    '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object', 'metadata'] },
  },
};

function listSources(dir, rel = '') {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const r = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listSources(path.join(dir, entry.name), r));
    else if (entry.name.endsWith('.sol')) out.push(r);
  }
  return out;
}

function findImport(importPath) {
  const candidates = [path.join(nodeModules, importPath), path.join(__dirname, importPath)];
  for (const c of candidates) {
    if (fs.existsSync(c)) return { contents: fs.readFileSync(c, 'utf8') };
  }
  return { error: `import not found: ${importPath} (is node_modules installed with npm ci?)` };
}

function compile() {
  const sources = {};
  for (const rel of listSources(srcDir)) {
    sources[`src/${rel}`] = { content: fs.readFileSync(path.join(srcDir, rel), 'utf8') };
  }
  const input = { language: 'Solidity', sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
  const errors = (output.errors || []).filter((e) => e.severity === 'error');
  for (const e of output.errors || []) console.error(e.formattedMessage);
  if (errors.length) process.exit(1);

  const artifacts = {};
  for (const [sourceName, contracts] of Object.entries(output.contracts)) {
    if (!sourceName.startsWith('src/')) continue; // libraries we import are not artifacts of ours
    for (const [name, c] of Object.entries(contracts)) {
      if (!c.evm.bytecode.object) continue; // interfaces and abstract contracts
      artifacts[name] = {
        contractName: name,
        sourceName,
        compiler: { name: 'solc', version: solc.version(), settings: SETTINGS },
        abi: c.abi,
        bytecode: '0x' + c.evm.bytecode.object,
        deployedBytecode: '0x' + c.evm.deployedBytecode.object,
        metadata: c.metadata,
      };
    }
  }
  return artifacts;
}

function main() {
  const check = process.argv.includes('--check');
  const artifacts = compile();
  let stale = [];
  if (!check) fs.mkdirSync(outDir, { recursive: true });
  for (const [name, a] of Object.entries(artifacts)) {
    const file = path.join(outDir, `${name}.json`);
    const text = JSON.stringify(a, null, 2) + '\n';
    if (check) {
      const committed = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
      if (committed !== text) stale.push(name);
    } else {
      fs.writeFileSync(file, text);
    }
  }
  const known = new Set(Object.keys(artifacts).map((n) => `${n}.json`));
  const extra = fs.existsSync(outDir) ? fs.readdirSync(outDir).filter((f) => f.endsWith('.json') && !known.has(f)) : [];
  if (check) {
    stale = stale.concat(extra.map((f) => `${f} (no longer produced by any source)`));
    if (stale.length) {
      console.error(`stale contract artifacts: ${stale.join(', ')}\nrun \`node contracts/build.js\` and commit contracts/out/`);
      process.exit(1);
    }
    console.log(`${Object.keys(artifacts).length} artifacts up to date (solc ${solc.version()})`);
  } else {
    for (const f of extra) fs.unlinkSync(path.join(outDir, f));
    console.log(`wrote ${Object.keys(artifacts).length} artifacts to contracts/out (solc ${solc.version()})`);
  }
}

if (require.main === module) main();

module.exports = { SETTINGS, listSources, srcDir };
