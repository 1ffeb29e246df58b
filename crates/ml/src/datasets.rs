//! Tabular datasets: the ones shipped with the repository and a CSV loader.
//!
//! The shipped CSV files (`datasets/` at the repository root) are compiled into the
//! binary, so [`breast_cancer`] and [`digits`] work from any directory. Everything here
//! is deterministic: splits and shuffles are driven by a seeded ChaCha stream and do not
//! depend on the platform, the thread count or the `rand` version's shuffle algorithm.

use std::path::Path;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{Error, Result};

const BREAST_CANCER_CSV: &str = include_str!("../../../datasets/breast_cancer.csv");
const DIGITS_CSV: &str = include_str!("../../../datasets/digits.csv");

/// Column names recognised as the label column (case-insensitive); otherwise the last
/// column is the label.
const LABEL_COLUMNS: [&str; 3] = ["label", "target", "class"];

/// A labelled tabular dataset: one row of `f32` features and one class index per sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// One row per sample, every row `feature_names.len()` wide.
    pub features: Vec<Vec<f32>>,
    /// Class index of each sample, `< n_classes`.
    pub labels: Vec<u32>,
    /// Name of each feature column.
    pub feature_names: Vec<String>,
    /// Number of classes (labels are `0..n_classes`).
    pub n_classes: usize,
}

/// UCI breast cancer (Wisconsin diagnostic): 569 samples, 30 features, 2 classes
/// (0 = malignant, 1 = benign). Shipped as `datasets/breast_cancer.csv`.
pub fn breast_cancer() -> Result<Dataset> {
    parse_csv(BREAST_CANCER_CSV, "breast_cancer.csv")
}

/// scikit-learn digits: 1797 samples, 64 features (8×8 pixel counts 0-16), 10 classes.
/// Shipped as `datasets/digits.csv`.
pub fn digits() -> Result<Dataset> {
    parse_csv(DIGITS_CSV, "digits.csv")
}

/// A shipped dataset by name (`breast_cancer` or `digits`).
pub fn by_name(name: &str) -> Result<Dataset> {
    match name {
        "breast_cancer" | "breast-cancer" => breast_cancer(),
        "digits" => digits(),
        other => Err(Error::Dataset(format!(
            "unknown dataset `{other}`; shipped datasets are `breast_cancer` and `digits`"
        ))),
    }
}

/// Loads a CSV dataset from `path`. See [`parse_csv`] for the format.
pub fn load_csv(path: &Path) -> Result<Dataset> {
    let text = crate::files::read_text_capped(path, crate::files::MAX_TABLE, "a CSV dataset")?;
    parse_csv(&text, &path.display().to_string())
}

/// Parses CSV text into a [`Dataset`].
///
/// Format: comma-separated numbers, one sample per line. A first line with any
/// non-numeric field is a header. The label column is the one named `label`, `target`
/// or `class`, else the last column; labels are non-negative integers. Blank lines are
/// skipped. `origin` names the source in error messages.
pub fn parse_csv(text: &str, origin: &str) -> Result<Dataset> {
    let err =
        |line: usize, message: String| Error::Csv { origin: origin.to_string(), line, message };
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).peekable();
    let Some(&(_, first)) = lines.peek() else {
        return Err(err(1, "the file is empty; expected a header or numeric rows".into()));
    };
    let first_fields: Vec<&str> = first.split(',').map(str::trim).collect();
    let has_header = first_fields.iter().any(|f| f.parse::<f64>().is_err());
    let width = first_fields.len();
    if width < 2 {
        return Err(err(1, format!("found {width} column; expected features and a label")));
    }
    let (names, label_col) = if has_header {
        lines.next();
        let label_col = first_fields
            .iter()
            .position(|f| LABEL_COLUMNS.iter().any(|l| f.eq_ignore_ascii_case(l)))
            .unwrap_or(width - 1);
        (first_fields.iter().map(|s| s.to_string()).collect::<Vec<_>>(), label_col)
    } else {
        ((0..width).map(|i| format!("x{i}")).collect(), width - 1)
    };
    let feature_names: Vec<String> =
        names.iter().enumerate().filter(|&(i, _)| i != label_col).map(|(_, n)| n.clone()).collect();

    let mut features = Vec::new();
    let mut labels = Vec::new();
    for (idx, line) in lines {
        let lineno = idx + 1;
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != width {
            return Err(err(lineno, format!("found {} fields, expected {width}", fields.len())));
        }
        let mut row = Vec::with_capacity(width - 1);
        for (col, field) in fields.iter().enumerate() {
            if col == label_col {
                labels.push(parse_label(field).map_err(|m| err(lineno, m))?);
            } else {
                let v: f32 = field.parse().map_err(|_| {
                    err(
                        lineno,
                        format!("column {} (`{}`): `{field}` is not a number", col + 1, names[col]),
                    )
                })?;
                if !v.is_finite() {
                    return Err(err(
                        lineno,
                        format!("column {}: `{field}` is not finite", col + 1),
                    ));
                }
                row.push(v);
            }
        }
        features.push(row);
    }
    if features.is_empty() {
        return Err(err(1, "no data rows; expected at least one sample".into()));
    }
    let n_classes = labels.iter().copied().max().map_or(0, |m| m as usize + 1);
    Ok(Dataset { features, labels, feature_names, n_classes })
}

