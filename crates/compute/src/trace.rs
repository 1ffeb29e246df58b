//! The trace of an evaluation: every intermediate state, their Merkle root, and the
//! witness of one step that `DisputeGame` re-executes.

use alloy::primitives::B256;
use serde::{Deserialize, Serialize};

use crate::eval::EvalSet;
use crate::fixed::{self, Layer, Tensor};
use crate::merkle::{self, Tree};
use crate::model::{hash_words, word, FixedModel};
use crate::{Error, Result};

/// `stateLeaf(s, actHash, correct) = keccak256(abi.encode(uint256 s, bytes32 actHash, uint256 correct))`.
pub fn state_leaf(step: u64, act_hash: B256, correct: u64) -> B256 {
    hash_words(&[word(step), act_hash, word(correct)])
}

/// The final state of a claim of `correct` right answers after `n` steps.
pub fn final_leaf(n: u64, correct: u64) -> B256 {
    state_leaf(n, B256::ZERO, correct)
}

/// Number of steps of a model of `layers` layers on `chunks` chunks: `C · (L + 1)`.
pub fn step_count(layers: u64, chunks: u64) -> u64 {
    chunks * (layers + 1)
}

/// What step `s` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// Layer `layer` on chunk `chunk` (layer 0 reads the chunk's features).
    Layer {
        /// Chunk index.
        chunk: usize,
        /// Layer index.
        layer: usize,
    },
    /// The score step of chunk `chunk`.
    Score {
        /// Chunk index.
        chunk: usize,
    },
}

/// What step `s` of a model of `layers` layers does.
pub fn step_kind(step: u64, layers: u64) -> StepKind {
    let (chunk, l) = ((step / (layers + 1)) as usize, step % (layers + 1));
    if l == layers {
        StepKind::Score { chunk }
    } else {
        StepKind::Layer { chunk, layer: l as usize }
    }
}

/// One state: the activation (if any) and the correct answers so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// The activation tensor, `None` between chunks.
    pub act: Option<Tensor>,
    /// Correct answers so far.
    pub correct: u64,
}

impl State {
    /// `tensorHash(act)`, or zero without one.
    pub fn act_hash(&self) -> B256 {
        self.act.as_ref().map_or(B256::ZERO, Tensor::hash)
    }
}

/// A fault to inject while tracing (tests and the cheating demo worker): called with the
/// step index and that step's honest result, may change it.
pub type Fault<'f> = &'f dyn Fn(u64, &mut State);

/// Every state of evaluating a model on an evaluation set.
#[derive(Debug, Clone)]
pub struct Trace {
    layers: u64,
    states: Vec<State>,
    tree: Tree,
}

impl Trace {
    /// Evaluates honestly.
    pub fn run(model: &FixedModel, eval: &EvalSet) -> Result<Trace> {
        Trace::run_with(model, eval, &|_, _| {})
    }

    /// Evaluates, letting `fault` alter the result of any step (every later step is then
    /// computed honestly from the altered state).
    pub fn run_with(model: &FixedModel, eval: &EvalSet, fault: Fault<'_>) -> Result<Trace> {
        if eval.width() != model.input_width {
            return Err(Error::Shape(format!(
                "the evaluation set has {} features, the model takes {}",
                eval.width(),
                model.input_width
            )));
        }
        let layers = model.layer_count();
        let n = step_count(layers, eval.chunk_count());
        let mut states = Vec::with_capacity(n as usize + 1);
        let mut state = State { act: None, correct: 0 };
        states.push(state.clone());
        for s in 0..n {
            state = match step_kind(s, layers) {
                StepKind::Layer { chunk, layer } => {
                    let input = if layer == 0 {
                        &eval.chunks[chunk].features
                    } else {
                        state.act.as_ref().ok_or_else(|| {
                            Error::Shape(format!(
                                "step {s}: no activation to apply layer {layer} to"
                            ))
                        })?
                    };
                    let out = fixed::apply(&model.layers[layer], input)
                        .map_err(|e| Error::Shape(format!("step {s} (layer {layer}): {e}")))?;
                    State { act: Some(out), correct: state.correct }
                }
                StepKind::Score { chunk } => {
                    let logits = state
                        .act
                        .as_ref()
                        .ok_or_else(|| Error::Shape(format!("step {s}: no logits to score")))?;
                    let k = fixed::score(logits, &eval.chunks[chunk].labels)?;
                    State { act: None, correct: state.correct + k }
                }
            };
            fault(s, &mut state);
            states.push(state.clone());
        }
        let leaves: Vec<B256> = states
            .iter()
            .enumerate()
            .map(|(s, st)| state_leaf(s as u64, st.act_hash(), st.correct))
            .collect();
        Ok(Trace { layers, states, tree: Tree::new(&leaves) })
    }

    /// Number of steps `n`.
    pub fn n(&self) -> u64 {
        self.states.len() as u64 - 1
    }

    /// Number of model layers `L`.
    pub fn layer_count(&self) -> u64 {
        self.layers
    }

    /// State `s`.
    pub fn state(&self, s: u64) -> Option<&State> {
        self.states.get(s as usize)
    }

    /// The leaf of state `s`.
    pub fn leaf(&self, s: u64) -> Option<B256> {
        self.tree.leaf(s as usize)
    }

