//! Relation-path labels: which chains of relations, followed from a
//! question's topic through its retrieved subgraph, reach its gold answers.
//! A question's labels are the shortest chains whose endpoints match the
//! gold answers best (answer-set F1); ties are all kept, as equally good
//! readings. The model learns each hop's relation and the hop count from
//! these, the way a person would say which relations a question follows.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A chain of relation ids (with inverses), one per hop.
pub type RelationPath = Vec<u32>;

/// The best-matching shortest relation paths of up to `max_hops` from the
/// topics to the gold answers over `edges` (`(source, relation, target)`,
/// both directions); none when no path reaches a gold answer.
pub fn label_paths(
    edges: &[(u32, u32, u32)],
    topics: &[usize],
    gold: &[usize],
    max_hops: usize,
) -> Vec<RelationPath> {
    if gold.is_empty() {
        return Vec::new();
    }
    let mut outgoing: HashMap<u32, Vec<(u32, u32)>> = HashMap::new();
    for &(s, r, t) in edges {
        outgoing.entry(s).or_default().push((r, t));
    }
    let gold: BTreeSet<u32> = gold.iter().map(|&g| g as u32).collect();
    let topics: BTreeSet<u32> = topics.iter().map(|&t| t as u32).collect();
    let f1 = |reached: &BTreeSet<u32>| -> f64 {
        let answers = reached.difference(&topics).count();
        let right = reached.intersection(&gold).count();
        if right == 0 {
            return 0.0;
        }
        let (p, r) = (
            right as f64 / answers as f64,
            right as f64 / gold.len() as f64,
        );
        2.0 * p * r / (p + r)
    };
    let mut layer: Vec<(RelationPath, BTreeSet<u32>)> = vec![(Vec::new(), topics.clone())];
    for _ in 0..max_hops {
        let mut next = Vec::new();
        for (path, from) in &layer {
            let mut by_relation: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
            for node in from {
                for &(r, t) in outgoing.get(node).map_or(&[][..], Vec::as_slice) {
                    by_relation.entry(r).or_default().insert(t);
                }
            }
            for (r, reached) in by_relation {
                let mut longer = path.clone();
                longer.push(r);
                next.push((longer, reached));
            }
        }
        let scored: Vec<f64> = next.iter().map(|(_, reached)| f1(reached)).collect();
        let best = scored.iter().copied().fold(0.0, f64::max);
        if best > 0.0 {
            return next
                .into_iter()
                .zip(scored)
                .filter(|(_, s)| *s >= best - 1e-9)
                .map(|((path, _), _)| path)
                .collect();
        }
        layer = next;
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Film 0 directed (r0) by 1 and written (r1) by 2; 1 also directed film
    /// 3. Inverses are r + 2.
    fn films() -> Vec<(u32, u32, u32)> {
        let mut edges = Vec::new();
        for (s, r, t) in [(0, 0, 1), (0, 1, 2), (3, 0, 1)] {
            edges.push((s, r, t));
            edges.push((t, r + 2, s));
        }
        edges
    }

    #[test]
    fn the_shortest_path_that_matches_the_answers_is_the_label() {
        assert_eq!(label_paths(&films(), &[0], &[1], 2), vec![vec![0]]);
        // "films by the director of 0": 0 -r0-> 1 -r0^-1-> 3 (0 is the topic).
        assert_eq!(label_paths(&films(), &[0], &[3], 2), vec![vec![0, 2]]);
        assert!(label_paths(&films(), &[0], &[], 2).is_empty());
        assert!(
            label_paths(&films(), &[0], &[3], 1).is_empty(),
            "3 is two hops away"
        );
    }

    #[test]
    fn paths_that_match_equally_well_are_all_kept() {
        // 1 both directed (r0) and wrote (r1) film 0.
        let both = [(0, 0, 1), (1, 2, 0), (0, 1, 1), (1, 3, 0)];
        assert_eq!(label_paths(&both, &[0], &[1], 2), vec![vec![0], vec![1]]);
        // With 2 as a second gold answer only "written by" reaches both.
        let mut edges = films();
        edges.extend([(0, 1, 1), (1, 3, 0)]);
        assert_eq!(label_paths(&edges, &[0], &[1, 2], 2), vec![vec![1]]);
    }
}
