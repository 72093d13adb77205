//! The classifiers on the command line: `train classify` (the fused model),
//! the model folder of `train rgcn`, `evaluate classify` and `evaluate
//! explanations`.

use std::cell::Cell;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;
use candle_core::Device;
use oxigraph::model::NamedNode;

use kgfuse::fusion::pipeline::{
    train_classifier, TrainOptions, TrainProgress, DEFAULT_BERT_LR, DEFAULT_LORA_LR,
};
use kgfuse::fusion::training::evaluate as evaluate_model;
use kgfuse::fusion::{FusionConfig, FusionModel, RgcnViewUse};
use kgfuse::store::terms::parse_iri;
use kgfuse::store::Store;
use kgfuse::tasks::checkpoint::{self, ModelKind};
use kgfuse::tasks::classify::{ClassifyConfig, ClassifyData};
use kgfuse::tasks::graph_classifier::GraphClassifier;
use kgfuse::tasks::metrics::ClassificationMetrics;
use kgfuse::tasks::trainer::{EpochRecord, TrainerConfig};
use kgfuse::text::{parse_device, BertEncoder, LoraConfig};

use super::shared::{load_model, ModelArgs};

/// The library's defaults of a fused classifier, for the flags' defaults
/// (class and label are placeholders).
fn defaults() -> TrainOptions {
    let placeholder = NamedNode::new_unchecked("urn:kgfuse:default");
    TrainOptions::new(placeholder.clone(), placeholder)
}
use super::{Access, Context};

/// Options of the fused model.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Fused model")]
pub struct FusedArgs {
    /// Model folder to write.
    #[arg(long, default_value = "kgfuse-model")]
    pub out: PathBuf,
    /// Ablation: the graph side alone (no BERT).
    #[arg(long, conflicts_with = "no_graph")]
    no_text: bool,
    /// Ablation: the text side alone (no R-GCN).
    #[arg(long)]
    no_graph: bool,
    /// Ablation: the task loss alone (α = β = 0).
    #[arg(long)]
    no_joint: bool,
    /// Ablation: no trees view. By default gradient-boosted trees over each
    /// entity's flat attributes are stacked under the network out of fold
    /// (not with `--no-graph`). With BERT frozen and two classes they join
    /// the texts in the form the training labels fit best out of fold: trees
    /// over the text log-odds and attributes, or the label as a text factor
    /// (a noisy OR over the text items) AND (or OR) a structure factor. The
    /// network starts as the trees view and learns a correction to it.
    #[arg(long)]
    no_trees: bool,
    /// When the trees also read the R-GCN view: the graph-only R-GCN (an
    /// input per node, as `train rgcn`), fitted out of fold like the trees,
    /// its class log-odds columns of their table (not with --no-trees). It
    /// costs six R-GCN fits: auto reads it from stores of at most 100,000
    /// triples (AIFB+: 29,000, five seconds a fit)
    #[arg(long, default_value = "auto", value_parser = ["auto", "always", "never"])]
    rgcn_view: String,
    /// Start the network from the trees view only. By default it is also
    /// trained from seeded weights and validation keeps the better start,
    /// which costs a second training.
    #[arg(long)]
    start_from_view: bool,
    /// Also train, on the same split, logistic regression and gradient-boosted
    /// trees on the flat attribute table, and the text-only and graph-only
    /// networks, and print their test metrics beside the fused model's.
    #[arg(long)]
    baselines: bool,
    /// Weight α of the link-prediction loss on the targets' edges.
    #[arg(long, default_value_t = FusionConfig::default().alpha)]
    alpha: f64,
    /// Weight β of the span-to-node InfoNCE alignment loss.
    #[arg(long, default_value_t = FusionConfig::default().beta)]
    beta: f64,
    /// InfoNCE temperature.
    #[arg(long, default_value_t = FusionConfig::default().temperature)]
    temperature: f64,
    /// BERT layers fine-tuned, from the top (0: BERT frozen). Frozen by
    /// default: on a CPU, backpropagating through even two layers costs
    /// minutes and gigabytes per epoch against a second or two frozen.
    #[arg(long, default_value_t = FusionConfig::default().bert_layers)]
    bert_layers: usize,
    /// LoRA adapters of this rank on the --bert-layers top layers (Q, K, V,
    /// attention output, FFN in and out), trained instead of those layers'
    /// own weights; only the adapters are saved (0: fine-tune the layers whole).
    #[arg(long, default_value_t = 0)]
    lora_rank: usize,
    /// LoRA scale numerator: the update is scaled by alpha / rank.
    #[arg(long, default_value_t = 16.0)]
    lora_alpha: f64,
    /// Dropout on the LoRA adapters' inputs while training (off by default:
    /// its masks cost a third more time and memory per epoch on a CPU).
    #[arg(long, default_value_t = 0.0)]
    lora_dropout: f64,
    /// BERT's learning rate (the rest use --lr) [default: 3e-5; 1e-3 for
    /// LoRA adapters, which start from zero (`fusion::pipeline::DEFAULT_BERT_LR`,
    /// `DEFAULT_LORA_LR`)].
    #[arg(long)]
    bert_lr: Option<f64>,
    /// An input embedding per entity IRI, as the original R-GCN: better on a
    /// fixed graph (AIFB+), but the model then only knows this store's entities.
    #[arg(long)]
    node_ids: bool,
    /// Longest relation path counted from each entity as a feature of its
    /// attributes view (0 to 3; 0: none).
    #[arg(long, default_value_t = defaults().path_length as u8, value_parser = clap::value_parser!(u8).range(0..=3))]
    path_length: u8,
    /// Path features the network reads at most: of those counted (up to
    /// 4,096), the ones whose presence says most about the training labels
    /// (χ²). The --baselines read every one counted.
    #[arg(long, default_value_t = defaults().path_features)]
    path_features: usize,
    /// R-GCN layers (1 to 3): the hops the graph side sees.
    #[arg(long, default_value_t = FusionConfig::default().layers)]
    layers: usize,
    /// Targets per optimisation step, at least an eighth of the training
    /// targets (each step runs the R-GCN over the whole graph).
    #[arg(long, default_value_t = defaults().batch_size)]
    batch_size: usize,
    /// Epochs without a better validation metric before stopping (log loss;
    /// accuracy with --graph-only).
    #[arg(long, default_value_t = defaults().trainer.patience)]
    patience: usize,
    /// Split by this property's value (train, valid, test) instead of at random.
    #[arg(long)]
    split_property: Option<String>,
    #[arg(long, default_value_t = defaults().valid_fraction)]
    valid_fraction: f64,
    #[arg(long, default_value_t = defaults().test_fraction)]
    test_fraction: f64,
    /// SPARQL query returning ?entity ?text ?start ?end for text mentions
    /// [default: the named query `mentions`].
    #[arg(long, value_name = "FILE")]
    mentions_query: Option<PathBuf>,
    #[command(flatten)]
    bert: ModelArgs,
}

