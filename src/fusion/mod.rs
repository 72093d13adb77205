//! The fusion stage: text spans and subgraph embeddings joined into entity
//! classifiers whose scores can be explained by paths in the graph.
//!
//! `data` reads targets, graph, features and texts from a store through a
//! model's vocabularies; `text_side` runs BERT over the texts; `model` is the
//! network; `training` the joint loss; `attribution` the integrated gradients
//! that `crate::explain` turns into evidence.
//! [`FusionModel`] binds the network to one store's inputs.

pub mod attribution;
pub mod data;
pub mod literals;
pub mod model;
pub mod paths;
pub mod pipeline;
pub mod rgcn_view;
pub mod text_side;
pub mod training;
pub mod trees;

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use data::{FusionInputs, TextItem, TextLimits, Vocabulary};
pub use model::{
    FusedClassifier, FusionBatch, FusionConfig, NodeFeatures, NodeStates, PathBag, View,
};
pub use paths::PathCounts;
pub use rgcn_view::{RgcnGraph, RgcnView, RgcnViewUse};
pub use text_side::{FrozenFeatures, TextSide};
pub use trees::TreeView;

use crate::error::{Error, Result};
use crate::gnn::MessageGraph;
use crate::tasks::baselines::Table;
use crate::tasks::checkpoint::{self, ModelKind};
use crate::tasks::noisy_or::Bags;
use crate::tasks::trainer::{dropout, TrainerConfig};
use crate::text::BertEncoder;
use data::ItemSource;

/// What `config.json` of a fused model folder holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedModel {
    pub kind: String,
    pub vocabulary: Vocabulary,
    pub model: FusionConfig,
    pub trainer: TrainerConfig,
    /// The class whose probability is "the score" (binary: the positive class).
    pub positive_class: usize,
    /// Name of the BERT checkpoint folder the text side was trained with.
    pub bert: Option<String>,
    /// Whether the trees read an R-GCN view (in `rgcn_view::FOLDER`).
    #[serde(default)]
    pub rgcn_view: bool,
}

/// The trees view's trees in a model folder (forust's JSON).
const TREES_FILE: &str = "trees.json";

/// Prefix of the fine-tuned BERT tensors inside `model.safetensors`.
const BERT_PREFIX: &str = "bert::";
/// Prefix of the LoRA adapters' tensors inside `model.safetensors` (the
/// base BERT is not saved with them).
const LORA_PREFIX: &str = "lora::";

/// A fused network bound to one store's inputs.
pub struct FusionModel {
    pub vocab: Vocabulary,
    pub inputs: FusionInputs,
    pub network: FusedClassifier,
    pub varmap: VarMap,
    pub text: Option<TextSide>,
    pub graph: MessageGraph,
    pub features: NodeFeatures,
    pub positive_class: usize,
    /// The trees view's trees (once fitted) and each target's log-odds:
    /// out of fold for the targets they were fitted on (see `trees`).
    pub trees: Option<TreeView>,
    pub tree_log_odds: Vec<Vec<f32>>,
    /// The store's graph for an R-GCN view, while training with one.
    pub rgcn_graph: Option<RgcnGraph>,
    /// The R-GCN view (once fitted) and each target's log-odds as the
    /// trees read them: out of fold for the targets it was fitted on.
    pub rgcn: Option<RgcnView>,
    pub rgcn_log_odds: Vec<Vec<f32>>,
}

