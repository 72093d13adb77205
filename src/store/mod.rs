//! The RDF store: an oxigraph store (RocksDB folder or in memory) with the
//! operations kgfuse offers on it: loading, SPARQL, statistics and export.
//!
//! Parsing lives in `format` and `load`, query evaluation in `query`, result
//! rendering in `results`, whole-graph reads and atomic replacement in
//! `graphs`; nothing here knows about the command line.

pub mod export;
pub mod format;
pub mod graphs;
pub mod load;
pub mod named_queries;
pub mod query;
pub mod results;
pub mod stats;
pub mod terms;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub use graphs::GraphDiff;
pub use load::{LoadOptions, LoadReport, Loader};
pub use query::{QueryOutcome, SparqlRunner};
pub use stats::StoreStats;

/// Default store folder, relative to the working directory.
pub const DEFAULT_STORE_DIR: &str = "kgfuse-store";

/// An open kgfuse store.
#[derive(Clone)]
pub struct Store {
    inner: oxigraph::store::Store,
    location: Option<PathBuf>,
}

impl Store {
    /// Opens (creating if needed) a persistent store in `dir` for reading and writing.
    pub fn open(dir: &Path) -> Result<Self> {
        let inner = oxigraph::store::Store::open(dir).map_err(|e| storage_error(dir, e))?;
        Ok(Self {
            inner,
            location: Some(dir.to_owned()),
        })
    }

    /// Opens an existing persistent store without taking its write lock, so
    /// that queries can run while another process holds the store.
    pub fn open_read_only(dir: &Path) -> Result<Self> {
        if !dir.join("CURRENT").is_file() {
            return Err(Error::NoStore {
                path: dir.to_owned(),
            });
        }
        let inner =
            oxigraph::store::Store::open_read_only(dir).map_err(|e| storage_error(dir, e))?;
        Ok(Self {
            inner,
            location: Some(dir.to_owned()),
        })
    }

    /// A throw-away store in memory.
    pub fn in_memory() -> Result<Self> {
        Ok(Self {
            inner: oxigraph::store::Store::new()?,
            location: None,
        })
    }

    /// The store folder, or `None` for an in-memory store.
    pub fn location(&self) -> Option<&Path> {
        self.location.as_deref()
    }

    /// The underlying oxigraph store, for stages that query it directly.
    pub fn oxigraph(&self) -> &oxigraph::store::Store {
        &self.inner
    }

    /// Number of quads (a triple in two graphs counts twice).
    pub fn len(&self) -> Result<usize> {
        Ok(self.inner.len()?)
    }

    /// Whether the store holds no quad at all.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.inner.is_empty()?)
    }

    /// Makes sure everything written is on disk.
    pub fn flush(&self) -> Result<()> {
        Ok(self.inner.flush()?)
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
