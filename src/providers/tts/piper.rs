//! Piper (VITS) text-to-speech through ONNX Runtime, phonemes from libespeak-ng.
//!
//! text -> [`normalize`] -> espeak IPA clauses -> synthesis chunks -> phoneme ids -> ort ->
//! 22,050 Hz float audio -> resampler -> 24 kHz PCM16, one chunk at a time so the first
//! audio is out after the first clause.
//!
//! With the voice split in two by `make setup` (scripts/split_piper.py), a chunk streams too:
//! the first part makes the chunk's latent frames (about 86 a second), and the vocoder, which
//! only looks a dozen frames around each one, turns them into audio window by window, each
//! window twice the one before and decoded with [`VOCODER_CONTEXT`] frames of context on
//! either side. The audio is the same as the whole model's, and the first quarter second of it
//! is out after the latent pass plus a short vocoder run.

use std::collections::HashMap;
use std::fmt::Display;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use ort::session::Session;
use ort::value::Tensor;
use serde::Deserialize;

use crate::foundation::audio::f32_to_i16 as to_pcm16;
use crate::foundation::audio::stream_resample::StreamResampler;
use crate::foundation::audio::OUTPUT_RATE;
use crate::foundation::cancel::CancelToken;
use crate::foundation::urgency::Urgency;
use crate::providers::models::{self, ModelError};
use crate::providers::scheduler::{CallError, Compute};
use crate::providers::tts::espeak::{Clause, Phonemizer};
use crate::providers::tts::normalize::normalize;
use crate::providers::tts::{TextToSpeech, TtsError};

/// The voice shipped by `make setup`.
pub const VOICE: &str = "en_US-joe-medium";

/// A clause boundary starts a new synthesis chunk once the pending chunk has this many
/// phoneme characters (about two words): very short pieces ("Well,") sound clipped alone.
const MIN_CHUNK_PHONEMES: usize = 12;

/// Latent frames in the first vocoder window (about 0.28 s of speech); each next one is twice
/// as long, up to [`MAX_WINDOW_FRAMES`], so every window is ready before the audio ahead of it
/// has played out.
const FIRST_WINDOW_FRAMES: usize = 24;
const MAX_WINDOW_FRAMES: usize = 384;
/// Frames of context decoded on each side of a window and thrown away: more than the
/// vocoder's receptive field (12 frames make the seams exact to 1e-7), so no seam is audible.
pub const VOCODER_CONTEXT: usize = 16;

const PAD: char = '_';
const BOS: char = '^';
const EOS: char = '$';

/// What the voice's `.onnx.json` says (the parts used here).
#[derive(Debug, Clone)]
pub struct PiperConfig {
    pub sample_rate: u32,
    pub espeak_voice: String,
    pub noise_scale: f32,
    pub length_scale: f32,
    pub noise_w: f32,
    phoneme_ids: HashMap<char, Vec<i64>>,
}

#[derive(Deserialize)]
struct RawConfig {
    audio: RawAudio,
    #[serde(default)]
    espeak: RawEspeak,
    #[serde(default)]
    inference: RawInference,
    phoneme_id_map: HashMap<String, Vec<i64>>,
}

#[derive(Deserialize)]
struct RawAudio {
    sample_rate: u32,
}

#[derive(Deserialize)]
struct RawEspeak {
    voice: String,
}

impl Default for RawEspeak {
    fn default() -> Self {
        RawEspeak {
            voice: "en-us".into(),
        }
    }
}

#[derive(Deserialize)]
struct RawInference {
    noise_scale: f32,
    length_scale: f32,
    noise_w: f32,
}

impl Default for RawInference {
    // Piper's defaults.
    fn default() -> Self {
        RawInference {
            noise_scale: 0.667,
            length_scale: 1.0,
            noise_w: 0.8,
        }
    }
}

