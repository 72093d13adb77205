//! Semi-naive forward chaining over interned triples.
//!
//! Each round fires every pattern rule with one body atom bound to the
//! previous round's new triples (in parallel, with rayon) and every list rule
//! over the whole index, then adds what is new. `owl:sameAs` is kept in a
//! union-find: equal terms are rewritten to one representative (the smallest
//! id), so rules never copy triples across an equality class; the closure is
//! expanded over each class only when it is read out.
//!
//! Premises are kept in terms of the triples as stated: a rule that matched
//! a rewritten triple records the triple it was rewritten from and the
//! `owl:sameAs` triples behind the rewrite, so that an explanation names
//! the equality that made a rule apply.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::index::TripleIndex;
use super::lists::{self, ListContext, Vocab};
use super::pattern::{Emission, PatternRule, Slot};
use super::rules::{Profile, LIST_RULES, PATTERN_RULES};
use super::terms::{Ids, Interner};

/// How a triple was first derived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derivation {
    pub rule: &'static str,
    pub premises: Vec<Ids>,
}

/// An inconsistency found by a rule that derives `false`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawViolation {
    pub rule: &'static str,
    pub premises: Vec<Ids>,
}

/// Progress after each round.
#[derive(Debug, Clone, Copy)]
pub struct RoundProgress {
    pub round: usize,
    pub new_triples: usize,
    /// Triples derived so far (before equality classes are expanded).
    pub derived_triples: usize,
    pub total_triples: usize,
    pub elapsed: Duration,
}

/// The reasoner's state: terms, triples, derivations, equality classes.
pub struct Engine {
    pub interner: Interner,
    pub vocab: Vocab,
    rules: Vec<PatternRule>,
    list_rules: Vec<&'static str>,
    pub index: TripleIndex,
    pub asserted: HashSet<Ids>,
    pub derivations: HashMap<Ids, Derivation>,
    parent: HashMap<u32, u32>,
    equality: HashMap<u32, EqualityClass>,
    /// Every term that was ever merged (with repeats).
    members: Vec<u32>,
    /// Every `owl:sameAs` triple asserted or derived, as stated.
    pub same_as_edges: HashSet<Ids>,
    /// The sameAs triples that merged two classes, by each of their terms: a
    /// spanning tree of every class, to name the triples joining two members.
    links: HashMap<u32, Vec<(u32, Ids)>>,
    pub violations: Vec<RawViolation>,
    seen_violations: HashSet<RawViolation>,
    pub warnings: Vec<String>,
    pub rounds: usize,
    max_triples: usize,
    profile: Profile,
}

/// Size and representative of an equality class, kept at its root.
#[derive(Debug, Clone, Copy)]
struct EqualityClass {
    size: usize,
    representative: u32,
}

/// The closure would exceed the configured size.
#[derive(Debug, Clone, Copy)]
pub struct TooLarge {
    pub limit: usize,
}

impl Engine {
    pub fn new(profile: Profile, max_triples: usize) -> Self {
        let mut interner = Interner::default();
        let vocab = Vocab::new(&mut interner);
        let rules = PATTERN_RULES
            .iter()
            .filter(|row| row.profile == profile)
            .map(|row| PatternRule::compile(row, &mut interner))
            .collect();
        let list_rules = LIST_RULES
            .iter()
            .filter(|(_, p)| *p == profile)
            .map(|(name, _)| *name)
            .collect();
        Self {
            interner,
            vocab,
            rules,
            list_rules,
            index: TripleIndex::default(),
            asserted: HashSet::default(),
            derivations: HashMap::default(),
            parent: HashMap::default(),
            equality: HashMap::default(),
            members: Vec::new(),
            same_as_edges: HashSet::default(),
            links: HashMap::default(),
            violations: Vec::new(),
            seen_violations: HashSet::default(),
            warnings: Vec::new(),
            rounds: 0,
            max_triples,
            profile,
        }
    }

    /// Adds an asserted triple.
    pub fn assert(&mut self, triple: oxigraph::model::Triple) {
        let ids = self.interner.intern_triple(triple);
        self.asserted.insert(ids);
        if ids[1] == self.vocab.same_as {
            self.same_as(ids, None);
        } else {
            self.index.insert(ids);
        }
    }

