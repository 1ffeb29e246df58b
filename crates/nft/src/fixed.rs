//! An exact evaluator of small ONNX graphs in Q16.16 fixed point: the same integers on every
//! machine, whatever its CPU, compiler or libm.
//!
//! Float inference engines (tract included) are free to use SIMD kernels, fused
//! multiply-adds and any summation order, and transcendental functions differ between libm
//! implementations; their results agree to a few ulps, not bit for bit. A token's image must
//! regenerate bit for bit, so the generator does not run on floats at all. This module reads
//! the graph and its weights from the ONNX file and evaluates it in integers, with every
//! operator defined exactly:
//!
//! | op | definition (values are `i64`, real value = v / 2^16) |
//! |---|---|
//! | `MatMul(x, W)` | `out_j = round(Σ_i x_i · W_ij / 2^16)`, `W` an initializer `[k, n]` |
//! | `Add(a, b)` | `a + b` (`b` a value of the same width or an initializer of 1 or that many values) |
//! | `Mul(a, b)` | `round(a · b / 2^16)` |
//! | `Softsign(x)` | `trunc(x · 2^16 / (2^16 + \|x\|))`, i.e. x / (1 + \|x\|) |
//! | `Reciprocal(x)` | `trunc(2^32 / x)`; zero is an error |
//! | `Concat(a, b, …; axis = 1)` | the values side by side |
//!
//! `round(v / 2^16)` is `(v + 2^15) >> 16` (halves round up); `trunc` is Rust's integer
//! division (toward zero). Integer sums do not depend on their order. Every weight must be
//! exactly a Q16.16 number (the shipped model's are multiples of 2^-10), and a model whose
//! values could overflow `i64` (bounded at load by interval arithmetic) is refused. Any other
//! op, attribute or shape is refused, so a model either evaluates exactly or not at all.

use std::collections::HashMap;

use tract_onnx::pb;
use tract_onnx::prelude::Framework as _;

use crate::{Error, Result};

/// Fractional bits.
pub const FRAC: u32 = 16;
/// 1.0 in Q16.16.
pub const ONE: i64 = 1 << FRAC;
const HALF: i64 = 1 << (FRAC - 1);

/// `round(v / 2^16)`, halves up.
#[inline]
pub fn rescale(v: i64) -> i64 {
    (v + HALF) >> FRAC
}

/// `round(a · b)` of two Q16.16 numbers.
#[inline]
pub fn mul(a: i64, b: i64) -> i64 {
    rescale(a * b)
}

/// `x / (1 + |x|)`, truncated.
#[inline]
pub fn softsign(x: i64) -> i64 {
    (x << FRAC) / (ONE + x.abs())
}

/// An operand of `Add` or `Mul`.
#[derive(Clone, Debug)]
enum Operand {
    Slot(usize),
    /// Broadcast over the width when it holds one value.
    Const(Vec<i64>),
}

#[derive(Clone, Debug)]
enum Step {
    MatMul { x: usize, w: Vec<i64>, k: usize, n: usize, out: usize },
    Add { a: usize, b: Operand, out: usize },
    Mul { a: usize, b: Operand, out: usize },
    Softsign { x: usize, out: usize },
    Reciprocal { x: usize, out: usize },
    Concat { xs: Vec<usize>, out: usize },
}

/// A graph compiled for exact evaluation: one input row of `input_width` values in, one
/// output row of `output_width` values out.
#[derive(Clone, Debug)]
pub struct Graph {
    steps: Vec<Step>,
    widths: Vec<usize>,
    output: usize,
    input_width: usize,
}

/// Reusable buffers of one evaluation (one per thread).
#[derive(Clone, Debug)]
pub struct Scratch {
    slots: Vec<Vec<i64>>,
}

/// The largest real magnitude any value may reach: 2^30, so a value is below 2^46 in
/// Q16.16, and a product or a dot product of such values (Q32.32) and `x << 16` stay below
/// 2^62.
const LIMIT: f64 = (1u64 << 30) as f64;

