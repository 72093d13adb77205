//! Explanations of a fused model's prediction for one entity.
//!
//! Edges are scored by integrated gradients on an edge mask: every message of
//! the R-GCN is scaled by a weight per edge, and the attribution of an edge
//! is the mean, over weights scaled from 0 to 1 for all edges together, of
//! the gradient of the predicted class's log-odds with respect to that
//! edge's weight (Sundararajan et al. 2017, with the all-zero mask as
//! baseline). The target's relation-path counts (`paths`) are scaled
//! from 0 to 1 with the edges, and each path feature gets its integrated
//! gradient too. Paths of up to three edges from the entity are ranked by
//! the sum of their edges' attributions plus, for the walks that make up a
//! path feature, a share of that feature's. With a trees view, its
//! log-odds are scaled from even odds too, and each path feature also gets
//! the trees' share: its Shapley contribution to their log-odds times the
//! integrated gradient on them. Text items are scored by gradient × input
//! on their BERT features.

use candle_core::{DType, Tensor, Var};
use oxigraph::model::{GraphNameRef, NamedNode, NamedOrBlankNode, QuadRef, Term, Triple};
use serde::Serialize;

use super::data::ItemSource;
use super::FusionModel;
use crate::error::{Error, Result};
use crate::graph::display_label;
use crate::reason::{reason_over_store, Closure, DerivationTree, ReasonOptions, INFERRED_GRAPH};
use crate::store::Store;
use crate::tasks::graph_classifier::GraphClassifier;
use crate::tasks::metrics::argmax;

/// Integration steps of the edge attributions.
pub const IG_STEPS: usize = 16;
/// Longest path, in edges.
const MAX_PATH: usize = 3;
/// Edges followed from each node while enumerating paths (the strongest by |attribution|).
const BRANCHING: usize = 12;

/// One edge of a path, as stored.
#[derive(Debug, Clone, Serialize)]
pub struct PathStep {
    pub subject: String,
    pub predicate: String,
    pub object: String,
    /// Labels for display (the IRI when there is none).
    pub subject_label: String,
    pub object_label: String,
    pub attribution: f64,
    /// In kgfuse's inferred graph and not asserted.
    pub inferred: bool,
    pub derivation: Option<DerivationTree>,
    #[serde(skip)]
    pub triple: Triple,
}

/// A path from the entity, with the query that checks it.
#[derive(Debug, Clone, Serialize)]
pub struct ExplainedPath {
    pub rank: usize,
    pub attribution: f64,
    pub steps: Vec<PathStep>,
    /// `ASK` query that is true when the path is in the store.
    pub sparql: String,
}

/// A text span and how much it moved the prediction.
#[derive(Debug, Clone, Serialize)]
pub struct ExplainedSpan {
    pub text: String,
    /// Character span in `text` (the whole text for literals).
    pub start: usize,
    pub end: usize,
    pub source: String,
    pub attribution: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub entity: String,
    pub entity_label: String,
    pub model_id: String,
    pub predicted: String,
    pub probability: f64,
    /// Probability of the positive class (binary models).
    pub score: f64,
    pub method: String,
    pub paths: Vec<ExplainedPath>,
    pub spans: Vec<ExplainedSpan>,
}

/// Attributions of the forward edges for one target's predicted class, of
/// its relation-path features and of its text items; also the predicted
/// class and probabilities.
pub struct Attributions {
    pub edges: Vec<f64>,
    /// `(path feature id, attribution)` of each path feature the target has.
    pub paths: Vec<(u32, f64)>,
    pub items: Vec<f64>,
    pub class: usize,
    pub probabilities: Vec<f32>,
}

