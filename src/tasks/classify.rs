//! Node classification on the graph alone: an R-GCN whose last layer emits
//! class scores (as in Schlichtkrull et al.), trained with cross-entropy on
//! the labelled entities, and evaluated by repeated stratified k-fold
//! cross-validation, since benchmark label sets are small (AIFB+: 140 people).

use std::collections::BTreeMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use oxigraph::model::{NamedNode, NamedOrBlankNode};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::trainer::{
    dropout, seed_weights, train, Checkpointing, EpochRecord, ParamGroup, TrainReport,
    TrainerConfig, TrainingTask,
};
use crate::error::{Error, Result};
use crate::gnn::{
    Decomposition, MessageGraph, NeighbourSampler, RgcnConfig, RgcnEncoder, SampledGraph,
};
use crate::graph::{labelled_entities, GraphView, GraphViewOptions};
use crate::store::Store;

/// The graph and the labelled entities, as ids.
#[derive(Debug, Clone)]
pub struct ClassifyData {
    pub num_nodes: usize,
    /// Relations including inverses.
    pub num_relations: usize,
    pub edges: Vec<(u32, u32, u32)>,
    /// `(node, class)` for every labelled entity, sorted by node.
    pub examples: Vec<(u32, u32)>,
    pub classes: Vec<String>,
    /// The node of each id.
    pub nodes: Vec<NamedOrBlankNode>,
    /// The predicate of each forward relation id; inverse ids follow them.
    pub relations: Vec<NamedNode>,
}

impl ClassifyData {
    /// The store's graph without the label property (so labels never leak
    /// into the messages), and the label of every subject that has one;
    /// `class` keeps only entities of that class.
    pub fn from_store(store: &Store, label: &NamedNode, class: Option<&NamedNode>) -> Result<Self> {
        let data = Self::graph_of(store, label, class)?;
        if data.examples.is_empty() {
            return Err(Error::Data(format!(
                "no entity in the graph has a <{}> label",
                label.as_str()
            )));
        }
        Ok(data)
    }

    /// [`ClassifyData::from_store`] for a store that may have no label
    /// at all (one to score, not to train on).
    pub fn graph_of(store: &Store, label: &NamedNode, class: Option<&NamedNode>) -> Result<Self> {
        let options = GraphViewOptions {
            exclude_predicates: vec![label.clone()],
        };
        let view = GraphView::from_store(store, &options)?;
        let labelled = labelled_entities(store, label, class)?;
        let class_ids: BTreeMap<&str, u32> = labelled
            .values()
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .enumerate()
            .map(|(i, v)| (v, i as u32))
            .collect();
        let mut examples: Vec<(u32, u32)> = labelled
            .iter()
            .filter_map(|(entity, value)| Some((view.node_id(entity)?, class_ids[value.as_str()])))
            .collect();
        examples.sort_unstable();
        Ok(Self {
            num_nodes: view.node_count(),
            num_relations: 2 * view.relation_count(),
            edges: view
                .edges_with_inverses()
                .map(|e| (e.source, e.relation, e.target))
                .collect(),
            examples,
            classes: class_ids.into_keys().map(str::to_owned).collect(),
            nodes: view.nodes().to_vec(),
            relations: view.relations().to_vec(),
        })
    }
}

/// Every hyper-parameter of the classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifyConfig {
    pub embedding_dim: usize,
    pub hidden_dim: usize,
    pub decomposition: Decomposition,
    pub dropout: f64,
    /// Mini-batches with neighbour sampling: incoming edges kept per node
    /// and layer, from the targets outwards (empty: full-batch training).
    #[serde(default)]
    pub fanouts: Vec<usize>,
    /// Targets per mini-batch when sampling.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
}

fn default_batch_size() -> usize {
    64
}

/// The training defaults of the R-GCN (`kgfuse train rgcn`): as Schlichtkrull
/// et al. trained it on AIFB, 100 full-batch epochs at 0.01 and no early
/// stopping (patience equal to the epochs).
pub fn default_trainer() -> TrainerConfig {
    TrainerConfig {
        epochs: 100,
        learning_rate: 0.01,
        weight_decay: 5e-4,
        patience: 100,
        warmup_epochs: 0,
        ..TrainerConfig::default()
    }
}

