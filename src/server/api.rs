//! The JSON API: questions, entities, scores, explanations and derivations
//! over HTTP, each a call to the library function the CLI uses. Errors are
//! JSON with a message and the offending field.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use oxigraph::model::{NamedOrBlankNode, Term};
use serde::{Deserialize, Serialize};

use super::{blocking, Classifier, Engine, HttpError, LoadedClassifier};
use crate::explain::fusion::{explain_fused, explain_graph_classifier};
use crate::explain::{render, ExplanationFormat};
use crate::fusion::pipeline::{
    predict_targets, predict_with_graph_classifier, write_back, WriteScope,
};
use crate::graph::{display_label, resolve_entity};
use crate::store::terms::parse_triple;
use crate::store::{Store, StoreStats};
use crate::text::SpanInput;

pub fn routes() -> Router<Arc<Engine>> {
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/stats", get(stats))
        .route("/api/prefixes", get(prefixes))
        .route("/api/models", get(models))
        .route("/api/ask", post(ask))
        .route("/api/entity", get(entity))
        .route("/api/explain", get(explain))
        .route("/api/why", get(why))
        .route("/api/predict", post(predict))
        .route("/api/embed", post(embed))
}

/// The prefixes every query has predeclared, by name.
async fn prefixes() -> Json<std::collections::BTreeMap<&'static str, &'static str>> {
    Json(crate::store::terms::PREFIXES.iter().copied().collect())
}

async fn stats(State(engine): State<Arc<Engine>>) -> Result<Response, HttpError> {
    blocking(move || Ok(Json(StoreStats::compute(&engine.store)?.to_json()).into_response())).await
}

#[derive(Serialize)]
struct ModelInfo {
    name: String,
    kind: &'static str,
    id: String,
    /// The metrics the model folder keeps (`metrics.json`), if any.
    metrics: Option<serde_json::Value>,
}

fn metrics_of(dir: &std::path::Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("metrics.json")).ok()?;
    serde_json::from_str(&text).ok()
}

async fn models(State(engine): State<Arc<Engine>>) -> Json<Vec<ModelInfo>> {
    let mut out: Vec<ModelInfo> = engine
        .classifiers
        .iter()
        .map(|c| ModelInfo {
            name: c.name.clone(),
            kind: match c.model {
                Classifier::Fused(_) => "fused-classifier",
                Classifier::Graph { .. } => "graph-classifier",
            },
            id: c.id.clone(),
            metrics: metrics_of(&c.dir),
        })
        .collect();
    if let Some(qa) = &engine.answerer {
        out.push(ModelInfo {
            name: qa.name.clone(),
            kind: "question-answerer",
            id: qa.id.clone(),
            metrics: metrics_of(&qa.dir),
        });
    }
    Json(out)
}

#[derive(Deserialize)]
struct AskRequest {
    question: String,
    /// Supporting paths per answer.
    #[serde(default = "default_paths")]
    paths: usize,
}

fn default_paths() -> usize {
    3
}

async fn ask(
    State(engine): State<Arc<Engine>>,
    request: Result<Json<AskRequest>, JsonRejection>,
) -> Result<Response, HttpError> {
    let Json(request) = request?;
    if request.question.trim().is_empty() {
        return Err(HttpError::bad_request("the question is empty").field("question"));
    }
    blocking(move || {
        let qa = engine.answerer.as_ref().ok_or_else(|| {
            HttpError::new(
                StatusCode::NOT_FOUND,
                "no question answerer is loaded: start the service with --qa-model DIR",
            )
        })?;
        let set = qa
            .model
            .answer(&engine.store, &qa.linker, &request.question, request.paths)
            .map_err(|e| HttpError::from(e).field("question"))?;
        Ok(Json(set).into_response())
    })
    .await
}

#[derive(Deserialize)]
struct EntityRequest {
    iri: String,
}

#[derive(Serialize)]
struct Neighbour {
    predicate: String,
    /// The other end, in N-Triples syntax, and its label.
    node: String,
    label: String,
    /// True when the edge points from the entity.
    outgoing: bool,
}

#[derive(Serialize)]
struct ModelScore {
    model: String,
    predicted: String,
    score: f64,
}

/// Neighbours listed per entity.
const NEIGHBOURS: usize = 100;

