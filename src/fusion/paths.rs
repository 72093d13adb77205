//! Relation paths from each target as counted features
//! (propositionalisation, as in the walk and Weisfeiler–Lehman features that
//! do well on RDF node classification).
//!
//! "A company that controls this one is the target of a sanction" is the
//! path `isControlledBy / ^targets` ending at a node with the feature
//! `a Sanction`. The R-GCN sees such a pattern only averaged with every other
//! neighbour, two layers deep; as a counted feature, one weight picks it out.
//! A feature is a relation path of one to `max_length` steps (inverse
//! steps included) and a node feature of the node it ends at (a class, a
//! categorical value, a hub's identity, or plain `node`: "there is one").
//!
//! The paths counted are the most common over the targets of the training
//! store (no label is read), and of those a fit keeps the ones that say
//! most about its training labels ([`RelationPaths::select`]); `predict`
//! counts the same ones on new data. Redundancy is removed first, or it would fill the budget: a relation
//! that repeats another (an `owl:inverseOf` or `owl:equivalentProperty`
//! pair the reasoner materialised) is not walked, and of features that
//! count the same on every target (a class and its superclass, when every
//! end node has both) only one is kept.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::data::{FusionInputs, Vocabulary};

/// Longest path, in edges, that `max_length` may ask for.
pub const MAX_LENGTH: usize = 3;
/// Nodes with more edges than this end paths but do not extend them: a
/// jurisdiction or a class-like hub would join every target to every other.
const MAX_EXPANDED_DEGREE: usize = 64;
/// Walks counted per target at most, so a dense neighbourhood stays cheap;
/// shorter paths are counted first.
const MAX_WALKS: usize = 20_000;
/// A path feature must occur on this many targets.
const MIN_TARGETS: usize = 3;
/// Path features counted at most (the most common).
const MAX_FEATURES: usize = 4_096;
/// Path features the network reads at most: those that say most about the
/// training labels (see [`RelationPaths::select`]).
pub const MAX_SELECTED: usize = 512;

/// One path feature: relation ids (`r`, or `r + relations` read backwards)
/// and the node feature id where the path ends.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PathFeature {
    pub relations: Vec<u32>,
    pub feature: u32,
}

/// The path features a model counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RelationPaths {
    /// Longest path counted, in edges (0: none).
    pub max_length: usize,
    pub features: Vec<PathFeature>,
    /// Steps (relation ids, `+ relations` for inverse steps) that walks do
    /// not take because another step has exactly the same edges.
    #[serde(default)]
    pub skipped_steps: Vec<u32>,
    /// Multiplies each feature's `ln(1 + count)` so that its mean over the
    /// training targets that have it is 1: a rare, decisive path then
    /// weighs as much as a common one.
    pub scales: Vec<f32>,
}

/// A target's path features: `(feature id, scale · ln(1 + count))`, by id.
pub type PathCounts = Vec<(u32, f32)>;