/// Integrated gradients over the edge mask in `steps` steps (see the module docs).
pub fn attribute(model: &mut FusionModel, target: usize, steps: usize) -> Result<Attributions> {
    let probabilities = model.probabilities(&[target])?.remove(0);
    let class = argmax(&probabilities);
    let e = model.inputs.edges.len();
    let device = model.device();
    let mut edges = vec![0f64; e];
    let batch = model.batch(&[target])?;
    let items_var = Var::from_tensor(&batch.items.detach())?;
    let batch = super::FusionBatch {
        items: items_var.as_tensor().clone(),
        ..batch
    };
    let mut items = Vec::new();
    let steps = if model.config().use_graph {
        steps.max(1)
    } else {
        1
    };
    let path_weights: Vec<f32> = model.inputs.target_paths[target]
        .iter()
        .map(|&(_, w)| w)
        .collect();
    let mut path_gradients = vec![0f64; path_weights.len()];
    let mut tree_gradients = vec![0f64; model.config().tree_outputs];
    for step in 1..=steps {
        let alpha = step as f64 / steps as f64;
        let mask = Var::from_tensor(&(Tensor::ones(e, DType::F32, &device)? * alpha)?)?;
        // The path counts are scaled with the edges: both start from nothing.
        let mut scaled = batch.clone();
        let mut path_var = None;
        if let Some(bag) = &mut scaled.paths {
            let var = Var::from_tensor(&(&bag.weights * alpha)?)?;
            bag.weights = var.as_tensor().clone();
            path_var = Some(var);
        }
        // So are the trees' log-odds (from even odds).
        let mut tree_var = None;
        if let Some(odds) = &mut scaled.trees {
            let var = Var::from_tensor(&(&*odds * alpha)?)?;
            *odds = var.as_tensor().clone();
            tree_var = Some(var);
        }
        let run = || -> candle_core::Result<candle_core::backprop::GradStore> {
            let logits = logits_with_edge_weights(model, &scaled, mask.as_tensor())?;
            log_odds(&logits.get(0)?, class)?.backward()
        };
        let grads = run()?;
        if let Some(g) = grads.get(mask.as_tensor()) {
            for (acc, v) in edges.iter_mut().zip(g.to_vec1::<f32>()?) {
                *acc += f64::from(v) / steps as f64;
            }
        }
        if let Some(g) = path_var.as_ref().and_then(|v| grads.get(v.as_tensor())) {
            let g = g.flatten_all().and_then(|g| g.to_vec1::<f32>())?;
            for (acc, v) in path_gradients.iter_mut().zip(g) {
                *acc += f64::from(v) / steps as f64;
            }
        }
        if let Some(g) = tree_var.as_ref().and_then(|v| grads.get(v.as_tensor())) {
            let g = g.flatten_all().and_then(|g| g.to_vec1::<f32>())?;
            for (acc, v) in tree_gradients.iter_mut().zip(g) {
                *acc += f64::from(v) / steps as f64;
            }
        }
        if step == steps {
            if let Some(g) = grads.get(items_var.as_tensor()) {
                let product = (g * items_var.as_tensor())
                    .and_then(|p| p.sum(1))
                    .and_then(|p| p.to_vec1::<f32>());
                items = product?.into_iter().map(f64::from).collect();
            }
        }
    }
    let mut paths: Vec<(u32, f64)> = model.inputs.target_paths[target]
        .iter()
        .zip(path_weights.iter().zip(&path_gradients))
        .map(|(&(id, _), (&w, &g))| (id, f64::from(w) * g))
        .collect();
    let (table, texts) = model.tree_tables(&[target])?;
    if let Some(trees) = &model.trees {
        // The trees' share: each path column's Shapley contribution to the
        // log-odds, times the mean gradient of the logit on those log-odds.
        let contributions = trees.contributions(&table, texts.as_ref(), 0)?;
        let paths_at = table.columns.len() - model.vocab.paths.len();
        for (id, attribution) in &mut paths {
            *attribution += contributions
                .iter()
                .zip(&tree_gradients)
                .map(|(c, g)| c[paths_at + *id as usize] * g)
                .sum::<f64>();
        }
    }
    Ok(Attributions {
        edges,
        paths,
        items,
        class,
        probabilities,
    })
}

/// `z_c − log Σ_{j≠c} exp z_j`: the log-odds of class `c`. Unlike its
/// log-probability, its gradient does not vanish when the model is sure.
fn log_odds(logits: &Tensor, class: usize) -> candle_core::Result<Tensor> {
    let classes = logits.dim(0)?;
    let others: Vec<u32> = (0..classes as u32)
        .filter(|&j| j as usize != class)
        .collect();
    let others = Tensor::from_vec(others, classes - 1, logits.device())?;
    logits.get(class)? - logits.index_select(&others, 0)?.log_sum_exp(0)?
}