    /// `traceRoot`.
    pub fn root(&self) -> B256 {
        self.tree.root()
    }

    /// The proof of state `s` against [`Trace::root`].
    pub fn proof(&self, s: u64) -> Vec<B256> {
        self.tree.proof(s as usize)
    }

    /// The final count of correct answers.
    pub fn correct(&self) -> u64 {
        self.states.last().map_or(0, |s| s.correct)
    }

    /// The witness for re-executing step `s` (from state `s`, which the parties agree on).
    pub fn witness(&self, s: u64, model: &FixedModel, eval: &EvalSet) -> Result<StepWitness> {
        let state = self
            .state(s)
            .filter(|_| s < self.n())
            .ok_or_else(|| Error::Shape(format!("no step {s} in a trace of {} steps", self.n())))?;
        let kind = step_kind(s, self.layers);
        let chunk_index = match kind {
            StepKind::Layer { chunk, .. } | StepKind::Score { chunk } => chunk,
        };
        let chunk = eval.chunks.get(chunk_index).ok_or_else(|| {
            Error::Shape(format!(
                "step {s} reads chunk {chunk_index}, the set has {}",
                eval.chunks.len()
            ))
        })?;
        let (layer, layer_proof) = match kind {
            StepKind::Layer { layer, .. } => {
                (Some(model.layers[layer].clone()), model.layer_proof(layer))
            }
            StepKind::Score { .. } => (None, Vec::new()),
        };
        let chunk_data = match kind {
            StepKind::Layer { layer: 0, .. } => chunk.features.clone(),
            StepKind::Layer { .. } => Tensor::empty(),
            StepKind::Score { .. } => chunk.labels.clone(),
        };
        let act = match kind {
            StepKind::Layer { layer: 0, .. } => Tensor::empty(),
            _ => state.act.clone().unwrap_or_else(Tensor::empty),
        };
        Ok(StepWitness {
            step: s,
            act_hash: state.act_hash(),
            correct: state.correct,
            act,
            layer_index: match kind {
                StepKind::Layer { layer, .. } => layer as u64,
                StepKind::Score { .. } => self.layers,
            },
            layer,
            layer_proof,
            chunk_index: chunk_index as u64,
            features_hash: chunk.features.hash(),
            labels_hash: chunk.labels.hash(),
            chunk_proof: eval.chunk_proof(chunk_index),
            chunk_data,
        })
    }
}

/// Everything `DisputeGame.step` needs to re-execute step `step`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepWitness {
    /// The step (the agreed state's index).
    pub step: u64,
    /// The agreed state's `actHash`.
    pub act_hash: B256,
    /// The agreed state's count.
    pub correct: u64,
    /// The activation (empty for a chunk's first layer).
    pub act: Tensor,
    /// The layer index (`L` for a score step).
    pub layer_index: u64,
    /// The layer (none for a score step).
    pub layer: Option<Layer>,
    /// Its proof against the model's layer root.
    pub layer_proof: Vec<B256>,
    /// The chunk index.
    pub chunk_index: u64,
    /// `tensorHash` of the chunk's features.
    pub features_hash: B256,
    /// `tensorHash` of the chunk's labels.
    pub labels_hash: B256,
    /// The chunk's proof against `evalRoot`.
    pub chunk_proof: Vec<B256>,
    /// The chunk's features (first layer), labels (score step), or empty.
    pub chunk_data: Tensor,
}

impl StepWitness {
    /// Re-executes the step as `DisputeGame` does, checking the witness against the
    /// agreed leaf and the two roots: the leaf of the next state.
    pub fn execute(&self, agreed: B256, layers_root: B256, eval_root: B256) -> Result<B256> {
        let bad = |d: &str| Error::Shape(format!("step {}: {d}", self.step));
        if state_leaf(self.step, self.act_hash, self.correct) != agreed {
            return Err(bad("the agreed state does not match"));
        }
        let leaf = crate::eval::chunk_leaf(self.chunk_index, self.features_hash, self.labels_hash);
        if !merkle::verify(&self.chunk_proof, eval_root, leaf) {
            return Err(bad("the chunk is not in the evaluation set"));
        }
        let next = self.step + 1;
        match &self.layer {
            Some(layer) => {
                let l = crate::model::layer_leaf(self.layer_index, layer);
                if !merkle::verify(&self.layer_proof, layers_root, l) {
                    return Err(bad("the layer is not in the model"));
                }
                let input = if self.layer_index == 0 {
                    if self.chunk_data.hash() != self.features_hash {
                        return Err(bad("the features are not the chunk's"));
                    }
                    &self.chunk_data
                } else {
                    if self.act.hash() != self.act_hash {
                        return Err(bad("the activation is not the agreed one"));
                    }
                    &self.act
                };
                let out = fixed::apply(layer, input)?;
                Ok(state_leaf(next, out.hash(), self.correct))
            }
            None => {
                if self.act.hash() != self.act_hash {
                    return Err(bad("the logits are not the agreed ones"));
                }
                if self.chunk_data.hash() != self.labels_hash {
                    return Err(bad("the labels are not the chunk's"));
                }
                let k = fixed::score(&self.act, &self.chunk_data)?;
                Ok(state_leaf(next, B256::ZERO, self.correct + k))
            }
        }
    }
}
