//! `kgfuse reason` and `kgfuse check` end to end on a store.

mod common;

use common::Workspace;
use predicates::str::contains;

const ONTOLOGY: &str = "@prefix ex: <http://example.com/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
ex:Bank rdfs:subClassOf ex:Company .
ex:Company owl:disjointWith ex:Person .
ex:owns a owl:TransitiveProperty .
ex:acme a ex:Bank ; ex:owns ex:beta .
ex:beta ex:owns ex:gamma .
";

const INFERRED: &str = "https://w3id.org/kgfuse/graph/inferred";

fn inferred_count(ws: &Workspace) -> u64 {
    let rows = ws.select(&format!(
        "SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{INFERRED}> {{ ?s ?p ?o }} }}"
    ));
    common::parse_count(&rows[0])
}

/// The inferred graph's triples, sorted.
fn inferred_triples(ws: &Workspace) -> Vec<String> {
    ws.select(&format!(
        "SELECT ?s ?p ?o WHERE {{ GRAPH <{INFERRED}> {{ ?s ?p ?o }} }} ORDER BY ?s ?p ?o"
    ))
}

/// Runs `kgfuse reason` and returns its stdout.
fn reason(ws: &Workspace) -> String {
    common::stdout_of(ws.kgfuse().arg("reason"))
}

#[test]
fn reason_writes_only_new_triples_and_is_idempotent() {
    let ws = Workspace::new();
    let file = ws.write("onto.ttl", ONTOLOGY);
    ws.kgfuse().arg("load").arg(&file).assert().success();
    ws.kgfuse()
        .arg("reason")
        .assert()
        .success()
        .stderr(contains("round   1"))
        .stderr(contains("time: read "));
    let first = inferred_triples(&ws);
    assert!(!first.is_empty());
    ws.kgfuse().args(["query", &format!("ASK {{ GRAPH <{INFERRED}> {{ <http://example.com/acme> <http://example.com/owns> <http://example.com/gamma> }} }}")])
        .assert().success().stdout("true\n");
    ws.kgfuse().args(["query", &format!("ASK {{ GRAPH <{INFERRED}> {{ <http://example.com/acme> a <http://example.com/Bank> }} }}")])
        .assert().success().stdout("false\n");

    // A re-run writes nothing and leaves the same graph.
    let n = first.len();
    assert!(reason(&ws).contains(&format!(
        "{n} inferred triples in <{INFERRED}>: 0 added, 0 removed, {n} unchanged"
    )));
    assert_eq!(inferred_triples(&ws), first, "re-running changes nothing");

    // New data brings the closure up to date: two more `owns` entailments.
    let more = ws.write(
        "more.ttl",
        "<http://example.com/gamma> <http://example.com/owns> <http://example.com/delta> .",
    );
    ws.kgfuse().arg("load").arg(&more).assert().success();
    assert!(reason(&ws).contains(&format!("2 added, 0 removed, {n} unchanged")));
    ws.kgfuse().args(["query", &format!("ASK {{ GRAPH <{INFERRED}> {{ <http://example.com/acme> <http://example.com/owns> <http://example.com/delta> }} }}")])
        .assert().success().stdout("true\n");

    // Asserting an entailed triple takes it out of the inferred graph.
    let stated = ws.write(
        "stated.ttl",
        "<http://example.com/acme> <http://example.com/owns> <http://example.com/gamma> .",
    );
    ws.kgfuse().arg("load").arg(&stated).assert().success();
    assert!(reason(&ws).contains("0 added, 1 removed"));
    ws.kgfuse().args(["query", &format!("ASK {{ GRAPH <{INFERRED}> {{ <http://example.com/acme> <http://example.com/owns> <http://example.com/gamma> }} }}")])
        .assert().success().stdout("false\n");
    assert_eq!(inferred_count(&ws), n as u64 + 1);
}

#[test]
fn dry_run_counts_per_rule_and_writes_nothing() {
    let ws = Workspace::new();
    let file = ws.write("onto.ttl", ONTOLOGY);
    ws.kgfuse().arg("load").arg(&file).assert().success();
    let out = ws.path("inferred.nt");
    ws.kgfuse()
        .args(["reason", "--dry-run", "--output"])
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("| cax-sco"))
        .stdout(contains("| prp-trp"));
    assert_eq!(inferred_count(&ws), 0);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("<http://example.com/acme> <http://example.com/owns> <http://example.com/gamma> . # prp-trp"), "{text}");
    // The file loads back as N-Triples.
    let copy = Workspace::new();
    copy.kgfuse().arg("load").arg(&out).assert().success();
    ws.kgfuse()
        .args(["reason", "--profile", "rdfs", "--dry-run"])
        .assert()
        .success()
        .stdout(contains("| rdfs9"));
}

