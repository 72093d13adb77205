//! The RDF store: an oxigraph store (RocksDB folder or in memory) with the
//! operations kgfuse offers on it: loading, SPARQL, statistics and export.
//!
//! Parsing lives in `format` and `load`, query evaluation in `query`, result
//! rendering in `results`, whole-graph reads and atomic replacement in
//! `graphs`; nothing here knows about the command line.

pub mod export;
pub mod format;
pub mod graphs;
pub mod literals;
pub mod load;
pub mod named_queries;
pub mod query;
pub mod remote;
pub mod results;
pub mod sparql_text;
pub mod stats;
pub mod terms;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use oxigraph::model::{
    GraphNameRef, NamedNodeRef, NamedOrBlankNode, NamedOrBlankNodeRef, Quad, QuadRef, TermRef,
};

use crate::error::{Error, Result};

pub use graphs::GraphDiff;
pub use load::{LoadOptions, LoadReport, Loader};
pub use query::{QueryOutcome, SparqlRunner};
use remote::RemoteStore;
pub use remote::{is_endpoint, Credentials, EndpointOptions};
pub use stats::StoreStats;

/// Default store folder, relative to the working directory.
pub const DEFAULT_STORE_DIR: &str = "kgfuse-store";

/// An open kgfuse store: embedded (a RocksDB folder, or memory) or a remote
/// SPARQL 1.1 endpoint. The stages above `store/` see only the operations
/// below and never which backend serves them.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Embedded {
        inner: oxigraph::store::Store,
        location: Option<PathBuf>,
    },
    Remote(Arc<RemoteStore>),
}

