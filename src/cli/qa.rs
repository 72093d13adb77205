//! `kgfuse ask`, `kgfuse train qa` and `kgfuse evaluate qa`: questions in
//! natural language answered from the store, with paths and SPARQL.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};
use indicatif::ProgressBar;

use kgfuse::explain::qa::explain_answer;
use kgfuse::explain::{render, Derivations, ExplanationFormat};
use kgfuse::qa::pipeline::{
    read_question_files, train_on_files, QaTrainEvent, QaTrainOptions, SavedSplit,
};
use kgfuse::qa::training::{linking_accuracy, measure, QaMetrics};
use kgfuse::qa::{
    strip_brackets, AnswerSet, EntityLinker, PreparedQuestion, QaModel, Question, Retrieval,
};
use kgfuse::store::Store;
use kgfuse::tasks::trainer::TrainerConfig;

use super::shared::{ModelArgs, ReasonArgs};
use super::{Access, Context};

/// Answer questions from the store with a trained QA model.
///
/// The topic entity is the longest label of an instance of the store found
/// in the question (case- and accent-insensitive; classes and properties are
/// the question's words, not its topic). Brackets name entities explicitly,
/// any labelled term included. Each answer comes with the relation paths that
/// support it and, for each, the SPARQL query that returns it.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kgfuse ask --model kgfuse-quickstart/qa 'who controls Driftwood Digital Holdings AG'
  kgfuse --store metaqa ask --model models/metaqa 'who directed The Ice Storm'
  kgfuse --store metaqa ask --model models/metaqa --file questions.txt --format json
  kgfuse --store metaqa ask --model models/metaqa 'who directed [Heat]' --format html --out why.html")]
pub struct AskArgs {
    /// Questions (or use --file).
    questions: Vec<String>,
    /// One question a line (a tab and anything after it is ignored, so
    /// MetaQA files work); prints latency percentiles at the end.
    #[arg(long, conflicts_with = "questions")]
    file: Option<PathBuf>,
    /// Model folder from `kgfuse train qa`.
    #[arg(long)]
    model: PathBuf,
    /// Supporting paths shown per answer.
    #[arg(long, default_value_t = 3)]
    paths: usize,
    /// text or json: every answer; dot, turtle (PROV-O) or html: the
    /// explanation of one answer (--answer), as `kgfuse explain` writes them.
    #[arg(long, default_value = "text", value_parser = ["text", "json", "dot", "turtle", "html"])]
    format: String,
    /// Which answer (1 = the best) the dot, turtle and html formats explain.
    #[arg(long, default_value_t = 1)]
    answer: usize,
    /// Write to this file instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    bert: ModelArgs,
    /// The reasoning whose derivations inferred steps show (with the dot,
    /// turtle and html formats).
    #[command(flatten)]
    reason: ReasonArgs,
}

pub fn ask(args: AskArgs, ctx: &Context) -> Result<()> {
    let store = ctx.open(Access::ReadOnly)?;
    let model = QaModel::load(&args.model, args.bert.load()?, &store)?;
    let linker = EntityLinker::from_store(&store)?;
    let questions: Vec<String> = match &args.file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| kgfuse::Error::io(path, e))?
            .lines()
            .map(|l| l.split('\t').next().unwrap_or_default().trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect(),
        None => args.questions.clone(),
    };
    if questions.is_empty() {
        bail!("no question given: pass one or more, or --file FILE");
    }
    if !matches!(args.format.as_str(), "text" | "json") {
        if questions.len() != 1 {
            bail!(
                "--format {} explains one answer of one question; ask one question",
                args.format
            );
        }
        let set = model.answer(&store, &linker, &questions[0], args.paths)?;
        let explanation = explain_answer(
            &store,
            &set,
            args.answer.saturating_sub(1),
            &kgfuse::fusion::model_id(&args.model)?,
            &mut Derivations::on_demand(args.reason.options()),
        )?;
        let text = render(&explanation, ExplanationFormat::parse(&args.format)?)?;
        return super::shared::write_output(&text, args.out.as_deref());
    }
    let mut latencies = Vec::new();
    let mut failures = 0usize;
    let started = Instant::now();
    for question in &questions {
        let start = Instant::now();
        let result = model.answer(&store, &linker, question, args.paths);
        latencies.push(start.elapsed().as_secs_f64() * 1000.0);
        match result {
            Ok(set) if args.format == "json" => println!("{}", serde_json::to_string(&set)?),
            Ok(set) => print_answers(&set),
            Err(e) if questions.len() == 1 => return Err(e.into()),
            Err(e) => {
                failures += 1;
                eprintln!("error: {question}: {e}");
            }
        }
    }
    if questions.len() > 1 {
        latencies.sort_by(f64::total_cmp);
        let at = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
        eprintln!(
            "{} questions in {:.1} s ({:.1} questions/s); latency p50 {:.1} ms, p99 {:.1} ms; {} not answerable",
            questions.len(),
            started.elapsed().as_secs_f64(),
            questions.len() as f64 / started.elapsed().as_secs_f64(),
            at(0.5),
            at(0.99),
            failures
        );
    }
    if failures > 0 {
        bail!(
            "{failures} of {} questions had no linkable entity",
            questions.len()
        );
    }
    Ok(())
}

