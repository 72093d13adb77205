//! ComplEx decoder (Trouillon et al. 2016): with embeddings read as complex
//! vectors (first half real, second half imaginary),
//! score(h, r, t) = Re(Σ_k h_k · r_k · conj(t_k)). Unlike DistMult it is not
//! symmetric in head and tail.

use candle_core::{Result, Tensor, D};
use candle_nn::VarBuilder;

/// One complex relation vector per relation.
pub struct ComplEx {
    relations: Tensor,
}

impl ComplEx {
    /// `dim` is the node embedding width (even: half real, half imaginary).
    pub fn load(vb: VarBuilder, num_relations: usize, dim: usize) -> Result<Self> {
        if dim % 2 != 0 {
            candle_core::bail!("ComplEx needs an even embedding width, not {dim}");
        }
        Ok(Self {
            relations: super::distmult::relation_table(vb, num_relations, dim)?,
        })
    }

    /// `h ∘ r` as `[re; im]`, so that the score against `t = [re; im]` is a dot product.
    fn query(&self, heads: &Tensor, relations: &Tensor) -> Result<Tensor> {
        let half = heads.dim(D::Minus1)? / 2;
        let r = self.relations.index_select(relations, 0)?;
        let (hr, hi) = (
            heads.narrow(D::Minus1, 0, half)?,
            heads.narrow(D::Minus1, half, half)?,
        );
        let (rr, ri) = (
            r.narrow(D::Minus1, 0, half)?,
            r.narrow(D::Minus1, half, half)?,
        );
        let re = ((&hr * &rr)? - (&hi * &ri)?)?;
        let im = ((&hr * &ri)? + (&hi * &rr)?)?;
        Tensor::cat(&[re, im], D::Minus1)
    }

    /// Scores of every node as the tail of each query `(node, relation)`:
    /// `[queries, nodes]`. Head queries use the inverse relation's vector.
    pub fn score_all(&self, nodes: &Tensor, known: &Tensor, relations: &Tensor) -> Result<Tensor> {
        self.query(&nodes.index_select(known, 0)?, relations)?
            .matmul(&nodes.t()?)
    }

    /// Scores of given triples: `[triples]`.
    pub fn score(
        &self,
        nodes: &Tensor,
        heads: &Tensor,
        relations: &Tensor,
        tails: &Tensor,
    ) -> Result<Tensor> {
        self.query(&nodes.index_select(heads, 0)?, relations)?
            .mul(&nodes.index_select(tails, 0)?)?
            .sum(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn complex_score_by_hand_and_asymmetric() {
        let device = Device::Cpu;
        // h = 1 + 2i, r = 3 - 1i, t = 2 + 1i: h·r = 5 + 5i; times conj(t) = (5 + 5i)(2 - i) = 15 + 5i.
        let decoder = ComplEx {
            relations: Tensor::new(&[[3f32, -1.]], &device).unwrap(),
        };
        let nodes = Tensor::new(&[[1f32, 2.], [2., 1.]], &device).unwrap();
        let ids = |v: &[u32]| Tensor::new(v, &device).unwrap();
        let forward = decoder
            .score(&nodes, &ids(&[0]), &ids(&[0]), &ids(&[1]))
            .unwrap();
        assert_eq!(forward.to_vec1::<f32>().unwrap(), vec![15.0]);
        let backward = decoder
            .score(&nodes, &ids(&[1]), &ids(&[0]), &ids(&[0]))
            .unwrap();
        assert_ne!(backward.to_vec1::<f32>().unwrap(), vec![15.0]);
        let all = decoder.score_all(&nodes, &ids(&[0]), &ids(&[0])).unwrap();
        assert_eq!(all.to_vec2::<f32>().unwrap()[0][1], 15.0);
    }
}
