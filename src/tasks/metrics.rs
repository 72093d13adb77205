//! Ranking and classification metrics, one implementation for every task.
//!
//! Ranks follow PyKEEN's "realistic" rank: with `g` candidates scoring
//! strictly higher than the true one and `e` others scoring the same, the
//! rank is the expected rank under random tie-breaking, `1 + g + e / 2`.

use serde::{Deserialize, Serialize};

/// Realistic rank of `scores[target]` among the candidates not `filtered`
/// (known true answers other than the target).
pub fn realistic_rank(scores: &[f32], target: usize, filtered: impl Fn(usize) -> bool) -> f64 {
    let s = scores[target];
    let (mut greater, mut equal) = (0usize, 0usize);
    for (i, &x) in scores.iter().enumerate() {
        if i == target || filtered(i) {
            continue;
        }
        if x > s {
            greater += 1;
        } else if x == s {
            equal += 1;
        }
    }
    1.0 + greater as f64 + equal as f64 / 2.0
}

/// Mean reciprocal rank and Hits@1/3/10 over a set of ranks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RankMetrics {
    pub mrr: f64,
    pub hits_at_1: f64,
    pub hits_at_3: f64,
    pub hits_at_10: f64,
    pub count: usize,
}

impl RankMetrics {
    pub fn from_ranks(ranks: &[f64]) -> Self {
        let n = ranks.len().max(1) as f64;
        let hits = |k: f64| ranks.iter().filter(|&&r| r <= k).count() as f64 / n;
        Self {
            mrr: ranks.iter().map(|r| 1.0 / r).sum::<f64>() / n,
            hits_at_1: hits(1.0),
            hits_at_3: hits(3.0),
            hits_at_10: hits(10.0),
            count: ranks.len(),
        }
    }
}

/// Held-out classification quality. The confusion matrix has true classes as
/// rows and predicted classes as columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationMetrics {
    pub classes: Vec<String>,
    pub support: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    /// Binary tasks only: the score is the positive class's probability.
    pub positive_class: Option<String>,
    pub roc_auc: Option<f64>,
    /// Average precision (the step-wise area under the precision-recall curve).
    pub pr_auc: Option<f64>,
    pub confusion: Vec<Vec<usize>>,
}

impl ClassificationMetrics {
    /// From class probabilities (one row per example) and true classes.
    pub fn compute(
        probabilities: &[Vec<f32>],
        labels: &[u32],
        classes: &[String],
        positive: usize,
    ) -> Self {
        let k = classes.len();
        let mut confusion = vec![vec![0usize; k]; k];
        for (p, &y) in probabilities.iter().zip(labels) {
            confusion[y as usize][argmax(p)] += 1;
        }
        let n = labels.len();
        let right: usize = (0..k).map(|c| confusion[c][c]).sum();
        let f1s: Vec<f64> = (0..k)
            .map(|c| {
                let tp = confusion[c][c] as f64;
                let predicted: usize = (0..k).map(|r| confusion[r][c]).sum();
                let actual: usize = confusion[c].iter().sum();
                if predicted + actual == 0 {
                    0.0
                } else {
                    2.0 * tp / (predicted + actual) as f64
                }
            })
            .collect();
        let binary = k == 2;
        let scores: Vec<f32> = probabilities.iter().map(|p| p[positive]).collect();
        let truth: Vec<bool> = labels.iter().map(|&y| y as usize == positive).collect();
        Self {
            classes: classes.to_vec(),
            support: n,
            accuracy: right as f64 / n.max(1) as f64,
            macro_f1: f1s.iter().sum::<f64>() / k.max(1) as f64,
            positive_class: binary.then(|| classes[positive].clone()),
            roc_auc: if binary {
                roc_auc(&scores, &truth)
            } else {
                None
            },
            pr_auc: if binary {
                average_precision(&scores, &truth)
            } else {
                None
            },
            confusion,
        }
    }
}

/// Index of the largest score (the first on a tie).
pub fn argmax(p: &[f32]) -> usize {
    p.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 {
                (i, v)
            } else {
                best
            }
        })
        .0
}

