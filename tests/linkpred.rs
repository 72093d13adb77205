//! The trainer and link prediction on a tiny graph: determinism, learning,
//! the model folder round trip, and the CLI.

mod common;

use candle_core::Device;
use kgfuse::gnn::Decomposition;
use kgfuse::tasks::checkpoint;
use kgfuse::tasks::linkpred::{new_model, DecoderKind, LinkData, LinkPredConfig, LinkPredTraining};
use kgfuse::tasks::trainer::{
    train, Checkpointing, EpochRecord, ParamGroup, TrainReport, TrainerConfig,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Three groups of four nodes; `peer` links every pair inside a group (both
/// ways), `member` links each node to its group. A held-out `peer` triple
/// follows from the group structure (DistMult is symmetric, so the task is too).
fn groups() -> LinkData {
    let mut all = Vec::new();
    for g in 0..3 {
        for a in 0..4 {
            all.push([format!("n{g}{a}"), "member".to_owned(), format!("group{g}")]);
            for b in 0..4 {
                if a != b {
                    all.push([format!("n{g}{a}"), "peer".to_owned(), format!("n{g}{b}")]);
                }
            }
        }
    }
    let valid = vec![all.remove(2), all.remove(20)];
    let test = vec![all.remove(7), all.remove(30)];
    LinkData::new(&all, &valid, &test)
}

fn config() -> (LinkPredConfig, TrainerConfig) {
    let model = LinkPredConfig {
        embedding_dim: 16,
        layer_dims: vec![16],
        decomposition: Decomposition::Basis { bases: 2 },
        dropout: 0.1,
        label_smoothing: 0.0,
        batch_size: 8,
        residual: true,
        decoder: DecoderKind::DistMult,
    };
    let trainer = TrainerConfig {
        epochs: 60,
        learning_rate: 0.02,
        patience: 100,
        validate_every: 10,
        ..TrainerConfig::default()
    };
    (model, trainer)
}

fn trained(seed: u64) -> (candle_nn::VarMap, Vec<f32>, f64) {
    trained_with(seed, DecoderKind::DistMult)
}

fn trained_with(seed: u64, decoder: DecoderKind) -> (candle_nn::VarMap, Vec<f32>, f64) {
    let run = run(seed, decoder, Checkpointing::default(), &Device::Cpu);
    (run.varmap, run.nodes, run.report.best_metric)
}

/// What a training run left: its weights, node embeddings, report, and the
/// epochs it ran itself (a resumed run skips those it resumed past).
struct Run {
    varmap: candle_nn::VarMap,
    nodes: Vec<f32>,
    report: TrainReport,
    epochs_run: Vec<usize>,
}

/// A fresh model and generator from `seed`, trained for the configured 60
/// epochs (or what is left of them after the run it resumes).
fn run(seed: u64, decoder: DecoderKind, checkpointing: Checkpointing, device: &Device) -> Run {
    let data = groups();
    let (mut model_config, trainer) = config();
    model_config.decoder = decoder;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (varmap, model) = new_model(&data, &model_config, &mut rng, device).unwrap();
    let mut task = LinkPredTraining::new(&model, &data);
    let mut epochs_run = Vec::new();
    let report = train(
        &mut task,
        ParamGroup::all(&varmap),
        &trainer,
        &mut rng,
        checkpointing,
        &mut |record, _| {
            epochs_run.push(record.epoch);
            Ok(())
        },
    )
    .unwrap();
    let nodes = model
        .nodes(None)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    Run {
        varmap,
        nodes,
        report,
        epochs_run,
    }
}

/// The run of seed 5 cut at epoch 30 by a failing callback (its last saved
/// state is from epoch 20: it validates every 10), then resumed by a run
/// whose own model and generator come from another seed, so that only what
/// the checkpoint restores can make it continue the first.
fn interrupted_and_resumed(device: &Device) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let save = Checkpointing {
        resume_from: None,
        save_to: Some(dir.path()),
    };
    let data = groups();
    let (model_config, trainer) = config();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (varmap, model) = new_model(&data, &model_config, &mut rng, device).unwrap();
    let mut task = LinkPredTraining::new(&model, &data);
    let interrupted = train(
        &mut task,
        ParamGroup::all(&varmap),
        &trainer,
        &mut rng,
        save,
        &mut |record, _| {
            if record.epoch == 30 {
                Err(kgfuse::error::Error::Training("interrupted".into()))
            } else {
                Ok(())
            }
        },
    );
    assert!(interrupted.is_err());
    assert!(dir.path().join("trainer_state.json").is_file());
    let resume = Checkpointing {
        resume_from: Some(dir.path()),
        save_to: Some(dir.path()),
    };
    run(6, DecoderKind::DistMult, resume, device)
}

/// Epoch, loss and metric of each record (the seconds differ between runs).
fn losses(history: &[EpochRecord]) -> Vec<(usize, f64, Option<f64>)> {
    history
        .iter()
        .map(|r| (r.epoch, r.loss, r.metric))
        .collect()
}

#[test]
fn training_is_deterministic_for_a_seed_and_learns_the_groups() {
    let (_, first, mrr) = trained(7);
    let (_, second, _) = trained(7);
    assert_eq!(first, second, "same seed, same weights");
    let (_, other, _) = trained(8);
    assert_ne!(first, other);
    assert!(mrr > 0.5, "validation MRR {mrr}");
}

#[test]
fn an_interrupted_run_resumes_to_the_same_weights() {
    let straight = run(
        5,
        DecoderKind::DistMult,
        Checkpointing::default(),
        &Device::Cpu,
    );
    let resumed = interrupted_and_resumed(&Device::Cpu);
    assert_eq!(
        resumed.epochs_run,
        (21..=60).collect::<Vec<_>>(),
        "the resumed run starts after the last checkpoint"
    );
    assert_eq!(
        losses(&resumed.report.history),
        losses(&straight.report.history),
        "the history holds the interrupted run's first 20 epochs, then the same ones as the straight run"
    );
    assert_eq!(
        straight.nodes, resumed.nodes,
        "resumed run differs from the straight one"
    );
}

/// Saved state must be loaded onto the model's device (it was read onto the
/// CPU, and setting a CUDA weight from a CPU tensor fails).
#[cfg(feature = "cuda")]
#[test]
fn a_run_on_cuda_resumes_on_cuda() {
    let Ok(device) = Device::new_cuda(0) else {
        eprintln!("no CUDA device: skipped");
        return;
    };
    let resumed = interrupted_and_resumed(&device);
    assert_eq!(resumed.epochs_run, (21..=60).collect::<Vec<_>>());
    assert_eq!(resumed.report.history.len(), 60);
    assert!(resumed
        .varmap
        .all_vars()
        .iter()
        .all(|v| v.device().is_cuda()));
}

#[test]
fn complex_decoder_learns_the_groups() {
    let (_, _, mrr) = trained_with(7, DecoderKind::ComplEx);
    assert!(mrr > 0.5, "validation MRR {mrr}");
}

#[test]
fn model_folder_round_trip() {
    let data = groups();
    let (model_config, _) = config();
    let (varmap, nodes, _) = trained(3);
    let dir = tempfile::tempdir().unwrap();
    checkpoint::save(
        dir.path(),
        &serde_json::json!({"task": "linkpred", "model": model_config}),
        &varmap,
        &serde_json::json!({"ok": true}),
    )
    .unwrap();
    let folder: serde_json::Value =
        checkpoint::load_config(dir.path(), checkpoint::ModelKind::LinkPredictor).unwrap();
    let loaded_config: LinkPredConfig = serde_json::from_value(folder["model"].clone()).unwrap();
    assert_eq!(loaded_config, model_config);
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let (mut fresh, model) = new_model(&data, &loaded_config, &mut rng, &common::device()).unwrap();
    checkpoint::load_weights(dir.path(), &mut fresh).unwrap();
    let again = model
        .nodes(None)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(nodes, again);
    assert_eq!(model.evaluate(&data.test, &data.known()).unwrap().count, 4);
}

#[test]
fn cli_trains_and_evaluates() {
    let ws = common::Workspace::new();
    let mut lines = String::new();
    for i in 0..12 {
        lines.push_str(&format!(
            "n{i}\tnext\tn{}\nn{}\tprev\tn{i}\n",
            (i + 1) % 12,
            (i + 1) % 12
        ));
    }
    let train = ws.write("train.tsv", &lines);
    let valid = ws.write("valid.tsv", "n3\tnext\tn4\n");
    let test = ws.write("test.tsv", "n5\tnext\tn6\n");
    let out = ws.path("model");
    // `train linkpred` on these splits, 8 wide, validating every epoch.
    let train_cmd = |epochs: &str| {
        let mut cmd = ws.kgfuse();
        cmd.args(["train", "linkpred", "--dim", "8", "--validate-every", "1"])
            .args(["--epochs", epochs, "--train"])
            .arg(&train)
            .arg("--valid")
            .arg(&valid)
            .arg("--test")
            .arg(&test);
        cmd
    };
    train_cmd("5")
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(predicates::str::contains("test   MRR"));
    for file in [
        "config.json",
        "model.safetensors",
        "metrics.json",
        "trainer_state.json",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }
    // `next` and `prev` are each other's reverse: the default decoder is the
    // one that can tell a triple from its reverse.
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["model"]["decoder"], "complex", "{config}");
    // Three more epochs on top of the five.
    train_cmd("8")
        .arg("--resume")
        .arg(&out)
        .arg("--out")
        .arg(ws.path("model2"))
        .assert()
        .success()
        .stdout(predicates::str::contains("of 8 (early stop: false)"));
    train_cmd("8")
        .arg("--resume")
        .arg(&train)
        .arg("--out")
        .arg(ws.path("model3"))
        .assert()
        .failure()
        .stderr(predicates::str::contains("no trainer_state.json"));
    ws.kgfuse()
        .args(["evaluate", "linkpred", "--model"])
        .arg(&out)
        .assert()
        .success()
        .stdout(predicates::str::contains("(2 ranks)"));
    let bad = ws.write("bad.tsv", "n1\tnext\n");
    ws.kgfuse()
        .args(["evaluate", "linkpred", "--model"])
        .arg(&out)
        .arg("--triples")
        .arg(&bad)
        .assert()
        .failure()
        .stderr(predicates::str::contains("bad.tsv:1:1"));
    let unknown = ws.write("unknown.tsv", "n1\tnext\tzz\n");
    ws.kgfuse()
        .args(["evaluate", "linkpred", "--model"])
        .arg(&out)
        .arg("--triples")
        .arg(&unknown)
        .assert()
        .failure()
        .stderr(predicates::str::contains("unknown entity \"zz\""));
}

