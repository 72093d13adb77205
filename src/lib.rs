//! kgfuse: a knowledge-graph-centric reasoning engine.
//!
//! The stages follow the data flow of `ARCHITECTURE.md`: `store` (RDF storage,
//! loading, SPARQL), `graph` (the graph view and subgraph retrieval used by the
//! learning stages) and `generate` (synthetic domain data).

pub mod defaults;
pub mod error;
pub mod fusion;
pub mod generate;
pub mod gnn;
pub mod graph;
pub mod qa;
pub mod reason;
pub mod safetensors_header;
pub mod store;
pub mod tasks;
pub mod text;

pub use error::{Error, Result};

/// Helpers that the unit tests of several modules share.
#[cfg(test)]
pub(crate) mod test_support {
    use candle_core::backprop::GradStore;
    use candle_core::Var;

    /// The sum of a variable's absolute gradient; `None` when it got none.
    pub fn gradient_norm(grads: &GradStore, var: &Var) -> Option<f32> {
        grads.get(var.as_tensor()).map(|g| {
            g.abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        })
    }
}