impl PiperConfig {
    /// Parses a Piper voice config (`*.onnx.json`).
    pub fn parse(json: &str) -> Result<PiperConfig, String> {
        let raw: RawConfig = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let mut phoneme_ids = HashMap::new();
        for (key, ids) in raw.phoneme_id_map {
            let mut chars = key.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => {
                    phoneme_ids.insert(c, ids);
                }
                _ => log::warn!("piper config: ignoring multi-character phoneme {key:?}"),
            }
        }
        for special in [PAD, BOS, EOS] {
            if !phoneme_ids.contains_key(&special) {
                return Err(format!("phoneme_id_map lacks {special:?}"));
            }
        }
        if raw.audio.sample_rate == 0 {
            return Err("audio.sample_rate is 0".into());
        }
        Ok(PiperConfig {
            sample_rate: raw.audio.sample_rate,
            espeak_voice: raw.espeak.voice,
            noise_scale: raw.inference.noise_scale,
            length_scale: raw.inference.length_scale,
            noise_w: raw.inference.noise_w,
            phoneme_ids,
        })
    }

    /// Model input for one chunk of phonemes: `^ _ p1 _ p2 _ ... pn _ $` (Piper's layout, a pad
    /// after every symbol). Characters the voice does not know are skipped.
    pub fn phoneme_ids(&self, phonemes: &str) -> Vec<i64> {
        let mut ids = Vec::with_capacity(phonemes.len() * 2 + 3);
        // The three specials are checked in `parse`.
        let id = |c: char| self.phoneme_ids.get(&c).map(Vec::as_slice).unwrap_or(&[]);
        ids.extend_from_slice(id(BOS));
        ids.extend_from_slice(id(PAD));
        for c in phonemes.chars().flat_map(decompose) {
            match self.phoneme_ids.get(&c) {
                Some(known) => {
                    ids.extend_from_slice(known);
                    ids.extend_from_slice(id(PAD));
                }
                None => log::debug!(
                    "piper: skipping {c:?} (U+{:04X}), not in the voice",
                    c as u32
                ),
            }
        }
        ids.extend_from_slice(id(EOS));
        ids
    }
}

/// Canonical decomposition (NFD) of the precomposed letters espeak can emit; Piper's map
/// holds the base letters and the combining marks separately.
fn decompose(c: char) -> impl Iterator<Item = char> {
    let (base, mark) = match c {
        'ç' => ('c', Some('\u{327}')),
        'ş' => ('s', Some('\u{327}')),
        'ţ' => ('t', Some('\u{327}')),
        'ȩ' => ('e', Some('\u{327}')),
        'ã' => ('a', Some('\u{303}')),
        'ẽ' => ('e', Some('\u{303}')),
        'ĩ' => ('i', Some('\u{303}')),
        'õ' => ('o', Some('\u{303}')),
        'ũ' => ('u', Some('\u{303}')),
        'ñ' => ('n', Some('\u{303}')),
        'ỹ' => ('y', Some('\u{303}')),
        'á' | 'à' | 'â' | 'ä' => ('a', None),
        'é' | 'è' | 'ê' | 'ë' => ('e', None),
        'í' | 'ì' | 'î' | 'ï' => ('i', None),
        'ó' | 'ò' | 'ô' | 'ö' => ('o', None),
        'ú' | 'ù' | 'û' | 'ü' => ('u', None),
        c => (c, None),
    };
    // Acute, grave, circumflex and diaeresis marks are not in Piper's map: only the base
    // letter of those would survive, so it is kept directly.
    std::iter::once(base).chain(mark)
}

/// Groups espeak clauses into synthesis chunks: whole sentences, split at clause boundaries
/// (commas, semicolons, colons) once a chunk is long enough. Punctuation is kept as Piper
/// expects it ("həlˈoʊ, wˈɜːld.").
pub fn group_clauses(clauses: &[Clause]) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    for (index, clause) in clauses.iter().enumerate() {
        current.push_str(&clause.phonemes);
        if let Some(t) = clause.terminator {
            current.push(t);
        }
        let last = index + 1 == clauses.len();
        let letters = current.chars().filter(|c| c.is_alphabetic()).count();
        if clause.end_of_sentence || last || letters >= MIN_CHUNK_PHONEMES {
            // A chunk of punctuation alone ("..." or a lone comma) has nothing to say.
            if letters > 0 {
                chunks.push(current.trim().to_string());
            }
            current.clear();
        } else {
            current.push(' ');
        }
    }
    chunks
}

