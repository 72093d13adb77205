//! The trees view: gradient-boosted trees over each target's flat attribute
//! table (its literal columns, node features and selected relation-path
//! counts) and, with a frozen text side, what its texts say, stacked under
//! the network as one more view.
//!
//! Trees find thresholds and conjunctions of counts and amounts ("more than
//! two sanctioned owners within two hops") in a few splits, where a network
//! that reads `ln(1 + count)` through one embedding bag learns them slowly
//! from a thousand labels. A label that needs text *and* structure ("adverse
//! press AND exposure") is a conjunction too; so the trees also read the
//! log-odds of a logistic regression on the mean of the target's frozen
//! BERT text features (or, where targets have texts of their own and of
//! their neighbours, on the two means apart when that has the lower
//! out-of-fold log loss), and can split on text and structure together. The
//! network reads the trees' log-odds and learns how far to trust them next
//! to its other views.
//!
//! Splitting on text and structure together learns "A AND S" from the rows
//! whose text says A only, half of the labels. With two classes the view
//! also fits the label as a noisy AND (or OR) of a text factor and a
//! structure factor, by expectation–maximisation: a company whose text
//! says "adverse press" and whose label says "low risk" tells the
//! structure factor "not exposed", and one whose text is clean tells it
//! nothing. The text factor reads each text item rather than their mean
//! (a noisy OR over the items: one adverse story among neutral ones is
//! adverse press, `tasks::noisy_or`). Which of the three forms the view
//! keeps, its out-of-fold log loss on the training targets decides; only
//! the kept factor form gets its final models. Each round refits the text
//! factor of a fold from its last round's weights, a few L-BFGS steps
//! where a fit from scratch takes a hundred.
//!
//! With the R-GCN view (`rgcn_view`), whose log-odds lead the table, the
//! view can also keep those log-odds alone: where the trees' out-of-fold
//! log loss does not beat the R-GCN's own, trees fitted on a hundred labels
//! would only blur the best reader of a fixed graph.
//!
//! Stacking (Wolpert's stacked generalisation): a model that saw a target's
//! label would hand the next stage a memorised answer for it. So each
//! training target's text log-odds, and the trees' log-odds the network
//! trains on, come from models fitted on the other folds of the training
//! targets (out of fold); every other target's come from models fitted on
//! all of them, the ones the model folder keeps.

use std::sync::Mutex;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::tasks::baselines::{
    sigmoid, GradientBoosting, LogisticRegression, Table, DEPTH_GRID, L2_GRID, TREES_GRID,
};
use crate::tasks::classify::stratified_folds;
use crate::tasks::noisy_or::{Bags, NoisyOrRegression};

/// Folds of the training targets for their out-of-fold log-odds.
pub const STACKING_FOLDS: usize = 5;

/// The models a trees view keeps, each fitted on every training target.
#[derive(Serialize, Deserialize)]
pub struct TreeView {
    /// Logistic regression on the targets' mean text features (with a
    /// frozen text side): of the label with [`Joining::Joint`]; of the
    /// text factor in folders written before `text_factor`.
    text: Option<LogisticRegression>,
    /// The factor forms' text factor: a noisy OR over the text items.
    #[serde(default)]
    text_factor: Option<NoisyOrRegression>,
    /// Which means of the text items `text` reads.
    #[serde(default)]
    text_means: TextMeans,
    /// Of the label, or of the structure factor.
    trees: GradientBoosting,
    /// Absent in folders written before the factor forms.
    #[serde(default)]
    joining: Joining,
    /// Share of labels the factor forms take as flipped.
    #[serde(default)]
    flipped: f64,
}

/// How the view joins what the texts say with the structure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Joining {
    /// One set of trees reads the text log-odds beside the attributes.
    #[default]
    Joint,
    /// The label is the text factor AND the structure factor, each
    /// label flipped with probability `flipped`.
    Both,
    /// The label is the text factor OR the structure factor: the AND of
    /// their complements, for the other class.
    Either,
    /// No trees: the R-GCN view's log-odds (the attribute table's leading
    /// columns) alone, where the trees only blurred them out of fold.
    RgcnAlone,
}

/// Which means of a target's text items its text model reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextMeans {
    /// The mean of all its items.
    #[default]
    Pooled,
    /// The mean of its own items beside the mean of its neighbours'.
    OwnAndNeighbours,
}

impl TextMeans {
    /// The forms worth trying on `bags`: apart only where some target has
    /// texts of its own and of its neighbours.
    fn candidates(bags: &Bags) -> Vec<Self> {
        match bags.mixes_own_and_neighbour_items() {
            true => vec![Self::Pooled, Self::OwnAndNeighbours],
            false => vec![Self::Pooled],
        }
    }

    fn table(self, bags: &Bags) -> Table {
        match self {
            Self::Pooled => bags.means(),
            Self::OwnAndNeighbours => bags.own_and_neighbour_means(),
        }
    }
}

/// A logistic regression on `means` (its L2 strength chosen on a share of
/// `train`) and every row's log-odds from it, out of fold for `train`.
fn text_model(
    means: &Table,
    train: &[usize],
    labels: &[usize],
    num_classes: usize,
    seed: u64,
    folds: &[Fold],
) -> Result<(LogisticRegression, Vec<Vec<f32>>)> {
    let model = LogisticRegression::fit(means, train, labels, num_classes, seed)?;
    let all: Vec<usize> = (0..means.rows.len()).collect();
    let mut odds = probability_log_odds(model.probabilities(means, &all)?);
    let outputs = tree_outputs(num_classes);
    let held_odds = out_of_fold(train, folds, vec![0.0; outputs], |_, fold, held| {
        let fold_model = LogisticRegression::fit_with_l2(
            means,
            &fold.rest_rows,
            &fold.rest_labels,
            num_classes,
            model.l2(),
        )?;
        Ok(probability_log_odds(fold_model.probabilities(means, held)?))
    })?;
    for (&row, o) in train.iter().zip(held_odds) {
        odds[row] = o;
    }
    Ok((model, odds))
}

