//! `kgfuse subgraph`: print the k-hop neighbourhood of an entity.

use anyhow::Result;

use kgfuse::graph::{resolve_entity, SubgraphOptions, SubgraphRetriever};

use super::{Access, Context};

/// Print the k-hop subgraph around an entity, as the learning stages see it.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kgfuse subgraph data:company/0001 --hops 2
  kgfuse subgraph 'Driftwood Capital AS' --fanout 10 --format json")]
pub struct Args {
    /// The entity: <IRI>, an absolute IRI, prefix:local, or an exact label.
    entity: String,
    /// Hops from the entity (1 to 3).
    #[arg(long, default_value_t = 2)]
    hops: usize,
    /// Most neighbours taken per expanded node.
    #[arg(long, default_value_t = 50)]
    fanout: usize,
    /// Output: text or json.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    format: String,
}

pub fn run(args: Args, ctx: &Context) -> Result<()> {
    let store = ctx.open(Access::ReadOnly)?;
    let seed = resolve_entity(&store, &args.entity)?;
    let options = SubgraphOptions {
        hops: args.hops,
        fanout: args.fanout,
    };
    let subgraph = SubgraphRetriever::new(&store, options)?.retrieve(&[seed])?;
    if args.format == "json" {
        println!("{}", serde_json::to_string_pretty(&subgraph)?);
    } else {
        print!("{subgraph}");
    }
    Ok(())
}
