//! `FusedClassifier`: an R-GCN over the graph and BERT over the texts,
//! fused per target entity.
//!
//! 1. Graph side: each node's input `x` is the mean of its feature
//!    embeddings (classes, short literals) plus a projection of its encoded
//!    numbers, dates and booleans (`literals`), so the model is inductive;
//!    an R-GCN turns them into node embeddings `H`.
//! 2. Text side: each text item (a span, or a whole literal) is BERT's mean
//!    over the span's tokens next to the mean over its sentence, projected
//!    to the model width. The items attend over the target's subgraph
//!    nodes (span-to-node attention), then the target's node embedding
//!    attends over its items (node-to-span attention) to give `t`.
//! 3. Each view has a head of its own: the target's attributes `x` (plus
//!    a weighted bag of its relation-path features, `paths`), its
//!    graph embedding `h` and its text `t` each score the classes, and an
//!    interaction head scores them from `[m; h; t]`, where a gate
//!    `g = σ(W [h; t])` mixes `m = g ⊙ h + (1 − g) ⊙ t`. The logits are the
//!    sum. Training gives every view head its own loss too, so that a view
//!    whose signal is weaker is not drowned by a stronger one, and a
//!    conjunction ("adverse press AND exposure") is a sum of log-odds.
//!
//! 4. With `tree_outputs > 0`, the log-odds `z` of gradient-boosted trees
//!    over the target's flat attributes (`fusion::trees`, stacked out of
//!    fold) are one more view: a linear head scores the classes from `z`,
//!    and the interaction head reads `[m; h; t; z]`. With `trees_prior`
//!    the trees view also adds the trees' own class log-probabilities,
//!    and every head's output layer starts at zero: the untrained network
//!    is the trees view alone, and training learns a correction to it.
//!
//! `use_graph = false` drops `x` and `h` (no R-GCN; the interaction head
//! sees `[t; 0; t]`); `use_text = false` drops `t` (it sees `[h; h; 0]`).

use candle_core::{DType, Module, Result, Tensor, D};
use candle_nn::{linear, linear_no_bias, Embedding, Init, Linear, VarBuilder};
use serde::{Deserialize, Serialize};

use crate::gnn::{Decomposition, DistMult, MessageGraph, RgcnConfig, RgcnEncoder};

/// Every hyper-parameter of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FusionConfig {
    pub dim: usize,
    /// R-GCN layers (1 to 3): how many hops the graph side sees.
    pub layers: usize,
    /// How the R-GCN's relation matrices are parameterised.
    #[serde(default = "full_matrices")]
    pub decomposition: Decomposition,
    pub dropout: f64,
    /// BERT's hidden width.
    pub text_dim: usize,
    /// BERT layers fine-tuned (from the top); the rest stay frozen.
    pub bert_layers: usize,
    pub use_text: bool,
    pub use_graph: bool,
    /// Weight of the link-prediction loss on the targets' edges.
    pub alpha: f64,
    /// Weight of the span-to-node InfoNCE alignment loss.
    pub beta: f64,
    pub temperature: f64,
    pub num_features: usize,
    /// Width of a node's encoded literal columns (0: none).
    #[serde(default)]
    pub num_columns: usize,
    /// Relation-path features counted from each target (0: none).
    #[serde(default)]
    pub num_paths: usize,
    /// Weight of each view head's own cross-entropy.
    #[serde(default)]
    pub view_loss: f64,
    /// Log-odds per target from the trees view (0: no trees view; see
    /// `fusion::trees::tree_outputs`).
    #[serde(default)]
    pub tree_outputs: usize,
    /// Whether the trees view adds the trees' class log-probabilities
    /// unweighted (absent in folders written before it: false).
    #[serde(default)]
    pub trees_prior: bool,
    /// Forward relations (the R-GCN also gets their inverses).
    pub num_relations: usize,
    pub num_classes: usize,
    /// LoRA adapters on the `bert_layers` top layers instead of fine-tuning
    /// them whole (rank 0: none).
    #[serde(default)]
    pub lora: crate::text::LoraConfig,
}

