//! kgfuse: a knowledge-graph-centric reasoning engine.
//!
//! The stages follow the data flow of `ARCHITECTURE.md`: `store` (RDF storage,
//! loading, SPARQL), `reason` (OWL 2 RL), `graph` (the graph view and subgraph
//! retrieval used by the learning stages), `text` and `gnn` (the encoders),
//! `tasks` (training, metrics, model folders), `fusion` (the fused
//! classifier), `qa` (question answering), `explain` (why, for both) and
//! `generate` (synthetic domain data).

pub mod defaults;
pub mod error;
pub mod explain;
pub mod fusion;
pub mod generate;
pub mod gnn;
pub mod graph;
pub mod qa;
pub mod reason;
pub mod safetensors_header;
pub mod server;
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

    /// An in-memory store holding a Turtle document (in the default graph).
    pub fn store_from_turtle(turtle: &str) -> crate::store::Store {
        use oxigraph::io::{RdfFormat, RdfParser};
        let store = crate::store::Store::in_memory().unwrap();
        let quads = RdfParser::from_format(RdfFormat::Turtle)
            .for_slice(turtle.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        store.insert_quads(quads).unwrap();
        store
    }
}
