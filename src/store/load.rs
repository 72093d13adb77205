//! Bulk loading of RDF files, folders and in-memory documents into the store.
//!
//! A load is all-or-nothing per call: every source is parsed into one
//! oxigraph bulk loader, which only writes to the store on commit, so a syntax
//! error in the last file leaves the store exactly as it was. For a remote
//! store the parsed quads wait in a temporary N-Quads file until every
//! source has parsed, then go to the server (see `remote` for what a server
//! can promise about a write of several requests).

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flate2::read::MultiGzDecoder;
use oxigraph::io::{RdfFormat, RdfParseError, RdfParser, RdfSyntaxError};
use oxigraph::model::vocab::rdfs;
use oxigraph::model::{BlankNode, GraphName, Literal, NamedNode, NamedOrBlankNode, Quad, Term};
use rustc_hash::FxHashMap as HashMap;
use sha2::{Digest, Sha256};

use super::format::{self, FileFormat, Syntax};
use super::literals::stored_form;
use super::terms::iri_for_name;
use super::{BackendRef, Store};
use crate::error::{Error, Result, Setting};

/// How to load: forced syntax, target graph, base IRI.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Syntax for every source, overriding file extensions (`--format`).
    pub format: Option<Syntax>,
    /// Named graph for triples that the sources put in the default graph.
    pub graph: Option<NamedNode>,
    /// Base IRI for relative IRIs; defaults to each file's `file://` IRI.
    pub base_iri: Option<String>,
}

/// How far a load has got: reported every 65,536 quads while parsing, and
/// once more before the indexes are written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadProgress {
    /// Raw (possibly compressed) bytes read of `total_bytes`.
    pub bytes_read: u64,
    pub total_bytes: u64,
    /// Quads parsed so far.
    pub quads: u64,
    pub quads_per_second: f64,
    /// Everything is parsed; the store's indexes are being written.
    pub writing_indexes: bool,
}

/// Where a [`Loader`] reports its [`LoadProgress`].
pub type ProgressSink = Arc<dyn Fn(LoadProgress) + Send + Sync>;

/// Counts the bytes read through it.
struct CountingReader<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// One document to load: a file on disk or bytes already in memory.
#[derive(Debug, Clone)]
pub enum LoadSource {
    File {
        path: PathBuf,
        format: FileFormat,
    },
    Bytes {
        name: String,
        data: &'static [u8],
        format: FileFormat,
    },
    /// Standard input, copied to a temporary file as it streams in, so that
    /// nothing is held in memory and the text can be read twice (for the
    /// blank-node key and for error positions).
    Stdin {
        file: std::sync::Arc<tempfile::NamedTempFile>,
        format: FileFormat,
    },
}

/// The path that stands for standard input on the command line.
pub const STDIN_PATH: &str = "-";

impl LoadSource {
    fn name(&self) -> PathBuf {
        match self {
            Self::File { path, .. } => path.clone(),
            Self::Bytes { name, .. } => PathBuf::from(name),
            Self::Stdin { .. } => PathBuf::from("<stdin>"),
        }
    }

    fn format(&self) -> FileFormat {
        match self {
            Self::File { format, .. } | Self::Bytes { format, .. } | Self::Stdin { format, .. } => {
                *format
            }
        }
    }

    fn size(&self) -> u64 {
        match self {
            Self::File { path, .. } => path.metadata().map(|m| m.len()).unwrap_or(0),
            Self::Bytes { data, .. } => data.len() as u64,
            Self::Stdin { file, .. } => file.as_file().metadata().map(|m| m.len()).unwrap_or(0),
        }
    }

    /// The raw (possibly compressed) bytes, each read added to `read`.
    fn open_raw(&self, read: Arc<AtomicU64>) -> Result<Box<dyn Read + Send>> {
        let raw: Box<dyn Read + Send> = match self {
            Self::File { path, .. } => Box::new(File::open(path).map_err(|e| Error::io(path, e))?),
            Self::Bytes { data, .. } => Box::new(*data),
            Self::Stdin { file, .. } => {
                Box::new(file.reopen().map_err(|e| Error::io(file.path(), e))?)
            }
        };
        Ok(Box::new(CountingReader { inner: raw, read }))
    }

