//! `kgfuse query`: run a SPARQL query and print its results.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use oxigraph::model::Variable;

use kgfuse::fusion::pipeline::{predict, score_function};
use kgfuse::store::named_queries::{named_query, NAMED_QUERIES};
use kgfuse::store::results::{write_results, ResultFormat};
use kgfuse::store::terms::parse_term;
use kgfuse::store::SparqlRunner;

use super::{read_text, Access, Context};

/// Run a SPARQL 1.1 query (SELECT, ASK, CONSTRUCT, DESCRIBE).
///
/// The default graph is the union of all graphs. The prefixes rdf, rdfs, owl,
/// xsd, skos, schema, org, prov, risk, data, kgg and kgfuse are predeclared.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kgfuse query 'SELECT ?c ?name WHERE { ?c a risk:Company ; rdfs:label ?name } LIMIT 10'
  kgfuse query -f my-query.rq --format json
  kgfuse query --named subgraph --bind seed=data:company/0001
  kgfuse query --list
  kgfuse query --model models/risk \
    'SELECT ?c (kgfuse:score(?c) AS ?s) WHERE { ?c a risk:Company } ORDER BY DESC(?s) LIMIT 10'")]
pub struct Args {
    /// The query text.
    query: Option<String>,
    /// Read the query from a file (- for stdin).
    #[arg(short = 'f', long = "file", conflicts_with = "named")]
    file: Option<PathBuf>,
    /// Run a named query from queries/ (see --list).
    #[arg(long, conflicts_with = "query")]
    named: Option<String>,
    /// Fix a projected variable before evaluation: VAR=TERM (IRI, prefix:local, "literal", number).
    #[arg(long = "bind", value_name = "VAR=TERM")]
    bindings: Vec<String>,
    /// Output: table, json, csv, tsv, xml (solutions, booleans); turtle, ntriples, xml (graphs).
    /// Default: table on a terminal, tsv otherwise; turtle for graphs.
    #[arg(long)]
    format: Option<String>,
    /// List the named queries and exit.
    #[arg(long)]
    list: bool,
    /// A fused model folder: scores every entity of its class first and
    /// makes them available as `kgfuse:score(?entity)`.
    #[arg(long, value_name = "DIR")]
    model: Option<PathBuf>,
    #[command(flatten)]
    bert: super::shared::ModelArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<()> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    if args.list {
        for query in NAMED_QUERIES {
            writeln!(out, "{:<22} {}", query.name, query.description())?;
        }
        return Ok(out.flush()?);
    }
    let text = match &args.named {
        Some(name) => named_query(name)?.text.to_owned(),
        None => read_text(args.query, args.file, "query")?,
    };
    let bindings = args
        .bindings
        .iter()
        .map(|b| {
            let (var, term) = b
                .split_once('=')
                .with_context(|| format!("--bind {b:?}: expected VAR=TERM"))?;
            let var = Variable::new(var.trim_start_matches('?'))
                .with_context(|| format!("--bind {b:?}: bad variable name"))?;
            Ok((var, parse_term(term)?))
        })
        .collect::<Result<Vec<_>>>()?;
    let format = args
        .format
        .as_deref()
        .map(ResultFormat::parse)
        .transpose()?;
    let store = ctx.open(Access::ReadOnly)?;
    let mut runner = SparqlRunner::new(&store);
    if let Some(dir) = &args.model {
        let mut model = super::shared::load_model(dir, &store, None, &args.bert)?;
        let (name, function) = score_function(&predict(&mut model)?);
        runner = runner.with_function(name, function);
    }
    let results = runner.query(&text, &bindings)?;
    let terminal = std::io::stdout().is_terminal();
    write_results(results, format, terminal, &mut out)?;
    Ok(out.flush()?)
}
