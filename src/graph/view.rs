//! `GraphView`: the store as a petgraph multigraph with dense ids.
//!
//! Nodes are IRIs and blank nodes; every triple whose object is not a literal
//! becomes an edge typed by a relation id; literals become the text of their
//! subject node. Relation `r` read backwards has id `r + relation_count()`, so
//! models that need inverse relations get them without a second edge list.

use std::collections::{HashMap, HashSet};

use oxigraph::model::{Literal, NamedNode, NamedOrBlankNode, Term, Triple};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::error::Result;
use crate::store::Store;

/// Which triples become part of the view.
#[derive(Debug, Clone, Default)]
pub struct GraphViewOptions {
    /// Predicates to leave out entirely (e.g. `owl:sameAs`, schema axioms).
    pub exclude_predicates: Vec<NamedNode>,
}

/// A literal attached to a node, with the predicate that attached it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeText {
    pub predicate: NamedNode,
    pub literal: Literal,
}

/// A typed edge between dense node ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Edge {
    pub source: u32,
    pub relation: u32,
    pub target: u32,
}

/// The store as a graph with dense node and relation ids.
#[derive(Debug, Clone, Default)]
pub struct GraphView {
    graph: DiGraph<u32, u32>,
    nodes: Vec<NamedOrBlankNode>,
    node_ids: HashMap<NamedOrBlankNode, u32>,
    relations: Vec<NamedNode>,
    relation_ids: HashMap<NamedNode, u32>,
    text: Vec<Vec<NodeText>>,
}

impl GraphView {
    /// Builds the view from the union of all graphs of a store.
    pub fn from_store(store: &Store, options: &GraphViewOptions) -> Result<Self> {
        let mut triples = Vec::new();
        for quad in store.quads_matching(None, None, None, None) {
            triples.push(Triple::from(quad?));
        }
        Ok(Self::from_triples(triples, options))
    }

    /// Builds the view from triples; duplicates (a triple in several graphs) count once.
    pub fn from_triples(
        triples: impl IntoIterator<Item = Triple>,
        options: &GraphViewOptions,
    ) -> Self {
        let excluded: HashSet<&NamedNode> = options.exclude_predicates.iter().collect();
        let mut view = Self::default();
        let mut edges = HashSet::new();
        let mut texts = HashSet::new();
        for triple in triples {
            if excluded.contains(&triple.predicate) {
                continue;
            }
            let source = view.intern_node(triple.subject);
            match triple.object {
                Term::Literal(literal) => {
                    let text = NodeText {
                        predicate: triple.predicate,
                        literal,
                    };
                    if texts.insert((source, text.clone())) {
                        view.text[source as usize].push(text);
                    }
                }
                Term::NamedNode(node) => {
                    let target = view.intern_node(node.into());
                    view.add_edge(&mut edges, source, triple.predicate, target);
                }
                Term::BlankNode(node) => {
                    let target = view.intern_node(node.into());
                    view.add_edge(&mut edges, source, triple.predicate, target);
                }
            }
        }
        view.into_canonical_order()
    }

    /// Renumbers nodes and relations in term order and sorts every node's
    /// texts and the edges, so that the same triples give the same view (and
    /// the same model) whatever order a store returns them in: the embedded
    /// store's index order and a SPARQL server's are not the same. Blank
    /// nodes, whose labels differ from store to store, sort by what they
    /// are attached to (their label only breaks ties).
    fn into_canonical_order(self) -> Self {
        let mut node_order: Vec<(String, u32)> = self
            .blank_node_signatures()
            .into_iter()
            .enumerate()
            .map(|(id, signature)| {
                let label = self.nodes[id].to_string();
                let key = match signature {
                    Some(signature) => format!("_:{signature}\u{0}{label}"),
                    None => label,
                };
                (key, id as u32)
            })
            .collect();
        node_order.sort_unstable();
        let mut relation_order: Vec<(&str, u32)> = self
            .relations
            .iter()
            .enumerate()
            .map(|(id, relation)| (relation.as_str(), id as u32))
            .collect();
        relation_order.sort_unstable();
        let mut new_node = vec![0u32; node_order.len()];
        for (new, (_, old)) in node_order.iter().enumerate() {
            new_node[*old as usize] = new as u32;
        }
        let mut new_relation = vec![0u32; relation_order.len()];
        for (new, (_, old)) in relation_order.iter().enumerate() {
            new_relation[*old as usize] = new as u32;
        }
        let mut edges: Vec<Edge> = self
            .edges()
            .map(|e| Edge {
                source: new_node[e.source as usize],
                relation: new_relation[e.relation as usize],
                target: new_node[e.target as usize],
            })
            .collect();
        edges.sort_unstable();
        let mut view = Self::default();
        let mut old_text = self.text;
        for (_, old) in &node_order {
            let id = view.intern_node(self.nodes[*old as usize].clone());
            let mut texts = std::mem::take(&mut old_text[*old as usize]);
            texts.sort_by_cached_key(|t| (t.predicate.as_str().to_owned(), t.literal.to_string()));
            view.text[id as usize] = texts;
        }
        for (_, old) in &relation_order {
            let predicate = self.relations[*old as usize].clone();
            view.relation_ids
                .insert(predicate.clone(), view.relations.len() as u32);
            view.relations.push(predicate);
        }
        for edge in edges {
            view.graph.add_edge(
                NodeIndex::new(edge.source as usize),
                NodeIndex::new(edge.target as usize),
                edge.relation,
            );
        }
        view
    }

