//! The bit-exact runtime: Q16.16 tensors in the `int32` range and five operators defined
//! in integers (`docs/compute.md`, "Operators"), so a computation gives the same integers
//! on every machine and in `DisputeGame`'s one-step.
//!
//! Products and sums are exact (`i128`) and saturated to `i32` once, at the end of an
//! operator; the only rounding is `(v + 2^15) >> 16` (an arithmetic shift), which Solidity's
//! `int256 >>` computes identically.

use alloy::primitives::{keccak256, B256};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Fractional bits.
pub const FRAC: u32 = 16;
/// 1.0 in Q16.16.
pub const ONE: i32 = 1 << FRAC;
const HALF: i128 = 1 << (FRAC - 1);

/// The largest real value a tensor can hold (just under 2^15).
pub const MAX_REAL: f64 = (i32::MAX as f64) / ONE as f64;

/// `sat(v)`: clamps to the `i32` range.
#[inline]
pub fn sat(v: i128) -> i32 {
    v.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32
}

/// `q(f)`: a real number to Q16.16, rounded half away from zero and saturated. `None` for a
/// NaN or an infinity.
pub fn quantize(f: f64) -> Option<i32> {
    if !f.is_finite() {
        return None;
    }
    let v = (f * f64::from(ONE)).round();
    Some(if v >= f64::from(i32::MAX) {
        i32::MAX
    } else if v <= f64::from(i32::MIN) {
        i32::MIN
    } else {
        v as i32
    })
}

/// A Q16.16 value as a real number.
pub fn real(v: i32) -> f64 {
    f64::from(v) / f64::from(ONE)
}

/// A `rows × cols` tensor, row-major.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tensor {
    /// Rows.
    pub rows: u32,
    /// Columns.
    pub cols: u32,
    /// `rows · cols` values.
    pub data: Vec<i32>,
}

impl Tensor {
    /// A tensor; the data must hold `rows · cols` values.
    pub fn new(rows: u32, cols: u32, data: Vec<i32>) -> Result<Tensor> {
        if data.len() as u64 != u64::from(rows) * u64::from(cols) {
            return Err(Error::Shape(format!(
                "{} values for a {rows} × {cols} tensor",
                data.len()
            )));
        }
        Ok(Tensor { rows, cols, data })
    }

    /// The empty tensor (`0 × 0`).
    pub fn empty() -> Tensor {
        Tensor { rows: 0, cols: 0, data: Vec::new() }
    }

    /// `true` for the empty tensor.
    pub fn is_empty(&self) -> bool {
        self.rows == 0 && self.cols == 0
    }

    /// A `1 × n` row.
    pub fn row(data: Vec<i32>) -> Tensor {
        Tensor { rows: 1, cols: data.len() as u32, data }
    }

    /// Quantises `rows` of reals (all the same width).
    pub fn quantized(rows: &[Vec<f64>]) -> Result<Tensor> {
        let cols = rows.first().map_or(0, Vec::len);
        let mut data = Vec::with_capacity(rows.len() * cols);
        for (r, row) in rows.iter().enumerate() {
            if row.len() != cols {
                return Err(Error::Shape(format!(
                    "row {r} has {} values, row 0 has {cols}",
                    row.len()
                )));
            }
            for &f in row {
                data.push(quantize(f).ok_or_else(|| {
                    Error::Shape(format!("row {r} holds {f}, which has no fixed-point value"))
                })?);
            }
        }
        Tensor::new(rows.len() as u32, cols as u32, data)
    }

    /// Value at `(r, c)`.
    #[inline]
    pub fn at(&self, r: usize, c: usize) -> i32 {
        self.data[r * self.cols as usize + c]
    }

    /// The tensor's data bytes: each value as a 4-byte big-endian `int32`.
    pub fn data_bytes(&self) -> Vec<u8> {
        self.data.iter().flat_map(|v| v.to_be_bytes()).collect()
    }

    /// Parses data bytes of a `rows × cols` tensor.
    pub fn from_data_bytes(rows: u32, cols: u32, bytes: &[u8]) -> Result<Tensor> {
        if bytes.len() as u64 != u64::from(rows) * u64::from(cols) * 4 {
            return Err(Error::Shape(format!(
                "{} data bytes for a {rows} × {cols} tensor (4 per value)",
                bytes.len()
            )));
        }
        let data =
            bytes.chunks_exact(4).map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect();
        Tensor::new(rows, cols, data)
    }

    /// `keccak256(abi.encodePacked(uint32 rows, uint32 cols, bytes data))`.
    pub fn hash(&self) -> B256 {
        let mut buf = Vec::with_capacity(8 + self.data.len() * 4);
        buf.extend_from_slice(&self.rows.to_be_bytes());
        buf.extend_from_slice(&self.cols.to_be_bytes());
        for v in &self.data {
            buf.extend_from_slice(&v.to_be_bytes());
        }
        keccak256(buf)
    }
}

