//! `kgfuse serve` as clients use it: the SPARQL 1.1 Protocol, the Graph
//! Store Protocol, the JSON API, and every refusal, over real HTTP on a
//! loopback port; and SPARQLWrapper and rdflib from PyPI against it.

mod common;

use common::{browser_check, http, Server, Workspace};

const DATA: &str = "@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:a ex:knows ex:b ; rdfs:label \"Ann\" .
ex:b ex:knows ex:c ; rdfs:label \"Bob\" .
ex:c rdfs:label \"Cy\" .
";

fn loaded() -> Workspace {
    let ws = Workspace::new();
    let data = ws.write("data.ttl", DATA);
    ws.kgfuse().arg("load").arg(data).assert().success();
    let named = ws.write(
        "named.ttl",
        "<http://example.org/x> <http://example.org/in> <http://example.org/g1> .",
    );
    ws.kgfuse()
        .args(["load", "--graph", "http://example.org/g1"])
        .arg(named)
        .assert()
        .success();
    ws
}

fn body(response: ureq::http::Response<ureq::Body>) -> (u16, String, String) {
    let status = response.status().as_u16();
    let media = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut response = response;
    let text = response.body_mut().read_to_string().unwrap();
    (status, media, text)
}

/// A query sent by GET to the server's `/sparql`, with `accept` if given.
fn get_query(server: &Server, query: &str, accept: Option<&str>) -> (u16, String, String) {
    let mut request = http().get(&server.url("/sparql")).query("query", query);
    if let Some(accept) = accept {
        request = request.header("Accept", accept);
    }
    body(request.call().unwrap())
}

#[test]
fn sparql_protocol_queries_by_get_and_post_with_content_negotiation() {
    let ws = loaded();
    let server = Server::start(&ws, &[], &[]);
    let agent = http();
    let select = "SELECT ?s WHERE { ?s <http://example.org/knows> ?o } ORDER BY ?s";
    // GET, SPARQL JSON by default.
    let (status, media, text) = get_query(&server, select, None);
    assert_eq!(status, 200, "{text}");
    assert_eq!(media, "application/sparql-results+json");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        json["results"]["bindings"].as_array().unwrap().len(),
        2,
        "{json}"
    );
    // POST as a form, CSV asked for.
    let (status, media, text) = body(
        agent
            .post(&server.url("/sparql"))
            .header("Accept", "text/csv")
            .send_form([("query", select)])
            .unwrap(),
    );
    assert_eq!((status, media.as_str()), (200, "text/csv"), "{text}");
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["s", "http://example.org/a", "http://example.org/b"]
    );
    // POST directly, XML asked for; an ASK.
    let (status, media, text) = body(
        agent
            .post(&server.url("/sparql"))
            .header("Content-Type", "application/sparql-query")
            .header("Accept", "application/sparql-results+xml")
            .send(
                "ASK { <http://example.org/a> <http://example.org/knows> <http://example.org/b> }",
            )
            .unwrap(),
    );
    assert_eq!(
        (status, media.as_str()),
        (200, "application/sparql-results+xml")
    );
    assert!(text.contains("<boolean>true</boolean>"), "{text}");
    // A CONSTRUCT as N-Triples.
    let (status, media, text) = body(
        agent
            .get(&server.url("/sparql"))
            .header("Accept", "application/n-triples")
            .query(
                "query",
                "CONSTRUCT { ?s ?p ?o } WHERE { ?s <http://example.org/knows> ?o . ?s ?p ?o }",
            )
            .call()
            .unwrap(),
    );
    assert_eq!((status, media.as_str()), (200, "application/n-triples"));
    assert_eq!(text.lines().count(), 2, "{text}");
    // The dataset a request names: only the named graph as the default graph.
    let (_, _, text) = body(
        agent
            .get(&server.url("/sparql"))
            .header("Accept", "text/csv")
            .query("query", "SELECT ?s WHERE { ?s ?p ?o }")
            .query("default-graph-uri", "http://example.org/g1")
            .call()
            .unwrap(),
    );
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["s", "http://example.org/x"]
    );
    // Bad SPARQL: 400 with line:column.
    let (status, _, text) = get_query(&server, "SELECT ?s WHERE {\n  ?s ?p }", None);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("2:"), "a position: {text}");
    // Nothing acceptable: 406.
    let (status, _, _) = get_query(&server, select, Some("image/png"));
    assert_eq!(status, 406);
    // One JSON line per request on stderr.
    assert!(
        server.logged(&["\"path\":\"/sparql\"", "\"status\":406"]),
        "{:?}",
        server.log.lock().unwrap()
    );
}

