//! The rules whose premises are RDF lists (`owl:intersectionOf`,
//! `owl:propertyChainAxiom`, `owl:hasKey`, `owl:members`, …), one small
//! function each. They run over the whole index every round; the lists are
//! schema, so this stays cheap. A malformed list is reported and skipped.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::index::TripleIndex;
use super::pattern::Emission;
use super::terms::{Ids, Interner};

/// Longest list we follow; longer ones are reported as malformed.
const MAX_LIST: usize = 100_000;

/// Ids of the vocabulary the engine and the list rules use.
#[derive(Debug, Clone, Copy)]
pub struct Vocab {
    pub rdf_type: u32,
    pub rdf_first: u32,
    pub rdf_rest: u32,
    pub rdf_nil: u32,
    pub rdfs_sub_class_of: u32,
    pub same_as: u32,
    pub intersection_of: u32,
    pub union_of: u32,
    pub one_of: u32,
    pub property_chain_axiom: u32,
    pub has_key: u32,
    pub members: u32,
    pub distinct_members: u32,
    pub all_disjoint_classes: u32,
    pub all_disjoint_properties: u32,
    pub all_different: u32,
}

impl Vocab {
    pub fn new(interner: &mut Interner) -> Self {
        let rdf = |l: &str| format!("http://www.w3.org/1999/02/22-rdf-syntax-ns#{l}");
        let owl = |l: &str| format!("http://www.w3.org/2002/07/owl#{l}");
        let mut i = |iri: String| interner.intern_iri(&iri);
        Self {
            rdf_type: i(rdf("type")),
            rdf_first: i(rdf("first")),
            rdf_rest: i(rdf("rest")),
            rdf_nil: i(rdf("nil")),
            rdfs_sub_class_of: i("http://www.w3.org/2000/01/rdf-schema#subClassOf".into()),
            same_as: i(owl("sameAs")),
            intersection_of: i(owl("intersectionOf")),
            union_of: i(owl("unionOf")),
            one_of: i(owl("oneOf")),
            property_chain_axiom: i(owl("propertyChainAxiom")),
            has_key: i(owl("hasKey")),
            members: i(owl("members")),
            distinct_members: i(owl("distinctMembers")),
            all_disjoint_classes: i(owl("AllDisjointClasses")),
            all_disjoint_properties: i(owl("AllDisjointProperties")),
            all_different: i(owl("AllDifferent")),
        }
    }
}

/// What the list rules read, and where they report malformed input.
pub struct ListContext<'a> {
    pub index: &'a TripleIndex,
    pub interner: &'a Interner,
    pub v: Vocab,
    pub warnings: &'a mut Vec<String>,
}

/// A list's members and the `rdf:first`/`rdf:rest` triples that state them.
struct List {
    members: Vec<u32>,
    triples: Vec<Ids>,
}

impl ListContext<'_> {
    fn list(&mut self, owner: u32, head: u32) -> Option<List> {
        let (first, rest, nil) = (self.v.rdf_first, self.v.rdf_rest, self.v.rdf_nil);
        let mut list = List {
            members: Vec::new(),
            triples: Vec::new(),
        };
        let mut seen = HashSet::default();
        let mut node = head;
        while node != nil {
            let (firsts, rests) = (
                self.index.objects(node, first),
                self.index.objects(node, rest),
            );
            let problem = if !seen.insert(node) {
                Some("the list is cyclic")
            } else if firsts.len() != 1 || rests.len() != 1 {
                Some("a list node needs exactly one rdf:first and one rdf:rest")
            } else if list.members.len() >= MAX_LIST {
                Some("the list is too long")
            } else {
                None
            };
            if let Some(problem) = problem {
                self.warnings.push(format!(
                    "malformed RDF list of {}: {problem}; the axiom is skipped",
                    self.interner.term(owner)
                ));
                return None;
            }
            list.members.push(firsts[0]);
            list.triples.push([node, first, firsts[0]]);
            list.triples.push([node, rest, rests[0]]);
            node = rests[0];
        }
        Some(list)
    }

    /// `(owner, list)` for every `owner predicate list` triple.
    fn lists_of(&mut self, predicate: u32) -> Vec<(Ids, List)> {
        let pairs = self.index.pairs(predicate).to_vec();
        pairs
            .into_iter()
            .filter_map(|(owner, head)| Some(([owner, predicate, head], self.list(owner, head)?)))
            .collect()
    }

    fn has_type(&self, x: u32, class: u32) -> bool {
        self.index.contains(&[x, self.v.rdf_type, class])
    }
}

fn emission(rule: &'static str, head: Option<Ids>, premises: Vec<Ids>) -> Emission {
    Emission {
        rule,
        head,
        premises,
    }
}

fn with_list(axiom: Ids, list: &List, more: &[Ids]) -> Vec<Ids> {
    let mut premises = vec![axiom];
    premises.extend(&list.triples);
    premises.extend(more);
    premises
}