    /// SHA-256 of the raw bytes: the document's identity for blank nodes.
    fn digest(&self) -> Result<[u8; 32]> {
        let mut hasher = Sha256::new();
        let mut reader = self.open_raw(Arc::default())?;
        let mut buffer = vec![0; 1 << 16];
        loop {
            let n = reader
                .read(&mut buffer)
                .map_err(|e| Error::io(self.name(), e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
        Ok(hasher.finalize().into())
    }

    /// The decompressed text.
    fn open(&self, read: Arc<AtomicU64>) -> Result<Box<dyn Read + Send>> {
        let raw = self.open_raw(read)?;
        Ok(if self.format().gzip {
            Box::new(MultiGzDecoder::new(BufReader::with_capacity(1 << 16, raw)))
        } else {
            raw
        })
    }
}

/// What a load did.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    /// Documents parsed.
    pub files: usize,
    /// Quads read from the sources (duplicates included).
    pub quads: u64,
    /// Files found in folders that were skipped because they are not RDF.
    pub skipped: Vec<PathBuf>,
    /// Literals the embedded store keeps by value, in another form than
    /// written (see [`super::literals`]).
    pub canonicalised: Canonicalised,
    pub elapsed: Duration,
}

/// How many loaded literals the store keeps in canonical form, and the first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Canonicalised {
    pub count: u64,
    /// The file, the literal as written and as stored.
    pub first: Option<(PathBuf, Literal, Literal)>,
}

impl Canonicalised {
    fn note(&mut self, source: &LoadSource, quad: &Quad) {
        let Term::Literal(literal) = &quad.object else {
            return;
        };
        if let Some(stored) = stored_form(literal.as_ref()) {
            self.count += 1;
            if self.first.is_none() {
                self.first = Some((source.name(), literal.clone(), stored));
            }
        }
    }
}

impl LoadReport {
    /// Quads per second over the whole load.
    pub fn rate(&self) -> f64 {
        self.quads as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Where parsed quads go until every source has parsed.
enum QuadSink<'s> {
    /// The embedded store's bulk loader (written on commit).
    Bulk(oxigraph::store::BulkLoader<'s>),
    /// A temporary N-Quads file, sent to a remote store afterwards.
    Spool(Spool),
}

impl QuadSink<'_> {
    fn take(&mut self, quads: impl Iterator<Item = Result<Quad>>) -> Result<()> {
        match self {
            Self::Bulk(loader) => loader.load_ok_quads::<Error, Error>(quads),
            Self::Spool(spool) => quads.map(|quad| spool.push(&quad?)).collect(),
        }
    }
}

/// Parsed quads in a temporary N-Quads file.
struct Spool {
    writer: oxigraph::io::WriterQuadSerializer<io::BufWriter<File>>,
    file: tempfile::NamedTempFile,
}

impl Spool {
    fn new() -> Result<Self> {
        let file =
            tempfile::NamedTempFile::new().map_err(|e| Error::io(std::env::temp_dir(), e))?;
        let handle = file.reopen().map_err(|e| Error::io(file.path(), e))?;
        let writer = oxigraph::io::RdfSerializer::from_format(RdfFormat::NQuads)
            .for_writer(io::BufWriter::new(handle));
        Ok(Self { writer, file })
    }

    fn push(&mut self, quad: &Quad) -> Result<()> {
        self.writer
            .serialize_quad(quad)
            .map_err(|e| Error::io(self.file.path(), e))
    }

    /// The quads back, in the order they were pushed.
    fn into_quads(self) -> Result<impl Iterator<Item = Result<Quad>>> {
        let path = self.file.path().to_owned();
        self.writer
            .finish()
            .and_then(|mut w| io::Write::flush(&mut w))
            .map_err(|e| Error::io(&path, e))?;
        let read = self.file.reopen().map_err(|e| Error::io(&path, e))?;
        let file = self.file;
        Ok(RdfParser::from_format(RdfFormat::NQuads)
            .for_reader(BufReader::new(read))
            .map(move |quad| {
                let _keep_until_read = &file;
                quad.map_err(|e| Error::io(file.path(), io::Error::other(e)))
            }))
    }
}

/// Loads sources into a store in one atomic bulk load.
pub struct Loader<'a> {
    store: &'a Store,
    options: LoadOptions,
    progress: Option<ProgressSink>,
}

/// What the parsing of one source reports progress with.
struct ProgressState<'s> {
    sink: Option<&'s ProgressSink>,
    bytes_read: Arc<AtomicU64>,
    total_bytes: u64,
    start: Instant,
}

