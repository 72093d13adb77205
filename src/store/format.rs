//! RDF file formats: told from a file name (`.ttl`, `.nt.gz`, …) or a user's
//! `--format` name, with gzip as an orthogonal layer.

use std::path::Path;

use oxigraph::io::RdfFormat;

use crate::error::{Error, Result};

/// Format names accepted by `--format`, for help and error texts.
pub const FORMAT_NAMES: &str = "turtle (ttl), ntriples (nt), nquads (nq), trig, rdfxml (rdf, owl, xml), jsonld, n3";

/// How to read one RDF file: its syntax and whether it is gzip-compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileFormat {
    pub syntax: RdfFormat,
    pub gzip: bool,
}

/// Parses a user-given format name (`turtle`, `ttl`, `nt`, `rdfxml`, …).
pub fn parse_format_name(name: &str) -> Result<RdfFormat> {
    syntax_from_name(&name.to_ascii_lowercase()).ok_or_else(|| Error::UnknownFormatName {
        name: name.to_owned(),
        known: FORMAT_NAMES,
    })
}

fn syntax_from_name(name: &str) -> Option<RdfFormat> {
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
pub fn detect(path: &Path, forced: Option<RdfFormat>) -> Result<FileFormat> {
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
    match syntax_from_name(extension) {
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
        assert_eq!(f.syntax, RdfFormat::NTriples);
        assert!(f.gzip);
        let f = detect(Path::new("FIBO.RDF"), None).unwrap();
        assert_eq!(f.syntax, RdfFormat::RdfXml);
        assert!(!f.gzip);
        assert!(detect(Path::new("notes.txt"), None).is_err());
        let f = detect(Path::new("notes.txt"), Some(RdfFormat::Turtle)).unwrap();
        assert_eq!(f.syntax, RdfFormat::Turtle);
    }

    #[test]
    fn parses_format_names() {
        assert_eq!(parse_format_name("TTL").unwrap(), RdfFormat::Turtle);
        assert!(matches!(
            parse_format_name("csv"),
            Err(Error::UnknownFormatName { .. })
        ));
    }
}
