//! `kgfuse predict`: score entities with a classifier.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use kgfuse::fusion::model_id;
use kgfuse::fusion::pipeline::{predict, predict_with_graph_classifier, write_back, WriteScope};
use kgfuse::graph::resolve_entity;
use kgfuse::store::terms::{compact_iri, display_term};
use kgfuse::tasks::checkpoint::{kind_of, ModelKind};
use kgfuse::tasks::graph_classifier::GraphClassifier;

use super::shared::load_model;
use super::shared::ModelArgs;
use super::{Access, Context};

/// Score entities with a model from `kgfuse train classify` or `kgfuse train
/// rgcn`: the predicted
/// label, its probability and the score (the positive class's probability).
/// With --write-back the scores go into the store as triples in the graph
/// kgg:predictions/MODEL-ID (`?e kgfuse:score ?s ; kgfuse:predictedLabel ?l ;
/// kgfuse:scoredBy ?model`): scoring the whole class replaces that model's
/// graph, scoring named entities replaces only their scores.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kgfuse predict --model models/risk                       # every entity of the model's class
  kgfuse predict --model models/risk data:company/0007 'Driftwood Capital AS'
  kgfuse predict --model models/risk --write-back && \\
    kgfuse query 'SELECT ?c ?s WHERE { ?c kgfuse:score ?s } ORDER BY DESC(?s) LIMIT 10'")]
pub struct Args {
    /// Model folder.
    #[arg(long)]
    model: PathBuf,
    /// Entities (IRI, prefix:local or exact label); default: all of the model's class.
    entities: Vec<String>,
    /// Store the scores as triples.
    #[arg(long)]
    write_back: bool,
    /// table or json.
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    format: String,
    #[command(flatten)]
    bert: ModelArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<()> {
    let access = if args.write_back {
        Access::ReadWrite
    } else {
        Access::ReadOnly
    };
    let store = ctx.open(access)?;
    let entities = args
        .entities
        .iter()
        .map(|e| resolve_entity(&store, e))
        .collect::<kgfuse::Result<Vec<_>>>()?;
    let chosen = (!entities.is_empty()).then_some(entities.as_slice());
    let predictions = if kind_of(&args.model)? == ModelKind::GraphClassifier {
        let model = GraphClassifier::open(&args.model)?;
        predict_with_graph_classifier(&model, &model.align(&store)?, &store, chosen)?
    } else {
        predict(&mut load_model(&args.model, &store, chosen, &args.bert)?)?
    };
    let mut out = std::io::stdout().lock();
    if args.format == "json" {
        writeln!(out, "{}", serde_json::to_string_pretty(&predictions)?)?;
    } else {
        writeln!(
            out,
            "{:<40} {:<22} {:>11} {:>7}  actual",
            "entity", "predicted", "probability", "score"
        )?;
        for p in &predictions {
            writeln!(
                out,
                "{:<40} {:<22} {:>11.4} {:>7.4}  {}",
                display_term(&p.term.clone().into()),
                compact_iri(&p.predicted),
                p.probability,
                p.score,
                p.actual.as_deref().map(compact_iri).unwrap_or_default()
            )?;
        }
    }
    if args.write_back {
        let id = model_id(&args.model)?;
        let scope = if chosen.is_some() {
            WriteScope::ScoredEntities
        } else {
            WriteScope::WholeGraph
        };
        let graph = write_back(&store, &id, &predictions, scope)?;
        store.flush()?;
        eprintln!("wrote {} scores into {graph}", predictions.len());
    }
    Ok(())
}
