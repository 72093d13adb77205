//! `kgfuse load` end to end: every format, gzip, folders, named graphs, and
//! bad inputs that must leave the store unchanged.

mod common;

use common::{shared_data, Workspace};
use predicates::prelude::*;
use predicates::str::contains;

const TURTLE: &str = "@prefix ex: <http://example.com/> .
ex:acme a ex:Company ;
    ex:name \"Acme Holdings\" ;
    ex:owns ex:widgets .
";

const NTRIPLES: &str = "<http://example.com/acme> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://example.com/Company> .
<http://example.com/acme> <http://example.com/name> \"Acme Holdings\" .
<http://example.com/acme> <http://example.com/owns> <http://example.com/widgets> .
";

const RDFXML: &str = r#"<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://example.com/">
  <ex:Company rdf:about="http://example.com/acme">
    <ex:name>Acme Holdings</ex:name>
    <ex:owns rdf:resource="http://example.com/widgets"/>
  </ex:Company>
</rdf:RDF>
"#;

const JSONLD: &str = r#"{"@id": "http://example.com/acme", "@type": "http://example.com/Company",
  "http://example.com/name": "Acme Holdings",
  "http://example.com/owns": {"@id": "http://example.com/widgets"}}"#;

fn nquads() -> String {
    NTRIPLES.replace(" .\n", " <http://example.com/g> .\n")
}

fn trig() -> String {
    format!(
        "@prefix ex: <http://example.com/> .\nex:g {{ {} }}",
        TURTLE.lines().skip(1).collect::<Vec<_>>().join("\n")
    )
}

#[test]
fn loads_every_format_plain_and_gzipped() {
    let cases: Vec<(&str, String)> = vec![
        ("ttl", TURTLE.to_owned()),
        ("nt", NTRIPLES.to_owned()),
        ("nq", nquads()),
        ("trig", trig()),
        ("rdf", RDFXML.to_owned()),
        ("owl", RDFXML.to_owned()),
        ("jsonld", JSONLD.to_owned()),
    ];
    for (extension, content) in cases {
        for gzip in [false, true] {
            let ws = Workspace::new();
            let file = if gzip {
                ws.write_gz(&format!("data.{extension}.gz"), &content)
            } else {
                ws.write(&format!("data.{extension}"), &content)
            };
            ws.kgfuse()
                .arg("load")
                .arg(&file)
                .assert()
                .success()
                .stdout(contains("loaded 3 quads from 1 file"));
            assert_eq!(ws.count(), 3, "{extension} gzip={gzip}");
            let owner = ws.select(
                "SELECT ?o WHERE { <http://example.com/acme> <http://example.com/owns> ?o }",
            );
            assert_eq!(
                owner,
                vec!["<http://example.com/widgets>"],
                "{extension} gzip={gzip}"
            );
        }
    }
}

#[test]
fn format_flag_overrides_the_extension() {
    let ws = Workspace::new();
    let file = ws.write("dump.txt", NTRIPLES);
    ws.kgfuse()
        .arg("load")
        .arg(&file)
        .assert()
        .failure()
        .stderr(contains("unknown RDF format"));
    ws.kgfuse()
        .args(["load", "--format", "ntriples"])
        .arg(&file)
        .assert()
        .success();
    assert_eq!(ws.count(), 3);
}

#[test]
fn loads_folders_recursively_and_skips_other_files() {
    let ws = Workspace::new();
    ws.write("onto/a.ttl", TURTLE);
    ws.write("onto/sub/b.rdf", RDFXML.replace("acme", "beta"));
    ws.write_gz(
        "onto/sub/deeper/c.nt.gz",
        &NTRIPLES.replace("acme", "gamma"),
    );
    ws.write("onto/README.txt", "not RDF");
    ws.kgfuse()
        .args(["load", "onto"])
        .assert()
        .success()
        .stdout(contains("loaded 9 quads from 3 files"))
        .stderr(contains("README.txt"));
    assert_eq!(ws.count(), 9);
}

