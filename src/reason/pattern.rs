//! Pattern rules compiled from the rule table's text, and their evaluation:
//! one body atom is matched against the round's new triples (semi-naive), the
//! others are joined against the whole index in a precomputed order.

use rustc_hash::FxHashMap as HashMap;

use super::index::TripleIndex;
use super::rules::{RuleRow, RULE_PREFIXES};
use super::terms::{Ids, Interner};

/// A position of an atom: a variable (index into the binding) or a term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Var(usize),
    Const(u32),
}

pub type Atom = [Slot; 3];

/// A condition on bound variables.
#[derive(Debug, Clone, Copy)]
pub enum Filter {
    /// The two variables hold different terms.
    Distinct(usize, usize),
    /// The variable holds a literal whose number is this value.
    Number(usize, i64),
}

/// A rule ready to run.
#[derive(Debug, Clone)]
pub struct PatternRule {
    pub name: &'static str,
    pub body: Vec<Atom>,
    pub filters: Vec<Filter>,
    /// Empty means the body derives `false` (an inconsistency).
    pub head: Vec<Atom>,
    pub variables: usize,
}

/// One conclusion: a triple (or `None` for an inconsistency) and the
/// premises, in body order, that gave it.
#[derive(Debug, Clone)]
pub struct Emission {
    pub rule: &'static str,
    pub head: Option<Ids>,
    pub premises: Vec<Ids>,
}

impl PatternRule {
    /// Compiles a table row; the table is constant, so a parse failure is a
    /// bug in the table and panics (a unit test parses every row).
    pub fn compile(row: &RuleRow, interner: &mut Interner) -> Self {
        let (body_text, head_text) = row
            .text
            .split_once("=>")
            .unwrap_or_else(|| panic!("rule {}: missing =>", row.name));
        let mut names: Vec<String> = Vec::new();
        let mut body = Vec::new();
        let mut filters = Vec::new();
        for clause in split_clauses(body_text) {
            let tokens: Vec<&str> = clause.split_whitespace().collect();
            match tokens.as_slice() {
                [a, "!=", b] => {
                    filters.push(Filter::Distinct(var(&mut names, a), var(&mut names, b)))
                }
                [a, "=", n] => filters.push(Filter::Number(
                    var(&mut names, a),
                    n.parse()
                        .unwrap_or_else(|_| panic!("rule {}: bad number {n}", row.name)),
                )),
                [s, p, o] => body.push([s, p, o].map(|t| slot(&mut names, interner, t))),
                _ => panic!("rule {}: cannot read {clause:?}", row.name),
            }
        }
        let head = if head_text.trim() == "false" {
            Vec::new()
        } else {
            split_clauses(head_text)
                .map(|clause| {
                    let tokens: Vec<&str> = clause.split_whitespace().collect();
                    let [s, p, o] = tokens.as_slice() else {
                        panic!("rule {}: bad head {clause:?}", row.name)
                    };
                    [s, p, o].map(|t| slot(&mut names, interner, t))
                })
                .collect()
        };
        assert!(body.len() <= 16, "rule {}: too many atoms", row.name);
        Self {
            name: row.name,
            body,
            filters,
            head,
            variables: names.len(),
        }
    }

    /// Whether the rule has no body (an axiom).
    pub fn is_axiom(&self) -> bool {
        self.body.is_empty()
    }

    /// The axiom's triples.
    pub fn axiom_triples(&self) -> Vec<Ids> {
        let binding = vec![None; self.variables];
        self.head
            .iter()
            .filter_map(|atom| instantiate(atom, &binding))
            .collect()
    }

