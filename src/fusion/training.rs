//! The joint loss `L = L_task + α·L_graph + β·L_align` and the split of the
//! labelled targets.
//!
//! - `L_task`: cross-entropy of the class scores, plus `view_loss` times
//!   each view head's own cross-entropy (not with the trees view as the
//!   prior, `trees_prior`).
//! - `L_graph`: DistMult link prediction on the edges that touch the batch's
//!   targets, one corrupted head and one corrupted tail per edge.
//! - `L_align`: InfoNCE between each mention span of the batch and the node
//!   it mentions, against the batch's other targets.

use std::collections::BTreeMap;

use candle_core::Tensor;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::data::ItemSource;
use super::model::normalize_rows;
use super::FusionModel;
use crate::error::{Error, Result};
use crate::tasks::metrics::ClassificationMetrics;
use crate::tasks::trainer::{bce_with_logits, dropout, TrainingTask};

/// Edges of the batch's targets scored per step for `L_graph`.
const GRAPH_LOSS_EDGES: usize = 512;

/// Training on `train`, early stopping on `valid` (indices into the targets).
pub struct FusionTraining<'a> {
    pub model: &'a mut FusionModel,
    pub train: Vec<usize>,
    pub valid: Vec<usize>,
    pub batch_size: usize,
}

impl FusionTraining<'_> {
    fn labels(&self, targets: &[usize]) -> Result<Tensor> {
        let labels: Vec<u32> = targets
            .iter()
            .map(|&t| self.model.inputs.targets[t].label.unwrap_or(0))
            .collect();
        Tensor::from_vec(labels, targets.len(), &self.model.device()).map_err(Error::from)
    }

    fn graph_loss(
        &self,
        nodes: &Tensor,
        targets: &[usize],
        rng: &mut ChaCha8Rng,
    ) -> Result<Option<Tensor>> {
        let inputs = &self.model.inputs;
        let mut edges: Vec<usize> = targets
            .iter()
            .flat_map(|&t| inputs.targets[t].incident.iter().copied())
            .collect();
        edges.sort_unstable();
        edges.dedup();
        if edges.is_empty() {
            return Ok(None);
        }
        edges.shuffle(rng);
        edges.truncate(GRAPH_LOSS_EDGES);
        let n = inputs.view.node_count() as u32;
        let (mut heads, mut relations, mut tails, mut truth) = (vec![], vec![], vec![], vec![]);
        for &e in &edges {
            let (s, r, o) = inputs.edges[e];
            for (h, t, y) in [
                (s, o, 1f32),
                (rng.random_range(0..n), o, 0.0),
                (s, rng.random_range(0..n), 0.0),
            ] {
                heads.push(h);
                relations.push(r);
                tails.push(t);
                truth.push(y);
            }
        }
        let device = nodes.device();
        let m = heads.len();
        let run = || -> candle_core::Result<Tensor> {
            let scores = self.model.network.edge_scores(
                nodes,
                &Tensor::from_vec(heads, m, device)?,
                &Tensor::from_vec(relations, m, device)?,
                &Tensor::from_vec(tails, m, device)?,
            )?;
            bce_with_logits(&scores, &Tensor::from_vec(truth, m, device)?)
        };
        run().map(Some).map_err(Error::from)
    }

    fn align_loss(
        &self,
        nodes: &Tensor,
        items: &Tensor,
        targets: &[usize],
        batch_targets: &Tensor,
    ) -> Result<Option<Tensor>> {
        if targets.len() < 2 {
            return Ok(None);
        }
        let mut rows = Vec::new();
        let mut owners = Vec::new();
        let mut next = 0u32;
        for (position, &t) in targets.iter().enumerate() {
            for item in &self.model.inputs.targets[t].items {
                if item.source == ItemSource::Mention {
                    rows.push(next);
                    owners.push(position as u32);
                }
                next += 1;
            }
        }
        if rows.is_empty() {
            return Ok(None);
        }
        let device = nodes.device();
        let temperature = self.model.config().temperature;
        let m = rows.len();
        let run = || -> candle_core::Result<Tensor> {
            let spans =
                normalize_rows(&items.index_select(&Tensor::from_vec(rows, m, device)?, 0)?)?;
            let keys = normalize_rows(&nodes.index_select(batch_targets, 0)?)?;
            let logits = (spans.matmul(&keys.t()?)? / temperature)?;
            candle_nn::loss::cross_entropy(&logits, &Tensor::from_vec(owners, m, device)?)
        };
        run().map(Some).map_err(Error::from)
    }
}

