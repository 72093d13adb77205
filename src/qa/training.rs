//! Fitting and measuring a question answerer. The model learns, from each
//! training question's relation-path labels (`labels`, or the path a
//! composed question was made from), which relation each hop follows and
//! how many hops the question takes: cross-entropy on both, with equally
//! good paths sharing the target. Validation accuracy of the whole path
//! stops training early; answers are then scored on guided subgraphs, and
//! the answer threshold calibrated for F1.

use std::collections::HashMap;

use candle_core::Tensor;
use oxigraph::model::NamedOrBlankNode;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::path::answer_query;
use super::{EntityLinker, LabelledQuestion, PreparedQuestion, QaModel, Question, Step};
use crate::error::{Error, Result};
use crate::tasks::trainer::{
    train, Checkpointing, EpochRecord, ParamGroup, TrainReport, TrainingTask,
};

/// Trains on labelled questions; validates whole-path accuracy.
pub struct QaTraining<'a> {
    pub model: &'a QaModel,
    pub train: Vec<&'a LabelledQuestion>,
    pub valid: Vec<&'a LabelledQuestion>,
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
            let questions: Vec<&LabelledQuestion> = chunk.iter().map(|&i| self.train[i]).collect();
            total += step(&loss(self.model, &questions)?)?;
            batches += 1;
        }
        Ok(total / batches.max(1) as f64)
    }

    /// Validation path accuracy.
    fn validate(&mut self) -> Result<f64> {
        path_accuracy(self.model, &self.valid)
    }
}

/// Cross-entropy of each hop's relation and of the hop count against the
/// questions' labelled paths (equally good paths share the target).
fn loss(model: &QaModel, questions: &[&LabelledQuestion]) -> Result<Tensor> {
    let states: Vec<&Tensor> = questions.iter().map(|q| &q.tokens).collect();
    let (tokens, mask) = model.token_batch(&states)?;
    let reading = model.network.read(&tokens, &mask)?;
    let (b, hops, relations) = reading.relation_probs.dims3()?;
    let mut relation_target = vec![0f32; b * hops * relations];
    let mut hop_target = vec![0f32; b * hops];
    for (i, q) in questions.iter().enumerate() {
        let share = 1.0 / q.paths.len().max(1) as f32;
        for path in &q.paths {
            hop_target[i * hops + path.len() - 1] += share;
            for (t, &r) in path.iter().enumerate() {
                relation_target[(i * hops + t) * relations + r as usize] += share;
            }
        }
    }
    let device = model.device();
    let run = || -> candle_core::Result<Tensor> {
        let relation_target = Tensor::from_vec(relation_target, (b, hops, relations), device)?;
        let hop_target = Tensor::from_vec(hop_target, (b, hops), device)?;
        let relation_loss = relation_target
            .mul(&reading.relation_probs.clamp(1e-7f32, 1.0)?.log()?)?
            .sum_all()?;
        let hop_loss = hop_target
            .mul(&reading.hop_probs.clamp(1e-7f32, 1.0)?.log()?)?
            .sum_all()?;
        (relation_loss + hop_loss)?.neg()? / b as f64
    };
    run().map_err(Error::from)
}

/// The path a reading takes: the likeliest hop count, and the likeliest
/// relation at each of those hops.
pub fn likeliest_path(relation_probs: &[Vec<f32>], hop_probs: &[f32]) -> Vec<u32> {
    let argmax = |v: &[f32]| {
        (0..v.len())
            .max_by(|&a, &b| v[a].total_cmp(&v[b]).then(b.cmp(&a)))
            .unwrap_or(0)
    };
    relation_probs[..=argmax(hop_probs)]
        .iter()
        .map(|probs| argmax(probs) as u32)
        .collect()
}

/// Share of questions whose likeliest path is one of their labels.
pub fn path_accuracy(model: &QaModel, questions: &[&LabelledQuestion]) -> Result<f64> {
    let states: Vec<&Tensor> = questions.iter().map(|q| &q.tokens).collect();
    let right = questions
        .iter()
        .zip(model.readings(&states)?)
        .filter(|(q, (r, h))| q.paths.contains(&likeliest_path(r, h)))
        .count();
    Ok(right as f64 / questions.len().max(1) as f64)
}