#[test]
fn graph_flag_loads_into_a_named_graph() {
    let ws = Workspace::new();
    let file = ws.write("data.ttl", TURTLE);
    ws.kgfuse()
        .args(["load", "--graph", "http://example.com/g1"])
        .arg(&file)
        .assert()
        .success();
    let in_graph =
        ws.select("SELECT (COUNT(*) AS ?n) WHERE { GRAPH <http://example.com/g1> { ?s ?p ?o } }");
    assert_eq!(common::parse_count(&in_graph[0]), 3);
    let out = ws.kgfuse().args(["stats", "--json"]).output().unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        stats["default_graph_quads"], 0,
        "the default graph stays empty"
    );
}

#[test]
fn syntax_error_names_file_line_column_and_leaves_store_unchanged() {
    let ws = Workspace::new();
    let good = ws.write("good.ttl", TURTLE);
    ws.kgfuse().arg("load").arg(&good).assert().success();
    let more = ws.write("more.nt", NTRIPLES.replace("acme", "other"));
    let bad = ws.write(
        "bad.ttl",
        "@prefix ex: <http://example.com/> .\nex:a ex:b ex:c .\nex:a ex:b \"unterminated .\n",
    );
    ws.kgfuse()
        .arg("load")
        .arg(&more)
        .arg(&bad)
        .assert()
        .failure()
        .stderr(contains("bad.ttl:3:"));
    assert_eq!(
        ws.count(),
        3,
        "the valid file of the failed load must not be stored"
    );
}

#[test]
fn rdfxml_errors_are_located_too() {
    let ws = Workspace::new();
    let bad = ws.write("bad.rdf", "<?xml version=\"1.0\"?>\n<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n  <rdf:Description rdf:about=\"http://example.com/a\">\n    <oops>\n</rdf:RDF>\n");
    let out = ws.kgfuse().arg("load").arg(&bad).assert().failure();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    let located = stderr
        .split("bad.rdf:")
        .nth(1)
        .expect("file name in the error");
    let line: u64 = located
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("a line number");
    assert!((3..=5).contains(&line), "{stderr}");
}

#[test]
fn bad_gzip_missing_file_and_unknown_format_fail_cleanly() {
    let ws = Workspace::new();
    let good = ws.write("good.ttl", TURTLE);
    ws.kgfuse().arg("load").arg(&good).assert().success();
    let not_gzip = ws.write("fake.ttl.gz", "plain text");
    ws.kgfuse()
        .arg("load")
        .arg(&not_gzip)
        .assert()
        .failure()
        .stderr(contains("fake.ttl.gz"));
    ws.kgfuse()
        .args(["load", "missing.ttl"])
        .assert()
        .failure()
        .stderr(contains("missing.ttl"));
    ws.kgfuse()
        .args(["load", "--format", "csv"])
        .arg(&good)
        .assert()
        .failure()
        .stderr(contains("unknown format \"csv\""));
    for out in [
        ws.kgfuse().args(["load", "missing.ttl"]).output().unwrap(),
        ws.kgfuse().arg("load").arg(&not_gzip).output().unwrap(),
    ] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "one clear line: {stderr}");
    }
    assert_eq!(ws.count(), 3);
}

#[test]
fn a_locked_store_is_reported() {
    let ws = Workspace::new();
    let good = ws.write("good.ttl", TURTLE);
    ws.kgfuse().arg("load").arg(&good).assert().success();
    let held = kgfuse::store::Store::open(&ws.store()).unwrap();
    ws.kgfuse()
        .arg("load")
        .arg(&good)
        .assert()
        .failure()
        .stderr(contains("in use by another kgfuse process"));
    // Readers do not need the lock.
    ws.kgfuse()
        .args(["query", "ASK { ?s ?p ?o }"])
        .assert()
        .success();
    drop(held);
}

#[test]
fn blank_nodes_of_different_files_stay_apart() {
    let ws = Workspace::new();
    let a = ws.write("a.ttl", "_:x <http://example.com/p> \"a\" .");
    let b = ws.write("b.ttl", "_:x <http://example.com/p> \"b\" .");
    ws.kgfuse().arg("load").arg(&a).arg(&b).assert().success();
    let subjects = ws.select("SELECT DISTINCT ?s WHERE { ?s ?p ?o }");
    assert_eq!(subjects.len(), 2);
}

