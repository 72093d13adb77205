//! Tabular baselines for entity classification: what a plain table of each
//! entity's literal values (numbers, dates, flags, one-hot categories) predicts
//! without the graph or the text, so that the fused model's numbers can be
//! read against the usual tabular peers.
//!
//! - [`LogisticRegression`]: multinomial (softmax) with an L2 penalty, ours:
//!   full-batch L-BFGS in `f64`, run to a gradient tolerance, deterministic.
//!   Each column is imputed with its training median, gets a
//!   missing-indicator column when the training rows miss any of its values,
//!   and every column is standardised on the training rows.
//! - [`GradientBoosting`]: gradient-boosted trees from the `forust-ml` crate
//!   (XGBoost's algorithm: histogram splits, second-order leaf weights, a
//!   learned default branch for missing values), one booster per class
//!   (one-vs-rest) beyond two classes. Chosen because it is pure Rust (rayon,
//!   serde, rand; no build script, no C/C++), builds on stable Rust, and had
//!   releases in 2026. The alternatives fell short: `perpetual` 2.3 needs a
//!   nightly compiler (`#![feature(array_ptr_get)]`) and pulls `sysinfo`;
//!   `gbdt` has had no release since January 2024; `smartcore` has no boosted
//!   classifier. forust runs single-threaded here (`parallel = false`) so that
//!   the same seed always gives the same trees.
//!
//! Both choose their hyper-parameters (the L2 strength; tree depth and tree
//! count) by log loss on a stratified validation split that the seed carves
//! from the training rows (never from test rows), then refit on all the
//! training rows with the winner.

use forust_ml::gradientbooster::ContributionsMethod;
use forust_ml::objective::ObjectiveType;
use forust_ml::{GradientBooster, Matrix};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::metrics::{roc_auc, ClassificationMetrics};
use crate::error::{Error, Result};

/// One row per entity, one value per column; `f32::NAN` (any non-finite
/// value) is a missing value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<f32>>,
}

impl Table {
    /// Checks that `rows` name rows of the table and that those rows have one
    /// value per column.
    pub(crate) fn check_rows(&self, rows: &[usize]) -> Result<()> {
        for &r in rows {
            let row = self.rows.get(r).ok_or_else(|| {
                Error::Data(format!(
                    "row {r} is not in the table ({} rows)",
                    self.rows.len()
                ))
            })?;
            if row.len() != self.columns.len() {
                return Err(Error::Data(format!(
                    "table row {r} has {} values for {} columns",
                    row.len(),
                    self.columns.len()
                )));
            }
        }
        Ok(())
    }

    fn value(&self, row: usize, column: usize) -> Option<f64> {
        let v = self.rows[row][column];
        v.is_finite().then_some(v as f64)
    }
}

/// Share of each class's training rows held out to choose hyper-parameters:
/// of an 80% training share this leaves the common 60/20/20 split.
pub const VALIDATION_FRACTION: f64 = 0.25;

/// L2 strengths tried by [`LogisticRegression::fit`], strongest first (a tie
/// keeps the stronger one). The penalty is `l2 / 2 · |W|²` on the mean
/// cross-entropy, i.e. scikit-learn's `C = 1 / (l2 · n)`.
pub const L2_GRID: [f64; 6] = [1.0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5];

/// Tree depths tried by [`GradientBoosting::fit`], shallowest first.
pub const DEPTH_GRID: [usize; 3] = [2, 4, 6];

/// Tree counts tried (as prefixes of one ensemble per depth), fewest first.
pub const TREES_GRID: [usize; 7] = [10, 25, 50, 100, 200, 300, 500];

/// Shrinkage of every boosted tree.
pub const LEARNING_RATE: f32 = 0.1;

/// What `fit` checks before it touches any row: no panics on user input.
fn check_training(
    table: &Table,
    rows: &[usize],
    labels: &[usize],
    num_classes: usize,
) -> Result<()> {
    if rows.len() != labels.len() {
        return Err(Error::Data(format!(
            "{} training rows but {} labels",
            rows.len(),
            labels.len()
        )));
    }
    if num_classes < 2 {
        return Err(Error::Data(format!(
            "a classifier needs at least two classes, got {num_classes}"
        )));
    }
    if let Some(&bad) = labels.iter().find(|&&y| y >= num_classes) {
        return Err(Error::Data(format!(
            "label {bad} is not below the number of classes ({num_classes})"
        )));
    }
    if table.columns.is_empty() {
        return Err(Error::Data("the table has no columns to learn from".into()));
    }
    let mut seen = vec![false; num_classes];
    labels.iter().for_each(|&y| seen[y] = true);
    if seen.iter().filter(|&&s| s).count() < 2 {
        return Err(Error::Data(
            "the training rows need at least two different labels".into(),
        ));
    }
    table.check_rows(rows)
}

/// Positions (into `labels`) of the fitting part and of the validation part:
/// about [`VALIDATION_FRACTION`] of each class with two or more rows, chosen by
/// the seed. The validation part is empty when no class can spare a row.
fn stratified_holdout(labels: &[usize], num_classes: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut fit, mut valid) = (Vec::new(), Vec::new());
    for class in 0..num_classes {
        let mut members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        members.shuffle(&mut rng);
        let n = members.len();
        let held = if n < 2 {
            0
        } else {
            ((n as f64 * VALIDATION_FRACTION).round() as usize).clamp(1, n - 1)
        };
        valid.extend_from_slice(&members[..held]);
        fit.extend_from_slice(&members[held..]);
    }
    fit.sort_unstable();
    valid.sort_unstable();
    (fit, valid)
}

/// Training rows and labels split for choosing hyper-parameters, or `None`
/// when the rows are too few for a validation part with two classes left to
/// fit on.
struct Holdout {
    fit_rows: Vec<usize>,
    fit_labels: Vec<usize>,
    valid_rows: Vec<usize>,
    valid_labels: Vec<usize>,
}

impl Holdout {
    fn carve(rows: &[usize], labels: &[usize], num_classes: usize, seed: u64) -> Option<Self> {
        let (fit, valid) = stratified_holdout(labels, num_classes, seed);
        let pick = |ix: &[usize], of: &[usize]| ix.iter().map(|&i| of[i]).collect::<Vec<_>>();
        let fit_labels = pick(&fit, labels);
        let mut classes = fit_labels.clone();
        classes.sort_unstable();
        classes.dedup();
        (!valid.is_empty() && classes.len() >= 2).then(|| Self {
            fit_rows: pick(&fit, rows),
            fit_labels,
            valid_rows: pick(&valid, rows),
            valid_labels: pick(&valid, labels),
        })
    }
}