/// Paths of up to three edges from `start`, as edge indices, ranked by the
/// sum of their attributions (highest first); `ends` are the edges'
/// `(subject, object)` node ids.
pub fn top_paths(
    ends: &[(u32, u32)],
    start: u32,
    edge_scores: &[f64],
    k: usize,
) -> Vec<(f64, Vec<usize>)> {
    let mut adjacency: std::collections::HashMap<u32, Vec<(u32, usize)>> =
        std::collections::HashMap::new();
    for (i, &(s, o)) in ends.iter().enumerate() {
        if edge_scores[i] != 0.0 {
            adjacency.entry(s).or_default().push((o, i));
            adjacency.entry(o).or_default().push((s, i));
        }
    }
    for list in adjacency.values_mut() {
        list.sort_by(|a, b| {
            edge_scores[b.1]
                .abs()
                .total_cmp(&edge_scores[a.1].abs())
                .then(a.1.cmp(&b.1))
        });
        list.truncate(BRANCHING);
    }
    let mut paths = Vec::new();
    let mut stack = vec![(start, vec![start], Vec::<usize>::new(), 0f64)];
    while let Some((node, visited, edges, score)) = stack.pop() {
        if !edges.is_empty() {
            paths.push((score, edges.clone()));
        }
        if edges.len() == MAX_PATH {
            continue;
        }
        for &(next, e) in adjacency.get(&node).into_iter().flatten() {
            if visited.contains(&next) {
                continue;
            }
            let mut v = visited.clone();
            v.push(next);
            let mut es = edges.clone();
            es.push(e);
            stack.push((next, v, es, score + edge_scores[e]));
        }
    }
    paths.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    paths.truncate(k);
    paths
}

fn edge_ends(model: &FusionModel) -> Vec<(u32, u32)> {
    model.inputs.edges.iter().map(|&(s, _, o)| (s, o)).collect()
}

/// Walks shown per relation-path feature.
const WALKS_PER_FEATURE: usize = 4;

/// The paths that explain a target: the strongest walks by edge
/// attribution, and the walks behind its strongest relation-path features
/// (each with an equal share of its feature's attribution, plus its edges'),
/// merged and ranked (highest first).
pub fn ranked_paths(
    model: &FusionModel,
    start: u32,
    attributions: &Attributions,
    k: usize,
) -> Vec<(f64, Vec<usize>)> {
    let mut scores: std::collections::BTreeMap<Vec<usize>, f64> =
        top_paths(&edge_ends(model), start, &attributions.edges, k)
            .into_iter()
            .map(|(score, edges)| (edges, score))
            .collect();
    let mut features = attributions.paths.clone();
    features.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    features.truncate(k);
    let ids: Vec<u32> = features.iter().map(|&(id, _)| id).collect();
    let instances = model.vocab.paths.instances(
        &model.inputs,
        model.vocab.relations.len(),
        start,
        &ids,
        WALKS_PER_FEATURE,
    );
    for (&(_, attribution), walks) in features.iter().zip(instances) {
        let share = attribution / walks.len().max(1) as f64;
        for walk in walks {
            let edges: f64 = walk.iter().map(|&e| attributions.edges[e]).sum();
            *scores.entry(walk).or_insert(edges) += share;
        }
    }
    let mut paths: Vec<(f64, Vec<usize>)> = scores.into_iter().map(|(e, s)| (s, e)).collect();
    paths.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    paths.truncate(k);
    paths
}

/// Where an explanation finds the derivations of its inferred steps.
pub enum Derivations<'a> {
    /// The reasoner's closure over the store, as the caller holds it.
    Of(&'a Closure),
    /// Reason over the store with these options when the first inferred
    /// step needs a derivation, and keep the closure for the others.
    OnDemand {
        options: ReasonOptions,
        closure: Option<Closure>,
    },
}

impl Derivations<'_> {
    /// Reasons with `options` once an inferred step needs it.
    pub fn on_demand(options: ReasonOptions) -> Self {
        Self::OnDemand {
            options,
            closure: None,
        }
    }

    /// How the reasoner derived `triple` (`None` when it did not).
    fn of(&mut self, store: &Store, triple: &Triple) -> Result<Option<DerivationTree>> {
        let closure = match self {
            Self::Of(closure) => *closure,
            Self::OnDemand { options, closure } => match closure {
                Some(closure) => closure,
                None => closure.insert(reason_over_store(store, *options, |_| {})?),
            },
        };
        Ok(closure.explain(triple))
    }
}

