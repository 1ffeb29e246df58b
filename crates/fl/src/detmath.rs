//! `exp` and `ln` from IEEE-754 `+ − × ÷` only.
//!
//! The platform's libm may differ in the last bit between systems and versions; scores
//! and DP noise feed rewards that anyone must be able to recompute bit for bit, so the
//! transcendental functions they use are written here (range reduction plus a series,
//! accurate to a few ulp, and identical everywhere).

// fdlibm's split of ln 2: the high part has trailing zero bits so k·LN2_HI is exact.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
const LN2: f64 = std::f64::consts::LN_2;

/// `e^x`.
pub fn exp(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x > 709.78 {
        return f64::INFINITY;
    }
    if x < -745.2 {
        return 0.0;
    }
    let k = (x / LN2).round();
    let r = (x - k * LN2_HI) - k * LN2_LO; // |r| ≤ ~0.347
                                           // Taylor series to degree 16, Horner form.
    let mut p = 1.0;
    for i in (1..=16).rev() {
        p = 1.0 + p * r / f64::from(i);
    }
    scale2(p, k as i32)
}

/// `x · 2^k` without libm.
fn scale2(mut x: f64, mut k: i32) -> f64 {
    while k > 1000 {
        x *= f64::from_bits((1023u64 + 1000) << 52);
        k -= 1000;
    }
    while k < -1000 {
        x *= f64::from_bits((1023u64 - 1000) << 52);
        k += 1000;
    }
    x * f64::from_bits(((1023 + k) as u64) << 52)
}

/// Natural logarithm; `NaN` for negative input, `-inf` for 0.
pub fn ln(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return x;
    }
    let (mut m, mut e) = (x, 0i32);
    if m < f64::MIN_POSITIVE {
        m *= f64::from_bits((1023u64 + 54) << 52);
        e -= 54;
    }
    let bits = m.to_bits();
    e += ((bits >> 52) & 0x7ff) as i32 - 1023;
    m = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1023u64 << 52)); // in [1, 2)
    if m > std::f64::consts::SQRT_2 {
        m /= 2.0;
        e += 1;
    }
    // ln(m) = 2 atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.1716.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut sum = 0.0;
    for k in (0..14).rev() {
        sum = 1.0 / f64::from(2 * k + 1) + s2 * sum;
    }
    f64::from(e) * LN2 + 2.0 * s * sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn special_values() {
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(exp(-1000.0), 0.0);
        assert_eq!(exp(1000.0), f64::INFINITY);
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert!(ln(-1.0).is_nan());
        assert!((ln(f64::MIN_POSITIVE / 8.0) - (f64::MIN_POSITIVE / 8.0).ln()).abs() < 1e-12);
    }

    proptest! {
        #[test]
        fn exp_matches_libm(x in -700f64..700.0) {
            let (a, b) = (exp(x), x.exp());
            prop_assert!(((a - b) / b).abs() < 1e-14, "{x}: {a} vs {b}");
        }

        #[test]
        fn ln_matches_libm(x in 1e-300f64..1e300) {
            let (a, b) = (ln(x), x.ln());
            prop_assert!((a - b).abs() <= 1e-14 * b.abs().max(1.0), "{x}: {a} vs {b}");
        }
    }
}