/// Mean negative log-likelihood of the true classes (probabilities floored
/// at 1e-15, as scikit-learn does).
fn log_loss(probabilities: &[Vec<f32>], labels: &[usize]) -> f64 {
    let total: f64 = probabilities
        .iter()
        .zip(labels)
        .map(|(p, &y)| -(p[y] as f64).max(1e-15).ln())
        .sum();
    total / labels.len().max(1) as f64
}

// ---------------------------------------------------------------------------
// Logistic regression
// ---------------------------------------------------------------------------

/// Median imputation, missing indicators and standardisation, all learnt on
/// the training rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Preprocessor {
    width: usize,
    medians: Vec<f64>,
    /// Source columns that get a missing-indicator feature (those with a
    /// missing value among the training rows; elsewhere it would be constant).
    indicators: Vec<usize>,
    means: Vec<f64>,
    scales: Vec<f64>,
}

/// The median of `values` (0 for none), reordering them: a selection, not
/// a sort, since wide tables have a column per text feature.
fn median(values: &mut [f64]) -> f64 {
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    let (below, &mut upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    match n % 2 {
        1 => upper,
        // The largest value below the upper middle is the lower middle.
        _ => {
            (below
                .iter()
                .copied()
                .max_by(f64::total_cmp)
                .unwrap_or(upper)
                + upper)
                / 2.0
        }
    }
}

impl Preprocessor {
    pub(crate) fn fit(table: &Table, rows: &[usize]) -> Self {
        let width = table.columns.len();
        let mut medians = Vec::with_capacity(width);
        let mut indicators = Vec::new();
        for c in 0..width {
            let mut present: Vec<f64> = rows.iter().filter_map(|&r| table.value(r, c)).collect();
            if present.len() < rows.len() {
                indicators.push(c);
            }
            medians.push(median(&mut present));
        }
        let mut this = Self {
            width,
            medians,
            indicators,
            means: Vec::new(),
            scales: Vec::new(),
        };
        let d = this.features();
        this.means = vec![0.0; d];
        this.scales = vec![1.0; d];
        let raw = this.raw(table, rows);
        let n = rows.len().max(1) as f64;
        for j in 0..d {
            let mean = raw.iter().skip(j).step_by(d).sum::<f64>() / n;
            let var = raw
                .iter()
                .skip(j)
                .step_by(d)
                .map(|x| (x - mean).powi(2))
                .sum::<f64>()
                / n;
            this.means[j] = mean;
            // A constant column stays at zero after centring.
            this.scales[j] = if var.sqrt() > 1e-12 { var.sqrt() } else { 1.0 };
        }
        this
    }

    /// The columns of the tables it reads.
    pub(crate) fn width(&self) -> usize {
        self.width
    }

    pub(crate) fn features(&self) -> usize {
        self.width + self.indicators.len()
    }

    /// Imputed values and indicators, row-major, not yet standardised.
    fn raw(&self, table: &Table, rows: &[usize]) -> Vec<f64> {
        let mut out = Vec::with_capacity(rows.len() * self.features());
        for &r in rows {
            for c in 0..self.width {
                out.push(table.value(r, c).unwrap_or(self.medians[c]));
            }
            for &c in &self.indicators {
                out.push(if table.value(r, c).is_some() {
                    0.0
                } else {
                    1.0
                });
            }
        }
        out
    }

    pub(crate) fn transform(&self, table: &Table, rows: &[usize]) -> Vec<f64> {
        let d = self.features();
        let mut x = self.raw(table, rows);
        for (i, v) in x.iter_mut().enumerate() {
            let j = i % d;
            *v = (*v - self.means[j]) / self.scales[j];
        }
        x
    }
}

/// Softmax regression on standardised features: mean cross-entropy plus
/// `l2 / 2 · |W|²` (the biases are not penalised).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogisticRegression {
    preprocessor: Preprocessor,
    num_classes: usize,
    /// Per class: `features` weights, then the bias.
    weights: Vec<f64>,
    l2: f64,
}

/// The L2-penalised multinomial objective over a row-major design matrix,
/// against each row's class distribution (one-hot for a hard label).
struct SoftmaxObjective<'a> {
    x: &'a [f64],
    /// Row-major, `classes` per row, each row summing to 1.
    targets: &'a [f64],
    features: usize,
    classes: usize,
    l2: f64,
}

impl SoftmaxObjective<'_> {
    /// The loss at `w`; its gradient goes into `grad`.
    fn evaluate(&self, w: &[f64], grad: &mut [f64]) -> f64 {
        let (d, k) = (self.features, self.classes);
        let n = (self.targets.len() / k) as f64;
        grad.iter_mut().for_each(|g| *g = 0.0);
        let mut loss = 0.0;
        let mut z = vec![0.0; k];
        for (row, t) in self.x.chunks_exact(d).zip(self.targets.chunks_exact(k)) {
            softmax_scores(w, row, &mut z);
            for (c, (&p, &tc)) in z.iter().zip(t).enumerate() {
                if tc > 0.0 {
                    loss -= tc * p.max(1e-300).ln();
                }
                let delta = (p - tc) / n;
                let g = &mut grad[c * (d + 1)..(c + 1) * (d + 1)];
                for (gj, xj) in g.iter_mut().zip(row) {
                    *gj += delta * xj;
                }
                g[d] += delta;
            }
        }
        let mut penalty = 0.0;
        for c in 0..k {
            for j in 0..d {
                let wj = w[c * (d + 1) + j];
                penalty += wj * wj;
                grad[c * (d + 1) + j] += self.l2 * wj;
            }
        }
        loss / n + 0.5 * self.l2 * penalty
    }
}

/// Class probabilities of one standardised row into `out` (max-shifted).
fn softmax_scores(w: &[f64], row: &[f64], out: &mut [f64]) {
    let d = row.len();
    for (c, o) in out.iter_mut().enumerate() {
        let wc = &w[c * (d + 1)..(c + 1) * (d + 1)];
        *o = wc[d] + wc[..d].iter().zip(row).map(|(a, b)| a * b).sum::<f64>();
    }
    let top = out.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for o in out.iter_mut() {
        *o = (*o - top).exp();
        sum += *o;
    }
    out.iter_mut().for_each(|o| *o /= sum);
}

/// Iterations and gradient tolerance (largest component) of the L-BFGS fit.
pub(crate) const LBFGS_MAX_ITERATIONS: usize = 1000;
const LBFGS_TOLERANCE: f64 = 1e-7;
const LBFGS_MEMORY: usize = 10;

