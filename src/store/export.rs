//! `kgfuse export`: the whole store in a dataset syntax (N-Quads, TriG,
//! JSON-LD) or one graph in any RDF syntax.

use std::io::Write;

use oxigraph::io::{RdfFormat, RdfSerializer};
use oxigraph::model::{GraphName, GraphNameRef};

use super::results::with_prefixes;
use super::Store;
use crate::error::{Error, Result, Setting};

/// Writes the store, or one graph of it, to `out`; returns the quads written.
pub fn export(
    store: &Store,
    graph: Option<&GraphName>,
    format: RdfFormat,
    out: &mut dyn Write,
) -> Result<u64> {
    let inner = store.oxigraph();
    let serializer = with_prefixes(RdfSerializer::from_format(format));
    let io = |e: std::io::Error| Error::io("<output>", e);
    let mut count = 0u64;
    let graph = match graph {
        Some(graph) => Some(graph.as_ref()),
        None if format.supports_datasets() => None,
        None if inner.named_graphs().next().is_none() => Some(GraphNameRef::DefaultGraph),
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
            for quad in inner.iter() {
                writer.serialize_quad(&quad?).map_err(io)?;
                count += 1;
            }
        }
        Some(graph) => {
            for quad in inner.quads_for_pattern(None, None, None, Some(graph)) {
                writer.serialize_triple(quad?.as_ref()).map_err(io)?;
                count += 1;
            }
        }
    }
    writer.finish().map_err(io)?;
    Ok(count)
}
