//! A store that lives in a SPARQL 1.1 server: reads through the query
//! endpoint (paged, in parallel), writes through the update endpoint or the
//! Graph Store Protocol. `store/` dispatches here when the store is remote;
//! nothing above `store/` knows which backend it has.
//!
//! What the protocols cannot promise is said where it matters:
//! - one request is one transaction on the servers we test (kgfuse serve,
//!   Virtuoso), but a write split over several requests is not atomic, so a
//!   failed write names what was already written;
//! - a blank node read from the server cannot be named in a later request,
//!   so derived triples that mention one are not written back (and counted).

mod digest;
pub mod http;
mod results;

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use oxigraph::io::{RdfFormat, RdfParser};
use oxigraph::model::{
    GraphName, GraphNameRef, NamedNode, NamedNodeRef, NamedOrBlankNode, NamedOrBlankNodeRef, Quad,
    QuadRef, Term, TermRef, Triple,
};
use oxigraph::sparql::results::{QueryResultsFormat, QueryResultsParser};
use oxigraph::sparql::{QueryResults, QueryTripleIter};

pub use http::Credentials;
use http::{HttpClient, Payload};

use super::query::Dataset;
use super::terms::GRAPH_NS;
use crate::error::{Error, Result};

/// The URL scheme prefix that marks a store as a SPARQL endpoint.
pub const SCHEME_PREFIX: &str = "sparql+";

/// Where a remote store is and how to talk to it.
#[derive(Debug, Clone)]
pub struct EndpointOptions {
    /// The query endpoint; `default-graph-uri` parameters in it name the
    /// graphs that make the store's data (else the endpoint's default graph).
    pub query_url: String,
    /// The update endpoint, when it is not the query endpoint.
    pub update_url: Option<String>,
    /// A Graph Store Protocol endpoint: loads go there as N-Triples
    /// (else as `INSERT DATA` through the update endpoint).
    pub graph_store_url: Option<String>,
    pub credentials: Option<Credentials>,
    /// Requests in flight at once for paged reads.
    pub concurrency: usize,
    pub timeout: Duration,
    /// Further tries after a 5xx, a 429 or a timeout.
    pub retries: u32,
    /// Rows per page of a read.
    pub page_size: usize,
}

/// Triples per `INSERT DATA` request: larger ones exhaust the SPARQL
/// compiler of some servers (Virtuoso 7 fails near 5,000).
const UPDATE_BATCH: usize = 1_000;
/// Triples per Graph Store Protocol request (N-Triples, parsed cheaply).
const GRAPH_STORE_BATCH: usize = 50_000;

impl EndpointOptions {
    /// Options for `url` (`sparql+http://…`, or a plain `http(s)://` URL)
    /// with the defaults: 4 requests at once, 60 s per request, 3 retries,
    /// pages of 10,000 rows (Virtuoso's default cap on a result).
    pub fn new(url: &str) -> Self {
        Self {
            query_url: url.strip_prefix(SCHEME_PREFIX).unwrap_or(url).to_owned(),
            update_url: None,
            graph_store_url: None,
            credentials: None,
            concurrency: 4,
            timeout: Duration::from_secs(60),
            retries: 3,
            page_size: 10_000,
        }
    }
}

/// Whether `location` names a SPARQL endpoint rather than a folder.
pub fn is_endpoint(location: &str) -> bool {
    location.starts_with("sparql+http://") || location.starts_with("sparql+https://")
}

pub struct RemoteStore {
    query_url: String,
    update_url: String,
    graph_store_url: Option<String>,
    http: HttpClient,
    concurrency: usize,
    page_size: usize,
    /// Triples per write request.
    write_batch: usize,
    /// The graphs that make the store's default graph: those the URL names
    /// plus kgfuse's own (inferences, predictions) as they appear; empty:
    /// the endpoint's default graph.
    dataset: Mutex<Vec<NamedNode>>,
}

/// The form of a query, which decides the result syntax asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryForm {
    /// SELECT and ASK: SPARQL results.
    Solutions,
    /// CONSTRUCT and DESCRIBE: RDF.
    Graph,
}

