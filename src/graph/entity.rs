//! Resolution of an entity named on the command line: an IRI form accepted by
//! `terms::parse_iri` that occurs in the store, or an exact label.

use oxigraph::model::{Literal, NamedOrBlankNode, Term, Variable};

use crate::error::{Error, Result};
use crate::store::query::SparqlRunner;
use crate::store::terms::parse_iri;
use crate::store::Store;

const BY_LABEL: &str = "SELECT DISTINCT ?entity ?label ?wanted WHERE {
  VALUES ?property { rdfs:label skos:prefLabel schema:name }
  ?entity ?property ?label .
  FILTER(LCASE(STR(?label)) = LCASE(STR(?wanted)))
} ORDER BY ?entity";

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
        let node = match &row[0] {
            Some(Term::NamedNode(n)) => NamedOrBlankNode::from(n.clone()),
            Some(Term::BlankNode(b)) => NamedOrBlankNode::from(b.clone()),
            _ => continue,
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
