//! A logistic regression over bags of rows, joined by a noisy OR: a bag
//! (an entity's text items) has the factor if any of its rows shows it.
//!
//! "Adverse press" is one adverse story among several neutral ones and
//! the entity's mentions in other companies' news. A regression on the
//! mean of the items dilutes that story by the item count; a noisy OR
//! reads each item and asks whether any is adverse (multiple-instance
//! learning). A leak term gives a bag whose items show nothing a
//! probability of its own.
//!
//! `P(bag) = 1 − σ(−c) · Π σ(−(wᵀxᵢ + b))`, with the items' columns
//! imputed and standardised as [`LogisticRegression`]'s are, fitted to soft
//! targets by L-BFGS on the mean cross-entropy plus `l2 / 2 · |w|²`.
//!
//! [`LogisticRegression`]: super::baselines::LogisticRegression

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::baselines::{check_soft_targets, check_width, lbfgs, sigmoid, Preprocessor, Table};
use crate::error::{Error, Result};

/// Rows of `items` grouped into bags: `bags[r]` are bag `r`'s rows (an
/// empty range: a bag without items).
#[derive(Debug, Clone, Default)]
pub struct Bags {
    pub items: Table,
    pub bags: Vec<Range<usize>>,
    /// How many of each bag's items, from its start, are its owner's own;
    /// the rest are its neighbours'. Empty: every item is the owner's.
    pub own: Vec<usize>,
}

impl Bags {
    /// One row per bag: the mean of its items (missing when it has none).
    pub fn means(&self) -> Table {
        let rows = self.bags.iter().map(|bag| self.mean(bag.clone())).collect();
        Table {
            columns: self.mean_columns("mean"),
            rows,
        }
    }

    /// One row per bag: the mean of its own items, then the mean of its
    /// neighbours' (a part without items takes the bag's mean), so that a
    /// model can weigh an entity's texts apart from its neighbours', as a
    /// graph convolution's self and neighbour weights do.
    pub fn own_and_neighbour_means(&self) -> Table {
        let rows = self
            .bags
            .iter()
            .enumerate()
            .map(|(b, bag)| {
                let split = bag.start + self.own_items(b);
                // An empty part is the whole bag, i.e. the other part.
                let part = |items: Range<usize>| match items.is_empty() {
                    true => self.mean(bag.clone()),
                    false => self.mean(items),
                };
                let mut row = part(bag.start..split);
                row.extend(part(split..bag.end));
                row
            })
            .collect();
        let mut columns = self.mean_columns("own mean");
        columns.extend(self.mean_columns("neighbour mean"));
        Table { columns, rows }
    }

    /// Whether some bag has both items of its own and of its neighbours:
    /// elsewhere the two means of [`Bags::own_and_neighbour_means`] are one.
    pub fn mixes_own_and_neighbour_items(&self) -> bool {
        (0..self.bags.len()).any(|b| (1..self.bags[b].len()).contains(&self.own_items(b)))
    }

    fn own_items(&self, bag: usize) -> usize {
        let all = self.bags[bag].len();
        self.own.get(bag).map_or(all, |&own| own.min(all))
    }

    /// The mean of item rows `items` (missing when there are none).
    fn mean(&self, items: Range<usize>) -> Vec<f32> {
        let width = self.items.columns.len();
        let n = items.len();
        if n == 0 {
            return vec![f32::NAN; width];
        }
        let mut mean = vec![0f32; width];
        for item in &self.items.rows[items] {
            mean.iter_mut().zip(item).for_each(|(m, v)| *m += v);
        }
        mean.iter_mut().for_each(|m| *m /= n as f32);
        mean
    }

    fn mean_columns(&self, prefix: &str) -> Vec<String> {
        let columns = &self.items.columns;
        columns.iter().map(|c| format!("{prefix} {c}")).collect()
    }

    /// The item rows of `bags`, in order, and each bag's range into them.
    fn gather(&self, bags: &[usize]) -> Result<(Vec<usize>, Vec<Range<usize>>)> {
        let mut rows = Vec::new();
        let mut ranges = Vec::with_capacity(bags.len());
        for &b in bags {
            let bag = self.bags.get(b).ok_or_else(|| {
                Error::Data(format!("bag {b} is not there ({} bags)", self.bags.len()))
            })?;
            let start = rows.len();
            rows.extend(bag.clone());
            ranges.push(start..rows.len());
        }
        self.items.check_rows(&rows)?;
        Ok((rows, ranges))
    }
}

/// A fitted noisy OR over bags (see the module's documentation).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoisyOrRegression {
    preprocessor: Preprocessor,
    /// `features` item weights, the item bias `b`, then the leak `c`.
    weights: Vec<f64>,
    l2: f64,
}

