//! The graph-only classifier (the R-GCN of [`super::classify`]) as a model
//! folder: trained once on a stratified 60/20/20 split, saved with the
//! names of the nodes and relations it learned, and reopened over a store,
//! the one it was trained on or a later version of it.
//!
//! The R-GCN is transductive: it learns an input per node. A node it never
//! saw enters with a zero input and is scored from the messages of its
//! neighbours; a relation it never saw carries no messages.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use oxigraph::model::{NamedNode, NamedOrBlankNode};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::checkpoint::{self, ModelKind};
use super::classify::{fit, stratified_folds, ClassifyConfig, ClassifyData, NodeClassifier};
use super::metrics::{minority_class, ClassificationMetrics};
use super::trainer::{EpochRecord, TrainReport, TrainerConfig};
use crate::error::{Error, Result};
use crate::gnn::MessageGraph;
use crate::store::Store;

/// What `config.json` holds for a graph-only classifier.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SavedGraphClassifier {
    kind: String,
    label: String,
    class: Option<String>,
    classes: Vec<String>,
    /// The class whose probability is the score (the rarest in training).
    positive_class: usize,
    model: ClassifyConfig,
    trainer: TrainerConfig,
    /// Every node of the training graph, in id order (N-Triples form).
    nodes: Vec<String>,
    /// Every forward relation, in id order; inverse ids follow them.
    relations: Vec<String>,
    /// The entities of the training, validation and test parts.
    split: [Vec<String>; 3],
}

/// Sizes and metrics of a training run.
#[derive(Debug, Clone, Serialize)]
pub struct GraphTrainSummary {
    pub train: usize,
    pub valid: usize,
    pub test: usize,
    pub valid_metrics: ClassificationMetrics,
    pub test_metrics: ClassificationMetrics,
    pub training: TrainReport,
    pub seconds: f64,
}

/// One entity's class probabilities, and its stored class when it has one
/// of the model's classes.
#[derive(Debug, Clone)]
pub struct ScoredEntity {
    pub entity: NamedOrBlankNode,
    pub probabilities: Vec<f32>,
    pub actual: Option<usize>,
}

/// A store's graph in the id space of a trained model: the nodes it knows
/// keep their ids, new ones follow.
pub struct AlignedGraph {
    pub messages: MessageGraph,
    /// The node of each id; `None` for a trained node the store lacks.
    nodes: Vec<Option<NamedOrBlankNode>>,
    ids: HashMap<NamedOrBlankNode, u32>,
    /// The triples `(subject, predicate, object)` behind the messages:
    /// message `i` runs along triple `i % triples.len()`, forward in the
    /// first half and backward in the second.
    pub triples: Vec<(u32, NamedNode, u32)>,
    /// Labelled entities of the store: node → class in the model's classes.
    labels: HashMap<u32, usize>,
}

/// A trained graph-only classifier.
pub struct GraphClassifier {
    saved: SavedGraphClassifier,
    varmap: VarMap,
    model: NodeClassifier,
}

impl GraphClassifier {
    /// Trains on the labelled entities of `data` (read with `label` and
    /// `class`): 60 % train, 20 % validation for early stopping, 20 % test.
    pub fn train(
        data: &ClassifyData,
        label: &NamedNode,
        class: Option<&NamedNode>,
        config: &ClassifyConfig,
        trainer: &TrainerConfig,
        on_epoch: &mut dyn FnMut(&EpochRecord, bool) -> Result<()>,
    ) -> Result<(Self, GraphTrainSummary)> {
        let start = std::time::Instant::now();
        let mut rng = ChaCha8Rng::seed_from_u64(trainer.seed);
        let folds = stratified_folds(&data.examples, 5, &mut rng);
        let (test, valid) = (folds[0].clone(), folds[1].clone());
        let train: Vec<(u32, u32)> = folds[2..].concat();
        if train.is_empty() || valid.is_empty() || test.is_empty() {
            return Err(Error::Data(format!(
                "{} labelled entities are too few to split into training, validation and test sets",
                data.examples.len()
            )));
        }
        let (model, training) = Self::fit(
            data,
            label,
            class,
            config,
            trainer,
            [&train, &valid, &test],
            &mut rng,
            on_epoch,
        )?;
        let logits = model.model.logits(None)?;
        let metrics = |part: &[(u32, u32)]| -> Result<ClassificationMetrics> {
            let nodes: Vec<u32> = part.iter().map(|e| e.0).collect();
            let labels: Vec<u32> = part.iter().map(|e| e.1).collect();
            Ok(ClassificationMetrics::compute(
                &probabilities(&logits, &nodes)?,
                &labels,
                &data.classes,
                model.saved.positive_class,
            ))
        };
        let summary = GraphTrainSummary {
            train: train.len(),
            valid: valid.len(),
            test: test.len(),
            valid_metrics: metrics(&valid)?,
            test_metrics: metrics(&test)?,
            training,
            seconds: start.elapsed().as_secs_f64(),
        };
        Ok((model, summary))
    }