/// The backend, for the modules of `store/` that work differently on each.
pub(in crate::store) enum BackendRef<'a> {
    Embedded(&'a oxigraph::store::Store),
    Remote(&'a RemoteStore),
}

impl Store {
    /// Opens (creating if needed) a persistent store in `dir` for reading and
    /// writing. A folder that holds other files but no store is refused, so
    /// that RocksDB's files never land among the user's own. Leftovers of
    /// interrupted work are removed once the lock is ours (see
    /// [`remove_leftovers`]).
    pub fn open(dir: &Path) -> Result<Self> {
        refuse_foreign_folder(dir)?;
        let inner = oxigraph::store::Store::open(dir).map_err(|e| storage_error(dir, e))?;
        remove_leftovers(dir)?;
        Ok(Self::embedded(inner, Some(dir.to_owned())))
    }

    /// Opens an existing persistent store without taking its write lock, so
    /// that queries can run while another process holds the store.
    pub fn open_read_only(dir: &Path) -> Result<Self> {
        if !is_store(dir) {
            return Err(Error::NoStore {
                path: dir.to_owned(),
            });
        }
        let inner =
            oxigraph::store::Store::open_read_only(dir).map_err(|e| storage_error(dir, e))?;
        Ok(Self::embedded(inner, Some(dir.to_owned())))
    }

    /// A throw-away store in memory.
    pub fn in_memory() -> Result<Self> {
        Ok(Self::embedded(oxigraph::store::Store::new()?, None))
    }

    /// A store served by a SPARQL endpoint (see [`remote`]).
    pub fn open_endpoint(options: EndpointOptions) -> Result<Self> {
        Ok(Self {
            backend: Backend::Remote(Arc::new(RemoteStore::open(options)?)),
        })
    }

    fn embedded(inner: oxigraph::store::Store, location: Option<PathBuf>) -> Self {
        Self {
            backend: Backend::Embedded { inner, location },
        }
    }

    /// The store folder, or `None` for an in-memory or remote store.
    pub fn location(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Embedded { location, .. } => location.as_deref(),
            Backend::Remote(_) => None,
        }
    }

    /// Where the store is, for messages: a folder, "memory" or the endpoint URL.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Embedded {
                location: Some(dir),
                ..
            } => dir.display().to_string(),
            Backend::Embedded { location: None, .. } => "memory".to_owned(),
            Backend::Remote(remote) => remote.url().to_owned(),
        }
    }

    /// HTTP requests made so far, for a remote store.
    pub fn requests(&self) -> Option<u64> {
        match &self.backend {
            Backend::Remote(remote) => Some(remote.requests()),
            Backend::Embedded { .. } => None,
        }
    }

    pub(in crate::store) fn backend(&self) -> BackendRef<'_> {
        match &self.backend {
            Backend::Embedded { inner, .. } => BackendRef::Embedded(inner),
            Backend::Remote(remote) => BackendRef::Remote(remote),
        }
    }

    /// The quads matching a pattern (`None` matches anything; `graph: None`
    /// reads every graph; a remote store reads its default graph).
    pub fn quads_matching<'a>(
        &'a self,
        subject: Option<NamedOrBlankNodeRef<'a>>,
        predicate: Option<NamedNodeRef<'a>>,
        object: Option<TermRef<'a>>,
        graph: Option<GraphNameRef<'a>>,
    ) -> Box<dyn Iterator<Item = Result<Quad>> + 'a> {
        match self.backend() {
            BackendRef::Embedded(inner) => Box::new(
                inner
                    .quads_for_pattern(subject, predicate, object, graph)
                    .map(|quad| quad.map_err(Error::from)),
            ),
            BackendRef::Remote(remote) => {
                Box::new(remote.quads_matching(subject, predicate, object, graph))
            }
        }
    }

    /// The named graphs (a remote store: those of its dataset, else all).
    pub fn named_graphs(&self) -> Result<Vec<NamedOrBlankNode>> {
        match self.backend() {
            BackendRef::Embedded(inner) => Ok(inner
                .named_graphs()
                .collect::<std::result::Result<_, _>>()?),
            BackendRef::Remote(remote) => remote.named_graphs(),
        }
    }

    /// Whether the store holds `quad`.
    pub fn contains(&self, quad: QuadRef<'_>) -> Result<bool> {
        match self.backend() {
            BackendRef::Embedded(inner) => Ok(inner.contains(quad)?),
            BackendRef::Remote(remote) => remote.contains(quad),
        }
    }

    /// Adds quads in one bulk write (all or nothing; on a remote store one
    /// request per graph and page, and a failure says what was written).
    pub fn insert_quads(&self, quads: impl IntoIterator<Item = Quad>) -> Result<()> {
        match self.backend() {
            BackendRef::Embedded(inner) => {
                let mut loader = inner.bulk_loader();
                loader.load_quads(quads)?;
                Ok(loader.commit()?)
            }
            BackendRef::Remote(remote) => {
                remote.insert(quads.into_iter().map(Ok))?;
                Ok(())
            }
        }
    }

    /// Removes every quad of a graph.
    pub fn clear_graph<'a>(&self, graph: impl Into<GraphNameRef<'a>>) -> Result<()> {
        match self.backend() {
            BackendRef::Embedded(inner) => Ok(inner.clear_graph(graph)?),
            BackendRef::Remote(remote) => remote.clear_graph(graph.into()),
        }
    }

    /// In one transaction (one request on a remote store): removes from
    /// `graph` every quad, or with `subjects` those whose subject is one of
    /// them, and adds `quads`.
    pub fn rewrite_graph<'a>(
        &self,
        graph: impl Into<GraphNameRef<'a>>,
        subjects: Option<&[NamedOrBlankNode]>,
        quads: &[Quad],
    ) -> Result<()> {
        let name = graph.into();
        let inner = match self.backend() {
            BackendRef::Embedded(inner) => inner,
            BackendRef::Remote(remote) => return remote.rewrite_graph(name, subjects, quads),
        };
        let mut transaction = inner.start_transaction()?;
        match subjects {
            None => transaction.clear_graph(name)?,
            Some(subjects) => {
                for subject in subjects {
                    let old: Vec<Quad> = transaction
                        .quads_for_pattern(Some(subject.as_ref()), None, None, Some(name))
                        .collect::<std::result::Result<_, _>>()?;
                    for quad in &old {
                        transaction.remove(quad);
                    }
                }
            }
        }
        for quad in quads {
            transaction.insert(quad);
        }
        transaction.commit()?;
        Ok(())
    }

    /// Number of quads (a triple in two graphs counts twice); on a remote
    /// store, the triples of its default graph.
    pub fn len(&self) -> Result<usize> {
        match self.backend() {
            BackendRef::Embedded(inner) => Ok(inner.len()?),
            BackendRef::Remote(remote) => remote.len(),
        }
    }

    /// Whether the store holds no quad at all.
    pub fn is_empty(&self) -> Result<bool> {
        match self.backend() {
            BackendRef::Embedded(inner) => Ok(inner.is_empty()?),
            BackendRef::Remote(remote) => remote.is_empty(),
        }
    }

    /// Makes sure everything written is on disk (a server's own business
    /// for a remote store).
    pub fn flush(&self) -> Result<()> {
        match self.backend() {
            BackendRef::Embedded(inner) => Ok(inner.flush()?),
            BackendRef::Remote(_) => Ok(()),
        }
    }
}

