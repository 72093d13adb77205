//! The user-level jobs of the fusion stage: train a classifier from a
//! store, score entities, write the scores back as triples, and expose them
//! to SPARQL as `kgfuse:score(?entity)`.

use std::collections::HashMap;
use std::sync::Arc;

use candle_core::Device;
use oxigraph::model::{GraphName, Literal, NamedNode, NamedOrBlankNode, Quad, Term};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::model::head_outputs;
use super::paths::RelationPaths;
use super::training::{entity_log_loss, evaluate, stratified_split, FusionTraining};
use super::trees::tree_outputs;
use super::{FusionConfig, FusionModel, RgcnGraph, RgcnViewUse, TextLimits, View, Vocabulary};
use crate::error::{Error, Result, Setting};
use crate::store::query::CustomFunction;
use crate::store::terms::{GRAPH_NS, KGFUSE_NS};
use crate::store::{SparqlRunner, Store};
use crate::tasks::baselines::{evaluate_baselines, LabelledRows, Table};
use crate::tasks::graph_classifier::{AlignedGraph, GraphClassifier};
use crate::tasks::metrics::{argmax, minority_class, ClassificationMetrics};
use crate::tasks::trainer::{
    restore, seed_weights, snapshot, train, train_epochs, zero_weights, Checkpointing, EpochRecord,
    ParamGroup, TrainReport, TrainerConfig,
};
use crate::text::BertEncoder;

/// Everything `train classify` can set.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub class: NamedNode,
    pub label: NamedNode,
    /// Entities whose value of this property is `train`, `valid` or `test`
    /// are split that way; otherwise a stratified split by `seed`.
    pub split_property: Option<NamedNode>,
    pub valid_fraction: f64,
    pub test_fraction: f64,
    pub mentions_query: Option<String>,
    pub limits: TextLimits,
    /// Learn an input per entity IRI (transductive; see `Vocabulary::node_ids`).
    pub node_ids: bool,
    /// Longest relation path counted from each target (0: none; see
    /// `fusion::paths`).
    pub path_length: usize,
    /// Path features the network reads at most, chosen on the training
    /// labels of each fit (see `RelationPaths::select`).
    pub path_features: usize,
    /// Stack gradient-boosted trees over the flat attributes under the
    /// network as its trees view (with the graph side; see `fusion::trees`).
    pub trees: bool,
    /// When to stack the graph-only R-GCN under the trees, out of fold
    /// (see `fusion::rgcn_view`).
    pub rgcn_view: RgcnViewUse,
    /// With the trees view, train the network a second time from seeded
    /// weights and keep the start validation prefers (see `PriorChoice`);
    /// without, it starts from the view only.
    pub choose_start: bool,
    /// The network; the `num_*`, `tree_outputs` and `text_dim` fields are
    /// filled in here.
    pub model: FusionConfig,
    pub trainer: TrainerConfig,
    /// BERT's learning rate as a fraction of the rest's.
    pub bert_lr_scale: f64,
    /// Targets per step (raised to an eighth of the training targets).
    pub batch_size: usize,
}

/// BERT's default learning rate when its layers are fine-tuned whole.
pub const DEFAULT_BERT_LR: f64 = 3e-5;
/// BERT's default learning rate when LoRA adapters (which start from zero)
/// are trained instead.
pub const DEFAULT_LORA_LR: f64 = 1e-3;

impl TrainOptions {
    /// The defaults of `kgfuse train classify`, for the entities of `class`
    /// labelled by `label`.
    pub fn new(class: NamedNode, label: NamedNode) -> Self {
        let trainer = Self::default_trainer();
        Self {
            class,
            label,
            split_property: None,
            valid_fraction: 0.2,
            test_fraction: 0.2,
            mentions_query: None,
            limits: TextLimits::default(),
            node_ids: false,
            path_length: super::paths::MAX_LENGTH,
            path_features: super::paths::MAX_SELECTED,
            trees: true,
            rgcn_view: RgcnViewUse::Auto,
            choose_start: true,
            model: FusionConfig::default(),
            bert_lr_scale: DEFAULT_BERT_LR / trainer.learning_rate,
            trainer,
            batch_size: 32,
        }
    }

    /// The optimiser's defaults: 40 epochs at 0.003, weight decay 5e-4,
    /// stopping after 10 epochs without a lower validation log loss.
    pub fn default_trainer() -> TrainerConfig {
        TrainerConfig {
            epochs: 40,
            learning_rate: 0.003,
            weight_decay: 5e-4,
            patience: 10,
            ..TrainerConfig::default()
        }
    }
}