#[test]
fn why_prints_the_derivation_tree() {
    let ws = Workspace::new();
    let file = ws.write("onto.ttl", ONTOLOGY);
    ws.kgfuse().arg("load").arg(&file).assert().success();
    ws.kgfuse()
        .args([
            "reason",
            "--why",
            "<http://example.com/acme> a <http://example.com/Company>",
        ])
        .assert()
        .failure()
        .stderr(contains("not an IRI"));
    ws.kgfuse()
        .args([
            "reason",
            "--why",
            "<http://example.com/acme> rdf:type <http://example.com/Company>",
        ])
        .assert()
        .success()
        .stdout(contains("[by cax-sco]"))
        .stdout(contains(
            "<http://example.com/Bank> rdfs:subClassOf <http://example.com/Company>  [asserted]",
        ));
    let out = ws
        .kgfuse()
        .args([
            "reason",
            "--json",
            "--why",
            "<http://example.com/acme> <http://example.com/owns> <http://example.com/gamma>",
        ])
        .output()
        .unwrap();
    let tree: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tree["rule"], "prp-trp");
    assert_eq!(tree["premises"].as_array().unwrap().len(), 3);
    ws.kgfuse()
        .args([
            "reason",
            "--why",
            "<http://example.com/gamma> <http://example.com/owns> <http://example.com/acme>",
        ])
        .assert()
        .failure()
        .stderr(contains("neither asserted nor entailed"));
}

#[test]
fn check_lists_violations_and_exits_non_zero() {
    let ws = Workspace::new();
    let file = ws.write("onto.ttl", ONTOLOGY);
    ws.kgfuse().arg("load").arg(&file).assert().success();
    ws.kgfuse()
        .arg("check")
        .assert()
        .success()
        .stdout(contains("0 inconsistencies"));
    let bad = ws.write(
        "bad.ttl",
        "<http://example.com/acme> a <http://example.com/Person> .",
    );
    ws.kgfuse().arg("load").arg(&bad).assert().success();
    ws.kgfuse()
        .arg("check")
        .assert()
        .code(1)
        .stdout(contains("cax-dw: inconsistent"))
        .stdout(contains(
            "<http://example.com/acme> rdf:type <http://example.com/Person>",
        ))
        .stdout(contains("1 inconsistency"));
    let out = ws.kgfuse().args(["check", "--json"]).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["rule"], "cax-dw");
}

#[test]
fn runaway_closures_stop_with_a_clear_error() {
    let ws = Workspace::new();
    let file = ws.write("onto.ttl", ONTOLOGY);
    ws.kgfuse().arg("load").arg(&file).assert().success();
    ws.kgfuse()
        .args(["reason", "--max-triples", "10"])
        .assert()
        .failure()
        .stderr(contains("exceeds 10 triples"));
    assert_eq!(inferred_count(&ws), 0, "nothing is written");
}

/// A failed run keeps the graph of the last successful one, whole.
#[test]
fn a_failed_reason_keeps_the_old_inferred_graph() {
    let ws = Workspace::new();
    let file = ws.write("onto.ttl", ONTOLOGY);
    ws.kgfuse().arg("load").arg(&file).assert().success();
    reason(&ws);
    let before = inferred_triples(&ws);
    assert!(!before.is_empty());
    let more = ws.write(
        "more.ttl",
        "<http://example.com/gamma> <http://example.com/owns> <http://example.com/delta> .",
    );
    ws.kgfuse().arg("load").arg(&more).assert().success();
    ws.kgfuse()
        .args(["reason", "--max-triples", "12"])
        .assert()
        .failure()
        .stderr(contains("exceeds 12 triples"));
    assert_eq!(inferred_triples(&ws), before);
}

/// A large owl:sameAs class multiplies the closure when it is read out;
/// the limit applies to that expansion too, before memory runs out.
#[test]
fn a_closure_that_explodes_over_same_as_stops_with_a_clear_error() {
    let ws = Workspace::new();
    let mut ttl = String::from(
        "@prefix ex: <http://example.com/> .\n@prefix owl: <http://www.w3.org/2002/07/owl#> .\n",
    );
    for i in 0..200 {
        ttl.push_str(&format!("ex:i{i} owl:sameAs ex:i0 ; ex:p ex:v{i} .\n"));
    }
    let file = ws.write("merged.ttl", ttl);
    ws.kgfuse().arg("load").arg(&file).assert().success();
    ws.kgfuse()
        .args(["reason", "--max-triples", "50000"])
        .assert()
        .failure()
        .stderr(contains("expands to"))
        .stderr(contains("the largest holds 200 individuals"));
    assert_eq!(inferred_count(&ws), 0, "nothing is written");
}

