//! Attributions of a classifier's prediction for one entity: what
//! `explain::fusion` turns into evidence paths and spans.
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
//! on their BERT features. With an R-GCN view under the trees, its share
//! (its columns' Shapley contributions times that same gradient) goes to
//! its own triples: integrated gradients on its message mask, scaled so
//! that they sum to the share (`rgcn_triples`).

use candle_core::{DType, Tensor, Var};
use serde::Serialize;

use super::FusionModel;
use crate::error::{Error, Result};
use crate::tasks::graph_classifier::{AlignedGraph, GraphClassifier};
use crate::tasks::metrics::argmax;

/// Integration steps of the edge attributions.
pub const IG_STEPS: usize = 16;
/// Longest path, in edges.
const MAX_PATH: usize = 3;
/// Edges followed from each node while enumerating paths (the strongest by |attribution|).
const BRANCHING: usize = 12;

/// Attributions of the forward edges for one target's predicted class, of
/// its relation-path features and of its text items; also the predicted
/// class and probabilities.
pub struct Attributions {
    pub edges: Vec<f64>,
    /// `(path feature id, attribution)` of each path feature the target has.
    pub paths: Vec<(u32, f64)>,
    pub items: Vec<f64>,
    /// The R-GCN view's share of the predicted class's log-odds, through
    /// the trees (0 without one).
    pub rgcn_share: f64,
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
    let mut rgcn_share = 0.0;
    if let Some(trees) = &model.trees {
        // The trees' share: each column's Shapley contribution to the
        // log-odds, times the mean gradient of the logit on those log-odds.
        let contributions = trees.contributions(&table, texts.as_ref(), 0)?;
        let share = |column: usize| -> f64 {
            contributions
                .iter()
                .zip(&tree_gradients)
                .map(|(c, g)| c[column] * g)
                .sum()
        };
        let paths_at = table.columns.len() - model.vocab.paths.len();
        for (id, attribution) in &mut paths {
            *attribution += share(paths_at + *id as usize);
        }
        // The R-GCN view's columns lead the table.
        let rgcn_columns = model.rgcn_log_odds.first().map_or(0, Vec::len);
        rgcn_share = (0..rgcn_columns).map(share).sum();
    }
    Ok(Attributions {
        edges,
        paths,
        items,
        rgcn_share,
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

/// Attributions of a graph-only classifier's triples for one node's
/// predicted class; also the class and probabilities.
pub struct GraphAttributions {
    /// One per triple of the aligned graph.
    pub triples: Vec<f64>,
    pub class: usize,
    pub probabilities: Vec<f32>,
}

/// Integrated gradients on the mask of a graph-only classifier's R-GCN
/// messages (both messages of a triple share its weight), in `steps` steps,
/// for `class` (default: the predicted one).
pub fn attribute_graph_classifier(
    model: &GraphClassifier,
    graph: &AlignedGraph,
    node: u32,
    class: Option<usize>,
    steps: usize,
) -> Result<GraphAttributions> {
    let probabilities = model.score(graph, &[node])?.remove(0).probabilities;
    let class = class.unwrap_or_else(|| argmax(&probabilities));
    let count = graph.triples.len();
    let ones = Tensor::ones(count, DType::F32, &candle_core::Device::Cpu)?;
    let mut triples = vec![0f64; count];
    for step in 1..=steps {
        let alpha = step as f64 / steps as f64;
        let mask = Var::from_tensor(&(&ones * alpha)?)?;
        let logits = model.logits_with_triple_weights(graph, mask.as_tensor())?;
        let gradients = logits
            .get(node as usize)
            .and_then(|l| log_odds(&l, class))
            .and_then(|l| l.backward())?;
        let gradient = gradients
            .get(mask.as_tensor())
            .ok_or_else(|| Error::Training("the edge mask got no gradient".into()))?
            .to_vec1::<f32>()?;
        for (score, g) in triples.iter_mut().zip(gradient) {
            *score += f64::from(g) / steps as f64;
        }
    }
    Ok(GraphAttributions {
        triples,
        class,
        probabilities,
    })
}

/// The R-GCN view's triples (of its aligned graph, where the target is
/// `node`) for one target's `class`, with the view's `share` of the fused
/// log-odds spread over them in proportion to their integrated gradients;
/// `None` without a view, a share or a node of the target's in its graph,
/// or when the gradients cancel out.
pub fn rgcn_triples(
    model: &FusionModel,
    target: usize,
    class: usize,
    share: f64,
) -> Result<Option<(&AlignedGraph, u32, GraphAttributions)>> {
    let Some((models, graph)) = model
        .rgcn
        .as_ref()
        .and_then(|v| Some((v.models(), v.graph()?)))
    else {
        return Ok(None);
    };
    let entity = model.inputs.view.node(model.inputs.targets[target].node);
    // A target without edges has no node there, and no paths.
    let Some(node) = graph.node_id(entity) else {
        return Ok(None);
    };
    // The view scores with the models' mean: each triple's integrated
    // gradients summed over them.
    let mut attributions =
        attribute_graph_classifier(&models[0], graph, node, Some(class), IG_STEPS)?;
    for other in &models[1..] {
        let more = attribute_graph_classifier(other, graph, node, Some(class), IG_STEPS)?;
        attributions
            .triples
            .iter_mut()
            .zip(more.triples)
            .for_each(|(a, b)| *a += b);
    }
    let total: f64 = attributions.triples.iter().sum();
    if total.abs() < 1e-9 || share == 0.0 {
        return Ok(None);
    }
    attributions
        .triples
        .iter_mut()
        .for_each(|a| *a *= share / total);
    Ok(Some((graph, node, attributions)))
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
