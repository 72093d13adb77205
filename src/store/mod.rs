//! The RDF store: an oxigraph store (RocksDB folder or in memory) with the
//! operations kgfuse offers on it: loading, SPARQL, statistics and export.
//!
//! Parsing lives in `format` and `load`, query evaluation in `query`, result
//! rendering in `results`; nothing here knows about the command line.

pub mod export;
pub mod format;
pub mod load;
pub mod named_queries;
pub mod query;
pub mod results;
pub mod sparql_text;
pub mod stats;
pub mod terms;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

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
    /// Opens (creating if needed) a persistent store in `dir` for reading and
    /// writing. A folder that holds other files but no store is refused, so
    /// that RocksDB's files never land among the user's own. Leftovers of
    /// interrupted work are removed once the lock is ours (see
    /// [`remove_leftovers`]).
    pub fn open(dir: &Path) -> Result<Self> {
        refuse_foreign_folder(dir)?;
        let inner = oxigraph::store::Store::open(dir).map_err(|e| storage_error(dir, e))?;
        remove_leftovers(dir)?;
        Ok(Self {
            inner,
            location: Some(dir.to_owned()),
        })
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
