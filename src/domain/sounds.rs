//! Names by sound. Speech recognition writes a name it does not know as ordinary
//! words that sound like it: "Doctor Patel" comes out as "not to tell", "Okafor" as "a cough
//! for". Spelling cannot find these; their sounds can. Each candidate phrase and each doctor's
//! name become IPA phonemes (espeak-ng, the front end the local voice already uses) and are
//! compared with an edit distance in which near sounds (two vowels, "t" and "d") cost half.
//!
//! A doctor found this way is a guess: the receptionist asks "Did you mean Doctor Patel?"
//! rather than acting on it. A patient's name is matched this way only beside the exact
//! birth date, and only when it is very near ("Marie" for "Maria"; see [`same_name`]).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::providers::tts::espeak::Phonemizer;

/// The espeak voice the phonemes are read with.
const VOICE: &str = "en-us";

/// At most this distance per phoneme of the longer side to count as sounding alike: words
/// after "doctor" stand for a name (up to half the sounds may differ); others must be nearer.
const ALIKE: f32 = 0.46;
const ALIKE_TITLED: f32 = 0.5;

/// Names within this much of the best one are as likely: the question names them all.
const MARGIN: f32 = 0.08;

/// Phonemes of `text` as sound units (stress, length and spaces dropped); `None` when
/// libespeak-ng cannot be used. Cached: callers say the same few names over and over.
pub fn phonemes(text: &str) -> Option<Vec<char>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Vec<char>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(text)
    {
        return hit.clone();
    }
    let sounds = Phonemizer::global()
        .and_then(|p| p.phonemize(VOICE, text))
        .map_err(|e| log::debug!("no phonemes for a name: {e}"))
        .ok()
        .map(|clauses| {
            let ipa: String = clauses.iter().map(|c| c.phonemes.as_str()).collect();
            // One unit per sound: affricates as one letter, an r-coloured vowel as vowel + r
            // (so "for" and the end of "Okafor" line up).
            ipa.replace("tʃ", "ʧ")
                .replace("dʒ", "ʤ")
                .replace('ɚ', "əɹ")
                .replace('ɝ', "ɜɹ")
                .chars()
                .filter(|c| !matches!(c, 'ˈ' | 'ˌ' | 'ː' | ' ' | '-' | '\u{361}' | '\u{35C}'))
                .collect::<Vec<char>>()
        })
        .filter(|s| !s.is_empty());
    let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
    if cache.len() > 10_000 {
        cache.clear();
    }
    cache.insert(text.to_string(), sounds.clone());
    sounds
}

fn is_vowel(c: char) -> bool {
    "aeiouyæɐɑɒɔəɚɛɜɝɪʊʌøɵɯɤɨʉ".contains(c)
}

/// Consonants a recogniser (or a phone line) easily swaps.
const NEAR: &[&str] = &[
    "tdɾʔθð",
    "pb",
    "kgɡ",
    "szʃʒ",
    "fv",
    "mnŋ",
    "lɹrɫ",
    "wʍ",
    "jɪi",
    "ʧʃt",
    "ʤʒd",
];

/// The cost of hearing `a` as `b`.
fn cost(a: char, b: char) -> f32 {
    if a == b {
        0.0
    } else if (is_vowel(a) && is_vowel(b)) || NEAR.iter().any(|g| g.contains(a) && g.contains(b)) {
        0.5
    } else {
        1.0
    }
}

/// Weighted edit distance between two phoneme strings.
pub fn distance(a: &[char], b: &[char]) -> f32 {
    let mut row: Vec<f32> = (0..=b.len()).map(|j| j as f32).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = (i + 1) as f32;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + cost(ca, cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1.0).min(row[j + 1] + 1.0);
        }
    }
    row[b.len()]
}

/// The doctors' names as sounds.
pub struct SoundRoster {
    /// (surname as the roster writes it, its sounds, the sounds of "doctor <surname>").
    doctors: Vec<(String, Vec<char>, Vec<char>)>,
}

impl SoundRoster {
    /// From full names ("Priya Patel"); empty when espeak is unavailable.
    pub fn new(full_names: &[String]) -> Self {
        let doctors = full_names
            .iter()
            .filter_map(|n| {
                let surname = n.split_whitespace().last()?.to_lowercase();
                let alone = phonemes(&surname)?;
                let titled = phonemes(&format!("doctor {surname}"))?;
                Some((surname, alone, titled))
            })
            .collect();
        Self { doctors }
    }