    /// Representative of a term's equality class: its smallest member.
    pub fn find(&self, x: u32) -> u32 {
        let root = self.root(x);
        self.equality
            .get(&root)
            .map_or(root, |class| class.representative)
    }

    fn root(&self, mut x: u32) -> u32 {
        while let Some(&p) = self.parent.get(&x) {
            x = p;
        }
        x
    }

    pub fn canonical(&self, t: Ids) -> Ids {
        t.map(|x| self.find(x))
    }

    /// Union by size, so that chains stay logarithmic without path compression.
    fn union(&mut self, a: u32, b: u32) -> bool {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra == rb {
            return false;
        }
        let class = |e: &Self, r: u32| {
            e.equality.get(&r).copied().unwrap_or(EqualityClass {
                size: 1,
                representative: r,
            })
        };
        let (ca, cb) = (class(self, ra), class(self, rb));
        let (root, child) = if ca.size >= cb.size {
            (ra, rb)
        } else {
            (rb, ra)
        };
        self.parent.insert(child, root);
        self.equality.remove(&child);
        self.equality.insert(
            root,
            EqualityClass {
                size: ca.size + cb.size,
                representative: ca.representative.min(cb.representative),
            },
        );
        self.members.push(a);
        self.members.push(b);
        true
    }

    /// Records an `owl:sameAs` triple; returns whether two classes merged.
    fn same_as(&mut self, t: Ids, derivation: Option<Derivation>) -> bool {
        let (a, b) = (t[0], t[2]);
        if a == b {
            return false;
        }
        let (la, lb) = (self.interner.is_literal(a), self.interner.is_literal(b));
        if la || lb {
            match derivation {
                // Two different literals found equal (prp-fp, prp-ifp, maxCardinality 1 …).
                Some(d) if la && lb => self.violation(RawViolation {
                    rule: d.rule,
                    premises: d.premises,
                }),
                _ => self.warnings.push(format!(
                    "owl:sameAs between {} and {} involves a literal; ignored",
                    self.interner.term(a),
                    self.interner.term(b)
                )),
            }
            return false;
        }
        if self.same_as_edges.insert(t) {
            if let Some(d) = derivation {
                let premises = self.as_stated(d.premises);
                self.derivations.entry(t).or_insert(Derivation {
                    rule: d.rule,
                    premises,
                });
            }
        }
        let merged = self.union(a, b);
        if merged {
            self.links.entry(a).or_default().push((b, t));
            self.links.entry(b).or_default().push((a, t));
        }
        merged
    }

    /// Records an inconsistency once, whatever the order of its premises.
    /// A violation has no tree below it, so every sameAs premise is given as
    /// the stated sameAs triples that join its two terms.
    fn violation(&mut self, v: RawViolation) {
        let mut premises = Vec::new();
        for p in self.as_stated(v.premises) {
            if p[1] == self.vocab.same_as && !self.same_as_edges.contains(&p) {
                premises.extend(self.same_as_chain(p[0], p[2]));
            } else {
                premises.push(p);
            }
        }
        let v = RawViolation {
            rule: v.rule,
            premises: distinct(premises),
        };
        let mut key = v.clone();
        key.premises.sort_unstable();
        if self.seen_violations.insert(key) {
            self.violations.push(v);
        }
    }

    /// The derivation of a triple that exists only as a rewrite to its
    /// class representatives (`eq-rep-*`), if `t` is one.
    fn rewrite_of(&self, t: &Ids) -> Option<&Derivation> {
        if self.asserted.contains(t) {
            return None;
        }
        self.derivations
            .get(t)
            .filter(|d| matches!(d.rule, "eq-rep-s" | "eq-rep-p" | "eq-rep-o"))
    }

    /// Premises with every rewritten triple replaced by the triple it was
    /// rewritten from and the sameAs triples that justify the rewrite.
    fn as_stated(&self, premises: Vec<Ids>) -> Vec<Ids> {
        if !premises.iter().any(|p| self.rewrite_of(p).is_some()) {
            return premises;
        }
        let mut out = Vec::with_capacity(premises.len() + 2);
        for p in premises {
            match self.rewrite_of(&p) {
                Some(d) => out.extend_from_slice(&d.premises),
                None => out.push(p),
            }
        }
        distinct(out)
    }