impl Default for ClassifyConfig {
    fn default() -> Self {
        Self {
            embedding_dim: 64,
            hidden_dim: 16,
            decomposition: Decomposition::None,
            dropout: 0.3,
            fanouts: Vec::new(),
            batch_size: default_batch_size(),
        }
    }
}

/// A two-layer R-GCN whose second layer outputs one score per class.
pub struct NodeClassifier {
    encoder: RgcnEncoder,
    graph: MessageGraph,
    /// Present when training samples neighbourhoods.
    sampler: Option<NeighbourSampler>,
    dropout: f64,
}

impl NodeClassifier {
    pub fn load(
        vb: VarBuilder,
        data: &ClassifyData,
        config: &ClassifyConfig,
        device: &Device,
    ) -> Result<Self> {
        let graph = MessageGraph::new(data.num_nodes, data.num_relations, &data.edges, device)?;
        let rgcn = RgcnConfig {
            num_nodes: data.num_nodes,
            num_relations: data.num_relations,
            input_dim: config.embedding_dim,
            layer_dims: vec![config.hidden_dim, data.classes.len()],
            decomposition: config.decomposition,
            dropout: config.dropout,
            learned_input: true,
            residual: false,
        };
        if !config.fanouts.is_empty() && config.fanouts.len() != rgcn.layer_dims.len() {
            return Err(Error::Config(format!(
                "give one fan-out per R-GCN layer ({}), not {}",
                rgcn.layer_dims.len(),
                config.fanouts.len()
            )));
        }
        let sampler = (!config.fanouts.is_empty())
            .then(|| NeighbourSampler::new(data.num_nodes, &data.edges, config.fanouts.clone()));
        Ok(Self {
            encoder: RgcnEncoder::load(vb, &rgcn)?,
            graph,
            sampler,
            dropout: config.dropout,
        })
    }

    /// A new model on the CPU, with the variable map that holds its weights.
    pub fn on_cpu(data: &ClassifyData, config: &ClassifyConfig) -> Result<(VarMap, Self)> {
        let varmap = VarMap::new();
        let model = Self::load(
            VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
            data,
            config,
            &Device::Cpu,
        )?;
        Ok((varmap, model))
    }

    /// Class scores of the local nodes of a sampled subgraph, with dropout.
    fn sampled_logits(&self, sampled: &SampledGraph, rng: &mut ChaCha8Rng) -> Result<Tensor> {
        let device = self
            .graph
            .relations
            .first()
            .map_or(Device::Cpu, |r| r.src.device().clone());
        let graph = MessageGraph::new(
            sampled.nodes.len(),
            self.graph.num_relations,
            &sampled.edges,
            &device,
        )?;
        let nodes = Tensor::new(sampled.nodes.as_slice(), &device)?;
        let input = self.encoder.learned_input(&nodes)?;
        let p = self.dropout;
        self.encoder
            .forward(Some(&input), &graph, &mut |x| {
                dropout(x, p, rng).map_err(|e| candle_core::Error::Msg(e.to_string()))
            })
            .map_err(Error::from)
    }

    /// Class scores of every node `[nodes, classes]`; dropout when `rng` is given.
    pub fn logits(&self, rng: Option<&mut ChaCha8Rng>) -> Result<Tensor> {
        let p = self.dropout;
        let logits = match rng {
            Some(rng) => self.encoder.forward(None, &self.graph, &mut |x| {
                dropout(x, p, rng).map_err(|e| candle_core::Error::Msg(e.to_string()))
            }),
            None => self
                .encoder
                .forward(None, &self.graph, &mut |x| Ok(x.clone())),
        };
        Ok(logits?)
    }

    /// Class scores of every node of `graph`, whose first nodes are the
    /// ones this model learned inputs for; any later node (one it never
    /// saw) enters with a zero input and is scored from its neighbours.
    pub fn logits_over(&self, graph: &MessageGraph) -> Result<Tensor> {
        let known = self.encoder.config().num_nodes;
        let device = graph
            .relations
            .first()
            .map_or(Device::Cpu, |r| r.src.device().clone());
        let ids = Tensor::arange(0u32, known as u32, &device)?;
        let mut input = self.encoder.learned_input(&ids)?;
        if graph.num_nodes > known {
            let unseen = Tensor::zeros(
                (graph.num_nodes - known, self.encoder.config().input_dim),
                DType::F32,
                &device,
            )?;
            input = Tensor::cat(&[&input, &unseen], 0)?;
        }
        self.encoder
            .forward(Some(&input), graph, &mut |x| Ok(x.clone()))
            .map_err(Error::from)
    }