impl RemoteStore {
    /// Connects to the endpoint (one `ASK` to fail early and clearly when it
    /// cannot be reached) and finds kgfuse's graphs when the URL names a dataset.
    pub fn open(options: EndpointOptions) -> Result<Self> {
        let (query_url, dataset) = split_dataset(&options.query_url)?;
        let store = Self {
            update_url: options
                .update_url
                .clone()
                .unwrap_or_else(|| query_url.clone()),
            query_url,
            graph_store_url: options.graph_store_url.clone(),
            http: HttpClient::new(
                options.timeout,
                options.retries,
                options.credentials.clone(),
            ),
            concurrency: options.concurrency.max(1),
            page_size: options.page_size.max(1),
            write_batch: if options.graph_store_url.is_some() {
                GRAPH_STORE_BATCH
            } else {
                UPDATE_BATCH
            },
            dataset: Mutex::new(dataset),
        };
        store.ask("ASK { }", false)?;
        if !store.dataset().is_empty() {
            let own = format!(
                "SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(STRSTARTS(STR(?g), \"{GRAPH_NS}\")) }}"
            );
            for row in store.select(&own, true)?.1 {
                if let Some(Term::NamedNode(graph)) = row.into_iter().next().flatten() {
                    store.include(&graph);
                }
            }
        }
        Ok(store)
    }

    /// The query endpoint, as users named it.
    pub fn url(&self) -> &str {
        &self.query_url
    }

    /// Rows per page of a read.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// HTTP requests made so far.
    pub fn requests(&self) -> u64 {
        self.http.requests()
    }

    fn dataset(&self) -> Vec<NamedNode> {
        self.dataset.lock().expect("dataset lock").clone()
    }

    /// Adds one of kgfuse's graphs to a named dataset once it is written.
    fn include(&self, graph: &NamedNode) {
        let mut dataset = self.dataset.lock().expect("dataset lock");
        if !dataset.is_empty() && graph.as_str().starts_with(GRAPH_NS) && !dataset.contains(graph) {
            dataset.push(graph.clone());
        }
    }

