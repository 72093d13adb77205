//! The graph-neural stage: message graphs built from edge lists, the R-GCN
//! encoder, neighbour sampling for mini-batches, and the DistMult and ComplEx decoders. Models take tensors and index lists,
//! never the store.

pub mod complex;
pub mod distmult;
pub mod graph;
pub mod rgcn;
pub mod sampling;

pub use complex::ComplEx;
pub use distmult::DistMult;
pub use graph::MessageGraph;
pub use rgcn::{Decomposition, RgcnConfig, RgcnEncoder, RgcnLayer};
pub use sampling::{NeighbourSampler, SampledGraph};