    /// Predicted class of each node in `nodes`.
    pub fn predict(&self, nodes: &[u32]) -> Result<Vec<u32>> {
        predict_from(&self.logits(None)?, nodes)
    }
}

struct ClassifyTraining<'a> {
    model: &'a NodeClassifier,
    train: Vec<(u32, u32)>,
    valid: Vec<(u32, u32)>,
    batch_size: usize,
}

impl TrainingTask for ClassifyTraining<'_> {
    fn train_epoch(
        &mut self,
        rng: &mut ChaCha8Rng,
        step: &mut dyn FnMut(&Tensor) -> Result<f64>,
    ) -> Result<f64> {
        let Some(sampler) = &self.model.sampler else {
            let logits = self.model.logits(Some(rng))?;
            return step(&cross_entropy(&logits, &self.train)?);
        };
        let mut order = self.train.clone();
        order.shuffle(rng);
        let (mut total, mut batches) = (0.0, 0);
        for batch in order.chunks(self.batch_size.max(1)) {
            let seeds: Vec<u32> = batch.iter().map(|e| e.0).collect();
            let sampled = sampler.sample(&seeds, rng);
            let logits = self.model.sampled_logits(&sampled, rng)?;
            // The seeds are the subgraph's first nodes, in their order.
            let local: Vec<(u32, u32)> = batch
                .iter()
                .enumerate()
                .map(|(i, e)| (i as u32, e.1))
                .collect();
            total += step(&cross_entropy(&logits, &local)?)?;
            batches += 1;
        }
        Ok(total / f64::from(batches.max(1)))
    }

    /// Accuracy, with the cross-entropy as a small tie-breaker: on the few
    /// validation entities of a small benchmark accuracy ties often, and the
    /// more confident model should win the tie.
    fn validate(&mut self) -> Result<f64> {
        let logits = self.model.logits(None)?;
        let loss = cross_entropy(&logits, &self.valid)?.to_scalar::<f32>()?;
        Ok(accuracy_of(&logits, &self.valid)? - 1e-3 * f64::from(loss))
    }
}

/// Mean cross-entropy of the examples' class scores.
fn cross_entropy(logits: &Tensor, examples: &[(u32, u32)]) -> Result<Tensor> {
    let device = logits.device();
    let n = examples.len();
    let nodes = Tensor::from_vec(examples.iter().map(|e| e.0).collect(), n, device)?;
    let classes = Tensor::from_vec(examples.iter().map(|e| e.1).collect(), n, device)?;
    logits
        .index_select(&nodes, 0)
        .and_then(|l| candle_nn::loss::cross_entropy(&l, &classes))
        .map_err(Error::from)
}

/// Share of examples whose highest class score is their class.
fn accuracy_of(logits: &Tensor, examples: &[(u32, u32)]) -> Result<f64> {
    let nodes: Vec<u32> = examples.iter().map(|e| e.0).collect();
    let predicted = predict_from(logits, &nodes)?;
    let right = predicted
        .iter()
        .zip(examples)
        .filter(|(p, e)| **p == e.1)
        .count();
    Ok(right as f64 / examples.len().max(1) as f64)
}

fn predict_from(logits: &Tensor, nodes: &[u32]) -> Result<Vec<u32>> {
    let index = Tensor::from_vec(nodes.to_vec(), nodes.len(), logits.device())?;
    logits
        .index_select(&index, 0)
        .and_then(|l| l.argmax(1))
        .and_then(|a| a.to_vec1::<u32>())
        .map_err(Error::from)
}

/// Splits examples into `k` folds with each class spread evenly (shuffled by `rng`).
pub fn stratified_folds(
    examples: &[(u32, u32)],
    k: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<Vec<(u32, u32)>> {
    let mut by_class: BTreeMap<u32, Vec<(u32, u32)>> = BTreeMap::new();
    for &e in examples {
        by_class.entry(e.1).or_default().push(e);
    }
    let k = k.max(1);
    let mut folds = vec![Vec::new(); k];
    let mut next = 0;
    for members in by_class.values_mut() {
        members.shuffle(rng);
        for &e in members.iter() {
            folds[next % k].push(e);
            next += 1;
        }
    }
    folds
}

/// Accuracy of one fold of a cross-validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldResult {
    pub repeat: usize,
    pub fold: usize,
    pub accuracy: f64,
    pub best_epoch: usize,
    /// Loss, metric and seconds of every epoch.
    pub history: Vec<EpochRecord>,
}

