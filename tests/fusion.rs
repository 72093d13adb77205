//! The fused classifier end to end through the binary, on a tiny store and a
//! tiny random BERT: training to perfect accuracy on a separable labelling,
//! prediction with write-back and the `kgfuse:score` SPARQL function,
//! explanations in every format, and the errors for bad input.

mod common;

use common::{tiny_bert, Workspace};
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

/// The 16 companies of `common::tiny_companies`, loaded.
fn tiny_store(ws: &Workspace) {
    load_turtle(ws, "tiny.ttl", &common::tiny_companies());
}

/// Writes `ttl` to `name` in the workspace and loads it into its store.
fn load_turtle(ws: &Workspace, name: &str, ttl: &str) {
    let data = ws.write(name, ttl);
    ws.kgfuse().arg("load").arg(data).assert().success();
}

fn train(ws: &Workspace, out: &str, extra: &[&str]) -> assert_cmd::assert::Assert {
    let bert = ws.path("bert");
    std::fs::create_dir_all(&bert).unwrap();
    tiny_bert(&bert);
    let mut cmd = ws.kgfuse();
    cmd.args(["train", "classify", "--class", "http://example.org/Company"])
        .args(["--label", "http://example.org/risk", "--out", out])
        .args(extra)
        .arg("--bert")
        .arg(&bert);
    // Defaults for a quick run, unless the test sets them.
    for (flag, value) in [
        ("--epochs", "60"),
        ("--patience", "60"),
        ("--lr", "0.01"),
        ("--dim", "16"),
        ("--bert-layers", "1"),
        ("--batch-size", "4"),
    ] {
        if !extra.contains(&flag) {
            cmd.args([flag, value]);
        }
    }
    cmd.assert()
}

fn metrics(ws: &Workspace, model: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(ws.path(model).join("metrics.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn trains_to_perfect_accuracy_and_scores_back_into_sparql() {
    let ws = Workspace::new();
    tiny_store(&ws);
    train(&ws, "model", &[])
        .success()
        .stdout(contains("macro-F1"));
    let m = metrics(&ws, "model");
    assert_eq!(m["test_metrics"]["accuracy"], 1.0, "{m}");
    // Validation meets the views out of fold: each of its four companies
    // is scored by views fitted without it, on four fifths of the twelve.
    assert!(
        m["valid_metrics"]["accuracy"].as_f64().unwrap() >= 0.75,
        "{m}"
    );
    for file in ["config.json", "model.safetensors", "metrics.json"] {
        assert!(ws.path("model").join(file).is_file(), "{file}");
    }
    let bert = ws.path("bert");
    // Write-back: one score, label and model id per company, in their own graph.
    ws.kgfuse()
        .args([
            "predict",
            "--model",
            "model",
            "--write-back",
            "--format",
            "json",
            "--bert",
        ])
        .arg(&bert)
        .assert()
        .success();
    let counted = ws
        .kgfuse()
        .args(["query", "--format", "csv"])
        .arg("SELECT (COUNT(DISTINCT ?c) AS ?n) (SUM(IF(?s > 0.5 && ?l = <http://example.org/High>, 1, 0)) AS ?high) WHERE { GRAPH ?g { ?c kgfuse:score ?s ; kgfuse:predictedLabel ?l ; kgfuse:scoredBy ?m } FILTER(STRSTARTS(STR(?g), \"https://w3id.org/kgfuse/graph/predictions/\")) }")
        .output()
        .unwrap();
    let text = String::from_utf8(counted.stdout).unwrap();
    assert_eq!(text.lines().nth(1), Some("16,8"), "{text}");
    // The SPARQL function gives the same scores as the stored triples.
    let joined = ws
        .kgfuse()
        .args(["query", "--format", "csv", "--model", "model", "--bert"])
        .arg(&bert)
        .arg("SELECT ?c (kgfuse:score(?c) AS ?f) ?s WHERE { ?c a <http://example.org/Company> ; kgfuse:score ?s } ORDER BY ?c")
        .output()
        .unwrap();
    let text = String::from_utf8(joined.stdout).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 16, "{text}");
    for row in rows {
        let cells: Vec<f64> = row.split(',').skip(1).map(|v| v.parse().unwrap()).collect();
        assert!(
            (cells[0] - cells[1]).abs() < 1e-9 && (0.0..=1.0).contains(&cells[0]),
            "{row}"
        );
    }
}

#[test]
fn ablations_train_and_joint_loss_options_are_recorded() {
    let ws = Workspace::new();
    tiny_store(&ws);
    train(&ws, "graph", &["--no-text"]).success();
    train(&ws, "text", &["--no-graph", "--bert-layers", "0"]).success();
    train(&ws, "plain", &["--no-joint"]).success();
    let config = |m: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(ws.path(m).join("config.json")).unwrap())
            .unwrap()
    };
    assert_eq!(config("graph")["model"]["use_text"], false);
    assert_eq!(config("text")["model"]["use_graph"], false);
    assert_eq!(config("plain")["model"]["alpha"], 0.0);
    assert_eq!(metrics(&ws, "graph")["test_metrics"]["accuracy"], 1.0);
    assert_eq!(metrics(&ws, "text")["test_metrics"]["accuracy"], 1.0);
}

