//! Elementwise f32 kernels of the BERT forward on CPU, in plain branch-free
//! arithmetic so that the loops vectorise: libm's scalar `erf` and `exp`
//! would not (the scalar `erf` alone took an eighth of the forward time).
//! [`vectorised`] compiles a loop for AVX2 and FMA when the CPU has them.

/// Runs `work` compiled for AVX2 and FMA when the CPU has them (the
/// `#[inline(always)]` loops it calls are inlined and vectorised for those
/// features), else as built.
#[inline(always)]
pub fn vectorised<R>(work: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn with_avx2<R>(work: impl FnOnce() -> R) -> R {
            work()
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the features the function is compiled for.
            return unsafe { with_avx2(work) };
        }
    }
    work()
}

/// `x Φ(x)` with the exact (erf) normal CDF, in place.
pub fn gelu_erf(values: &mut [f32]) {
    vectorised(
        #[inline(always)]
        || {
            for x in values.iter_mut() {
                *x = 0.5 * *x * (1.0 + erf(*x * std::f32::consts::FRAC_1_SQRT_2));
            }
        },
    );
}

/// GELU's tanh approximation, in place.
pub fn gelu_tanh(values: &mut [f32]) {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    vectorised(
        #[inline(always)]
        || {
            for x in values.iter_mut() {
                let inner = SQRT_2_OVER_PI * (*x + 0.044_715 * *x * *x * *x);
                *x = 0.5 * *x * (1.0 + tanh(inner));
            }
        },
    );
}

/// `max(x, 0)`, in place.
pub fn relu(values: &mut [f32]) {
    for x in values.iter_mut() {
        *x = x.max(0.0);
    }
}

/// Adds `bias` to each row of `rows` (as wide as `bias`).
pub fn add_bias(rows: &mut [f32], bias: &[f32]) {
    vectorised(
        #[inline(always)]
        || {
            for row in rows.chunks_exact_mut(bias.len()) {
                for (x, b) in row.iter_mut().zip(bias) {
                    *x += b;
                }
            }
        },
    );
}

/// Softmax of each `width`-wide row, in place.
pub fn softmax_rows(rows: &mut [f32], width: usize) {
    vectorised(
        #[inline(always)]
        || {
            for row in rows.chunks_exact_mut(width) {
                let max = max(row);
                // Two loops: the first vectorises, a running sum would not.
                for s in row.iter_mut() {
                    *s = exp(*s - max);
                }
                let scale = 1.0 / sum(row);
                for s in row.iter_mut() {
                    *s *= scale;
                }
            }
        },
    );
}

/// Layer normalisation of `out = out + bias + residual`, row by row:
/// `(y - mean) / sqrt(var + eps) * gamma + beta`, the residual block's tail.
pub fn add_and_normalise(
    out: &mut [f32],
    bias: &[f32],
    residual: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
) {
    let width = bias.len();
    vectorised(
        #[inline(always)]
        || {
            for (row, res) in out
                .chunks_exact_mut(width)
                .zip(residual.chunks_exact(width))
            {
                for ((y, b), r) in row.iter_mut().zip(bias).zip(res) {
                    *y += b + r;
                }
                let mean = sum(row) / width as f32;
                for y in row.iter_mut() {
                    *y -= mean;
                }
                let variance = sum_of_squares(row) / width as f32;
                let inv = 1.0 / (variance + eps).sqrt();
                for ((y, g), b) in row.iter_mut().zip(gamma).zip(beta) {
                    *y = *y * inv * g + b;
                }
            }
        },
    );
}

/// A sum in eight independent lanes, so it vectorises.
#[inline(always)]
fn sum(values: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks = values.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (lane, x) in lanes.iter_mut().zip(chunk) {
            *lane += x;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// The largest value, in eight independent lanes (a single running
/// maximum does not vectorise).
#[inline(always)]
fn max(values: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 8];
    let chunks = values.chunks_exact(8);
    let tail = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    for chunk in chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane = lane.max(x);
        }
    }
    lanes.iter().fold(tail, |m, &x| m.max(x))
}

