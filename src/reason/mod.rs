//! Ontology reasoning: RDFS and OWL 2 RL materialisation with a derivation
//! for every inferred triple and a report of every inconsistency.
//!
//! `rules` is the rule set (read it first), `pattern` and `lists` evaluate
//! it, `engine` runs it to the fixpoint. This module is the public face:
//! [`Reasoner`] in memory, [`reason_over_store`] and [`write_inferred`] for
//! the store, whose entailments live in the graph [`INFERRED_GRAPH`].

mod engine;
mod index;
mod lists;
mod pattern;
pub mod rules;
mod terms;

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use oxigraph::model::{GraphName, NamedNodeRef, Triple};
use serde::Serialize;

use crate::error::{Error, Result, Setting};
use crate::store::graphs::{quads_outside, replace_graph, GraphDiff};
use crate::store::terms::{compact_iri, display_term};
use crate::store::Store;
use engine::Engine;
pub use engine::RoundProgress;
pub use rules::Profile;
use terms::Ids;

/// The named graph that holds the entailments written by `kgfuse reason`.
pub const INFERRED_GRAPH: &str = "https://w3id.org/kgfuse/graph/inferred";

/// How to reason.
#[derive(Debug, Clone, Copy)]
pub struct ReasonOptions {
    pub profile: Profile,
    /// The most triples (asserted plus inferred) held in memory, and the
    /// most the closure may hold once repeated over its owl:sameAs classes
    /// (read out as full terms, about 250 bytes each); past either,
    /// reasoning stops with an error instead of exhausting memory.
    pub max_triples: usize,
}

impl Default for ReasonOptions {
    fn default() -> Self {
        Self {
            profile: Profile::OwlRl,
            max_triples: 20_000_000,
        }
    }
}

/// Materialises the closure of a set of triples.
pub struct Reasoner {
    engine: Engine,
    max_triples: usize,
}

impl Reasoner {
    pub fn new(options: ReasonOptions) -> Self {
        Self {
            engine: Engine::new(options.profile, options.max_triples),
            max_triples: options.max_triples,
        }
    }

    /// Adds asserted triples.
    pub fn add(&mut self, triples: impl IntoIterator<Item = Triple>) {
        for triple in triples {
            self.engine.assert(triple);
        }
    }

    /// Runs to the fixpoint; `progress` is called after every round.
    pub fn run(mut self, progress: impl FnMut(RoundProgress)) -> Result<Closure> {
        let start = Instant::now();
        self.engine.run(progress).map_err(|e| Error::Setting {
            setting: Setting::MaxTriples,
            message: format!("the closure exceeds {} triples", e.limit),
        })?;
        // The engine keeps one representative per owl:sameAs class; reading
        // the closure out repeats every triple over every member, which grows
        // with the product of class sizes (two data sets that reuse each
        // other's IRIs merge thousands of individuals). Refuse before that
        // exhausts memory.
        let (expanded, largest) = expanded_size(&self.engine);
        if expanded > self.max_triples as u128 {
            return Err(Error::Setting {
                setting: Setting::MaxTriples,
                message: format!(
                    "the closure expands to {expanded} triples over its owl:sameAs classes (the largest holds {largest} individuals), more than the limit of {}; look for owl:sameAs, functional or inverse-functional facts that merge unrelated individuals (`kgfuse check` lists clashes)",
                    self.max_triples
                ),
            });
        }
        Ok(Closure {
            engine: self.engine,
            elapsed: start.elapsed(),
            inferred: std::sync::OnceLock::new(),
        })
    }
}

/// How many triples [`Closure::expand`] would read out, and the size of the
/// largest equality class, without reading them out.
fn expanded_size(engine: &Engine) -> (u128, usize) {
    let classes = engine.classes();
    let size = |x: u32| classes.get(&x).map_or(1, Vec::len) as u128;
    let triples: u128 = engine
        .index
        .iter()
        .map(|t| size(t[0]) * size(t[1]) * size(t[2]))
        .sum();
    let same_as: u128 = classes
        .values()
        .map(|c| (c.len() as u128) * (c.len() as u128 - 1))
        .sum();
    let largest = classes.values().map(Vec::len).max().unwrap_or(1);
    (triples + same_as, largest)
}