/// The items' starting bias and the leak's: each item and the leak start
/// with a probability near 0.1, so that a bag of a few items starts near
/// even odds.
const START_LOGIT: f64 = -2.2;

/// L-BFGS iterations of a fit. The loss is not convex and flat far from
/// its optimum, so running on to a tight gradient tolerance costs many
/// passes over the items for little: the expectation–maximisation rounds
/// that call it refit it anyway.
const MAX_ITERATIONS: usize = 100;

/// L-BFGS iterations of a refit from an earlier fit's weights. The
/// expectation–maximisation rounds move their targets a little at a
/// time, so a few steps from the last round's optimum reach the new one;
/// over the rounds the model gets more steps than one cold fit.
const REFIT_ITERATIONS: usize = 20;

impl NoisyOrRegression {
    /// Fits the bags `bags` of `data` to `targets`, each bag's probability
    /// of having the factor.
    pub fn fit_soft(data: &Bags, bags: &[usize], targets: &[f64], l2: f64) -> Result<Self> {
        Self::fit_from(data, bags, targets, l2, None, MAX_ITERATIONS)
    }

    /// Fits the same bags to new `targets` with the same L2 strength,
    /// starting from this model's weights.
    pub fn refit(&self, data: &Bags, bags: &[usize], targets: &[f64]) -> Result<Self> {
        let start = Some(self.weights.clone());
        Self::fit_from(data, bags, targets, self.l2, start, REFIT_ITERATIONS)
    }

    fn fit_from(
        data: &Bags,
        bags: &[usize],
        targets: &[f64],
        l2: f64,
        start: Option<Vec<f64>>,
        iterations: usize,
    ) -> Result<Self> {
        check_soft_targets(bags.len(), "bags", targets)?;
        if data.items.columns.is_empty() {
            return Err(Error::Data(
                "the items have no columns to learn from".into(),
            ));
        }
        let (rows, ranges) = data.gather(bags)?;
        let preprocessor = Preprocessor::fit(&data.items, &rows);
        let features = preprocessor.features();
        let x = preprocessor.transform(&data.items, &rows);
        let objective = BagObjective {
            x: &x,
            bags: &ranges,
            targets,
            features,
            l2,
        };
        let start = match start {
            // A refit on bags whose items keep other columns starts cold.
            Some(weights) if weights.len() == features + 2 => weights,
            _ => {
                let mut cold = vec![0.0; features + 2];
                cold[features] = START_LOGIT;
                cold[features + 1] = START_LOGIT;
                cold
            }
        };
        let weights = lbfgs(start, iterations, |w, g| objective.evaluate(w, g));
        Ok(Self {
            preprocessor,
            weights,
            l2,
        })
    }

    /// The L2 strength the model was fitted with.
    pub fn l2(&self) -> f64 {
        self.l2
    }

    /// Each of `bags`' probability of having the factor.
    pub fn probabilities(&self, data: &Bags, bags: &[usize]) -> Result<Vec<f64>> {
        check_width(&data.items, self.preprocessor.width())?;
        let (rows, ranges) = data.gather(bags)?;
        let d = self.preprocessor.features();
        let x = self.preprocessor.transform(&data.items, &rows);
        let item_logits = item_logits(&self.weights, &x, d);
        Ok(ranges
            .iter()
            .map(|bag| 1.0 - log_none(&self.weights, d, &item_logits[bag.clone()]).exp())
            .collect())
    }
}

/// `wᵀxᵢ + b` of every standardised item row of `x`.
fn item_logits(w: &[f64], x: &[f64], d: usize) -> Vec<f64> {
    x.chunks_exact(d)
        .map(|row| w[d] + w[..d].iter().zip(row).map(|(a, b)| a * b).sum::<f64>())
        .collect()
}

/// `ln R`, the log-probability that neither the leak nor any item of a bag
/// (its item logits) fires: `−softplus(c) − Σ softplus(zᵢ)`.
fn log_none(w: &[f64], d: usize, logits: &[f64]) -> f64 {
    -softplus(w[d + 1]) - logits.iter().map(|&z| softplus(z)).sum::<f64>()
}

/// `ln(1 + eᶻ)`, without overflow.
fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// The L2-penalised mean cross-entropy of the bags' noisy ORs.
struct BagObjective<'a> {
    /// Standardised item rows, row-major.
    x: &'a [f64],
    /// Each bag's rows of `x`.
    bags: &'a [Range<usize>],
    targets: &'a [f64],
    features: usize,
    l2: f64,
}