pub fn print_answers(set: &AnswerSet) {
    println!("Q: {}", set.question);
    for m in &set.mentions {
        let note = if m.candidates > 1 {
            format!(" (chosen by BERT among {} with this label)", m.candidates)
        } else {
            String::new()
        };
        println!("   entity {:?} -> {}{note}", m.text, m.entity);
    }
    if set.answers.is_empty() {
        println!(
            "   no answer: the subgraph ({} nodes) holds no candidate",
            set.subgraph_nodes
        );
    }
    for (i, a) in set.answers.iter().enumerate() {
        println!("{:>3}. {}  (score {:.3})", i + 1, a.label, a.score);
        for p in &a.paths {
            let mut line = format!("       {}", p.labels[0]);
            for (step, label) in p.path.steps.iter().zip(&p.labels[1..]) {
                let name = kgfuse::store::terms::compact_iri(step.predicate.as_str());
                if step.forward {
                    line.push_str(&format!(" --{name}--> {label}"));
                } else {
                    line.push_str(&format!(" <--{name}-- {label}"));
                }
            }
            println!("{line}   (weight {:.3})", p.path.weight);
            println!("       SPARQL: {}", p.path.sparql);
        }
    }
}

/// Arguments of `kgfuse train qa`.
#[derive(Debug, clap::Args)]
pub struct TrainQaArgs {
    /// Question files, `question with the [topic]<TAB>answer1|answer2` (MetaQA
    /// format): several after one flag, or the flag repeated (e.g. 1-hop and
    /// 2-hop); one model learns all.
    #[arg(long, required = true, num_args = 1..)]
    questions: Vec<PathBuf>,
    /// Model folder to write.
    #[arg(long)]
    out: PathBuf,
    /// Share of each file kept for validation (early stopping, the answer
    /// threshold, and the metrics printed at the end).
    #[arg(long, default_value_t = QaTrainOptions::default().valid_fraction)]
    valid_fraction: f64,
    /// Use only the first N questions of each file.
    #[arg(long)]
    limit: Option<usize>,
    /// The most hops of an answer (1 to 3); each question's own reading
    /// decides how many it takes.
    #[arg(long, default_value_t = QaTrainOptions::default().retrieval.hops)]
    hops: usize,
    /// Neighbours taken per expanded node, so hubs (a genre, a year) stay small.
    #[arg(long, default_value_t = QaTrainOptions::default().retrieval.fanout)]
    fanout: usize,
    /// Nodes a hop of a question's retrieval expands: the ones its relation
    /// weights reach most strongly.
    #[arg(long, default_value_t = QaTrainOptions::default().retrieval.beam)]
    beam: usize,
    /// Hops of the neighbourhood searched for the relation paths that label
    /// each training question (at most --hops).
    #[arg(long, default_value_t = QaTrainOptions::default().label_hops)]
    label_hops: usize,
    /// Questions composed (at most) for each hop count up to --hops that the
    /// files lack, from their own phrasings; 0 composes none.
    #[arg(long, default_value_t = QaTrainOptions::default().compose)]
    compose: usize,
    #[arg(long, default_value_t = QaTrainOptions::default().trainer.epochs)]
    epochs: usize,
    #[arg(long, default_value_t = QaTrainOptions::default().trainer.learning_rate)]
    lr: f64,
    #[arg(long, default_value_t = QaTrainOptions::default().batch_size)]
    batch_size: usize,
    /// Width between a hop's instruction and its relation scores.
    #[arg(long, default_value_t = QaTrainOptions::default().inner_dim)]
    inner_dim: usize,
    /// Epochs without a better validation path accuracy before stopping.
    #[arg(long, default_value_t = QaTrainOptions::default().trainer.patience)]
    patience: usize,
    #[arg(long, default_value_t = QaTrainOptions::default().trainer.seed)]
    seed: u64,
    /// Continue the run saved in this model folder.
    #[arg(long)]
    resume: Option<PathBuf>,
    #[command(flatten)]
    bert: ModelArgs,
}

