//! The R-GCN encoder (Schlichtkrull et al., "Modeling Relational Data with
//! Graph Convolutional Networks", 2018):
//!
//! h_i' = W_0 h_i + b + Σ_r Σ_{j ∈ N_i^r} (1 / c_{i,r}) W_r h_j
//!
//! with W_r shared through a basis (W_r = Σ_b a_rb V_b) or block-diagonal.
//! Messages are gathered (`index_select`) and summed (`index_add`) per
//! relation, so the same code runs on candle's CPU and CUDA backends.

use candle_core::{Module, Result, Tensor};
use candle_nn::{Embedding, Init, Linear, VarBuilder};
use serde::{Deserialize, Serialize};

use super::graph::MessageGraph;

/// How the relation weights are parameterised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Decomposition {
    /// One full matrix per relation.
    None,
    /// `bases` shared matrices, combined per relation.
    Basis { bases: usize },
    /// Block-diagonal matrices with `blocks` blocks.
    BlockDiagonal { blocks: usize },
}

/// Every hyper-parameter of the encoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RgcnConfig {
    pub num_nodes: usize,
    /// Relations including inverses (see `MessageGraph`).
    pub num_relations: usize,
    /// Width of the input: the learned node embedding, or the given features.
    pub input_dim: usize,
    /// Output width of each layer (1 to 3 layers).
    pub layer_dims: Vec<usize>,
    pub decomposition: Decomposition,
    pub dropout: f64,
    /// Learn a node embedding as input (else features are passed to `forward`).
    pub learned_input: bool,
    /// Add each layer's input to its output where the widths agree (a skip
    /// connection that keeps a node's own embedding in view).
    #[serde(default)]
    pub residual: bool,
}

enum RelationWeights {
    Full(Tensor),
    Basis { bases: Tensor, coefficients: Tensor },
    Block { blocks: Tensor, count: usize },
}

/// One relational graph convolution.
pub struct RgcnLayer {
    weights: RelationWeights,
    self_loop: Linear,
    in_dim: usize,
    out_dim: usize,
}

impl RgcnLayer {
    pub fn load(
        vb: VarBuilder,
        num_relations: usize,
        in_dim: usize,
        out_dim: usize,
        d: Decomposition,
    ) -> Result<Self> {
        let glorot = |fan_in: usize, fan_out: usize| {
            let bound = (6.0 / (fan_in + fan_out) as f64).sqrt();
            Init::Uniform {
                lo: -bound,
                up: bound,
            }
        };
        let weights = match d {
            Decomposition::None => RelationWeights::Full(vb.get_with_hints(
                (num_relations, in_dim, out_dim),
                "weight",
                glorot(in_dim, out_dim),
            )?),
            Decomposition::Basis { bases } => RelationWeights::Basis {
                bases: vb.get_with_hints(
                    (bases, in_dim, out_dim),
                    "bases",
                    glorot(in_dim, out_dim),
                )?,
                coefficients: vb.get_with_hints(
                    (num_relations, bases),
                    "coefficients",
                    glorot(num_relations, bases),
                )?,
            },
            Decomposition::BlockDiagonal { blocks } => {
                if in_dim % blocks != 0 || out_dim % blocks != 0 {
                    candle_core::bail!(
                        "block-diagonal: {blocks} blocks must divide {in_dim} and {out_dim}"
                    );
                }
                let (bi, bo) = (in_dim / blocks, out_dim / blocks);
                RelationWeights::Block {
                    blocks: vb.get_with_hints(
                        (num_relations, blocks, bi, bo),
                        "blocks",
                        glorot(bi, bo),
                    )?,
                    count: blocks,
                }
            }
        };
        let self_loop = Linear::new(
            vb.get_with_hints(
                (out_dim, in_dim),
                "self_loop.weight",
                glorot(in_dim, out_dim),
            )?,
            Some(vb.get_with_hints(out_dim, "self_loop.bias", Init::Const(0.0))?),
        );
        Ok(Self {
            weights,
            self_loop,
            in_dim,
            out_dim,
        })
    }

    /// Messages along one relation's edges: `[edges, out]`.
    fn messages(&self, relation: usize, h: &Tensor) -> Result<Tensor> {
        match &self.weights {
            RelationWeights::Full(w) => h.matmul(&w.get(relation)?),
            RelationWeights::Basis {
                bases,
                coefficients,
            } => {
                let b = bases.dim(0)?;
                let w = coefficients
                    .get(relation)?
                    .reshape((1, b))?
                    .matmul(&bases.reshape((b, self.in_dim * self.out_dim))?)?
                    .reshape((self.in_dim, self.out_dim))?;
                h.matmul(&w)
            }
            RelationWeights::Block { blocks, count } => {
                let edges = h.dim(0)?;
                let per_block = h
                    .reshape((edges, *count, self.in_dim / count))?
                    .transpose(0, 1)?
                    .contiguous()?;
                per_block
                    .matmul(&blocks.get(relation)?)?
                    .transpose(0, 1)?
                    .reshape((edges, self.out_dim))
            }
        }
    }

