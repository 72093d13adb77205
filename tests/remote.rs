//! A SPARQL endpoint as the store: the same end-to-end run (load, query,
//! reason, train classify, predict --write-back, ask, export) on the
//! embedded store, on `kgfuse serve` and on Virtuoso Open Source (Debian's
//! `virtuoso-opensource`, started here on loopback ports), with the same
//! results; and the errors a remote store can give.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use common::{tiny_bert, Server, Workspace, MOVIES};
use predicates::str::contains;

/// The graphs the run writes its data into (Virtuoso has no default graph
/// that an update may write to).
const DATA: &str = "http://example.org/graph/data";
const ONTOLOGY: &str = "http://example.org/graph/ontology";

/// A small ontology: a subclass, a range and a subproperty to reason with.
const ONTOLOGY_TTL: &str = "@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:Flagged rdfs:subClassOf ex:Watched .
ex:Watched rdfs:subClassOf ex:Organisation .
ex:Company rdfs:subClassOf ex:Organisation .
ex:bank rdfs:range ex:Bank ; rdfs:subPropertyOf ex:relatedTo .
";

/// Virtuoso Open Source on a fresh database in a temporary folder.
struct Virtuoso {
    child: Child,
    http: u16,
    _dir: tempfile::TempDir,
}

impl Virtuoso {
    /// Starts one that returns at most `max_rows` rows per result (it
    /// truncates larger ones without saying so).
    fn start(max_rows: usize) -> Self {
        let binary = which("virtuoso-t").expect(
            "virtuoso-t not found: apt-get install virtuoso-opensource (.ci/run installs it)",
        );
        let dir = tempfile::tempdir().unwrap();
        let (sql, http) = (free_port(), free_port());
        let db = dir.path().display();
        let ini = format!(
            "[Database]\nDatabaseFile = {db}/virtuoso.db\nErrorLogFile = {db}/virtuoso.log\n\
             LockFile = {db}/virtuoso.lck\nTransactionFile = {db}/virtuoso.trx\n\
             xa_persistent_file = {db}/virtuoso.pxa\n\
             [Parameters]\nServerPort = 127.0.0.1:{sql}\nDisableUnixSocket = 1\n\
             NumberOfBuffers = 10000\nMaxDirtyBuffers = 6000\n\
             [HTTPServer]\nServerPort = 127.0.0.1:{http}\nServerThreads = 4\n\
             [SPARQL]\nResultSetMaxRows = {max_rows}\n"
        );
        std::fs::write(dir.path().join("virtuoso.ini"), ini).unwrap();
        let child = std::process::Command::new(&binary)
            .args(["-c", "virtuoso.ini", "+foreground"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("virtuoso-t starts");
        let server = Self {
            child,
            http,
            _dir: dir,
        };
        let started = Instant::now();
        while common::http()
            .get(format!("http://127.0.0.1:{http}/sparql?query=ASK%7B%7D"))
            .call()
            .map_or(true, |r| r.status() != 200)
        {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "Virtuoso did not start"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        // The anonymous /sparql endpoint may then update.
        let isql = binary.with_file_name("isql-vt");
        let granted = std::process::Command::new(isql)
            .args([
                format!("127.0.0.1:{sql}"),
                "dba".into(),
                "dba".into(),
                "exec=GRANT SPARQL_UPDATE TO \"SPARQL\";".into(),
            ])
            .output()
            .unwrap();
        assert!(granted.status.success(), "{granted:?}");
        server
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http)
    }
}

impl Drop for Virtuoso {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The binary pointed at a store (`--store` and the endpoint flags), in `ws`.
struct Target {
    store: String,
    flags: Vec<String>,
    env: Vec<(String, String)>,
}

impl Target {
    fn kgfuse(&self, ws: &Workspace) -> Command {
        let mut cmd = Command::cargo_bin("kgfuse").unwrap();
        cmd.current_dir(ws.dir.path())
            .env_remove("KGFUSE_STORE")
            .env_remove("KGFUSE_ENDPOINT_TOKEN")
            .env_remove("KGFUSE_ENDPOINT_USER")
            .args(["--store", &self.store])
            .args(&self.flags);
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        cmd
    }

    fn run(&self, ws: &Workspace, args: &[&str]) -> String {
        common::stdout_of(self.kgfuse(ws).args(args))
    }

    fn select(&self, ws: &Workspace, query: &str) -> Vec<String> {
        let mut rows: Vec<String> = self
            .run(ws, &["query", "--format", "tsv", query])
            .lines()
            .skip(1)
            .map(str::to_owned)
            .collect();
        rows.sort();
        rows
    }
}

/// What one end-to-end run produced, to compare across stores.
#[derive(Debug, PartialEq)]
struct Outcome {
    companies: Vec<String>,
    organisations: Vec<String>,
    inferred: String,
    test_accuracy: String,
    predictions: Vec<(String, String, String)>,
    answers: Vec<String>,
    exported: usize,
}

/// Loads, queries, reasons, trains, predicts with write-back, asks and
/// exports through `target`; `qa` is a QA model trained on the movie KB.
fn end_to_end(target: &Target, ws: &Workspace, qa: &Path, bert: &Path) -> Outcome {
    let bert = bert.to_str().unwrap();
    let ontology = ws.write("ontology.ttl", ONTOLOGY_TTL);
    let companies = ws.write("companies.ttl", common::tiny_companies());
    let movies = ws.write("kb.txt", common::movie_kb());
    target.run(
        ws,
        &["load", "--graph", ONTOLOGY, ontology.to_str().unwrap()],
    );
    target.run(ws, &["load", "--graph", DATA, companies.to_str().unwrap()]);
    target.run(
        ws,
        &[
            "load",
            "--graph",
            DATA,
            "--format",
            "pipe",
            "--base",
            MOVIES,
            movies.to_str().unwrap(),
        ],
    );
    let companies = target.select(ws, "SELECT ?c WHERE { ?c a <http://example.org/Company> }");
    let reasoned = target.run(ws, &["reason"]);
    let inferred = reasoned
        .lines()
        .find(|line| line.contains("inferred triples in"))
        .unwrap_or_else(|| panic!("{reasoned}"))
        .to_owned();
    let organisations = target.select(
        ws,
        "SELECT ?o WHERE { ?o a <http://example.org/Organisation> }",
    );
    target.run(
        ws,
        &[
            "train",
            "classify",
            "--class",
            "http://example.org/Company",
            "--label",
            "http://example.org/risk",
            "--out",
            "model",
            "--bert",
            bert,
            "--epochs",
            "30",
            "--patience",
            "30",
            "--lr",
            "0.01",
            "--dim",
            "16",
            "--bert-layers",
            "1",
            "--batch-size",
            "4",
        ],
    );
    let metrics: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.path("model").join("metrics.json")).unwrap(),
    )
    .unwrap();
    target.run(
        ws,
        &[
            "predict",
            "--model",
            "model",
            "--bert",
            bert,
            "--write-back",
        ],
    );
    // Scores to four places: Virtuoso keeps doubles to six significant digits.
    let predictions = target
        .select(
            ws,
            "SELECT ?c ?label ?score WHERE { ?c <https://w3id.org/kgfuse/ns#predictedLabel> ?label ; <https://w3id.org/kgfuse/ns#score> ?score }",
        )
        .iter()
        .map(|row| {
            let cells: Vec<&str> = row.split('\t').collect();
            let score: f64 = cells[2].trim_matches('"').split('"').next().unwrap().parse().unwrap();
            (cells[0].to_owned(), cells[1].to_owned(), format!("{score:.4}"))
        })
        .collect();
    let asked = target.run(
        ws,
        &[
            "ask",
            "--model",
            qa.to_str().unwrap(),
            "--bert",
            bert,
            "--format",
            "json",
            "which films starred [Christina Ricci]",
        ],
    );
    let asked: serde_json::Value = serde_json::from_str(&asked).unwrap();
    let mut answers: Vec<String> = asked["answers"]
        .as_array()
        .unwrap_or_else(|| panic!("{asked}"))
        .iter()
        .map(|a| format!("{} {:.4}", a["label"], a["score"].as_f64().unwrap()))
        .collect();
    answers.sort();
    let exported = target
        .run(ws, &["export", "--format", "nquads"])
        .lines()
        .count();
    Outcome {
        companies,
        organisations,
        inferred,
        test_accuracy: metrics["test_metrics"]["accuracy"].to_string(),
        predictions,
        answers,
        exported,
    }
}

#[test]
fn every_command_gives_the_same_results_on_the_embedded_store_kgfuse_serve_and_virtuoso() {
    // The QA model, trained once on the movie KB in an embedded store.
    let trainer = Workspace::new();
    let bert = trainer.path("bert");
    std::fs::create_dir_all(&bert).unwrap();
    tiny_bert(&bert);
    let kb = trainer.write("kb.txt", common::movie_kb());
    trainer
        .kgfuse()
        .args(["load", "--format", "pipe", "--base", MOVIES])
        .arg(kb)
        .assert()
        .success();
    common::train_movie_qa(&trainer, &bert, &trainer.path("qa"))
        .assert()
        .success();
    let qa = trainer.path("qa");

    let embedded_ws = Workspace::new();
    let embedded = Target {
        store: embedded_ws.store().display().to_string(),
        flags: Vec::new(),
        env: Vec::new(),
    };
    let expected = end_to_end(&embedded, &embedded_ws, &qa, &bert);
    assert_eq!(expected.test_accuracy, "1.0", "{expected:?}");
    assert!(
        expected.answers.iter().any(|a| a.contains("Sleepy Hollow")),
        "{expected:?}"
    );
    assert!(
        !expected.inferred.starts_with("0 inferred") && expected.organisations.len() == 16,
        "{expected:?}"
    );

    // kgfuse serve, writes behind a token, loads through its Graph Store.
    let served_ws = Workspace::new();
    let server = Server::start(
        &served_ws,
        &["--allow-update"],
        &[("KGFUSE_TOKEN", "s3cret")],
    );
    let served = Target {
        store: format!("sparql+{}", server.url("/sparql")),
        flags: vec!["--graph-store".into(), server.url("/store")],
        env: vec![("KGFUSE_ENDPOINT_TOKEN".into(), "s3cret".into())],
    };
    let run_ws = Workspace::new();
    assert_eq!(
        end_to_end(&served, &run_ws, &qa, &bert),
        expected,
        "kgfuse serve"
    );

    // Virtuoso: its default graph holds its own system graphs, so the store
    // URL names the data's graphs; loads go through INSERT DATA.
    let virtuoso = Virtuoso::start(10_000);
    let remote = Target {
        store: format!(
            "sparql+{}?default-graph-uri={DATA}&default-graph-uri={ONTOLOGY}",
            virtuoso.url("/sparql")
        ),
        flags: Vec::new(),
        env: Vec::new(),
    };
    let run_ws = Workspace::new();
    assert_eq!(
        end_to_end(&remote, &run_ws, &qa, &bert),
        expected,
        "Virtuoso"
    );
}

#[test]
fn large_results_are_read_in_pages_blank_nodes_stay_one_node_and_digest_is_answered() {
    let virtuoso = Virtuoso::start(100_000);
    let ws = Workspace::new();
    let mut data = String::from(
        "@prefix ex: <http://example.org/> .\nex:Risk ex:oneOf ( ex:High ex:Medium ex:Low ) .\n",
    );
    for i in 0..2_500 {
        data.push_str(&format!("ex:e{i} ex:name \"entity {i}\" .\n"));
    }
    let data = ws.write("data.ttl", data);
    let store = format!(
        "sparql+{}?default-graph-uri={DATA}",
        virtuoso.url("/sparql")
    );
    let target = Target {
        store: store.clone(),
        flags: vec![
            "--graph-store".into(),
            virtuoso.url("/sparql-graph-crud"),
            "--endpoint-page-size".into(),
            "1000".into(),
        ],
        env: Vec::new(),
    };
    target.run(&ws, &["load", "--graph", DATA, data.to_str().unwrap()]);
    // Every row, in pages of 1,000.
    let names = target.select(&ws, "SELECT ?e WHERE { ?e <http://example.org/name> ?n }");
    assert_eq!(names.len(), 2_500);
    // Sorted, in pages of the sorted result.
    let sorted = target.run(
        &ws,
        &[
            "query",
            "--format",
            "tsv",
            "SELECT ?n WHERE { ?e <http://example.org/name> ?n } ORDER BY DESC(?n)",
        ],
    );
    let sorted: Vec<&str> = sorted.lines().skip(1).collect();
    assert_eq!(sorted.len(), 2_500);
    assert_eq!(sorted[0], "\"entity 999\"");
    assert_eq!(sorted[2_499], "\"entity 0\"");
    let exported = target.run(&ws, &["export", "--graph", DATA, "--format", "ntriples"]);
    assert_eq!(
        exported.lines().count(),
        2_500 + 1 + 6,
        "names, oneOf, the list"
    );
    // The list reads back whole: three members, in order, through one chain.
    let members = target.select(
        &ws,
        "SELECT ?m WHERE { <http://example.org/Risk> <http://example.org/oneOf>/rdf:rest*/rdf:first ?m }",
    );
    assert_eq!(members.len(), 3, "{members:?}");

    // /sparql-auth asks for HTTP Digest.
    let auth = |password: &str| {
        let mut cmd = Command::cargo_bin("kgfuse").unwrap();
        cmd.current_dir(ws.dir.path())
            .env_remove("KGFUSE_STORE")
            .env_remove("KGFUSE_ENDPOINT_TOKEN")
            .env("KGFUSE_ENDPOINT_USER", "dba")
            .env("KGFUSE_ENDPOINT_PASSWORD", password)
            .args(["--store", &format!("sparql+{}", virtuoso.url("/sparql-auth"))])
            .args([
                "update",
                &format!("INSERT DATA {{ GRAPH <{DATA}> {{ <http://example.org/a> <http://example.org/p> 1 }} }}"),
            ]);
        cmd
    };
    auth("dba").assert().success();
    assert_eq!(
        target
            .select(
                &ws,
                "SELECT ?o WHERE { <http://example.org/a> <http://example.org/p> ?o }"
            )
            .len(),
        1
    );
    auth("wrong")
        .assert()
        .failure()
        .stderr(contains("sparql-auth: HTTP 401"))
        .stderr(contains("wrong").not());
}

use predicates::prelude::PredicateBooleanExt;

/// A loopback server that answers every request with a web page; its URL
/// as a store.
fn html_server() -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("sparql+http://{}/sparql", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let page = "<html><body>Welcome</body></html>";
            let _ = write!(
                reader.get_mut(),
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    url
}

/// Counts the triples of `target` (a `kgfuse serve` store) directly.
fn count(server: &Server) -> u64 {
    let query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }";
    let mut response = common::http()
        .get(server.url(&format!(
            "/sparql?query={}",
            form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
        )))
        .header("Accept", "text/tab-separated-values")
        .call()
        .unwrap();
    let text = response.body_mut().read_to_string().unwrap();
    common::parse_count(text.lines().nth(1).unwrap())
}

#[test]
fn endpoint_failures_name_the_url_and_status_and_say_what_was_written() {
    let ws = Workspace::new();
    let data = ws.write("data.ttl", common::toy_turtle());
    let at = |store: &str| {
        let mut cmd = Command::cargo_bin("kgfuse").unwrap();
        cmd.current_dir(ws.dir.path())
            .env_remove("KGFUSE_STORE")
            .env_remove("KGFUSE_ENDPOINT_TOKEN")
            .args(["--store", store, "--endpoint-timeout", "1"]);
        cmd
    };

    // Nothing listens.
    let closed = format!("sparql+http://127.0.0.1:{}/sparql", free_port());
    at(&closed)
        .args(["query", "ASK {}"])
        .assert()
        .failure()
        .stderr(contains(closed.trim_start_matches("sparql+")));

    // A server that takes the connection and never answers: a timeout.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("sparql+http://{}/sparql", silent.local_addr().unwrap());
    let held = std::thread::spawn(move || {
        let connections: Vec<_> = silent.incoming().take(4).collect();
        std::thread::sleep(Duration::from_secs(2));
        drop(connections);
    });
    at(&silent_url)
        .args(["query", "ASK {}"])
        .assert()
        .failure()
        .stderr(contains(silent_url.trim_start_matches("sparql+")))
        .stderr(contains("timeout").or(contains("timed out")));
    held.join().unwrap();

    // kgfuse serve with a token and a 1 MB body limit.
    let served = Workspace::new();
    let server = Server::start(
        &served,
        &["--allow-update", "--max-body-mb", "1"],
        &[("KGFUSE_TOKEN", "s3cret")],
    );
    let endpoint = format!("sparql+{}", server.url("/sparql"));
    // Without the token: 401, nothing written.
    at(&endpoint)
        .arg("load")
        .arg(&data)
        .assert()
        .failure()
        .stderr(contains(server.url("/sparql")))
        .stderr(contains("HTTP 401"))
        .stderr(contains("KGFUSE_ENDPOINT_TOKEN"));
    assert_eq!(count(&server), 0);
    // Not SPARQL results (a web page): said so.
    at(&html_server())
        .args(["query", "ASK {}"])
        .assert()
        .failure()
        .stderr(contains("text/html"));
    // A server that refuses an update: its status and message.
    at(&endpoint)
        .env("KGFUSE_ENDPOINT_TOKEN", "s3cret")
        .args(["update", "DROP GRAPH <http://example.org/missing>"])
        .assert()
        .failure()
        .stderr(contains("HTTP 500"))
        .stderr(contains("does not exist"));
    // A load that fails after its first requests: what stays is said.
    let mut big = String::from("@prefix ex: <http://example.org/> .\n");
    for i in 0..1_500 {
        big.push_str(&format!("ex:s{i} ex:p {i} .\n"));
    }
    for i in 0..12_000 {
        big.push_str(&format!("_:b{i} ex:long \"{}\" .\n", "x".repeat(60)));
    }
    let big = ws.write("big.ttl", big);
    at(&endpoint)
        .env("KGFUSE_ENDPOINT_TOKEN", "s3cret")
        .arg("load")
        .arg(&big)
        .assert()
        .failure()
        // A 413, or the connection closed while the body was still going.
        .stderr(contains("HTTP 413").or(contains("Broken pipe")))
        .stderr(contains(
            "1500 triples were written by earlier requests and stay on the server",
        ));
    assert_eq!(count(&server), 1_500);
    // A bad file: nothing is sent at all.
    let broken = ws.write(
        "broken.ttl",
        "@prefix ex: <http://example.org/> .\nex:a ex:b .\n",
    );
    let requests_before = server.log.lock().unwrap().len();
    at(&endpoint)
        .env("KGFUSE_ENDPOINT_TOKEN", "s3cret")
        .arg("load")
        .arg(&broken)
        .assert()
        .failure()
        .stderr(contains("broken.ttl:2:"));
    assert_eq!(count(&server), 1_500);
    std::thread::sleep(Duration::from_millis(200));
    let writes_after = server.log.lock().unwrap()[requests_before..]
        .iter()
        .filter(|line| line.contains("POST"))
        .count();
    assert_eq!(writes_after, 1, "only the opening ASK, no write");
}