/// The full explanation of one entity.
pub fn explain(
    model: &mut FusionModel,
    store: &Store,
    entity: &NamedOrBlankNode,
    model_id: &str,
    top_k: usize,
    derivations: &mut Derivations<'_>,
) -> Result<Explanation> {
    let node = model
        .inputs
        .view
        .node_id(entity)
        .ok_or_else(|| Error::InvalidTerm(format!("{entity} is not in the store's graph")))?;
    let target = model
        .inputs
        .targets
        .iter()
        .position(|t| t.node == node)
        .ok_or_else(|| {
            Error::InvalidTerm(format!(
                "{entity} is not an entity of <{}>",
                model.vocab.class
            ))
        })?;
    let attributions = attribute(model, target, IG_STEPS)?;
    let paths = explained_paths(
        store,
        ranked_paths(model, node, &attributions, top_k),
        |e| {
            let (s, r, o) = model.inputs.edges[e];
            (
                model.inputs.view.node(s).clone(),
                NamedNode::new_unchecked(&model.vocab.relations[r as usize]),
                model.inputs.view.node(o).clone(),
            )
        },
        &attributions.edges,
        derivations,
    )?;
    let mut spans: Vec<ExplainedSpan> = model.inputs.targets[target]
        .items
        .iter()
        .zip(&attributions.items)
        .map(|(item, &a)| {
            let text = model.inputs.texts[item.text].clone();
            let (start, end) = item.span.unwrap_or((0, text.chars().count()));
            ExplainedSpan {
                text,
                start,
                end,
                source: match &item.source {
                    ItemSource::Literal(p) => format!("<{p}> of the entity"),
                    ItemSource::Neighbour(n, p) => format!("<{p}> of {n}"),
                    ItemSource::Mention => "mention in a text".to_owned(),
                },
                attribution: a,
            }
        })
        .collect();
    spans.sort_by(|a, b| b.attribution.total_cmp(&a.attribution));
    spans.truncate(top_k);
    let probabilities = &attributions.probabilities;
    Ok(Explanation {
        entity: entity.to_string(),
        entity_label: display_label(store, entity)?,
        model_id: model_id.to_owned(),
        predicted: model.vocab.classes[attributions.class].clone(),
        probability: f64::from(probabilities[attributions.class]),
        score: f64::from(probabilities[model.positive_class]),
        method: format!(
            "integrated gradients ({IG_STEPS} steps, all-zero baseline) on R-GCN edge masks and relation-path counts; gradient x input on text items"
        ),
        paths,
        spans,
    })
}

/// The explanation of a graph-only classifier's prediction for one entity:
/// integrated gradients on the mask of its R-GCN's messages (both messages
/// of a triple share its weight), paths ranked as for the fused model.
pub fn explain_graph_classifier(
    model: &GraphClassifier,
    store: &Store,
    entity: &NamedOrBlankNode,
    model_id: &str,
    top_k: usize,
    derivations: &mut Derivations<'_>,
) -> Result<Explanation> {
    let graph = model.align(store)?;
    let node = graph
        .node_id(entity)
        .ok_or_else(|| Error::InvalidTerm(format!("{entity} is not in the store's graph")))?;
    let probabilities = model.score(&graph, &[node])?.remove(0).probabilities;
    let class = argmax(&probabilities);
    let triples = graph.triples.len();
    let ones = Tensor::ones(triples, DType::F32, &candle_core::Device::Cpu)?;
    let mut edge_scores = vec![0f64; triples];
    for step in 1..=IG_STEPS {
        let alpha = step as f64 / IG_STEPS as f64;
        let mask = Var::from_tensor(&(&ones * alpha)?)?;
        let logits = model.logits_with_triple_weights(&graph, mask.as_tensor())?;
        let gradients = logits
            .get(node as usize)
            .and_then(|l| log_odds(&l, class))
            .and_then(|l| l.backward())?;
        let gradient = gradients
            .get(mask.as_tensor())
            .ok_or_else(|| Error::Model("the edge mask got no gradient".into()))?
            .to_vec1::<f32>()?;
        for (score, g) in edge_scores.iter_mut().zip(gradient) {
            *score += f64::from(g) / IG_STEPS as f64;
        }
    }
    let ends: Vec<(u32, u32)> = graph.triples.iter().map(|(s, _, o)| (*s, *o)).collect();
    let paths = explained_paths(
        store,
        top_paths(&ends, node, &edge_scores, top_k),
        |e| {
            let (s, predicate, o) = &graph.triples[e];
            (
                graph.node(*s).clone(),
                predicate.clone(),
                graph.node(*o).clone(),
            )
        },
        &edge_scores,
        derivations,
    )?;
    Ok(Explanation {
        entity: entity.to_string(),
        entity_label: display_label(store, entity)?,
        model_id: model_id.to_owned(),
        predicted: model.classes()[class].clone(),
        probability: f64::from(probabilities[class]),
        score: f64::from(probabilities[model.positive_class()]),
        method: format!(
            "integrated gradients ({IG_STEPS} steps, all-zero baseline) on the graph-only R-GCN's message mask"
        ),
        paths,
        spans: Vec::new(),
    })
}

