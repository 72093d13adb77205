//! `kgfuse quickstart`: the main job on the embedded defaults.

use std::io::stdout;

use anyhow::Result;

use kgfuse::defaults;
use kgfuse::reason::{reason_over_store, write_inferred, ReasonOptions, INFERRED_GRAPH};
use kgfuse::store::named_queries::named_query;
use kgfuse::store::results::write_table;
use kgfuse::store::{LoadOptions, Loader, SparqlRunner, StoreStats};

use super::{Access, Context};

/// Load the bundled risk ontology and sample data (into their own named
/// graphs, replacing earlier copies), materialise their OWL 2 RL
/// entailments, print store statistics, and run two named queries.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Rows shown per query; the full results are one `kgfuse query --named` away.
const SHOWN_ROWS: usize = 10;

pub fn run(_args: Args, ctx: &Context) -> Result<()> {
    let store = ctx.open(Access::ReadWrite)?;
    for (graph, source) in [
        (defaults::ontology_graph(), defaults::ontology_source()),
        (defaults::sample_graph(), defaults::sample_source()),
    ] {
        // Loading blank nodes twice would duplicate them, so replace the graph.
        store.oxigraph().clear_graph(&graph)?;
        let options = LoadOptions {
            graph: Some(graph.clone()),
            progress: true,
            ..LoadOptions::default()
        };
        let report = Loader::new(&store, options).load_sources(&[source])?;
        println!(
            "loaded {} quads into {graph} in {:.2} s",
            report.quads,
            report.elapsed.as_secs_f64()
        );
    }
    let closure = reason_over_store(&store, ReasonOptions::default(), |_| {})?;
    let written = write_inferred(&store, &closure)?;
    let summary = closure.summary();
    println!(
        "reasoned (OWL 2 RL): {written} triples inferred into <{INFERRED_GRAPH}> in {:.2} s, {} inconsistencies",
        summary.seconds, summary.violations
    );
    store.flush()?;
    println!("\n== kgfuse stats\n{}", StoreStats::compute(&store)?);
    let runner = SparqlRunner::new(&store);
    for name in ["high-risk-companies", "ownership-chains"] {
        let query = named_query(name)?;
        println!(
            "\n== kgfuse query --named {name}\n# {}",
            query.description()
        );
        let (variables, rows) = runner.select(query.text, &[])?;
        let header: Vec<String> = variables.iter().map(|v| v.as_str().to_owned()).collect();
        let shown = &rows[..rows.len().min(SHOWN_ROWS)];
        write_table(&header, shown, rows.len(), &mut stdout().lock())?;
    }
    if let Some(dir) = store.location() {
        println!(
            "\nThe store is in {}; next: `kgfuse query --list`, `kgfuse subgraph ENTITY`.",
            dir.display()
        );
    }
    Ok(())
}
