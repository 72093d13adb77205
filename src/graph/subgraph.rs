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

    /// The full k-hop neighbourhood of the seeds: every predicate, both
    /// directions, up to `fanout` neighbours per expanded node.
    pub fn retrieve(&self, seeds: &[NamedOrBlankNode]) -> Result<Subgraph> {
        let query = named_query("subgraph")?.text;
        let at = where_clause_start(query)
            .ok_or_else(|| Error::SparqlSyntax("the subgraph query has no WHERE clause".into()))?;
        let (head, body) = query.split_at(at);
        let mut expansion = Expansion::new(seeds);
        for hop in 1..=self.options.hops {
            let frontier = std::mem::take(&mut expansion.frontier);
            let found = self.neighbours(head, body, &expansion.terms(&frontier))?;
            for (&node, neighbours) in frontier.iter().zip(found) {
                for (outgoing, predicate, neighbour) in neighbours {
                    let (other, new) =
                        expansion.add_edge(node, outgoing, predicate, neighbour, hop);
                    if new {
                        expansion.frontier.push(other);
                    }
                }
            }
        }
        Ok(expansion.subgraph)
    }

    /// The neighbourhood a question needs, not the whole k-hop one: hop `h`
    /// expands only along the steps of `hops[h - 1]` (as a question
    /// answerer's relation weights give them), and only from the `beam`
    /// nodes the weighted flow from the seeds reaches most strongly. A node
    /// passes its weight on over the steps it has, in proportion to their
    /// weights, divided by their sum or `floor`, whichever is larger. Stops
    /// at the first hop with no steps.
    pub fn retrieve_guided(
        &self,
        seeds: &[NamedOrBlankNode],
        hops: &[Vec<GuidedStep>],
        beam: usize,
        floor: f32,
    ) -> Result<Subgraph> {
        let mut expansion = Expansion::new(seeds);
        let mut weight: HashMap<usize, f32> =
            expansion.frontier.iter().map(|&i| (i, 1.0)).collect();
        for (h, steps) in hops.iter().enumerate().take(self.options.hops) {
            if steps.is_empty() || expansion.frontier.is_empty() {
                break;
            }
            let step_weight: HashMap<(bool, &NamedNode), f32> = steps
                .iter()
                .map(|s| ((s.forward, &s.predicate), s.weight))
                .collect();
            let frontier = std::mem::take(&mut expansion.frontier);
            let found = self.neighbours(
                NEIGHBOURS_HEAD,
                &guided_body(steps),
                &expansion.terms(&frontier),
            )?;
            let mut reached: HashMap<usize, f32> = HashMap::new();
            for (&node, neighbours) in frontier.iter().zip(found) {
                let mut present: HashSet<(bool, &NamedNode)> = HashSet::new();
                for (outgoing, predicate, _) in &neighbours {
                    if let Some((key, _)) = step_weight.get_key_value(&(*outgoing, predicate)) {
                        present.insert(*key);
                    }
                }
                let mass: f32 = present.iter().map(|k| step_weight[k]).sum();
                let from = weight.get(&node).copied().unwrap_or(0.0) / mass.max(floor);
                for (outgoing, predicate, neighbour) in neighbours {
                    let w = step_weight
                        .get(&(outgoing, &predicate))
                        .copied()
                        .unwrap_or(0.0);
                    let (other, _) =
                        expansion.add_edge(node, outgoing, predicate, neighbour, h + 1);
                    *reached.entry(other).or_default() += from * w;
                }
            }
            let mut ranked: Vec<(usize, f32)> = reached
                .into_iter()
                .map(|(node, w)| (node, w.min(1.0)))
                .collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            ranked.truncate(beam.max(1));
            expansion.frontier = ranked.iter().map(|&(node, _)| node).collect();
            weight = ranked.into_iter().collect();
        }
        Ok(expansion.subgraph)
    }

    /// The first `fanout` neighbours of each node, in the order given, by
    /// the query `head` + `body` over `?seed` (split just inside the brace
    /// that opens its WHERE clause). IRIs go
    /// [`SEEDS_PER_QUERY`] to a query; a blank node (which VALUES cannot
    /// name) goes alone, bound as a variable.
    fn neighbours(
        &self,
        head: &str,
        body: &str,
        nodes: &[NamedOrBlankNode],
    ) -> Result<Vec<Vec<Neighbour>>> {
        let mut found = vec![Vec::new(); nodes.len()];
        let (iris, blanks): (Vec<usize>, Vec<usize>) =
            (0..nodes.len()).partition(|&i| nodes[i].is_named_node());
        let seed_var = Variable::new_unchecked("seed");
        let single = format!("{head}{body}");
        for &i in &blanks {
            let binding = [(seed_var.clone(), Term::from(nodes[i].clone()))];
            let rows = self
                .runner
                .select_first(&single, &binding, self.options.fanout)?;
            found[i] = rows
                .into_iter()
                .filter_map(neighbour)
                .map(|(_, n)| n)
                .collect();
        }
        for chunk in iris.chunks(SEEDS_PER_QUERY) {
            let branches: Vec<String> = chunk
                .iter()
                .map(|&i| {
                    format!(
                        "{{ {head} VALUES ?seed {{ {} }} {body}\nLIMIT {} }}",
                        nodes[i], self.options.fanout
                    )
                })
                .collect();
            let text = format!("{NEIGHBOURS_HEAD}\n{}\n}}", branches.join("\nUNION\n"));
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

/// A step a guided hop may take: a predicate read forward (subject to
/// object) or backward, with the weight the guide gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct GuidedStep {
    pub predicate: NamedNode,
    pub forward: bool,
    pub weight: f32,
}

/// The SELECT clause of every neighbour query, with the brace that opens
/// its WHERE clause.
const NEIGHBOURS_HEAD: &str = "SELECT ?seed ?direction ?predicate ?neighbour WHERE {";

/// The WHERE clause (after its opening brace) of one guided hop around `?seed`: its forward predicates
/// read outwards, its backward ones inwards.
fn guided_body(steps: &[GuidedStep]) -> String {
    let listed = |forward: bool| -> String {
        let mut predicates: Vec<String> = steps
            .iter()
            .filter(|s| s.forward == forward)
            .map(|s| s.predicate.to_string())
            .collect();
        predicates.sort();
        predicates.dedup();
        predicates.join(" ")
    };
    let (outwards, inwards) = (listed(true), listed(false));
    let mut branches = Vec::new();
    if !outwards.is_empty() {
        branches.push(format!(
            "{{ VALUES ?predicate {{ {outwards} }} ?seed ?predicate ?neighbour . BIND(\"out\" AS ?direction) }}"
        ));
    }
    if !inwards.is_empty() {
        branches.push(format!(
            "{{ VALUES ?predicate {{ {inwards} }} ?neighbour ?predicate ?seed . BIND(\"in\" AS ?direction) }}"
        ));
    }
    // `NEIGHBOURS_HEAD` opens the WHERE clause; this closes it.
    format!(
        "{} FILTER(!isLiteral(?neighbour)) }}",
        branches.join(" UNION ")
    )
}

/// A subgraph as it grows: nodes by term, edges without repeats, and the
/// nodes the next hop expands.
struct Expansion {
    subgraph: Subgraph,
    index: HashMap<NamedOrBlankNode, usize>,
    seen_edges: HashSet<SubgraphEdge>,
    frontier: Vec<usize>,
}

impl Expansion {
    /// The seeds (without repeats), all in the first frontier.
    fn new(seeds: &[NamedOrBlankNode]) -> Self {
        let mut expansion = Self {
            subgraph: Subgraph::default(),
            index: HashMap::new(),
            seen_edges: HashSet::new(),
            frontier: Vec::new(),
        };
        for seed in seeds {
            let (i, new) = expansion.add_node(seed.clone(), 0);
            if new {
                expansion.frontier.push(i);
            }
        }
        expansion
    }

    fn terms(&self, nodes: &[usize]) -> Vec<NamedOrBlankNode> {
        nodes
            .iter()
            .map(|&node| self.subgraph.nodes[node].term.clone())
            .collect()
    }

    fn add_node(&mut self, term: NamedOrBlankNode, hop: usize) -> (usize, bool) {
        if let Some(i) = self.index.get(&term) {
            return (*i, false);
        }
        self.subgraph.nodes.push(SubgraphNode {
            term: term.clone(),
            hop,
        });
        let i = self.subgraph.nodes.len() - 1;
        self.index.insert(term, i);
        (i, true)
    }

    /// Adds the edge between `node` and its neighbour (in the triple's
    /// direction); returns the neighbour's index and whether it is new.
    fn add_edge(
        &mut self,
        node: usize,
        outgoing: bool,
        predicate: NamedNode,
        neighbour: NamedOrBlankNode,
        hop: usize,
    ) -> (usize, bool) {
        let (other, new) = self.add_node(neighbour, hop);
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
        if self.seen_edges.insert(edge.clone()) {
            self.subgraph.edges.push(edge);
        }
        (other, new)
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
    fn guided_retrieval_follows_only_the_weighted_steps_within_the_beam() {
        // film -directedBy-> d, d also directed f2 and f3; f2 and f3 starred
        // a2 and a3; the film also has a genre that 30 others share.
        let mut edges = vec![
            ("film", "directedBy", "d"),
            ("f2", "directedBy", "d"),
            ("f3", "directedBy", "d"),
            ("f2", "starred", "a2"),
            ("f3", "starred", "a3"),
            ("film", "genre", "drama"),
        ];
        let others: Vec<String> = (0..30).map(|i| format!("g{i}")).collect();
        edges.extend(others.iter().map(|o| (o.as_str(), "genre", "drama")));
        let store = store_with(&edges);
        let step = |p: &str, forward: bool, weight: f32| GuidedStep {
            predicate: NamedNode::new(format!("http://example.com/{p}")).unwrap(),
            forward,
            weight,
        };
        let hops = vec![
            vec![step("directedBy", true, 0.9)],
            vec![step("directedBy", false, 0.8)],
            vec![step("starred", true, 0.7)],
        ];
        let options = SubgraphOptions {
            hops: 3,
            fanout: 50,
        };
        let retriever = SubgraphRetriever::new(&store, options).unwrap();
        let sub = retriever
            .retrieve_guided(&[node("film")], &hops, 10, 0.1)
            .unwrap();
        let names: Vec<String> = sub.nodes.iter().map(|n| n.term.to_string()).collect();
        assert_eq!(sub.nodes.len(), 6, "film, d, f2, f3, a2, a3: {names:?}");
        assert!(
            sub.index_of(&node("drama")).is_none(),
            "genre is not followed"
        );
        assert_eq!(sub.nodes[sub.index_of(&node("a3")).unwrap()].hop, 3);
        // A beam of two keeps two of the three equally weighted films at
        // hop 2 (the seed itself, back from its director, and the first
        // other in subgraph order), so only one actor is reached.
        let narrow = retriever
            .retrieve_guided(&[node("film")], &hops, 2, 0.1)
            .unwrap();
        let actors = ["a2", "a3"]
            .iter()
            .filter(|a| narrow.index_of(&node(a)).is_some())
            .count();
        assert_eq!(actors, 1, "{narrow}");
        // No steps at a hop: retrieval stops there.
        let short = retriever
            .retrieve_guided(&[node("film")], &hops[..1], 10, 0.1)
            .unwrap();
        assert_eq!(short.nodes.len(), 2);
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