    pub fn forward(&self, x: &Tensor, graph: &MessageGraph) -> Result<Tensor> {
        let mut out = self.self_loop.forward(x)?;
        for edges in &graph.relations {
            let h = x.index_select(&edges.src, 0)?;
            let m = self
                .messages(edges.relation, &h)?
                .broadcast_mul(&edges.norm)?;
            out = out.index_add(&edges.dst, &m, 0)?;
        }
        Ok(out)
    }
}

/// Stacked R-GCN layers with ReLU between them.
pub struct RgcnEncoder {
    input: Option<Embedding>,
    layers: Vec<RgcnLayer>,
    config: RgcnConfig,
}

impl RgcnEncoder {
    pub fn load(vb: VarBuilder, config: &RgcnConfig) -> Result<Self> {
        if !(1..=3).contains(&config.layer_dims.len()) {
            candle_core::bail!(
                "an R-GCN has 1 to 3 layers, not {}",
                config.layer_dims.len()
            );
        }
        let input = if config.learned_input {
            let bound = (6.0 / (config.num_nodes + config.input_dim) as f64).sqrt();
            let table = vb.get_with_hints(
                (config.num_nodes, config.input_dim),
                "input.weight",
                Init::Uniform {
                    lo: -bound,
                    up: bound,
                },
            )?;
            Some(Embedding::new(table, config.input_dim))
        } else {
            None
        };
        let mut layers = Vec::new();
        let mut in_dim = config.input_dim;
        for (i, &out_dim) in config.layer_dims.iter().enumerate() {
            layers.push(RgcnLayer::load(
                vb.pp(format!("layer{i}")),
                config.num_relations,
                in_dim,
                out_dim,
                config.decomposition,
            )?);
            in_dim = out_dim;
        }
        Ok(Self {
            input,
            layers,
            config: config.clone(),
        })
    }

    pub fn config(&self) -> &RgcnConfig {
        &self.config
    }

    pub fn output_dim(&self) -> usize {
        self.layers
            .last()
            .map_or(self.config.input_dim, |l| l.out_dim)
    }

    /// The learned input rows of `nodes` (global ids, `u32`), for a
    /// sampled subgraph whose local node `i` is `nodes[i]`.
    pub fn learned_input(&self, nodes: &Tensor) -> Result<Tensor> {
        match &self.input {
            Some(table) => table.embeddings().index_select(nodes, 0),
            None => candle_core::bail!("this R-GCN has no learned input: pass node features"),
        }
    }

    /// Node representations `[nodes, out]`. `features` replaces the learned
    /// input; `dropout` (one mask per layer input, drawn by the caller so
    /// training stays seeded) is applied when given.
    pub fn forward(
        &self,
        features: Option<&Tensor>,
        graph: &MessageGraph,
        dropout: &mut dyn FnMut(&Tensor) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let mut x = match (features, &self.input) {
            (Some(f), _) => f.clone(),
            (None, Some(table)) => table.embeddings().clone(),
            (None, None) => {
                candle_core::bail!("this R-GCN has no learned input: pass node features")
            }
        };
        for (i, layer) in self.layers.iter().enumerate() {
            let mut y = layer.forward(&dropout(&x)?, graph)?;
            if i + 1 < self.layers.len() {
                y = y.relu()?;
            }
            x = if self.config.residual && layer.in_dim == layer.out_dim {
                (y + x)?
            } else {
                y
            };
        }
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};
    use candle_nn::VarMap;

    fn set(varmap: &VarMap, name: &str, values: &[f32], shape: &[usize]) {
        let data = varmap.data().lock().unwrap();
        let t = Tensor::from_vec(values.to_vec(), shape, &Device::Cpu).unwrap();
        data[name].set(&t).unwrap();
    }

    /// A layer over two relations, `width` wide in and out.
    fn layer_of(d: Decomposition, width: usize) -> (VarMap, RgcnLayer) {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let layer = RgcnLayer::load(vb, 2, width, width, d).unwrap();
        (varmap, layer)
    }

    fn layer(d: Decomposition) -> (VarMap, RgcnLayer) {
        layer_of(d, 2)
    }

    /// Nodes 0 and 1; relation 0: 0 -> 1; relation 1: 1 -> 0 and 0 -> 0.
    fn graph() -> MessageGraph {
        MessageGraph::new(2, 2, &[(0, 0, 1), (1, 1, 0), (0, 1, 0)], &Device::Cpu).unwrap()
    }

    #[test]
    fn message_passing_by_hand() {
        let (varmap, layer) = layer(Decomposition::None);
        // W_0 = [[1, 2], [3, 4]], W_1 = [[0, 1], [1, 0]], self loop = identity, bias = [0.5, 0].
        set(
            &varmap,
            "weight",
            &[1., 2., 3., 4., 0., 1., 1., 0.],
            &[2, 2, 2],
        );
        set(&varmap, "self_loop.weight", &[1., 0., 0., 1.], &[2, 2]);
        set(&varmap, "self_loop.bias", &[0.5, 0.], &[2]);
        let x = Tensor::new(&[[1f32, 2.], [3., 4.]], &Device::Cpu).unwrap();
        let out = layer
            .forward(&x, &graph())
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        // Node 1: self [3, 4] + bias + (1/1)·[1, 2]·W_0 = [3.5, 4] + [7, 10].
        assert_eq!(out[1], vec![10.5, 14.0]);
        // Node 0: self [1, 2] + bias + ½·([3, 4]·W_1 + [1, 2]·W_1) = [1.5, 2] + ½·([4, 3] + [2, 1]).
        assert_eq!(out[0], vec![4.5, 4.0]);
    }

