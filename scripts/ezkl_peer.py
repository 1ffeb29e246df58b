#!/usr/bin/env python3
"""The zk peer of `alara bench compute`: proves one inference of an ONNX model with EZKL.

`alara bench compute` compares the optimistic dispute game, which re-executes one operator
of a disputed inference on-chain, with a succinct proof of the whole inference. This script
produces the proof side, as a benchmark peer only: the product never imports EZKL or runs
this script.

    .venv/bin/python scripts/ezkl_peer.py --from-shipped-mlp --out /tmp/ezkl
    .venv/bin/python scripts/ezkl_peer.py --model m.onnx --input input.json --out DIR [--logrows N]

It runs EZKL's whole pipeline on the model and one input, all offline:

  gen_settings, calibrate_settings (target "resources")   -> DIR/settings.json
  compile_circuit                                          -> DIR/model.compiled
  gen_srs (generated here, never downloaded: a test-only SRS, not a ceremony's)
                                                           -> DIR/kzg.srs
  setup                                                    -> DIR/pk.key, DIR/vk.key
  gen_witness                                              -> DIR/witness.json
  prove                                                    -> DIR/proof.json
  verify (native)
  create_evm_verifier (Halo2 verifier, vk inlined)         -> DIR/Verifier.sol
  encode_evm_calldata (verifyProof(bytes,uint256[]))       -> DIR/calldata.hex

then compiles DIR/Verifier.sol with solc-js from node_modules (scripts/ezkl_verifier_compile.js,
optimizer on) into DIR/verifier.bytecode.hex (creation bytecode) and DIR/verifier.abi.json.
Hex files are 0x-prefixed, without a trailing newline.

It prints one JSON object on stdout. Wall times (time.perf_counter, seconds) of setup, prove
and verify (setup_s, prove_s, verify_s) and of the other steps; peak_rss_bytes, the peak
resident set of this process (getrusage RUSAGE_SELF ru_maxrss * 1024, or of its children if
larger; EZKL runs in-process and spawns none; the solc-js compile, a child run after the
measurement, is not counted); the sizes of the proof file, the raw proof, pk, vk, SRS and
calldata; the paths of the verifier source, its bytecode file and the calldata file; the
verifier's creation and runtime sizes and `deployable` (runtime within EIP-170's 24 KiB, no
library to link). Deploying and calling the verifier is left to the caller.

`--input` is EZKL's input format: {"input_data": [[x0, x1, ...]]}, one flattened list per
model input. Public inputs and outputs, fixed (vk-committed) parameters unless told
otherwise.

`--from-shipped-mlp` proves models/breast_cancer_mlp.onnx. That graph ends in Softmax and
an int64 ArgMax over a dynamic batch; the script writes an equivalent graph from the same
initializers and the same Sub, Div, Gemm, Relu, Gemm nodes, with a fixed batch of 1 and the
float32 [1, 2] logits as output (DIR/breast_cancer_mlp_logits.onnx), and takes as input the
features of the first row of datasets/breast_cancer.csv (DIR/input.json). It then also
reports the float logits of that row (reference_outputs) next to EZKL's dequantized ones.

For the shipped MLP the decomposition base and legs and the columns per region are chosen
so that it fits in the fewest rows (2^11) whose verifier is still deployable; other models
get EZKL's defaults, and --decomp-base, --decomp-legs and --num-inner-cols override both.
Fewer columns mean more rows but a smaller verifier and less verification gas. Calibration
picks the scales and the smallest logrows the circuit fits in; --logrows N raises it (a
value below that minimum is refused).

EZKL's create_evm_verifier writes the Solidity and then asks svm for a native solc 0.8.20
to extract the ABI, which would mean a download. The script points the process's HTTP(S)
proxy at a closed loopback port so that request fails at once without leaving the machine,
keeps the rendered Solidity, and takes the ABI from solc-js instead.

Errors (EZKL missing, a bad model or input, a failed step): one line on stderr, exit 1.
"""

import argparse
import asyncio
import csv
import inspect
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_MLP = ROOT / "models" / "breast_cancer_mlp.onnx"
SHIPPED_CSV = ROOT / "datasets" / "breast_cancer.csv"
LABEL_COLUMN = "label"  # datasets/README.md: the features, then `label`
COMPILER = ROOT / "scripts" / "ezkl_verifier_compile.js"