    /// Runs a query given as text the server can read, over `dataset`
    /// (`None`: the store's own; an empty one: the query's or the endpoint's).
    pub fn query(
        &self,
        text: &str,
        form: QueryForm,
        dataset: Option<&Dataset>,
    ) -> Result<QueryResults<'static>> {
        let (default, named) = match dataset {
            Some(given) => (given.default_graphs.clone(), given.named_graphs.clone()),
            None => (self.dataset(), self.dataset()),
        };
        let mut fields: Vec<(&str, &str)> = vec![("query", text)];
        fields.extend(default.iter().map(|g| ("default-graph-uri", g.as_str())));
        fields.extend(named.iter().map(|g| ("named-graph-uri", g.as_str())));
        let accept = match form {
            QueryForm::Solutions => {
                "application/sparql-results+json, application/sparql-results+xml;q=0.9"
            }
            QueryForm::Graph => {
                "application/n-triples, text/turtle;q=0.9, application/rdf+xml;q=0.8"
            }
        };
        let reply = self.http.send(
            "POST",
            &self.query_url,
            &[],
            accept,
            &Payload::Form(&fields),
            false,
        )?;
        let media = reply
            .content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let unexpected = || Error::Endpoint {
            url: self.query_url.clone(),
            status: None,
            message: format!(
                "the result came as {:?}, which is not {}",
                reply.content_type,
                match form {
                    QueryForm::Solutions => "SPARQL results in JSON or XML",
                    QueryForm::Graph => "RDF in N-Triples, Turtle or RDF/XML",
                }
            ),
        };
        let bad_body = |e: &dyn std::fmt::Display| Error::Endpoint {
            url: self.query_url.clone(),
            status: None,
            message: format!("the result does not parse as {media}: {e}"),
        };
        match form {
            QueryForm::Solutions => {
                let format = match media.as_str() {
                    "application/sparql-results+json" | "application/json" => {
                        return results::parse_json(&reply.body).map_err(|e| bad_body(&e));
                    }
                    "application/sparql-results+xml" | "application/xml" => QueryResultsFormat::Xml,
                    _ => return Err(unexpected()),
                };
                let output = QueryResultsParser::from_format(format)
                    .for_reader(std::io::Cursor::new(reply.body))
                    .map_err(|e| bad_body(&e))?;
                Ok(QueryResults::from(output))
            }
            QueryForm::Graph => {
                let format = match media.as_str() {
                    "application/n-triples" | "text/plain" | "text/ntriples" => RdfFormat::NTriples,
                    "text/turtle" => RdfFormat::Turtle,
                    "application/rdf+xml" => RdfFormat::RdfXml,
                    _ => return Err(unexpected()),
                };
                let url = self.query_url.clone();
                let triples = RdfParser::from_format(format)
                    .for_reader(std::io::Cursor::new(reply.body))
                    .map(move |quad| {
                        quad.map(Triple::from).map_err(|e| {
                            oxigraph::sparql::QueryEvaluationError::Service(Box::new(
                                std::io::Error::other(format!("{url}: {e}")),
                            ))
                        })
                    });
                Ok(QueryResults::Graph(QueryTripleIter::new(triples)))
            }
        }
    }

    /// Runs an update in one request.
    pub fn update(&self, text: &str) -> Result<()> {
        self.http.send(
            "POST",
            &self.update_url,
            &[],
            "*/*",
            &Payload::Form(&[("update", text)]),
            true,
        )?;
        Ok(())
    }

    /// Runs a SELECT over the store's dataset, or with `own_dataset` over
    /// the graphs the query names itself.
    fn select(
        &self,
        text: &str,
        own_dataset: bool,
    ) -> Result<(Vec<String>, Vec<Vec<Option<Term>>>)> {
        self.select_over(text, own_dataset.then_some(&Dataset::default()))
    }

    fn select_over(
        &self,
        text: &str,
        dataset: Option<&Dataset>,
    ) -> Result<(Vec<String>, Vec<Vec<Option<Term>>>)> {
        match self.query(text, QueryForm::Solutions, dataset)? {
            QueryResults::Solutions(solutions) => {
                let variables: Vec<String> = solutions
                    .variables()
                    .iter()
                    .map(|v| v.as_str().to_owned())
                    .collect();
                let vars = solutions.variables().to_vec();
                let mut rows = Vec::new();
                for solution in solutions {
                    let solution = solution.map_err(|e| self.bad_result(e))?;
                    rows.push(vars.iter().map(|v| solution.get(v).cloned()).collect());
                }
                Ok((variables, rows))
            }
            _ => Err(self.bad_result("expected solutions, got a boolean or a graph")),
        }
    }

    fn ask(&self, text: &str, own_dataset: bool) -> Result<bool> {
        match self.query(
            text,
            QueryForm::Solutions,
            own_dataset.then_some(&Dataset::default()),
        )? {
            QueryResults::Boolean(value) => Ok(value),
            _ => Err(self.bad_result("expected a boolean answer to ASK")),
        }
    }

    fn bad_result(&self, e: impl std::fmt::Display) -> Error {
        Error::Endpoint {
            url: self.query_url.clone(),
            status: None,
            message: format!("unexpected result: {e}"),
        }
    }

    /// The quads matching a pattern, read in pages of `page_size` rows,
    /// `concurrency` pages at a time. `graph: None` reads the store's
    /// default graph (the union on most servers); its quads come back in
    /// the default graph, since SPARQL does not say where a triple of a
    /// union came from.
    pub fn quads_matching(
        &self,
        subject: Option<NamedOrBlankNodeRef<'_>>,
        predicate: Option<NamedNodeRef<'_>>,
        object: Option<TermRef<'_>>,
        graph: Option<GraphNameRef<'_>>,
    ) -> PagedQuads<'_> {
        let pattern = format!(
            "{} {} {}",
            subject.map_or("?s".to_owned(), |s| sparql_term(s.into())),
            predicate.map_or("?p".to_owned(), |p| sparql_term(p.into())),
            object.map_or("?o".to_owned(), sparql_term),
        );
        let (body, dataset, graph_name) = match graph {
            Some(GraphNameRef::NamedNode(g)) => (
                format!("GRAPH <{}> {{ {pattern} }}", g.as_str()),
                Some(Dataset::default()),
                GraphName::NamedNode(g.into_owned()),
            ),
            _ => (pattern.clone(), None, GraphName::DefaultGraph),
        };
        PagedQuads {
            store: self,
            template: pattern,
            body,
            graph: graph_name,
            dataset,
            pages: None,
            next_page: 0,
            buffer: VecDeque::new(),
            failed: false,
        }
    }

    /// Triples outside `excluded`, read as [`RemoteStore::quads_matching`]
    /// does: the dataset's other graphs, or without a dataset the default
    /// graph less the triples `excluded` holds.
    pub fn quads_outside(&self, excluded: NamedNodeRef<'_>) -> PagedQuads<'_> {
        let mut quads = self.quads_matching(None, None, None, None);
        let dataset = self.dataset();
        if dataset.is_empty() {
            quads.body = format!(
                "?s ?p ?o FILTER NOT EXISTS {{ GRAPH <{}> {{ ?s ?p ?o }} }}",
                excluded.as_str()
            );
        } else {
            let others: Vec<NamedNode> = dataset
                .into_iter()
                .filter(|g| g.as_ref() != excluded)
                .collect();
            quads.dataset = Some(Dataset {
                default_graphs: others.clone(),
                named_graphs: others,
            });
        }
        quads
    }

    pub fn contains(&self, quad: QuadRef<'_>) -> Result<bool> {
        let triple = format!(
            "{} {} {}",
            sparql_term(quad.subject.into()),
            sparql_term(quad.predicate.into()),
            sparql_term(quad.object)
        );
        match quad.graph_name {
            GraphNameRef::NamedNode(g) => self.ask(
                &format!("ASK {{ GRAPH <{}> {{ {triple} }} }}", g.as_str()),
                true,
            ),
            _ => self.ask(&format!("ASK {{ {triple} }}"), false),
        }
    }

    /// Triples in the store's default graph.
    pub fn len(&self) -> Result<usize> {
        let (_, rows) = self.select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", false)?;
        Ok(rows
            .first()
            .and_then(|row| row.first().cloned().flatten())
            .and_then(|term| match term {
                Term::Literal(l) => l.value().parse().ok(),
                _ => None,
            })
            .unwrap_or(0))
    }

    pub fn is_empty(&self) -> Result<bool> {
        Ok(!self.ask("ASK { ?s ?p ?o }", false)?)
    }

    /// The named graphs: the dataset's, else every graph the endpoint has.
    pub fn named_graphs(&self) -> Result<Vec<NamedOrBlankNode>> {
        let dataset = self.dataset();
        if !dataset.is_empty() {
            return Ok(dataset.into_iter().map(Into::into).collect());
        }
        let (_, rows) = self.select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", true)?;
        Ok(rows
            .into_iter()
            .filter_map(|row| match row.into_iter().next().flatten() {
                Some(Term::NamedNode(g)) => Some(g.into()),
                _ => None,
            })
            .collect())
    }

    /// Removes every triple of a graph.
    pub fn clear_graph(&self, graph: GraphNameRef<'_>) -> Result<()> {
        self.update(&clear_text(&graph.into_owned()))
    }

    /// Writes quads, graph by graph: through the Graph Store Protocol when
    /// the store has one, else as `INSERT DATA`, a page of triples per
    /// request. Quads that mention blank nodes go last, in one request per
    /// graph, so that each node stays one node. Returns how many quads were
    /// written; on failure the error says how many were written before it.
    pub fn insert(&self, quads: impl IntoIterator<Item = Result<Quad>>) -> Result<usize> {
        let mut pending: Vec<(GraphName, Vec<Triple>)> = Vec::new();
        let mut blank: Vec<(GraphName, Vec<Triple>)> = Vec::new();
        let mut written = 0;
        for quad in quads {
            let quad = quad?;
            let graph = quad.graph_name.clone();
            let triple = Triple::from(quad);
            let has_blank = mentions_blank(&triple);
            let groups = if has_blank { &mut blank } else { &mut pending };
            let index = match groups.iter().position(|(g, _)| *g == graph) {
                Some(index) => index,
                None => {
                    if let GraphName::NamedNode(g) = &graph {
                        self.include(g);
                    }
                    groups.push((graph, Vec::new()));
                    groups.len() - 1
                }
            };
            groups[index].1.push(triple);
            if !has_blank && groups[index].1.len() >= self.write_batch {
                let batch = std::mem::take(&mut groups[index].1);
                self.write_triples(&groups[index].0, &batch)
                    .map_err(|e| partial_write(e, written))?;
                written += batch.len();
            }
        }
        for (graph, batch) in pending.iter().chain(&blank) {
            if !batch.is_empty() {
                self.write_triples(graph, batch)
                    .map_err(|e| partial_write(e, written))?;
                written += batch.len();
            }
        }
        Ok(written)
    }

    fn write_triples(&self, graph: &GraphName, triples: &[Triple]) -> Result<()> {
        let body: String = triples.iter().map(|t| format!("{t} .\n")).collect();
        if let Some(url) = &self.graph_store_url {
            let target: (&str, &str) = match graph {
                GraphName::NamedNode(g) => ("graph", g.as_str()),
                _ => ("default", ""),
            };
            let params: &[(&str, &str)] = if target.0 == "default" {
                &[]
            } else {
                &[target]
            };
            let url = if target.0 == "default" {
                format!("{url}{}default", if url.contains('?') { '&' } else { '?' })
            } else {
                url.clone()
            };
            self.http.send(
                "POST",
                &url,
                params,
                "*/*",
                &Payload::Bytes {
                    content_type: "application/n-triples",
                    data: body.as_bytes(),
                },
                true,
            )?;
            return Ok(());
        }
        let blank = triples.iter().any(|t| mentions_blank(t));
        self.update(&insert_text(graph, &body, blank))
    }

    /// Removes from `graph` every triple, or those of `subjects`, and adds
    /// `quads` (which must be in `graph`): in one request when they fit in
    /// one batch, else in batches (a failure says what was written).
    pub fn rewrite_graph(
        &self,
        graph: GraphNameRef<'_>,
        subjects: Option<&[NamedOrBlankNode]>,
        quads: &[Quad],
    ) -> Result<()> {
        let name = graph.into_owned();
        if let GraphName::NamedNode(g) = &name {
            self.include(g);
        }
        let scope = |inner: &str| match &name {
            GraphName::NamedNode(g) => format!("GRAPH <{}> {{ {inner} }}", g.as_str()),
            _ => inner.to_owned(),
        };
        // Each operation with the triples it writes.
        let mut operations: Vec<(String, usize)> = match subjects {
            None => vec![(clear_text(&name), 0)],
            Some(subjects) => subjects
                .chunks(UPDATE_BATCH)
                .map(|batch| {
                    let values: Vec<String> = batch
                        .iter()
                        .map(|s| sparql_term(s.as_ref().into()))
                        .collect();
                    let delete = format!(
                        "DELETE {{ {} }} WHERE {{ {} VALUES ?s {{ {} }} }}",
                        scope("?s ?p ?o"),
                        scope("?s ?p ?o"),
                        values.join(" ")
                    );
                    (delete, 0)
                })
                .collect(),
        };
        for batch in quads.chunks(UPDATE_BATCH) {
            let triples: Vec<Triple> = batch.iter().cloned().map(Triple::from).collect();
            let body: String = triples.iter().map(|t| format!("{t} .\n")).collect();
            let insert = insert_text(&name, &body, triples.iter().any(mentions_blank));
            operations.push((insert, batch.len()));
        }
        if operations.len() <= 2 {
            let texts: Vec<&str> = operations.iter().map(|(text, _)| text.as_str()).collect();
            return self.update(&texts.join(" ;\n"));
        }
        let mut written = 0;
        for (operation, size) in &operations {
            self.update(operation)
                .map_err(|e| partial_write(e, written))?;
            written += size;
        }
        Ok(())
    }

    /// Makes `graph` hold exactly `wanted`: reads what it holds, then sends
    /// the removals and additions (one request when they fit in a page).
    /// Triples with blank nodes cannot be named across requests and are left
    /// out; returns (added, removed, kept, left out).
    pub fn replace_graph(
        &self,
        graph: NamedNodeRef<'_>,
        wanted: &[Triple],
    ) -> Result<(usize, usize, usize, usize)> {
        self.include(&graph.into_owned());
        let wanted: std::collections::HashSet<&Triple> = wanted.iter().collect();
        let (writable, blank): (Vec<&Triple>, Vec<&Triple>) =
            wanted.iter().copied().partition(|t| !mentions_blank(t));
        let mut held = std::collections::HashSet::new();
        for quad in self.quads_matching(None, None, None, Some(graph.into())) {
            held.insert(Triple::from(quad?));
        }
        let added: Vec<&Triple> = writable
            .iter()
            .copied()
            .filter(|t| !held.contains(*t))
            .collect();
        let removed: Vec<&Triple> = held
            .iter()
            .filter(|t| !wanted.contains(t) && !mentions_blank(t))
            .collect();
        let kept = writable.len() - added.len();
        let in_graph = |triples: &[&Triple]| -> String {
            format!(
                "GRAPH <{}> {{\n{}}}",
                graph.as_str(),
                triples
                    .iter()
                    .map(|t| format!("{t} .\n"))
                    .collect::<String>()
            )
        };
        if removed.len() + added.len() <= UPDATE_BATCH {
            // Small enough for one request: one transaction on the server.
            let mut operations = Vec::new();
            if !removed.is_empty() {
                operations.push(format!("DELETE DATA {{ {} }}", in_graph(&removed)));
            }
            if !added.is_empty() {
                operations.push(format!("INSERT DATA {{ {} }}", in_graph(&added)));
            }
            if !operations.is_empty() {
                self.update(&operations.join(" ;\n"))?;
            }
        } else {
            let mut done = 0;
            for batch in removed.chunks(UPDATE_BATCH) {
                self.update(&format!("DELETE DATA {{ {} }}", in_graph(batch)))
                    .map_err(|e| partial_write(e, done))?;
                done += batch.len();
            }
            let name = GraphName::NamedNode(graph.into_owned());
            let added: Vec<Triple> = added.into_iter().cloned().collect();
            for batch in added.chunks(self.write_batch) {
                self.write_triples(&name, batch)
                    .map_err(|e| partial_write(e, done))?;
                done += batch.len();
            }
            return Ok((added.len(), removed.len(), kept, blank.len()));
        }
        Ok((added.len(), removed.len(), kept, blank.len()))
    }
}

