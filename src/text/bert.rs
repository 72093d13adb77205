//! BERT (Devlin et al. 2019), the encoder stack only, reading the standard
//! checkpoint tensor names (`embeddings.*`, `encoder.layer.N.*`). Our own
//! rather than candle-transformers' so the CPU hot spots can be tuned: every
//! projection is one 2-D matmul over all tokens of the batch (on the system
//! BLAS when one is there and no gradient is wanted, see `blas`), and GELU
//! runs a vectorised erf (libm's scalar `erf` took an eighth of the forward
//! time). The layers can run in ranges, so a caller can cache the frozen
//! bottom and fine-tune the top.

use std::ops::Range;

use candle_core::{CpuStorage, CustomOp1, CustomOp3, DType, Layout, Module, Result, Shape, Tensor};
use candle_nn::{Embedding, LayerNorm, VarBuilder};
use candle_transformers::models::bert::{Config, HiddenAct};
use rayon::prelude::*;

use super::blas::{system_blas, BlasMatmulTransposed};

/// `x W^T + b` over the last dimension, as one matmul over all leading ones.
#[derive(Debug, Clone)]
struct Projection {
    weight: Tensor,
    bias: Tensor,
}

impl Projection {
    fn load(vb: VarBuilder, input: usize, output: usize) -> Result<Self> {
        Ok(Self {
            weight: vb.get((output, input), "weight")?,
            bias: vb.get(output, "bias")?,
        })
    }

    /// `frozen`: no gradient is wanted, so the system BLAS may run it.
    fn forward(&self, x: &Tensor, frozen: bool) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let input = dims[dims.len() - 1];
        let rows = x.elem_count() / input;
        let mut out_dims = dims;
        let last = out_dims.len() - 1;
        out_dims[last] = self.weight.dim(0)?;
        let x = x.reshape((rows, input))?;
        let blas =
            system_blas().filter(|_| frozen && x.device().is_cpu() && x.dtype() == DType::F32);
        let product = match blas {
            Some(blas) => x
                .contiguous()?
                .apply_op2_no_bwd(&self.weight, &BlasMatmulTransposed(blas))?,
            None => x.matmul(&self.weight.t()?)?,
        };
        product.broadcast_add(&self.bias)?.reshape(out_dims)
    }
}

#[derive(Debug, Clone)]
struct Embeddings {
    words: Embedding,
    positions: Embedding,
    token_types: Embedding,
    norm: LayerNorm,
}

#[derive(Debug, Clone)]
struct Layer {
    query: Projection,
    key: Projection,
    value: Projection,
    attention_out: Projection,
    attention_norm: LayerNorm,
    intermediate: Projection,
    output: Projection,
    output_norm: LayerNorm,
}

/// The BERT encoder.
#[derive(Debug, Clone)]
pub struct Bert {
    embeddings: Embeddings,
    layers: Vec<Layer>,
    heads: usize,
    activation: HiddenAct,
}

fn layer_norm(vb: VarBuilder, size: usize, eps: f64) -> Result<LayerNorm> {
    Ok(LayerNorm::new(
        vb.get(size, "weight")?,
        vb.get(size, "bias")?,
        eps,
    ))
}