    /// The surnames `said` sounds like (the nearest, and any as near), with the best
    /// distance per phoneme. `titled`: the words came after "doctor" (so they stand for the
    /// surname alone); otherwise they may stand for "doctor <surname>" as a whole.
    pub fn sounds_like(&self, said: &str, titled: bool) -> Option<(Vec<String>, f32)> {
        let heard = phonemes(said)?;
        let mut scored: Vec<(f32, &str)> = self
            .doctors
            .iter()
            .map(|(surname, alone, with_title)| {
                let mut d = per_phoneme(&heard, alone);
                if !titled {
                    d = d.min(per_phoneme(&heard, with_title));
                }
                (d, surname.as_str())
            })
            .collect();
        scored.sort_by(|a, b| a.0.total_cmp(&b.0));
        let alike = if titled { ALIKE_TITLED } else { ALIKE };
        let best = scored.first()?.0;
        if best > alike {
            return None;
        }
        let names = scored
            .iter()
            .take_while(|(d, _)| *d <= alike && *d - best < MARGIN)
            .take(2)
            .map(|(_, s)| s.to_string())
            .collect();
        Some((names, best))
    }
}

fn per_phoneme(a: &[char], b: &[char]) -> f32 {
    distance(a, b) / a.len().max(b.len()).max(1) as f32
}

/// At most this distance per phoneme for a caller's name to stand for a record's: one sound
/// in a dozen ("Marie Gonzalez" for "Maria Gonzalez"), not a different name.
const SAME_NAME: f32 = 0.12;

/// Whether `heard` sounds like the name `recorded` (both names, as a whole); false when
/// libespeak-ng cannot be used.
pub fn same_name(heard: &str, recorded: &str) -> bool {
    match (
        phonemes(&heard.to_lowercase()),
        phonemes(&recorded.to_lowercase()),
    ) {
        (Some(a), Some(b)) => per_phoneme(&a, &b) <= SAME_NAME,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roster() -> SoundRoster {
        let names = [
            "Priya Patel",
            "Marcus Okafor",
            "Emily Chen",
            "Sofia Garcia",
            "James Wilson",
            "Laura Rossi",
            "Hannah Becker",
            "Ahmed Hassan",
            "Kenji Tanaka",
        ];
        SoundRoster::new(&names.map(String::from))
    }

    #[test]
    fn near_sounds_cost_less_than_far_ones() {
        assert_eq!(distance(&['p', 'a'], &['p', 'a']), 0.0);
        assert_eq!(distance(&['t'], &['d']), 0.5);
        assert_eq!(distance(&['æ'], &['ə']), 0.5);
        assert_eq!(distance(&['t'], &['m']), 1.0);
        assert_eq!(distance(&[], &['a', 'b']), 2.0);
    }

    #[test]
    fn misheard_names_sound_like_the_doctor_and_plain_words_do_not() {
        let r = roster();
        if r.doctors.is_empty() {
            eprintln!("SKIPPED: libespeak-ng gives no phonemes here");
            return;
        }
        let like = |said: &str, titled: bool| r.sounds_like(said, titled).map(|(s, _)| s);
        let one = |s: &str| Some(vec![s.to_string()]);
        assert_eq!(like("a cough for", true), one("okafor"));
        assert_eq!(like("hassle", true), one("hassan"));
        assert_eq!(like("tuna car", true), one("tanaka"));
        assert_eq!(like("gar see a", true), one("garcia"));
        // Whisper's "not to tell" for "Doctor Patel": Patel first (Chen is nearly as near).
        let patel = like("not to tell", false).expect("a match");
        assert_eq!(patel[0], "patel", "{patel:?}");
        for plain in [
            "my husband",
            "my daughter",
            "the nurse",
            "someone",
            "anyone",
            "my son",
        ] {
            assert_eq!(like(plain, false), None, "{plain}");
        }
    }

    #[test]
    fn a_patient_name_matches_only_when_very_near() {
        if phonemes("maria").is_none() {
            eprintln!("SKIPPED: libespeak-ng not available");
            return;
        }
        assert!(same_name("Marie Gonzalez", "Maria Gonzalez"));
        assert!(same_name("john smith", "John Smith"));
        assert!(!same_name("Maria Garcia", "Maria Gonzalez"));
        // Two near sounds in a short name still count ("Ken" for "Kim": vowel, nasal).
        assert!(same_name("David Ken", "David Kim"));
        assert!(!same_name("David Kent", "David Kim"));
        assert!(!same_name("Sarah Johnson", "Sara Jones"));
    }
}
