//! Fitting and measuring a question answerer: the loss (binary
//! cross-entropy per node, positives and negatives weighted to count alike
//! in each question), Hits@1 for early stopping, the answer threshold
//! calibrated for F1, and answers with their supporting paths.

use std::collections::HashMap;

use candle_core::Tensor;
use oxigraph::model::NamedOrBlankNode;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::path::answer_query;
use super::{EntityLinker, PreparedQuestion, QaModel, Question, Step};
use crate::error::{Error, Result};
use crate::tasks::trainer::{
    train, Checkpointing, EpochRecord, ParamGroup, TrainReport, TrainingTask,
};

/// Trains on questions whose subgraph holds a gold answer; validates Hits@1.
pub struct QaTraining<'a> {
    pub model: &'a QaModel,
    pub train: Vec<&'a PreparedQuestion>,
    pub valid: Vec<&'a PreparedQuestion>,
    pub batch_size: usize,
}

impl TrainingTask for QaTraining<'_> {
    fn train_epoch(
        &mut self,
        rng: &mut ChaCha8Rng,
        step: &mut dyn FnMut(&Tensor) -> Result<f64>,
    ) -> Result<f64> {
        let mut order: Vec<usize> = (0..self.train.len()).collect();
        order.shuffle(rng);
        let (mut total, mut batches) = (0.0, 0usize);
        for chunk in order.chunks(self.batch_size.max(1)) {
            let questions: Vec<&PreparedQuestion> = chunk.iter().map(|&i| self.train[i]).collect();
            total += step(&loss(self.model, &questions)?)?;
            batches += 1;
        }
        Ok(total / batches.max(1) as f64)
    }

    fn validate(&mut self) -> Result<f64> {
        let scores = node_scores(self.model, &self.valid, 256)?;
        Ok(self
            .valid
            .iter()
            .zip(&scores)
            .filter(|(q, s)| top_node(q, s).is_some_and(|n| q.gold.contains(&n)))
            .count() as f64
            / self.valid.len().max(1) as f64)
    }

    fn metric_name(&self) -> &'static str {
        "validation Hits@1"
    }
}

/// Weighted binary cross-entropy over every non-topic node of the batch.
fn loss(model: &QaModel, questions: &[&PreparedQuestion]) -> Result<Tensor> {
    let batch = model.batch(questions)?;
    let out = model.network.forward(&batch)?;
    let mut targets = Vec::new();
    let mut weights = Vec::new();
    for q in questions {
        let topics = q.topic_indexes();
        let n = q.subgraph.nodes.len();
        let positives = q.gold.len().max(1) as f32;
        let negatives = (n - q.gold.len() - topics.len()).max(1) as f32;
        for i in 0..n {
            let gold = q.gold.contains(&i);
            targets.push(if gold { 1f32 } else { 0.0 });
            weights.push(if topics.contains(&i) {
                0.0
            } else if gold {
                1.0 / positives
            } else {
                1.0 / negatives
            });
        }
    }
    let device = model.device();
    let run = || -> candle_core::Result<Tensor> {
        let y = Tensor::new(targets.as_slice(), device)?;
        let w = Tensor::new(weights.as_slice(), device)?;
        let s = out.scores.clamp(1e-6f32, 1.0 - 1e-6)?;
        let bce = ((y.mul(&s.log()?)?
            + y.affine(-1.0, 1.0)?.mul(&s.affine(-1.0, 1.0)?.log()?)?)?
        .neg()?
        .mul(&w))?;
        bce.sum_all()? / questions.len() as f64
    };
    run().map_err(Error::from)
}

/// Every question's node scores, `batch` questions at a time.
pub fn node_scores(
    model: &QaModel,
    questions: &[&PreparedQuestion],
    batch: usize,
) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(questions.len());
    for chunk in questions.chunks(batch.max(1)) {
        let scores = model
            .network
            .forward(&model.batch(chunk)?)
            .and_then(|o| o.scores.to_vec1::<f32>())?;
        let mut at = 0;
        for q in chunk {
            let n = q.subgraph.nodes.len();
            out.push(scores[at..at + n].to_vec());
            at += n;
        }
    }
    Ok(out)
}

/// The highest-scoring node that is not a topic entity (ties: the first).
pub fn top_node(question: &PreparedQuestion, scores: &[f32]) -> Option<usize> {
    let topics = question.topic_indexes();
    (0..scores.len()).filter(|i| !topics.contains(i)).fold(
        None,
        |best: Option<usize>, i| match best {
            Some(b) if scores[b] >= scores[i] => Some(b),
            _ => Some(i),
        },
    )
}

/// The answers of a question: every non-topic node at or above `threshold`,
/// or the top node when none is, best first.
pub fn answer_nodes(question: &PreparedQuestion, scores: &[f32], threshold: f64) -> Vec<usize> {
    let topics = question.topic_indexes();
    let mut chosen: Vec<usize> = (0..scores.len())
        .filter(|i| !topics.contains(i) && f64::from(scores[*i]) >= threshold)
        .collect();
    chosen.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    if chosen.is_empty() {
        chosen.extend(top_node(question, scores));
    }
    chosen
}

