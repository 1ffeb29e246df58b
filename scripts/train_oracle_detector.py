#!/usr/bin/env python3
"""Trains the oracle's learned detector: models/oracle_detector.onnx.

    .venv/bin/python scripts/train_oracle_detector.py            # runs the Rust generator
    .venv/bin/python scripts/train_oracle_detector.py --features features.csv

The training set is written by the oracle crate's own feature code
(`target/debug/examples/oracle_features`, built by
`cargo build --workspace --examples`), so inference computes exactly what the model
was trained on: for each quote of each round of 240 seeded attack scenarios over the
shipped MSFT, AMZN, GOOG and IBM monthly closes (AAPL is held out for the benchmark), the
baselines' statistics and the source's history, labelled 1 when the source was lying.

The model is a scikit-learn RandomForestClassifier (32 trees, depth <= 10) exported by
skl2onnx as a TreeEnsembleClassifier (opset 13, ai.onnx.ml 1, zipmap off). tract 0.23
returns label 0 for every row of a binary TreeEnsembleClassifier (its probabilities are
right), so the label is recomputed in the graph as the ArgMax of the probabilities.
Versions: scikit-learn 1.9, skl2onnx 1.20, onnxruntime 1.22+ (see scripts/fixtures).

models/oracle_detector.expected.json holds the file's SHA-256, the validation figures
(trained without IBM, measured on IBM), and onnxruntime's probabilities on 400 IBM rows,
which the oracle crate's tests compare with tract's (within 1e-5).
"""
import argparse
import hashlib
import io
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import precision_score, recall_score, roc_auc_score

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "models")
SEED = 7
OPSET = 13


def load(path):
    if path:
        with open(path) as f:
            text = f.read()
    else:
        # Built with the whole workspace, so its dependencies' features are the ones every
        # other build uses (and nothing is compiled twice).
        subprocess.run(["cargo", "build", "--workspace", "--examples", "--locked"], cwd=ROOT, check=True)
        exe = os.path.join(ROOT, "target", "debug", "examples", "oracle_features")
        text = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    header = text.split("\n", 1)[0].split(",")
    names = header[5:]
    series, y, x = [], [], []
    for line in text.splitlines()[1:]:
        f = line.split(",")
        series.append(f[0])
        y.append(int(f[4]))
        x.append([float(v) for v in f[5:]])
    return names, np.array(series), np.array(y), np.array(x, dtype=np.float32)


def fit(x, y):
    return RandomForestClassifier(
        n_estimators=32, max_depth=10, min_samples_leaf=5, random_state=SEED, n_jobs=2
    ).fit(x, y)


def export(clf, names):
    onx = convert_sklearn(
        clf,
        initial_types=[("input", FloatTensorType([None, len(names)]))],
        options={id(clf): {"zipmap": False}},
        target_opset={"": OPSET, "ai.onnx.ml": 1},
    )
    onx.graph.name = "oracle_detector"
    g = onx.graph
    for node in g.node:
        if node.op_type == "TreeEnsembleClassifier":
            node.output[0] = "tree_label"
    g.node.extend(
        [helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0, name="label_argmax")]
    )
    helper.set_model_props(onx, {"feature_names": ",".join(names)})
    onnx.checker.check_model(onx)
    return onx.SerializeToString()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--features", help="a CSV from target/debug/examples/oracle_features")
    args = ap.parse_args()
    names, series, y, x = load(args.features)
    print(f"{len(y)} quotes, {y.sum()} lying ({y.mean():.1%})", file=sys.stderr)

    held = series == "IBM"
    val = fit(x[~held], y[~held])
    p = val.predict_proba(x[held])[:, 1]
    validation = {
        "trained_on": sorted(set(series[~held].tolist())),
        "measured_on": "IBM",
        "auc": float(roc_auc_score(y[held], p)),
        "precision_at_0.5": float(precision_score(y[held], p > 0.5)),
        "recall_at_0.5": float(recall_score(y[held], p > 0.5)),
    }
    print(json.dumps(validation), file=sys.stderr)

    clf = fit(x, y)
    data = export(clf, names)
    path = os.path.join(OUT, "oracle_detector.onnx")
    with open(path, "wb") as f:
        f.write(data)
    sample = x[held][:400]
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    label, proba = sess.run(["label", "probabilities"], {"input": sample})
    expected = {
        "model": "oracle_detector.onnx",
        "sha256": hashlib.sha256(data).hexdigest(),
        "features": names,
        "rows_trained": int(len(y)),
        "validation": validation,
        "onnxruntime": ort.__version__,
        "inputs": [[float(v) for v in row] for row in sample],
        "labels": [int(v) for v in label],
        "probabilities": [[float(v) for v in row] for row in proba],
    }
    with open(os.path.join(OUT, "oracle_detector.expected.json"), "w") as f:
        json.dump(expected, f)
        f.write("\n")
    print(f"{path}: {len(data)} bytes, sha256 {expected['sha256']}", file=sys.stderr)


if __name__ == "__main__":
    main()