#[test]
fn refusals_have_their_status_and_a_message() {
    let ws = loaded();
    let agent = http();
    let update =
        "INSERT DATA { <http://example.org/n> <http://example.org/p> <http://example.org/o> }";
    // Read-only by default: 403.
    let server = Server::start(&ws, &[], &[]);
    let (status, _, text) = body(
        agent
            .post(&server.url("/sparql"))
            .header("Content-Type", "application/sparql-update")
            .send(update)
            .unwrap(),
    );
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("--allow-update"), "{text}");
    // SERVICE: 400, no request leaves the server.
    let (status, _, text) = body(
        agent
            .get(&server.url("/sparql"))
            .query(
                "query",
                "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }",
            )
            .call()
            .unwrap(),
    );
    assert_eq!(status, 400, "{text}");
    assert!(
        text.contains("SERVICE") && text.contains("refused"),
        "{text}"
    );
    // CORS is off: no header for a browser's origin.
    let response = agent
        .get(&server.url("/healthz"))
        .header("Origin", "http://evil.example")
        .call()
        .unwrap();
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    drop(server);

    // Writes allowed with a token; limits tight.
    let server = Server::start(
        &ws,
        &[
            "--allow-update",
            "--max-body-mb",
            "1",
            "--max-results",
            "3",
            "--query-timeout",
            "1",
            "--cors",
            "http://localhost:3000",
        ],
        &[("KGFUSE_TOKEN", "s3cret")],
    );
    let (status, _, text) = body(
        agent
            .post(&server.url("/sparql"))
            .header("Content-Type", "application/sparql-update")
            .send(update)
            .unwrap(),
    );
    assert_eq!(status, 401, "no token: {text}");
    let (status, _, text) = body(
        agent
            .post(&server.url("/sparql"))
            .header("Content-Type", "application/sparql-update")
            .header("Authorization", "Bearer wrong")
            .send(update)
            .unwrap(),
    );
    assert_eq!(status, 401, "a wrong token: {text}");
    let (status, _, text) = body(
        agent
            .post(&server.url("/sparql"))
            .header("Authorization", "Bearer s3cret")
            .send_form([("update", update)])
            .unwrap(),
    );
    assert_eq!(status, 204, "{text}");
    // LOAD <url>: 400, nothing fetched.
    let (status, _, text) = body(
        agent
            .post(&server.url("/sparql"))
            .header("Authorization", "Bearer s3cret")
            .send_form([("update", "LOAD <http://example.org/data.ttl>")])
            .unwrap(),
    );
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("LOAD") && text.contains("refused"), "{text}");
    // A body over the cap: 413. The server answers before it has read the
    // body, so the client may see its connection closed while it still
    // sends; the request log has the status either way.
    let big = "#".repeat(2 << 20);
    let sent = agent
        .post(&server.url("/sparql"))
        .header("Content-Type", "application/sparql-query")
        .send(big.as_str());
    if let Ok(response) = sent {
        assert_eq!(response.status().as_u16(), 413);
    }
    assert!(
        server.logged(&["\"path\":\"/sparql\"", "\"status\":413"]),
        "{:?}",
        server.log.lock().unwrap()
    );
    // A result over the cap: 413 with a hint.
    let (status, _, text) = get_query(&server, "SELECT * WHERE { ?s ?p ?o }", None);
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("LIMIT"), "{text}");
    // A query past its time: 408.
    // Seven quads to the power of eleven: hours of counting.
    let slow = format!(
        "SELECT (COUNT(*) AS ?n) WHERE {{ {} }}",
        (0..11)
            .map(|i| format!("?s{i} ?p{i} ?o{i} ."))
            .collect::<String>()
    );
    let started = std::time::Instant::now();
    let (status, _, text) = get_query(&server, &slow, None);
    assert_eq!(status, 408, "{text}");
    assert!(
        started.elapsed().as_secs() < 10,
        "answered at its deadline: {:?}",
        started.elapsed()
    );
    // CORS for the one origin given.
    let response = agent
        .get(&server.url("/healthz"))
        .header("Origin", "http://localhost:3000")
        .call()
        .unwrap();
    assert_eq!(
        response
            .headers()
            .get("access-control-allow-origin")
            .unwrap(),
        "http://localhost:3000"
    );
    // Graceful stop on SIGTERM.
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}

