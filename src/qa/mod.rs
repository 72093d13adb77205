//! Question answering over the store: a question's entities are linked
//! (`linking`), their k-hop subgraph retrieved with the named query
//! `subgraph` (`graph::SubgraphRetriever`, fan-out capped), and the
//! `RelationFollower` (`model`), conditioned on the question's BERT token
//! states, scores the subgraph's nodes; answers above a calibrated threshold
//! come back with their relation paths and the SPARQL that returns them
//! (`path`). `training` fits and evaluates; `questions` reads and generates
//! question sets.

pub mod compose;
pub mod labels;
pub mod linking;
pub mod model;
pub mod path;
pub mod pipeline;
pub mod questions;
pub mod training;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use oxigraph::model::{NamedNode, NamedOrBlankNode, Term, Variable};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use labels::{label_paths, RelationPath};
pub use linking::{normalize, strip_brackets, EntityLinker, Mention};
pub use model::{QuestionBatch, QuestionReading, RelationFollower, RelationFollowerConfig};
pub use path::{answer_query, Step};
pub use questions::{generate_questions, read_questions, GenerateOptions, Question};

use crate::error::{Error, Result};
use crate::graph::{display_label, GuidedStep, Subgraph, SubgraphOptions, SubgraphRetriever};
use crate::store::query::SparqlRunner;
use crate::store::Store;
use crate::tasks::checkpoint::{self, ModelKind};
use crate::tasks::trainer::TrainerConfig;
use crate::text::BertEncoder;

/// What replaces a linked mention in the text BERT reads: the model learns
/// the question's shape, not the entity's name.
const MENTION_MASK: &str = "[MASK]";

/// What `config.json` of a QA model folder holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedQaModel {
    pub kind: String,
    /// Predicates the model follows; id `i` reads forward, `i + n` backward.
    pub relations: Vec<String>,
    pub model: RelationFollowerConfig,
    pub retrieval: Retrieval,
    /// Nodes scoring at least this are answers (calibrated on validation).
    pub threshold: f64,
    pub trainer: TrainerConfig,
    /// Name of the BERT checkpoint folder whose token states the model reads.
    pub bert: String,
    /// Instance labels the training questions use as words, not topics
    /// (`EntityLinker::question_words`); absent in older model folders.
    #[serde(default)]
    pub question_words: Vec<String>,
}

/// Retrieval limits, saved with the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retrieval {
    /// The most hops of an answer (1 to 3); each question's own hop
    /// weights decide how far its retrieval goes.
    pub hops: usize,
    /// Neighbours read per expanded node.
    pub fanout: usize,
    /// Nodes a guided hop expands: those the question's flow reaches most.
    #[serde(default = "default_beam")]
    pub beam: usize,
}

fn default_beam() -> usize {
    1000
}

/// A guided retrieval takes the relations a hop gives at least this
/// probability, and goes as far as the last hop count with at least this
/// weight.
const GUIDE_MIN_WEIGHT: f32 = 0.002;

/// A question linked, read, and with the subgraph its reading asks for
/// retrieved, ready for the model.
pub struct PreparedQuestion {
    pub mentions: Vec<Mention>,
    /// The linked entity of each mention (the BERT-chosen one if ambiguous).
    pub topics: Vec<NamedOrBlankNode>,
    pub subgraph: Subgraph,
    /// `(source, relation id, target)` in subgraph node indexes, both directions.
    pub edges: Vec<(u32, u32, u32)>,
    /// Subgraph indexes of the gold answers found in it (none when asked).
    pub gold: Vec<usize>,
    /// How many distinct gold answers the question has.
    pub gold_total: usize,
    /// BERT token states `[tokens, hidden]` of the masked question.
    pub tokens: Tensor,
}

impl PreparedQuestion {
    /// Subgraph indexes of the topic entities: the retriever lists its
    /// (distinct) seeds first, in order.
    pub fn topic_indexes(&self) -> std::ops::Range<usize> {
        0..self.topics.len()
    }
}

/// A linking or retrieval failure of one question in a question set.
#[derive(Debug, Clone)]
pub struct Unprepared {
    pub index: usize,
    pub reason: String,
}

