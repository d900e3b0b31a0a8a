//! The `Vad` seam (speech probability per 32 ms chunk) and the turn detector built on it.

pub mod energy;
pub mod silero;
pub mod turn;

pub use turn::{TurnDetector, TurnEvent, VadConfig};

/// Samples per VAD chunk at 16 kHz (32 ms), what Silero v5 expects.
pub const VAD_CHUNK: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum VadError {
    #[error("VAD model missing: {0}")]
    ModelMissing(String),
    #[error("VAD inference failed: {0}")]
    Inference(String),
}

/// Voice activity detection: the probability that a chunk holds speech.
pub trait Vad: Send {
    fn name(&self) -> String;

    /// Speech probability in [0, 1] for the next `VAD_CHUNK` samples (16 kHz, f32 in [-1, 1]).
    fn probability(&mut self, chunk: &[f32]) -> Result<f32, VadError>;

    /// Forget all state (start of a new stream).
    fn reset(&mut self);
}
