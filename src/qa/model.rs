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
    /// Whether the hop head reads each hop's instruction besides the
    /// question's mean token state (model folders before this read only
    /// the mean).
    #[serde(default)]
    pub hops_read_instructions: bool,
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
    /// Each distinct (node, relation) pair the edges leave a node by: the
    /// node, `u32` `[pairs]`, and `question * relations + relation`.
    pub exit_node: Tensor,
    pub exit_relation: Tensor,
    /// The question of each node, `u32` `[nodes]`.
    pub node_question: Tensor,
    /// 1 at topic entities, `f32` `[nodes]`.
    pub topic: Tensor,
}

/// A node passes its score on over the relations it has, each in proportion
/// to its probability among them: a question phrased for another type of
/// topic still flows (the film's writer, when the reading expected a
/// person's films). Below this much probability on what a node has, the
/// flow is not scaled up further, so a reading that fits nothing stays weak.
pub const PRESENT_MASS_FLOOR: f32 = 0.1;

/// What the model reads from the questions alone, before any graph: the
/// relations each hop follows and the weight of each hop count. Guided
/// retrieval expands only along what this gives weight to.
pub struct QuestionReading {
    /// `[questions, hops, relations]`, each row a distribution.
    pub relation_probs: Tensor,
    /// `[questions, hops]`, each row a distribution.
    pub hop_probs: Tensor,
}