/// A training question linked, labelled with the relation paths that
/// answer it through its full neighbourhood (`labels`), and read.
pub struct LabelledQuestion {
    /// The question with its mentions masked, as BERT read it.
    pub masked: String,
    pub topics: Vec<NamedOrBlankNode>,
    /// Empty when no path reaches a gold answer.
    pub paths: Vec<RelationPath>,
    /// BERT token states `[tokens, hidden]` of the masked question.
    pub tokens: Tensor,
}

/// A labelled question before BERT reads it: masked text, topics, paths.
type Unread = (String, Vec<NamedOrBlankNode>, Vec<RelationPath>);

/// A question's mentions and the entity each is linked to.
struct Linked {
    mentions: Vec<Mention>,
    topics: Vec<NamedOrBlankNode>,
}

/// The network, its relation vocabulary and the BERT that reads questions.
pub struct QaModel {
    pub relations: Vec<NamedNode>,
    relation_ids: HashMap<NamedNode, u32>,
    pub network: RelationFollower,
    pub varmap: VarMap,
    pub bert: BertEncoder,
    pub retrieval: Retrieval,
    pub threshold: f64,
    pub trainer: TrainerConfig,
    pub config: RelationFollowerConfig,
    /// Passed over when linking a question without brackets if it names
    /// another instance (see `EntityLinker::question_words`).
    pub question_words: HashSet<String>,
}

impl QaModel {
    /// A fresh network over these relations.
    pub fn new(
        relations: Vec<NamedNode>,
        bert: BertEncoder,
        retrieval: Retrieval,
        inner_dim: usize,
        trainer: TrainerConfig,
    ) -> Result<Self> {
        let config = RelationFollowerConfig {
            text_dim: bert.hidden_size(),
            relations: 2 * relations.len(),
            hops: retrieval.hops,
            inner_dim,
            hops_read_instructions: true,
        };
        Self::with_config(relations, bert, retrieval, config, trainer)
    }

    fn with_config(
        relations: Vec<NamedNode>,
        bert: BertEncoder,
        retrieval: Retrieval,
        config: RelationFollowerConfig,
        trainer: TrainerConfig,
    ) -> Result<Self> {
        let varmap = VarMap::new();
        let network = RelationFollower::load(
            VarBuilder::from_varmap(&varmap, DType::F32, bert.device()),
            &config,
        )?;
        let relation_ids = relations
            .iter()
            .enumerate()
            .map(|(i, r)| (r.clone(), i as u32))
            .collect();
        Ok(Self {
            relations,
            relation_ids,
            network,
            varmap,
            bert,
            retrieval,
            threshold: 0.5,
            trainer,
            config,
            question_words: HashSet::new(),
        })
    }

    /// Loads a model folder; `bert` must be the checkpoint it was trained with
    /// (same width). Fails if none of its relations occur in `store`.
    pub fn load(dir: &Path, bert: BertEncoder, store: &Store) -> Result<Self> {
        let saved: SavedQaModel = checkpoint::load_config(dir, ModelKind::QuestionAnswerer)?;
        if bert.hidden_size() != saved.model.text_dim {
            return Err(Error::model_folder(
                dir,
                format!(
                    "was trained on {}-wide BERT states ({}); this BERT ({}) is {} wide",
                    saved.model.text_dim,
                    saved.bert,
                    bert.name(),
                    bert.hidden_size()
                ),
            ));
        }
        let relations = saved
            .relations
            .iter()
            .map(|r| NamedNode::new(r).map_err(|e| Error::model_folder(&dir, e.to_string())))
            .collect::<Result<Vec<_>>>()?;
        let present = relations.iter().any(|p| {
            store
                .quads_matching(None, Some(p.as_ref()), None, None)
                .next()
                .is_some()
        });
        if !present {
            return Err(Error::Data(format!(
                "none of the model's {} relations occur in this store: {} was trained on another graph",
                relations.len(),
                dir.display()
            )));
        }
        let mut model =
            Self::with_config(relations, bert, saved.retrieval, saved.model, saved.trainer)?;
        checkpoint::load_weights(dir, &mut model.varmap)?;
        model.threshold = saved.threshold;
        model.question_words = saved.question_words.into_iter().collect();
        Ok(model)
    }

