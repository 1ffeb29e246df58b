//! The output guard: what may leave the owner's node after a compute-to-data job.
//!
//! Three checks, set by the owner (never by the buyer):
//! - **size**: the serialised result is at most [`GuardPolicy::max_output_bytes`];
//! - **cohort**: every aggregate (a group's mean, a training or test split, a scored set)
//!   covers at least [`GuardPolicy::min_cohort`] rows;
//! - **no verbatim row**: no input row's feature vector appears, value for value and in
//!   order, among the numbers of the result (a mean over one row *is* that row). Rows with
//!   fewer than two features are not checked: a single number matching is no evidence.
//!
//! Minimum and maximum are deliberately not offered as aggregates: each is one person's
//! value.

use serde::{Deserialize, Serialize};

/// The owner's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardPolicy {
    /// Largest result in bytes.
    pub max_output_bytes: usize,
    /// Fewest rows behind any aggregate.
    pub min_cohort: usize,
}

impl Default for GuardPolicy {
    fn default() -> Self {
        Self { max_output_bytes: 64 * 1024, min_cohort: 10 }
    }
}

/// Why the guard refused a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum Violation {
    /// The result is too large.
    #[error("the result has {size} bytes, the owner allows at most {limit}")]
    TooLarge {
        /// Result size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// An aggregate covers too few rows.
    #[error("{what} covers {rows} rows, the owner requires at least {min}")]
    CohortTooSmall {
        /// Which aggregate.
        what: String,
        /// Rows behind it.
        rows: usize,
        /// The minimum.
        min: usize,
    },
    /// An input row appears verbatim in the result.
    #[error("input row {row} appears verbatim in the result")]
    RowInOutput {
        /// Index of the row in the dataset.
        row: usize,
    },
}

impl GuardPolicy {
    /// Checks a cohort size.
    pub fn cohort(&self, what: &str, rows: usize) -> Result<(), Violation> {
        if rows < self.min_cohort {
            return Err(Violation::CohortTooSmall {
                what: what.to_string(),
                rows,
                min: self.min_cohort,
            });
        }
        Ok(())
    }

    /// Checks the size of the result and that no row of `rows` appears in `numbers` (every
    /// number the result carries, in order, including model weights).
    pub fn check_output(
        &self,
        result: &[u8],
        numbers: &[f32],
        rows: &[Vec<f32>],
    ) -> Result<(), Violation> {
        if result.len() > self.max_output_bytes {
            return Err(Violation::TooLarge { size: result.len(), limit: self.max_output_bytes });
        }
        if let Some(row) = find_verbatim_row(numbers, rows) {
            return Err(Violation::RowInOutput { row });
        }
        Ok(())
    }
}

/// The first row whose values appear contiguously, in order, in `numbers`.
pub fn find_verbatim_row(numbers: &[f32], rows: &[Vec<f32>]) -> Option<usize> {
    let mut starts: std::collections::HashMap<u32, Vec<usize>> = std::collections::HashMap::new();
    for (i, v) in numbers.iter().enumerate() {
        starts.entry(canonical_bits(*v)).or_default().push(i);
    }
    rows.iter().position(|row| {
        if row.len() < 2 || row.len() > numbers.len() {
            return false;
        }
        starts.get(&canonical_bits(row[0])).is_some_and(|at| {
            at.iter().any(|&i| {
                numbers.get(i..i + row.len()).is_some_and(|w| {
                    w.iter().zip(row).all(|(a, b)| canonical_bits(*a) == canonical_bits(*b))
                })
            })
        })
    })
}

/// Bits with `-0.0` folded into `0.0`, so equal values compare equal.
fn canonical_bits(v: f32) -> u32 {
    if v == 0.0 {
        0
    } else {
        v.to_bits()
    }
}

/// Every number in a JSON document, in document order, as `f32`.
pub fn json_numbers(v: &serde_json::Value, out: &mut Vec<f32>) {
    match v {
        serde_json::Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                out.push(f as f32);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| json_numbers(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| json_numbers(x, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn verbatim_row_is_found_anywhere_in_order_only() {
        let rows = vec![vec![1.5, 2.5, 3.5], vec![9.0, 8.0, 7.0]];
        assert_eq!(find_verbatim_row(&[0.0, 1.5, 2.5, 3.5, 4.0], &rows), Some(0));
        assert_eq!(find_verbatim_row(&[9.0, 8.0, 7.0], &rows), Some(1));
        assert_eq!(find_verbatim_row(&[3.5, 2.5, 1.5], &rows), None);
        assert_eq!(find_verbatim_row(&[1.5, 2.5], &rows), None);
        assert_eq!(find_verbatim_row(&[-0.0, 1.0], &[vec![0.0, 1.0]]), Some(0));
        assert_eq!(
            find_verbatim_row(&[5.0], &[vec![5.0]]),
            None,
            "single-feature rows are not checked"
        );
    }

    #[test]
    fn policy_reports_each_violation() {
        let p = GuardPolicy { max_output_bytes: 10, min_cohort: 5 };
        assert!(matches!(
            p.check_output(&[0; 11], &[], &[]),
            Err(Violation::TooLarge { size: 11, .. })
        ));
        assert!(matches!(p.cohort("class 1", 4), Err(Violation::CohortTooSmall { rows: 4, .. })));
        p.cohort("class 1", 5).unwrap();
        let e = p.check_output(b"{}", &[1.0, 2.0], &[vec![1.0, 2.0]]).unwrap_err();
        assert_eq!(e, Violation::RowInOutput { row: 0 });
        assert!(e.to_string().contains("verbatim"));
    }

    #[test]
    fn json_numbers_in_document_order() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"a":[1,2.5,{"b":3}],"c":"4"}"#).unwrap();
        let mut out = vec![];
        json_numbers(&v, &mut out);
        assert_eq!(out, vec![1.0, 2.5, 3.0]);
    }

    proptest! {
        #[test]
        fn an_embedded_row_is_always_found(
            prefix in proptest::collection::vec(-1e3f32..1e3, 0..20),
            row in proptest::collection::vec(-1e3f32..1e3, 2..8),
            suffix in proptest::collection::vec(-1e3f32..1e3, 0..20),
        ) {
            let numbers: Vec<f32> = prefix.iter().chain(&row).chain(&suffix).copied().collect();
            prop_assert!(find_verbatim_row(&numbers, &[row]).is_some());
        }
    }
}