impl Graph {
    /// Parses `bytes` (an ONNX model) into a graph, refusing anything it cannot evaluate
    /// exactly. `origin` names the file in errors.
    pub fn from_onnx(bytes: &[u8], origin: &str, input_width: usize) -> Result<Graph> {
        let bad = |detail: String| Error::Model { origin: origin.to_string(), detail };
        let proto = std::panic::catch_unwind(|| {
            tract_onnx::onnx().proto_model_for_read(&mut &bytes[..]).map_err(|e| format!("{e:#}"))
        })
        .map_err(|_| bad("the ONNX parser panicked on this file".into()))?
        .map_err(|e| bad(format!("not an ONNX model: {e}")))?;
        let graph = proto.graph.as_ref().ok_or_else(|| bad("no graph".into()))?;
        let mut consts: HashMap<&str, (Vec<i64>, Vec<i64>)> = HashMap::new();
        for t in &graph.initializer {
            consts.insert(t.name.as_str(), (t.dims.clone(), tensor_q16(t).map_err(&bad)?));
        }
        let inputs: Vec<_> =
            graph.input.iter().filter(|i| !consts.contains_key(i.name.as_str())).collect();
        let [input] = inputs.as_slice() else {
            return Err(bad(format!("{} inputs, expected one", inputs.len())));
        };
        let [output] = graph.output.as_slice() else {
            return Err(bad(format!("{} outputs, expected one", graph.output.len())));
        };
        let mut slot_of: HashMap<&str, usize> = HashMap::from([(input.name.as_str(), 0)]);
        let mut widths = vec![input_width];
        // Upper bound of |value| per slot, in real units; the input's is the features'.
        let mut bounds = vec![8.0f64];
        let mut steps = Vec::new();
        for node in &graph.node {
            let ins: Vec<&str> = node.input.iter().map(String::as_str).collect();
            let [out_name] = node.output.as_slice() else {
                return Err(bad(format!("{} has {} outputs", node.op_type, node.output.len())));
            };
            let slot = |name: &str| {
                slot_of.get(name).copied().ok_or_else(|| {
                    bad(format!("{} reads {name:?}, which no earlier node wrote", node.op_type))
                })
            };
            let operand = |a: &str, b: &str| -> Result<(usize, Operand)> {
                let (s, other) = match (slot_of.get(a), slot_of.get(b)) {
                    (Some(&s), Some(&t)) => return Ok((s, Operand::Slot(t))),
                    (Some(&s), None) => (s, b),
                    (None, Some(&s)) => (s, a),
                    (None, None) => return Err(bad(format!("{} of two constants", node.op_type))),
                };
                let (_, v) = consts
                    .get(other)
                    .ok_or_else(|| bad(format!("{} reads unknown {other:?}", node.op_type)))?;
                if v.len() != 1 && v.len() != widths[s] {
                    return Err(bad(format!(
                        "{} broadcasts {} values over width {}",
                        node.op_type,
                        v.len(),
                        widths[s]
                    )));
                }
                Ok((s, Operand::Const(v.clone())))
            };
            let attrs_ok = node.attribute.is_empty()
                || (node.op_type == "Concat"
                    && node.attribute.len() == 1
                    && node.attribute[0].name == "axis"
                    && node.attribute[0].i == 1);
            if !attrs_ok || !node.domain.is_empty() {
                return Err(bad(format!(
                    "{} has attributes or a domain this evaluator does not define",
                    node.op_type
                )));
            }
            let out = widths.len();
            let (step, width, bound) = match (node.op_type.as_str(), ins.as_slice()) {
                ("MatMul", [x, w]) => {
                    let x = slot(x)?;
                    let (dims, values) = consts
                        .get(w)
                        .ok_or_else(|| bad(format!("MatMul weight {w:?} is not an initializer")))?;
                    let [k, n] = dims.as_slice() else {
                        return Err(bad(format!("MatMul weight {w:?} has shape {dims:?}")));
                    };
                    let (k, n) = (*k as usize, *n as usize);
                    if k != widths[x] {
                        return Err(bad(format!("MatMul of width {} by [{k}, {n}]", widths[x])));
                    }
                    let col_sum = (0..n)
                        .map(|j| (0..k).map(|i| values[i * n + j].abs() as f64).sum::<f64>())
                        .fold(0.0, f64::max);
                    let bound = bounds[x] * col_sum / ONE as f64 + 1.0;
                    (Step::MatMul { x, w: values.clone(), k, n, out }, n, bound)
                }
                ("Add", [a, b]) => {
                    let (a, b) = operand(a, b)?;
                    let bb = match &b {
                        Operand::Slot(s) => bounds[*s],
                        Operand::Const(v) => max_abs(v),
                    };
                    (Step::Add { a, b, out }, widths[a], bounds[a] + bb)
                }
                ("Mul", [a, b]) => {
                    let (a, b) = operand(a, b)?;
                    let bb = match &b {
                        Operand::Slot(s) => bounds[*s],
                        Operand::Const(v) => max_abs(v),
                    };
                    (Step::Mul { a, b, out }, widths[a], bounds[a] * bb + 1.0)
                }
                ("Softsign", [x]) => {
                    let x = slot(x)?;
                    (Step::Softsign { x, out }, widths[x], 1.0)
                }
                ("Reciprocal", [x]) => {
                    let x = slot(x)?;
                    // Unbounded near zero: the output of the shipped graph's Reciprocal is
                    // 1 / (1 + v²) ≤ 1, which the bound cannot see; refuse any other use.
                    (Step::Reciprocal { x, out }, widths[x], 1.0)
                }
                ("Concat", xs) if !xs.is_empty() => {
                    let xs = xs.iter().map(|x| slot(x)).collect::<Result<Vec<_>>>()?;
                    let width = xs.iter().map(|&x| widths[x]).sum();
                    let bound = xs.iter().map(|&x| bounds[x]).fold(0.0, f64::max);
                    (Step::Concat { xs, out }, width, bound)
                }
                (op, ins) => {
                    return Err(bad(format!(
                        "op {op} with {} inputs is not in the exact op set (MatMul, Add, Mul, \
                         Softsign, Reciprocal, Concat)",
                        ins.len()
                    )))
                }
            };
            if bound > LIMIT {
                return Err(bad(format!(
                    "{} ({out_name}) could reach {bound:.0}, beyond the fixed-point range",
                    node.op_type
                )));
            }
            if let Step::Reciprocal { x, .. } = &step {
                reciprocal_of_one_plus_square(&steps, *x).map_err(&bad)?;
            }
            steps.push(step);
            widths.push(width);
            bounds.push(bound);
            slot_of.insert(out_name.as_str(), out);
        }
        let output = slot_of
            .get(output.name.as_str())
            .copied()
            .ok_or_else(|| bad(format!("output {:?} is never written", output.name)))?;
        Ok(Graph { steps, widths, output, input_width })
    }