/// Ranked paths (`(score, edge indices)`) as explained paths: each edge's
/// triple (from `triple_of`), labels, attribution and derivation, and the
/// ASK query of the whole path.
fn explained_paths(
    store: &Store,
    ranked: Vec<(f64, Vec<usize>)>,
    triple_of: impl Fn(usize) -> (NamedOrBlankNode, NamedNode, NamedOrBlankNode),
    edge_scores: &[f64],
    derivations: &mut Derivations<'_>,
) -> Result<Vec<ExplainedPath>> {
    let mut paths = Vec::new();
    for (rank, (score, edges)) in ranked.into_iter().enumerate() {
        let mut steps = Vec::new();
        for &e in &edges {
            let (subject, predicate, object) = triple_of(e);
            let triple = Triple::new(subject.clone(), predicate, Term::from(object.clone()));
            steps.push(path_step(
                store,
                triple,
                display_label(store, &subject)?,
                display_label(store, &object)?,
                edge_scores[e],
                derivations,
            )?);
        }
        let sparql = path_query(&steps);
        paths.push(ExplainedPath {
            rank: rank + 1,
            attribution: score,
            steps,
            sparql,
        });
    }
    Ok(paths)
}

/// One step of an explanation path: the triple, whether only the reasoner
/// has it and, if so, its derivation from `derivations`.
pub(crate) fn path_step(
    store: &Store,
    triple: Triple,
    subject_label: String,
    object_label: String,
    attribution: f64,
    derivations: &mut Derivations<'_>,
) -> Result<PathStep> {
    let inferred = is_inferred(store, &triple)?;
    let derivation = match inferred {
        true => derivations.of(store, &triple)?,
        false => None,
    };
    Ok(PathStep {
        subject: triple.subject.to_string(),
        predicate: triple.predicate.to_string(),
        object: triple.object.to_string(),
        subject_label,
        object_label,
        attribution,
        inferred,
        derivation,
        triple,
    })
}