/// AIFB+ is N-Triples with one triple per line: `zcat aifb+.nt.gz | wc -l`
/// gives 29,044 lines, one of them empty, and `sort -u` keeps all 29,044, so
/// the file holds 29,043 distinct triples (its README's 29,219 "facts"
/// include the 176 label triples that were split off). The store must hold
/// exactly those.
#[test]
fn loads_aifb() {
    let ws = Workspace::new();
    let file = shared_data().join("aifb/aifb+.nt.gz");
    ws.kgfuse()
        .arg("load")
        .arg(&file)
        .assert()
        .success()
        .stdout(contains("loaded 29043 quads"));
    assert_eq!(ws.count(), 29_043);
}

#[test]
fn pipe_separated_kb_loads_with_labels() {
    let ws = Workspace::new();
    let kb = shared_data().join("metaqa/kb.txt");
    let text = std::fs::read_to_string(&kb).unwrap();
    let distinct: std::collections::HashSet<&str> =
        text.lines().filter(|l| !l.trim().is_empty()).collect();
    ws.kgfuse()
        .args([
            "load",
            "--format",
            "pipe",
            "--base",
            "https://example.org/movies/",
        ])
        .arg(&kb)
        .assert()
        .success();
    let rows = ws.select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o FILTER(?p != rdfs:label) }");
    assert_eq!(common::parse_count(&rows[0]), distinct.len() as u64);
    let rows = ws.select(
        "SELECT ?film WHERE { ?film rdfs:label \"The Ice Storm\" ; ?directed ?who . ?directed rdfs:label \"directed_by\" . ?who rdfs:label \"Ang Lee\" }",
    );
    assert_eq!(rows.len(), 1, "{rows:?}");

    let bad = ws.write("bad.txt", "a|b|c\nd|e\n");
    ws.kgfuse()
        .args([
            "load",
            "--format",
            "pipe",
            "--base",
            "https://example.org/movies/",
        ])
        .arg(&bad)
        .assert()
        .failure()
        .stderr(predicates::str::contains(
            "bad.txt:2:1: expected head|relation|tail, found 2 field(s)",
        ));
}

#[test]
fn standard_input_loads_streamed_and_all_or_nothing() {
    let ws = Workspace::new();
    ws.kgfuse()
        .args(["load", "--format", "turtle", "-"])
        .write_stdin(TURTLE)
        .assert()
        .success()
        .stdout(contains("loaded 3 quads"));
    assert_eq!(ws.count(), 3);
    ws.kgfuse()
        .args(["load", "--format", "ntriples", "-"])
        .write_stdin("<http://example.com/a> <http://example.com/b> .\n")
        .assert()
        .failure()
        .stderr(contains("<stdin>:1:"));
    ws.kgfuse()
        .args(["load", "-"])
        .write_stdin(TURTLE)
        .assert()
        .failure()
        .stderr(contains("needs its format").and(contains("give it with --format")));
    assert_eq!(ws.count(), 3);
}

#[test]
fn a_foreign_folder_is_not_turned_into_a_store() {
    let ws = Workspace::new();
    let notes = ws.write("notes/todo.txt", "my own file");
    let good = ws.write("good.ttl", TURTLE);
    assert_cmd::Command::cargo_bin("kgfuse")
        .unwrap()
        .arg("--store")
        .arg(ws.path("notes"))
        .arg("load")
        .arg(&good)
        .assert()
        .failure()
        .stderr(contains("notes is not empty and holds no kgfuse store"));
    let left: Vec<_> = std::fs::read_dir(ws.path("notes")).unwrap().collect();
    assert_eq!(
        left.len(),
        1,
        "nothing was written beside {}",
        notes.display()
    );
}

