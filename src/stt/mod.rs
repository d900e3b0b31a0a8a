//! The `SpeechToText` seam. Audio in is always 16 kHz mono PCM16.

use crate::pipeline::generation::CancelToken;

#[derive(Debug, thiserror::Error)]
pub enum SttError {
    #[error("speech model missing: {0}")]
    ModelMissing(String),
    #[error("speech-to-text inference failed: {0}")]
    Inference(String),
    #[error("speech-to-text service error: {0}")]
    Service(String),
}

/// Turns one caller utterance into text.
pub trait SpeechToText: Send {
    /// A short name stated at start-up ("whisper tiny.en", "deepgram nova-3").
    fn name(&self) -> String;

    /// The final transcript of a whole utterance (16 kHz mono). Silence gives an empty string.
    fn transcribe(&mut self, audio: &[i16]) -> Result<String, SttError>;

    /// A partial transcript of an utterance still in progress, for display only. Providers that
    /// cannot do it cheaply return `Ok(None)`; the caller may abandon it via `cancel`.
    fn transcribe_partial(
        &mut self,
        _audio: &[i16],
        _cancel: &CancelToken,
    ) -> Result<Option<String>, SttError> {
        Ok(None)
    }
}
