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