/// A layer's operator, by its on-chain code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `x · W + bias`.
    Gemm,
    /// `x + c`, `c` one row broadcast over the rows.
    Add,
    /// `x · c` elementwise, `c` one row broadcast over the rows.
    Mul,
    /// `max(x, 0)`.
    Relu,
    /// PLAN's piecewise-linear sigmoid.
    Sigmoid,
}

impl Op {
    /// The operator's code in `DisputeGame`.
    pub fn code(self) -> u8 {
        match self {
            Op::Gemm => 1,
            Op::Add => 2,
            Op::Mul => 3,
            Op::Relu => 4,
            Op::Sigmoid => 5,
        }
    }

    /// The operator of a code.
    pub fn from_code(code: u8) -> Option<Op> {
        Some(match code {
            1 => Op::Gemm,
            2 => Op::Add,
            3 => Op::Mul,
            4 => Op::Relu,
            5 => Op::Sigmoid,
            _ => return None,
        })
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Op::Gemm => "gemm",
            Op::Add => "add",
            Op::Mul => "mul",
            Op::Relu => "relu",
            Op::Sigmoid => "sigmoid",
        }
    }
}

/// One layer: an operator and its two params (empty where unused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layer {
    /// The operator.
    pub op: Op,
    /// `W` of a GEMM, `c` of ADD and MUL.
    pub a: Tensor,
    /// The bias of a GEMM.
    pub b: Tensor,
}

impl Layer {
    /// `x · W + bias`.
    pub fn gemm(w: Tensor, bias: Tensor) -> Layer {
        Layer { op: Op::Gemm, a: w, b: bias }
    }

    /// `x + c`.
    pub fn add(c: Tensor) -> Layer {
        Layer { op: Op::Add, a: c, b: Tensor::empty() }
    }

    /// `x · c`.
    pub fn mul(c: Tensor) -> Layer {
        Layer { op: Op::Mul, a: c, b: Tensor::empty() }
    }

    /// An operator without params.
    pub fn unary(op: Op) -> Layer {
        Layer { op, a: Tensor::empty(), b: Tensor::empty() }
    }

    /// Checks the params' shapes for an input of `width` columns; the output's width.
    pub fn check(&self, width: u32) -> Result<u32> {
        let shape = |t: &Tensor| format!("{} × {}", t.rows, t.cols);
        let need_empty = |t: &Tensor, what: &str| {
            if t.is_empty() {
                Ok(())
            } else {
                Err(Error::Shape(format!("{} takes no {what}, found {}", self.op.name(), shape(t))))
            }
        };
        match self.op {
            Op::Gemm => {
                if self.a.rows != width {
                    return Err(Error::Shape(format!(
                        "gemm of a {width}-wide input by a {} weight",
                        shape(&self.a)
                    )));
                }
                if self.b.rows != 1 || self.b.cols != self.a.cols {
                    return Err(Error::Shape(format!(
                        "gemm bias is {}, expected 1 × {}",
                        shape(&self.b),
                        self.a.cols
                    )));
                }
                Ok(self.a.cols)
            }
            Op::Add | Op::Mul => {
                if self.a.rows != 1 || self.a.cols != width {
                    return Err(Error::Shape(format!(
                        "{} constant is {}, expected 1 × {width}",
                        self.op.name(),
                        shape(&self.a)
                    )));
                }
                need_empty(&self.b, "second param")?;
                Ok(width)
            }
            Op::Relu | Op::Sigmoid => {
                need_empty(&self.a, "param")?;
                need_empty(&self.b, "second param")?;
                Ok(width)
            }
        }
    }
}

/// PLAN's sigmoid on one Q16.16 value.
pub fn sigmoid(x: i32) -> i32 {
    let a = i64::from(x).abs();
    let y = if a >= 327_680 {
        65_536
    } else if a >= 155_648 {
        (a >> 5) + 55_296
    } else if a >= 65_536 {
        (a >> 3) + 40_960
    } else {
        (a >> 2) + 32_768
    };
    (if x >= 0 { y } else { 65_536 - y }) as i32
}

/// Applies `layer` to `x`.
pub fn apply(layer: &Layer, x: &Tensor) -> Result<Tensor> {
    let out_cols = layer.check(x.cols)?;
    let (rows, cols) = (x.rows as usize, x.cols as usize);
    let data = match layer.op {
        Op::Gemm => {
            let (w, n) = (&layer.a, out_cols as usize);
            let mut out = Vec::with_capacity(rows * n);
            for r in 0..rows {
                let xr = &x.data[r * cols..(r + 1) * cols];
                for j in 0..n {
                    let mut acc: i128 = 0;
                    for (k, &xv) in xr.iter().enumerate() {
                        acc += i128::from(xv) * i128::from(w.data[k * n + j]);
                    }
                    out.push(sat(((acc + HALF) >> FRAC) + i128::from(layer.b.data[j])));
                }
            }
            out
        }
        Op::Add => x
            .data
            .iter()
            .enumerate()
            .map(|(i, &v)| sat(i128::from(v) + i128::from(layer.a.data[i % cols])))
            .collect(),
        Op::Mul => x
            .data
            .iter()
            .enumerate()
            .map(|(i, &v)| sat((i128::from(v) * i128::from(layer.a.data[i % cols]) + HALF) >> FRAC))
            .collect(),
        Op::Relu => x.data.iter().map(|&v| v.max(0)).collect(),
        Op::Sigmoid => x.data.iter().map(|&v| sigmoid(v)).collect(),
    };
    Tensor::new(x.rows, out_cols, data)
}