/// Hits@1 and answer-set quality over a question set.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QaMetrics {
    pub questions: usize,
    /// Share of all questions whose top answer is gold (unlinkable and
    /// unreachable questions count as misses).
    pub hits_at_1: f64,
    /// Share of questions with a gold answer in the retrieved subgraph.
    pub reachable: f64,
    /// Hits@1 over the reachable questions only.
    pub hits_at_1_reachable: f64,
    /// Share of questions missed although a gold answer tied the top score
    /// (e.g. two films of one title merged into one node).
    pub tied_misses: f64,
    /// Answer-set precision, recall and F1 at the threshold, averaged over questions.
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub threshold: f64,
}

/// Metrics of a question set; `None` entries are questions that could not be
/// linked (they count as misses).
pub fn evaluate(
    questions: &[Option<&PreparedQuestion>],
    scores: &[Option<Vec<f32>>],
    threshold: f64,
) -> QaMetrics {
    let mut m = QaMetrics {
        questions: questions.len(),
        threshold,
        ..QaMetrics::default()
    };
    let (mut reachable, mut hits_reachable) = (0usize, 0usize);
    for (q, s) in questions.iter().zip(scores) {
        let (Some(q), Some(s)) = (q, s) else {
            continue;
        };
        let top = top_node(q, s);
        let hit = top.is_some_and(|n| q.gold.contains(&n));
        if let (false, Some(t)) = (hit, top) {
            if q.gold.iter().any(|&g| s[g] == s[t]) {
                m.tied_misses += 1.0;
            }
        }
        if !q.gold.is_empty() {
            reachable += 1;
            hits_reachable += usize::from(hit);
        }
        m.hits_at_1 += f64::from(u8::from(hit));
        let answers = answer_nodes(q, s, threshold);
        let right = answers.iter().filter(|a| q.gold.contains(a)).count() as f64;
        let precision = right / answers.len().max(1) as f64;
        let recall = right / q.gold_total.max(1) as f64;
        m.precision += precision;
        m.recall += recall;
        if precision + recall > 0.0 {
            m.f1 += 2.0 * precision * recall / (precision + recall);
        }
    }
    let n = m.questions.max(1) as f64;
    m.hits_at_1 /= n;
    m.tied_misses /= n;
    m.precision /= n;
    m.recall /= n;
    m.f1 /= n;
    m.reachable = reachable as f64 / n;
    m.hits_at_1_reachable = hits_reachable as f64 / reachable.max(1) as f64;
    m
}

/// [`evaluate`] at the model's threshold, scoring the questions that were
/// prepared (`None`: not linkable, a miss).
pub fn measure<'a>(
    model: &QaModel,
    questions: impl IntoIterator<Item = Option<&'a PreparedQuestion>>,
) -> Result<QaMetrics> {
    let questions: Vec<Option<&PreparedQuestion>> = questions.into_iter().collect();
    let present: Vec<&PreparedQuestion> = questions.iter().flatten().copied().collect();
    let mut scores = node_scores(model, &present, 256)?.into_iter();
    let aligned: Vec<Option<Vec<f32>>> = questions
        .iter()
        .map(|q| q.and_then(|_| scores.next()))
        .collect();
    Ok(evaluate(&questions, &aligned, model.threshold))
}

/// How often questions asked without brackets were linked to the entities
/// their bracketed form names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LinkingAccuracy {
    /// Questions whose brackets name entities of the store.
    pub questions: usize,
    /// Of those, the ones linked to exactly the bracketed entities (an
    /// unlinkable question is wrong).
    pub correct: usize,
}

impl LinkingAccuracy {
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.questions.max(1) as f64
    }
}

/// Compares the topics of `prepared` (the questions prepared with their
/// brackets stripped, `None`: unlinkable) with the entities `bracketed`
/// names, question by question.
pub fn linking_accuracy(
    linker: &EntityLinker,
    bracketed: &[Question],
    prepared: &[Option<PreparedQuestion>],
) -> LinkingAccuracy {
    let mut out = LinkingAccuracy::default();
    for (question, prepared) in bracketed.iter().zip(prepared) {
        let topics = prepared.as_ref().map_or(&[][..], |p| p.topics.as_slice());
        if let Some(agrees) = linker.agrees_with_brackets(&question.text, topics) {
            out.questions += 1;
            out.correct += usize::from(agrees);
        }
    }
    out
}

/// The threshold in 0.05 … 0.95 with the best mean answer-set F1.
pub fn calibrate_threshold(questions: &[&PreparedQuestion], scores: &[Vec<f32>]) -> f64 {
    let wrapped: Vec<Option<&PreparedQuestion>> = questions.iter().map(|q| Some(*q)).collect();
    let scores: Vec<Option<Vec<f32>>> = scores.iter().cloned().map(Some).collect();
    (1..20)
        .map(|i| f64::from(i) * 0.05)
        .map(|t| (t, evaluate(&wrapped, &scores, t).f1))
        .fold((0.5, f64::NEG_INFINITY), |best, (t, f1)| {
            if f1 > best.1 {
                (t, f1)
            } else {
                best
            }
        })
        .0
}