/// True when the triple is only in kgfuse's inferred graph.
fn is_inferred(store: &Store, triple: &Triple) -> Result<bool> {
    let inferred = NamedNode::new_unchecked(INFERRED_GRAPH);
    let in_inferred = store.contains(QuadRef::new(
        &triple.subject,
        &triple.predicate,
        &triple.object,
        GraphNameRef::NamedNode(inferred.as_ref()),
    ))?;
    if !in_inferred {
        return Ok(false);
    }
    for quad in store.quads_matching(
        Some((&triple.subject).into()),
        Some((&triple.predicate).into()),
        Some((&triple.object).into()),
        None,
    ) {
        if quad?.graph_name != GraphNameRef::NamedNode(inferred.as_ref()).into_owned() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `ASK { … }` over the path's triples; blank nodes become variables.
pub fn path_query(steps: &[PathStep]) -> String {
    let term = |t: &str| match t.strip_prefix("_:") {
        Some(b) => format!("?{}", b.replace(|c: char| !c.is_ascii_alphanumeric(), "_")),
        None => t.to_owned(),
    };
    let patterns: Vec<String> = steps
        .iter()
        .map(|s| {
            format!(
                "  {} {} {} .",
                term(&s.subject),
                s.predicate,
                term(&s.object)
            )
        })
        .collect();
    format!("ASK WHERE {{\n{}\n}}", patterns.join("\n"))
}

/// Class scores of a batch with every forward edge's messages (and its
/// inverse's) scaled by `weights` (`[edges]`).
fn logits_with_edge_weights(
    model: &FusionModel,
    batch: &super::FusionBatch,
    weights: &Tensor,
) -> candle_core::Result<Tensor> {
    let graph = model
        .graph
        .with_edge_weights(&Tensor::cat(&[weights, weights], 0)?)?;
    let nodes = model
        .nodes(&graph, None)
        .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    Ok(model
        .network
        .forward(batch, nodes.as_ref(), &mut |x| Ok(x.clone()))?
        .logits)
}

/// The probability of `class` for a target with some edges removed.
pub fn probability_without(
    model: &mut FusionModel,
    target: usize,
    removed: &[usize],
    class: usize,
) -> Result<f64> {
    let e = model.inputs.edges.len();
    let mut keep = vec![1f32; e];
    for &r in removed {
        keep[r] = 0.0;
    }
    let device = model.device();
    let keep = Tensor::from_vec(keep, e, &device)?;
    let mut batch = model.batch(&[target])?;
    let counts = model.vocab.paths.encode_without(
        &model.inputs,
        model.vocab.relations.len(),
        model.inputs.targets[target].node,
        removed,
    );
    batch.paths = super::path_bag(&[&counts], &device)?;
    let p = logits_with_edge_weights(model, &batch, &keep)
        .and_then(|l| candle_nn::ops::softmax_last_dim(&l))
        .and_then(|p| p.get(0)?.get(class)?.to_scalar::<f32>())?;
    Ok(f64::from(p))
}

/// How much the top path matters: the drop in the predicted class's
/// probability when its edges are removed, against removing as many random
/// edges from the entity's receptive field (edges with a non-zero attribution).
#[derive(Debug, Clone, Serialize)]
pub struct Fidelity {
    pub entities: usize,
    pub mean_top_path_drop: f64,
    pub mean_random_drop: f64,
    pub median_top_path_drop: f64,
    pub median_random_drop: f64,
    /// Entities whose top path mattered more than the random edges.
    pub top_path_wins: usize,
    pub mean_edges_removed: f64,
}

/// [`Fidelity`] over `count` labelled entities drawn by `seed`, each
/// attributed with `steps` integration steps.
pub fn fidelity(
    model: &mut FusionModel,
    count: usize,
    steps: usize,
    seed: u64,
) -> Result<Fidelity> {
    use rand::seq::{IndexedRandom, SliceRandom};
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut targets: Vec<usize> = (0..model.inputs.targets.len())
        .filter(|&t| model.inputs.targets[t].label.is_some())
        .collect();
    targets.shuffle(&mut rng);
    targets.truncate(count);
    let (mut top, mut random, mut removed) = (Vec::new(), Vec::new(), 0usize);
    for t in targets {
        let a = attribute(model, t, steps)?;
        let node = model.inputs.targets[t].node;
        let Some((_, path)) = ranked_paths(model, node, &a, 1).into_iter().next() else {
            continue;
        };
        let field: Vec<usize> = (0..a.edges.len()).filter(|&e| a.edges[e] != 0.0).collect();
        let chosen: Vec<usize> = field
            .choose_multiple(&mut rng, path.len())
            .copied()
            .collect();
        let base = f64::from(a.probabilities[a.class]);
        top.push(base - probability_without(model, t, &path, a.class)?);
        random.push(base - probability_without(model, t, &chosen, a.class)?);
        removed += path.len();
    }
    let n = top.len();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    Ok(Fidelity {
        entities: n,
        mean_top_path_drop: mean(&top),
        mean_random_drop: mean(&random),
        median_top_path_drop: median(&top),
        median_random_drop: median(&random),
        top_path_wins: top.iter().zip(&random).filter(|(a, b)| a > b).count(),
        mean_edges_removed: removed as f64 / n.max(1) as f64,
    })
}
