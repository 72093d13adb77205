//! The classifiers' adapter: integrated-gradient attributions
//! (`fusion::attribution`) as evidence paths and text spans.

use std::path::Path;

use candle_core::Device;
use oxigraph::model::{NamedNode, NamedOrBlankNode, Term, Triple};

use super::{ask_query, path_step, Claim, Derivations, EvidencePath, Explanation, TextSpan};
use crate::error::{Error, Result};
use crate::fusion::attribution::{
    attribute, attribute_graph_classifier, ranked_paths, rgcn_triples, top_paths, IG_STEPS,
};
use crate::fusion::data::ItemSource;
use crate::fusion::{model_id, FusionModel};
use crate::graph::display_label;
use crate::store::Store;
use crate::tasks::checkpoint::{kind_of, ModelKind};
use crate::tasks::graph_classifier::{AlignedGraph, GraphClassifier};
use crate::text::BertEncoder;

/// Explains `entity` with the classifier in the model folder `dir`, fused or
/// graph-only; `bert` is called only when the model reads text.
pub fn explain_classifier(
    dir: &Path,
    store: &Store,
    entity: &NamedOrBlankNode,
    top_k: usize,
    bert: impl FnOnce() -> Result<BertEncoder>,
    device: &Device,
    derivations: &mut Derivations<'_>,
) -> Result<Explanation> {
    let id = model_id(dir)?;
    match kind_of(dir)? {
        ModelKind::GraphClassifier => {
            let model = GraphClassifier::open(dir)?;
            let graph = model.align(store)?;
            explain_graph_classifier(&model, &graph, store, entity, &id, top_k, derivations)
        }
        ModelKind::FusedClassifier => {
            let entities = std::slice::from_ref(entity);
            let mut model = FusionModel::open(dir, store, Some(entities), bert, device)?;
            explain_fused(&mut model, store, entity, &id, top_k, derivations)
        }
        other => Err(Error::model_folder(
            dir,
            format!("holds {}, not an entity classifier", other.describe()),
        )),
    }
}