/// The voice's graphs: whole, or split into latent frames and a vocoder that can stream. Each
/// in an `Arc` so that a call handed to the model scheduler can take its graph along.
enum Graphs {
    Whole(Arc<Mutex<Session>>),
    Split {
        latent: Arc<Mutex<Session>>,
        vocoder: Arc<Mutex<Session>>,
    },
}

/// A loaded Piper voice: one per process, shared by every session through an `Arc`.
pub struct PiperVoice {
    name: String,
    config: PiperConfig,
    graphs: Graphs,
    phonemizer: Phonemizer,
}

/// A session's lock; a panic elsewhere while holding it leaves the session itself intact.
fn lock(session: &Mutex<Session>) -> std::sync::MutexGuard<'_, Session> {
    session.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Non-finite samples (a model fault) become silence rather than noise.
fn zero_non_finite(audio: &mut [f32]) {
    let bad = audio.iter().filter(|s| !s.is_finite()).count();
    if bad > 0 {
        log::warn!("piper produced {bad} non-finite samples; zeroed");
        audio
            .iter_mut()
            .filter(|s| !s.is_finite())
            .for_each(|s| *s = 0.0);
    }
}

impl PiperVoice {
    /// Loads `models_dir/piper/en_US-joe-medium.onnx` (+ `.onnx.json`) with
    /// [`models::model_threads`] ORT threads.
    pub fn load(models_dir: &Path) -> Result<Arc<PiperVoice>, ModelError> {
        Self::load_with_threads(models_dir, models::model_threads())
    }

    /// As [`PiperVoice::load`], but with the voice's random variation turned off (noise scales
    /// 0), so the same text always gives the same audio: reproducible caller audio for tests.
    pub fn load_steady(models_dir: &Path) -> Result<Arc<PiperVoice>, ModelError> {
        Self::load_with(models_dir, models::model_threads(), true, true)
    }

    /// As [`PiperVoice::load`], with `threads` intra-op threads.
    pub fn load_with_threads(
        models_dir: &Path,
        threads: usize,
    ) -> Result<Arc<PiperVoice>, ModelError> {
        Self::load_with(models_dir, threads, false, true)
    }