    /// The nodes within `hops` of `seeds` over edges whose relation
    /// `follow` accepts (either way), and the nodes that those reach in one
    /// step over the other relations (a class through `rdf:type`): the kept
    /// nodes, with their texts and the edges among them.
    pub fn within_reach(
        &self,
        seeds: &[NamedOrBlankNode],
        hops: usize,
        follow: impl Fn(&NamedNode) -> bool,
    ) -> GraphView {
        let followed: Vec<bool> = self.relations.iter().map(&follow).collect();
        let count = self.relations.len() as u32;
        let mut keep = vec![false; self.nodes.len()];
        let mut frontier: Vec<u32> = seeds.iter().filter_map(|s| self.node_id(s)).collect();
        for &id in &frontier {
            keep[id as usize] = true;
        }
        for _ in 0..hops {
            let mut next = Vec::new();
            for &id in &frontier {
                for (relation, neighbour) in self.neighbours(id) {
                    if followed[(relation % count) as usize] && !keep[neighbour as usize] {
                        keep[neighbour as usize] = true;
                        next.push(neighbour);
                    }
                }
            }
            frontier = next;
        }
        let reached: Vec<u32> = (0..self.nodes.len() as u32)
            .filter(|&id| keep[id as usize])
            .collect();
        for id in reached {
            for (relation, neighbour) in self.neighbours(id) {
                if relation < count && !followed[relation as usize] {
                    keep[neighbour as usize] = true;
                }
            }
        }
        self.retain_nodes(&keep)
    }

    /// The view of the kept nodes: their texts and the edges among them.
    fn retain_nodes(&self, keep: &[bool]) -> GraphView {
        let mut view = Self::default();
        let mut new_id = vec![u32::MAX; self.nodes.len()];
        for (id, node) in self.nodes.iter().enumerate() {
            if keep[id] {
                new_id[id] = view.intern_node(node.clone());
                view.text[new_id[id] as usize] = self.text[id].clone();
            }
        }
        let mut edges = HashSet::new();
        for e in self.edges() {
            if keep[e.source as usize] && keep[e.target as usize] {
                let predicate = self.relations[e.relation as usize].clone();
                view.add_edge(
                    &mut edges,
                    new_id[e.source as usize],
                    predicate,
                    new_id[e.target as usize],
                );
            }
        }
        view.into_canonical_order()
    }

    /// Adds a node without edges if it is not there yet; returns its id.
    pub fn ensure_node(&mut self, node: NamedOrBlankNode) -> u32 {
        self.intern_node(node)
    }

    fn intern_node(&mut self, node: NamedOrBlankNode) -> u32 {
        if let Some(id) = self.node_ids.get(&node) {
            return *id;
        }
        let id = self.nodes.len() as u32;
        let index = self.graph.add_node(id);
        debug_assert_eq!(index.index(), id as usize);
        self.nodes.push(node.clone());
        self.node_ids.insert(node, id);
        self.text.push(Vec::new());
        id
    }

    fn add_edge(
        &mut self,
        seen: &mut HashSet<Edge>,
        source: u32,
        predicate: NamedNode,
        target: u32,
    ) {
        let relation = match self.relation_ids.get(&predicate) {
            Some(id) => *id,
            None => {
                let id = self.relations.len() as u32;
                self.relations.push(predicate.clone());
                self.relation_ids.insert(predicate, id);
                id
            }
        };
        if seen.insert(Edge {
            source,
            relation,
            target,
        }) {
            self.graph.add_edge(
                NodeIndex::new(source as usize),
                NodeIndex::new(target as usize),
                relation,
            );
        }
    }