/// The result of reasoning: what is entailed, why, and what is inconsistent.
pub struct Closure {
    engine: Engine,
    elapsed: Duration,
    /// The expanded inferred triples, computed once on first use.
    inferred: std::sync::OnceLock<Vec<(Triple, &'static str)>>,
}

/// Totals of a reasoning run.
#[derive(Debug, Clone, Serialize)]
pub struct ReasonSummary {
    pub asserted: usize,
    pub inferred: usize,
    pub rounds: usize,
    pub violations: usize,
    pub seconds: f64,
    /// Inferred triples by the rule that first derived them.
    pub by_rule: BTreeMap<&'static str, usize>,
}

/// An inconsistency: the rule that derived `false` and its premises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub rule: &'static str,
    #[serde(serialize_with = "triples_as_strings")]
    pub triples: Vec<Triple>,
}

/// Why a triple holds: asserted (no rule), or a rule applied to premises
/// that are explained in turn, down to asserted triples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DerivationTree {
    #[serde(serialize_with = "triple_as_string")]
    pub triple: Triple,
    /// `None` for an asserted triple.
    pub rule: Option<&'static str>,
    pub premises: Vec<DerivationTree>,
    /// For an asserted triple, the named graphs that hold it (empty for the
    /// default graph, or until [`DerivationTree::locate_asserted`] ran), so
    /// a tree shows which ontology or data set each premise came from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub graphs: Vec<String>,
}

impl DerivationTree {
    pub fn asserted(triple: Triple) -> Self {
        Self::derived(triple, None, Vec::new())
    }

    pub fn derived(triple: Triple, rule: Option<&'static str>, premises: Vec<Self>) -> Self {
        Self {
            triple,
            rule,
            premises,
            graphs: Vec::new(),
        }
    }

    /// Names, on every asserted leaf, the store's named graphs that hold it.
    pub fn locate_asserted(&mut self, store: &Store) -> Result<()> {
        if self.rule.is_none() {
            let t = &self.triple;
            let mut graphs = Vec::new();
            for quad in store.quads_matching(
                Some(t.subject.as_ref()),
                Some(t.predicate.as_ref()),
                Some(t.object.as_ref()),
                None,
            ) {
                if let GraphName::NamedNode(graph) = quad?.graph_name {
                    graphs.push(graph.into_string());
                }
            }
            graphs.sort();
            graphs.dedup();
            self.graphs = graphs;
        }
        for premise in &mut self.premises {
            premise.locate_asserted(store)?;
        }
        Ok(())
    }
}

/// Deepest derivation we unfold; deeper premises are cut (never reached
/// in practice: derivations follow the rounds that produced them).
const MAX_DEPTH: usize = 256;

impl Closure {
    /// Every inferred triple (not asserted) with the rule that derived it.
    pub fn inferred(&self) -> &[(Triple, &'static str)] {
        self.inferred.get_or_init(|| self.expand())
    }

    /// The closure over every equality class, less the asserted triples.
    fn expand(&self) -> Vec<(Triple, &'static str)> {
        let e = &self.engine;
        let classes = e.classes();
        let members = |x: u32| -> Vec<u32> { classes.get(&x).cloned().unwrap_or_else(|| vec![x]) };
        let mut out = Vec::new();
        let mut push = |ids: Ids, rule: &'static str| {
            if !e.asserted.contains(&ids) {
                if let Some(t) = e.interner.triple(ids) {
                    out.push((t, rule));
                }
            }
        };
        for &t in e.index.iter() {
            for s in members(t[0]) {
                for p in members(t[1]) {
                    for o in members(t[2]) {
                        let ids = [s, p, o];
                        push(ids, self.rule_of(ids, t));
                    }
                }
            }
        }
        for class in classes.values() {
            for &a in class {
                for &b in class {
                    if a != b {
                        let ids = [a, e.vocab.same_as, b];
                        let rule = match e.derivations.get(&ids) {
                            Some(d) => d.rule,
                            None if e.same_as_edges.contains(&[b, e.vocab.same_as, a]) => "eq-sym",
                            None => "eq-trans",
                        };
                        push(ids, rule);
                    }
                }
            }
        }
        out
    }

