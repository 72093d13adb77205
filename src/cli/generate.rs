//! `kgfuse generate`: write synthetic domain data.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Result;

use kgfuse::generate::finance::{generate, write_turtle, FinanceConfig};

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
    println!("wrote {}\n{}", path.display(), graph.summary);
    Ok(())
}