/// Sizes and metrics of a training run.
#[derive(Debug, Clone, Serialize)]
pub struct TrainSummary {
    /// The views the model reads (the text side is off when there is no text).
    pub views: Vec<View>,
    /// Relation-path features counted, by length (index 0: one step).
    pub path_features: Vec<usize>,
    /// The trees view's form, depth and tree count, as validation chose them.
    pub trees: Option<String>,
    /// The trees view's own validation and test metrics (its kept models,
    /// before the network), beside the fused model's.
    pub trees_alone: Option<(ClassificationMetrics, Option<ClassificationMetrics>)>,
    pub train: usize,
    pub valid: usize,
    pub test: usize,
    pub valid_metrics: ClassificationMetrics,
    pub test_metrics: Option<ClassificationMetrics>,
    pub training: TrainReport,
    /// Whether the network starts from the trees view, as validation chose.
    pub prior_choice: Option<PriorChoice>,
    /// The trained network against the trees view alone (on validation,
    /// or out of fold); `None` without trees, or when the network kept is
    /// the untrained one from the view.
    pub view_or_network: Option<ViewOrNetwork>,
    pub seconds: f64,
    /// Target indices of the training, validation and test parts.
    #[serde(skip)]
    pub split: [Vec<usize>; 3],
    /// Every path feature counted, of which the network reads a selection
    /// (the baselines read them all).
    #[serde(skip)]
    pub counted_paths: CountedPaths,
}

/// What training is doing, for a progress display: before the first epoch
/// a large store takes minutes to read, encode and fit the trees view on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainProgress {
    /// A preparation stage begins.
    Stage(&'static str),
    /// This many more texts encoded with BERT.
    TextsEncoded(usize),
}

/// A fresh network over the store's labelled entities of the class (BERT's
/// texts encoded).
fn untrained_model(
    store: &Store,
    options: &TrainOptions,
    bert: Option<BertEncoder>,
    device: &Device,
    on_progress: &mut dyn FnMut(TrainProgress),
) -> Result<FusionModel> {
    on_progress(TrainProgress::Stage(
        "reading the class, its attributes and its neighbourhood",
    ));
    let mut vocab = Vocabulary::from_store(
        store,
        &options.class,
        &options.label,
        options.mentions_query.clone(),
        options.limits,
        options.node_ids,
    )?;
    let labelled_entities = labelled_members(store, &vocab)?;
    let mut inputs = vocab.inputs(store, Some(&labelled_entities))?;
    on_progress(TrainProgress::Stage("counting relation paths"));
    vocab.paths = RelationPaths::fit(&inputs, vocab.relations.len(), options.path_length);
    inputs.target_paths = vocab.paths.encode(&inputs, vocab.relations.len());
    // A store without texts (a table of applicants, say) trains the graph
    // side alone rather than a text side that reads nothing.
    let has_text = inputs.targets.iter().any(|t| !t.items.is_empty());
    if options.model.use_text && !has_text && !options.model.use_graph {
        return Err(Error::Data(format!(
            "no entity of class <{}> has a text (a string literal or a mention) for the text side to read; train with the graph side",
            vocab.class
        )));
    }
    let trees = options.trees && options.model.use_graph && vocab.classes.len() >= 2;
    let config = FusionConfig {
        use_text: options.model.use_text && has_text,
        num_features: vocab.features.len(),
        num_columns: vocab.columns.width(),
        num_paths: vocab.paths.len().min(options.path_features),
        num_relations: vocab.relations.len(),
        num_classes: vocab.classes.len(),
        tree_outputs: if trees {
            tree_outputs(vocab.classes.len())
        } else {
            0
        },
        trees_prior: trees,
        ..options.model.clone()
    };
    if config.use_text && bert.is_some() {
        on_progress(TrainProgress::Stage("encoding texts with BERT"));
    }
    let mut model = FusionModel::new(vocab, inputs, config, bert, None, device, |n| {
        on_progress(TrainProgress::TextsEncoded(n))
    })?;
    if trees && options.rgcn_view.reads(|| store.len())? {
        on_progress(TrainProgress::Stage("reading the graph for the R-GCN view"));
        model.rgcn_graph = Some(RgcnGraph::read(
            store,
            &options.label,
            &options.class,
            &model.vocab.classes,
            &model.target_entities(),
        )?);
    }
    Ok(model)
}

/// Every optimisation step runs the R-GCN over the whole graph, so a large
/// training set gets larger batches rather than more steps per epoch.
const MAX_STEPS_PER_EPOCH: usize = 8;

/// `(target index, class)` of every labelled target.
fn labelled_targets(model: &FusionModel) -> Vec<(usize, u32)> {
    model
        .inputs
        .targets
        .iter()
        .enumerate()
        .filter_map(|(i, t)| t.label.map(|l| (i, l)))
        .collect()
}

/// Every relation-path feature counted, and each target's counts, before a
/// fit selects from them.
pub type CountedPaths = (RelationPaths, Vec<super::PathCounts>);

fn counted_paths(model: &FusionModel) -> CountedPaths {
    (model.vocab.paths.clone(), model.inputs.target_paths.clone())
}

