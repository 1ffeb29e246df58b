#!/usr/bin/env bash
# Runs Alara's whole test suite from a fresh clone.
#
# Installs the pinned test tools first — npm packages from package-lock.json (solc-js,
# OpenZeppelin, anvil/cast/forge, ethers, the UnixFS importer) and the Python clients and
# Slither from scripts/requirements-test.txt into .venv — and fails if any of them cannot be
# installed: the suite never skips a peer because it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "npm ci (pinned by package-lock.json)"
npm ci --no-audit --no-fund --loglevel=error
for tool in anvil cast forge; do
  bin="node_modules/@foundry-rs/${tool}-linux-amd64/bin/${tool}"
  [ -x "$bin" ] || { echo "error: $bin missing after npm ci" >&2; exit 1; }
done
node -e "require('solc'); require('ethers')" || { echo "error: solc-js or ethers missing after npm ci" >&2; exit 1; }

step "Python test clients (.venv, pinned by scripts/requirements-test.txt)"
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
.venv/bin/python -c "import web3, eth_account, trie, rlp" || { echo "error: web3.py missing after pip install" >&2; exit 1; }

step "Chromium for the dashboard test (Debian's package, driven by playwright)"
if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq || { echo "error: apt-get update failed; cannot install chromium" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium || { echo "error: cannot install chromium (apt-get install -y chromium)" >&2; exit 1; }
fi
/usr/bin/chromium --version || { echo "error: /usr/bin/chromium does not run" >&2; exit 1; }
.venv/bin/python -c "import playwright.sync_api" || { echo "error: playwright missing after pip install" >&2; exit 1; }

step "contract artifacts match their sources"
node contracts/build.js --check

step "Slither on contracts/src (fails on any High or Medium finding)"
scripts/slither.sh

step "cargo test"
export ALARA_PYTHON="$PWD/.venv/bin/python"
cargo test --workspace --locked "$@"