impl ProgressState<'_> {
    fn report(&self, quads: u64, writing_indexes: bool) {
        if let Some(sink) = self.sink {
            sink(LoadProgress {
                bytes_read: self.bytes_read.load(Ordering::Relaxed),
                total_bytes: self.total_bytes,
                quads,
                quads_per_second: quads as f64 / self.start.elapsed().as_secs_f64().max(1e-9),
                writing_indexes,
            });
        }
    }
}

impl<'a> Loader<'a> {
    pub fn new(store: &'a Store, options: LoadOptions) -> Self {
        Self {
            store,
            options,
            progress: None,
        }
    }

    /// Reports the load's progress to `sink` (e.g. to draw a progress bar).
    pub fn with_progress(mut self, sink: ProgressSink) -> Self {
        self.progress = Some(sink);
        self
    }

    /// Expands files and folders into sources: folders are walked recursively
    /// in sorted order, keeping the files whose extension is an RDF format.
    pub fn sources(&self, paths: &[PathBuf]) -> Result<(Vec<LoadSource>, Vec<PathBuf>)> {
        let mut sources = Vec::new();
        let mut skipped = Vec::new();
        for path in paths {
            if path.as_os_str() == STDIN_PATH {
                sources.push(self.spool_stdin()?);
                continue;
            }
            let meta = path.metadata().map_err(|e| Error::io(path, e))?;
            if meta.is_dir() {
                for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
                    let entry = entry.map_err(|e| {
                        let at = e.path().unwrap_or(path).to_owned();
                        Error::io(at, e.into())
                    })?;
                    if !entry.file_type().is_file() {
                        continue;
                    }
                    if format::is_rdf_file(entry.path()) || self.options.format.is_some() {
                        let format = format::detect(entry.path(), self.options.format)?;
                        sources.push(LoadSource::File {
                            path: entry.into_path(),
                            format,
                        });
                    } else {
                        skipped.push(entry.into_path());
                    }
                }
            } else {
                let format = format::detect(path, self.options.format)?;
                sources.push(LoadSource::File {
                    path: path.clone(),
                    format,
                });
            }
        }
        Ok((sources, skipped))
    }

    /// Copies standard input to a temporary file; its syntax must be given.
    fn spool_stdin(&self) -> Result<LoadSource> {
        let syntax = self.options.format.ok_or_else(|| {
            Error::Setting {
                setting: Setting::Format,
                message: "reading standard input (-) needs its format (turtle, ntriples, nquads, trig, rdfxml, jsonld, n3, tsv or pipe)".into(),
            }
        })?;
        let mut file =
            tempfile::NamedTempFile::new().map_err(|e| Error::io(std::env::temp_dir(), e))?;
        io::copy(&mut io::stdin().lock(), &mut file).map_err(|e| Error::io("<stdin>", e))?;
        Ok(LoadSource::Stdin {
            file: std::sync::Arc::new(file),
            format: FileFormat {
                syntax,
                gzip: false,
            },
        })
    }

    /// Loads files and folders (see [`Loader::sources`]).
    pub fn load_paths(&self, paths: &[PathBuf]) -> Result<LoadReport> {
        let (sources, skipped) = self.sources(paths)?;
        let mut report = self.load_sources(&sources)?;
        report.skipped = skipped;
        Ok(report)
    }

    /// Loads the given sources; nothing is written unless all of them parse.
    pub fn load_sources(&self, sources: &[LoadSource]) -> Result<LoadReport> {
        let start = Instant::now();
        let progress = ProgressState {
            sink: self.progress.as_ref(),
            bytes_read: Arc::default(),
            total_bytes: sources.iter().map(LoadSource::size).sum(),
            start,
        };
        let mut sink = match self.store.backend() {
            BackendRef::Embedded(inner) => QuadSink::Bulk(inner.bulk_loader()),
            BackendRef::Remote(_) => QuadSink::Spool(Spool::new()?),
        };
        let mut quads = 0u64;
        // Only the embedded store rewrites literals; an endpoint keeps its own rules.
        let mut canonicalised = match sink {
            QuadSink::Bulk(_) => Some(Canonicalised::default()),
            QuadSink::Spool(_) => None,
        };
        for source in sources {
            quads +=
                self.parse_into(source, &mut sink, &progress, quads, canonicalised.as_mut())?;
        }
        progress.report(quads, true);
        match (sink, self.store.backend()) {
            (QuadSink::Bulk(loader), _) => loader.commit()?,
            (QuadSink::Spool(spool), BackendRef::Remote(remote)) => {
                remote.insert(spool.into_quads()?)?;
            }
            (QuadSink::Spool(_), BackendRef::Embedded(_)) => {
                unreachable!("spooled for a remote store")
            }
        }
        Ok(LoadReport {
            files: sources.len(),
            quads,
            skipped: Vec::new(),
            canonicalised: canonicalised.unwrap_or_default(),
            elapsed: start.elapsed(),
        })
    }

    /// Parses one source into the sink; returns the quads it held.
    fn parse_into(
        &self,
        source: &LoadSource,
        loader: &mut QuadSink<'_>,
        progress: &ProgressState<'_>,
        quads_before: u64,
        mut canonicalised: Option<&mut Canonicalised>,
    ) -> Result<u64> {
        let reader = source.open(progress.bytes_read.clone())?;
        let mut count = 0u64;
        let mut counted = |quad: Result<Quad>| {
            count += 1;
            if count % 65_536 == 0 {
                progress.report(quads_before + count, false);
            }
            quad
        };
        match source.format().syntax {
            Syntax::Rdf(format) => {
                let quads = self.parser(source, format)?.for_reader(reader);
                let mut namer = BlankNodeNamer::new(source, self.options.graph.as_ref());
                loader.take(quads.map(|quad| {
                    let quad = quad
                        .map_err(|e| self.parse_error(source, e))
                        .and_then(|quad| namer.rename(quad));
                    if let (Ok(quad), Some(canonicalised)) = (&quad, canonicalised.as_deref_mut()) {
                        canonicalised.note(source, quad);
                    }
                    counted(quad)
                }))?;
            }
            Syntax::Names { separator } => {
                let base = self.options.base_iri.clone().ok_or_else(|| {
                    Error::Setting {
                        setting: Setting::BaseIri,
                        message: "tsv and pipe files need a base IRI: the namespace that the names in the file become IRIs in".into(),
                    }
                })?;
                let quads = NameTriples::new(
                    reader,
                    source.name(),
                    separator,
                    base,
                    self.options.graph.clone(),
                );
                loader.take(quads.map(&mut counted))?;
            }
        }
        Ok(count)
    }

    fn parser(&self, source: &LoadSource, format: RdfFormat) -> Result<RdfParser> {
        let mut parser = RdfParser::from_format(format);
        let base = match (&self.options.base_iri, source) {
            (Some(base), _) => Some(base.clone()),
            (None, LoadSource::File { path, .. }) => file_iri(path),
            (None, LoadSource::Bytes { .. } | LoadSource::Stdin { .. }) => None,
        };
        if let Some(base) = base {
            parser = parser
                .with_base_iri(base.as_str())
                .map_err(|e| Error::InvalidTerm(format!("invalid base IRI <{base}>: {e}")))?;
        }
        if let Some(graph) = &self.options.graph {
            parser = parser.with_default_graph(graph.clone());
        }
        Ok(parser)
    }

    /// Turns a parser error into `file:line:column: message`.
    fn parse_error(&self, source: &LoadSource, error: RdfParseError) -> Error {
        let path = source.name();
        match error {
            RdfParseError::Io(e) => Error::io(path, e),
            RdfParseError::Syntax(e) => {
                let (position, message) = syntax_error_parts(&e);
                let (line, column) = position
                    .or_else(|| locate_unplaced_error(source, self))
                    .unwrap_or((0, 0));
                Error::Syntax {
                    path,
                    line,
                    column,
                    message,
                }
            }
        }
    }
}