    /// For each blank node, its edges and texts written without blank-node
    /// labels (sorted); `None` for IRIs.
    fn blank_node_signatures(&self) -> Vec<Option<String>> {
        let is_blank = |id: u32| self.nodes[id as usize].is_blank_node();
        let name = |id: u32| {
            if is_blank(id) {
                "_".to_owned()
            } else {
                self.nodes[id as usize].to_string()
            }
        };
        let mut parts: Vec<Vec<String>> = vec![Vec::new(); self.nodes.len()];
        for edge in self.edges() {
            let relation = self.relations[edge.relation as usize].as_str();
            if is_blank(edge.source) {
                parts[edge.source as usize].push(format!("> {relation} {}", name(edge.target)));
            }
            if is_blank(edge.target) {
                parts[edge.target as usize].push(format!("< {relation} {}", name(edge.source)));
            }
        }
        parts
            .into_iter()
            .enumerate()
            .map(|(id, mut parts)| {
                if !is_blank(id as u32) {
                    return None;
                }
                parts.extend(
                    self.text[id]
                        .iter()
                        .map(|t| format!("= {} {}", t.predicate.as_str(), t.literal)),
                );
                parts.sort_unstable();
                Some(parts.join(" "))
            })
            .collect()
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// Number of relations read forwards; ids below twice this are valid
    /// relation ids once inverses are counted.
    pub fn relation_count(&self) -> usize {
        self.relations.len()
    }

    pub fn node_id(&self, node: &NamedOrBlankNode) -> Option<u32> {
        self.node_ids.get(node).copied()
    }

    pub fn node(&self, id: u32) -> &NamedOrBlankNode {
        &self.nodes[id as usize]
    }

    pub fn nodes(&self) -> &[NamedOrBlankNode] {
        &self.nodes
    }

    pub fn relation_id(&self, predicate: &NamedNode) -> Option<u32> {
        self.relation_ids.get(predicate).copied()
    }

    /// The predicate of a relation id, and whether the id is the inverse reading.
    pub fn relation(&self, id: u32) -> (&NamedNode, bool) {
        let count = self.relations.len() as u32;
        if id >= count {
            (&self.relations[(id - count) as usize], true)
        } else {
            (&self.relations[id as usize], false)
        }
    }

    pub fn relations(&self) -> &[NamedNode] {
        &self.relations
    }

    /// Literals attached to a node.
    pub fn text(&self, id: u32) -> &[NodeText] {
        &self.text[id as usize]
    }

    /// Edges as stored, in insertion order.
    pub fn edges(&self) -> impl Iterator<Item = Edge> + '_ {
        self.graph.raw_edges().iter().map(|e| Edge {
            source: e.source().index() as u32,
            relation: e.weight,
            target: e.target().index() as u32,
        })
    }

    /// Every edge forwards, then every edge backwards with its inverse relation id.
    pub fn edges_with_inverses(&self) -> impl Iterator<Item = Edge> + '_ {
        let count = self.relations.len() as u32;
        self.edges().chain(self.edges().map(move |e| Edge {
            source: e.target,
            relation: e.relation + count,
            target: e.source,
        }))
    }

    /// Neighbours of a node in both directions as `(relation id, neighbour)`,
    /// inverse ids for incoming edges.
    pub fn neighbours(&self, id: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
        use petgraph::visit::EdgeRef;
        use petgraph::Direction::{Incoming, Outgoing};
        let count = self.relations.len() as u32;
        let index = NodeIndex::new(id as usize);
        let out = self
            .graph
            .edges_directed(index, Outgoing)
            .map(|e| (*e.weight(), e.target().index() as u32));
        let inc = self
            .graph
            .edges_directed(index, Incoming)
            .map(move |e| (*e.weight() + count, e.source().index() as u32));
        out.chain(inc)
    }

    /// The underlying petgraph graph; node weights are the dense node ids,
    /// edge weights the relation ids.
    pub fn petgraph(&self) -> &DiGraph<u32, u32> {
        &self.graph
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxigraph::model::BlankNode;

    fn iri(s: &str) -> NamedNode {
        NamedNode::new(format!("http://example.com/{s}")).unwrap()
    }

    #[test]
    fn builds_dense_typed_edges_with_inverses_and_text() {
        let b = BlankNode::new("b1").unwrap();
        let triples = vec![
            Triple::new(iri("a"), iri("owns"), iri("c")),
            Triple::new(iri("a"), iri("owns"), iri("c")),
            Triple::new(iri("a"), iri("holds"), b.clone()),
            Triple::new(b.clone(), iri("pct"), Literal::from(25)),
            Triple::new(iri("a"), iri("name"), Literal::from("Acme")),
            Triple::new(iri("a"), iri("skip"), iri("z")),
        ];
        let options = GraphViewOptions {
            exclude_predicates: vec![iri("skip")],
        };
        let view = GraphView::from_triples(triples, &options);
        assert_eq!(
            view.node_count(),
            3,
            "a, c and the blank node; z is excluded"
        );
        assert_eq!(view.edge_count(), 2, "the duplicate counts once");
        assert_eq!(view.relation_count(), 2);
        let a = view.node_id(&iri("a").into()).unwrap();
        let c = view.node_id(&iri("c").into()).unwrap();
        let owns = view.relation_id(&iri("owns")).unwrap();
        assert_eq!(view.text(a).len(), 1);
        assert_eq!(view.text(a)[0].literal.value(), "Acme");
        let inverse: Vec<_> = view.neighbours(c).collect();
        assert_eq!(inverse, vec![(owns + 2, a)]);
        assert_eq!(view.relation(owns + 2), (&iri("owns"), true));
        assert_eq!(view.edges_with_inverses().count(), 4);
    }
}
