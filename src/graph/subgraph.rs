//! `SubgraphRetriever`: the k-hop neighbourhood of seed entities, expanded
//! breadth-first with the named query `queries/subgraph.rq`, at most
//! `fanout` neighbours per expanded node so that hubs (a country, a year)
//! do not swallow the graph. The order is deterministic: seeds as given,
//! neighbours in the store's index order (the query is read lazily and only
//! its first `fanout` rows, so a hub costs no more than any node).

use std::collections::{HashMap, HashSet};
use std::fmt;

use oxigraph::model::{NamedNode, NamedOrBlankNode, Term, Variable};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::store::named_queries::named_query;
use crate::store::query::SparqlRunner;
use crate::store::terms::compact_iri;
use crate::store::Store;

/// Limits of a retrieval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SubgraphOptions {
    /// Hops from the seeds, 1 to 3.
    pub hops: usize,
    /// Neighbours taken per expanded node.
    pub fanout: usize,
}

impl Default for SubgraphOptions {
    fn default() -> Self {
        Self {
            hops: 2,
            fanout: 50,
        }
    }
}

/// A node of a subgraph and its distance from the nearest seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubgraphNode {
    pub term: NamedOrBlankNode,
    pub hop: usize,
}

/// An edge in the direction of its triple, between subgraph node indexes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SubgraphEdge {
    pub source: usize,
    pub predicate: NamedNode,
    pub target: usize,
}

/// Nodes (seeds first) and edges of a retrieved neighbourhood.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subgraph {
    pub nodes: Vec<SubgraphNode>,
    pub edges: Vec<SubgraphEdge>,
}

impl Subgraph {
    /// Index of a node, if it is in the subgraph.
    pub fn index_of(&self, term: &NamedOrBlankNode) -> Option<usize> {
        self.nodes.iter().position(|n| &n.term == term)
    }
}

/// Retrieves k-hop subgraphs from a store.
pub struct SubgraphRetriever<'a> {
    runner: SparqlRunner<'a>,
    options: SubgraphOptions,
}

impl<'a> SubgraphRetriever<'a> {
    pub fn new(store: &'a Store, options: SubgraphOptions) -> Result<Self> {
        if !(1..=3).contains(&options.hops) {
            return Err(Error::InvalidTerm(format!(
                "hops must be 1, 2 or 3 (got {})",
                options.hops
            )));
        }
        if options.fanout == 0 {
            return Err(Error::InvalidTerm("fanout must be at least 1".to_owned()));
        }
        Ok(Self {
            runner: SparqlRunner::new(store),
            options,
        })
    }

    pub fn retrieve(&self, seeds: &[NamedOrBlankNode]) -> Result<Subgraph> {
        let query = named_query("subgraph")?.text;
        let seed_var = Variable::new_unchecked("seed");
        let mut subgraph = Subgraph::default();
        let mut index: HashMap<NamedOrBlankNode, usize> = HashMap::new();
        let mut seen_edges = HashSet::new();
        let mut add_node =
            |sub: &mut Subgraph, term: NamedOrBlankNode, hop: usize| -> (usize, bool) {
                if let Some(i) = index.get(&term) {
                    return (*i, false);
                }
                sub.nodes.push(SubgraphNode {
                    term: term.clone(),
                    hop,
                });
                index.insert(term, sub.nodes.len() - 1);
                (sub.nodes.len() - 1, true)
            };
        let mut frontier = Vec::new();
        for seed in seeds {
            let (i, new) = add_node(&mut subgraph, seed.clone(), 0);
            if new {
                frontier.push(i);
            }
        }
        for hop in 1..=self.options.hops {
            let mut next = Vec::new();
            for &node in &frontier {
                let binding = [(
                    seed_var.clone(),
                    Term::from(subgraph.nodes[node].term.clone()),
                )];
                for row in self
                    .runner
                    .select_first(query, &binding, self.options.fanout)?
                {
                    // Columns: ?seed ?direction ?predicate ?neighbour.
                    let (
                        Some(Term::Literal(direction)),
                        Some(Term::NamedNode(predicate)),
                        Some(neighbour),
                    ) = (&row[1], &row[2], &row[3])
                    else {
                        continue;
                    };
                    let Ok(neighbour) = NamedOrBlankNode::try_from(neighbour.clone()) else {
                        continue;
                    };
                    let (other, new) = add_node(&mut subgraph, neighbour, hop);
                    if new {
                        next.push(other);
                    }
                    let (source, target) = if direction.value() == "out" {
                        (node, other)
                    } else {
                        (other, node)
                    };
                    let edge = SubgraphEdge {
                        source,
                        predicate: predicate.clone(),
                        target,
                    };
                    if seen_edges.insert(edge.clone()) {
                        subgraph.edges.push(edge);
                    }
                }
            }
            frontier = next;
        }
        Ok(subgraph)
    }
}