/// The options of `train classify` that are not the fused model's own, resolved.
pub struct CommonArgs<'a> {
    pub label: &'a str,
    pub class: &'a str,
    pub dim: usize,
    pub bases: usize,
    pub dropout: f64,
    pub epochs: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub seed: u64,
}

/// The training options from the command line.
fn options(c: &CommonArgs, a: &FusedArgs) -> Result<TrainOptions> {
    let mentions_query = a
        .mentions_query
        .as_ref()
        .map(|p| std::fs::read_to_string(p).map_err(|e| kgfuse::Error::io(p, e)))
        .transpose()?;
    let joint = !a.no_joint;
    let bert_lr = a.bert_lr.unwrap_or(match a.lora_rank {
        0 => DEFAULT_BERT_LR,
        _ => DEFAULT_LORA_LR,
    });
    let defaults = TrainOptions::new(parse_iri(c.class)?, parse_iri(c.label)?);
    let options = TrainOptions {
        split_property: a.split_property.as_deref().map(parse_iri).transpose()?,
        valid_fraction: a.valid_fraction,
        test_fraction: a.test_fraction,
        mentions_query,
        node_ids: a.node_ids,
        path_length: usize::from(a.path_length),
        path_features: a.path_features,
        trees: !a.no_trees,
        rgcn_view: RgcnViewUse::parse(&a.rgcn_view)?,
        choose_start: !a.start_from_view,
        model: FusionConfig {
            dim: c.dim,
            layers: a.layers,
            decomposition: match c.bases {
                0 => kgfuse::gnn::Decomposition::None,
                bases => kgfuse::gnn::Decomposition::Basis { bases },
            },
            dropout: c.dropout,
            text_dim: 0,
            bert_layers: a.bert_layers,
            use_text: !a.no_text,
            use_graph: !a.no_graph,
            alpha: if joint { a.alpha } else { 0.0 },
            beta: if joint { a.beta } else { 0.0 },
            temperature: a.temperature,
            lora: LoraConfig {
                rank: a.lora_rank,
                alpha: a.lora_alpha,
                dropout: a.lora_dropout,
                seed: c.seed,
            },
            ..defaults.model
        },
        trainer: TrainerConfig {
            epochs: c.epochs,
            learning_rate: c.lr,
            weight_decay: c.weight_decay,
            patience: a.patience,
            seed: c.seed,
            ..defaults.trainer
        },
        bert_lr_scale: bert_lr / c.lr,
        batch_size: a.batch_size,
        ..defaults
    };
    Ok(options)
}

