#!/usr/bin/env python3
"""How fast the dashboard shows the audit log, in headless Chromium.

    scripts/bench_dashboard_paint.py URL [--route '#/audit'] [--selector CSS] [--runs 3]

Each run opens URL + route in a fresh browser profile and measures, from navigation start
(the page's `performance.timeOrigin`):

- fcp_ms: the first contentful paint (PerformanceObserver 'paint' entries);
- ready_ms: the first moment an element matching --selector is in the document (a
  MutationObserver installed before any page script runs), i.e. the audit table shows
  rows (mode "selector");
- entries_fetch_ms: when the page's own request for `/api/v1/audit/entries` answered
  (Resource Timing), if the page made one.

When the page never shows the selector (a build without the dashboard, or a dashboard whose
markup changed), the run is repeated in mode "fetch": ready_ms is then the time until
`GET /api/v1/audit/entries?limit=50`, fetched by the page itself as soon as its document
is parsed, answered — the least a dashboard must wait for before it can show rows. The
output says so in "note"; update --selector when the dashboard's markup changes.

Prints one JSON object on stdout (progress on stderr). Uses Debian's Chromium
(/usr/bin/chromium), never a browser downloaded by playwright. `alara bench api` runs it.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FIRST_PAGE = "/api/v1/audit/entries?limit=50"

# Installed before any script of the page: records the first contentful paint, the first
# time the selector matches, and (in fetch mode) fetches the first page of entries itself.
INIT = """
(() => {
  const cfg = %s;
  const m = (window.__bench = { fcp: null, ready: null, fetchError: null });
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (e.name === 'first-contentful-paint' && m.fcp === null) m.fcp = e.startTime;
      }
    }).observe({ type: 'paint', buffered: true });
  } catch (e) {}
  if (cfg.mode === 'selector') {
    const check = () => {
      if (m.ready === null && document.querySelector(cfg.selector)) {
        m.ready = performance.now();
        obs.disconnect();
      }
    };
    const obs = new MutationObserver(check);
    obs.observe(document, { childList: true, subtree: true, attributes: true });
    document.addEventListener('DOMContentLoaded', check);
  } else {
    const go = () => fetch(cfg.firstPage, { cache: 'no-store' })
      .then((r) => { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then((j) => { if (!Array.isArray(j.items)) throw new Error('no items'); m.ready = performance.now(); })
      .catch((e) => { m.fetchError = String(e); });
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', go);
    else go();
  }
})();
"""

# The page's own request for entries (in fetch mode, not the probe), ms from navigation
# start to its answer.
ENTRIES_FETCH = """
(probe) => {
  const rs = performance.getEntriesByType('resource')
    .filter((e) => e.name.includes('/api/v1/audit/entries') && !(probe && e.name.endsWith(probe)));
  return rs.length ? rs[0].responseEnd : null;
}
"""


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def chromium_version():
    try:
        out = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=30)
        return out.stdout.strip()
    except Exception as e:  # noqa: BLE001 - reported, not fatal
        return f"unknown ({e})"


def one_run(p, url, mode, selector, timeout_ms):
    with tempfile.TemporaryDirectory(prefix="alara-paint-chromium-") as profile:
        ctx = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        try:
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            cfg = {"mode": mode, "selector": selector, "firstPage": FIRST_PAGE}
            page.add_init_script(INIT % json.dumps(cfg))
            page.goto(url, wait_until="commit", timeout=timeout_ms)
            try:
                page.wait_for_function(
                    "() => window.__bench && (window.__bench.ready !== null || window.__bench.fetchError !== null)",
                    timeout=timeout_ms,
                    polling=20,
                )
                page.wait_for_function("() => window.__bench.fcp !== null", timeout=timeout_ms, polling=20)
            except PlaywrightTimeout:
                pass
            m = page.evaluate("() => window.__bench")
            fetched = page.evaluate(ENTRIES_FETCH, FIRST_PAGE if mode == "fetch" else None)
            return {
                "fcp_ms": m.get("fcp"),
                "ready_ms": m.get("ready"),
                "fetch_error": m.get("fetchError"),
                "entries_fetch_ms": fetched,
            }
        finally:
            ctx.close()


def med(xs):
    xs = [x for x in xs if x is not None]
    return round(statistics.median(xs), 2) if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url", help="the dashboard, e.g. http://127.0.0.1:8545/")
    ap.add_argument("--route", default="#/audit", help="the audit page's route (default #/audit)")
    ap.add_argument(
        "--selector",
        default="#entries tr[data-index]",
        help="an element that is there once the audit table shows rows (default: a row of #entries)",
    )
    ap.add_argument("--runs", type=int, default=3, help="page loads, each in a fresh profile (median)")
    ap.add_argument("--timeout-ms", type=float, default=10_000, help="longest wait for one page load")
    ap.add_argument("--target-ms", type=float, default=1000, help="the target of ready_ms")
    args = ap.parse_args()

    url = args.url.rstrip("/") + "/" + args.route if args.route else args.url
    runs, mode, note = [], "selector", None
    with sync_playwright() as p:
        first = one_run(p, url, "selector", args.selector, args.timeout_ms)
        if first["ready_ms"] is None:
            mode = "fetch"
            note = (
                f"no element matched {args.selector!r} within {args.timeout_ms:.0f} ms at {url}: "
                f"ready_ms is the page's own fetch of {FIRST_PAGE}, from navigation start to its answer; "
                "update --selector once the dashboard shows the audit table"
            )
            log(note)
        else:
            runs.append(first)
        while len(runs) < max(1, args.runs):
            r = one_run(p, url, mode, args.selector, args.timeout_ms)
            if r["ready_ms"] is None:
                raise SystemExit(f"error: no {mode} result at {url}: {r}")
            runs.append(r)
            log(f"run {len(runs)}: fcp {r['fcp_ms']} ms, ready {r['ready_ms']} ms ({mode})")
    ready = med(r["ready_ms"] for r in runs)
    out = {
        "url": url,
        "selector": args.selector,
        "mode": mode,
        "fcp_ms": med(r["fcp_ms"] for r in runs),
        "ready_ms": ready,
        "entries_fetch_ms": med(r["entries_fetch_ms"] for r in runs),
        "target_ms": args.target_ms,
        "met": ready is not None and ready <= args.target_ms,
        "note": note,
        "chromium": chromium_version(),
        "runs": runs,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