/// Selects the path features from `counted` on the training labels, fits
/// the trees view on the training targets, picks the positive class from
/// the training labels, and trains the network. With the trees view (and
/// `choose_start`), the network is trained twice, starting from the view
/// (its prior) and from seeded weights, and validation keeps the better:
/// on one data set the view is the model to correct, on another a weak
/// start to unlearn. Last, the trained network must beat the trees view
/// alone clearly (`ViewOrNetwork`: on validation, or out of fold over
/// training and validation when validation is small), or the view alone
/// is kept. Validation is scored before the kept trees rescore it (they
/// learnt from it), so its metrics meet the views out of fold.
#[allow(clippy::too_many_arguments)]
fn fit(
    model: &mut FusionModel,
    options: &TrainOptions,
    counted: &CountedPaths,
    train_set: &[usize],
    valid_set: &[usize],
    rng: &mut ChaCha8Rng,
    on_progress: &mut dyn FnMut(TrainProgress),
    on_epoch: &mut dyn FnMut(&EpochRecord, bool) -> Result<()>,
) -> Result<Fitted> {
    let train_labelled: Vec<(usize, u32)> = train_set
        .iter()
        .filter_map(|&t| Some((t, model.inputs.targets[t].label?)))
        .collect();
    (model.vocab.paths, model.inputs.target_paths) = counted.clone();
    let (classes, kept) = (model.vocab.classes.len(), model.config().num_paths);
    model.vocab.paths.select(
        &mut model.inputs.target_paths,
        &train_labelled,
        classes,
        kept,
    );
    let with_trees = model.config().tree_outputs > 0;
    if with_trees {
        on_progress(TrainProgress::Stage("fitting the trees view"));
    }
    model.fit_trees(train_set, valid_set, options.trainer.seed)?;
    let train_labels: Vec<u32> = train_labelled.iter().map(|&(_, c)| c).collect();
    model.positive_class = minority_class(&train_labels, classes);
    // Fine-tuned BERT layers would carry one run's training into the other.
    let frozen_text = model
        .text
        .as_ref()
        .is_none_or(|t| t.trainable_vars().is_empty());
    let mut run = |model: &mut FusionModel, stage| {
        on_progress(TrainProgress::Stage(stage));
        train_network(model, options, train_set, valid_set, rng, on_epoch)
    };
    model.network.set_trees_prior(with_trees);
    let from_prior = run(model, "training")?;
    let (report, choice) = match with_trees && frozen_text && options.choose_start {
        false => (from_prior, None),
        true => {
            let vars = model.varmap.all_vars();
            let kept_weights = snapshot(&vars)?;
            model.network.set_trees_prior(false);
            let seeded = run(
                model,
                "training again from seeded weights, without the trees view as the start",
            )?;
            let choice = PriorChoice {
                with_prior: from_prior.best_metric,
                without_prior: seeded.best_metric,
            };
            let report = if choice.keeps_prior() {
                model.network.set_trees_prior(true);
                restore(&vars, &kept_weights)?;
                from_prior
            } else {
                seeded
            };
            (report, Some(choice))
        }
    };
    // Kept at epoch 0 from the trees view, the network is the view itself:
    // there is nothing to compare (a comparison would only read rounding).
    let untrained_view = report.best_epoch == 0 && model.config().trees_prior;
    let view_or_network = if !with_trees || valid_set.is_empty() || untrained_view {
        None
    } else if frozen_text && report.best_epoch > 0 && valid_set.len() < CROSS_FIT_BELOW {
        on_progress(TrainProgress::Stage(
            "comparing the network with the trees view out of fold",
        ));
        Some(cross_fitted_comparison(
            model,
            options,
            train_set,
            valid_set,
            report.best_epoch,
        )?)
    } else {
        Some(validation_comparison(model, valid_set)?)
    };
    if view_or_network.is_some_and(|v| !v.keeps_network()) {
        // The network becomes the view: the trees prior on, every head's
        // output at zero.
        model.network.set_trees_prior(true);
        zero_weights(&model.varmap, &head_outputs())?;
    }
    let valid_metrics = evaluate(model, valid_set)?;
    let trees_alone_valid = model.trees.is_some().then(|| trees_alone(model, valid_set));
    model.rescore_with_kept_trees()?;
    Ok(Fitted {
        report,
        start: choice,
        view_or_network,
        valid_metrics,
        trees_alone_valid,
    })
}

/// What `fit` chose, and validation's metrics with the views out of fold.
struct Fitted {
    report: TrainReport,
    start: Option<PriorChoice>,
    view_or_network: Option<ViewOrNetwork>,
    valid_metrics: ClassificationMetrics,
    trees_alone_valid: Option<ClassificationMetrics>,
}

/// Below this many validation entities, the network is compared with the
/// trees view out of fold over training and validation rather than on
/// validation alone: a few dozen entities, which also chose the network's
/// start and epoch, flatter it by chance (one AIFB+ fold kept a network
/// that lost 3 of its 14 test people to the view).
const CROSS_FIT_BELOW: usize = 100;

/// The trained network's log loss against the trees view alone's, on the
/// same entities, and the standard error of their mean per-entity
/// difference.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ViewOrNetwork {
    pub network: f64,
    pub view_alone: f64,
    pub standard_error: f64,
    /// How many entities were compared.
    pub entities: usize,
    /// Out of fold over training and validation (the network refitted at
    /// its kept start and epoch), rather than on validation.
    pub out_of_fold: bool,
}