/// A syntax error's 1-based line and column, when the parser knows them,
/// and its message without the position oxttl repeats in it (callers lead
/// with the position).
pub fn syntax_error_parts(error: &RdfSyntaxError) -> (Option<(u64, u64)>, String) {
    let message = error.to_string();
    let Some(range) = error.location() else {
        return (None, message);
    };
    let message = match message
        .split_once(": ")
        .filter(|(head, _)| head.starts_with("Parser error"))
    {
        Some((_, rest)) => rest.to_owned(),
        None => message,
    };
    (
        Some((range.start.line + 1, range.start.column + 1)),
        message,
    )
}

/// Names a document's blank nodes from its content: the n-th distinct blank
/// node of a document becomes a hash of (the document's SHA-256, the target
/// graph, n). Loading the same files into two stores therefore gives the
/// same store, down to the index order that graph views and samplers follow
/// (random names made every load reorder the nodes the models see). Blank
/// nodes of different documents never meet, and loading a document into the
/// same graph twice adds nothing. The digest is taken at the first blank
/// node, so documents without any are read once.
struct BlankNodeNamer<'a> {
    source: &'a LoadSource,
    graph: Option<&'a NamedNode>,
    key: Option<Sha256>,
    names: HashMap<BlankNode, BlankNode>,
}

