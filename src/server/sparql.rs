//! The W3C protocols: SPARQL 1.1 Protocol at `/sparql` (query by GET and
//! POST, form or direct body; update by POST) and the Graph Store HTTP
//! Protocol at `/store` (`?graph=IRI` or `?default`; GET, PUT, POST,
//! DELETE, each write all or nothing).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use oxigraph::io::{RdfFormat, RdfParser, RdfSerializer};
use oxigraph::model::{GraphName, NamedNode, Quad};
use oxigraph::sparql::results::{QueryResultsFormat, QueryResultsSerializer};

use super::{blocking, check_write, Engine, HttpError};
use crate::store::load::syntax_error_parts;
use crate::store::query::{
    evaluation_error, CancellationToken, Dataset, QueryOutcome, SparqlRunner,
};
use crate::store::results::with_prefixes;
use crate::store::Store;

pub fn routes() -> Router<Arc<Engine>> {
    Router::new()
        .route("/sparql", get(sparql_get).post(sparql_post))
        .route(
            "/store",
            get(store_get)
                .put(store_put)
                .post(store_post)
                .delete(store_delete),
        )
}

/// A request's `key=value` parameters, in order (keys repeat).
fn parameters(raw: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(raw).into_owned().collect()
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// What a protocol request asks for.
enum Operation {
    Query(String),
    Update(String),
}

async fn sparql_get(
    State(engine): State<Arc<Engine>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let params = parameters(raw.unwrap_or_default().as_bytes());
    if params.iter().any(|(k, _)| k == "update") {
        return Err(
            HttpError::new(StatusCode::METHOD_NOT_ALLOWED, "updates are sent by POST")
                .field("update"),
        );
    }
    let query = one(&params, "query")?
        .ok_or_else(|| HttpError::bad_request("no query parameter").field("query"))?;
    run(engine, Operation::Query(query), &params, &headers).await
}

async fn sparql_post(
    State(engine): State<Arc<Engine>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, HttpError> {
    let mut params = parameters(raw.unwrap_or_default().as_bytes());
    let text = || {
        String::from_utf8(body.to_vec())
            .map_err(|_| HttpError::bad_request("the request body is not UTF-8"))
    };
    let operation = match content_type(&headers).as_str() {
        "application/sparql-query" => Operation::Query(text()?),
        "application/sparql-update" => Operation::Update(text()?),
        "application/x-www-form-urlencoded" => {
            params.extend(parameters(&body));
            match (one(&params, "query")?, one(&params, "update")?) {
                (Some(q), None) => Operation::Query(q),
                (None, Some(u)) => Operation::Update(u),
                (Some(_), Some(_)) => {
                    return Err(HttpError::bad_request("give a query or an update, not both"))
                }
                (None, None) => {
                    return Err(HttpError::bad_request("no query or update parameter")
                        .field("query"))
                }
            }
        }
        other => {
            return Err(HttpError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "content type {other:?}: send application/sparql-query, application/sparql-update or application/x-www-form-urlencoded"
                ),
            ))
        }
    };
    run(engine, operation, &params, &headers).await
}

/// The value of a parameter that may appear once.
fn one(params: &[(String, String)], key: &'static str) -> Result<Option<String>, HttpError> {
    let mut values = params.iter().filter(|(k, _)| k == key).map(|(_, v)| v);
    let first = values.next().cloned();
    if values.next().is_some() {
        return Err(HttpError::bad_request(format!("{key} is given twice")).field(key));
    }
    Ok(first)
}

fn graph_iris(params: &[(String, String)], key: &'static str) -> Result<Vec<NamedNode>, HttpError> {
    params
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| {
            NamedNode::new(v.as_str())
                .map_err(|e| HttpError::bad_request(format!("{key} {v:?}: {e}")).field(key))
        })
        .collect()
}

async fn run(
    engine: Arc<Engine>,
    operation: Operation,
    params: &[(String, String)],
    headers: &HeaderMap,
) -> Result<Response, HttpError> {
    match operation {
        Operation::Update(text) => {
            check_write(&engine, headers)?;
            for key in ["using-graph-uri", "using-named-graph-uri"] {
                if params.iter().any(|(k, _)| k == key) {
                    return Err(HttpError::bad_request(format!(
                        "{key} is not supported: name the graphs with USING or WITH in the update"
                    ))
                    .field(key));
                }
            }
            blocking(move || {
                SparqlRunner::new(&engine.store).update(&text)?;
                engine.store.flush()?;
                Ok(StatusCode::NO_CONTENT.into_response())
            })
            .await
        }
        Operation::Query(text) => {
            let dataset = Dataset {
                default_graphs: graph_iris(params, "default-graph-uri")?,
                named_graphs: graph_iris(params, "named-graph-uri")?,
            };
            let accept = accept_list(headers);
            let token = CancellationToken::new();
            let timeout = engine.options.query_timeout;
            let work = {
                let token = token.clone();
                blocking(move || {
                    let runner = SparqlRunner::new(&engine.store);
                    let results = runner.query_with(&text, &[], &dataset, Some(token))?;
                    render(results, &accept, engine.options.max_result_rows)
                })
            };
            // The answer comes at the deadline; the evaluation stops at its
            // next check of the token (oxigraph checks between steps, which
            // inside a large join can be seconds apart).
            let (content_type, body) = match tokio::time::timeout(timeout, work).await {
                Ok(result) => result?,
                Err(_) => {
                    token.cancel();
                    return Err(crate::Error::Cancelled.into());
                }
            };
            Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
        }
    }
}

