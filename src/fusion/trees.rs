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
//! BERT text features, and can split on text and structure together. The
//! network reads the trees' log-odds and learns how far to trust them next
//! to its other views.
//!
//! Stacking (Wolpert's stacked generalisation): a model that saw a target's
//! label would hand the next stage a memorised answer for it. So each
//! training target's text log-odds, and the trees' log-odds the network
//! trains on, come from models fitted on the other folds of the training
//! targets (out of fold); every other target's come from models fitted on
//! all of them, the ones the model folder keeps.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::tasks::baselines::{GradientBoosting, LogisticRegression, Table};
use crate::tasks::classify::stratified_folds;

/// Folds of the training targets for their out-of-fold log-odds.
pub const STACKING_FOLDS: usize = 5;

/// The models a trees view keeps, each fitted on every training target.
#[derive(Serialize, Deserialize)]
pub struct TreeView {
    /// Logistic regression on the targets' mean text features (with a
    /// frozen text side).
    text: Option<LogisticRegression>,
    trees: GradientBoosting,
}

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
struct Fold {
    /// Positions (into the training rows) of the held-out part.
    held: Vec<usize>,
    rest_rows: Vec<usize>,
    rest_labels: Vec<usize>,
}

/// Stratified folds of the training rows; fewer than [`STACKING_FOLDS`]
/// when a class is rarer than that, so that every fold leaves rows of each
/// class to fit on. A fold whose rest lacks a class is left out (its rows
/// keep even odds).
fn folds(train: &[usize], labels: &[usize], num_classes: usize, seed: u64) -> Vec<Fold> {
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
            let (rest_rows, rest_labels): (Vec<usize>, Vec<usize>) = (0..train.len())
                .filter(|&i| !is_held[i])
                .map(|i| (train[i], labels[i]))
                .unzip();
            let mut classes = rest_labels.clone();
            classes.sort_unstable();
            classes.dedup();
            (classes.len() >= 2).then(|| Fold {
                held: fold.iter().map(|&(i, _)| i as usize).collect(),
                rest_rows,
                rest_labels,
            })
        })
        .collect()
}

