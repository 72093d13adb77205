//! Link prediction: an R-GCN encoder over the training graph (with inverse
//! edges) and a DistMult (or ComplEx) decoder with one relation vector per direction
//! (queries `(h, r, ?)` use `r`, queries `(?, r, t)` use `r⁻¹`). Training
//! scores every node for each query (1-N scoring) with binary cross-entropy
//! and label smoothing; evaluation is the filtered realistic rank in both
//! directions.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::checkpoint::ModelKind;
use super::metrics::{realistic_rank, RankMetrics};
use super::trainer::{bce_with_logits, dropout, TrainReport, TrainerConfig, TrainingTask};
use crate::error::{Error, Result};
use crate::gnn::{ComplEx, Decomposition, DistMult, MessageGraph, RgcnConfig, RgcnEncoder};

/// Triples as dense ids with their vocabularies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkData {
    pub entities: Vec<String>,
    pub relations: Vec<String>,
    pub train: Vec<[u32; 3]>,
    pub valid: Vec<[u32; 3]>,
    pub test: Vec<[u32; 3]>,
}

impl LinkData {
    /// Builds the vocabularies over all splits (in order of appearance).
    pub fn new(train: &[[String; 3]], valid: &[[String; 3]], test: &[[String; 3]]) -> Self {
        let mut data = Self::default();
        let (mut entity_ids, mut relation_ids) = (HashMap::new(), HashMap::new());
        let id = |map: &mut HashMap<String, u32>, names: &mut Vec<String>, name: &String| {
            *map.entry(name.clone()).or_insert_with(|| {
                names.push(name.clone());
                (names.len() - 1) as u32
            })
        };
        let mut convert = |split: &[[String; 3]], data: &mut Self| -> Vec<[u32; 3]> {
            split
                .iter()
                .map(|[h, r, t]| {
                    [
                        id(&mut entity_ids, &mut data.entities, h),
                        id(&mut relation_ids, &mut data.relations, r),
                        id(&mut entity_ids, &mut data.entities, t),
                    ]
                })
                .collect()
        };
        data.train = convert(train, &mut data);
        data.valid = convert(valid, &mut data);
        data.test = convert(test, &mut data);
        data
    }

    /// Every true triple of every split: what filtered ranking leaves out.
    pub fn known(&self) -> HashSet<[u32; 3]> {
        self.train
            .iter()
            .chain(&self.valid)
            .chain(&self.test)
            .copied()
            .collect()
    }

    /// Ids of triples given by name, for a model trained on this data.
    pub fn ids(&self, triples: &[[String; 3]]) -> Result<Vec<[u32; 3]>> {
        let entity: HashMap<&str, u32> = self
            .entities
            .iter()
            .enumerate()
            .map(|(i, e)| (e.as_str(), i as u32))
            .collect();
        let relation: HashMap<&str, u32> = self
            .relations
            .iter()
            .enumerate()
            .map(|(i, r)| (r.as_str(), i as u32))
            .collect();
        triples
            .iter()
            .map(|[h, r, t]| {
                let lookup = |map: &HashMap<&str, u32>, name: &str, what: &str| {
                    map.get(name).copied().ok_or_else(|| {
                        Error::InvalidTerm(format!(
                            "unknown {what} {name:?}: not in the model's vocabulary"
                        ))
                    })
                };
                Ok([
                    lookup(&entity, h, "entity")?,
                    lookup(&relation, r, "relation")?,
                    lookup(&entity, t, "entity")?,
                ])
            })
            .collect()
    }
}

/// Every hyper-parameter of the link predictor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkPredConfig {
    pub embedding_dim: usize,
    pub layer_dims: Vec<usize>,
    pub decomposition: Decomposition,
    pub dropout: f64,
    pub label_smoothing: f64,
    pub batch_size: usize,
    /// Skip connections around the R-GCN layers.
    #[serde(default)]
    pub residual: bool,
    #[serde(default)]
    pub decoder: DecoderKind,
}

/// Which decoder scores triples from node embeddings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecoderKind {
    /// What model folders written before the decoder was a choice used.
    #[default]
    DistMult,
    ComplEx,
}