impl Bert {
    pub fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        let h = config.hidden_size;
        if h % config.num_attention_heads != 0 {
            candle_core::bail!(
                "hidden size {h} is not a multiple of {} heads",
                config.num_attention_heads
            );
        }
        let e = vb.pp("embeddings");
        let embedding = |name: &str, rows: usize| -> Result<Embedding> {
            Ok(Embedding::new(e.pp(name).get((rows, h), "weight")?, h))
        };
        let embeddings = Embeddings {
            words: embedding("word_embeddings", config.vocab_size)?,
            positions: embedding("position_embeddings", config.max_position_embeddings)?,
            token_types: embedding("token_type_embeddings", config.type_vocab_size)?,
            norm: layer_norm(e.pp("LayerNorm"), h, config.layer_norm_eps)?,
        };
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let l = vb.pp(format!("encoder.layer.{i}"));
                let a = l.pp("attention");
                Ok(Layer {
                    query: Projection::load(a.pp("self.query"), h, h)?,
                    key: Projection::load(a.pp("self.key"), h, h)?,
                    value: Projection::load(a.pp("self.value"), h, h)?,
                    attention_out: Projection::load(a.pp("output.dense"), h, h)?,
                    attention_norm: layer_norm(a.pp("output.LayerNorm"), h, config.layer_norm_eps)?,
                    intermediate: Projection::load(
                        l.pp("intermediate.dense"),
                        h,
                        config.intermediate_size,
                    )?,
                    output: Projection::load(l.pp("output.dense"), config.intermediate_size, h)?,
                    output_norm: layer_norm(l.pp("output.LayerNorm"), h, config.layer_norm_eps)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            embeddings,
            layers,
            heads: config.num_attention_heads,
            activation: config.hidden_act,
        })
    }

    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Token, position and type embeddings, normalised: `[batch, tokens, hidden]`.
    pub fn embed(&self, ids: &Tensor, types: &Tensor) -> Result<Tensor> {
        let (_, tokens) = ids.dims2()?;
        let positions = Tensor::arange(0u32, tokens as u32, ids.device())?;
        let e = &self.embeddings;
        let summed = e
            .words
            .forward(ids)?
            .add(&e.token_types.forward(types)?)?
            .broadcast_add(&e.positions.forward(&positions)?)?;
        e.norm.forward(&summed)
    }

    /// Runs `layers` over hidden states, differentiably (for fine-tuning);
    /// `mask` is 1 for tokens, 0 for padding, `[batch, tokens]`.
    pub fn encode(&self, hidden: &Tensor, mask: &Tensor, layers: Range<usize>) -> Result<Tensor> {
        self.run(hidden, mask, layers, false)
    }

    /// [`Bert::encode`] for inference: no gradients, the system BLAS if any.
    pub fn encode_frozen(
        &self,
        hidden: &Tensor,
        mask: &Tensor,
        layers: Range<usize>,
    ) -> Result<Tensor> {
        self.run(hidden, mask, layers, true)
    }

    /// Every layer, for inference: last hidden states `[batch, tokens, hidden]`.
    pub fn forward(&self, ids: &Tensor, types: &Tensor, mask: &Tensor) -> Result<Tensor> {
        self.encode_frozen(&self.embed(ids, types)?, mask, 0..self.layers.len())
    }

    fn run(
        &self,
        hidden: &Tensor,
        mask: &Tensor,
        layers: Range<usize>,
        frozen: bool,
    ) -> Result<Tensor> {
        let fused = frozen
            && hidden.dim(1)? >= FUSED_ATTENTION_MIN_TOKENS
            && hidden.device().is_cpu()
            && hidden.dtype() == DType::F32;
        let attention = if fused {
            // Padding comes last, so a sequence's mask is its length.
            let lengths = mask.to_dtype(DType::F32)?.sum(1)?.to_vec1::<f32>()?;
            Attention::Fused(FusedAttention {
                heads: self.heads,
                lengths: lengths.into_iter().map(|l| l as usize).collect(),
            })
        } else {
            // Additive form: 0 where attended, the most negative float elsewhere.
            Attention::Matmul(
                ((mask.to_dtype(DType::F32)? - 1.0)? * f64::from(f32::MAX))?
                    .unsqueeze(1)?
                    .unsqueeze(1)?,
            )
        };
        let mut x = hidden.clone();
        for layer in &self.layers[layers] {
            x = self.layer(layer, &x, &attention, frozen)?;
        }
        Ok(x)
    }

    fn layer(
        &self,
        layer: &Layer,
        x: &Tensor,
        attention: &Attention,
        frozen: bool,
    ) -> Result<Tensor> {
        let (batch, tokens, hidden) = x.dims3()?;
        let head_dim = hidden / self.heads;
        let q = (layer.query.forward(x, frozen)? / (head_dim as f64).sqrt())?;
        let k = layer.key.forward(x, frozen)?;
        let v = layer.value.forward(x, frozen)?;
        let context = match attention {
            Attention::Fused(op) => q.apply_op3_no_bwd(&k, &v, op)?,
            Attention::Matmul(additive_mask) => {
                let split_heads = |t: Tensor| -> Result<Tensor> {
                    t.reshape((batch, tokens, self.heads, head_dim))?
                        .transpose(1, 2)?
                        .contiguous()
                };
                let (q, k, v) = (split_heads(q)?, split_heads(k)?, split_heads(v)?);
                let scores = q.matmul(&k.t()?)?.broadcast_add(additive_mask)?;
                let probs = candle_nn::ops::softmax_last_dim(&scores)?;
                probs
                    .matmul(&v)?
                    .transpose(1, 2)?
                    .reshape((batch, tokens, hidden))?
            }
        };
        let attended = layer
            .attention_norm
            .forward(&(layer.attention_out.forward(&context, frozen)? + x)?)?;
        let inner = layer.intermediate.forward(&attended, frozen)?;
        let inner = match self.activation {
            HiddenAct::Gelu => gelu_erf(&inner)?,
            HiddenAct::GeluApproximate => inner.gelu()?,
            HiddenAct::Relu => inner.relu()?,
        };
        layer
            .output_norm
            .forward(&(layer.output.forward(&inner, frozen)? + attended)?)
    }
}