/// The store, options, BERT (unless --no-text) and device of a fused run.
fn setup(
    c: &CommonArgs,
    a: &FusedArgs,
    ctx: &Context,
) -> Result<(Store, TrainOptions, Option<BertEncoder>, Device)> {
    let store = ctx.open(Access::ReadOnly)?;
    let options = options(c, a)?;
    let bert = if a.no_text {
        None
    } else {
        Some(a.bert.load()?)
    };
    Ok((store, options, bert, parse_device(&a.bert.device)?))
}

pub fn train_fused(c: &CommonArgs, a: &FusedArgs, ctx: &Context) -> Result<()> {
    let (store, options, bert, device) = setup(c, a, ctx)?;
    let (model, summary) = train_with_progress(&store, &options, bert, &device)?;
    print_summary(&summary);
    model.save(&a.out, &options.trainer, &summary)?;
    println!("model written to {}", a.out.display());
    if a.baselines {
        eprintln!("training the baselines on the same split …");
        let bert = if model.config().use_text {
            Some(a.bert.load()?)
        } else {
            None
        };
        let scores =
            kgfuse::fusion::pipeline::baselines(&store, &options, bert, &device, &model, &summary)?;
        print_baselines(&summary, &scores);
    }
    Ok(())
}

/// `train rgcn`: one R-GCN on a stratified 60/20/20
/// split, written as a model folder.
pub fn train_graph_only(
    data: &ClassifyData,
    label: &NamedNode,
    class: Option<&NamedNode>,
    config: &ClassifyConfig,
    trainer: &TrainerConfig,
    out: &Path,
) -> Result<()> {
    let bar = super::shared::epoch_progress(trainer.epochs);
    let result = GraphClassifier::train(
        data,
        label,
        class,
        config,
        trainer,
        &mut |record, improved| {
            super::shared::epoch_done(&bar, epoch_line(record, improved, ValidMetric::Accuracy));
            Ok(())
        },
    );
    bar.finish_and_clear();
    let (model, summary) = result?;
    println!("views: graph (R-GCN, an input per node)");
    println!(
        "{} train / {} valid / {} test entities; best epoch {} of {} in {:.1} s",
        summary.train,
        summary.valid,
        summary.test,
        summary.training.best_epoch,
        summary.training.history.len(),
        summary.seconds
    );
    let mut stdout = std::io::stdout().lock();
    print_metrics("valid", &summary.valid_metrics, &mut stdout)?;
    print_metrics("test", &summary.test_metrics, &mut stdout)?;
    model.save(out, &summary)?;
    println!("model written to {}", out.display());
    Ok(())
}

/// What an epoch's validation metric is, for its progress line.
#[derive(Clone, Copy)]
enum ValidMetric {
    /// The graph-only classifier's accuracy.
    Accuracy,
    /// The fused classifier's log loss.
    LogLoss,
}

/// An epoch's progress line: loss, validation metric (`*`: the best so
/// far) and seconds.
fn epoch_line(record: &EpochRecord, improved: bool, metric: ValidMetric) -> String {
    let best = if improved { " *" } else { "" };
    let metric = record.metric.map_or(String::new(), |m| match metric {
        ValidMetric::Accuracy => format!(", valid accuracy {m:.3}{best}"),
        ValidMetric::LogLoss => format!(", valid log loss {m:.4}{best}"),
    });
    format!("loss {:.4}{metric} ({:.1} s)", record.loss, record.seconds)
}

