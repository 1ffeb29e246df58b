//! What `alara bench compute` measures, side by side in one run: the fixed-point runtime's
//! accuracy beside tract's float inference on the shipped models, and the zk peer — EZKL
//! proving the same MLP inference (setup, prove, verify, peak memory, proof size, and the
//! gas of its EVM verifier deployed on the same chain as the dispute game).

use std::path::{Path, PathBuf};
use std::process::Command;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use serde::{Deserialize, Serialize};

use crate::model::FixedModel;
use crate::{error::invalid, Error, Result};

/// Accuracy of one shipped model, float and fixed point, on every row of its dataset.
#[derive(Clone, Debug, Serialize)]
pub struct Accuracy {
    /// The model file.
    pub model: String,
    /// Rows scored.
    pub rows: usize,
    /// tract (float32) accuracy, percent.
    pub tract_pct: f64,
    /// Fixed-point accuracy, percent.
    pub fixed_pct: f64,
    /// Points lost by the fixed-point mode (tract − fixed).
    pub lost_points: f64,
    /// Rows where the two predict different classes.
    pub rows_differing: usize,
    /// Model parameters.
    pub params: usize,
}

/// Scores `models/<file>` both ways on the breast-cancer set.
pub fn accuracy(models_dir: &Path, file: &str) -> Result<Accuracy> {
    let bytes = std::fs::read(models_dir.join(file))
        .map_err(|e| invalid("model", format!("{}: {e}", models_dir.join(file).display())))?;
    let fixed = FixedModel::from_onnx(&bytes, file)?;
    let float = alara_ml::OnnxModel::from_bytes(&bytes)?;
    let data = alara_ml::datasets::breast_cancer()?;
    let tract: Vec<u32> = float.predict(&data.features)?.iter().map(|p| p.label as u32).collect();
    let ours = fixed.predict(&data.features)?;
    let pct = |p: &[u32]| {
        100.0 * p.iter().zip(&data.labels).filter(|(a, b)| a == b).count() as f64
            / data.len() as f64
    };
    let (tract_pct, fixed_pct) = (pct(&tract), pct(&ours));
    Ok(Accuracy {
        model: file.to_string(),
        rows: data.len(),
        tract_pct,
        fixed_pct,
        lost_points: tract_pct - fixed_pct,
        rows_differing: tract.iter().zip(&ours).filter(|(a, b)| a != b).count(),
        params: fixed.n_params(),
    })
}

/// What the zk peer script reports.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ZkPeer {
    /// The script's JSON, as printed.
    pub report: serde_json::Value,
    /// Gas of deploying the verifier on the bench chain (`None` if it does not fit).
    pub deploy_gas: Option<u64>,
    /// Gas of one `verifyProof` call on the bench chain.
    pub verify_gas: Option<u64>,
    /// Whether the on-chain verifier accepted the proof.
    pub verified_on_chain: Option<bool>,
    /// Why the gas could not be measured, if it could not.
    pub note: Option<String>,
}

/// Runs `scripts/ezkl_peer.py --from-shipped-mlp` with `python` (which must have `ezkl`;
/// `scripts/requirements-test.txt` pins it) into `out`.
pub fn run_zk_peer(python: &Path, repo: &Path, out: &Path) -> Result<serde_json::Value> {
    let script = repo.join("scripts/ezkl_peer.py");
    let output = Command::new(python)
        .arg(&script)
        .arg("--from-shipped-mlp")
        .arg("--out")
        .arg(out)
        .current_dir(repo)
        .output()
        .map_err(|e| peer(python, format!("cannot run {}: {e}", script.display())))?;
    if !output.status.success() {
        return Err(peer(
            python,
            format!(
                "{} failed: {}",
                script.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        ));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|e| peer(python, format!("{} printed no JSON report: {e}", script.display())))
}

fn peer(python: &Path, detail: String) -> Error {
    Error::Peer { peer: python.display().to_string(), detail }
}

/// A path field of the peer's report.
fn report_path(report: &serde_json::Value, keys: &[&str]) -> Option<PathBuf> {
    keys.iter().find_map(|k| report.get(*k).and_then(|v| v.as_str())).map(PathBuf::from)
}

fn read_hex(path: &Path) -> Result<Bytes> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| invalid("zk peer output", format!("{}: {e}", path.display())))?;
    let text = text.trim().trim_start_matches("0x");
    hex::decode(text)
        .map(Bytes::from)
        .map_err(|e| invalid("zk peer output", format!("{} is not hex: {e}", path.display())))
}

