//! Trained models as folders: `config.json` (every hyper-parameter and the
//! vocabularies), `model.safetensors` (the weights) and `metrics.json`.

use std::path::Path;

use candle_nn::VarMap;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::safetensors_header::{read_header, HeaderError};

/// Writes the three files, creating the folder.
pub fn save(
    dir: &Path,
    config: &impl Serialize,
    varmap: &VarMap,
    metrics: &impl Serialize,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    write_json(&dir.join("config.json"), config)?;
    write_json(&dir.join("metrics.json"), metrics)?;
    let weights = dir.join("model.safetensors");
    varmap
        .save(&weights)
        .map_err(|e| Error::model_folder(&weights, e.to_string()))
}

pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::model_folder(&path, e.to_string()))?;
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// The kinds of model folder kgfuse writes, told apart by `config.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    FusedClassifier,
    GraphClassifier,
    QuestionAnswerer,
    LinkPredictor,
}

impl ModelKind {
    /// The value of `config.json`'s `kind` field (link predictors of earlier
    /// versions say `task`).
    pub fn tag(self) -> &'static str {
        match self {
            Self::FusedClassifier => "kgfuse-fused-classifier",
            Self::GraphClassifier => "kgfuse-graph-classifier",
            Self::QuestionAnswerer => "kgfuse-qa",
            Self::LinkPredictor => "linkpred",
        }
    }

    fn of_config(config: &serde_json::Value) -> Option<Self> {
        let field = |name: &str| config.get(name).and_then(serde_json::Value::as_str);
        [
            Self::FusedClassifier,
            Self::GraphClassifier,
            Self::QuestionAnswerer,
            Self::LinkPredictor,
        ]
        .into_iter()
        .find(|kind| field("kind") == Some(kind.tag()) || field("task") == Some(kind.tag()))
    }

    /// What the folder holds and which commands take it, for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::FusedClassifier => "a fused classifier (from `kgfuse train classify`; use it with `predict`, `explain`, `evaluate classify` or `query`)",
            Self::GraphClassifier => "a graph-only classifier (from `kgfuse train classify`, graph only; use it with `predict`, `explain` or `evaluate classify`)",
            Self::QuestionAnswerer => "a question answerer (from `kgfuse train qa`; use it with `ask` or `evaluate qa`)",
            Self::LinkPredictor => "a link predictor (from `kgfuse train linkpred`; use it with `evaluate linkpred`)",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::FusedClassifier => "a fused classifier",
            Self::GraphClassifier => "a graph-only classifier",
            Self::QuestionAnswerer => "a question answerer",
            Self::LinkPredictor => "a link predictor",
        }
    }
}

/// The kind of model a folder holds, from its `config.json`.
pub fn kind_of(dir: &Path) -> Result<ModelKind> {
    let (path, value) = config_value(dir)?;
    ModelKind::of_config(&value).ok_or_else(|| {
        Error::model_folder(
            &path,
            "not a kgfuse model config (no `kind` says what model it is)",
        )
    })
}

/// A folder's `config.json` as JSON, with its path.
fn config_value(dir: &Path) -> Result<(std::path::PathBuf, serde_json::Value)> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let value = serde_json::from_str(&text).map_err(|e| Error::ModelFolder {
        path: path.clone(),
        message: format!(
            "{}:{}: not a kgfuse model config: {e}",
            e.line(),
            e.column()
        ),
    })?;
    Ok((path, value))
}

/// Reads a model folder's `config.json`, after checking that the folder
/// holds a model of `kind` and complete weights, so that a wrong or broken
/// folder fails before any work is done.
pub fn load_config<T: DeserializeOwned>(dir: &Path, kind: ModelKind) -> Result<T> {
    let (path, value) = config_value(dir)?;
    match ModelKind::of_config(&value) {
        Some(found) if found == kind => {}
        Some(found) => {
            return Err(Error::model_folder(
                dir,
                format!("holds {}, not {}", found.describe(), kind.name()),
            ))
        }
        None => {
            return Err(Error::model_folder(
                &path,
                format!(
                    "not a kgfuse model config (no `kind` says what model it is); expected {}",
                    kind.describe()
                ),
            ))
        }
    }
    check_weights(dir)?;
    serde_json::from_value(value).map_err(|e| {
        Error::model_folder(
            &path,
            format!("a {} config that this kgfuse cannot read: {e}", kind.tag()),
        )
    })
}

/// Checks that `model.safetensors` exists and is as long as its header says,
/// without reading the tensors.
pub fn check_weights(dir: &Path) -> Result<()> {
    let path = dir.join("model.safetensors");
    let broken = |why: String| Error::model_folder(&path, format!("{why}; train the model again"));
    let header = read_header(&path).map_err(|e| match e {
        HeaderError::Io(e) => Error::io(&path, e),
        HeaderError::Broken(why) => broken(why),
    })?;
    if header.file_len < header.needed_len {
        return Err(broken(format!(
            "truncated ({} bytes; its tensors need {})",
            header.file_len, header.needed_len
        )));
    }
    Ok(())
}

/// Loads the folder's weights into an already built variable map.
pub fn load_weights(dir: &Path, varmap: &mut VarMap) -> Result<()> {
    let path = dir.join("model.safetensors");
    if !path.is_file() {
        return Err(Error::model_folder(&dir, "no model.safetensors"));
    }
    varmap.load(&path).map_err(Error::from)
}
