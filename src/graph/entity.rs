//! Resolution of an entity named on the command line: an IRI form accepted by
//! `terms::parse_iri` that occurs in the store, or an exact label; and the
//! reverse: an entity's display label, and the label values of a class.

use std::collections::HashMap;

use oxigraph::model::{Literal, NamedNode, NamedOrBlankNode, Term, Variable};

use crate::error::{Error, Result};
use crate::store::query::SparqlRunner;
use crate::store::terms::{compact_iri, parse_iri};
use crate::store::Store;

const BY_LABEL: &str = "SELECT DISTINCT ?entity ?label ?wanted WHERE {
  VALUES ?property { rdfs:label skos:prefLabel schema:name }
  ?entity ?property ?label .
  FILTER(LCASE(STR(?label)) = LCASE(STR(?wanted)))
} ORDER BY ?entity";

/// The properties whose values name an entity, in order of preference (the
/// same ones `BY_LABEL` matches).
const LABEL_PROPERTIES: [&str; 3] = [
    "http://www.w3.org/2000/01/rdf-schema#label",
    "http://www.w3.org/2004/02/skos/core#prefLabel",
    "http://schema.org/name",
];

const MENTIONED: &str =
    "SELECT ?entity WHERE { { ?entity ?p ?o } UNION { ?s ?p ?entity } } LIMIT 1";

/// Finds the entity a user means by `text`.
pub fn resolve_entity(store: &Store, text: &str) -> Result<NamedOrBlankNode> {
    let runner = SparqlRunner::new(store);
    if let Ok(iri) = parse_iri(text) {
        let bound = [(Variable::new_unchecked("entity"), Term::from(iri.clone()))];
        if !runner.select(MENTIONED, &bound)?.1.is_empty() {
            return Ok(iri.into());
        }
    }
    let wanted = [(
        Variable::new_unchecked("wanted"),
        Literal::from(text).into(),
    )];
    let (_, rows) = runner.select(BY_LABEL, &wanted)?;
    let mut found: Vec<NamedOrBlankNode> = Vec::new();
    for row in rows {
        let Some(Ok(node)) = row[0].clone().map(NamedOrBlankNode::try_from) else {
            continue;
        };
        if !found.contains(&node) {
            found.push(node);
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(Error::InvalidTerm(format!(
            "no entity {text:?} in the store: give an IRI that occurs in it (<http://…> or prefix:local) or an exact rdfs:label"
        ))),
        _ => Err(Error::InvalidTerm(format!(
            "{text:?} is the label of {} entities ({}); give the IRI instead",
            found.len(),
            found.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// A node's display name: its first label (see `LABEL_PROPERTIES`), else its
/// compacted IRI or blank-node id.
pub fn display_label(store: &Store, node: &NamedOrBlankNode) -> Result<String> {
    for property in LABEL_PROPERTIES {
        let property = NamedNode::new_unchecked(property);
        let mut quads =
            store.quads_matching(Some(node.as_ref()), Some(property.as_ref()), None, None);
        if let Some(quad) = quads.next() {
            if let Term::Literal(label) = quad?.object {
                return Ok(label.value().to_owned());
            }
        }
    }
    Ok(match node {
        NamedOrBlankNode::NamedNode(n) => compact_iri(n.as_str()),
        NamedOrBlankNode::BlankNode(b) => b.to_string(),
    })
}

/// Members of a class, in IRI order.
pub fn class_members(store: &Store, class: &NamedNode) -> Result<Vec<NamedOrBlankNode>> {
    let query = format!(
        "SELECT DISTINCT ?e WHERE {{ ?e a <{}> }} ORDER BY ?e",
        class.as_str()
    );
    let (_, rows) = SparqlRunner::new(store).select(&query, &[])?;
    Ok(rows
        .into_iter()
        .filter_map(|row| NamedOrBlankNode::try_from(row.into_iter().next().flatten()?).ok())
        .collect())
}

/// The label value (an IRI, a literal's lexical form, or a blank node's id)
/// of every subject that has one, restricted to members of `class` when given.
/// Two different values for one entity are an error.
pub fn labelled_entities(
    store: &Store,
    label: &NamedNode,
    class: Option<&NamedNode>,
) -> Result<HashMap<NamedOrBlankNode, String>> {
    let filter = class.map_or(String::new(), |c| format!("?entity a <{}> .", c.as_str()));
    let query = format!(
        "SELECT DISTINCT ?entity ?value WHERE {{ ?entity <{}> ?value . {filter} }}",
        label.as_str()
    );
    let (_, rows) = SparqlRunner::new(store).select(&query, &[])?;
    let mut out = HashMap::new();
    for row in rows {
        let Some(Ok(entity)) = row[0].clone().map(NamedOrBlankNode::try_from) else {
            continue;
        };
        let value = match &row[1] {
            Some(Term::NamedNode(n)) => n.as_str().to_owned(),
            Some(Term::Literal(l)) => l.value().to_owned(),
            Some(other) => other.to_string(),
            None => continue,
        };
        if let Some(previous) = out.insert(entity.clone(), value.clone()) {
            if previous != value {
                return Err(Error::Data(format!(
                    "{entity} has two <{}> values: {previous} and {value}",
                    label.as_str()
                )));
            }
        }
    }
    Ok(out)
}