    /// The sameAs triple for `x = y`: the stated one in either direction if
    /// there is one, else `x owl:sameAs y` (entailed through a chain, which
    /// an explanation unfolds).
    fn same_as_premise(&self, x: u32, y: u32) -> Ids {
        let (forward, backward) = ([x, self.vocab.same_as, y], [y, self.vocab.same_as, x]);
        if !self.same_as_edges.contains(&forward) && self.same_as_edges.contains(&backward) {
            backward
        } else {
            forward
        }
    }

    /// The stated sameAs triples on the path from `from` to `to` in the
    /// spanning tree of their class (empty if they are not equal).
    pub fn same_as_chain(&self, from: u32, to: u32) -> Vec<Ids> {
        let mut previous: HashMap<u32, (u32, Ids)> = HashMap::default();
        let mut queue = std::collections::VecDeque::from([from]);
        while let Some(node) = queue.pop_front() {
            if node == to {
                let mut path = Vec::new();
                let mut at = to;
                while at != from {
                    let (prev, edge) = previous[&at];
                    path.push(edge);
                    at = prev;
                }
                path.reverse();
                return path;
            }
            for &(next, edge) in self.links.get(&node).map_or(&[][..], Vec::as_slice) {
                if next != from && !previous.contains_key(&next) {
                    previous.insert(next, (node, edge));
                    queue.push_back(next);
                }
            }
        }
        Vec::new()
    }

    /// Runs to the fixpoint, reporting each round.
    pub fn run(&mut self, mut progress: impl FnMut(RoundProgress)) -> Result<(), TooLarge> {
        let start = Instant::now();
        if !self.parent.is_empty() {
            self.canonicalize();
        }
        let mut delta: Vec<Ids> = self.index.iter().copied().collect();
        let axioms: Vec<Emission> = self
            .rules
            .iter()
            .filter(|r| r.is_axiom())
            .flat_map(|r| {
                r.axiom_triples().into_iter().map(|t| Emission {
                    rule: r.name,
                    head: Some(t),
                    premises: Vec::new(),
                })
            })
            .collect();
        let mut axioms = axioms;
        if self.profile == Profile::OwlRl {
            axioms.extend(self.literal_types());
        }
        let mut new = Vec::new();
        let merged = self.absorb(axioms, &mut new)?;
        delta.extend(new);
        if merged {
            delta.extend(self.canonicalize());
        }
        let asserted = self.index.len();
        while !delta.is_empty() {
            self.rounds += 1;
            let emissions = self.fire(&delta);
            let mut new = Vec::new();
            let merged = self.absorb(emissions, &mut new)?;
            if merged {
                new.extend(self.canonicalize());
                new.retain(|t| self.index.contains(t));
            }
            progress(RoundProgress {
                round: self.rounds,
                new_triples: new.len(),
                derived_triples: self.index.len().saturating_sub(asserted),
                total_triples: self.index.len(),
                elapsed: start.elapsed(),
            });
            delta = new;
        }
        Ok(())
    }

    /// One round's conclusions.
    fn fire(&mut self, delta: &[Ids]) -> Vec<Emission> {
        let mut by_predicate: HashMap<u32, Vec<Ids>> = HashMap::default();
        for t in delta {
            by_predicate.entry(t[1]).or_default().push(*t);
        }
        let tasks: Vec<(usize, usize)> = self
            .rules
            .iter()
            .enumerate()
            .flat_map(|(r, rule)| (0..rule.body.len()).map(move |a| (r, a)))
            .filter(|&(r, a)| match self.rules[r].body[a][1] {
                Slot::Const(p) => by_predicate.contains_key(&p),
                Slot::Var(_) => true,
            })
            .collect();
        let (rules, index, interner) = (&self.rules, &self.index, &self.interner);
        let mut emissions: Vec<Emission> = tasks
            .par_iter()
            .flat_map_iter(|&(r, a)| {
                let mut out = Vec::new();
                rules[r].fire(a, &by_predicate, index, interner, &mut out);
                out
            })
            .collect();
        let mut ctx = ListContext {
            index: &self.index,
            interner: &self.interner,
            v: self.vocab,
            warnings: &mut self.warnings,
        };
        for name in &self.list_rules {
            emissions.extend(lists::run(name, &mut ctx));
        }
        self.warnings.sort();
        self.warnings.dedup();
        emissions
    }