impl FusionConfig {
    /// The views the network reads: attributes and graph with the graph
    /// side, text with the text side.
    pub fn views(&self) -> Vec<View> {
        [
            (View::Attributes, self.use_graph),
            (View::Graph, self.use_graph),
            (View::Text, self.use_text),
            (View::Trees, self.tree_outputs > 0),
        ]
        .into_iter()
        .filter_map(|(view, on)| on.then_some(view))
        .collect()
    }
}

fn full_matrices() -> Decomposition {
    Decomposition::None
}

impl Default for FusionConfig {
    /// The defaults of `train classify`; the `num_*` and `text_dim` fields
    /// are filled in from the data.
    fn default() -> Self {
        Self {
            dim: 64,
            layers: 2,
            decomposition: Decomposition::None,
            dropout: 0.2,
            text_dim: 0,
            bert_layers: 0,
            use_text: true,
            use_graph: true,
            alpha: 0.5,
            beta: 0.1,
            temperature: 0.1,
            num_features: 0,
            num_columns: 0,
            num_paths: 0,
            view_loss: 0.5,
            tree_outputs: 0,
            trees_prior: false,
            num_relations: 0,
            num_classes: 0,
            lora: crate::text::LoraConfig::default(),
        }
    }
}

/// A mini-batch of targets, as tensors.
#[derive(Clone)]
pub struct FusionBatch {
    /// Target node ids `[B]`.
    pub targets: Tensor,
    /// Raw item features `[items, 2 · text_dim]` (span mean ‖ sentence mean).
    pub items: Tensor,
    /// Item rows per target `[B, M]`; padding points at row `items` (zeros).
    pub item_index: Tensor,
    /// 1 for real items, 0 for padding `[B, M]`.
    pub item_mask: Tensor,
    /// Subgraph nodes per target `[B, K]` and their mask.
    pub neighbour_index: Tensor,
    pub neighbour_mask: Tensor,
    /// The targets' relation-path counts, when any.
    pub paths: Option<PathBag>,
    /// The trees' log-odds `[B, tree_outputs]` (with a trees view).
    pub trees: Option<Tensor>,
}

/// Relation-path features of a batch as a weighted bag per target.
#[derive(Clone)]
pub struct PathBag {
    /// Path feature ids `[P]`.
    pub ids: Tensor,
    /// The batch row of each `[P]`.
    pub rows: Tensor,
    /// `ln(1 + count)` of each `[P, 1]`.
    pub weights: Tensor,
}

/// The views a target is seen by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum View {
    /// Its own classes, categorical and typed literals, and the relation
    /// paths counted from it.
    Attributes,
    /// Its R-GCN embedding.
    Graph,
    /// Its texts through BERT.
    Text,
    /// Gradient-boosted trees over its flat attributes.
    Trees,
}

impl View {
    /// The view's name in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Attributes => "attributes",
            Self::Graph => "graph",
            Self::Text => "text",
            Self::Trees => "trees",
        }
    }
}

/// Every node's input and its R-GCN embedding `[nodes, dim]`.
pub struct NodeStates {
    pub input: Tensor,
    pub hidden: Tensor,
}

/// What a forward pass produces.
pub struct FusionOutput {
    /// Class scores `[B, C]`: the views' plus the interaction head's.
    pub logits: Tensor,
    /// Each view head's own scores `[B, C]`.
    pub views: Vec<(View, Tensor)>,
    /// Projected items `[items, dim]` (text side only).
    pub items: Option<Tensor>,
    /// Node-to-span attention `[B, M]` (text side only).
    pub attention: Option<Tensor>,
}

/// Node features as a bag per node: flat feature ids, the node of each, and
/// `1 / count` per node (for the mean).
pub struct NodeFeatures {
    pub ids: Tensor,
    pub nodes: Tensor,
    pub inverse_counts: Tensor,
    /// Encoded literal columns `[nodes, num_columns]` (none when 0 wide).
    pub columns: Option<Tensor>,
    pub num_nodes: usize,
}

/// A two-layer head from one view to the classes.
struct ViewHead {
    hidden: Linear,
    out: Linear,
}

