//! BERT features of text items: the mean of a span's tokens next to the
//! mean of its sentence's (the context that says what is said about the
//! entity). The frozen bottom of BERT runs once per text
//! (cached); the fine-tuned top layers run per mini-batch with gradients.
//! With no layer fine-tuned, every item's features are computed once.

use std::collections::HashMap;

use candle_core::{Tensor, Var};
use tokenizers::Encoding;

use super::data::TextItem;
use crate::error::{Error, Result};
use crate::text::{span_tokens, BertEncoder, LoraConfig, SplitBert};

/// An item by its text's index and its span (none: the whole text).
type ItemKey = (usize, Option<(usize, usize)>);
/// Token positions of an item's span and of the sentence around it.
type ItemTokens = std::sync::Arc<(Vec<usize>, Vec<usize>)>;

/// Texts per BERT call while caching.
const CACHE_BATCH: usize = 32;

pub struct TextSide {
    encoder: BertEncoder,
    split: SplitBert,
    /// Bottom-of-BERT states per text `[tokens, hidden]`.
    states: Vec<Tensor>,
    encodings: Vec<Encoding>,
    texts: Vec<String>,
    tokens: HashMap<ItemKey, ItemTokens>,
    /// Items whose span has no token (e.g. cut at the maximum length); they
    /// fall back to the whole text.
    pub span_issues: usize,
    pub truncated: usize,
    /// Precomputed features (one row per item key), when nothing is fine-tuned.
    frozen: Option<(HashMap<ItemKey, u32>, Tensor)>,
}

impl TextSide {
    /// Tokenises and caches every text (`progress` gets texts done). With
    /// `lora` on, the top `trainable_layers` layers get adapters and keep
    /// their own weights; else those layers are fine-tuned whole.
    pub fn new(
        mut encoder: BertEncoder,
        trainable_layers: usize,
        lora: LoraConfig,
        texts: &[String],
        mut progress: impl FnMut(usize),
    ) -> Result<Self> {
        if lora.enabled() && trainable_layers > 0 {
            encoder.add_adapters(trainable_layers, lora)?;
        }
        Self::with_states(encoder, trainable_layers, texts, |split, encodings| {
            split.bottom_all(encodings, CACHE_BATCH, &mut progress)
        })
    }

    /// A side over `texts`, tokenised, whose bottom states `states` gives.
    fn with_states(
        encoder: BertEncoder,
        trainable_layers: usize,
        texts: &[String],
        states: impl FnOnce(&SplitBert, &[Encoding]) -> Result<Vec<Tensor>>,
    ) -> Result<Self> {
        let split = encoder.split(trainable_layers)?;
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let encodings = encoder.tokenize(&refs)?;
        let truncated = encodings
            .iter()
            .filter(|e| !e.get_overflowing().is_empty())
            .count();
        let states = states(&split, &encodings)?;
        Ok(Self {
            encoder,
            split,
            states,
            encodings,
            texts: texts.to_vec(),
            tokens: HashMap::new(),
            span_issues: 0,
            truncated,
            frozen: None,
        })
    }

    /// Width of one item's features (span mean ‖ sentence mean).
    pub fn feature_dim(&self) -> usize {
        2 * self.encoder.hidden_size()
    }

    pub fn encoder(&self) -> &BertEncoder {
        &self.encoder
    }

    /// The BERT weights training changes: the adapters' when there are
    /// adapters, else the top layers' (empty when BERT is frozen).
    pub fn trainable_vars(&self) -> Vec<Var> {
        if self.encoder.has_adapters() {
            return self.encoder.adapter_vars();
        }
        self.encoder.top_layer_vars(self.split.trainable())
    }

    /// Adapter dropout on while training, off for inference.
    pub fn set_training(&self, on: bool) {
        self.encoder.set_adapter_training(on);
    }

    /// Sets the adapters to a saved model's (`tensors`, every one of them,
    /// by name) and merges them into the weights, so that inference runs a
    /// plain BERT. The cached bottom states stay valid: adapters sit on the
    /// top layers only.
    pub fn merge_adapters(&mut self, tensors: &[(String, Tensor)]) -> Result<()> {
        let expected = self.encoder.adapter_vars().len();
        if tensors.len() != expected {
            return Err(Error::Bert(format!(
                "the model folder holds {} LoRA tensors; its configuration asks for {expected}",
                tensors.len()
            )));
        }
        self.encoder.set_tensors(tensors)?;
        self.encoder.merge_adapters()?;
        self.split = self.encoder.split(self.split.trainable())?;
        Ok(())
    }

