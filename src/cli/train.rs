//! `kgfuse train` and `kgfuse evaluate`: learning tasks and their metrics.

use std::path::PathBuf;

use anyhow::Result;
use candle_core::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use kgfuse::fusion::pipeline::TrainOptions;
use kgfuse::fusion::FusionConfig;
use kgfuse::gnn::Decomposition;
use kgfuse::store::terms::parse_iri;
use kgfuse::tasks::checkpoint::{self, ModelKind};
use kgfuse::tasks::classify::{
    cross_validate, default_trainer as rgcn_trainer, mean_and_std, ClassifyConfig, ClassifyData,
};
use kgfuse::tasks::linkpred::{
    new_model, read_tsv, triples_from_graph, DecoderKind, LinkData, LinkPredConfig, LinkPredFolder,
    LinkPredMetrics, LinkPredTraining,
};

use kgfuse::tasks::metrics::RankMetrics;
use kgfuse::tasks::trainer::{train, Checkpointing, ParamGroup, TrainerConfig};

use super::{Access, Context};

/// Train a model.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    #[command(subcommand)]
    task: TrainTask,
}

#[derive(Debug, clap::Subcommand)]
enum TrainTask {
    /// Link prediction: R-GCN encoder + ComplEx decoder (or DistMult), 1-N
    /// scoring, early stopping on filtered validation MRR; writes a model
    /// folder.
    #[command(after_help = "Example:
  kgfuse train linkpred --train umls/train.txt --valid umls/valid.txt --test umls/test.txt --out models/umls
  kgfuse train linkpred --train-graph https://example.org/umls/train --valid-graph https://example.org/umls/valid \\
      --test-graph https://example.org/umls/test --out models/umls")]
    Linkpred(LinkPredArgs),
    /// Entity classification with the fused text+graph model (BERT spans +
    /// R-GCN subgraph, joint loss): trains on the store's entities of
    /// --class that have a --label value, reports held-out metrics and writes
    /// a model folder; with --cross-validate, it is evaluated by repeated
    /// stratified k-fold cross-validation instead.
    #[command(after_help = "Examples:
  kgfuse quickstart   # loads and reasons over the sample finance graph
  kgfuse train classify --class risk:Company --label risk:riskLabel --out models/risk
  kgfuse train classify --class risk:Company --label risk:riskLabel --no-text --out models/risk-graph")]
    Classify(ClassifyArgs),
    /// Entity classification with the R-GCN on the graph alone, an input per
    /// node (transductive: best on a fixed graph such as AIFB+): a model
    /// folder for `predict`, `explain` and `evaluate classify`, or with
    /// --cross-validate repeated stratified k-fold cross-validation.
    #[command(after_help = "Examples:
  kgfuse train rgcn --label http://swrc.ontoware.org/ontology#employs --out models/aifb-rgcn
  kgfuse train rgcn --cross-validate --label http://swrc.ontoware.org/ontology#employs   # AIFB+ benchmark
  kgfuse train rgcn --class risk:Company --label risk:riskLabel --fanouts 25,10 --batch-size 256")]
    Rgcn(RgcnArgs),
    /// Question answering: a model that reads which relations each hop of
    /// a question follows and how many hops it takes, trained on
    /// MetaQA-format questions labelled with their relation paths in the
    /// store (3-hop questions composed from the files' own phrasings when
    /// they have none); writes a model folder for `kgfuse ask`.
    #[command(
        after_help = "Examples (MetaQA, 1- and 2-hop together; the model also answers 3-hop questions):
  kgfuse --store metaqa load --format pipe --base http://example.org/metaqa/ ../shared/data/metaqa/kb.txt
  kgfuse --store metaqa train qa --questions ../shared/data/metaqa/qa_1hop.txt \\
      --questions ../shared/data/metaqa/qa_2hop.txt --out models/metaqa
  kgfuse --store metaqa train qa --questions my_3hop.txt --label-hops 3 --out models/mine   # label 3-hop files too"
    )]
    Qa(super::qa::TrainQaArgs),
}