impl ViewHead {
    fn load(vb: VarBuilder, dim: usize, classes: usize) -> Result<Self> {
        Ok(Self {
            hidden: linear(dim, dim, vb.pp("hidden"))?,
            out: linear(dim, classes, vb.pp("out"))?,
        })
    }

    fn forward(
        &self,
        x: &Tensor,
        dropout: &mut dyn FnMut(&Tensor) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let hidden = self.hidden.forward(&dropout(x)?)?.relu()?;
        self.out.forward(&hidden)
    }
}

pub struct FusedClassifier {
    features: Embedding,
    columns: Option<Linear>,
    paths: Option<Embedding>,
    attribute_head: ViewHead,
    graph_head: ViewHead,
    text_head: ViewHead,
    trees_head: Option<Linear>,
    rgcn: RgcnEncoder,
    text_proj: Linear,
    span_query: Linear,
    node_key: Linear,
    node_value: Linear,
    entity_query: Linear,
    text_query: Tensor,
    gate: Linear,
    hidden: Linear,
    out: Linear,
    distmult: DistMult,
    config: FusionConfig,
}

impl FusedClassifier {
    pub fn load(vb: VarBuilder, config: &FusionConfig) -> Result<Self> {
        let d = config.dim;
        let bound = (6.0 / (config.num_features + d) as f64).sqrt();
        let table = vb.get_with_hints(
            (config.num_features, d),
            "features.weight",
            Init::Uniform {
                lo: -bound,
                up: bound,
            },
        )?;
        let rgcn = RgcnEncoder::load(
            vb.pp("rgcn"),
            &RgcnConfig {
                num_nodes: 0,
                num_relations: 2 * config.num_relations,
                input_dim: d,
                layer_dims: vec![d; config.layers],
                decomposition: config.decomposition,
                dropout: config.dropout,
                learned_input: false,
                residual: true,
            },
        )?;
        let columns = match config.num_columns {
            0 => None,
            width => Some(linear_no_bias(width, d, vb.pp("columns"))?),
        };
        let paths = match config.num_paths {
            0 => None,
            n => {
                let bound = (6.0 / (n + d) as f64).sqrt();
                let init = Init::Uniform {
                    lo: -bound,
                    up: bound,
                };
                Some(Embedding::new(
                    vb.get_with_hints((n, d), "paths.weight", init)?,
                    d,
                ))
            }
        };
        let classes = config.num_classes;
        Ok(Self {
            features: Embedding::new(table, d),
            columns,
            paths,
            attribute_head: ViewHead::load(vb.pp("attribute_head"), d, classes)?,
            graph_head: ViewHead::load(vb.pp("graph_head"), d, classes)?,
            text_head: ViewHead::load(vb.pp("text_head"), d, classes)?,
            trees_head: match config.tree_outputs {
                0 => None,
                n => Some(linear(n, classes, vb.pp("trees_head"))?),
            },
            rgcn,
            text_proj: linear(2 * config.text_dim, d, vb.pp("text_proj"))?,
            span_query: linear_no_bias(d, d, vb.pp("span_query"))?,
            node_key: linear_no_bias(d, d, vb.pp("node_key"))?,
            node_value: linear_no_bias(d, d, vb.pp("node_value"))?,
            entity_query: linear_no_bias(d, d, vb.pp("entity_query"))?,
            text_query: vb.get_with_hints(d, "text_query", Init::Const(0.0))?,
            gate: linear(2 * d, d, vb.pp("gate"))?,
            hidden: linear(3 * d + config.tree_outputs, d, vb.pp("hidden"))?,
            out: linear(d, config.num_classes, vb.pp("out"))?,
            distmult: DistMult::load(vb.pp("distmult"), config.num_relations, d)?,
            config: config.clone(),
        })
    }

    pub fn config(&self) -> &FusionConfig {
        &self.config
    }

    /// Whether the trees view's class log-probabilities are added to the
    /// scores (training chooses on validation; see `pipeline::fit`).
    pub fn set_trees_prior(&mut self, on: bool) {
        self.config.trees_prior = on && self.config.tree_outputs > 0;
    }