fn parse_label(field: &str) -> std::result::Result<u32, String> {
    if let Ok(v) = field.parse::<u32>() {
        return Ok(v);
    }
    match field.parse::<f64>() {
        Ok(v) if v >= 0.0 && v.fract() == 0.0 && v <= f64::from(u32::MAX) => Ok(v as u32),
        _ => Err(format!("label `{field}` is not a non-negative integer class index")),
    }
}

/// A uniform index in `0..n` from a ChaCha stream (widening multiply; the bias is below
/// 2^-32 for every `n` used here, and the mapping is fixed forever, unlike a library's
/// shuffle algorithm).
pub fn uniform_index(rng: &mut ChaCha8Rng, n: usize) -> usize {
    ((u128::from(rng.next_u64()) * n as u128) >> 64) as usize
}

/// Fisher-Yates shuffle of `items` driven by `rng` (stable across versions; see
/// [`uniform_index`]).
pub fn shuffle<T>(items: &mut [T], rng: &mut ChaCha8Rng) {
    for i in (1..items.len()).rev() {
        let j = uniform_index(rng, i + 1);
        items.swap(i, j);
    }
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// `true` when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of features per sample.
    pub fn n_features(&self) -> usize {
        self.feature_names.len()
    }

    /// Samples per class, indexed by label.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.n_classes];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }

    /// The samples at `indices`, in that order (indices may repeat). Keeps
    /// `n_classes` and the feature names.
    pub fn subset(&self, indices: &[usize]) -> Result<Dataset> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(Error::Dataset(format!(
                "index {bad} out of range for a dataset of {} samples",
                self.len()
            )));
        }
        Ok(Dataset {
            features: indices.iter().map(|&i| self.features[i].clone()).collect(),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            feature_names: self.feature_names.clone(),
            n_classes: self.n_classes,
        })
    }

    /// A deterministic shuffled copy.
    pub fn shuffled(&self, seed: u64) -> Dataset {
        let mut idx: Vec<usize> = (0..self.len()).collect();
        shuffle(&mut idx, &mut ChaCha8Rng::seed_from_u64(seed));
        Dataset {
            features: idx.iter().map(|&i| self.features[i].clone()).collect(),
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
            feature_names: self.feature_names.clone(),
            n_classes: self.n_classes,
        }
    }

    /// Deterministic stratified split into `(train, test)`: in each class, a seeded
    /// shuffle puts `round(test_fraction × class size)` samples in the test part. Both
    /// parts keep the dataset's row order among the samples they receive.
    pub fn train_test_split(&self, test_fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
        if !(test_fraction > 0.0 && test_fraction < 1.0) {
            return Err(Error::Dataset(format!(
                "test fraction must be strictly between 0 and 1, found {test_fraction}"
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut is_test = vec![false; self.len()];
        for class in 0..self.n_classes {
            let mut members: Vec<usize> =
                (0..self.len()).filter(|&i| self.labels[i] as usize == class).collect();
            shuffle(&mut members, &mut rng);
            let n_test = (members.len() as f64 * test_fraction).round() as usize;
            for &i in &members[..n_test] {
                is_test[i] = true;
            }
        }
        let train: Vec<usize> = (0..self.len()).filter(|&i| !is_test[i]).collect();
        let test: Vec<usize> = (0..self.len()).filter(|&i| is_test[i]).collect();
        if train.is_empty() || test.is_empty() {
            return Err(Error::Dataset(format!(
                "split of {} samples at test fraction {test_fraction} leaves a part empty",
                self.len()
            )));
        }
        Ok((self.subset(&train)?, self.subset(&test)?))
    }

    /// Writes the dataset as CSV (header of feature names then `label`), the format
    /// [`parse_csv`] reads. Values use Rust's shortest round-trip formatting, so a
    /// written and re-read dataset is identical.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        out.push_str(&self.feature_names.join(","));
        out.push_str(",label\n");
        for (row, label) in self.features.iter().zip(&self.labels) {
            for v in row {
                out.push_str(&v.to_string());
                out.push(',');
            }
            out.push_str(&label.to_string());
            out.push('\n');
        }
        out
    }

    /// Writes [`Dataset::to_csv`] to `path`.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_csv())
            .map_err(|source| Error::Io { path: path.to_path_buf(), source })
    }
}

/// Per-feature standardisation `(x - mean) / std`, fitted on a training set only so no
/// information leaks from the test set. Constant features get `std = 1`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Standardizer {
    /// Per-feature mean.
    pub mean: Vec<f32>,
    /// Per-feature standard deviation (population), `1` where the feature is constant.
    pub std: Vec<f32>,
}