#[test]
fn leftovers_of_interrupted_loads_and_old_logs_are_removed_on_open() {
    let ws = Workspace::new();
    let good = ws.write("good.ttl", TURTLE);
    ws.kgfuse().arg("load").arg(&good).assert().success();
    // What a killed bulk load and many runs leave behind.
    let stale = ws.store().join("bulk-1234567890.sst");
    std::fs::write(&stale, vec![0u8; 4096]).unwrap();
    for i in 0..6 {
        std::fs::write(ws.store().join(format!("LOG.old.170000000000000{i}")), "x").unwrap();
    }
    ws.kgfuse()
        .args(["update", "INSERT DATA { <urn:a> <urn:b> <urn:c> }"])
        .assert()
        .success();
    assert!(!stale.exists(), "bulk-*.sst left behind");
    let old_logs = std::fs::read_dir(ws.store())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("LOG.old.")
        })
        .count();
    assert!(old_logs <= 2, "{old_logs} old logs kept");
    assert_eq!(ws.count(), 4);
}

/// Blank nodes are named from the document's content, so the same files
/// give the same store (down to the order of its index) and the same model.
#[test]
fn the_same_files_give_the_same_store_and_the_same_model() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let ws = Workspace::new();
    let run = |store: &str| -> (String, Vec<u8>) {
        let kgfuse = || {
            let mut cmd = assert_cmd::Command::cargo_bin("kgfuse").unwrap();
            cmd.current_dir(ws.dir.path())
                .env_remove("KGFUSE_STORE")
                .arg("--store")
                .arg(ws.path(store));
            cmd
        };
        kgfuse()
            .arg("load")
            .arg(root.join("ontologies/risk.ttl"))
            .arg(root.join("data/finance.ttl"))
            .assert()
            .success();
        kgfuse().arg("reason").assert().success();
        let export = common::stdout_of(kgfuse().args(["export", "--format", "nquads"]));
        let out = ws.path(&format!("{store}-model"));
        kgfuse()
            .args([
                "train",
                "classify",
                "--class",
                "risk:Company",
                "--label",
                "risk:riskLabel",
            ])
            .args(["--no-text", "--epochs", "3", "--dim", "16", "--out"])
            .arg(&out)
            .assert()
            .success();
        (
            export,
            std::fs::read(out.join("model.safetensors")).unwrap(),
        )
    };
    let (export_a, weights_a) = run("a");
    let (export_b, weights_b) = run("b");
    assert!(export_a.contains("_:"), "the ontology has blank nodes");
    assert!(export_a == export_b, "two loads of the same files differ");
    assert!(
        weights_a == weights_b,
        "the same store and seed gave other weights"
    );
}

/// The store keeps numbers, booleans and dates by value: the load says how
/// many literals it rewrote and shows the first, and what comes back is the
/// canonical form (literals of one value as one).
#[test]
fn literals_kept_by_value_are_counted_and_the_first_is_shown() {
    let ws = Workspace::new();
    let file = ws.write(
        "values.ttl",
        "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n\
         <urn:a> <urn:p> \"0.00\"^^xsd:decimal , \"+1\"^^xsd:int , \"1\"^^xsd:integer , \"2018-01-01\"^^xsd:date , \"abc\"^^xsd:integer .\n",
    );
    ws.kgfuse()
        .arg("load")
        .arg(&file)
        .assert()
        .success()
        .stdout(contains("loaded 5 quads"))
        .stderr(contains(
            "note: 2 literals kept by value, not as written",
        ))
        .stderr(contains(
            "values.ttl: \"0.00\"^^<http://www.w3.org/2001/XMLSchema#decimal> is stored as \"0\"^^<http://www.w3.org/2001/XMLSchema#decimal>",
        ));
    let values = ws.select("SELECT ?o WHERE { <urn:a> <urn:p> ?o } ORDER BY STR(?o)");
    assert_eq!(values.len(), 4, "{values:?}");
    // Nothing to say when every literal is stored as written.
    let plain = ws.write(
        "plain.ttl",
        "<urn:b> <urn:p> \"7\"^^<http://www.w3.org/2001/XMLSchema#integer> .\n",
    );
    ws.kgfuse()
        .arg("load")
        .arg(&plain)
        .assert()
        .success()
        .stderr(contains("note:").not());
}