/// A question's node scores, and the evidence (summed path weight) that
/// orders equal scores.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeScores {
    pub scores: Vec<f32>,
    pub evidence: Vec<f32>,
}

impl NodeScores {
    /// Best first: score, then evidence, then subgraph order.
    fn ranks_before(&self, a: usize, b: usize) -> std::cmp::Ordering {
        self.scores[b]
            .total_cmp(&self.scores[a])
            .then(self.evidence[b].total_cmp(&self.evidence[a]))
            .then(a.cmp(&b))
    }

    /// Whether two nodes have the same score and, within rounding, the same evidence.
    fn ties(&self, a: usize, b: usize) -> bool {
        let (x, y) = (self.evidence[a], self.evidence[b]);
        self.scores[a] == self.scores[b] && (x - y).abs() <= 1e-4 * x.abs().max(y.abs()).max(1e-6)
    }
}

/// Every question's node scores, `batch` questions at a time.
pub fn node_scores(
    model: &QaModel,
    questions: &[&PreparedQuestion],
    batch: usize,
) -> Result<Vec<NodeScores>> {
    let mut out = Vec::with_capacity(questions.len());
    for chunk in questions.chunks(batch.max(1)) {
        let output = model.network.forward(&model.batch(chunk)?)?;
        let scores = output.scores.to_vec1::<f32>()?;
        let evidence = output.evidence.to_vec1::<f32>()?;
        let mut at = 0;
        for q in chunk {
            let n = q.subgraph.nodes.len();
            out.push(NodeScores {
                scores: scores[at..at + n].to_vec(),
                evidence: evidence[at..at + n].to_vec(),
            });
            at += n;
        }
    }
    Ok(out)
}

/// The best node that is not a topic entity (by score, then evidence).
pub fn top_node(question: &PreparedQuestion, scored: &NodeScores) -> Option<usize> {
    let topics = question.topic_indexes();
    (0..scored.scores.len())
        .filter(|i| !topics.contains(i))
        .min_by(|&a, &b| scored.ranks_before(a, b))
}

/// The non-topic nodes that tie with the best one, best first.
pub fn tied_with_top(question: &PreparedQuestion, scored: &NodeScores) -> Vec<usize> {
    let Some(top) = top_node(question, scored) else {
        return Vec::new();
    };
    let topics = question.topic_indexes();
    (0..scored.scores.len())
        .filter(|&i| !topics.contains(&i) && scored.ties(i, top))
        .collect()
}

