//! `kgfuse export`: the whole store in a dataset syntax (N-Quads, TriG,
//! JSON-LD) or one graph in any RDF syntax.

use std::io::Write;

use oxigraph::io::{RdfFormat, RdfSerializer};
use oxigraph::model::{GraphName, GraphNameRef, NamedOrBlankNode, Quad};

use super::results::with_prefixes;
use super::{BackendRef, Store};
use crate::error::{Error, Result, Setting};

/// Writes the store, or one graph of it, to `out`; returns the quads written.
pub fn export(
    store: &Store,
    graph: Option<&GraphName>,
    format: RdfFormat,
    out: &mut dyn Write,
) -> Result<u64> {
    let serializer = with_prefixes(RdfSerializer::from_format(format));
    let io = |e: std::io::Error| Error::io("<output>", e);
    let mut count = 0u64;
    let graph = match graph {
        Some(graph) => Some(graph.as_ref()),
        None if format.supports_datasets() => None,
        None if store.named_graphs()?.is_empty() => Some(GraphNameRef::DefaultGraph),
        None => {
            return Err(Error::Setting {
                setting: Setting::Graph,
                message: format!(
                    "{} holds one graph but the store has named graphs; pick one (or the default graph), or export as nquads or trig",
                    format.name()
                ),
            })
        }
    };
    let mut writer = serializer.for_writer(out);
    match graph {
        None => {
            for quad in every_quad(store)? {
                writer.serialize_quad(&quad?).map_err(io)?;
                count += 1;
            }
        }
        Some(graph) => {
            for quad in store.quads_matching(None, None, None, Some(graph)) {
                writer.serialize_triple(quad?.as_ref()).map_err(io)?;
                count += 1;
            }
        }
    }
    writer.finish().map_err(io)?;
    Ok(count)
}

/// Every quad with its graph. A remote store's default graph is, on most
/// servers, the union of its named graphs, so there it is the named graphs
/// one by one (or the default graph when there are none).
fn every_quad(store: &Store) -> Result<Box<dyn Iterator<Item = Result<Quad>> + '_>> {
    let remote = match store.backend() {
        BackendRef::Embedded(inner) => {
            return Ok(Box::new(inner.iter().map(|quad| quad.map_err(Error::from))))
        }
        BackendRef::Remote(remote) => remote,
    };
    let graphs = store.named_graphs()?;
    if graphs.is_empty() {
        return Ok(store.quads_matching(None, None, None, Some(GraphNameRef::DefaultGraph)));
    }
    // Read graph by graph, each in pages, as the writer takes them.
    Ok(Box::new(graphs.into_iter().flat_map(move |graph| {
        let name = match &graph {
            NamedOrBlankNode::NamedNode(node) => GraphNameRef::NamedNode(node.as_ref()),
            NamedOrBlankNode::BlankNode(node) => GraphNameRef::BlankNode(node.as_ref()),
        };
        remote.quads_matching(None, None, None, Some(name))
    })))
}
