//! Command-line interface: one file per sub-command, each mapping its
//! arguments onto the library and printing the result. No logic lives here.

use std::cell::RefCell;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};

use kgfuse::store::{is_endpoint, Credentials, EndpointOptions, Store, DEFAULT_STORE_DIR};

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
    /// Store folder (RocksDB), created by the first `load`; or a SPARQL 1.1
    /// endpoint as `sparql+http://host:port/sparql` (its
    /// `default-graph-uri` parameters, if any, name the graphs that hold
    /// the data). Credentials for an endpoint come from
    /// KGFUSE_ENDPOINT_USER and KGFUSE_ENDPOINT_PASSWORD, or
    /// KGFUSE_ENDPOINT_TOKEN.
    #[arg(long, global = true, env = "KGFUSE_STORE", default_value = DEFAULT_STORE_DIR)]
    store: String,

    /// Use a throw-away in-memory store instead of the store folder.
    #[arg(long, global = true)]
    memory: bool,

    /// The endpoint's update URL, where it is not the query URL.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "KGFUSE_UPDATE_ENDPOINT"
    )]
    update_endpoint: Option<String>,

    /// A Graph Store Protocol URL: loads go there (else INSERT DATA).
    #[arg(long, global = true, value_name = "URL", env = "KGFUSE_GRAPH_STORE")]
    graph_store: Option<String>,

    /// Requests to the endpoint in flight at once (paged reads).
    #[arg(long, global = true, value_name = "N", default_value_t = EndpointOptions::new("").concurrency)]
    endpoint_concurrency: usize,

    /// Rows per request when the endpoint's results are read in pages: at
    /// most the server's cap on one result (Virtuoso: ResultSetMaxRows).
    #[arg(long, global = true, value_name = "ROWS", default_value_t = EndpointOptions::new("").page_size)]
    endpoint_page_size: usize,

    /// Seconds before a request to the endpoint times out (it is retried).
    #[arg(long, global = true, value_name = "SECS", default_value_t = EndpointOptions::new("").timeout.as_secs())]
    endpoint_timeout: u64,

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

/// What every command gets: the store chosen by the global flags.
pub struct Context {
    location: StoreLocation,
    /// Remote stores opened, to report their requests at the end.
    remotes: RefCell<Vec<Store>>,
}

enum StoreLocation {
    Memory,
    Folder(PathBuf),
    Endpoint(EndpointOptions),
}

impl Context {
    fn new(cli: &Cli) -> Self {
        let location = if cli.memory {
            StoreLocation::Memory
        } else if is_endpoint(&cli.store) {
            let mut options = EndpointOptions::new(&cli.store);
            options.update_url = cli.update_endpoint.clone();
            options.graph_store_url = cli.graph_store.clone();
            options.concurrency = cli.endpoint_concurrency;
            options.page_size = cli.endpoint_page_size;
            options.timeout = Duration::from_secs(cli.endpoint_timeout);
            options.credentials = endpoint_credentials();
            StoreLocation::Endpoint(options)
        } else {
            StoreLocation::Folder(PathBuf::from(&cli.store))
        };
        Self {
            location,
            remotes: RefCell::default(),
        }
    }

    fn open(&self, access: Access) -> Result<Store> {
        Ok(match (&self.location, access) {
            (StoreLocation::Memory, _) => Store::in_memory()?,
            (StoreLocation::Folder(dir), Access::ReadWrite) => Store::open(dir)?,
            (StoreLocation::Folder(dir), Access::ReadOnly) => Store::open_read_only(dir)?,
            (StoreLocation::Endpoint(options), _) => {
                let store = Store::open_endpoint(options.clone())?;
                self.remotes.borrow_mut().push(store.clone());
                store
            }
        })
    }

    /// One line per remote store: the requests the command made of it.
    fn report_requests(&self) {
        for store in self.remotes.borrow().iter() {
            if let Some(requests) = store.requests() {
                eprintln!("{requests} requests to {}", store.describe());
            }
        }
    }
}

/// Endpoint credentials from the environment (never from the command line,
/// where other users could read them).
fn endpoint_credentials() -> Option<Credentials> {
    let variable = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let Some(token) = variable("KGFUSE_ENDPOINT_TOKEN") {
        return Some(Credentials::Token(token));
    }
    Some(Credentials::User {
        user: variable("KGFUSE_ENDPOINT_USER")?,
        password: variable("KGFUSE_ENDPOINT_PASSWORD").unwrap_or_default(),
    })
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    let ctx = Context::new(&cli);
    let outcome = dispatch(cli.command, &ctx);
    ctx.report_requests();
    outcome
}

fn dispatch(command: Command, ctx: &Context) -> Result<ExitCode> {
    match command {
        Command::Quickstart(args) => quickstart::run(args, ctx),
        Command::Load(args) => load::run(args, ctx),
        Command::Query(args) => query::run(args, ctx),
        Command::Update(args) => update::run(args, ctx),
        Command::Stats(args) => stats::run(args, ctx),
        Command::Export(args) => export::run(args, ctx),
        Command::Generate(args) => generate::run(args),
        Command::Subgraph(args) => subgraph::run(args, ctx),
        Command::Reason(args) => reason::run(args, ctx),
        Command::Check(args) => return check::run(args, ctx),
        Command::Embed(args) => embed::run(args),
        Command::Bert(args) => bert::run(args),
        Command::Train(args) => train::run_train(args, ctx),
        Command::Evaluate(args) => train::run_evaluate(args, ctx),
        Command::Predict(args) => predict::run(args, ctx),
        Command::Explain(args) => explain::run(args, ctx),
        Command::Ask(args) => qa::ask(args, ctx),
        Command::Serve(args) => serve::run(args, ctx),
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
