//! Graph-only entity classification on a toy store whose labels follow the
//! graph: every person works in one of two departments. Cross-validated,
//! and as a model folder that `predict`, `explain` and `evaluate classify`
//! take.

mod common;

use common::{stdout_of, toy_turtle};
use kgfuse::fusion::pipeline::predict_with_graph_classifier;
use kgfuse::store::format::{FileFormat, Syntax};
use kgfuse::store::load::LoadSource;
use kgfuse::store::{LoadOptions, Loader, Store};
use kgfuse::tasks::classify::{cross_validate, ClassifyConfig, ClassifyData};
use kgfuse::tasks::graph_classifier::GraphClassifier;
use kgfuse::tasks::trainer::TrainerConfig;
use oxigraph::io::RdfFormat;
use oxigraph::model::NamedNode;

fn store() -> Store {
    store_of(toy_turtle())
}

fn store_of(turtle: String) -> Store {
    let store = Store::in_memory().unwrap();
    let data: &'static [u8] = Box::leak(turtle.into_bytes().into_boxed_slice());
    let source = LoadSource::Bytes {
        name: "toy.ttl".into(),
        data,
        format: FileFormat {
            syntax: Syntax::Rdf(RdfFormat::Turtle),
            gzip: false,
        },
    };
    Loader::new(&store, LoadOptions::default())
        .load_sources(&[source])
        .unwrap();
    store
}

/// An 8-wide R-GCN and 40 epochs without early stopping: enough for the toy graph.
fn small_model() -> (ClassifyConfig, TrainerConfig) {
    let config = ClassifyConfig {
        embedding_dim: 8,
        hidden_dim: 8,
        dropout: 0.5,
        ..ClassifyConfig::default()
    };
    let trainer = TrainerConfig {
        epochs: 40,
        learning_rate: 0.05,
        patience: 40,
        warmup_epochs: 0,
        ..TrainerConfig::default()
    };
    (config, trainer)
}

#[test]
fn labels_stay_out_of_the_graph_and_are_learned() {
    let store = store();
    let label = NamedNode::new("http://example.com/group").unwrap();
    let data = ClassifyData::from_store(&store, &label, None).unwrap();
    assert_eq!(data.examples.len(), 24);
    assert_eq!(data.classes, vec!["R", "S"]);
    assert_eq!(
        data.num_relations, 4,
        "worksIn and knows, with inverses; the label property is left out"
    );
    let (config, trainer) = small_model();
    let results = cross_validate(&data, &config, &trainer, 3, 1, &mut |_| {}).unwrap();
    assert_eq!(results.len(), 3);
    let mean = results.iter().map(|r| r.accuracy).sum::<f64>() / 3.0;
    assert!(mean > 0.9, "accuracy {mean}");
    let again = cross_validate(&data, &config, &trainer, 3, 1, &mut |_| {}).unwrap();
    // Everything but the wall-clock seconds repeats.
    let outcome = |rs: &[kgfuse::tasks::classify::FoldResult]| -> Vec<(f64, usize, Vec<f64>)> {
        rs.iter()
            .map(|r| {
                (
                    r.accuracy,
                    r.best_epoch,
                    r.history.iter().map(|e| e.loss).collect(),
                )
            })
            .collect()
    };
    assert_eq!(outcome(&results), outcome(&again), "seeded, so repeatable");
}

#[test]
fn neighbour_sampled_mini_batches_learn_the_labels_too() {
    let store = store();
    let label = NamedNode::new("http://example.com/group").unwrap();
    let data = ClassifyData::from_store(&store, &label, None).unwrap();
    let (small, trainer) = small_model();
    let config = ClassifyConfig {
        fanouts: vec![3, 3],
        batch_size: 4,
        ..small
    };
    let results = cross_validate(&data, &config, &trainer, 3, 1, &mut |_| {}).unwrap();
    let mean = results.iter().map(|r| r.accuracy).sum::<f64>() / 3.0;
    assert!(mean > 0.9, "accuracy {mean}");
    let wrong = ClassifyConfig {
        fanouts: vec![3],
        ..config
    };
    let Err(error) = cross_validate(&data, &wrong, &trainer, 3, 1, &mut |_| {}) else {
        panic!("one fan-out for two layers")
    };
    assert!(
        error
            .to_string()
            .contains("one fan-out per R-GCN layer (2)"),
        "{error}"
    );
}

#[test]
fn missing_labels_are_an_error() {
    let store = store();
    let label = NamedNode::new("http://example.com/nope").unwrap();
    let Err(error) = ClassifyData::from_store(&store, &label, None) else {
        panic!("no labels, yet data")
    };
    assert!(
        error
            .to_string()
            .contains("no entity in the graph has a <http://example.com/nope> label"),
        "{error}"
    );
}

