//! Silero VAD v5 through ONNX Runtime: one speech probability per 32 ms chunk.
//!
//! The model is recurrent: each call feeds the previous chunk's last 64 samples plus 512 new ones
//! ([1, 576]) and carries a [2, 1, 128] state. One loaded model ([`SileroModel`]) is shared by all
//! sessions behind a mutex (a run takes well under a millisecond); each [`SileroVad`] keeps its own
//! state and context.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use ort::session::Session;
use ort::value::TensorRef;

use super::{Vad, VadError, VAD_CHUNK};
use crate::providers::models::{self, ModelError};

/// Samples of the previous chunk the model sees again in front of the new chunk.
pub const CONTEXT: usize = 64;
const SAMPLE_RATE: i64 = 16_000;
const STATE_LEN: usize = 2 * 128;

/// The loaded ONNX model, shareable across sessions.
pub struct SileroModel {
    session: Mutex<Session>,
    path: PathBuf,
}

impl SileroModel {
    /// The model file inside a models folder.
    pub fn path_in(models_dir: &Path) -> PathBuf {
        models_dir.join("silero").join("silero_vad.onnx")
    }

    /// Load `silero/silero_vad.onnx` from `models_dir`.
    pub fn load(models_dir: &Path) -> Result<Self, ModelError> {
        let path = Self::path_in(models_dir);
        models::require("Silero VAD model", &path)?;
        let session = models::load_session(&path, 1)?;
        log::info!("loaded Silero VAD from {}", path.display());
        Ok(Self {
            session: Mutex::new(session),
            path,
        })
    }

    /// The process-wide model from [`models::models_dir`], loaded on first use.
    pub fn shared() -> Result<Arc<Self>, ModelError> {
        static SHARED: OnceLock<Arc<SileroModel>> = OnceLock::new();
        if let Some(model) = SHARED.get() {
            return Ok(model.clone());
        }
        let model = Arc::new(Self::load(&models::models_dir())?);
        // Two threads may race to load; both results are equivalent, keep the first.
        Ok(SHARED.get_or_init(|| model).clone())
    }

    /// One step: `input` is [1, 576], `state` [2, 1, 128] is updated in place.
    fn run(&self, input: &[f32], state: &mut [f32]) -> Result<f32, VadError> {
        let err = |e: ort::Error| VadError::Inference(e.to_string());
        let sr = [SAMPLE_RATE];
        let inputs = ort::inputs! {
            "input" => TensorRef::from_array_view(([1usize, CONTEXT + VAD_CHUNK], input)).map_err(err)?,
            "state" => TensorRef::from_array_view(([2usize, 1, 128], &*state)).map_err(err)?,
            "sr" => TensorRef::from_array_view(((), &sr[..])).map_err(err)?,
        };
        let mut session = self
            .session
            .lock()
            .map_err(|_| VadError::Inference("VAD session lock poisoned".into()))?;
        let outputs = session.run(inputs).map_err(err)?;
        let (_, prob) = outputs["output"].try_extract_tensor::<f32>().map_err(err)?;
        let (_, next) = outputs["stateN"].try_extract_tensor::<f32>().map_err(err)?;
        if next.len() != STATE_LEN || prob.is_empty() {
            return Err(VadError::Inference(format!(
                "unexpected output sizes: state {}, probability {}",
                next.len(),
                prob.len()
            )));
        }
        state.copy_from_slice(next);
        Ok(prob[0])
    }
}

/// Per-session Silero VAD: a handle on the shared model plus this stream's state.
pub struct SileroVad {
    model: Arc<SileroModel>,
    state: Vec<f32>,
    /// Previous 64 samples followed by the current chunk.
    input: Vec<f32>,
}

impl SileroVad {
    /// A VAD on the process-wide model (loaded once from [`models::models_dir`]).
    pub fn new() -> Result<Self, ModelError> {
        Ok(Self::with_model(SileroModel::shared()?))
    }

    /// A VAD on a model loaded from `models_dir` (not shared with [`SileroVad::new`]).
    pub fn load(models_dir: &Path) -> Result<Self, ModelError> {
        Ok(Self::with_model(Arc::new(SileroModel::load(models_dir)?)))
    }

    /// A VAD on an already loaded model.
    pub fn with_model(model: Arc<SileroModel>) -> Self {
        Self {
            model,
            state: vec![0.0; STATE_LEN],
            input: vec![0.0; CONTEXT + VAD_CHUNK],
        }
    }
}

impl Vad for SileroVad {
    fn name(&self) -> String {
        format!("silero v5 ({})", self.model.path.display())
    }

    fn probability(&mut self, chunk: &[f32]) -> Result<f32, VadError> {
        if chunk.len() != VAD_CHUNK {
            return Err(VadError::Inference(format!(
                "Silero expects {VAD_CHUNK} samples per chunk, got {}",
                chunk.len()
            )));
        }
        self.input[CONTEXT..].copy_from_slice(chunk);
        let p = self.model.run(&self.input, &mut self.state)?;
        // This chunk's tail is the next call's context.
        self.input.copy_within(VAD_CHUNK.., 0);
        Ok(p)
    }

    fn reset(&mut self) {
        self.state.fill(0.0);
        self.input.fill(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Option<Arc<SileroModel>> {
        let dir = models::models_dir();
        if !SileroModel::path_in(&dir).exists() {
            eprintln!(
                "skipping: Silero model missing in {} ({})",
                dir.display(),
                models::SETUP_HINT
            );
            return None;
        }
        Some(SileroModel::shared().expect("model present but failed to load"))
    }

    #[test]
    fn wrong_chunk_length_is_an_error() {
        let Some(model) = model() else { return };
        let mut vad = SileroVad::with_model(model);
        assert!(vad.probability(&[0.0; 100]).is_err());
    }

    #[test]
    fn context_carries_the_previous_chunk_tail_and_reset_clears_it() {
        let Some(model) = model() else { return };
        let mut vad = SileroVad::with_model(model);
        let chunk: Vec<f32> = (0..VAD_CHUNK)
            .map(|i| (i as f32 * 0.01).sin() * 0.1)
            .collect();
        let first = vad.probability(&chunk).unwrap();
        assert_eq!(&vad.input[..CONTEXT], &chunk[VAD_CHUNK - CONTEXT..]);
        assert!(vad.state.iter().any(|&s| s != 0.0), "state should change");
        vad.reset();
        assert!(vad.state.iter().all(|&s| s == 0.0) && vad.input.iter().all(|&s| s == 0.0));
        // After a reset the same chunk gives the same answer as on a fresh stream.
        let again = vad.probability(&chunk).unwrap();
        assert!((first - again).abs() < 1e-6, "{first} vs {again}");
    }
}
