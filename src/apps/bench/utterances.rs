//! The callers' utterances: a default set of receptionist requests spoken by the local voice
//! (made once, cached as WAV files), or a folder of the user's own WAV files.

use std::path::{Path, PathBuf};

use super::error::BenchError;
use crate::foundation::audio::resample::resample_i16;
use crate::foundation::audio::wav::{read_wav_mono, write_wav_mono};
use crate::foundation::audio::OUTPUT_RATE;
use crate::foundation::audio::{AUDIBLE_FLOOR, INPUT_RATE};
use crate::foundation::cancel::CancelToken;
use crate::providers::tts::TextToSpeech;

/// What callers say to the receptionist, 2-6 s each. The booking flow is never confirmed and
/// nothing is cancelled, so every run finds the same database and gets the same replies.
pub const DEFAULT_LINES: [&str; 10] = [
    "Hello, I would like to book an appointment with | doctor Patel.",
    "Next Monday at ten in the morning, please.",
    "My name is John Smith, and my date of birth is | March fourth, nineteen eighty five.",
    "Before that, what are doctor Chen's hours?",
    "Which doctors work in cardiology?",
    "Is doctor Okafor free on | Friday afternoon?",
    "Do you have an eye doctor?",
    "What does doctor Hassan specialise in?",
    "Can I see a children's doctor on | Wednesday morning?",
    "No, thank you, I will call back later. Goodbye.",
];

/// Where a line's caller stops to think mid-sentence ("... with | doctor Patel"): the two
/// parts are spoken apart and joined by [`MID_PAUSE_MS`] of silence, longer than the fixed end
/// of turn (480 ms) and shorter than the hold for words that trail off (1.2 s).
pub const PAUSE_MARK: &str = " | ";
pub const MID_PAUSE_MS: u64 = 700;

/// The warm-up line, spoken before the measured ones (not counted).
pub const WARM_UP_LINE: &str = "Hello, is this the hospital?";

/// One caller utterance: 16 kHz mono speech, and its words when known.
#[derive(Clone, Debug)]
pub struct Utterance {
    pub name: String,
    pub text: Option<String>,
    pub pcm: Vec<i16>,
    /// Spoken with a pause in the middle of the sentence (see [`PAUSE_MARK`]).
    pub paused: bool,
}

impl Utterance {
    pub fn seconds(&self) -> f64 {
        self.pcm.len() as f64 / INPUT_RATE as f64
    }
}

/// Where the speech in `pcm` ends: just after its last sample at or above -40 dBFS
/// ([`AUDIBLE_FLOOR`], the
/// caller's real end of speech, which a benchmark knows and a live pipeline must estimate).
pub fn last_audible(pcm: &[i16]) -> usize {
    pcm.iter()
        .rposition(|&s| s.unsigned_abs() >= AUDIBLE_FLOOR as u16)
        .map_or(0, |i| i + 1)
}

/// Every `*.wav` in `dir` (sorted by name); a `NAME.txt` beside `NAME.wav` holds its words.
pub fn load_dir(dir: &Path) -> Result<Vec<Utterance>, BenchError> {
    let entries = std::fs::read_dir(dir).map_err(|e| BenchError::Io {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| x.eq_ignore_ascii_case("wav"))
        })
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(BenchError::NoUtterances(dir.to_path_buf()));
    }
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p.with_extension("txt"))
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty());
            Ok(Utterance {
                name: p
                    .file_stem()
                    .map_or_else(String::new, |s| s.to_string_lossy().into_owned()),
                text,
                pcm: read_wav_mono(p, INPUT_RATE)?,
                paused: false,
            })
        })
        .collect()
}

/// FNV-1a: a stable hash for cache file names (std's hasher may change between releases).
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Cut leading and trailing silence (below about -46 dBFS), keeping `margin` samples of it.
pub fn trim_silence(pcm: &[i16], margin: usize) -> &[i16] {
    const LEVEL: i16 = 160;
    let first = pcm.iter().position(|s| s.saturating_abs() > LEVEL);
    let last = pcm.iter().rposition(|s| s.saturating_abs() > LEVEL);
    match (first, last) {
        (Some(a), Some(b)) => &pcm[a.saturating_sub(margin)..(b + 1 + margin).min(pcm.len())],
        _ => &[],
    }
}

/// Speak `line` with `tts` as 16 kHz caller audio, trimmed to the speech.
pub fn speak(tts: &mut dyn TextToSpeech, line: &str) -> Result<Vec<i16>, BenchError> {
    let mut pcm = Vec::new();
    tts.synthesize(line, &CancelToken::never(), &mut |chunk| {
        pcm.extend_from_slice(chunk)
    })
    .map_err(|e| BenchError::Tts(e.to_string()))?;
    let pcm16 = resample_i16(&pcm, OUTPUT_RATE, INPUT_RATE);
    let trimmed = trim_silence(&pcm16, INPUT_RATE as usize / 50).to_vec();
    if trimmed.is_empty() {
        return Err(BenchError::Tts(format!("no audio for {line:?}")));
    }
    Ok(trimmed)
}