/// Reads a pattern's matches page by page: first their number (one COUNT),
/// then every page at once, `concurrency` requests at a time, each a
/// CONSTRUCT in N-Triples (servers write it many times faster than JSON
/// results: Virtuoso 7, 12x).
pub struct PagedQuads<'a> {
    store: &'a RemoteStore,
    /// The triple pattern, with the bound terms in place.
    template: String,
    /// The WHERE clause's content.
    body: String,
    graph: GraphName,
    /// `None`: the store's dataset.
    dataset: Option<Dataset>,
    /// Pages in all, once counted.
    pages: Option<usize>,
    next_page: usize,
    buffer: VecDeque<Quad>,
    failed: bool,
}

impl PagedQuads<'_> {
    fn solutions(&self) -> Result<usize> {
        let text = format!("SELECT (COUNT(*) AS ?n) WHERE {{ {} }}", self.body);
        let (_, rows) = self.store.select_over(&text, self.dataset.as_ref())?;
        match rows.first().and_then(|row| row.first().cloned().flatten()) {
            Some(Term::Literal(n)) => n
                .value()
                .parse()
                .map_err(|_| self.store.bad_result(format!("COUNT gave {n}"))),
            other => Err(self.store.bad_result(format!("COUNT gave {other:?}"))),
        }
    }

    /// Fetches the next `concurrency` pages at once, in order.
    fn fetch_wave(&mut self, pages: usize) -> Result<()> {
        let store = self.store;
        let size = store.page_size;
        let wave: Vec<usize> = (self.next_page..pages).take(store.concurrency).collect();
        let fetched: Vec<Result<Vec<Triple>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = wave
                .iter()
                .map(|page| {
                    let text = format!(
                        "CONSTRUCT {{ {} }} WHERE {{ {} }} LIMIT {size} OFFSET {}",
                        self.template,
                        self.body,
                        page * size
                    );
                    let dataset = self.dataset.as_ref();
                    scope.spawn(
                        move || match store.query(&text, QueryForm::Graph, dataset)? {
                            QueryResults::Graph(triples) => triples
                                .map(|t| t.map_err(|e| store.bad_result(e)))
                                .collect(),
                            _ => Err(store.bad_result("a CONSTRUCT gave no graph")),
                        },
                    )
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("page reader panicked"))
                .collect()
        });
        for triples in fetched {
            for triple in triples? {
                self.buffer.push_back(triple.in_graph(self.graph.clone()));
            }
        }
        self.next_page += wave.len();
        Ok(())
    }

    fn advance(&mut self) -> Result<()> {
        let pages = match self.pages {
            Some(pages) => pages,
            None => {
                let pages = self.solutions()?.div_ceil(self.store.page_size);
                self.pages = Some(pages);
                pages
            }
        };
        while self.buffer.is_empty() && self.next_page < pages {
            self.fetch_wave(pages)?;
        }
        Ok(())
    }
}