/// The fused model's test metrics, then each baseline's.
fn print_baselines(
    summary: &kgfuse::fusion::pipeline::TrainSummary,
    scores: &[kgfuse::fusion::pipeline::BaselineScore],
) {
    let optional = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.4}"));
    println!(
        "\n{:<22} {:>8} {:>9} {:>8}  reads",
        "test", "accuracy", "macro-F1", "ROC-AUC"
    );
    if let Some(m) = &summary.test_metrics {
        println!(
            "{:<22} {:>8.4} {:>9.4} {:>8}  every view",
            "fused",
            m.accuracy,
            m.macro_f1,
            optional(m.roc_auc)
        );
    }
    for s in scores {
        println!(
            "{:<22} {:>8.4} {:>9.4} {:>8}  {}",
            s.model,
            s.test.accuracy,
            s.test.macro_f1,
            optional(s.test.roc_auc),
            s.detail
        );
    }
}

pub fn cross_validate_fused(
    c: &CommonArgs,
    a: &FusedArgs,
    (folds, repeats): (usize, usize),
    metrics: Option<&Path>,
    ctx: &Context,
) -> Result<()> {
    let (store, options, bert, device) = setup(c, a, ctx)?;
    let preparing = PreparationProgress::new();
    let bar = super::shared::epoch_progress(folds * repeats);
    let accuracies = kgfuse::fusion::pipeline::cross_validate(
        &store,
        &options,
        bert,
        &device,
        (folds, repeats),
        &mut |progress| preparing.report(progress),
        &mut |r, f, accuracy| {
            preparing.finish();
            let alone: Vec<String> = [
                ("trees view", accuracy.trees_alone),
                ("R-GCN view", accuracy.rgcn_alone),
            ]
            .into_iter()
            .filter_map(|(view, a)| Some(format!("{view} alone {:.3}", a?)))
            .collect();
            let alone = match alone.is_empty() {
                true => String::new(),
                false => format!(" ({})", alone.join(", ")),
            };
            let start = match (accuracy.view_or_network, accuracy.start) {
                (Some(v), _) if !v.keeps_network() => "the trees view alone kept; ",
                (_, Some(choice)) if !choice.keeps_prior() => "from seeded weights, ",
                (_, Some(_)) => "from the trees view, ",
                _ => "",
            };
            super::shared::epoch_done(
                &bar,
                format!(
                    "repeat {} fold {}: accuracy {:.3}{alone}; {start}epoch {}",
                    r + 1,
                    f + 1,
                    accuracy.fused,
                    accuracy.best_epoch
                ),
            );
        },
    )?;
    preparing.finish();
    bar.finish_and_clear();
    let fused: Vec<f64> = accuracies.iter().map(|a| a.fused).collect();
    let (mean, std) = kgfuse::tasks::classify::mean_and_std(&fused);
    println!(
        "accuracy {:.2} % ± {:.2} (mean ± std over {} folds: {repeats} repeats of stratified {folds}-fold cross-validation)",
        100.0 * mean,
        100.0 * std,
        fused.len()
    );
    let trees: Option<Vec<f64>> = accuracies.iter().map(|a| a.trees_alone).collect();
    let rgcn: Option<Vec<f64>> = accuracies.iter().map(|a| a.rgcn_alone).collect();
    for (view, alone) in [
        ("the trees view", &trees),
        ("the R-GCN view (the graph-only R-GCN, bagged)", &rgcn),
    ] {
        if let Some(alone) = alone {
            let (mean, std) = kgfuse::tasks::classify::mean_and_std(alone);
            println!(
                "{view} alone, same folds: {:.2} % ± {:.2}",
                100.0 * mean,
                100.0 * std
            );
        }
    }
    if let Some(path) = metrics {
        let summary = serde_json::json!({
            "accuracy_mean": mean, "accuracy_std": std, "fold_accuracies": fused,
            "trees_alone_accuracies": trees, "rgcn_alone_accuracies": rgcn,
            "folds": accuracies,
            "model": options.model, "trainer": options.trainer,
        });
        checkpoint::write_json(path, &summary)?;
    }
    Ok(())
}

/// The stages before the first epoch or fold: a spinner on a terminal, a
/// line per stage (and per thousand texts encoded) elsewhere.
struct PreparationProgress {
    bar: indicatif::ProgressBar,
    start: std::time::Instant,
    stage: Cell<&'static str>,
    encoded: Cell<usize>,
}

impl PreparationProgress {
    fn new() -> Self {
        let bar = super::shared::progress_bar(None, "{spinner} [{elapsed}] {msg}");
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        Self {
            bar,
            start: std::time::Instant::now(),
            stage: Cell::new(""),
            encoded: Cell::new(0),
        }
    }

