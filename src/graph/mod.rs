//! The graph stage: a dense, typed view of the store for the learning stages
//! (`GraphView`), k-hop neighbourhoods of seed entities (`SubgraphRetriever`),
//! and resolution of user-given entity names.

pub mod entity;
pub mod subgraph;
pub mod view;

pub use entity::{class_members, display_label, labelled_entities, resolve_entity};
pub use subgraph::{
    resource_predicates, GuidedStep, Subgraph, SubgraphEdge, SubgraphNode, SubgraphOptions,
    SubgraphRetriever,
};
pub use view::{Edge, GraphView, GraphViewOptions, NodeText};
