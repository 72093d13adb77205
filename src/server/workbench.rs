//! The browser workbench at `/`: our page, style and script, and the
//! libraries they use (CodeMirror 5 with its SPARQL mode, d3 3 for the
//! force layout; vendored from Debian's libjs-codemirror and libjs-d3, see
//! `assets/vendor/`), all compiled into the binary: nothing is fetched at
//! run time, and only these names are served.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

use super::Engine;

/// `(name, media type, content)` of every asset.
const ASSETS: [(&str, &str, &[u8]); 7] = [
    (
        "workbench.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/workbench/workbench.js"),
    ),
    (
        "workbench.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/workbench/workbench.css"),
    ),
    (
        "codemirror.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/codemirror.js"),
    ),
    (
        "codemirror.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/vendor/codemirror.css"),
    ),
    (
        "codemirror-sparql.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/codemirror-sparql.js"),
    ),
    (
        "d3.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/d3.min.js"),
    ),
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../../assets/workbench/index.html"),
    ),
];

pub fn routes() -> Router<Arc<Engine>> {
    Router::new()
        .route("/", get(|| async { asset("index.html") }))
        .route(
            "/assets/{name}",
            get(|Path(name): Path<String>| async move { asset(&name) }),
        )
}

/// An embedded asset by its exact name; anything else (`../`, other
/// names) is a 404, so no path leaves the asset table.
fn asset(name: &str) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, media, body)) => ([(header::CONTENT_TYPE, *media)], *body).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no asset {name:?}")).into_response(),
    }
}
