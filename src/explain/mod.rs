//! Explanations: the stage after scoring and answering that says why.
//!
//! One schema for every claim kgfuse makes: the claim itself (a classifier's
//! prediction for an entity, or an entity as the answer to a question), the
//! evidence paths in the store with the query that checks each, the text
//! spans that took part, the method that weighed them, and the reasoner's
//! derivation of every inferred step. `fusion` and `qa` hold the small
//! adapters from each model's attributions to this schema; `render` writes
//! it as JSON, Graphviz DOT, Turtle (PROV-O) and HTML.

pub mod fusion;
pub mod qa;
pub mod render;

use oxigraph::model::{GraphNameRef, NamedNode, QuadRef, Triple};
use serde::Serialize;

use crate::error::Result;
use crate::reason::{reason_over_store, Closure, DerivationTree, ReasonOptions, INFERRED_GRAPH};
use crate::store::Store;

pub use render::{render, ExplanationFormat};

/// Why the model said what it said about one entity.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The entity the claim is about, in N-Triples syntax.
    pub entity: String,
    pub entity_label: String,
    /// The model folder's id (see `fusion::model_id`).
    pub model_id: String,
    pub claim: Claim,
    /// How paths and spans were weighed.
    pub method: String,
    /// Strongest first.
    pub paths: Vec<EvidencePath>,
    pub spans: Vec<TextSpan>,
}

/// What is explained.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Claim {
    /// A classifier put the entity in class `label` (an IRI or a literal's
    /// text) with `probability`; `score` is the positive class's.
    Prediction {
        label: String,
        probability: f64,
        score: f64,
    },
    /// The entity answers `question` with `score`.
    Answer { question: String, score: f64 },
}

impl Claim {
    /// What the claim says of the entity, for names and titles.
    pub fn statement(&self) -> &str {
        match self {
            Self::Prediction { label, .. } => label,
            Self::Answer { question, .. } => question,
        }
    }
}

/// A path of store edges that supports the claim.
#[derive(Debug, Clone, Serialize)]
pub struct EvidencePath {
    /// 1 for the strongest.
    pub rank: usize,
    /// The method's weight of the whole path.
    pub attribution: f64,
    pub steps: Vec<PathStep>,
    /// The query a user runs to check the path against the store.
    pub check: CheckQuery,
}

/// A SPARQL query that checks a path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckQuery {
    pub form: QueryForm,
    pub sparql: String,
}

/// `Ask`: true when the path is in the store. `Select`: returns the answer
/// when the path leads from the question's topic to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum QueryForm {
    Ask,
    Select,
}

