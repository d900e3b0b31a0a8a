//! The `TextToSpeech` seam. Audio out is always 24 kHz mono PCM16.

use crate::foundation::cancel::CancelToken;
use crate::foundation::urgency::Urgency;

#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    #[error("voice model missing: {0}")]
    ModelMissing(String),
    #[error("speech synthesis failed: {0}")]
    Synthesis(String),
    #[error("speech service error: {0}")]
    Service(String),
}

/// Speaks one chunk of text.
pub trait TextToSpeech: Send {
    /// A short name stated at start-up ("piper en_US-joe-medium", "elevenlabs").
    fn name(&self) -> String;

    /// Synthesize `text`, handing 24 kHz mono PCM16 pieces to `on_audio` as soon as they exist.
    /// Returns early (Ok) once `cancel` fires. Text with nothing speakable gives no audio.
    fn synthesize(
        &mut self,
        text: &str,
        cancel: &CancelToken,
        on_audio: &mut dyn FnMut(&[i16]),
    ) -> Result<(), TtsError>;

    /// As [`synthesize`](Self::synthesize), for a reply whose need `urgency` tells: a voice
    /// shared by many sessions serves the most urgent first; others ignore it.
    fn synthesize_as(
        &mut self,
        _urgency: &Urgency,
        text: &str,
        cancel: &CancelToken,
        on_audio: &mut dyn FnMut(&[i16]),
    ) -> Result<(), TtsError> {
        self.synthesize(text, cancel, on_audio)
    }
}

pub mod elevenlabs;
pub mod espeak;
pub mod normalize;
pub mod openai;
pub mod phrases;
pub mod piper;