impl ViewOrNetwork {
    /// Compares per-entity log losses: the network's, the view's.
    fn compare(network: &[f64], view: &[f64], out_of_fold: bool) -> Self {
        let differences: Vec<f64> = network.iter().zip(view).map(|(n, v)| n - v).collect();
        let n = differences.len() as f64;
        let (_, std) = crate::tasks::classify::mean_and_std(&differences);
        Self {
            network: network.iter().sum::<f64>() / n,
            view_alone: view.iter().sum::<f64>() / n,
            standard_error: std / n.sqrt(),
            entities: differences.len(),
            out_of_fold,
        }
    }

    /// The one-standard-error rule: the simpler model (the view alone)
    /// unless the network's log loss is lower by more than one standard
    /// error.
    pub fn keeps_network(&self) -> bool {
        self.network + self.standard_error < self.view_alone
    }
}

/// The network's and the trees view's log loss of `target`'s label, given
/// the network's class probabilities.
fn entity_log_losses(model: &FusionModel, target: usize, network: &[f32]) -> (f64, f64) {
    let y = model.inputs.targets[target].label.unwrap_or(0) as usize;
    let view = super::trees::class_probabilities(&model.tree_log_odds[target]);
    (entity_log_loss(network, y), entity_log_loss(&view, y))
}

/// The trained network against the trees view alone on `valid_set` (before
/// the kept trees rescore it).
fn validation_comparison(model: &mut FusionModel, valid_set: &[usize]) -> Result<ViewOrNetwork> {
    let network = model.probabilities(valid_set)?;
    let (network, view): (Vec<f64>, Vec<f64>) = valid_set
        .iter()
        .zip(&network)
        .map(|(&t, p)| entity_log_losses(model, t, p))
        .unzip();
    Ok(ViewOrNetwork::compare(&network, &view, false))
}

/// The network against the trees view alone out of fold over the training
/// and validation entities: on each of `trees::folds`, the network is
/// refitted from its kept start for its kept `epochs` on the other folds
/// and scores the held fold. Every entity's trees log-odds are already out
/// of fold (`FusionModel::fit_trees`). The kept weights are put back.
fn cross_fitted_comparison(
    model: &mut FusionModel,
    options: &TrainOptions,
    train_set: &[usize],
    valid_set: &[usize],
    epochs: usize,
) -> Result<ViewOrNetwork> {
    let pool: Vec<usize> = train_set.iter().chain(valid_set).copied().collect();
    let labels = model.class_indices(&pool);
    let classes = model.vocab.classes.len();
    let vars = model.varmap.all_vars();
    let kept = snapshot(&vars)?;
    // Its own generator: the refits leave the caller's draws (and a
    // cross-validation's later splits) as they were.
    let mut rng = ChaCha8Rng::seed_from_u64(options.trainer.seed);
    let (mut network, mut view) = (Vec::new(), Vec::new());
    for fold in super::trees::folds(&pool, &labels, classes, options.trainer.seed) {
        fresh_weights(model, &mut rng)?;
        let held: Vec<usize> = fold.held.iter().map(|&i| pool[i]).collect();
        let batch_size = batch_size(options, fold.rest_rows.len());
        let mut task = FusionTraining {
            model,
            train: fold.rest_rows,
            valid: Vec::new(),
            batch_size,
        };
        let groups = ParamGroup::all(&task.model.varmap);
        train_epochs(&mut task, groups, &options.trainer, &mut rng, epochs)?;
        let probabilities = model.probabilities(&held)?;
        for (&t, p) in held.iter().zip(&probabilities) {
            let (n, v) = entity_log_losses(model, t, p);
            network.push(n);
            view.push(v);
        }
    }
    restore(&vars, &kept)?;
    Ok(ViewOrNetwork::compare(&network, &view, true))
}

/// The validation log loss of the network trained from the trees view and
/// from seeded weights.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PriorChoice {
    pub with_prior: f64,
    pub without_prior: f64,
}

impl PriorChoice {
    /// Ties keep the trees view as the start.
    pub fn keeps_prior(&self) -> bool {
        self.with_prior <= self.without_prior
    }
}

/// Seeds the network's weights (its heads' output layers at zero when the
/// trees view is its prior) and trains it, BERT's fine-tuned layers at
/// their own learning rate.
fn train_network(
    model: &mut FusionModel,
    options: &TrainOptions,
    train_set: &[usize],
    valid_set: &[usize],
    rng: &mut ChaCha8Rng,
    on_epoch: &mut dyn FnMut(&EpochRecord, bool) -> Result<()>,
) -> Result<TrainReport> {
    fresh_weights(model, rng)?;
    let mut groups = ParamGroup::all(&model.varmap);
    if let Some(text) = &model.text {
        groups.push(ParamGroup {
            vars: text.trainable_vars(),
            lr_scale: options.bert_lr_scale,
        });
    }
    let mut task = FusionTraining {
        model,
        train: train_set.to_vec(),
        valid: valid_set.to_vec(),
        batch_size: batch_size(options, train_set.len()),
    };
    train(
        &mut task,
        groups,
        &options.trainer,
        rng,
        Checkpointing::default(),
        on_epoch,
    )
}

/// Seeds the network's weights, its heads' output layers at zero when the
/// trees view is its prior (so that it starts as the view).
fn fresh_weights(model: &FusionModel, rng: &mut ChaCha8Rng) -> Result<()> {
    seed_weights(&model.varmap, rng)?;
    if model.config().trees_prior {
        zero_weights(&model.varmap, &head_outputs())?;
    }
    Ok(())
}