    /// Values a row of input holds.
    pub fn input_width(&self) -> usize {
        self.input_width
    }

    /// Values a row of output holds.
    pub fn output_width(&self) -> usize {
        self.widths[self.output]
    }

    /// Buffers for [`Graph::eval`].
    pub fn scratch(&self) -> Scratch {
        Scratch { slots: self.widths.iter().map(|&w| vec![0; w]).collect() }
    }

    /// Evaluates one row; the output row is borrowed from `scratch`.
    pub fn eval<'s>(&self, input: &[i64], scratch: &'s mut Scratch) -> Result<&'s [i64]> {
        if input.len() != self.input_width {
            return Err(Error::Generation(format!(
                "input row of {} values, the graph takes {}",
                input.len(),
                self.input_width
            )));
        }
        let slots = &mut scratch.slots;
        slots[0].copy_from_slice(input);
        for step in &self.steps {
            match step {
                Step::MatMul { x, w, k, n, out } => {
                    let (src, dst) = two(slots, *x, *out);
                    for (j, d) in dst.iter_mut().enumerate().take(*n) {
                        let mut acc = 0i64;
                        for i in 0..*k {
                            acc += src[i] * w[i * n + j];
                        }
                        *d = rescale(acc);
                    }
                }
                Step::Add { a, b, out } => binary(slots, *a, b, *out, |x, y| x + y),
                Step::Mul { a, b, out } => binary(slots, *a, b, *out, mul),
                Step::Softsign { x, out } => {
                    let (src, dst) = two(slots, *x, *out);
                    for (d, &s) in dst.iter_mut().zip(src.iter()) {
                        *d = softsign(s);
                    }
                }
                Step::Reciprocal { x, out } => {
                    let (src, dst) = two(slots, *x, *out);
                    for (d, &s) in dst.iter_mut().zip(src.iter()) {
                        if s == 0 {
                            return Err(Error::Generation("Reciprocal of zero".into()));
                        }
                        *d = (ONE << FRAC) / s;
                    }
                }
                Step::Concat { xs, out } => {
                    let mut row = std::mem::take(&mut slots[*out]);
                    let mut at = 0;
                    for &x in xs {
                        let w = slots[x].len();
                        row[at..at + w].copy_from_slice(&slots[x]);
                        at += w;
                    }
                    slots[*out] = row;
                }
            }
        }
        Ok(&scratch.slots[self.output])
    }
}

