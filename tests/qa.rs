//! Question answering on a tiny hand-written movie KB: entity linking (with
//! and without brackets, accents, case), retrieval caps, training on a tiny
//! random BERT to perfect accuracy, answers whose paths and SPARQL hold in
//! the store, and the errors a user can run into.

mod common;

use common::{tiny_bert, Workspace};
use kgfuse::graph::{SubgraphOptions, SubgraphRetriever};
use kgfuse::qa::EntityLinker;
use kgfuse::store::Store;
use predicates::prelude::*;
use predicates::str::contains;

use common::MOVIES as BASE;

/// The movie KB of `common::movie_kb`, loaded in pipe syntax under [`BASE`].
fn movie_kb(ws: &Workspace) {
    let path = ws.write("kb.txt", common::movie_kb());
    ws.kgfuse()
        .args(["load", "--format", "pipe", "--base", BASE])
        .arg(path)
        .assert()
        .success();
}

fn questions(ws: &Workspace) -> std::path::PathBuf {
    ws.write("questions.txt", common::movie_questions())
}

fn bert(ws: &Workspace) -> std::path::PathBuf {
    let dir = ws.path("bert");
    std::fs::create_dir_all(&dir).unwrap();
    tiny_bert(&dir);
    dir
}

fn train(ws: &Workspace, out: &str) -> assert_cmd::assert::Assert {
    common::train_movie_qa(ws, &bert(ws), &ws.path(out)).assert()
}

/// `kgfuse ask` with the model folder `qa` and the tiny BERT, then `extra`.
/// `ask --format json QUESTION`, its answer set parsed.
fn ask_json(ws: &Workspace, question: &str) -> serde_json::Value {
    let out = common::stdout_of(&mut ask(ws, &["--format", "json", question]));
    serde_json::from_str(&out).unwrap()
}

fn ask(ws: &Workspace, extra: &[&str]) -> assert_cmd::Command {
    let mut cmd = ws.kgfuse();
    cmd.args(["ask", "--model"])
        .arg(ws.path("qa"))
        .arg("--bert")
        .arg(ws.path("bert"))
        .args(extra);
    cmd
}

#[test]
fn linking_by_brackets_and_by_labels_ignores_case_and_accents() {
    let ws = Workspace::new();
    movie_kb(&ws);
    let store = Store::open_read_only(&ws.store()).unwrap();
    let linker = EntityLinker::from_store(&store).unwrap();
    let iri = |name: &str| format!("<{BASE}{}>", name.replace(' ', "%20"));
    let linked = |q: &str| -> Vec<(String, Vec<String>)> {
        linker
            .mentions(q)
            .unwrap()
            .into_iter()
            .map(|m| {
                (
                    m.text,
                    m.candidates.iter().map(ToString::to_string).collect(),
                )
            })
            .collect()
    };
    assert_eq!(
        linked("who directed [The Ice Storm]"),
        vec![("The Ice Storm".to_owned(), vec![iri("The Ice Storm")])]
    );
    // No brackets: the longest label wins over the shorter ones inside it.
    assert_eq!(
        linked("who directed THE ICE STORM?"),
        vec![("THE ICE STORM".to_owned(), vec![iri("The Ice Storm")])]
    );
    assert_eq!(
        linked("who directed amelie"),
        vec![("amelie".to_owned(), vec![format!("<{BASE}Am%C3%A9lie>")])]
    );
    // Labels inside words do not count ("Ed Wood" is not in "Edwoodian").
    let error = linker
        .mentions("who liked Edwoodian films")
        .unwrap_err()
        .to_string();
    assert!(error.contains("no entity of the store is named"), "{error}");
    // Linking without brackets is scored against the bracketed form.
    let ed_wood = linker.lookup("Ed Wood");
    assert_eq!(
        linker.agrees_with_brackets("who directed [Ed Wood]", &ed_wood),
        Some(true)
    );
    assert_eq!(
        linker.agrees_with_brackets("who directed [Ed Wood]", &linker.lookup("Drama")),
        Some(false)
    );
    assert_eq!(
        linker.agrees_with_brackets("who directed [Heat]", &ed_wood),
        None
    );
    let error = linker
        .mentions("who directed [Sleepy Hollw]")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("closest labels: \"Sleepy Hollow\""),
        "suggests the close label: {error}"
    );
}