async fn entity(
    State(engine): State<Arc<Engine>>,
    Query(request): Query<EntityRequest>,
) -> Result<Response, HttpError> {
    blocking(move || {
        let store = &engine.store;
        let entity = resolve_entity(store, &request.iri).map_err(|e| HttpError::from(e).field("iri"))?;
        let rdf_type = oxigraph::model::vocab::rdf::TYPE;
        let mut classes = Vec::new();
        let mut neighbours = Vec::new();
        let mut attributes = Vec::new();
        for quad in store.quads_matching(Some(entity.as_ref()), None, None, None) {
            let quad = quad?;
            let node = match quad.object {
                Term::Literal(l) => {
                    attributes.push(serde_json::json!({
                        "predicate": quad.predicate.as_str(), "value": l.value(), "datatype": l.datatype().as_str(),
                    }));
                    continue;
                }
                object if quad.predicate == rdf_type => {
                    classes.push(object.to_string());
                    continue;
                }
                Term::NamedNode(n) => NamedOrBlankNode::from(n),
                Term::BlankNode(b) => NamedOrBlankNode::from(b),
            };
            if neighbours.len() < NEIGHBOURS {
                neighbours.push(Neighbour {
                    predicate: quad.predicate.as_str().to_owned(),
                    label: display_label(store, &node)?,
                    node: node.to_string(),
                    outgoing: true,
                });
            }
        }
        let object = Term::from(entity.clone());
        for quad in store.quads_matching(None, None, Some(object.as_ref()), None).take(NEIGHBOURS) {
            let quad = quad?;
            neighbours.push(Neighbour {
                predicate: quad.predicate.as_str().to_owned(),
                label: display_label(store, &quad.subject)?,
                node: quad.subject.to_string(),
                outgoing: false,
            });
        }
        classes.sort();
        classes.dedup();
        let mut scores = Vec::new();
        for c in &engine.classifiers {
            if let Some(score) = score_of(c, store, &entity)? {
                scores.push(score);
            }
        }
        Ok(Json(serde_json::json!({
            "entity": entity.to_string(),
            "label": display_label(store, &entity)?,
            "classes": classes,
            "attributes": attributes,
            "neighbours": neighbours,
            "scores": scores,
        }))
        .into_response())
    })
    .await
}

/// The classifier's prediction for `entity`, if it scores that entity.
fn score_of(
    c: &LoadedClassifier,
    store: &Store,
    entity: &NamedOrBlankNode,
) -> Result<Option<ModelScore>, HttpError> {
    let prediction = match &c.model {
        Classifier::Fused(model) => {
            let mut model = model.lock().expect("a model lock is never poisoned");
            let Ok(target) = model.target_of(entity) else {
                return Ok(None);
            };
            predict_targets(&mut model, &[target])?
        }
        Classifier::Graph { model, graph } => {
            if graph.node_id(entity).is_none() {
                return Ok(None);
            }
            let one = Some(std::slice::from_ref(entity));
            predict_with_graph_classifier(model, graph, store, one)?
        }
    }
    .remove(0);
    Ok(Some(ModelScore {
        model: c.name.clone(),
        predicted: prediction.predicted,
        score: prediction.score,
    }))
}

#[derive(Deserialize)]
struct PredictRequest {
    model: String,
    /// IRIs, prefixed names or labels; none: every entity the model scores.
    #[serde(default)]
    entities: Vec<String>,
    /// Store the scores as `kgfuse predict --write-back` does.
    #[serde(default)]
    write_back: bool,
}

async fn predict(
    State(engine): State<Arc<Engine>>,
    headers: axum::http::HeaderMap,
    request: Result<Json<PredictRequest>, JsonRejection>,
) -> Result<Response, HttpError> {
    let Json(request) = request?;
    if request.write_back {
        super::check_write(&engine, &headers).map_err(|e| e.field("write_back"))?;
    }
    blocking(move || {
        let store = &engine.store;
        let c = engine.classifier(&request.model)?;
        let chosen = request
            .entities
            .iter()
            .map(|e| resolve_entity(store, e))
            .collect::<crate::Result<Vec<_>>>()
            .map_err(|e| HttpError::from(e).field("entities"))?;
        // Only the chosen entities are scored; none chosen: all of them.
        let predictions = match &c.model {
            Classifier::Fused(model) => {
                let mut model = model.lock().expect("never poisoned");
                let targets = match chosen.is_empty() {
                    true => (0..model.inputs.targets.len()).collect(),
                    false => chosen
                        .iter()
                        .map(|e| model.target_of(e))
                        .collect::<crate::Result<Vec<_>>>()
                        .map_err(|e| HttpError::from(e).field("entities"))?,
                };
                predict_targets(&mut model, &targets)?
            }
            Classifier::Graph { model, graph } => {
                let chosen = (!chosen.is_empty()).then_some(chosen.as_slice());
                predict_with_graph_classifier(model, graph, store, chosen)
                    .map_err(|e| HttpError::from(e).field("entities"))?
            }
        };
        let graph = match request.write_back {
            true => {
                let scope = match chosen.is_empty() {
                    true => WriteScope::WholeGraph,
                    false => WriteScope::ScoredEntities,
                };
                let graph = write_back(store, &c.id, &predictions, scope)?;
                store.flush()?;
                Some(graph.as_str().to_owned())
            }
            false => None,
        };
        Ok(
            Json(serde_json::json!({ "predictions": predictions, "written_to": graph }))
                .into_response(),
        )
    })
    .await
}

