//! `kgfuse query`, `update`, `stats`, `export` and `subgraph` end to end.

mod common;

use common::{parse_count, Workspace};
use predicates::str::contains;

const DATA: &str = "@prefix ex: <http://example.com/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:acme a ex:Company ; rdfs:label \"Acme Holdings\" ; ex:owns ex:widgets , ex:gadgets .
ex:widgets a ex:Company ; rdfs:label \"Widgets Ltd\" ; ex:director ex:ann .
ex:gadgets a ex:Company ; rdfs:label \"Gadgets GmbH\" .
ex:ann a ex:Person ; rdfs:label \"Ann Lee\" .
";

fn loaded() -> Workspace {
    let ws = Workspace::new();
    let file = ws.write("data.ttl", DATA);
    ws.kgfuse().arg("load").arg(&file).assert().success();
    let graph = ws.write(
        "g.trig",
        "<http://example.com/g> { <http://example.com/acme> <http://example.com/rating> \"B\" . }",
    );
    ws.kgfuse().arg("load").arg(&graph).assert().success();
    ws
}

const COMPANIES: &str = "SELECT ?c WHERE { ?c a <http://example.com/Company> } ORDER BY ?c";

#[test]
fn select_in_every_result_format() {
    let ws = loaded();
    let json = ws
        .kgfuse()
        .args(["query", "--format", "json", COMPANIES])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["results"]["bindings"].as_array().unwrap().len(), 3);
    assert_eq!(json["head"]["vars"][0], "c");

    ws.kgfuse()
        .args(["query", "--format", "csv", COMPANIES])
        .assert()
        .success()
        .stdout(predicates::str::starts_with(
            "c\r\nhttp://example.com/acme\r\n",
        ));
    ws.kgfuse()
        .args(["query", "--format", "tsv", COMPANIES])
        .assert()
        .success()
        .stdout(predicates::str::starts_with(
            "?c\n<http://example.com/acme>\n",
        ));
    ws.kgfuse()
        .args(["query", "--format", "xml", COMPANIES])
        .assert()
        .success()
        .stdout(contains("<uri>http://example.com/gadgets</uri>"));
    ws.kgfuse()
        .args(["query", "--format", "table", COMPANIES])
        .assert()
        .success()
        .stdout(contains("| <http://example.com/acme>    |"))
        .stdout(contains("3 rows"));
}

#[test]
fn ask_construct_and_describe() {
    let ws = loaded();
    ws.kgfuse()
        .args(["query", "ASK { ?s a <http://example.com/Person> }"])
        .assert()
        .success()
        .stdout("true\n");
    ws.kgfuse()
        .args([
            "query",
            "--format",
            "json",
            "ASK { ?s a <http://example.com/Bank> }",
        ])
        .assert()
        .success()
        .stdout(contains("\"boolean\":false"));
    let construct = "CONSTRUCT { ?b <http://example.com/ownedBy> ?a } WHERE { ?a <http://example.com/owns> ?b }";
    ws.kgfuse()
        .args(["query", "--format", "ntriples", construct])
        .assert()
        .success()
        .stdout(contains(
            "<http://example.com/widgets> <http://example.com/ownedBy> <http://example.com/acme> .",
        ));
    ws.kgfuse()
        .args(["query", construct])
        .assert()
        .success()
        .stdout(contains("ownedBy"));
    ws.kgfuse()
        .args([
            "query",
            "--format",
            "ntriples",
            "DESCRIBE <http://example.com/ann>",
        ])
        .assert()
        .success()
        .stdout(contains("\"Ann Lee\""));
    ws.kgfuse()
        .args(["query", "--format", "csv", construct])
        .assert()
        .failure()
        .stderr(contains("does not apply"));
}

#[test]
fn default_graph_is_the_union_of_all_graphs() {
    let ws = loaded();
    let rows =
        ws.select("SELECT ?r WHERE { <http://example.com/acme> <http://example.com/rating> ?r }");
    assert_eq!(rows, vec!["\"B\""]);
}