/// The mini-batch size for `train` training entities.
fn batch_size(options: &TrainOptions, train: usize) -> usize {
    options.batch_size.max(train.div_ceil(MAX_STEPS_PER_EPOCH))
}

/// Metrics of the trees view's log-odds alone on `targets` (labelled).
fn trees_alone(model: &FusionModel, targets: &[usize]) -> ClassificationMetrics {
    log_odds_metrics(model, &model.tree_log_odds, targets)
}

/// Metrics of one view's log-odds (a row per target) on `targets`.
fn log_odds_metrics(
    model: &FusionModel,
    log_odds: &[Vec<f32>],
    targets: &[usize],
) -> ClassificationMetrics {
    let probabilities: Vec<Vec<f32>> = targets
        .iter()
        .map(|&t| super::trees::class_probabilities(&log_odds[t]))
        .collect();
    let labels: Vec<u32> = targets
        .iter()
        .map(|&t| model.inputs.targets[t].label.unwrap_or(0))
        .collect();
    ClassificationMetrics::compute(
        &probabilities,
        &labels,
        &model.vocab.classes,
        model.positive_class,
    )
}

/// Trains a fused classifier on the labelled entities of the store.
pub fn train_classifier(
    store: &Store,
    options: &TrainOptions,
    bert: Option<BertEncoder>,
    device: &Device,
    on_progress: &mut dyn FnMut(TrainProgress),
    on_epoch: &mut dyn FnMut(&EpochRecord, bool) -> Result<()>,
) -> Result<(FusionModel, TrainSummary)> {
    let start = std::time::Instant::now();
    let mut model = untrained_model(store, options, bert, device, on_progress)?;
    let labelled = labelled_targets(&model);
    let mut rng = ChaCha8Rng::seed_from_u64(options.trainer.seed);
    let (train_set, valid_set, test_set) = match &options.split_property {
        Some(property) => split_by_property(store, property, &model.inputs, &labelled)?,
        None => stratified_split(
            &labelled,
            options.valid_fraction,
            options.test_fraction,
            &mut rng,
        ),
    };
    if train_set.is_empty() || valid_set.is_empty() {
        return Err(Error::Data(format!(
            "{} labelled entities are too few to split into training and validation sets",
            labelled.len()
        )));
    }
    let counted = counted_paths(&model);
    let fitted = fit(
        &mut model,
        options,
        &counted,
        &train_set,
        &valid_set,
        &mut rng,
        on_progress,
        on_epoch,
    )?;
    let test_metrics = if test_set.is_empty() {
        None
    } else {
        Some(evaluate(&mut model, &test_set)?)
    };
    let trees_alone = fitted.trees_alone_valid.map(|valid| {
        (
            valid,
            (!test_set.is_empty()).then(|| trees_alone(&model, &test_set)),
        )
    });
    let summary = TrainSummary {
        views: model.config().views(),
        path_features: model.vocab.paths.per_length(),
        trees: model.trees.as_ref().map(|t| {
            let rgcn = match (&model.rgcn, options.rgcn_view) {
                (Some(_), _) => "; the R-GCN view's log-odds among its columns".to_owned(),
                (None, RgcnViewUse::Auto) => format!(
                    "; no R-GCN view (the store holds more than {} triples: --rgcn-view always reads it)",
                    super::rgcn_view::MAX_TRIPLES
                ),
                (None, _) => String::new(),
            };
            format!("{}{rgcn}", t.describe())
        }),
        trees_alone,
        train: train_set.len(),
        valid: valid_set.len(),
        test: test_set.len(),
        valid_metrics: fitted.valid_metrics,
        test_metrics,
        training: fitted.report,
        prior_choice: fitted.start,
        view_or_network: fitted.view_or_network,
        seconds: start.elapsed().as_secs_f64(),
        split: [train_set, valid_set, test_set],
        counted_paths: counted,
    };
    Ok((model, summary))
}

/// One comparison model's metrics on the test part of a fused model's split.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineScore {
    pub model: String,
    /// What it reads, or the hyper-parameters its validation chose.
    pub detail: String,
    pub test: ClassificationMetrics,
}