    /// Every knob: `steady` turns the random variation off, `split` streams through the split
    /// vocoder when `make setup` made it (false: the whole graph, for comparison).
    pub fn load_with(
        models_dir: &Path,
        threads: usize,
        steady: bool,
        split: bool,
    ) -> Result<Arc<PiperVoice>, ModelError> {
        let model = models_dir.join("piper").join(format!("{VOICE}.onnx"));
        let config_path = models_dir.join("piper").join(format!("{VOICE}.onnx.json"));
        models::require("Piper voice", &model)?;
        models::require("Piper voice config", &config_path)?;
        let json = std::fs::read_to_string(&config_path)
            .map_err(|e| ModelError::Runtime(format!("{}: {e}", config_path.display())))?;
        let mut config = PiperConfig::parse(&json)
            .map_err(|e| ModelError::Runtime(format!("{}: {e}", config_path.display())))?;
        if steady {
            config.noise_scale = 0.0;
            config.noise_w = 0.0;
        }
        let phonemizer = Phonemizer::global().map_err(|e| ModelError::Runtime(e.to_string()))?;
        let started = Instant::now();
        let dir = models_dir.join("piper");
        let (latent, vocoder) = (
            dir.join(format!("{VOICE}.latent.onnx")),
            dir.join(format!("{VOICE}.vocoder.onnx")),
        );
        let graphs = if split && latent.exists() && vocoder.exists() {
            Graphs::Split {
                latent: Arc::new(Mutex::new(models::load_session(&latent, threads)?)),
                vocoder: Arc::new(Mutex::new(models::load_session(&vocoder, threads)?)),
            }
        } else {
            log::info!(
                "piper: {} missing, each clause is made whole ({})",
                vocoder.display(),
                models::SETUP_HINT
            );
            Graphs::Whole(Arc::new(Mutex::new(models::load_session(&model, threads)?)))
        };
        log::info!(
            "piper {VOICE} loaded in {} ms ({threads} thread(s), {})",
            started.elapsed().as_millis(),
            if matches!(graphs, Graphs::Split { .. }) {
                "streaming vocoder"
            } else {
                "whole graph"
            }
        );
        let voice = Arc::new(PiperVoice {
            name: format!("piper {VOICE}"),
            config,
            graphs,
            phonemizer,
        });
        // ORT's first run allocates and plans; pay that here, not on the first reply.
        let started = Instant::now();
        voice
            .phoneme_chunks("Hello.")
            .and_then(|chunks| {
                chunks
                    .iter()
                    .try_for_each(|c| voice.speak_phonemes(c).map(drop))
            })
            .map_err(|e| ModelError::Runtime(format!("piper warm-up: {e}")))?;
        log::debug!("piper warm-up took {} ms", started.elapsed().as_millis());
        Ok(voice)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn config(&self) -> &PiperConfig {
        &self.config
    }

    /// Phoneme strings, one per synthesis chunk, for `text` (normalised first). Empty when
    /// there is nothing to say.
    pub fn phoneme_chunks(&self, text: &str) -> Result<Vec<String>, TtsError> {
        let normalized = normalize(text);
        if !normalized.chars().any(char::is_alphanumeric) {
            return Ok(Vec::new());
        }
        let started = Instant::now();
        let clauses = self
            .phonemizer
            .phonemize(&self.config.espeak_voice, &normalized)
            .map_err(|e| TtsError::Synthesis(e.to_string()))?;
        log::debug!(
            "piper: phonemes for {normalized:?} in {:.1} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
        Ok(group_clauses(&clauses))
    }

    /// Whether clauses stream through the split vocoder.
    pub fn streams(&self) -> bool {
        matches!(self.graphs, Graphs::Split { .. })
    }

    /// The model's inputs for one chunk's ids.
    fn inputs(&self, ids: Vec<i64>) -> Result<GraphInputs, TtsError> {
        let len = ids.len();
        let input = Tensor::from_array(([1usize, len], ids)).map_err(synthesis)?;
        let lengths = Tensor::from_array(([1usize], vec![len as i64])).map_err(synthesis)?;
        let scales = Tensor::from_array((
            [3usize],
            vec![
                self.config.noise_scale,
                self.config.length_scale,
                self.config.noise_w,
            ],
        ))
        .map_err(synthesis)?;
        Ok(ort::inputs![
            "input" => input,
            "input_lengths" => lengths,
            "scales" => scales,
        ])
    }

    /// The whole graph: ids to the chunk's audio.
    fn run_whole(&self, session: &Mutex<Session>, ids: Vec<i64>) -> Result<Vec<f32>, TtsError> {
        let inputs = self.inputs(ids)?;
        let mut session = lock(session);
        let outputs = session.run(inputs).map_err(synthesis)?;
        let output = outputs
            .values()
            .next()
            .ok_or_else(|| TtsError::Synthesis("piper model returned no output".into()))?;
        let (_, audio) = output.try_extract_tensor::<f32>().map_err(synthesis)?;
        let mut audio = audio.to_vec();
        zero_non_finite(&mut audio);
        Ok(audio)
    }

    /// The latent graph: ids to latent frames [1, C, T], as (C, T, data).
    fn run_latent(
        &self,
        session: &Mutex<Session>,
        ids: Vec<i64>,
    ) -> Result<(usize, usize, Vec<f32>), TtsError> {
        let inputs = self.inputs(ids)?;
        let mut session = lock(session);
        let outputs = session.run(inputs).map_err(synthesis)?;
        let (shape, z) = outputs["latent"]
            .try_extract_tensor::<f32>()
            .map_err(synthesis)?;
        let dims: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
        let [1, c, t] = dims[..] else {
            return Err(TtsError::Synthesis(format!(
                "piper latent frames of shape {dims:?}"
            )));
        };
        if z.len() != c * t {
            return Err(TtsError::Synthesis("piper latent frames cut short".into()));
        }
        Ok((c, t, z.to_vec()))
    }

    /// The vocoder on `span` latent frames: their audio.
    fn run_vocoder(
        session: &Mutex<Session>,
        piece: Vec<f32>,
        channels: usize,
        span: usize,
    ) -> Result<Vec<f32>, TtsError> {
        let piece = Tensor::from_array(([1usize, channels, span], piece)).map_err(synthesis)?;
        let mut session = lock(session);
        let outputs = session
            .run(ort::inputs!["latent" => piece])
            .map_err(synthesis)?;
        let (_, audio) = outputs["audio"]
            .try_extract_tensor::<f32>()
            .map_err(synthesis)?;
        Ok(audio.to_vec())
    }

    /// One graph run as a call on `compute`; `Ok(None)` when it was dropped as stale.
    fn call<R: Send + 'static>(
        self: &Arc<Self>,
        compute: &Compute,
        urgency: &Urgency,
        cancel: &CancelToken,
        run: impl FnOnce(&PiperVoice) -> Result<R, TtsError> + Send + 'static,
    ) -> Result<Option<R>, TtsError> {
        let voice = self.clone();
        match compute.run(MODEL_KEY, urgency, cancel, move || run(&voice)) {
            Ok(r) => r.map(Some),
            Err(CallError::Stale) => Ok(None),
            Err(e) => Err(TtsError::Synthesis(e.to_string())),
        }
    }

    /// Runs the model on one chunk's ids, handing on float audio at the voice's sample rate
    /// piece by piece (one piece with the whole graph). Stops between pieces when `cancel`
    /// fires. Each graph run is one call on `compute` at the priority `urgency` gives at the
    /// time, so other sessions' urgent calls can go between the pieces of a long sentence.
    pub fn infer_streaming(
        self: &Arc<Self>,
        ids: &[i64],
        compute: &Compute,
        urgency: &Urgency,
        cancel: &CancelToken,
        on_audio: &mut dyn FnMut(&[f32]),
    ) -> Result<(), TtsError> {
        let ids = ids.to_vec();
        let (latent, vocoder) = match &self.graphs {
            Graphs::Whole(session) => {
                let session = session.clone();
                let whole = move |v: &PiperVoice| v.run_whole(&session, ids);
                if let Some(audio) = self.call(compute, urgency, cancel, whole)? {
                    on_audio(&audio);
                }
                return Ok(());
            }
            Graphs::Split { latent, vocoder } => (latent.clone(), vocoder.clone()),
        };
        // Latent frames [1, C, T], copied out so the latent graph is free for other sessions.
        let frames_of = move |v: &PiperVoice| v.run_latent(&latent, ids);
        let Some((channels, frames, z)) = self.call(compute, urgency, cancel, frames_of)? else {
            return Ok(());
        };
        let mut start = 0;
        let mut window = FIRST_WINDOW_FRAMES;
        while start < frames {
            if cancel.is_cancelled() {
                return Ok(());
            }
            let end = (start + window).min(frames);
            let (from, to) = (
                start.saturating_sub(VOCODER_CONTEXT),
                (end + VOCODER_CONTEXT).min(frames),
            );
            let span = to - from;
            let mut piece = Vec::with_capacity(channels * span);
            for row in z.chunks_exact(frames) {
                piece.extend_from_slice(&row[from..to]);
            }
            let vocoder = vocoder.clone();
            let vocode = move |_: &PiperVoice| Self::run_vocoder(&vocoder, piece, channels, span);
            let Some(audio) = self.call(compute, urgency, cancel, vocode)? else {
                return Ok(());
            };
            // Samples per frame (256 for Piper's voices), from what the vocoder made.
            let hop = audio.len() / span;
            if hop == 0 || audio.len() != hop * span {
                return Err(TtsError::Synthesis(format!(
                    "piper vocoder made {} samples for {span} frames",
                    audio.len()
                )));
            }
            let mut kept = audio[(start - from) * hop..(end - from) * hop].to_vec();
            zero_non_finite(&mut kept);
            on_audio(&kept);
            start = end;
            window = (window * 2).min(MAX_WINDOW_FRAMES);
        }
        Ok(())
    }

    /// One chunk of phonemes to 24 kHz PCM16.
    pub fn speak_phonemes(self: &Arc<Self>, phonemes: &str) -> Result<Vec<i16>, TtsError> {
        let mut pcm = Vec::new();
        self.speak_phonemes_streaming(phonemes, &CancelToken::never(), &mut |piece| {
            pcm.extend_from_slice(piece)
        })?;
        Ok(pcm)
    }

    /// One chunk of phonemes to 24 kHz PCM16, handed on as it is made (see the module docs).
    pub fn speak_phonemes_streaming(
        self: &Arc<Self>,
        phonemes: &str,
        cancel: &CancelToken,
        on_pcm: &mut dyn FnMut(&[i16]),
    ) -> Result<(), TtsError> {
        self.speak_on(
            &Compute::Direct,
            &Urgency::default(),
            phonemes,
            cancel,
            on_pcm,
        )
    }

    /// As [`speak_phonemes_streaming`](Self::speak_phonemes_streaming), the model's calls run on
    /// `compute` at `urgency`.
    pub fn speak_on(
        self: &Arc<Self>,
        compute: &Compute,
        urgency: &Urgency,
        phonemes: &str,
        cancel: &CancelToken,
        on_pcm: &mut dyn FnMut(&[i16]),
    ) -> Result<(), TtsError> {
        let ids = self.config.phoneme_ids(phonemes);
        let started = Instant::now();
        let mut first: Option<f64> = None;
        let mut seconds = 0.0;
        let mut resampler = StreamResampler::new(self.config.sample_rate, OUTPUT_RATE);
        let mut out = Vec::new();
        self.infer_streaming(&ids, compute, urgency, cancel, &mut |audio| {
            seconds += audio.len() as f64 / f64::from(self.config.sample_rate);
            out.clear();
            resampler.process(audio, &mut out);
            if !out.is_empty() {
                first.get_or_insert_with(|| started.elapsed().as_secs_f64() * 1000.0);
                on_pcm(&to_pcm16(&out));
            }
        })?;
        if cancel.is_cancelled() {
            return Ok(());
        }
        out.clear();
        resampler.finish(&mut out);
        if !out.is_empty() {
            on_pcm(&to_pcm16(&out));
        }
        log::debug!(
            "piper: {} ids -> {seconds:.2} s, first audio in {:.1} ms, all in {:.1} ms: {phonemes}",
            ids.len(),
            first.unwrap_or_default(),
            started.elapsed().as_secs_f64() * 1000.0,
        );
        Ok(())
    }
}

fn synthesis(e: impl Display) -> TtsError {
    TtsError::Synthesis(e.to_string())
}

/// Named inputs of a graph, as `ort::inputs!` makes them.
type GraphInputs = Vec<(
    std::borrow::Cow<'static, str>,
    ort::session::SessionInputValue<'static>,
)>;

/// The scheduler's name for the voice: its graphs (whole, or latent and vocoder) are one model
/// to it, so a voice never takes two lanes at once and Whisper always has one.
const MODEL_KEY: &str = "piper";

/// A per-session Piper speaker: a cheap handle on the shared [`PiperVoice`].
#[derive(Clone)]
pub struct PiperTts {
    voice: Arc<PiperVoice>,
    /// Where the voice's calls run: here, or on the shared scheduler's lanes.
    compute: Compute,
}

impl PiperTts {
    pub fn new(voice: Arc<PiperVoice>) -> PiperTts {
        Self::on(voice, Compute::Direct)
    }

