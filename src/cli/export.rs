//! `kgfuse export`: dump the store or one graph.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Result;
use oxigraph::model::GraphName;

use kgfuse::store::export::export;
use kgfuse::store::format::parse_rdf_format_name;
use kgfuse::store::terms::parse_iri;

use super::{Access, Context};

/// Dump the store (N-Quads, TriG, JSON-LD) or one graph (any RDF syntax).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kgfuse export --out backup.nq
  kgfuse export --graph https://w3id.org/kgfuse/graph/sample --format turtle
  kgfuse export --graph default --format ntriples --out default.nt")]
pub struct Args {
    /// Only this graph: an IRI, or `default` for the default graph.
    #[arg(long)]
    graph: Option<String>,
    /// Syntax: nquads (default), trig, jsonld, or with --graph also turtle, ntriples, rdfxml.
    #[arg(long, default_value = "nquads")]
    format: String,
    /// Write to this file instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: Args, ctx: &Context) -> Result<()> {
    let format = parse_rdf_format_name(&args.format)?;
    let graph = match args.graph.as_deref() {
        None => None,
        Some("default") => Some(GraphName::DefaultGraph),
        Some(iri) => Some(GraphName::NamedNode(parse_iri(iri)?)),
    };
    let store = ctx.open(Access::ReadOnly)?;
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).map_err(|e| kgfuse::Error::io(path.clone(), e))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let count = export(&store, graph.as_ref(), format, &mut out)?;
    out.flush()?;
    if let Some(path) = &args.out {
        eprintln!("wrote {count} quads to {}", path.display());
    }
    Ok(())
}
