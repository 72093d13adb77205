//! `kgfuse generate`: write synthetic domain data.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Result;

use kgfuse::generate::finance::{generate, write_turtle, CompanyTruth, FinanceConfig};

/// Generate a synthetic knowledge graph (see data/README.md for the process).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    domain: Domain,
}

#[derive(Debug, clap::Subcommand)]
enum Domain {
    /// Financial-risk graph over ontologies/risk.ttl: companies, owners,
    /// directors, jurisdictions, loans, sanctions, news with mentions, risk labels.
    #[command(after_help = "Example:
  kgfuse generate finance --companies 2000 --seed 7 --out /tmp/finance
  kgfuse load ontologies/ /tmp/finance/finance.ttl")]
    Finance {
        /// Number of companies.
        #[arg(long, default_value_t = FinanceConfig::default().companies)]
        companies: usize,
        /// Random seed; the same seed gives the same file, byte for byte.
        #[arg(long, default_value_t = FinanceConfig::default().seed)]
        seed: u64,
        /// Share of labels flipped at random.
        #[arg(long, default_value_t = FinanceConfig::default().label_noise)]
        label_noise: f64,
        /// Output folder; receives finance.ttl.
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(args: Args) -> Result<()> {
    let Domain::Finance {
        companies,
        seed,
        label_noise,
        out,
    } = args.domain;
    anyhow::ensure!(companies > 0, "--companies must be at least 1");
    anyhow::ensure!(
        (0.0..=0.5).contains(&label_noise),
        "--label-noise must be between 0 and 0.5"
    );
    let config = FinanceConfig {
        companies,
        seed,
        label_noise,
        ..FinanceConfig::default()
    };
    let graph = generate(&config);
    fs::create_dir_all(&out).map_err(|e| kgfuse::Error::io(out.clone(), e))?;
    let path = out.join("finance.ttl");
    let file = File::create(&path).map_err(|e| kgfuse::Error::io(path.clone(), e))?;
    let mut writer = BufWriter::new(file);
    write_turtle(&graph, &mut writer)?;
    writer.flush()?;
    let truth_path = out.join("truth.tsv");
    fs::write(&truth_path, truth_table(&graph.truth))
        .map_err(|e| kgfuse::Error::io(truth_path.clone(), e))?;
    println!(
        "wrote {} and the hidden factors behind each label to {}\n{}",
        path.display(),
        truth_path.display(),
        graph.summary
    );
    Ok(())
}

/// The hidden factors of each company, tab-separated with a header row:
/// what a diagnosis of a classifier compares its views with.
fn truth_table(truth: &[CompanyTruth]) -> String {
    let mut out = String::from(
        "company\tadverse_news\tsanctioned_control\toffshore_control\ttainted_director\tdefaulted_loan\texposed\tlabel_flipped\thigh_risk\n",
    );
    for t in truth {
        let e = &t.exposure;
        let flags = [
            t.adverse_news,
            e.sanctioned_control,
            e.offshore_control,
            e.tainted_director,
            e.defaulted_loan,
            e.any(),
            t.label_flipped,
            t.high_risk,
        ];
        out.push_str(t.iri.as_str());
        for flag in flags {
            out.push_str(if flag { "\t1" } else { "\t0" });
        }
        out.push('\n');
    }
    out
}
