//! `kgfuse check`: report the inconsistencies the ontology detects.

use std::process::ExitCode;

use anyhow::Result;

use kgfuse::reason::reason_over_store;

use super::shared::{report_round, ReasonArgs};
use super::{Access, Context};

/// List the OWL 2 RL inconsistencies (cax-dw, cls-nothing2, prp-irp,
/// prp-asyp, prp-pdw, prp-npa1/2, cls-com, cls-maxc1, functional-property
/// clashes on literals, …) with the triples involved. Exits with 1 when
/// there is any.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:
  kgfuse check && echo consistent")]
pub struct Args {
    #[command(flatten)]
    options: ReasonArgs,
    /// Print the violations as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, ctx: &Context) -> Result<ExitCode> {
    let store = ctx.open(Access::ReadOnly)?;
    let closure = reason_over_store(&store, args.options.options(), report_round)?;
    for warning in closure.warnings() {
        eprintln!("warning: {warning}");
    }
    let violations = closure.violations();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&violations)?);
    } else {
        for v in &violations {
            print!("{v}");
        }
        println!(
            "{} inconsistenc{}",
            violations.len(),
            if violations.len() == 1 { "y" } else { "ies" }
        );
    }
    Ok(if violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
