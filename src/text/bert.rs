//! BERT (Devlin et al. 2019), the encoder stack only, reading the standard
//! checkpoint tensor names (`embeddings.*`, `encoder.layer.N.*`). Our own
//! rather than candle-transformers' so that inference on CPU can run its
//! own forward (`cpu_forward`: packed sequences, fused row-chunk passes,
//! gemm with AVX-512 where the CPU has it), while fine-tuning runs the same
//! weights through candle's differentiable ops. GELU runs a vectorised erf
//! on CPU either way. The layers can run in ranges, so a caller can cache
//! the frozen bottom and fine-tune the top.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Module, Result, Shape, Tensor};
use candle_nn::{Embedding, LayerNorm, VarBuilder};
use candle_transformers::models::bert::{Config, HiddenAct};
use rayon::prelude::*;

use super::cpu_forward::{self, CpuLayer, LayerTensors};
use super::kernels;

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

    fn parts(&self) -> (&Tensor, &Tensor) {
        (&self.weight, &self.bias)
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
    /// This layer's weights for `cpu_forward`, shared by clones.
    cpu: Arc<CpuCopy>,
}

/// A layer's weights as `cpu_forward` reads them (transposed, fused). Candle
/// changes weights in place without telling anyone, so the copy is made on
/// first use, dropped by [`Bert::weights_changed`], and never kept for a
/// layer being fine-tuned ([`Bert::tune`]): those are copied on every call.
#[derive(Debug, Default)]
struct CpuCopy {
    copy: Mutex<Option<Arc<CpuLayer>>>,
    tuned: AtomicBool,
}

