//! SPARQL 1.1 query and update over the store. The default graph of a query
//! is the union of all graphs (unless the query names its own dataset), and
//! the well-known prefixes of [`terms::PREFIXES`] are predeclared.

use std::sync::Arc;

use oxigraph::model::{NamedNode, Term, Variable};
use oxigraph::sparql::{QueryResults, SparqlEvaluator};

use super::sparql_text::{check_nesting, explain_syntax_error, SparqlKind};
use super::terms::PREFIXES;
use super::Store;
use crate::error::{Error, Result};

pub use oxigraph::sparql::QueryResults as QueryOutcome;

/// A SPARQL extension function: the arguments' values to a result, or
/// `None` for an unbound result (SPARQL's error value).
pub type CustomFunction = Arc<dyn Fn(&[Term]) -> Option<Term> + Send + Sync>;

/// Runs SPARQL against one store.
pub struct SparqlRunner<'a> {
    store: &'a Store,
    functions: Vec<(NamedNode, CustomFunction)>,
}

impl<'a> SparqlRunner<'a> {
    pub fn new(store: &'a Store) -> Self {
        Self {
            store,
            functions: Vec::new(),
        }
    }

    /// Registers an extension function callable as `<name>(…)` in queries.
    pub fn with_function(mut self, name: NamedNode, function: CustomFunction) -> Self {
        self.functions.push((name, function));
        self
    }

    fn evaluator(&self) -> SparqlEvaluator {
        let evaluator = PREFIXES
            .iter()
            .fold(SparqlEvaluator::new(), |evaluator, (name, iri)| {
                // The prefix table is constant and every IRI in it is valid.
                evaluator
                    .with_prefix(*name, *iri)
                    .expect("well-known prefixes are valid IRIs")
            });
        self.functions
            .iter()
            .fold(evaluator, |evaluator, (name, function)| {
                let function = function.clone();
                evaluator.with_custom_function(name.clone(), move |args| function(args))
            })
    }

    /// Runs a query; `bindings` fix variables before evaluation (they must be
    /// projected by the query).
    pub fn query(
        &self,
        text: &str,
        bindings: &[(Variable, Term)],
    ) -> Result<QueryResults<'static>> {
        check_nesting(text).map_err(Error::SparqlSyntax)?;
        let mut prepared = self.evaluator().parse_query(text).map_err(|e| {
            Error::SparqlSyntax(explain_syntax_error(
                text,
                SparqlKind::Query,
                &e.to_string(),
            ))
        })?;
        if prepared.dataset().is_default_dataset() {
            prepared.dataset_mut().set_default_graph_as_union();
        }
        let mut bound = prepared.on_store(self.store.oxigraph());
        for (variable, value) in bindings {
            bound = bound.substitute_variable(variable.clone(), value.clone());
        }
        bound
            .execute()
            .map_err(|e| Error::SparqlEvaluation(e.to_string()))
    }

    /// Runs a query and collects its solutions as rows of optional terms, in
    /// the order of the projected variables. Fails on ASK and CONSTRUCT.
    pub fn select(
        &self,
        text: &str,
        bindings: &[(Variable, Term)],
    ) -> Result<(Vec<Variable>, Vec<Vec<Option<Term>>>)> {
        self.solutions(text, bindings, usize::MAX)
    }

    /// Like [`SparqlRunner::select`], but reads only the first `limit`
    /// solutions (without an ORDER BY the rest are never computed).
    pub fn select_first(
        &self,
        text: &str,
        bindings: &[(Variable, Term)],
        limit: usize,
    ) -> Result<Vec<Vec<Option<Term>>>> {
        Ok(self.solutions(text, bindings, limit)?.1)
    }

    fn solutions(
        &self,
        text: &str,
        bindings: &[(Variable, Term)],
        limit: usize,
    ) -> Result<(Vec<Variable>, Vec<Vec<Option<Term>>>)> {
        match self.query(text, bindings)? {
            QueryResults::Solutions(solutions) => {
                let variables = solutions.variables().to_vec();
                let mut rows = Vec::new();
                for solution in solutions.take(limit) {
                    let solution = solution.map_err(|e| Error::SparqlEvaluation(e.to_string()))?;
                    rows.push(variables.iter().map(|v| solution.get(v).cloned()).collect());
                }
                Ok((variables, rows))
            }
            _ => Err(Error::UnsupportedOutput(
                "expected a SELECT query".to_owned(),
            )),
        }
    }

    /// Runs a SPARQL Update in one transaction.
    pub fn update(&self, text: &str) -> Result<()> {
        check_nesting(text).map_err(Error::SparqlSyntax)?;
        self.evaluator()
            .parse_update(text)
            .map_err(|e| {
                Error::SparqlSyntax(explain_syntax_error(
                    text,
                    SparqlKind::Update,
                    &e.to_string(),
                ))
            })?
            .on_store(self.store.oxigraph())
            .execute()
            .map_err(|e| Error::SparqlEvaluation(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxigraph::model::{GraphNameRef, NamedNodeRef, QuadRef};

    #[test]
    fn default_graph_is_the_union() {
        let store = Store::in_memory().unwrap();
        let ex = NamedNodeRef::new("http://example.com/x").unwrap();
        let g = NamedNodeRef::new("http://example.com/g").unwrap();
        store
            .oxigraph()
            .insert(QuadRef::new(ex, ex, ex, g))
            .unwrap();
        store
            .oxigraph()
            .insert(QuadRef::new(ex, ex, g, GraphNameRef::DefaultGraph))
            .unwrap();
        let (_, rows) = SparqlRunner::new(&store)
            .select("SELECT ?o WHERE { ?s ?p ?o }", &[])
            .unwrap();
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let store = Store::in_memory().unwrap();
        let Err(error) = SparqlRunner::new(&store).query("SELECT ?s WHERE { ?s ?p }", &[]) else {
            panic!("an invalid query was accepted");
        };
        let text = error.to_string();
        assert!(text.starts_with("invalid SPARQL"), "{text}");
        assert!(text.contains("1:"), "{text}");
    }

    #[test]
    fn well_known_prefixes_are_predeclared() {
        let store = Store::in_memory().unwrap();
        let runner = SparqlRunner::new(&store);
        assert!(runner
            .select("SELECT ?c WHERE { ?c a risk:Company }", &[])
            .is_ok());
    }
}
