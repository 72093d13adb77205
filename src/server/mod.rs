//! `kgfuse serve`: the store and the loaded models behind HTTP, in one
//! long-running process.
//!
//! `sparql` speaks the SPARQL 1.1 Protocol (`/sparql`) and the Graph Store
//! HTTP Protocol (`/store`); `api` is the JSON API (`/api/…`, described by
//! `/api/openapi.json`); `workbench` the browser pages at `/`. All call the
//! same library functions as the CLI.
//! The HTTP stack is axum on tokio: the most used maintained Rust stack
//! (hyper underneath). Store and model work is blocking, so each request
//! runs it on tokio's blocking pool.

pub mod api;
pub mod sparql;
pub mod workbench;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::cors::CorsLayer;

use crate::error::Error;
use crate::explain::Derivations;
use crate::fusion::FusionModel;
use crate::qa::{EntityLinker, QaModel};
use crate::reason::ReasonOptions;
use crate::store::Store;
use crate::tasks::graph_classifier::{AlignedGraph, GraphClassifier};
use crate::text::BertEncoder;

/// How the service runs and what it refuses.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub bind: SocketAddr,
    /// SPARQL updates and Graph Store writes are refused without it.
    pub allow_update: bool,
    /// When set, writes need `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// A query running longer is stopped (408).
    pub query_timeout: Duration,
    /// The one origin browsers may call from; none: no CORS headers.
    pub cors: Option<String>,
    /// Largest request body (413 above).
    pub max_body_bytes: usize,
    /// Most solutions or triples a query may return (413 above).
    pub max_result_rows: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 7878)),
            allow_update: false,
            token: None,
            query_timeout: Duration::from_secs(30),
            cors: None,
            max_body_bytes: 64 << 20,
            max_result_rows: 1_000_000,
        }
    }
}

/// A classifier loaded from its model folder.
pub struct LoadedClassifier {
    /// The name requests use (the folder's name).
    pub name: String,
    pub dir: PathBuf,
    /// The model id (`fusion::model_id`).
    pub id: String,
    pub model: Classifier,
}

/// The two kinds of classifier, each bound to the store as it was at start
/// (a fused model to its inputs, an R-GCN to the aligned graph). A fused
/// model changes state while it explains, so it is held behind a lock.
pub enum Classifier {
    Fused(Mutex<FusionModel>),
    Graph {
        model: GraphClassifier,
        graph: AlignedGraph,
    },
}

/// A question answerer with the linker over the store's labels.
pub struct LoadedAnswerer {
    pub name: String,
    pub dir: PathBuf,
    pub id: String,
    pub model: QaModel,
    pub linker: EntityLinker,
}

/// Opens the BERT encoder for `/api/embed` when it is first needed.
pub type BertLoader = Box<dyn Fn() -> crate::error::Result<BertEncoder> + Send + Sync>;

/// What the service holds for its whole life.
pub struct Engine {
    pub store: Store,
    pub classifiers: Vec<LoadedClassifier>,
    pub answerer: Option<LoadedAnswerer>,
    /// Derivations of inferred steps: reasoned once, when first needed.
    pub derivations: Mutex<Derivations<'static>>,
    bert: OnceLock<BertEncoder>,
    bert_loader: BertLoader,
    pub options: ServerOptions,
}

impl Engine {
    pub fn new(
        store: Store,
        classifiers: Vec<LoadedClassifier>,
        answerer: Option<LoadedAnswerer>,
        reasoning: ReasonOptions,
        bert_loader: BertLoader,
        options: ServerOptions,
    ) -> Self {
        Self {
            store,
            classifiers,
            answerer,
            derivations: Mutex::new(Derivations::on_demand(reasoning)),
            bert: OnceLock::new(),
            bert_loader,
            options,
        }
    }

    /// The BERT encoder: the question answerer's when one is loaded, else
    /// one opened on first use.
    pub fn bert(&self) -> crate::error::Result<&BertEncoder> {
        if let Some(qa) = &self.answerer {
            return Ok(&qa.model.bert);
        }
        if let Some(bert) = self.bert.get() {
            return Ok(bert);
        }
        let bert = (self.bert_loader)()?;
        Ok(self.bert.get_or_init(|| bert))
    }

