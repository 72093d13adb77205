//! The R-GCN view: the graph-only classifier of `tasks::graph_classifier`
//! (an input learned per node, as Schlichtkrull et al.), stacked under the
//! trees view out of fold: its class log-odds lead the trees' table.
//!
//! The network's graph side reads what nodes *are* (classes, literals,
//! hubs) so that it scores entities it never saw. On a fixed graph such as
//! AIFB+ it matters *which* project or publication a person is tied to, and
//! an input per node learns that where node features cannot. The trees
//! then decide, on the training labels, how far to trust it.
//!
//! The view is fitted on the training and validation targets (see
//! `FusionModel::fit_trees`). Each of them gets its log-odds from an R-GCN
//! fitted on the other folds (`trees::folds`); every other target's from
//! the mean of those fold models and one fitted on all of them (bagging:
//! an R-GCN's score moves with its seed and its training share, their mean
//! less), which the model folder keeps (in [`FOLDER`]). A reopened
//! model aligns it to the store by node and relation names, so entities
//! added since enter with a zero input and are scored from their
//! neighbours.
//!
//! Each fit runs the R-GCN's 100 full-batch epochs over the whole graph,
//! six fits per training: by default ([`RgcnViewUse::Auto`]) the view is
//! read only from stores of at most [`MAX_TRIPLES`] triples, where that
//! costs seconds, not minutes.

use std::collections::HashMap;
use std::path::Path;

use oxigraph::model::{NamedNode, NamedOrBlankNode};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::trees::{folds, probability_log_odds, tree_outputs};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::tasks::classify::{default_trainer, stratified_folds, ClassifyConfig, ClassifyData};
use crate::tasks::graph_classifier::{AlignedGraph, GraphClassifier};

/// The model folder's sub-folder that holds the view's R-GCN.
pub const FOLDER: &str = "rgcn-view";

/// The largest store (triples, every graph) [`RgcnViewUse::Auto`] reads
/// the view from.
pub const MAX_TRIPLES: usize = 100_000;

/// When a training reads the R-GCN view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RgcnViewUse {
    /// On stores of at most [`MAX_TRIPLES`] triples.
    Auto,
    Always,
    Never,
}

impl RgcnViewUse {
    /// Parses `auto`, `always` or `never`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "auto" => Ok(Self::Auto),
            "always" => Ok(Self::Always),
            "never" => Ok(Self::Never),
            _ => Err(Error::Config(format!(
                "the R-GCN view is auto, always or never, not {name:?}"
            ))),
        }
    }

    /// Whether a store gets the view; `triples` counts its triples, which
    /// reads it all, so only `Auto` calls it.
    pub fn reads(self, triples: impl FnOnce() -> Result<usize>) -> Result<bool> {
        Ok(match self {
            Self::Auto => triples()? <= MAX_TRIPLES,
            Self::Always => true,
            Self::Never => false,
        })
    }
}

/// The store's graph as the R-GCN reads it (without the label property),
/// with the node of each target.
pub struct RgcnGraph {
    data: ClassifyData,
    label: NamedNode,
    class: NamedNode,
    /// The node id of each target, in the model's target order.
    target_nodes: Vec<u32>,
}

/// The R-GCNs the view scores with: the one fitted on every training
/// target, then those of the stacking folds.
pub struct RgcnView {
    models: Vec<GraphClassifier>,
    /// Each target's log-odds from their mean class probabilities (in the
    /// model's target order).
    pub log_odds: Vec<Vec<f32>>,
    /// The store it scored, aligned to it (when reopened).
    graph: Option<AlignedGraph>,
}

impl RgcnGraph {
    /// Reads `store`'s graph for `targets` (labelled with `classes`, in
    /// this order).
    pub fn read(
        store: &Store,
        label: &NamedNode,
        class: &NamedNode,
        classes: &[String],
        targets: &[NamedOrBlankNode],
    ) -> Result<Self> {
        let mut data = ClassifyData::graph_of(store, label, Some(class))?;
        data.classes = classes.to_vec();
        let mut ids: HashMap<NamedOrBlankNode, u32> = (0..)
            .zip(&data.nodes)
            .map(|(i, n)| (n.clone(), i))
            .collect();
        // A target without edges is a node of its own.
        let target_nodes = targets
            .iter()
            .map(|t| {
                *ids.entry(t.clone()).or_insert_with(|| {
                    data.nodes.push(t.clone());
                    data.num_nodes += 1;
                    (data.num_nodes - 1) as u32
                })
            })
            .collect();
        Ok(Self {
            data,
            label: label.clone(),
            class: class.clone(),
            target_nodes,
        })
    }
}