fn max_abs(v: &[i64]) -> f64 {
    v.iter().map(|x| x.abs() as f64 / ONE as f64).fold(0.0, f64::max)
}

/// The Reciprocal's input must be `Add(Mul(v, v), c)` with a constant `c ≥ 1`, so it is at
/// least 1 and the output at most 1.
fn reciprocal_of_one_plus_square(steps: &[Step], x: usize) -> std::result::Result<(), String> {
    let written = |slot: usize| {
        steps.iter().find(|s| match s {
            Step::MatMul { out, .. }
            | Step::Add { out, .. }
            | Step::Mul { out, .. }
            | Step::Softsign { out, .. }
            | Step::Reciprocal { out, .. }
            | Step::Concat { out, .. } => *out == slot,
        })
    };
    let refuse = || Err("Reciprocal must read Add(Mul(v, v), c) with a constant c >= 1".into());
    let Some(Step::Add { a, b: Operand::Const(c), .. }) = written(x) else { return refuse() };
    if c.iter().any(|&v| v < ONE) {
        return refuse();
    }
    match written(*a) {
        Some(Step::Mul { a, b: Operand::Slot(b), .. }) if a == b => Ok(()),
        _ => refuse(),
    }
}

/// Source and destination slots (distinct: a step never writes a slot it reads).
fn two(slots: &mut [Vec<i64>], src: usize, dst: usize) -> (&[i64], &mut [i64]) {
    debug_assert!(src < dst, "steps write new slots");
    let (lo, hi) = slots.split_at_mut(dst);
    (&lo[src], &mut hi[0])
}

fn binary(slots: &mut [Vec<i64>], a: usize, b: &Operand, out: usize, f: impl Fn(i64, i64) -> i64) {
    let mut row = std::mem::take(&mut slots[out]);
    match b {
        Operand::Slot(b) => {
            for ((d, &x), &y) in row.iter_mut().zip(&slots[a]).zip(&slots[*b]) {
                *d = f(x, y);
            }
        }
        Operand::Const(c) if c.len() == 1 => {
            for (d, &x) in row.iter_mut().zip(&slots[a]) {
                *d = f(x, c[0]);
            }
        }
        Operand::Const(c) => {
            for ((d, &x), &y) in row.iter_mut().zip(&slots[a]).zip(c) {
                *d = f(x, y);
            }
        }
    }
    slots[out] = row;
}

/// An initializer as Q16.16 integers; every value must be exactly representable.
fn tensor_q16(t: &pb::TensorProto) -> std::result::Result<Vec<i64>, String> {
    const FLOAT: i32 = 1;
    if t.data_type != FLOAT {
        return Err(format!(
            "initializer {:?} has data type {}, expected float32",
            t.name, t.data_type
        ));
    }
    let floats: Vec<f32> = if !t.raw_data.is_empty() {
        if !t.raw_data.len().is_multiple_of(4) {
            return Err(format!(
                "initializer {:?}: raw data of {} bytes",
                t.name,
                t.raw_data.len()
            ));
        }
        t.raw_data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
    } else {
        t.float_data.clone()
    };
    let expected: i64 = t.dims.iter().product::<i64>().max(1);
    if floats.len() as i64 != expected {
        return Err(format!(
            "initializer {:?}: {} values for shape {:?}",
            t.name,
            floats.len(),
            t.dims
        ));
    }
    floats
        .iter()
        .map(|&f| {
            // Multiplying by a power of two is exact, so a non-integer here means the weight
            // is not a Q16.16 number.
            let scaled = f as f64 * ONE as f64;
            if !scaled.is_finite() || scaled.fract() != 0.0 || scaled.abs() >= LIMIT {
                Err(format!(
                    "initializer {:?}: {f} is not exactly a Q16.16 number below 2^14",
                    t.name
                ))
            } else {
                Ok(scaled as i64)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail by panicking")]
    use super::*;

    #[test]
    fn operators_round_as_documented() {
        assert_eq!(rescale(HALF), 1);
        assert_eq!(rescale(HALF - 1), 0);
        assert_eq!(rescale(-HALF), 0, "halves round up, toward +inf");
        assert_eq!(mul(ONE / 2, ONE / 2), ONE / 4);
        assert_eq!(softsign(ONE), ONE / 2);
        assert_eq!(softsign(-ONE), -ONE / 2);
        assert_eq!(softsign(0), 0);
        assert_eq!(softsign(3 * ONE), 3 * ONE / 4);
    }
}