    #[test]
    fn basis_with_unit_coefficients_equals_full_weights() {
        let (full_map, full) = layer(Decomposition::None);
        let (basis_map, basis) = layer(Decomposition::Basis { bases: 2 });
        let w = [0.3, -1., 2., 0.5, 1.5, 0.2, -0.7, 1.];
        set(&full_map, "weight", &w, &[2, 2, 2]);
        set(&basis_map, "bases", &w, &[2, 2, 2]);
        set(&basis_map, "coefficients", &[1., 0., 0., 1.], &[2, 2]);
        for name in ["self_loop.weight", "self_loop.bias"] {
            let value = full_map.data().lock().unwrap()[name]
                .as_tensor()
                .copy()
                .unwrap();
            basis_map.data().lock().unwrap()[name].set(&value).unwrap();
        }
        let x = Tensor::new(&[[1f32, -2.], [0.5, 4.]], &Device::Cpu).unwrap();
        let a = full
            .forward(&x, &graph())
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let b = basis
            .forward(&x, &graph())
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn block_diagonal_equals_full_weights_with_zeros_off_the_blocks() {
        let (block_map, block) = layer_of(Decomposition::BlockDiagonal { blocks: 2 }, 4);
        let (full_map, full) = layer_of(Decomposition::None, 4);
        // Relation r, block b: [[1, 2], [3, 4]] scaled by (1 + r) and, for
        // block 1, negated: every entry distinct, so a block read from the
        // wrong place or applied to the wrong input slice shows.
        let block_of = |r: usize, b: usize| -> [[f32; 2]; 2] {
            let scale = (1 + r) as f32 * if b == 1 { -1.0 } else { 1.0 };
            [[scale, 2.0 * scale], [3.0 * scale, 4.0 * scale]]
        };
        let mut blocks = Vec::new();
        let mut dense = vec![0f32; 2 * 4 * 4];
        for r in 0..2 {
            for b in 0..2 {
                for i in 0..2 {
                    for o in 0..2 {
                        blocks.push(block_of(r, b)[i][o]);
                        dense[r * 16 + (2 * b + i) * 4 + 2 * b + o] = block_of(r, b)[i][o];
                    }
                }
            }
        }
        set(&block_map, "blocks", &blocks, &[2, 2, 2, 2]);
        set(&full_map, "weight", &dense, &[2, 4, 4]);
        for map in [&block_map, &full_map] {
            set(map, "self_loop.weight", &[0.0; 16], &[4, 4]);
            set(map, "self_loop.bias", &[0.0; 4], &[4]);
        }
        let x = Tensor::new(&[[1f32, -2., 0.5, 3.], [0.25, 4., -1., 2.]], &Device::Cpu).unwrap();
        let got = block
            .forward(&x, &graph())
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let want = full
            .forward(&x, &graph())
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(got, want);
        // By hand, node 1 (one message, from node 0 along relation 0):
        // [1, -2]·[[1, 2], [3, 4]] = [-5, -6]; [0.5, 3]·-[[1, 2], [3, 4]] = [-9.5, -13].
        assert_eq!(got[1], vec![-5.0, -6.0, -9.5, -13.0]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let (varmap, layer) = layer(Decomposition::Basis { bases: 2 });
        let x = Tensor::new(&[[0.3f32, -0.8], [1.1, 0.4]], &Device::Cpu).unwrap();
        let g = graph();
        let loss = |l: &RgcnLayer| l.forward(&x, &g).unwrap().sqr().unwrap().sum_all().unwrap();
        let grads = loss(&layer).backward().unwrap();
        let vars: Vec<(String, Var)> = varmap
            .data()
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let eps = 1e-2f32;
        for (name, var) in vars {
            let analytic = grads
                .get(var.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let base = var
                .as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            for i in 0..base.len() {
                let probe = |delta: f32| {
                    let mut v = base.clone();
                    v[i] += delta;
                    var.set(&Tensor::from_vec(v, var.dims(), &Device::Cpu).unwrap())
                        .unwrap();
                    let value = loss(&layer).to_scalar::<f32>().unwrap();
                    var.set(&Tensor::from_vec(base.clone(), var.dims(), &Device::Cpu).unwrap())
                        .unwrap();
                    value
                };
                let numeric = (probe(eps) - probe(-eps)) / (2.0 * eps);
                let tolerance = 1e-2 * (1.0 + numeric.abs());
                assert!(
                    (numeric - analytic[i]).abs() < tolerance,
                    "{name}[{i}]: numeric {numeric}, backprop {}",
                    analytic[i]
                );
            }
        }
    }
}
