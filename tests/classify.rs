//! Graph-only entity classification on a toy store whose labels follow the
//! graph: every person works in one of two departments.

mod common;

use kgfuse::store::format::{FileFormat, Syntax};
use kgfuse::store::load::LoadSource;
use kgfuse::store::{LoadOptions, Loader, Store};
use kgfuse::tasks::classify::{cross_validate, ClassifyConfig, ClassifyData};
use kgfuse::tasks::trainer::TrainerConfig;
use oxigraph::io::RdfFormat;
use oxigraph::model::NamedNode;

fn toy_turtle() -> String {
    let mut ttl = String::from("@prefix ex: <http://example.com/> .\n");
    for i in 0..24 {
        let dept = if i % 2 == 0 {
            "ex:research"
        } else {
            "ex:sales"
        };
        let label = if i % 2 == 0 { "\"R\"" } else { "\"S\"" };
        ttl.push_str(&format!(
            "ex:p{i} ex:worksIn {dept} ; ex:group {label} ; ex:knows ex:p{} .\n",
            (i + 2) % 24
        ));
    }
    ttl
}

fn store() -> Store {
    let store = Store::in_memory().unwrap();
    let data: &'static [u8] = Box::leak(toy_turtle().into_bytes().into_boxed_slice());
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