    /// A speaker whose calls run where `compute` says.
    pub fn on(voice: Arc<PiperVoice>, compute: Compute) -> PiperTts {
        PiperTts { voice, compute }
    }

    pub fn voice(&self) -> &Arc<PiperVoice> {
        &self.voice
    }
}

impl TextToSpeech for PiperTts {
    fn name(&self) -> String {
        self.voice.name().to_string()
    }

    fn synthesize(
        &mut self,
        text: &str,
        cancel: &CancelToken,
        on_audio: &mut dyn FnMut(&[i16]),
    ) -> Result<(), TtsError> {
        self.synthesize_as(&Urgency::default(), text, cancel, on_audio)
    }

    fn synthesize_as(
        &mut self,
        urgency: &Urgency,
        text: &str,
        cancel: &CancelToken,
        on_audio: &mut dyn FnMut(&[i16]),
    ) -> Result<(), TtsError> {
        if cancel.is_cancelled() {
            return Ok(());
        }
        for chunk in self.voice.phoneme_chunks(text)? {
            if cancel.is_cancelled() {
                return Ok(());
            }
            // Audio finished after a barge-in is stale: drop it.
            self.voice
                .speak_on(&self.compute, urgency, &chunk, cancel, &mut |pcm| {
                    if !cancel.is_cancelled() {
                        on_audio(pcm)
                    }
                })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> PiperConfig {
        PiperConfig::parse(
            r#"{"audio": {"sample_rate": 22050},
                "phoneme_id_map": {"_": [0], "^": [1], "$": [2], " ": [3], ",": [8],
                                   "c": [16], "h": [20], "i": [21], "ˈ": [120], "̧": [140]}}"#,
        )
        .expect("valid config")
    }

    fn clause(phonemes: &str, terminator: Option<char>, end: bool) -> Clause {
        Clause {
            phonemes: phonemes.into(),
            terminator,
            end_of_sentence: end,
        }
    }

    #[test]
    fn ids_are_padded_and_framed() {
        assert_eq!(
            config().phoneme_ids("hˈi, hi"),
            vec![1, 0, 20, 0, 120, 0, 21, 0, 8, 0, 3, 0, 20, 0, 21, 0, 2]
        );
    }

    #[test]
    fn unknown_characters_are_skipped_and_precomposed_letters_decomposed() {
        // 'z' is not in this map; 'ç' becomes 'c' + combining cedilla.
        assert_eq!(config().phoneme_ids("zç"), vec![1, 0, 16, 0, 140, 0, 2]);
    }

    #[test]
    fn config_defaults_and_validation() {
        let c = config();
        assert_eq!(c.sample_rate, 22_050);
        assert_eq!(c.espeak_voice, "en-us");
        assert_eq!(
            (c.noise_scale, c.length_scale, c.noise_w),
            (0.667, 1.0, 0.8)
        );
        let missing_pad =
            r#"{"audio": {"sample_rate": 22050}, "phoneme_id_map": {"^": [1], "$": [2]}}"#;
        assert!(PiperConfig::parse(missing_pad).is_err());
        assert!(PiperConfig::parse("not json").is_err());
    }

    #[test]
    fn clauses_group_into_sentences_split_when_long() {
        let clauses = vec![
            clause("jˈɛs", Some(','), false),
            clause("aɪ kˈæn", Some('.'), true),
            clause("ðə dˈɑːktɚ ɪz ɪn tədˈeɪ", Some(','), false),
            clause("ænd ʃiː kæn sˈiː juː", Some('?'), true),
            clause("", Some('.'), true),
        ];
        assert_eq!(
            group_clauses(&clauses),
            vec![
                "jˈɛs, aɪ kˈæn.",
                "ðə dˈɑːktɚ ɪz ɪn tədˈeɪ,",
                "ænd ʃiː kæn sˈiː juː?",
            ]
        );
    }

    #[test]
    fn punctuation_only_gives_no_chunks() {
        assert!(group_clauses(&[clause("", Some('.'), true)]).is_empty());
        assert!(group_clauses(&[]).is_empty());
    }
}
