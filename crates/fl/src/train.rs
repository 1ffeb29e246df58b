//! Local training with candle: minibatch SGD or Adam on cross-entropy, with an optional
//! FedProx proximal term `μ/2 ‖w − w_global‖²`.
//!
//! Candle's CPU kernels only split work across threads above 64 Ki elements per
//! element-wise op and split matrix products by output blocks, so for the model sizes
//! here a run is a pure function of its inputs: training twice gives bit-identical
//! weights (checked by a test). Minibatch order comes from the seeded stream, not from
//! `rand`'s shuffle.

use alara_ml::Dataset;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::optim::{AdamW, Optimizer as _, ParamsAdamW, SGD};
use serde::{Deserialize, Serialize};

use crate::{
    model::{ModelKind, Weights},
    rng, Error, Result,
};

/// The local optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalOptimizer {
    /// Plain minibatch SGD.
    Sgd,
    /// Adam (β1 = 0.9, β2 = 0.999, ε = 1e-8, no weight decay), state reset every round.
    Adam,
}

/// How a client trains in one round.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LocalTraining {
    /// Passes over the local data.
    pub epochs: usize,
    /// Minibatch size.
    pub batch_size: usize,
    /// Learning rate.
    pub learning_rate: f64,
    /// Optimiser.
    pub optimizer: LocalOptimizer,
    /// FedProx proximal coefficient μ (0 = plain FedAvg local training).
    pub proximal_mu: f64,
}

impl Default for LocalTraining {
    fn default() -> Self {
        Self {
            epochs: 5,
            batch_size: 16,
            learning_rate: 0.1,
            optimizer: LocalOptimizer::Sgd,
            proximal_mu: 0.0,
        }
    }
}

impl LocalTraining {
    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 || self.batch_size == 0 {
            return Err(Error::Config("epochs and batch size must be at least 1".into()));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(Error::Config(format!(
                "learning rate must be positive, found {}",
                self.learning_rate
            )));
        }
        if !(self.proximal_mu.is_finite() && self.proximal_mu >= 0.0) {
            return Err(Error::Config(format!(
                "proximal μ must be ≥ 0, found {}",
                self.proximal_mu
            )));
        }
        Ok(())
    }
}

enum Opt {
    Sgd(SGD),
    Adam(AdamW),
}