/// Deploys the peer's verifier on `p` (as `from`) and measures one verification.
pub async fn verifier_gas<P: Provider>(
    p: &P,
    from: Address,
    report: serde_json::Value,
) -> Result<ZkPeer> {
    let mut out =
        ZkPeer { report, deploy_gas: None, verify_gas: None, verified_on_chain: None, note: None };
    let (Some(code), Some(calldata)) = (
        report_path(&out.report, &["bytecode_path", "verifier_bytecode", "bytecode"]),
        report_path(&out.report, &["calldata_path", "calldata"]),
    ) else {
        out.note = Some("the peer's report names no verifier bytecode or calldata".into());
        return Ok(out);
    };
    let (code, calldata) = (read_hex(&code)?, read_hex(&calldata)?);
    let tx = TransactionRequest::default().with_from(from).with_deploy_code(code);
    let receipt = match p.send_transaction(tx).await {
        Ok(pending) => {
            pending.get_receipt().await.map_err(|e| invalid("verifier deploy", e.to_string()))?
        }
        Err(e) => {
            out.note = Some(format!("the verifier could not be deployed: {e}"));
            return Ok(out);
        }
    };
    let Some(verifier) = receipt.contract_address.filter(|_| receipt.status()) else {
        out.note = Some("the verifier's deployment reverted (EIP-170 code size limit?)".into());
        return Ok(out);
    };
    out.deploy_gas = Some(receipt.gas_used);
    let call = TransactionRequest::default().with_from(from).with_to(verifier).with_input(calldata);
    match p.call(call.clone()).await {
        Ok(ret) => {
            // `verifyProof` returns a bool word.
            out.verified_on_chain = Some(ret.len() == 32 && ret[31] == 1);
        }
        Err(e) => {
            out.verified_on_chain = Some(false);
            out.note = Some(format!("verifyProof reverted: {e}"));
        }
    }
    if out.verified_on_chain == Some(true) {
        let pending =
            p.send_transaction(call).await.map_err(|e| invalid("verifyProof", e.to_string()))?;
        let r = pending.get_receipt().await.map_err(|e| invalid("verifyProof", e.to_string()))?;
        out.verify_gas = Some(r.gas_used);
    }
    Ok(out)
}

/// The zk peer's figures, one per line.
pub fn describe_zk(z: &ZkPeer) -> String {
    let r = &z.report;
    let num = |k: &str| r.get(k).and_then(serde_json::Value::as_f64);
    let secs = |k: &str| num(k).map_or("?".into(), |v| format!("{v:.2} s"));
    let bytes = |k: &str| num(k).map_or("?".into(), |v| format!("{:.0} bytes", v));
    let mut lines = vec![
        format!(
            "  ezkl {} (logrows {}): setup {}, prove {}, verify {}",
            r.get("ezkl_version").and_then(|v| v.as_str()).unwrap_or("?"),
            num("logrows").map_or("?".into(), |v| format!("{v:.0}")),
            secs("setup_s"),
            secs("prove_s"),
            secs("verify_s")
        ),
        format!(
            "  peak RSS {:.0} MiB, proof {}, proving key {}",
            num("peak_rss_bytes").unwrap_or(0.0) / 1_048_576.0,
            bytes("proof_bytes"),
            bytes("pk_bytes")
        ),
    ];
    lines.push(match (z.deploy_gas, z.verify_gas) {
        (Some(d), Some(v)) => {
            format!("  EVM verifier: deploy {d} gas, verifyProof {v} gas (accepted on-chain)")
        }
        (Some(d), None) => {
            format!("  EVM verifier: deploy {d} gas; {}", z.note.clone().unwrap_or_default())
        }
        _ => format!("  EVM verifier: {}", z.note.clone().unwrap_or_else(|| "not measured".into())),
    });
    lines.join("\n")
}

/// One dispute played to its end by both sides from one process: the figures of
/// `alara bench compute`.
#[derive(Clone, Debug, Serialize)]
pub struct Dispute {
    /// What was disputed.
    pub label: String,
    /// Steps of the computation (`n`).
    pub steps: u64,
    /// Bisection rounds played (each is one reveal by each side).
    pub rounds: u64,
    /// ⌈log2 n⌉, the bound the rounds must meet.
    pub log2_bound: u64,
    /// Gas of opening the game.
    pub open_gas: u64,
    /// Gas of every reveal, in order (claimer and challenger interleaved).
    pub reveal_gas: Vec<u64>,
    /// The step re-executed on-chain and its operator.
    pub step: u64,
    /// `GEMM 30×16 on 16 rows` and the like.
    pub step_op: String,
    /// Gas of the one-step proof.
    pub step_gas: u64,
    /// Gas of the whole dispute (open + reveals + step).
    pub total_gas: u64,
    /// Who won (the honest challenger must).
    pub winner: String,
}