/// Minimises `f` from `x` by L-BFGS with a backtracking (Armijo) line search.
/// Stops at the gradient tolerance, when no step lowers the loss, or after
/// `max_iterations` (for a convex loss, [`LBFGS_MAX_ITERATIONS`]).
pub(crate) fn lbfgs(
    mut x: Vec<f64>,
    max_iterations: usize,
    f: impl Fn(&[f64], &mut [f64]) -> f64,
) -> Vec<f64> {
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
    let n = x.len();
    let mut grad = vec![0.0; n];
    let mut value = f(&x, &mut grad);
    let mut history: Vec<(Vec<f64>, Vec<f64>, f64)> = Vec::new(); // (s, y, 1 / y·s)
    let (mut trial, mut trial_grad) = (vec![0.0; n], vec![0.0; n]);
    for iteration in 0..max_iterations {
        if grad.iter().fold(0.0f64, |m, g| m.max(g.abs())) < LBFGS_TOLERANCE {
            break;
        }
        // Two-loop recursion: direction = -H·grad.
        let mut q = grad.clone();
        let mut alphas = Vec::with_capacity(history.len());
        for (s, y, rho) in history.iter().rev() {
            let a = rho * dot(s, &q);
            q.iter_mut().zip(y).for_each(|(qi, yi)| *qi -= a * yi);
            alphas.push(a);
        }
        if let Some((s, y, _)) = history.last() {
            let gamma = dot(s, y) / dot(y, y);
            q.iter_mut().for_each(|qi| *qi *= gamma);
        }
        for ((s, y, rho), a) in history.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(y, &q);
            q.iter_mut().zip(s).for_each(|(qi, si)| *qi += (a - b) * si);
        }
        let mut direction: Vec<f64> = q.iter().map(|v| -v).collect();
        let mut slope = dot(&grad, &direction);
        if slope >= 0.0 {
            // Not a descent direction (curvature lost): restart from steepest descent.
            history.clear();
            direction = grad.iter().map(|g| -g).collect();
            slope = dot(&grad, &direction);
        }
        let mut step = if iteration == 0 || history.is_empty() {
            1.0 / dot(&grad, &grad).sqrt().max(1.0)
        } else {
            1.0
        };
        let accepted = loop {
            for i in 0..n {
                trial[i] = x[i] + step * direction[i];
            }
            let v = f(&trial, &mut trial_grad);
            if v <= value + 1e-4 * step * slope {
                break Some(v);
            }
            step *= 0.5;
            if step < 1e-20 {
                break None;
            }
        };
        let Some(new_value) = accepted else { break };
        let s: Vec<f64> = trial.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = trial_grad.iter().zip(&grad).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 {
            if history.len() == LBFGS_MEMORY {
                history.remove(0);
            }
            history.push((s, y, 1.0 / sy));
        }
        std::mem::swap(&mut x, &mut trial);
        std::mem::swap(&mut grad, &mut trial_grad);
        let improvement = value - new_value;
        value = new_value;
        if improvement <= 1e-15 * value.abs().max(1.0) {
            break;
        }
    }
    x
}

impl LogisticRegression {
    /// Fits on `train_rows` (with `labels`, each below `num_classes`),
    /// choosing the L2 strength from [`L2_GRID`] on a validation split the
    /// seed carves from those rows, then refitting on all of them.
    pub fn fit(
        table: &Table,
        train_rows: &[usize],
        labels: &[usize],
        num_classes: usize,
        seed: u64,
    ) -> Result<Self> {
        check_training(table, train_rows, labels, num_classes)?;
        let l2 = match Holdout::carve(train_rows, labels, num_classes, seed) {
            Some(h) => {
                let mut best = (f64::INFINITY, L2_GRID[0]);
                for l2 in L2_GRID {
                    let model =
                        Self::fit_unchecked(table, &h.fit_rows, &h.fit_labels, num_classes, l2);
                    let loss = log_loss(&model.predict(table, &h.valid_rows), &h.valid_labels);
                    if loss < best.0 {
                        best = (loss, l2);
                    }
                }
                best.1
            }
            // Too few rows to hold any out: scikit-learn's default, C = 1.
            None => 1.0 / train_rows.len() as f64,
        };
        Ok(Self::fit_unchecked(
            table,
            train_rows,
            labels,
            num_classes,
            l2,
        ))
    }

    /// Fits with a given L2 strength (no validation split).
    pub fn fit_with_l2(
        table: &Table,
        train_rows: &[usize],
        labels: &[usize],
        num_classes: usize,
        l2: f64,
    ) -> Result<Self> {
        check_training(table, train_rows, labels, num_classes)?;
        if !(l2.is_finite() && l2 >= 0.0) {
            return Err(Error::Data(format!(
                "the L2 strength must be a non-negative number, got {l2}"
            )));
        }
        Ok(Self::fit_unchecked(
            table,
            train_rows,
            labels,
            num_classes,
            l2,
        ))
    }

    /// Fits two classes on each row's probability of the second, `targets`
    /// (a soft label: the expected log loss is minimised), with a given L2
    /// strength.
    pub fn fit_soft(table: &Table, rows: &[usize], targets: &[f64], l2: f64) -> Result<Self> {
        check_soft(table, rows, targets)?;
        let targets: Vec<f64> = targets.iter().flat_map(|&p| [1.0 - p, p]).collect();
        Ok(Self::fit_targets(table, rows, &targets, 2, l2))
    }

    fn fit_unchecked(
        table: &Table,
        rows: &[usize],
        labels: &[usize],
        num_classes: usize,
        l2: f64,
    ) -> Self {
        let mut targets = vec![0.0; labels.len() * num_classes];
        for (i, &y) in labels.iter().enumerate() {
            targets[i * num_classes + y] = 1.0;
        }
        Self::fit_targets(table, rows, &targets, num_classes, l2)
    }

    fn fit_targets(
        table: &Table,
        rows: &[usize],
        targets: &[f64],
        num_classes: usize,
        l2: f64,
    ) -> Self {
        let preprocessor = Preprocessor::fit(table, rows);
        let features = preprocessor.features();
        let x = preprocessor.transform(table, rows);
        let objective = SoftmaxObjective {
            x: &x,
            targets,
            features,
            classes: num_classes,
            l2,
        };
        let weights = lbfgs(
            vec![0.0; num_classes * (features + 1)],
            LBFGS_MAX_ITERATIONS,
            |w, g| objective.evaluate(w, g),
        );
        Self {
            preprocessor,
            num_classes,
            weights,
            l2,
        }
    }

    /// The L2 strength the model was fitted with.
    pub fn l2(&self) -> f64 {
        self.l2
    }