    /// Trains on the `train` examples of `data`, keeping the weights of the
    /// best epoch on `valid`; `test` is only recorded, with the others, as
    /// the model's split.
    #[allow(clippy::too_many_arguments)]
    pub fn fit(
        data: &ClassifyData,
        label: &NamedNode,
        class: Option<&NamedNode>,
        config: &ClassifyConfig,
        trainer: &TrainerConfig,
        [train, valid, test]: [&[(u32, u32)]; 3],
        rng: &mut ChaCha8Rng,
        on_epoch: &mut dyn FnMut(&EpochRecord, bool) -> Result<()>,
    ) -> Result<(Self, TrainReport)> {
        let (varmap, model) = NodeClassifier::on_cpu(data, config)?;
        let training = fit(
            &model,
            &varmap,
            config,
            trainer,
            (train.to_vec(), valid.to_vec()),
            rng,
            on_epoch,
        )?;
        let train_labels: Vec<u32> = train.iter().map(|&(_, c)| c).collect();
        let positive_class = minority_class(&train_labels, data.classes.len());
        let names = |part: &[(u32, u32)]| -> Vec<String> {
            part.iter()
                .map(|&(n, _)| data.nodes[n as usize].to_string())
                .collect()
        };
        let saved = SavedGraphClassifier {
            kind: ModelKind::GraphClassifier.tag().to_owned(),
            label: label.as_str().to_owned(),
            class: class.map(|c| c.as_str().to_owned()),
            classes: data.classes.clone(),
            positive_class,
            model: config.clone(),
            trainer: trainer.clone(),
            nodes: data.nodes.iter().map(ToString::to_string).collect(),
            relations: data
                .relations
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
            split: [names(train), names(valid), names(test)],
        };
        Ok((
            Self {
                saved,
                varmap,
                model,
            },
            training,
        ))
    }

    /// Class probabilities of `nodes` (ids of the graph it was trained on).
    pub fn trained_graph_probabilities(&self, nodes: &[u32]) -> Result<Vec<Vec<f32>>> {
        probabilities(&self.model.logits(None)?, nodes)
    }

    /// Writes the model folder (`config.json`, `model.safetensors`,
    /// `metrics.json`).
    pub fn save(&self, dir: &Path, metrics: &impl Serialize) -> Result<()> {
        checkpoint::save(dir, &self.saved, &self.varmap, metrics)
    }

    /// Opens a model folder written by [`GraphClassifier::save`].
    pub fn open(dir: &Path) -> Result<Self> {
        let saved: SavedGraphClassifier = checkpoint::load_config(dir, ModelKind::GraphClassifier)?;
        // The weights' shapes: the graph itself comes from the store scored.
        let shape = ClassifyData {
            num_nodes: saved.nodes.len(),
            num_relations: 2 * saved.relations.len(),
            edges: Vec::new(),
            examples: Vec::new(),
            classes: saved.classes.clone(),
            nodes: Vec::new(),
            relations: Vec::new(),
        };
        let (mut varmap, model) = NodeClassifier::on_cpu(&shape, &saved.model)?;
        checkpoint::load_weights(dir, &mut varmap)?;
        Ok(Self {
            saved,
            varmap,
            model,
        })
    }

    pub fn label(&self) -> NamedNode {
        NamedNode::new_unchecked(&self.saved.label)
    }

    /// The class whose entities the model scores, if it was trained on one.
    pub fn class(&self) -> Option<NamedNode> {
        self.saved.class.as_deref().map(NamedNode::new_unchecked)
    }

    pub fn classes(&self) -> &[String] {
        &self.saved.classes
    }

    pub fn positive_class(&self) -> usize {
        self.saved.positive_class
    }