#[test]
fn a_saved_graph_model_scores_the_same_and_a_new_node_from_its_neighbours() {
    let store = store();
    let label = NamedNode::new("http://example.com/group").unwrap();
    let data = ClassifyData::from_store(&store, &label, None).unwrap();
    let (config, trainer) = small_model();
    let (model, summary) =
        GraphClassifier::train(&data, &label, None, &config, &trainer, &mut |_, _| Ok(())).unwrap();
    assert_eq!((summary.train, summary.valid, summary.test), (14, 5, 5));
    assert!(summary.test_metrics.accuracy >= 0.8, "{summary:?}");
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path(), &summary).unwrap();
    let reopened = GraphClassifier::open(dir.path()).unwrap();
    let before =
        predict_with_graph_classifier(&model, &model.align(&store).unwrap(), &store, None).unwrap();
    let after =
        predict_with_graph_classifier(&reopened, &reopened.align(&store).unwrap(), &store, None)
            .unwrap();
    assert_eq!(before.len(), 24);
    let scores = |p: &[kgfuse::fusion::pipeline::Prediction]| -> Vec<(String, String, f64)> {
        p.iter()
            .map(|p| (p.entity.clone(), p.predicted.clone(), p.score))
            .collect()
    };
    assert_eq!(
        scores(&before),
        scores(&after),
        "the folder holds the model"
    );
    assert_eq!(
        reopened.evaluate(&store).unwrap().unwrap().accuracy,
        before
            .iter()
            .filter(|p| p.actual.as_ref() == Some(&p.predicted))
            .count() as f64
            / 24.0
    );
    // A person the model never saw, in research, knowing two researchers.
    let mut grown = toy_turtle();
    grown.push_str("ex:new ex:worksIn ex:research ; ex:knows ex:p0, ex:p2 .\n");
    let grown = store_of(grown);
    let new =
        oxigraph::model::NamedOrBlankNode::from(NamedNode::new("http://example.com/new").unwrap());
    let scored = predict_with_graph_classifier(
        &reopened,
        &reopened.align(&grown).unwrap(),
        &grown,
        Some(std::slice::from_ref(&new)),
    )
    .unwrap();
    assert_eq!(scored.len(), 1);
    assert_eq!(scored[0].predicted, "R", "{scored:?}");
    assert_eq!(scored[0].actual, None);
}

#[test]
fn graph_only_trains_a_folder_that_predict_explain_and_evaluate_take() {
    let (ws, trained) = common::toy_with_rgcn();
    assert!(trained.contains("14 train / 5 valid / 5 test"), "{trained}");
    assert!(trained.contains("model written to m"), "{trained}");
    let predicted: serde_json::Value = serde_json::from_str(&stdout_of(
        ws.kgfuse()
            .args(["predict", "--model", "m", "--format", "json"]),
    ))
    .unwrap();
    let rows = predicted.as_array().unwrap();
    assert_eq!(rows.len(), 24, "every labelled person");
    let right = rows
        .iter()
        .filter(|r| r["actual"] == r["predicted"])
        .count();
    assert!(right >= 20, "{predicted}");
    let evaluated = stdout_of(ws.kgfuse().args(["evaluate", "classify", "--model", "m"]));
    assert!(
        evaluated.contains(&format!("{:.4}", right as f64 / 24.0)),
        "{evaluated}"
    );
    let explained: serde_json::Value = serde_json::from_str(&stdout_of(ws.kgfuse().args([
        "explain",
        "http://example.com/p0",
        "--model",
        "m",
        "--format",
        "json",
    ])))
    .unwrap();
    let paths = explained["paths"].as_array().unwrap();
    assert!(!paths.is_empty(), "{explained}");
    let first = &paths[0]["steps"][0];
    assert!(
        first["subject"] == "<http://example.com/p0>"
            || first["object"] == "<http://example.com/p0>",
        "paths start at the entity: {explained}"
    );
    // The check query of each path holds in the store.
    for path in paths {
        let ask = stdout_of(
            ws.kgfuse()
                .args(["query", path["check"]["sparql"].as_str().unwrap()]),
        );
        assert!(ask.contains("true"), "{ask}");
    }
    // Cross-validation still runs, and writes no folder.
    let cv = stdout_of(ws.kgfuse().args([
        "train",
        "rgcn",
        "--cross-validate",
        "--folds",
        "3",
        "--repeats",
        "1",
        "--label",
        "http://example.com/group",
        "--out",
        "cv",
        "--epochs",
        "10",
    ]));
    assert!(cv.contains("mean ± std over 3 folds"), "{cv}");
    assert!(!ws.path("cv").exists());
}