/// The decoder, one relation vector per relation and direction.
pub enum Decoder {
    DistMult(DistMult),
    ComplEx(ComplEx),
}

impl Decoder {
    fn load(
        vb: VarBuilder,
        kind: DecoderKind,
        relations: usize,
        dim: usize,
    ) -> candle_core::Result<Self> {
        Ok(match kind {
            DecoderKind::DistMult => Self::DistMult(DistMult::load(vb, relations, dim)?),
            DecoderKind::ComplEx => Self::ComplEx(ComplEx::load(vb, relations, dim)?),
        })
    }

    /// Scores of every node as the answer of each query `(node, relation)`.
    pub fn score_all(
        &self,
        nodes: &Tensor,
        known: &Tensor,
        relations: &Tensor,
    ) -> candle_core::Result<Tensor> {
        match self {
            Self::DistMult(d) => d.score_all(nodes, known, relations),
            Self::ComplEx(c) => c.score_all(nodes, known, relations),
        }
    }
}

impl Default for LinkPredConfig {
    fn default() -> Self {
        Self {
            embedding_dim: 200,
            layer_dims: vec![200],
            decomposition: Decomposition::Basis { bases: 10 },
            dropout: 0.5,
            label_smoothing: 0.1,
            batch_size: 128,
            residual: false,
            // DistMult scores (h, r, t) and (t, r, h) alike; ComplEx can
            // tell a parent from a child.
            decoder: DecoderKind::ComplEx,
        }
    }
}

/// The model: encoder, decoder and the training graph it passes messages on.
pub struct LinkPredictor {
    pub encoder: RgcnEncoder,
    pub decoder: Decoder,
    pub graph: MessageGraph,
    pub config: LinkPredConfig,
    num_relations: usize,
}

impl LinkPredictor {
    pub fn load(
        vb: VarBuilder,
        data: &LinkData,
        config: &LinkPredConfig,
        device: &Device,
    ) -> Result<Self> {
        let r = data.relations.len();
        let edges: Vec<(u32, u32, u32)> = data
            .train
            .iter()
            .flat_map(|&[h, rel, t]| [(h, rel, t), (t, rel + r as u32, h)])
            .collect();
        let graph = MessageGraph::new(data.entities.len(), 2 * r, &edges, device)?;
        let rgcn = RgcnConfig {
            num_nodes: data.entities.len(),
            num_relations: 2 * r,
            input_dim: config.embedding_dim,
            layer_dims: config.layer_dims.clone(),
            decomposition: config.decomposition,
            dropout: config.dropout,
            learned_input: true,
            residual: config.residual,
        };
        let encoder = RgcnEncoder::load(vb.pp("encoder"), &rgcn)?;
        let decoder = Decoder::load(
            vb.pp("decoder"),
            config.decoder,
            2 * r,
            encoder.output_dim(),
        )?;
        Ok(Self {
            encoder,
            decoder,
            graph,
            config: config.clone(),
            num_relations: r,
        })
    }

    /// Node representations; dropout only when `rng` is given (training).
    pub fn nodes(&self, rng: Option<&mut ChaCha8Rng>) -> Result<Tensor> {
        let p = self.config.dropout;
        let result = match rng {
            Some(rng) => self.encoder.forward(None, &self.graph, &mut |x| {
                dropout(x, p, rng).map_err(|e| candle_core::Error::Msg(e.to_string()))
            }),
            None => self
                .encoder
                .forward(None, &self.graph, &mut |x| Ok(x.clone())),
        };
        result.map_err(Error::from)
    }

