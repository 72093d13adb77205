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
}
