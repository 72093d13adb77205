//! BERT features of text items. The frozen bottom of BERT runs once per text
//! (cached); the fine-tuned top layers run per mini-batch with gradients.
//! With no layer fine-tuned, every item's features are computed once.

use std::collections::HashMap;

use candle_core::{Tensor, Var};
use tokenizers::Encoding;

use super::data::TextItem;
use crate::error::{Error, Result};
use crate::tasks::trainer::candle;
use crate::text::{span_tokens, BertEncoder, SplitBert};

/// Texts per BERT call while caching.
const CACHE_BATCH: usize = 32;

pub struct TextSide {
    encoder: BertEncoder,
    split: SplitBert,
    /// Bottom-of-BERT states per text `[tokens, hidden]`.
    states: Vec<Tensor>,
    encodings: Vec<Encoding>,
    texts: Vec<String>,
    tokens: HashMap<(usize, Option<(usize, usize)>), std::rc::Rc<Vec<usize>>>,
    /// Items whose span has no token (e.g. cut at the maximum length); they
    /// fall back to the whole text.
    pub span_issues: usize,
    pub truncated: usize,
    /// Precomputed features (one row per item key), when nothing is fine-tuned.
    frozen: Option<(HashMap<(usize, Option<(usize, usize)>), u32>, Tensor)>,
}

impl TextSide {
    /// Tokenises and caches every text (`progress` gets texts done).
    pub fn new(
        encoder: BertEncoder,
        trainable_layers: usize,
        texts: &[String],
        mut progress: impl FnMut(usize),
    ) -> Result<Self> {
        let split = encoder.split(trainable_layers)?;
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let encodings = encoder.tokenize(&refs)?;
        let truncated = encodings
            .iter()
            .filter(|e| !e.get_overflowing().is_empty())
            .count();
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encodings[i].len());
        let mut states: Vec<Option<Tensor>> = vec![None; texts.len()];
        for chunk in order.chunks(CACHE_BATCH) {
            let batch: Vec<&Encoding> = chunk.iter().map(|&i| &encodings[i]).collect();
            for (&i, state) in chunk.iter().zip(split.bottom(&batch)?) {
                states[i] = Some(state);
            }
            progress(chunk.len());
        }
        Ok(Self {
            encoder,
            split,
            states: states.into_iter().map(|s| s.expect("every text cached")).collect(),
            encodings,
            texts: texts.to_vec(),
            tokens: HashMap::new(),
            span_issues: 0,
            truncated,
            frozen: None,
        })
    }

    /// Width of one item's features (span mean ‖ text mean).
    pub fn feature_dim(&self) -> usize {
        2 * self.encoder.hidden_size()
    }

    pub fn encoder(&self) -> &BertEncoder {
        &self.encoder
    }

    /// The fine-tuned BERT weights (empty when BERT is frozen).
    pub fn trainable_vars(&self) -> Vec<Var> {
        self.encoder.top_layer_vars(self.split.trainable())
    }

    /// Computes every item's features once when nothing is fine-tuned (and
    /// drops the token states, which are no longer needed).
    pub fn freeze(&mut self, items: &[&TextItem]) -> Result<()> {
        if self.split.trainable() > 0 {
            return Ok(());
        }
        let mut rows = HashMap::new();
        let mut unique = Vec::new();
        for item in items {
            rows.entry((item.text, item.span)).or_insert_with(|| {
                unique.push(*item);
                (unique.len() - 1) as u32
            });
        }
        let mut parts = Vec::new();
        for chunk in unique.chunks(256) {
            parts.push(self.compute(chunk)?);
        }
        let table = if parts.is_empty() {
            Tensor::zeros((0, self.feature_dim()), candle_core::DType::F32, self.encoder.device())
        } else {
            Tensor::cat(&parts, 0)
        }
        .map_err(candle)?;
        self.frozen = Some((rows, table));
        self.states.clear();
        Ok(())
    }

    /// Features `[items, 2 · hidden]` of the items, in order.
    pub fn features(&mut self, items: &[&TextItem]) -> Result<Tensor> {
        if let Some((rows, table)) = &self.frozen {
            let index = items
                .iter()
                .map(|i| {
                    rows.get(&(i.text, i.span)).copied().ok_or_else(|| {
                        Error::Model("text item missing from the frozen cache".into())
                    })
                })
                .collect::<Result<Vec<u32>>>()?;
            let index = Tensor::from_vec(index, items.len(), table.device()).map_err(candle)?;
            return table.index_select(&index, 0).map_err(candle);
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
        let (hidden, mask) = self.split.top(&states).map_err(candle)?;
        let (n, longest, width) = hidden.dims3().map_err(candle)?;
        let text_means = crate::text::encoder::masked_mean(&hidden, &mask)
            .and_then(|m| super::model::normalize_rows(&m))
            .map_err(candle)?;
        // Span means: gather the span tokens' rows, sum them per item.
        let mut token_rows = Vec::new();
        let mut owners = Vec::new();
        let mut inverse_counts = Vec::with_capacity(items.len());
        let mut item_texts = Vec::with_capacity(items.len());
        for (position, item) in items.iter().enumerate() {
            let row = text_rows[&item.text];
            item_texts.push(row as u32);
            let tokens = self.tokens_of(item);
            inverse_counts.push(1.0 / tokens.len().max(1) as f32);
            for &t in tokens.iter() {
                token_rows.push((row * longest + t) as u32);
                owners.push(position as u32);
            }
        }
        let device = hidden.device();
        let run = || -> candle_core::Result<Tensor> {
            let flat = hidden.reshape((n * longest, width))?;
            let rows = Tensor::from_vec(token_rows.clone(), token_rows.len(), device)?;
            let owners = Tensor::from_vec(owners.clone(), owners.len(), device)?;
            let gathered = flat.index_select(&rows, 0)?;
            let sums = Tensor::zeros((items.len(), width), gathered.dtype(), device)?
                .index_add(&owners, &gathered, 0)?;
            let counts = Tensor::from_vec(inverse_counts.clone(), (items.len(), 1), device)?;
            let spans = super::model::normalize_rows(&sums.broadcast_mul(&counts)?)?;
            let index = Tensor::from_vec(item_texts.clone(), items.len(), device)?;
            Tensor::cat(&[&spans, &text_means.index_select(&index, 0)?], 1)
        };
        run().map_err(candle)
    }

}

impl TextSide {
    /// Token positions of an item (cached; a span without tokens falls back
    /// to the whole text and is counted in `span_issues`).
    fn tokens_of(&mut self, item: &TextItem) -> std::rc::Rc<Vec<usize>> {
        let key = (item.text, item.span);
        if let Some(tokens) = self.tokens.get(&key) {
            return tokens.clone();
        }
        let encoding = &self.encodings[item.text];
        let tokens = match item.span {
            Some((start, end)) => span_tokens(encoding, &self.texts[item.text], start, end)
                .unwrap_or_else(|_| {
                    self.span_issues += 1;
                    all_tokens(encoding)
                }),
            None => all_tokens(encoding),
        };
        let tokens = std::rc::Rc::new(tokens);
        self.tokens.insert(key, tokens.clone());
        tokens
    }
}

/// Every non-special token.
fn all_tokens(encoding: &Encoding) -> Vec<usize> {
    let special = encoding.get_special_tokens_mask();
    (0..encoding.len()).filter(|&t| special[t] == 0).collect()
}