/// A fused model's prediction for one entity: its strongest paths (edges
/// and relation-path features) and text items.
pub fn explain_fused(
    model: &mut FusionModel,
    store: &Store,
    entity: &NamedOrBlankNode,
    model_id: &str,
    top_k: usize,
    derivations: &mut Derivations<'_>,
) -> Result<Explanation> {
    let target = model.target_of(entity)?;
    let node = model.inputs.targets[target].node;
    let attributions = attribute(model, target, IG_STEPS)?;
    let mut paths = evidence_paths(
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
    let mut method = format!(
        "integrated gradients ({IG_STEPS} steps, all-zero baseline) on R-GCN edge masks and relation-path counts; gradient x input on text items"
    );
    let rgcn = rgcn_triples(model, target, attributions.class, attributions.rgcn_share)?;
    if let Some((graph, rgcn_node, rgcn)) = rgcn {
        method.push_str(&format!(
            "; the R-GCN view's share through the trees ({:.3}) over its own paths, in proportion to integrated gradients on its message mask",
            attributions.rgcn_share
        ));
        let ends: Vec<(u32, u32)> = graph.triples.iter().map(|(s, _, o)| (*s, *o)).collect();
        paths.extend(evidence_paths(
            store,
            top_paths(&ends, rgcn_node, &rgcn.triples, top_k),
            |e| graph_triple(graph, e),
            &rgcn.triples,
            derivations,
        )?);
        // One ranking of both kinds of path.
        paths.sort_by(|a, b| b.attribution.total_cmp(&a.attribution));
        paths.truncate(top_k);
        for (rank, path) in paths.iter_mut().enumerate() {
            path.rank = rank + 1;
        }
    }
    let mut spans = Vec::new();
    for (item, &a) in model.inputs.targets[target]
        .items
        .iter()
        .zip(&attributions.items)
    {
        let text = model.inputs.texts[item.text].clone();
        let (start, end) = item.span.unwrap_or((0, text.chars().count()));
        spans.push(TextSpan {
            text,
            start,
            end,
            source: span_source(store, &item.source)?,
            attribution: Some(a),
        });
    }
    spans.sort_by(|a, b| {
        b.attribution
            .unwrap_or(0.0)
            .total_cmp(&a.attribution.unwrap_or(0.0))
    });
    spans.truncate(top_k);
    let probabilities = &attributions.probabilities;
    Ok(Explanation {
        entity: entity.to_string(),
        entity_label: display_label(store, entity)?,
        model_id: model_id.to_owned(),
        claim: Claim::Prediction {
            label: model.vocab.classes[attributions.class].clone(),
            probability: f64::from(probabilities[attributions.class]),
            score: f64::from(probabilities[model.positive_class]),
        },
        method,
        paths,
        spans,
    })
}

/// Where a text item comes from, in labels a reader knows.
fn span_source(store: &Store, source: &ItemSource) -> Result<String> {
    // Terms come as IRIs (predicates) or in N-Triples syntax (neighbours).
    let label = |term: &str| -> Result<String> {
        let iri = term.trim_start_matches('<').trim_end_matches('>');
        match NamedNode::new(iri) {
            Ok(n) => display_label(store, &NamedOrBlankNode::from(n)),
            Err(_) => Ok(term.to_owned()),
        }
    };
    Ok(match source {
        ItemSource::Literal(p) => format!("{} of the entity", label(p)?),
        ItemSource::Neighbour(n, p) => format!("{} of {}", label(p)?, label(n)?),
        ItemSource::Mention => "mention in a text".to_owned(),
    })
}

/// A graph-only classifier's prediction for one entity: paths ranked by the
/// integrated gradients on its R-GCN's message mask.
/// `graph` is the store aligned to the model (`GraphClassifier::align`).
pub fn explain_graph_classifier(
    model: &GraphClassifier,
    graph: &AlignedGraph,
    store: &Store,
    entity: &NamedOrBlankNode,
    model_id: &str,
    top_k: usize,
    derivations: &mut Derivations<'_>,
) -> Result<Explanation> {
    let node = graph
        .node_id(entity)
        .ok_or_else(|| Error::InvalidTerm(format!("{entity} is not in the store's graph")))?;
    let attributions = attribute_graph_classifier(model, graph, node, None, IG_STEPS)?;
    let ends: Vec<(u32, u32)> = graph.triples.iter().map(|(s, _, o)| (*s, *o)).collect();
    let paths = evidence_paths(
        store,
        top_paths(&ends, node, &attributions.triples, top_k),
        |e| graph_triple(graph, e),
        &attributions.triples,
        derivations,
    )?;
    let (class, probabilities) = (attributions.class, &attributions.probabilities);
    Ok(Explanation {
        entity: entity.to_string(),
        entity_label: display_label(store, entity)?,
        model_id: model_id.to_owned(),
        claim: Claim::Prediction {
            label: model.classes()[class].clone(),
            probability: f64::from(probabilities[class]),
            score: f64::from(probabilities[model.positive_class()]),
        },
        method: format!(
            "integrated gradients ({IG_STEPS} steps, all-zero baseline) on the graph-only R-GCN's message mask"
        ),
        paths,
        spans: Vec::new(),
    })
}

/// Triple `e` of an aligned graph.
fn graph_triple(graph: &AlignedGraph, e: usize) -> (NamedOrBlankNode, NamedNode, NamedOrBlankNode) {
    let (s, predicate, o) = &graph.triples[e];
    (
        graph.node(*s).clone(),
        predicate.clone(),
        graph.node(*o).clone(),
    )
}

/// Ranked paths (`(score, edge indices)`) as evidence: each edge's triple
/// (from `triple_of`), labels, attribution and derivation, and the ASK
/// query of the whole path.
fn evidence_paths(
    store: &Store,
    ranked: Vec<(f64, Vec<usize>)>,
    triple_of: impl Fn(usize) -> (NamedOrBlankNode, NamedNode, NamedOrBlankNode),
    edge_scores: &[f64],
    derivations: &mut Derivations<'_>,
) -> Result<Vec<EvidencePath>> {
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
        paths.push(EvidencePath {
            rank: rank + 1,
            attribution: score,
            check: ask_query(&steps),
            steps,
        });
    }
    Ok(paths)
}