impl CpuCopy {
    fn drop_copy(&self) {
        *self.copy.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
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
        if !h.is_multiple_of(config.num_attention_heads) {
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
                    cpu: Arc::default(),
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

    /// Drops the CPU copies of the weights (in this model and its clones):
    /// to be called after weights are overwritten in place.
    pub fn weights_changed(&self) {
        for layer in &self.layers {
            layer.cpu.drop_copy();
        }
    }

    /// Marks `layers` as fine-tuned: an optimizer may change them at any
    /// step, so the CPU forward copies their weights afresh on every call.
    pub fn tune(&self, layers: Range<usize>) {
        for layer in &self.layers[layers] {
            layer.cpu.tuned.store(true, Ordering::Relaxed);
            layer.cpu.drop_copy();
        }
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
        // Additive form: 0 where attended, the most negative float elsewhere.
        let additive_mask = ((mask.to_dtype(DType::F32)? - 1.0)? * f64::from(f32::MAX))?
            .unsqueeze(1)?
            .unsqueeze(1)?;
        let mut x = hidden.clone();
        for layer in &self.layers[layers] {
            x = self.layer(layer, &x, &additive_mask)?;
        }
        Ok(x)
    }

    /// [`Bert::encode`] for inference, without gradients: on CPU in f32 the
    /// `cpu_forward` pass (with the current weights as long as in-place
    /// changes are announced, see [`CpuCopy`]). Positions past a sequence's
    /// length come back as zeros.
    pub fn encode_frozen(
        &self,
        hidden: &Tensor,
        mask: &Tensor,
        layers: Range<usize>,
    ) -> Result<Tensor> {
        let lengths = padding_last_lengths(mask)?;
        match lengths {
            Some(lengths) if hidden.device().is_cpu() && hidden.dtype() == DType::F32 => {
                self.encode_on_cpu(hidden, &lengths, layers)
            }
            _ => Ok(self.encode(hidden, mask, layers)?.detach()),
        }
    }

    /// Every layer, for inference: last hidden states `[batch, tokens, hidden]`.
    pub fn forward(&self, ids: &Tensor, types: &Tensor, mask: &Tensor) -> Result<Tensor> {
        self.encode_frozen(&self.embed(ids, types)?, mask, 0..self.layers.len())
    }

    fn encode_on_cpu(
        &self,
        hidden: &Tensor,
        lengths: &[usize],
        layers: Range<usize>,
    ) -> Result<Tensor> {
        let (batch, tokens, width) = hidden.dims3()?;
        let padded = hidden.flatten_all()?.to_vec1::<f32>()?;
        let mut packed = Vec::with_capacity(lengths.iter().sum::<usize>() * width);
        for (sequence, &len) in padded.chunks_exact(tokens * width).zip(lengths) {
            packed.extend_from_slice(&sequence[..len * width]);
        }
        let weights = self.layers[layers]
            .iter()
            .map(|layer| self.cpu_layer(layer))
            .collect::<Result<Vec<_>>>()?;
        let weights: Vec<&CpuLayer> = weights.iter().map(Arc::as_ref).collect();
        cpu_forward::encode(&weights, &mut packed, lengths);
        let mut out = vec![0f32; batch * tokens * width];
        let mut rows = packed.chunks_exact(width);
        for (sequence, &len) in out.chunks_exact_mut(tokens * width).zip(lengths) {
            for row in sequence.chunks_exact_mut(width).take(len) {
                row.copy_from_slice(rows.next().expect("packed rows match the lengths"));
            }
        }
        Tensor::from_vec(out, (batch, tokens, width), hidden.device())
    }

    fn cpu_layer(&self, layer: &Layer) -> Result<Arc<CpuLayer>> {
        if layer.cpu.tuned.load(Ordering::Relaxed) {
            return self.copy_layer(layer);
        }
        let mut copy = layer
            .cpu
            .copy
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(built) = copy.as_ref() {
            return Ok(built.clone());
        }
        let built = self.copy_layer(layer)?;
        *copy = Some(built.clone());
        Ok(built)
    }

    fn copy_layer(&self, layer: &Layer) -> Result<Arc<CpuLayer>> {
        CpuLayer::new(LayerTensors {
            query: layer.query.parts(),
            key: layer.key.parts(),
            value: layer.value.parts(),
            attention_out: layer.attention_out.parts(),
            attention_norm: &layer.attention_norm,
            intermediate: layer.intermediate.parts(),
            output: layer.output.parts(),
            output_norm: &layer.output_norm,
            activation: self.activation,
            heads: self.heads,
        })
        .map(Arc::new)
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

/// Each sequence's token count when every mask row is ones then zeros
/// (padding last, as the tokenizer pads); None otherwise.
fn padding_last_lengths(mask: &Tensor) -> Result<Option<Vec<usize>>> {
    let rows = mask.to_dtype(DType::U32)?.to_vec2::<u32>()?;
    Ok(rows
        .iter()
        .map(|row| {
            let len = row.iter().take_while(|&&m| m != 0).count();
            row[len..].iter().all(|&m| m == 0).then_some(len)
        })
        .collect())
}

/// The elements of a contiguous f32 CPU tensor.
fn f32_slice<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
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
        let mut out = f32_slice(storage, layout)?.to_vec();
        out.par_chunks_mut(16 * 1024).for_each(kernels::gelu_erf);
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

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use candle_nn::VarMap;

    /// Largest absolute difference of two tensors of one shape.
    fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .and_then(|d| d.abs())
            .and_then(|d| d.flatten_all())
            .and_then(|d| d.max(0))
            .and_then(|d| d.to_scalar::<f32>())
            .unwrap()
    }

    /// A 3-layer BERT with random weights.
    fn random_bert(activation: HiddenAct) -> Bert {
        let config = Config {
            vocab_size: 50,
            hidden_size: 24,
            num_hidden_layers: 3,
            num_attention_heads: 4,
            intermediate_size: 40,
            hidden_act: activation,
            max_position_embeddings: 32,
            ..Config::default()
        };
        let varmap = VarMap::new();
        let bert = Bert::load(
            VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
            &config,
        )
        .unwrap();
        for var in varmap.all_vars() {
            let random = Tensor::randn(0f32, 0.5, var.shape(), &Device::Cpu).unwrap();
            var.set(&random).unwrap();
        }
        bert
    }

    #[test]
    fn cpu_forward_matches_the_differentiable_forward() {
        let device = Device::Cpu;
        for activation in [HiddenAct::Gelu, HiddenAct::GeluApproximate, HiddenAct::Relu] {
            let bert = random_bert(activation);
            let lengths = [7u32, 3, 1, 7];
            let mask: Vec<u32> = lengths
                .iter()
                .flat_map(|&l| (0..7).map(move |t| u32::from(t < l)))
                .collect();
            let mask = Tensor::from_vec(mask, (4, 7), &device).unwrap();
            let hidden = Tensor::randn(0f32, 1.0, (4, 7, 24), &device).unwrap();
            let fast = bert.encode_frozen(&hidden, &mask, 1..3).unwrap();
            let reference = bert.encode(&hidden, &mask, 1..3).unwrap();
            // Compare real tokens only; the fast path zeroes padding.
            let keep = mask.to_dtype(DType::F32).unwrap().unsqueeze(2).unwrap();
            let reference = reference.broadcast_mul(&keep).unwrap();
            let diff = max_abs_diff(&fast, &reference);
            assert!(diff < 1e-4, "{activation:?}: {diff}");
        }
    }

    #[test]
    fn gelu_op_matches_candle_and_has_its_gradient() {
        let device = Device::Cpu;
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
