//! `SubgraphRetriever`: the k-hop neighbourhood of seed entities, expanded
//! breadth-first with the named query `queries/subgraph.rq`, at most
//! `fanout` neighbours per expanded node so that hubs (a country, a year)
//! do not swallow the graph. The order is deterministic: seeds as given,
//! neighbours in the store's index order. One request reads a hop for up to
//! [`SEEDS_PER_QUERY`] nodes: a UNION of the query once per node, each
//! capped by its own LIMIT, so a hub costs no more than any node and a
//! remote store answers a hop in a few requests instead of one per node.

use std::collections::{HashMap, HashSet};
use std::fmt;

use oxigraph::model::{NamedNode, NamedOrBlankNode, Term, Variable};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::store::named_queries::named_query;
use crate::store::query::SparqlRunner;
use crate::store::sparql_text::where_clause_start;
use crate::store::terms::compact_iri;
use crate::store::Store;

/// Expanded nodes read per query.
pub const SEEDS_PER_QUERY: usize = 64;

/// One neighbour of an expanded node: the edge's direction, predicate and
/// the node at its other end.
type Neighbour = (bool, NamedNode, NamedOrBlankNode);

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
            let terms: Vec<NamedOrBlankNode> = frontier
                .iter()
                .map(|&node| subgraph.nodes[node].term.clone())
                .collect();
            let neighbours = self.neighbours(query, &terms)?;
            for (&node, found) in frontier.iter().zip(neighbours) {
                for (outgoing, predicate, neighbour) in found {
                    let (other, new) = add_node(&mut subgraph, neighbour, hop);
                    if new {
                        next.push(other);
                    }
                    let (source, target) = if outgoing {
                        (node, other)
                    } else {
                        (other, node)
                    };
                    let edge = SubgraphEdge {
                        source,
                        predicate,
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

    /// The first `fanout` neighbours of each node, in the order given. IRIs
    /// go [`SEEDS_PER_QUERY`] to a query; a blank node (which VALUES cannot
    /// name) goes alone, bound as a variable.
    fn neighbours(&self, query: &str, nodes: &[NamedOrBlankNode]) -> Result<Vec<Vec<Neighbour>>> {
        let mut found = vec![Vec::new(); nodes.len()];
        let (iris, blanks): (Vec<usize>, Vec<usize>) =
            (0..nodes.len()).partition(|&i| nodes[i].is_named_node());
        let seed_var = Variable::new_unchecked("seed");
        for &i in &blanks {
            let binding = [(seed_var.clone(), Term::from(nodes[i].clone()))];
            let rows = self
                .runner
                .select_first(query, &binding, self.options.fanout)?;
            found[i] = rows
                .into_iter()
                .filter_map(neighbour)
                .map(|(_, n)| n)
                .collect();
        }
        let at = where_clause_start(query)
            .ok_or_else(|| Error::SparqlSyntax("the subgraph query has no WHERE clause".into()))?;
        for chunk in iris.chunks(SEEDS_PER_QUERY) {
            let branches: Vec<String> = chunk
                .iter()
                .map(|&i| {
                    format!(
                        "{{ {} VALUES ?seed {{ {} }} {}\nLIMIT {} }}",
                        &query[..at],
                        nodes[i],
                        &query[at..],
                        self.options.fanout
                    )
                })
                .collect();
            let text = format!(
                "SELECT ?seed ?direction ?predicate ?neighbour WHERE {{\n{}\n}}",
                branches.join("\nUNION\n")
            );
            let index: HashMap<&NamedOrBlankNode, usize> =
                chunk.iter().map(|&i| (&nodes[i], i)).collect();
            for row in self.runner.select(&text, &[])?.1 {
                if let Some((seed, edge)) = neighbour(row) {
                    if let Some(&i) = seed.as_ref().and_then(|s| index.get(s)) {
                        found[i].push(edge);
                    }
                }
            }
        }
        Ok(found)
    }
}

/// A row of the subgraph query (`?seed ?direction ?predicate ?neighbour`)
/// as its seed and neighbour; `None` for a row that is not an edge.
fn neighbour(row: Vec<Option<Term>>) -> Option<(Option<NamedOrBlankNode>, Neighbour)> {
    let mut row = row.into_iter();
    let seed = row
        .next()
        .flatten()
        .and_then(|t| NamedOrBlankNode::try_from(t).ok());
    match (
        row.next().flatten(),
        row.next().flatten(),
        row.next().flatten(),
    ) {
        (Some(Term::Literal(direction)), Some(Term::NamedNode(predicate)), Some(node)) => {
            let node = NamedOrBlankNode::try_from(node).ok()?;
            Some((seed, (direction.value() == "out", predicate, node)))
        }
        _ => None,
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
