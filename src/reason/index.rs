//! The reasoner's triple set with per-predicate indexes in both directions,
//! so that every join step is a hash lookup.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::terms::Ids;

#[derive(Debug, Default, Clone)]
struct PredicateIndex {
    objects: HashMap<u32, Vec<u32>>,
    subjects: HashMap<u32, Vec<u32>>,
    pairs: Vec<(u32, u32)>,
}

/// A set of id triples indexed by predicate, subject and object.
#[derive(Debug, Default, Clone)]
pub struct TripleIndex {
    triples: HashSet<Ids>,
    by_predicate: HashMap<u32, PredicateIndex>,
}

const EMPTY: &[u32] = &[];

impl TripleIndex {
    /// Adds a triple; returns whether it was new.
    pub fn insert(&mut self, t: Ids) -> bool {
        if !self.triples.insert(t) {
            return false;
        }
        let index = self.by_predicate.entry(t[1]).or_default();
        index.objects.entry(t[0]).or_default().push(t[2]);
        index.subjects.entry(t[2]).or_default().push(t[0]);
        index.pairs.push((t[0], t[2]));
        true
    }

    pub fn contains(&self, t: &Ids) -> bool {
        self.triples.contains(t)
    }

    pub fn len(&self) -> usize {
        self.triples.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Ids> {
        self.triples.iter()
    }

    /// Objects `o` with `(s, p, o)`.
    pub fn objects(&self, s: u32, p: u32) -> &[u32] {
        self.by_predicate
            .get(&p)
            .and_then(|i| i.objects.get(&s))
            .map_or(EMPTY, Vec::as_slice)
    }

    /// Subjects `s` with `(s, p, o)`.
    pub fn subjects(&self, p: u32, o: u32) -> &[u32] {
        self.by_predicate
            .get(&p)
            .and_then(|i| i.subjects.get(&o))
            .map_or(EMPTY, Vec::as_slice)
    }

    /// All `(s, o)` with predicate `p`.
    pub fn pairs(&self, p: u32) -> &[(u32, u32)] {
        self.by_predicate
            .get(&p)
            .map_or(&[], |i| i.pairs.as_slice())
    }
}
