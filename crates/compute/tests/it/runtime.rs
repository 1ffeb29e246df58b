//! The fixed-point runtime and the bisection, off-chain.

use std::path::PathBuf;

use alara_compute::bisect::{max_rounds, Bisection};
use alara_compute::eval::EvalSet;
use alara_compute::fixed::{Layer, Op, Tensor};
use alara_compute::model::FixedModel;
use alara_compute::recipe::Recipe;
use alara_compute::trace::{step_count, Trace};
use proptest::prelude::*;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The fixed-point conversion of a shipped model agrees with tract's float inference on
/// (nearly) every row of the dataset, and loses at most half a point of accuracy.
fn agrees_with_tract(file: &str) {
    let path = repo().join("models").join(file);
    let bytes = std::fs::read(&path).unwrap();
    let fixed = FixedModel::from_onnx(&bytes, file).unwrap();
    let float = alara_ml::OnnxModel::from_bytes(&bytes).unwrap();
    let data = alara_ml::datasets::breast_cancer().unwrap();
    let tract: Vec<u32> =
        float.predict(&data.features).unwrap().iter().map(|p| p.label as u32).collect();
    let ours = fixed.predict(&data.features).unwrap();
    let differ = tract.iter().zip(&ours).filter(|(a, b)| a != b).count();
    let acc = |p: &[u32]| {
        p.iter().zip(&data.labels).filter(|(a, b)| a == b).count() as f64 / data.len() as f64
    };
    let lost = (acc(&tract) - acc(&ours)) * 100.0;
    println!(
        "{file}: tract {:.2}%, fixed point {:.2}%, {differ} of {} rows differ",
        acc(&tract) * 100.0,
        acc(&ours) * 100.0,
        data.len()
    );
    assert!(lost <= 0.5, "{file}: the fixed-point mode loses {lost:.2} points");
    assert!(differ <= 3, "{file}: {differ} rows differ from tract");
}

#[test]
fn shipped_mlp_in_fixed_point_agrees_with_tract() {
    agrees_with_tract("breast_cancer_mlp.onnx");
}

#[test]
fn shipped_logreg_in_fixed_point_agrees_with_tract() {
    agrees_with_tract("breast_cancer_logreg.onnx");
}

#[test]
fn unsupported_graphs_are_refused_with_the_operator_named() {
    let bytes = std::fs::read(repo().join("models/breast_cancer_rf.onnx")).unwrap();
    let e = FixedModel::from_onnx(&bytes, "rf").unwrap_err().to_string();
    assert!(e.contains("TreeEnsembleClassifier"), "{e}");
    assert!(FixedModel::from_onnx(b"not onnx", "junk").is_err());
}

#[test]
fn a_trained_recipe_evaluates_identically_in_its_trace() {
    let data = alara_ml::datasets::breast_cancer().unwrap();
    let (train, test) = data.train_test_split(0.2, 7).unwrap();
    for recipe in [Recipe::logistic(), Recipe::mlp(8)] {
        let model = recipe.train(&train, 1).unwrap();
        let eval = EvalSet::from_dataset(&test, 16).unwrap();
        let trace = Trace::run(&model, &eval).unwrap();
        let predicted = model.predict(&test.features).unwrap();
        let correct = predicted.iter().zip(&test.labels).filter(|(a, b)| a == b).count();
        assert_eq!(trace.correct(), correct as u64);
        assert!(correct as f64 / test.len() as f64 > 0.9, "{} trains to > 90%", recipe.model);
        assert_eq!(trace.n(), step_count(model.layer_count(), eval.chunk_count()));
        // Every step re-executes from its witness to the next leaf, as the one-step does.
        for s in 0..trace.n() {
            let w = trace.witness(s, &model, &eval).unwrap();
            let next = w.execute(trace.leaf(s).unwrap(), model.layers_root(), eval.root()).unwrap();
            assert_eq!(next, trace.leaf(s + 1).unwrap(), "step {s}");
        }
    }
}

fn tensor(rows: u32, cols: u32, seed: u64, scale: i64) -> Tensor {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let data = (0..rows * cols)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x % (2 * scale as u64 + 1)) as i64 - scale) as i32
        })
        .collect();
    Tensor::new(rows, cols, data).unwrap()
}

/// A random model: widths between 1 and 6, a random mix of the five operators.
fn random_model(seed: u64, width: u32, ops: &[u8]) -> FixedModel {
    let mut layers = Vec::new();
    let mut w = width;
    for (i, &op) in ops.iter().enumerate() {
        let s = seed + i as u64 * 31;
        layers.push(match op % 5 {
            0 => {
                let out = 1 + (s % 5) as u32;
                let l = Layer::gemm(tensor(w, out, s, 3 << 16), tensor(1, out, s + 1, 1 << 16));
                w = out;
                l
            }
            1 => Layer::add(tensor(1, w, s, 2 << 16)),
            2 => Layer::mul(tensor(1, w, s, 2 << 16)),
            3 => Layer::unary(Op::Relu),
            _ => Layer::unary(Op::Sigmoid),
        });
    }
    FixedModel::new(width, layers).unwrap()
}

fn random_eval(seed: u64, width: u32, rows: usize, classes: u32, chunk: usize) -> EvalSet {
    let x = tensor(rows as u32, width, seed, 4 << 16);
    let data = alara_ml::Dataset {
        features: (0..rows)
            .map(|r| (0..width as usize).map(|c| x.at(r, c) as f32 / 65_536.0).collect())
            .collect(),
        labels: (0..rows).map(|r| (r as u32 * 7 + seed as u32) % classes).collect(),
        feature_names: (0..width).map(|c| format!("f{c}")).collect(),
        n_classes: classes as usize,
    };
    EvalSet::from_dataset(&data, chunk).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, max_global_rejects: 4096, ..ProptestConfig::default() })]

    /// Corrupt the result of one random step of a random model on a random set: whenever
    /// the corrupted trace claims a different count, the bisection ends on exactly that
    /// step, within ⌈log2 n⌉ rounds, and re-executing it proves the honest side right.
    #[test]
    fn bisection_finds_the_corrupted_operator(
        seed in any::<u64>(),
        width in 1u32..6,
        ops in proptest::collection::vec(0u8..5, 1..6),
        rows in 1usize..40,
        chunk in 1usize..9,
        fault_at in any::<u64>(),
        delta in 1i32..1000,
    ) {
        let model = random_model(seed, width, &ops);
        let eval = random_eval(seed, width, rows, model.output_width().max(1), chunk);
        let honest = Trace::run(&model, &eval).unwrap();
        let n = honest.n();
        let bad_step = fault_at % n;
        let liar = Trace::run_with(&model, &eval, &|s, st| {
            if s == bad_step {
                match &mut st.act {
                    Some(t) => {
                        for v in &mut t.data { *v = v.wrapping_add(delta); }
                        st.correct += 1;
                    }
                    None => st.correct += 1,
                }
            }
        }).unwrap();
        prop_assume!(liar.correct() != honest.correct());
        for (claimer, challenger) in [(&liar, &honest), (&honest, &liar)] {
            let b = Bisection::play(claimer, challenger);
            prop_assert_eq!(b.lo, bad_step);
            prop_assert!(b.rounds <= max_rounds(n));
            let w = honest.witness(b.lo, &model, &eval).unwrap();
            let computed = w.execute(b.agreed, model.layers_root(), eval.root()).unwrap();
            prop_assert_eq!(computed, honest.leaf(b.lo + 1).unwrap());
            prop_assert_ne!(computed, liar.leaf(b.lo + 1).unwrap());
        }
    }
}
