//! `MessageGraph`: the edges an R-GCN layer passes messages along, grouped by
//! relation, with the per-relation degree normalisation `1 / c(i, r)` of
//! Schlichtkrull et al. (c = the number of `r`-neighbours of the receiver).
//! Built from plain edge triples, so it knows nothing of RDF.

use std::collections::HashMap;

use candle_core::{Device, Result, Tensor};

/// The edges of one relation as index tensors.
#[derive(Debug, Clone)]
pub struct RelationEdges {
    pub relation: usize,
    /// Sending nodes, `u32` `[edges]`.
    pub src: Tensor,
    /// Receiving nodes, `u32` `[edges]`.
    pub dst: Tensor,
    /// `1 / c(dst, relation)`, `f32` `[edges, 1]`.
    pub norm: Tensor,
    /// Where each edge was in the list given to [`MessageGraph::new`], `u32` `[edges]`.
    pub positions: Tensor,
}

/// A graph ready for message passing.
#[derive(Debug, Clone)]
pub struct MessageGraph {
    pub num_nodes: usize,
    pub num_relations: usize,
    pub relations: Vec<RelationEdges>,
}

impl MessageGraph {
    /// `edges` are `(src, relation, dst)` with `relation < num_relations`;
    /// pass inverse edges explicitly (e.g. `GraphView::edges_with_inverses`).
    pub fn new(
        num_nodes: usize,
        num_relations: usize,
        edges: &[(u32, u32, u32)],
        device: &Device,
    ) -> Result<Self> {
        let mut by_relation: Vec<Vec<(u32, u32, u32)>> = vec![Vec::new(); num_relations];
        for (position, &(s, r, d)) in edges.iter().enumerate() {
            if (r as usize) >= num_relations
                || (s as usize) >= num_nodes
                || (d as usize) >= num_nodes
            {
                candle_core::bail!("edge ({s}, {r}, {d}) out of range ({num_nodes} nodes, {num_relations} relations)");
            }
            by_relation[r as usize].push((s, d, position as u32));
        }
        let mut relations = Vec::new();
        for (relation, pairs) in by_relation.into_iter().enumerate() {
            if pairs.is_empty() {
                continue;
            }
            let mut in_degree: HashMap<u32, f32> = HashMap::new();
            for &(_, d, _) in &pairs {
                *in_degree.entry(d).or_default() += 1.0;
            }
            let norm: Vec<f32> = pairs.iter().map(|(_, d, _)| 1.0 / in_degree[d]).collect();
            let count = pairs.len();
            let src: Vec<u32> = pairs.iter().map(|p| p.0).collect();
            let dst: Vec<u32> = pairs.iter().map(|p| p.1).collect();
            let positions: Vec<u32> = pairs.iter().map(|p| p.2).collect();
            relations.push(RelationEdges {
                relation,
                src: Tensor::from_vec(src, count, device)?,
                dst: Tensor::from_vec(dst, count, device)?,
                norm: Tensor::from_vec(norm, (count, 1), device)?,
                positions: Tensor::from_vec(positions, count, device)?,
            });
        }
        Ok(Self {
            num_nodes,
            num_relations,
            relations,
        })
    }

    /// The same graph with every message scaled by a weight per edge
    /// (`[edges]`, in the order given to `new`): an edge mask whose gradient
    /// says how much each edge moved the output.
    pub fn with_edge_weights(&self, weights: &Tensor) -> Result<Self> {
        let relations = self
            .relations
            .iter()
            .map(|r| {
                let w = weights.index_select(&r.positions, 0)?.unsqueeze(1)?;
                Ok(RelationEdges {
                    norm: r.norm.broadcast_mul(&w)?,
                    ..r.clone()
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            relations,
            ..self.clone()
        })
    }

    pub fn edge_count(&self) -> usize {
        self.relations
            .iter()
            .map(|r| r.src.dims1().unwrap_or(0))
            .sum()
    }
}