/// The model's reading of a batch.
pub struct FollowerOutput {
    /// Answer score of every node in [0, 1] (0 at topic entities).
    pub scores: Tensor,
    /// The same flow without the cap at 1: the summed weight of every path
    /// that reaches a node, which breaks ties between equal scores.
    pub evidence: Tensor,
    pub reading: QuestionReading,
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
            hop_head: linear(
                config.text_dim * (1 + usize::from(config.hops_read_instructions) * config.hops),
                config.hops,
                vb.pp("hop"),
            )?,
            config: config.clone(),
        })
    }

    /// Reads questions: BERT token states `[B, L, text_dim]` and their mask
    /// `[B, L]` (1 for real tokens) give each hop's relation distribution and
    /// the hop-count distribution.
    pub fn read(&self, tokens: &Tensor, token_mask: &Tensor) -> Result<QuestionReading> {
        let (questions, _, _) = tokens.dims3()?;
        let mask = token_mask.unsqueeze(2)?; // [B, L, 1]
                                             // Attention of each hop over the tokens, padding pushed to -inf.
        let logits = self.attention.forward(tokens)?; // [B, L, T]
        let logits = logits.broadcast_add(&((&mask - 1.0)? * 1e9)?)?;
        let weights = candle_nn::ops::softmax(&logits, 1)?; // over L
        let instructions = weights.transpose(1, 2)?.matmul(tokens)?; // [B, T, H]
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
        let pooled = (tokens.broadcast_mul(&mask)?.sum(1)?
            / mask
                .sum(1)?
                .clamp(1.0, f64::MAX)?
                .broadcast_as((questions, self.config.text_dim))?)?;
        // Whether a hop has a relation phrase of its own to read shows in
        // its instruction, not only in the question's mean.
        let hop_input = if self.config.hops_read_instructions {
            Tensor::cat(&[pooled, instructions.flatten_from(1)?], 1)?
        } else {
            pooled
        };
        let hop_probs = candle_nn::ops::softmax(&self.hop_head.forward(&hop_input)?, D::Minus1)?;
        Ok(QuestionReading {
            relation_probs,
            hop_probs,
        })
    }

    /// Reads the questions, then lets scores flow from the topics along
    /// every edge of their subgraphs, weighted by each hop's relation
    /// probabilities (renormalised over the relations each node has, see
    /// [`PRESENT_MASS_FLOOR`]) and summed over hops by the hop weights.
    pub fn forward(&self, batch: &QuestionBatch) -> Result<FollowerOutput> {
        let reading = self.read(&batch.tokens, &batch.token_mask)?;
        let nodes = batch.topic.dims1()?;
        let device = batch.topic.device();
        let node_hops = reading.hop_probs.index_select(&batch.node_question, 0)?; // [N, T]
        let (mut state, mut paths) = (batch.topic.clone(), batch.topic.clone());
        let mut scores = Tensor::zeros(nodes, DType::F32, device)?;
        let mut evidence = Tensor::zeros(nodes, DType::F32, device)?;
        for t in 0..self.config.hops {
            let probs = reading.relation_probs.narrow(1, t, 1)?.flatten_all()?;
            let present = Tensor::zeros(nodes, DType::F32, device)?
                .index_add(
                    &batch.exit_node,
                    &probs.index_select(&batch.exit_relation, 0)?,
                    0,
                )?
                .clamp(PRESENT_MASS_FLOOR, f32::MAX)?;
            let per_edge = probs
                .index_select(&batch.edge_relation, 0)?
                .div(&present.index_select(&batch.edge_source, 0)?)?;
            let flow = |from: &Tensor| -> Result<Tensor> {
                let messages = from.index_select(&batch.edge_source, 0)?.mul(&per_edge)?;
                Tensor::zeros(nodes, DType::F32, device)?.index_add(
                    &batch.edge_target,
                    &messages,
                    0,
                )
            };
            state = flow(&state)?.clamp(0f32, 1f32)?;
            paths = flow(&paths)?;
            let hop_weight = node_hops.narrow(1, t, 1)?.squeeze(1)?;
            scores = (scores + state.mul(&hop_weight)?)?;
            evidence = (evidence + paths.mul(&hop_weight)?)?;
        }
        let not_topic = batch.topic.affine(-1.0, 1.0)?;
        Ok(FollowerOutput {
            scores: scores.mul(&not_topic)?,
            evidence: evidence.mul(&not_topic)?,
            reading,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use candle_nn::VarMap;

    /// A follower over 2-wide token states and 2 relations, with the named
    /// weights set (the others random).
    fn follower(hops: usize, weights: &[(&str, &[f32], &[usize])]) -> RelationFollower {
        let varmap = VarMap::new();
        let config = RelationFollowerConfig {
            text_dim: 2,
            relations: 2,
            hops,
            inner_dim: 2,
            hops_read_instructions: false,
        };
        let model = RelationFollower::load(
            VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
            &config,
        )
        .unwrap();
        let data = varmap.data().lock().unwrap();
        for (name, values, shape) in weights {
            data[*name]
                .set(&Tensor::from_vec(values.to_vec(), *shape, &Device::Cpu).unwrap())
                .unwrap();
        }
        model
    }

    /// The topic has only an r1 edge while the reading expects r0: its
    /// flow goes over r1, scaled up to the floor.
    #[test]
    fn a_node_passes_its_score_over_the_relations_it_has() {
        let device = Device::Cpu;
        let score_with = |p_r0: f32| -> f32 {
            let bias = [p_r0.ln(), (1.0 - p_r0).ln()];
            let model = follower(
                1,
                &[
                    ("relation0.weight", &[0.; 4], &[2, 2]),
                    ("relation0.bias", &bias, &[2]),
                ],
            );
            let u32s = |v: &[u32]| Tensor::new(v, &device).unwrap();
            let batch = QuestionBatch {
                tokens: Tensor::new(&[[[1f32, 1.]]], &device).unwrap(),
                token_mask: Tensor::new(&[[1f32]], &device).unwrap(),
                edge_source: u32s(&[0]),
                edge_target: u32s(&[1]),
                edge_relation: u32s(&[1]),
                exit_node: u32s(&[0]),
                exit_relation: u32s(&[1]),
                node_question: u32s(&[0, 0]),
                topic: Tensor::new(&[1f32, 0.], &device).unwrap(),
            };
            model
                .forward(&batch)
                .unwrap()
                .scores
                .to_vec1::<f32>()
                .unwrap()[1]
        };
        assert!((score_with(0.8) - 1.0).abs() < 1e-4, "0.2 of 0.2 present");
        assert!(
            (score_with(0.95) - 0.5).abs() < 1e-4,
            "0.05 over the floor 0.1"
        );
    }

    /// A chain 0 -r0-> 1 -r1-> 2 for one question: with all relation mass on
    /// r0 at hop 1 and r1 at hop 2, and the hop weight on hop 2, node 2 scores 1.
    #[test]
    fn scores_follow_the_relation_path() {
        let device = Device::Cpu;
        // Token state (1, 1): inner = relu(identity) = (1, 1).
        let model = follower(
            2,
            &[
                ("inner.weight", &[1., 0., 0., 1.], &[2, 2]),
                ("inner.bias", &[0., 0.], &[2]),
                ("relation0.weight", &[50., 0., 0., 0.], &[2, 2]),
                ("relation0.bias", &[0., 0.], &[2]),
                ("relation1.weight", &[0., 0., 0., 50.], &[2, 2]),
                ("relation1.bias", &[0., 0.], &[2]),
                ("hop.weight", &[0., 0., 50., 0.], &[2, 2]),
                ("hop.bias", &[0., 0.], &[2]),
            ],
        );
        let u32s = |v: &[u32]| Tensor::new(v, &device).unwrap();
        let batch = QuestionBatch {
            tokens: Tensor::new(&[[[1f32, 1.]]], &device).unwrap(),
            token_mask: Tensor::new(&[[1f32]], &device).unwrap(),
            edge_source: u32s(&[0, 1]),
            edge_target: u32s(&[1, 2]),
            edge_relation: u32s(&[0, 1]),
            exit_node: u32s(&[0, 1]),
            exit_relation: u32s(&[0, 1]),
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