/// Class probabilities to the log-odds the trees give (see `tree_outputs`).
fn probability_log_odds(probabilities: Vec<Vec<f32>>) -> Vec<Vec<f32>> {
    let odds = |p: f32| {
        let p = p.clamp(1e-6, 1.0 - 1e-6);
        (p / (1.0 - p)).ln()
    };
    probabilities
        .into_iter()
        .map(|p| match p.len() {
            2 => vec![odds(p[1])],
            _ => p.into_iter().map(odds).collect(),
        })
        .collect()
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
    /// when given, `texts` (the same rows; mean text features). Each model
    /// chooses its hyper-parameters on a validation share of those rows
    /// and is refitted on all of them, and once per fold for the
    /// out-of-fold log-odds of `train`, returned in its order.
    pub fn fit(
        attributes: &Table,
        texts: Option<&Table>,
        train: &[usize],
        labels: &[usize],
        num_classes: usize,
        seed: u64,
    ) -> Result<(Self, Vec<Vec<f32>>)> {
        let folds = folds(train, labels, num_classes, seed);
        let outputs = tree_outputs(num_classes);
        let (text, table) = match texts {
            Some(texts) => {
                let model = LogisticRegression::fit(texts, train, labels, num_classes, seed)?;
                let all: Vec<usize> = (0..texts.rows.len()).collect();
                let mut odds = probability_log_odds(model.probabilities(texts, &all)?);
                for &row in train {
                    odds[row] = vec![0.0; outputs];
                }
                for fold in &folds {
                    let fold_model = LogisticRegression::fit_with_l2(
                        texts,
                        &fold.rest_rows,
                        &fold.rest_labels,
                        num_classes,
                        model.l2(),
                    )?;
                    let rows: Vec<usize> = fold.held.iter().map(|&i| train[i]).collect();
                    let held = probability_log_odds(fold_model.probabilities(texts, &rows)?);
                    for (row, o) in rows.into_iter().zip(held) {
                        odds[row] = o;
                    }
                }
                (Some(model), with_leading_columns(&odds, attributes))
            }
            None => (None, attributes.clone()),
        };
        let trees = GradientBoosting::fit(&table, train, labels, num_classes, seed)?;
        let mut out_of_fold = vec![vec![0.0; outputs]; train.len()];
        for (k, fold) in folds.iter().enumerate() {
            let fold_trees = GradientBoosting::fit_with(
                &table,
                &fold.rest_rows,
                &fold.rest_labels,
                num_classes,
                trees.max_depth(),
                trees.trees(),
                seed + 1 + k as u64,
            )?;
            let rows: Vec<usize> = fold.held.iter().map(|&i| train[i]).collect();
            let odds = by_row(fold_trees.log_odds(&table, &rows)?);
            for (&i, odds) in fold.held.iter().zip(odds) {
                out_of_fold[i] = odds;
            }
        }
        Ok((Self { text, trees }, out_of_fold))
    }

    /// The table the trees read: the text model's log-odds before the
    /// attributes, when the view has a text model.
    fn tree_table(&self, attributes: &Table, texts: Option<&Table>) -> Result<Table> {
        match (&self.text, texts) {
            (Some(model), Some(texts)) => {
                let all: Vec<usize> = (0..texts.rows.len()).collect();
                let odds = probability_log_odds(model.probabilities(texts, &all)?);
                Ok(with_leading_columns(&odds, attributes))
            }
            (Some(_), None) => Err(crate::Error::Data(
                "the trees view reads the texts too: the model needs its text side".into(),
            )),
            (None, _) => Ok(attributes.clone()),
        }
    }

    /// Whether the view reads the targets' texts.
    pub fn reads_text(&self) -> bool {
        self.text.is_some()
    }

    /// The log-odds of every row (each `tree_outputs` wide).
    pub fn log_odds(&self, attributes: &Table, texts: Option<&Table>) -> Result<Vec<Vec<f32>>> {
        let table = self.tree_table(attributes, texts)?;
        let all: Vec<usize> = (0..table.rows.len()).collect();
        Ok(by_row(self.trees.log_odds(&table, &all)?))
    }

    /// Each attribute column's Shapley contribution to each of `row`'s
    /// log-odds (output by output; the text log-odds columns left out).
    pub fn contributions(
        &self,
        attributes: &Table,
        texts: Option<&Table>,
        row: usize,
    ) -> Result<Vec<Vec<f64>>> {
        let table = self.tree_table(attributes, texts)?;
        let skip = table.columns.len() - attributes.columns.len();
        Ok(self
            .trees
            .contributions(&table, row)?
            .into_iter()
            .map(|c| c[skip..].to_vec())
            .collect())
    }

    /// The models' hyper-parameters, as validation chose them.
    pub fn describe(&self) -> String {
        let trees = format!(
            "max_depth={} trees={}",
            self.trees.max_depth(),
            self.trees.trees()
        );
        match &self.text {
            Some(text) => format!("{trees}, over text log-odds (l2={})", text.l2()),
            None => trees,
        }
    }
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

    fn roc(odds: &[Vec<f32>], truth: &[usize]) -> f64 {
        let p: Vec<Vec<f32>> = odds.iter().map(|o| vec![-o[0], o[0]]).collect();
        crate::tasks::baselines::macro_roc_auc(&p, truth, 2).unwrap()
    }

    #[test]
    fn text_and_structure_together_find_a_conjunction_neither_finds_alone() {
        let (attributes, texts, labels) = conjunction(400);
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
    fn several_classes_get_one_log_odds_each_and_the_view_survives_json() {
        let (attributes, texts, labels) = conjunction(120);
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