#[derive(Deserialize)]
struct EmbedRequest {
    texts: Vec<String>,
    /// Per text, character spans `[start, end)` to embed as well.
    #[serde(default)]
    spans: Vec<Vec<(usize, usize)>>,
}

async fn embed(
    State(engine): State<Arc<Engine>>,
    request: Result<Json<EmbedRequest>, JsonRejection>,
) -> Result<Response, HttpError> {
    let Json(request) = request?;
    if request.texts.is_empty() {
        return Err(HttpError::bad_request("no texts given").field("texts"));
    }
    if !request.spans.is_empty() && request.spans.len() != request.texts.len() {
        return Err(HttpError::bad_request(format!(
            "{} span lists for {} texts: give one list per text, or none",
            request.spans.len(),
            request.texts.len()
        ))
        .field("spans"));
    }
    blocking(move || {
        let inputs: Vec<SpanInput> = request
            .texts
            .iter()
            .enumerate()
            .map(|(i, text)| SpanInput {
                text: text.clone(),
                spans: request.spans.get(i).cloned().unwrap_or_default(),
            })
            .collect();
        let bert = engine.bert()?;
        let embedded = bert.embed(&inputs, 32, |_| {})?;
        Ok(Json(serde_json::json!({
            "model": bert.name(),
            "dimensions": bert.hidden_size(),
            "truncated": embedded.truncated,
            "issues": embedded.issues,
            "embeddings": embedded.to_json(&inputs),
        }))
        .into_response())
    })
    .await
}

#[derive(Deserialize)]
struct ExplainRequest {
    entity: String,
    model: String,
    #[serde(default = "default_format")]
    format: String,
    #[serde(default = "default_top")]
    top: usize,
}

fn default_format() -> String {
    "json".into()
}

fn default_top() -> usize {
    5
}

async fn explain(
    State(engine): State<Arc<Engine>>,
    Query(request): Query<ExplainRequest>,
) -> Result<Response, HttpError> {
    let format = ExplanationFormat::parse(&request.format)
        .map_err(|e| HttpError::from(e).field("format"))?;
    blocking(move || {
        let store = &engine.store;
        let c = engine.classifier(&request.model)?;
        let entity = resolve_entity(store, &request.entity)
            .map_err(|e| HttpError::from(e).field("entity"))?;
        let mut derivations = engine.derivations.lock().expect("never poisoned");
        let explanation = match &c.model {
            Classifier::Fused(model) => {
                let mut model = model.lock().expect("never poisoned");
                explain_fused(
                    &mut model,
                    store,
                    &entity,
                    &c.id,
                    request.top,
                    &mut derivations,
                )
            }
            Classifier::Graph { model, graph } => explain_graph_classifier(
                model,
                graph,
                store,
                &entity,
                &c.id,
                request.top,
                &mut derivations,
            ),
        }
        .map_err(|e| HttpError::from(e).field("entity"))?;
        Ok((
            [(header::CONTENT_TYPE, format.media_type())],
            render(&explanation, format)?,
        )
            .into_response())
    })
    .await
}

#[derive(Deserialize)]
struct WhyRequest {
    /// One triple: `S P O` with IRIs in angle brackets or prefixed, as
    /// `kgfuse reason --why` takes it (a final ` .` is allowed).
    triple: String,
}

