//! `kgfuse update`: run a SPARQL 1.1 Update in one transaction.

use std::path::PathBuf;

use anyhow::Result;

use kgfuse::store::SparqlRunner;

use super::{read_text, Access, Context};

/// Run a SPARQL 1.1 Update (INSERT DATA, DELETE/INSERT … WHERE, CLEAR, …) atomically.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kgfuse update 'INSERT DATA { <https://w3id.org/kgfuse/data/company/0001> risk:riskLabel risk:HighRisk }'
  kgfuse update -f fix-labels.ru")]
pub struct Args {
    /// The update text.
    update: Option<String>,
    /// Read the update from a file (- for stdin).
    #[arg(short = 'f', long = "file")]
    file: Option<PathBuf>,
}

pub fn run(args: Args, ctx: &Context) -> Result<()> {
    let text = read_text(args.update, args.file, "update")?;
    let store = ctx.open(Access::ReadWrite)?;
    SparqlRunner::new(&store).update(&text)?;
    store.flush()?;
    println!("update applied");
    Ok(())
}