#[test]
fn tsv_files_load_as_rdf_and_train_from_the_store() {
    let ws = common::Workspace::new();
    let base = "https://example.org/toy/";
    let mut lines = String::new();
    for i in 0..12 {
        lines.push_str(&format!("n {i}\tpeer of\tn {}\n", (i + 1) % 12));
    }
    for (split, content) in [
        ("train", lines.as_str()),
        ("valid", "n 3\tpeer of\tn 5\n"),
        ("test", "n 6\tpeer of\tn 8\n"),
    ] {
        let file = ws.write(&format!("{split}.tsv"), content);
        ws.kgfuse()
            .args([
                "load",
                "--format",
                "tsv",
                "--base",
                base,
                "--graph",
                &format!("{base}{split}"),
            ])
            .arg(&file)
            .assert()
            .success();
    }
    let rows = ws.select(&format!(
        "SELECT ?l WHERE {{ <{base}n%200> <{base}peer%20of> ?o . ?o rdfs:label ?l }}"
    ));
    assert_eq!(
        rows,
        vec!["\"n 1\""],
        "names become percent-encoded IRIs with their labels"
    );
    let out = ws.path("model");
    ws.kgfuse()
        .args([
            "train",
            "linkpred",
            "--dim",
            "8",
            "--epochs",
            "3",
            "--validate-every",
            "1",
        ])
        .args([
            "--train-graph",
            &format!("{base}train"),
            "--valid-graph",
            &format!("{base}valid"),
        ])
        .args(["--test-graph", &format!("{base}test"), "--out"])
        .arg(&out)
        .assert()
        .success()
        .stderr(predicates::str::contains(
            "12 entities, 1 relations; 12 train",
        ));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert!(
        config["data"]["entities"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("n 7")),
        "labels are the names"
    );

    let bad = ws.write("bad.tsv", "a\tb\tc\nd\t\tf\n");
    ws.kgfuse()
        .args(["load", "--format", "tsv", "--base", base])
        .arg(&bad)
        .assert()
        .failure()
        .stderr(predicates::str::contains("bad.tsv:2:3: empty name"));
}