#[derive(Debug, clap::Args)]
struct ClassifyArgs {
    /// The entities' class (IRI or prefix:local).
    #[arg(long)]
    class: String,
    /// The property whose value is the label (IRI or prefix:local).
    #[arg(long)]
    label: String,
    /// Node embedding width.
    #[arg(long, default_value_t = FusionConfig::default().dim)]
    dim: usize,
    /// Basis matrices (0: one full matrix per relation).
    #[arg(long, default_value_t = 0)]
    bases: usize,
    #[arg(long, default_value_t = FusionConfig::default().dropout)]
    dropout: f64,
    #[arg(long, default_value_t = TrainOptions::default_trainer().epochs)]
    epochs: usize,
    #[arg(long, default_value_t = TrainOptions::default_trainer().learning_rate)]
    lr: f64,
    #[arg(long, default_value_t = TrainOptions::default_trainer().weight_decay)]
    weight_decay: f64,
    #[arg(long, default_value_t = TrainOptions::default_trainer().seed)]
    seed: u64,
    #[command(flatten)]
    cv: CrossValidationArgs,
    #[command(flatten)]
    fused: super::classify::FusedArgs,
}

#[derive(Debug, clap::Args)]
struct RgcnArgs {
    /// The property whose value is the label (IRI or prefix:local).
    #[arg(long)]
    label: String,
    /// Only entities of this class.
    #[arg(long)]
    class: Option<String>,
    /// Model folder to write.
    #[arg(long, default_value = "kgfuse-rgcn")]
    out: PathBuf,
    /// Node embedding width.
    #[arg(long, default_value_t = ClassifyConfig::default().embedding_dim)]
    dim: usize,
    /// Hidden width of the two-layer R-GCN.
    #[arg(long, default_value_t = ClassifyConfig::default().hidden_dim)]
    hidden: usize,
    /// Basis matrices (0: one full matrix per relation).
    #[arg(long, default_value_t = 0)]
    bases: usize,
    #[arg(long, default_value_t = ClassifyConfig::default().dropout)]
    dropout: f64,
    /// Epochs (no early stopping: the best validation epoch is kept).
    #[arg(long, default_value_t = rgcn_trainer().epochs)]
    epochs: usize,
    #[arg(long, default_value_t = rgcn_trainer().learning_rate)]
    lr: f64,
    #[arg(long, default_value_t = rgcn_trainer().weight_decay)]
    weight_decay: f64,
    #[arg(long, default_value_t = rgcn_trainer().seed)]
    seed: u64,
    /// Mini-batches of --batch-size labelled entities with neighbour
    /// sampling: incoming edges kept per node for layer 1, 2 (e.g. 25,10);
    /// for graphs whose full-batch training does not fit.
    #[arg(long, value_delimiter = ',')]
    fanouts: Vec<usize>,
    /// Labelled entities per sampled mini-batch (with --fanouts).
    #[arg(long, default_value_t = ClassifyConfig::default().batch_size, requires = "fanouts")]
    batch_size: usize,
    #[command(flatten)]
    cv: CrossValidationArgs,
}