impl FusionModel {
    /// Builds a fresh network over `inputs`; `bert` is required when the text
    /// side is on. `progress` gets texts cached. With BERT frozen, the
    /// features `known` holds are taken rather than computed again.
    pub fn new(
        vocab: Vocabulary,
        inputs: FusionInputs,
        config: FusionConfig,
        bert: Option<BertEncoder>,
        known: Option<&FrozenFeatures>,
        device: &Device,
        progress: impl FnMut(usize),
    ) -> Result<Self> {
        let text = match (config.use_text, bert) {
            (true, Some(bert)) => {
                let items: Vec<&TextItem> = inputs.targets.iter().flat_map(|t| &t.items).collect();
                let side = match known.filter(|_| config.bert_layers == 0) {
                    Some(known) => {
                        TextSide::frozen_reusing(bert, &inputs.texts, &items, known, progress)?
                    }
                    None => {
                        let mut side = TextSide::new(
                            bert,
                            config.bert_layers,
                            config.lora,
                            &inputs.texts,
                            progress,
                        )?;
                        side.freeze(&items)?;
                        side
                    }
                };
                Some(side)
            }
            (true, None) => return Err(Error::Config("the text side needs a BERT model".into())),
            (false, _) => None,
        };
        let config = FusionConfig {
            text_dim: text
                .as_ref()
                .map_or(config.text_dim.max(1), |t| t.feature_dim() / 2),
            ..config
        };
        let varmap = VarMap::new();
        let network = FusedClassifier::load(
            VarBuilder::from_varmap(&varmap, DType::F32, device),
            &config,
        )?;
        let (graph, features) = graph_tensors(&inputs, &config, device)?;
        Ok(Self {
            vocab,
            inputs,
            network,
            varmap,
            text,
            graph,
            features,
            positive_class: 0,
            trees: None,
            tree_log_odds: Vec::new(),
            rgcn_graph: None,
            rgcn: None,
            rgcn_log_odds: Vec::new(),
        })
    }

    pub fn config(&self) -> &FusionConfig {
        self.network.config()
    }

    /// Node embeddings over `graph` (the store's, or one with an edge mask).
    pub fn nodes(
        &self,
        graph: &MessageGraph,
        rng: Option<&mut ChaCha8Rng>,
    ) -> Result<Option<NodeStates>> {
        if !self.config().use_graph {
            return Ok(None);
        }
        let p = self.config().dropout;
        let nodes = match rng {
            Some(rng) => self
                .network
                .node_embeddings(&self.features, graph, &mut |x| {
                    dropout(x, p, rng).map_err(|e| candle_core::Error::Msg(e.to_string()))
                }),
            None => self
                .network
                .node_embeddings(&self.features, graph, &mut |x| Ok(x.clone())),
        };
        nodes.map(Some).map_err(Error::from)
    }