    fn rule_of(&self, ids: Ids, canonical: Ids) -> &'static str {
        match self.engine.derivations.get(&ids) {
            Some(d) => d.rule,
            None if ids[0] != canonical[0] => "eq-rep-s",
            None if ids[1] != canonical[1] => "eq-rep-p",
            None => "eq-rep-o",
        }
    }

    /// Inferred triples that a given rule derived.
    pub fn inferred_by(&self, rule: &str) -> Vec<Triple> {
        self.inferred()
            .iter()
            .filter(|(_, r)| *r == rule)
            .map(|(t, _)| t.clone())
            .collect()
    }

    /// Totals and per-rule counts.
    pub fn summary(&self) -> ReasonSummary {
        let inferred = self.inferred();
        let mut by_rule = BTreeMap::new();
        for (_, rule) in inferred {
            *by_rule.entry(*rule).or_insert(0) += 1;
        }
        ReasonSummary {
            asserted: self.engine.asserted.len(),
            inferred: inferred.len(),
            rounds: self.engine.rounds,
            violations: self.engine.violations.len(),
            seconds: self.elapsed.as_secs_f64(),
            by_rule,
        }
    }

    /// Inconsistencies, in the order they were found.
    pub fn violations(&self) -> Vec<Violation> {
        let e = &self.engine;
        e.violations
            .iter()
            .map(|v| Violation {
                rule: v.rule,
                triples: v
                    .premises
                    .iter()
                    .filter_map(|&t| e.interner.triple(t))
                    .collect(),
            })
            .collect()
    }

    /// Malformed input that was skipped (broken lists, sameAs on literals).
    pub fn warnings(&self) -> &[String] {
        &self.engine.warnings
    }

    /// Whether a triple is asserted or entailed.
    pub fn holds(&self, triple: &Triple) -> bool {
        self.explain(triple).is_some()
    }

    /// The derivation of a triple, or `None` if it is not entailed.
    pub fn explain(&self, triple: &Triple) -> Option<DerivationTree> {
        let e = &self.engine;
        let ids = [
            e.interner.get(&triple.subject.clone().into())?,
            e.interner.get(&triple.predicate.clone().into())?,
            e.interner.get(&triple.object)?,
        ];
        self.explain_ids(ids, 0)
    }

    fn explain_ids(&self, t: Ids, depth: usize) -> Option<DerivationTree> {
        let e = &self.engine;
        let triple = e.interner.triple(t)?;
        if !e.asserted.contains(&t) {
            if depth > MAX_DEPTH {
                return Some(DerivationTree::derived(
                    triple,
                    Some("(truncated)"),
                    Vec::new(),
                ));
            }
            if t[1] == e.vocab.same_as {
                return self.explain_same_as(t, depth);
            }
        }
        if let Some(tree) = self.explain_recorded(t, depth) {
            return Some(tree);
        }
        // A member of an equality class: rewritten from the representative's triple.
        let canonical = e.canonical(t);
        if canonical == t || !e.index.contains(&canonical) {
            return None;
        }
        let mut premises = vec![self.explain_ids(canonical, depth + 1)?];
        for i in 0..3 {
            if canonical[i] != t[i] {
                premises
                    .push(self.explain_same_as([canonical[i], e.vocab.same_as, t[i]], depth + 1)?);
            }
        }
        Some(DerivationTree::derived(
            triple,
            Some(self.rule_of(t, canonical)),
            premises,
        ))
    }

    /// `a sameAs b` through the shortest path of stated sameAs triples.
    fn explain_same_as(&self, t: Ids, depth: usize) -> Option<DerivationTree> {
        let e = &self.engine;
        let (a, b) = (t[0], t[2]);
        if e.find(a) != e.find(b) || a == b {
            return None;
        }
        if e.same_as_edges.contains(&t) {
            return self.explain_recorded(t, depth);
        }
        let path = self.same_as_path(a, b)?;
        let edge_tree = |edge: Ids, forward: bool| -> Option<DerivationTree> {
            let stated = self.explain_recorded(edge, depth + 1)?;
            Some(if forward {
                stated
            } else {
                DerivationTree::derived(
                    e.interner.triple([edge[2], edge[1], edge[0]])?,
                    Some("eq-sym"),
                    vec![stated],
                )
            })
        };
        if let [(edge, forward)] = path.as_slice() {
            return edge_tree(*edge, *forward);
        }
        let premises = path
            .iter()
            .map(|&(edge, forward)| edge_tree(edge, forward))
            .collect::<Option<Vec<_>>>()?;
        Some(DerivationTree::derived(
            e.interner.triple(t)?,
            Some("eq-trans"),
            premises,
        ))
    }

    /// A triple as recorded: asserted (a leaf), or derived by a rule whose
    /// premises are explained in turn; `None` for anything else.
    fn explain_recorded(&self, t: Ids, depth: usize) -> Option<DerivationTree> {
        let e = &self.engine;
        let triple = e.interner.triple(t)?;
        if e.asserted.contains(&t) {
            return Some(DerivationTree::asserted(triple));
        }
        let d = e.derivations.get(&t)?;
        let premises = self.explain_premises(&d.premises, depth + 1);
        Some(DerivationTree::derived(triple, Some(d.rule), premises))
    }

    /// The trees of premises; a literal's class (kept by the engine, not
    /// RDF) is shown by the premises that gave it, or not at all (dt-type2).
    fn explain_premises(&self, premises: &[Ids], depth: usize) -> Vec<DerivationTree> {
        let e = &self.engine;
        let mut trees = Vec::new();
        for &p in premises {
            if e.interner.triple(p).is_some() {
                trees.extend(self.explain_ids(p, depth));
            } else if let Some(d) = e.derivations.get(&p) {
                if depth <= MAX_DEPTH {
                    trees.extend(self.explain_premises(&d.premises, depth + 1));
                }
            }
        }
        trees
    }

    /// The sameAs triples joining `from` to `to` (the engine's path through
    /// its class), each with whether it is read forwards.
    fn same_as_path(&self, from: u32, to: u32) -> Option<Vec<(Ids, bool)>> {
        if from == to {
            return Some(Vec::new());
        }
        let chain = self.engine.same_as_chain(from, to);
        if chain.is_empty() {
            return None;
        }
        let mut at = from;
        Some(
            chain
                .into_iter()
                .map(|edge| {
                    let forward = edge[0] == at;
                    at = if forward { edge[2] } else { edge[0] };
                    (edge, forward)
                })
                .collect(),
        )
    }
}