/// What fusion adds, measured on the split the fused model was trained on:
/// logistic regression and gradient-boosted trees on the targets' flat
/// attribute table (literal columns and one-hot node features; they choose
/// their hyper-parameters on a part of training + validation they carve
/// themselves), and the fused network with only its text side (`bert`) or
/// only its graph side, trained with the same options and seed.
pub fn baselines(
    store: &Store,
    options: &TrainOptions,
    bert: Option<BertEncoder>,
    device: &Device,
    fused: &FusionModel,
    summary: &TrainSummary,
) -> Result<Vec<BaselineScore>> {
    let [train_set, valid_set, test_set] = &summary.split;
    if test_set.is_empty() {
        return Err(Error::Setting {
            setting: Setting::TestFraction,
            message: "the comparison with the baselines needs a test share".into(),
        });
    }
    // The baselines read every counted path, not the network's selection.
    let (paths, counts) = &summary.counted_paths;
    let (columns, rows) = fused.inputs.target_table(&fused.vocab, paths, counts);
    let table = Table { columns, rows };
    let pool: Vec<usize> = train_set.iter().chain(valid_set).copied().collect();
    let pool_labels = fused.class_indices(&pool);
    let test_labels = fused.class_indices(test_set);
    let mut scores: Vec<BaselineScore> = evaluate_baselines(
        &table,
        LabelledRows {
            rows: &pool,
            labels: &pool_labels,
        },
        LabelledRows {
            rows: test_set,
            labels: &test_labels,
        },
        &fused.vocab.classes,
        fused.positive_class,
        options.trainer.seed,
    )?
    .into_iter()
    .map(|b| BaselineScore {
        model: b.model.to_string(),
        detail: format!("{} columns; {}", table.columns.len(), b.hyper_parameters),
        test: b.metrics,
    })
    .collect();
    let sides = [
        ("text only", "the fused network, text side", bert, false),
        (
            "graph only",
            "the fused network, attributes and graph",
            None,
            true,
        ),
    ];
    for (name, detail, encoder, graph) in sides {
        if (!graph && !fused.config().use_text) || (graph && !fused.config().use_graph) {
            continue; // the fused model itself lacks that side
        }
        let mut side = options.clone();
        side.model.use_text = !graph;
        side.model.use_graph = graph;
        let (_, result) =
            train_classifier(store, &side, encoder, device, &mut |_| {}, &mut |_, _| {
                Ok(())
            })?;
        if let Some(test) = result.test_metrics {
            scores.push(BaselineScore {
                model: name.to_owned(),
                detail: detail.to_owned(),
                test,
            });
        }
    }
    Ok(scores)
}

/// The class members that have a label, in a stable order.
fn labelled_members(store: &Store, vocab: &Vocabulary) -> Result<Vec<NamedOrBlankNode>> {
    let class = NamedNode::new(&vocab.class).map_err(|e| Error::InvalidTerm(e.to_string()))?;
    let label = NamedNode::new(&vocab.label).map_err(|e| Error::InvalidTerm(e.to_string()))?;
    let mut members: Vec<(String, NamedOrBlankNode)> =
        crate::graph::labelled_entities(store, &label, Some(&class))?
            .into_keys()
            .map(|e| (e.to_string(), e))
            .collect();
    members.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(members.into_iter().map(|(_, e)| e).collect())
}

/// One fold's test accuracy, of the fused model and of its trees view and
/// R-GCN view alone (with those): what fusion adds, on the same folds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FoldAccuracy {
    pub fused: f64,
    pub trees_alone: Option<f64>,
    pub rgcn_alone: Option<f64>,
    /// The epoch validation kept (0: the untrained network, the trees view).
    pub best_epoch: usize,
    /// The start validation chose, when it chose one.
    pub start: Option<PriorChoice>,
    /// Whether the network or the trees view alone was kept (`None` as in
    /// [`TrainSummary::view_or_network`]).
    pub view_or_network: Option<ViewOrNetwork>,
}

/// Repeated stratified k-fold cross-validation of the fused model: test
/// accuracy per fold (a stratified ninth of the other folds stops training
/// early). BERT's texts are encoded once; the network is re-seeded and any
/// fine-tuned BERT layers are restored before every fold.
pub fn cross_validate(
    store: &Store,
    options: &TrainOptions,
    bert: Option<BertEncoder>,
    device: &Device,
    (folds, repeats): (usize, usize),
    on_progress: &mut dyn FnMut(TrainProgress),
    on_fold: &mut dyn FnMut(usize, usize, FoldAccuracy),
) -> Result<Vec<FoldAccuracy>> {
    let mut model = untrained_model(store, options, bert, device, on_progress)?;
    let pristine_bert = model
        .text
        .as_ref()
        .map(|t| t.encoder().top_layer_tensors(options.model.bert_layers))
        .unwrap_or_default();
    let labelled: Vec<(u32, u32)> = labelled_targets(&model)
        .into_iter()
        .map(|(t, c)| (t as u32, c))
        .collect();
    let counted = counted_paths(&model);
    let mut accuracies = Vec::new();
    for repeat in 0..repeats {
        let mut rng = ChaCha8Rng::seed_from_u64(options.trainer.seed + repeat as u64);
        let parts = crate::tasks::classify::stratified_folds(&labelled, folds, &mut rng);
        for (fold, test) in parts.iter().enumerate() {
            let rest: Vec<(usize, u32)> = parts
                .iter()
                .enumerate()
                .filter(|(f, _)| *f != fold)
                .flat_map(|(_, p)| p.iter().map(|&(t, c)| (t as usize, c)))
                .collect();
            let (train_set, valid_set, _) = stratified_split(&rest, 1.0 / 9.0, 0.0, &mut rng);
            if let Some(text) = &model.text {
                text.encoder().set_tensors(&pristine_bert)?;
            }
            let fitted = fit(
                &mut model,
                options,
                &counted,
                &train_set,
                &valid_set,
                &mut rng,
                &mut |_| {},
                &mut |_, _| Ok(()),
            )?;
            let test: Vec<usize> = test.iter().map(|&(t, _)| t as usize).collect();
            let accuracy = FoldAccuracy {
                fused: evaluate(&mut model, &test)?.accuracy,
                trees_alone: model
                    .trees
                    .is_some()
                    .then(|| trees_alone(&model, &test).accuracy),
                rgcn_alone: model
                    .rgcn
                    .as_ref()
                    .map(|view| log_odds_metrics(&model, &view.log_odds, &test).accuracy),
                best_epoch: fitted.report.best_epoch,
                start: fitted.start,
                view_or_network: fitted.view_or_network,
            };
            on_fold(repeat, fold, accuracy);
            accuracies.push(accuracy);
        }
    }
    Ok(accuracies)
}

