//! `kgfuse serve`: the store and models as a long-running HTTP service.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{bail, Result};

use kgfuse::fusion::{model_id, FusionModel};
use kgfuse::qa::{EntityLinker, QaModel};
use kgfuse::server::{serve, Classifier, Engine, LoadedAnswerer, LoadedClassifier, ServerOptions};
use kgfuse::tasks::checkpoint::{kind_of, ModelKind};
use kgfuse::tasks::graph_classifier::GraphClassifier;

use super::shared::{ModelArgs, ReasonArgs};
use super::{Access, Context};

/// Serve the store and the given models over HTTP: the SPARQL 1.1 Protocol
/// at /sparql, the Graph Store HTTP Protocol at /store, a JSON API at /api
/// (described at /api/openapi.json), and /healthz. Read-only unless
/// --allow-update; binds to loopback unless told otherwise. Stops
/// gracefully on Ctrl-C or SIGTERM. One JSON line per request on stderr.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kgfuse serve --model kgfuse-quickstart/model --qa-model kgfuse-quickstart/qa
  curl 'http://127.0.0.1:7878/sparql?query=SELECT%20*%20WHERE%20%7B%3Fs%20%3Fp%20%3Fo%7D%20LIMIT%203'
  curl -X POST http://127.0.0.1:7878/api/ask -H 'content-type: application/json' -d '{\"question\": \"who controls Driftwood Digital Holdings AG\"}'
  KGFUSE_TOKEN=secret kgfuse serve --allow-update   # writes need: Authorization: Bearer secret")]
pub struct Args {
    /// Address and port to listen on (port 0: any free port, printed).
    #[arg(long, default_value = "127.0.0.1:7878")]
    bind: SocketAddr,
    /// A classifier model folder (fused or R-GCN) to load; repeat for several.
    #[arg(long)]
    model: Vec<PathBuf>,
    /// A question-answering model folder for /api/ask.
    #[arg(long)]
    qa_model: Option<PathBuf>,
    /// Take SPARQL updates and Graph Store writes (read-only without it).
    #[arg(long)]
    allow_update: bool,
    /// Writes need `Authorization: Bearer TOKEN`. Prefer the environment
    /// variable: a flag's value shows in process lists.
    #[arg(
        long,
        env = "KGFUSE_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    token: Option<String>,
    /// Seconds a query may run before it is stopped (408).
    #[arg(long, default_value_t = 30)]
    query_timeout: u64,
    /// Allow browsers on this origin (e.g. http://localhost:3000) to call the
    /// service; CORS is off without it.
    #[arg(long, value_name = "ORIGIN")]
    cors: Option<String>,
    /// Largest request body, in megabytes (413 above).
    #[arg(long, default_value_t = 64)]
    max_body_mb: usize,
    /// Most rows (solutions or triples) one query may return (413 above).
    #[arg(long, default_value_t = ServerOptions::default().max_result_rows)]
    max_results: usize,
    #[command(flatten)]
    bert: ModelArgs,
    /// The reasoning whose derivations explanations and /api/why show.
    #[command(flatten)]
    reason: ReasonArgs,
}

fn folder_name(dir: &std::path::Path) -> String {
    dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

pub fn run(args: Args, ctx: &Context) -> Result<()> {
    let access = match args.allow_update {
        true => Access::ReadWrite,
        false => Access::ReadOnly,
    };
    let store = ctx.open(access)?;
    let device = args.bert.device()?;
    let mut classifiers = Vec::new();
    for dir in &args.model {
        let model = match kind_of(dir)? {
            ModelKind::GraphClassifier => {
                let model = GraphClassifier::open(dir)?;
                let graph = model.align(&store)?;
                Classifier::Graph { model, graph }
            }
            ModelKind::FusedClassifier => Classifier::Fused(Mutex::new(FusionModel::open(
                dir,
                &store,
                None,
                || args.bert.load(),
                &device,
            )?)),
            _ => bail!(
                "{} is not a classifier folder; give question answerers with --qa-model",
                dir.display()
            ),
        };
        eprintln!("loaded {}", dir.display());
        classifiers.push(LoadedClassifier {
            name: folder_name(dir),
            dir: dir.clone(),
            id: model_id(dir)?,
            model,
        });
    }
    let answerer = match &args.qa_model {
        Some(dir) => {
            let model = QaModel::load(dir, args.bert.load()?, &store)?;
            eprintln!("loaded {}", dir.display());
            Some(LoadedAnswerer {
                name: folder_name(dir),
                dir: dir.clone(),
                id: model_id(dir)?,
                model,
                linker: EntityLinker::from_store(&store)?,
            })
        }
        None => None,
    };
    let options = ServerOptions {
        bind: args.bind,
        allow_update: args.allow_update,
        token: args.token.filter(|t| !t.is_empty()),
        query_timeout: Duration::from_secs(args.query_timeout),
        cors: args.cors,
        max_body_bytes: args.max_body_mb << 20,
        max_result_rows: args.max_results,
    };
    if options.token.is_some() && !options.allow_update {
        eprintln!("note: a token is set but the service is read-only (no --allow-update)");
    }
    let bert = args.bert.clone();
    let engine = Engine::new(
        store,
        classifiers,
        answerer,
        args.reason.options(),
        Box::new(move || bert.load()),
        options,
    );
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(serve(engine, shutdown_signal(), |address| {
        eprintln!("listening on http://{address}");
    }))?;
    // A query stopped at its deadline may still be between two checks of
    // its token; do not wait long for it.
    runtime.shutdown_timeout(Duration::from_secs(5));
    eprintln!("stopped");
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
}