#[test]
fn graph_store_protocol_writes_all_or_nothing() {
    let ws = loaded();
    let server = Server::start(&ws, &["--allow-update"], &[]);
    let agent = http();
    let graph = server.url("/store?graph=http://example.org/new");
    let (status, _, _) = body(
        agent
            .put(&graph)
            .header("Content-Type", "text/turtle")
            .send("<http://example.org/s> <http://example.org/p> <http://example.org/o1> , <http://example.org/o2> .")
            .unwrap(),
    );
    assert_eq!(status, 201);
    // A broken body: 400 with line:column, and the graph as it was.
    let (status, _, text) = body(
        agent
            .put(&graph)
            .header("Content-Type", "text/turtle")
            .send("<http://example.org/s> <http://example.org/p> <http://example.org/o3> .\n<http://example.org/s> <http://example.org/p> .")
            .unwrap(),
    );
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("request body:2:"), "{text}");
    let (status, media, text) = body(
        agent
            .get(&graph)
            .header("Accept", "application/n-triples")
            .call()
            .unwrap(),
    );
    assert_eq!((status, media.as_str()), (200, "application/n-triples"));
    assert_eq!(text.lines().count(), 2, "unchanged: {text}");
    // POST adds; PUT replaces.
    let (status, _, _) = body(
        agent
            .post(&graph)
            .header("Content-Type", "application/n-triples")
            .send("<http://example.org/s> <http://example.org/p> <http://example.org/o3> .\n")
            .unwrap(),
    );
    assert_eq!(status, 204);
    let count = |agent: &ureq::Agent| {
        let (_, _, text) = body(
            agent
                .get(&graph)
                .header("Accept", "application/n-triples")
                .call()
                .unwrap(),
        );
        text.lines().count()
    };
    assert_eq!(count(&agent), 3);
    // DELETE, then the graph is gone: 404.
    let (status, _, _) = body(agent.delete(&graph).call().unwrap());
    assert_eq!(status, 204);
    let (status, _, _) = body(agent.get(&graph).call().unwrap());
    assert_eq!(status, 404);
    // The default graph is untouched; the whole dataset comes as N-Quads.
    let (status, media, text) = body(agent.get(&server.url("/store")).call().unwrap());
    assert_eq!((status, media.as_str()), (200, "application/n-quads"));
    assert!(
        text.contains("<http://example.org/g1>") && text.contains("\"Ann\""),
        "{text}"
    );
}

