//! Where the local models live and how ONNX Runtime is loaded.
//!
//! `make setup` (scripts/setup.sh) downloads and prepares everything under `models/`:
//! `onnxruntime/libonnxruntime.so.*`, `silero/`, `whisper-tiny.en/`, `piper/`, `reference/`.
//! ONNX Runtime is loaded at run time (ort's `load-dynamic`), once per process.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// Intra-op threads for the speech models (Whisper, Piper); 0 = not set.
static MODEL_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Most threads a model gets by default: these models are small, so more threads than this
/// mostly add synchronisation.
const MAX_DEFAULT_THREADS: usize = 4;

/// Set the intra-op threads of the speech models loaded after this call (`--model-threads`).
pub fn set_model_threads(threads: usize) {
    MODEL_THREADS.store(threads.max(1), Ordering::Relaxed);
}

/// The user's `--model-threads`, if given.
pub fn threads_override() -> Option<usize> {
    match MODEL_THREADS.load(Ordering::Relaxed) {
        0 => None,
        n => Some(n),
    }
}

/// Intra-op threads for Whisper and Piper when each session calls them itself (the shared
/// scheduler splits the cores between its lanes instead: `scheduler::Sizing`): as set by
/// [`set_model_threads`], else the machine's cores up to 4. Measured on 2 cores, 2 threads
/// against 1: Whisper on 3 s of speech 252 vs 332 ms, Piper's first audio for a 5-word clause 114 vs 180 ms. Stages rarely run models at
/// the same moment, and idle threads sleep (no spinning), so sharing the cores costs little.
pub fn model_threads() -> usize {
    match MODEL_THREADS.load(Ordering::Relaxed) {
        0 => std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_DEFAULT_THREADS),
        n => n,
    }
}

/// An ort session for `path` with `threads` intra-op threads, one inter-op thread and full
/// graph optimisation. Idle pool threads sleep instead of spinning: spinning threads of one
/// model steal the cores another stage needs (measured: Whisper 3 s 345 ms spinning, 252 not).
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
    let builder = builder
        .with_intra_op_spinning(false)
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
    fn model_threads_default_to_the_cores_up_to_four_and_can_be_set() {
        let default = model_threads();
        assert!((1..=MAX_DEFAULT_THREADS).contains(&default), "{default}");
        set_model_threads(3);
        assert_eq!(model_threads(), 3);
        set_model_threads(0);
        assert_eq!(model_threads(), 1, "at least one thread");
        set_model_threads(default);
    }

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