impl TrainQaArgs {
    fn options(&self) -> QaTrainOptions {
        let defaults = QaTrainOptions::default();
        QaTrainOptions {
            retrieval: Retrieval {
                hops: self.hops,
                fanout: self.fanout,
                beam: self.beam,
            },
            label_hops: self.label_hops,
            compose: self.compose,
            inner_dim: self.inner_dim,
            trainer: TrainerConfig {
                epochs: self.epochs,
                learning_rate: self.lr,
                patience: self.patience,
                seed: self.seed,
                ..defaults.trainer
            },
            batch_size: self.batch_size,
            valid_fraction: self.valid_fraction,
        }
    }
}

/// Prints a training run's events: bars while preparing and training (one
/// line per epoch when standard error is not a terminal), counts between.
/// `training` counts the epochs; the caller clears it when training ends
/// (early stopping may end it before its last epoch).
pub(super) fn print_events(
    training: ProgressBar,
) -> impl Fn(QaTrainEvent<'_>) -> kgfuse::Result<()> + Sync {
    let preparing = super::shared::progress_bar(
        None,
        "{spinner} preparing questions {pos} [{elapsed_precise}] {per_sec}",
    );
    move |event| {
        match event {
            QaTrainEvent::Vocabulary { labels, relations } => {
                eprintln!("{labels} labels, {relations} relations in the store")
            }
            QaTrainEvent::QuestionWords(words) => eprintln!(
                "{} labels the training questions use as words, not topics (passed over without brackets){}{}",
                words.len(),
                if words.is_empty() { "" } else { ": " },
                words[..words.len().min(20)].join(", ")
            ),
            QaTrainEvent::Preparing(n) => preparing.inc(n as u64),
            QaTrainEvent::Prepared {
                questions,
                failed,
                seconds,
            } => {
                preparing.finish_and_clear();
                eprintln!(
                    "labelled {questions} questions in {seconds:.1} s (link, retrieve, relation paths, BERT); {} not linkable{}",
                    failed.len(),
                    failed.first().map_or(String::new(), |f| format!(
                        ", e.g. line {}: {}",
                        f.index + 1,
                        f.reason
                    ))
                );
            }
            QaTrainEvent::Composed {
                phrases,
                per_hop,
                seconds,
            } => {
                for (hops, n) in per_hop {
                    eprintln!(
                        "composed {n} {hops}-hop questions from {phrases} learned phrases in {seconds:.1} s"
                    );
                }
            }
            QaTrainEvent::Sets {
                train,
                answerable,
                composed,
                valid,
            } => eprintln!(
                "{train} training questions ({answerable} with a relation path to an answer) and {composed} composed; {valid} validation"
            ),
            QaTrainEvent::Validated { questions, seconds } => eprintln!(
                "prepared {questions} questions to measure in {seconds:.1} s (link, BERT, guided retrieval)"
            ),
            QaTrainEvent::Epoch { record, improved } => {
                super::shared::epoch_done(
                    &training,
                    format!(
                        "loss {:.4}, valid path accuracy {:.4}{}",
                        record.loss,
                        record.metric.unwrap_or(f64::NAN),
                        if improved { " *" } else { "" }
                    ),
                );
            }
        }
        Ok(())
    }
}

pub fn train_qa(a: TrainQaArgs, ctx: &Context) -> Result<()> {
    let store = ctx.open(Access::ReadOnly)?;
    let options = a.options();
    let files = read_question_files(&a.questions, a.limit, options.valid_fraction, a.seed)?;
    let bar = super::shared::epoch_progress(options.trainer.epochs);
    let trained = train_on_files(
        &store,
        a.bert.load()?,
        &files,
        &options,
        &a.out,
        a.resume.as_deref(),
        &print_events(bar.clone()),
    );
    bar.finish_and_clear();
    let (model, run) = trained?;
    println!(
        "trained in {:.1} s ({:.1} s/epoch, {} epochs, best {}); answer threshold {:.2}",
        run.seconds,
        run.seconds / run.training.history.len().max(1) as f64,
        run.training.history.len(),
        run.training.best_epoch,
        model.threshold
    );
    for (name, m) in &run.validation {
        print_metrics(&format!("{name} (validation)"), m);
    }
    println!("model written to {}", a.out.display());
    Ok(())
}