/// `sum(x²)` in eight independent lanes.
#[inline(always)]
fn sum_of_squares(values: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks = values.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().map(|x| x * x).sum();
    for chunk in chunks {
        for (lane, x) in lanes.iter_mut().zip(chunk) {
            *lane += x * x;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7) with a
/// polynomial `exp`.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let y = 1.0 - poly * exp(-a * a);
    y.copysign(x)
}

/// tanh from `exp` of a non-positive argument (so it cannot overflow).
#[inline(always)]
fn tanh(x: f32) -> f32 {
    let e = exp(-2.0 * x.abs());
    ((1.0 - e) / (1.0 + e)).copysign(x)
}

/// e^x for x <= 0 down to underflow: 2^n e^r with |r| <= ln2/2 and a
/// degree-6 Taylor polynomial (relative error below 2e-7).
#[inline(always)]
fn exp(x: f32) -> f32 {
    let x = x.max(-87.0);
    // Adding 1.5 * 2^23 rounds to an integer n that then sits in the low
    // mantissa bits, so 2^n is built with integer arithmetic on the bits:
    // `round()` is a libm call and `as i32` a saturating cast, and either
    // would stop the loop from vectorising.
    const SHIFT: f32 = 12_582_912.0;
    let shifted = x * std::f32::consts::LOG2_E + SHIFT;
    let n = shifted - SHIFT;
    // ln 2 in two parts (Cody & Waite), so that r stays exact for large |x|.
    let r = (x - n * 0.693_145_75) - n * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let biased = shifted
        .to_bits()
        .wrapping_sub(SHIFT.to_bits())
        .wrapping_add(127);
    p * f32::from_bits(biased << 23)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// erf by its Taylor series in f64, which converges fast on [-4, 4].
    fn series_erf(x: f64) -> f64 {
        if x.abs() > 4.0 {
            return x.signum();
        }
        // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
        let (mut term, mut sum, mut n) = (x, x, 0.0);
        while term.abs() > 1e-17 * sum.abs().max(1e-300) && n < 200.0 {
            n += 1.0;
            term *= -x * x / n;
            sum += term / (2.0 * n + 1.0);
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn fast_erf_matches_its_series() {
        let mut worst = 0f64;
        for i in -60_000..=60_000 {
            let x = i as f32 / 10_000.0;
            worst = worst.max((f64::from(erf(x)) - series_erf(f64::from(x))).abs());
        }
        // The formula's 1.5e-7 plus f32 rounding.
        assert!(worst < 1e-6, "max error {worst}");
    }

    #[test]
    fn fast_exp_matches_std_to_underflow() {
        for i in 0..=87_000 {
            let x = -(i as f32) / 1000.0;
            let relative = ((exp(x) - x.exp()) / x.exp()).abs();
            assert!(relative < 1e-6, "exp({x}): {} vs {}", exp(x), x.exp());
        }
    }

    #[test]
    fn fast_tanh_matches_std() {
        let worst = (-4000..=4000)
            .map(|i| {
                let x = i as f32 / 400.0;
                (tanh(x) - x.tanh()).abs()
            })
            .fold(0f32, f32::max);
        assert!(worst < 1e-6, "max error {worst}");
    }

    #[test]
    fn softmax_rows_sum_to_one_and_keep_order() {
        let mut rows = vec![1.0, 2.0, 3.0, -50.0, 0.0, 50.0];
        softmax_rows(&mut rows, 3);
        for row in rows.chunks(3) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            assert!(row[0] < row[1] && row[1] < row[2]);
        }
        let e = 1f32.exp();
        assert!((rows[2] - e * e / (1.0 + e + e * e)).abs() < 1e-6);
    }

    #[test]
    fn add_and_normalise_gives_zero_mean_unit_variance() {
        let mut out: Vec<f32> = (0..20).map(|i| i as f32).collect();
        let bias = vec![1.0; 10];
        let residual = vec![0.5; 20];
        add_and_normalise(&mut out, &bias, &residual, &[1.0; 10], &[0.0; 10], 1e-12);
        for row in out.chunks(10) {
            let mean = row.iter().sum::<f32>() / 10.0;
            let var = row.iter().map(|y| (y - mean).powi(2)).sum::<f32>() / 10.0;
            assert!(
                mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4,
                "{mean} {var}"
            );
        }
    }
}