/// FIBO (`../shared/data/fibo`), the risk ontology and the finance sample,
/// each in its own graph, reasoned over together: the ontology's alignment
/// puts the sample under FIBO's classes and properties without an
/// inconsistency, and a derivation names the graph of every asserted
/// premise, FIBO's own axioms included.
#[test]
fn fibo_and_the_risk_ontology_reason_together_and_trees_name_each_premise_graph() {
    let ws = Workspace::new();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (graph, path) in [
        ("kgg:fibo", common::shared_data().join("fibo")),
        ("kgg:ontology", repo.join("ontologies/risk.ttl")),
        ("kgg:sample", repo.join("data/finance.ttl")),
    ] {
        ws.kgfuse()
            .args(["load", "--graph", graph])
            .arg(path)
            .assert()
            .success();
    }
    let reasoned = reason(&ws);
    assert!(reasoned.contains("; 0 inconsistencies"), "{reasoned}");
    let count = |pattern: &str| {
        common::parse_count(
            &ws.select(&format!(
                "SELECT (COUNT(*) AS ?n) WHERE {{ SELECT DISTINCT * WHERE {{ {pattern} }} }}"
            ))[0],
        )
    };
    const FIBO: &str = "https://spec.edmcouncil.org/fibo/ontology/";
    const CMNS: &str = "https://www.omg.org/spec/Commons/";
    let loans = count("?x a risk:Loan");
    assert!(loans > 0);
    assert_eq!(
        count(&format!(
            "?x a <{FIBO}FBC/FinancialInstruments/FinancialInstruments/DebtInstrument> FILTER(STRSTARTS(STR(?x), STR(data:)))"
        )),
        loans,
        "every loan is a FIBO debt instrument (FIBO: Loan ⊑ DebtInstrument)"
    );
    assert_eq!(
        count(&format!(
            "?x a <{CMNS}Organizations/LegalPerson> FILTER(STRSTARTS(STR(?x), STR(data:)))"
        )),
        count("?x a risk:LegalEntity"),
    );
    assert_eq!(
        count(&format!("?a <{FIBO}FND/Relations/Relations/controls> ?b")),
        count("?a risk:controls ?b"),
    );
    let named = common::stdout_of(ws.kgfuse().args(["query", "--named", "fibo-classes"]));
    assert!(
        named.contains(&format!("<{CMNS}Organizations/LegalPerson>")),
        "{named}"
    );

    let why = common::stdout_of(ws.kgfuse().args([
        "reason",
        "--why",
        "data:loan/0000 rdf:type fibo:FBC/FinancialInstruments/FinancialInstruments/DebtInstrument",
    ]));
    for premise in [
        "fibo:LOAN/LoansGeneral/Loans/Loan rdfs:subClassOf fibo:FBC/FinancialInstruments/FinancialInstruments/DebtInstrument  [asserted in kgg:fibo]",
        "risk:Loan rdfs:subClassOf fibo:LOAN/LoansGeneral/Loans/Loan  [asserted in kgg:ontology]",
        "data:loan/0000 rdf:type risk:Loan  [asserted in kgg:sample]",
    ] {
        assert!(why.contains(premise), "{premise} missing from\n{why}");
    }
}

/// The ontology names what the exposure channels need: a borrower of a
/// defaulted loan and a sanctioned party are classes the reasoner infers,
/// exactly for the entities the plain graph pattern finds.
#[test]
fn the_reasoner_infers_defaulted_borrowers_and_sanctioned_parties() {
    let ws = Workspace::new();
    ws.load_reasoned_sample();
    let count = |pattern: &str| {
        common::parse_count(
            &ws.select(&format!(
                "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ {pattern} }}"
            ))[0],
        )
    };
    for (class, pattern) in [
        (
            "risk:DefaultedBorrower",
            "?loan risk:borrower ?x . ?event risk:onLoan ?loan ; a risk:Default",
        ),
        (
            "risk:SanctionedParty",
            "?action risk:targets ?x ; a risk:Sanction",
        ),
    ] {
        let found = count(pattern);
        assert!(found > 0, "{class}: no instance in the sample");
        assert_eq!(count(&format!("?x a {class}")), found, "{class}");
        assert_eq!(
            count(&format!("?x a {class} . {pattern}")),
            found,
            "{class}: the same entities"
        );
    }
}