impl Iterator for PagedQuads<'_> {
    type Item = Result<Quad>;

    fn next(&mut self) -> Option<Result<Quad>> {
        if self.failed {
            return None;
        }
        if self.buffer.is_empty() {
            if let Err(e) = self.advance() {
                self.failed = true;
                return Some(Err(e));
            }
        }
        self.buffer.pop_front().map(Ok)
    }
}

/// Splits `default-graph-uri` parameters off a query URL.
fn split_dataset(url: &str) -> Result<(String, Vec<NamedNode>)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), Vec::new()));
    };
    let mut kept = form_urlencoded::Serializer::new(String::new());
    let mut dataset = Vec::new();
    let mut any_kept = false;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key == "default-graph-uri" {
            dataset.push(NamedNode::new(value.as_ref()).map_err(|e| {
                Error::InvalidTerm(format!("default-graph-uri={value} in {url}: {e}"))
            })?);
        } else {
            kept.append_pair(&key, &value);
            any_kept = true;
        }
    }
    let base = if any_kept {
        format!("{base}?{}", kept.finish())
    } else {
        base.to_owned()
    };
    Ok((base, dataset))
}

/// A term as SPARQL writes it (N-Triples syntax, which SPARQL accepts).
fn sparql_term(term: TermRef<'_>) -> String {
    term.to_string()
}