/// Plays a dispute on `game` between a claimer (`claimer`, who faults `fault_step` of its
/// trace so that its claimed score is wrong) and an honest challenger, both moving from this
/// process; the game is opened by `arbiter` directly (no market). Measures every move.
pub async fn dispute<P: Provider + Clone>(
    label: &str,
    game: &crate::chain::Game<P>,
    arbiter: P,
    (claimer, claimer_at): (P, Address),
    (challenger, challenger_at): (P, Address),
    (model, eval): (&FixedModel, &crate::eval::EvalSet),
    fault_step: u64,
) -> Result<Dispute> {
    use crate::chain::{Move, Winner};
    use crate::trace::Trace;
    let honest = Trace::run(model, eval)?;
    if fault_step >= honest.n() {
        return Err(invalid("fault step", format!("{fault_step} ≥ {} steps", honest.n())));
    }
    // The liar shifts one row of the step's output (or claims one more correct answer)
    // far enough that the claimed count changes: a fault that changes no count is no claim
    // worth disputing (the game refuses to open on agreeing counts).
    let rows = honest.state(fault_step + 1).and_then(|st| st.act.as_ref()).map_or(0, |t| t.rows);
    let mut liar = None;
    'search: for row in 0..rows.max(1) {
        for delta in [16 << 16, -(16 << 16)] {
            let t = Trace::run_with(model, eval, &|s, st| {
                if s == fault_step {
                    match st.act.as_mut() {
                        Some(t) => {
                            let cols = t.cols as usize;
                            let at = row as usize * cols;
                            for v in &mut t.data[at..at + cols] {
                                *v = v.saturating_add(delta);
                            }
                        }
                        None => st.correct += 1,
                    }
                }
            })?;
            if t.correct() != honest.correct() {
                liar = Some(t);
                break 'search;
            }
        }
    }
    let Some(liar) = liar else {
        return Err(invalid(
            "fault step",
            format!("no fault of step {fault_step} changes the count"),
        ));
    };
    let params = alara_contracts::DisputeGame::GameParams {
        claimer: claimer_at,
        challenger: challenger_at,
        layerCount: model.layer_count() as u32,
        layersRoot: model.layers_root(),
        evalRoot: eval.root(),
        chunkCount: eval.chunk_count() as u32,
        claimerTraceRoot: liar.root(),
        challengerTraceRoot: honest.root(),
        claimedCorrect: liar.correct() as u32,
        challengerCorrect: honest.correct() as u32,
        moveTimeout: 3600,
    };
    let opened = game.as_(arbiter).open(params).await?;
    let id = opened.value;
    let sides =
        [(game.as_(claimer), claimer_at, &liar), (game.as_(challenger), challenger_at, &honest)];
    let (mut reveal_gas, mut stepped) = (Vec::new(), None);
    let mut winner = None;
    // Each side moves in turn until the game resolves; a bound guards against a game that
    // makes no progress.
    for _ in 0..(4 * (64 + honest.n())) {
        let mut progressed = false;
        for (g, me, trace) in &sides {
            match g.advance(id, *me, trace, model, eval).await? {
                Move::Revealed { tx, .. } => {
                    reveal_gas.push(tx.gas_used);
                    progressed = true;
                }
                Move::Stepped { step, tx } => {
                    winner = Some(tx.value);
                    stepped = Some((step, tx.gas_used));
                }
                Move::TimedOut(tx) => {
                    return Err(invalid(
                        "dispute",
                        format!(
                            "a side timed out (winner {:?}) in a game both sides play",
                            tx.value
                        ),
                    ))
                }
                Move::Resolved(w) => winner = Some(w),
                Move::Wait => {}
            }
            if winner.is_some() {
                break;
            }
        }
        if winner.is_some() {
            break;
        }
        if !progressed && stepped.is_none() {
            return Err(invalid("dispute", "neither side could move"));
        }
    }
    let (Some(winner), Some((step, step_gas))) = (winner, stepped) else {
        return Err(invalid("dispute", "the game did not reach its one-step proof"));
    };
    let step_op = describe_step(model, eval, step);
    let n = honest.n();
    Ok(Dispute {
        label: label.to_string(),
        steps: n,
        rounds: reveal_gas.len() as u64 / 2,
        log2_bound: u64::from(n.next_power_of_two().trailing_zeros()),
        open_gas: opened.gas_used,
        total_gas: opened.gas_used + reveal_gas.iter().sum::<u64>() + step_gas,
        reveal_gas,
        step,
        step_op,
        step_gas,
        winner: match winner {
            Winner::Claimer => "claimer".into(),
            Winner::Challenger => "challenger".into(),
            other => format!("{other:?}"),
        },
    })
}

/// `GEMM 30×16 on 16 rows`, `score of 16 rows` and the like.
pub fn describe_step(model: &FixedModel, eval: &crate::eval::EvalSet, step: u64) -> String {
    use crate::trace::{step_kind, StepKind};
    match step_kind(step, model.layer_count()) {
        StepKind::Layer { chunk, layer } => {
            let l = &model.layers[layer];
            let n = eval.chunks[chunk].features.rows;
            let rows = if n == 1 { "1 row".to_string() } else { format!("{n} rows") };
            match l.op {
                crate::fixed::Op::Gemm => {
                    format!("GEMM {}×{} on {rows}", l.a.rows, l.a.cols)
                }
                op => format!("{op:?} on {rows}"),
            }
        }
        StepKind::Score { chunk } => {
            format!("score of {} rows", eval.chunks[chunk].labels.rows)
        }
    }
}

/// The step of chunk `chunk` that applies the model's largest GEMM.
pub fn largest_gemm_step(model: &FixedModel, chunk: u64) -> Option<u64> {
    let (layer, _) = model
        .layers
        .iter()
        .enumerate()
        .filter(|(_, l)| l.op == crate::fixed::Op::Gemm)
        .max_by_key(|(_, l)| l.a.data.len())?;
    Some(chunk * (model.layer_count() + 1) + layer as u64)
}