impl RelationPaths {
    /// Keeps the path features that occur on at least [`MIN_TARGETS`] of
    /// the targets of `inputs`, one of each set that counts the same on
    /// every target: shorter paths first, then the most common, up to
    /// [`MAX_FEATURES`].
    pub fn fit(inputs: &FusionInputs, num_relations: usize, max_length: usize) -> Self {
        let max_length = max_length.min(MAX_LENGTH);
        let skipped_steps = redundant_steps(&inputs.edges, num_relations);
        let walker = Walker::new(inputs, num_relations, &skipped_steps, &[], max_length);
        let mut spread: HashMap<PackedFeature, Spread> = HashMap::new();
        for (t, target) in inputs.targets.iter().enumerate() {
            for (feature, n) in walker.counts(target.node) {
                let entry = spread.entry(feature).or_default();
                entry.targets += 1;
                entry.log_sum += (1.0 + n as f32).ln();
                entry.fingerprint = entry
                    .fingerprint
                    .wrapping_add(mix(((t as u64) << 32) | u64::from(n)));
            }
        }
        // How many nodes have each node feature: of two features with the
        // same counts, the one ending at the rarer (more specific) is kept.
        let mut frequency = vec![
            0usize;
            1 + inputs
                .node_features
                .iter()
                .flatten()
                .max()
                .map_or(0, |&f| f as usize)
        ];
        for &f in inputs.node_features.iter().flatten() {
            frequency[f as usize] += 1;
        }
        let mut distinct: HashMap<(u64, usize), (PathFeature, Spread)> = HashMap::new();
        for (feature, s) in spread.into_iter().filter(|(_, s)| s.targets >= MIN_TARGETS) {
            let feature = unpack(feature);
            let preference =
                |f: &PathFeature| (f.relations.len(), frequency[f.feature as usize], f.clone());
            let slot = distinct
                .entry((s.fingerprint, s.targets))
                .or_insert_with(|| (feature.clone(), s));
            if preference(&feature) < preference(&slot.0) {
                *slot = (feature, s);
            }
        }
        let mut kept: Vec<(PathFeature, Spread)> = distinct.into_values().collect();
        kept.sort_by(|a, b| {
            (a.0.relations.len().cmp(&b.0.relations.len()))
                .then_with(|| b.1.targets.cmp(&a.1.targets))
                .then_with(|| a.0.cmp(&b.0))
        });
        kept.truncate(MAX_FEATURES);
        kept.sort_by(|a, b| a.0.cmp(&b.0));
        let (features, scales) = kept
            .into_iter()
            .map(|(f, s)| (f, s.targets as f32 / s.log_sum))
            .unzip();
        Self {
            max_length,
            features,
            skipped_steps,
            scales,
        }
    }

    /// Keeps the `k` features whose presence says most about the classes of
    /// the `train` targets (`(target, class)`; χ² of presence against
    /// class), and rewrites every target's `counts` to the new ids. Of
    /// thousands of counts a few carry the signal; a network handed all of
    /// them fits the rest to noise.
    pub fn select(
        &mut self,
        counts: &mut [PathCounts],
        train: &[(usize, u32)],
        classes: usize,
        k: usize,
    ) {
        if self.features.len() <= k {
            return;
        }
        let n = train.len() as f64;
        let mut class_size = vec![0f64; classes];
        let mut present = vec![vec![0f64; classes]; self.features.len()];
        for &(t, c) in train {
            class_size[c as usize] += 1.0;
            for &(f, _) in &counts[t] {
                present[f as usize][c as usize] += 1.0;
            }
        }
        let chi2 = |row: &[f64]| -> f64 {
            let with: f64 = row.iter().sum();
            let without = n - with;
            if with == 0.0 || without == 0.0 {
                return 0.0;
            }
            (0..classes)
                .filter(|&c| class_size[c] > 0.0)
                .map(|c| {
                    let expected_with = with * class_size[c] / n;
                    let expected_without = without * class_size[c] / n;
                    (row[c] - expected_with).powi(2) / expected_with
                        + (class_size[c] - row[c] - expected_without).powi(2) / expected_without
                })
                .sum()
        };
        let mut ranked: Vec<(f64, usize)> = present
            .iter()
            .enumerate()
            .map(|(f, row)| (chi2(row), f))
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut kept: Vec<usize> = ranked[..k].iter().map(|&(_, f)| f).collect();
        kept.sort_unstable();
        let mut new_id = vec![None; self.features.len()];
        for (i, &f) in kept.iter().enumerate() {
            new_id[f] = Some(i as u32);
        }
        self.features = kept.iter().map(|&f| self.features[f].clone()).collect();
        self.scales = kept.iter().map(|&f| self.scales[f]).collect();
        for target in counts.iter_mut() {
            target.retain_mut(|(f, _)| match new_id[*f as usize] {
                Some(id) => {
                    *f = id;
                    true
                }
                None => false,
            });
        }
    }

    /// How many features of each length, from one step to `max_length`.
    pub fn per_length(&self) -> Vec<usize> {
        let mut counts = vec![0; self.max_length];
        for f in &self.features {
            counts[f.relations.len() - 1] += 1;
        }
        counts
    }