impl TrainingTask for FusionTraining<'_> {
    fn train_epoch(
        &mut self,
        rng: &mut ChaCha8Rng,
        step: &mut dyn FnMut(&Tensor) -> Result<f64>,
    ) -> Result<f64> {
        if let Some(text) = &self.model.text {
            text.set_training(true);
        }
        let mut order = self.train.clone();
        order.shuffle(rng);
        let (mut total, mut batches) = (0.0, 0);
        let config = self.model.config().clone();
        for chunk in order.chunks(self.batch_size.max(1)) {
            let graph = self.model.graph.clone();
            let states = self.model.nodes(&graph, Some(rng))?;
            let batch = self.model.batch(chunk)?;
            let p = config.dropout;
            let output = self
                .model
                .network
                .forward(&batch, states.as_ref(), &mut |x| {
                    dropout(x, p, rng).map_err(|e| candle_core::Error::Msg(e.to_string()))
                })?;
            let labels = self.labels(chunk)?;
            let mut loss = candle_nn::loss::cross_entropy(&output.logits, &labels)?;
            // With the trees view as the network's prior, the heads learn a
            // correction to it together: a head trained alone would add again
            // what the trees already say.
            if config.view_loss > 0.0 && !config.trees_prior {
                for (_, view) in &output.views {
                    let l = candle_nn::loss::cross_entropy(view, &labels)
                        .and_then(|l| l * config.view_loss)?;
                    loss = (loss + l)?;
                }
            }
            if let Some(nodes) = states.as_ref().map(|s| &s.hidden) {
                if config.alpha > 0.0 {
                    if let Some(l) = self.graph_loss(nodes, chunk, rng)? {
                        loss = (loss + (l * config.alpha)?)?;
                    }
                }
                if let (true, Some(items)) = (config.beta > 0.0, &output.items) {
                    if let Some(l) = self.align_loss(nodes, items, chunk, &batch.targets)? {
                        loss = (loss + (l * config.beta)?)?;
                    }
                }
            }
            total += step(&loss)?;
            batches += 1;
        }
        if let Some(text) = &self.model.text {
            text.set_training(false);
        }
        Ok(total / f64::from(batches.max(1)))
    }

    /// The mean cross-entropy (log loss). Accuracy on a small
    /// validation set moves in steps of one entity and rewards an
    /// overconfident correction of the trees view that ranks worse; the
    /// log loss scores every probability.
    fn validate(&mut self) -> Result<f64> {
        let valid = self.valid.clone();
        let probabilities = self.model.probabilities(&valid)?;
        let loss: f64 = probabilities
            .iter()
            .zip(&valid)
            .map(|(p, &t)| {
                let y = self.model.inputs.targets[t].label.unwrap_or(0) as usize;
                entity_log_loss(p, y)
            })
            .sum();
        Ok(loss / valid.len().max(1) as f64)
    }

    fn lower_is_better(&self) -> bool {
        true
    }

    /// With the trees prior the untrained network is the trees view.
    fn starts_as_a_model(&self) -> bool {
        self.model.config().trees_prior
    }
}

/// Metrics of the model on targets (all must be labelled).
pub fn evaluate(model: &mut FusionModel, targets: &[usize]) -> Result<ClassificationMetrics> {
    let probabilities = model.probabilities(targets)?;
    let labels: Vec<u32> = targets
        .iter()
        .map(|&t| model.inputs.targets[t].label.unwrap_or(0))
        .collect();
    Ok(ClassificationMetrics::compute(
        &probabilities,
        &labels,
        &model.vocab.classes,
        model.positive_class,
    ))
}

/// A deterministic stratified split of the labelled targets into train,
/// validation and test (`fractions` of each class for the last two).
pub fn stratified_split(
    labels: &[(usize, u32)],
    valid_fraction: f64,
    test_fraction: f64,
    rng: &mut ChaCha8Rng,
) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let mut by_class: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for &(t, c) in labels {
        by_class.entry(c).or_default().push(t);
    }
    let (mut train, mut valid, mut test) = (vec![], vec![], vec![]);
    for (_, mut members) in by_class {
        members.shuffle(rng);
        // Every class with two members or more gets at least one held-out
        // example in each non-empty part.
        let n = members.len() as f64;
        let share = |fraction: f64| match (n * fraction).round() as usize {
            0 if fraction > 0.0 && members.len() > 1 => 1,
            k => k,
        };
        let (n_test, n_valid) = (share(test_fraction), share(valid_fraction));
        test.extend(members.drain(..n_test.min(members.len())));
        valid.extend(members.drain(..n_valid.min(members.len())));
        train.extend(members);
    }
    train.sort_unstable();
    valid.sort_unstable();
    test.sort_unstable();
    (train, valid, test)
}

/// One entity's log loss: `−ln p` of its class's probability (floored, so
/// a confident mistake costs much but not infinitely).
pub(super) fn entity_log_loss(probabilities: &[f32], class: usize) -> f64 {
    -f64::from(probabilities[class].max(1e-7)).ln()
}