fn split_by_property(
    store: &Store,
    property: &NamedNode,
    inputs: &super::FusionInputs,
    labelled: &[(usize, u32)],
) -> Result<(Vec<usize>, Vec<usize>, Vec<usize>)> {
    let query = format!(
        "SELECT ?e ?split WHERE {{ ?e <{}> ?split }}",
        property.as_str()
    );
    let (_, rows) = SparqlRunner::new(store).select(&query, &[])?;
    let mut splits: HashMap<u32, String> = HashMap::new();
    for row in rows {
        let (Some(entity), Some(Term::Literal(value))) = (&row[0], &row[1]) else {
            continue;
        };
        let Ok(entity) = NamedOrBlankNode::try_from(entity.clone()) else {
            continue;
        };
        if let Some(node) = inputs.view.node_id(&entity) {
            splits.insert(node, value.value().to_lowercase());
        }
    }
    let (mut train, mut valid, mut test) = (vec![], vec![], vec![]);
    for &(t, _) in labelled {
        match splits.get(&inputs.targets[t].node).map(String::as_str) {
            Some("train") => train.push(t),
            Some("valid" | "validation" | "dev") => valid.push(t),
            Some("test") => test.push(t),
            Some(other) => {
                return Err(Error::Data(format!(
                    "<{}> value {other:?} on {}: expected train, valid or test",
                    property.as_str(),
                    inputs.view.node(inputs.targets[t].node)
                )))
            }
            None => {}
        }
    }
    Ok((train, valid, test))
}

/// One scored entity.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    pub entity: String,
    #[serde(skip)]
    pub term: NamedOrBlankNode,
    pub predicted: String,
    /// Probability of the predicted class.
    pub probability: f64,
    /// Probability of the positive class: "the score".
    pub score: f64,
    /// The stored label, when there is one.
    pub actual: Option<String>,
    /// Each view head's own probability of the positive class (what
    /// fusion adds shows beside it).
    pub views: std::collections::BTreeMap<String, f64>,
}

/// Scores every target of the model's inputs.
pub fn predict(model: &mut FusionModel) -> Result<Vec<Prediction>> {
    let all: Vec<usize> = (0..model.inputs.targets.len()).collect();
    predict_targets(model, &all)
}

/// Scores the given targets (indexes into the model's inputs).
pub fn predict_targets(model: &mut FusionModel, targets: &[usize]) -> Result<Vec<Prediction>> {
    let (probabilities, views) = model.view_probabilities(targets)?;
    let positive = model.positive_class;
    Ok(targets
        .iter()
        .map(|&t| &model.inputs.targets[t])
        .zip(probabilities)
        .enumerate()
        .map(|(i, (t, p))| {
            let best = argmax(&p);
            let term = model.inputs.view.node(t.node).clone();
            Prediction {
                entity: term.to_string(),
                term,
                predicted: model.vocab.classes[best].clone(),
                probability: f64::from(p[best]),
                score: f64::from(p[model.positive_class]),
                actual: t.label.map(|l| model.vocab.classes[l as usize].clone()),
                views: views
                    .iter()
                    .map(|(view, p)| (view.name().to_owned(), f64::from(p[i][positive])))
                    .collect(),
            }
        })
        .collect())
}

/// Scores `entities` (by default the model's class, or its labelled
/// entities) with a graph-only classifier; `graph` is `store` aligned to
/// the model (`GraphClassifier::align`).
pub fn predict_with_graph_classifier(
    model: &GraphClassifier,
    graph: &AlignedGraph,
    store: &Store,
    entities: Option<&[NamedOrBlankNode]>,
) -> Result<Vec<Prediction>> {
    let targets = match entities {
        Some(entities) => entities
            .iter()
            .map(|e| {
                graph
                    .node_id(e)
                    .ok_or_else(|| Error::InvalidTerm(format!("{e} is not in the store's graph")))
            })
            .collect::<Result<Vec<u32>>>()?,
        None => model.default_targets(store, graph)?,
    };
    let classes = model.classes();
    Ok(model
        .score(graph, &targets)?
        .into_iter()
        .map(|s| {
            let best = argmax(&s.probabilities);
            Prediction {
                entity: s.entity.to_string(),
                term: s.entity,
                predicted: classes[best].clone(),
                probability: f64::from(s.probabilities[best]),
                score: f64::from(s.probabilities[model.positive_class()]),
                actual: s.actual.map(|c| classes[c].clone()),
                views: std::collections::BTreeMap::new(),
            }
        })
        .collect())
}

