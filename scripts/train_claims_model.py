#!/usr/bin/env python3
"""Trains the claims assessor shipped as models/claims_assessor.onnx on datasets/claims.csv
and records what onnxruntime computes on the held-out claims.

Run from the repository root after make_claims_dataset.py (Python is needed here only):

    /tmp/fixtures/bin/pip install scikit-learn skl2onnx onnxruntime
    /tmp/fixtures/bin/python scripts/train_claims_model.py

The model is a 32-tree RandomForestClassifier (depth <= 6, >= 20 claims a leaf) exported
by skl2onnx as a TreeEnsembleClassifier (`zipmap: False`; trees need no scaling). Input
`input`: float32 [N, 19], the raw features in the column order of the CSV. Outputs:
`label` (int64 [N], the ArgMax of the probabilities: tract 0.23 returns label 0 for every
row of a binary TreeEnsembleClassifier) and `probabilities` (float32 [N, 2]); column 1 is
the probability that the claim is a long (> 26 weeks) claim, the review-risk proxy the
contract reads as the fraud probability.

Split: a seeded, stratified 75/25 split; the held-out quarter is never seen in training.
models/claims_assessor.expected.json holds the sha256 of the file, the held-out row
indices (0-based data rows of the CSV), their labels, onnxruntime's outputs on them, and
the held-out ROC AUC.
"""

import hashlib
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

ROOT = os.path.join(os.path.dirname(__file__), "..")
DATA = os.path.join(ROOT, "datasets", "claims.csv")
OUT = os.path.join(ROOT, "models")
NAME = "claims_assessor"
SEED = 7
OPSET = 13


def load():
    with open(DATA) as f:
        header = f.readline().strip().split(",")
    # float32 exactly as a Rust `str::parse::<f32>` of the CSV text gives.
    x = np.loadtxt(DATA, delimiter=",", skiprows=1, dtype=np.float32)[:, :-1]
    y = np.loadtxt(DATA, delimiter=",", skiprows=1, dtype=np.float64)[:, -1].astype(np.int64)
    return header[:-1], x, y


def main():
    names, x, y = load()
    idx = np.arange(len(y))
    train, test = train_test_split(idx, test_size=0.25, stratify=y, random_state=SEED)
    test = np.sort(test)
    clf = RandomForestClassifier(
        n_estimators=32, max_depth=6, min_samples_leaf=20, random_state=SEED
    ).fit(x[train], y[train])
    auc = roc_auc_score(y[test], clf.predict_proba(x[test])[:, 1])

    onx = convert_sklearn(
        clf,
        initial_types=[("input", FloatTensorType([None, x.shape[1]]))],
        options={id(clf): {"zipmap": False}},
        target_opset={"": OPSET, "ai.onnx.ml": 1},
    )
    g = onx.graph
    g.name = NAME
    for node in g.node:
        if node.op_type == "TreeEnsembleClassifier":
            node.output[0] = "tree_label"
    g.node.extend(
        [helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0, name="label_argmax")]
    )
    helper.set_model_props(onx, {"feature_names": ",".join(names)})
    onnx.checker.check_model(onx)
    data = onx.SerializeToString()
    with open(os.path.join(OUT, NAME + ".onnx"), "wb") as f:
        f.write(data)

    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    label, proba = sess.run(["label", "probabilities"], {"input": x[test]})
    ort_auc = roc_auc_score(y[test], proba[:, 1])
    expected = {
        "model": NAME + ".onnx",
        "sha256": hashlib.sha256(data).hexdigest(),
        "dataset": "datasets/claims.csv",
        "onnxruntime": ort.__version__,
        "train_rows": int(len(train)),
        "heldout_auc": round(float(ort_auc), 6),
        "heldout_rows": [int(i) for i in test],
        "heldout_labels": [int(v) for v in y[test]],
        "labels": [int(v) for v in label],
        "probabilities": [[float(p) for p in row] for row in proba],
    }
    with open(os.path.join(OUT, NAME + ".expected.json"), "w") as f:
        json.dump(expected, f)
        f.write("\n")
    print(
        f"models/{NAME}.onnx: {len(data)} bytes, held-out AUC {auc:.4f} "
        f"(onnxruntime {ort_auc:.4f}), {len(test)} held-out claims, {int(y[test].sum())} long"
    )


if __name__ == "__main__":
    main()