    /// `store`'s graph (without the label property) in the model's ids.
    pub fn align(&self, store: &Store) -> Result<AlignedGraph> {
        let data = ClassifyData::graph_of(store, &self.label(), self.class().as_ref())?;
        let known: HashMap<&str, u32> = (0..)
            .zip(&self.saved.nodes)
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let mut nodes: Vec<Option<NamedOrBlankNode>> = vec![None; self.saved.nodes.len()];
        let id_of: Vec<u32> = data
            .nodes
            .iter()
            .map(|node| match known.get(node.to_string().as_str()) {
                Some(&id) => {
                    nodes[id as usize] = Some(node.clone());
                    id
                }
                None => {
                    nodes.push(Some(node.clone()));
                    (nodes.len() - 1) as u32
                }
            })
            .collect();
        let relation_ids: HashMap<&str, u32> = (0..)
            .zip(&self.saved.relations)
            .map(|(i, r)| (r.as_str(), i))
            .collect();
        let forward = data.relations.len() as u32;
        let triples: Vec<(u32, NamedNode, u32)> = data
            .edges
            .iter()
            .filter(|&&(_, p, _)| {
                p < forward && relation_ids.contains_key(data.relations[p as usize].as_str())
            })
            .map(|&(s, p, o)| {
                (
                    id_of[s as usize],
                    data.relations[p as usize].clone(),
                    id_of[o as usize],
                )
            })
            .collect();
        let trained = self.saved.relations.len() as u32;
        let relation = |p: &NamedNode| relation_ids[p.as_str()];
        let edges: Vec<(u32, u32, u32)> = triples
            .iter()
            .map(|(s, p, o)| (*s, relation(p), *o))
            .chain(
                triples
                    .iter()
                    .map(|(s, p, o)| (*o, relation(p) + trained, *s)),
            )
            .collect();
        let messages = MessageGraph::new(nodes.len(), 2 * trained as usize, &edges, &Device::Cpu)?;
        let labels = data
            .examples
            .iter()
            .filter_map(|&(n, c)| {
                let name = &data.classes[c as usize];
                let class = self.saved.classes.iter().position(|k| k == name)?;
                Some((id_of[n as usize], class))
            })
            .collect();
        let ids = data
            .nodes
            .iter()
            .cloned()
            .zip(id_of.iter().copied())
            .collect();
        Ok(AlignedGraph {
            messages,
            nodes,
            ids,
            triples,
            labels,
        })
    }

    /// The entities a prediction scores by default: the members of the
    /// model's class, or the labelled entities when it has no class.
    pub fn default_targets(&self, store: &Store, graph: &AlignedGraph) -> Result<Vec<u32>> {
        let mut targets: Vec<u32> = match self.class() {
            Some(class) => crate::graph::class_members(store, &class)?
                .iter()
                .filter_map(|m| graph.node_id(m))
                .collect(),
            None => graph.labels.keys().copied().collect(),
        };
        targets.sort_unstable();
        Ok(targets)
    }

    /// Class probabilities of the `targets` (node ids of `graph`).
    pub fn score(&self, graph: &AlignedGraph, targets: &[u32]) -> Result<Vec<ScoredEntity>> {
        let logits = self.model.logits_over(&graph.messages)?;
        let probabilities = probabilities(&logits, targets)?;
        Ok(targets
            .iter()
            .zip(probabilities)
            .map(|(&t, probabilities)| ScoredEntity {
                entity: graph.nodes[t as usize]
                    .clone()
                    .expect("targets are in the store"),
                probabilities,
                actual: graph.labels.get(&t).copied(),
            })
            .collect())
    }

    /// Class scores `[nodes, classes]` over `graph` with both messages of
    /// each triple scaled by its weight (`weights`: `[triples]`): the
    /// gradient of a score with respect to the weights says which triples
    /// moved it.
    pub fn logits_with_triple_weights(
        &self,
        graph: &AlignedGraph,
        weights: &Tensor,
    ) -> Result<Tensor> {
        let both_ways = Tensor::cat(&[weights, weights], 0)?;
        let weighted = graph.messages.with_edge_weights(&both_ways)?;
        self.model.logits_over(&weighted)
    }

    /// Metrics over every entity of `store` that has one of the model's
    /// classes as its label (`None`: there is none).
    pub fn evaluate(&self, store: &Store) -> Result<Option<ClassificationMetrics>> {
        let graph = self.align(store)?;
        let mut labelled: Vec<(u32, usize)> = graph.labels.iter().map(|(&n, &c)| (n, c)).collect();
        if labelled.is_empty() {
            return Ok(None);
        }
        labelled.sort_unstable();
        let nodes: Vec<u32> = labelled.iter().map(|e| e.0).collect();
        let probabilities: Vec<Vec<f32>> = self
            .score(&graph, &nodes)?
            .into_iter()
            .map(|s| s.probabilities)
            .collect();
        let labels: Vec<u32> = labelled.iter().map(|e| e.1 as u32).collect();
        Ok(Some(ClassificationMetrics::compute(
            &probabilities,
            &labels,
            &self.saved.classes,
            self.saved.positive_class,
        )))
    }
}

impl AlignedGraph {
    /// The id of `entity`, if the store has it.
    pub fn node_id(&self, entity: &NamedOrBlankNode) -> Option<u32> {
        self.ids.get(entity).copied()
    }

    /// The node of `id`: one of the store's (ids of trained nodes that the
    /// store lacks are never in a triple or a target).
    pub fn node(&self, id: u32) -> &NamedOrBlankNode {
        self.nodes[id as usize]
            .as_ref()
            .expect("only the store's nodes are in its triples")
    }
}

/// Softmax rows of `logits` for `nodes`.
fn probabilities(logits: &Tensor, nodes: &[u32]) -> Result<Vec<Vec<f32>>> {
    let index = Tensor::from_vec(nodes.to_vec(), nodes.len(), logits.device())?;
    logits
        .index_select(&index, 0)
        .and_then(|l| candle_nn::ops::softmax_last_dim(&l))
        .and_then(|p| p.to_vec2::<f32>())
        .map_err(Error::from)
}