#[test]
fn queries_from_files_stdin_and_names_with_bindings() {
    let ws = loaded();
    let file = ws.write("q.rq", COMPANIES);
    ws.kgfuse()
        .args(["query", "--format", "tsv", "-f"])
        .arg(&file)
        .assert()
        .success()
        .stdout(contains("gadgets"));
    ws.kgfuse()
        .args(["query", "--format", "tsv", "-f", "-"])
        .write_stdin(COMPANIES)
        .assert()
        .success()
        .stdout(contains("widgets"));
    ws.kgfuse()
        .args(["query", "--list"])
        .assert()
        .success()
        .stdout(contains("subgraph"));
    let out = ws
        .kgfuse()
        .args([
            "query",
            "--format",
            "tsv",
            "--named",
            "subgraph",
            "--bind",
            "seed=<http://example.com/widgets>",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("\"in\"\t<http://example.com/owns>\t<http://example.com/acme>"),
        "{text}"
    );
    assert!(
        text.contains("\"out\"\t<http://example.com/director>\t<http://example.com/ann>"),
        "{text}"
    );
    ws.kgfuse()
        .args(["query", "--named", "nope"])
        .assert()
        .failure()
        .stderr(contains("no named query \"nope\""));
}

#[test]
fn invalid_sparql_reports_the_position() {
    let ws = loaded();
    ws.kgfuse()
        .args(["query", "SELECT ?s WHERE {\n ?s ?p }"])
        .assert()
        .failure()
        .stderr(contains("invalid SPARQL"))
        .stderr(contains("2:"));
    ws.kgfuse()
        .args(["update", "INSERT DATA { <a> }"])
        .assert()
        .failure()
        .stderr(contains("invalid SPARQL"));
}

#[test]
fn update_inserts_and_deletes() {
    let ws = loaded();
    let before = ws.count();
    ws.kgfuse()
        .args([
            "update",
            "INSERT DATA { <http://example.com/ann> <http://example.com/age> 41 }",
        ])
        .assert()
        .success()
        .stdout("update applied\n");
    assert_eq!(ws.count(), before + 1);
    ws.kgfuse()
        .args(["update", "DELETE WHERE { ?s <http://example.com/owns> ?o }"])
        .assert()
        .success();
    assert_eq!(ws.count(), before - 1);
}

#[test]
fn stats_count_a_known_graph() {
    let ws = loaded();
    let out = ws.kgfuse().args(["stats", "--json"]).output().unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["quads"], 12);
    assert_eq!(stats["triples"], 12);
    assert_eq!(stats["entities"], 4);
    assert_eq!(stats["graphs"].as_array().unwrap().len(), 1);
    let classes = stats["classes"].as_array().unwrap();
    assert_eq!(classes[0]["term"], "<http://example.com/Company>");
    assert_eq!(classes[0]["count"], 3);
    ws.kgfuse()
        .arg("stats")
        .assert()
        .success()
        .stdout(contains("entities:       4"));
}

#[test]
fn export_round_trips_through_load() {
    let ws = loaded();
    let dump = ws.path("dump.nq");
    ws.kgfuse()
        .args(["export", "--out"])
        .arg(&dump)
        .assert()
        .success();
    let copy = Workspace::new();
    copy.kgfuse().arg("load").arg(&dump).assert().success();
    assert_eq!(copy.count(), ws.count());
    ws.kgfuse()
        .args(["export", "--format", "turtle"])
        .assert()
        .failure()
        .stderr(contains("--graph"));
    ws.kgfuse()
        .args([
            "export",
            "--graph",
            "http://example.com/g",
            "--format",
            "ntriples",
        ])
        .assert()
        .success()
        .stdout("<http://example.com/acme> <http://example.com/rating> \"B\" .\n");
}

