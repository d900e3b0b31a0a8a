//! Phrases an agent says again and again ("Let me check." before every lookup), kept as audio
//! once made: such a sentence costs no synthesis, so the first words after the caller stops
//! come out at once. Only the phrases named up front are kept, never what a caller's turn made
//! of their own details, and one cache serves one voice (sessions of a server share it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{TextToSpeech, TtsError};
use crate::foundation::cancel::CancelToken;
use crate::foundation::urgency::Urgency;

/// Cached audio is handed on in pieces this long (100 ms at 24 kHz), so a barge-in stops it
/// between two of them as it would a synthesis.
const PIECE: usize = 2_400;

/// The audio of a fixed set of phrases in one voice, made on first use (or by [`warm`]).
///
/// [`warm`]: PhraseCache::warm
#[derive(Clone, Default)]
pub struct PhraseCache {
    phrases: Arc<Vec<String>>,
    audio: Arc<Mutex<HashMap<String, Arc<[i16]>>>>,
}

impl PhraseCache {
    /// A cache for exactly these phrases (compared after trimming).
    pub fn new(phrases: &[&str]) -> Self {
        Self {
            phrases: Arc::new(phrases.iter().map(|p| p.trim().to_string()).collect()),
            audio: Arc::default(),
        }
    }

    fn key(&self, text: &str) -> Option<String> {
        let t = text.trim();
        self.phrases.iter().any(|p| p == t).then(|| t.to_string())
    }

    fn get(&self, key: &str) -> Option<Arc<[i16]>> {
        self.audio.lock().ok()?.get(key).cloned()
    }

    fn put(&self, key: String, pcm: Vec<i16>) {
        if let Ok(mut a) = self.audio.lock() {
            a.insert(key, pcm.into());
        }
    }