/// Links, retrieves and reads questions with a progress bar.
fn prepare(
    model: &QaModel,
    store: &Store,
    linker: &EntityLinker,
    questions: &[Question],
) -> Result<Vec<Option<PreparedQuestion>>> {
    let bar = super::shared::progress_bar(
        Some(questions.len()),
        "{spinner} preparing questions {pos}/{len} [{wide_bar}] {eta}",
    );
    let (prepared, failed) = model.prepare(store, linker, questions, &|n| bar.inc(n as u64))?;
    bar.finish_and_clear();
    if let Some(f) = failed.first() {
        eprintln!(
            "{} of {} questions not linkable, e.g. line {}: {}",
            failed.len(),
            questions.len(),
            f.index + 1,
            f.reason
        );
    }
    Ok(prepared)
}

pub(super) fn print_metrics(name: &str, m: &QaMetrics) {
    println!(
        "{name}: {} questions  Hits@1 {:.2} %  (reachable {:.2} %, Hits@1 over reachable {:.2} %, missed on a tie {:.2} %)  answer set P {:.3} R {:.3} F1 {:.3}",
        m.questions,
        100.0 * m.hits_at_1,
        100.0 * m.reachable,
        100.0 * m.hits_at_1_reachable,
        100.0 * m.tied_misses,
        m.precision,
        m.recall,
        m.f1
    );
}

/// Arguments of `kgfuse evaluate qa`.
#[derive(Debug, clap::Args)]
pub struct EvaluateQaArgs {
    /// Model folder from `kgfuse train qa`.
    #[arg(long)]
    model: PathBuf,
    /// Question files (MetaQA format), several after one flag or the flag
    /// repeated; one line of metrics each.
    #[arg(long, required = true, num_args = 1..)]
    questions: Vec<PathBuf>,
    /// Only the questions training held out (the split saved in the model
    /// folder; give the files and --limit training had).
    #[arg(long)]
    valid_only: bool,
    #[arg(long)]
    limit: Option<usize>,
    /// Ask each question with its brackets removed, as a user types it, so
    /// that the topic is linked from the text alone; also prints the linking
    /// accuracy (the share linked to exactly the bracketed entities).
    #[arg(long)]
    strip_brackets: bool,
    #[command(flatten)]
    bert: ModelArgs,
}

pub fn evaluate_qa(a: EvaluateQaArgs, ctx: &Context) -> Result<()> {
    let store = ctx.open(Access::ReadOnly)?;
    let model = QaModel::load(&a.model, a.bert.load()?, &store)?;
    let linker = EntityLinker::from_store(&store)?;
    let split = match a.valid_only {
        true => Some(SavedSplit::read(&a.model)?),
        false => None,
    };
    for f in read_question_files(&a.questions, a.limit, 0.0, 0)? {
        let chosen: Vec<Question> = if let Some(split) = &split {
            let valid = split.validation_of(&f)?;
            valid.iter().map(|&i| f.questions[i].clone()).collect()
        } else {
            f.questions.clone()
        };
        let asked: Vec<Question> = if a.strip_brackets {
            chosen
                .iter()
                .map(|q| Question {
                    text: strip_brackets(&q.text),
                    answers: q.answers.clone(),
                })
                .collect()
        } else {
            chosen.clone()
        };
        let start = Instant::now();
        let prepared = prepare(&model, &store, &linker, &asked)?;
        let m = measure(&model, prepared.iter().map(Option::as_ref))?;
        let seconds = start.elapsed().as_secs_f64();
        let name = if a.strip_brackets {
            format!("{} (brackets removed)", f.name)
        } else {
            f.name.clone()
        };
        print_metrics(&name, &m);
        if a.strip_brackets {
            let l = linking_accuracy(&linker, &chosen, &prepared);
            println!(
                "   linking accuracy {:.2} % ({} of {} questions linked to exactly their bracketed entity)",
                100.0 * l.accuracy(),
                l.correct,
                l.questions
            );
        }
        println!(
            "   {:.1} questions/s end to end ({seconds:.1} s)",
            chosen.len() as f64 / seconds
        );
    }
    Ok(())
}
