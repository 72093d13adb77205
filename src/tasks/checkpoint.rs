//! Trained models as folders: `config.json` (every hyper-parameter and the
//! vocabularies), `model.safetensors` (the weights) and `metrics.json`.

use std::path::Path;

use candle_nn::VarMap;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::trainer::candle;
use crate::error::{Error, Result};

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
        .map_err(|e| Error::Model(format!("{}: {e}", weights.display())))
}

pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Model(format!("{}: {e}", path.display())))?;
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// Reads a model folder's `config.json`.
pub fn load_config<T: DeserializeOwned>(dir: &Path) -> Result<T> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::Model(format!(
            "{}: not a kgfuse model config: {e}",
            path.display()
        ))
    })
}

/// Loads the folder's weights into an already built variable map.
pub fn load_weights(dir: &Path, varmap: &mut VarMap) -> Result<()> {
    let path = dir.join("model.safetensors");
    if !path.is_file() {
        return Err(Error::Model(format!(
            "{}: no model.safetensors",
            dir.display()
        )));
    }
    varmap.load(&path).map_err(candle)
}