/// The media types of `Accept`, best first (by q, then order).
fn accept_list(headers: &HeaderMap) -> Vec<String> {
    let text = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("*/*");
    let mut types: Vec<(f32, usize, String)> = text
        .split(',')
        .enumerate()
        .filter_map(|(i, part)| {
            let mut pieces = part.split(';');
            let media = pieces.next()?.trim().to_ascii_lowercase();
            let q = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            (q > 0.0 && !media.is_empty()).then_some((q, i, media))
        })
        .collect();
    types.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    types.into_iter().map(|(_, _, m)| m).collect()
}

const RESULT_TYPES: [(&str, QueryResultsFormat); 6] = [
    ("application/sparql-results+json", QueryResultsFormat::Json),
    ("application/json", QueryResultsFormat::Json),
    ("application/sparql-results+xml", QueryResultsFormat::Xml),
    ("application/xml", QueryResultsFormat::Xml),
    ("text/csv", QueryResultsFormat::Csv),
    ("text/tab-separated-values", QueryResultsFormat::Tsv),
];

const GRAPH_TYPES: [(&str, RdfFormat); 6] = [
    ("text/turtle", RdfFormat::Turtle),
    ("application/n-triples", RdfFormat::NTriples),
    ("application/rdf+xml", RdfFormat::RdfXml),
    (
        "application/ld+json",
        RdfFormat::JsonLd {
            profile: oxigraph::io::JsonLdProfileSet::empty(),
        },
    ),
    ("application/n-quads", RdfFormat::NQuads),
    ("application/trig", RdfFormat::TriG),
];

/// The first of `offered` that `accept` takes (`*/*` and `type/*` take the
/// first of that kind); a 406 naming `offered` when none is.
fn negotiate<T: Copy>(
    accept: &[String],
    offered: &[(&'static str, T)],
) -> Result<(&'static str, T), HttpError> {
    for wanted in accept {
        for &(media, value) in offered {
            let family = media.split('/').next().unwrap_or("");
            if wanted == media || wanted == "*/*" || wanted.strip_suffix("/*") == Some(family) {
                return Ok((media, value));
            }
        }
    }
    let names: Vec<&str> = offered.iter().map(|t| t.0).collect();
    Err(HttpError::new(
        StatusCode::NOT_ACCEPTABLE,
        format!(
            "no acceptable format in Accept; this result comes as {}",
            names.join(", ")
        ),
    ))
}

fn too_many(limit: usize) -> HttpError {
    HttpError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the result holds more than {limit} rows: add a LIMIT"),
    )
}

/// Serialises results in the negotiated format, up to `limit` rows.
fn render(
    results: QueryOutcome<'static>,
    accept: &[String],
    limit: usize,
) -> Result<(&'static str, Vec<u8>), HttpError> {
    let evaluation = |e| HttpError::from(evaluation_error(e));
    let io = |e: std::io::Error| HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    match results {
        QueryOutcome::Boolean(value) => {
            let (media, format) = negotiate(accept, &RESULT_TYPES)?;
            let mut out = Vec::new();
            QueryResultsSerializer::from_format(format)
                .serialize_boolean_to_writer(&mut out, value)
                .map_err(io)?;
            Ok((media, out))
        }
        QueryOutcome::Solutions(solutions) => {
            let (media, format) = negotiate(accept, &RESULT_TYPES)?;
            let variables = solutions.variables().to_vec();
            let mut serializer = QueryResultsSerializer::from_format(format)
                .serialize_solutions_to_writer(Vec::new(), variables)
                .map_err(io)?;
            for (row, solution) in solutions.enumerate() {
                if row == limit {
                    return Err(too_many(limit));
                }
                serializer
                    .serialize(&solution.map_err(evaluation)?)
                    .map_err(io)?;
            }
            Ok((media, serializer.finish().map_err(io)?))
        }
        QueryOutcome::Graph(triples) => {
            let (media, format) = negotiate(accept, &GRAPH_TYPES)?;
            let mut serializer =
                with_prefixes(RdfSerializer::from_format(format)).for_writer(Vec::new());
            for (row, triple) in triples.enumerate() {
                if row == limit {
                    return Err(too_many(limit));
                }
                serializer
                    .serialize_triple(&triple.map_err(evaluation)?)
                    .map_err(io)?;
            }
            Ok((media, serializer.finish().map_err(io)?))
        }
    }
}

/// The graph a Graph Store request names: `?graph=IRI` or `?default`;
/// `None`: the whole dataset (GET only).
fn target_graph(raw: Option<String>) -> Result<Option<GraphName>, HttpError> {
    let params = parameters(raw.unwrap_or_default().as_bytes());
    let graph = one(&params, "graph")?;
    let default = params.iter().any(|(k, _)| k == "default");
    match (graph, default) {
        (Some(_), true) => Err(HttpError::bad_request(
            "give ?graph=IRI or ?default, not both",
        )),
        (Some(iri), false) => NamedNode::new(iri.as_str())
            .map(|n| Some(n.into()))
            .map_err(|e| HttpError::bad_request(format!("graph {iri:?}: {e}")).field("graph")),
        (None, true) => Ok(Some(GraphName::DefaultGraph)),
        (None, false) => Ok(None),
    }
}

async fn store_get(
    State(engine): State<Arc<Engine>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let graph = target_graph(raw)?;
    let accept = accept_list(&headers);
    let limit = engine.options.max_result_rows;
    // A graph as triples; the whole dataset in a syntax that has graphs.
    let offered = match graph {
        Some(_) => &GRAPH_TYPES[..4],
        None => &GRAPH_TYPES[4..],
    };
    let (media, format) = negotiate(&accept, offered)?;
    let body = blocking(move || {
        if let Some(named @ GraphName::NamedNode(_)) = &graph {
            require_graph(&engine.store, named)?;
        }
        let name = graph.as_ref().map(GraphName::as_ref);
        let quads = engine.store.quads_matching(None, None, None, name);
        let io =
            |e: std::io::Error| HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
        let mut serializer =
            with_prefixes(RdfSerializer::from_format(format)).for_writer(Vec::new());
        for (row, quad) in quads.enumerate() {
            if row == limit {
                return Err(too_many(limit));
            }
            let quad = quad?;
            match graph {
                Some(_) => serializer.serialize_triple(quad.as_ref()),
                None => serializer.serialize_quad(quad.as_ref()),
            }
            .map_err(io)?;
        }
        serializer.finish().map_err(io)
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, media)], body).into_response())
}

