//! `RelationFollower`: a question-conditioned GNN over retrieved subgraphs,
//! in the spirit of GraftNet, NSM and TransferNet. For each hop `t` the
//! question's BERT token states are pooled by a learned attention into an
//! instruction, which gives a distribution over relations (with inverses);
//! entity scores flow from the topic entities along every edge, weighted by
//! its relation's probability at that hop. A second head weighs the hops,
//! so one model answers 1-, 2- and 3-hop questions. Scores lie in [0, 1].

use candle_core::{DType, Result, Tensor, D};
use candle_nn::{linear, Linear, Module, VarBuilder};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelationFollowerConfig {
    /// Width of the BERT token states.
    pub text_dim: usize,
    /// Relations including inverses.
    pub relations: usize,
    /// Largest number of hops from a topic entity (1 to 3).
    pub hops: usize,
    /// Width of the layer between instruction and relation scores.
    pub inner_dim: usize,
}

/// A batch of questions with their subgraphs, as one disjoint graph.
pub struct QuestionBatch {
    /// BERT token states `[questions, longest, text_dim]`.
    pub tokens: Tensor,
    /// 1 for real tokens, 0 for padding, `f32` `[questions, longest]`.
    pub token_mask: Tensor,
    pub edge_source: Tensor,
    pub edge_target: Tensor,
    /// `question * relations + relation` of each edge, `u32` `[edges]`.
    pub edge_relation: Tensor,
    /// The question of each node, `u32` `[nodes]`.
    pub node_question: Tensor,
    /// 1 at topic entities, `f32` `[nodes]`.
    pub topic: Tensor,
}

/// The model's reading of a batch.
pub struct FollowerOutput {
    /// Answer score of every node in [0, 1] (0 at topic entities).
    pub scores: Tensor,
    /// `[questions, hops, relations]`, each row a distribution.
    pub relation_probs: Tensor,
    /// `[questions, hops]`, each row a distribution.
    pub hop_probs: Tensor,
}

pub struct RelationFollower {
    /// One attention query per hop over the question's tokens.
    attention: Linear,
    inner: Linear,
    relation_heads: Vec<Linear>,
    hop_head: Linear,
    config: RelationFollowerConfig,
}

impl RelationFollower {
    pub fn load(vb: VarBuilder, config: &RelationFollowerConfig) -> Result<Self> {
        if !(1..=3).contains(&config.hops) {
            candle_core::bail!("hops must be 1 to 3, not {}", config.hops);
        }
        let relation_heads = (0..config.hops)
            .map(|t| {
                linear(
                    config.inner_dim,
                    config.relations,
                    vb.pp(format!("relation{t}")),
                )
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            attention: linear(config.text_dim, config.hops, vb.pp("attention"))?,
            inner: linear(config.text_dim, config.inner_dim, vb.pp("inner"))?,
            relation_heads,
            hop_head: linear(config.text_dim, config.hops, vb.pp("hop"))?,
            config: config.clone(),
        })
    }

