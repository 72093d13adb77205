//! BERT (Devlin et al. 2019), the encoder stack only, reading the standard
//! checkpoint tensor names (`embeddings.*`, `encoder.layer.N.*`). Our own
//! rather than candle-transformers' so the CPU hot spots can be tuned: every
//! projection is one 2-D matmul over all tokens of the batch, and GELU runs a
//! vectorised erf (libm's scalar `erf` took an eighth of the forward time).
//! The layers can run in ranges, so a caller can cache the frozen bottom and
//! fine-tune the top.

use std::ops::Range;

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Module, Result, Shape, Tensor};
use candle_nn::{Embedding, LayerNorm, VarBuilder};
use candle_transformers::models::bert::{Config, HiddenAct};
use rayon::prelude::*;

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

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let input = dims[dims.len() - 1];
        let rows = x.elem_count() / input;
        let mut out_dims = dims;
        let last = out_dims.len() - 1;
        out_dims[last] = self.weight.dim(0)?;
        x.reshape((rows, input))?
            .matmul(&self.weight.t()?)?
            .broadcast_add(&self.bias)?
            .reshape(out_dims)
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

    /// Runs `layers` over hidden states; `mask` is 1 for tokens, 0 for padding, `[batch, tokens]`.
    pub fn encode(&self, hidden: &Tensor, mask: &Tensor, layers: Range<usize>) -> Result<Tensor> {
        // Additive form: 0 where attended, the most negative float elsewhere.
        let additive = ((mask.to_dtype(DType::F32)? - 1.0)? * f64::from(f32::MAX))?
            .unsqueeze(1)?
            .unsqueeze(1)?;
        let mut x = hidden.clone();
        for layer in &self.layers[layers] {
            x = self.layer(layer, &x, &additive)?;
        }
        Ok(x)
    }

    /// Every layer: last hidden states `[batch, tokens, hidden]`.
    pub fn forward(&self, ids: &Tensor, types: &Tensor, mask: &Tensor) -> Result<Tensor> {
        self.encode(&self.embed(ids, types)?, mask, 0..self.layers.len())
    }

    fn layer(&self, layer: &Layer, x: &Tensor, additive_mask: &Tensor) -> Result<Tensor> {
        let (batch, tokens, hidden) = x.dims3()?;
        let head_dim = hidden / self.heads;
        let split_heads = |t: Tensor| -> Result<Tensor> {
            t.reshape((batch, tokens, self.heads, head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split_heads((layer.query.forward(x)? / (head_dim as f64).sqrt())?)?;
        let k = split_heads(layer.key.forward(x)?)?;
        let v = split_heads(layer.value.forward(x)?)?;
        let scores = q.matmul(&k.t()?)?.broadcast_add(additive_mask)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let context = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .reshape((batch, tokens, hidden))?;
        let attended = layer
            .attention_norm
            .forward(&(layer.attention_out.forward(&context)? + x)?)?;
        let inner = layer.intermediate.forward(&attended)?;
        let inner = match self.activation {
            HiddenAct::Gelu => gelu_erf(&inner)?,
            HiddenAct::GeluApproximate => inner.gelu()?,
            HiddenAct::Relu => inner.relu()?,
        };
        layer
            .output_norm
            .forward(&(layer.output.forward(&inner)? + attended)?)
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
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("fast-gelu-erf takes f32");
        };
        let input = match layout.contiguous_offsets() {
            Some((start, end)) => &data[start..end],
            None => candle_core::bail!("fast-gelu-erf takes contiguous tensors"),
        };
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
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the features the function is compiled for.
            unsafe { gelu_slice_avx2(input, out) };
            return;
        }
    }
    gelu_loop(input, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gelu_slice_avx2(input: &[f32], out: &mut [f32]) {
    gelu_loop(input, out);
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
    let n = (x * std::f32::consts::LOG2_E).round();
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
    fn gelu_op_matches_candle_and_has_its_gradient() {
        let device = candle_core::Device::Cpu;
        let values: Vec<f32> = (-50..50).map(|i| i as f32 / 8.0).collect();
        let x = candle_core::Var::new(values.as_slice(), &device).unwrap();
        let fast = gelu_erf(x.as_tensor()).unwrap();
        let reference = x.as_tensor().gelu_erf().unwrap();
        let diff = (&fast - &reference)
            .unwrap()
            .abs()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-6, "{diff}");
        let g_fast = fast.sum_all().unwrap().backward().unwrap();
        let g_ref = reference.sum_all().unwrap().backward().unwrap();
        let a = g_fast.get(x.as_tensor()).unwrap();
        let b = g_ref.get(x.as_tensor()).unwrap();
        let diff = (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-5, "{diff}");
    }
}