    /// Class probabilities of `rows`, one vector of `num_classes` per row.
    pub fn probabilities(&self, table: &Table, rows: &[usize]) -> Result<Vec<Vec<f32>>> {
        check_width(table, self.preprocessor.width)?;
        table.check_rows(rows)?;
        Ok(self.predict(table, rows))
    }

    fn predict(&self, table: &Table, rows: &[usize]) -> Vec<Vec<f32>> {
        let d = self.preprocessor.features();
        let x = self.preprocessor.transform(table, rows);
        let mut z = vec![0.0; self.num_classes];
        x.chunks_exact(d)
            .map(|row| {
                softmax_scores(&self.weights, row, &mut z);
                z.iter().map(|&p| p as f32).collect()
            })
            .collect()
    }
}

/// What `fit_soft` checks: one probability per row, rows in the table.
fn check_soft(table: &Table, rows: &[usize], targets: &[f64]) -> Result<()> {
    check_soft_targets(rows.len(), "rows", targets)?;
    if table.columns.is_empty() {
        return Err(Error::Data("the table has no columns to learn from".into()));
    }
    table.check_rows(rows)
}

/// One soft target per training unit (`count` of them, named `units`),
/// each a probability.
pub(crate) fn check_soft_targets(count: usize, units: &str, targets: &[f64]) -> Result<()> {
    if count != targets.len() {
        return Err(Error::Data(format!(
            "{count} training {units} but {} targets",
            targets.len()
        )));
    }
    match targets.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        Some(bad) => Err(Error::Data(format!(
            "a soft target must be a probability, got {bad}"
        ))),
        None => Ok(()),
    }
}

