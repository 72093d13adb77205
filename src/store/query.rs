//! SPARQL 1.1 query and update over the store. The default graph of a query
//! is the union of all graphs (unless the query names its own dataset), and
//! the well-known prefixes of [`terms::PREFIXES`] are predeclared.

use std::sync::Arc;

use oxigraph::model::{NamedNode, Term, Variable};
use oxigraph::sparql::{QueryEvaluationError, QueryResults, QuerySolutionIter, SparqlEvaluator};
use spargebra::GraphUpdateOperation;

use super::remote::{QueryForm, RemoteStore};
use super::sparql_text::{
    check_nesting, explain_syntax_error, trailing_order_by, undeclared_prefixes,
    where_clause_start, SparqlKind,
};
use super::terms::PREFIXES;
use super::{BackendRef, Store};
use crate::error::{Error, Result};

pub use oxigraph::sparql::CancellationToken;
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
        self.query_with(text, bindings, &Dataset::default(), None)
    }

    /// Runs a query over `dataset` (the union of all graphs as the default
    /// graph when it names none); `cancel` stops it (`Error::Cancelled`).
    /// SERVICE calls are refused: the store makes no requests of its own.
    pub fn query_with(
        &self,
        text: &str,
        bindings: &[(Variable, Term)],
        dataset: &Dataset,
        cancel: Option<CancellationToken>,
    ) -> Result<QueryResults<'static>> {
        check_nesting(text).map_err(Error::SparqlSyntax)?;
        let inner = match self.store.backend() {
            BackendRef::Embedded(inner) => inner,
            BackendRef::Remote(remote) => {
                let query = self.remote_query(text, bindings, dataset)?;
                if query.sliced {
                    return remote.query(&query.text, query.form, query.dataset.as_ref());
                }
                let (variables, rows) = remote_solutions(remote, &query, usize::MAX)?;
                return Ok(QueryResults::Solutions(QuerySolutionIter::from_tuples(
                    variables.into(),
                    rows.into_iter().map(Ok),
                )));
            }
        };
        // Built without an HTTP client, the evaluator has no service
        // handler: SERVICE fails as `UnsupportedService`.
        let mut evaluator = self.evaluator();
        if let Some(token) = cancel {
            evaluator = evaluator.with_cancellation_token(token);
        }
        let mut prepared = evaluator.parse_query(text).map_err(|e| {
            Error::SparqlSyntax(explain_syntax_error(
                text,
                SparqlKind::Query,
                &e.to_string(),
            ))
        })?;
        if !dataset.default_graphs.is_empty() {
            let graphs = dataset.default_graphs.iter().cloned().map(Into::into);
            prepared.dataset_mut().set_default_graph(graphs.collect());
        }
        if !dataset.named_graphs.is_empty() {
            let graphs = dataset.named_graphs.iter().cloned().map(Into::into);
            prepared
                .dataset_mut()
                .set_available_named_graphs(graphs.collect());
        }
        if prepared.dataset().is_default_dataset() {
            prepared.dataset_mut().set_default_graph_as_union();
        }
        let mut bound = prepared.on_store(inner);
        for (variable, value) in bindings {
            bound = bound.substitute_variable(variable.clone(), value.clone());
        }
        bound.execute().map_err(evaluation_error)
    }

    /// A query for a remote store: checked here (so that syntax errors read
    /// as they do on the embedded store), then sent as the user wrote it
    /// with the well-known prefixes it leaves undeclared and the bindings as
    /// a VALUES block at the top of its WHERE clause (where a server joins
    /// them first).
    fn remote_query(
        &self,
        text: &str,
        bindings: &[(Variable, Term)],
        dataset: &Dataset,
    ) -> Result<RemoteQuery> {
        if let Some((name, _)) = self.functions.first() {
            return Err(Error::Refused(format!(
                "the extension function {name} runs on the embedded store only: a SPARQL endpoint cannot call back into kgfuse"
            )));
        }
        let query = parser().parse_query(text).map_err(|e| {
            Error::SparqlSyntax(explain_syntax_error(
                text,
                SparqlKind::Query,
                &e.to_string(),
            ))
        })?;
        let (form, own_dataset, sliced) = match &query {
            spargebra::Query::Select {
                dataset, pattern, ..
            } => (
                QueryForm::Solutions,
                dataset.is_some(),
                matches!(pattern, spargebra::algebra::GraphPattern::Slice { .. }),
            ),
            spargebra::Query::Ask { dataset, .. } => {
                (QueryForm::Solutions, dataset.is_some(), true)
            }
            spargebra::Query::Construct { dataset, .. }
            | spargebra::Query::Describe { dataset, .. } => {
                (QueryForm::Graph, dataset.is_some(), true)
            }
        };
        let mut body = text.to_owned();
        if !bindings.is_empty() {
            let (variables, values): (Vec<String>, Vec<String>) = bindings
                .iter()
                .map(|(variable, value)| (variable.to_string(), value.to_string()))
                .unzip();
            let at = where_clause_start(text).ok_or_else(|| {
                Error::SparqlSyntax("a query with bindings needs a WHERE clause".to_owned())
            })?;
            body.insert_str(
                at,
                &format!(
                    " VALUES ({}) {{ ({}) }} ",
                    variables.join(" "),
                    values.join(" ")
                ),
            );
        }
        let given = !dataset.default_graphs.is_empty() || !dataset.named_graphs.is_empty();
        let prologue = undeclared_prefixes(text);
        let order_at = trailing_order_by(&body).map(|at| prologue.len() + at);
        Ok(RemoteQuery {
            text: prologue + &body,
            form,
            dataset: (given || own_dataset).then(|| dataset.clone()),
            sliced,
            order_at,
        })
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
        if let BackendRef::Remote(remote) = self.store.backend() {
            check_nesting(text).map_err(Error::SparqlSyntax)?;
            let query = self.remote_query(text, bindings, &Dataset::default())?;
            return remote_solutions(remote, &query, limit);
        }
        match self.query(text, bindings)? {
            QueryResults::Solutions(solutions) => {
                let variables = solutions.variables().to_vec();
                let mut rows = Vec::new();
                for solution in solutions.take(limit) {
                    let solution = solution.map_err(evaluation_error)?;
                    rows.push(variables.iter().map(|v| solution.get(v).cloned()).collect());
                }
                Ok((variables, rows))
            }
            _ => Err(Error::UnsupportedOutput(
                "expected a SELECT query".to_owned(),
            )),
        }
    }

    /// Runs a SPARQL Update in one transaction. `LOAD <url>` is refused:
    /// the store makes no requests of its own.
    pub fn update(&self, text: &str) -> Result<()> {
        check_nesting(text).map_err(Error::SparqlSyntax)?;
        // Parsed once, as the evaluator would (with the predeclared
        // prefixes), so that its operations can be checked before it runs.
        let update = parser().parse_update(text).map_err(|e| {
            Error::SparqlSyntax(explain_syntax_error(
                text,
                SparqlKind::Update,
                &e.to_string(),
            ))
        })?;
        for operation in &update.operations {
            if let GraphUpdateOperation::Load { source, .. } = operation {
                return Err(Error::Refused(format!(
                    "LOAD {source} is refused: the store makes no requests of its own; load the file itself (kgfuse load, or a Graph Store Protocol PUT or POST)"
                )));
            }
        }
        match self.store.backend() {
            BackendRef::Embedded(inner) => self
                .evaluator()
                .for_update(update)
                .on_store(inner)
                .execute()
                .map_err(|e| Error::SparqlEvaluation(e.to_string())),
            BackendRef::Remote(remote) => remote.update(&(undeclared_prefixes(text) + text)),
        }
    }
}