    /// A frozen side over `texts` with the features of `items`, taken from
    /// `known` where it holds them (by text and span) and computed with
    /// BERT for the rest: a model trained a moment ago, bound to the store
    /// again, runs BERT only over texts it has not seen.
    pub fn frozen_reusing(
        encoder: BertEncoder,
        texts: &[String],
        items: &[&TextItem],
        known: &FrozenFeatures,
        progress: impl FnMut(usize),
    ) -> Result<Self> {
        let mut unseen: Vec<usize> = items
            .iter()
            .filter(|i| known.row(&texts[i.text], i.span).is_none())
            .map(|i| i.text)
            .collect();
        unseen.sort_unstable();
        unseen.dedup();
        let (hidden, device) = (encoder.hidden_size(), encoder.device().clone());
        let mut side = Self::with_states(encoder, 0, texts, |split, encodings| {
            let unseen_encodings: Vec<Encoding> =
                unseen.iter().map(|&t| encodings[t].clone()).collect();
            // Texts whose every item is known are never read: an empty state.
            let empty = Tensor::zeros((0, hidden), candle_core::DType::F32, &device)?;
            let mut states = vec![empty; texts.len()];
            for (&t, state) in
                unseen
                    .iter()
                    .zip(split.bottom_all(&unseen_encodings, CACHE_BATCH, progress)?)
            {
                states[t] = state;
            }
            Ok(states)
        })?;
        side.freeze_reusing(items, Some(known))?;
        Ok(side)
    }

    /// Computes every item's features once when nothing is fine-tuned (and
    /// drops the token states, which are no longer needed).
    pub fn freeze(&mut self, items: &[&TextItem]) -> Result<()> {
        self.freeze_reusing(items, None)
    }

    fn freeze_reusing(
        &mut self,
        items: &[&TextItem],
        known: Option<&FrozenFeatures>,
    ) -> Result<()> {
        if self.split.trainable() > 0 {
            return Ok(());
        }
        // Known rows first, then the computed ones, in one table.
        let mut known_rows: Vec<u32> = Vec::new();
        let mut computed: Vec<&TextItem> = Vec::new();
        let mut origin: HashMap<ItemKey, (bool, u32)> = HashMap::new();
        for item in items {
            origin.entry((item.text, item.span)).or_insert_with(|| {
                match known.and_then(|k| k.row(&self.texts[item.text], item.span)) {
                    Some(row) => {
                        known_rows.push(row);
                        (true, (known_rows.len() - 1) as u32)
                    }
                    None => {
                        computed.push(*item);
                        (false, (computed.len() - 1) as u32)
                    }
                }
            });
        }
        let device = self.encoder.device().clone();
        let mut parts = Vec::new();
        if let Some(known) = known.filter(|_| !known_rows.is_empty()) {
            let index = Tensor::from_vec(known_rows.clone(), known_rows.len(), &device)?;
            parts.push(known.table.index_select(&index, 0)?);
        }
        for chunk in computed.chunks(256) {
            parts.push(self.compute(chunk)?);
        }
        let table = if parts.is_empty() {
            Tensor::zeros((0, self.feature_dim()), candle_core::DType::F32, &device)
        } else {
            Tensor::cat(&parts, 0)
        }?;
        let offset = known_rows.len() as u32;
        let rows = origin
            .into_iter()
            .map(|(key, (was_known, row))| (key, if was_known { row } else { offset + row }))
            .collect();
        self.frozen = Some((rows, table));
        self.states.clear();
        Ok(())
    }

    /// Every item's frozen features by text and span (`None` while BERT's
    /// top layers are fine-tuned), for [`TextSide::frozen_reusing`].
    pub fn frozen_features(&self) -> Option<FrozenFeatures> {
        let (rows, table) = self.frozen.as_ref()?;
        let mut by_text: HashMap<String, HashMap<Option<(usize, usize)>, u32>> = HashMap::new();
        for (&(text, span), &row) in rows {
            by_text
                .entry(self.texts[text].clone())
                .or_default()
                .insert(span, row);
        }
        Some(FrozenFeatures {
            rows: by_text,
            table: table.clone(),
        })
    }

    /// Features `[items, 2 · hidden]` of the items, in order.
    pub fn features(&mut self, items: &[&TextItem]) -> Result<Tensor> {
        if let Some((rows, table)) = &self.frozen {
            let index = items
                .iter()
                .map(|i| {
                    rows.get(&(i.text, i.span)).copied().ok_or_else(|| {
                        Error::Data("text item missing from the frozen cache".into())
                    })
                })
                .collect::<Result<Vec<u32>>>()?;
            let index = Tensor::from_vec(index, items.len(), table.device())?;
            return table.index_select(&index, 0).map_err(Error::from);
        }
        self.compute(items)
    }