/// Probability that a random positive outscores a random negative (ties
/// count half): the Mann-Whitney form of the ROC area. `None` without both.
pub fn roc_auc(scores: &[f32], positive: &[bool]) -> Option<f64> {
    let pos = positive.iter().filter(|&&p| p).count();
    let neg = positive.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Average ranks (1-based) over ties.
    let mut rank_sum = 0f64;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let average = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += order[i..=j].iter().filter(|&&e| positive[e]).count() as f64 * average;
        i = j + 1;
    }
    let pos_f = pos as f64;
    Some((rank_sum - pos_f * (pos_f + 1.0) / 2.0) / (pos_f * neg as f64))
}

/// Mean of the precision at each positive's rank, by decreasing score
/// (tied scores are taken as one threshold). `None` without positives.
pub fn average_precision(scores: &[f32], positive: &[bool]) -> Option<f64> {
    let total = positive.iter().filter(|&&p| p).count();
    if total == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut seen, mut hits, mut sum, mut i) = (0usize, 0usize, 0f64, 0);
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let new_hits = order[i..=j].iter().filter(|&&e| positive[e]).count();
        seen += j - i + 1;
        hits += new_hits;
        sum += new_hits as f64 * hits as f64 / seen as f64;
        i = j + 1;
    }
    Some(sum / total as f64)
}

/// The class that is rarer among `labels` (the natural "positive" of a
/// binary task, e.g. high risk); the first on a tie.
pub fn minority_class(labels: &[u32], classes: usize) -> usize {
    let mut counts = vec![0usize; classes];
    for &l in labels {
        counts[l as usize] += 1;
    }
    (0..classes).min_by_key(|&c| (counts[c], c)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_count_half_and_filtered_candidates_not_at_all() {
        // Target 0 scores 0.5; one candidate above, two tied, one filtered above.
        let scores = [0.5, 0.9, 0.5, 0.5, 0.95, 0.1];
        assert_eq!(realistic_rank(&scores, 0, |_| false), 1.0 + 2.0 + 1.0);
        assert_eq!(realistic_rank(&scores, 0, |i| i == 4), 1.0 + 1.0 + 1.0);
        assert_eq!(realistic_rank(&scores, 4, |_| false), 1.0);
    }

    #[test]
    fn mrr_and_hits_by_hand() {
        let m = RankMetrics::from_ranks(&[1.0, 2.0, 4.0, 20.0]);
        assert!((m.mrr - (1.0 + 0.5 + 0.25 + 0.05) / 4.0).abs() < 1e-12);
        assert_eq!(m.hits_at_1, 0.25);
        assert_eq!(m.hits_at_3, 0.5);
        assert_eq!(m.hits_at_10, 0.75);
    }

    #[test]
    fn roc_and_pr_areas_by_hand() {
        // Scores 0.9(+) 0.8(-) 0.7(+) 0.1(-): pairs (+,-) ordered right 3 of 4.
        let scores = [0.9, 0.8, 0.7, 0.1];
        let truth = [true, false, true, false];
        assert!((roc_auc(&scores, &truth).unwrap() - 0.75).abs() < 1e-12);
        // Precision at the positives: 1/1 and 2/3.
        let ap = average_precision(&scores, &truth).unwrap();
        assert!((ap - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        // A tie between a positive and a negative counts half.
        assert!((roc_auc(&[0.5, 0.5], &[true, false]).unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(roc_auc(&[0.5], &[true]), None);
    }

    #[test]
    fn confusion_accuracy_and_macro_f1() {
        let classes = vec!["a".to_owned(), "b".to_owned()];
        let probs = vec![
            vec![0.9, 0.1],
            vec![0.2, 0.8],
            vec![0.6, 0.4],
            vec![0.3, 0.7],
        ];
        let m = ClassificationMetrics::compute(&probs, &[0, 1, 1, 1], &classes, 1);
        assert_eq!(m.confusion, vec![vec![1, 0], vec![1, 2]]);
        assert!((m.accuracy - 0.75).abs() < 1e-12);
        // F1(a) = 2·1/(2+1) = 2/3, F1(b) = 2·2/(2+3) = 4/5.
        assert!((m.macro_f1 - (2.0 / 3.0 + 0.8) / 2.0).abs() < 1e-12);
        assert_eq!(m.roc_auc, Some(1.0));
    }
}
