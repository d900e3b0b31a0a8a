//! Fallbacks for cloud providers: when a remote service fails mid-call, the local model takes
//! over (when installed), so the caller hears an apology and the call goes on.

use crate::foundation::cancel::CancelToken;
use crate::providers::stt::{SpeechToText, SttError};
use crate::providers::tts::{TextToSpeech, TtsError};

/// Said once when the voice switches to the local one.
pub const VOICE_APOLOGY: &str =
    "Sorry, my voice service is having trouble, so I'm switching to my backup voice.";

/// A remote speech-to-text with a local one behind it.
pub struct FallbackStt {
    primary: Box<dyn SpeechToText>,
    fallback: Box<dyn SpeechToText>,
}

impl FallbackStt {
    pub fn new(primary: Box<dyn SpeechToText>, fallback: Box<dyn SpeechToText>) -> Self {
        Self { primary, fallback }
    }
}

impl SpeechToText for FallbackStt {
    fn name(&self) -> String {
        format!(
            "{} (fallback: {})",
            self.primary.name(),
            self.fallback.name()
        )
    }

    fn transcribe(&mut self, audio: &[i16]) -> Result<String, SttError> {
        self.primary.transcribe(audio).or_else(|e| {
            log::error!("{e}; transcribing this turn with {}", self.fallback.name());
            self.fallback.transcribe(audio)
        })
    }

    fn transcribe_partial(
        &mut self,
        audio: &[i16],
        cancel: &CancelToken,
    ) -> Result<Option<String>, SttError> {
        self.primary.transcribe_partial(audio, cancel)
    }

    fn is_streaming(&self) -> bool {
        self.primary.is_streaming()
    }

    fn stream_audio(&mut self, frame: &[i16]) -> Result<Option<String>, SttError> {
        self.primary.stream_audio(frame)
    }

    fn discard_utterance(&mut self) {
        self.primary.discard_utterance()
    }

    fn speech_ended(&self) -> bool {
        self.primary.speech_ended()
    }
}

/// A remote voice with the local one behind it: after the first failure the rest of the call is
/// spoken locally, starting with an apology and the text that failed.
pub struct FallbackTts {
    primary: Box<dyn TextToSpeech>,
    fallback: Box<dyn TextToSpeech>,
    failed: bool,
}

impl FallbackTts {
    pub fn new(primary: Box<dyn TextToSpeech>, fallback: Box<dyn TextToSpeech>) -> Self {
        Self {
            primary,
            fallback,
            failed: false,
        }
    }
}

impl TextToSpeech for FallbackTts {
    fn name(&self) -> String {
        format!(
            "{} (fallback: {})",
            self.primary.name(),
            self.fallback.name()
        )
    }

    fn synthesize(
        &mut self,
        text: &str,
        cancel: &CancelToken,
        on_audio: &mut dyn FnMut(&[i16]),
    ) -> Result<(), TtsError> {
        if !self.failed {
            let mut produced = false;
            let r = self.primary.synthesize(text, cancel, &mut |pcm| {
                produced = true;
                on_audio(pcm)
            });
            match r {
                Ok(()) => return Ok(()),
                Err(e) => {
                    log::error!("{e}; speaking with {} from now on", self.fallback.name());
                    self.failed = true;
                    self.fallback.synthesize(VOICE_APOLOGY, cancel, on_audio)?;
                    if produced {
                        // Part of the text was heard already; the apology covers the cut.
                        return Ok(());
                    }
                }
            }
        }
        self.fallback.synthesize(text, cancel, on_audio)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing::{ScriptedStt, ToneTts};

    struct Broken;
    impl SpeechToText for Broken {
        fn name(&self) -> String {
            "broken".into()
        }
        fn transcribe(&mut self, _a: &[i16]) -> Result<String, SttError> {
            Err(SttError::Service("HTTP 429".into()))
        }
    }
    impl TextToSpeech for Broken {
        fn name(&self) -> String {
            "broken".into()
        }
        fn synthesize(
            &mut self,
            _t: &str,
            _c: &CancelToken,
            _o: &mut dyn FnMut(&[i16]),
        ) -> Result<(), TtsError> {
            Err(TtsError::Service("HTTP 401".into()))
        }
    }

    #[test]
    fn a_failing_remote_stt_is_replaced_for_that_turn() {
        let mut s = FallbackStt::new(
            Box::new(Broken),
            Box::new(ScriptedStt::new(&["local words"])),
        );
        assert_eq!(s.transcribe(&[0; 1600]).unwrap(), "local words");
    }

    #[test]
    fn a_failing_remote_voice_apologises_then_speaks_locally_for_good() {
        let local = ToneTts::default();
        let spoken = local.spoken.clone();
        let mut t = FallbackTts::new(Box::new(Broken), Box::new(local));
        let mut n = 0;
        t.synthesize(
            "Your appointment is booked.",
            &CancelToken::never(),
            &mut |p| n += p.len(),
        )
        .unwrap();
        t.synthesize("Anything else?", &CancelToken::never(), &mut |p| {
            n += p.len()
        })
        .unwrap();
        assert!(n > 0);
        assert_eq!(
            *spoken.lock().unwrap(),
            vec![
                VOICE_APOLOGY.to_string(),
                "Your appointment is booked.".into(),
                "Anything else?".into()
            ]
        );
    }
}