/// A fitted model reads tables with the columns it was fitted on.
pub(crate) fn check_width(table: &Table, width: usize) -> Result<()> {
    if table.columns.len() != width {
        return Err(Error::Data(format!(
            "the model was fitted on {width} columns, the table has {}",
            table.columns.len()
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Gradient boosting
// ---------------------------------------------------------------------------

/// Gradient-boosted trees (forust-ml, log loss): one booster for two
/// classes, one per class (one-vs-rest, probabilities renormalised) beyond.
#[derive(Serialize, Deserialize)]
pub struct GradientBoosting {
    width: usize,
    /// The columns the boosters read, in order (see [`varying_columns`]);
    /// absent in folders written before: all of them.
    #[serde(default)]
    columns: Option<Vec<usize>>,
    num_classes: usize,
    /// One booster (two classes: the second class's log-odds) or one per
    /// class; `None` for a class without training rows.
    boosters: Vec<Option<GradientBooster>>,
    max_depth: usize,
    trees: usize,
}

impl std::fmt::Debug for GradientBoosting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GradientBoosting")
            .field("num_classes", &self.num_classes)
            .field("max_depth", &self.max_depth)
            .field("trees", &self.trees)
            .finish_non_exhaustive()
    }
}

/// The log-odds of a class no training row had (its probability is 0).
const ABSENT_CLASS_LOG_ODDS: f64 = -30.0;

/// Column-major values of `rows` in `columns` for forust, missing values
/// as NaN.
fn column_major(table: &Table, rows: &[usize], columns: &[usize]) -> Vec<f64> {
    let mut data = Vec::with_capacity(rows.len() * columns.len());
    for &c in columns {
        data.extend(rows.iter().map(|&r| table.value(r, c).unwrap_or(f64::NAN)));
    }
    data
}

/// The columns whose value (a missing value being one more) varies over
/// `rows`: the only ones a tree can split on, so trees fitted on them alone
/// are the trees fitted on all, and on a wide table of rare one-hot
/// features (most constant over a few hundred rows) far faster to fit.
/// At least one column is kept, for forust.
fn varying_columns(table: &Table, rows: &[usize]) -> Vec<usize> {
    let varying: Vec<usize> = (0..table.columns.len())
        .filter(|&c| {
            let mut values = rows.iter().map(|&r| table.value(r, c));
            values
                .next()
                .is_some_and(|first| values.any(|v| v != first))
        })
        .collect();
    match varying.is_empty() {
        true => vec![0],
        false => varying,
    }
}

pub(crate) fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// One log-loss booster fitted on `y` (each row's probability of its class).
fn booster(
    matrix: &Matrix<f64>,
    y: &[f64],
    max_depth: usize,
    trees: usize,
    seed: u64,
) -> Result<GradientBooster> {
    let mut booster = GradientBooster::default()
        .set_objective_type(ObjectiveType::LogLoss)
        .set_iterations(trees)
        .set_learning_rate(LEARNING_RATE)
        .set_max_depth(max_depth)
        .set_parallel(false)
        .set_seed(seed);
    booster
        .fit_unweighted(matrix, y, None)
        .map_err(|e| Error::Data(format!("gradient boosting: {e}")))?;
    Ok(booster)
}

impl GradientBoosting {
    /// Fits on `train_rows` (with `labels`, each below `num_classes`),
    /// choosing the depth from [`DEPTH_GRID`] and the tree count from
    /// [`TREES_GRID`] on a validation split the seed carves from those rows,
    /// then refitting on all of them.
    pub fn fit(
        table: &Table,
        train_rows: &[usize],
        labels: &[usize],
        num_classes: usize,
        seed: u64,
    ) -> Result<Self> {
        check_training(table, train_rows, labels, num_classes)?;
        let (max_depth, trees) = match Holdout::carve(train_rows, labels, num_classes, seed) {
            Some(h) => {
                let largest = TREES_GRID[TREES_GRID.len() - 1];
                let mut best = (f64::INFINITY, DEPTH_GRID[0], TREES_GRID[0]);
                for depth in DEPTH_GRID {
                    let mut model = Self::fit_unchecked(
                        table,
                        &h.fit_rows,
                        &h.fit_labels,
                        num_classes,
                        depth,
                        largest,
                        seed,
                    )?;
                    for trees in TREES_GRID {
                        model.truncate(trees);
                        let loss = log_loss(&model.predict(table, &h.valid_rows), &h.valid_labels);
                        if loss < best.0 {
                            best = (loss, depth, trees);
                        }
                    }
                }
                (best.1, best.2)
            }
            // Too few rows to hold any out: a middle of the grid.
            None => (DEPTH_GRID[1], TREES_GRID[3]),
        };
        Self::fit_unchecked(
            table,
            train_rows,
            labels,
            num_classes,
            max_depth,
            trees,
            seed,
        )
    }

    /// Fits with a given depth and tree count (no validation split).
    pub fn fit_with(
        table: &Table,
        train_rows: &[usize],
        labels: &[usize],
        num_classes: usize,
        max_depth: usize,
        trees: usize,
        seed: u64,
    ) -> Result<Self> {
        check_training(table, train_rows, labels, num_classes)?;
        if max_depth == 0 || trees == 0 {
            return Err(Error::Data(
                "gradient boosting needs a depth and a tree count of at least 1".into(),
            ));
        }
        Self::fit_unchecked(
            table,
            train_rows,
            labels,
            num_classes,
            max_depth,
            trees,
            seed,
        )
    }

    /// Fits two classes on each row's probability of the second, `targets`
    /// (a soft label; log loss with the target in place of the label),
    /// with a given depth and tree count.
    pub fn fit_soft(
        table: &Table,
        rows: &[usize],
        targets: &[f64],
        max_depth: usize,
        trees: usize,
        seed: u64,
    ) -> Result<Self> {
        check_soft(table, rows, targets)?;
        let columns = varying_columns(table, rows);
        let data = column_major(table, rows, &columns);
        let matrix = Matrix::new(&data, rows.len(), columns.len());
        Ok(Self {
            width: table.columns.len(),
            columns: Some(columns),
            num_classes: 2,
            boosters: vec![Some(booster(&matrix, targets, max_depth, trees, seed)?)],
            max_depth,
            trees,
        })
    }

    fn fit_unchecked(
        table: &Table,
        rows: &[usize],
        labels: &[usize],
        num_classes: usize,
        max_depth: usize,
        trees: usize,
        seed: u64,
    ) -> Result<Self> {
        let columns = varying_columns(table, rows);
        let data = column_major(table, rows, &columns);
        let matrix = Matrix::new(&data, rows.len(), columns.len());
        let targets: Vec<usize> = if num_classes == 2 {
            vec![1]
        } else {
            (0..num_classes).collect()
        };
        let mut boosters = Vec::with_capacity(targets.len());
        for class in targets {
            let y: Vec<f64> = labels
                .iter()
                .map(|&l| if l == class { 1.0 } else { 0.0 })
                .collect();
            boosters.push(match y.contains(&1.0) {
                true => Some(booster(&matrix, &y, max_depth, trees, seed)?),
                false => None,
            });
        }
        Ok(Self {
            width: table.columns.len(),
            columns: Some(columns),
            num_classes,
            boosters,
            max_depth,
            trees,
        })
    }

    /// Predict with the first `trees` trees of each booster only.
    fn truncate(&mut self, trees: usize) {
        for booster in self.boosters.iter_mut().flatten() {
            booster.prediction_iteration = Some(trees.min(booster.trees.len()));
        }
        self.trees = trees;
    }

    /// Two classes: the second class's probability of each of `rows` with
    /// the first `count` trees, for each of `counts` (a row's values in
    /// the order of `counts`).
    pub fn staged_probabilities(
        &mut self,
        table: &Table,
        rows: &[usize],
        counts: &[usize],
    ) -> Result<Vec<Vec<f64>>> {
        check_width(table, self.width)?;
        table.check_rows(rows)?;
        let kept = self.trees;
        let mut staged = vec![Vec::with_capacity(counts.len()); rows.len()];
        for &count in counts {
            self.truncate(count);
            for (row, p) in staged.iter_mut().zip(self.predict(table, rows)) {
                row.push(p[1] as f64);
            }
        }
        self.truncate(kept);
        Ok(staged)
    }

    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// The depth and the number of trees (per booster) the model uses.
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }

    pub fn trees(&self) -> usize {
        self.trees
    }

    /// Class probabilities of `rows`, one vector of `num_classes` per row.
    pub fn probabilities(&self, table: &Table, rows: &[usize]) -> Result<Vec<Vec<f32>>> {
        check_width(table, self.width)?;
        table.check_rows(rows)?;
        Ok(self.predict(table, rows))
    }

    /// Each booster's log-odds of `rows`, booster by booster (two classes:
    /// one, the second class's; more: one per class); a class without
    /// training rows gets a large negative value.
    pub fn log_odds(&self, table: &Table, rows: &[usize]) -> Result<Vec<Vec<f64>>> {
        check_width(table, self.width)?;
        table.check_rows(rows)?;
        Ok(self.raw_log_odds(table, rows))
    }

    /// Each column's Shapley contribution to each booster's log-odds of
    /// `row` (booster by booster, a value per column; the bias, the
    /// log-odds of a row nothing is known of, left out).
    pub fn contributions(&self, table: &Table, row: usize) -> Result<Vec<Vec<f64>>> {
        check_width(table, self.width)?;
        table.check_rows(&[row])?;
        let columns = self.read_columns();
        let data = column_major(table, &[row], &columns);
        let matrix = Matrix::new(&data, 1, columns.len());
        Ok(self
            .boosters
            .iter()
            .map(|b| {
                // A column the boosters do not read contributes nothing.
                let mut values = vec![0.0; self.width];
                if let Some(b) = b {
                    let read =
                        b.predict_contributions(&matrix, ContributionsMethod::Shapley, false);
                    for (&c, v) in columns.iter().zip(read) {
                        values[c] = v;
                    }
                }
                values
            })
            .collect())
    }

    /// The columns the boosters read.
    fn read_columns(&self) -> std::borrow::Cow<'_, [usize]> {
        match &self.columns {
            Some(columns) => columns.into(),
            None => (0..self.width).collect::<Vec<_>>().into(),
        }
    }

    fn raw_log_odds(&self, table: &Table, rows: &[usize]) -> Vec<Vec<f64>> {
        let columns = self.read_columns();
        let data = column_major(table, rows, &columns);
        let matrix = Matrix::new(&data, rows.len(), columns.len());
        self.boosters
            .iter()
            .map(|b| match b {
                Some(b) => b.predict(&matrix, false),
                None => vec![ABSENT_CLASS_LOG_ODDS; rows.len()],
            })
            .collect()
    }

    fn predict(&self, table: &Table, rows: &[usize]) -> Vec<Vec<f32>> {
        // Per booster, per row: the probability of its class.
        let per_class: Vec<Vec<f64>> = self
            .raw_log_odds(table, rows)
            .into_iter()
            .map(|odds| odds.into_iter().map(sigmoid).collect())
            .collect();
        (0..rows.len())
            .map(|i| {
                if self.num_classes == 2 {
                    let p = per_class[0][i];
                    return vec![(1.0 - p) as f32, p as f32];
                }
                let sum: f64 = per_class.iter().map(|c| c[i]).sum();
                per_class
                    .iter()
                    .map(|c| {
                        if sum > 0.0 {
                            (c[i] / sum) as f32
                        } else {
                            1.0 / self.num_classes as f32
                        }
                    })
                    .collect()
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------

/// Which baseline a result belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineModel {
    LogisticRegression,
    GradientBoosting,
}

impl std::fmt::Display for BaselineModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::LogisticRegression => "logistic regression",
            Self::GradientBoosting => "gradient boosting",
        })
    }
}

