//! `BertEncoder`: any BERT checkpoint folder, loaded into our `bert::Bert`
//! with its weights in a `VarMap` (so later stages can fine-tune them), and
//! the `tokenizers` tokenizer.
//! Sentence embeddings are the attention-masked mean of the last hidden
//! states, L2-normalised (as sentence-transformers does); span embeddings pool
//! the tokens that overlap a character span the same way.

use std::path::Path;

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{VarBuilder, VarMap};
use candle_transformers::models::bert::Config;
use serde::Serialize;
use tokenizers::{Encoding, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use super::bert::Bert;
use super::lora::LoraConfig;
use super::model_files::verify;
use crate::error::{Error, Result};
use crate::safetensors_header::{read_header, HeaderError};

/// A loaded BERT with its tokenizer.
pub struct BertEncoder {
    model: Bert,
    tokenizer: Tokenizer,
    varmap: VarMap,
    /// LoRA adapters' weights by name, sorted (empty without adapters).
    adapters: Vec<(String, Var)>,
    config: Config,
    /// `"bert."`-style prefix of the checkpoint's tensor names, if any.
    prefix: String,
    device: Device,
    max_length: usize,
    name: String,
}

/// A text and the character spans (start inclusive, end exclusive, counted
/// in Unicode scalar values) whose embeddings are wanted.
#[derive(Debug, Clone, Default)]
pub struct SpanInput {
    pub text: String,
    pub spans: Vec<(usize, usize)>,
}

impl Embeddings {
    /// One JSON object per input: its text, its sentence vector and its
    /// spans with theirs (`null` for a span without tokens).
    pub fn to_json(&self, inputs: &[SpanInput]) -> Vec<serde_json::Value> {
        inputs
            .iter()
            .enumerate()
            .map(|(i, input)| {
                let spans: Vec<serde_json::Value> = input
                    .spans
                    .iter()
                    .zip(&self.spans[i])
                    .map(|(&(start, end), v)| serde_json::json!({ "start": start, "end": end, "embedding": v }))
                    .collect();
                serde_json::json!({ "text": input.text, "embedding": self.sentences[i], "spans": spans })
            })
            .collect()
    }
}

/// A span that has no embedding, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpanIssue {
    pub text: usize,
    pub span: usize,
    pub reason: String,
}

/// Embeddings of a batch of texts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Embeddings {
    /// One L2-normalised vector per text, in input order.
    pub sentences: Vec<Vec<f32>>,
    /// Per text, per requested span: the pooled, L2-normalised vector, or
    /// `None` when the span has no tokens (see `issues`).
    pub spans: Vec<Vec<Option<Vec<f32>>>>,
    pub issues: Vec<SpanIssue>,
    /// Texts cut at the maximum length.
    pub truncated: usize,
}

/// Parses `cpu`, `cuda`, `cuda:N` or `auto` (CUDA when built with the `cuda`
/// feature and a GPU is present, else CPU).
pub fn parse_device(spec: &str) -> Result<Device> {
    let cuda = |ordinal: usize| {
        Device::new_cuda(ordinal).map_err(|e| {
            Error::Bert(format!(
                "cannot use CUDA device {ordinal}: {e} (build with `--features cuda` on a machine with the CUDA toolkit)"
            ))
        })
    };
    match spec {
        "cpu" => Ok(Device::Cpu),
        "auto" if candle_core::utils::cuda_is_available() => cuda(0),
        "auto" => Ok(Device::Cpu),
        "cuda" => cuda(0),
        other => match other.strip_prefix("cuda:").and_then(|n| n.parse().ok()) {
            Some(ordinal) => cuda(ordinal),
            None => Err(Error::Bert(format!(
                "unknown device {other:?}; use cpu, cuda, cuda:N or auto"
            ))),
        },
    }
}

fn model_error(dir: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    Error::model_folder(&dir, format!("{what}: {e}"))
}