impl Standardizer {
    /// Fits mean and standard deviation on `train` (accumulated in `f64`, in row order).
    pub fn fit(train: &Dataset) -> Result<Self> {
        if train.is_empty() {
            return Err(Error::Dataset("cannot fit a standardizer on an empty dataset".into()));
        }
        let d = train.n_features();
        let n = train.len() as f64;
        let mut sum = vec![0f64; d];
        for row in &train.features {
            for (s, &v) in sum.iter_mut().zip(row) {
                *s += f64::from(v);
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let mut sq = vec![0f64; d];
        for row in &train.features {
            for ((s, &v), m) in sq.iter_mut().zip(row).zip(&mean) {
                *s += (f64::from(v) - m).powi(2);
            }
        }
        let std = sq
            .iter()
            .map(|s| {
                let sd = (s / n).sqrt();
                if sd > 1e-12 {
                    sd as f32
                } else {
                    1.0
                }
            })
            .collect();
        Ok(Self { mean: mean.into_iter().map(|m| m as f32).collect(), std })
    }

    /// Standardises one row in place.
    pub fn transform_row(&self, row: &mut [f32]) {
        for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
            *v = (*v - m) / s;
        }
    }

    /// A standardised copy of `data`.
    pub fn transform(&self, data: &Dataset) -> Result<Dataset> {
        if data.n_features() != self.mean.len() {
            return Err(Error::Dataset(format!(
                "standardizer fitted on {} features, dataset has {}",
                self.mean.len(),
                data.n_features()
            )));
        }
        let mut out = data.clone();
        for row in &mut out.features {
            self.transform_row(row);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn shipped_datasets_have_documented_shapes() {
        let bc = breast_cancer().unwrap();
        assert_eq!((bc.len(), bc.n_features(), bc.n_classes), (569, 30, 2));
        assert_eq!(bc.class_counts(), vec![212, 357]);
        assert_eq!(bc.feature_names[0], "mean_radius");
        let dg = digits().unwrap();
        assert_eq!((dg.len(), dg.n_features(), dg.n_classes), (1797, 64, 10));
        assert!(dg.features.iter().flatten().all(|&v| (0.0..=16.0).contains(&v)));
    }

    #[test]
    fn csv_without_header_uses_last_column_as_label() {
        let d = parse_csv("1,2,0\n3,4,1\n\n5,6,2\n", "inline").unwrap();
        assert_eq!(d.features, vec![vec![1.0, 2.0], vec![3.0, 4.0], vec![5.0, 6.0]]);
        assert_eq!(d.labels, vec![0, 1, 2]);
        assert_eq!(d.n_classes, 3);
        assert_eq!(d.feature_names, vec!["x0", "x1"]);
    }

    #[test]
    fn csv_label_column_found_by_name() {
        let d = parse_csv("target,a,b\n1,0.5,2\n0,1.5,3\n", "inline").unwrap();
        assert_eq!(d.labels, vec![1, 0]);
        assert_eq!(d.features[1], vec![1.5, 3.0]);
        assert_eq!(d.feature_names, vec!["a", "b"]);
    }

    #[test]
    fn csv_errors_name_the_line() {
        let e = parse_csv("a,b,label\n1,2,0\n1,x,1\n", "f.csv").unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("`x` is not a number"), "{e}");
        let e = parse_csv("a,b,label\n1,2\n", "f.csv").unwrap_err().to_string();
        assert!(e.contains("found 2 fields, expected 3"), "{e}");
        let e = parse_csv("a,b,label\n1,2,-1\n", "f.csv").unwrap_err().to_string();
        assert!(e.contains("not a non-negative integer"), "{e}");
        assert!(parse_csv("", "f.csv").is_err());
        assert!(parse_csv("a,b,label\n", "f.csv").is_err());
        assert!(parse_csv("a,label\nNaN,1\n", "f.csv").is_err());
    }

    #[test]
    fn split_is_deterministic_stratified_and_disjoint() {
        let bc = breast_cancer().unwrap();
        let (tr1, te1) = bc.train_test_split(0.25, 42).unwrap();
        let (tr2, te2) = bc.train_test_split(0.25, 42).unwrap();
        assert_eq!(tr1, tr2);
        assert_eq!(te1, te2);
        assert_eq!(tr1.len() + te1.len(), bc.len());
        assert_eq!(te1.class_counts(), vec![53, 89]);
        let (_, te3) = bc.train_test_split(0.25, 43).unwrap();
        assert_ne!(te1, te3);
        assert!(bc.train_test_split(0.0, 1).is_err());
        assert!(bc.train_test_split(1.0, 1).is_err());
    }

    #[test]
    fn standardizer_fits_train_only() {
        let d = parse_csv("a,b,label\n1,5,0\n3,5,1\n", "inline").unwrap();
        let s = Standardizer::fit(&d).unwrap();
        assert_eq!(s.mean, vec![2.0, 5.0]);
        assert_eq!(s.std, vec![1.0, 1.0]); // constant column b gets std 1
        let t = s.transform(&d).unwrap();
        assert_eq!(t.features, vec![vec![-1.0, 0.0], vec![1.0, 0.0]]);
    }

    #[test]
    fn subset_rejects_out_of_range() {
        let d = parse_csv("1,0\n2,1\n", "inline").unwrap();
        assert!(d.subset(&[0, 2]).is_err());
        assert_eq!(d.subset(&[1, 1]).unwrap().labels, vec![1, 1]);
    }

    proptest! {
        #[test]
        fn csv_round_trips(rows in prop::collection::vec(
            (prop::collection::vec(-1e6f32..1e6, 3), 0u32..5), 1..20)) {
            let d = Dataset {
                features: rows.iter().map(|r| r.0.clone()).collect(),
                labels: rows.iter().map(|r| r.1).collect(),
                feature_names: vec!["a".into(), "b".into(), "c".into()],
                n_classes: rows.iter().map(|r| r.1).max().unwrap() as usize + 1,
            };
            let back = parse_csv(&d.to_csv(), "roundtrip").unwrap();
            prop_assert_eq!(back, d);
        }

        #[test]
        fn shuffle_is_a_permutation(n in 0usize..200, seed in any::<u64>()) {
            let mut v: Vec<usize> = (0..n).collect();
            shuffle(&mut v, &mut ChaCha8Rng::seed_from_u64(seed));
            v.sort_unstable();
            prop_assert_eq!(v, (0..n).collect::<Vec<_>>());
        }
    }
}