#[test]
fn json_api_serves_stats_entities_models_and_explanations() {
    let ws = common::toy_with_rgcn().0;
    let bert = ws.path("bert");
    std::fs::create_dir_all(&bert).unwrap();
    common::tiny_bert(&bert);
    let server = Server::start(
        &ws,
        &["--model", "m", "--bert", bert.to_str().unwrap()],
        &[],
    );
    let agent = http();
    let json = |path: &str| -> (u16, serde_json::Value) {
        let (status, _, text) = body(agent.get(&server.url(path)).call().unwrap());
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    };
    let (status, health) = json("/healthz");
    assert_eq!((status, &health["status"]), (200, &serde_json::json!("ok")));
    assert_eq!(health["models"], 1);
    let (_, stats) = json("/api/stats");
    assert_eq!(stats["quads"], 72, "{stats}");
    let (_, models) = json("/api/models");
    assert_eq!(models[0]["name"], "m");
    assert_eq!(models[0]["kind"], "graph-classifier");
    let (status, entity) = json("/api/entity?iri=http://example.com/p0");
    assert_eq!(status, 200, "{entity}");
    assert_eq!(entity["scores"][0]["model"], "m");
    assert_eq!(entity["scores"][0]["predicted"], "R", "{entity}");
    assert!(
        entity["neighbours"].as_array().unwrap().len() >= 3,
        "{entity}"
    );
    let (status, explanation) = json("/api/explain?entity=http://example.com/p0&model=m");
    assert_eq!(status, 200, "{explanation}");
    assert_eq!(explanation["claim"]["kind"], "prediction");
    assert!(
        !explanation["paths"].as_array().unwrap().is_empty(),
        "{explanation}"
    );
    let (status, html) = json("/api/explain?entity=http://example.com/p0&model=m&format=html");
    assert_eq!(status, 200);
    assert!(html.as_str().unwrap().contains("<svg"), "{html}");
    // Errors name the field.
    let (status, error) = json("/api/explain?entity=http://example.com/p0&model=nope");
    assert_eq!(status, 404);
    assert_eq!(error["field"], "model");
    let (status, error) = json("/api/explain?entity=http://example.com/nobody&model=m");
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["field"], "entity");
    let (status, error) = json("/api/why?triple=not%20a%20triple");
    assert_eq!(status, 400);
    assert_eq!(error["field"], "triple");
    // Scores, and writing them back only when the service allows writes.
    let predict = |body: &str| common::post_json(&server.url("/api/predict"), body);
    let (status, scored) = predict(r#"{"model": "m", "entities": ["http://example.com/p1"]}"#);
    assert_eq!(status, 200, "{scored}");
    assert_eq!(scored["predictions"].as_array().unwrap().len(), 1);
    assert_eq!(scored["predictions"][0]["predicted"], "S", "{scored}");
    let (status, all) = predict(r#"{"model": "m"}"#);
    assert_eq!(status, 200);
    assert_eq!(all["predictions"].as_array().unwrap().len(), 24);
    let (status, refused) = predict(r#"{"model": "m", "write_back": true}"#);
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["field"], "write_back");
    // Embeddings: one normalised vector per text, and one per span.
    let embed = |body: &str| common::post_json(&server.url("/api/embed"), body);
    let (status, embedded) =
        embed(r#"{"texts": ["research and sales", "sales"], "spans": [[[0, 8]], []]}"#);
    assert_eq!(status, 200, "{embedded}");
    let dimensions = embedded["dimensions"].as_u64().unwrap() as usize;
    let first = embedded["embeddings"][0]["embedding"].as_array().unwrap();
    assert_eq!(first.len(), dimensions);
    let norm: f64 = first
        .iter()
        .map(|v| v.as_f64().unwrap().powi(2))
        .sum::<f64>()
        .sqrt();
    assert!((norm - 1.0).abs() < 1e-3, "{norm}");
    assert_eq!(
        embedded["embeddings"][0]["spans"][0]["embedding"]
            .as_array()
            .unwrap()
            .len(),
        dimensions
    );
    let (status, error) = embed(r#"{"texts": ["a", "b"], "spans": [[[0, 1]]]}"#);
    assert_eq!(status, 400);
    assert_eq!(error["field"], "spans");
    let (status, openapi) = json("/api/openapi.json");
    assert_eq!(status, 200);
    assert_eq!(openapi["openapi"], "3.0.3");
    assert!(openapi["paths"]["/api/explain"]["get"].is_object());
}

/// The clients users already have: SPARQLWrapper, and rdflib's
/// SPARQLStore and SPARQLUpdateStore (`.ci/run` installs both from PyPI).
#[test]
fn python_sparql_clients_query_and_update_the_service() {
    let ws = loaded();
    let server = Server::start(&ws, &["--allow-update"], &[("KGFUSE_TOKEN", "s3cret")]);
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/sparql_clients.py");
    let output = std::process::Command::new("python3")
        .arg(script)
        .arg(server.url("/sparql"))
        .arg("s3cret")
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("all clients ok"), "{stdout}");
}

#[test]
fn workbench_pages_work_in_a_real_browser() {
    let ws = common::toy_with_rgcn().0;
    let server = Server::start(&ws, &["--model", "m"], &[]);
    // Static assets: the page and its libraries, and nothing else.
    let agent = http();
    let (status, media, text) = body(agent.get(&server.base).call().unwrap());
    assert_eq!((status, media.as_str()), (200, "text/html; charset=utf-8"));
    assert!(text.contains("/assets/d3.min.js"), "{text}");
    for name in [
        "codemirror.js",
        "codemirror-sparql.js",
        "d3.min.js",
        "workbench.js",
    ] {
        let (status, _, _) = body(
            agent
                .get(&server.url(&format!("/assets/{name}")))
                .call()
                .unwrap(),
        );
        assert_eq!(status, 200, "{name}");
    }
    for escape in [
        "/assets/..%2FCargo.toml",
        "/assets/%2e%2e%2fsrc%2flib.rs",
        "/assets/nope.js",
    ] {
        let (status, _, _) = body(agent.get(&server.url(escape)).call().unwrap());
        assert_eq!(status, 404, "{escape}");
    }
    browser_check(&server, &["sparql"]);
    browser_check(&server, &["entity", "http://example.com/p0", "m"]);
    browser_check(&server, &["models"]);
}
