//! Relation paths from a topic entity to an answer, and the SPARQL that
//! returns the answers of a path, so every answer can be checked in the store.

use oxigraph::model::{NamedNode, NamedOrBlankNode};
use serde::Serialize;

/// One hop: a predicate, read subject to object (`forward`) or back.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Step {
    #[serde(serialize_with = "iri")]
    pub predicate: NamedNode,
    pub forward: bool,
}

fn iri<S: serde::Serializer>(node: &NamedNode, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(node.as_str())
}

/// The graph pattern from `start` (a variable or an IRI in SPARQL syntax) to
/// `?answer` along `steps`, through `?x1`, `?x2`, ….
pub fn path_query(steps: &[Step], start: &str) -> String {
    let mut from = start.to_owned();
    let mut patterns = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let to = if i + 1 == steps.len() {
            "?answer".to_owned()
        } else {
            format!("?x{}", i + 1)
        };
        let p = format!("<{}>", step.predicate.as_str());
        patterns.push(if step.forward {
            format!("{from} {p} {to} .")
        } else {
            format!("{to} {p} {from} .")
        });
        from = to;
    }
    patterns.join(" ")
}

/// The SELECT that returns every answer reached from `topic` along `steps`.
pub fn answer_query(topic: &NamedOrBlankNode, steps: &[Step]) -> String {
    format!(
        "SELECT DISTINCT ?answer WHERE {{ {} }}",
        path_query(steps, &topic.to_string())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_follow_directions() {
        let p = |x: &str| NamedNode::new(format!("http://e/{x}")).unwrap();
        let steps = [
            Step {
                predicate: p("starred"),
                forward: false,
            },
            Step {
                predicate: p("directedBy"),
                forward: true,
            },
        ];
        assert_eq!(
            path_query(&steps, "?topic"),
            "?x1 <http://e/starred> ?topic . ?x1 <http://e/directedBy> ?answer ."
        );
        let topic: NamedOrBlankNode = p("ricci").into();
        assert!(answer_query(&topic, &steps[..1]).starts_with(
            "SELECT DISTINCT ?answer WHERE { ?answer <http://e/starred> <http://e/ricci> . }"
        ));
    }
}
