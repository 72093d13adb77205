//! `kgfuse embed`: sentence and span embeddings from the text encoder.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use indicatif::ProgressBar;

use kgfuse::text::SpanInput;

use super::shared::ModelArgs;

/// Embed texts: one L2-normalised sentence vector per text and, with
/// --spans, a vector per character span (mean of the span's tokens).
///
/// With --file, each line is a text, optionally followed by a tab and its
/// spans (`START:END,START:END`, character offsets, end exclusive).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kgfuse embed 'Acme Holdings defaulted on its loan' --spans 0:13
  kgfuse embed --file questions.txt --format npy --out questions.npy
  kgfuse embed 'who directed The Ice Storm' --bert ./my-bert --device cuda")]
pub struct Args {
    /// Texts to embed.
    #[arg(conflicts_with = "file")]
    texts: Vec<String>,
    /// Read texts from a file, one per line (- for stdin).
    #[arg(long)]
    file: Option<PathBuf>,
    /// Character spans for every inline text: START:END,…
    #[arg(long, value_delimiter = ',', conflicts_with = "file")]
    spans: Vec<String>,
    /// Output: json (texts, vectors, spans) or npy (the sentence matrix, float32).
    #[arg(long, default_value = "json", value_parser = ["json", "npy"])]
    format: String,
    /// Write to a file instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Texts per forward pass.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Longest input in tokens (default: the model's, 256 for all-MiniLM-L6-v2).
    #[arg(long)]
    max_length: Option<usize>,
    #[command(flatten)]
    model: ModelArgs,
}

fn parse_spans(items: &[impl AsRef<str>]) -> Result<Vec<(usize, usize)>> {
    items
        .iter()
        .map(|item| {
            let item = item.as_ref().trim();
            let (a, b) = item
                .split_once(':')
                .with_context(|| format!("span {item:?}: expected START:END"))?;
            let (a, b): (usize, usize) = (
                a.parse()
                    .with_context(|| format!("span {item:?}: START is not a number"))?,
                b.parse()
                    .with_context(|| format!("span {item:?}: END is not a number"))?,
            );
            if a >= b {
                bail!("span {item:?}: START must be below END");
            }
            Ok((a, b))
        })
        .collect()
}

fn read_inputs(args: &Args) -> Result<Vec<SpanInput>> {
    if let Some(path) = &args.file {
        let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
            Box::new(BufReader::new(std::io::stdin()))
        } else {
            Box::new(BufReader::new(
                File::open(path).map_err(|e| kgfuse::Error::io(path.clone(), e))?,
            ))
        };
        let mut inputs = Vec::new();
        for (n, line) in reader.lines().enumerate() {
            let line = line.with_context(|| format!("{}:{}", path.display(), n + 1))?;
            let (text, spans) = match line.split_once('\t') {
                Some((text, spans)) => {
                    let items: Vec<&str> =
                        spans.split(',').filter(|s| !s.trim().is_empty()).collect();
                    (
                        text.to_owned(),
                        parse_spans(&items)
                            .with_context(|| format!("{}:{}", path.display(), n + 1))?,
                    )
                }
                None => (line, Vec::new()),
            };
            inputs.push(SpanInput { text, spans });
        }
        return Ok(inputs);
    }
    if args.texts.is_empty() {
        bail!("no text given: pass texts as arguments or --file FILE");
    }
    let spans = parse_spans(&args.spans)?;
    Ok(args
        .texts
        .iter()
        .map(|t| SpanInput {
            text: t.clone(),
            spans: spans.clone(),
        })
        .collect())
}

pub fn run(args: Args) -> Result<()> {
    let inputs = read_inputs(&args)?;
    let mut encoder = args.model.load()?;
    if let Some(max) = args.max_length {
        encoder.set_max_length(max)?;
    }
    let bar = if args.file.is_some() {
        super::shared::progress_bar(
            Some(inputs.len()),
            "{spinner} [{elapsed_precise}] [{wide_bar}] {pos}/{len} texts {per_sec}",
        )
    } else {
        ProgressBar::hidden()
    };
    let start = Instant::now();
    let embeddings = encoder.embed(&inputs, args.batch_size, |n| bar.inc(n as u64))?;
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    if args.file.is_some() {
        eprintln!(
            "embedded {} texts in {seconds:.2} s ({:.1} sentences/s)",
            inputs.len(),
            inputs.len() as f64 / seconds
        );
    }
    if embeddings.truncated > 0 {
        eprintln!(
            "warning: {} text(s) longer than {} tokens were truncated",
            embeddings.truncated,
            encoder.max_length()
        );
    }
    for issue in &embeddings.issues {
        eprintln!(
            "warning: text {} span {}: {}",
            issue.text + 1,
            issue.span + 1,
            issue.reason
        );
    }
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).map_err(|e| kgfuse::Error::io(path.clone(), e))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    if args.format == "npy" {
        kgfuse::text::npy::write_f32_matrix(
            &mut out,
            &embeddings.sentences,
            encoder.hidden_size(),
        )?;
    } else {
        serde_json::to_writer(&mut out, &embeddings.to_json(&inputs))?;
        writeln!(out)?;
    }
    out.flush()?;
    Ok(())
}