impl<'a> BlankNodeNamer<'a> {
    fn new(source: &'a LoadSource, graph: Option<&'a NamedNode>) -> Self {
        Self {
            source,
            graph,
            key: None,
            names: HashMap::default(),
        }
    }

    fn rename(&mut self, mut quad: Quad) -> Result<Quad> {
        if let NamedOrBlankNode::BlankNode(node) = quad.subject {
            quad.subject = self.name(node)?.into();
        }
        if let Term::BlankNode(node) = quad.object {
            quad.object = self.name(node)?.into();
        }
        if let GraphName::BlankNode(node) = quad.graph_name {
            quad.graph_name = self.name(node)?.into();
        }
        Ok(quad)
    }

    fn name(&mut self, node: BlankNode) -> Result<BlankNode> {
        if let Some(name) = self.names.get(&node) {
            return Ok(name.clone());
        }
        let mut hasher = match &self.key {
            Some(key) => key.clone(),
            None => {
                let mut key = Sha256::new();
                key.update(self.source.digest()?);
                key.update(self.graph.map_or("", NamedNode::as_str));
                self.key = Some(key.clone());
                key
            }
        };
        hasher.update((self.names.len() as u64).to_le_bytes());
        let digest = hasher.finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        let name = BlankNode::new_from_unique_id(u128::from_le_bytes(id));
        self.names.insert(node, name.clone());
        Ok(name)
    }
}

/// Quads from `head SEP relation SEP tail` lines: each name becomes an IRI
/// under the base, and each entity and relation gets its name as `rdfs:label`
/// once per file.
struct NameTriples<R> {
    lines: io::Lines<BufReader<R>>,
    path: PathBuf,
    separator: char,
    base: String,
    graph: GraphName,
    line: u64,
    labelled: std::collections::HashSet<String>,
    pending: Vec<Quad>,
}

impl<R: Read> NameTriples<R> {
    fn new(
        reader: R,
        path: PathBuf,
        separator: char,
        base: String,
        graph: Option<NamedNode>,
    ) -> Self {
        use std::io::BufRead;
        Self {
            lines: BufReader::new(reader).lines(),
            path,
            separator,
            base,
            graph: graph.map_or(GraphName::DefaultGraph, GraphName::NamedNode),
            line: 0,
            labelled: Default::default(),
            pending: Vec::new(),
        }
    }

    fn node(&mut self, name: &str) -> NamedNode {
        let node = NamedNode::new_unchecked(iri_for_name(&self.base, name));
        if self.labelled.insert(name.to_owned()) {
            self.pending.push(Quad::new(
                node.clone(),
                rdfs::LABEL,
                Literal::from(name),
                self.graph.clone(),
            ));
        }
        node
    }
}

impl<R: Read> Iterator for NameTriples<R> {
    type Item = Result<Quad>;

    fn next(&mut self) -> Option<Result<Quad>> {
        loop {
            if let Some(quad) = self.pending.pop() {
                return Some(Ok(quad));
            }
            let line = match self.lines.next()? {
                Ok(line) => line,
                Err(e) => return Some(Err(Error::io(&self.path, e))),
            };
            self.line += 1;
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split(self.separator).map(str::trim).collect();
            let [head, relation, tail] = fields.as_slice() else {
                return Some(Err(Error::Syntax {
                    path: self.path.clone(),
                    line: self.line,
                    column: 1,
                    message: format!(
                        "expected head{sep}relation{sep}tail, found {} field(s)",
                        fields.len(),
                        sep = if self.separator == '\t' {
                            "<TAB>".to_owned()
                        } else {
                            self.separator.to_string()
                        }
                    ),
                }));
            };
            if let Some(empty) = fields.iter().position(|f| f.is_empty()) {
                let column = line
                    .split(self.separator)
                    .take(empty)
                    .map(|f| f.chars().count() + 1)
                    .sum::<usize>()
                    + 1;
                return Some(Err(Error::Syntax {
                    path: self.path.clone(),
                    line: self.line,
                    column: column as u64,
                    message: "empty name".into(),
                }));
            }
            let (head, relation, tail) = (head.to_string(), relation.to_string(), tail.to_string());
            let quad = Quad::new(
                self.node(&head),
                self.node(&relation),
                self.node(&tail),
                self.graph.clone(),
            );
            self.pending.push(quad);
        }
    }
}

