//! RDF file formats: told from a file name (`.ttl`, `.nt.gz`, …) or a user's
//! `--format` name, with gzip as an orthogonal layer.

use std::path::Path;

use oxigraph::io::RdfFormat;

use crate::error::{Error, Result};

/// The syntaxes that can be written, for `export --format` errors.
pub const RDF_FORMAT_NAMES: &str =
    "turtle (ttl), ntriples (nt), nquads (nq), trig, rdfxml (rdf, owl, xml), jsonld, n3";

/// Format names accepted by `--format`, for help and error texts.
pub const FORMAT_NAMES: &str =
    "turtle (ttl), ntriples (nt), nquads (nq), trig, rdfxml (rdf, owl, xml), jsonld, n3, tsv and pipe (load only)";

/// What a file holds: an RDF syntax, or `head SEP relation SEP tail` lines
/// of plain names that become triples under a base IRI: tab-separated
/// (`tsv`, link-prediction data sets) or `|`-separated (`pipe`, e.g. MetaQA's
/// `kb.txt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Rdf(RdfFormat),
    Names { separator: char },
}

/// How to read one file: its syntax and whether it is gzip-compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileFormat {
    pub syntax: Syntax,
    pub gzip: bool,
}

/// Parses a user-given format name (`turtle`, `ttl`, `nt`, `rdfxml`, `tsv`, …).
pub fn parse_format_name(name: &str) -> Result<Syntax> {
    syntax_from_name(&name.to_ascii_lowercase()).ok_or_else(|| Error::UnknownFormatName {
        name: name.to_owned(),
        known: FORMAT_NAMES,
    })
}

/// Parses the name of an RDF syntax that can be written.
pub fn parse_rdf_format_name(name: &str) -> Result<RdfFormat> {
    let syntax =
        syntax_from_name(&name.to_ascii_lowercase()).ok_or_else(|| Error::UnknownFormatName {
            name: name.to_owned(),
            known: RDF_FORMAT_NAMES,
        })?;
    match syntax {
        Syntax::Rdf(format) => Ok(format),
        Syntax::Names { .. } => Err(Error::UnsupportedOutput(format!(
            "{name} is an input-only format; write an RDF syntax"
        ))),
    }
}

fn syntax_from_name(name: &str) -> Option<Syntax> {
    match name {
        "tsv" => return Some(Syntax::Names { separator: '\t' }),
        "pipe" => return Some(Syntax::Names { separator: '|' }),
        _ => {}
    }
    rdf_syntax_from_name(name).map(Syntax::Rdf)
}

fn rdf_syntax_from_name(name: &str) -> Option<RdfFormat> {
    Some(match name {
        "turtle" | "ttl" => RdfFormat::Turtle,
        "ntriples" | "n-triples" | "nt" => RdfFormat::NTriples,
        "nquads" | "n-quads" | "nq" => RdfFormat::NQuads,
        "trig" => RdfFormat::TriG,
        "rdfxml" | "rdf/xml" | "rdf" | "owl" | "xml" => RdfFormat::RdfXml,
        "jsonld" | "json-ld" => RdfFormat::JsonLd {
            profile: Default::default(),
        },
        "n3" => RdfFormat::N3,
        _ => return None,
    })
}

/// Tells the format of `path` from its extension(s); `forced` (from `--format`)
/// wins over the extension for the syntax, while `.gz` is always honoured.
pub fn detect(path: &Path, forced: Option<Syntax>) -> Result<FileFormat> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let (stem, gzip) = match name.strip_suffix(".gz") {
        Some(stem) => (stem.to_owned(), true),
        None => (name.clone(), false),
    };
    if let Some(syntax) = forced {
        return Ok(FileFormat { syntax, gzip });
    }
    let extension = stem.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    // A .tsv file is only read as triples when asked for (`--format tsv`).
    match rdf_syntax_from_name(extension).map(Syntax::Rdf) {
        Some(syntax) => Ok(FileFormat { syntax, gzip }),
        None => Err(Error::UnknownFormat {
            path: path.to_owned(),
            extension: extension.to_owned(),
            known: FORMAT_NAMES,
        }),
    }
}

/// Whether a file found while walking a folder looks like RDF we can load.
pub fn is_rdf_file(path: &Path) -> bool {
    detect(path, None).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_extensions_and_gzip() {
        let f = detect(Path::new("a/b/kb.nt.gz"), None).unwrap();
        assert_eq!(f.syntax, Syntax::Rdf(RdfFormat::NTriples));
        assert!(f.gzip);
        let f = detect(Path::new("FIBO.RDF"), None).unwrap();
        assert_eq!(f.syntax, Syntax::Rdf(RdfFormat::RdfXml));
        assert!(!f.gzip);
        assert!(detect(Path::new("notes.txt"), None).is_err());
        let f = detect(Path::new("notes.txt"), Some(Syntax::Rdf(RdfFormat::Turtle))).unwrap();
        assert_eq!(f.syntax, Syntax::Rdf(RdfFormat::Turtle));
        assert!(
            detect(Path::new("train.tsv"), None).is_err(),
            "TSV only on request"
        );
    }

    #[test]
    fn parses_format_names() {
        assert_eq!(
            parse_format_name("TTL").unwrap(),
            Syntax::Rdf(RdfFormat::Turtle)
        );
        assert_eq!(
            parse_format_name("tsv").unwrap(),
            Syntax::Names { separator: '\t' }
        );
        assert_eq!(
            parse_format_name("pipe").unwrap(),
            Syntax::Names { separator: '|' }
        );
        assert!(parse_rdf_format_name("tsv").is_err());
        assert!(matches!(
            parse_format_name("csv"),
            Err(Error::UnknownFormatName { .. })
        ));
    }
}
