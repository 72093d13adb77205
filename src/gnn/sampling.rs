//! Neighbour sampling (Hamilton et al. 2017, GraphSAGE): the computation
//! graph of a mini-batch of seed nodes, keeping at most `fanout[h]` incoming
//! edges per node at hop `h`, so a batch's cost is bounded by the fan-outs
//! and not by the size of the graph or its hubs.

use rand::seq::index;
use rand::Rng;

/// Incoming edges grouped by receiver, built once per graph.
pub struct NeighbourSampler {
    /// `incoming[offsets[n]..offsets[n + 1]]` are `(source, relation)` of node `n`'s edges.
    offsets: Vec<usize>,
    incoming: Vec<(u32, u32)>,
    fanouts: Vec<usize>,
}

/// A sampled computation graph in local ids: `nodes[i]` is the global id of
/// local node `i`, the seeds come first in their order.
#[derive(Debug, Clone, PartialEq)]
pub struct SampledGraph {
    pub nodes: Vec<u32>,
    /// `(source, relation, target)` in local ids.
    pub edges: Vec<(u32, u32, u32)>,
}

impl NeighbourSampler {
    /// `edges` are `(source, relation, target)` over `num_nodes` nodes
    /// (inverse edges included, as for [`super::MessageGraph::new`]); one
    /// fan-out per layer, from the seeds outwards.
    pub fn new(num_nodes: usize, edges: &[(u32, u32, u32)], fanouts: Vec<usize>) -> Self {
        let mut counts = vec![0usize; num_nodes + 1];
        for &(_, _, t) in edges {
            counts[t as usize + 1] += 1;
        }
        for i in 0..num_nodes {
            counts[i + 1] += counts[i];
        }
        let offsets = counts.clone();
        let mut next = counts;
        let mut incoming = vec![(0, 0); edges.len()];
        for &(s, r, t) in edges {
            incoming[next[t as usize]] = (s, r);
            next[t as usize] += 1;
        }
        Self {
            offsets,
            incoming,
            fanouts,
        }
    }

    /// The seeds' sampled neighbourhood: each hop keeps, for every node first
    /// reached at the hop before, all its incoming edges if they are at most
    /// the hop's fan-out, else that many drawn without replacement.
    pub fn sample(&self, seeds: &[u32], rng: &mut impl Rng) -> SampledGraph {
        let mut local: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
        let mut nodes = Vec::new();
        let mut add = |n: u32, nodes: &mut Vec<u32>| -> u32 {
            *local.entry(n).or_insert_with(|| {
                nodes.push(n);
                (nodes.len() - 1) as u32
            })
        };
        let mut frontier: Vec<u32> = seeds.iter().map(|&s| add(s, &mut nodes)).collect();
        frontier.sort_unstable();
        frontier.dedup();
        let mut edges = Vec::new();
        for &fanout in &self.fanouts {
            let reached_before = nodes.len();
            for &target in &frontier {
                let global = nodes[target as usize] as usize;
                let all = &self.incoming[self.offsets[global]..self.offsets[global + 1]];
                let mut keep = |&(s, r): &(u32, u32), nodes: &mut Vec<u32>| {
                    let source = add(s, nodes);
                    edges.push((source, r, target));
                };
                if all.len() <= fanout {
                    all.iter().for_each(|e| keep(e, &mut nodes));
                } else {
                    for i in index::sample(rng, all.len(), fanout) {
                        keep(&all[i], &mut nodes);
                    }
                }
            }
            frontier = (reached_before as u32..nodes.len() as u32).collect();
        }
        SampledGraph { nodes, edges }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// A star: nodes 1..=20 point at hub 0; node 21 points at node 1.
    fn star() -> Vec<(u32, u32, u32)> {
        let mut edges: Vec<(u32, u32, u32)> = (1..=20).map(|i| (i, 0, 0)).collect();
        edges.push((21, 1, 1));
        edges
    }

    #[test]
    fn fanout_caps_each_hop() {
        let sampler = NeighbourSampler::new(22, &star(), vec![5, 5]);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let g = sampler.sample(&[0], &mut rng);
        assert_eq!(g.nodes[0], 0, "seed first");
        let into_hub = g.edges.iter().filter(|e| e.2 == 0).count();
        assert_eq!(into_hub, 5, "hop 1 keeps 5 of the hub's 20 edges");
        // Every edge's ends are local ids of the right global nodes.
        for &(s, r, t) in &g.edges {
            let (s, t) = (g.nodes[s as usize], g.nodes[t as usize]);
            assert!(star().contains(&(s, r, t)), "({s}, {r}, {t})");
        }
    }

    #[test]
    fn small_neighbourhoods_are_kept_whole() {
        let sampler = NeighbourSampler::new(22, &star(), vec![25, 25]);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let g = sampler.sample(&[0], &mut rng);
        assert_eq!(g.nodes.len(), 22);
        assert_eq!(g.edges.len(), 21, "20 into the hub, then 21 -> 1 at hop 2");
    }
}