/// Rows of a table with their classes (indices into the class names).
#[derive(Debug, Clone, Copy)]
pub struct LabelledRows<'a> {
    pub rows: &'a [usize],
    pub labels: &'a [usize],
}

/// One baseline's held-out quality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineResult {
    pub model: BaselineModel,
    /// The hyper-parameters the validation split chose, e.g. `l2=0.001`.
    pub hyper_parameters: String,
    /// ROC-AUC: two classes, the positive class's; more, the mean of each
    /// class's one-vs-rest area (classes absent from the test rows skipped).
    pub roc_auc: Option<f64>,
    /// Accuracy, macro-F1, confusion (and, for two classes, ROC/PR-AUC).
    pub metrics: ClassificationMetrics,
}

/// Fits both baselines on `train` (choosing hyper-parameters inside it) and
/// scores them on `test`. `classes` names the classes, `positive` is the
/// positive class's index for two-class tasks.
pub fn evaluate_baselines(
    table: &Table,
    train: LabelledRows<'_>,
    test: LabelledRows<'_>,
    classes: &[String],
    positive: usize,
    seed: u64,
) -> Result<Vec<BaselineResult>> {
    let k = classes.len();
    if positive >= k {
        return Err(Error::Data(format!(
            "positive class {positive} is not one of the {k} classes"
        )));
    }
    if test.rows.len() != test.labels.len() {
        return Err(Error::Data(format!(
            "{} test rows but {} labels",
            test.rows.len(),
            test.labels.len()
        )));
    }
    if let Some(&bad) = test.labels.iter().find(|&&y| y >= k) {
        return Err(Error::Data(format!(
            "test label {bad} is not below the number of classes ({k})"
        )));
    }
    let lr = LogisticRegression::fit(table, train.rows, train.labels, k, seed)?;
    let gb = GradientBoosting::fit(table, train.rows, train.labels, k, seed)?;
    let scored = [
        (
            BaselineModel::LogisticRegression,
            format!("l2={}", lr.l2()),
            lr.probabilities(table, test.rows)?,
        ),
        (
            BaselineModel::GradientBoosting,
            format!(
                "max_depth={} trees={} learning_rate={LEARNING_RATE}",
                gb.max_depth(),
                gb.trees()
            ),
            gb.probabilities(table, test.rows)?,
        ),
    ];
    let labels: Vec<u32> = test.labels.iter().map(|&y| y as u32).collect();
    Ok(scored
        .into_iter()
        .map(|(model, hyper_parameters, probabilities)| {
            let metrics =
                ClassificationMetrics::compute(&probabilities, &labels, classes, positive);
            let roc_auc = if k == 2 {
                metrics.roc_auc
            } else {
                macro_roc_auc(&probabilities, test.labels, k)
            };
            BaselineResult {
                model,
                hyper_parameters,
                roc_auc,
                metrics,
            }
        })
        .collect())
}