    /// Every node's input (features and literal columns) and its
    /// embedding through the R-GCN.
    pub fn node_embeddings(
        &self,
        features: &NodeFeatures,
        graph: &MessageGraph,
        dropout: &mut dyn FnMut(&Tensor) -> Result<Tensor>,
    ) -> Result<NodeStates> {
        let bag = self.features.forward(&features.ids)?;
        let zeros = Tensor::zeros(
            (features.num_nodes, self.config.dim),
            DType::F32,
            bag.device(),
        )?;
        let mut input = zeros
            .index_add(&features.nodes, &bag, 0)?
            .broadcast_mul(&features.inverse_counts)?;
        if let (Some(projection), Some(columns)) = (&self.columns, &features.columns) {
            input = (input + projection.forward(columns)?)?;
        }
        let hidden = self.rgcn.forward(Some(&input), graph, dropout)?;
        Ok(NodeStates { input, hidden })
    }

    /// Class scores for a batch of `B` targets; `states` are the node
    /// inputs and embeddings (required when the graph side is on). Shapes:
    /// `D` model width, `M` text items and `K` subgraph nodes per target.
    pub fn forward(
        &self,
        batch: &FusionBatch,
        states: Option<&NodeStates>,
        dropout: &mut dyn FnMut(&Tensor) -> Result<Tensor>,
    ) -> Result<FusionOutput> {
        let width = self.config.dim;
        let batch_size = batch.targets.dim(0)?;
        let states = match (self.config.use_graph, states) {
            (true, Some(states)) => Some(states),
            (true, None) => candle_core::bail!("the graph side needs node embeddings"),
            (false, _) => None,
        };
        let nodes = states.map(|s| &s.hidden);
        // The targets' graph embeddings `[B, D]`.
        let graph_embedding = nodes
            .map(|nodes| nodes.index_select(&batch.targets, 0))
            .transpose()?;
        let mut views = Vec::new();
        if let (Some(states), Some(graph_embedding)) = (states, &graph_embedding) {
            // The targets' attributes `[B, D]`, plus their path bags.
            let mut attributes = states.input.index_select(&batch.targets, 0)?;
            if let (Some(table), Some(bag)) = (&self.paths, &batch.paths) {
                let weighted = table.forward(&bag.ids)?.broadcast_mul(&bag.weights)?;
                attributes = attributes.index_add(&bag.rows, &weighted, 0)?;
            }
            views.push((
                View::Attributes,
                self.attribute_head.forward(&attributes, dropout)?,
            ));
            views.push((
                View::Graph,
                self.graph_head.forward(graph_embedding, dropout)?,
            ));
        }
        let mut items_out = None;
        let mut attention = None;
        let interaction_input = if self.config.use_text {
            // Projected items `[items, D]`, then per target `[B, M, D]`
            // (padding slots read the zero row after the last item).
            let items = self.text_proj.forward(&dropout(&batch.items)?)?;
            let padding = Tensor::zeros((1, width), items.dtype(), items.device())?;
            let padded = Tensor::cat(&[&items, &padding], 0)?;
            let (_, max_items) = batch.item_index.dims2()?;
            let mut spans = padded
                .index_select(&batch.item_index.flatten_all()?, 0)?
                .reshape((batch_size, max_items, width))?;
            let scale = 1.0 / (width as f64).sqrt();
            if let (Some(nodes), true) = (nodes, self.config.use_graph) {
                // Span-to-node attention over the subgraph `[B, K, D]`:
                // scores `[B, M, K]`, each span gains its attended nodes.
                let (_, max_nodes) = batch.neighbour_index.dims2()?;
                let near = nodes
                    .index_select(&batch.neighbour_index.flatten_all()?, 0)?
                    .reshape((batch_size, max_nodes, width))?;
                let queries = self.span_query.forward(&spans)?;
                let keys = self.node_key.forward(&near)?;
                let scores = (queries.matmul(&keys.transpose(1, 2)?)? * scale)?;
                let weights = masked_softmax(&scores, &batch.neighbour_mask.unsqueeze(1)?)?;
                spans = (spans + weights.matmul(&self.node_value.forward(&near)?)?)?;
            }
            // Entity-to-span attention: one query per target `[B, D]` (from
            // its graph embedding, or learned when there is none), weights
            // `[B, 1, M]`, text summary `[B, D]`.
            let query = match &graph_embedding {
                Some(h) => self.entity_query.forward(h)?,
                None => self
                    .text_query
                    .unsqueeze(0)?
                    .broadcast_as((batch_size, width))?
                    .contiguous()?,
            };
            let scores = (query.unsqueeze(1)?.matmul(&spans.transpose(1, 2)?)? * scale)?;
            let weights = masked_softmax(&scores, &batch.item_mask.unsqueeze(1)?)?;
            let text = weights.matmul(&spans)?.squeeze(1)?;
            views.push((View::Text, self.text_head.forward(&text, dropout)?));
            attention = Some(weights.squeeze(1)?);
            items_out = Some(items);
            match &graph_embedding {
                Some(h) => {
                    // Gate `[B, D]` mixing graph and text.
                    let gate = candle_nn::ops::sigmoid(
                        &self.gate.forward(&Tensor::cat(&[h, &text], 1)?)?,
                    )?;
                    let mixed = ((&gate * h)? + ((1.0 - &gate)? * &text)?)?;
                    Tensor::cat(&[&mixed, h, &text], 1)?
                }
                None => Tensor::cat(&[&text, &text.zeros_like()?, &text], 1)?,
            }
        } else {
            let h = graph_embedding.ok_or_else(|| {
                candle_core::Error::Msg("the model uses neither text nor graph".into())
            })?;
            Tensor::cat(&[&h, &h, &h.zeros_like()?], 1)?
        };
        let interaction_input = match (&self.trees_head, &batch.trees) {
            (Some(head), Some(odds)) => {
                let mut scores = head.forward(odds)?;
                if self.config.trees_prior {
                    scores = (scores + class_log_probabilities(odds)?)?;
                }
                views.push((View::Trees, scores));
                Tensor::cat(&[&interaction_input, odds], 1)?
            }
            (Some(_), None) => candle_core::bail!("the trees view needs the trees' log-odds"),
            (None, _) => interaction_input,
        };
        // Interaction head on `[B, 3D (+ T)]`, plus every view's own scores.
        let hidden = self.hidden.forward(&dropout(&interaction_input)?)?.relu()?;
        let mut logits = self.out.forward(&hidden)?;
        for (_, view) in &views {
            logits = (logits + view)?;
        }
        Ok(FusionOutput {
            logits,
            views,
            items: items_out,
            attention,
        })
    }