#[test]
fn subgraph_by_label_and_iri() {
    let ws = loaded();
    ws.kgfuse()
        .args(["subgraph", "widgets ltd", "--hops", "1"])
        .assert()
        .success()
        .stdout(contains("hop 0: <http://example.com/widgets>"))
        .stdout(contains(
            "<http://example.com/acme> --<http://example.com/owns>--> <http://example.com/widgets>",
        ));
    let out = ws
        .kgfuse()
        .args([
            "subgraph",
            "<http://example.com/acme>",
            "--hops",
            "2",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hops: Vec<u64> = json["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["hop"].as_u64().unwrap())
        .collect();
    assert_eq!(
        hops.iter().filter(|h| **h == 2).count(),
        1,
        "ann is two hops from acme"
    );
    ws.kgfuse()
        .args(["subgraph", "Nobody"])
        .assert()
        .failure()
        .stderr(contains("no entity \"Nobody\""));
}

#[test]
fn reading_commands_need_an_existing_store() {
    let ws = Workspace::new();
    ws.kgfuse()
        .arg("stats")
        .assert()
        .failure()
        .stderr(contains("no store at"));
    assert_eq!(
        parse_count("\"3\"^^<http://www.w3.org/2001/XMLSchema#integer>"),
        3
    );
}

#[test]
fn quickstart_runs_the_main_job_on_the_embedded_defaults() {
    let ws = Workspace::new();
    let model = common::shared_data().join("models/all-MiniLM-L6-v2");
    let quickstart = || {
        let mut cmd = ws.kgfuse();
        cmd.env("KGFUSE_BERT_DIR", &model)
            .args(["quickstart", "--epochs", "8", "--fibo"])
            .arg(common::shared_data().join("fibo"));
        cmd
    };
    quickstart()
        .assert()
        .success()
        .stdout(contains(
            "loaded 38533 quads into <https://w3id.org/kgfuse/graph/sample>",
        ))
        .stdout(contains("reasoned (OWL 2 RL)"))
        .stdout(contains("0 inconsistencies"))
        .stdout(contains("== kgfuse query --named high-risk-companies"))
        .stdout(contains("== kgfuse query --named ownership-chains"))
        .stdout(contains("macro-F1"))
        .stdout(contains("companies scored into"))
        .stdout(contains("path 1 ("))
        .stdout(contains("== kgfuse query --named fibo-classes"))
        .stdout(contains("| cmns:Organizations/LegalPerson "))
        .stdout(contains("  [asserted in kgg:fibo]"));
    for file in [
        "model/config.json",
        "model/model.safetensors",
        "explanation.html",
        "explanation.json",
        "qa/metrics.json",
    ] {
        assert!(ws.path("kgfuse-quickstart").join(file).is_file(), "{file}");
    }
    let json = |file: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(ws.path("kgfuse-quickstart").join(file)).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    // The classifier: 600 labelled companies split 60/20/20; its test share
    // chose nothing.
    let metrics = json("model/metrics.json");
    let test = &metrics["test_metrics"];
    assert_eq!(test["support"], 120, "{metrics}");
    let majority = test["confusion"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .sum::<u64>()
        })
        .max()
        .unwrap() as f64
        / 120.0;
    // Better than chance; the demo's classifier is still weak (8 epochs here).
    assert!(
        test["roc_auc"].as_f64().unwrap() > 0.55,
        "test ROC-AUC {} (majority share {majority})",
        test["roc_auc"]
    );
    // Every company is scored, and the explained one is the riskiest of them.
    let scores =
        ws.select("SELECT ?c ?s WHERE { GRAPH ?g { ?c kgfuse:score ?s } } ORDER BY DESC(?s)");
    let companies = ws.select("SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE { ?c a risk:Company }");
    assert_eq!(scores.len() as u64, common::parse_count(&companies[0]));
    let explanation = json("explanation.json");
    // Several companies may share the top score (probabilities round to 1.0).
    let top = scores[0].split('\t').nth(1).unwrap();
    let bare = |iri: &str| iri.trim_matches(|c| c == '<' || c == '>').to_owned();
    let riskiest: Vec<String> = scores
        .iter()
        .map(|row| row.split('\t').collect::<Vec<_>>())
        .filter(|row| row[1] == top)
        .map(|row| bare(row[0]))
        .collect();
    assert!(
        riskiest.contains(&bare(explanation["entity"].as_str().unwrap())),
        "{explanation} is not one of {riskiest:?}"
    );
    // Question answering: validation and test shares, per hop count.
    let qa = json("qa/metrics.json");
    for share in ["validation", "test"] {
        for (hops, metrics) in qa[share].as_array().unwrap().iter().map(|h| (&h[0], &h[1])) {
            let hits = metrics["hits_at_1"].as_f64().unwrap();
            assert!(hits > 0.6, "{share} {hops}-hop Hits@1 {hits}: {qa}");
        }
    }
    // Scores go into a graph per model id; the rest must not grow.
    let count = || {
        common::parse_count(&ws.select(
            "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } FILTER(!STRSTARTS(STR(?g), \"https://w3id.org/kgfuse/graph/predictions/\")) }",
        )[0])
    };
    let first = count();
    quickstart().assert().success();
    assert_eq!(
        count(),
        first,
        "re-running replaces the graphs instead of duplicating blank nodes"
    );
}

/// A store holding one triple.
fn one_triple() -> Workspace {
    let ws = Workspace::new();
    ws.kgfuse()
        .args(["update", "INSERT DATA { <urn:a> <urn:b> <urn:c> }"])
        .assert()
        .success();
    ws
}

/// stderr of a command that must fail with exit code 1, checked to be one line.
fn one_line_failure(cmd: &mut assert_cmd::Command) -> String {
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    stderr
}

#[test]
fn deeply_nested_sparql_is_refused_not_a_crash() {
    let ws = one_triple();
    let groups = format!("SELECT * WHERE {}{}", "{".repeat(4000), "}".repeat(4000));
    let parentheses = format!(
        "SELECT * WHERE {{ ?s ?p ?o FILTER{}?o{} }}",
        "(".repeat(20_000),
        ")".repeat(20_000)
    );
    let update = format!("DELETE WHERE {}{}", "{".repeat(4000), "}".repeat(4000));
    for (command, text) in [
        ("query", &groups),
        ("query", &parentheses),
        ("update", &update),
    ] {
        let stderr = one_line_failure(ws.kgfuse().args([command, text.as_str()]));
        assert!(stderr.contains("nest more than"), "{stderr}");
    }
    // Nesting well within the limit still runs.
    let nested = format!("ASK {}?s ?p ?o{}", "{".repeat(60), "}".repeat(60));
    ws.kgfuse()
        .args(["query", &nested])
        .assert()
        .success()
        .stdout(contains("true"));
}

#[test]
fn sparql_mistakes_are_named_on_one_line() {
    let ws = one_triple();
    let cases = [
        (
            "query",
            "SELECT ?x WHERE { ?x ex:p ?y }",
            "unknown prefix `ex:`",
        ),
        (
            "query",
            "SELECT ?x WHERE { ?x rds:label ?y }",
            "unknown prefix `rds:` in `rds:label`; did you mean `rdf:` or `rdfs:`?",
        ),
        (
            "update",
            "SELECT * WHERE { ?s ?p ?o }",
            "this is a query (SELECT), not an update: run it with `kgfuse query`",
        ),
        (
            "query",
            "INSERT DATA { <urn:a> <urn:b> <urn:d> }",
            "run it with `kgfuse update`",
        ),
        (
            "update",
            "INSERT DATA { data:company/0001 risk:riskLabel risk:HighRisk }",
            "cannot contain `/`",
        ),
    ];
    for (command, text, expected) in cases {
        let stderr = one_line_failure(ws.kgfuse().args([command, text]));
        assert!(stderr.contains(expected), "{command} {text}: {stderr}");
        assert!(!stderr.contains("expected OPTIONAL"), "{stderr}");
    }
    // A format that does not apply is not offered as a valid one.
    let stderr = one_line_failure(ws.kgfuse().args([
        "query",
        "--format",
        "turtle",
        "SELECT * WHERE { ?s ?p ?o }",
    ]));
    assert!(
        stderr.contains("use one of table, json, csv, tsv, xml"),
        "{stderr}"
    );
    assert!(!stderr.contains("xml, turtle"), "{stderr}");
    // `export` offers only the syntaxes it can write.
    let stderr = one_line_failure(ws.kgfuse().args(["export", "--format", "csv"]));
    assert!(stderr.contains("unknown format \"csv\""), "{stderr}");
    assert!(!stderr.contains("pipe"), "{stderr}");
}

#[test]
fn io_errors_and_odd_input_stay_on_one_line() {
    let ws = Workspace::new();
    let stderr = one_line_failure(ws.kgfuse().args(["load", "missing.ttl"]));
    assert_eq!(stderr.matches("No such file").count(), 1, "{stderr}");
    let stderr = one_line_failure(ws.kgfuse().args(["query", "-f", "missing.rq"]));
    assert_eq!(stderr.matches("No such file").count(), 1, "{stderr}");
    let good = ws.write("good.ttl", "<urn:a> <urn:b> <urn:c> .");
    let stderr = one_line_failure(
        ws.kgfuse()
            .args(["load", "--graph", "http://example.com/a\nb"])
            .arg(&good),
    );
    assert!(stderr.contains("a\\nb"), "{stderr}");
}

#[test]
fn an_empty_store_variable_means_the_default_store() {
    let ws = Workspace::new();
    let good = ws.write("good.ttl", "<urn:a> <urn:b> <urn:c> .");
    let mut cmd = assert_cmd::Command::cargo_bin("kgfuse").unwrap();
    cmd.current_dir(ws.dir.path())
        .env("KGFUSE_STORE", "")
        .arg("load")
        .arg(&good)
        .assert()
        .success();
    assert!(ws.path("kgfuse-store").join("CURRENT").is_file());
}