    /// All conclusions that use at least one new triple (`delta`, grouped by
    /// predicate) for body atom `first`, and `index` (which includes the new
    /// triples) for the others.
    pub fn fire(
        &self,
        first: usize,
        delta: &HashMap<u32, Vec<Ids>>,
        index: &TripleIndex,
        interner: &Interner,
        out: &mut Vec<Emission>,
    ) {
        let ctx = JoinContext { index, interner };
        let mut binding = vec![None; self.variables];
        let mut premises = vec![[0; 3]; self.body.len()];
        let remaining = ((1u32 << self.body.len()) - 1) & !(1 << first);
        match self.body[first][1] {
            Slot::Const(p) => {
                if let Some(triples) = delta.get(&p) {
                    self.fire_on(
                        first,
                        triples,
                        remaining,
                        &ctx,
                        &mut binding,
                        &mut premises,
                        out,
                    );
                }
            }
            Slot::Var(v) => {
                // Bind the predicate once per group and skip groups that some
                // other atom rules out (e.g. a predicate without rdfs:domain).
                for (&p, triples) in delta {
                    binding[v] = Some(p);
                    if self.viable(remaining, &ctx, &binding) {
                        self.fire_on(
                            first,
                            triples,
                            remaining,
                            &ctx,
                            &mut binding,
                            &mut premises,
                            out,
                        );
                    }
                    binding[v] = None;
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn fire_on(
        &self,
        first: usize,
        triples: &[Ids],
        remaining: u32,
        ctx: &JoinContext<'_>,
        binding: &mut Vec<Option<u32>>,
        premises: &mut Vec<Ids>,
        out: &mut Vec<Emission>,
    ) {
        let atom = &self.body[first];
        for triple in triples {
            if let Some(bound) = unify(atom, triple, binding) {
                premises[first] = *triple;
                if self.filters_hold(binding, ctx.interner) {
                    self.join(remaining, ctx, binding, premises, out);
                }
                for v in bound {
                    binding[v] = None;
                }
            }
        }
    }

    /// False when a remaining atom has no match under the current binding.
    fn viable(&self, remaining: u32, ctx: &JoinContext<'_>, binding: &[Option<u32>]) -> bool {
        (0..self.body.len())
            .filter(|i| remaining & (1 << i) != 0)
            .all(|i| ctx.cost(self.lookup(i, binding)) > 0)
    }

    fn lookup(&self, i: usize, binding: &[Option<u32>]) -> Lookup {
        let value = |slot: Slot| match slot {
            Slot::Const(c) => Some(c),
            Slot::Var(v) => binding[v],
        };
        let atom = &self.body[i];
        (value(atom[0]), value(atom[1]), value(atom[2]))
    }

    /// Joins the atoms in `remaining` (a bit set), cheapest lookup first: the
    /// order adapts to the data, so a rule never scans a large class when a
    /// selective atom is available.
    fn join(
        &self,
        remaining: u32,
        ctx: &JoinContext<'_>,
        binding: &mut Vec<Option<u32>>,
        premises: &mut Vec<Ids>,
        out: &mut Vec<Emission>,
    ) {
        if remaining == 0 {
            self.emit(binding, premises, out);
            return;
        }
        let index = ctx.index;
        let atom_index = (0..self.body.len())
            .filter(|i| remaining & (1 << i) != 0)
            .min_by_key(|&i| ctx.cost(self.lookup(i, binding)))
            .expect("remaining is not empty");
        let rest = remaining & !(1 << atom_index);
        let atom = &self.body[atom_index];
        let mut visit = |t: Ids, binding: &mut Vec<Option<u32>>, premises: &mut Vec<Ids>| {
            if let Some(bound) = unify(atom, &t, binding) {
                premises[atom_index] = t;
                if self.filters_hold(binding, ctx.interner) {
                    self.join(rest, ctx, binding, premises, out);
                }
                for v in bound {
                    binding[v] = None;
                }
            }
        };
        match self.lookup(atom_index, binding) {
            (Some(s), Some(p), Some(o)) => {
                if index.contains(&[s, p, o]) {
                    visit([s, p, o], binding, premises);
                }
            }
            (Some(s), Some(p), None) => {
                for &o in index.objects(s, p) {
                    visit([s, p, o], binding, premises);
                }
            }
            (None, Some(p), Some(o)) => {
                for &s in index.subjects(p, o) {
                    visit([s, p, o], binding, premises);
                }
            }
            (None, Some(p), None) => {
                for &(s, o) in index.pairs(p) {
                    visit([s, p, o], binding, premises);
                }
            }
            // Only when every remaining atom has an unbound predicate.
            (_, None, _) => {
                for &t in index.iter() {
                    visit(t, binding, premises);
                }
            }
        }
    }

    /// A filter fails only once all its variables are bound.
    fn filters_hold(&self, binding: &[Option<u32>], interner: &Interner) -> bool {
        self.filters.iter().all(|f| match *f {
            Filter::Distinct(a, b) => match (binding[a], binding[b]) {
                (Some(x), Some(y)) => x != y,
                _ => true,
            },
            Filter::Number(var, value) => {
                binding[var].is_none_or(|id| interner.number(id) == Some(value))
            }
        })
    }

    fn emit(&self, binding: &[Option<u32>], premises: &[Ids], out: &mut Vec<Emission>) {
        if self.head.is_empty() {
            out.push(Emission {
                rule: self.name,
                head: None,
                premises: premises.to_vec(),
            });
            return;
        }
        for atom in &self.head {
            if let Some(head) = instantiate(atom, binding) {
                out.push(Emission {
                    rule: self.name,
                    head: Some(head),
                    premises: premises.to_vec(),
                });
            }
        }
    }
}

/// An atom's subject, predicate and object under a binding (`None`: free).
type Lookup = (Option<u32>, Option<u32>, Option<u32>);

/// What a join reads: the triples and the terms behind the ids.
struct JoinContext<'a> {
    index: &'a TripleIndex,
    interner: &'a Interner,
}

impl JoinContext<'_> {
    /// How many triples a lookup yields (an unbound predicate means a scan).
    fn cost(&self, lookup: Lookup) -> usize {
        match lookup {
            (Some(s), Some(p), Some(o)) => usize::from(self.index.contains(&[s, p, o])),
            (Some(s), Some(p), None) => self.index.objects(s, p).len(),
            (None, Some(p), Some(o)) => self.index.subjects(p, o).len(),
            (None, Some(p), None) => self.index.pairs(p).len(),
            (_, None, _) => usize::MAX,
        }
    }
}

/// Binds the atom's variables to the triple's terms; returns the variables it
/// bound, or `None` if the triple does not match.
fn unify(atom: &Atom, triple: &Ids, binding: &mut [Option<u32>]) -> Option<Vec<usize>> {
    let mut bound = Vec::new();
    for (slot, &term) in atom.iter().zip(triple) {
        let ok = match *slot {
            Slot::Const(c) => c == term,
            Slot::Var(v) => match binding[v] {
                Some(b) => b == term,
                None => {
                    binding[v] = Some(term);
                    bound.push(v);
                    true
                }
            },
        };
        if !ok {
            for v in bound {
                binding[v] = None;
            }
            return None;
        }
    }
    Some(bound)
}

fn instantiate(atom: &Atom, binding: &[Option<u32>]) -> Option<Ids> {
    let mut t = [0; 3];
    for (i, slot) in atom.iter().enumerate() {
        t[i] = match *slot {
            Slot::Const(c) => c,
            Slot::Var(v) => binding[v]?,
        };
    }
    Some(t)
}

fn split_clauses(text: &str) -> impl Iterator<Item = &str> {
    text.split(" . ").map(str::trim).filter(|c| !c.is_empty())
}

fn var(names: &mut Vec<String>, token: &str) -> usize {
    let name = token
        .strip_prefix('?')
        .unwrap_or_else(|| panic!("expected a variable, got {token}"));
    match names.iter().position(|n| n == name) {
        Some(i) => i,
        None => {
            names.push(name.to_owned());
            names.len() - 1
        }
    }
}

fn slot(names: &mut Vec<String>, interner: &mut Interner, token: &str) -> Slot {
    if token.starts_with('?') {
        return Slot::Var(var(names, token));
    }
    let (prefix, local) = token
        .split_once(':')
        .unwrap_or_else(|| panic!("expected prefix:local, got {token}"));
    let namespace = RULE_PREFIXES
        .iter()
        .find(|(p, _)| *p == prefix)
        .unwrap_or_else(|| panic!("unknown prefix in {token}"))
        .1;
    Slot::Const(interner.intern_iri(&format!("{namespace}{local}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason::rules::PATTERN_RULES;

    fn vars(atom: &Atom) -> impl Iterator<Item = usize> + '_ {
        atom.iter().filter_map(|s| match s {
            Slot::Var(v) => Some(*v),
            Slot::Const(_) => None,
        })
    }

    #[test]
    fn every_rule_row_compiles_and_binds_its_head() {
        let mut interner = Interner::default();
        for row in PATTERN_RULES {
            let rule = PatternRule::compile(row, &mut interner);
            let body_vars: Vec<usize> = rule.body.iter().flat_map(vars).collect();
            for atom in &rule.head {
                for v in vars(atom) {
                    assert!(
                        body_vars.contains(&v),
                        "{}: head variable not bound by the body",
                        row.name
                    );
                }
            }
        }
    }
}