/// Below this many tokens the batched matmuls are faster (measured on MetaQA
/// questions, ~12 tokens); above it the fused kernel is, and it saves the
/// score tensors' memory (AIFB+ abstracts, up to 256 tokens).
const FUSED_ATTENTION_MIN_TOKENS: usize = 64;

enum Attention {
    /// The one-pass kernel (inference), with each sequence's unpadded length.
    Fused(FusedAttention),
    /// Batched matmuls (differentiable) with this additive mask `[batch, 1, 1, tokens]`.
    Matmul(Tensor),
}

/// Softmax attention of every head of every sequence in one pass, reading
/// the (pre-scaled) queries, keys and values in their `[batch, tokens,
/// hidden]` layout and writing the context in the same: no head transposes,
/// no `[batch, heads, tokens, tokens]` score tensors (200 MB for 64 texts of
/// 256 tokens), and each head's keys and values stay in cache while its
/// queries run. Keys past a sequence's length are padding. Inference only.
struct FusedAttention {
    heads: usize,
    lengths: Vec<usize>,
}

impl CustomOp3 for FusedAttention {
    fn name(&self) -> &'static str {
        "fused-attention"
    }

    fn cpu_fwd(
        &self,
        q: &CpuStorage,
        q_layout: &Layout,
        k: &CpuStorage,
        k_layout: &Layout,
        v: &CpuStorage,
        v_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (q, k, v) = (
            f32_slice(q, q_layout)?,
            f32_slice(k, k_layout)?,
            f32_slice(v, v_layout)?,
        );
        let (batch, tokens, hidden) = q_layout.shape().dims3()?;
        if self.lengths.len() != batch {
            candle_core::bail!(
                "fused attention: {} lengths for {batch} sequences",
                self.lengths.len()
            );
        }
        let head_dim = hidden / self.heads;
        let per_sequence = tokens * hidden;
        // One task per (sequence, head): enough parallelism even for one text.
        let tasks: Vec<(usize, usize)> = (0..batch)
            .flat_map(|b| (0..self.heads).map(move |h| (b, h)))
            .collect();
        let contexts: Vec<Vec<f32>> = tasks
            .par_iter()
            .map(|&(b, head)| {
                let rows = b * per_sequence..(b + 1) * per_sequence;
                let len = self.lengths[b].clamp(1, tokens);
                let head = Head {
                    offset: head * head_dim,
                    width: head_dim,
                    hidden,
                    len,
                };
                attend(&q[rows.clone()], &k[rows.clone()], &v[rows], head)
            })
            .collect();
        let mut out = vec![0f32; batch * per_sequence];
        for (&(b, head), context) in tasks.iter().zip(contexts) {
            for (i, row) in context.chunks_exact(head_dim).enumerate() {
                let at = b * per_sequence + i * hidden + head * head_dim;
                out[at..at + head_dim].copy_from_slice(row);
            }
        }
        Ok((CpuStorage::F32(out), q_layout.shape().clone()))
    }
}

/// Where one head's columns are in a `[tokens, hidden]` row block, and how
/// many keys are real.
#[derive(Clone, Copy)]
struct Head {
    offset: usize,
    width: usize,
    hidden: usize,
    len: usize,
}