    pub fn len(&self) -> usize {
        self.features.len()
    }

    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// Every target's counts of the kept path features.
    pub fn encode(&self, inputs: &FusionInputs, num_relations: usize) -> Vec<PathCounts> {
        if self.features.is_empty() {
            return vec![Vec::new(); inputs.targets.len()];
        }
        let walker = self.walker(inputs, num_relations, &[]);
        let ids = self.ids();
        inputs
            .targets
            .iter()
            .map(|t| self.weigh(&ids, walker.counts(t.node)))
            .collect()
    }

    /// One node's counts with some edges (indices into `inputs.edges`)
    /// taken out: what the model reads once those triples are gone.
    pub fn encode_without(
        &self,
        inputs: &FusionInputs,
        num_relations: usize,
        node: u32,
        removed: &[usize],
    ) -> PathCounts {
        let walker = self.walker(inputs, num_relations, removed);
        self.weigh(&self.ids(), walker.counts(node))
    }

    /// For each of the path features `ids`, up to `limit` walks from `node`
    /// that make it up, as edge indices into `inputs.edges`: the triples
    /// behind the feature.
    pub fn instances(
        &self,
        inputs: &FusionInputs,
        num_relations: usize,
        node: u32,
        ids: &[u32],
        limit: usize,
    ) -> Vec<Vec<Vec<usize>>> {
        let walker = self.walker(inputs, num_relations, &[]);
        ids.iter()
            .map(|&id| {
                let mut found = Vec::new();
                walker.follow(
                    &self.features[id as usize],
                    &mut vec![node],
                    &mut Vec::new(),
                    &mut found,
                    limit,
                );
                found
            })
            .collect()
    }

    /// Walks as this model counts them, without the `removed` edges.
    fn walker<'a>(
        &self,
        inputs: &'a FusionInputs,
        num_relations: usize,
        removed: &[usize],
    ) -> Walker<'a> {
        Walker::new(
            inputs,
            num_relations,
            &self.skipped_steps,
            removed,
            self.max_length,
        )
    }

    fn ids(&self) -> HashMap<PackedFeature, u32> {
        self.features
            .iter()
            .enumerate()
            .map(|(i, f)| (pack(f), i as u32))
            .collect()
    }

    fn weigh(
        &self,
        ids: &HashMap<PackedFeature, u32>,
        counts: HashMap<PackedFeature, u32>,
    ) -> PathCounts {
        let mut weighed: PathCounts = counts
            .into_iter()
            .filter_map(|(f, n)| {
                let id = *ids.get(&f)?;
                Some((id, self.scales[id as usize] * (1.0 + n as f32).ln()))
            })
            .collect();
        weighed.sort_by_key(|&(id, _)| id);
        weighed
    }

    /// Readable names: `<r1> ^<r2> → a <Class>` (`^`: read backwards).
    pub fn names(&self, vocab: &Vocabulary) -> Vec<String> {
        let r = vocab.relations.len() as u32;
        self.features
            .iter()
            .map(|f| {
                let steps: Vec<String> = f
                    .relations
                    .iter()
                    .map(|&id| match id.checked_sub(r) {
                        Some(back) => format!("^<{}>", vocab.relations[back as usize]),
                        None => format!("<{}>", vocab.relations[id as usize]),
                    })
                    .collect();
                format!(
                    "{} → {}",
                    steps.join(" "),
                    vocab.features[f.feature as usize]
                )
            })
            .collect()
    }
}

/// What [`RelationPaths::fit`] learns of one candidate feature.
#[derive(Clone, Copy, Default)]
struct Spread {
    /// Training targets that have it.
    targets: usize,
    /// Their sum of `ln(1 + count)`.
    log_sum: f32,
    /// Order-free hash of its `(target, count)` pairs: equal for features
    /// that count the same on every target.
    fingerprint: u64,
}

