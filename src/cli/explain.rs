//! `kgfuse explain`: the paths and text spans behind one prediction.

use std::path::PathBuf;

use anyhow::Result;

use kgfuse::explain::fusion::explain_classifier;
use kgfuse::explain::{render, Derivations, ExplanationFormat};
use kgfuse::graph::resolve_entity;

use super::shared::{write_output, ModelArgs, ReasonArgs};
use super::{Access, Context};

/// Explain a classifier's prediction for one entity: the top paths (up to
/// three edges from the entity) ranked by integrated-gradient attributions
/// on the R-GCN's edge mask (and, for a fused model, its relation-path
/// features), each with an ASK query that verifies it and the reasoner's
/// derivation of any inferred edge, and the text spans that moved the text
/// side most (gradient x input).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kgfuse explain data:company/0007 --model models/risk
  kgfuse explain 'Driftwood Capital AS' --model models/risk --format html --out why.html
  kgfuse explain data:company/0007 --model models/risk --format turtle | kgfuse load --format turtle -")]
pub struct Args {
    /// The entity (IRI, prefix:local or exact label).
    entity: String,
    /// Model folder.
    #[arg(long)]
    model: PathBuf,
    /// Paths (and spans) to show.
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// json, dot, turtle (PROV-O) or html.
    #[arg(long, default_value = "json")]
    format: String,
    /// Write to a file instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    bert: ModelArgs,
    /// The reasoning whose derivations inferred steps show.
    #[command(flatten)]
    reason: ReasonArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<()> {
    let format = ExplanationFormat::parse(&args.format)?;
    let store = ctx.open(Access::ReadOnly)?;
    let entity = resolve_entity(&store, &args.entity)?;
    let explanation = explain_classifier(
        &args.model,
        &store,
        &entity,
        args.top,
        || args.bert.load(),
        &args.bert.device()?,
        &mut Derivations::on_demand(args.reason.options()),
    )?;
    write_output(&render(&explanation, format)?, args.out.as_deref())
}