/// A path from a topic entity to an answer.
#[derive(Debug, Clone, Serialize)]
pub struct AnswerPath {
    /// The entities along the path, topic first, as subgraph indexes.
    #[serde(skip)]
    pub nodes: Vec<usize>,
    pub steps: Vec<Step>,
    /// The model's probability of each step's relation at its hop.
    pub step_weights: Vec<f64>,
    /// Product of the relation probabilities along it, times its hop weight.
    pub weight: f64,
    /// SELECT returning every answer of this relation path from the topic.
    pub sparql: String,
}

/// The best `limit` paths from the topics to each answer, ranked by the
/// model's relation and hop probabilities. `relation_probs[t][r]` and
/// `hop_probs[t]` are the question's rows of the model's output.
pub fn answer_paths(
    model: &QaModel,
    question: &PreparedQuestion,
    answers: &[usize],
    relation_probs: &[Vec<f32>],
    hop_probs: &[f32],
    limit: usize,
) -> HashMap<usize, Vec<AnswerPath>> {
    let mut outgoing: HashMap<u32, Vec<(u32, u32)>> = HashMap::new();
    for &(s, r, t) in &question.edges {
        outgoing.entry(s).or_default().push((r, t));
    }
    let wanted: std::collections::HashSet<usize> = answers.iter().copied().collect();
    let mut found: HashMap<usize, Vec<AnswerPath>> = HashMap::new();
    // Depth-first over (node, relations so far, weight so far), pruning paths
    // the model gives almost no weight.
    let mut stack: Vec<(Vec<usize>, Vec<u32>, f64)> = question
        .topic_indexes()
        .map(|t| (vec![t], Vec::new(), 1.0))
        .collect();
    let probability = |hop: usize, r: u32| f64::from(relation_probs[hop][r as usize]);
    while let Some((nodes, relations, weight)) = stack.pop() {
        let hop = relations.len();
        let last = *nodes.last().expect("paths start at a topic");
        if hop > 0 && wanted.contains(&last) {
            let steps: Vec<Step> = relations.iter().map(|&r| model.step(r)).collect();
            let topic: &NamedOrBlankNode = &question.subgraph.nodes[nodes[0]].term;
            found.entry(last).or_default().push(AnswerPath {
                sparql: answer_query(topic, &steps),
                step_weights: relations
                    .iter()
                    .enumerate()
                    .map(|(t, &r)| probability(t, r))
                    .collect(),
                nodes: nodes.clone(),
                steps,
                weight: weight * f64::from(hop_probs[hop - 1]),
            });
        }
        if hop == relation_probs.len() {
            continue;
        }
        for &(r, next) in outgoing.get(&(last as u32)).map_or(&[][..], Vec::as_slice) {
            let w = weight * probability(hop, r);
            if w >= 1e-4 && !nodes.contains(&(next as usize)) {
                let mut more = nodes.clone();
                more.push(next as usize);
                let mut rels = relations.clone();
                rels.push(r);
                stack.push((more, rels, w));
            }
        }
    }
    for paths in found.values_mut() {
        paths.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        // Paths the model barely follows are not support.
        let floor = paths.first().map_or(0.0, |p| p.weight / 10.0);
        paths.retain(|p| p.weight >= floor);
        paths.truncate(limit);
    }
    found
}

/// A deterministic split of `n` questions: `(train, valid)` indexes, the
/// validation share drawn by a generator seeded with `seed`.
pub fn split(n: usize, valid_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    use rand::SeedableRng;
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let valid = ((n as f64 * valid_fraction).round() as usize).min(n);
    let (valid, train) = order.split_at(valid);
    let (mut train, mut valid) = (train.to_vec(), valid.to_vec());
    train.sort_unstable();
    valid.sort_unstable();
    (train, valid)
}

/// Trains on the questions with a reachable answer, stops early on
/// validation Hits@1, and sets the answer threshold for the best validation F1.
pub fn fit(
    model: &mut QaModel,
    train_set: &[&PreparedQuestion],
    valid_set: &[&PreparedQuestion],
    batch_size: usize,
    rng: &mut ChaCha8Rng,
    checkpointing: Checkpointing,
    on_epoch: &mut dyn FnMut(&EpochRecord, bool) -> Result<()>,
) -> Result<TrainReport> {
    crate::tasks::trainer::seed_weights(&model.varmap, rng)?;
    let reachable: Vec<&PreparedQuestion> = train_set
        .iter()
        .copied()
        .filter(|q| !q.gold.is_empty())
        .collect();
    let trainer = model.trainer.clone();
    let report = {
        let mut task = QaTraining {
            model: &*model,
            train: reachable,
            valid: valid_set.to_vec(),
            batch_size,
        };
        train(
            &mut task,
            ParamGroup::all(&model.varmap),
            &trainer,
            rng,
            checkpointing,
            on_epoch,
        )?
    };
    let scores = node_scores(model, valid_set, 256)?;
    model.threshold = calibrate_threshold(valid_set, &scores);
    Ok(report)
}