#[test]
fn explanations_in_every_format() {
    let ws = Workspace::new();
    tiny_store(&ws);
    train(&ws, "model", &[]).success();
    let bert = ws.path("bert");
    let explain = |format: &str| -> String {
        common::stdout_of(
            ws.kgfuse()
                .args([
                    "explain",
                    "http://example.org/c0",
                    "--model",
                    "model",
                    "--format",
                    format,
                    "--bert",
                ])
                .arg(&bert),
        )
    };
    let json: serde_json::Value = serde_json::from_str(&explain("json")).unwrap();
    let paths = json["paths"].as_array().unwrap();
    assert!(!paths.is_empty(), "{json}");
    // Fidelity over a seeded sample of the labelled entities.
    let fidelity: serde_json::Value = serde_json::from_str(&common::stdout_of(
        ws.kgfuse()
            .args([
                "evaluate",
                "explanations",
                "--model",
                "model",
                "--count",
                "3",
            ])
            .arg("--bert")
            .arg(&bert),
    ))
    .unwrap();
    assert_eq!(fidelity["entities"], 3, "{fidelity}");
    assert!(
        fidelity["mean_edges_removed"].as_f64().unwrap() >= 1.0,
        "{fidelity}"
    );
    assert_eq!(json["claim"]["kind"], "prediction", "{json}");
    assert_eq!(json["claim"]["label"], "http://example.org/High");
    // Every path's query holds in the store.
    for path in paths {
        assert_eq!(path["check"]["form"], "ASK", "{path}");
        ws.kgfuse()
            .args(["query", "--format", "csv"])
            .arg(path["check"]["sparql"].as_str().unwrap())
            .assert()
            .success()
            .stdout(contains("true"));
    }
    assert!(explain("dot").starts_with("digraph explanation {"));
    let html = explain("html");
    assert!(
        html.contains("<svg") && html.contains("company 0") && html.contains("<mark>"),
        "{html}"
    );
    let turtle = ws.write("explanation.ttl", explain("turtle"));
    ws.kgfuse().arg("load").arg(&turtle).assert().success();
    ws.kgfuse()
        .args(["query", "--format", "csv"])
        .arg("ASK { ?e a kgfuse:Explanation ; kgfuse:explains <http://example.org/c0> ; kgfuse:path/kgfuse:step/rdf:subject ?s }")
        .assert()
        .success()
        .stdout(contains("true"));
}

#[test]
fn bad_input_gives_clear_errors() {
    let ws = Workspace::new();
    tiny_store(&ws);
    let bert = ws.path("bert");
    std::fs::create_dir_all(&bert).unwrap();
    tiny_bert(&bert);
    let classify = |class: &str, label: &str| {
        ws.kgfuse()
            .args([
                "train", "classify", "--class", class, "--label", label, "--epochs", "1", "--bert",
            ])
            .arg(&bert)
            .assert()
            .failure()
    };
    classify("http://example.org/Nope", "http://example.org/risk")
        .stderr(contains("no entity of class <http://example.org/Nope>"));
    classify("http://example.org/Company", "http://example.org/nothing")
        .stderr(contains("has a <http://example.org/nothing> value"));
    classify("http://example.org/Flagged", "http://example.org/risk")
        .stderr(contains("same <http://example.org/risk> value"));
    // A model trained here does not apply to a store with another schema.
    train(&ws, "model", &["--no-text", "--epochs", "2"]).success();
    let other = ws.write(
        "other.ttl",
        "<http://example.org/x> a <http://example.org/Company> ; <http://example.org/sells> <http://example.org/y> .\n",
    );
    let other_store = || {
        let mut cmd = assert_cmd::Command::cargo_bin("kgfuse").unwrap();
        cmd.current_dir(ws.dir.path())
            .env_remove("KGFUSE_STORE")
            .args(["--store", "other-store"]);
        cmd
    };
    other_store().arg("load").arg(other).assert().success();
    other_store()
        .args(["predict", "--model", "model"])
        .assert()
        .failure()
        .stderr(contains("another schema"));
}