#[test]
fn retrieval_caps_hub_fanout() {
    let ws = Workspace::new();
    movie_kb(&ws);
    let store = Store::open_read_only(&ws.store()).unwrap();
    let linker = EntityLinker::from_store(&store).unwrap();
    let drama = linker.lookup("Drama");
    let capped = SubgraphRetriever::new(&store, SubgraphOptions { hops: 1, fanout: 5 })
        .unwrap()
        .retrieve(&drama)
        .unwrap();
    assert_eq!(capped.nodes.len(), 6, "the hub and 5 of its 26 films");
    let whole = SubgraphRetriever::new(
        &store,
        SubgraphOptions {
            hops: 1,
            fanout: 100,
        },
    )
    .unwrap()
    .retrieve(&drama)
    .unwrap();
    assert_eq!(whole.nodes.len(), 27);
}

#[test]
fn trains_to_perfect_accuracy_and_answers_with_paths_that_hold() {
    let ws = Workspace::new();
    movie_kb(&ws);
    train(&ws, "qa").success().stdout(contains(
        "questions.txt (validation): 12 questions  Hits@1 100.00 %",
    ));
    let model = ws.path("qa");
    for file in [
        "config.json",
        "model.safetensors",
        "metrics.json",
        "split.json",
    ] {
        assert!(model.join(file).is_file(), "{file}");
    }
    let set = ask_json(&ws, "which films starred christina ricci");
    let mut labels: Vec<&str> = set["answers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["label"].as_str().unwrap())
        .collect();
    labels.sort();
    assert_eq!(labels, vec!["Sleepy Hollow", "The Ice Storm"]);
    // The same answers over HTTP from `kgfuse serve`.
    let bert_dir = ws.path("bert");
    let server = common::Server::start(
        &ws,
        &["--qa-model", "qa", "--bert", bert_dir.to_str().unwrap()],
        &[],
    );
    let ask_url = server.url("/api/ask");
    let (status, served) = common::post_json(
        &ask_url,
        r#"{"question": "which films starred christina ricci"}"#,
    );
    assert_eq!(status, 200);
    assert_eq!(served["answers"], set["answers"], "{served}");
    let (status, error) = common::post_json(&ask_url, r#"{"question": " "}"#);
    assert_eq!(status, 400);
    assert_eq!(error["field"], "question");
    // And in the workbench's Ask page, in a real browser.
    common::browser_check(
        &server,
        &[
            "ask",
            "which films starred christina ricci",
            "Sleepy Hollow",
        ],
    );
    drop(server);
    for answer in set["answers"].as_array().unwrap() {
        let path = &answer["paths"][0];
        assert_eq!(path["labels"][0], "Christina Ricci");
        // The path's SPARQL, run on the store, returns this answer.
        let rows = ws.select(path["sparql"].as_str().unwrap());
        let entity = answer["entity"].as_str().unwrap();
        assert!(
            rows.iter()
                .any(|r| r.contains(entity.trim_matches(|c| c == '<' || c == '>'))),
            "{rows:?} lacks {entity}"
        );
    }
    let evaluate_valid = |extra: &[&str]| {
        ws.kgfuse()
            .args(["evaluate", "qa", "--valid-only", "--model"])
            .arg(&model)
            .arg("--questions")
            .arg(ws.path("questions.txt"))
            .arg("--bert")
            .arg(ws.path("bert"))
            .args(extra)
            .assert()
    };
    // Asked without brackets, every validation question links its entity.
    evaluate_valid(&["--strip-brackets"])
        .success()
        .stdout(contains(
            "questions.txt (brackets removed): 12 questions  Hits@1 100.00 %",
        ))
        .stdout(contains(
            "linking accuracy 100.00 % (12 of 12 questions linked to exactly their bracketed entity)",
        ));
    // The held-out share is the saved one: a shorter file is not it.
    evaluate_valid(&["--limit", "5"])
        .failure()
        .stderr(contains("questions.txt has 5 questions here").and(contains("the same limit")));
    // Text output names the entity, the answer and the SPARQL.
    ask(&ws, &["who directed [Ed Wood]"])
        .assert()
        .success()
        .stdout(contains("1. Tim Burton"))
        .stdout(contains("SPARQL: SELECT DISTINCT ?answer"));
    // The fusion exporters explain an answer; the Turtle loads back.
    let why = ws.path("why.ttl");
    ask(&ws, &["--format", "turtle", "who directed [Ed Wood]"])
        .arg("--out")
        .arg(&why)
        .assert()
        .success();
    ws.kgfuse().arg("load").arg(&why).assert().success();
    let explained = ws.select("SELECT ?a WHERE { ?x kgfuse:explains ?a ; kgfuse:answers \"who directed [Ed Wood]\" ; kgfuse:path/kgfuse:queryForm \"SELECT\" }");
    assert!(
        explained.iter().any(|r| r.contains("Tim%20Burton")),
        "the answer, its question and a SELECT check: {explained:?}"
    );
    ask(&ws, &["--format", "html", "who directed [Ed Wood]"])
        .assert()
        .success()
        .stdout(contains("<html").and(contains("Tim Burton")));
}

#[test]
fn errors_name_the_problem() {
    let ws = Workspace::new();
    // An empty store cannot train.
    let empty = Workspace::new();
    empty
        .kgfuse()
        .args(["load"])
        .arg(empty.write("e.ttl", ""))
        .assert()
        .success();
    let questions = questions(&ws);
    empty
        .kgfuse()
        .args(["train", "qa", "--questions"])
        .arg(&questions)
        .arg("--bert")
        .arg(bert(&ws))
        .arg("--out")
        .arg(empty.path("m"))
        .assert()
        .failure()
        .stderr(contains("the store is empty"));
    movie_kb(&ws);
    train(&ws, "qa").success();
    ask(&ws, &["who directed Heat"])
        .assert()
        .failure()
        .code(1)
        .stderr(contains(
            "no entity of the store is named in \"who directed Heat\"",
        ));
    // A model on a store of another graph.
    let other = Workspace::new();
    other
        .kgfuse()
        .args([
            "load",
            "--format",
            "pipe",
            "--base",
            "http://example.org/other/",
        ])
        .arg(other.write("kb.txt", "a|knows|b\n"))
        .assert()
        .success();
    other
        .kgfuse()
        .args(["ask", "--model"])
        .arg(ws.path("qa"))
        .arg("--bert")
        .arg(ws.path("bert"))
        .arg("who knows [a]")
        .assert()
        .failure()
        .stderr(contains("trained on another graph"));
    // A malformed question file names its line.
    let bad = ws.write("bad.txt", "who directed [Ed Wood]\tTim Burton\nno tab\n");
    ws.kgfuse()
        .args(["train", "qa", "--questions"])
        .arg(bad)
        .arg("--bert")
        .arg(ws.path("bert"))
        .arg("--out")
        .arg(ws.path("m2"))
        .assert()
        .failure()
        .stderr(contains("bad.txt:2:7"));
}

/// Two entities share the label "Mercury"; the real all-MiniLM-L6-v2 picks
/// the one whose description fits the question.
#[test]
fn ambiguous_labels_are_linked_by_bert_similarity() {
    use kgfuse::qa::{QaModel, Question, Retrieval};
    use kgfuse::tasks::trainer::TrainerConfig;
    let ws = Workspace::new();
    let ttl = ws.write(
        "mercury.ttl",
        r#"@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:planet rdfs:label "Mercury" ; rdfs:comment "the smallest planet of the solar system, closest to the sun" ; ex:orbits ex:sun .
ex:element rdfs:label "Mercury" ; rdfs:comment "a chemical element, a liquid metal once used in thermometers" ; ex:usedIn ex:thermometer .
ex:sun rdfs:label "the Sun" .
ex:thermometer rdfs:label "thermometer" .
"#,
    );
    ws.kgfuse().arg("load").arg(ttl).assert().success();
    let store = Store::open_read_only(&ws.store()).unwrap();
    let linker = EntityLinker::from_store(&store).unwrap();
    let bert = kgfuse::text::BertEncoder::load(
        &common::shared_data().join("models/all-MiniLM-L6-v2"),
        &common::device(),
    )
    .unwrap();
    let model = QaModel::new(
        kgfuse::graph::resource_predicates(&store).unwrap(),
        bert,
        Retrieval {
            hops: 1,
            fanout: 10,
            beam: 100,
        },
        8,
        TrainerConfig::default(),
    )
    .unwrap();
    let question = |text: &str| Question {
        text: text.to_owned(),
        answers: Vec::new(),
    };
    let asked = [
        question("how far from the sun does the planet [Mercury] orbit"),
        question("which chemical element is the liquid metal [Mercury]"),
    ];
    let (prepared, failed) = model.prepare(&store, &linker, &asked, &|_| {}).unwrap();
    assert!(failed.is_empty());
    let topic = |i: usize| prepared[i].as_ref().unwrap().topics[0].to_string();
    assert_eq!(topic(0), "<http://example.org/planet>");
    assert_eq!(topic(1), "<http://example.org/element>");
}

/// The quickstart's sample graph (the risk ontology and the finance sample,
/// reasoned over as `kgfuse quickstart` does) and an untrained QA model on
/// the tiny BERT in `qa`: enough for `kgfuse ask` to link questions.
fn sample_graph_with_model(ws: &Workspace) {
    use kgfuse::qa::{QaModel, Retrieval};
    use kgfuse::tasks::trainer::TrainerConfig;
    ws.load_reasoned_sample();
    let store = Store::open_read_only(&ws.store()).unwrap();
    let bert = kgfuse::text::BertEncoder::load(&bert(ws), &candle_core::Device::Cpu).unwrap();
    let model = QaModel::new(
        kgfuse::graph::resource_predicates(&store).unwrap(),
        bert,
        Retrieval {
            hops: 2,
            fanout: 100,
            beam: 1000,
        },
        8,
        TrainerConfig::default(),
    )
    .unwrap();
    model.save(&ws.path("qa"), &serde_json::json!({})).unwrap();
}

/// Without brackets a property's label ("controls") is a word of the
/// question, not its topic: only the company is linked.
#[test]
fn property_labels_are_not_topics() {
    let ws = Workspace::new();
    sample_graph_with_model(&ws);
    let set = ask_json(&ws, "which entities does Driftwood Capital AS controls");
    let linked: Vec<(&str, &str)> = set["mentions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["text"].as_str().unwrap(), m["entity"].as_str().unwrap()))
        .collect();
    let driftwood = ws.select("SELECT ?c WHERE { ?c rdfs:label \"Driftwood Capital AS\" }");
    assert_eq!(
        linked,
        vec![("Driftwood Capital AS", driftwood[0].as_str())],
        "{set}"
    );
    // A bracket still names any labelled term, a property included.
    let set = ask_json(&ws, "what is [controls]");
    assert_eq!(
        set["mentions"][0]["entity"],
        "<https://w3id.org/kgfuse/risk#controls>"
    );
}

/// A misspelt name links nothing (not the property "controls"): the error
/// names the instance it is closest to.
#[test]
fn a_misspelt_name_is_an_error_that_suggests_the_instance() {
    let ws = Workspace::new();
    sample_graph_with_model(&ws);
    let out = ask(&ws, &["who controls Driftwood Capitol AS"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("no entity of the store is named in \"who controls Driftwood Capitol AS\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("closest labels: \"Driftwood Capital AS\", "),
        "the closest instance label first: {stderr}"
    );
}

#[test]
fn empty_brackets_are_an_error() {
    let ws = Workspace::new();
    sample_graph_with_model(&ws);
    ask(&ws, &["who controls []"])
        .assert()
        .failure()
        .code(1)
        .stderr(contains(
            "empty brackets at character 14 of \"who controls []\": write the entity's name inside them",
        ));
}

/// MetaQA has a film called "Director": questions use the word, so linking
/// without brackets passes over it when the question names another film.
#[test]
fn labels_used_as_question_words_yield_to_other_mentions() {
    let ws = Workspace::new();
    let kb = ws.write(
        "kb.txt",
        "Director|directed_by|Lee Mann\nHeat|directed_by|Michael Mann\nEd Wood|directed_by|Tim Burton\n",
    );
    ws.kgfuse()
        .args(["load", "--format", "pipe", "--base", BASE])
        .arg(kb)
        .assert()
        .success();
    let store = Store::open_read_only(&ws.store()).unwrap();
    let linker = EntityLinker::from_store(&store).unwrap();
    let words = linker.question_words([
        "which films share the director of [Heat]",
        "the director of [Ed Wood] also directed which films",
        "who directed [Director]",
    ]);
    assert_eq!(words, vec!["director".to_owned()]);
    let words: std::collections::HashSet<String> = words.into_iter().collect();
    let linked = |q: &str, words: &std::collections::HashSet<String>| -> String {
        let mentions = linker.mentions_skipping(q, words).unwrap();
        assert_eq!(mentions.len(), 1, "{mentions:?}");
        mentions[0].text.clone()
    };
    let question = "which films share the director of Heat";
    assert_eq!(
        linked(question, &Default::default()),
        "director",
        "the longest"
    );
    assert_eq!(linked(question, &words), "Heat");
    // The only instance named is taken even if it is a question word.
    assert_eq!(linked("who directed Director", &words), "Director");
}

/// 1- and 2-hop questions only: training composes 3-hop ones from their
/// phrasings ("which films did the director of" + "the films starred by"
/// + "[actor]"), so the model answers a question of three hops.
#[test]
fn three_hop_questions_are_composed_from_one_and_two_hop_phrasings() {
    let ws = Workspace::new();
    movie_kb(&ws);
    let directed = common::DIRECTED;
    let starred = [
        (
            "Christina Ricci",
            "The Ice Storm|Sleepy Hollow",
            "Ang Lee|Tim Burton",
        ),
        ("Johnny Depp", "Sleepy Hollow|Ed Wood", "Tim Burton"),
        ("Audrey Tautou", "Amélie", "Jean-Pierre Jeunet"),
        ("Dominique Pinon", "Delicatessen", "Jean-Pierre Jeunet"),
        ("Tang Wei", "Lust Caution", "Ang Lee"),
    ];
    let mut lines = String::new();
    for (film, director) in directed {
        lines.push_str(&format!("who directed [{film}]\t{director}\n"));
        lines.push_str(&format!("who is the director of [{film}]\t{director}\n"));
        let same: Vec<&str> = directed
            .iter()
            .filter(|(f, d)| *d == director && *f != film)
            .map(|(f, _)| *f)
            .collect();
        lines.push_str(&format!(
            "which films did the director of [{film}] direct\t{}\n",
            same.join("|")
        ));
    }
    for (actor, films, directors) in starred {
        lines.push_str(&format!("which films starred [{actor}]\t{films}\n"));
        lines.push_str(&format!(
            "who directed the films starred by [{actor}]\t{directors}\n"
        ));
    }
    lines.push_str("who starred in [The Ice Storm]\tChristina Ricci|Kevin Kline\n");
    lines.push_str("who starred in [Sleepy Hollow]\tChristina Ricci|Johnny Depp\n");
    lines.push_str("who starred in [Amélie]\tAudrey Tautou\n");
    for (actor, others) in [
        ("Christina Ricci", "Kevin Kline|Johnny Depp"),
        ("Johnny Depp", "Christina Ricci"),
        ("Kevin Kline", "Christina Ricci"),
    ] {
        lines.push_str(&format!(
            "who starred in the films starred by [{actor}]\t{others}\n"
        ));
    }
    let questions = ws.write("multihop.txt", lines.repeat(3));
    let bert = bert(&ws);
    let out = ws
        .kgfuse()
        .args([
            "train",
            "qa",
            "--epochs",
            "80",
            "--lr",
            "0.02",
            "--patience",
            "80",
        ])
        .args([
            "--valid-fraction",
            "0.2",
            "--inner-dim",
            "32",
            "--batch-size",
            "8",
        ])
        .arg("--questions")
        .arg(&questions)
        .arg("--bert")
        .arg(&bert)
        .arg("--out")
        .arg(ws.path("qa"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let composed = stderr
        .lines()
        .find_map(|l| l.strip_prefix("composed "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse::<usize>().ok());
    assert!(composed.is_some_and(|n| n > 0), "{stderr}");
    let set = ask_json(
        &ws,
        "which films did the director of the films starred by [Kevin Kline] direct",
    );
    assert_eq!(set["hop_probs"].as_array().unwrap().len(), 3);
    // Kevin Kline -> The Ice Storm -> Ang Lee -> Lust Caution (and back to
    // The Ice Storm): Lust Caution is three hops away and nowhere nearer.
    let answers = set["answers"].as_array().unwrap();
    let lust = answers
        .iter()
        .find(|a| a["label"] == "Lust Caution")
        .unwrap_or_else(|| panic!("{set}"));
    let steps = lust["paths"][0]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3, "{set}");
    assert!(
        answers
            .iter()
            .all(|a| ["Lust Caution", "The Ice Storm"].contains(&a["label"].as_str().unwrap())),
        "{set}"
    );
}
