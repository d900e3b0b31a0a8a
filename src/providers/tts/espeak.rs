//! Phonemes from libespeak-ng (IPA), the front end Piper voices were trained with.
//!
//! libespeak-ng keeps global state and is not thread-safe, so one owner thread makes every
//! espeak call in the process; [`Phonemizer`] handles send it requests over a channel.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::OnceLock;
use std::thread;

use crossbeam_channel::{bounded, unbounded, Sender};

/// `AUDIO_OUTPUT_SYNCHRONOUS`: no audio device is opened.
const AUDIO_OUTPUT_SYNCHRONOUS: c_int = 2;
/// `espeakINITIALIZE_DONT_EXIT`: report errors instead of calling `exit()`.
const INITIALIZE_DONT_EXIT: c_int = 0x8000;
const CHARS_UTF8: c_int = 1;
/// `espeakPHONEMES_IPA`: phonemes as IPA characters, no separator.
const PHONEMES_IPA: c_int = 0x02;
const EE_OK: c_int = 0;

#[link(name = "espeak-ng")]
extern "C" {
    fn espeak_Initialize(
        output: c_int,
        buflength: c_int,
        path: *const c_char,
        options: c_int,
    ) -> c_int;
    fn espeak_SetVoiceByName(name: *const c_char) -> c_int;
    fn espeak_TextToPhonemes(
        textptr: *mut *const c_void,
        textmode: c_int,
        phonememode: c_int,
    ) -> *const c_char;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EspeakError {
    #[error("libespeak-ng failed to initialise (is espeak-ng-data installed? run `make setup`)")]
    Init,
    #[error("espeak voice {0:?} is not available")]
    Voice(String),
    #[error("the espeak owner thread could not be started: {0}")]
    Thread(String),
    #[error("the espeak owner thread has stopped")]
    Disconnected,
}

/// One clause as espeak reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// IPA phonemes, words separated by spaces (may be empty, e.g. for "...").
    pub phonemes: String,
    /// The punctuation that ended the clause (`. , ? ! ; :`), recovered from the text.
    pub terminator: Option<char>,
    /// True after `. ? !` and for the last clause of the text.
    pub end_of_sentence: bool,
}

struct Request {
    voice: String,
    text: String,
    reply: Sender<Result<Vec<Clause>, EspeakError>>,
}

/// A cheap, cloneable handle to the process-wide espeak owner thread.
#[derive(Clone)]
pub struct Phonemizer {
    requests: Sender<Request>,
}

impl Phonemizer {
    /// The process-wide phonemizer; the first call starts the owner thread and initialises espeak.
    pub fn global() -> Result<Phonemizer, EspeakError> {
        static GLOBAL: OnceLock<Result<Phonemizer, EspeakError>> = OnceLock::new();
        GLOBAL.get_or_init(start_owner).clone()
    }

    /// Phonemes of `text`, clause by clause, with espeak voice `voice` (e.g. "en-us").
    pub fn phonemize(&self, voice: &str, text: &str) -> Result<Vec<Clause>, EspeakError> {
        let (reply, answer) = bounded(1);
        let request = Request {
            voice: voice.to_string(),
            text: text.to_string(),
            reply,
        };
        self.requests
            .send(request)
            .map_err(|_| EspeakError::Disconnected)?;
        answer.recv().map_err(|_| EspeakError::Disconnected)?
    }
}

fn start_owner() -> Result<Phonemizer, EspeakError> {
    let (requests, inbox) = unbounded::<Request>();
    let (ready_tx, ready_rx) = bounded(1);
    thread::Builder::new()
        .name("espeak".into())
        .spawn(move || {
            let init = initialize();
            let ok = init.is_ok();
            // The receiver waits right below; a failed send only means start_owner is gone.
            let _ = ready_tx.send(init);
            if !ok {
                return;
            }
            let mut current_voice = String::new();
            for request in inbox {
                let result = set_voice(&mut current_voice, &request.voice)
                    .map(|()| text_to_clauses(&request.text));
                // The caller may have given up waiting; nothing to do then.
                let _ = request.reply.send(result);
            }
        })
        .map_err(|e| EspeakError::Thread(e.to_string()))?;
    ready_rx.recv().map_err(|_| EspeakError::Disconnected)??;
    Ok(Phonemizer { requests })
}

fn initialize() -> Result<(), EspeakError> {
    // SAFETY: called once, from the owner thread only; a null path selects the installed data.
    let rate = unsafe {
        espeak_Initialize(
            AUDIO_OUTPUT_SYNCHRONOUS,
            0,
            std::ptr::null(),
            INITIALIZE_DONT_EXIT,
        )
    };
    if rate <= 0 {
        return Err(EspeakError::Init);
    }
    log::debug!("libespeak-ng initialised ({rate} Hz)");
    Ok(())
}

fn set_voice(current: &mut String, voice: &str) -> Result<(), EspeakError> {
    if current == voice {
        return Ok(());
    }
    let name = CString::new(voice).map_err(|_| EspeakError::Voice(voice.to_string()))?;
    // SAFETY: owner thread only; `name` is a valid NUL-terminated string for the call.
    let rc = unsafe { espeak_SetVoiceByName(name.as_ptr()) };
    if rc != EE_OK {
        return Err(EspeakError::Voice(voice.to_string()));
    }
    *current = voice.to_string();
    Ok(())
}