    /// A literal's class (`"4" rdf:type xsd:string`, or a range's class): not
    /// RDF, so never output, but kept so that rules such as cls-svf1 see
    /// what OWL 2 RL's rules, read over generalised RDF, see.
    fn is_literal_typing(&self, t: Ids) -> bool {
        t[1] == self.vocab.rdf_type && self.interner.is_literal(t[0])
    }

    /// dt-type2: every literal of the input is of its datatype.
    fn literal_types(&mut self) -> Vec<Emission> {
        let rdf_type = self.vocab.rdf_type;
        self.interner
            .literal_datatypes()
            .into_iter()
            .map(|(literal, datatype)| Emission {
                rule: "dt-type2",
                head: Some([literal, rdf_type, datatype]),
                premises: Vec::new(),
            })
            .collect()
    }

    /// Adds conclusions; returns whether an equality class merged.
    fn absorb(&mut self, emissions: Vec<Emission>, new: &mut Vec<Ids>) -> Result<bool, TooLarge> {
        let mut merged = false;
        for Emission {
            rule,
            head,
            premises,
        } in emissions
        {
            let Some(t) = head else {
                self.violation(RawViolation { rule, premises });
                continue;
            };
            if t[1] == self.vocab.same_as {
                // Before the validity check: two literals found equal is a clash.
                merged |= self.same_as(t, Some(Derivation { rule, premises }));
            } else if !self.interner.is_valid(t) && !self.is_literal_typing(t) {
                continue;
            } else if self.index.insert(t) {
                if !self.derivations.contains_key(&t) {
                    let premises = self.as_stated(premises);
                    self.derivations.insert(t, Derivation { rule, premises });
                }
                new.push(t);
                if self.index.len() > self.max_triples {
                    return Err(TooLarge {
                        limit: self.max_triples,
                    });
                }
            }
        }
        Ok(merged)
    }

    /// Rewrites every triple to its class representatives; returns the
    /// rewritten triples that are new.
    fn canonicalize(&mut self) -> Vec<Ids> {
        let old = std::mem::take(&mut self.index);
        let mut added = Vec::new();
        for &t in old.iter() {
            let c = self.canonical(t);
            if c == t {
                self.index.insert(t);
                continue;
            }
            if self.index.insert(c) && !old.contains(&c) {
                added.push(c);
                if !self.asserted.contains(&c) {
                    // From the triple as stated, not from an earlier rewrite of it.
                    let original = self.rewrite_of(&t).map_or(t, |d| d.premises[0]);
                    let position = (0..3).find(|&i| c[i] != original[i]).unwrap_or(2);
                    let rule = ["eq-rep-s", "eq-rep-p", "eq-rep-o"][position];
                    let mut premises = vec![original];
                    for i in 0..3 {
                        if c[i] != original[i] {
                            premises.push(self.same_as_premise(original[i], c[i]));
                        }
                    }
                    self.derivations.entry(c).or_insert(Derivation {
                        rule,
                        premises: distinct(premises),
                    });
                }
            }
        }
        added
    }

    /// Members of each equality class with more than one member, by representative.
    pub fn classes(&self) -> HashMap<u32, Vec<u32>> {
        let mut classes: HashMap<u32, Vec<u32>> = HashMap::default();
        for &m in &self.members {
            classes.entry(self.find(m)).or_default().push(m);
        }
        for members in classes.values_mut() {
            members.sort_unstable();
            members.dedup();
        }
        classes
    }
}

/// `items` without repeats, in first-seen order.
fn distinct(mut items: Vec<Ids>) -> Vec<Ids> {
    let mut seen = HashSet::default();
    items.retain(|t| seen.insert(*t));
    items
}