    fn classifier(&self, name: &str) -> Result<&LoadedClassifier, HttpError> {
        self.classifiers
            .iter()
            .find(|c| c.name == name || c.id == name)
            .ok_or_else(|| {
                let names: Vec<&str> = self.classifiers.iter().map(|c| c.name.as_str()).collect();
                HttpError::new(
                    StatusCode::NOT_FOUND,
                    format!(
                        "no model {name:?} is loaded; loaded: {}",
                        if names.is_empty() {
                            "none".to_owned()
                        } else {
                            names.join(", ")
                        }
                    ),
                )
                .field("model")
            })
    }
}

/// An error as the client sees it: a status, a message, and the request
/// field it concerns.
#[derive(Debug)]
pub struct HttpError {
    pub status: StatusCode,
    pub message: String,
    pub field: Option<&'static str>,
}

impl HttpError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            field: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn field(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }
}

impl From<axum::extract::rejection::JsonRejection> for HttpError {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        Self::bad_request(e.body_text())
    }
}

impl From<Error> for HttpError {
    fn from(e: Error) -> Self {
        let status = match &e {
            Error::SparqlSyntax(_)
            | Error::Syntax { .. }
            | Error::InvalidTerm(_)
            | Error::Setting { .. }
            | Error::Config(_)
            | Error::Data(_)
            | Error::Refused(_)
            | Error::UnsupportedOutput(_)
            | Error::UnknownFormatName { .. } => StatusCode::BAD_REQUEST,
            Error::Cancelled => StatusCode::REQUEST_TIMEOUT,
            Error::Endpoint { .. } => StatusCode::BAD_GATEWAY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.to_string())
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message, "field": self.field });
        (self.status, axum::Json(body)).into_response()
    }
}

/// Runs blocking store or model work off the async threads.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, HttpError> + Send + 'static,
) -> Result<T, HttpError> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        Err(HttpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the request's work failed: {e}"),
        ))
    })
}

/// Refuses writes unless the service allows them and, with a token, the
/// request carries it.
pub fn check_write(engine: &Engine, headers: &HeaderMap) -> Result<(), HttpError> {
    if !engine.options.allow_update {
        return Err(HttpError::new(
            StatusCode::FORBIDDEN,
            "this service is read-only: start it with --allow-update to take updates and Graph Store writes",
        ));
    }
    if let Some(token) = &engine.options.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.as_str()) {
            return Err(HttpError::new(
                StatusCode::UNAUTHORIZED,
                "writes need the header Authorization: Bearer <token>",
            ));
        }
    }
    Ok(())
}

/// The service's routes over `engine`.
pub fn router(engine: Arc<Engine>) -> Router {
    let limit = engine.options.max_body_bytes;
    let cors = engine.options.cors.clone();
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .merge(sparql::routes())
        .merge(api::routes())
        .merge(workbench::routes())
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(log_request));
    if let Some(origin) = cors {
        let origin = HeaderValue::from_str(&origin).unwrap_or(HeaderValue::from_static("null"));
        router = router.layer(
            CorsLayer::new()
                .allow_origin(origin)
                .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
                .allow_headers([header::CONTENT_TYPE, header::ACCEPT, header::AUTHORIZATION]),
        );
    }
    router.with_state(engine)
}

async fn healthz(State(engine): State<Arc<Engine>>) -> Result<Response, HttpError> {
    blocking(move || {
        Ok(axum::Json(serde_json::json!({
            "status": "ok",
            "quads": engine.store.len()?,
            "models": engine.classifiers.len() + usize::from(engine.answerer.is_some()),
        }))
        .into_response())
    })
    .await
}

/// One JSON line per request on standard error.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    eprintln!(
        "{}",
        serde_json::json!({
            "method": method.as_str(),
            "path": path,
            "status": response.status().as_u16(),
            "ms": (started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0,
        })
    );
    response
}

/// Serves until `shutdown` completes, then finishes the requests in flight.
/// `bound` is told the address (useful with port 0).
pub async fn serve(
    engine: Engine,
    shutdown: impl Future<Output = ()> + Send + 'static,
    bound: impl FnOnce(SocketAddr),
) -> crate::error::Result<()> {
    let bind = engine.options.bind;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| Error::io(bind.to_string(), e))?;
    let address = listener
        .local_addr()
        .map_err(|e| Error::io(bind.to_string(), e))?;
    bound(address);
    axum::serve(listener, router(Arc::new(engine)))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| Error::io(address.to_string(), e))
}