/// The triples of a request body into `graph`, all of them or an error
/// that names the line and column.
fn parse_body(headers: &HeaderMap, body: &[u8], graph: &GraphName) -> Result<Vec<Quad>, HttpError> {
    let media = content_type(headers);
    let format = RdfFormat::from_media_type(&media).ok_or_else(|| {
        HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("content type {media:?} is not an RDF syntax this store reads (text/turtle, application/n-triples, application/rdf+xml, application/ld+json, …)"),
        )
    })?;
    let mut quads = Vec::new();
    for quad in RdfParser::from_format(format).for_slice(body) {
        let quad = quad.map_err(|e| {
            HttpError::bad_request(match syntax_error_parts(&e) {
                (Some((line, column)), message) => {
                    format!("request body:{line}:{column}: {message}")
                }
                (None, message) => format!("request body: {message}"),
            })
        })?;
        if quad.graph_name != GraphName::DefaultGraph {
            return Err(HttpError::bad_request(
                "the body holds a named graph: send triples, the graph is the request's",
            ));
        }
        quads.push(Quad::new(
            quad.subject,
            quad.predicate,
            quad.object,
            graph.clone(),
        ));
    }
    Ok(quads)
}

/// The graph a write names, after checking that writes are allowed.
fn write_target(
    engine: &Engine,
    headers: &HeaderMap,
    raw: Option<String>,
) -> Result<GraphName, HttpError> {
    check_write(engine, headers)?;
    target_graph(raw)?.ok_or_else(|| {
        HttpError::bad_request("name the graph: ?graph=IRI or ?default").field("graph")
    })
}

/// Whether the store holds a quad in `graph`.
fn holds_graph(store: &Store, graph: &GraphName) -> Result<bool, HttpError> {
    let first = store
        .quads_matching(None, None, None, Some(graph.as_ref()))
        .next();
    Ok(first.transpose()?.is_some())
}

/// A 404 when the store holds nothing in `graph`.
fn require_graph(store: &Store, graph: &GraphName) -> Result<(), HttpError> {
    match holds_graph(store, graph)? {
        true => Ok(()),
        false => Err(HttpError::new(
            StatusCode::NOT_FOUND,
            format!("the store has no graph {graph}"),
        )),
    }
}

async fn store_put(
    State(engine): State<Arc<Engine>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, HttpError> {
    let graph = write_target(&engine, &headers, raw)?;
    let quads = parse_body(&headers, &body, &graph)?;
    blocking(move || {
        let existed = holds_graph(&engine.store, &graph)?;
        engine.store.rewrite_graph(graph.as_ref(), None, &quads)?;
        engine.store.flush()?;
        Ok(match existed {
            true => StatusCode::NO_CONTENT,
            false => StatusCode::CREATED,
        }
        .into_response())
    })
    .await
}

async fn store_post(
    State(engine): State<Arc<Engine>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, HttpError> {
    let graph = write_target(&engine, &headers, raw)?;
    let quads = parse_body(&headers, &body, &graph)?;
    blocking(move || {
        engine.store.insert_quads(quads)?;
        engine.store.flush()?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

async fn store_delete(
    State(engine): State<Arc<Engine>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let graph = write_target(&engine, &headers, raw)?;
    blocking(move || {
        require_graph(&engine.store, &graph)?;
        engine.store.clear_graph(graph.as_ref())?;
        engine.store.flush()?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}