# Circuit shape for the shipped MLP: a 1024-entry range table and three legs (values within
# +-2^30, which every row of datasets/breast_cancer.csv keeps to at scale 2^13), three columns
# per region. That fits 2^11 rows, the fewest whose verifier stays within EIP-170: eight
# columns fit 2^10 rows but render a 28 KiB verifier. Other models get EZKL's defaults.
SHIPPED_MLP_DECOMP_BASE = 1024
SHIPPED_MLP_DECOMP_LEGS = 3
SHIPPED_MLP_NUM_INNER_COLS = 3

# A closed port on loopback: any HTTP(S) request made through it fails at once.
NO_NETWORK_PROXY = "http://127.0.0.1:9"


class PeerError(Exception):
    """An expected failure: reported as one line on stderr, exit code 1."""


def one_line(err):
    text = " ".join(str(err).split())
    return text if len(text) <= 600 else text[:597] + "..."


def ezkl_step(name, fn, *args):
    """Runs one EZKL call, awaiting it when the binding returns a future."""

    async def awaited():
        return await fn(*args)

    try:
        if name in ASYNC_STEPS:
            return asyncio.run(awaited())
        result = fn(*args)
        if inspect.isawaitable(result):
            raise PeerError(f"ezkl {name} returned a future where a value was expected")
        return result
    except (PeerError, KeyboardInterrupt, SystemExit):
        raise
    except BaseException as err:  # RuntimeError with EZKL's reason, or pyo3's PanicException
        raise PeerError(f"ezkl {name} failed: {one_line(err)}") from None


# EZKL 23's bindings that return a future (they need a running event loop).
ASYNC_STEPS = {"create_evm_verifier"}


def timed(name, fn, *args):
    start = time.perf_counter()
    result = ezkl_step(name, fn, *args)
    return result, time.perf_counter() - start