/// The named graph a model's scores are written to.
pub fn predictions_graph(model_id: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{GRAPH_NS}predictions/{model_id}"))
}

/// Which prediction triples a write-back replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteScope {
    /// Every member of the model's class was scored: the model's graph is
    /// replaced, so entities that left the class lose their old scores.
    WholeGraph,
    /// Only some entities were scored: their triples are replaced and every
    /// other entity's score stays.
    ScoredEntities,
}

/// Writes `entity kgfuse:score s ; kgfuse:predictedLabel l ;
/// kgfuse:scoredBy <urn:kgfuse:model:ID>` into the model's prediction graph,
/// replacing what `scope` says, in one transaction. Returns the graph.
pub fn write_back(
    store: &Store,
    model_id: &str,
    predictions: &[Prediction],
    scope: WriteScope,
) -> Result<NamedNode> {
    let graph = predictions_graph(model_id);
    let name = GraphName::NamedNode(graph.clone());
    let subjects: Vec<NamedOrBlankNode> = predictions.iter().map(|p| p.term.clone()).collect();
    let mut quads = Vec::with_capacity(3 * predictions.len());
    let score = NamedNode::new_unchecked(format!("{KGFUSE_NS}score"));
    let predicted = NamedNode::new_unchecked(format!("{KGFUSE_NS}predictedLabel"));
    let scored_by = NamedNode::new_unchecked(format!("{KGFUSE_NS}scoredBy"));
    let model = NamedNode::new_unchecked(format!("urn:kgfuse:model:{model_id}"));
    for p in predictions {
        for (predicate, object) in [
            (&score, Term::from(Literal::from(p.score))),
            (&predicted, label_term(&p.predicted)),
            (&scored_by, Term::from(model.clone())),
        ] {
            quads.push(Quad::new(
                p.term.clone(),
                predicate.clone(),
                object,
                name.clone(),
            ));
        }
    }
    let replaced = match scope {
        WriteScope::WholeGraph => None,
        WriteScope::ScoredEntities => Some(&subjects[..]),
    };
    store.rewrite_graph(graph.as_ref(), replaced, &quads)?;
    Ok(graph)
}

/// A class label as written to the store: an IRI when it is one (labels
/// that are IRIs in the data), else a plain literal.
pub fn label_term(label: &str) -> Term {
    match NamedNode::new(label) {
        Ok(iri) if label.contains(':') => iri.into(),
        _ => Literal::new_simple_literal(label).into(),
    }
}

/// `kgfuse:score(?entity)`: the positive-class probability of a scored
/// entity as `xsd:double`, unbound for any other term.
pub fn score_function(predictions: &[Prediction]) -> (NamedNode, CustomFunction) {
    let scores: HashMap<Term, f64> = predictions
        .iter()
        .map(|p| (Term::from(p.term.clone()), p.score))
        .collect();
    let function: CustomFunction = Arc::new(move |args: &[Term]| {
        let [entity] = args else { return None };
        scores.get(entity).map(|&s| Literal::from(s).into())
    });
    (
        NamedNode::new_unchecked(format!("{KGFUSE_NS}score")),
        function,
    )
}

#[cfg(test)]
mod tests {
    use super::{PriorChoice, ViewOrNetwork};

    #[test]
    fn the_start_with_the_lower_validation_log_loss_is_kept_and_ties_keep_the_view() {
        let choice = |with_prior, without_prior| PriorChoice {
            with_prior,
            without_prior,
        };
        assert!(choice(0.31, 0.45).keeps_prior());
        assert!(!choice(0.45, 0.31).keeps_prior());
        assert!(choice(0.4, 0.4).keeps_prior());
    }

    #[test]
    fn the_network_is_kept_only_when_it_beats_the_view_by_more_than_a_standard_error() {
        let compare = |network, standard_error| ViewOrNetwork {
            network,
            view_alone: 0.35,
            standard_error,
            entities: 14,
            out_of_fold: false,
        };
        assert!(compare(0.30, 0.02).keeps_network());
        assert!(!compare(0.30, 0.06).keeps_network(), "within one error");
        assert!(!compare(0.35, 0.0).keeps_network(), "a tie keeps the view");
        assert!(!compare(0.40, 0.01).keeps_network());
    }

    #[test]
    fn the_comparison_averages_per_entity_losses_and_their_differences_error() {
        // Differences -0.1, -0.3, -0.2: mean -0.2, sample std 0.1.
        let v = ViewOrNetwork::compare(&[0.1, 0.2, 0.3], &[0.2, 0.5, 0.5], true);
        assert!((v.network - 0.2).abs() < 1e-12);
        assert!((v.view_alone - 0.4).abs() < 1e-12);
        assert_eq!((v.entities, v.out_of_fold), (3, true));
        let std = crate::tasks::classify::mean_and_std(&[-0.1, -0.3, -0.2]).1;
        assert!((v.standard_error - std / 3f64.sqrt()).abs() < 1e-12);
        assert!(v.keeps_network());
    }
}