impl BagObjective<'_> {
    /// The loss at `w`; its gradient goes into `grad`.
    fn evaluate(&self, w: &[f64], grad: &mut [f64]) -> f64 {
        let d = self.features;
        let n = self.bags.len().max(1) as f64;
        grad.iter_mut().for_each(|g| *g = 0.0);
        let logits = item_logits(w, self.x, d);
        let mut loss = 0.0;
        for (bag, &y) in self.bags.iter().zip(self.targets) {
            let log_r = log_none(w, d, &logits[bag.clone()]);
            // P = 1 − R, kept away from 0 so that R / P stays finite.
            let p = (-log_r.exp_m1()).max(1e-12);
            loss -= y * p.ln() + (1.0 - y) * log_r;
            // d loss / d ln R; ln R falls by σ(z) per unit of each logit.
            let slope = (y * (1.0 - p) / p - (1.0 - y)) / n;
            for i in bag.clone() {
                let delta = -slope * sigmoid(logits[i]);
                let row = &self.x[i * d..(i + 1) * d];
                grad[..d]
                    .iter_mut()
                    .zip(row)
                    .for_each(|(g, v)| *g += delta * v);
                grad[d] += delta;
            }
            grad[d + 1] -= slope * sigmoid(w[d + 1]);
        }
        let mut penalty = 0.0;
        for j in 0..d {
            penalty += w[j] * w[j];
            grad[j] += self.l2 * w[j];
        }
        loss / n + 0.5 * self.l2 * penalty
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Bags of one to five items of two columns; an item "fires" when its
    /// first column is above 1.5 (its second is noise). A bag is positive
    /// when any item fires; `firing` of the positive bags' items fire.
    fn bags(n: usize, seed: u64) -> (Bags, Vec<bool>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut data = Bags {
            items: Table {
                columns: vec!["signal".into(), "noise".into()],
                rows: Vec::new(),
            },
            bags: Vec::new(),
            own: Vec::new(),
        };
        let mut positive = Vec::new();
        for b in 0..n {
            let start = data.items.rows.len();
            let size = rng.random_range(1..=5);
            let fires = b % 2 == 0;
            let firing = if fires {
                rng.random_range(0..size)
            } else {
                size
            };
            for i in 0..size {
                let signal = if i == firing {
                    rng.random_range(2.0..3.0)
                } else {
                    rng.random_range(-1.0..1.0)
                };
                data.items
                    .rows
                    .push(vec![signal, rng.random_range(-1.0..1.0)]);
            }
            data.bags.push(start..data.items.rows.len());
            positive.push(fires);
        }
        (data, positive)
    }

    #[test]
    fn one_firing_item_makes_a_positive_bag_however_many_items_are_quiet() {
        let (train, labels) = bags(200, 1);
        let targets: Vec<f64> = labels.iter().map(|&p| f64::from(u8::from(p))).collect();
        let all: Vec<usize> = (0..train.bags.len()).collect();
        let model = NoisyOrRegression::fit_soft(&train, &all, &targets, 1e-3).unwrap();
        let (test, truth) = bags(200, 2);
        let every: Vec<usize> = (0..test.bags.len()).collect();
        let p = model.probabilities(&test, &every).unwrap();
        let right = p
            .iter()
            .zip(&truth)
            .filter(|(p, &t)| (**p > 0.5) == t)
            .count();
        assert!(right >= 196, "{right} of 200");
        // A bag of one firing item among four quiet ones, and of the four alone.
        let probe = Bags {
            items: Table {
                columns: train.items.columns.clone(),
                rows: vec![
                    vec![2.5, 0.0],
                    vec![0.0, 0.5],
                    vec![0.2, -0.5],
                    vec![-0.4, 0.1],
                    vec![0.3, 0.9],
                ],
            },
            bags: vec![0..5, 1..5, 5..5],
            own: Vec::new(),
        };
        let p = model.probabilities(&probe, &[0, 1, 2]).unwrap();
        assert!(p[0] > 0.9 && p[1] < 0.1, "{p:?}");
        assert!(p[2] < 0.5, "a bag without items has only the leak: {p:?}");
    }

    #[test]
    fn a_refit_starts_from_the_fit_and_follows_new_targets() {
        let (train, labels) = bags(200, 6);
        let all: Vec<usize> = (0..train.bags.len()).collect();
        let soft = |flip: bool| -> Vec<f64> {
            labels
                .iter()
                .map(|&p| if p != flip { 0.9 } else { 0.1 })
                .collect()
        };
        let model = NoisyOrRegression::fit_soft(&train, &all, &soft(false), 1e-2).unwrap();
        let error = |m: &NoisyOrRegression, targets: &[f64]| -> f64 {
            let p = m.probabilities(&train, &all).unwrap();
            p.iter()
                .zip(targets)
                .map(|(p, t)| (p - t).abs())
                .sum::<f64>()
                / p.len() as f64
        };
        // The same targets: it stays where the fit ended.
        let again = model.refit(&train, &all, &soft(false)).unwrap();
        let before = model.probabilities(&train, &all).unwrap();
        let after = again.probabilities(&train, &all).unwrap();
        let moved = before.iter().zip(&after).map(|(a, b)| (a - b).abs());
        assert!(moved.fold(0.0, f64::max) < 0.02);
        assert_eq!(again.l2(), model.l2());
        // Targets turned over: the refit moves towards them.
        let turned = model.refit(&train, &all, &soft(true)).unwrap();
        assert!(
            error(&turned, &soft(true)) < error(&model, &soft(true)),
            "{} against {}",
            error(&turned, &soft(true)),
            error(&model, &soft(true))
        );
    }

    #[test]
    fn a_bag_mean_is_the_mean_of_its_items_and_missing_without_any() {
        let (train, labels) = bags(200, 3);
        let means = train.means();
        assert_eq!(means.rows.len(), 200);
        let first = &train.items.rows[train.bags[0].clone()];
        let mean = first.iter().map(|r| r[0]).sum::<f32>() / first.len() as f32;
        assert!((means.rows[0][0] - mean).abs() < 1e-6);
        let empty = Bags {
            items: train.items.clone(),
            bags: vec![0..0],
            own: Vec::new(),
        };
        assert!(empty.means().rows[0].iter().all(|v| v.is_nan()));
        assert!(!train.mixes_own_and_neighbour_items());
        assert!(labels.iter().any(|&l| l) && labels.iter().any(|&l| !l));
    }

    #[test]
    fn own_and_neighbour_means_keep_the_parts_apart() {
        let items = Table {
            columns: vec!["x".into()],
            rows: vec![
                vec![1.0],
                vec![3.0],
                vec![8.0],
                vec![2.0],
                vec![5.0],
                vec![7.0],
            ],
        };
        // Two own items and a neighbour's; only own; only a neighbour's; none.
        let bags = Bags {
            items,
            bags: vec![0..3, 3..4, 4..5, 5..5],
            own: vec![2, 1, 0, 0],
        };
        assert!(bags.mixes_own_and_neighbour_items());
        let apart = Bags {
            bags: bags.bags[1..].to_vec(),
            own: bags.own[1..].to_vec(),
            ..bags.clone()
        };
        assert!(!apart.mixes_own_and_neighbour_items());
        let means = bags.own_and_neighbour_means();
        assert_eq!(means.columns, ["own mean x", "neighbour mean x"]);
        assert_eq!(means.rows[0], [2.0, 8.0]);
        // A part without items takes the bag's mean.
        assert_eq!(means.rows[1], [2.0, 2.0]);
        assert_eq!(means.rows[2], [5.0, 5.0]);
        assert!(means.rows[3].iter().all(|v| v.is_nan()));
        assert_eq!(bags.means().rows[0], [4.0]);
    }

    #[test]
    fn the_gradient_is_the_slope_of_the_loss() {
        let (data, labels) = bags(30, 4);
        let all: Vec<usize> = (0..data.bags.len()).collect();
        let (rows, ranges) = data.gather(&all).unwrap();
        let preprocessor = Preprocessor::fit(&data.items, &rows);
        let x = preprocessor.transform(&data.items, &rows);
        let targets: Vec<f64> = labels.iter().map(|&p| if p { 0.9 } else { 0.2 }).collect();
        let objective = BagObjective {
            x: &x,
            bags: &ranges,
            targets: &targets,
            features: 2,
            l2: 0.1,
        };
        let w = vec![0.7, -0.3, -1.0, -1.5];
        let mut grad = vec![0.0; 4];
        objective.evaluate(&w, &mut grad);
        for j in 0..4 {
            let (mut up, mut down) = (w.clone(), w.clone());
            up[j] += 1e-6;
            down[j] -= 1e-6;
            let mut scratch = vec![0.0; 4];
            let slope = (objective.evaluate(&up, &mut scratch)
                - objective.evaluate(&down, &mut scratch))
                / 2e-6;
            assert!(
                (slope - grad[j]).abs() < 1e-6,
                "{j}: {slope} against {}",
                grad[j]
            );
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        let (data, _) = bags(4, 5);
        assert!(NoisyOrRegression::fit_soft(&data, &[0, 1], &[1.0], 0.1).is_err());
        assert!(NoisyOrRegression::fit_soft(&data, &[0], &[1.5], 0.1).is_err());
        assert!(NoisyOrRegression::fit_soft(&data, &[9], &[1.0], 0.1).is_err());
    }
}
