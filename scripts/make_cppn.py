#!/usr/bin/env python3
"""Writes the generative-art model: models/cppn.onnx, a CPPN (compositional
pattern-producing network) that maps each pixel's features to an RGB colour.

    .venv/bin/python scripts/make_cppn.py

The network is not trained: a CPPN's look comes from random weights over coordinate
inputs. The weights are drawn from a fixed seed and rounded to multiples of 2^-10, so every
weight is exactly a Q16.16 fixed-point number: alara-nft evaluates the graph in integer
fixed point (bit-identical on every machine) and uses tract only as a cross-check.

Graph (opset 13), input `features` float32 [N, 15], output `rgb` float32 [N, 3] in [0, 1]:

    h1  = Softsign(features @ W1 + b1)                     [N, 16]
    h2  = Softsign(h1 @ W2 + b2)                            [N, 16]
    g   = Reciprocal(1 + (h1 @ W3 + b3)^2)                  [N, 8]   (bumps)
    h4  = Softsign(Concat(h2, g) @ W4 + b4)                [N, 16]
    rgb = 0.5 + 0.5 * Softsign(h4 @ W5 + b5)               [N, 3]

Only MatMul, Add, Mul, Softsign, Reciprocal and Concat: each has an exact integer
definition in alara-nft (no transcendental functions, whose float results differ between
libm implementations). Features are computed by alara-nft (see crates/nft/src/generate.rs):
x, y, r of the pixel scaled by the seed's zoom, 8 latent values from the prompt and 4 from
the seed. The file's SHA-256 is pinned in crates/nft/src/generate.rs.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FEATURES = 15
HIDDEN = 16
BUMPS = 8
SCALE = 1024.0  # weights are multiples of 1/1024
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def q(a):
    return (np.round(np.asarray(a) * SCALE) / SCALE).astype(np.float32)


def main():
    rng = np.random.default_rng(7007)
    weights = {
        # Coordinates matter most in a CPPN: larger weights on x, y, r than on the latents.
        "W1": q(np.concatenate([rng.normal(0, 2.5, (3, HIDDEN)), rng.normal(0, 1.5, (FEATURES - 3, HIDDEN))])),
        "b1": q(rng.normal(0, 0.5, HIDDEN)),
        "W2": q(rng.normal(0, 2.0, (HIDDEN, HIDDEN))),
        "b2": q(rng.normal(0, 0.5, HIDDEN)),
        "W3": q(rng.normal(0, 3.0, (HIDDEN, BUMPS))),
        "b3": q(rng.normal(0, 0.5, BUMPS)),
        "W4": q(rng.normal(0, 2.0, (HIDDEN + BUMPS, HIDDEN))),
        "b4": q(rng.normal(0, 0.5, HIDDEN)),
        "W5": q(rng.normal(0, 2.5, (HIDDEN, 3))),
        "b5": q(rng.normal(0, 0.3, 3)),
        "one": np.array([1.0], dtype=np.float32),
        "half": np.array([0.5], dtype=np.float32),
    }
    for k, v in weights.items():
        assert np.all(np.abs(v) < 16), k
    init = [numpy_helper.from_array(v, name=k) for k, v in weights.items()]
    n = helper.make_node
    nodes = [
        n("MatMul", ["features", "W1"], ["m1"]),
        n("Add", ["m1", "b1"], ["a1"]),
        n("Softsign", ["a1"], ["h1"]),
        n("MatMul", ["h1", "W2"], ["m2"]),
        n("Add", ["m2", "b2"], ["a2"]),
        n("Softsign", ["a2"], ["h2"]),
        n("MatMul", ["h1", "W3"], ["m3"]),
        n("Add", ["m3", "b3"], ["a3"]),
        n("Mul", ["a3", "a3"], ["sq3"]),
        n("Add", ["sq3", "one"], ["d3"]),
        n("Reciprocal", ["d3"], ["g"]),
        n("Concat", ["h2", "g"], ["c"], axis=1),
        n("MatMul", ["c", "W4"], ["m4"]),
        n("Add", ["m4", "b4"], ["a4"]),
        n("Softsign", ["a4"], ["h4"]),
        n("MatMul", ["h4", "W5"], ["m5"]),
        n("Add", ["m5", "b5"], ["a5"]),
        n("Softsign", ["a5"], ["s5"]),
        n("Mul", ["s5", "half"], ["hs"]),
        n("Add", ["hs", "half"], ["rgb"]),
    ]
    graph = helper.make_graph(
        nodes,
        "cppn",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", FEATURES])],
        [helper.make_tensor_value_info("rgb", TensorProto.FLOAT, ["N", 3])],
        initializer=init,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="alara-make-cppn")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = os.path.join(ROOT, "models", "cppn.onnx")
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    import hashlib

    print(path, hashlib.sha256(open(path, "rb").read()).hexdigest())


if __name__ == "__main__":
    main()