/// Runs the named list rule.
pub fn run(name: &str, ctx: &mut ListContext<'_>) -> Vec<Emission> {
    match name {
        "cls-int1" => cls_int1(ctx),
        "cls-int2" => cls_int2(ctx),
        "cls-uni" => cls_uni(ctx),
        "cls-oo" => cls_oo(ctx),
        "prp-spo2" => prp_spo2(ctx),
        "prp-key" => prp_key(ctx),
        "cax-adc" => all_disjoint(ctx, "cax-adc"),
        "prp-adp" => all_disjoint(ctx, "prp-adp"),
        "eq-diff2" => all_different(ctx, "eq-diff2"),
        "eq-diff3" => all_different(ctx, "eq-diff3"),
        "scm-int" => scm_int_uni(ctx, "scm-int"),
        "scm-uni" => scm_int_uni(ctx, "scm-uni"),
        other => unreachable!("no list rule {other}"),
    }
}

/// x is of every class of the intersection => x is of the intersection.
fn cls_int1(ctx: &mut ListContext<'_>) -> Vec<Emission> {
    let mut out = Vec::new();
    let t = ctx.v.rdf_type;
    for (axiom, list) in ctx.lists_of(ctx.v.intersection_of) {
        let Some((&first, rest)) = list.members.split_first() else {
            continue;
        };
        for &x in ctx.index.subjects(t, first) {
            if rest.iter().all(|&c| ctx.has_type(x, c)) {
                let types: Vec<Ids> = list.members.iter().map(|&c| [x, t, c]).collect();
                out.push(emission(
                    "cls-int1",
                    Some([x, t, axiom[0]]),
                    with_list(axiom, &list, &types),
                ));
            }
        }
    }
    out
}

/// x is of the intersection => x is of each of its classes.
fn cls_int2(ctx: &mut ListContext<'_>) -> Vec<Emission> {
    let mut out = Vec::new();
    let t = ctx.v.rdf_type;
    for (axiom, list) in ctx.lists_of(ctx.v.intersection_of) {
        for &x in ctx.index.subjects(t, axiom[0]) {
            for &c in &list.members {
                out.push(emission(
                    "cls-int2",
                    Some([x, t, c]),
                    with_list(axiom, &list, &[[x, t, axiom[0]]]),
                ));
            }
        }
    }
    out
}

/// x is of one class of the union => x is of the union.
fn cls_uni(ctx: &mut ListContext<'_>) -> Vec<Emission> {
    let mut out = Vec::new();
    let t = ctx.v.rdf_type;
    for (axiom, list) in ctx.lists_of(ctx.v.union_of) {
        for &c in &list.members {
            for &x in ctx.index.subjects(t, c) {
                out.push(emission(
                    "cls-uni",
                    Some([x, t, axiom[0]]),
                    with_list(axiom, &list, &[[x, t, c]]),
                ));
            }
        }
    }
    out
}

/// Each listed individual of an enumeration is of the class.
fn cls_oo(ctx: &mut ListContext<'_>) -> Vec<Emission> {
    let mut out = Vec::new();
    for (axiom, list) in ctx.lists_of(ctx.v.one_of) {
        for &y in &list.members {
            out.push(emission(
                "cls-oo",
                Some([y, ctx.v.rdf_type, axiom[0]]),
                with_list(axiom, &list, &[]),
            ));
        }
    }
    out
}

/// A chain p1 … pn from u to w => u p w.
fn prp_spo2(ctx: &mut ListContext<'_>) -> Vec<Emission> {
    let mut out = Vec::new();
    for (axiom, list) in ctx.lists_of(ctx.v.property_chain_axiom) {
        let Some((&first, rest)) = list.members.split_first() else {
            continue;
        };
        for &(start, next) in ctx.index.pairs(first) {
            let mut paths: Vec<(u32, Vec<Ids>)> = vec![(next, vec![[start, first, next]])];
            for &p in rest {
                paths = paths
                    .into_iter()
                    .flat_map(|(node, path)| {
                        ctx.index.objects(node, p).iter().map(move |&o| {
                            let mut path = path.clone();
                            path.push([node, p, o]);
                            (o, path)
                        })
                    })
                    .collect();
            }
            for (end, path) in paths {
                out.push(emission(
                    "prp-spo2",
                    Some([start, axiom[0], end]),
                    with_list(axiom, &list, &path),
                ));
            }
        }
    }
    out
}