/// Expectation–maximisation rounds of the factor forms.
const EM_ROUNDS: usize = 10;
/// Bounds of the flipped-label share the factor forms estimate.
const FLIPPED_RANGE: (f64, f64) = (1e-3, 0.25);

/// How many log-odds a model gives each target: one for two classes (the
/// second class's), one per class beyond.
pub fn tree_outputs(num_classes: usize) -> usize {
    if num_classes == 2 {
        1
    } else {
        num_classes
    }
}

/// The training rows a fold leaves to fit on, with their labels.
pub(crate) struct Fold {
    /// Positions (into the training rows) of the held-out part.
    pub held: Vec<usize>,
    /// Positions of the rest, their rows and their labels.
    rest: Vec<usize>,
    pub rest_rows: Vec<usize>,
    pub rest_labels: Vec<usize>,
}

/// Stratified folds of the training rows; fewer than [`STACKING_FOLDS`]
/// when a class is rarer than that, so that every fold leaves rows of each
/// class to fit on. A fold whose rest lacks a class is left out (its rows
/// keep even odds).
pub(crate) fn folds(train: &[usize], labels: &[usize], num_classes: usize, seed: u64) -> Vec<Fold> {
    let mut counts = vec![0usize; num_classes];
    labels.iter().for_each(|&y| counts[y] += 1);
    let rarest = counts.iter().copied().filter(|&c| c > 0).min().unwrap_or(0);
    let examples: Vec<(u32, u32)> = (0..train.len())
        .map(|i| (i as u32, labels[i] as u32))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    stratified_folds(&examples, STACKING_FOLDS.min(rarest).max(2), &mut rng)
        .into_iter()
        .filter_map(|fold| {
            let mut is_held = vec![false; train.len()];
            fold.iter().for_each(|&(i, _)| is_held[i as usize] = true);
            let rest: Vec<usize> = (0..train.len()).filter(|&i| !is_held[i]).collect();
            let (rest_rows, rest_labels): (Vec<usize>, Vec<usize>) =
                rest.iter().map(|&i| (train[i], labels[i])).unzip();
            let mut classes = rest_labels.clone();
            classes.sort_unstable();
            classes.dedup();
            (classes.len() >= 2).then(|| Fold {
                held: fold.iter().map(|&(i, _)| i as usize).collect(),
                rest,
                rest_rows,
                rest_labels,
            })
        })
        .collect()
}