    /// The tensors of a batch of targets (indices into `inputs.targets`).
    pub fn batch(&mut self, targets: &[usize]) -> Result<FusionBatch> {
        let device = self.device();
        let chosen: Vec<&data::Target> = targets.iter().map(|&t| &self.inputs.targets[t]).collect();
        let items: Vec<&TextItem> = chosen.iter().flat_map(|t| &t.items).collect();
        let item_count = items.len();
        let width = chosen
            .iter()
            .map(|t| t.items.len())
            .max()
            .unwrap_or(0)
            .max(1);
        let mut item_index = Vec::with_capacity(chosen.len() * width);
        let mut item_mask = Vec::with_capacity(chosen.len() * width);
        let mut next = 0u32;
        for t in &chosen {
            for slot in 0..width {
                if slot < t.items.len() {
                    item_index.push(next);
                    item_mask.push(1f32);
                    next += 1;
                } else {
                    item_index.push(item_count as u32);
                    item_mask.push(0.0);
                }
            }
        }
        let k = chosen
            .iter()
            .map(|t| t.neighbours.len())
            .max()
            .unwrap_or(0)
            .max(1);
        let mut neighbour_index = Vec::with_capacity(chosen.len() * k);
        let mut neighbour_mask = Vec::with_capacity(chosen.len() * k);
        for t in &chosen {
            for slot in 0..k {
                neighbour_index.push(t.neighbours.get(slot).copied().unwrap_or(t.node));
                neighbour_mask.push(if slot < t.neighbours.len() { 1f32 } else { 0.0 });
            }
        }
        let b = chosen.len();
        let node_ids: Vec<u32> = chosen.iter().map(|t| t.node).collect();
        let paths: Vec<&PathCounts> = targets
            .iter()
            .map(|&t| &self.inputs.target_paths[t])
            .collect();
        let tree_outputs = self.config().tree_outputs;
        let tree_log_odds: Vec<f32> = match tree_outputs {
            0 => Vec::new(),
            _ if self.tree_log_odds.len() != self.inputs.targets.len() => {
                return Err(Error::Config(
                    "the trees view has no log-odds for these targets: fit or load its trees first"
                        .into(),
                ))
            }
            _ => targets
                .iter()
                .flat_map(|&t| self.tree_log_odds[t].iter().copied())
                .collect(),
        };
        let items = match &mut self.text {
            Some(text) if item_count > 0 => text.features(&items)?,
            Some(text) => Tensor::zeros((0, text.feature_dim()), DType::F32, &device)?,
            None => Tensor::zeros((0, 2 * self.config().text_dim), DType::F32, &device)?,
        };
        let build = || -> candle_core::Result<FusionBatch> {
            Ok(FusionBatch {
                targets: Tensor::from_vec(node_ids, b, &device)?,
                items,
                item_index: Tensor::from_vec(item_index, (b, width), &device)?,
                item_mask: Tensor::from_vec(item_mask, (b, width), &device)?,
                neighbour_index: Tensor::from_vec(neighbour_index, (b, k), &device)?,
                neighbour_mask: Tensor::from_vec(neighbour_mask, (b, k), &device)?,
                paths: path_bag(&paths, &device)?,
                trees: match tree_outputs {
                    0 => None,
                    t => Some(Tensor::from_vec(tree_log_odds, (b, t), &device)?),
                },
            })
        };
        build().map_err(Error::from)
    }

    /// The device the network and its inputs live on.
    pub fn device(&self) -> Device {
        self.features.ids.device().clone()
    }

    /// Class probabilities of targets, in order.
    pub fn probabilities(&mut self, targets: &[usize]) -> Result<Vec<Vec<f32>>> {
        Ok(self.view_probabilities(targets)?.0)
    }

    /// Class probabilities of targets, and each view head's own.
    #[allow(clippy::type_complexity)]
    pub fn view_probabilities(
        &mut self,
        targets: &[usize],
    ) -> Result<(Vec<Vec<f32>>, Vec<(View, Vec<Vec<f32>>)>)> {
        let graph = self.graph.clone();
        let nodes = self.nodes(&graph, None)?;
        let mut out = Vec::with_capacity(targets.len());
        let mut views: Vec<(View, Vec<Vec<f32>>)> = Vec::new();
        let softmax = |logits: &Tensor| {
            candle_nn::ops::softmax_last_dim(logits).and_then(|p| p.to_vec2::<f32>())
        };
        for chunk in targets.chunks(64) {
            let batch = self.batch(chunk)?;
            let output = self
                .network
                .forward(&batch, nodes.as_ref(), &mut |x| Ok(x.clone()))?;
            out.extend(softmax(&output.logits)?);
            for (i, (view, logits)) in output.views.iter().enumerate() {
                if views.len() <= i {
                    views.push((*view, Vec::new()));
                }
                views[i].1.extend(softmax(logits)?);
            }
        }
        Ok((out, views))
    }