async fn why(
    State(engine): State<Arc<Engine>>,
    Query(request): Query<WhyRequest>,
) -> Result<Response, HttpError> {
    // N-Triples' final dot is welcome, as are prefixed names.
    let text = request.triple.trim();
    let triple = parse_triple(text.strip_suffix(" .").unwrap_or(text))
        .map_err(|e| HttpError::from(e).field("triple"))?;
    blocking(move || {
        let mut derivations = engine.derivations.lock().expect("never poisoned");
        match derivations.derivation(&engine.store, &triple)? {
            Some(tree) => Ok(Json(tree).into_response()),
            None => Err(HttpError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "the reasoner does not derive {triple}: it is asserted only, or not entailed"
                ),
            )
            .field("triple")),
        }
    })
    .await
}

async fn openapi() -> Json<serde_json::Value> {
    Json(openapi_document())
}

/// The API as OpenAPI 3.
pub fn openapi_document() -> serde_json::Value {
    let error = serde_json::json!({ "description": "an error: {\"error\": message, \"field\": the offending field or null}" });
    let query = |name: &str, description: &str, required: bool| serde_json::json!({ "name": name, "in": "query", "required": required, "description": description, "schema": { "type": "string" } });
    serde_json::json!({
        "openapi": "3.0.3",
        "info": { "title": "kgfuse", "version": env!("CARGO_PKG_VERSION"),
                  "description": "A knowledge graph's store, questions, scores and explanations over HTTP. SPARQL 1.1 Protocol at /sparql, Graph Store HTTP Protocol at /store." },
        "paths": {
            "/healthz": { "get": { "summary": "Liveness, quads and loaded models", "responses": { "200": { "description": "ok" } } } },
            "/api/prefixes": { "get": { "summary": "The prefixes every query has predeclared", "responses": { "200": { "description": "name to namespace" } } } },
            "/api/stats": { "get": { "summary": "Store statistics (quads, graphs, classes, predicates)", "responses": { "200": { "description": "statistics" } } } },
            "/api/models": { "get": { "summary": "The loaded models with their kind, id and metrics", "responses": { "200": { "description": "models" } } } },
            "/api/ask": { "post": {
                "summary": "Answer a question: answers, scores, the supporting paths and the SPARQL of each",
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["question"],
                    "properties": { "question": { "type": "string" }, "paths": { "type": "integer", "default": 3 } } } } } },
                "responses": { "200": { "description": "the answer set" }, "400": error.clone(), "404": error.clone() } } },
            "/api/entity": { "get": {
                "summary": "An entity: label, classes, attributes, neighbours, each loaded classifier's score",
                "parameters": [query("iri", "IRI, prefix:local or exact label", true)],
                "responses": { "200": { "description": "the entity" }, "400": error.clone() } } },
            "/api/explain": { "get": {
                "summary": "Why a classifier scored an entity: evidence paths with their check queries, spans, derivations",
                "parameters": [query("entity", "IRI, prefix:local or exact label", true), query("model", "a loaded model's name or id", true),
                               query("format", "json (default), html, turtle (PROV-O) or dot", false), query("top", "paths and spans shown (default 5)", false)],
                "responses": { "200": { "description": "the explanation" }, "400": error.clone(), "404": error.clone() } } },
            "/api/predict": { "post": {
                "summary": "Score entities with a loaded classifier; optionally write the scores back (needs --allow-update)",
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["model"],
                    "properties": { "model": { "type": "string" }, "entities": { "type": "array", "items": { "type": "string" } },
                                    "write_back": { "type": "boolean", "default": false } } } } } },
                "responses": { "200": { "description": "predictions and the graph written to" }, "400": error.clone(), "401": error.clone(), "403": error.clone(), "404": error.clone() } } },
            "/api/embed": { "post": {
                "summary": "BERT sentence embeddings (L2-normalised mean pooling), and span embeddings",
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["texts"],
                    "properties": { "texts": { "type": "array", "items": { "type": "string" } },
                                    "spans": { "type": "array", "description": "per text, [start, end) character spans",
                                               "items": { "type": "array", "items": { "type": "array", "items": { "type": "integer" } } } } } } } } },
                "responses": { "200": { "description": "the embeddings" }, "400": error.clone() } } },
            "/api/why": { "get": {
                "summary": "The reasoner's derivation tree of an inferred triple",
                "parameters": [query("triple", "one triple in N-Triples syntax", true)],
                "responses": { "200": { "description": "the derivation" }, "400": error.clone(), "404": error } } },
        }
    })
}
