//! `kgfuse load`: bulk-load files and folders into the store.

use std::path::PathBuf;

use anyhow::Result;

use kgfuse::store::format::parse_format_name;
use kgfuse::store::terms::parse_iri;
use kgfuse::store::LoadOptions;

use super::{Access, Context};

/// Load RDF files or folders (all or nothing).
///
/// Formats come from the extension (.ttl .nt .nq .trig .rdf .owl .xml .jsonld .n3,
/// each optionally .gz) or --format. Folders are walked recursively and every
/// RDF file in them is loaded. If any file fails to parse, nothing is stored.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kgfuse load ontologies/risk.ttl data/finance.ttl
  kgfuse load fibo/                       # every RDF file under the folder
  kgfuse load kb.nt.gz --graph https://example.org/kb
  kgfuse load dump.txt --format ntriples
  kgfuse load --format tsv --base https://example.org/umls/ --graph https://example.org/umls/train train.txt
  kgfuse load --format pipe --base https://example.org/movies/ ../shared/data/metaqa/kb.txt")]
pub struct Args {
    /// Files or folders to load.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Syntax of every input, overriding extensions: turtle, ntriples, nquads, trig, rdfxml, jsonld, n3,
    /// or tsv / pipe (head<TAB>relation<TAB>tail or head|relation|tail lines; names become IRIs
    /// under --base and get rdfs:labels).
    #[arg(long)]
    format: Option<String>,
    /// Named graph that receives the triples of the inputs' default graph.
    #[arg(long)]
    graph: Option<String>,
    /// Base IRI for relative IRIs (default: each file's file:// IRI); the namespace of TSV names.
    #[arg(long)]
    base: Option<String>,
}

pub fn run(args: Args, ctx: &Context) -> Result<()> {
    let options = LoadOptions {
        format: args.format.as_deref().map(parse_format_name).transpose()?,
        graph: args.graph.as_deref().map(parse_iri).transpose()?,
        base_iri: args.base,
    };
    let store = ctx.open(Access::ReadWrite)?;
    let report = super::shared::loader_with_bar(&store, options).load_paths(&args.paths)?;
    store.flush()?;
    for path in &report.skipped {
        eprintln!("skipped (not an RDF file name): {}", path.display());
    }
    println!(
        "loaded {} quads from {} file{} in {:.2} s ({:.0} quads/s)",
        report.quads,
        report.files,
        if report.files == 1 { "" } else { "s" },
        report.elapsed.as_secs_f64(),
        report.rate(),
    );
    let canonicalised = &report.canonicalised;
    if let Some((file, written, stored)) = &canonicalised.first {
        eprintln!(
            "note: {} literal{} kept by value, not as written (the store keeps numbers, booleans, \
             dates and durations in canonical form, and literals of one value as one); first, in {}: {written} is stored as {stored}",
            canonicalised.count,
            if canonicalised.count == 1 { "" } else { "s" },
            file.display()
        );
    }
    Ok(())
}