    /// Writes the model folder: the fused network's weights and the
    /// fine-tuned BERT layers in `model.safetensors`, the vocabularies and
    /// hyper-parameters in `config.json`, and `metrics`.
    pub fn save(
        &self,
        dir: &Path,
        trainer: &TrainerConfig,
        metrics: &impl Serialize,
    ) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let saved = SavedModel {
            kind: ModelKind::FusedClassifier.tag().to_owned(),
            vocabulary: self.vocab.clone(),
            model: self.config().clone(),
            trainer: trainer.clone(),
            positive_class: self.positive_class,
            bert: self.text.as_ref().map(|t| t.encoder().name().to_owned()),
            rgcn_view: self.rgcn.is_some(),
        };
        checkpoint::write_json(&dir.join("config.json"), &saved)?;
        checkpoint::write_json(&dir.join("metrics.json"), metrics)?;
        let mut tensors: HashMap<String, Tensor> = HashMap::new();
        for (name, var) in self
            .varmap
            .data()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            tensors.insert(name.clone(), var.as_tensor().clone());
        }
        if let Some(text) = &self.text {
            let encoder = text.encoder();
            let prefix = if encoder.has_adapters() {
                LORA_PREFIX
            } else {
                BERT_PREFIX
            };
            for (name, tensor) in encoder.top_layer_tensors(self.config().bert_layers) {
                tensors.insert(format!("{prefix}{name}"), tensor);
            }
        }
        if let Some(trees) = &self.trees {
            checkpoint::write_json(&dir.join(TREES_FILE), trees)?;
        }
        if let Some(rgcn) = &self.rgcn {
            rgcn.save(dir)?;
        }
        let path = dir.join("model.safetensors");
        candle_core::safetensors::save(&tensors, &path)
            .map_err(|e| Error::model_folder(&path, e.to_string()))
    }

    /// Fits the trees view, over the R-GCN view's log-odds when it has its
    /// graph, on the `train` and `valid` targets, out of fold for both (see
    /// `trees`), and sets every target's log-odds; no-op without a trees
    /// view.
    ///
    /// Both views learn from validation too: their stacking folds, not
    /// validation, choose their forms, depths and epochs, so validation
    /// still meets only log-odds of views that never saw its labels, while
    /// the views that score new entities learn from as many as the
    /// graph-only R-GCN would.
    pub fn fit_trees(&mut self, train: &[usize], valid: &[usize], seed: u64) -> Result<()> {
        if self.config().tree_outputs == 0 {
            return Ok(());
        }
        let fitted: Vec<usize> = train.iter().chain(valid).copied().collect();
        let labels = self.class_indices(&fitted);
        if let Some(graph) = &self.rgcn_graph {
            let (view, stacked) = RgcnView::fit(graph, &fitted, &labels, seed)?;
            self.rgcn = Some(view);
            self.rgcn_log_odds = stacked;
        }
        let all: Vec<usize> = (0..self.inputs.targets.len()).collect();
        let table = self.attribute_table();
        let texts = self.text_bags(&all)?;
        let classes = self.vocab.classes.len();
        let (trees, out_of_fold) =
            TreeView::fit(&table, texts.as_ref(), &fitted, &labels, classes, seed)?;
        let rgcn_columns = self.rgcn_log_odds.first().map_or(0, Vec::len);
        let (trees, out_of_fold) =
            trees.or_rgcn_alone(out_of_fold, &table, &fitted, &labels, rgcn_columns);
        self.tree_log_odds = trees.log_odds(&table, texts.as_ref())?;
        self.trees = Some(trees);
        for (&t, odds) in fitted.iter().zip(out_of_fold) {
            self.tree_log_odds[t] = odds;
        }
        Ok(())
    }

    /// Every target's log-odds from the kept trees, as a reopened model
    /// folder has them (after training, which read the training targets'
    /// out of fold).
    pub fn rescore_with_kept_trees(&mut self) -> Result<()> {
        if let Some(rgcn) = &self.rgcn {
            self.rgcn_log_odds = rgcn.log_odds.clone();
        }
        let all: Vec<usize> = (0..self.inputs.targets.len()).collect();
        let (attributes, texts) = self.tree_tables(&all)?;
        if let Some(trees) = &self.trees {
            self.tree_log_odds = trees.log_odds(&attributes, texts.as_ref())?;
        }
        Ok(())
    }

    /// The tables the kept trees read, a row per target of `targets`
    /// (distinct target indices):
    /// attributes, and texts when they read those (both empty without a
    /// trees view).
    pub fn tree_tables(&mut self, targets: &[usize]) -> Result<(Table, Option<Bags>)> {
        let Some(trees) = &self.trees else {
            return Ok((Table::default(), None));
        };
        let texts = match trees.reads_text() {
            true => self.text_bags(targets)?,
            false => None,
        };
        let mut attributes = self.attribute_table();
        attributes.rows = targets
            .iter()
            .map(|&t| std::mem::take(&mut attributes.rows[t]))
            .collect();
        Ok((attributes, texts))
    }

    /// Each target's texts as the trees view reads them: its items' BERT
    /// features, a bag per target. Only a frozen text side gives the same
    /// features when the model is reopened; `None` without one.
    pub fn text_bags(&mut self, targets: &[usize]) -> Result<Option<Bags>> {
        let Some(text) = self
            .text
            .as_mut()
            .filter(|_| self.network.config().bert_layers == 0)
        else {
            return Ok(None);
        };
        let columns = (0..text.feature_dim())
            .map(|i| format!("text feature {i}"))
            .collect();
        let mut bags = Bags {
            items: Table {
                columns,
                rows: Vec::new(),
            },
            bags: Vec::with_capacity(targets.len()),
            own: Vec::with_capacity(targets.len()),
        };
        for chunk in targets.chunks(256) {
            let items: Vec<&TextItem> = chunk
                .iter()
                .flat_map(|&t| &self.inputs.targets[t].items)
                .collect();
            if !items.is_empty() {
                bags.items
                    .rows
                    .extend(text.features(&items)?.to_vec2::<f32>()?);
            }
        }
        let mut start = 0;
        for &t in targets {
            let items = &self.inputs.targets[t].items;
            let end = start + items.len();
            bags.bags.push(start..end);
            // `text_items` puts the neighbours' texts last.
            let theirs = items
                .iter()
                .filter(|i| matches!(i.source, ItemSource::Neighbour(..)))
                .count();
            bags.own.push(items.len() - theirs);
            start = end;
        }
        Ok(Some(bags))
    }

    /// The targets' flat attributes as the trees read them: the R-GCN
    /// view's log-odds (with one), literal columns, node features and the
    /// selected path counts (last: `attribution` finds them there).
    pub fn attribute_table(&self) -> Table {
        let (mut columns, mut rows) =
            self.inputs
                .target_table(&self.vocab, &self.vocab.paths, &self.inputs.target_paths);
        if let Some(first) = self.rgcn_log_odds.first() {
            let names = match first.len() {
                1 => vec![self.vocab.classes[1].clone()],
                _ => self.vocab.classes.clone(),
            };
            columns.splice(0..0, names.iter().map(|c| format!("R-GCN log-odds of {c}")));
            for (row, odds) in rows.iter_mut().zip(&self.rgcn_log_odds) {
                row.splice(0..0, odds.iter().copied());
            }
        }
        Table { columns, rows }
    }

    /// Each of `targets`' label as a class index (0 when unlabelled).
    pub fn class_indices(&self, targets: &[usize]) -> Vec<usize> {
        targets
            .iter()
            .map(|&t| self.inputs.targets[t].label.unwrap_or(0) as usize)
            .collect()
    }

    /// The targets' entities, in order.
    pub fn target_entities(&self) -> Vec<oxigraph::model::NamedOrBlankNode> {
        self.inputs
            .targets
            .iter()
            .map(|t| self.inputs.view.node(t.node).clone())
            .collect()
    }

    /// The index of `entity` among the targets the model scores.
    pub fn target_of(&self, entity: &oxigraph::model::NamedOrBlankNode) -> Result<usize> {
        let node =
            self.inputs.view.node_id(entity).ok_or_else(|| {
                Error::InvalidTerm(format!("{entity} is not in the store's graph"))
            })?;
        self.inputs
            .targets
            .iter()
            .position(|t| t.node == node)
            .ok_or_else(|| {
                Error::InvalidTerm(format!(
                    "{entity} is not an entity of <{}>",
                    self.vocab.class
                ))
            })
    }

    /// Opens a model folder over `store` (every entity of the model's class,
    /// or `entities`), calling `bert` for the encoder only when the model
    /// reads text: a graph-only model needs no BERT checkpoint.
    pub fn open(
        dir: &Path,
        store: &crate::store::Store,
        entities: Option<&[oxigraph::model::NamedOrBlankNode]>,
        bert: impl FnOnce() -> Result<BertEncoder>,
        device: &Device,
    ) -> Result<Self> {
        let saved = read_config(dir)?;
        let encoder = match saved.model.use_text {
            true => Some(bert()?),
            false => None,
        };
        Self::bind(dir, saved, store, entities, encoder, None, device, |_| {})
    }

    /// Reads a model folder and binds it to `store`'s inputs (every entity
    /// of the model's class, or `entities`). `known`: the frozen text
    /// features of the model as trained, when it was trained in this
    /// process (see [`TextSide::frozen_features`]).
    pub fn load(
        dir: &Path,
        store: &crate::store::Store,
        entities: Option<&[oxigraph::model::NamedOrBlankNode]>,
        bert: Option<BertEncoder>,
        known: Option<&FrozenFeatures>,
        device: &Device,
        progress: impl FnMut(usize),
    ) -> Result<Self> {
        Self::bind(
            dir,
            read_config(dir)?,
            store,
            entities,
            bert,
            known,
            device,
            progress,
        )
    }

    /// A model folder's network and weights (`saved` is its config) bound
    /// to `store`'s inputs.
    #[allow(clippy::too_many_arguments)]
    fn bind(
        dir: &Path,
        saved: SavedModel,
        store: &crate::store::Store,
        entities: Option<&[oxigraph::model::NamedOrBlankNode]>,
        bert: Option<BertEncoder>,
        known: Option<&FrozenFeatures>,
        device: &Device,
        progress: impl FnMut(usize),
    ) -> Result<Self> {
        let inputs = saved.vocabulary.inputs(store, entities)?;
        let bert = if saved.model.use_text { bert } else { None };
        let mut model = Self::new(
            saved.vocabulary,
            inputs,
            saved.model.clone(),
            bert,
            known,
            device,
            progress,
        )?;
        if model.config().text_dim != saved.model.text_dim {
            return Err(Error::model_folder(dir, format!("trained with a {}-wide BERT, given a {}-wide one (use the model it was trained with: {})", saved.model.text_dim,
                model.config().text_dim,
                saved.bert.as_deref().unwrap_or("?")
            )));
        }
        let path = dir.join("model.safetensors");
        let tensors = candle_core::safetensors::load(&path, device)
            .map_err(|e| Error::model_folder(&path, e.to_string()))?;
        let mut bert_tensors = Vec::new();
        let mut lora_tensors = Vec::new();
        {
            let vars = model
                .varmap
                .data()
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            for (name, tensor) in &tensors {
                if let Some(bert_name) = name.strip_prefix(BERT_PREFIX) {
                    bert_tensors.push((bert_name.to_owned(), tensor.clone()));
                    continue;
                }
                if let Some(lora_name) = name.strip_prefix(LORA_PREFIX) {
                    lora_tensors.push((lora_name.to_owned(), tensor.clone()));
                    continue;
                }
                let var = vars.get(name).ok_or_else(|| {
                    Error::model_folder(&path, format!("unexpected tensor {name}"))
                })?;
                var.set(tensor)
                    .map_err(|e| Error::model_folder(&path, format!("{name}: {e}")))?;
            }
        }
        if let Some(text) = &mut model.text {
            // Only the top layers are saved, and they run per batch: the
            // cached bottom states stay valid.
            text.encoder().set_tensors(&bert_tensors)?;
            if text.encoder().has_adapters() || !lora_tensors.is_empty() {
                text.merge_adapters(&lora_tensors)?;
            }
        }
        model.positive_class = saved.positive_class;
        // Read by the trees: `rescore_with_kept_trees` takes its log-odds.
        if saved.rgcn_view {
            model.rgcn = Some(RgcnView::open(dir, store, &model.target_entities())?);
        }
        if saved.model.tree_outputs > 0 {
            let path = dir.join(TREES_FILE);
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            let trees: TreeView = serde_json::from_str(&text)
                .map_err(|e| Error::model_folder(&path, e.to_string()))?;
            model.trees = Some(trees);
            model.rescore_with_kept_trees()?;
        }
        Ok(model)
    }
}