/// Trains from `global` on `data` (standardised features) and returns the new weights.
/// `seed` fixes the minibatch order.
pub fn train_local(
    global: &Weights,
    data: &Dataset,
    cfg: &LocalTraining,
    seed: u64,
) -> Result<Weights> {
    cfg.validate()?;
    let spec = global.spec;
    if data.is_empty() {
        return Err(Error::Training("no local samples".into()));
    }
    if data.n_features() != spec.n_features {
        return Err(Error::Training(format!(
            "local data has {} features, the model expects {}",
            data.n_features(),
            spec.n_features
        )));
    }
    if let Some(&l) = data.labels.iter().find(|&&l| l as usize >= spec.n_classes) {
        return Err(Error::Training(format!(
            "label {l} is out of range for {} classes",
            spec.n_classes
        )));
    }
    let dev = Device::Cpu;
    let layout = spec.layout();
    let mut vars = Vec::with_capacity(layout.len());
    let mut anchors = Vec::with_capacity(layout.len());
    let mut off = 0;
    for t in &layout {
        let init =
            Tensor::from_slice(&global.values[off..off + t.len()], t.shape.as_slice(), &dev)?;
        off += t.len();
        vars.push(Var::from_tensor(&init)?);
        anchors.push(init);
    }
    let n = data.len();
    let d = spec.n_features;
    let flat: Vec<f32> = data.features.iter().flatten().copied().collect();
    let x_all = Tensor::from_vec(flat, (n, d), &dev)?;
    let y_all = Tensor::from_slice(&data.labels, n, &dev)?;

    let mut opt = match cfg.optimizer {
        LocalOptimizer::Sgd => Opt::Sgd(SGD::new(vars.clone(), cfg.learning_rate)?),
        LocalOptimizer::Adam => Opt::Adam(AdamW::new(
            vars.clone(),
            ParamsAdamW { lr: cfg.learning_rate, weight_decay: 0.0, ..Default::default() },
        )?),
    };
    let var = |name: &str| -> Result<&Var> {
        layout
            .iter()
            .position(|t| t.name == name)
            .map(|i| &vars[i])
            .ok_or_else(|| Error::Training(format!("missing tensor {name}")))
    };
    let mut stream = rng::stream(seed, "minibatches", &[]);
    let mut order: Vec<u32> = (0..n as u32).collect();
    for _ in 0..cfg.epochs {
        rng::shuffle(&mut order, &mut stream);
        for batch in order.chunks(cfg.batch_size) {
            let (xb, yb) = if batch.len() == n && n <= cfg.batch_size {
                (x_all.clone(), y_all.clone())
            } else {
                let idx = Tensor::from_slice(batch, batch.len(), &dev)?;
                (x_all.index_select(&idx, 0)?, y_all.index_select(&idx, 0)?)
            };
            let logits = match spec.kind {
                ModelKind::Logistic => xb
                    .matmul(&var("linear.weight")?.as_tensor().t()?)?
                    .broadcast_add(var("linear.bias")?.as_tensor())?,
                ModelKind::Mlp { .. } => {
                    let h = xb
                        .matmul(&var("fc1.weight")?.as_tensor().t()?)?
                        .broadcast_add(var("fc1.bias")?.as_tensor())?
                        .relu()?;
                    h.matmul(&var("fc2.weight")?.as_tensor().t()?)?
                        .broadcast_add(var("fc2.bias")?.as_tensor())?
                }
            };
            let mut loss = candle_nn::loss::cross_entropy(&logits, &yb)?;
            if cfg.proximal_mu > 0.0 {
                let mut prox = Tensor::zeros((), DType::F32, &dev)?;
                for (v, a) in vars.iter().zip(&anchors) {
                    prox = (prox + v.as_tensor().sub(a)?.sqr()?.sum_all()?)?;
                }
                loss = (loss + prox.affine(cfg.proximal_mu / 2.0, 0.0)?)?;
            }
            match &mut opt {
                Opt::Sgd(o) => o.backward_step(&loss)?,
                Opt::Adam(o) => o.backward_step(&loss)?,
            }
        }
    }
    let mut values = Vec::with_capacity(spec.n_params());
    for v in &vars {
        values.extend(v.as_tensor().flatten_all()?.to_vec1::<f32>()?);
    }
    let w = Weights::new(spec, values)?;
    if let Some(i) = w.first_non_finite() {
        return Err(Error::Training(format!(
            "training diverged (parameter {i} is {}); lower the learning rate",
            w.values[i]
        )));
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{evaluate, ModelSpec};

    fn small_data() -> Dataset {
        let bc = alara_ml::datasets::breast_cancer().unwrap();
        let s = alara_ml::Standardizer::fit(&bc).unwrap();
        s.transform(&bc.subset(&(0..120).collect::<Vec<_>>()).unwrap()).unwrap()
    }

    #[test]
    fn training_is_bit_for_bit_deterministic() {
        let data = small_data();
        for spec in [ModelSpec::logistic(30, 2), ModelSpec::mlp(30, 8, 2)] {
            let w0 = spec.init(3);
            let cfg = LocalTraining { epochs: 2, batch_size: 16, ..Default::default() };
            let a = train_local(&w0, &data, &cfg, 11).unwrap();
            let b = train_local(&w0, &data, &cfg, 11).unwrap();
            assert_eq!(a.hash(), b.hash());
            let c = train_local(&w0, &data, &cfg, 12).unwrap();
            assert_ne!(a.hash(), c.hash(), "the seed fixes the minibatch order");
        }
    }

    #[test]
    fn training_reduces_loss_with_sgd_adam_and_prox() {
        let data = small_data();
        let spec = ModelSpec::logistic(30, 2);
        let w0 = spec.init(1);
        let before = evaluate(&w0, &data).loss;
        for cfg in [
            LocalTraining { epochs: 3, ..Default::default() },
            LocalTraining {
                epochs: 3,
                optimizer: LocalOptimizer::Adam,
                learning_rate: 0.01,
                ..Default::default()
            },
            LocalTraining { epochs: 3, proximal_mu: 1.0, ..Default::default() },
        ] {
            let w = train_local(&w0, &data, &cfg, 5).unwrap();
            let after = evaluate(&w, &data).loss;
            assert!(after < before * 0.7, "{cfg:?}: {before} -> {after}");
        }
    }

    #[test]
    fn proximal_term_keeps_weights_closer_to_global() {
        let data = small_data();
        let w0 = ModelSpec::logistic(30, 2).init(1);
        let dist = |w: &Weights| w.delta_from(&w0).iter().map(|d| d * d).sum::<f32>();
        let plain = train_local(&w0, &data, &LocalTraining::default(), 5).unwrap();
        let prox =
            train_local(&w0, &data, &LocalTraining { proximal_mu: 5.0, ..Default::default() }, 5)
                .unwrap();
        assert!(dist(&prox) < dist(&plain));
    }

    #[test]
    fn bad_inputs_are_errors() {
        let data = small_data();
        let w0 = ModelSpec::logistic(31, 2).init(1);
        assert!(train_local(&w0, &data, &LocalTraining::default(), 1).is_err());
        let w0 = ModelSpec::logistic(30, 2).init(1);
        let cfg = LocalTraining { epochs: 0, ..Default::default() };
        assert!(train_local(&w0, &data, &cfg, 1).is_err());
        let empty = data.subset(&[]).unwrap();
        assert!(train_local(&w0, &empty, &LocalTraining::default(), 1).is_err());
    }
}