impl RgcnView {
    /// Fits the view on the `fitted` targets (indices into the graph's
    /// targets, with `labels`): returns the R-GCN fitted on all of them and
    /// every target's log-odds to stack on, out of fold for the `fitted`
    /// targets. The full fit and the fold fits run in parallel, each
    /// seeded on its own, so the result does not depend on the thread
    /// count.
    pub fn fit(
        graph: &RgcnGraph,
        fitted: &[usize],
        labels: &[usize],
        seed: u64,
    ) -> Result<(Self, Vec<Vec<f32>>)> {
        let examples = |rows: &[usize], labels: &[usize]| -> Vec<(u32, u32)> {
            rows.iter()
                .zip(labels)
                .map(|(&t, &y)| (graph.target_nodes[t], y as u32))
                .collect()
        };
        let folds = folds(fitted, labels, graph.data.classes.len(), seed);
        let fits: Vec<Vec<(u32, u32)>> = std::iter::once(examples(fitted, labels))
            .chain(folds.iter().map(|f| examples(&f.rest_rows, &f.rest_labels)))
            .collect();
        let models = fits
            .par_iter()
            .enumerate()
            .map(|(k, examples)| fit_on(graph, examples, seed + k as u64))
            .collect::<Result<Vec<_>>>()?;
        let mut odds = vec![Vec::new(); graph.target_nodes.len()];
        for (fold, model) in folds.iter().zip(&models[1..]) {
            let held: Vec<usize> = fold.held.iter().map(|&i| fitted[i]).collect();
            let nodes: Vec<u32> = held.iter().map(|&t| graph.target_nodes[t]).collect();
            let held_odds = probability_log_odds(model.trained_graph_probabilities(&nodes)?);
            for (t, o) in held.into_iter().zip(held_odds) {
                odds[t] = o;
            }
        }
        let log_odds = mean_log_odds(&models, |m| {
            m.trained_graph_probabilities(&graph.target_nodes)
        })?;
        // Rows no fold held out (none unless a fold was left out) and the
        // unfitted targets take the models' mean.
        for (o, mean) in odds.iter_mut().zip(&log_odds) {
            if o.is_empty() {
                *o = mean.clone();
            }
        }
        let view = Self {
            models,
            log_odds,
            graph: None,
        };
        Ok((view, odds))
    }

    /// Opens the R-GCN of a model folder `dir` and scores the `targets`
    /// (in the model's order) over `store`, aligned to it.
    pub fn open(dir: &Path, store: &Store, targets: &[NamedOrBlankNode]) -> Result<Self> {
        let folder = dir.join(FOLDER);
        let mut models = vec![GraphClassifier::open(&folder)?];
        // Folders written before the fold models keep the first alone.
        for k in 1.. {
            let fold = folder.join(fold_folder(k));
            if !fold.is_dir() {
                break;
            }
            models.push(GraphClassifier::open(&fold)?);
        }
        // Every model was fitted on the same graph, so one alignment
        // serves them all.
        let graph = models[0].align(store)?;
        // A target without edges has no node there: even odds.
        let nodes: Vec<u32> = targets.iter().filter_map(|t| graph.node_id(t)).collect();
        let scored = mean_log_odds(&models, |m| {
            Ok(m.score(&graph, &nodes)?
                .into_iter()
                .map(|s| s.probabilities)
                .collect())
        })?;
        let mut scored = scored.into_iter();
        let even = vec![0.0; tree_outputs(models[0].classes().len())];
        let log_odds = targets
            .iter()
            .map(|t| match graph.node_id(t) {
                Some(_) => scored.next().expect("one score per node"),
                None => even.clone(),
            })
            .collect();
        Ok(Self {
            models,
            log_odds,
            graph: Some(graph),
        })
    }

    /// The R-GCNs whose mean the view scores with.
    pub fn models(&self) -> &[GraphClassifier] {
        &self.models
    }

    /// The store the reopened view scored, in its ids (`None` right after
    /// training).
    pub fn graph(&self) -> Option<&AlignedGraph> {
        self.graph.as_ref()
    }

    /// Writes the R-GCNs into `dir`'s [`FOLDER`]: the first there, the
    /// fold models in sub-folders.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let folder = dir.join(FOLDER);
        // An earlier model's fold models would be read with these.
        if folder.is_dir() {
            std::fs::remove_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
        }
        for (k, model) in self.models.iter().enumerate() {
            let at = match k {
                0 => folder.clone(),
                k => folder.join(fold_folder(k)),
            };
            model.save(&at, &serde_json::json!({}))?;
        }
        Ok(())
    }
}

/// The sub-folder of the `k`-th fold model (from 1).
fn fold_folder(k: usize) -> String {
    format!("fold-{k}")
}

/// The log-odds of the mean of the `models`' class probabilities, each
/// model's from `probabilities` (one row per target).
fn mean_log_odds(
    models: &[GraphClassifier],
    probabilities: impl Fn(&GraphClassifier) -> Result<Vec<Vec<f32>>>,
) -> Result<Vec<Vec<f32>>> {
    let mut sum: Vec<Vec<f32>> = Vec::new();
    for model in models {
        let p = probabilities(model)?;
        if sum.is_empty() {
            sum = p;
        } else {
            for (s, row) in sum.iter_mut().zip(p) {
                s.iter_mut().zip(row).for_each(|(a, b)| *a += b);
            }
        }
    }
    let n = models.len().max(1) as f32;
    sum.iter_mut()
        .for_each(|row| row.iter_mut().for_each(|v| *v /= n));
    Ok(probability_log_odds(sum))
}