/// The predicted class of every row: the lowest column holding the row's largest value.
pub fn argmax(logits: &Tensor) -> Vec<u32> {
    (0..logits.rows as usize)
        .map(|r| {
            let mut best = 0usize;
            for c in 1..logits.cols as usize {
                if logits.at(r, c) > logits.at(r, best) {
                    best = c;
                }
            }
            best as u32
        })
        .collect()
}

/// The score step: how many rows' predicted class equals their label.
pub fn score(logits: &Tensor, labels: &Tensor) -> Result<u64> {
    if logits.cols == 0 {
        return Err(Error::Shape("score of logits with no columns".into()));
    }
    if labels.cols != 1 || labels.rows != logits.rows {
        return Err(Error::Shape(format!(
            "labels are {} × {}, expected {} × 1",
            labels.rows, labels.cols, logits.rows
        )));
    }
    Ok(argmax(logits)
        .iter()
        .zip(&labels.data)
        .filter(|(p, &l)| i64::from(**p) == i64::from(l))
        .count() as u64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail by panicking")]
    use super::*;

    #[test]
    fn operators_compute_as_documented() {
        let x = Tensor::new(1, 2, vec![ONE, -ONE / 2]).unwrap();
        let w = Tensor::new(2, 1, vec![2 * ONE, ONE]).unwrap();
        let g = apply(&Layer::gemm(w, Tensor::row(vec![ONE / 4])), &x).unwrap();
        assert_eq!(g.data, vec![2 * ONE - ONE / 2 + ONE / 4]);
        let m = apply(&Layer::mul(Tensor::row(vec![3, ONE])), &Tensor::row(vec![1, 5])).unwrap();
        // (1·3 + 2^15) >> 16 = 0; (5·2^16 + 2^15) >> 16 = 5.
        assert_eq!(m.data, vec![0, 5]);
        let s =
            apply(&Layer::add(Tensor::row(vec![i32::MAX, i32::MIN])), &Tensor::row(vec![1, -1]))
                .unwrap();
        assert_eq!(s.data, vec![i32::MAX, i32::MIN], "saturates");
        assert_eq!(
            apply(&Layer::unary(Op::Relu), &Tensor::row(vec![-3, 4])).unwrap().data,
            vec![0, 4]
        );
    }

    #[test]
    fn plan_sigmoid_matches_its_pieces() {
        assert_eq!(sigmoid(0), ONE / 2);
        assert_eq!(sigmoid(6 * ONE), ONE);
        assert_eq!(sigmoid(-6 * ONE), 0);
        assert_eq!(sigmoid(ONE), (ONE >> 3) + 40_960);
        assert_eq!(sigmoid(-ONE), ONE - (ONE >> 3) - 40_960);
        for x in (-400_000..400_000).step_by(997) {
            let y = real(sigmoid(x));
            let exact = 1.0 / (1.0 + (-real(x)).exp());
            assert!((y - exact).abs() < 0.02, "PLAN is within 0.02 of the sigmoid at {x}");
        }
    }

    #[test]
    fn bad_shapes_are_refused() {
        let x = Tensor::row(vec![1, 2, 3]);
        assert!(apply(&Layer::add(Tensor::row(vec![1, 2])), &x).is_err());
        assert!(apply(
            &Layer::gemm(Tensor::new(2, 1, vec![1, 1]).unwrap(), Tensor::row(vec![0])),
            &x
        )
        .is_err());
        let relu_with_param = Layer { op: Op::Relu, a: Tensor::row(vec![1]), b: Tensor::empty() };
        assert!(apply(&relu_with_param, &x).is_err());
        assert!(Tensor::new(2, 2, vec![1]).is_err());
        assert!(Tensor::from_data_bytes(1, 1, &[0, 0, 0]).is_err());
    }

    #[test]
    fn score_takes_the_first_maximum() {
        let logits = Tensor::new(3, 2, vec![5, 5, 1, 2, 3, 1]).unwrap();
        assert_eq!(argmax(&logits), vec![0, 1, 0]);
        let labels = Tensor::new(3, 1, vec![0, 1, 1]).unwrap();
        assert_eq!(score(&logits, &labels).unwrap(), 2);
    }

    #[test]
    fn quantize_rounds_half_away_from_zero() {
        assert_eq!(quantize(0.5 / 65_536.0), Some(1));
        assert_eq!(quantize(-0.5 / 65_536.0), Some(-1));
        assert_eq!(quantize(1e12), Some(i32::MAX));
        assert_eq!(quantize(f64::NAN), None);
    }
}