/// Trains on `train` (holding out a stratified tenth for early stopping)
/// and returns the model's accuracy on `test`.
pub fn train_and_test(
    data: &ClassifyData,
    config: &ClassifyConfig,
    trainer: &TrainerConfig,
    train_examples: &[(u32, u32)],
    test: &[(u32, u32)],
    rng: &mut ChaCha8Rng,
) -> Result<(f64, TrainReport)> {
    let inner = stratified_folds(train_examples, 10, rng);
    let valid = inner[0].clone();
    let train_part: Vec<(u32, u32)> = inner[1..].concat();
    let (varmap, model) = NodeClassifier::on_cpu(data, config)?;
    let report = fit(
        &model,
        &varmap,
        config,
        trainer,
        (train_part, valid),
        rng,
        &mut |_, _| Ok(()),
    )?;
    Ok((accuracy_of(&model.logits(None)?, test)?, report))
}

/// Seeds `model`'s weights (held in `varmap`) and trains it on the first
/// examples of `parts`, stopping early on the second; `on_epoch` sees each
/// epoch and whether it is the best so far.
pub(crate) fn fit(
    model: &NodeClassifier,
    varmap: &VarMap,
    config: &ClassifyConfig,
    trainer: &TrainerConfig,
    (train_part, valid): (Vec<(u32, u32)>, Vec<(u32, u32)>),
    rng: &mut ChaCha8Rng,
    on_epoch: &mut dyn FnMut(&EpochRecord, bool) -> Result<()>,
) -> Result<TrainReport> {
    seed_weights(varmap, rng)?;
    let mut task = ClassifyTraining {
        model,
        train: train_part,
        valid,
        batch_size: config.batch_size,
    };
    train(
        &mut task,
        ParamGroup::all(varmap),
        trainer,
        rng,
        Checkpointing::default(),
        on_epoch,
    )
}

/// Repeated stratified k-fold cross-validation; `on_fold` sees each result.
pub fn cross_validate(
    data: &ClassifyData,
    config: &ClassifyConfig,
    trainer: &TrainerConfig,
    folds: usize,
    repeats: usize,
    on_fold: &mut dyn FnMut(&FoldResult),
) -> Result<Vec<FoldResult>> {
    let mut results = Vec::new();
    for repeat in 0..repeats {
        let mut rng = ChaCha8Rng::seed_from_u64(trainer.seed.wrapping_add(repeat as u64));
        let split = stratified_folds(&data.examples, folds, &mut rng);
        for fold in 0..split.len() {
            let train_examples: Vec<(u32, u32)> = split
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != fold)
                .flat_map(|(_, f)| f.iter().copied())
                .collect();
            let (accuracy, report) = train_and_test(
                data,
                config,
                trainer,
                &train_examples,
                &split[fold],
                &mut rng,
            )?;
            let result = FoldResult {
                repeat,
                fold,
                accuracy,
                best_epoch: report.best_epoch,
                history: report.history,
            };
            on_fold(&result);
            results.push(result);
        }
    }
    Ok(results)
}

/// Mean and sample standard deviation.
pub fn mean_and_std(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_stratified_and_cover_every_example() {
        let examples: Vec<(u32, u32)> = (0..30).map(|i| (i, if i < 20 { 0 } else { 1 })).collect();
        let folds = stratified_folds(&examples, 5, &mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(folds.iter().map(Vec::len).sum::<usize>(), 30);
        for fold in &folds {
            assert_eq!(fold.len(), 6);
            assert_eq!(
                fold.iter().filter(|e| e.1 == 1).count(),
                2,
                "each fold holds a fifth of class 1"
            );
        }
        let (mean, std) = mean_and_std(&[0.9, 1.0, 0.8]);
        assert!((mean - 0.9).abs() < 1e-12 && (std - 0.1).abs() < 1e-12);
    }
}