def build_shipped_mlp(out_dir):
    """Writes the logits graph of models/breast_cancer_mlp.onnx and the first CSV row."""
    try:
        import numpy as np
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as err:
        raise PeerError(f"--from-shipped-mlp needs the onnx package ({err.name} is missing): .venv/bin/pip install -r scripts/requirements-test.txt") from None

    try:
        shipped = onnx.load(str(SHIPPED_MLP))
    except Exception as err:
        raise PeerError(f"cannot load {SHIPPED_MLP}: {one_line(err)}") from None
    graph = shipped.graph
    inits = {t.name: t for t in graph.initializer}
    wanted = ["scaler_mean", "scaler_std", "w1", "b1", "w2", "b2"]
    missing = [n for n in wanted if n not in inits]
    if missing:
        raise PeerError(f"{SHIPPED_MLP} lacks the initializers {', '.join(missing)}")

    # Keep the shipped nodes up to the logits (Sub, Div, Gemm, Relu, Gemm), attributes and all.
    kept = []
    for node in graph.node:
        kept.append(node)
        if "logits" in node.output:
            break
    ops = [n.op_type for n in kept]
    if ops != ["Sub", "Div", "Gemm", "Relu", "Gemm"] or "logits" not in kept[-1].output:
        raise PeerError(f"{SHIPPED_MLP} is not the expected Sub/Div/Gemm/Relu/Gemm MLP (nodes {ops})")
    input_name = graph.input[0].name
    n_features = numpy_helper.to_array(inits["scaler_mean"]).shape[0]
    n_classes = numpy_helper.to_array(inits["b2"]).shape[0]

    logits_graph = helper.make_graph(
        kept,
        "breast_cancer_mlp_logits",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [1, n_features])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, n_classes])],
        [inits[n] for n in wanted],
    )
    model = helper.make_model(logits_graph, opset_imports=list(shipped.opset_import), producer_name="alara-ezkl-peer")
    model.ir_version = shipped.ir_version
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as err:
        raise PeerError(f"the logits graph built from {SHIPPED_MLP} is invalid: {one_line(err)}") from None
    model_path = out_dir / "breast_cancer_mlp_logits.onnx"
    onnx.save(model, str(model_path))

    try:
        with open(SHIPPED_CSV, newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            row = next(reader)
    except (OSError, StopIteration) as err:
        raise PeerError(f"cannot read the first row of {SHIPPED_CSV}: {one_line(err)}") from None
    if LABEL_COLUMN not in header:
        raise PeerError(f"{SHIPPED_CSV} has no `{LABEL_COLUMN}` column")
    features = [float(v) for name, v in zip(header, row) if name != LABEL_COLUMN]
    if len(features) != n_features:
        raise PeerError(f"{SHIPPED_CSV} has {len(features)} feature columns, the model takes {n_features}")
    input_path = out_dir / "input.json"
    input_path.write_text(json.dumps({"input_data": [features]}) + "\n")

    # The float forward pass of the same nodes, for comparison with EZKL's fixed-point one.
    values = {n: numpy_helper.to_array(inits[n]).astype(np.float64) for n in wanted}
    values[input_name] = np.asarray([features], dtype=np.float32).astype(np.float64)
    for node in kept:
        a = [values[i] for i in node.input]
        if node.op_type == "Sub":
            r = a[0] - a[1]
        elif node.op_type == "Div":
            r = a[0] / a[1]
        elif node.op_type == "Relu":
            r = np.maximum(a[0], 0.0)
        else:
            attrs = {at.name: helper.get_attribute_value(at) for at in node.attribute}
            x = a[0].T if attrs.get("transA", 0) else a[0]
            w = a[1].T if attrs.get("transB", 0) else a[1]
            r = attrs.get("alpha", 1.0) * (x @ w)
            if len(a) > 2:
                r = r + attrs.get("beta", 1.0) * a[2]
        values[node.output[0]] = r
    reference = [float(v) for v in values["logits"].reshape(-1)]
    return model_path, input_path, reference


def file_size(path):
    return os.path.getsize(path) if os.path.exists(path) else None


def peak_rss():
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return own, children


def run(args):
    try:
        import ezkl
    except ImportError:
        raise PeerError("ezkl is not installed: .venv/bin/pip install -r scripts/requirements-test.txt") from None

    out_dir = Path(args.out).resolve()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PeerError(f"cannot create {out_dir}: {one_line(err)}") from None

    reference = None
    if args.from_shipped_mlp:
        model_path, input_path, reference = build_shipped_mlp(out_dir)
    else:
        model_path, input_path = Path(args.model).resolve(), Path(args.input).resolve()
        for p in (model_path, input_path):
            if not p.is_file():
                raise PeerError(f"{p}: no such file")
        try:
            data = json.loads(input_path.read_text())
        except (OSError, ValueError) as err:
            raise PeerError(f"{input_path}: not JSON ({one_line(err)})") from None
        if not isinstance(data, dict) or not isinstance(data.get("input_data"), list):
            raise PeerError(f'{input_path}: expected {{"input_data": [[...], ...]}}')

    settings = out_dir / "settings.json"
    compiled = out_dir / "model.compiled"
    srs = out_dir / "kzg.srs"
    pk = out_dir / "pk.key"
    vk = out_dir / "vk.key"
    witness = out_dir / "witness.json"
    proof = out_dir / "proof.json"
    sol = out_dir / "Verifier.sol"
    abi = out_dir / "verifier.abi.json"
    calldata_bin = out_dir / "calldata.bin"
    calldata_hex = out_dir / "calldata.hex"
    bytecode_hex = out_dir / "verifier.bytecode.hex"
    for stale in (sol, abi, calldata_bin, calldata_hex, bytecode_hex, proof, witness):
        if stale.exists():
            stale.unlink()

    run_args = ezkl.PyRunArgs()
    if args.from_shipped_mlp:
        shape = (SHIPPED_MLP_DECOMP_BASE, SHIPPED_MLP_DECOMP_LEGS, SHIPPED_MLP_NUM_INNER_COLS)
    else:
        shape = (run_args.decomp_base, run_args.decomp_legs, run_args.num_inner_cols)
    decomp_base = shape[0] if args.decomp_base is None else args.decomp_base
    decomp_legs = shape[1] if args.decomp_legs is None else args.decomp_legs
    num_inner_cols = shape[2] if args.num_inner_cols is None else args.num_inner_cols
    try:
        run_args.input_visibility = args.input_visibility
        run_args.output_visibility = args.output_visibility
        run_args.param_visibility = args.param_visibility
        run_args.decomp_base = decomp_base
        run_args.decomp_legs = decomp_legs
        run_args.num_inner_cols = num_inner_cols
    except Exception as err:
        raise PeerError(f"bad circuit argument: {one_line(err)}") from None

    t0 = time.perf_counter()
    ezkl_step("gen_settings", ezkl.gen_settings, str(model_path), str(settings), run_args)
    ezkl_step(
        "calibrate_settings",
        ezkl.calibrate_settings,
        str(input_path), str(model_path), str(settings), "resources", args.lookup_safety_margin, None, [1], None,
    )
    calibrate_s = time.perf_counter() - t0

    circuit = json.loads(settings.read_text())
    min_logrows = circuit["run_args"]["logrows"]
    logrows = min_logrows
    if args.logrows is not None:
        if args.logrows < min_logrows:
            raise PeerError(f"--logrows {args.logrows} is too small: this circuit needs at least {min_logrows}")
        logrows = args.logrows
        circuit["run_args"]["logrows"] = logrows
        settings.write_text(json.dumps(circuit))

    _, compile_s = timed("compile_circuit", ezkl.compile_circuit, str(model_path), str(compiled), str(settings))
    _, srs_s = timed("gen_srs", ezkl.gen_srs, str(srs), logrows)
    _, setup_s = timed("setup", ezkl.setup, str(compiled), str(vk), str(pk), str(srs), None, False)
    _, witness_s = timed("gen_witness", ezkl.gen_witness, str(input_path), str(compiled), str(witness), str(vk), str(srs))
    _, prove_s = timed("prove", ezkl.prove, str(witness), str(compiled), str(pk), str(proof), str(srs))
    ok, verify_s = timed("verify", ezkl.verify, str(proof), str(settings), str(vk), str(srs), False)
    if ok is not True:
        raise PeerError("ezkl verify rejected the proof it had just made")

    start = time.perf_counter()
    try:
        ezkl_step("create_evm_verifier", ezkl.create_evm_verifier, str(vk), str(settings), str(sol), str(abi), str(srs), False)
    except PeerError as err:
        # The Solidity is written before the ABI step, which wants a native solc (see above).
        text = str(err).lower()
        if not (sol.is_file() and sol.stat().st_size > 0 and ("svm" in text or "solc" in text)):
            raise
    verifier_s = time.perf_counter() - start
    if not sol.is_file():
        raise PeerError(f"ezkl create_evm_verifier wrote no {sol}")

    calldata = ezkl_step("encode_evm_calldata", ezkl.encode_evm_calldata, str(proof), str(calldata_bin), None)
    calldata = bytes(calldata)
    calldata_hex.write_text("0x" + calldata.hex())

    rss_self, rss_children = peak_rss()

    cmd = ["node", str(COMPILER), str(sol), str(bytecode_hex), "--abi", str(abi), "--runs", str(args.optimizer_runs)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise PeerError("node is not on PATH: it runs solc-js (scripts/ezkl_verifier_compile.js)") from None
    if done.returncode != 0:
        raise PeerError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"{COMPILER.name} exited {done.returncode}")
    compiled_sol = json.loads(done.stdout)
    selector = compiled_sol["method_identifiers"].get("verifyProof(bytes,uint256[])")
    if selector is None or calldata[:4].hex() != selector:
        raise PeerError(f"the calldata's selector 0x{calldata[:4].hex()} is not the verifier's verifyProof (0x{selector})")

    proof_json = json.loads(proof.read_text())
    raw_proof_bytes = len((proof_json.get("hex_proof") or "").removeprefix("0x")) // 2
    pretty = json.loads(witness.read_text()).get("pretty_elements") or {}
    outputs = [float(v) for row in pretty.get("rescaled_outputs", []) for v in row]
    instances = sum(len(i) for i in proof_json.get("instances", []))

    report = {
        "ezkl_version": getattr(ezkl, "__version__", None),
        "model": str(model_path),
        "input": str(input_path),
        "logrows": logrows,
        "min_logrows": min_logrows,
        "num_rows": circuit.get("num_rows"),
        "input_scale": circuit["run_args"]["input_scale"],
        "param_scale": circuit["run_args"]["param_scale"],
        "decomp_base": decomp_base,
        "decomp_legs": decomp_legs,
        "num_inner_cols": num_inner_cols,
        "visibility": {"input": args.input_visibility, "output": args.output_visibility, "params": args.param_visibility},
        "public_instances": instances,
        "calibrate_s": round(calibrate_s, 6),
        "compile_s": round(compile_s, 6),
        "srs_s": round(srs_s, 6),
        "setup_s": round(setup_s, 6),
        "witness_s": round(witness_s, 6),
        "prove_s": round(prove_s, 6),
        "verify_s": round(verify_s, 6),
        "create_verifier_s": round(verifier_s, 6),
        "peak_rss_bytes": max(rss_self, rss_children),
        "peak_rss_self_bytes": rss_self,
        "peak_rss_children_bytes": rss_children,
        "proof_bytes": file_size(proof),
        "proof_raw_bytes": raw_proof_bytes,
        "pk_bytes": file_size(pk),
        "vk_bytes": file_size(vk),
        "srs_bytes": file_size(srs),
        "outputs": outputs,
        "reference_outputs": reference,
        "verified": True,
        "verifier_sol": str(sol),
        "verifier_abi": str(abi),
        "verifier_bytecode": str(bytecode_hex),
        "verifier_creation_bytes": compiled_sol["creation_bytes"],
        "runtime_bytes": compiled_sol["runtime_bytes"],
        "deployable": compiled_sol["deployable"],
        "libraries": compiled_sol["libraries"],
        "solc_version": compiled_sol["solc_version"],
        "optimizer_runs": compiled_sol["optimizer_runs"],
        "evm_version": compiled_sol["evm_version"],
        "verify_function": "verifyProof(bytes,uint256[])",
        "verify_selector": "0x" + selector,
        "calldata": str(calldata_hex),
        "calldata_bytes": len(calldata),
    }
    return report


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(1, f"ezkl_peer: {message} (see --help)\n")


def parse_args(argv):
    p = OneLineParser(
        description="EZKL benchmark peer of `alara bench compute`: setup, prove and verify one inference, "
        "render and compile the EVM verifier, encode its calldata; prints one JSON object.",
    )
    p.add_argument("--model", help="ONNX model (fixed input shapes)")
    p.add_argument("--input", help='EZKL input JSON: {"input_data": [[...]]}')
    p.add_argument("--from-shipped-mlp", action="store_true",
                   help="prove models/breast_cancer_mlp.onnx (as a logits graph, batch 1) on the first row of datasets/breast_cancer.csv")
    p.add_argument("--out", required=True, help="directory for every artefact")
    p.add_argument("--logrows", type=int, help="circuit size 2^N (default: the smallest that calibration finds)")
    p.add_argument("--decomp-base", type=int, help="range-check table size (default: 1024 for the shipped MLP, else EZKL's)")
    p.add_argument("--decomp-legs", type=int, help="decomposition legs (default: 3 for the shipped MLP, else EZKL's)")
    p.add_argument("--num-inner-cols", type=int, help="columns per region (default: 3 for the shipped MLP, else EZKL's)")
    p.add_argument("--input-visibility", default="public", help="public, private, hashed, ...")
    p.add_argument("--output-visibility", default="public")
    p.add_argument("--param-visibility", default="fixed")
    p.add_argument("--lookup-safety-margin", type=float, default=2.0)
    p.add_argument("--optimizer-runs", type=int, default=200, help="solc optimizer runs for the verifier")
    args = p.parse_args(argv)
    if args.from_shipped_mlp:
        if args.model or args.input:
            p.error("--from-shipped-mlp replaces --model and --input")
    elif not (args.model and args.input):
        p.error("give --model and --input, or --from-shipped-mlp")
    if args.logrows is not None and not 1 <= args.logrows <= 26:
        p.error("--logrows must be between 1 and 26")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # EZKL prints its calibration report on stdout: keep stdout for the JSON alone.
    json_out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        os.environ[var] = NO_NETWORK_PROXY
    for var in ("NO_PROXY", "no_proxy"):
        os.environ.pop(var, None)
    try:
        report = run(args)
    except PeerError as err:
        sys.stderr.write(f"ezkl_peer: {err}\n")
        return 1
    json_out.write(json.dumps(report) + "\n")
    json_out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
