//! Where the local models live and how ONNX Runtime is loaded.
//!
//! `make setup` (scripts/setup.sh) downloads and prepares everything under `models/`:
//! `onnxruntime/libonnxruntime.so.*`, `silero/`, `whisper-tiny.en/`, `piper/`, `reference/`.
//! ONNX Runtime is loaded at run time (ort's `load-dynamic`), once per process.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;

/// What to tell a user whose models are missing.
pub const SETUP_HINT: &str = "run `make setup` to download and prepare the models";

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{what} not found at {}: {SETUP_HINT}", path.display())]
    Missing { what: String, path: PathBuf },
    #[error("model runtime error: {0}")]
    Runtime(String),
}

/// The models folder: `$VOICE_AGENT_MODELS`, else `./models` when it exists, else the repository's
/// `models/` (compile-time path, so tests and examples find it from any working directory).
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VOICE_AGENT_MODELS") {
        if !dir.is_empty() {
            return PathBuf::from(dir);
        }
    }
    let local = PathBuf::from("models");
    if local.is_dir() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

/// `Missing` unless `path` exists.
pub fn require(what: &str, path: &Path) -> Result<(), ModelError> {
    if path.exists() {
        Ok(())
    } else {
        Err(ModelError::Missing {
            what: what.to_string(),
            path: path.to_path_buf(),
        })
    }
}

/// The ONNX Runtime shared library: `$ORT_DYLIB_PATH`, else `models/onnxruntime/libonnxruntime.so*`.
pub fn onnxruntime_path() -> Result<PathBuf, ModelError> {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        if !p.is_empty() {
            let path = PathBuf::from(p);
            require("ONNX Runtime library ($ORT_DYLIB_PATH)", &path)?;
            return Ok(path);
        }
    }
    let dir = models_dir().join("onnxruntime");
    let missing = || ModelError::Missing {
        what: "ONNX Runtime library (libonnxruntime.so*)".to_string(),
        path: dir.clone(),
    };
    let entries = std::fs::read_dir(&dir).map_err(|_| missing())?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libonnxruntime.so") || n == "libonnxruntime.dylib")
        })
        .collect();
    // Prefer the most specific name (the versioned file is the real one, not a symlink).
    found.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    found.into_iter().next().ok_or_else(missing)
}

static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();

fn environment() -> Result<Environment, ModelError> {
    if let Some(env) = ENVIRONMENT.get() {
        return env.clone().map_err(ModelError::Runtime);
    }
    // Looked up before the once-cell so that a missing library is reported (and not cached):
    // running `make setup` later in the same process then works.
    let path = onnxruntime_path()?;
    let env = ENVIRONMENT.get_or_init(|| {
        log::info!("loading ONNX Runtime from {}", path.display());
        let builder =
            ort::init_from(&path).map_err(|e| format!("loading {}: {e}", path.display()))?;
        builder
            .with_name("voice-agent")
            .with_telemetry(false)
            .build()
            .map_err(|e| e.to_string())
    });
    env.clone().map_err(ModelError::Runtime)
}

/// Load ONNX Runtime once per process (later calls are free).
pub fn init_ort() -> Result<(), ModelError> {
    environment().map(|_| ())
}

/// An ort session for `path` with `threads` intra-op threads (1 is right on a small machine
/// running several models), one inter-op thread and full graph optimisation.
pub fn load_session(path: &Path, threads: usize) -> Result<Session, ModelError> {
    require("model file", path)?;
    let env = environment()?;
    let rt = |e: String| ModelError::Runtime(format!("{}: {e}", path.display()));
    // The builder's error type carries the builder and is not Send/Sync: stringify it at once.
    let builder = Session::builder(&env).map_err(|e| rt(e.to_string()))?;
    let builder = builder
        .with_intra_threads(threads.max(1))
        .map_err(|e| rt(e.to_string()))?;
    let builder = builder
        .with_inter_threads(1)
        .map_err(|e| rt(e.to_string()))?;
    let mut builder = builder
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| rt(e.to_string()))?;
    builder
        .commit_from_file(path)
        .map_err(|e| rt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_error_names_the_setup_command() {
        let err = require("thing", Path::new("/definitely/not/here.onnx")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("make setup"), "{text}");
        assert!(text.contains("/definitely/not/here.onnx"), "{text}");
    }

    #[test]
    fn models_dir_is_never_empty() {
        assert!(!models_dir().as_os_str().is_empty());
    }
}