/// Each training row's prediction from `fit_predict(k, fold, held rows)`, a
/// model fitted on the rest of fold `k` that predicts its held-out rows
/// (rows of no fold keep `missing`), in the order of `train`. Folds run in
/// parallel: each fit is single-threaded and seeded, so the result does not
/// depend on the thread count.
fn out_of_fold<T: Clone + Send>(
    train: &[usize],
    folds: &[Fold],
    missing: T,
    fit_predict: impl Fn(usize, &Fold, &[usize]) -> Result<Vec<T>> + Sync,
) -> Result<Vec<T>> {
    let predictions = folds
        .par_iter()
        .enumerate()
        .map(|(k, fold)| {
            let held: Vec<usize> = fold.held.iter().map(|&i| train[i]).collect();
            fit_predict(k, fold, &held)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut out = vec![missing; train.len()];
    for (fold, predicted) in folds.iter().zip(predictions) {
        for (&i, p) in fold.held.iter().zip(predicted) {
            out[i] = p;
        }
    }
    Ok(out)
}

/// Class probabilities to the log-odds the trees give (see `tree_outputs`).
pub(crate) fn probability_log_odds(probabilities: Vec<Vec<f32>>) -> Vec<Vec<f32>> {
    let odds = |p: f32| logit(p as f64) as f32;
    probabilities
        .into_iter()
        .map(|p| match p.len() {
            2 => vec![odds(p[1])],
            _ => p.into_iter().map(odds).collect(),
        })
        .collect()
}

/// Class probabilities from the log-odds the view gives a row (see
/// `tree_outputs`; beyond two classes, one-vs-rest odds renormalised).
pub fn class_probabilities(log_odds: &[f32]) -> Vec<f32> {
    let p: Vec<f32> = log_odds.iter().map(|&o| sigmoid(o as f64) as f32).collect();
    match p.as_slice() {
        [second] => vec![1.0 - second, *second],
        _ => {
            let sum: f32 = p.iter().sum();
            p.iter().map(|x| x / sum.max(f32::MIN_POSITIVE)).collect()
        }
    }
}

/// `table` with `first` (one row per table row) as its leading columns.
fn with_leading_columns(first: &[Vec<f32>], table: &Table) -> Table {
    let width = first.first().map_or(0, Vec::len);
    let mut columns: Vec<String> = (0..width).map(|i| format!("text log-odds {i}")).collect();
    columns.extend(table.columns.iter().cloned());
    let rows = first
        .iter()
        .zip(&table.rows)
        .map(|(a, b)| a.iter().chain(b).copied().collect())
        .collect();
    Table { columns, rows }
}

impl TreeView {
    /// Fits the view on `train` rows (with `labels`) of `attributes` and,
    /// when given, `texts` (the same rows' bags of text items). Each model
    /// chooses its hyper-parameters on a validation share of those rows
    /// and is refitted on all of them, and once per fold for the
    /// out-of-fold log-odds of `train`, returned in its order. With texts
    /// and two classes, the factor forms are fitted too and the form with
    /// the lowest out-of-fold log loss is kept.
    pub fn fit(
        attributes: &Table,
        texts: Option<&Bags>,
        train: &[usize],
        labels: &[usize],
        num_classes: usize,
        seed: u64,
    ) -> Result<(Self, Vec<Vec<f32>>)> {
        let folds = folds(train, labels, num_classes, seed);
        let outputs = tree_outputs(num_classes);
        let (text, text_means, text_out_of_fold, table) = match texts {
            Some(bags) => {
                // The pooled means, or the own and neighbour means apart,
                // on out-of-fold log loss (ties keep the pooled ones).
                let mut best: Option<(f64, TextMeans, LogisticRegression, Vec<Vec<f32>>)> = None;
                for means in TextMeans::candidates(bags) {
                    let (model, odds) =
                        text_model(&means.table(bags), train, labels, num_classes, seed, &folds)?;
                    let held: Vec<Vec<f32>> = train.iter().map(|&r| odds[r].clone()).collect();
                    let loss = log_loss(&held, labels);
                    if best.as_ref().is_none_or(|(least, ..)| loss < *least) {
                        best = Some((loss, means, model, odds));
                    }
                }
                let (_, means, model, odds) = best.expect("the pooled means are a candidate");
                let out_of_fold: Vec<f64> = train.iter().map(|&r| odds[r][0] as f64).collect();
                let table = with_leading_columns(&odds, attributes);
                (Some(model), means, out_of_fold, table)
            }
            None => (None, TextMeans::Pooled, Vec::new(), attributes.clone()),
        };
        let trees = GradientBoosting::fit(&table, train, labels, num_classes, seed)?;
        let out_of_fold = out_of_fold(train, &folds, vec![0.0; outputs], |k, fold, held| {
            let fold_trees = GradientBoosting::fit_with(
                &table,
                &fold.rest_rows,
                &fold.rest_labels,
                num_classes,
                trees.max_depth(),
                trees.trees(),
                seed + 1 + k as u64,
            )?;
            Ok(by_row(fold_trees.log_odds(&table, held)?))
        })?;
        let (Some(bags), Some(_), 2) = (texts, &text, num_classes) else {
            return Ok((Self::joint(text, text_means, trees), out_of_fold));
        };
        // The factor forms, against the joint trees, on out-of-fold log loss.
        let positive: Vec<bool> = labels.iter().map(|&y| y == 1).collect();
        let truth: Vec<f64> = positive.iter().map(|&p| f64::from(u8::from(p))).collect();
        let joint: Vec<f64> = out_of_fold.iter().map(|o| sigmoid(o[0] as f64)).collect();
        let mut best = (cross_entropy(&joint, &truth), None);
        let factors = Factors {
            attributes,
            texts: bags,
            train,
            folds: &folds,
            max_depth: trees.max_depth(),
            trees: trees.trees(),
            seed,
        };
        // Only the form that wins on the rounds' own out-of-fold
        // predictions gets its final models.
        let mut text_l2 = None;
        for joining in [Joining::Both, Joining::Either] {
            let rounds =
                factors.expectation_maximisation(joining, &positive, &text_out_of_fold, text_l2)?;
            text_l2 = Some(rounds.text_l2);
            let loss = cross_entropy(&rounds.label_probabilities(), &truth);
            if loss < best.0 {
                best = (loss, Some(rounds));
            }
        }
        Ok(match best.1 {
            None => (Self::joint(text, text_means, trees), out_of_fold),
            Some(rounds) => {
                let joining = rounds.joining;
                let (text_factor, trees, flipped, odds) = factors.finish(rounds)?;
                let view = Self {
                    text: None,
                    text_means: TextMeans::Pooled,
                    text_factor: Some(text_factor),
                    trees,
                    joining,
                    flipped,
                };
                let odds = odds.into_iter().map(|o| vec![o as f32]).collect();
                (view, odds)
            }
        })
    }

    /// This view, or the R-GCN view alone: of this view's out-of-fold
    /// log-odds `odds` of the `train` rows and the R-GCN view's, the first
    /// `rgcn_columns` of `attributes` (out of fold for `train` too), keeps
    /// the lower log loss. On a fixed graph the R-GCN can be the best
    /// reader, and trees fitted on a hundred labels blur its log-odds
    /// rather than add to them.
    pub fn or_rgcn_alone(
        self,
        odds: Vec<Vec<f32>>,
        attributes: &Table,
        train: &[usize],
        labels: &[usize],
        rgcn_columns: usize,
    ) -> (Self, Vec<Vec<f32>>) {
        if rgcn_columns == 0 || odds.first().is_some_and(|o| o.len() != rgcn_columns) {
            return (self, odds);
        }
        let rgcn: Vec<Vec<f32>> = train
            .iter()
            .map(|&r| attributes.rows[r][..rgcn_columns].to_vec())
            .collect();
        if log_loss(&rgcn, labels) >= log_loss(&odds, labels) {
            return (self, odds);
        }
        let view = Self {
            text: None,
            text_factor: None,
            joining: Joining::RgcnAlone,
            flipped: 0.0,
            ..self
        };
        (view, rgcn)
    }

    /// A view of joint trees (over the text log-odds, when `text`).
    fn joint(
        text: Option<LogisticRegression>,
        text_means: TextMeans,
        trees: GradientBoosting,
    ) -> Self {
        Self {
            text,
            text_means,
            text_factor: None,
            trees,
            joining: Joining::Joint,
            flipped: 0.0,
        }
    }

    /// The table the trees read: the text model's log-odds before the
    /// attributes, when the joint trees read texts.
    fn tree_table(&self, attributes: &Table, texts: Option<&Bags>) -> Result<Table> {
        if self.reads_text() && texts.is_none() {
            return Err(crate::Error::Data(
                "the trees view reads the texts too: the model needs its text side".into(),
            ));
        }
        match (&self.text, texts, self.joining) {
            (Some(model), Some(texts), Joining::Joint) => {
                let means = self.text_means.table(texts);
                let all: Vec<usize> = (0..means.rows.len()).collect();
                let odds = probability_log_odds(model.probabilities(&means, &all)?);
                Ok(with_leading_columns(&odds, attributes))
            }
            _ => Ok(attributes.clone()),
        }
    }

    /// Whether the view reads the targets' texts.
    pub fn reads_text(&self) -> bool {
        self.text.is_some() || self.text_factor.is_some()
    }

    /// The log-odds of every row (each `tree_outputs` wide).
    pub fn log_odds(&self, attributes: &Table, texts: Option<&Bags>) -> Result<Vec<Vec<f32>>> {
        if self.joining == Joining::RgcnAlone {
            let outputs = tree_outputs(self.trees.num_classes());
            return Ok(attributes
                .rows
                .iter()
                .map(|r| r[..outputs].to_vec())
                .collect());
        }
        let table = self.tree_table(attributes, texts)?;
        let all: Vec<usize> = (0..table.rows.len()).collect();
        let (Some(texts), Joining::Both | Joining::Either) = (texts, self.joining) else {
            return Ok(by_row(self.trees.log_odds(&table, &all)?));
        };
        let a = match (&self.text_factor, &self.text) {
            (Some(factor), _) => factor.probabilities(texts, &all)?,
            (None, Some(mean_model)) => {
                second(mean_model.probabilities(&self.text_means.table(texts), &all)?)
            }
            (None, None) => {
                return Err(crate::Error::Data(
                    "the trees view's factor form has no text factor".into(),
                ))
            }
        };
        let s = self.trees.probabilities(&table, &all)?;
        Ok(a.iter()
            .zip(&s)
            .map(|(&a, s)| {
                let p = self.joining.label_probability(a, s[1] as f64, self.flipped);
                vec![logit(p) as f32]
            })
            .collect())
    }

    /// Each attribute column's Shapley contribution to each of `row`'s
    /// log-odds (output by output; the text log-odds columns left out).
    /// With a factor form, to the structure factor's log-odds.
    pub fn contributions(
        &self,
        attributes: &Table,
        texts: Option<&Bags>,
        row: usize,
    ) -> Result<Vec<Vec<f64>>> {
        if self.joining == Joining::RgcnAlone {
            // Each log-odds is its own R-GCN column (from even odds).
            let values = &attributes.rows[row];
            let outputs = tree_outputs(self.trees.num_classes());
            return Ok((0..outputs)
                .map(|o| {
                    let mut c = vec![0.0; values.len()];
                    c[o] = f64::from(values[o]);
                    c
                })
                .collect());
        }
        let table = self.tree_table(attributes, texts)?;
        let skip = table.columns.len() - attributes.columns.len();
        let sign = match self.joining {
            Joining::Either => -1.0,
            Joining::Joint | Joining::Both | Joining::RgcnAlone => 1.0,
        };
        Ok(self
            .trees
            .contributions(&table, row)?
            .into_iter()
            .map(|c| c[skip..].iter().map(|v| sign * v).collect())
            .collect())
    }

    /// The models' hyper-parameters, as validation chose them.
    pub fn describe(&self) -> String {
        let trees = format!(
            "max_depth={} trees={}",
            self.trees.max_depth(),
            self.trees.trees()
        );
        let join = match self.joining {
            Joining::Joint => {
                return match &self.text {
                    Some(text) => {
                        let means = match self.text_means {
                            TextMeans::Pooled => "all text items",
                            TextMeans::OwnAndNeighbours => "own and neighbour text items apart",
                        };
                        format!("{trees}, over text log-odds ({means}, l2={})", text.l2())
                    }
                    None => trees,
                }
            }
            Joining::Both => "AND",
            Joining::Either => "OR",
            Joining::RgcnAlone => {
                return "none kept: the R-GCN view's log-odds alone, whose out-of-fold log loss the trees did not beat".into()
            }
        };
        let text_factor = match (&self.text_factor, &self.text) {
            (Some(factor), _) => format!("noisy OR over text items, l2={}", factor.l2()),
            (None, Some(text)) => format!("mean text features, l2={}", text.l2()),
            (None, None) => String::new(),
        };
        format!(
            "text factor ({text_factor}) {join} structure factor ({trees}), {:.1} % of labels taken as flipped",
            100.0 * self.flipped
        )
    }
}

impl Joining {
    /// The probability of the second class from the factors' probabilities
    /// (of what each factor model was fitted on: with `Either`, the
    /// factors' complements).
    fn label_probability(self, text: f64, structure: f64, flipped: f64) -> f64 {
        let and = flipped + (1.0 - 2.0 * flipped) * text * structure;
        match self {
            Joining::Either => 1.0 - and,
            Joining::Joint | Joining::Both | Joining::RgcnAlone => and,
        }
    }
}

/// What the factor forms are fitted from.
struct Factors<'a> {
    attributes: &'a Table,
    texts: &'a Bags,
    train: &'a [usize],
    folds: &'a [Fold],
    /// The depth and tree count the label's trees chose, which the EM
    /// rounds fit the structure factor with.
    max_depth: usize,
    trees: usize,
    seed: u64,
}

/// A text factor model, a structure factor model, the flipped share and
/// the training rows' out-of-fold log-odds of the label.
type FittedFactors = (NoisyOrRegression, GradientBoosting, f64, Vec<f64>);

/// Where a form's expectation–maximisation rounds end: the training rows'
/// targets (the AND is true), their factors' last out-of-fold
/// probabilities, the flipped share and the text factor's L2 strength.
struct Rounds {
    joining: Joining,
    target: Vec<bool>,
    text: Vec<f64>,
    structure: Vec<f64>,
    flipped: f64,
    text_l2: f64,
}

impl Rounds {
    /// Each training row's out-of-fold probability of the second class.
    fn label_probabilities(&self) -> Vec<f64> {
        self.text
            .iter()
            .zip(&self.structure)
            .map(|(&a, &s)| self.joining.label_probability(a, s, self.flipped))
            .collect()
    }
}

impl Factors<'_> {
    /// Fits `joining`'s two factors to `positive` (the training rows'
    /// labels) by expectation–maximisation, starting from the text
    /// model of the label (`text_log_odds`, out of fold) and a structure
    /// factor that knows nothing. The text factor's L2 strength is
    /// `text_l2`, or chosen in the first round: it depends on the items and
    /// the bag count, not on which side of the factor a form models, so the
    /// second form takes the first one's.
    fn expectation_maximisation(
        &self,
        joining: Joining,
        positive: &[bool],
        text_log_odds: &[f64],
        mut text_l2: Option<f64>,
    ) -> Result<Rounds> {
        // With `Either`, both factors model complements, and their AND the
        // first class.
        let complement = joining == Joining::Either;
        let target: Vec<bool> = positive.iter().map(|&p| p != complement).collect();
        let mut text: Vec<f64> = text_log_odds
            .iter()
            .map(|&o| match complement {
                true => sigmoid(-o),
                false => sigmoid(o),
            })
            .collect();
        let mut structure = vec![0.5; target.len()];
        let mut flipped = 0.05;
        // Each fold's text model, refitted from its last round's weights.
        let fresh = || -> Vec<Mutex<Option<NoisyOrRegression>>> {
            (0..self.folds.len()).map(|_| Mutex::new(None)).collect()
        };
        let mut fold_models = fresh();
        for _ in 0..EM_ROUNDS {
            let (q_text, q_structure, share) = posteriors(&target, &text, &structure, flipped);
            flipped = share;
            let fit_text = |l2: f64, models: &[Mutex<Option<NoisyOrRegression>>]| {
                self.out_of_fold(&q_text, 0.5, |k, rows, q, held| {
                    let mut slot = models[k].lock().expect("a fold's model");
                    let model = match slot.take() {
                        Some(last) => last.refit(self.texts, rows, q)?,
                        None => NoisyOrRegression::fit_soft(self.texts, rows, q, l2)?,
                    };
                    let predicted = model.probabilities(self.texts, held);
                    *slot = Some(model);
                    predicted
                })
            };
            text = match text_l2 {
                Some(l2) => fit_text(l2, &fold_models)?,
                // The factor is sharper than the label it hides in: its L2
                // strength is chosen again, on the first posteriors.
                None => {
                    let mut best = (f64::INFINITY, L2_GRID[0], Vec::new(), Vec::new());
                    for l2 in L2_GRID {
                        let models = fresh();
                        let predicted = fit_text(l2, &models)?;
                        let loss = cross_entropy(&predicted, &q_text);
                        if loss < best.0 {
                            best = (loss, l2, predicted, models);
                        }
                    }
                    text_l2 = Some(best.1);
                    fold_models = best.3;
                    best.2
                }
            };
            structure = self.out_of_fold(&q_structure, 0.5, |_, rows, q, held| {
                let model = GradientBoosting::fit_soft(
                    self.attributes,
                    rows,
                    q,
                    self.max_depth,
                    self.trees,
                    self.seed,
                )?;
                Ok(second(model.probabilities(self.attributes, held)?))
            })?;
        }
        Ok(Rounds {
            joining,
            target,
            text,
            structure,
            flipped,
            // EM_ROUNDS ≥ 1, so the first round chose it.
            text_l2: text_l2.unwrap_or(L2_GRID[0]),
        })
    }

    /// The factors' models, fitted on every training row to the posteriors
    /// of the last `rounds`, and the rows' out-of-fold log-odds of the
    /// label.
    fn finish(&self, rounds: Rounds) -> Result<FittedFactors> {
        let Rounds {
            joining,
            target,
            text,
            structure,
            flipped,
            text_l2,
        } = rounds;
        let (q_text, q_structure, share) = posteriors(&target, &text, &structure, flipped);
        // The structure factor's depth and tree count, chosen on the last
        // posteriors (the first are too vague to choose on).
        let (depth, trees, structure) = self.choose_structure_trees(&q_structure)?;
        let text_model = NoisyOrRegression::fit_soft(self.texts, self.train, &q_text, text_l2)?;
        let structure_model = GradientBoosting::fit_soft(
            self.attributes,
            self.train,
            &q_structure,
            depth,
            trees,
            self.seed,
        )?;
        let flipped = share;
        let odds = text
            .iter()
            .zip(&structure)
            .map(|(&a, &s)| logit(joining.label_probability(a, s, flipped)))
            .collect();
        Ok((text_model, structure_model, flipped, odds))
    }

    /// Each training row's prediction from `fit_predict(k, rows, targets,
    /// held)`, a model fitted on the rows of every fold but `k` and their
    /// soft `targets` that predicts fold `k`'s held-out rows (rows of no
    /// fold keep `missing`).
    fn out_of_fold<T: Clone + Send>(
        &self,
        targets: &[f64],
        missing: T,
        fit_predict: impl Fn(usize, &[usize], &[f64], &[usize]) -> Result<Vec<T>> + Sync,
    ) -> Result<Vec<T>> {
        out_of_fold(self.train, self.folds, missing, |k, fold, held| {
            let q: Vec<f64> = fold.rest.iter().map(|&i| targets[i]).collect();
            fit_predict(k, &fold.rest_rows, &q, held)
        })
    }

    /// The depth and tree count of the structure factor: those of
    /// [`DEPTH_GRID`] × [`TREES_GRID`] whose out-of-fold predictions match
    /// `targets` (its posteriors) best, with their predictions.
    fn choose_structure_trees(&self, targets: &[f64]) -> Result<(usize, usize, Vec<f64>)> {
        let largest = TREES_GRID[TREES_GRID.len() - 1];
        let mut best = (f64::INFINITY, DEPTH_GRID[0], TREES_GRID[0], Vec::new());
        for depth in DEPTH_GRID {
            let staged =
                self.out_of_fold(targets, vec![0.5; TREES_GRID.len()], |_, rows, q, held| {
                    let mut model = GradientBoosting::fit_soft(
                        self.attributes,
                        rows,
                        q,
                        depth,
                        largest,
                        self.seed,
                    )?;
                    model.staged_probabilities(self.attributes, held, &TREES_GRID)
                })?;
            for (k, &trees) in TREES_GRID.iter().enumerate() {
                let predicted: Vec<f64> = staged.iter().map(|p| p[k]).collect();
                let loss = cross_entropy(&predicted, targets);
                if loss < best.0 {
                    best = (loss, depth, trees, predicted);
                }
            }
        }
        Ok((best.1, best.2, best.3))
    }
}