/// Runs `espeak_TextToPhonemes` clause by clause until the text pointer becomes null.
fn text_to_clauses(text: &str) -> Vec<Clause> {
    // espeak stops at a NUL; drop any so the whole text is read.
    let Ok(c_text) = CString::new(text.replace('\0', " ")) else {
        unreachable!("NUL bytes were removed above")
    };
    let bytes = c_text.as_bytes();
    let base = c_text.as_ptr() as usize;
    let mut pointer = c_text.as_ptr() as *const c_void;
    let mut clauses = Vec::new();
    while !pointer.is_null() {
        let start = (pointer as usize).saturating_sub(base).min(bytes.len());
        // SAFETY: owner thread only; `pointer` points into `c_text`, which outlives the loop;
        // espeak advances it within the string or sets it to null at the end.
        let raw = unsafe { espeak_TextToPhonemes(&mut pointer, CHARS_UTF8, PHONEMES_IPA) };
        let phonemes = if raw.is_null() {
            String::new()
        } else {
            // SAFETY: espeak returns a NUL-terminated string valid until its next call.
            strip_language_flags(&unsafe { CStr::from_ptr(raw) }.to_string_lossy())
        };
        let last = pointer.is_null();
        let end = if last {
            bytes.len()
        } else {
            (pointer as usize)
                .saturating_sub(base)
                .clamp(start, bytes.len())
        };
        let consumed = String::from_utf8_lossy(&bytes[start..end]);
        let terminator = clause_terminator(&consumed, last);
        let end_of_sentence = last || matches!(terminator, Some('.' | '?' | '!'));
        clauses.push(Clause {
            phonemes,
            terminator,
            end_of_sentence,
        });
        if end == start && !last {
            // No progress would loop forever; espeak has never done this, but be safe.
            log::debug!("espeak made no progress at byte {start}; stopping");
            break;
        }
    }
    clauses
}

/// espeak 1.51 does not return the clause terminator, so read it off the text the call consumed.
/// Except at the end of the text, espeak has read one character past the clause (the start of
/// the next one), which is dropped first.
fn clause_terminator(consumed: &str, last: bool) -> Option<char> {
    let mut text = consumed;
    if !last {
        if let Some((i, _)) = text.char_indices().next_back() {
            text = &text[..i];
        }
    }
    let closing = |c: char| c.is_whitespace() || "\"')]}”’»".contains(c);
    text.trim_end_matches(closing)
        .chars()
        .next_back()
        .filter(|c| ".,?!;:".contains(*c))
}

/// Removes language-switch markers such as "(fr)" that espeak inserts around foreign words.
fn strip_language_flags(phonemes: &str) -> String {
    let mut out = String::with_capacity(phonemes.len());
    let mut rest = phonemes;
    while let Some(open) = rest.find('(') {
        out.push_str(&rest[..open]);
        match rest[open..].find(')') {
            Some(close) => rest = &rest[open + close + 1..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminator_is_read_past_the_lookahead() {
        assert_eq!(clause_terminator("Hello, w", false), Some(','));
        assert_eq!(clause_terminator("ow are you? I", false), Some('?'));
        assert_eq!(clause_terminator("\"No.\"", false), Some('.'));
        assert_eq!(clause_terminator("hen, é", false), Some(','));
        assert_eq!(
            clause_terminator("Go to example.com now, p", false),
            Some(',')
        );
        assert_eq!(clause_terminator("'m fine!", true), Some('!'));
        assert_eq!(clause_terminator("Hi there", true), None);
        assert_eq!(clause_terminator("example.com now", true), None);
    }

    #[test]
    fn language_flags_are_removed() {
        assert_eq!(strip_language_flags("(fr)sɑː vɑː(en) nˈaʊ"), "sɑː vɑː nˈaʊ");
        assert_eq!(strip_language_flags("həlˈoʊ"), "həlˈoʊ");
    }

    #[test]
    fn espeak_phonemizes_clauses_with_punctuation() {
        let phonemizer = Phonemizer::global().expect("libespeak-ng is a build dependency");
        let clauses = phonemizer
            .phonemize("en-us", "Hello, world. How are you?")
            .expect("phonemize");
        let summary: Vec<(&str, Option<char>, bool)> = clauses
            .iter()
            .map(|c| (c.phonemes.as_str(), c.terminator, c.end_of_sentence))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("həlˈoʊ", Some(','), false),
                ("wˈɜːld", Some('.'), true),
                ("hˈaʊ ɑːɹ juː", Some('?'), true),
            ]
        );
    }

    #[test]
    fn unknown_voice_is_an_error_value() {
        let phonemizer = Phonemizer::global().expect("libespeak-ng is a build dependency");
        assert_eq!(
            phonemizer.phonemize("no-such-voice-xx", "hi"),
            Err(EspeakError::Voice("no-such-voice-xx".into()))
        );
        // The owner thread keeps working afterwards.
        let clauses = phonemizer.phonemize("en-us", "Sure.").expect("phonemize");
        assert_eq!(clauses[0].phonemes, "ʃˈʊɹ");
    }
}
