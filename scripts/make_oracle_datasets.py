#!/usr/bin/env python3
"""Writes the oracle's real historical series into datasets/ from the PyPI package
vega-datasets (offline: the files ship inside the package; pinned in
scripts/requirements-test.txt).

- datasets/seattle_weather.csv: daily weather at Seattle, 2012-01-01 .. 2015-12-31
  (NOAA GHCN daily summaries as published with Vega): date, precipitation (mm), temp_max,
  temp_min (deg C), wind (m/s), weather. The crop-insurance rainfall index sums
  `precipitation` over a season.
- datasets/stocks.csv: monthly closing prices of MSFT, AMZN, IBM, GOOG and AAPL,
  2000-01 .. 2010-03 (Vega's stocks.csv): symbol, date, price (USD). The oracle derives
  per-source quotes of one asset from these, with seeded noise, latency, outages and
  attacks (crates/oracle/src/series.rs).

Run: .venv/bin/python scripts/make_oracle_datasets.py (the output is committed; a test
checks the committed files match what this script writes).
"""
import sys
from pathlib import Path

from vega_datasets import local_data

ROOT = Path(__file__).resolve().parent.parent


def csv(frame, columns) -> str:
    """The frame's columns as CSV, dates as YYYY-MM-DD and numbers as pandas gives them."""
    lines = [",".join(columns)]
    for row in frame[columns].itertuples(index=False):
        lines.append(",".join(f"{v:%Y-%m-%d}" if c == "date" else f"{v}" for c, v in zip(columns, row)))
    return "\n".join(lines) + "\n"


def weather() -> str:
    return csv(local_data.seattle_weather(), ["date", "precipitation", "temp_max", "temp_min", "wind", "weather"])


def stocks() -> str:
    return csv(local_data.stocks(), ["symbol", "date", "price"])


def main() -> int:
    check = "--check" in sys.argv
    stale = []
    for name, text in [("seattle_weather.csv", weather()), ("stocks.csv", stocks())]:
        path = ROOT / "datasets" / name
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"stale: {', '.join(stale)}; run scripts/make_oracle_datasets.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