    pub fn forward(&self, batch: &QuestionBatch) -> Result<FollowerOutput> {
        let (questions, _, _) = batch.tokens.dims3()?;
        let mask = batch.token_mask.unsqueeze(2)?; // [B, L, 1]
                                                   // Attention of each hop over the tokens, padding pushed to -inf.
        let logits = self.attention.forward(&batch.tokens)?; // [B, L, T]
        let logits = logits.broadcast_add(&((&mask - 1.0)? * 1e9)?)?;
        let weights = candle_nn::ops::softmax(&logits, 1)?; // over L
        let instructions = weights.transpose(1, 2)?.matmul(&batch.tokens)?; // [B, T, H]
        let inner = self.inner.forward(&instructions)?.relu()?;
        let relation_probs = Tensor::stack(
            &self
                .relation_heads
                .iter()
                .enumerate()
                .map(|(t, head)| {
                    let logits = head.forward(&inner.narrow(1, t, 1)?.squeeze(1)?)?;
                    candle_nn::ops::softmax(&logits, D::Minus1)
                })
                .collect::<Result<Vec<_>>>()?,
            1,
        )?; // [B, T, R]
        let pooled = (batch.tokens.broadcast_mul(&mask)?.sum(1)?
            / mask
                .sum(1)?
                .clamp(1.0, f64::MAX)?
                .broadcast_as((questions, self.config.text_dim))?)?;
        let hop_probs = candle_nn::ops::softmax(&self.hop_head.forward(&pooled)?, D::Minus1)?;
        let nodes = batch.topic.dims1()?;
        let node_hops = hop_probs.index_select(&batch.node_question, 0)?; // [N, T]
        let mut state = batch.topic.clone();
        let mut scores = Tensor::zeros(nodes, DType::F32, batch.topic.device())?;
        for t in 0..self.config.hops {
            let per_edge = relation_probs
                .narrow(1, t, 1)?
                .flatten_all()?
                .index_select(&batch.edge_relation, 0)?;
            let messages = state.index_select(&batch.edge_source, 0)?.mul(&per_edge)?;
            state = Tensor::zeros(nodes, DType::F32, batch.topic.device())?
                .index_add(&batch.edge_target, &messages, 0)?
                .clamp(0f32, 1f32)?;
            scores = (scores + state.mul(&node_hops.narrow(1, t, 1)?.squeeze(1)?)?)?;
        }
        let scores = scores.mul(&batch.topic.affine(-1.0, 1.0)?)?;
        Ok(FollowerOutput {
            scores,
            relation_probs,
            hop_probs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use candle_nn::VarMap;

    /// A chain 0 -r0-> 1 -r1-> 2 for one question: with all relation mass on
    /// r0 at hop 1 and r1 at hop 2, and the hop weight on hop 2, node 2 scores 1.
    #[test]
    fn scores_follow_the_relation_path() {
        let device = Device::Cpu;
        let varmap = VarMap::new();
        let config = RelationFollowerConfig {
            text_dim: 2,
            relations: 2,
            hops: 2,
            inner_dim: 2,
        };
        let model = RelationFollower::load(
            VarBuilder::from_varmap(&varmap, DType::F32, &device),
            &config,
        )
        .unwrap();
        let set = |name: &str, values: &[f32], shape: &[usize]| {
            let data = varmap.data().lock().unwrap();
            data[name]
                .set(&Tensor::from_vec(values.to_vec(), shape, &device).unwrap())
                .unwrap();
        };
        // Token state (1, 1): inner = relu(identity) = (1, 1).
        set("inner.weight", &[1., 0., 0., 1.], &[2, 2]);
        set("inner.bias", &[0., 0.], &[2]);
        set("relation0.weight", &[50., 0., 0., 0.], &[2, 2]);
        set("relation0.bias", &[0., 0.], &[2]);
        set("relation1.weight", &[0., 0., 0., 50.], &[2, 2]);
        set("relation1.bias", &[0., 0.], &[2]);
        set("hop.weight", &[0., 0., 50., 0.], &[2, 2]);
        set("hop.bias", &[0., 0.], &[2]);
        let u32s = |v: &[u32]| Tensor::new(v, &device).unwrap();
        let batch = QuestionBatch {
            tokens: Tensor::new(&[[[1f32, 1.]]], &device).unwrap(),
            token_mask: Tensor::new(&[[1f32]], &device).unwrap(),
            edge_source: u32s(&[0, 1]),
            edge_target: u32s(&[1, 2]),
            edge_relation: u32s(&[0, 1]),
            node_question: u32s(&[0, 0, 0]),
            topic: Tensor::new(&[1f32, 0., 0.], &device).unwrap(),
        };
        let out = model.forward(&batch).unwrap();
        let scores = out.scores.to_vec1::<f32>().unwrap();
        assert!(scores[0] == 0.0, "the topic is never an answer: {scores:?}");
        assert!(scores[1] < 0.01, "{scores:?}");
        assert!(scores[2] > 0.99, "{scores:?}");
    }
}
