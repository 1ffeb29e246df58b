//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in `alara-ml`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file is larger than what it may be (checked while reading, so a device or a huge
    /// file is never read whole).
    #[error("{path} is larger than the limit of {limit} bytes for {what}")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What it was read as.
        what: &'static str,
        /// The limit in bytes.
        limit: u64,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A CSV dataset is malformed.
    #[error("dataset {origin}, line {line}: {message}")]
    Csv {
        /// Where the CSV came from (a path or a shipped dataset name).
        origin: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong, and what was expected.
        message: String,
    },
    /// A dataset operation got arguments that do not fit the dataset.
    #[error("dataset: {0}")]
    Dataset(String),
    /// The bytes are not a valid ONNX model.
    #[error("not a valid ONNX model ({origin}): {message}; expected a serialized ONNX ModelProto (.onnx file)")]
    CorruptModel {
        /// Where the model came from.
        origin: String,
        /// The parser's message.
        message: String,
    },
    /// The model is valid ONNX but cannot be run here.
    #[error("unsupported ONNX model ({origin}): {message}")]
    UnsupportedModel {
        /// Where the model came from.
        origin: String,
        /// Why it is unsupported and what is supported.
        message: String,
    },
    /// Input rows do not have the width the model expects.
    #[error("row {row} has {found} features, the model expects {expected}")]
    RowWidth {
        /// 0-based index of the offending row.
        row: usize,
        /// Features the model expects per row.
        expected: usize,
        /// Features found in that row.
        found: usize,
    },
    /// An input value is NaN or infinite.
    #[error("row {row}, feature {column}: value {value} is not finite")]
    NonFinite {
        /// 0-based row.
        row: usize,
        /// 0-based column.
        column: usize,
        /// The value.
        value: f32,
    },
    /// Inference input (`--input`) could not be parsed.
    #[error("input: {0}")]
    Input(String),
    /// tract failed while running a model.
    #[error("inference failed: {0}")]
    Inference(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