    /// DistMult scores of `(head, relation, tail)` over node embeddings.
    pub fn edge_scores(
        &self,
        nodes: &Tensor,
        heads: &Tensor,
        relations: &Tensor,
        tails: &Tensor,
    ) -> Result<Tensor> {
        self.distmult.score(nodes, heads, relations, tails)
    }
}

/// The class log-probabilities `[B, C]` of the trees' log-odds `[B, T]`
/// (see `fusion::trees::class_probabilities`): `ln σ(−z), ln σ(z)` for
/// two classes, `ln σ(z_k)` beyond, whose softmax renormalises them.
fn class_log_probabilities(odds: &Tensor) -> Result<Tensor> {
    let per_class = match odds.dim(1)? {
        1 => Tensor::cat(&[&odds.neg()?, odds], 1)?,
        _ => odds.clone(),
    };
    // ln σ(z) = −ln(1 + e^(−z)), finite in f32 while z > −88 (the trees'
    // log-odds are a few units).
    (per_class.neg()?.exp()? + 1.0)?.log()?.neg()
}

/// The weights and biases of the network heads' output layers, which
/// start at zero when the trees view is its prior (`trees_prior`).
pub fn head_outputs() -> Vec<String> {
    [
        "out",
        "attribute_head.out",
        "graph_head.out",
        "text_head.out",
        "trees_head",
    ]
    .iter()
    .flat_map(|layer| [format!("{layer}.weight"), format!("{layer}.bias")])
    .collect()
}