/// RocksDB's `CURRENT` file marks a store folder.
fn is_store(dir: &Path) -> bool {
    dir.join("CURRENT").is_file()
}

fn refuse_foreign_folder(dir: &Path) -> Result<()> {
    let mut entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    if !is_store(dir) && entries.next().is_some() {
        return Err(Error::NotAStore {
            path: dir.to_owned(),
        });
    }
    Ok(())
}

/// Info logs kept besides the current `LOG` (RocksDB keeps them all).
const OLD_LOGS_KEPT: usize = 2;

/// Removes what interrupted work leaves in a store folder: the bulk
/// loader's `bulk-*.sst` files (written before its commit, never part of
/// the database; a killed or failed load leaves them behind) and all but
/// the newest RocksDB `LOG.old.*` info logs. Only called while this
/// process holds the store's lock, so no other load is running.
fn remove_leftovers(dir: &Path) -> Result<()> {
    let mut old_logs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("bulk-") && name.ends_with(".sst") {
            remove_file(&entry.path())?;
        } else if name.starts_with("LOG.old.") {
            old_logs.push(entry.path());
        }
    }
    // The suffix is a microsecond timestamp of equal width: name order is age order.
    old_logs.sort();
    let surplus = old_logs.len().saturating_sub(OLD_LOGS_KEPT);
    for path in &old_logs[..surplus] {
        remove_file(path)?;
    }
    Ok(())
}

fn remove_file(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}

/// Turns RocksDB's lock failure into an error that says what to do.
fn storage_error(dir: &Path, error: oxigraph::store::StorageError) -> Error {
    let text = error.to_string();
    if text.contains("lock") || text.contains("LOCK") {
        Error::StoreLocked {
            path: dir.to_owned(),
        }
    } else {
        Error::Storage(error)
    }
}

#[cfg(test)]
mod tests {
    use oxigraph::model::{GraphName, Literal, NamedNode};

    use super::*;

    fn iri(name: &str) -> NamedNode {
        NamedNode::new(format!("http://example.org/{name}")).unwrap()
    }

    fn quad(subject: &str, value: i64, graph: &NamedNode) -> Quad {
        Quad::new(
            iri(subject),
            iri("score"),
            Literal::from(value),
            GraphName::NamedNode(graph.clone()),
        )
    }

    #[test]
    fn rewriting_a_graph_replaces_the_named_subjects_or_everything() {
        let store = Store::in_memory().unwrap();
        let (scores, other) = (iri("scores"), iri("other"));
        store
            .insert_quads([
                quad("a", 1, &scores),
                quad("b", 2, &scores),
                quad("a", 3, &other),
            ])
            .unwrap();
        let subjects = [NamedOrBlankNode::from(iri("a"))];
        store
            .rewrite_graph(scores.as_ref(), Some(&subjects), &[quad("a", 9, &scores)])
            .unwrap();
        assert!(store.contains(quad("a", 9, &scores).as_ref()).unwrap());
        assert!(!store.contains(quad("a", 1, &scores).as_ref()).unwrap());
        assert!(
            store.contains(quad("b", 2, &scores).as_ref()).unwrap(),
            "b kept"
        );
        assert!(
            store.contains(quad("a", 3, &other).as_ref()).unwrap(),
            "other graph kept"
        );
        store
            .rewrite_graph(scores.as_ref(), None, &[quad("c", 4, &scores)])
            .unwrap();
        let left: Vec<Quad> = store
            .quads_matching(
                None,
                None,
                None,
                Some(GraphNameRef::NamedNode(scores.as_ref())),
            )
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(left, [quad("c", 4, &scores)]);
        store.clear_graph(other.as_ref()).unwrap();
        assert_eq!(store.len().unwrap(), 1);
    }
}