/// Every predicate that links two resources (the edges a retrieval can
/// return), sorted.
pub fn resource_predicates(store: &Store) -> Result<Vec<NamedNode>> {
    let (_, rows) = SparqlRunner::new(store).select(
        "SELECT DISTINCT ?p WHERE { ?s ?p ?o FILTER(!isLiteral(?o)) } ORDER BY ?p",
        &[],
    )?;
    Ok(rows
        .into_iter()
        .filter_map(|r| match r.into_iter().next().flatten() {
            Some(Term::NamedNode(p)) => Some(p),
            _ => None,
        })
        .collect())
}

fn show(term: &NamedOrBlankNode) -> String {
    match term {
        NamedOrBlankNode::NamedNode(n) => compact_iri(n.as_str()),
        other => other.to_string(),
    }
}

impl fmt::Display for Subgraph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} nodes, {} edges", self.nodes.len(), self.edges.len())?;
        let max_hop = self.nodes.iter().map(|n| n.hop).max().unwrap_or(0);
        for hop in 0..=max_hop {
            let names: Vec<String> = self
                .nodes
                .iter()
                .filter(|n| n.hop == hop)
                .map(|n| show(&n.term))
                .collect();
            writeln!(f, "hop {hop}: {}", names.join(", "))?;
        }
        for edge in &self.edges {
            writeln!(
                f,
                "  {} --{}--> {}",
                show(&self.nodes[edge.source].term),
                compact_iri(edge.predicate.as_str()),
                show(&self.nodes[edge.target].term)
            )?;
        }
        Ok(())
    }
}

/// The JSON form: terms in N-Triples syntax, edges by node index.
impl Serialize for Subgraph {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        #[derive(Serialize)]
        struct Node {
            term: String,
            hop: usize,
        }
        #[derive(Serialize)]
        struct Edge<'a> {
            source: usize,
            predicate: &'a str,
            target: usize,
        }
        let nodes: Vec<Node> = self
            .nodes
            .iter()
            .map(|n| Node {
                term: n.term.to_string(),
                hop: n.hop,
            })
            .collect();
        let edges: Vec<Edge> = self
            .edges
            .iter()
            .map(|e| Edge {
                source: e.source,
                predicate: e.predicate.as_str(),
                target: e.target,
            })
            .collect();
        let mut s = serializer.serialize_struct("Subgraph", 2)?;
        s.serialize_field("nodes", &nodes)?;
        s.serialize_field("edges", &edges)?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxigraph::model::{GraphName, Quad};

    fn store_with(edges: &[(&str, &str, &str)]) -> Store {
        let store = Store::in_memory().unwrap();
        let n = |x: &str| NamedNode::new(format!("http://example.com/{x}")).unwrap();
        let quads = edges
            .iter()
            .map(|(s, p, o)| Quad::new(n(s), n(p), n(o), GraphName::DefaultGraph));
        store.insert_quads(quads).unwrap();
        store
    }

    fn node(x: &str) -> NamedOrBlankNode {
        NamedNode::new(format!("http://example.com/{x}"))
            .unwrap()
            .into()
    }

    #[test]
    fn expands_both_directions_up_to_the_hop_limit() {
        let store = store_with(&[
            ("a", "p", "b"),
            ("c", "p", "a"),
            ("b", "p", "d"),
            ("d", "p", "e"),
        ]);
        let options = SubgraphOptions {
            hops: 2,
            fanout: 10,
        };
        let sub = SubgraphRetriever::new(&store, options)
            .unwrap()
            .retrieve(&[node("a")])
            .unwrap();
        let hops: Vec<(String, usize)> = sub
            .nodes
            .iter()
            .map(|n| (n.term.to_string(), n.hop))
            .collect();
        assert_eq!(hops.len(), 4, "{hops:?}: e is three hops away");
        assert_eq!(sub.nodes[sub.index_of(&node("d")).unwrap()].hop, 2);
        assert_eq!(sub.edges.len(), 3);
        let incoming = &sub
            .edges
            .iter()
            .find(|e| sub.nodes[e.source].term == node("c"))
            .unwrap();
        assert_eq!(
            sub.nodes[incoming.target].term,
            node("a"),
            "edges keep the triple's direction"
        );
    }

    #[test]
    fn caps_the_fanout_deterministically() {
        let edges: Vec<(String, &str, String)> = (0..20)
            .map(|i| ("hub".to_owned(), "p", format!("n{i:02}")))
            .collect();
        let refs: Vec<(&str, &str, &str)> = edges
            .iter()
            .map(|(s, p, o)| (s.as_str(), *p, o.as_str()))
            .collect();
        let store = store_with(&refs);
        let options = SubgraphOptions { hops: 1, fanout: 5 };
        let retriever = SubgraphRetriever::new(&store, options).unwrap();
        let first = retriever.retrieve(&[node("hub")]).unwrap();
        assert_eq!(first.nodes.len(), 6);
        assert_eq!(first, retriever.retrieve(&[node("hub")]).unwrap());
        // Another store with the same triples keeps the same five.
        let again = store_with(&refs);
        let other = SubgraphRetriever::new(&again, options).unwrap();
        assert_eq!(first, other.retrieve(&[node("hub")]).unwrap());
        assert!(SubgraphRetriever::new(&store, SubgraphOptions { hops: 4, fanout: 5 }).is_err());
    }
}