fn mentions_blank(triple: &Triple) -> bool {
    triple.subject.is_blank_node() || triple.object.is_blank_node()
}

/// The update that empties a graph.
fn clear_text(graph: &GraphName) -> String {
    match graph {
        GraphName::NamedNode(g) => format!("CLEAR SILENT GRAPH <{}>", g.as_str()),
        _ => "CLEAR SILENT DEFAULT".to_owned(),
    }
}

/// `INSERT DATA`, or with blank nodes `INSERT … WHERE {}` (one fresh node
/// per label, which some servers require instead of blank nodes in data).
fn insert_text(graph: &GraphName, ntriples: &str, blank: bool) -> String {
    let block = match graph {
        GraphName::NamedNode(g) => format!("GRAPH <{}> {{\n{ntriples}}}", g.as_str()),
        _ => ntriples.to_owned(),
    };
    if blank {
        format!("INSERT {{ {block} }} WHERE {{ }}")
    } else {
        format!("INSERT DATA {{ {block} }}")
    }
}

/// Adds to a failed write how much of it the server already holds.
fn partial_write(error: Error, written: usize) -> Error {
    match error {
        Error::Endpoint { url, status, message } if written > 0 => Error::Endpoint {
            url,
            status,
            message: format!(
                "{message}; {written} triples were written by earlier requests and stay on the server (the protocol has no transaction across requests)"
            ),
        },
        error => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_dataset_is_split_off() {
        let (url, dataset) =
            split_dataset("http://h/sparql?default-graph-uri=http%3A%2F%2Fx%2Fg&timeout=5")
                .unwrap();
        assert_eq!(url, "http://h/sparql?timeout=5");
        assert_eq!(dataset, [NamedNode::new("http://x/g").unwrap()]);
        assert!(split_dataset("http://h/sparql?default-graph-uri=not%20an%20iri").is_err());
    }

    #[test]
    fn blank_nodes_make_an_insert_with_a_template() {
        let g = GraphName::NamedNode(NamedNode::new("http://x/g").unwrap());
        assert!(insert_text(&g, "_:a <http://p> \"1\" .\n", true)
            .starts_with("INSERT { GRAPH <http://x/g>"));
        assert!(insert_text(
            &GraphName::DefaultGraph,
            "<http://a> <http://p> \"1\" .\n",
            false
        )
        .starts_with("INSERT DATA {"));
    }
}
