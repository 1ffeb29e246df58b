//! `alara-ml`: the machine-learning building blocks that run off-chain.
//!
//! This crate owns:
//! - [`datasets`]: the tabular datasets shipped with the repository (UCI breast cancer,
//!   scikit-learn digits) and a CSV loader, with deterministic train/test splits and
//!   standardisation fitted on the training part;
//! - [`onnx`]: ONNX inference with tract ([`OnnxModel`]), loaded and optimised once,
//!   run many times, identified by the SHA-256 of its bytes;
//! - [`input`]: parsing of inference inputs (`--input` as JSON or CSV) into rows.
//!
//! It does not own auditing (receipts, logs: `alara-audit`), federated training
//! (`alara-fl`) or anything on-chain.
//!
//! ```no_run
//! use alara_ml::{input, OnnxModel};
//! # fn main() -> alara_ml::Result<()> {
//! let model = OnnxModel::load(std::path::Path::new("models/breast_cancer_logreg.onnx"))?;
//! let rows = input::parse_rows("[[17.99, 10.38, 122.8, 1001, 0.1184, 0.2776, 0.3001, 0.1471, \
//!     0.2419, 0.07871, 1.095, 0.9053, 8.589, 153.4, 0.006399, 0.04904, 0.05373, 0.01587, \
//!     0.03003, 0.006193, 25.38, 17.33, 184.6, 2019, 0.1622, 0.6656, 0.7119, 0.2654, \
//!     0.4601, 0.1189]]", model.feature_names())?;
//! let predictions = model.predict(&rows)?;
//! println!("label {} p={:?}", predictions[0].label, predictions[0].probabilities);
//! # Ok(())
//! # }
//! ```

pub mod datasets;
mod error;
mod files;
pub mod input;
pub mod onnx;

pub use datasets::{Dataset, Standardizer};
pub use error::{Error, Result};
pub use onnx::{OnnxModel, Prediction};
