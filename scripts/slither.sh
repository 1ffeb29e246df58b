#!/usr/bin/env bash
# Static analysis of every contract under contracts/src with Slither; fails on any High or
# Medium finding.
#
#   scripts/slither.sh
#
# Needs `.venv` with scripts/requirements-test.txt installed (scripts/test.sh does that) and
# `npm ci` (solc-js). Nothing is skipped: a missing Slither, Node or solc-js is an error.
#
# How it compiles: native solc binaries are not available, so `scripts/solc-js` stands in for
# `solc` (`--version`, `--standard-json`) on top of solc-js from node_modules/solc, the
# compiler contracts/build.js uses. `scripts/slither-input.js` writes the standard JSON input:
# all of contracts/src (the test helpers in contracts/src/test included) with build.js's
# settings. slither.config.json holds the rest: compile through that input and wrapper, report
# High and Medium impact only, exit non-zero on any High or Medium finding.
#
# Which findings count: those with at least one location in contracts/src outside
# contracts/src/test (--include-paths below). So a finding that lies only in a dependency
# (OpenZeppelin, node_modules/@openzeppelin) or only in a test double (contracts/src/test:
# the reentrant attacker, odd tokens and wallets the Rust tests deploy, never shipped) is left
# out, while one in our code that also points into OpenZeppelin is kept. (--filter-paths would
# drop a finding as soon as any of its locations is in node_modules.)
#
# Slither runs through scripts/slither_run.py (its command line plus a fix for an upstream bug
# that left DataMarket half-analysed) with --disallow-partial: code Slither cannot translate
# to its IR is an error, not a log line it carries on past.
#
# A false positive is silenced where it is, with a reason:
#   // slither-disable-next-line <detector> -- <why this is not a bug>
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
  echo "error: $*" >&2
  exit 1
}

python=.venv/bin/python
[ -x .venv/bin/slither ] && [ -x "$python" ] ||
  fail ".venv/bin/slither not found: install scripts/requirements-test.txt into .venv (scripts/test.sh does it)"
command -v node >/dev/null || fail "node not found (needed for solc-js)"
compiler_version=$(scripts/solc-js --version) || fail "scripts/solc-js cannot run: run \`npm ci\` first"
echo "slither $(.venv/bin/slither --version), ${compiler_version##*Version: } (solc-js)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

node scripts/slither-input.js >"$work/input.json"

# Slither matches this regex against each location's resolved absolute path.
ours=$("$python" -c 'import pathlib, re; print("^" + re.escape(pathlib.Path.cwd().resolve().as_posix()) + "/contracts/src/(?!test/)")')

status=0
"$python" scripts/slither_run.py "$work/input.json" --config-file slither.config.json \
  --include-paths "$ours" --disallow-partial --json "$work/results.json" >"$work/log" 2>&1 ||
  status=$?
# The compiler's command lines that crytic-compile logs are noise here.
grep -v "^'.*' running$" "$work/log" || true

[ -s "$work/results.json" ] || fail "Slither wrote no results (exit status $status)"
"$python" - "$work/results.json" "$status" <<'EOF'
import json
import sys

path, status = sys.argv[1], int(sys.argv[2])
with open(path, encoding="utf-8") as f:
    out = json.load(f)
if not out.get("success"):
    sys.exit(f"error: Slither failed: {out.get('error')}")
findings = [
    r
    for r in (out.get("results") or {}).get("detectors", [])
    if r["impact"] in ("High", "Medium")
]
if not findings:
    if status != 0:
        sys.exit(f"error: Slither exited with status {status} without a High or Medium finding")
    print("\nslither: no High or Medium findings in contracts/src")
    sys.exit(0)


def where(r):
    spots = [
        f"{sm['filename_relative']}:{sm['lines'][0]}"
        for sm in (e.get("source_mapping") or {} for e in r.get("elements", []))
        if sm.get("lines")
    ]
    ours = [s for s in spots if s.startswith("contracts/src/")]
    return (ours or spots or ["?"])[0]


print(f"\nslither: {len(findings)} High/Medium finding(s) in contracts/src:")
for r in sorted(findings, key=lambda r: (r["impact"] != "High", where(r))):
    first = r["description"].strip().splitlines()[0]
    print(f"  [{r['impact']}] {r['check']} at {where(r)}\n      {first}")
print(
    "fix them, or silence a false positive on the line before it with\n"
    "  // slither-disable-next-line <detector> -- <why it is not a bug>"
)
sys.exit(1)
EOF
