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
//! Each training target's log-odds come from an R-GCN fitted on the other
//! folds of the training targets; every other target's from one fitted on
//! all of them, the one the model folder keeps (in [`FOLDER`]). A reopened
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

use super::trees::{probability_log_odds, tree_outputs, STACKING_FOLDS};
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

/// The R-GCN fitted on every training target.
pub struct RgcnView {
    model: GraphClassifier,
    /// Each target's log-odds from it (in the model's target order).
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
    /// Fits the view on the `train` targets (indices into the graph's
    /// targets, with `labels`): returns the R-GCN fitted on all of them and
    /// every target's log-odds to stack on, out of fold for the `train`
    /// targets.
    pub fn fit(
        graph: &RgcnGraph,
        train: &[usize],
        labels: &[u32],
        seed: u64,
    ) -> Result<(Self, Vec<Vec<f32>>)> {
        let examples: Vec<(u32, u32)> = train
            .iter()
            .zip(labels)
            .map(|(&t, &y)| (graph.target_nodes[t], y))
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let model = fit_on(graph, &examples, &mut rng)?;
        let log_odds =
            probability_log_odds(model.trained_graph_probabilities(&graph.target_nodes)?);
        let mut odds = log_odds.clone();
        let folds = stratified_folds(&examples, STACKING_FOLDS, &mut rng);
        let position: HashMap<u32, usize> =
            train.iter().map(|&t| (graph.target_nodes[t], t)).collect();
        for k in 0..folds.len() {
            let rest: Vec<(u32, u32)> = folds
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != k)
                .flat_map(|(_, f)| f.iter().copied())
                .collect();
            if folds[k].is_empty() || rest.len() < 2 {
                continue;
            }
            let fold_model = fit_on(graph, &rest, &mut rng)?;
            let held: Vec<u32> = folds[k].iter().map(|&(n, _)| n).collect();
            let held_odds = probability_log_odds(fold_model.trained_graph_probabilities(&held)?);
            for (node, o) in held.iter().zip(held_odds) {
                odds[position[node]] = o;
            }
        }
        let view = Self {
            model,
            log_odds,
            graph: None,
        };
        Ok((view, odds))
    }

    /// Opens the R-GCN of a model folder `dir` and scores the `targets`
    /// (in the model's order) over `store`, aligned to it.
    pub fn open(dir: &Path, store: &Store, targets: &[NamedOrBlankNode]) -> Result<Self> {
        let model = GraphClassifier::open(&dir.join(FOLDER))?;
        let graph = model.align(store)?;
        // A target without edges has no node there: even odds.
        let nodes: Vec<u32> = targets.iter().filter_map(|t| graph.node_id(t)).collect();
        let scored = model.score(&graph, &nodes)?;
        let mut scored =
            probability_log_odds(scored.into_iter().map(|s| s.probabilities).collect()).into_iter();
        let even = vec![0.0; tree_outputs(model.classes().len())];
        let log_odds = targets
            .iter()
            .map(|t| match graph.node_id(t) {
                Some(_) => scored.next().expect("one score per node"),
                None => even.clone(),
            })
            .collect();
        Ok(Self {
            model,
            log_odds,
            graph: Some(graph),
        })
    }

    pub fn model(&self) -> &GraphClassifier {
        &self.model
    }

    /// The store the reopened view scored, in its ids (`None` right after
    /// training).
    pub fn graph(&self) -> Option<&AlignedGraph> {
        self.graph.as_ref()
    }

    /// Writes the R-GCN into `dir`'s [`FOLDER`].
    pub fn save(&self, dir: &Path) -> Result<()> {
        self.model.save(&dir.join(FOLDER), &serde_json::json!({}))
    }
}

/// The R-GCN with its defaults (`kgfuse train rgcn`), trained on
/// `examples` but a stratified tenth of them, on which the best epoch is
/// kept.
fn fit_on(
    graph: &RgcnGraph,
    examples: &[(u32, u32)],
    rng: &mut ChaCha8Rng,
) -> Result<GraphClassifier> {
    let inner = stratified_folds(examples, 10, rng);
    let valid = inner[0].clone();
    let train: Vec<(u32, u32)> = inner[1..].concat();
    let (model, _) = GraphClassifier::fit(
        &graph.data,
        &graph.label,
        Some(&graph.class),
        &ClassifyConfig::default(),
        &default_trainer(),
        [&train, &valid, &[]],
        rng,
        &mut |_, _| Ok(()),
    )?;
    Ok(model)
}

#[cfg(test)]
mod tests {
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
        let labels: Vec<u32> = train.iter().map(|&i| (i % 2) as u32).collect();
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

        let dir = tempfile::tempdir().unwrap();
        view.save(dir.path()).unwrap();
        let reopened = RgcnView::open(dir.path(), &store, &people).unwrap();
        for (a, b) in reopened.log_odds.iter().zip(&view.log_odds) {
            assert!((a[0] - b[0]).abs() < 1e-4, "{a:?} {b:?}");
        }
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
