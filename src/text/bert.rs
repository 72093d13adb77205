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

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Module, Result, Shape, Tensor, Var};
use candle_nn::{Embedding, LayerNorm, VarBuilder};
use candle_transformers::models::bert::{Config, HiddenAct};
use rayon::prelude::*;

use super::cpu_forward::{self, CpuLayer, LayerTensors};
use super::kernels;
use super::lora::{Adapter, AdapterState, LoraConfig};

/// `x W^T + b` over the last dimension, as one matmul over all leading ones,
/// plus a LoRA adapter's update when it has one.
#[derive(Debug, Clone)]
struct Projection {
    weight: Tensor,
    bias: Tensor,
    adapter: Option<Adapter>,
}

impl Projection {
    fn load(vb: VarBuilder, input: usize, output: usize) -> Result<Self> {
        Ok(Self {
            weight: vb.get((output, input), "weight")?,
            bias: vb.get(output, "bias")?,
            adapter: None,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let input = dims[dims.len() - 1];
        let rows = x.elem_count() / input;
        let mut out_dims = dims;
        let last = out_dims.len() - 1;
        out_dims[last] = self.weight.dim(0)?;
        let x = x.reshape((rows, input))?;
        let mut out = x.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)?;
        if let Some(adapter) = &self.adapter {
            out = (out + adapter.forward(&x)?)?;
        }
        out.reshape(out_dims)
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

impl Layer {
    /// The projections that take adapters, by their checkpoint names.
    fn projections_mut(&mut self) -> [(&'static str, &mut Projection); 6] {
        [
            ("attention.self.query", &mut self.query),
            ("attention.self.key", &mut self.key),
            ("attention.self.value", &mut self.value),
            ("attention.output.dense", &mut self.attention_out),
            ("intermediate.dense", &mut self.intermediate),
            ("output.dense", &mut self.output),
        ]
    }

    fn has_adapters(&self) -> bool {
        [
            &self.query,
            &self.key,
            &self.value,
            &self.attention_out,
            &self.intermediate,
            &self.output,
        ]
        .iter()
        .any(|p| p.adapter.is_some())
    }
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
    /// The layer norms' epsilon.
    eps: f32,
    /// Shared by the adapters of [`Bert::add_adapters`] (and by clones).
    adapters: Option<Arc<AdapterState>>,
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
            eps: config.layer_norm_eps as f32,
            adapters: None,
        })
    }

    /// Puts a LoRA adapter on every projection of `layers` (replacing any)
    /// and freezes those projections' weights: from now on gradients reach
    /// the adapters only. Returns the adapters' weights named after their
    /// projection (`encoder.layer.N.attention.self.query.lora_a`, `…lora_b`).
    /// Clones made before this call do not see the adapters.
    pub fn add_adapters(
        &mut self,
        layers: Range<usize>,
        config: LoraConfig,
    ) -> Result<Vec<(String, Var)>> {
        let state = AdapterState::new(config);
        let mut vars = Vec::new();
        for i in layers {
            for (name, projection) in self.layers[i].projections_mut() {
                // Same storage, no gradient: merging writes through the Var.
                projection.weight = projection.weight.detach();
                projection.bias = projection.bias.detach();
                let adapter = Adapter::new(&projection.weight, state.clone())?;
                let base = format!("encoder.layer.{i}.{name}");
                vars.push((format!("{base}.lora_a"), adapter.a.clone()));
                vars.push((format!("{base}.lora_b"), adapter.b.clone()));
                projection.adapter = Some(adapter);
            }
        }
        self.adapters = Some(state);
        Ok(vars)
    }

    /// Turns the adapters' dropout on (training) or off (inference).
    pub fn set_adapter_training(&self, on: bool) {
        if let Some(state) = &self.adapters {
            state.set_training(on);
        }
    }

    /// Removes the adapters and returns, for each adapted projection, its
    /// weight's name (as in [`Bert::add_adapters`], `….weight`) and the
    /// merged weight `W + scale · B A`, for the caller to write into the
    /// weight's variable (which the projection reads).
    pub fn take_merged_adapters(&mut self) -> Result<Vec<(String, Tensor)>> {
        let mut merged = Vec::new();
        for (i, layer) in self.layers.iter_mut().enumerate() {
            for (name, projection) in layer.projections_mut() {
                if let Some(adapter) = projection.adapter.take() {
                    let weight = (&projection.weight + adapter.delta()?)?;
                    merged.push((format!("encoder.layer.{i}.{name}.weight"), weight));
                }
            }
        }
        self.adapters = None;
        Ok(merged)
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
        // The CPU pass reads the base weights only.
        let adapted = self.layers[layers.clone()].iter().any(Layer::has_adapters);
        let lengths = padding_last_lengths(mask)?.filter(|_| !adapted);
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
        // Not candle-nn's `softmax_last_dim`: it has no backward pass either.
        let probs = candle_nn::ops::softmax(&scores, candle_core::D::Minus1)?;
        let context = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .reshape((batch, tokens, hidden))?;
        let attended = self.norm(
            &layer.attention_norm,
            &(layer.attention_out.forward(&context)? + x)?,
        )?;
        let inner = layer.intermediate.forward(&attended)?;
        let inner = match self.activation {
            HiddenAct::Gelu => gelu_erf(&inner)?,
            HiddenAct::GeluApproximate => inner.gelu()?,
            HiddenAct::Relu => inner.relu()?,
        };
        self.norm(
            &layer.output_norm,
            &(layer.output.forward(&inner)? + attended)?,
        )
    }

    /// Layer norm in candle's differentiable ops: candle-nn's `LayerNorm`
    /// runs a fused kernel without a backward pass, at which gradients
    /// stop, so no layer below a norm (none of BERT) would ever train.
    fn norm(&self, norm: &LayerNorm, x: &Tensor) -> Result<Tensor> {
        match norm.bias() {
            Some(bias) => candle_nn::ops::layer_norm_slow(x, norm.weight(), bias, self.eps),
            None => norm.forward(x),
        }
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
        random_bert_and_weights(activation).1
    }

    /// The same, with the weights' `VarMap`.
    fn random_bert_and_weights(activation: HiddenAct) -> (VarMap, Bert) {
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
        (varmap, bert)
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

    fn lora(rank: usize) -> LoraConfig {
        LoraConfig {
            rank,
            alpha: 8.0,
            dropout: 0.5,
            seed: 7,
        }
    }

    /// Random hidden states `[2, 5, 24]` with a padded second sequence.
    fn states_and_mask() -> (Tensor, Tensor) {
        let device = Device::Cpu;
        let mask = Tensor::new(&[[1u32, 1, 1, 1, 1], [1, 1, 1, 0, 0]], &device).unwrap();
        let hidden = Tensor::randn(0f32, 1.0, (2, 5, 24), &device).unwrap();
        (hidden, mask)
    }

    #[test]
    fn fresh_adapters_leave_the_layers_output_unchanged() {
        let mut bert = random_bert(HiddenAct::Gelu);
        let (hidden, mask) = states_and_mask();
        let base = bert.encode(&hidden, &mask, 1..3).unwrap();
        let vars = bert.add_adapters(1..3, lora(4)).unwrap();
        assert_eq!(
            vars.len(),
            2 * 6 * 2,
            "A and B on six projections of two layers"
        );
        // Dropout on: it multiplies the adapter's input, and B is zero.
        bert.set_adapter_training(true);
        let adapted = bert.encode(&hidden, &mask, 1..3).unwrap();
        assert_eq!(max_abs_diff(&base, &adapted), 0.0);
    }

    #[test]
    fn gradients_reach_every_weight_of_the_fine_tuned_layers() {
        let (varmap, mut bert) = random_bert_and_weights(HiddenAct::Gelu);
        let (hidden, mask) = states_and_mask();
        let weights = Tensor::randn(0f32, 1.0, (2, 5, 24), &Device::Cpu).unwrap();
        let loss = |bert: &Bert| {
            let out = bert.encode(&hidden, &mask, 1..3).unwrap();
            out.mul(&weights).unwrap().sum_all().unwrap()
        };
        // Fine-tuning whole layers: every weight of layers 1 and 2.
        let grads = loss(&bert).backward().unwrap();
        let data = varmap.data().lock().unwrap();
        let tuned: Vec<&String> = data
            .keys()
            .filter(|n| n.starts_with("encoder.layer.1.") || n.starts_with("encoder.layer.2."))
            .collect();
        assert_eq!(tuned.len(), 2 * 16);
        for name in tuned {
            let norm = crate::test_support::gradient_norm(&grads, &data[name]);
            assert!(norm.is_some_and(|n| n > 0.0), "{name}: {norm:?}");
        }
        drop(data);
        // LoRA: every adapter, in the lower layer too.
        let adapters = bert.add_adapters(1..3, lora(4)).unwrap();
        let grads = loss(&bert).backward().unwrap();
        for (name, var) in &adapters {
            let has = grads.get(var.as_tensor()).is_some();
            assert!(has, "{name}: no gradient");
        }
    }

    #[test]
    fn merged_adapters_give_the_adapted_forward() {
        let (varmap, mut bert) = random_bert_and_weights(HiddenAct::Gelu);
        let (hidden, mask) = states_and_mask();
        let base = bert.encode(&hidden, &mask, 0..3).unwrap();
        // A trained adapter: B no longer zero.
        for (_, var) in bert.add_adapters(2..3, lora(2)).unwrap() {
            var.set(&Tensor::randn(0f32, 0.3, var.shape(), &Device::Cpu).unwrap())
                .unwrap();
        }
        let adapted = bert.encode(&hidden, &mask, 0..3).unwrap();
        assert!(
            max_abs_diff(&base, &adapted) > 1e-2,
            "the adapters change the output"
        );
        let merged = bert.take_merged_adapters().unwrap();
        assert_eq!(merged.len(), 6);
        let data = varmap.data().lock().unwrap();
        for (name, weight) in &merged {
            data[name].set(weight).unwrap();
        }
        bert.weights_changed();
        let keep = mask.to_dtype(DType::F32).unwrap().unsqueeze(2).unwrap();
        let adapted = adapted.broadcast_mul(&keep).unwrap();
        // The CPU pass sums in another order: the tolerance of its own test.
        for (out, tolerance) in [
            (bert.encode(&hidden, &mask, 0..3).unwrap(), 1e-5),
            (bert.encode_frozen(&hidden, &mask, 0..3).unwrap(), 1e-4),
        ] {
            let diff = max_abs_diff(&out.broadcast_mul(&keep).unwrap(), &adapted);
            assert!(diff < tolerance, "merged is {diff} off the adapted forward");
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
