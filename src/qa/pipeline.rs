//! Training runs end to end, as `kgfuse train qa` and the quickstart do
//! them: questions from files (or generated from the store) split, linked,
//! retrieved, read, trained on and measured. A run on files saves its split
//! beside the model (`split.json`), so that evaluation scores exactly the
//! questions training held out.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::compose::{compose_questions, Phrasebook};
use super::training::{calibrate, fit, measure, split, QaMetrics};
use super::{
    generate_questions, read_questions, EntityLinker, GenerateOptions, LabelledQuestion,
    PreparedQuestion, QaModel, Question, Retrieval, Step, Unprepared,
};
use crate::error::{Error, Result};
use crate::graph::resource_predicates;
use crate::store::Store;
use crate::tasks::trainer::{Checkpointing, EpochRecord, TrainReport, TrainerConfig};
use crate::text::BertEncoder;

/// Where a model folder keeps the split it was trained on.
pub const SPLIT_FILE: &str = "split.json";

/// How a question answerer is trained. `Default` holds the defaults of
/// `kgfuse train qa`.
#[derive(Debug, Clone)]
pub struct QaTrainOptions {
    pub retrieval: Retrieval,
    /// Hops of the full neighbourhood searched for the relation paths that
    /// label a training question (at most `retrieval.hops`).
    pub label_hops: usize,
    /// Questions composed for each hop count up to `retrieval.hops` that the
    /// training questions lack (at most; 0: none).
    pub compose: usize,
    /// Width between a hop's instruction and its relation scores.
    pub inner_dim: usize,
    pub trainer: TrainerConfig,
    pub batch_size: usize,
    /// Share of each question file kept for validation (early stopping, the
    /// answer threshold, the reported metrics).
    pub valid_fraction: f64,
}

impl Default for QaTrainOptions {
    fn default() -> Self {
        Self {
            retrieval: Retrieval {
                hops: 3,
                fanout: 100,
                beam: 1000,
            },
            label_hops: 2,
            compose: 5000,
            inner_dim: 256,
            trainer: TrainerConfig {
                epochs: 12,
                learning_rate: 0.003,
                patience: 3,
                warmup_epochs: 1,
                seed: 42,
                ..TrainerConfig::default()
            },
            batch_size: 64,
            valid_fraction: 0.1,
        }
    }
}

/// Where a run reports its events; called from several threads while
/// questions are prepared. An error stops the run.
pub type QaTrainEvents<'a> = dyn Fn(QaTrainEvent<'_>) -> Result<()> + Sync + 'a;

/// What a run reports as it goes.
pub enum QaTrainEvent<'a> {
    /// The store's vocabulary, before anything is trained.
    Vocabulary { labels: usize, relations: usize },
    /// Instance labels the training questions use as words, not topics.
    QuestionWords(&'a [String]),
    /// This many more questions linked, retrieved and read.
    Preparing(usize),
    /// Training questions linked, labelled with their relation paths and read.
    Prepared {
        questions: usize,
        failed: &'a [Unprepared],
        seconds: f64,
    },
    /// Questions composed for hop counts the training questions lack:
    /// `(hops, composed)` each, from `phrases` learned noun phrases.
    Composed {
        phrases: usize,
        per_hop: &'a [(usize, usize)],
        seconds: f64,
    },
    /// The sets training starts with.
    Sets {
        train: usize,
        answerable: usize,
        composed: usize,
        valid: usize,
    },
    /// Validation questions prepared with the trained model (guided retrieval).
    Validated { questions: usize, seconds: f64 },
    Epoch {
        record: &'a EpochRecord,
        improved: bool,
    },
}

/// One question file, split into training and validation questions.
pub struct QuestionFile {
    /// The file's name (without its folder), which the saved split keys on.
    pub name: String,
    pub questions: Vec<Question>,
    pub train: Vec<usize>,
    pub valid: Vec<usize>,
}