    fn compute(&mut self, items: &[&TextItem]) -> Result<Tensor> {
        let mut text_rows: HashMap<usize, usize> = HashMap::new();
        let mut texts = Vec::new();
        for item in items {
            text_rows.entry(item.text).or_insert_with(|| {
                texts.push(item.text);
                texts.len() - 1
            });
        }
        let states: Vec<&Tensor> = texts.iter().map(|&t| &self.states[t]).collect();
        // Padding is never pooled: items only name real tokens.
        let (hidden, _mask) = self.split.top(&states)?;
        let (n, longest, width) = hidden.dims3()?;
        // Each item pools two token sets: its span, and the sentence around it.
        let mut pools: [(Vec<u32>, Vec<u32>, Vec<f32>); 2] = Default::default();
        for (position, item) in items.iter().enumerate() {
            let row = text_rows[&item.text];
            let tokens = self.tokens_of(item);
            for (pool, set) in pools.iter_mut().zip([&tokens.0, &tokens.1]) {
                pool.2.push(1.0 / set.len().max(1) as f32);
                for &t in set {
                    pool.0.push((row * longest + t) as u32);
                    pool.1.push(position as u32);
                }
            }
        }
        let device = hidden.device();
        let run = || -> candle_core::Result<Tensor> {
            let flat = hidden.reshape((n * longest, width))?;
            let mut means = Vec::with_capacity(2);
            for (rows, owners, inverse_counts) in &pools {
                let rows = Tensor::from_vec(rows.clone(), rows.len(), device)?;
                let owners = Tensor::from_vec(owners.clone(), owners.len(), device)?;
                let gathered = flat.index_select(&rows, 0)?;
                let sums = Tensor::zeros((items.len(), width), gathered.dtype(), device)?
                    .index_add(&owners, &gathered, 0)?;
                let counts = Tensor::from_vec(inverse_counts.clone(), (items.len(), 1), device)?;
                means.push(super::model::normalize_rows(&sums.broadcast_mul(&counts)?)?);
            }
            Tensor::cat(&means, 1)
        };
        run().map_err(Error::from)
    }

    /// Token positions of an item's span and of the sentence around it
    /// (cached; for whole literals both are the whole text). A span without
    /// tokens falls back to the whole text and is counted in `span_issues`.
    fn tokens_of(&mut self, item: &TextItem) -> ItemTokens {
        let key = (item.text, item.span);
        if let Some(tokens) = self.tokens.get(&key) {
            return tokens.clone();
        }
        let encoding = &self.encodings[item.text];
        let text = &self.texts[item.text];
        let tokens = match item.span {
            Some((start, end)) => match span_tokens(encoding, text, start, end) {
                Ok(span) => {
                    let (a, b) = sentence_around(text, start, end);
                    let sentence =
                        span_tokens(encoding, text, a, b).unwrap_or_else(|_| span.clone());
                    (span, sentence)
                }
                Err(_) => {
                    self.span_issues += 1;
                    (all_tokens(encoding), all_tokens(encoding))
                }
            },
            None => (all_tokens(encoding), all_tokens(encoding)),
        };
        let tokens = std::sync::Arc::new(tokens);
        self.tokens.insert(key, tokens.clone());
        tokens
    }
}

/// Frozen item features keyed by the text itself (not its index in one
/// binding's text table) and the span.
pub struct FrozenFeatures {
    /// Each text's items: span to row of `table`.
    rows: HashMap<String, HashMap<Option<(usize, usize)>, u32>>,
    table: Tensor,
}

impl FrozenFeatures {
    fn row(&self, text: &str, span: Option<(usize, usize)>) -> Option<u32> {
        self.rows.get(text)?.get(&span).copied()
    }
}

/// Character range of the sentence holding `start..end`: from after the
/// previous `.`, `!` or `?` followed by a space to the next one.
fn sentence_around(text: &str, start: usize, end: usize) -> (usize, usize) {
    let chars: Vec<char> = text.chars().collect();
    let boundary = |i: usize| {
        matches!(chars[i], '.' | '!' | '?') && chars.get(i + 1).is_none_or(|c| c.is_whitespace())
    };
    let mut a = start.min(chars.len());
    while a > 0 && !boundary(a - 1) {
        a -= 1;
    }
    let mut b = end.min(chars.len());
    while b < chars.len() && !boundary(b) {
        b += 1;
    }
    (a, (b + 1).min(chars.len()))
}

/// Every non-special token.
fn all_tokens(encoding: &Encoding) -> Vec<usize> {
    let special = encoding.get_special_tokens_mask();
    (0..encoding.len()).filter(|&t| special[t] == 0).collect()
}