    /// Filtered ranking metrics on `triples`, both directions; `known` holds
    /// every true triple (all splits) to filter.
    pub fn evaluate(&self, triples: &[[u32; 3]], known: &HashSet<[u32; 3]>) -> Result<RankMetrics> {
        let nodes = self.nodes(None)?;
        let r = self.num_relations as u32;
        let device = nodes.device().clone();
        let mut ranks = Vec::with_capacity(2 * triples.len());
        for chunk in triples.chunks(256) {
            // Tail queries (h, r, ?) then head queries (t, r⁻¹, ?).
            let known_ids: Vec<u32> = chunk
                .iter()
                .map(|t| t[0])
                .chain(chunk.iter().map(|t| t[2]))
                .collect();
            let rel_ids: Vec<u32> = chunk
                .iter()
                .map(|t| t[1])
                .chain(chunk.iter().map(|t| t[1] + r))
                .collect();
            let n = known_ids.len();
            let scores = self
                .decoder
                .score_all(
                    &nodes,
                    &Tensor::from_vec(known_ids, n, &device)?,
                    &Tensor::from_vec(rel_ids, n, &device)?,
                )
                .and_then(|s| s.to_vec2::<f32>())?;
            for (i, &[h, rel, t]) in chunk.iter().enumerate() {
                ranks.push(realistic_rank(&scores[i], t as usize, |c| {
                    c != t as usize && known.contains(&[h, rel, c as u32])
                }));
                ranks.push(realistic_rank(&scores[chunk.len() + i], h as usize, |c| {
                    c != h as usize && known.contains(&[c as u32, rel, t])
                }));
            }
        }
        Ok(RankMetrics::from_ranks(&ranks))
    }
}

/// Training on the train split, validating filtered MRR on the valid split.
pub struct LinkPredTraining<'a> {
    pub model: &'a LinkPredictor,
    /// `(known node, relation or inverse) -> answers` over the train split.
    queries: Vec<((u32, u32), Vec<u32>)>,
    valid: Vec<[u32; 3]>,
    known: HashSet<[u32; 3]>,
}

impl<'a> LinkPredTraining<'a> {
    pub fn new(model: &'a LinkPredictor, data: &LinkData) -> Self {
        let r = data.relations.len() as u32;
        let mut answers: HashMap<(u32, u32), Vec<u32>> = HashMap::new();
        for &[h, rel, t] in &data.train {
            answers.entry((h, rel)).or_default().push(t);
            answers.entry((t, rel + r)).or_default().push(h);
        }
        let mut queries: Vec<((u32, u32), Vec<u32>)> = answers.into_iter().collect();
        queries.sort();
        Self {
            model,
            queries,
            valid: data.valid.clone(),
            known: data.known(),
        }
    }
}

impl TrainingTask for LinkPredTraining<'_> {
    fn train_epoch(
        &mut self,
        rng: &mut ChaCha8Rng,
        step: &mut dyn FnMut(&Tensor) -> Result<f64>,
    ) -> Result<f64> {
        let mut order: Vec<usize> = (0..self.queries.len()).collect();
        order.shuffle(rng);
        let n = self.model.graph.num_nodes;
        let smoothing = self.model.config.label_smoothing;
        let device = self
            .model
            .graph
            .relations
            .first()
            .map(|r| r.src.device().clone())
            .unwrap_or(Device::Cpu);
        let (mut total, mut batches) = (0.0, 0usize);
        for batch in order.chunks(self.model.config.batch_size.max(1)) {
            let mut targets = vec![smoothing as f32 / n as f32; batch.len() * n];
            for (row, &q) in batch.iter().enumerate() {
                for &answer in &self.queries[q].1 {
                    targets[row * n + answer as usize] += 1.0 - smoothing as f32;
                }
            }
            let known: Vec<u32> = batch.iter().map(|&q| self.queries[q].0 .0).collect();
            let relations: Vec<u32> = batch.iter().map(|&q| self.queries[q].0 .1).collect();
            let b = batch.len();
            let nodes = self.model.nodes(Some(rng))?;
            let logits = self.model.decoder.score_all(
                &nodes,
                &Tensor::from_vec(known, b, &device)?,
                &Tensor::from_vec(relations, b, &device)?,
            )?;
            let targets = Tensor::from_vec(targets, (b, n), &device)?;
            let loss = bce_with_logits(&logits, &targets)?;
            total += step(&loss)?;
            batches += 1;
        }
        Ok(total / batches.max(1) as f64)
    }

    /// The filtered MRR on the validation triples.
    fn validate(&mut self) -> Result<f64> {
        Ok(self.model.evaluate(&self.valid, &self.known)?.mrr)
    }
}

/// What a link-prediction model folder's `config.json` holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct LinkPredFolder {
    /// `ModelKind::LinkPredictor`'s tag (folders of earlier versions call
    /// the field `task`).
    #[serde(alias = "task")]
    pub kind: String,
    pub model: LinkPredConfig,
    pub trainer: TrainerConfig,
    pub data: LinkData,
}