/// Reads every triple of the store except the inferred graph and reasons over them.
pub fn reason_over_store(
    store: &Store,
    options: ReasonOptions,
    progress: impl FnMut(RoundProgress),
) -> Result<Closure> {
    let mut reasoner = Reasoner::new(options);
    for quad in quads_outside(store, NamedNodeRef::new_unchecked(INFERRED_GRAPH))? {
        reasoner.engine.assert(Triple::from(quad?));
    }
    reasoner.run(progress)
}

/// Makes the inferred graph hold exactly the closure's inferred triples, in
/// one atomic write of the difference to what it held (nothing, when the
/// closure is unchanged); a failure keeps the old graph whole.
pub fn write_inferred(store: &Store, closure: &Closure) -> Result<GraphDiff> {
    replace_graph(
        store,
        NamedNodeRef::new_unchecked(INFERRED_GRAPH),
        closure.inferred().iter().map(|(t, _)| t.as_ref()),
    )
}

fn triple_as_string<S: serde::Serializer>(
    t: &Triple,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_string())
}

fn triples_as_strings<S: serde::Serializer>(
    ts: &[Triple],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(ts.iter().map(ToString::to_string))
}

fn short(t: &Triple) -> String {
    format!(
        "{} {} {}",
        display_term(&t.subject.clone().into()),
        display_term(&t.predicate.clone().into()),
        display_term(&t.object)
    )
}

impl fmt::Display for DerivationTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn walk(tree: &DerivationTree, indent: usize, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let rule = match tree.rule {
                Some(rule) => format!("by {rule}"),
                None if tree.graphs.is_empty() => "asserted".to_owned(),
                None => {
                    let graphs: Vec<String> = tree.graphs.iter().map(|g| compact_iri(g)).collect();
                    format!("asserted in {}", graphs.join(", "))
                }
            };
            writeln!(f, "{:indent$}{}  [{rule}]", "", short(&tree.triple))?;
            for premise in &tree.premises {
                walk(premise, indent + 2, f)?;
            }
            Ok(())
        }
        walk(self, 0, f)
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: inconsistent", self.rule)?;
        for t in &self.triples {
            writeln!(f, "  {}", short(t))?;
        }
        Ok(())
    }
}