/// Mean one-vs-rest ROC-AUC over the classes that have both positive and
/// negative rows (scikit-learn's `multi_class="ovr", average="macro"`).
pub fn macro_roc_auc(
    probabilities: &[Vec<f32>],
    labels: &[usize],
    num_classes: usize,
) -> Option<f64> {
    let areas: Vec<f64> = (0..num_classes)
        .filter_map(|c| {
            let scores: Vec<f32> = probabilities.iter().map(|p| p[c]).collect();
            let truth: Vec<bool> = labels.iter().map(|&y| y == c).collect();
            roc_auc(&scores, &truth)
        })
        .collect();
    (!areas.is_empty()).then(|| areas.iter().sum::<f64>() / areas.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn table(rows: Vec<Vec<f32>>) -> Table {
        let width = rows.first().map_or(0, Vec::len);
        Table {
            columns: (0..width).map(|c| format!("c{c}")).collect(),
            rows,
        }
    }

    fn accuracy(probabilities: &[Vec<f32>], labels: &[usize]) -> f64 {
        let right = probabilities
            .iter()
            .zip(labels)
            .filter(|(p, &y)| super::super::metrics::argmax(p) == y)
            .count();
        right as f64 / labels.len() as f64
    }

    /// Uniform points in [-1, 1]² from a fixed generator.
    fn square_points(n: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| vec![rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)])
            .collect()
    }

    #[test]
    fn logistic_regression_separates_and_orders_rows() {
        // Label: x + 2y > 0, on a grid with a margin around the boundary.
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for i in -10..=10 {
            for j in -10..=10 {
                let (x, y) = (i as f32 / 10.0, j as f32 / 10.0);
                let s = x + 2.0 * y;
                if s.abs() > 0.15 {
                    rows.push(vec![x, y]);
                    labels.push(usize::from(s > 0.0));
                }
            }
        }
        // Probe rows along the normal of the boundary, in increasing score.
        let probes: Vec<Vec<f32>> = (-4..=4)
            .map(|t| vec![t as f32 * 0.05, t as f32 * 0.1])
            .collect();
        let n = rows.len();
        rows.extend(probes);
        let t = table(rows);
        let train: Vec<usize> = (0..n).collect();
        let model = LogisticRegression::fit(&t, &train, &labels, 2, 7).unwrap();
        let p = model.probabilities(&t, &train).unwrap();
        assert_eq!(accuracy(&p, &labels), 1.0);
        for row in &p {
            assert!((row[0] + row[1] - 1.0).abs() < 1e-6);
        }
        let probe_rows: Vec<usize> = (n..t.rows.len()).collect();
        let q = model.probabilities(&t, &probe_rows).unwrap();
        for w in q.windows(2) {
            assert!(
                w[0][1] < w[1][1],
                "positive probability must rise along the normal: {q:?}"
            );
        }
        assert!(q[0][1] < 0.5 && q[8][1] > 0.5);
    }

    #[test]
    fn logistic_regression_reaches_the_optimum() {
        // Overlapping classes, so the optimum is finite: the gradient of the
        // penalised loss at the fitted weights must vanish.
        let rows = square_points(200, 3);
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let labels: Vec<usize> = rows
            .iter()
            .map(|r| {
                usize::from(r[0] + rng.random_range(-0.5..0.5) > 0.0) + usize::from(r[1] > 0.5)
            })
            .collect();
        let t = table(rows);
        let train: Vec<usize> = (0..t.rows.len()).collect();
        let model = LogisticRegression::fit_with_l2(&t, &train, &labels, 3, 1e-3).unwrap();
        let x = model.preprocessor.transform(&t, &train);
        let mut targets = vec![0.0; labels.len() * 3];
        labels
            .iter()
            .enumerate()
            .for_each(|(i, &y)| targets[i * 3 + y] = 1.0);
        let objective = SoftmaxObjective {
            x: &x,
            targets: &targets,
            features: model.preprocessor.features(),
            classes: 3,
            l2: 1e-3,
        };
        let mut grad = vec![0.0; model.weights.len()];
        objective.evaluate(&model.weights, &mut grad);
        let largest = grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        assert!(largest < 1e-6, "gradient at the fit: {largest}");
        // And the fit is far from the all-zero start.
        assert!(model.weights.iter().any(|w| w.abs() > 0.5));
    }

    #[test]
    fn soft_targets_of_zero_and_one_fit_what_hard_labels_fit_and_halves_stay_even() {
        let rows = square_points(300, 6);
        let labels: Vec<usize> = rows.iter().map(|r| usize::from(r[0] > 0.2)).collect();
        let hard: Vec<f64> = labels.iter().map(|&y| y as f64).collect();
        let t = table(rows);
        let train: Vec<usize> = (0..t.rows.len()).collect();
        let lr = LogisticRegression::fit_with_l2(&t, &train, &labels, 2, 1e-2).unwrap();
        let soft = LogisticRegression::fit_soft(&t, &train, &hard, 1e-2).unwrap();
        assert_eq!(lr.predict(&t, &train), soft.predict(&t, &train));
        let gb = GradientBoosting::fit_with(&t, &train, &labels, 2, 3, 20, 1).unwrap();
        let mut soft = GradientBoosting::fit_soft(&t, &train, &hard, 3, 20, 1).unwrap();
        assert_eq!(gb.predict(&t, &train), soft.predict(&t, &train));
        // Staged: the first 5 trees differ from all 20, which stay in use.
        let staged = soft.staged_probabilities(&t, &train, &[5, 20]).unwrap();
        let all = soft.predict(&t, &train);
        assert!(staged.iter().zip(&all).all(|(s, p)| s[1] == p[1] as f64));
        assert!(staged.iter().any(|s| (s[0] - s[1]).abs() > 1e-3));
        assert_eq!(soft.trees(), 20);
        // Every target one half: nothing to learn, every row near even odds.
        let half = vec![0.5; train.len()];
        let even = GradientBoosting::fit_soft(&t, &train, &half, 3, 20, 1).unwrap();
        assert!(even
            .predict(&t, &train)
            .iter()
            .all(|p| (p[1] - 0.5).abs() < 1e-3));
        let bad = LogisticRegression::fit_soft(&t, &train, &vec![1.5; train.len()], 1e-2);
        assert!(bad.unwrap_err().to_string().contains("probability"));
    }

    #[test]
    fn medians_of_odd_even_and_empty_columns() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut [5.0, 5.0, 1.0, 9.0]), 5.0);
        assert_eq!(median(&mut []), 0.0);
    }

    #[test]
    fn columns_constant_over_the_training_rows_change_no_prediction() {
        let rows = square_points(200, 5);
        let labels: Vec<usize> = rows
            .iter()
            .map(|r| usize::from((r[0] > 0.0) != (r[1] > 0.0)))
            .collect();
        // The same points with a constant column, an all-missing one, and
        // one that is constant on the training rows only, between them.
        let padded: Vec<Vec<f32>> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| vec![7.0, r[0], f32::NAN, r[1], if i < 150 { 0.0 } else { 1.0 }])
            .collect();
        let (narrow, wide) = (table(rows), table(padded));
        let train: Vec<usize> = (0..150).collect();
        let all: Vec<usize> = (0..200).collect();
        let a = GradientBoosting::fit_with(&narrow, &train, &labels[..150], 2, 3, 30, 1).unwrap();
        let b = GradientBoosting::fit_with(&wide, &train, &labels[..150], 2, 3, 30, 1).unwrap();
        assert_eq!(b.columns.as_deref(), Some(&[1, 3][..]));
        assert_eq!(a.predict(&narrow, &all), b.predict(&wide, &all));
        let (ca, cb) = (
            a.contributions(&narrow, 160).unwrap(),
            b.contributions(&wide, 160).unwrap(),
        );
        assert_eq!(cb[0], vec![0.0, ca[0][0], 0.0, ca[0][1], 0.0]);
    }

    #[test]
    fn boosting_learns_xor_that_logistic_regression_cannot() {
        let rows = square_points(600, 11);
        let labels: Vec<usize> = rows
            .iter()
            .map(|r| usize::from((r[0] > 0.0) != (r[1] > 0.0)))
            .collect();
        let t = table(rows);
        let train: Vec<usize> = (0..450).collect();
        let test: Vec<usize> = (450..600).collect();
        let gb = GradientBoosting::fit(&t, &train, &labels[..450], 2, 1).unwrap();
        let lr = LogisticRegression::fit(&t, &train, &labels[..450], 2, 1).unwrap();
        let gb_accuracy = accuracy(&gb.probabilities(&t, &test).unwrap(), &labels[450..]);
        let lr_accuracy = accuracy(&lr.probabilities(&t, &test).unwrap(), &labels[450..]);
        assert!(
            gb_accuracy > 0.9,
            "gradient boosting accuracy {gb_accuracy}"
        );
        assert!(
            (0.35..0.65).contains(&lr_accuracy),
            "logistic regression accuracy {lr_accuracy}"
        );
    }

    #[test]
    fn missing_values_are_a_signal_for_both_models() {
        // Label 1 = the second column is missing; its present values are noise.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for i in 0..300 {
            let missing = i % 3 == 0;
            let noise: f32 = rng.random_range(-1.0..1.0);
            rows.push(vec![
                rng.random_range(-1.0..1.0),
                if missing { f32::NAN } else { noise },
            ]);
            labels.push(usize::from(missing));
        }
        let t = table(rows);
        let train: Vec<usize> = (0..200).collect();
        let test: Vec<usize> = (200..300).collect();
        let lr = LogisticRegression::fit(&t, &train, &labels[..200], 2, 2).unwrap();
        let gb = GradientBoosting::fit(&t, &train, &labels[..200], 2, 2).unwrap();
        // Without the indicator, the imputed rows sit among the present ones
        // and the best a linear model can do is the majority class (2/3).
        for (name, p) in [
            ("lr", lr.probabilities(&t, &test).unwrap()),
            ("gb", gb.probabilities(&t, &test).unwrap()),
        ] {
            assert!(p.iter().flatten().all(|v| v.is_finite()));
            let a = accuracy(&p, &labels[200..]);
            assert!(a >= 0.95, "{name}: accuracy {a}");
        }
    }

    #[test]
    fn missing_values_unseen_in_training_are_imputed() {
        let rows = square_points(100, 8);
        let labels: Vec<usize> = rows.iter().map(|r| usize::from(r[0] > 0.0)).collect();
        let mut t = table(rows);
        t.rows.push(vec![f32::NAN, f32::INFINITY]);
        let train: Vec<usize> = (0..100).collect();
        for p in [
            LogisticRegression::fit(&t, &train, &labels, 2, 0)
                .unwrap()
                .probabilities(&t, &[100])
                .unwrap(),
            GradientBoosting::fit(&t, &train, &labels, 2, 0)
                .unwrap()
                .probabilities(&t, &[100])
                .unwrap(),
        ] {
            assert!(p[0].iter().all(|v| v.is_finite()));
            assert!((p[0][0] + p[0][1] - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn same_seed_gives_identical_probabilities() {
        let rows = square_points(300, 9);
        let labels: Vec<usize> = rows
            .iter()
            .map(|r| {
                if r[0] > 0.3 {
                    2
                } else {
                    usize::from(r[1] > 0.0)
                }
            })
            .collect();
        let mut t = table(rows);
        t.rows[5][1] = f32::NAN;
        let train: Vec<usize> = (0..200).collect();
        let test: Vec<usize> = (200..300).collect();
        let fit_both = || {
            let lr = LogisticRegression::fit(&t, &train, &labels[..200], 3, 42).unwrap();
            let gb = GradientBoosting::fit(&t, &train, &labels[..200], 3, 42).unwrap();
            (
                lr.probabilities(&t, &test).unwrap(),
                gb.probabilities(&t, &test).unwrap(),
            )
        };
        let (a, b) = (fit_both(), fit_both());
        assert_eq!(a, b);
        // Three classes: rows sum to one and the models learned something.
        assert!(a
            .1
            .iter()
            .all(|p| (p.iter().sum::<f32>() - 1.0).abs() < 1e-5));
        assert!(accuracy(&a.0, &labels[200..]) > 0.8);
        assert!(accuracy(&a.1, &labels[200..]) > 0.8);
    }

    #[test]
    fn holdout_is_stratified_disjoint_and_seeded() {
        let labels: Vec<usize> = (0..40).map(|i| usize::from(i % 4 == 0)).collect();
        let (fit, valid) = stratified_holdout(&labels, 2, 1);
        assert_eq!(fit.len() + valid.len(), 40);
        assert!(fit.iter().all(|i| !valid.contains(i)));
        // 10 positives, 30 negatives: a quarter of each.
        assert_eq!(valid.iter().filter(|&&i| labels[i] == 1).count(), 3);
        assert_eq!(valid.iter().filter(|&&i| labels[i] == 0).count(), 8);
        assert_eq!(
            stratified_holdout(&labels, 2, 1),
            (fit.clone(), valid.clone())
        );
        assert_ne!(stratified_holdout(&labels, 2, 2).1, valid);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let t = table(vec![vec![0.0, 1.0], vec![1.0, 0.0], vec![0.5]]);
        let lr =
            |rows: &[usize], labels: &[usize], k| LogisticRegression::fit(&t, rows, labels, k, 0);
        assert!(lr(&[0, 1], &[0], 2).is_err()); // lengths differ
        assert!(lr(&[0, 1], &[0, 2], 2).is_err()); // label out of range
        assert!(lr(&[0, 1], &[0, 0], 2).is_err()); // one class only
        assert!(lr(&[0, 9], &[0, 1], 2).is_err()); // row out of range
        assert!(lr(&[0, 2], &[0, 1], 2).is_err()); // ragged row
        assert!(lr(&[0, 1], &[0, 1], 1).is_err()); // fewer than two classes
        assert!(GradientBoosting::fit(&t, &[0, 2], &[0, 1], 2, 0).is_err());
        let model = lr(&[0, 1], &[0, 1], 2).unwrap();
        assert!(model.probabilities(&t, &[7]).is_err());
        assert!(model.probabilities(&table(vec![vec![1.0]]), &[0]).is_err());
        let empty = Table {
            columns: vec![],
            rows: vec![vec![], vec![]],
        };
        assert!(LogisticRegression::fit(&empty, &[0, 1], &[0, 1], 2, 0).is_err());
    }

    #[test]
    fn evaluation_scores_both_models_with_macro_auc() {
        // Three classes by the first coordinate; the test rows are disjoint.
        let rows = square_points(240, 12);
        let labels: Vec<usize> = rows
            .iter()
            .map(|r| ((r[0] + 1.0) * 1.5).min(2.0) as usize)
            .collect();
        let t = table(rows);
        let classes: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let train: Vec<usize> = (0..180).collect();
        let test: Vec<usize> = (180..240).collect();
        let results = evaluate_baselines(
            &t,
            LabelledRows {
                rows: &train,
                labels: &labels[..180],
            },
            LabelledRows {
                rows: &test,
                labels: &labels[180..],
            },
            &classes,
            0,
            3,
        )
        .unwrap();
        assert_eq!(
            results.iter().map(|r| r.model).collect::<Vec<_>>(),
            [
                BaselineModel::LogisticRegression,
                BaselineModel::GradientBoosting
            ]
        );
        for r in &results {
            assert_eq!(r.metrics.support, 60);
            assert!(r.metrics.accuracy > 0.85, "{r:?}");
            assert!(r.roc_auc.unwrap() > 0.95, "{r:?}");
        }
    }

    #[test]
    fn macro_auc_by_hand() {
        // Class 0: scores 0.8 (+), 0.1, 0.3 (-) -> 1. Class 1: 0.6 (+) vs
        // 0.1, 0.7 (-) -> 1/2. Class 2: 0.6 (+) vs 0.1, 0.3 (-) -> 1.
        let p = vec![
            vec![0.8, 0.1, 0.1],
            vec![0.1, 0.6, 0.3],
            vec![0.3, 0.7, 0.6],
        ];
        let auc = macro_roc_auc(&p, &[0, 1, 2], 3).unwrap();
        assert!((auc - 2.5 / 3.0).abs() < 1e-12);
        // A class without test rows is skipped, not counted as zero.
        let auc = macro_roc_auc(&p[..2], &[0, 1], 3).unwrap();
        assert!((auc - 1.0).abs() < 1e-12);
    }
}
