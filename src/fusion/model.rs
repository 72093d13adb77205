//! `FusedClassifier`: an R-GCN over the graph and BERT over the texts,
//! fused per target entity.
//!
//! 1. Graph side: each node's input is the mean of its feature embeddings
//!    (classes, short literals), so the model is inductive; an R-GCN turns
//!    them into node embeddings `H`.
//! 2. Text side: each text item (a span, or a whole literal) is BERT's mean
//!    over the span's tokens next to the mean over its sentence, projected
//!    to the model width. The items attend over the target's subgraph
//!    nodes (span-to-node attention), then the target's node embedding
//!    attends over its items (node-to-span attention) to give `t`.
//! 3. A gate `g = σ(W [h; t])` mixes them, `m = g ⊙ h + (1 − g) ⊙ t`, and a
//!    two-layer head scores the classes from `[m; h; t]` (the mix, and each
//!    side as it is, so that the head can also require both: "adverse press
//!    AND exposure").
//!
//! `use_graph = false` replaces `h` by a learned query and skips the R-GCN
//! (the head sees `[t; 0; t]`); `use_text = false` uses `[h; h; 0]`.

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
    /// Basis matrices per R-GCN layer (0: one full matrix per relation).
    pub bases: usize,
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
    /// Forward relations (the R-GCN also gets their inverses).
    pub num_relations: usize,
    pub num_classes: usize,
    /// LoRA adapters on the `bert_layers` top layers instead of fine-tuning
    /// them whole (rank 0: none).
    #[serde(default)]
    pub lora: crate::text::LoraConfig,
}

/// A mini-batch of targets, as tensors.
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
}

/// What a forward pass produces.
pub struct FusionOutput {
    /// Class scores `[B, C]`.
    pub logits: Tensor,
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
    pub num_nodes: usize,
}

pub struct FusedClassifier {
    features: Embedding,
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
                decomposition: match config.bases {
                    0 => Decomposition::None,
                    bases => Decomposition::Basis { bases },
                },
                dropout: config.dropout,
                learned_input: false,
                residual: true,
            },
        )?;
        Ok(Self {
            features: Embedding::new(table, d),
            rgcn,
            text_proj: linear(2 * config.text_dim, d, vb.pp("text_proj"))?,
            span_query: linear_no_bias(d, d, vb.pp("span_query"))?,
            node_key: linear_no_bias(d, d, vb.pp("node_key"))?,
            node_value: linear_no_bias(d, d, vb.pp("node_value"))?,
            entity_query: linear_no_bias(d, d, vb.pp("entity_query"))?,
            text_query: vb.get_with_hints(d, "text_query", Init::Const(0.0))?,
            gate: linear(2 * d, d, vb.pp("gate"))?,
            hidden: linear(3 * d, d, vb.pp("hidden"))?,
            out: linear(d, config.num_classes, vb.pp("out"))?,
            distmult: DistMult::load(vb.pp("distmult"), config.num_relations, d)?,
            config: config.clone(),
        })
    }

    pub fn config(&self) -> &FusionConfig {
        &self.config
    }

    /// Node embeddings `[nodes, dim]` from the features through the R-GCN.
    pub fn node_embeddings(
        &self,
        features: &NodeFeatures,
        graph: &MessageGraph,
        dropout: &mut dyn FnMut(&Tensor) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let bag = self.features.forward(&features.ids)?;
        let zeros = Tensor::zeros(
            (features.num_nodes, self.config.dim),
            DType::F32,
            bag.device(),
        )?;
        let input = zeros
            .index_add(&features.nodes, &bag, 0)?
            .broadcast_mul(&features.inverse_counts)?;
        self.rgcn.forward(Some(&input), graph, dropout)
    }

    /// Class scores for a batch; `nodes` are the node embeddings (required
    /// when the graph side is on).
    pub fn forward(
        &self,
        batch: &FusionBatch,
        nodes: Option<&Tensor>,
        dropout: &mut dyn FnMut(&Tensor) -> Result<Tensor>,
    ) -> Result<FusionOutput> {
        let d = self.config.dim;
        let b = batch.targets.dim(0)?;
        let h = match (self.config.use_graph, nodes) {
            (true, Some(nodes)) => Some(nodes.index_select(&batch.targets, 0)?),
            (true, None) => candle_core::bail!("the graph side needs node embeddings"),
            (false, _) => None,
        };
        let mut items_out = None;
        let mut attention = None;
        let z = if self.config.use_text {
            let items = self.text_proj.forward(&dropout(&batch.items)?)?;
            let padded = Tensor::cat(&[&items, &items.zeros_like()?.narrow(0, 0, 1)?], 0)?;
            let (_, m) = batch.item_index.dims2()?;
            let mut spans = padded
                .index_select(&batch.item_index.flatten_all()?, 0)?
                .reshape((b, m, d))?;
            let scale = 1.0 / (d as f64).sqrt();
            if let (Some(nodes), true) = (nodes, self.config.use_graph) {
                let (_, k) = batch.neighbour_index.dims2()?;
                let near = nodes
                    .index_select(&batch.neighbour_index.flatten_all()?, 0)?
                    .reshape((b, k, d))?;
                let q = self.span_query.forward(&spans)?;
                let keys = self.node_key.forward(&near)?;
                let scores = (q.matmul(&keys.transpose(1, 2)?)? * scale)?;
                let weights = masked_softmax(&scores, &batch.neighbour_mask.unsqueeze(1)?)?;
                spans = (spans + weights.matmul(&self.node_value.forward(&near)?)?)?;
            }
            let query = match &h {
                Some(h) => self.entity_query.forward(h)?,
                None => self
                    .text_query
                    .unsqueeze(0)?
                    .broadcast_as((b, d))?
                    .contiguous()?,
            };
            let scores = (query.unsqueeze(1)?.matmul(&spans.transpose(1, 2)?)? * scale)?;
            let weights = masked_softmax(&scores, &batch.item_mask.unsqueeze(1)?)?;
            let t = weights.matmul(&spans)?.squeeze(1)?;
            attention = Some(weights.squeeze(1)?);
            items_out = Some(items);
            match &h {
                Some(h) => {
                    let g =
                        candle_nn::ops::sigmoid(&self.gate.forward(&Tensor::cat(&[h, &t], 1)?)?)?;
                    let mixed = ((&g * h)? + ((1.0 - &g)? * &t)?)?;
                    Tensor::cat(&[&mixed, h, &t], 1)?
                }
                None => Tensor::cat(&[&t, &t.zeros_like()?, &t], 1)?,
            }
        } else {
            let h = h.ok_or_else(|| {
                candle_core::Error::Msg("the model uses neither text nor graph".into())
            })?;
            Tensor::cat(&[&h, &h, &h.zeros_like()?], 1)?
        };
        let hidden = self.hidden.forward(&dropout(&z)?)?.relu()?;
        Ok(FusionOutput {
            logits: self.out.forward(&hidden)?,
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

/// Softmax over the last dimension where `mask` (broadcastable, 1 = keep) is
/// set; rows with nothing kept come out as zeros.
fn masked_softmax(scores: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let mask = mask.broadcast_as(scores.shape())?;
    let blocked = ((mask.ones_like()? - &mask)? * -1e9)?;
    let weights = candle_nn::ops::softmax_last_dim(&(scores + blocked)?)?;
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