/// The answers of a question: every non-topic node at or above `threshold`,
/// or else the nodes tied at the top, best first.
pub fn answer_nodes(
    question: &PreparedQuestion,
    scored: &NodeScores,
    threshold: f64,
) -> Vec<usize> {
    let topics = question.topic_indexes();
    let mut chosen: Vec<usize> = (0..scored.scores.len())
        .filter(|i| !topics.contains(i) && f64::from(scored.scores[*i]) >= threshold)
        .collect();
    chosen.sort_by(|&a, &b| scored.ranks_before(a, b));
    if chosen.is_empty() {
        chosen = tied_with_top(question, scored);
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
    scores: &[Option<NodeScores>],
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
        if !hit && tied_with_top(q, s).iter().any(|n| q.gold.contains(n)) {
            m.tied_misses += 1.0;
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
    let aligned: Vec<Option<NodeScores>> = questions
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
pub fn calibrate_threshold(questions: &[&PreparedQuestion], scores: &[NodeScores]) -> f64 {
    let wrapped: Vec<Option<&PreparedQuestion>> = questions.iter().map(|q| Some(*q)).collect();
    let scores: Vec<Option<NodeScores>> = scores.iter().cloned().map(Some).collect();
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

/// Trains on the labelled questions (those with a path), stopping early
/// on validation path accuracy.
pub fn fit(
    model: &mut QaModel,
    train_set: &[&LabelledQuestion],
    valid_set: &[&LabelledQuestion],
    batch_size: usize,
    rng: &mut ChaCha8Rng,
    checkpointing: Checkpointing,
    on_epoch: &mut dyn FnMut(&EpochRecord, bool) -> Result<()>,
) -> Result<TrainReport> {
    crate::tasks::trainer::seed_weights(&model.varmap, rng)?;
    fn labelled<'q>(set: &[&'q LabelledQuestion]) -> Vec<&'q LabelledQuestion> {
        set.iter()
            .copied()
            .filter(|q| !q.paths.is_empty())
            .collect()
    }
    let trainer = model.trainer.clone();
    let mut task = QaTraining {
        model: &*model,
        train: labelled(train_set),
        valid: labelled(valid_set),
        batch_size,
    };
    train(
        &mut task,
        ParamGroup::all(&model.varmap),
        &trainer,
        rng,
        checkpointing,
        on_epoch,
    )
}

/// Sets the model's answer threshold for the best mean answer-set F1 on
/// validation questions prepared with it.
pub fn calibrate(model: &mut QaModel, valid_set: &[&PreparedQuestion]) -> Result<()> {
    let scores = node_scores(model, valid_set, 256)?;
    model.threshold = calibrate_threshold(valid_set, &scores);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Subgraph, SubgraphNode};
    use oxigraph::model::NamedNode;

    /// A question over `n` nodes, node 0 its topic.
    fn question(n: usize, gold: Vec<usize>) -> PreparedQuestion {
        let node = |i: usize| SubgraphNode {
            term: NamedNode::new(format!("http://e/{i}")).unwrap().into(),
            hop: usize::from(i > 0),
        };
        PreparedQuestion {
            mentions: Vec::new(),
            topics: vec![node(0).term],
            subgraph: Subgraph {
                nodes: (0..n).map(node).collect(),
                edges: Vec::new(),
            },
            edges: Vec::new(),
            gold_total: gold.len(),
            gold,
            tokens: Tensor::zeros((1, 1), candle_core::DType::F32, &candle_core::Device::Cpu)
                .unwrap(),
        }
    }

    #[test]
    fn equal_scores_are_ordered_by_evidence_and_true_ties_are_answered_together() {
        let q = question(5, vec![3]);
        // Nodes 1 and 3 both score 1 (capped); 3 is reached by two paths.
        let scored = NodeScores {
            scores: vec![0.0, 1.0, 0.2, 1.0, 1.0],
            evidence: vec![0.0, 1.0, 0.2, 2.0, 1.0],
        };
        assert_eq!(top_node(&q, &scored), Some(3));
        assert_eq!(tied_with_top(&q, &scored), vec![3]);
        assert_eq!(answer_nodes(&q, &scored, 0.5), vec![3, 1, 4]);
        // Without the second path, 1, 3 and 4 tie: all three are the answer
        // when none passes the threshold, and a miss on them counts as a tie.
        let level = NodeScores {
            scores: vec![0.0, 0.4, 0.2, 0.4, 0.4],
            evidence: vec![0.0, 0.4, 0.2, 0.4, 0.4],
        };
        assert_eq!(answer_nodes(&q, &level, 0.5), vec![1, 3, 4]);
        let m = evaluate(&[Some(&q)], &[Some(level)], 0.5);
        assert_eq!(m.hits_at_1, 0.0);
        assert_eq!(m.tied_misses, 1.0);
        assert!((m.recall - 1.0).abs() < 1e-9 && (m.precision - 1.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn the_likeliest_path_stops_at_the_likeliest_hop_count() {
        let relation_probs = vec![vec![0.1, 0.9], vec![0.8, 0.2], vec![0.3, 0.7]];
        assert_eq!(
            likeliest_path(&relation_probs, &[0.1, 0.7, 0.2]),
            vec![1, 0]
        );
        assert_eq!(
            likeliest_path(&relation_probs, &[0.1, 0.2, 0.7]),
            vec![1, 0, 1]
        );
    }
}
