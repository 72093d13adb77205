//! Command-line interface: one file per sub-command, each mapping its
//! arguments onto the library and printing the result. No logic lives here.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use kgfuse::store::{Store, DEFAULT_STORE_DIR};

mod bert;
mod check;
mod classify;
mod embed;
mod explain;
mod export;
mod generate;
mod load;
mod predict;
mod qa;
mod query;
mod quickstart;
mod reason;
mod serve;
mod shared;
mod stats;
mod subgraph;
mod train;
mod update;

const ABOUT: &str = "kgfuse: a knowledge-graph-centric reasoning engine.

Loads ontologies and data into an embedded RDF store, answers SPARQL, and
prepares graph views for the learning stages.";

const EXAMPLES: &str = "Examples:
  kgfuse quickstart                          load the bundled ontology and sample data, show stats and queries
  kgfuse load ontologies/ data/finance.ttl   load a folder and a file into ./kgfuse-store
  kgfuse query 'SELECT ?c WHERE { ?c a risk:Company } LIMIT 5'
  kgfuse query --named high-risk-companies --format csv
  kgfuse stats
  kgfuse subgraph 'Driftwood Capital AS' --hops 2
  kgfuse reason && kgfuse check
  kgfuse ask --model kgfuse-quickstart/qa 'who controls [Driftwood Digital Holdings AG]'";

#[derive(Debug, Parser)]
#[command(name = "kgfuse", version, about = ABOUT, after_help = EXAMPLES)]
pub struct Cli {
    /// Store folder (RocksDB). Created by the first `load`.
    #[arg(long, global = true, env = "KGFUSE_STORE", default_value = DEFAULT_STORE_DIR)]
    store: PathBuf,

    /// Use a throw-away in-memory store instead of the store folder.
    #[arg(long, global = true)]
    memory: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Quickstart(quickstart::Args),
    Load(load::Args),
    Query(query::Args),
    Update(update::Args),
    Stats(stats::Args),
    Export(export::Args),
    Generate(generate::Args),
    Subgraph(subgraph::Args),
    Reason(reason::Args),
    Check(check::Args),
    Embed(embed::Args),
    #[command(alias = "model")]
    Bert(bert::Args),
    Train(train::TrainArgs),
    Evaluate(train::EvaluateArgs),
    Predict(predict::Args),
    Explain(explain::Args),
    Ask(qa::AskArgs),
    Serve(serve::Args),
}

/// How a command wants the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    ReadWrite,
    ReadOnly,
}

/// What every command gets: the store location and mode chosen by the global flags.
pub struct Context {
    store_dir: PathBuf,
    memory: bool,
}

impl Context {
    fn open(&self, access: Access) -> Result<Store> {
        Ok(match (self.memory, access) {
            (true, _) => Store::in_memory()?,
            (false, Access::ReadWrite) => Store::open(&self.store_dir)?,
            (false, Access::ReadOnly) => Store::open_read_only(&self.store_dir)?,
        })
    }
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    let ctx = Context {
        store_dir: cli.store,
        memory: cli.memory,
    };
    match cli.command {
        Command::Quickstart(args) => quickstart::run(args, &ctx),
        Command::Load(args) => load::run(args, &ctx),
        Command::Query(args) => query::run(args, &ctx),
        Command::Update(args) => update::run(args, &ctx),
        Command::Stats(args) => stats::run(args, &ctx),
        Command::Export(args) => export::run(args, &ctx),
        Command::Generate(args) => generate::run(args),
        Command::Subgraph(args) => subgraph::run(args, &ctx),
        Command::Reason(args) => reason::run(args, &ctx),
        Command::Check(args) => return check::run(args, &ctx),
        Command::Embed(args) => embed::run(args),
        Command::Bert(args) => bert::run(args),
        Command::Train(args) => train::run_train(args, &ctx),
        Command::Evaluate(args) => train::run_evaluate(args, &ctx),
        Command::Predict(args) => predict::run(args, &ctx),
        Command::Explain(args) => explain::run(args, &ctx),
        Command::Ask(args) => qa::ask(args, &ctx),
        Command::Serve(args) => serve::run(args, &ctx),
    }?;
    Ok(ExitCode::SUCCESS)
}

/// Reads a query or update given inline, from a file, or from stdin (`-f -`).
fn read_text(inline: Option<String>, file: Option<PathBuf>, what: &str) -> Result<String> {
    match (inline, file) {
        (Some(text), None) => Ok(text),
        (None, Some(path)) if path.as_os_str() == "-" => {
            Ok(std::io::read_to_string(std::io::stdin())?)
        }
        (None, Some(path)) => {
            std::fs::read_to_string(&path).map_err(|e| kgfuse::Error::io(path, e).into())
        }
        (Some(_), Some(_)) => anyhow::bail!("give the {what} inline or with -f, not both"),
        (None, None) => {
            anyhow::bail!("no {what} given: pass it inline, with -f FILE, or -f - for stdin")
        }
    }
}