    fn report(&self, progress: TrainProgress) {
        let hidden = self.bar.is_hidden();
        match progress {
            TrainProgress::Stage(name) => {
                self.stage.set(name);
                if hidden {
                    eprintln!("{name} (at {:.1} s)", self.start.elapsed().as_secs_f64());
                }
                self.bar.set_message(name);
            }
            TrainProgress::TextsEncoded(n) => {
                let (before, stage) = (self.encoded.get(), self.stage.get());
                self.encoded.set(before + n);
                if hidden && (before + n) / 1000 > before / 1000 {
                    eprintln!("{stage}: {} texts", before + n);
                }
                self.bar
                    .set_message(format!("{stage}: {} texts", before + n));
            }
        }
    }

    /// Clears the spinner once training reports (idempotent).
    fn finish(&self) {
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}

/// Trains with a spinner for the preparation stages and a bar for the epochs.
pub fn train_with_progress(
    store: &Store,
    options: &TrainOptions,
    bert: Option<BertEncoder>,
    device: &Device,
) -> Result<(FusionModel, kgfuse::fusion::pipeline::TrainSummary)> {
    let preparing = PreparationProgress::new();
    let bar = super::shared::epoch_progress(options.trainer.epochs);
    let result = train_classifier(
        store,
        options,
        bert,
        device,
        &mut |progress| preparing.report(progress),
        &mut |record, improved| {
            preparing.finish();
            // A second training (see `PriorChoice`) counts from epoch 1 again.
            bar.set_position(record.epoch as u64 - 1);
            super::shared::epoch_done(&bar, epoch_line(record, improved, ValidMetric::LogLoss));
            Ok(())
        },
    );
    preparing.finish();
    bar.finish_and_clear();
    let (model, summary) = result?;
    if let Some(text) = model
        .text
        .as_ref()
        .filter(|t| t.truncated + t.span_issues > 0)
    {
        eprintln!(
            "warning: {} text(s) were cut at BERT's maximum length; {} span(s) had no tokens there and used their whole text",
            text.truncated, text.span_issues
        );
    }
    Ok((model, summary))
}

pub fn print_summary(s: &kgfuse::fusion::pipeline::TrainSummary) {
    let views: Vec<&str> = s.views.iter().map(|v| v.name()).collect();
    println!("views: {}", views.join(", "));
    if !s.path_features.is_empty() {
        let lengths: Vec<String> = (1..)
            .zip(&s.path_features)
            .map(|(steps, n)| format!("{n} of {steps} step{}", if steps == 1 { "" } else { "s" }))
            .collect();
        println!("relation-path features: {}", lengths.join(", "));
    }
    if let Some(trees) = &s.trees {
        println!("trees view: gradient-boosted trees, {trees}");
    }
    if let Some((valid, test)) = &s.trees_alone {
        let part = |name: &str, m: &kgfuse::tasks::metrics::ClassificationMetrics| {
            let roc = m
                .roc_auc
                .map_or(String::new(), |r| format!(", ROC-AUC {r:.4}"));
            format!("{name} accuracy {:.4}{roc}", m.accuracy)
        };
        let mut parts = vec![part("valid", valid)];
        parts.extend(test.iter().map(|t| part("test", t)));
        println!("trees view alone: {}", parts.join("; "));
    }
    if let Some(choice) = &s.prior_choice {
        println!(
            "the network starts {} (validation log loss {:.4} from the view, {:.4} from seeded weights)",
            if choice.keeps_prior() {
                "from the trees view"
            } else {
                "from seeded weights, the trees view as an input"
            },
            choice.with_prior,
            choice.without_prior
        );
    }
    if let Some(v) = &s.view_or_network {
        let measured = match v.out_of_fold {
            true => format!(
                "log loss out of fold over {} training and validation entities, refitted at the kept start and epoch,",
                v.entities
            ),
            false => "validation log loss".to_owned(),
        };
        println!(
            "{} ({measured} {:.4} against {:.4} for the trees view alone, standard error {:.4})",
            match v.keeps_network() {
                true => "the trained network is kept",
                false => "the trees view alone is kept: the trained network did not beat it by more than a standard error",
            },
            v.network,
            v.view_alone,
            v.standard_error
        );
    }
    println!(
        "{} train / {} valid / {} test entities; best epoch {}{} of {}{} in {:.1} s",
        s.train,
        s.valid,
        s.test,
        s.training.best_epoch,
        if s.training.best_epoch == 0 {
            " (the untrained network: the trees view)"
        } else {
            ""
        },
        s.training.history.len(),
        if s.training.stopped_early {
            " (stopped early)"
        } else {
            ""
        },
        s.seconds
    );
    let mut out = std::io::stdout().lock();
    let _ = print_metrics("valid", &s.valid_metrics, &mut out);
    if let Some(test) = &s.test_metrics {
        let _ = print_metrics("test", test, &mut out);
    }
}

/// One metrics table and the confusion matrix.
pub fn print_metrics(
    name: &str,
    m: &ClassificationMetrics,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let optional = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.4}"));
    writeln!(
        out,
        "\n{name:<8} {:>8} {:>9} {:>8} {:>8} {:>8}",
        "n", "accuracy", "macro-F1", "ROC-AUC", "PR-AUC"
    )?;
    writeln!(
        out,
        "{:<8} {:>8} {:>9.4} {:>8.4} {:>8} {:>8}",
        "",
        m.support,
        m.accuracy,
        m.macro_f1,
        optional(m.roc_auc),
        optional(m.pr_auc)
    )?;
    if let Some(p) = &m.positive_class {
        writeln!(
            out,
            "(positive class for the AUCs: {})",
            kgfuse::store::terms::compact_iri(p)
        )?;
    }
    let names: Vec<String> = m
        .classes
        .iter()
        .map(|c| kgfuse::store::terms::compact_iri(c))
        .collect();
    let width = names.iter().map(String::len).max().unwrap_or(4).max(6);
    writeln!(out, "confusion (rows: true, columns: predicted)")?;
    write!(out, "{:width$}", "")?;
    for n in &names {
        write!(out, " {n:>width$}")?;
    }
    writeln!(out)?;
    for (n, row) in names.iter().zip(&m.confusion) {
        write!(out, "{n:width$}")?;
        for v in row {
            write!(out, " {v:>width$}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// `kgfuse evaluate classify`.
#[derive(Debug, clap::Args)]
pub struct EvaluateArgs {
    /// Model folder from `kgfuse train classify`.
    #[arg(long)]
    model: PathBuf,
    /// Also write the metrics as JSON here.
    #[arg(long)]
    metrics: Option<PathBuf>,
    #[command(flatten)]
    bert: ModelArgs,
}

pub fn evaluate(a: &EvaluateArgs, ctx: &Context) -> Result<()> {
    let store = ctx.open(Access::ReadOnly)?;
    if checkpoint::kind_of(&a.model)? == ModelKind::GraphClassifier {
        let model = GraphClassifier::open(&a.model)?;
        let metrics = model.evaluate(&store)?.ok_or_else(|| {
            anyhow::anyhow!(
                "no entity in this store has a <{}> value among the model's classes to evaluate against",
                model.label().as_str()
            )
        })?;
        print_metrics("store", &metrics, &mut std::io::stdout().lock())?;
        if let Some(path) = &a.metrics {
            checkpoint::write_json(path, &metrics)?;
        }
        return Ok(());
    }
    let mut model = load_model(&a.model, &store, None, &a.bert)?;
    let labelled: Vec<usize> = (0..model.inputs.targets.len())
        .filter(|&t| model.inputs.targets[t].label.is_some())
        .collect();
    anyhow::ensure!(
        !labelled.is_empty(),
        "no entity of <{}> in this store has a <{}> value to evaluate against",
        model.vocab.class,
        model.vocab.label
    );
    let metrics = evaluate_model(&mut model, &labelled)?;
    print_metrics("store", &metrics, &mut std::io::stdout().lock())?;
    if let Some(path) = &a.metrics {
        kgfuse::tasks::checkpoint::write_json(path, &metrics)?;
    }
    Ok(())
}

/// `kgfuse evaluate explanations`.
#[derive(Debug, clap::Args)]
pub struct FidelityArgs {
    /// Model folder from `kgfuse train classify`.
    #[arg(long)]
    model: PathBuf,
    /// Labelled entities to explain (a seeded random sample).
    #[arg(long, default_value_t = 100)]
    count: usize,
    /// Integrated-gradient steps per entity.
    #[arg(long, default_value_t = 8)]
    steps: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[command(flatten)]
    bert: ModelArgs,
}

pub fn evaluate_fidelity(a: &FidelityArgs, ctx: &Context) -> Result<()> {
    let store = ctx.open(Access::ReadOnly)?;
    let mut model = load_model(&a.model, &store, None, &a.bert)?;
    let report = kgfuse::fusion::attribution::fidelity(&mut model, a.count, a.steps, a.seed)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