/// A model folder's `config.json`, checked to be a fused classifier's.
pub fn read_config(dir: &Path) -> Result<SavedModel> {
    checkpoint::load_config(dir, ModelKind::FusedClassifier)
}

/// The model id: the first 16 hex digits of the weights' SHA-256.
pub fn model_id(dir: &Path) -> Result<String> {
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let digest = Sha256::digest(&bytes);
    Ok(digest.iter().take(8).map(|b| format!("{b:02x}")).collect())
}

/// The path counts of a batch's targets (one row each) as a bag; `None`
/// when they have none.
pub fn path_bag(counts: &[&PathCounts], device: &Device) -> candle_core::Result<Option<PathBag>> {
    let (mut ids, mut rows, mut weights) = (Vec::new(), Vec::new(), Vec::new());
    for (row, target) in counts.iter().enumerate() {
        for &(id, weight) in target.iter() {
            ids.push(id);
            rows.push(row as u32);
            weights.push(weight);
        }
    }
    if ids.is_empty() {
        return Ok(None);
    }
    let p = ids.len();
    Ok(Some(PathBag {
        ids: Tensor::from_vec(ids, p, device)?,
        rows: Tensor::from_vec(rows, p, device)?,
        weights: Tensor::from_vec(weights, (p, 1), device)?,
    }))
}