#[test]
fn cross_validation_of_the_fused_model() {
    let ws = Workspace::new();
    tiny_store(&ws);
    train(
        &ws,
        "unused",
        &[
            "--cross-validate",
            "--folds",
            "2",
            "--repeats",
            "1",
            "--bert-layers",
            "0",
        ],
    )
    .success()
    .stdout(contains(
        "accuracy 100.00 % ± 0.00 (mean ± std over 2 folds",
    ))
    .stdout(contains("the trees view alone, same folds: "))
    .stdout(contains(
        "the R-GCN view (the graph-only R-GCN, bagged) alone, same folds: ",
    ))
    .stderr(contains(
        "repeat 1 fold 2: accuracy 1.000 (trees view alone ",
    ))
    .stderr(contains(", R-GCN view alone "));
}

#[test]
fn scoring_some_entities_keeps_every_other_score() {
    let ws = Workspace::new();
    tiny_store(&ws);
    // Without a terminal, every preparation stage and every epoch still
    // reports on a line of its own.
    train(&ws, "model", &["--no-text", "--epochs", "5"])
        .success()
        .stderr(contains(
            "reading the class, its attributes and its neighbourhood (at ",
        ))
        .stderr(contains("fitting the trees view (at "))
        .stderr(contains("epoch 1/5: loss"))
        .stderr(contains("epoch 5/5: loss"));
    let predict = |entities: &[&str]| {
        ws.kgfuse()
            .args(["predict", "--model", "model", "--write-back"])
            .args(entities)
            .assert()
            .success();
    };
    let scored = || {
        ws.select("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?c kgfuse:score ?s } }")[0].clone()
    };
    predict(&[]);
    assert_eq!(common::parse_count(&scored()), 16);
    predict(&["http://example.org/c3"]);
    assert_eq!(
        common::parse_count(&scored()),
        16,
        "re-scoring one entity must not drop the others"
    );
    // The re-scored entity has one score, label and model, not two.
    let triples =
        ws.select("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { <http://example.org/c3> ?p ?o } }");
    assert_eq!(common::parse_count(&triples[0]), 3);
}

#[test]
fn a_model_folder_of_another_kind_is_named_with_its_command() {
    let ws = Workspace::new();
    tiny_store(&ws);
    let fake = |name: &str, kind: &str| {
        ws.write(
            &format!("{name}/config.json"),
            format!("{{\"kind\": \"{kind}\"}}"),
        );
    };
    fake("qa", "kgfuse-qa");
    ws.kgfuse()
        .args(["predict", "--model", "qa"])
        .assert()
        .failure()
        .stderr(contains("holds a question answerer"))
        .stderr(contains("`ask`"));
    fake("classifier", "kgfuse-fused-classifier");
    let bert = ws.path("bert");
    std::fs::create_dir_all(&bert).unwrap();
    tiny_bert(&bert);
    ws.kgfuse()
        .args(["ask", "--model", "classifier", "--bert"])
        .arg(&bert)
        .arg("who controls [company 1]")
        .assert()
        .failure()
        .stderr(contains("holds a fused classifier"))
        .stderr(contains("`predict`"));
}

