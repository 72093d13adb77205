//! `kgfuse reason`: materialise RDFS / OWL 2 RL entailments, or explain one.

use std::io::Write;
use std::time::Instant;

use anyhow::{bail, Result};

use kgfuse::reason::{reason_over_store, write_inferred, INFERRED_GRAPH};
use kgfuse::store::results::write_text_table;
use kgfuse::store::terms::parse_triple;

use super::shared::{report_round, ReasonArgs};
use super::{Access, Context};

/// Compute the closure of everything in the store and write the entailed
/// triples (only those not already asserted) into the graph
/// https://w3id.org/kgfuse/graph/inferred, replacing what an earlier run
/// wrote there. The store's other graphs are the input, so re-running after
/// a load brings the closure up to date.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kgfuse reason                                   # OWL 2 RL closure into the inferred graph
  kgfuse reason --profile rdfs --dry-run          # counts per rule, nothing written
  kgfuse reason --why 'data:company/0004 risk:isControlledBy data:company/0002'")]
pub struct Args {
    #[command(flatten)]
    pub options: ReasonArgs,
    /// Print counts per rule and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Explain one triple 'SUBJECT PREDICATE OBJECT' with its derivation tree.
    #[arg(long, value_name = "TRIPLE")]
    why: Option<String>,
    /// With --why: print the tree as JSON.
    #[arg(long, requires = "why")]
    json: bool,
    /// Also write the inferred triples to FILE as N-Triples, each line
    /// followed by a comment naming the rule that derived it.
    #[arg(long, value_name = "FILE")]
    output: Option<std::path::PathBuf>,
}

pub fn run(args: Args, ctx: &Context) -> Result<()> {
    let write = !args.dry_run && args.why.is_none();
    let store = ctx.open(if write {
        Access::ReadWrite
    } else {
        Access::ReadOnly
    })?;
    let wanted = args.why.as_deref().map(parse_triple).transpose()?;
    let started = Instant::now();
    let closure = reason_over_store(&store, args.options.options(), report_round)?;
    let read_and_reason = started.elapsed();
    for warning in closure.warnings() {
        eprintln!("warning: {warning}");
    }
    if let Some(triple) = wanted {
        let Some(mut tree) = closure.explain(&triple) else {
            bail!(
                "{triple} is neither asserted nor entailed under the {} profile",
                args.options.profile
            );
        };
        tree.locate_asserted(&store)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&tree)?);
        } else {
            print!("{tree}");
        }
        return Ok(());
    }
    let expanding = Instant::now();
    let summary = closure.summary();
    let expanded = expanding.elapsed();
    if let Some(path) = &args.output {
        let file = std::fs::File::create(path).map_err(|e| kgfuse::Error::io(path.clone(), e))?;
        let mut out = std::io::BufWriter::new(file);
        for (triple, rule) in closure.inferred() {
            writeln!(out, "{triple} . # {rule}")?;
        }
        out.flush()?;
    }
    if args.dry_run {
        let cells: Vec<Vec<String>> = summary
            .by_rule
            .iter()
            .map(|(rule, n)| vec![rule.to_string(), n.to_string()])
            .collect();
        write_text_table(
            &["rule".into(), "inferred".into()],
            &cells,
            &mut std::io::stdout().lock(),
        )?;
    } else {
        let writing = Instant::now();
        let diff = write_inferred(&store, &closure)?;
        store.flush()?;
        let written = writing.elapsed();
        println!(
            "{} inferred triples in <{INFERRED_GRAPH}>: {} added, {} removed, {} unchanged",
            diff.total(),
            diff.added,
            diff.removed,
            diff.kept
        );
        if diff.left_out > 0 {
            println!(
                "{} inferred triples mention blank nodes, which a SPARQL endpoint cannot be asked about by name: not written",
                diff.left_out
            );
        }
        eprintln!(
            "time: read {:.2} s, reason {:.2} s, expand {:.2} s, write {:.2} s, total {:.2} s",
            (read_and_reason.as_secs_f64() - summary.seconds).max(0.0),
            summary.seconds,
            expanded.as_secs_f64(),
            written.as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
    }
    println!(
        "asserted {}, inferred {}, {} rounds, {:.2} s; {} inconsistenc{} (see `kgfuse check`)",
        summary.asserted,
        summary.inferred,
        summary.rounds,
        summary.seconds,
        summary.violations,
        if summary.violations == 1 { "y" } else { "ies" }
    );
    Ok(())
}