/// One edge of a path, as stored.
#[derive(Debug, Clone, Serialize)]
pub struct PathStep {
    /// The triple's terms in N-Triples syntax.
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

/// A piece of text that took part in the claim.
#[derive(Debug, Clone, Serialize)]
pub struct TextSpan {
    pub text: String,
    /// Character span in `text` (the whole text for literals).
    pub start: usize,
    pub end: usize,
    /// Where the text comes from, for display (labels, not raw IRIs).
    pub source: String,
    /// How much it moved the claim; `None` where the method does not weigh
    /// spans (the mentions a question was linked by).
    pub attribution: Option<f64>,
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
    pub fn derivation(&mut self, store: &Store, triple: &Triple) -> Result<Option<DerivationTree>> {
        let closure = match self {
            Self::Of(closure) => *closure,
            Self::OnDemand { options, closure } => match closure {
                Some(closure) => closure,
                None => closure.insert(reason_over_store(store, *options, |_| {})?),
            },
        };
        let Some(mut tree) = closure.explain(triple) else {
            return Ok(None);
        };
        tree.locate_asserted(store)?;
        Ok(Some(tree))
    }
}

/// One step of an evidence path: the triple, whether only the reasoner has
/// it and, if so, its derivation from `derivations`.
pub fn path_step(
    store: &Store,
    triple: Triple,
    subject_label: String,
    object_label: String,
    attribution: f64,
    derivations: &mut Derivations<'_>,
) -> Result<PathStep> {
    let inferred = is_inferred(store, &triple)?;
    let derivation = match inferred {
        true => derivations.derivation(store, &triple)?,
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
    let inferred = GraphNameRef::NamedNode(inferred.as_ref());
    let in_inferred = store.contains(QuadRef::new(
        &triple.subject,
        &triple.predicate,
        &triple.object,
        inferred,
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
        if quad?.graph_name != inferred.into_owned() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `ASK { … }` over the path's triples; blank nodes become variables.
pub fn ask_query(steps: &[PathStep]) -> CheckQuery {
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
    CheckQuery {
        form: QueryForm::Ask,
        sparql: format!("ASK WHERE {{\n{}\n}}", patterns.join("\n")),
    }
}

#[cfg(test)]
mod tests {
    use oxigraph::model::{NamedOrBlankNode, Term};

    use super::*;
    use crate::reason::write_inferred;
    use crate::store::query::SparqlRunner;
    use crate::test_support::store_from_turtle;

    const EX: &str = "http://example.org/";

    fn triple(s: &str, p: &str, o: &str) -> Triple {
        let node = |name: &str| -> NamedOrBlankNode {
            match name.strip_prefix("_:") {
                Some(b) => oxigraph::model::BlankNode::new_unchecked(b).into(),
                None => NamedNode::new_unchecked(format!("{EX}{name}")).into(),
            }
        };
        Triple::new(
            node(s),
            NamedNode::new_unchecked(format!("{EX}{p}")),
            Term::from(node(o)),
        )
    }

    #[test]
    fn claims_serialise_with_their_kind() {
        let prediction = Claim::Prediction {
            label: format!("{EX}High"),
            probability: 0.75,
            score: 0.75,
        };
        let json = serde_json::to_value(&prediction).unwrap();
        assert_eq!(json["kind"], "prediction");
        assert_eq!(json["label"], format!("{EX}High"));
        let answer = Claim::Answer {
            question: "who directed [Heat]?".into(),
            score: 0.5,
        };
        assert_eq!(serde_json::to_value(&answer).unwrap()["kind"], "answer");
        assert_eq!(answer.statement(), "who directed [Heat]?");
    }

    #[test]
    fn steps_tell_inferred_from_asserted_and_carry_the_given_closure() {
        let store = store_from_turtle(&format!(
            "@prefix ex: <{EX}> .
             @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
             ex:owns rdfs:subPropertyOf ex:holds .
             ex:a ex:owns ex:b ."
        ));
        let closure = reason_over_store(&store, ReasonOptions::default(), |_| {}).unwrap();
        write_inferred(&store, &closure).unwrap();
        let mut derivations = Derivations::Of(&closure);
        let mut step = |t: Triple| {
            path_step(&store, t, "a".into(), "b".into(), 0.5, &mut derivations).unwrap()
        };
        let asserted = step(triple("a", "owns", "b"));
        assert!(!asserted.inferred && asserted.derivation.is_none());
        let inferred = step(triple("a", "holds", "b"));
        assert!(inferred.inferred);
        let derivation = inferred.derivation.expect("a derivation from the closure");
        assert_eq!(derivation.premises.len(), 2, "{derivation:?}");
    }

    #[test]
    fn ask_queries_hold_on_the_store_with_blank_nodes_as_variables() {
        let store = store_from_turtle(&format!(
            "@prefix ex: <{EX}> . ex:a ex:p _:x . _:x ex:q ex:c ."
        ));
        let blank = store
            .quads_matching(
                None,
                Some(NamedNode::new_unchecked(format!("{EX}q")).as_ref().into()),
                None,
                None,
            )
            .next()
            .unwrap()
            .unwrap()
            .subject
            .to_string();
        let steps: Vec<PathStep> = [("a", "p", blank.as_str()), (blank.as_str(), "q", "c")]
            .into_iter()
            .map(|(s, p, o)| {
                let t = triple(s, p, o);
                PathStep {
                    subject: t.subject.to_string(),
                    predicate: t.predicate.to_string(),
                    object: t.object.to_string(),
                    subject_label: s.into(),
                    object_label: o.into(),
                    attribution: 0.0,
                    inferred: false,
                    derivation: None,
                    triple: t,
                }
            })
            .collect();
        let check = ask_query(&steps);
        assert_eq!(check.form, QueryForm::Ask);
        assert!(!check.sparql.contains("_:"), "{}", check.sparql);
        let holds = SparqlRunner::new(&store).query(&check.sparql, &[]).unwrap();
        assert!(
            matches!(holds, oxigraph::sparql::QueryResults::Boolean(true)),
            "{}",
            check.sparql
        );
    }
}
