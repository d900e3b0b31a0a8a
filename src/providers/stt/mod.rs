//! The `SpeechToText` seam. Audio in is always 16 kHz mono PCM16.

pub mod whisper;

use crate::foundation::cancel::CancelToken;

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

    /// A transcript made at a pause, on the guess that the caller has finished: less urgent
    /// than the final one for a model shared by many sessions. `Ok(None)` when `cancel` fired.
    fn transcribe_speculative(
        &mut self,
        audio: &[i16],
        _cancel: &CancelToken,
    ) -> Result<Option<String>, SttError> {
        self.transcribe(audio).map(Some)
    }

    /// As [`transcribe_speculative`](Self::transcribe_speculative), at the sound's own pause,
    /// before the voice detector has seen one: worth making only if it can start at once (a
    /// model shared by busy sessions gives `Ok(None)`, and the detector's pause transcribes).
    fn transcribe_early(
        &mut self,
        audio: &[i16],
        cancel: &CancelToken,
    ) -> Result<Option<String>, SttError> {
        self.transcribe_speculative(audio, cancel)
    }

    /// A partial transcript of an utterance still in progress, for display only. Providers that
    /// cannot do it cheaply return `Ok(None)`; the caller may abandon it via `cancel`.
    fn transcribe_partial(
        &mut self,
        _audio: &[i16],
        _cancel: &CancelToken,
    ) -> Result<Option<String>, SttError> {
        Ok(None)
    }

    /// True for providers that take the utterance frame by frame as it arrives
    /// ([`stream_audio`](Self::stream_audio), e.g. Deepgram). The caller then feeds every frame,
    /// skips `transcribe_partial` and speculative transcripts, and still calls `transcribe`
    /// with the whole utterance at the end of the turn (which sends only what is missing).
    fn is_streaming(&self) -> bool {
        false
    }

    /// Streaming providers: the next frame (20 ms, 16 kHz mono) of the utterance in progress.
    /// The first frame after `transcribe` or `discard_utterance` starts a new utterance.
    /// Returns the newest partial transcript when a new one has arrived.
    fn stream_audio(&mut self, _frame: &[i16]) -> Result<Option<String>, SttError> {
        Ok(None)
    }

    /// The utterance in progress was dropped (noise, too short): forget its audio.
    fn discard_utterance(&mut self) {}

    /// Streaming providers with their own endpointing: true once it says the caller has
    /// stopped speaking (Deepgram `speech_final` / `UtteranceEnd`) and nothing was heard since.
    fn speech_ended(&self) -> bool {
        false
    }
}

pub mod deepgram;
pub mod openai;
