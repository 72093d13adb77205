//! The library's error type: every failure a user can cause, with the context
//! (file, line, column, query position) needed to fix it.

use std::path::PathBuf;

/// Result alias used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in kgfuse, phrased for the user.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A syntax error in an RDF file, located in the (decompressed) text.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// 1-based column, in characters.
        column: u64,
        message: String,
    },
    /// The RDF format of a file could not be told from its name.
    #[error("{}: unknown RDF format (extension {extension:?}); known: {known}", path.display())]
    UnknownFormat {
        path: PathBuf,
        extension: String,
        known: &'static str,
    },
    /// A format name given by the user is not one we know.
    #[error("unknown format {name:?}; expected one of: {known}")]
    UnknownFormatName { name: String, known: &'static str },
    /// Another process holds the store's lock.
    #[error("the store at {} is in use by another kgfuse process (RocksDB lock held)", path.display())]
    StoreLocked { path: PathBuf },
    /// A read-only command was pointed at a folder that holds no store.
    #[error("no store at {}", path.display())]
    NoStore { path: PathBuf },
    /// A store was to be created in a folder that already holds other files.
    #[error("{} is not empty and holds no kgfuse store", path.display())]
    NotAStore { path: PathBuf },
    /// A remote store's endpoint failed or refused a request: `status` is
    /// the HTTP status when one came back.
    #[error("{url}: {}{message}", status.map(|s| format!("HTTP {s}: ")).unwrap_or_default())]
    Endpoint {
        url: String,
        status: Option<u16>,
        message: String,
    },
    /// The embedded store failed.
    #[error("store error: {0}")]
    Storage(#[from] oxigraph::store::StorageError),
    /// A SPARQL query or update does not parse; the message carries line:column.
    #[error("invalid SPARQL: {0}")]
    SparqlSyntax(String),
    /// A running query was stopped (its time ran out).
    #[error("the query was stopped: it ran out of time")]
    Cancelled,
    /// A request the engine does not carry out (a SERVICE call, LOAD of a URL).
    #[error("{0}")]
    Refused(String),
    /// A SPARQL query or update failed while running.
    #[error("SPARQL evaluation failed: {0}")]
    SparqlEvaluation(String),
    /// `--named NAME` does not match a query in `queries/`.
    #[error("no named query {name:?}; available: {available}")]
    UnknownNamedQuery { name: String, available: String },
    /// A term given on the command line (IRI, `prefix:local`, label) is malformed or unknown.
    #[error("{0}")]
    InvalidTerm(String),
    /// A setting the caller must give or change; `setting` says which, so
    /// that a front end can name its own flag for it.
    #[error("{message}")]
    Setting { setting: Setting, message: String },
    /// A model folder, BERT checkpoint or training state is missing a
    /// file, malformed, or of another kind or size than asked for.
    #[error("{}: {message}", path.display())]
    ModelFolder { path: PathBuf, message: String },
    /// The data cannot train or feed a model: too few labels or classes,
    /// nothing to read, rows that do not match.
    #[error("{0}")]
    Data(String),
    /// Training failed numerically (the loss diverged, no finite metric).
    #[error("{0}")]
    Training(String),
    /// Options that do not fit together or do not fit the model (a text
    /// side without BERT, one fan-out short, no test share to compare on).
    #[error("{0}")]
    Config(String),
    /// The BERT checkpoint: not fetched or fetchable, not a checkpoint, its
    /// tokenizer, adapters or forward pass failed.
    #[error("{0}")]
    Bert(String),
    /// Reasoning could not finish (e.g. the closure outgrew its limit).
    #[error("{0}")]
    Reasoning(String),
    /// An output format does not fit the kind of result or data.
    #[error("{0}")]
    UnsupportedOutput(String),
    /// A tensor computation failed (shapes, devices, memory), or a model
    /// refused its inputs (candle's `bail!`).
    #[error("{0}")]
    Tensor(candle_core::Error),
}

/// The settings an [`Error::Setting`] can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// The RDF syntax of an input.
    Format,
    /// The namespace that plain names become IRIs in.
    BaseIri,
    /// Which graph of the store an output holds.
    Graph,
    /// The most triples reasoning may hold.
    MaxTriples,
    /// The class and label property of a classifier.
    ClassAndLabel,
    /// The share of labelled entities held out for test.
    TestFraction,
}

impl From<candle_core::Error> for Error {
    /// Keeps the cause and drops the backtrace candle may attach: the
    /// message is for the user, the backtrace is not.
    fn from(mut e: candle_core::Error) -> Self {
        while let candle_core::Error::WithBacktrace { inner, .. } = e {
            e = *inner;
        }
        Self::Tensor(e)
    }
}

impl Error {
    /// A problem with the model folder (or checkpoint file) at `path`.
    pub fn model_folder(path: impl AsRef<std::path::Path>, message: impl Into<String>) -> Self {
        Self::ModelFolder {
            path: path.as_ref().to_owned(),
            message: message.into(),
        }
    }

    /// An I/O failure on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