/// SplitMix64's finaliser: spreads a word over all 64 bits.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Steps that repeat another step's edges: a relation with the same
/// edges as an earlier one, forwards or backwards (both its steps go), and
/// the inverse step of a symmetric relation.
fn redundant_steps(edges: &[(u32, u32, u32)], num_relations: usize) -> Vec<u32> {
    let mut forward: Vec<Vec<(u32, u32)>> = vec![Vec::new(); num_relations];
    for &(s, p, o) in edges {
        forward[p as usize].push((s, o));
    }
    for pairs in &mut forward {
        pairs.sort_unstable();
        pairs.dedup();
    }
    let backward: Vec<Vec<(u32, u32)>> = forward
        .iter()
        .map(|pairs| {
            let mut reversed: Vec<(u32, u32)> = pairs.iter().map(|&(s, o)| (o, s)).collect();
            reversed.sort_unstable();
            reversed
        })
        .collect();
    let r = num_relations as u32;
    let mut skipped = Vec::new();
    for q in 0..num_relations {
        if forward[q].is_empty() {
            continue;
        }
        if (0..q).any(|p| forward[p] == forward[q] || forward[p] == backward[q]) {
            skipped.extend([q as u32, q as u32 + r]);
        } else if backward[q] == forward[q] {
            skipped.push(q as u32 + r);
        }
    }
    skipped
}

/// A path packed into a word: step `i` is `relation + 1` in bits
/// `16·i .. 16·i + 16` (0: no step), so counting needs no allocation.
type PackedPath = u64;

/// A [`PathFeature`] as a packed path and the end node's feature id.
type PackedFeature = (PackedPath, u32);

fn pack(feature: &PathFeature) -> PackedFeature {
    let path = feature
        .relations
        .iter()
        .enumerate()
        .fold(0, |path, (i, &r)| path | (u64::from(r + 1) << (16 * i)));
    (path, feature.feature)
}

fn unpack((path, feature): PackedFeature) -> PathFeature {
    let relations = (0..MAX_LENGTH)
        .map(|i| (path >> (16 * i)) as u16)
        .take_while(|&step| step != 0)
        .map(|step| u32::from(step) - 1)
        .collect();
    PathFeature { relations, feature }
}

/// A walk in progress: its path and the nodes it has visited.
#[derive(Clone, Copy)]
struct Walk {
    path: PackedPath,
    length: usize,
    nodes: [u32; MAX_LENGTH + 1],
}

/// Walks simple paths out of a node over the forward and inverse edges.
struct Walker<'a> {
    /// `(relation, neighbour, edge index)` per node, inverse relations
    /// offset by `R`.
    adjacency: Vec<Vec<(u32, u32, usize)>>,
    node_features: &'a [Vec<u32>],
    max_length: usize,
}

impl<'a> Walker<'a> {
    /// Over every edge of `inputs` but the `removed` ones, in every
    /// direction but the `skipped` steps.
    fn new(
        inputs: &'a FusionInputs,
        num_relations: usize,
        skipped: &[u32],
        removed: &[usize],
        max_length: usize,
    ) -> Self {
        let r = num_relations as u32;
        let mut adjacency: Vec<Vec<(u32, u32, usize)>> = vec![Vec::new(); inputs.view.node_count()];
        // Relation ids must fit a packed step (far above any real schema).
        if 2 * num_relations < usize::from(u16::MAX) {
            for (e, &(s, p, o)) in inputs.edges.iter().enumerate() {
                if removed.contains(&e) {
                    continue;
                }
                if !skipped.contains(&p) {
                    adjacency[s as usize].push((p, o, e));
                }
                if !skipped.contains(&(p + r)) {
                    adjacency[o as usize].push((p + r, s, e));
                }
            }
        }
        for list in &mut adjacency {
            list.sort_unstable();
        }
        Self {
            adjacency,
            node_features: &inputs.node_features,
            max_length,
        }
    }