/// `lines` spoken by `tts`, cached in `cache` (by voice and text) so later runs reuse them.
pub fn generate(
    tts: &mut dyn TextToSpeech,
    lines: &[&str],
    cache: &Path,
) -> Result<Vec<Utterance>, BenchError> {
    std::fs::create_dir_all(cache).map_err(|e| BenchError::Io {
        path: cache.to_path_buf(),
        message: e.to_string(),
    })?;
    let voice = tts.name();
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let name = format!("{:02}-{:016x}", i + 1, fnv1a(&[&voice, line]));
            let path = cache.join(format!("{name}.wav"));
            let words = line.replace(PAUSE_MARK, " ");
            let pcm = match read_wav_mono(&path, INPUT_RATE) {
                Ok(pcm) if !pcm.is_empty() => pcm,
                _ => {
                    let mut pcm = Vec::new();
                    for (k, part) in line.split(PAUSE_MARK).enumerate() {
                        if k > 0 {
                            let gap = (MID_PAUSE_MS * INPUT_RATE as u64 / 1000) as usize;
                            pcm.extend(std::iter::repeat_n(0i16, gap));
                        }
                        pcm.extend(speak(tts, part)?);
                    }
                    write_wav_mono(&path, &pcm, INPUT_RATE)?;
                    // The words beside the audio, so the folder also works with --utterances.
                    std::fs::write(path.with_extension("txt"), &words).map_err(|e| {
                        BenchError::Io {
                            path: path.with_extension("txt"),
                            message: e.to_string(),
                        }
                    })?;
                    pcm
                }
            };
            Ok(Utterance {
                name,
                text: Some(words),
                pcm,
                paused: line.contains(PAUSE_MARK),
            })
        })
        .collect()
}

/// Where generated utterances are cached: `$VOICE_AGENT_CACHE/bench`, else `.cache/bench` beside
/// the models folder.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VOICE_AGENT_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("bench");
    }
    let models = crate::providers::models::models_dir();
    models
        .parent()
        .unwrap_or_else(|| Path::new(""))
        .join(".cache")
        .join("bench")
}

/// Audio of exactly `seconds`, made by joining the utterances (with 200 ms pauses) and cutting.
pub fn speech_of_length(utterances: &[Utterance], seconds: f64) -> Vec<i16> {
    let want = (seconds * INPUT_RATE as f64) as usize;
    let pause = vec![0i16; INPUT_RATE as usize / 5];
    let mut out = Vec::with_capacity(want);
    if utterances.iter().all(|u| u.pcm.is_empty()) {
        return out;
    }
    while out.len() < want {
        for u in utterances {
            out.extend_from_slice(&u.pcm);
            out.extend_from_slice(&pause);
        }
    }
    out.truncate(want);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_of_speech_is_the_last_sample_above_minus_40_dbfs() {
        let mut pcm = vec![0i16; 100];
        pcm[10] = 5_000;
        pcm[50] = -400;
        pcm[80] = 300; // below -40 dBFS (328)
        assert_eq!(last_audible(&pcm), 51);
        assert_eq!(last_audible(&[0; 10]), 0);
    }
    use crate::providers::testing::ToneTts;

    fn tmp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("va-bench-utt-{}-{name}", std::process::id()))
    }

    #[test]
    fn trims_silence_but_keeps_a_margin() {
        let mut pcm = vec![0i16; 100];
        pcm.extend([1000; 10]);
        pcm.extend([0; 100]);
        assert_eq!(trim_silence(&pcm, 5).len(), 20);
        assert!(trim_silence(&[0; 50], 5).is_empty());
        assert_eq!(fnv1a(&["a", "b"]), fnv1a(&["a", "b"]));
        assert_ne!(fnv1a(&["ab", ""]), fnv1a(&["a", "b"]));
    }

    #[test]
    fn generated_lines_are_cached_and_reloadable() {
        let dir = tmp("cache");
        let _ = std::fs::remove_dir_all(&dir);
        let mut tts = ToneTts::default();
        let spoken = tts.spoken.clone();
        let lines = ["Hello there, caller one.", "A second line."];
        let first = generate(&mut tts, &lines, &dir).expect("generate");
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].text.as_deref(), Some(lines[0]));
        assert!(first[0].seconds() > 0.1);
        // The second time nothing is synthesized.
        let again = generate(&mut tts, &lines, &dir).expect("cached");
        assert_eq!(spoken.lock().unwrap().len(), 2);
        assert_eq!(again[1].pcm, first[1].pcm);
        // The cache folder is a valid --utterances folder, words included.
        let loaded = load_dir(&dir).expect("load");
        assert_eq!(loaded.len(), 2);
        assert_eq!(loaded[1].text.as_deref(), Some(lines[1]));
        std::fs::remove_dir_all(&dir).ok();
        assert!(matches!(load_dir(&dir), Err(BenchError::Io { .. })));
    }

    #[test]
    fn speech_of_length_is_exact() {
        let u = Utterance {
            name: "a".into(),
            text: None,
            pcm: vec![100; 8_000],
            paused: false,
        };
        assert_eq!(speech_of_length(&[u], 2.0).len(), 32_000);
        assert!(speech_of_length(&[], 2.0).is_empty());
    }
}
