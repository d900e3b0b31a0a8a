//! What can stop a bench run.

use std::path::PathBuf;

use crate::apps::server::ServerError;
use crate::foundation::audio::wav::WavError;
use crate::providers::session::ProviderError;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Providers(#[from] ProviderError),
    #[error(transparent)]
    Wav(#[from] WavError),
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error("speaking the caller's lines failed: {0}")]
    Tts(String),
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("no WAV files in {}", .0.display())]
    NoUtterances(PathBuf),
    #[error("pipeline stages failed: {0}")]
    Pipeline(String),
    #[error("model benchmark: {0}")]
    Model(String),
    #[error("simulated caller: {0}")]
    Client(String),
    #[error("/proc/self is not readable: memory figures need Linux")]
    NoProc,
}
