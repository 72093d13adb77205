//! What several commands share: the BERT arguments, progress bars, output
//! files and opening a fused model folder. Commands import from here, never
//! from each other.

use std::path::{Path, PathBuf};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use oxigraph::model::NamedOrBlankNode;

use candle_core::Device;
use kgfuse::fusion::FusionModel;
use kgfuse::reason::{Profile, ReasonOptions, RoundProgress};
use kgfuse::store::Store;
use kgfuse::text::model_files::{self, ModelLocation};
use kgfuse::text::{parse_device, BertEncoder};

/// Which model to run and where: shared by every command that needs BERT.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// BERT checkpoint folder (config.json, model.safetensors, tokenizer.json).
    /// Default: KGFUSE_BERT_DIR, else the cache, fetching all-MiniLM-L6-v2 once.
    #[arg(long = "bert", value_name = "DIR", alias = "model-dir")]
    pub bert_dir: Option<PathBuf>,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

impl ModelArgs {
    /// The BERT encoder, fetching the default checkpoint first when it is
    /// the one asked for and not fetched yet.
    pub fn load(&self) -> kgfuse::Result<BertEncoder> {
        let dir = match model_files::locate(self.bert_dir.as_deref())? {
            ModelLocation::Found(dir) => dir,
            ModelLocation::NotFetched { cache } => {
                eprintln!(
                    "the default model {} is not in {}; fetching it once",
                    model_files::DEFAULT_MODEL,
                    cache.display()
                );
                model_files::fetch(&cache, &mut |m| eprintln!("{m}"))?
            }
        };
        BertEncoder::load(&dir, &self.device()?)
    }

    pub fn device(&self) -> kgfuse::Result<Device> {
        parse_device(&self.device)
    }
}

/// A progress bar on standard error (`len` None: a counter without a
/// total) drawn with `template`, one of our constant templates.
pub fn progress_bar(len: Option<usize>, template: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(len.map(|n| n as u64), ProgressDrawTarget::stderr());
    bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
    bar
}

/// A [`Loader`](kgfuse::store::Loader) that draws its progress as a bar
/// of bytes read on standard error, cleared when the indexes are written.
pub fn loader_with_bar<'a>(
    store: &'a Store,
    options: kgfuse::store::LoadOptions,
) -> kgfuse::store::Loader<'a> {
    let bar = progress_bar(
        None,
        "{spinner} [{elapsed_precise}] [{wide_bar}] {bytes}/{total_bytes} {msg}",
    );
    let sink = move |p: kgfuse::store::load::LoadProgress| {
        bar.set_length(p.total_bytes);
        bar.set_position(p.bytes_read);
        if p.writing_indexes {
            bar.finish_and_clear();
        } else {
            bar.set_message(format!(
                "{} quads, {:.0} quads/s",
                p.quads, p.quads_per_second
            ));
        }
    };
    kgfuse::store::Loader::new(store, options).with_progress(std::sync::Arc::new(sink))
}

/// Counts a finished epoch: on the bar when stderr is a terminal, else as
/// one line per epoch, so that logs of long runs show their progress.
pub fn epoch_done(bar: &ProgressBar, message: String) {
    bar.inc(1);
    if bar.is_hidden() {
        eprintln!(
            "epoch {}/{}: {message}",
            bar.position(),
            bar.length().unwrap_or(0)
        );
    } else {
        bar.set_message(message);
    }
}

/// A bar counting epochs (or folds) up to `epochs`.
pub fn epoch_progress(epochs: usize) -> ProgressBar {
    progress_bar(
        Some(epochs),
        "{spinner} epoch {pos}/{len} [{wide_bar}] {msg}",
    )
}

/// Rendered output (an explanation, answers) to the file, or to standard
/// output.
pub fn write_output(text: &str, out: Option<&Path>) -> Result<()> {
    match out {
        Some(path) => std::fs::write(path, text).map_err(|e| kgfuse::Error::io(path, e))?,
        None => print!("{text}"),
    }
    Ok(())
}

/// Opens a fused model folder over `store`, with BERT when the model reads text.
pub fn load_model(
    dir: &Path,
    store: &Store,
    entities: Option<&[NamedOrBlankNode]>,
    bert: &ModelArgs,
) -> Result<FusionModel> {
    Ok(FusionModel::open(
        dir,
        store,
        entities,
        || bert.load(),
        &bert.device()?,
    )?)
}

/// How to reason: for `reason` and `check`, and for the derivations that
/// `explain` and `ask` show.
#[derive(Debug, clap::Args)]
pub struct ReasonArgs {
    /// Rule set: rdfs or owl-rl.
    #[arg(long, default_value = "owl-rl", value_parser = ["rdfs", "owl-rl"])]
    pub profile: String,
    /// Stop with an error when asserted plus inferred triples exceed this.
    #[arg(long, default_value_t = ReasonOptions::default().max_triples)]
    pub max_triples: usize,
}

impl ReasonArgs {
    pub fn options(&self) -> ReasonOptions {
        ReasonOptions {
            // The value parser admits only names that parse.
            profile: Profile::parse(&self.profile).expect("checked by clap"),
            max_triples: self.max_triples,
        }
    }
}

/// Prints one line per rule round on stderr.
pub fn report_round(p: RoundProgress) {
    let rate = p.derived_triples as f64 / p.elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "round {:>3}: +{} new, {} in memory, {:.2} s ({rate:.0} derived triples/s)",
        p.round,
        p.new_triples,
        p.total_triples,
        p.elapsed.as_secs_f64()
    );
}
