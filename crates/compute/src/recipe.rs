//! Training recipes a task names: `alara-fl`'s candle logistic regression and MLP on a
//! shipped or stored CSV dataset, with the standardisation fitted on the training rows.

use alloy::primitives::{keccak256, B256};
use serde::{Deserialize, Serialize};

use crate::error::invalid;
use crate::model::FixedModel;
use crate::Result;

/// A recipe: the architecture and how to train it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    /// `logistic` or `mlp`.
    pub model: String,
    /// Hidden units of an MLP.
    #[serde(default = "default_hidden")]
    pub hidden: usize,
    /// Local training.
    pub training: alara_fl::LocalTraining,
}

fn default_hidden() -> usize {
    16
}

impl Recipe {
    /// The logistic-regression recipe.
    pub fn logistic() -> Recipe {
        Recipe {
            model: "logistic".into(),
            hidden: 0,
            training: alara_fl::LocalTraining { epochs: 30, ..Default::default() },
        }
    }

    /// The MLP recipe with `hidden` units.
    pub fn mlp(hidden: usize) -> Recipe {
        Recipe {
            model: "mlp".into(),
            hidden,
            training: alara_fl::LocalTraining { epochs: 30, ..Default::default() },
        }
    }

    /// Every recipe a worker knows how to train (a task names one by its id).
    pub fn known() -> Vec<Recipe> {
        vec![Recipe::logistic(), Recipe::mlp(16), Recipe::mlp(8)]
    }

    /// A recipe by name: `logistic` or `mlp`.
    pub fn by_name(name: &str) -> Result<Recipe> {
        match name {
            "logistic" | "logreg" => Ok(Recipe::logistic()),
            "mlp" => Ok(Recipe::mlp(16)),
            other => Err(invalid("recipe", format!("`{other}`; use `logistic` or `mlp`"))),
        }
    }

    /// The recipe's id on-chain: keccak256 of its canonical JSON.
    pub fn id(&self) -> B256 {
        keccak256(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Trains on `train` (raw features; the standardisation is fitted here and becomes
    /// the model's first two layers) from initial weights chosen by `seed`.
    pub fn train(&self, train: &alara_ml::Dataset, seed: u64) -> Result<FixedModel> {
        let d = train.n_features();
        let spec = match self.model.as_str() {
            "logistic" => alara_fl::ModelSpec::logistic(d, train.n_classes),
            "mlp" => alara_fl::ModelSpec::mlp(d, self.hidden, train.n_classes),
            other => {
                return Err(invalid("recipe", format!("model `{other}`; use `logistic` or `mlp`")))
            }
        };
        spec.validate()?;
        let standardizer = alara_ml::Standardizer::fit(train)?;
        let scaled = standardizer.transform(train)?;
        let weights =
            alara_fl::train::train_local(&spec.init(seed), &scaled, &self.training, seed)?;
        FixedModel::from_weights(&weights, &standardizer)
    }
}