/// The E step of a noisy AND: from each row's label (`target`: the AND
/// is true) and the factors' current probabilities, each factor's
/// posterior probability, and the expected share of flipped labels
/// (within [`FLIPPED_RANGE`]).
fn posteriors(
    target: &[bool],
    text: &[f64],
    structure: &[f64],
    flipped: f64,
) -> (Vec<f64>, Vec<f64>, f64) {
    let (mut q_text, mut q_structure, mut flips) = (Vec::new(), Vec::new(), 0.0);
    for ((&y, &a), &s) in target.iter().zip(text).zip(structure) {
        let (kept, flip) = (1.0 - flipped, flipped);
        // Prior times the label's likelihood, for (A, S) = 11, 10, 01, 00.
        let both = a * s * if y { kept } else { flip };
        let rest = |p: f64| p * if y { flip } else { kept };
        let (text_only, structure_only, neither) = (
            rest(a * (1.0 - s)),
            rest((1.0 - a) * s),
            rest((1.0 - a) * (1.0 - s)),
        );
        let z = both + text_only + structure_only + neither;
        q_text.push(((both + text_only) / z).clamp(0.0, 1.0));
        q_structure.push(((both + structure_only) / z).clamp(0.0, 1.0));
        // A label is flipped where it disagrees with the AND.
        flips += match y {
            true => (text_only + structure_only + neither) / z,
            false => both / z,
        };
    }
    let share = flips / target.len().max(1) as f64;
    (
        q_text,
        q_structure,
        share.clamp(FLIPPED_RANGE.0, FLIPPED_RANGE.1),
    )
}