/// One head of one sequence: `[tokens, width]` rows of `softmax_j(q_i · k_j) v_j`.
fn attend(q: &[f32], k: &[f32], v: &[f32], head: Head) -> Vec<f32> {
    vectorised(
        #[inline(always)]
        || attend_loop(q, k, v, head),
    )
}

#[inline(always)]
fn attend_loop(q: &[f32], k: &[f32], v: &[f32], head: Head) -> Vec<f32> {
    let Head {
        offset,
        width,
        hidden,
        len,
    } = head;
    let tokens = q.len() / hidden;
    let column = |j: usize| j * hidden + offset..j * hidden + offset + width;
    // Keys transposed (`[width, len]`), so that a query's scores accumulate
    // along contiguous keys; values packed `[len, width]`.
    let mut keys = vec![0f32; width * len];
    for j in 0..len {
        for (t, x) in k[column(j)].iter().enumerate() {
            keys[t * len + j] = *x;
        }
    }
    let values: Vec<f32> = (0..len)
        .flat_map(|j| v[column(j)].iter().copied())
        .collect();
    let mut context = vec![0f32; tokens * width];
    let mut scores = vec![0f32; len];
    for (i, out) in context.chunks_exact_mut(width).enumerate() {
        scores.fill(0.0);
        for (&qt, row) in q[column(i)].iter().zip(keys.chunks_exact(len)) {
            for (s, x) in scores.iter_mut().zip(row) {
                *s += qt * x;
            }
        }
        let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
        // Two loops: the first vectorises, a running sum would not.
        for s in scores.iter_mut() {
            *s = exp(*s - max);
        }
        let scale = 1.0 / sum(&scores);
        for (p, vj) in scores.iter().zip(values.chunks_exact(width)) {
            let p = p * scale;
            for (o, x) in out.iter_mut().zip(vj) {
                *o += p * x;
            }
        }
    }
    context
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

/// The elements of a contiguous f32 CPU tensor.
pub(super) fn f32_slice<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    match (storage, layout.contiguous_offsets()) {
        (CpuStorage::F32(d), Some((a, b))) => Ok(&d[a..b]),
        _ => candle_core::bail!("expected a contiguous f32 tensor"),
    }
}

/// `x Φ(x)` with the exact (erf) normal CDF: the vectorised kernel on CPU
/// for f32, candle's op elsewhere.
pub fn gelu_erf(x: &Tensor) -> Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == DType::F32 {
        x.apply_op1(FastGeluErf)
    } else {
        x.gelu_erf()
    }
}

struct FastGeluErf;

impl CustomOp1 for FastGeluErf {
    fn name(&self) -> &'static str {
        "fast-gelu-erf"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let input = f32_slice(storage, layout)?;
        let mut out = vec![0f32; input.len()];
        out.par_chunks_mut(16 * 1024)
            .zip(input.par_chunks(16 * 1024))
            .for_each(|(o, i)| gelu_slice(i, o));
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    /// d/dx x Φ(x) = Φ(x) + x φ(x).
    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let cdf = ((arg / std::f64::consts::SQRT_2)?.erf()? + 1.0)? * 0.5;
        let pdf = ((arg.sqr()? * -0.5)?.exp()? * (1.0 / (2.0 * std::f64::consts::PI).sqrt()))?;
        let derivative = (cdf? + arg.mul(&pdf)?)?;
        Ok(Some(grad_res.mul(&derivative)?))
    }
}

fn gelu_slice(input: &[f32], out: &mut [f32]) {
    vectorised(
        #[inline(always)]
        || gelu_loop(input, out),
    );
}