/// Two instances of a class that agree on all key properties are the same.
fn prp_key(ctx: &mut ListContext<'_>) -> Vec<Emission> {
    let mut out = Vec::new();
    let t = ctx.v.rdf_type;
    for (axiom, list) in ctx.lists_of(ctx.v.has_key) {
        let mut by_key: HashMap<Vec<u32>, Vec<(u32, Vec<Ids>)>> = HashMap::default();
        for &x in ctx.index.subjects(t, axiom[0]) {
            // Every combination of key values (keys may be multi-valued).
            let mut combos: Vec<(Vec<u32>, Vec<Ids>)> = vec![(Vec::new(), vec![[x, t, axiom[0]]])];
            for &p in &list.members {
                combos = combos
                    .into_iter()
                    .flat_map(|(key, premises)| {
                        ctx.index.objects(x, p).iter().map(move |&value| {
                            let (mut key, mut premises) = (key.clone(), premises.clone());
                            key.push(value);
                            premises.push([x, p, value]);
                            (key, premises)
                        })
                    })
                    .collect();
            }
            for (key, premises) in combos {
                by_key.entry(key).or_default().push((x, premises));
            }
        }
        for group in by_key.values() {
            for (i, (x, px)) in group.iter().enumerate() {
                for (y, py) in &group[i + 1..] {
                    if x != y {
                        let premises =
                            with_list(axiom, &list, &[px.as_slice(), py.as_slice()].concat());
                        out.push(emission(
                            "prp-key",
                            Some([*y, ctx.v.same_as, *x]),
                            premises.clone(),
                        ));
                        out.push(emission("prp-key", Some([*x, ctx.v.same_as, *y]), premises));
                    }
                }
            }
        }
    }
    out
}

/// `owl:AllDisjointClasses` (cax-adc) and `owl:AllDisjointProperties` (prp-adp).
fn all_disjoint(ctx: &mut ListContext<'_>, rule: &'static str) -> Vec<Emission> {
    let mut out = Vec::new();
    let t = ctx.v.rdf_type;
    let kind = if rule == "cax-adc" {
        ctx.v.all_disjoint_classes
    } else {
        ctx.v.all_disjoint_properties
    };
    let axioms: Vec<u32> = ctx.index.subjects(t, kind).to_vec();
    for x in axioms {
        let heads: Vec<u32> = ctx.index.objects(x, ctx.v.members).to_vec();
        for head in heads {
            let Some(list) = ctx.list(x, head) else {
                continue;
            };
            let axiom = [x, ctx.v.members, head];
            for (i, &a) in list.members.iter().enumerate() {
                for &b in &list.members[i + 1..] {
                    if rule == "cax-adc" {
                        for &z in ctx.index.subjects(t, a) {
                            if ctx.has_type(z, b) {
                                let premises =
                                    with_list(axiom, &list, &[[x, t, kind], [z, t, a], [z, t, b]]);
                                out.push(emission(rule, None, premises));
                            }
                        }
                    } else {
                        for &(u, w) in ctx.index.pairs(a) {
                            if ctx.index.contains(&[u, b, w]) {
                                let premises =
                                    with_list(axiom, &list, &[[x, t, kind], [u, a, w], [u, b, w]]);
                                out.push(emission(rule, None, premises));
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// `owl:AllDifferent` with `owl:members` (eq-diff2) or `owl:distinctMembers`
/// (eq-diff3): after sameAs canonicalisation, two positions holding the same
/// representative means two listed individuals were found equal.
fn all_different(ctx: &mut ListContext<'_>, rule: &'static str) -> Vec<Emission> {
    let mut out = Vec::new();
    let t = ctx.v.rdf_type;
    let predicate = if rule == "eq-diff2" {
        ctx.v.members
    } else {
        ctx.v.distinct_members
    };
    let axioms: Vec<u32> = ctx.index.subjects(t, ctx.v.all_different).to_vec();
    for x in axioms {
        let heads: Vec<u32> = ctx.index.objects(x, predicate).to_vec();
        for head in heads {
            let Some(list) = ctx.list(x, head) else {
                continue;
            };
            let mut seen = HashSet::default();
            if list.members.iter().any(|m| !seen.insert(*m)) {
                let premises =
                    with_list([x, predicate, head], &list, &[[x, t, ctx.v.all_different]]);
                out.push(emission(rule, None, premises));
            }
        }
    }
    out
}

/// scm-int: an intersection is a subclass of each part; scm-uni: each part
/// is a subclass of a union.
fn scm_int_uni(ctx: &mut ListContext<'_>, rule: &'static str) -> Vec<Emission> {
    let mut out = Vec::new();
    let sco = ctx.v.rdfs_sub_class_of;
    let predicate = if rule == "scm-int" {
        ctx.v.intersection_of
    } else {
        ctx.v.union_of
    };
    for (axiom, list) in ctx.lists_of(predicate) {
        for &c in &list.members {
            let head = if rule == "scm-int" {
                [axiom[0], sco, c]
            } else {
                [c, sco, axiom[0]]
            };
            out.push(emission(rule, Some(head), with_list(axiom, &list, &[])));
        }
    }
    out
}
