//! `kgfuse stats`: counts of triples, graphs, entities, classes and predicates.

use anyhow::Result;

use kgfuse::store::StoreStats;

use super::{Access, Context};

/// Print triples, named graphs, entities, classes with instance counts and
/// predicates with usage counts.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print as JSON instead of tables.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, ctx: &Context) -> Result<()> {
    let store = ctx.open(Access::ReadOnly)?;
    let stats = StoreStats::compute(&store)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&stats.to_json())?);
    } else {
        print!("{stats}");
    }
    Ok(())
}