#[test]
fn truncated_weights_fail_before_any_work() {
    let ws = Workspace::new();
    tiny_store(&ws);
    train(&ws, "model", &["--epochs", "2"]).success();
    let weights = ws.path("model").join("model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    ws.kgfuse()
        .args(["predict", "--model", "model", "--bert"])
        .arg(ws.path("bert"))
        .assert()
        .failure()
        .stderr(contains("model.safetensors: truncated"));
    std::fs::remove_file(&weights).unwrap();
    ws.kgfuse()
        .args(["predict", "--model", "model", "--bert"])
        .arg(ws.path("bert"))
        .assert()
        .failure()
        .stderr(contains("model.safetensors"));
}

/// 24 applicants as a table: numbers, a date and a boolean, no text and no
/// edge; high risk when the amount is above 5,000. The defaults train the
/// attributes alone, and the literal columns carry the label.
#[test]
fn a_table_without_text_or_edges_trains_on_its_numbers() {
    let ws = Workspace::new();
    let mut ttl = String::from(
        "@prefix ex: <http://example.org/> .\n@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n",
    );
    for i in 0..24 {
        let amount = 1000 + 397 * i;
        let risk = if amount > 5000 { "ex:High" } else { "ex:Low" };
        ttl.push_str(&format!(
            "ex:a{i} a ex:Company ; ex:amount {amount}.5 ; ex:age {} ; ex:listed {} ; ex:opened \"20{:02}-0{}-15\"^^xsd:date ; ex:risk {risk} .\n",
            20 + i % 7,
            i % 2 == 0,
            i % 20,
            1 + i % 9
        ));
    }
    load_turtle(&ws, "table.ttl", &ttl);
    let out = train(
        &ws,
        "model",
        &[
            "--test-fraction",
            "0.25",
            "--valid-fraction",
            "0.25",
            "--baselines",
        ],
    )
    .success()
    .stdout(contains("views: attributes, graph"))
    .get_output()
    .stdout
    .clone();
    // The baselines on the same split: a tree finds the amount threshold.
    let out = String::from_utf8(out).unwrap();
    let accuracy = |model: &str| -> f64 {
        let line = out
            .lines()
            .find(|l| l.starts_with(model))
            .unwrap_or_else(|| panic!("{out}"));
        line[model.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(accuracy("gradient boosting") >= 0.8, "{out}");
    assert!(accuracy("logistic regression") >= 0.8, "{out}");
    assert!(accuracy("graph only") >= 0.0, "{out}");
    assert!(!out.contains("text only"), "no text to read: {out}");
    let m = metrics(&ws, "model");
    assert!(
        m["test_metrics"]["accuracy"].as_f64().unwrap() >= 0.8,
        "{m}"
    );
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.path("model").join("config.json")).unwrap(),
    )
    .unwrap();
    let columns: Vec<&str> = config["vocabulary"]["columns"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["number", "number", "boolean", "date"], "{config}");
    // The saved encoders score the table again.
    ws.kgfuse()
        .args(["predict", "--model", "model", "--format", "json", "--bert"])
        .arg(ws.path("bert"))
        .assert()
        .success()
        .stdout(contains("http://example.org/a23"));
}

/// The tiny store without its texts trains (the graph side alone); a
/// text-only model of it is refused with a clear message.
#[test]
fn a_graph_without_text_trains_and_a_text_only_model_of_it_is_refused() {
    let ws = Workspace::new();
    let mut ttl = String::from("@prefix ex: <http://example.org/> .\n");
    for i in 0..16 {
        let (class, risk) = if i % 2 == 0 {
            (", ex:Flagged", "ex:High")
        } else {
            ("", "ex:Low")
        };
        ttl.push_str(&format!(
            "ex:c{i} a ex:Company{class} ; ex:risk {risk} ; ex:bank ex:b{} .\n",
            i % 3
        ));
    }
    load_turtle(&ws, "graph.ttl", &ttl);
    train(&ws, "model", &["--no-trees"])
        .success()
        .stdout(contains("views: attributes, graph\n"));
    assert_eq!(metrics(&ws, "model")["test_metrics"]["accuracy"], 1.0);
    assert!(!ws.path("model").join("trees.json").exists());
    assert!(!ws.path("model").join("rgcn-view").exists());
    // With the trees view (the default): its trees, and on a store this
    // small the R-GCN view they read, are kept in the folder, and the
    // reopened model scores the same entities the same way.
    train(&ws, "trees", &[])
        .success()
        .stdout(contains("views: attributes, graph, trees\n"))
        .stdout(contains("trees view: gradient-boosted trees"))
        .stdout(contains("the R-GCN view's log-odds among its columns"))
        .stdout(contains("the network starts from"))
        .stderr(contains("training again from seeded weights"));
    assert!(ws.path("trees").join("trees.json").is_file());
    assert!(ws.path("trees").join("rgcn-view/config.json").is_file());
    // Validation chose whether the network starts from the view (the lower
    // log loss; ties keep the view), and the folder keeps that choice for
    // `predict`.
    let summary = metrics(&ws, "trees");
    let choice = &summary["prior_choice"];
    let kept = choice["with_prior"].as_f64().unwrap() <= choice["without_prior"].as_f64().unwrap();
    // Unless the trained network beats the trees view alone on validation
    // by more than a standard error, the view alone is kept: the network
    // then scores as the view does. Validation keeping the untrained
    // network from the view (epoch 0) keeps the view itself: nothing to
    // compare.
    let versus = &summary["view_or_network"];
    let untrained_view = summary["training"]["best_epoch"] == 0 && kept;
    assert_eq!(versus.is_null(), untrained_view, "{versus}");
    let view_alone = untrained_view || {
        let [network, view, error] =
            ["network", "view_alone", "standard_error"].map(|k| versus[k].as_f64().unwrap());
        network + error >= view
    };
    // Validation here is a few entities, so the comparison is out of fold
    // over training and validation (when it trained the network at all).
    if summary["training"]["best_epoch"].as_u64().unwrap() > 0 {
        assert_eq!(versus["out_of_fold"], true);
        let [train, valid, entities] = [&summary["train"], &summary["valid"], &versus["entities"]]
            .map(|v| v.as_u64().unwrap());
        assert!(valid < entities && entities <= train + valid, "{versus}");
    }
    if view_alone {
        assert_eq!(
            summary["valid_metrics"]["accuracy"],
            summary["trees_alone"][0]["accuracy"]
        );
    }
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.path("trees").join("config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["model"]["trees_prior"], kept || view_alone);
    assert_eq!(config["rgcn_view"], true);
    assert_eq!(metrics(&ws, "trees")["test_metrics"]["accuracy"], 1.0);
    // `--start-from-view` trains once, from the view.
    train(&ws, "from-view", &["--start-from-view"])
        .success()
        .stderr(contains("training again").not());
    assert!(metrics(&ws, "from-view")["prior_choice"].is_null());
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.path("from-view").join("config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["model"]["trees_prior"], true);
    ws.kgfuse()
        .args(["evaluate", "classify", "--model", "trees"])
        .assert()
        .success()
        .stdout(contains("1.0000"));
    let explanation = ws
        .kgfuse()
        .args(["explain", "http://example.org/c0", "--model", "trees"])
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(explanation.status.success());
    let explanation: serde_json::Value = serde_json::from_slice(&explanation.stdout).unwrap();
    assert!(
        !explanation["paths"].as_array().unwrap().is_empty(),
        "{explanation}"
    );
    // A company added since is scored too: the R-GCN view meets it as a
    // node it never learned an input for.
    load_turtle(
        &ws,
        "later.ttl",
        "@prefix ex: <http://example.org/> .\nex:c99 a ex:Company ; ex:bank ex:b0 .\n",
    );
    ws.kgfuse()
        .args(["predict", "--model", "trees", "--format", "json"])
        .assert()
        .success()
        .stdout(contains("http://example.org/c99"));
    train(&ws, "text", &["--no-graph"])
        .failure()
        .stderr(contains("has a text"));
}

fn lora(rank: usize) -> kgfuse::text::LoraConfig {
    kgfuse::text::LoraConfig {
        rank,
        alpha: 4.0,
        dropout: 0.1,
        seed: 3,
    }
}

/// Every weight of a BERT's `VarMap`, by name, as values.
fn weights_of(encoder: &kgfuse::text::BertEncoder) -> Vec<(String, Vec<f32>)> {
    let data = encoder.varmap().data().lock().unwrap();
    let mut out: Vec<(String, Vec<f32>)> = data
        .iter()
        .map(|(n, v)| {
            let values = v.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
            (n.clone(), values)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn max_abs_diff(a: &candle_core::Tensor, b: &candle_core::Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar()
        .unwrap()
}

#[test]
fn a_lora_step_changes_the_adapters_and_no_base_weight() {
    use kgfuse::fusion::{TextItem, TextSide};
    let dir = tempfile::tempdir().unwrap();
    tiny_bert(dir.path());
    let encoder = kgfuse::text::BertEncoder::load(dir.path(), &common::device()).unwrap();
    let texts = vec![
        "acme defaulted on its loan .".to_owned(),
        "zurich holdings ltd .".to_owned(),
    ];
    let mut side = TextSide::new(encoder, 1, lora(2), &texts, |_| {}).unwrap();
    let base = weights_of(side.encoder());
    // What training hands to the optimizer: A and B of six projections.
    let vars = side.trainable_vars();
    assert_eq!(vars.len(), 12);
    let mut optimizer = kgfuse::tasks::optimizer::AdamW::new(vars.clone(), 0.01, 0.01).unwrap();
    side.set_training(true);
    let items: Vec<TextItem> = (0..2)
        .map(|text| TextItem {
            text,
            span: None,
            source: kgfuse::fusion::data::ItemSource::Mention,
        })
        .collect();
    let refs: Vec<&TextItem> = items.iter().collect();
    let features = side.features(&refs).unwrap();
    let weights =
        candle_core::Tensor::randn(0f32, 1.0, features.shape(), features.device()).unwrap();
    let loss = features.mul(&weights).unwrap().sum_all().unwrap();
    optimizer.step(&loss.backward().unwrap()).unwrap();
    assert_eq!(weights_of(side.encoder()), base, "a base weight moved");
    let moved_b = side
        .encoder()
        .top_layer_tensors(1)
        .into_iter()
        .filter(|(n, t)| {
            n.ends_with(".lora_b")
                && t.abs()
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap()
                    > 0.0
        })
        .count();
    assert_eq!(moved_b, 6, "every B left zero");
}

#[test]
fn a_lora_model_saves_only_its_adapters_and_loads_them_merged() {
    use kgfuse::fusion::pipeline::{train_classifier, TrainOptions};
    use kgfuse::fusion::{FusionConfig, FusionModel, TextItem, TextLimits, TextSide};
    use kgfuse::text::BertEncoder;
    let ws = Workspace::new();
    tiny_store(&ws);
    let bert = ws.path("bert");
    std::fs::create_dir_all(&bert).unwrap();
    tiny_bert(&bert);
    let device = common::device();
    let store = kgfuse::store::Store::open_read_only(&ws.store()).unwrap();
    let options = TrainOptions {
        class: oxigraph::model::NamedNode::new("http://example.org/Company").unwrap(),
        label: oxigraph::model::NamedNode::new("http://example.org/risk").unwrap(),
        split_property: None,
        valid_fraction: 0.25,
        test_fraction: 0.25,
        mentions_query: None,
        limits: TextLimits::default(),
        node_ids: false,
        path_length: 3,
        path_features: 512,
        trees: true,
        rgcn_view: kgfuse::fusion::RgcnViewUse::Auto,
        choose_start: true,
        model: FusionConfig {
            dim: 8,
            layers: 1,
            decomposition: kgfuse::gnn::Decomposition::None,
            dropout: 0.1,
            text_dim: 0,
            bert_layers: 1,
            use_text: true,
            use_graph: true,
            alpha: 0.5,
            beta: 0.1,
            temperature: 0.1,
            lora: lora(2),
            ..FusionConfig::default()
        },
        trainer: kgfuse::tasks::trainer::TrainerConfig {
            epochs: 2,
            learning_rate: 0.01,
            ..Default::default()
        },
        bert_lr_scale: 0.1,
        batch_size: 4,
    };
    let encoder = BertEncoder::load(&bert, &device).unwrap();
    let (mut model, summary) = train_classifier(
        &store,
        &options,
        Some(encoder),
        &device,
        &mut |_| {},
        &mut |_, _| Ok(()),
    )
    .unwrap();
    // Adapters far from zero, as after a long training.
    let text = model.text.as_ref().unwrap();
    let trained: Vec<_> = text
        .encoder()
        .top_layer_tensors(1)
        .into_iter()
        .map(|(n, t)| (n, t.randn_like(0.0, 0.5).unwrap()))
        .collect();
    text.encoder().set_tensors(&trained).unwrap();
    let all: Vec<usize> = (0..model.inputs.targets.len()).collect();
    let items: Vec<TextItem> = model
        .inputs
        .targets
        .iter()
        .flat_map(|t| t.items.clone())
        .collect();
    let refs: Vec<&TextItem> = items.iter().collect();
    let adapted = model.text.as_mut().unwrap().features(&refs).unwrap();
    let adapted_p = model.probabilities(&all).unwrap();
    model
        .save(&ws.path("lora-model"), &options.trainer, &summary)
        .unwrap();

    // The file: the network and the adapters, no BERT weight.
    let saved =
        candle_core::safetensors::load(ws.path("lora-model").join("model.safetensors"), &device)
            .unwrap();
    assert!(
        !saved.keys().any(|n| n.starts_with("bert::")),
        "{:?}",
        saved.keys()
    );
    let adapter_elements: usize = saved
        .iter()
        .filter(|(n, _)| n.starts_with("lora::"))
        .map(|(_, t)| t.elem_count())
        .sum();
    assert_eq!(saved.keys().filter(|n| n.starts_with("lora::")).count(), 12);
    let layer_elements: usize = BertEncoder::load(&bert, &device)
        .unwrap()
        .top_layer_tensors(1)
        .iter()
        .map(|(_, t)| t.elem_count())
        .sum();
    assert!(
        4 * adapter_elements < layer_elements,
        "{adapter_elements} adapter weights vs {layer_elements} in a layer"
    );

    // Loaded: merged into the weights, and the same outputs.
    let mut loaded = FusionModel::load(
        &ws.path("lora-model"),
        &store,
        None,
        Some(BertEncoder::load(&bert, &device).unwrap()),
        None,
        &device,
        |_| {},
    )
    .unwrap();
    assert!(!loaded.text.as_ref().unwrap().encoder().has_adapters());
    // The loaded inputs may list texts and targets in another order.
    let text_index: std::collections::HashMap<&String, usize> = loaded
        .inputs
        .texts
        .iter()
        .enumerate()
        .map(|(i, t)| (t, i))
        .collect();
    let same_items: Vec<TextItem> = items
        .iter()
        .map(|i| TextItem {
            text: text_index[&model.inputs.texts[i.text]],
            ..i.clone()
        })
        .collect();
    let same_refs: Vec<&TextItem> = same_items.iter().collect();
    let merged = loaded.text.as_mut().unwrap().features(&same_refs).unwrap();
    let diff = max_abs_diff(&merged, &adapted);
    assert!(
        diff < 1e-5,
        "merged features are {diff} off the adapted ones"
    );
    let entity =
        |m: &FusionModel, t: usize| m.inputs.view.node(m.inputs.targets[t].node).to_string();
    let loaded_all: Vec<usize> = (0..loaded.inputs.targets.len()).collect();
    let probabilities = loaded.probabilities(&loaded_all).unwrap();
    let merged_p: std::collections::HashMap<String, Vec<f32>> = loaded_all
        .iter()
        .map(|&t| entity(&loaded, t))
        .zip(probabilities)
        .collect();
    assert_eq!(merged_p.len(), adapted_p.len());
    for (t, a) in all.iter().zip(&adapted_p) {
        let b = &merged_p[&entity(&model, *t)];
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
        }
    }
    // Without the adapters the features differ: the merge did the work.
    let mut plain = TextSide::new(
        BertEncoder::load(&bert, &device).unwrap(),
        1,
        kgfuse::text::LoraConfig::default(),
        &model.inputs.texts,
        |_| {},
    )
    .unwrap();
    assert!(max_abs_diff(&plain.features(&refs).unwrap(), &adapted) > 1e-3);
}

#[test]
fn a_lora_model_trains_predicts_and_explains() {
    let ws = Workspace::new();
    tiny_store(&ws);
    train(&ws, "model", &["--lora-rank", "2"]).success();
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.path("model").join("config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["model"]["lora"]["rank"], 2, "{config}");
    assert_eq!(metrics(&ws, "model")["test_metrics"]["accuracy"], 1.0);
    let bert = ws.path("bert");
    ws.kgfuse()
        .args(["predict", "--model", "model", "--write-back", "--bert"])
        .arg(&bert)
        .assert()
        .success();
    let counted = ws.select("SELECT (COUNT(DISTINCT ?c) AS ?n) (SUM(IF(?s > 0.5 && ?l = <http://example.org/High>, 1, 0)) AS ?high) WHERE { GRAPH ?g { ?c kgfuse:score ?s ; kgfuse:predictedLabel ?l } }");
    assert_eq!(
        counted[0]
            .split('\t')
            .map(common::parse_count)
            .collect::<Vec<_>>(),
        [16, 8]
    );
    let json: serde_json::Value = serde_json::from_str(&common::stdout_of(
        ws.kgfuse()
            .args([
                "explain",
                "http://example.org/c0",
                "--model",
                "model",
                "--format",
                "json",
                "--bert",
            ])
            .arg(&bert),
    ))
    .unwrap();
    assert_eq!(json["claim"]["label"], "http://example.org/High", "{json}");
}

/// On AIFB+ (a fixed graph of people, groups, projects and publications)
/// the trees read the R-GCN view, and `explain` traces the view's share of
/// a person's score to the R-GCN's own paths in the store.
#[test]
fn aifb_people_are_explained_through_the_rgcn_view() {
    let ws = Workspace::new();
    let aifb = common::shared_data().join("aifb");
    ws.kgfuse()
        .arg("load")
        .args(["aifb+.nt.gz", "train.nt.gz", "valid.nt.gz"].map(|f| aifb.join(f)))
        .assert()
        .success();
    ws.kgfuse()
        .args(["train", "classify", "--no-text", "--epochs", "3"])
        .args(["--class", "http://swrc.ontoware.org/ontology#Person"])
        .args(["--label", "http://swrc.ontoware.org/ontology#employs"])
        .args(["--out", "model"])
        .assert()
        .success()
        .stdout(contains("the R-GCN view's log-odds among its columns"));
    assert!(ws
        .path("model")
        .join("rgcn-view/model.safetensors")
        .is_file());
    let explanation = ws
        .kgfuse()
        .args(["explain", "--model", "model", "--format", "json"])
        .arg("http://www.aifb.uni-karlsruhe.de/Personen/viewPersonOWL/id2127instance")
        .output()
        .unwrap();
    assert!(explanation.status.success());
    let explanation: serde_json::Value = serde_json::from_slice(&explanation.stdout).unwrap();
    let method = explanation["method"].as_str().unwrap();
    assert!(method.contains("the R-GCN view's share"), "{method}");
    assert!(
        !explanation["paths"].as_array().unwrap().is_empty(),
        "{explanation}"
    );
}

/// A model bound again with the frozen text features of an earlier
/// binding runs BERT only over the texts that binding did not read, and
/// scores every entity as a binding from scratch does.
#[test]
fn a_frozen_model_bound_again_reuses_the_text_features_it_has() {
    use kgfuse::fusion::FusionModel;
    use kgfuse::text::BertEncoder;
    let ws = Workspace::new();
    tiny_store(&ws);
    train(&ws, "model", &["--bert-layers", "0", "--epochs", "3"]).success();
    let (dir, bert, device) = (ws.path("model"), ws.path("bert"), common::device());
    let store = kgfuse::store::Store::open_read_only(&ws.store()).unwrap();
    let load = |entities: Option<&[oxigraph::model::NamedOrBlankNode]>,
                known: Option<&kgfuse::fusion::FrozenFeatures>| {
        let mut encoded = 0;
        let model = FusionModel::load(
            &dir,
            &store,
            entities,
            Some(BertEncoder::load(&bert, &device).unwrap()),
            known,
            &device,
            |n| encoded += n,
        )
        .unwrap();
        (model, encoded)
    };
    let scores = |model: &mut FusionModel| {
        let all: Vec<usize> = (0..model.inputs.targets.len()).collect();
        let names: Vec<String> = all
            .iter()
            .map(|&t| {
                model
                    .inputs
                    .view
                    .node(model.inputs.targets[t].node)
                    .to_string()
            })
            .collect();
        let p = model.probabilities(&all).unwrap();
        names
            .into_iter()
            .zip(p)
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let (mut fresh, texts) = load(None, None);
    assert!(texts > 0);
    let expected = scores(&mut fresh);
    let close = |got: &std::collections::BTreeMap<String, Vec<f32>>| {
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>()
        );
        for (a, b) in got.values().zip(expected.values()) {
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
            }
        }
    };
    // Every text known: BERT runs over none.
    let known = fresh.text.as_ref().unwrap().frozen_features().unwrap();
    let (mut again, encoded) = load(None, Some(&known));
    assert_eq!(encoded, 0);
    close(&scores(&mut again));
    // Half the companies known: BERT runs over the other half's texts only.
    let class = oxigraph::model::NamedNode::new("http://example.org/Company").unwrap();
    let companies = kgfuse::graph::class_members(&store, &class).unwrap();
    let (half, _) = load(Some(&companies[..companies.len() / 2]), None);
    let known = half.text.as_ref().unwrap().frozen_features().unwrap();
    let (mut rest, encoded) = load(None, Some(&known));
    assert!(
        encoded > 0 && encoded < texts,
        "{encoded} of {texts} texts encoded"
    );
    close(&scores(&mut rest));
}