/// The message graph (with inverse edges after the forward ones) and node features.
fn graph_tensors(
    inputs: &FusionInputs,
    config: &FusionConfig,
    device: &Device,
) -> Result<(MessageGraph, NodeFeatures)> {
    let num_relations = config.num_relations;
    let r = num_relations as u32;
    let edges: Vec<(u32, u32, u32)> = inputs
        .edges
        .iter()
        .copied()
        .chain(inputs.edges.iter().map(|&(s, p, o)| (o, p + r, s)))
        .collect();
    let n = inputs.view.node_count();
    let graph = MessageGraph::new(n, 2 * num_relations, &edges, device)?;
    let mut ids = Vec::new();
    let mut nodes = Vec::new();
    let mut inverse_counts = Vec::with_capacity(n);
    for (node, features) in inputs.node_features.iter().enumerate() {
        ids.extend_from_slice(features);
        nodes.extend(std::iter::repeat_n(node as u32, features.len()));
        inverse_counts.push(1.0 / features.len().max(1) as f32);
    }
    let build = || -> candle_core::Result<NodeFeatures> {
        Ok(NodeFeatures {
            ids: Tensor::from_vec(ids.clone(), ids.len(), device)?,
            nodes: Tensor::from_vec(nodes.clone(), nodes.len(), device)?,
            inverse_counts: Tensor::from_vec(inverse_counts.clone(), (n, 1), device)?,
            columns: match config.num_columns {
                0 => None,
                width => Some(Tensor::from_slice(
                    &inputs.node_columns,
                    (n, width),
                    device,
                )?),
            },
            num_nodes: n,
        })
    };
    Ok((graph, build()?))
}
