//! DistMult decoder (Yang et al. 2015): score(h, r, t) = Σ_k e_h[k] · w_r[k] · e_t[k].

use candle_core::{Result, Tensor};
use candle_nn::{Init, VarBuilder};

/// A `[relations, dim]` table named `relations`, Glorot-uniform.
pub(crate) fn relation_table(vb: VarBuilder, num_relations: usize, dim: usize) -> Result<Tensor> {
    let bound = (6.0 / (num_relations + dim) as f64).sqrt();
    vb.get_with_hints(
        (num_relations, dim),
        "relations",
        Init::Uniform {
            lo: -bound,
            up: bound,
        },
    )
}

/// One diagonal relation matrix per relation.
pub struct DistMult {
    relations: Tensor,
}

impl DistMult {
    pub fn load(vb: VarBuilder, num_relations: usize, dim: usize) -> Result<Self> {
        Ok(Self {
            relations: relation_table(vb, num_relations, dim)?,
        })
    }

    /// Scores of every node as the missing end of each query `(node, relation)`:
    /// `[queries, nodes]`. DistMult is symmetric in head and tail, so the same
    /// call answers `(h, r, ?)` and `(?, r, t)`.
    pub fn score_all(&self, nodes: &Tensor, known: &Tensor, relations: &Tensor) -> Result<Tensor> {
        let query = nodes
            .index_select(known, 0)?
            .mul(&self.relations.index_select(relations, 0)?)?;
        query.matmul(&nodes.t()?)
    }

    /// Scores of given triples: `[triples]`.
    pub fn score(
        &self,
        nodes: &Tensor,
        heads: &Tensor,
        relations: &Tensor,
        tails: &Tensor,
    ) -> Result<Tensor> {
        nodes
            .index_select(heads, 0)?
            .mul(&self.relations.index_select(relations, 0)?)?
            .mul(&nodes.index_select(tails, 0)?)?
            .sum(1)
    }
}