/// Reads MetaQA-format files, each cut to its first `limit` questions and
/// split with `valid_fraction` by `seed`.
pub fn read_question_files(
    paths: &[PathBuf],
    limit: Option<usize>,
    valid_fraction: f64,
    seed: u64,
) -> Result<Vec<QuestionFile>> {
    paths
        .iter()
        .map(|path| {
            let mut questions = read_questions(path)?;
            if let Some(n) = limit {
                questions.truncate(n);
            }
            let (train, valid) = split(questions.len(), valid_fraction, seed);
            Ok(QuestionFile {
                name: file_name(path),
                questions,
                train,
                valid,
            })
        })
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The validation questions of each file a model was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedSplit {
    pub files: Vec<SplitFile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitFile {
    pub name: String,
    /// Questions read from the file (after the run's limit).
    pub questions: usize,
    /// Indexes of the validation questions among them.
    pub valid: Vec<usize>,
}

impl SavedSplit {
    fn of(files: &[QuestionFile]) -> Self {
        Self {
            files: files
                .iter()
                .map(|f| SplitFile {
                    name: f.name.clone(),
                    questions: f.questions.len(),
                    valid: f.valid.clone(),
                })
                .collect(),
        }
    }

    /// The split saved in a model folder.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(SPLIT_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::model_folder(&path, format!("{}:{}: {e}", e.line(), e.column())))
    }

    fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(SPLIT_FILE);
        let text = serde_json::to_string_pretty(self).expect("a split serialises");
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
    }

    /// The questions of `file` that training held out. Fails when the model
    /// was not trained on a file of that name, or on one of another length
    /// (another file, or another limit).
    pub fn validation_of(&self, file: &QuestionFile) -> Result<Vec<usize>> {
        let saved = self
            .files
            .iter()
            .find(|f| f.name == file.name)
            .ok_or_else(|| {
                let names: Vec<&str> = self.files.iter().map(|f| f.name.as_str()).collect();
                Error::Data(format!(
                    "the model was not trained on a file named {} (it was trained on {}), so it held out none of its questions",
                    file.name,
                    names.join(", ")
                ))
            })?;
        if saved.questions != file.questions.len() {
            return Err(Error::Data(format!(
                "{} has {} questions here, but the model was trained on {} of that file: use the same file and the same limit",
                file.name,
                file.questions.len(),
                saved.questions
            )));
        }
        Ok(saved.valid.clone())
    }
}

/// What a run on question files measured.
#[derive(Debug, Serialize)]
pub struct FilesRun {
    pub training: TrainReport,
    /// Each file's validation metrics.
    pub validation: Vec<(String, QaMetrics)>,
    pub seconds: f64,
}

/// Trains a question answerer on the files' training questions, stops early
/// on their validation questions, and saves it with its metrics and split
/// into `out` (also its checkpoints while training; `resume_from` continues
/// a saved run).
pub fn train_on_files(
    store: &Store,
    bert: BertEncoder,
    files: &[QuestionFile],
    options: &QaTrainOptions,
    out: &Path,
    resume_from: Option<&Path>,
    events: &QaTrainEvents<'_>,
) -> Result<(QaModel, FilesRun)> {
    if store.is_empty()? {
        return Err(Error::Data(
            "the store is empty: load a knowledge base before training".into(),
        ));
    }
    let all: Vec<Question> = files.iter().flat_map(|f| f.questions.clone()).collect();
    // Global indexes of each file's train and validation questions.
    let mut offset = 0;
    let (mut train_ids, mut valid_ids, mut per_file) = (Vec::new(), Vec::new(), Vec::new());
    for f in files {
        train_ids.extend(f.train.iter().map(|i| offset + i));
        let valid: Vec<usize> = f.valid.iter().map(|i| offset + i).collect();
        valid_ids.extend(valid.iter().copied());
        per_file.push((f.name.clone(), valid));
        offset += f.questions.len();
    }
    let start = Instant::now();
    let checkpointing = Checkpointing {
        resume_from,
        save_to: Some(out),
    };
    let (model, prepared, training) = train(
        store,
        bert,
        &all,
        (&train_ids, &valid_ids),
        &valid_ids,
        options,
        checkpointing,
        events,
    )?;
    let seconds = start.elapsed().as_secs_f64();
    let mut validation = Vec::new();
    for (name, ids) in per_file {
        let m = measure(&model, ids.iter().map(|&i| prepared[i].as_ref()))?;
        validation.push((name, m));
    }
    let run = FilesRun {
        training,
        validation,
        seconds,
    };
    model.save(out, &run)?;
    SavedSplit::of(files).write(out)?;
    Ok((model, run))
}