/// A link-prediction model folder's `metrics.json`.
#[derive(Debug, Serialize)]
pub struct LinkPredMetrics {
    pub valid: RankMetrics,
    pub test: RankMetrics,
    pub training: TrainReport,
}

impl LinkPredFolder {
    /// Writes `dir`: this config, the weights in `varmap` and `metrics`.
    pub fn save(&self, dir: &Path, varmap: &VarMap, metrics: &LinkPredMetrics) -> Result<()> {
        super::checkpoint::save(dir, self, varmap, metrics)
    }

    /// Reads the folder at `dir` (checked to be a link predictor's) and its
    /// model with the trained weights, on the CPU.
    pub fn open(dir: &Path) -> Result<(Self, LinkPredictor)> {
        let folder: Self = super::checkpoint::load_config(dir, ModelKind::LinkPredictor)?;
        let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(folder.trainer.seed);
        let (mut varmap, model) = new_model(&folder.data, &folder.model, &mut rng, &Device::Cpu)?;
        super::checkpoint::load_weights(dir, &mut varmap)?;
        Ok((folder, model))
    }
}

/// A fresh variable map and model with seeded weights.
pub fn new_model(
    data: &LinkData,
    config: &LinkPredConfig,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Result<(VarMap, LinkPredictor)> {
    let varmap = VarMap::new();
    let model = LinkPredictor::load(
        VarBuilder::from_varmap(&varmap, DType::F32, device),
        data,
        config,
        device,
    )?;
    super::trainer::seed_weights(&varmap, rng)?;
    Ok((varmap, model))
}

/// The triples of one named graph whose object is an IRI or blank node, as
/// names: a node's `rdfs:label` when it has one (TSV files loaded with
/// `--format tsv` label every name), else its IRI.
pub fn triples_from_graph(
    store: &crate::store::Store,
    graph: &oxigraph::model::NamedNode,
) -> Result<Vec<[String; 3]>> {
    use oxigraph::model::Term;
    let runner = crate::store::SparqlRunner::new(store);
    let query = format!(
        "SELECT ?s ?p ?o (SAMPLE(?sl) AS ?sn) (SAMPLE(?pl) AS ?pn) (SAMPLE(?ol) AS ?on) WHERE {{
           GRAPH <{graph}> {{ ?s ?p ?o FILTER(!isLiteral(?o)) }}
           OPTIONAL {{ ?s rdfs:label ?sl }} OPTIONAL {{ ?p rdfs:label ?pl }} OPTIONAL {{ ?o rdfs:label ?ol }}
         }} GROUP BY ?s ?p ?o ORDER BY ?s ?p ?o",
        graph = graph.as_str()
    );
    let (_, rows) = runner.select(&query, &[])?;
    if rows.is_empty() {
        return Err(Error::Data(format!(
            "graph <{}> holds no triple between resources",
            graph.as_str()
        )));
    }
    let name = |label: &Option<Term>, term: &Option<Term>| match (label, term) {
        (Some(Term::Literal(l)), _) => l.value().to_owned(),
        (_, Some(Term::NamedNode(n))) => n.as_str().to_owned(),
        (_, Some(other)) => other.to_string(),
        (_, None) => String::new(),
    };
    Ok(rows
        .iter()
        .map(|r| [name(&r[3], &r[0]), name(&r[4], &r[1]), name(&r[5], &r[2])])
        .collect())
}

/// Reads `head<TAB>relation<TAB>tail` lines; errors name the file and line.
pub fn read_tsv(path: &std::path::Path) -> Result<Vec<[String; 3]>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let parts: Vec<&str> = line.split('\t').collect();
            match parts.as_slice() {
                [h, r, t] => Ok([
                    h.trim().to_owned(),
                    r.trim().to_owned(),
                    t.trim().to_owned(),
                ]),
                _ => Err(Error::Syntax {
                    path: path.to_owned(),
                    line: i as u64 + 1,
                    column: 1,
                    message: format!(
                        "expected head<TAB>relation<TAB>tail, found {} field(s)",
                        parts.len()
                    ),
                }),
            }
        })
        .collect()
}