    /// How many walks of each path feature leave `start` (no node twice).
    fn counts(&self, start: u32) -> HashMap<PackedFeature, u32> {
        let mut packed: HashMap<PackedFeature, u32> = HashMap::new();
        let mut nodes = [0; MAX_LENGTH + 1];
        nodes[0] = start;
        // Breadth first, so the walk budget cuts long paths before short ones.
        let mut frontier = vec![Walk {
            path: 0,
            length: 0,
            nodes,
        }];
        let mut walks = 0;
        'grow: while let Some(length) = frontier.first().map(|w| w.length) {
            if length == self.max_length {
                break;
            }
            let mut next = Vec::new();
            for walk in &frontier {
                let at = walk.nodes[walk.length];
                let edges = &self.adjacency[at as usize];
                if walk.length > 0 && edges.len() > MAX_EXPANDED_DEGREE {
                    continue;
                }
                for &(relation, neighbour, _) in edges {
                    if walk.nodes[..=walk.length].contains(&neighbour) {
                        continue;
                    }
                    if walks == MAX_WALKS {
                        break 'grow;
                    }
                    walks += 1;
                    let mut longer = *walk;
                    longer.path |= u64::from(relation + 1) << (16 * walk.length);
                    longer.length += 1;
                    longer.nodes[longer.length] = neighbour;
                    for &feature in &self.node_features[neighbour as usize] {
                        *packed.entry((longer.path, feature)).or_default() += 1;
                    }
                    next.push(longer);
                }
            }
            frontier = next;
        }
        packed
    }

    /// Collects into `found` the walks that extend `nodes`/`edges` along
    /// the rest of `feature`'s relations to a node with its node feature.
    fn follow(
        &self,
        feature: &PathFeature,
        nodes: &mut Vec<u32>,
        edges: &mut Vec<usize>,
        found: &mut Vec<Vec<usize>>,
        limit: usize,
    ) {
        let at = *nodes.last().expect("a walk has a start");
        let step = edges.len();
        if step == feature.relations.len() {
            if self.node_features[at as usize].contains(&feature.feature) {
                found.push(edges.clone());
            }
            return;
        }
        if step > 0 && self.adjacency[at as usize].len() > MAX_EXPANDED_DEGREE {
            return;
        }
        for &(relation, neighbour, e) in &self.adjacency[at as usize] {
            if found.len() == limit {
                return;
            }
            if relation != feature.relations[step] || nodes.contains(&neighbour) {
                continue;
            }
            nodes.push(neighbour);
            edges.push(e);
            self.follow(feature, nodes, edges, found, limit);
            nodes.pop();
            edges.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fusion::TextLimits;
    use oxigraph::model::NamedNode;

    const EX: &str = "http://example.org/";

    /// c0 and c1 are controlled by a sanctioned parent, two steps away; c2's
    /// parent is clean; every company sits in the same jurisdiction, a hub
    /// (more than [`MAX_EXPANDED_DEGREE`] edges), which paths may end at
    /// but not pass through.
    fn world() -> (Vocabulary, FusionInputs) {
        world_with("")
    }

    /// [`world`] with more triples.
    fn world_with(extra: &str) -> (Vocabulary, FusionInputs) {
        let mut turtle = format!("@prefix ex: <{EX}> .\n{extra}");
        turtle.push_str(
            "ex:c0 a ex:Company ; ex:risk ex:High ; ex:controlledBy ex:p0 .
             ex:c1 a ex:Company ; ex:risk ex:High ; ex:controlledBy ex:p0 .
             ex:c2 a ex:Company ; ex:risk ex:Low ; ex:controlledBy ex:p1 .
             ex:c3 a ex:Company ; ex:risk ex:High ; ex:controlledBy ex:p2 .
             ex:c4 a ex:Company ; ex:risk ex:Low ; ex:controlledBy ex:p1 .
             ex:s0 a ex:Sanction ; ex:targets ex:p0 .
             ex:s1 a ex:Sanction ; ex:targets ex:p2 .
             ex:p0 a ex:Parent . ex:p1 a ex:Parent ; ex:audit ex:a0 . ex:p2 a ex:Parent .\n",
        );
        for i in 0..5 {
            turtle.push_str(&format!("ex:c{i} ex:in ex:Zone .\n"));
        }
        for i in 0..MAX_EXPANDED_DEGREE {
            turtle.push_str(&format!("ex:x{i} ex:in ex:Zone ; a ex:Sanction .\n"));
        }
        let store = crate::test_support::store_from_turtle(&turtle);
        let iri = |s: &str| NamedNode::new(format!("{EX}{s}")).unwrap();
        let mut vocab = Vocabulary::from_store(
            &store,
            &iri("Company"),
            &iri("risk"),
            Some(String::new()),
            TextLimits::default(),
            false,
        )
        .unwrap();
        let mut inputs = vocab.inputs(&store, None).unwrap();
        vocab.paths = RelationPaths::fit(&inputs, vocab.relations.len(), MAX_LENGTH);
        inputs.target_paths = vocab.paths.encode(&inputs, vocab.relations.len());
        (vocab, inputs)
    }

    /// Each target's path features by readable name, with their weights.
    fn named(vocab: &Vocabulary, inputs: &FusionInputs) -> Vec<HashMap<String, f32>> {
        let names = vocab.paths.names(vocab);
        inputs
            .target_paths
            .iter()
            .map(|counts| {
                counts
                    .iter()
                    .map(|&(id, w)| (names[id as usize].replace(EX, ""), w))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_sanction_two_steps_away_is_a_feature_of_exactly_the_exposed_targets() {
        let (vocab, inputs) = world();
        let sanctioned = "<controlledBy> ^<targets> → a <Sanction>";
        let by_target = named(&vocab, &inputs);
        let has: Vec<bool> = by_target
            .iter()
            .map(|f| f.contains_key(sanctioned))
            .collect();
        // Targets are read in IRI order: c0 … c4.
        assert_eq!(has, [true, true, false, true, false], "{by_target:?}");
        // One walk each: the same count, so the same weight, scaled to 1.
        assert_eq!(by_target[0][sanctioned], 1.0);
        assert_eq!(by_target[3][sanctioned], 1.0);
        // Siblings under the same parent.
        assert!(by_target[0].contains_key("<controlledBy> ^<controlledBy> → a <Company>"));
    }

    #[test]
    fn hubs_end_paths_but_do_not_extend_them() {
        let (vocab, inputs) = world();
        let by_target = named(&vocab, &inputs);
        // The zone is reached, but its other members (the x nodes, all
        // sanctioned) are not: that would tie every company to them.
        assert!(
            by_target[2].contains_key("<in> → = <Zone>"),
            "{:?}",
            by_target[2]
        );
        assert!(by_target
            .iter()
            .all(|f| !f.contains_key("<in> ^<in> → a <Sanction>")));
    }

    #[test]
    fn of_features_that_count_the_same_the_most_specific_is_kept() {
        let (vocab, _) = world();
        let names: Vec<String> = vocab
            .paths
            .names(&vocab)
            .iter()
            .map(|n| n.replace(EX, ""))
            .collect();
        // Every target has one parent, which is a Parent, and is in the
        // one zone: these four count 1 on every target. One is kept, the
        // one whose end feature is rarest (the zone's identity).
        let same = [
            "<controlledBy> → a <Parent>",
            "<controlledBy> → node",
            "<in> → node",
            "<in> → = <Zone>",
        ];
        let kept: Vec<&str> = same
            .into_iter()
            .filter(|n| names.iter().any(|m| m == n))
            .collect();
        assert_eq!(kept, ["<in> → = <Zone>"], "{names:?}");
    }

    #[test]
    fn steps_that_repeat_other_steps_are_not_walked() {
        // 0: a → b; 1: its inverse; 2: a copy of 0; 3: symmetric; 4: alone.
        let edges = [
            (0, 0, 1),
            (2, 0, 3),
            (1, 1, 0),
            (3, 1, 2),
            (0, 2, 1),
            (2, 2, 3),
            (4, 3, 5),
            (5, 3, 4),
            (6, 4, 7),
        ];
        // Relation 1 both ways, 2 both ways, 3 backwards (+5: inverse).
        assert_eq!(redundant_steps(&edges, 5), [1, 6, 2, 7, 8]);
    }

    #[test]
    fn an_inverse_relation_adds_no_feature() {
        let (vocab, _) = world();
        let (with_inverse, _) = world_with("ex:p0 ex:controls ex:c0, ex:c1 . ex:p1 ex:controls ex:c2, ex:c4 . ex:p2 ex:controls ex:c3 .\n");
        let names = |v: &Vocabulary| -> Vec<String> {
            v.paths.names(v).iter().map(|n| n.replace(EX, "")).collect()
        };
        let names_with_inverse = names(&with_inverse);
        assert!(
            names_with_inverse.iter().all(|n| !n.contains("controls")),
            "{names_with_inverse:?}"
        );
        assert_eq!(names(&vocab), names_with_inverse);
    }

    #[test]
    fn selection_keeps_the_features_that_tell_the_classes_apart() {
        let (mut vocab, mut inputs) = world();
        let names_before = vocab.paths.names(&vocab);
        let sanctioned = names_before
            .iter()
            .position(|n| n.replace(EX, "") == "<controlledBy> ^<targets> → a <Sanction>")
            .unwrap();
        // Targets c0 … c4 are High, High, Low, High, Low: the sanction path
        // is on exactly the High ones.
        let train: Vec<(usize, u32)> = inputs
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| (i, t.label.unwrap()))
            .collect();
        let kept_weights: Vec<f32> = inputs.target_paths[0]
            .iter()
            .filter(|&&(f, _)| f as usize == sanctioned)
            .map(|&(_, w)| w)
            .collect();
        vocab
            .paths
            .select(&mut inputs.target_paths, &train, vocab.classes.len(), 1);
        let names = vocab.paths.names(&vocab);
        assert_eq!(names.len(), 1);
        assert_eq!(
            names[0].replace(EX, ""),
            "<controlledBy> ^<targets> → a <Sanction>"
        );
        assert_eq!(vocab.paths.scales.len(), 1);
        let has: Vec<bool> = inputs.target_paths.iter().map(|c| !c.is_empty()).collect();
        assert_eq!(has, [true, true, false, true, false]);
        assert_eq!(
            inputs.target_paths[0],
            [(0, kept_weights[0])],
            "renumbered, same weight"
        );
    }

    #[test]
    fn rare_paths_are_dropped_and_the_choice_is_stable() {
        let (vocab, inputs) = world();
        // Only c2 and c4 reach the audit: two targets, below the minimum.
        let names = vocab.paths.names(&vocab);
        assert!(names.iter().all(|n| !n.contains("audit")), "{names:?}");
        assert!(
            names.iter().any(|n| n.contains("controlledBy")),
            "{names:?}"
        );
        let (again, again_inputs) = world();
        assert_eq!(vocab.paths, again.paths);
        assert_eq!(inputs.target_paths, again_inputs.target_paths);
    }

    #[test]
    fn a_feature_is_traced_to_its_triples_and_goes_when_they_go() {
        let (vocab, inputs) = world();
        let r = vocab.relations.len();
        let names = vocab.paths.names(&vocab);
        let id = names
            .iter()
            .position(|n| n.replace(EX, "") == "<controlledBy> ^<targets> → a <Sanction>")
            .unwrap() as u32;
        let c0 = inputs.targets[0].node;
        let walks = vocab.paths.instances(&inputs, r, c0, &[id], 4).remove(0);
        assert_eq!(walks.len(), 1, "{walks:?}");
        let triples: Vec<String> = walks[0]
            .iter()
            .map(|&e| {
                let (s, p, o) = inputs.edges[e];
                format!(
                    "{} {} {}",
                    inputs.view.node(s),
                    vocab.relations[p as usize],
                    inputs.view.node(o)
                )
                .replace(EX, "")
            })
            .collect();
        assert_eq!(
            triples,
            ["<c0> controlledBy <p0>", "<s0> targets <p0>"],
            "the walk is the feature's evidence"
        );
        let without = vocab.paths.encode_without(&inputs, r, c0, &walks[0][1..]);
        assert!(without.iter().all(|&(f, _)| f != id), "{without:?}");
        assert!(!without.is_empty(), "other paths remain");
        assert_eq!(
            vocab.paths.encode_without(&inputs, r, c0, &[]),
            inputs.target_paths[0]
        );
    }
}