impl BertEncoder {
    /// Loads a checkpoint folder (`config.json`, `model.safetensors`,
    /// `tokenizer.json`); the maximum length is `sentence_bert_config.json`'s
    /// `max_seq_length` when present, else the model's position limit.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        verify(dir)?;
        let config_text = std::fs::read_to_string(dir.join("config.json"))
            .map_err(|e| Error::io(dir.join("config.json"), e))?;
        let config: Config =
            serde_json::from_str(&config_text).map_err(|e| model_error(dir, "config.json", e))?;
        let weights = dir.join("model.safetensors");
        let prefix = tensor_prefix(&weights)?;
        let varmap = VarMap::new();
        let mut vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
        if !prefix.is_empty() {
            vb = vb.pp(prefix.trim_end_matches('.'));
        }
        let model =
            Bert::load(vb, &config).map_err(|e| model_error(dir, "building the model", e))?;
        let mut loaded = varmap.clone();
        loaded
            .load(&weights)
            .map_err(|e| model_error(dir, "model.safetensors", e))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| model_error(dir, "tokenizer.json", e))?;
        tokenizer.with_padding(None);
        let max_length = sentence_max_length(dir).unwrap_or(config.max_position_embeddings);
        let mut encoder = Self {
            model,
            tokenizer,
            varmap,
            adapters: Vec::new(),
            config,
            prefix,
            device: device.clone(),
            max_length,
            name: dir.file_name().map_or_else(
                || dir.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
        };
        encoder.set_max_length(max_length)?;
        Ok(encoder)
    }

    /// Longest input in tokens (special tokens included); longer texts are cut.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    pub fn set_max_length(&mut self, max_length: usize) -> Result<()> {
        let max_length = max_length.min(self.config.max_position_embeddings).max(2);
        self.tokenizer
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| Error::Bert(format!("tokenizer truncation: {e}")))?;
        self.max_length = max_length;
        Ok(())
    }

    pub fn hidden_size(&self) -> usize {
        self.config.hidden_size
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// All weights, for saving. Whoever changes them in place through it
    /// calls [`BertEncoder::weights_changed`] afterwards.
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// Tells the CPU forward that weights were changed in place (it keeps a
    /// copy of them).
    pub fn weights_changed(&self) {
        self.model.weights_changed();
    }

    /// The weights of the top `layers` transformer layers, for an optimizer:
    /// what fine-tuning updates while the embeddings and lower layers stay
    /// frozen. From now on those layers' weights may change at any step, so
    /// the CPU forward reads them afresh on every call.
    pub fn top_layer_vars(&self, layers: usize) -> Vec<Var> {
        let layers = layers.min(self.config.num_hidden_layers);
        let total = self.config.num_hidden_layers;
        self.model.tune(total - layers..total);
        self.top_layers(layers)
            .into_iter()
            .map(|(_, v)| v)
            .collect()
    }

    /// The top `layers` layers' weights by name, sorted.
    fn top_layers(&self, layers: usize) -> Vec<(String, Var)> {
        let first = self.config.num_hidden_layers.saturating_sub(layers);
        let wanted: Vec<String> = (first..self.config.num_hidden_layers)
            .map(|l| format!("{}encoder.layer.{l}.", self.prefix))
            .collect();
        let data = self.varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<(String, Var)> = data
            .iter()
            .filter(|(n, _)| wanted.iter().any(|w| n.starts_with(w)))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The checkpoint folder's name (e.g. `all-MiniLM-L6-v2`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// LoRA adapters on every projection of the top `layers` layers (see
    /// [`super::lora`]); the base weights stay frozen. Call before
    /// [`BertEncoder::split`]: a split made earlier runs without them.
    pub fn add_adapters(&mut self, layers: usize, config: LoraConfig) -> Result<()> {
        if !(0.0..1.0).contains(&config.dropout) || !config.alpha.is_finite() {
            return Err(Error::Bert(format!(
                "LoRA dropout must be in [0, 1) and alpha finite (got {} and {})",
                config.dropout, config.alpha
            )));
        }
        let total = self.config.num_hidden_layers;
        let first = total.saturating_sub(layers);
        let mut adapters = self
            .model
            .add_adapters(first..total, config)
            .map_err(|e| Error::Bert(format!("LoRA adapters: {e}")))?;
        for (name, _) in &mut adapters {
            name.insert_str(0, &self.prefix);
        }
        adapters.sort_by(|a, b| a.0.cmp(&b.0));
        self.adapters = adapters;
        Ok(())
    }

    pub fn has_adapters(&self) -> bool {
        !self.adapters.is_empty()
    }

    /// The adapters' weights, for an optimizer.
    pub fn adapter_vars(&self) -> Vec<Var> {
        self.adapters.iter().map(|(_, v)| v.clone()).collect()
    }

    /// Adapter dropout on (training) or off (inference).
    pub fn set_adapter_training(&self, on: bool) {
        self.model.set_adapter_training(on);
    }

    /// Merges the adapters into the weights they adapt (`W + scale · B A`)
    /// and removes them: the model then runs as a plain BERT, as fast as
    /// one. Splits made earlier keep the adapters; split again.
    pub fn merge_adapters(&mut self) -> Result<()> {
        let mut merged = self
            .model
            .take_merged_adapters()
            .map_err(|e| Error::Bert(format!("merging LoRA adapters: {e}")))?;
        for (name, _) in &mut merged {
            name.insert_str(0, &self.prefix);
        }
        self.adapters.clear();
        self.set_tensors(&merged)
    }

    /// What fine-tuning changes in the top `layers` layers, by name
    /// (copies), for saving a fine-tuned model: the adapters' weights when
    /// there are adapters, else the layers' own weights.
    pub fn top_layer_tensors(&self, layers: usize) -> Vec<(String, Tensor)> {
        let vars = if self.adapters.is_empty() {
            self.top_layers(layers)
        } else {
            self.adapters.clone()
        };
        vars.into_iter()
            .map(|(n, v)| {
                let copy = v
                    .as_tensor()
                    .copy()
                    .unwrap_or_else(|_| v.as_tensor().clone());
                (n, copy)
            })
            .collect()
    }

    /// Overwrites weights by name (a fine-tuned model's top layers, or its
    /// adapters').
    pub fn set_tensors(&self, tensors: &[(String, Tensor)]) -> Result<()> {
        let data = self.varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        let adapter = |name: &String| {
            self.adapters
                .binary_search_by(|(n, _)| n.cmp(name))
                .ok()
                .map(|i| &self.adapters[i].1)
        };
        let set = tensors.iter().try_for_each(|(name, tensor)| {
            let var = data.get(name).or_else(|| adapter(name)).ok_or_else(|| {
                Error::Bert(format!("this BERT has no weight named {name}: the model was fine-tuned from another checkpoint"))
            })?;
            var.set(tensor)
                .map_err(|e| Error::Bert(format!("BERT weight {name}: {e}")))
        });
        // Even a failure part-way may have changed some weights.
        self.model.weights_changed();
        set
    }

    /// Tokenises texts (with special tokens, truncated, offsets in characters).
    pub fn tokenize(&self, texts: &[&str]) -> Result<Vec<Encoding>> {
        self.tokenizer
            .encode_batch_char_offsets(texts.to_vec(), true)
            .map_err(|e| Error::Bert(format!("tokenizing: {e}")))
    }

    /// Last hidden states `[batch, longest, hidden]` and the attention mask
    /// `[batch, longest]` of encodings padded to the longest.
    pub fn forward(&self, encodings: &[&Encoding]) -> Result<(Tensor, Tensor)> {
        let run = || -> candle_core::Result<(Tensor, Tensor)> {
            let (ids, types, mask) = pad_batch(encodings, &self.device)?;
            let hidden = self.model.forward(&ids, &types, &mask)?;
            Ok((hidden, mask))
        };
        run().map_err(|e| Error::Bert(format!("BERT forward: {e}")))
    }

    /// The model cut below its top `trainable` layers, sharing these weights:
    /// fine-tuning runs the frozen bottom once per text and only the top per step.
    pub fn split(&self, trainable: usize) -> Result<SplitBert> {
        let layers = self.config.num_hidden_layers;
        if trainable > layers {
            return Err(Error::Bert(format!(
                "cannot fine-tune {trainable} layers of a {layers}-layer BERT"
            )));
        }
        Ok(SplitBert {
            model: self.model.clone(),
            first_trainable: layers - trainable,
            trainable,
            device: self.device.clone(),
        })
    }

    /// Sentence and span embeddings. Texts are sorted by length and batched
    /// `batch_size` at a time, each batch padded to its longest text only.
    pub fn embed(
        &self,
        inputs: &[SpanInput],
        batch_size: usize,
        mut progress: impl FnMut(usize),
    ) -> Result<Embeddings> {
        let texts: Vec<&str> = inputs.iter().map(|i| i.text.as_str()).collect();
        let encodings = self.tokenize(&texts)?;
        let mut out = Embeddings {
            sentences: vec![Vec::new(); inputs.len()],
            spans: inputs.iter().map(|i| vec![None; i.spans.len()]).collect(),
            issues: Vec::new(),
            truncated: encodings
                .iter()
                .filter(|e| !e.get_overflowing().is_empty())
                .count(),
        };
        for chunk in length_sorted_batches(&encodings, batch_size) {
            let batch: Vec<&Encoding> = chunk.iter().map(|&i| &encodings[i]).collect();
            let (hidden, mask) = self.forward(&batch)?;
            let pooled =
                masked_mean(&hidden, &mask).map_err(|e| Error::Bert(format!("pooling: {e}")))?;
            let rows = pooled
                .to_vec2::<f32>()
                .map_err(|e| Error::Bert(e.to_string()))?;
            for (position, ((&i, row), encoding)) in chunk.iter().zip(rows).zip(&batch).enumerate()
            {
                out.sentences[i] = normalize(row);
                if inputs[i].spans.is_empty() {
                    continue;
                }
                let states = hidden
                    .get(position)
                    .and_then(|t| t.to_vec2::<f32>())
                    .map_err(|e| Error::Bert(e.to_string()))?;
                for (s, &(start, end)) in inputs[i].spans.iter().enumerate() {
                    match span_tokens(encoding, &inputs[i].text, start, end) {
                        Ok(tokens) => {
                            let mut sum = vec![0f32; self.hidden_size()];
                            for &t in &tokens {
                                for (acc, v) in sum.iter_mut().zip(&states[t]) {
                                    *acc += v;
                                }
                            }
                            out.spans[i][s] = Some(normalize(sum));
                        }
                        Err(reason) => out.issues.push(SpanIssue {
                            text: i,
                            span: s,
                            reason,
                        }),
                    }
                }
            }
            progress(chunk.len());
        }
        Ok(out)
    }
}

/// Token positions whose characters overlap `start..end`; special tokens
/// (offsets 0..0 with a special mask) never count.
pub fn span_tokens(
    encoding: &Encoding,
    text: &str,
    start: usize,
    end: usize,
) -> std::result::Result<Vec<usize>, String> {
    let chars = text.chars().count();
    if start >= end || end > chars {
        return Err(format!(
            "span {start}:{end} is empty or outside the text ({chars} characters)"
        ));
    }
    let special = encoding.get_special_tokens_mask();
    let tokens: Vec<usize> = encoding
        .get_offsets()
        .iter()
        .enumerate()
        .filter(|&(t, &(a, b))| special[t] == 0 && a < end && b > start)
        .map(|(t, _)| t)
        .collect();
    if tokens.is_empty() {
        let covered = encoding
            .get_offsets()
            .iter()
            .zip(special)
            .filter(|(_, &s)| s == 0)
            .map(|(&(_, b), _)| b)
            .max()
            .unwrap_or(0);
        return Err(
            if start >= covered && !encoding.get_overflowing().is_empty() {
                format!("span {start}:{end} lies in the part of the text cut at the maximum length")
            } else {
                format!("span {start}:{end} covers no token (only spaces or dropped characters)")
            },
        );
    }
    Ok(tokens)
}

/// A BERT cut in two (see [`BertEncoder::split`]).
pub struct SplitBert {
    /// Shares its weights with the encoder's.
    model: Bert,
    first_trainable: usize,
    trainable: usize,
    device: Device,
}

impl SplitBert {
    /// How many layers the top runs.
    pub fn trainable(&self) -> usize {
        self.trainable
    }

    /// Hidden states after the frozen layers, one `[tokens, hidden]` tensor
    /// per encoding (no padding, detached from any gradient).
    pub fn bottom(&self, encodings: &[&Encoding]) -> Result<Vec<Tensor>> {
        let run = || -> candle_core::Result<Vec<Tensor>> {
            let (ids, types, mask) = pad_batch(encodings, &self.device)?;
            let embedded = self.model.embed(&ids, &types)?;
            let hidden = self
                .model
                .encode_frozen(&embedded, &mask, 0..self.first_trainable)?
                .detach();
            encodings
                .iter()
                .enumerate()
                .map(|(row, e)| hidden.get(row)?.narrow(0, 0, e.len())?.force_contiguous())
                .collect()
        };
        run().map_err(|e| Error::Bert(format!("BERT forward: {e}")))
    }

    /// [`SplitBert::bottom`] of every encoding, in length-sorted batches of
    /// `batch_size` (so little padding is run), in the encodings' order;
    /// `progress` gets texts done.
    pub fn bottom_all(
        &self,
        encodings: &[Encoding],
        batch_size: usize,
        mut progress: impl FnMut(usize),
    ) -> Result<Vec<Tensor>> {
        let mut states: Vec<Option<Tensor>> = vec![None; encodings.len()];
        for chunk in length_sorted_batches(encodings, batch_size) {
            let batch: Vec<&Encoding> = chunk.iter().map(|&i| &encodings[i]).collect();
            for (&i, state) in chunk.iter().zip(self.bottom(&batch)?) {
                states[i] = Some(state);
            }
            progress(chunk.len());
        }
        Ok(states
            .into_iter()
            .map(|s| s.expect("every text run"))
            .collect())
    }

    /// The trainable top layers over bottom states padded to the longest:
    /// `[batch, longest, hidden]`, and the mask `[batch, longest]`.
    pub fn top(&self, states: &[&Tensor]) -> candle_core::Result<(Tensor, Tensor)> {
        let longest = states
            .iter()
            .map(|s| s.dim(0))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let longest = longest.into_iter().max().unwrap_or(0);
        let mut padded = Vec::with_capacity(states.len());
        let mut mask = Vec::with_capacity(states.len() * longest);
        for s in states {
            let len = s.dim(0)?;
            padded.push(s.pad_with_zeros(0, 0, longest - len)?);
            mask.extend((0..longest).map(|t| u32::from(t < len)));
        }
        let hidden = Tensor::stack(&padded, 0)?;
        let mask = Tensor::from_vec(mask, (states.len(), longest), &self.device)?;
        let top = self.first_trainable..self.model.num_layers();
        Ok((self.model.encode(&hidden, &mask, top)?, mask))
    }
}

/// Indexes of `encodings` sorted by token count, `batch_size` at a time, so
/// that each batch pads to its own longest text only.
fn length_sorted_batches(encodings: &[Encoding], batch_size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..encodings.len()).collect();
    order.sort_by_key(|&i| encodings[i].len());
    order
        .chunks(batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

/// Token ids, type ids and attention mask `[batch, longest]`, zero-padded.
fn pad_batch(
    encodings: &[&Encoding],
    device: &Device,
) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
    let longest = encodings.iter().map(|e| e.len()).max().unwrap_or(0);
    let n = encodings.len();
    let mut ids = vec![0u32; n * longest];
    let mut types = vec![0u32; n * longest];
    let mut mask = vec![0u32; n * longest];
    for (row, e) in encodings.iter().enumerate() {
        let at = row * longest;
        ids[at..at + e.len()].copy_from_slice(e.get_ids());
        types[at..at + e.len()].copy_from_slice(e.get_type_ids());
        mask[at..at + e.len()].fill(1);
    }
    let tensor = |data: Vec<u32>| Tensor::from_vec(data, (n, longest), device);
    Ok((tensor(ids)?, tensor(types)?, tensor(mask)?))
}

/// Mean of the hidden states where the mask is 1: `[batch, hidden]`.
pub fn masked_mean(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let mask = mask.to_dtype(hidden.dtype())?.unsqueeze(D::Minus1)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
    summed.broadcast_div(&counts)
}

fn normalize(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

/// `max_seq_length` from sentence-transformers' config, when the folder has one.
fn sentence_max_length(dir: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(dir.join("sentence_bert_config.json")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value.get("max_seq_length")?.as_u64().map(|n| n as usize)
}

/// `""` when the checkpoint's tensors are named `embeddings.…`, `"bert."`
/// when they are `bert.embeddings.…`.
fn tensor_prefix(weights: &Path) -> Result<String> {
    let names = match read_header(weights) {
        Ok(header) => header.names,
        Err(HeaderError::Io(e)) => return Err(Error::io(weights, e)),
        Err(HeaderError::Broken(why)) => {
            return Err(model_error(weights, "reading safetensors", why))
        }
    };
    for prefix in ["", "bert.", "model."] {
        if names
            .iter()
            .any(|n| n == &format!("{prefix}embeddings.word_embeddings.weight"))
        {
            return Ok(prefix.to_owned());
        }
    }
    let mut sample: Vec<&String> = names.iter().take(5).collect();
    sample.sort();
    Err(Error::model_folder(&weights, format!("no BERT embeddings tensor (expected embeddings.word_embeddings.weight); found e.g. {sample:?}"
    )))
}