#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Cross-validation")]
struct CrossValidationArgs {
    /// Evaluate the model by repeated stratified k-fold cross-validation
    /// instead of training one model folder.
    #[arg(long)]
    cross_validate: bool,
    #[arg(long, default_value_t = 10, requires = "cross_validate")]
    folds: usize,
    #[arg(long, default_value_t = 3, requires = "cross_validate")]
    repeats: usize,
    /// Write every fold's result and the summary as JSON here.
    #[arg(long, requires = "cross_validate")]
    metrics: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct LinkPredArgs {
    /// Training triples, head<TAB>relation<TAB>tail.
    #[arg(long, required_unless_present = "train_graph")]
    train: Option<PathBuf>,
    /// Validation triples (early stopping).
    #[arg(long, required_unless_present = "valid_graph")]
    valid: Option<PathBuf>,
    /// Test triples (evaluated at the end).
    #[arg(long, required_unless_present = "test_graph")]
    test: Option<PathBuf>,
    /// Training triples from this named graph of the store instead of a file.
    #[arg(long, conflicts_with = "train")]
    train_graph: Option<String>,
    /// Validation triples from this named graph of the store.
    #[arg(long, conflicts_with = "valid")]
    valid_graph: Option<String>,
    /// Test triples from this named graph of the store.
    #[arg(long, conflicts_with = "test")]
    test_graph: Option<String>,
    /// Model folder to write.
    #[arg(long)]
    out: PathBuf,
    /// Continue the run saved in this model folder (weights, optimizer
    /// moments, random generator), with the same data and sizes; raise
    /// --epochs to train on after a finished run.
    #[arg(long)]
    resume: Option<PathBuf>,
    #[arg(long, default_value_t = 200)]
    dim: usize,
    /// R-GCN layers (1 to 3), each `dim` wide.
    #[arg(long, default_value_t = 1)]
    layers: usize,
    /// Basis matrices shared by the relations (0: one full matrix per relation).
    #[arg(long, default_value_t = 10)]
    bases: usize,
    /// Block-diagonal relation matrices with this many blocks (instead of bases).
    #[arg(long)]
    blocks: Option<usize>,
    #[arg(long, default_value_t = 0.5)]
    dropout: f64,
    /// Skip connections around the R-GCN layers.
    #[arg(long)]
    residual: bool,
    /// Decoder: complex (ComplEx: tells (h, r, t) from (t, r, h)) or
    /// distmult (symmetric: scores both alike).
    #[arg(long, default_value = "complex", value_parser = ["complex", "distmult"])]
    decoder: String,
    #[arg(long, default_value_t = 0.1)]
    label_smoothing: f64,
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    #[arg(long, default_value_t = 200)]
    epochs: usize,
    #[arg(long, default_value_t = 0.003)]
    lr: f64,
    #[arg(long, default_value_t = 0.0)]
    weight_decay: f64,
    #[arg(long, default_value_t = 20)]
    patience: usize,
    #[arg(long, default_value_t = 5)]
    validate_every: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// Evaluate a trained model.
#[derive(Debug, clap::Args)]
pub struct EvaluateArgs {
    #[command(subcommand)]
    task: EvaluateTask,
}

#[derive(Debug, clap::Subcommand)]
enum EvaluateTask {
    /// A fused classifier's metrics on the labelled entities of this store
    /// (e.g. a world generated with another seed).
    #[command(after_help = "Example:
  kgfuse --store world2 evaluate classify --model models/risk")]
    Classify(super::classify::EvaluateArgs),
    /// Explanation fidelity: for a sample of labelled entities, the drop in
    /// the predicted class's probability when the top path's edges are
    /// removed, against removing as many random edges of the entity's
    /// receptive field.
    #[command(after_help = "Example:
  kgfuse evaluate explanations --model models/risk --count 100")]
    Explanations(super::classify::FidelityArgs),
    /// Hits@1 (over all questions and over those with a reachable answer),
    /// the reachable share, and answer-set precision/recall/F1.
    #[command(after_help = "Example:
  kgfuse --store metaqa evaluate qa --model models/metaqa --questions ../shared/data/metaqa/qa_2hop.txt --valid-only")]
    Qa(super::qa::EvaluateQaArgs),
    /// Filtered MRR and Hits@1/3/10 (both directions, realistic ranks).
    Linkpred {
        /// Model folder from `kgfuse train linkpred`.
        #[arg(long)]
        model: PathBuf,
        /// Triples to rank (default: the test split stored with the model).
        #[arg(long)]
        triples: Option<PathBuf>,
    },
}

fn print_metrics(name: &str, m: &RankMetrics) {
    println!(
        "{name:<6} MRR {:.4}  Hits@1 {:.4}  Hits@3 {:.4}  Hits@10 {:.4}  ({} ranks)",
        m.mrr, m.hits_at_1, m.hits_at_3, m.hits_at_10, m.count
    );
}

/// A split from its file, or from its graph in the store.
fn split(
    file: &Option<PathBuf>,
    graph: &Option<String>,
    ctx: &Context,
) -> Result<Vec<[String; 3]>> {
    match (file, graph) {
        (Some(path), _) => Ok(read_tsv(path)?),
        (None, Some(graph)) => {
            let store = ctx.open(Access::ReadOnly)?;
            Ok(triples_from_graph(&store, &parse_iri(graph)?)?)
        }
        // clap requires one of the two.
        (None, None) => unreachable!("clap requires a file or a graph for every split"),
    }
}

pub fn run_train(args: TrainArgs, ctx: &Context) -> Result<()> {
    match args.task {
        TrainTask::Linkpred(a) => train_linkpred(a, ctx),
        TrainTask::Classify(a) => train_classify(a, ctx),
        TrainTask::Rgcn(a) => train_rgcn(a, ctx),
        TrainTask::Qa(a) => super::qa::train_qa(a, ctx),
    }
}

fn train_classify(a: ClassifyArgs, ctx: &Context) -> Result<()> {
    let common = super::classify::CommonArgs {
        label: &a.label,
        class: &a.class,
        dim: a.dim,
        bases: a.bases,
        dropout: a.dropout,
        epochs: a.epochs,
        lr: a.lr,
        weight_decay: a.weight_decay,
        seed: a.seed,
    };
    if a.cv.cross_validate {
        return super::classify::cross_validate_fused(
            &common,
            &a.fused,
            (a.cv.folds, a.cv.repeats),
            a.cv.metrics.as_deref(),
            ctx,
        );
    }
    super::classify::train_fused(&common, &a.fused, ctx)
}

fn train_rgcn(a: RgcnArgs, ctx: &Context) -> Result<()> {
    let (folds, repeats) = (a.cv.folds, a.cv.repeats);
    let store = ctx.open(Access::ReadOnly)?;
    let label = parse_iri(&a.label)?;
    let class = a.class.as_deref().map(parse_iri).transpose()?;
    let data = ClassifyData::from_store(&store, &label, class.as_ref())?;
    eprintln!(
        "{} nodes, {} relations (with inverses), {} edges; {} labelled entities in {} classes",
        data.num_nodes,
        data.num_relations,
        data.edges.len(),
        data.examples.len(),
        data.classes.len()
    );
    let config = ClassifyConfig {
        embedding_dim: a.dim,
        hidden_dim: a.hidden,
        decomposition: if a.bases == 0 {
            Decomposition::None
        } else {
            Decomposition::Basis { bases: a.bases }
        },
        dropout: a.dropout,
        fanouts: a.fanouts.clone(),
        batch_size: a.batch_size,
    };
    let trainer = TrainerConfig {
        epochs: a.epochs,
        learning_rate: a.lr,
        weight_decay: a.weight_decay,
        patience: a.epochs,
        seed: a.seed,
        ..rgcn_trainer()
    };
    if !a.cv.cross_validate {
        return super::classify::train_graph_only(
            &data,
            &label,
            class.as_ref(),
            &config,
            &trainer,
            &a.out,
        );
    }
    let bar = super::shared::epoch_progress(folds * repeats);
    let results = cross_validate(&data, &config, &trainer, folds, repeats, &mut |r| {
        super::shared::epoch_done(
            &bar,
            format!(
                "repeat {} fold {}: accuracy {:.3}",
                r.repeat + 1,
                r.fold + 1,
                r.accuracy
            ),
        );
    })?;
    bar.finish_and_clear();
    let accuracies: Vec<f64> = results.iter().map(|r| r.accuracy).collect();
    let (mean, std) = mean_and_std(&accuracies);
    println!(
        "accuracy {:.2} % ± {:.2} (mean ± std over {} folds: {} repeats of stratified {}-fold cross-validation)",
        100.0 * mean,
        100.0 * std,
        results.len(),
        repeats,
        folds
    );
    if let Some(path) = &a.cv.metrics {
        let summary = serde_json::json!({
            "accuracy_mean": mean, "accuracy_std": std, "folds": results,
            "model": config, "trainer": trainer, "classes": data.classes,
        });
        checkpoint::write_json(path, &summary)?;
    }
    Ok(())
}

fn train_linkpred(a: LinkPredArgs, ctx: &Context) -> Result<()> {
    let data = LinkData::new(
        &split(&a.train, &a.train_graph, ctx)?,
        &split(&a.valid, &a.valid_graph, ctx)?,
        &split(&a.test, &a.test_graph, ctx)?,
    );
    let decomposition = match (a.blocks, a.bases) {
        (Some(blocks), _) => Decomposition::BlockDiagonal { blocks },
        (None, 0) => Decomposition::None,
        (None, bases) => Decomposition::Basis { bases },
    };
    let model_config = LinkPredConfig {
        embedding_dim: a.dim,
        layer_dims: vec![a.dim; a.layers],
        decomposition,
        dropout: a.dropout,
        label_smoothing: a.label_smoothing,
        batch_size: a.batch_size,
        residual: a.residual,
        decoder: match a.decoder.as_str() {
            "complex" => DecoderKind::ComplEx,
            _ => DecoderKind::DistMult,
        },
    };
    let trainer = TrainerConfig {
        epochs: a.epochs,
        learning_rate: a.lr,
        weight_decay: a.weight_decay,
        patience: a.patience,
        validate_every: a.validate_every,
        seed: a.seed,
        ..TrainerConfig::default()
    };
    eprintln!(
        "{} entities, {} relations; {} train, {} valid, {} test triples",
        data.entities.len(),
        data.relations.len(),
        data.train.len(),
        data.valid.len(),
        data.test.len()
    );
    let mut rng = ChaCha8Rng::seed_from_u64(a.seed);
    let (varmap, model) = new_model(&data, &model_config, &mut rng, &Device::Cpu)?;
    let bar = super::shared::epoch_progress(a.epochs);
    let mut task = LinkPredTraining::new(&model, &data);
    let report = train(
        &mut task,
        ParamGroup::all(&varmap),
        &trainer,
        &mut rng,
        Checkpointing {
            resume_from: a.resume.as_deref(),
            save_to: Some(&a.out),
        },
        &mut |record, improved| {
            let metric = record.metric.map_or(String::new(), |m| {
                format!(", valid MRR {m:.4}{}", if improved { " *" } else { "" })
            });
            super::shared::epoch_done(&bar, format!("loss {:.5}{metric}", record.loss));
            Ok(())
        },
    )?;
    bar.finish_and_clear();
    let known = data.known();
    let valid = model.evaluate(&data.valid, &known)?;
    let test = model.evaluate(&data.test, &known)?;
    println!(
        "best epoch {} of {} (early stop: {})",
        report.best_epoch,
        report.history.len(),
        report.stopped_early
    );
    print_metrics("valid", &valid);
    print_metrics("test", &test);
    let folder = LinkPredFolder {
        kind: ModelKind::LinkPredictor.tag().into(),
        model: model_config,
        trainer,
        data,
    };
    let metrics = LinkPredMetrics {
        valid,
        test,
        training: report,
    };
    folder.save(&a.out, &varmap, &metrics)?;
    println!("model written to {}", a.out.display());
    Ok(())
}

pub fn run_evaluate(args: EvaluateArgs, ctx: &Context) -> Result<()> {
    let (dir, triples) = match args.task {
        EvaluateTask::Classify(a) => return super::classify::evaluate(&a, ctx),
        EvaluateTask::Explanations(a) => return super::classify::evaluate_fidelity(&a, ctx),
        EvaluateTask::Qa(a) => return super::qa::evaluate_qa(a, ctx),
        EvaluateTask::Linkpred { model, triples } => (model, triples),
    };
    let (folder, model) = LinkPredFolder::open(&dir)?;
    let data = &folder.data;
    let ranked = match triples {
        Some(path) => data.ids(&read_tsv(&path)?)?,
        None => data.test.clone(),
    };
    let mut known = data.known();
    known.extend(ranked.iter().copied());
    print_metrics("eval", &model.evaluate(&ranked, &known)?);
    Ok(())
}