/// The R-GCN with its defaults (`kgfuse train rgcn`), trained on
/// `examples` but a stratified tenth of them, on which the best epoch is
/// kept.
fn fit_on(graph: &RgcnGraph, examples: &[(u32, u32)], seed: u64) -> Result<GraphClassifier> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let inner = stratified_folds(examples, 10, &mut rng);
    let valid = inner[0].clone();
    let train: Vec<(u32, u32)> = inner[1..].concat();
    let (model, _) = GraphClassifier::fit(
        &graph.data,
        &graph.label,
        Some(&graph.class),
        &ClassifyConfig::default(),
        &default_trainer(),
        [&train, &valid, &[]],
        &mut rng,
        &mut |_, _| Ok(()),
    )?;
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::super::trees::STACKING_FOLDS;
    use super::*;

    const EX: &str = "http://example.org/";

    /// Forty people, each on one of two projects that only their identity
    /// tells apart; a person's group is their project's.
    fn people() -> (Store, Vec<NamedOrBlankNode>) {
        let mut turtle = format!("@prefix ex: <{EX}> .\n");
        for i in 0..40 {
            let (project, group) = if i % 2 == 0 { ("A", "G0") } else { ("B", "G1") };
            turtle.push_str(&format!(
                "ex:p{i} a ex:Person ; ex:worksOn ex:project{project} ; ex:in ex:institute ; ex:group ex:{group} .\n"
            ));
        }
        turtle.push_str("ex:projectA a ex:Project . ex:projectB a ex:Project .\n");
        let store = crate::test_support::store_from_turtle(&turtle);
        let people = (0..40)
            .map(|i| NamedNode::new(format!("{EX}p{i}")).unwrap().into())
            .collect();
        (store, people)
    }

    #[test]
    fn the_view_learns_node_identity_out_of_fold_and_reopens_the_same() {
        let (store, people) = people();
        let (label, class) = (
            NamedNode::new(format!("{EX}group")).unwrap(),
            NamedNode::new(format!("{EX}Person")).unwrap(),
        );
        let classes = ["G0".to_owned(), "G1".to_owned()];
        let graph = RgcnGraph::read(&store, &label, &class, &classes, &people).unwrap();
        let train: Vec<usize> = (0..32).collect();
        let labels: Vec<usize> = train.iter().map(|&i| i % 2).collect();
        let (view, stacked) = RgcnView::fit(&graph, &train, &labels, 3).unwrap();
        let right = |odds: &[Vec<f32>], range: std::ops::Range<usize>| {
            range
                .clone()
                .filter(|&i| (odds[i][0] > 0.0) == (i % 2 == 1))
                .count() as f64
                / range.len() as f64
        };
        assert!(right(&stacked, 0..32) >= 0.9, "{stacked:?}");
        assert!(right(&stacked, 32..40) == 1.0, "{stacked:?}");
        assert_eq!(stacked[32..], view.log_odds[32..], "untrained targets");
        assert_ne!(stacked[..32], view.log_odds[..32], "out of fold");

        // The fully fitted R-GCN and one per stacking fold score the rest.
        assert_eq!(view.models().len(), 1 + STACKING_FOLDS);

        let dir = tempfile::tempdir().unwrap();
        view.save(dir.path()).unwrap();
        assert!(dir.path().join(FOLDER).join("fold-5").is_dir());
        let reopened = RgcnView::open(dir.path(), &store, &people).unwrap();
        assert_eq!(reopened.models().len(), 1 + STACKING_FOLDS);
        for (a, b) in reopened.log_odds.iter().zip(&view.log_odds) {
            assert!((a[0] - b[0]).abs() < 1e-4, "{a:?} {b:?}");
        }
        // A folder written before the fold models: the first alone.
        for k in 1..=STACKING_FOLDS {
            std::fs::remove_dir_all(dir.path().join(FOLDER).join(fold_folder(k))).unwrap();
        }
        let alone = RgcnView::open(dir.path(), &store, &people).unwrap();
        assert_eq!(alone.models().len(), 1);
        assert!(
            right(&alone.log_odds, 32..40) == 1.0,
            "{:?}",
            alone.log_odds
        );
    }

    #[test]
    fn auto_reads_the_view_from_small_stores_only() {
        let auto = RgcnViewUse::parse("auto").unwrap();
        assert!(auto.reads(|| Ok(MAX_TRIPLES)).unwrap());
        assert!(!auto.reads(|| Ok(MAX_TRIPLES + 1)).unwrap());
        let uncounted = || -> Result<usize> { panic!("counted") };
        assert!(RgcnViewUse::parse("always")
            .unwrap()
            .reads(uncounted)
            .unwrap());
        assert!(!RgcnViewUse::parse("never")
            .unwrap()
            .reads(uncounted)
            .unwrap());
        assert!(RgcnViewUse::parse("sometimes").is_err());
    }
}