    /// Phrases whose audio is kept now.
    pub fn len(&self) -> usize {
        self.audio.lock().map_or(0, |a| a.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Make every phrase's audio now with `tts` (at start-up, before the first caller waits
    /// on it). A phrase that fails is made on first use instead.
    pub fn warm(&self, tts: &mut dyn TextToSpeech) {
        for phrase in self.phrases.iter() {
            let mut pcm = Vec::new();
            match tts.synthesize(phrase, &CancelToken::never(), &mut |c| {
                pcm.extend_from_slice(c)
            }) {
                Ok(()) if !pcm.is_empty() => self.put(phrase.clone(), pcm),
                Ok(()) => {}
                Err(e) => log::warn!("could not make the phrase {phrase:?} ahead: {e}"),
            }
        }
    }
}

/// A voice that says the cache's phrases from memory and everything else as `inner` does.
pub struct CachedTts {
    inner: Box<dyn TextToSpeech>,
    cache: PhraseCache,
}

impl CachedTts {
    pub fn new(inner: Box<dyn TextToSpeech>, cache: PhraseCache) -> Self {
        Self { inner, cache }
    }

    fn speak(
        &mut self,
        urgency: Option<&Urgency>,
        text: &str,
        cancel: &CancelToken,
        on_audio: &mut dyn FnMut(&[i16]),
    ) -> Result<(), TtsError> {
        let key = self.cache.key(text);
        if let Some(pcm) = key.as_deref().and_then(|k| self.cache.get(k)) {
            for piece in pcm.chunks(PIECE) {
                if cancel.is_cancelled() {
                    break;
                }
                on_audio(piece);
            }
            return Ok(());
        }
        let mut made = Vec::new();
        let keep = key.is_some();
        let mut out = |c: &[i16]| {
            if keep {
                made.extend_from_slice(c);
            }
            on_audio(c)
        };
        match urgency {
            Some(u) => self.inner.synthesize_as(u, text, cancel, &mut out)?,
            None => self.inner.synthesize(text, cancel, &mut out)?,
        }
        // Only a whole phrase is kept: a cancelled one stopped part-way.
        if let Some(k) = key.filter(|_| !cancel.is_cancelled() && !made.is_empty()) {
            self.cache.put(k, made);
        }
        Ok(())
    }
}

impl TextToSpeech for CachedTts {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn synthesize(
        &mut self,
        text: &str,
        cancel: &CancelToken,
        on_audio: &mut dyn FnMut(&[i16]),
    ) -> Result<(), TtsError> {
        self.speak(None, text, cancel, on_audio)
    }

    fn synthesize_as(
        &mut self,
        urgency: &Urgency,
        text: &str,
        cancel: &CancelToken,
        on_audio: &mut dyn FnMut(&[i16]),
    ) -> Result<(), TtsError> {
        self.speak(Some(urgency), text, cancel, on_audio)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::foundation::cancel::Generation;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A voice that counts its syntheses and says each character as 1,000 samples.
    struct Counting(Arc<AtomicUsize>);
    impl TextToSpeech for Counting {
        fn name(&self) -> String {
            "counting".into()
        }
        fn synthesize(
            &mut self,
            text: &str,
            cancel: &CancelToken,
            on_audio: &mut dyn FnMut(&[i16]),
        ) -> Result<(), TtsError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            for (i, _) in text.chars().enumerate() {
                if cancel.is_cancelled() {
                    break;
                }
                on_audio(&[i as i16; 1_000]);
            }
            Ok(())
        }
    }

    fn say(tts: &mut CachedTts, text: &str) -> Vec<i16> {
        let mut pcm = Vec::new();
        tts.synthesize(text, &CancelToken::never(), &mut |c| {
            pcm.extend_from_slice(c)
        })
        .unwrap();
        pcm
    }

    #[test]
    fn a_named_phrase_is_made_once_and_said_the_same_from_memory() {
        let count = Arc::new(AtomicUsize::new(0));
        let cache = PhraseCache::new(&["Let me check."]);
        let mut a = CachedTts::new(Box::new(Counting(count.clone())), cache.clone());
        let first = say(&mut a, "Let me check.");
        // Another session on the same voice finds it made.
        let mut b = CachedTts::new(Box::new(Counting(count.clone())), cache.clone());
        let again = say(&mut b, " Let me check. ");
        assert_eq!(first, again);
        assert_eq!(first.len(), 13_000);
        assert_eq!(count.load(Ordering::SeqCst), 1);
        // Anything else is always synthesised, and never kept.
        say(&mut b, "Your appointment number is 24.");
        say(&mut b, "Your appointment number is 24.");
        assert_eq!(count.load(Ordering::SeqCst), 3);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn warmed_phrases_cost_no_synthesis_and_a_cut_phrase_is_not_kept() {
        let count = Arc::new(AtomicUsize::new(0));
        let cache = PhraseCache::new(&["One moment.", "Let me see."]);
        let mut warmer = Counting(count.clone());
        cache.warm(&mut warmer);
        assert_eq!((cache.len(), count.load(Ordering::SeqCst)), (2, 2));
        let mut tts = CachedTts::new(Box::new(Counting(count.clone())), cache.clone());
        assert_eq!(say(&mut tts, "One moment.").len(), 11_000);
        assert_eq!(count.load(Ordering::SeqCst), 2);
        // A barge-in stops the audio from memory too.
        let generation = Generation::new();
        let cancel = generation.token();
        let mut got = 0;
        tts.synthesize("Let me see.", &cancel, &mut |c| {
            got += c.len();
            generation.bump();
        })
        .unwrap();
        assert_eq!(got, PIECE);
        // A phrase cut while being made is made again next time.
        let cache = PhraseCache::new(&["Let me see."]);
        let mut tts = CachedTts::new(Box::new(Counting(count.clone())), cache.clone());
        let generation = Generation::new();
        let cancel = generation.token();
        tts.synthesize("Let me see.", &cancel, &mut |_| {
            generation.bump();
        })
        .unwrap();
        assert!(cache.is_empty());
    }
}