/// Runs `work` compiled for AVX2 and FMA when the CPU has them (the
/// `#[inline(always)]` loops it calls are inlined and vectorised for those
/// features), else as built.
#[inline(always)]
fn vectorised<R>(work: impl FnOnce() -> R) -> R {
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

/// Branch-free, so the compiler vectorises it for the enabled features.
#[inline(always)]
fn gelu_loop(input: &[f32], out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(input) {
        *o = 0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7) with a
/// polynomial `exp`, in plain arithmetic so that loops over it vectorise.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let y = 1.0 - poly * exp(-a * a);
    y.copysign(x)
}

/// e^x for x <= 0 down to underflow: 2^n e^r with |r| <= ln2/2 and a
/// degree-6 Taylor polynomial (relative error below 2e-7).
#[inline(always)]
fn exp(x: f32) -> f32 {
    let x = x.max(-87.0);
    // Round to nearest by the 1.5 * 2^23 trick: `round()` is a libm call
    // that would stop the loop from vectorising.
    const SHIFT: f32 = 12_582_912.0;
    let n = (x * std::f32::consts::LOG2_E + SHIFT) - SHIFT;
    let r = x - n * std::f32::consts::LN_2;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    p * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Largest absolute difference of two tensors of one shape.
    fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .and_then(|d| d.abs())
            .and_then(|d| d.flatten_all())
            .and_then(|d| d.max(0))
            .and_then(|d| d.to_scalar::<f32>())
            .unwrap()
    }

    #[test]
    fn fast_erf_matches_libm() {
        let mut worst = 0f64;
        for i in -60_000..=60_000 {
            let x = i as f32 / 10_000.0;
            let exact = libm_erf(f64::from(x));
            worst = worst.max((f64::from(erf(x)) - exact).abs());
        }
        // The formula's 1.5e-7 plus f32 rounding.
        assert!(worst < 1e-6, "max error {worst}");
    }

    /// erf from the standard library's erfc-free series via `f64` math:
    /// the Taylor series converges fast enough on [-6, 6] in f64.
    fn libm_erf(x: f64) -> f64 {
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
    fn fused_attention_matches_masked_matmul_attention() {
        let device = candle_core::Device::Cpu;
        let (batch, tokens, heads, d) = (3, 5, 2, 12);
        let q = Tensor::randn(0f32, 1.0, (batch, tokens, heads * d), &device).unwrap();
        let k = Tensor::randn(0f32, 1.0, (batch, tokens, heads * d), &device).unwrap();
        let v = Tensor::randn(0f32, 1.0, (batch, tokens, heads * d), &device).unwrap();
        let lengths = vec![5, 3, 1];
        let op = FusedAttention {
            heads,
            lengths: lengths.clone(),
        };
        let fast = q.apply_op3_no_bwd(&k, &v, &op).unwrap();
        let mask: Vec<f32> = lengths
            .iter()
            .flat_map(|&l| (0..tokens).map(move |t| if t < l { 0.0 } else { -1e30 }))
            .collect();
        let mask = Tensor::from_vec(mask, (batch, 1, 1, tokens), &device).unwrap();
        let split = |t: &Tensor| {
            t.reshape((batch, tokens, heads, d))
                .and_then(|t| t.transpose(1, 2))
                .and_then(|t| t.contiguous())
                .unwrap()
        };
        let scores = split(&q)
            .matmul(&split(&k).t().unwrap())
            .and_then(|s| s.broadcast_add(&mask))
            .unwrap();
        let slow = candle_nn::ops::softmax_last_dim(&scores)
            .and_then(|p| p.matmul(&split(&v)))
            .and_then(|c| c.transpose(1, 2))
            .and_then(|c| c.reshape((batch, tokens, heads * d)))
            .unwrap();
        let diff = max_abs_diff(&fast, &slow);
        assert!(diff < 1e-5, "{diff}");
    }

    #[test]
    fn gelu_op_matches_candle_and_has_its_gradient() {
        let device = candle_core::Device::Cpu;
        let values: Vec<f32> = (-50..50).map(|i| i as f32 / 8.0).collect();
        let x = candle_core::Var::new(values.as_slice(), &device).unwrap();
        let fast = gelu_erf(x.as_tensor()).unwrap();
        let reference = x.as_tensor().gelu_erf().unwrap();
        let diff = max_abs_diff(&fast, &reference);
        assert!(diff < 1e-6, "{diff}");
        let g_fast = fast.sum_all().unwrap().backward().unwrap();
        let g_ref = reference.sum_all().unwrap().backward().unwrap();
        let a = g_fast.get(x.as_tensor()).unwrap();
        let b = g_ref.get(x.as_tensor()).unwrap();
        let diff = max_abs_diff(a, b);
        assert!(diff < 1e-5, "{diff}");
    }
}