    /// Learns, from the training questions (with brackets), the instance
    /// labels they use as words, for linking questions asked without.
    pub fn learn_question_words<'a>(
        &mut self,
        linker: &EntityLinker,
        training: impl IntoIterator<Item = &'a Question>,
    ) {
        self.question_words = linker
            .question_words(training.into_iter().map(|q| q.text.as_str()))
            .into_iter()
            .collect();
    }

    pub fn save(&self, dir: &Path, metrics: &impl Serialize) -> Result<()> {
        let saved = SavedQaModel {
            kind: ModelKind::QuestionAnswerer.tag().into(),
            relations: self
                .relations
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
            model: self.config.clone(),
            retrieval: self.retrieval,
            threshold: self.threshold,
            trainer: self.trainer.clone(),
            bert: self.bert.name().to_owned(),
            question_words: {
                let mut words: Vec<String> = self.question_words.iter().cloned().collect();
                words.sort();
                words
            },
        };
        checkpoint::save(dir, &saved, &self.varmap, metrics)
    }

    /// Links every question (in parallel); those that cannot be linked come
    /// back as `Unprepared`.
    fn link_all(
        &self,
        store: &Store,
        linker: &EntityLinker,
        questions: &[Question],
    ) -> (Vec<Option<Linked>>, Vec<Unprepared>) {
        let linked: Vec<Result<Linked>> = questions
            .par_iter()
            .map(|q| {
                let mentions = linker.mentions_skipping(&q.text, &self.question_words)?;
                let topics = self.choose_topics(store, &q.text, &mentions)?;
                Ok(Linked { mentions, topics })
            })
            .collect();
        let mut failed = Vec::new();
        let linked = linked
            .into_iter()
            .enumerate()
            .map(|(index, result)| {
                result
                    .map_err(|e| {
                        failed.push(Unprepared {
                            index,
                            reason: e.to_string(),
                        })
                    })
                    .ok()
            })
            .collect();
        (linked, failed)
    }

    /// Links and reads every question, then retrieves the subgraph each
    /// one's reading asks for (`SubgraphRetriever::retrieve_guided`: only
    /// the relations each hop weighs, only as many hops as the question
    /// weighs, the `beam` strongest nodes per hop), in parallel.
    pub fn prepare(
        &self,
        store: &Store,
        linker: &EntityLinker,
        questions: &[Question],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<(Vec<Option<PreparedQuestion>>, Vec<Unprepared>)> {
        let (linked, failed) = self.link_all(store, linker, questions);
        let texts: Vec<Option<String>> = linked
            .iter()
            .zip(questions)
            .map(|(l, q)| l.as_ref().map(|l| masked_text(&q.text, &l.mentions)))
            .collect();
        let tokens = self.read_questions(&texts)?;
        let guides = self.guides(&tokens)?;
        let retriever = self.retriever(store, self.retrieval.hops)?;
        let prepared: Vec<Option<PreparedQuestion>> = linked
            .into_par_iter()
            .zip(tokens)
            .zip(guides)
            .zip(questions)
            .map(|(((l, tokens), guide), q)| {
                let (Some(l), Some(tokens)) = (l, tokens) else {
                    return Ok(None);
                };
                let subgraph = retriever.retrieve_guided(
                    &l.topics,
                    &guide,
                    self.retrieval.beam,
                    model::PRESENT_MASS_FLOOR,
                )?;
                progress(1);
                Ok(Some(PreparedQuestion {
                    gold: gold_in(&subgraph, &l.topics, linker, q),
                    edges: self.local_edges(&subgraph),
                    mentions: l.mentions,
                    topics: l.topics,
                    subgraph,
                    gold_total: q.answers.len(),
                    tokens,
                }))
            })
            .collect::<Result<_>>()?;
        Ok((prepared, failed))
    }

    /// Links and reads training questions and labels each with the
    /// relation paths of up to `hops` that answer it best through its full,
    /// fan-out capped neighbourhood (the neighbourhood is then dropped).
    pub fn label(
        &self,
        store: &Store,
        linker: &EntityLinker,
        questions: &[Question],
        hops: usize,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<(Vec<Option<LabelledQuestion>>, Vec<Unprepared>)> {
        let (linked, failed) = self.link_all(store, linker, questions);
        let retriever = self.retriever(store, hops)?;
        let labelled: Vec<Option<Unread>> = linked
            .into_par_iter()
            .zip(questions)
            .map(|(l, q)| {
                let Some(l) = l else { return Ok(None) };
                let subgraph = retriever.retrieve(&l.topics)?;
                let gold = gold_in(&subgraph, &l.topics, linker, q);
                let topics: Vec<usize> = (0..l.topics.len()).collect();
                let paths = label_paths(&self.local_edges(&subgraph), &topics, &gold, hops);
                progress(1);
                Ok(Some((masked_text(&q.text, &l.mentions), l.topics, paths)))
            })
            .collect::<Result<_>>()?;
        Ok((self.read_labelled(labelled)?, failed))
    }

    /// Reads masked question texts with their topics and relation paths
    /// (`None` stays `None`).
    fn read_labelled(&self, items: Vec<Option<Unread>>) -> Result<Vec<Option<LabelledQuestion>>> {
        let texts: Vec<Option<String>> = items
            .iter()
            .map(|l| l.as_ref().map(|(text, _, _)| text.clone()))
            .collect();
        let tokens = self.read_questions(&texts)?;
        Ok(items
            .into_iter()
            .zip(tokens)
            .map(|(l, tokens)| {
                l.zip(tokens)
                    .map(|((masked, topics, paths), tokens)| LabelledQuestion {
                        masked,
                        topics,
                        paths,
                        tokens,
                    })
            })
            .collect())
    }

    /// Reads composed questions (masked text and the path it was made
    /// from) for training.
    pub fn read_composed(
        &self,
        composed: Vec<(String, RelationPath)>,
    ) -> Result<Vec<LabelledQuestion>> {
        let items = composed
            .into_iter()
            .map(|(text, path)| Some((text, Vec::new(), vec![path])))
            .collect();
        Ok(self.read_labelled(items)?.into_iter().flatten().collect())
    }

    /// Each question's reading from its token states, 256 at a time:
    /// `relation_probs[hop][relation]` and `hop_probs[hop]`.
    pub fn readings(&self, states: &[&Tensor]) -> Result<Vec<(Vec<Vec<f32>>, Vec<f32>)>> {
        let mut read = Vec::with_capacity(states.len());
        for chunk in states.chunks(256) {
            let (t, mask) = self.token_batch(chunk)?;
            let reading = self.network.read(&t, &mask)?;
            let relation_probs: Vec<Vec<Vec<f32>>> = reading.relation_probs.to_vec3()?;
            let hop_probs: Vec<Vec<f32>> = reading.hop_probs.to_vec2()?;
            read.extend(relation_probs.into_iter().zip(hop_probs));
        }
        Ok(read)
    }

    /// Each read question's guide: per hop up to the last it weighs, the
    /// relations that hop weighs.
    fn guides(&self, tokens: &[Option<Tensor>]) -> Result<Vec<Vec<Vec<GuidedStep>>>> {
        let present: Vec<&Tensor> = tokens.iter().flatten().collect();
        let mut read = self.readings(&present)?.into_iter();
        Ok(tokens
            .iter()
            .map(|t| match t {
                None => Vec::new(),
                Some(_) => {
                    let (relation_probs, hop_probs) = read.next().expect("read with its question");
                    let last = hop_probs
                        .iter()
                        .rposition(|&w| w >= GUIDE_MIN_WEIGHT)
                        .unwrap_or(0);
                    relation_probs[..=last]
                        .iter()
                        .map(|probs| {
                            probs
                                .iter()
                                .enumerate()
                                .filter(|(_, &p)| p >= GUIDE_MIN_WEIGHT)
                                .map(|(r, &p)| {
                                    let step = self.step(r as u32);
                                    GuidedStep {
                                        predicate: step.predicate,
                                        forward: step.forward,
                                        weight: p,
                                    }
                                })
                                .collect()
                        })
                        .collect()
                }
            })
            .collect())
    }

    /// The topic entity of each mention; an ambiguous label goes to the
    /// candidate whose description (label, comment, classes) BERT finds
    /// closest to the question.
    fn choose_topics(
        &self,
        store: &Store,
        question: &str,
        mentions: &[Mention],
    ) -> Result<Vec<NamedOrBlankNode>> {
        let mut topics = Vec::new();
        for mention in mentions {
            let chosen = if mention.candidates.len() == 1 {
                mention.candidates[0].clone()
            } else {
                self.disambiguate(store, question, &mention.candidates)?
            };
            if !topics.contains(&chosen) {
                topics.push(chosen);
            }
        }
        Ok(topics)
    }

    fn disambiguate(
        &self,
        store: &Store,
        question: &str,
        candidates: &[NamedOrBlankNode],
    ) -> Result<NamedOrBlankNode> {
        // Its comment, its classes' labels and the names of its relations.
        let describe = "SELECT ?e (GROUP_CONCAT(DISTINCT ?text; separator=\", \") AS ?d) WHERE {
            { ?e rdfs:comment ?text } UNION { ?e a ?c . ?c rdfs:label ?text }
            UNION { ?e ?p ?o . FILTER(!isLiteral(?o) && ?p != rdf:type) BIND(REPLACE(STR(?p), \"^.*[/#]\", \"\") AS ?text) }
            UNION { ?s ?p ?e . BIND(REPLACE(STR(?p), \"^.*[/#]\", \"\") AS ?text) }
          } GROUP BY ?e";
        let runner = SparqlRunner::new(store);
        let mut texts = vec![crate::text::SpanInput {
            text: question.to_owned(),
            spans: Vec::new(),
        }];
        for candidate in candidates {
            let bound = [(Variable::new_unchecked("e"), Term::from(candidate.clone()))];
            let (_, rows) = runner.select(describe, &bound)?;
            let extra = match rows.first().and_then(|r| r[1].clone()) {
                Some(Term::Literal(l)) => l.value().to_owned(),
                _ => String::new(),
            };
            texts.push(crate::text::SpanInput {
                text: format!("{}. {extra}", display_label(store, candidate)?),
                spans: Vec::new(),
            });
        }
        let embedded = self.bert.embed(&texts, 16, |_| {})?.sentences;
        let cosine = |v: &[f32]| -> f32 { v.iter().zip(&embedded[0]).map(|(a, b)| a * b).sum() };
        let best = (1..embedded.len())
            .max_by(|&a, &b| cosine(&embedded[a]).total_cmp(&cosine(&embedded[b])))
            .expect("at least two candidates");
        Ok(candidates[best - 1].clone())
    }

    fn retriever<'s>(&self, store: &'s Store, hops: usize) -> Result<SubgraphRetriever<'s>> {
        SubgraphRetriever::new(
            store,
            SubgraphOptions {
                hops,
                fanout: self.retrieval.fanout,
            },
        )
    }

    /// The subgraph's edges whose predicate the model knows, with inverses.
    fn local_edges(&self, subgraph: &Subgraph) -> Vec<(u32, u32, u32)> {
        let n = self.relations.len() as u32;
        let mut edges = Vec::new();
        for e in &subgraph.edges {
            if let Some(&r) = self.relation_ids.get(&e.predicate) {
                edges.push((e.source as u32, r, e.target as u32));
                edges.push((e.target as u32, r + n, e.source as u32));
            }
        }
        edges
    }

    /// BERT's last token states of each text that is there (all layers frozen).
    fn read_questions(&self, texts: &[Option<String>]) -> Result<Vec<Option<Tensor>>> {
        let present: Vec<&str> = texts.iter().flatten().map(String::as_str).collect();
        let encodings = self.bert.tokenize(&present)?;
        let mut states = self
            .bert
            .split(0)?
            .bottom_all(&encodings, 64, |_| {})?
            .into_iter();
        Ok(texts
            .iter()
            .map(|t| t.as_ref().and_then(|_| states.next()))
            .collect())
    }

    /// Token states padded to the longest, `[B, L, H]`, and their mask `[B, L]`.
    pub fn token_batch(&self, states: &[&Tensor]) -> Result<(Tensor, Tensor)> {
        let device = self.bert.device();
        let longest = states.iter().map(|t| t.dims()[0]).max().unwrap_or(1);
        let mut tokens = Vec::with_capacity(states.len());
        let mut masks = Vec::with_capacity(states.len());
        for t in states {
            let length = t.dims()[0];
            tokens.push(t.pad_with_zeros(0, 0, longest - length)?);
            let mut mask = vec![1f32; length];
            mask.resize(longest, 0.0);
            masks.push(Tensor::new(mask.as_slice(), device)?);
        }
        Ok((Tensor::stack(&tokens, 0)?, Tensor::stack(&masks, 0)?))
    }

    /// Builds the disjoint union of the questions' subgraphs.
    pub fn batch(&self, questions: &[&PreparedQuestion]) -> Result<QuestionBatch> {
        let device = self.bert.device();
        let relations = self.config.relations as u32;
        let (mut src, mut dst, mut rel, mut node_question, mut topic) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut exits = std::collections::BTreeSet::new();
        let mut offset = 0u32;
        for (qi, q) in questions.iter().enumerate() {
            let n = q.subgraph.nodes.len();
            for &(s, r, t) in &q.edges {
                src.push(offset + s);
                dst.push(offset + t);
                rel.push(qi as u32 * relations + r);
                exits.insert((offset + s, qi as u32 * relations + r));
            }
            node_question.extend(std::iter::repeat_n(qi as u32, n));
            let topics = q.topic_indexes();
            topic.extend((0..n).map(|i| if topics.contains(&i) { 1f32 } else { 0.0 }));
            offset += n as u32;
        }
        let states: Vec<&Tensor> = questions.iter().map(|q| &q.tokens).collect();
        let (tokens, token_mask) = self.token_batch(&states)?;
        let u32s = |v: Vec<u32>| Tensor::new(v.as_slice(), device);
        Ok(QuestionBatch {
            tokens,
            token_mask,
            edge_source: u32s(src)?,
            edge_target: u32s(dst)?,
            edge_relation: u32s(rel)?,
            exit_node: u32s(exits.iter().map(|e| e.0).collect())?,
            exit_relation: u32s(exits.iter().map(|e| e.1).collect())?,
            node_question: u32s(node_question)?,
            topic: Tensor::new(topic.as_slice(), device)?,
        })
    }

    /// The step a relation id stands for.
    pub fn step(&self, relation: u32) -> Step {
        let n = self.relations.len() as u32;
        Step {
            predicate: self.relations[(relation % n) as usize].clone(),
            forward: relation < n,
        }
    }

    /// Answers one question: links it, reads it, retrieves the subgraph its
    /// reading asks for, scores it,
    /// and explains each answer with up to `paths` relation paths.
    pub fn answer(
        &self,
        store: &Store,
        linker: &EntityLinker,
        question: &str,
        paths: usize,
    ) -> Result<AnswerSet> {
        let asked = [Question {
            text: question.to_owned(),
            answers: Vec::new(),
        }];
        let (mut prepared, failed) = self.prepare(store, linker, &asked, &|_| {})?;
        if let Some(failure) = failed.into_iter().next() {
            return Err(Error::InvalidTerm(failure.reason));
        }
        let q = prepared.remove(0).expect("prepared or failed");
        let out = self.network.forward(&self.batch(&[&q])?)?;
        let read = || -> candle_core::Result<(training::NodeScores, Vec<Vec<f32>>, Vec<f32>)> {
            Ok((
                training::NodeScores {
                    scores: out.scores.to_vec1()?,
                    evidence: out.evidence.to_vec1()?,
                },
                out.reading.relation_probs.get(0)?.to_vec2()?,
                out.reading.hop_probs.get(0)?.to_vec1()?,
            ))
        };
        let (scored, relation_probs, hop_probs) = read()?;
        let chosen = training::answer_nodes(&q, &scored, self.threshold);
        let tied = training::tied_with_top(&q, &scored).len();
        let scores = &scored.scores;
        let mut found =
            training::answer_paths(self, &q, &chosen, &relation_probs, &hop_probs, paths);
        let label = |i: usize| display_label(store, &q.subgraph.nodes[i].term);
        let mut answers = Vec::new();
        for i in chosen {
            answers.push(Answer {
                entity: q.subgraph.nodes[i].term.to_string(),
                label: label(i)?,
                score: f64::from(scores[i]),
                paths: found
                    .remove(&i)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| {
                        Ok(SupportingPath {
                            labels: p.nodes.iter().map(|&n| label(n)).collect::<Result<_>>()?,
                            terms: p
                                .nodes
                                .iter()
                                .map(|&n| q.subgraph.nodes[n].term.clone())
                                .collect(),
                            path: p,
                        })
                    })
                    .collect::<Result<_>>()?,
            });
        }
        Ok(AnswerSet {
            question: question.to_owned(),
            mentions: q
                .mentions
                .iter()
                .zip(&q.topics)
                .map(|(m, t)| {
                    Ok(LinkedMention {
                        text: m.text.clone(),
                        start: m.start,
                        end: m.end,
                        entity: t.to_string(),
                        label: display_label(store, t)?,
                        candidates: m.candidates.len(),
                    })
                })
                .collect::<Result<_>>()?,
            subgraph_nodes: q.subgraph.nodes.len(),
            subgraph_edges: q.subgraph.edges.len(),
            hop_probs,
            tied,
            answers,
        })
    }

    /// A device for tensors built outside the model.
    pub fn device(&self) -> &Device {
        self.bert.device()
    }
}

/// What `answer` returns: the linked mentions, the answers best first, and
/// the paths that support each.
#[derive(Debug, Clone, Serialize)]
pub struct AnswerSet {
    pub question: String,
    pub mentions: Vec<LinkedMention>,
    pub subgraph_nodes: usize,
    pub subgraph_edges: usize,
    /// The model's weight on answers 1, 2, … hops away.
    pub hop_probs: Vec<f32>,
    /// How many answers share the best score and evidence (all are
    /// returned, in the subgraph's order: the graph cannot tell them apart).
    pub tied: usize,
    pub answers: Vec<Answer>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LinkedMention {
    pub text: String,
    pub start: usize,
    pub end: usize,
    /// The linked entity in N-Triples syntax.
    pub entity: String,
    /// Its label (the IRI when it has none).
    pub label: String,
    /// Entities with this label (more than 1: chosen by BERT similarity).
    pub candidates: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    /// The entity in N-Triples syntax.
    pub entity: String,
    pub label: String,
    pub score: f64,
    pub paths: Vec<SupportingPath>,
}

/// A supporting path with the labels of its entities, topic first.
#[derive(Debug, Clone, Serialize)]
pub struct SupportingPath {
    pub labels: Vec<String>,
    #[serde(skip)]
    pub terms: Vec<NamedOrBlankNode>,
    #[serde(flatten)]
    pub path: training::AnswerPath,
}

/// Subgraph indexes of the question's gold answers (never a topic).
fn gold_in(
    subgraph: &Subgraph,
    topics: &[NamedOrBlankNode],
    linker: &EntityLinker,
    question: &Question,
) -> Vec<usize> {
    let mut gold = Vec::new();
    for answer in &question.answers {
        for entity in linker.lookup(answer) {
            if let Some(i) = subgraph.index_of(&entity) {
                if !topics.contains(&entity) && !gold.contains(&i) {
                    gold.push(i);
                }
            }
        }
    }
    gold
}

/// The question with each mention (and its brackets) replaced by the mask.
fn masked_text(question: &str, mentions: &[Mention]) -> String {
    let chars: Vec<char> = question.chars().collect();
    let mut out = String::new();
    let mut at = 0;
    for m in mentions {
        let start = if m.start > 0 && chars[m.start - 1] == '[' {
            m.start - 1
        } else {
            m.start
        };
        let end = if chars.get(m.end) == Some(&']') {
            m.end + 1
        } else {
            m.end
        };
        out.extend(&chars[at..start.max(at)]);
        out.push_str(MENTION_MASK);
        at = end.max(at);
    }
    out.extend(&chars[at.min(chars.len())..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_masked_with_their_brackets() {
        let m = |start, end| Mention {
            start,
            end,
            text: String::new(),
            candidates: Vec::new(),
        };
        assert_eq!(
            masked_text("who directed [The Ice Storm]?", &[m(14, 27)]),
            "who directed [MASK]?"
        );
        assert_eq!(
            masked_text("who directed Heat", &[m(13, 17)]),
            "who directed [MASK]"
        );
    }
}