/// The second class's probability of each row.
fn second(probabilities: Vec<Vec<f32>>) -> Vec<f64> {
    probabilities.into_iter().map(|p| p[1] as f64).collect()
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

/// Mean log loss of rows of log-odds (see `class_probabilities`) against
/// their classes.
fn log_loss(log_odds: &[Vec<f32>], labels: &[usize]) -> f64 {
    let total: f64 = log_odds
        .iter()
        .zip(labels)
        .map(|(o, &y)| -f64::from(class_probabilities(o)[y]).max(1e-12).ln())
        .sum();
    total / log_odds.len().max(1) as f64
}

/// Mean cross-entropy of predicted probabilities against soft targets.
fn cross_entropy(predicted: &[f64], targets: &[f64]) -> f64 {
    let total: f64 = predicted
        .iter()
        .zip(targets)
        .map(|(&p, &q)| {
            let p = p.clamp(1e-12, 1.0 - 1e-12);
            -(q * p.ln() + (1.0 - q) * (1.0 - p).ln())
        })
        .sum();
    total / predicted.len().max(1) as f64
}

/// Booster-major log-odds to one row of `f32` per target.
fn by_row(per_booster: Vec<Vec<f64>>) -> Vec<Vec<f32>> {
    let rows = per_booster.first().map_or(0, Vec::len);
    (0..rows)
        .map(|r| per_booster.iter().map(|b| b[r] as f32).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// Rows of a structural column `s`, a text column `a` (in its own
    /// table, as the text side gives it) and noise; the label is `a AND s`.
    fn conjunction(n: usize) -> (Table, Table, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (mut attributes, mut texts, mut labels) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..n {
            let a: f32 = rng.random_range(0.0..1.0);
            let s: f32 = rng.random_range(0.0..1.0);
            labels.push(usize::from(a > 0.5 && s > 0.5));
            attributes.push(vec![s, rng.random_range(0.0..1.0)]);
            texts.push(vec![a, rng.random_range(0.0..1.0)]);
        }
        let table = |rows, names: [&str; 2]| Table {
            columns: names.iter().map(|n| n.to_string()).collect(),
            rows,
        };
        (
            table(attributes, ["s", "noise"]),
            table(texts, ["a", "text noise"]),
            labels,
        )
    }

    #[test]
    fn the_e_step_credits_a_negative_label_to_the_factor_that_is_not_clearly_there() {
        let target = [true, false, false];
        let text = [0.5, 0.99, 0.01];
        let structure = [0.5, 0.5, 0.7];
        let (q_text, q_structure, flipped) = posteriors(&target, &text, &structure, 0.01);
        // A positive label: both factors are there.
        assert!(
            q_text[0] > 0.95 && q_structure[0] > 0.95,
            "{q_text:?} {q_structure:?}"
        );
        // Text clearly there, label negative: the structure is not.
        assert!(q_structure[1] < 0.05, "{q_structure:?}");
        assert!(q_text[1] > 0.9, "{q_text:?}");
        // Text clearly absent: the label says nothing of the structure.
        assert!((q_structure[2] - 0.7).abs() < 0.01, "{q_structure:?}");
        assert!(flipped > 0.0 && flipped < 0.05, "{flipped}");
    }

    /// Text and structure tables of `n` rows whose label is `join(a, s)`
    /// of a text factor `a` (one column among noise) and a structure
    /// factor `s` (any of three channels, each a column), one label in
    /// twenty flipped, as in the finance worlds.
    fn factored(n: usize, join: fn(bool, bool) -> bool) -> (Table, Table, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let (mut attributes, mut texts, mut labels) = (Vec::new(), Vec::new(), Vec::new());
        let mut uniform =
            |k: usize| -> Vec<f32> { (0..k).map(|_| rng.random_range(0.0..1.0)).collect() };
        for _ in 0..n {
            let channels = uniform(3);
            let a = uniform(1)[0];
            let s = channels.iter().any(|&c| c > 0.8);
            let flipped = uniform(1)[0] < 0.05;
            labels.push(usize::from(join(a > 0.5, s) != flipped));
            attributes.push([channels, uniform(4)].concat());
            texts.push([vec![a], uniform(6)].concat());
        }
        let table = |rows, first: &[&str]| Table {
            columns: (0..7)
                .map(|i| first.get(i).map_or(format!("noise {i}"), |c| c.to_string()))
                .collect(),
            rows,
        };
        (
            table(attributes, &["s1", "s2", "s3"]),
            table(texts, &["a"]),
            labels,
        )
    }

    #[test]
    fn the_view_keeps_the_form_the_label_has() {
        let train: Vec<usize> = (0..400).collect();
        for (join, expected) in [
            ((|a, s| a && s) as fn(bool, bool) -> bool, Joining::Both),
            (|a, s| a || s, Joining::Either),
        ] {
            let (attributes, texts, labels) = factored(600, join);
            let texts = one_item_each(texts);
            let (view, out_of_fold) =
                TreeView::fit(&attributes, Some(&texts), &train, &labels[..400], 2, 3).unwrap();
            assert_eq!(view.joining, expected, "{}", view.describe());
            assert!(view.flipped < 0.15, "{}", view.describe());
            assert_eq!(out_of_fold.len(), 400);
            let odds = view.log_odds(&attributes, Some(&texts)).unwrap();
            let test = roc(&odds[400..], &labels[400..]);
            assert!(test > 0.9, "{expected:?}: test ROC-AUC {test}");
            // Explanations name the structure channel, signed as the label.
            let exposed = (400..600).find(|&r| labels[r] == 1 && attributes.rows[r][0] > 0.8);
            let c = view
                .contributions(&attributes, Some(&texts), exposed.unwrap())
                .unwrap();
            assert!(c[0][0] > 0.0 && c[0][0] > c[0][3].abs(), "{c:?}");
        }
    }

    /// `n` rows: a leading column of log-odds `z` (the R-GCN view's), whose
    /// sigmoid is the label's probability when `z_tells`, then a column
    /// `s` and noise; otherwise `s > 0.5` is the label and `z` is noise.
    fn led_by_log_odds(n: usize, z_tells: bool) -> (Table, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for _ in 0..n {
            let z: f32 = rng.random_range(-4.0..4.0);
            let s: f32 = rng.random();
            let label = match z_tells {
                true => rng.random::<f64>() < sigmoid(f64::from(z)),
                false => s > 0.5,
            };
            rows.push(vec![z, s, rng.random(), rng.random()]);
            labels.push(usize::from(label));
        }
        let columns = ["R-GCN log-odds", "s", "noise 1", "noise 2"];
        let columns = columns.iter().map(|c| c.to_string()).collect();
        (Table { columns, rows }, labels)
    }

    #[test]
    fn the_rgcn_view_alone_is_kept_where_the_trees_only_blur_it() {
        let (table, labels) = led_by_log_odds(200, true);
        let train: Vec<usize> = (0..80).collect();
        let fit = |table: &Table, labels: &[usize]| {
            let (view, odds) = TreeView::fit(table, None, &train, &labels[..80], 2, 5).unwrap();
            view.or_rgcn_alone(odds, table, &train, &labels[..80], 1)
        };
        let (view, out_of_fold) = fit(&table, &labels);
        assert_eq!(view.joining, Joining::RgcnAlone, "{}", view.describe());
        assert!(!view.reads_text());
        let column: Vec<Vec<f32>> = table.rows.iter().map(|r| vec![r[0]]).collect();
        assert_eq!(out_of_fold[..], column[..80]);
        let back: TreeView = serde_json::from_str(&serde_json::to_string(&view).unwrap()).unwrap();
        assert_eq!(back.log_odds(&table, None).unwrap(), column);
        let c = back.contributions(&table, None, 120).unwrap();
        assert_eq!(c, vec![vec![f64::from(table.rows[120][0]), 0.0, 0.0, 0.0]]);
        // Where another column tells the label, the trees stay.
        let (table, labels) = led_by_log_odds(200, false);
        let (view, _) = fit(&table, &labels);
        assert_eq!(view.joining, Joining::Joint, "{}", view.describe());
        // Without R-GCN columns there is nothing to compare.
        let (view, odds) = TreeView::fit(&table, None, &train, &labels[..80], 2, 5).unwrap();
        let (kept, kept_odds) = view.or_rgcn_alone(odds.clone(), &table, &train, &labels[..80], 0);
        assert_eq!((kept.joining, kept_odds), (Joining::Joint, odds));
    }

    /// Each row of `table` as a bag of one item.
    fn one_item_each(table: Table) -> Bags {
        Bags {
            bags: (0..table.rows.len()).map(|r| r..r + 1).collect(),
            items: table,
            own: Vec::new(),
        }
    }

    fn roc(odds: &[Vec<f32>], truth: &[usize]) -> f64 {
        let p: Vec<Vec<f32>> = odds.iter().map(|o| vec![-o[0], o[0]]).collect();
        crate::tasks::baselines::macro_roc_auc(&p, truth, 2).unwrap()
    }

    #[test]
    fn text_and_structure_together_find_a_conjunction_neither_finds_alone() {
        let (attributes, texts, labels) = conjunction(400);
        let texts = one_item_each(texts);
        let train: Vec<usize> = (0..300).collect();
        let test_truth = &labels[300..];
        let on_test = |odds: Vec<Vec<f32>>| roc(&odds[300..], test_truth);
        let (both, out_of_fold) =
            TreeView::fit(&attributes, Some(&texts), &train, &labels[..300], 2, 1).unwrap();
        assert!(both.reads_text());
        assert_eq!(out_of_fold.len(), 300);
        assert!(out_of_fold.iter().all(|o| o.len() == tree_outputs(2)));
        let held_out = roc(&out_of_fold, &labels[..300]);
        assert!(held_out > 0.9, "out-of-fold ROC-AUC {held_out}");
        // The stacked values are not the kept trees' view of rows they saw.
        let kept = both.log_odds(&attributes, Some(&texts)).unwrap();
        assert_ne!(kept[..300], out_of_fold[..]);
        let together = on_test(kept);
        let (structure, _) =
            TreeView::fit(&attributes, None, &train, &labels[..300], 2, 1).unwrap();
        let alone = on_test(structure.log_odds(&attributes, None).unwrap());
        assert!(
            together > 0.95,
            "text and structure: test ROC-AUC {together}"
        );
        assert!(
            together > alone + 0.03,
            "{together} vs structure alone {alone}"
        );
        // Contributions cover the attribute columns, and `s` carries most.
        let c = both.contributions(&attributes, Some(&texts), 300).unwrap();
        assert_eq!(c[0].len(), 2);
        assert!(c[0][0].abs() > c[0][1].abs(), "{c:?}");
    }

    #[test]
    fn own_texts_are_weighed_apart_from_the_neighbours_where_that_tells_more() {
        // Each target's own item tells its class (of three); three
        // neighbour items of noise drown it in the pooled mean.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 240;
        let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
        let mut items = Vec::new();
        for &y in &labels {
            let mut own: Vec<f32> = (0..3).map(|_| rng.random_range(-0.3..0.3)).collect();
            own[y] += 1.0;
            items.push(own);
            for _ in 0..3 {
                items.push((0..3).map(|_| rng.random_range(-2.0..2.0)).collect());
            }
        }
        let columns = (0..3).map(|c| format!("text {c}")).collect();
        let split = Bags {
            items: Table {
                columns,
                rows: items,
            },
            bags: (0..n).map(|b| 4 * b..4 * b + 4).collect(),
            own: vec![1; n],
        };
        let pooled = Bags {
            own: Vec::new(),
            ..split.clone()
        };
        let attributes = Table {
            columns: vec!["noise".into()],
            rows: (0..n).map(|_| vec![rng.random()]).collect(),
        };
        let train: Vec<usize> = (0..160).collect();
        let accuracy = |texts: &Bags| {
            let (view, _) =
                TreeView::fit(&attributes, Some(texts), &train, &labels[..160], 3, 1).unwrap();
            let odds = view.log_odds(&attributes, Some(texts)).unwrap();
            let right = (160..n)
                .filter(|&r| {
                    let p = class_probabilities(&odds[r]);
                    (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])) == Some(labels[r])
                })
                .count();
            (view, right as f64 / 80.0)
        };
        let (view, apart) = accuracy(&split);
        assert_eq!(
            view.text_means,
            TextMeans::OwnAndNeighbours,
            "{}",
            view.describe()
        );
        let (together_view, together) = accuracy(&pooled);
        assert_eq!(together_view.text_means, TextMeans::Pooled);
        assert!(apart > together + 0.1, "{apart} apart vs {together} pooled");
        let back: TreeView = serde_json::from_str(&serde_json::to_string(&view).unwrap()).unwrap();
        assert_eq!(
            back.log_odds(&attributes, Some(&split)).unwrap(),
            view.log_odds(&attributes, Some(&split)).unwrap()
        );
    }

    #[test]
    fn several_classes_get_one_log_odds_each_and_the_view_survives_json() {
        let (attributes, texts, labels) = conjunction(120);
        let texts = one_item_each(texts);
        let three: Vec<usize> = labels
            .iter()
            .zip(&attributes.rows)
            .map(|(&y, r)| if r[1] > 0.7 { 2 } else { y })
            .collect();
        let train: Vec<usize> = (0..120).collect();
        let (view, out_of_fold) =
            TreeView::fit(&attributes, Some(&texts), &train, &three, 3, 2).unwrap();
        assert!(out_of_fold.iter().all(|o| o.len() == 3));
        let json = serde_json::to_string(&view).unwrap();
        let back: TreeView = serde_json::from_str(&json).unwrap();
        assert_eq!(
            view.log_odds(&attributes, Some(&texts)).unwrap(),
            back.log_odds(&attributes, Some(&texts)).unwrap()
        );
        assert!(
            back.log_odds(&attributes, None).is_err(),
            "texts are required"
        );
    }
}