/// A SPARQL parser that knows the well-known prefixes.
fn parser() -> spargebra::SparqlParser {
    PREFIXES
        .iter()
        .fold(spargebra::SparqlParser::new(), |parser, (name, iri)| {
            parser
                .with_prefix(*name, *iri)
                .expect("well-known prefixes are valid IRIs")
        })
}

/// The solutions of a SELECT on a remote store, at most `limit`. Servers
/// cap a result without saying so (Virtuoso at 10,000 rows by default), so
/// a result that fills a page of `--endpoint-page-size` rows is read again in
/// pages, sorted by every projected variable (after the query's own ORDER
/// BY): OFFSET pages of an unsorted result may overlap where the server
/// evaluates in parallel (Virtuoso's DISTINCT does).
fn remote_solutions(
    remote: &RemoteStore,
    query: &RemoteQuery,
    limit: usize,
) -> Result<(Vec<Variable>, Vec<Vec<Option<Term>>>)> {
    let page = remote.page_size();
    let read = |text: &str, rows: &mut Vec<Vec<Option<Term>>>, most: usize| {
        let QueryResults::Solutions(solutions) =
            remote.query(text, query.form, query.dataset.as_ref())?
        else {
            return Err(Error::UnsupportedOutput(
                "expected a SELECT query".to_owned(),
            ));
        };
        let variables = solutions.variables().to_vec();
        for solution in solutions.take(most) {
            let solution = solution.map_err(evaluation_error)?;
            rows.push(variables.iter().map(|v| solution.get(v).cloned()).collect());
        }
        Ok(variables)
    };
    let mut rows = Vec::new();
    if query.sliced {
        let variables = read(&query.text, &mut rows, limit)?;
        return Ok((variables, rows));
    }
    let wanted = page.min(limit);
    let variables = read(
        &format!("{}\nLIMIT {wanted}", query.text),
        &mut rows,
        wanted,
    )?;
    if rows.len() < page || rows.len() == limit {
        return Ok((variables, rows));
    }
    // Variables the query already orders by are not repeated (Virtuoso
    // pages `ORDER BY DESC(?x) ?x` wrongly).
    let ordered: Vec<&str> = query.order_at.map_or(Vec::new(), |at| {
        query.text[at..]
            .split(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '?' | '$')))
            .filter_map(|word| word.strip_prefix(['?', '$']))
            .collect()
    });
    let keys: String = variables
        .iter()
        .filter(|v| !ordered.contains(&v.as_str()))
        .map(|v| format!(" {v}"))
        .collect();
    let sorted = match query.order_at {
        Some(_) => format!("{}{keys}", query.text),
        None => format!("{}\nORDER BY{keys}", query.text),
    };
    rows.clear();
    loop {
        let wanted = page.min(limit - rows.len());
        let before = rows.len();
        read(
            &format!("{sorted}\nLIMIT {wanted} OFFSET {before}"),
            &mut rows,
            wanted,
        )?;
        if rows.len() - before < wanted || rows.len() == limit {
            return Ok((variables, rows));
        }
    }
}

/// A query as a remote store gets it.
struct RemoteQuery {
    text: String,
    form: QueryForm,
    /// `None`: the store's own dataset.
    dataset: Option<Dataset>,
    /// Whether it has its own LIMIT or OFFSET (or returns no rows to page).
    sliced: bool,
    /// Where its own ORDER BY starts, when it ends the text.
    order_at: Option<usize>,
}

/// The RDF dataset a protocol request names (`default-graph-uri`,
/// `named-graph-uri`); empty: the query's own, else the union of all graphs.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub default_graphs: Vec<NamedNode>,
    pub named_graphs: Vec<NamedNode>,
}

/// A query's evaluation error by cause: stopped, refused, or failed.
pub fn evaluation_error(e: QueryEvaluationError) -> Error {
    match e {
        QueryEvaluationError::Cancelled => Error::Cancelled,
        QueryEvaluationError::UnsupportedService(name) => Error::Refused(format!(
            "SERVICE {name} is refused: the store makes no requests of its own"
        )),
        e => Error::SparqlEvaluation(e.to_string()),
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
            .insert_quads([
                QuadRef::new(ex, ex, ex, g).into_owned(),
                QuadRef::new(ex, ex, g, GraphNameRef::DefaultGraph).into_owned(),
            ])
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