/// Some parsers (RDF/XML) report no position. Parsing again one byte per read
/// makes the bytes consumed at the failure point the error's position; this
/// only runs on the error path.
fn locate_unplaced_error(source: &LoadSource, loader: &Loader<'_>) -> Option<(u64, u64)> {
    let text = {
        let mut text = Vec::new();
        source
            .open(Arc::default())
            .ok()?
            .read_to_end(&mut text)
            .ok()?;
        text
    };
    let mut reader = OneByteReader {
        data: &text,
        position: 0,
    };
    let Syntax::Rdf(format) = source.format().syntax else {
        return None;
    };
    let parser = loader.parser(source, format).ok()?;
    let mut failed_at = None;
    for quad in parser.for_reader(&mut reader) {
        if quad.is_err() {
            failed_at = Some(reader.position);
            break;
        }
    }
    let offset = failed_at?;
    Some(line_and_column(&text[..offset.min(text.len())]))
}

struct OneByteReader<'a> {
    data: &'a [u8],
    position: usize,
}

impl Read for &mut OneByteReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.position >= self.data.len() {
            return Ok(0);
        }
        buf[0] = self.data[self.position];
        self.position += 1;
        Ok(1)
    }
}

/// 1-based line and column (in characters) just after `prefix`.
fn line_and_column(prefix: &[u8]) -> (u64, u64) {
    let text = String::from_utf8_lossy(prefix);
    let line = text.matches('\n').count() as u64 + 1;
    let last_line = text.rsplit('\n').next().unwrap_or("");
    (line, last_line.chars().count().max(1) as u64)
}

/// `file://` IRI of a path, percent-encoding what IRIs do not allow.
fn file_iri(path: &Path) -> Option<String> {
    let absolute = std::path::absolute(path).ok()?;
    let mut iri = String::from("file://");
    for byte in absolute.to_string_lossy().bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'.' | b'_' | b'~' => {
                iri.push(byte as char)
            }
            _ => iri.push_str(&format!("%{byte:02X}")),
        }
    }
    Some(iri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_reported_up_to_the_last_byte_and_quad() {
        let store = Store::in_memory().unwrap();
        let text: String = (0..70_000)
            .map(|i| format!("<http://example.org/s{i}> <http://example.org/p> \"{i}\" .\n"))
            .collect();
        let data: &'static [u8] = Box::leak(text.into_bytes().into_boxed_slice());
        let source = LoadSource::Bytes {
            name: "many.nt".into(),
            data,
            format: format::detect(Path::new("many.nt"), None).unwrap(),
        };
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = {
            let seen = seen.clone();
            Arc::new(move |p: LoadProgress| seen.lock().unwrap().push(p))
        };
        let report = Loader::new(&store, LoadOptions::default())
            .with_progress(sink)
            .load_sources(&[source])
            .unwrap();
        let seen = seen.lock().unwrap();
        let (during, last) = (&seen[0], seen.last().unwrap());
        assert_eq!(
            seen.len(),
            2,
            "one report at 65,536 quads, one before indexing"
        );
        assert_eq!((during.quads, during.writing_indexes), (65_536, false));
        assert!(during.bytes_read <= during.total_bytes);
        assert_eq!((last.quads, last.writing_indexes), (70_000, true));
        assert_eq!(last.bytes_read, data.len() as u64);
        assert_eq!(last.total_bytes, data.len() as u64);
        assert_eq!(report.quads, 70_000);
    }

    #[test]
    fn line_and_column_counts_characters() {
        assert_eq!(line_and_column(b"ab\ncd"), (2, 2));
        assert_eq!(line_and_column("é\nxé".as_bytes()), (2, 2));
    }

    #[test]
    fn file_iri_escapes_spaces() {
        let iri = file_iri(Path::new("/tmp/a b.ttl")).unwrap();
        assert_eq!(iri, "file:///tmp/a%20b.ttl");
    }
}