/// What a run on generated questions measured.
pub struct GeneratedRun {
    /// The generated questions with their hop counts.
    pub questions: Vec<(usize, Question)>,
    /// Indexes of the test questions, which chose nothing.
    pub test: Vec<usize>,
    /// `(share, hops, metrics)` for the validation and test shares.
    pub metrics: Vec<(&'static str, usize, QaMetrics)>,
}

/// The quickstart's story: questions generated from the store's own
/// relations (templates, as MetaQA was made), 20 % held out for test, a
/// model trained on 80 % of the rest and early-stopped on the other 20 %,
/// measured per hop count on validation and test, saved into `out`.
pub fn train_on_generated(
    store: &Store,
    bert: BertEncoder,
    generate: GenerateOptions,
    options: &QaTrainOptions,
    out: &Path,
    events: &QaTrainEvents<'_>,
) -> Result<(QaModel, GeneratedRun)> {
    let generated = generate_questions(store, generate)?;
    let questions: Vec<Question> = generated.iter().map(|(_, q)| q.clone()).collect();
    let seed = options.trainer.seed;
    let (rest, test) = split(questions.len(), 0.2, seed);
    let (train_part, valid_part) = split(rest.len(), options.valid_fraction, seed + 1);
    let train_ids: Vec<usize> = train_part.iter().map(|&i| rest[i]).collect();
    let valid_ids: Vec<usize> = valid_part.iter().map(|&i| rest[i]).collect();
    let measured: Vec<usize> = valid_ids.iter().chain(&test).copied().collect();
    let (model, prepared, _) = train(
        store,
        bert,
        &questions,
        (&train_ids, &valid_ids),
        &measured,
        options,
        Checkpointing::default(),
        events,
    )?;
    let mut metrics = Vec::new();
    let mut saved = serde_json::Map::new();
    for (share, ids) in [("validation", &valid_ids), ("test", &test)] {
        let mut per_hop = Vec::new();
        for hops in [1, 2] {
            let chosen = ids.iter().filter(|&&i| generated[i].0 == hops);
            let m = measure(&model, chosen.map(|&i| prepared[i].as_ref()))?;
            per_hop.push((hops, m.clone()));
            metrics.push((share, hops, m));
        }
        saved.insert(share.to_owned(), serde_json::json!(per_hop));
    }
    model.save(out, &saved)?;
    Ok((
        model,
        GeneratedRun {
            questions: generated,
            test,
            metrics,
        },
    ))
}

/// The shared core: a fresh model over the store's relations learns the
/// question words of its training questions; training and validation
/// questions are labelled with their relation paths; questions are composed
/// for the hop counts training lacks; the model is trained, then the
/// `measured` questions (validation among them) are prepared with it and
/// the answer threshold calibrated on validation. Returns the prepared
/// questions by index (`None`: not measured or not linkable).
#[allow(clippy::too_many_arguments)]
fn train(
    store: &Store,
    bert: BertEncoder,
    questions: &[Question],
    (train_ids, valid_ids): (&[usize], &[usize]),
    measured: &[usize],
    options: &QaTrainOptions,
    checkpointing: Checkpointing,
    events: &QaTrainEvents<'_>,
) -> Result<(QaModel, Vec<Option<PreparedQuestion>>, TrainReport)> {
    let linker = EntityLinker::from_store(store)?;
    let relations = resource_predicates(store)?;
    events(QaTrainEvent::Vocabulary {
        labels: linker.label_count(),
        relations: relations.len(),
    })?;
    let mut model = QaModel::new(
        relations,
        bert,
        options.retrieval,
        options.inner_dim,
        options.trainer.clone(),
    )?;
    model.learn_question_words(&linker, train_ids.iter().map(|&i| &questions[i]));
    let mut words: Vec<String> = model.question_words.iter().cloned().collect();
    words.sort_unstable();
    events(QaTrainEvent::QuestionWords(&words))?;

    let start = Instant::now();
    let learned: Vec<usize> = train_ids.iter().chain(valid_ids).copied().collect();
    let asked: Vec<Question> = learned.iter().map(|&i| questions[i].clone()).collect();
    let label_hops = options.label_hops.clamp(1, options.retrieval.hops);
    let (labelled, failed) = model.label(store, &linker, &asked, label_hops, &|n| {
        // A progress report cannot fail the preparation.
        let _ = events(QaTrainEvent::Preparing(n));
    })?;
    let failed: Vec<Unprepared> = failed
        .into_iter()
        .map(|f| Unprepared {
            index: learned[f.index],
            reason: f.reason,
        })
        .collect();
    events(QaTrainEvent::Prepared {
        questions: asked.len(),
        failed: &failed,
        seconds: start.elapsed().as_secs_f64(),
    })?;
    let (train_part, valid_part) = labelled.split_at(train_ids.len());
    let train_set: Vec<&LabelledQuestion> = train_part.iter().flatten().collect();
    let valid_set: Vec<&LabelledQuestion> = valid_part.iter().flatten().collect();

    let start = Instant::now();
    let (composed, phrases, per_hop) = compose_missing_hops(store, &model, &train_set, options)?;
    events(QaTrainEvent::Composed {
        phrases,
        per_hop: &per_hop,
        seconds: start.elapsed().as_secs_f64(),
    })?;
    events(QaTrainEvent::Sets {
        train: train_set.len(),
        answerable: train_set.iter().filter(|q| !q.paths.is_empty()).count(),
        composed: composed.len(),
        valid: valid_set.len(),
    })?;
    let mut learning = train_set;
    learning.extend(composed.iter());
    let mut rng = ChaCha8Rng::seed_from_u64(options.trainer.seed);
    let report = fit(
        &mut model,
        &learning,
        &valid_set,
        options.batch_size,
        &mut rng,
        checkpointing,
        &mut |record, improved| events(QaTrainEvent::Epoch { record, improved }),
    )?;

    let start = Instant::now();
    let chosen: Vec<Question> = measured.iter().map(|&i| questions[i].clone()).collect();
    let (prepared_measured, _) = model.prepare(store, &linker, &chosen, &|_| {})?;
    let mut prepared: Vec<Option<PreparedQuestion>> = questions.iter().map(|_| None).collect();
    for (&i, q) in measured.iter().zip(prepared_measured) {
        prepared[i] = q;
    }
    let valid_prepared: Vec<&PreparedQuestion> = valid_ids
        .iter()
        .filter_map(|&i| prepared[i].as_ref())
        .collect();
    calibrate(&mut model, &valid_prepared)?;
    events(QaTrainEvent::Validated {
        questions: measured.len(),
        seconds: start.elapsed().as_secs_f64(),
    })?;
    Ok((model, prepared, report))
}

/// Composes questions for each hop count up to the model's most that no
/// training question has, as many as the average hop count has (at most
/// `options.compose`), from phrasings learned from the training questions
/// and walks from their topics. Returns them read, the number of noun
/// phrases learned, and `(hops, composed)` per hop count.
fn compose_missing_hops(
    store: &Store,
    model: &QaModel,
    train_set: &[&LabelledQuestion],
    options: &QaTrainOptions,
) -> Result<(Vec<LabelledQuestion>, usize, Vec<(usize, usize)>)> {
    let book = Phrasebook::learn(
        train_set
            .iter()
            .map(|q| (q.masked.as_str(), q.paths.as_slice())),
    );
    let mut per_length = vec![0usize; options.retrieval.hops + 1];
    for q in train_set {
        if let Some(p) = q.paths.first() {
            per_length[p.len()] += 1;
        }
    }
    let present: Vec<usize> = per_length.iter().copied().filter(|&n| n > 0).collect();
    let wanted = (present.iter().sum::<usize>() / present.len().max(1)).min(options.compose);
    let mut topics: Vec<_> = train_set
        .iter()
        .flat_map(|q| q.topics.iter().cloned())
        .collect();
    topics.sort_by_key(|t| t.to_string());
    topics.dedup();
    let steps: Vec<Step> = (0..model.config.relations as u32)
        .map(|r| model.step(r))
        .collect();
    let mut composed = Vec::new();
    let mut per_hop = Vec::new();
    for hops in 1..=options.retrieval.hops {
        if per_length[hops] > 0 || wanted == 0 {
            continue;
        }
        let made = compose_questions(
            store,
            &book,
            &steps,
            &topics,
            hops,
            wanted,
            options.trainer.seed + hops as u64,
        )?;
        per_hop.push((hops, made.len()));
        composed.extend(made);
    }
    Ok((model.read_composed(composed)?, book.phrase_count(), per_hop))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, n: usize) -> QuestionFile {
        let questions = (0..n)
            .map(|i| Question {
                text: format!("q{i}"),
                answers: vec![format!("a{i}")],
            })
            .collect();
        let (train, valid) = split(n, 0.25, 7);
        QuestionFile {
            name: name.into(),
            questions,
            train,
            valid,
        }
    }

    #[test]
    fn a_saved_split_gives_back_the_held_out_questions_and_refuses_other_files() {
        let files = [file("qa_1hop.txt", 20), file("qa_2hop.txt", 8)];
        let dir = tempfile::tempdir().unwrap();
        SavedSplit::of(&files).write(dir.path()).unwrap();
        let saved = SavedSplit::read(dir.path()).unwrap();
        assert_eq!(saved.validation_of(&files[0]).unwrap(), files[0].valid);
        assert_eq!(saved.validation_of(&files[1]).unwrap(), files[1].valid);
        assert_eq!(files[0].valid.len(), 5);
        let shorter = file("qa_1hop.txt", 10);
        let e = saved.validation_of(&shorter).unwrap_err().to_string();
        assert!(e.contains("10 questions here") && e.contains("20"), "{e}");
        let other = file("qa_3hop.txt", 20);
        let e = saved.validation_of(&other).unwrap_err().to_string();
        assert!(
            e.contains("qa_3hop.txt") && e.contains("qa_1hop.txt, qa_2hop.txt"),
            "{e}"
        );
    }
}