/// Softmax over the last dimension where `mask` (broadcastable, 1 = keep) is
/// set; rows with nothing kept come out as zeros.
fn masked_softmax(scores: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let mask = mask.broadcast_as(scores.shape())?;
    let blocked = ((mask.ones_like()? - &mask)? * -1e9)?;
    // `softmax_last_dim` is a fused kernel without a backward pass: the
    // attention would never learn.
    let weights = candle_nn::ops::softmax(&(scores + blocked)?, D::Minus1)?;
    weights.mul(&mask)
}

/// L2-normalised rows.
pub fn normalize_rows(x: &Tensor) -> Result<Tensor> {
    let norm = x
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12, f64::MAX)?;
    x.broadcast_div(&norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use candle_nn::VarMap;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Three nodes in a path `0 → 1 → 2` under one relation; targets 0 and 2,
    /// each with two text items of random features and two neighbours; 0
    /// has path features 0 and 2, 2 has feature 1; trees' log-odds 1.5 and
    /// −2.
    fn network() -> (
        VarMap,
        FusedClassifier,
        NodeFeatures,
        MessageGraph,
        FusionBatch,
    ) {
        network_with(false)
    }

    fn network_with(
        trees_prior: bool,
    ) -> (
        VarMap,
        FusedClassifier,
        NodeFeatures,
        MessageGraph,
        FusionBatch,
    ) {
        let device = Device::Cpu;
        let config = FusionConfig {
            dim: 4,
            layers: 1,
            text_dim: 3,
            num_features: 2,
            num_columns: 2,
            num_paths: 3,
            tree_outputs: 1,
            trees_prior,
            num_relations: 1,
            num_classes: 2,
            ..FusionConfig::default()
        };
        let varmap = VarMap::new();
        let network = FusedClassifier::load(
            VarBuilder::from_varmap(&varmap, DType::F32, &device),
            &config,
        )
        .unwrap();
        // Seeded values, so that no run draws a head whose units are all dead.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut uniform = |shape: &candle_core::Shape, half_width: f32| {
            let values: Vec<f32> = (0..shape.elem_count())
                .map(|_| rng.random_range(-half_width..half_width))
                .collect();
            Tensor::from_vec(values, shape, &device).unwrap()
        };
        // By name: the map's own order changes from run to run.
        let vars = varmap.data().lock().unwrap().clone();
        let mut names: Vec<&String> = vars.keys().collect();
        names.sort();
        for name in names {
            let var = &vars[name];
            var.set(&uniform(var.shape(), 0.87)).unwrap();
        }
        let features = NodeFeatures {
            ids: Tensor::new(&[0u32, 1, 0, 1], &device).unwrap(),
            nodes: Tensor::new(&[0u32, 0, 1, 2], &device).unwrap(),
            inverse_counts: Tensor::new(&[[0.5f32], [1.0], [1.0]], &device).unwrap(),
            columns: Some(Tensor::new(&[[1f32, 0.], [0., 1.], [0.5, 0.5]], &device).unwrap()),
            num_nodes: 3,
        };
        let graph = MessageGraph::new(3, 2, &[(0, 0, 1), (1, 0, 2), (1, 1, 0), (2, 1, 1)], &device)
            .unwrap();
        let batch = FusionBatch {
            targets: Tensor::new(&[0u32, 2], &device).unwrap(),
            items: uniform(&(4, 6).into(), 1.73),
            item_index: Tensor::new(&[[0u32, 1], [2, 3]], &device).unwrap(),
            item_mask: Tensor::ones((2, 2), DType::F32, &device).unwrap(),
            neighbour_index: Tensor::new(&[[1u32, 2], [1, 0]], &device).unwrap(),
            neighbour_mask: Tensor::ones((2, 2), DType::F32, &device).unwrap(),
            paths: Some(PathBag {
                ids: Tensor::new(&[0u32, 2, 1], &device).unwrap(),
                rows: Tensor::new(&[0u32, 0, 1], &device).unwrap(),
                weights: Tensor::new(&[[1f32], [0.5], [2.0]], &device).unwrap(),
            }),
            trees: Some(Tensor::new(&[[1.5f32], [-2.0]], &device).unwrap()),
        };
        (varmap, network, features, graph, batch)
    }

    fn forward(
        network: &FusedClassifier,
        features: &NodeFeatures,
        graph: &MessageGraph,
        batch: &FusionBatch,
    ) -> FusionOutput {
        let states = network
            .node_embeddings(features, graph, &mut |x| Ok(x.clone()))
            .unwrap();
        network
            .forward(batch, Some(&states), &mut |x| Ok(x.clone()))
            .unwrap()
    }

    #[test]
    fn every_view_has_a_head_and_the_interaction_adds_to_them() {
        let (_, network, features, graph, batch) = network();
        let output = forward(&network, &features, &graph, &batch);
        let views: Vec<View> = output.views.iter().map(|(v, _)| *v).collect();
        assert_eq!(
            views,
            [View::Attributes, View::Graph, View::Text, View::Trees]
        );
        let mut views_only = output.views[0].1.zeros_like().unwrap();
        for (view, logits) in &output.views {
            assert_eq!(logits.dims(), [2, 2], "{view:?}");
            views_only = (views_only + logits).unwrap();
        }
        let interaction = (&output.logits - &views_only)
            .unwrap()
            .abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(
            interaction > 0.0,
            "the interaction head adds to the views' sum"
        );
        let without_paths = FusionBatch {
            paths: None,
            ..batch
        };
        let attributes = |o: &FusionOutput| o.views[0].1.to_vec2::<f32>().unwrap();
        let plain = forward(&network, &features, &graph, &without_paths);
        assert_ne!(
            attributes(&output),
            attributes(&plain),
            "path features reach the attribute head"
        );
        assert_eq!(
            output.views[1].1.to_vec2::<f32>().unwrap(),
            plain.views[1].1.to_vec2::<f32>().unwrap(),
            "and only it"
        );
    }

    /// Every attention weight must learn: with candle's fused softmax kernel,
    /// which has no backward pass, the span and entity queries got no
    /// gradient. So must the inputs of the attribute head (columns, paths).
    #[test]
    fn every_attention_weight_gets_a_gradient() {
        let (varmap, network, features, graph, batch) = network();
        let output = forward(&network, &features, &graph, &batch);
        let grads = output.logits.sum_all().unwrap().backward().unwrap();
        let data = varmap.data().lock().unwrap();
        for name in [
            "span_query.weight",
            "node_key.weight",
            "entity_query.weight",
            "columns.weight",
            "paths.weight",
            "attribute_head.out.weight",
            "graph_head.out.weight",
            "text_head.out.weight",
            "trees_head.weight",
        ] {
            let norm = crate::test_support::gradient_norm(&grads, &data[name]);
            assert!(norm.is_some_and(|n| n > 0.0), "{name}: {norm:?}");
        }
    }

    /// With the trees as its prior and its heads' outputs at zero, the
    /// network says what the trees say, and training can still move every
    /// head away from it.
    #[test]
    fn the_network_starts_as_the_trees_view_and_every_head_can_learn() {
        let (varmap, network, features, graph, batch) = network_with(true);
        crate::tasks::trainer::zero_weights(&varmap, &head_outputs()).unwrap();
        let output = forward(&network, &features, &graph, &batch);
        let probabilities = candle_nn::ops::softmax_last_dim(&output.logits)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        for (p, odds) in probabilities.iter().zip([1.5f32, -2.0]) {
            let trees = crate::fusion::trees::class_probabilities(&[odds]);
            for (a, b) in p.iter().zip(&trees) {
                assert!((a - b).abs() < 1e-5, "{p:?} against the trees' {trees:?}");
            }
        }
        let labels = Tensor::new(&[0u32, 0], &Device::Cpu).unwrap();
        let loss = candle_nn::loss::cross_entropy(&output.logits, &labels).unwrap();
        let grads = loss.backward().unwrap();
        let data = varmap.data().lock().unwrap();
        for name in head_outputs().iter().filter(|n| n.ends_with("weight")) {
            let norm = crate::test_support::gradient_norm(&grads, &data[name]);
            assert!(norm.is_some_and(|n| n > 0.0), "{name}: {norm:?}");
        }
    }
}
