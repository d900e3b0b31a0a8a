//! Whisper speech-to-text through ONNX Runtime (tiny.en by default, multilingual base optional).
//!
//! The graphs come from scripts/convert_whisper.py (run by `make setup`): the encoder turns a
//! log-mel spectrogram (computed here, [`mel`]) into per-layer cross-attention keys/values; the
//! decoder runs greedily with a self-attention cache ([`decode`]). One [`WhisperModel`] is loaded
//! per process and shared; each session holds a cheap [`WhisperStt`] handle, and inference is
//! serialised by a mutex.
//!
//! Silence rule (no "Thank you." on an empty line): the transcript is empty when the audio is
//! shorter than 0.25 s, when its loudest 20 ms window is below -50 dBFS, or when Whisper's
//! no-speech probability exceeds 0.6 while the mean token log-probability is below -1 (Whisper's
//! own rule).
//!
//! Window length: the encoder accepts any even frame count up to 3000, so the mel is trimmed to
//! the utterance plus 1 s. Greedy tiny.en then tends to loop on short phrases ("Goodbye!
//! Goodbye! ..."), so decoding stops when the last tokens repeat a phrase three times and the
//! repeats are dropped. Measured on 16 synthetic receptionist phrases (0.8-7.8 s, espeak-ng):
//! audio + 1 s with the loop guard 8.0 % WER; without it 66 %; a window of at least 10 s
//! (`RunOptions::min_frames = 1000`) 8.0 % with no loops at all but about 4x the encoder time on
//! a 2 s phrase (290 vs 60 ms here); the full 30 s window 10.2 % at 4.5x the time. Audio over
//! 30 s is transcribed window by window.

pub mod decode;
pub mod fft;
pub mod mel;
pub mod tokenizer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use ort::session::Session;
use ort::value::TensorRef;

use self::decode::{DecodeSpec, Decoded};
use self::mel::{LogMel, HOP, MAX_FRAMES, SAMPLE_RATE};
use self::tokenizer::Tokenizer;
use super::{SpeechToText, SttError};
use crate::foundation::cancel::CancelToken;
use crate::foundation::urgency::{Priority, Urgency};
use crate::providers::models::{self, ModelError};
use crate::providers::scheduler::{CallError, Compute};

/// Shorter audio than this is not worth a transcript (0.25 s).
pub const MIN_SAMPLES: usize = SAMPLE_RATE / 4;
/// The loudest 20 ms window must reach this level (dBFS) for anything to be transcribed.
pub const MIN_PEAK_DBFS: f32 = -50.0;
/// Whisper's defaults for dropping a window as silence.
pub const NO_SPEECH_THRESHOLD: f32 = 0.6;
pub const LOGPROB_THRESHOLD: f32 = -1.0;
/// Silence kept after the audio in the trimmed mel (1 s).
const PAD_FRAMES: usize = 100;
/// Samples per 30 s window.
const WINDOW_SAMPLES: usize = MAX_FRAMES * HOP;
/// Whisper's limit per window (half the 448 positions).
const MAX_TOKENS_PER_WINDOW: usize = 224;
/// Token budget for a partial transcript.
const PARTIAL_TOKENS: usize = 48;
/// A partial transcript that a shared model cannot start within this long is dropped.
const PARTIAL_PATIENCE: std::time::Duration = std::time::Duration::from_millis(100);
/// A transcript at the sound's pause that cannot start within this long is dropped: the
/// lanes are busy, and the voice detector's pause comes soon enough.
const EARLY_PATIENCE: std::time::Duration = std::time::Duration::from_millis(20);

/// Which Whisper to load: the folder `models/whisper-<variant>/`.
pub const DEFAULT_VARIANT: &str = "tiny.en";

/// Knobs of one transcription.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Token budget per 30 s window (also capped by the audio length).
    pub max_tokens: usize,
    /// Encode the whole 30 s window instead of the trimmed utterance (slower; for comparison).
    pub full_window: bool,
    /// The shortest trimmed window in mel frames (100 a second). 0 by default; 1000 (10 s) avoids
    /// the repetition loops of short phrases at a higher encoder cost (see the module docs).
    pub min_frames: usize,
    /// A guess of each window's tokens (an earlier transcript of the same, growing utterance):
    /// checked in one decoder pass, so agreeing tokens cost nothing (see [`decode::greedy`]).
    pub draft: Vec<Vec<u32>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            max_tokens: MAX_TOKENS_PER_WINDOW,
            full_window: false,
            min_frames: 0,
            draft: Vec::new(),
        }
    }
}

/// How one transcription went (for logs, examples and benchmarks).
#[derive(Clone, Debug, Default)]
pub struct Transcript {
    pub text: String,
    pub mel_ms: f64,
    pub encoder_ms: f64,
    pub decoder_ms: f64,
    pub tokens: usize,
    /// Each window's tokens (a draft for the next transcription of the same utterance).
    pub window_tokens: Vec<Vec<u32>>,
    /// Draft tokens the decoder confirmed, and decoder passes run.
    pub drafted: usize,
    pub passes: usize,
    /// Of the last window decoded (1.0 when gated before decoding).
    pub no_speech_prob: f32,
    pub avg_logprob: f32,
    /// Why the transcript is empty, when it is.
    pub skipped: Option<&'static str>,
}

struct Sessions {
    encoder: Session,
    decoder: Session,
}

/// A loaded Whisper: graphs, tokenizer and mel extractor. Share it in an `Arc`.
pub struct WhisperModel {
    variant: String,
    sessions: Mutex<Sessions>,
    tokenizer: Tokenizer,
    spec: DecodeSpec,
    mel: LogMel,
    n_mels: usize,
}

#[derive(serde::Deserialize)]
struct Config {
    #[serde(default)]
    suppress_ids: Vec<u32>,
    #[serde(default)]
    suppress_ids_begin: Vec<u32>,
}

fn runtime(e: impl std::fmt::Display) -> ModelError {
    ModelError::Runtime(e.to_string())
}

/// The static size of input `name`'s dimension `dim` in `session`.
fn input_dim(session: &Session, name: &str, dim: usize) -> Result<usize, ModelError> {
    session
        .inputs()
        .iter()
        .find(|i| i.name() == name)
        .and_then(|i| i.dtype().tensor_shape())
        .and_then(|s| s.get(dim).copied())
        .filter(|&d| d > 0)
        .map(|d| d as usize)
        .ok_or_else(|| {
            runtime(format!(
                "Whisper graph input {name} has no static dimension {dim}"
            ))
        })
}

impl WhisperModel {
    /// The folder of a variant ("tiny.en" -> `models/whisper-tiny.en`).
    pub fn dir_in(models_dir: &Path, variant: &str) -> PathBuf {
        models_dir.join(format!("whisper-{variant}"))
    }

    /// Load `whisper-<variant>/` from `models_dir` with `threads` ONNX Runtime threads per graph.
    pub fn load(models_dir: &Path, variant: &str, threads: usize) -> Result<Self, ModelError> {
        let dir = Self::dir_in(models_dir, variant);
        let file = |name: &str| -> Result<PathBuf, ModelError> {
            let path = dir.join(name);
            models::require(&format!("Whisper {variant} {name}"), &path)?;
            Ok(path)
        };
        let started = Instant::now();
        let encoder = models::load_session(&file("encoder.onnx")?, threads)?;
        let decoder = models::load_session(&file("decoder.onnx")?, threads)?;
        let tokenizer = Tokenizer::load(&file("vocabulary.txt")?)?;
        let config_path = file("config.json")?;
        let config: Config = serde_json::from_str(
            &std::fs::read_to_string(&config_path)
                .map_err(|e| runtime(format!("{}: {e}", config_path.display())))?,
        )
        .map_err(|e| runtime(format!("{}: {e}", config_path.display())))?;

        let n_mels = input_dim(&encoder, "mel", 1)?;
        let n_layers = input_dim(&decoder, "past_k", 0)?;
        let n_heads = input_dim(&decoder, "past_k", 2)?;
        let d_head = input_dim(&decoder, "past_k", 3)?;
        let n_vocab = decoder
            .outputs()
            .iter()
            .find(|o| o.name() == "logits")
            .and_then(|o| o.dtype().tensor_shape())
            .and_then(|s| s.get(2).copied())
            .filter(|&d| d > 0)
            .map(|d| d as usize)
            .ok_or_else(|| runtime("Whisper decoder has no static vocabulary size"))?;
        let id = |token: &str| {
            tokenizer
                .id(token)
                .ok_or_else(|| runtime(format!("Whisper vocabulary lacks {token}")))
        };
        // Whisper's own rule: the multilingual vocabulary is one token larger.
        let multilingual = n_vocab >= 51865;
        let mut prompt = vec![id("<|startoftranscript|>")?];
        if multilingual {
            prompt.push(id("<|en|>")?);
            prompt.push(id("<|transcribe|>")?);
        }
        prompt.push(id("<|notimestamps|>")?);
        let spec = DecodeSpec {
            n_layers,
            n_heads,
            d_head,
            n_vocab,
            eot: id("<|endoftext|>")?,
            no_speech: id("<|nocaptions|>").or_else(|_| id("<|nospeech|>"))?,
            prompt,
            suppress: config.suppress_ids,
            suppress_begin: config.suppress_ids_begin,
        };
        log::info!(
            "loaded Whisper {variant} from {} in {:.1} s ({n_layers} decoder layers, vocabulary {n_vocab})",
            dir.display(),
            started.elapsed().as_secs_f64()
        );
        Ok(Self {
            variant: variant.to_string(),
            sessions: Mutex::new(Sessions { encoder, decoder }),
            tokenizer,
            spec,
            mel: LogMel::new(n_mels),
            n_mels,
        })
    }

    /// The process-wide model of `variant` from [`models::models_dir`], loaded on first use
    /// with [`models::model_threads`] threads.
    pub fn shared(variant: &str) -> Result<Arc<Self>, ModelError> {
        Self::shared_with(variant, models::model_threads())
    }

    /// The process-wide model of `variant` with `threads` intra-op threads, loaded on first use.
    pub fn shared_with(variant: &str, threads: usize) -> Result<Arc<Self>, ModelError> {
        type Cache = Mutex<HashMap<(String, usize), Arc<WhisperModel>>>;
        static SHARED: OnceLock<Cache> = OnceLock::new();
        let cache = SHARED.get_or_init(Default::default);
        let mut cache = cache
            .lock()
            .map_err(|_| runtime("Whisper model cache lock poisoned"))?;
        let key = (variant.to_string(), threads);
        if let Some(model) = cache.get(&key) {
            return Ok(model.clone());
        }
        let model = Arc::new(Self::load(&models::models_dir(), variant, threads)?);
        cache.insert(key, model.clone());
        Ok(model)
    }

    pub fn variant(&self) -> &str {
        &self.variant
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The log-mel this model uses, for `frames` frames of `audio` (16 kHz, [-1, 1]).
    pub fn log_mel(&self, audio: &[f32], frames: usize) -> mel::Mel {
        self.mel.compute(audio, frames)
    }

    /// Transcribe a whole utterance (16 kHz mono), with timings.
    pub fn transcribe(&self, audio: &[i16]) -> Result<Transcript, SttError> {
        self.run(audio, &RunOptions::default(), &CancelToken::never())
            .map(|t| t.unwrap_or_default())
    }

    /// Like [`WhisperModel::transcribe`] with options; `Ok(None)` if `cancel` fires.
    pub fn run(
        &self,
        audio: &[i16],
        opts: &RunOptions,
        cancel: &CancelToken,
    ) -> Result<Option<Transcript>, SttError> {
        let mut result = Transcript {
            no_speech_prob: 1.0,
            ..Default::default()
        };
        let samples: Vec<f32> = audio.iter().map(|&s| s as f32 / 32768.0).collect();
        if samples.len() < MIN_SAMPLES {
            result.skipped = Some("shorter than 0.25 s");
            return Ok(Some(result));
        }
        if peak_dbfs(&samples) < MIN_PEAK_DBFS {
            result.skipped = Some("below -50 dBFS");
            return Ok(Some(result));
        }
        // A panic during an earlier call (caught by the scheduler's lane) leaves the graphs
        // themselves intact.
        let mut sessions = self
            .sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut texts = Vec::new();
        for (index, window) in samples.chunks(WINDOW_SAMPLES).enumerate() {
            // A short tail after a long window (e.g. 30.1 s) carries no words worth a pass.
            if window.len() < MIN_SAMPLES || peak_dbfs(window) < MIN_PEAK_DBFS {
                continue;
            }
            let draft = opts.draft.get(index).map_or(&[][..], Vec::as_slice);
            let Some((text, decoded)) =
                self.window(&mut sessions, window, opts, draft, cancel, &mut result)?
            else {
                return Ok(None);
            };
            result.tokens += decoded.tokens.len();
            result.drafted += decoded.drafted;
            result.passes += decoded.passes;
            result.window_tokens.push(decoded.tokens.clone());
            result.no_speech_prob = decoded.no_speech_prob;
            result.avg_logprob = decoded.avg_logprob;
            if decoded.no_speech_prob > NO_SPEECH_THRESHOLD
                && decoded.avg_logprob < LOGPROB_THRESHOLD
            {
                log::debug!(
                    "whisper: window dropped as silence (no-speech {:.2}, avg logprob {:.2}): {text:?}",
                    decoded.no_speech_prob,
                    decoded.avg_logprob
                );
                continue;
            }
            if !text.is_empty() {
                texts.push(text);
            }
        }
        result.text = texts.join(" ");
        if result.text.is_empty() && result.skipped.is_none() {
            result.skipped = Some("no speech detected");
        }
        Ok(Some(result))
    }

    /// Encode and decode one window of at most 30 s.
    fn window(
        &self,
        sessions: &mut Sessions,
        window: &[f32],
        opts: &RunOptions,
        draft: &[u32],
        cancel: &CancelToken,
        timing: &mut Transcript,
    ) -> Result<Option<(String, Decoded)>, SttError> {
        let err = |e: ort::Error| SttError::Inference(e.to_string());
        let started = Instant::now();
        let frames = if opts.full_window {
            MAX_FRAMES
        } else {
            trimmed_frames(window.len(), opts.min_frames)
        };
        let mel = self.mel.compute(window, frames);
        timing.mel_ms += ms_since(started);
        if cancel.is_cancelled() {
            return Ok(None);
        }

        let started = Instant::now();
        let mut outputs = sessions
            .encoder
            .run(ort::inputs! {
                "mel" => TensorRef::from_array_view(([1usize, self.n_mels, frames], &mel.data[..])).map_err(err)?,
            })
            .map_err(err)?;
        let cross_k = outputs
            .remove("cross_k")
            .ok_or_else(|| SttError::Inference("encoder output cross_k missing".into()))?;
        let cross_v = outputs
            .remove("cross_v")
            .ok_or_else(|| SttError::Inference("encoder output cross_v missing".into()))?;
        drop(outputs);
        timing.encoder_ms += ms_since(started);

        let started = Instant::now();
        // Speech runs at about 3-4 tokens a second; a generous budget still stops a loop early.
        let seconds = window.len() as f64 / SAMPLE_RATE as f64;
        let budget = opts.max_tokens.min(16 + (seconds * 8.0) as usize);
        let decoded = decode::greedy(
            &mut sessions.decoder,
            &self.spec,
            &cross_k,
            &cross_v,
            budget,
            draft,
            cancel,
        )?;
        timing.decoder_ms += ms_since(started);
        Ok(decoded.map(|d| (self.tokenizer.decode(&d.tokens).trim().to_string(), d)))
    }
}

/// Frames for a window: the audio plus 1 s of silence, at least `min_frames`, even (the
/// encoder's stride-2 conv), at most 30 s.
fn trimmed_frames(samples: usize, min_frames: usize) -> usize {
    let frames = (samples.div_ceil(HOP) + PAD_FRAMES).max(min_frames);
    (frames + frames % 2).min(MAX_FRAMES)
}

/// The level of the loudest 20 ms window in dBFS.
fn peak_dbfs(samples: &[f32]) -> f32 {
    let peak = samples
        .chunks(SAMPLE_RATE / 50)
        .map(|w| w.iter().map(|x| x * x).sum::<f32>() / w.len() as f32)
        .fold(0.0f32, f32::max);
    10.0 * peak.max(1e-12).log10()
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// A per-session Whisper handle (cheap: the model is shared).
pub struct WhisperStt {
    model: Arc<WhisperModel>,
    /// Where the model's calls run: here, or on the shared scheduler's lanes.
    compute: Compute,
    /// The tokens of the last transcription: the draft for the next one. Within an utterance
    /// (partials while it grows, the guess at a pause, the final) most of them come back; a
    /// stale draft from the previous utterance costs one pass and changes nothing.
    draft: Vec<Vec<u32>>,
}

/// The scheduler's name for Whisper's graphs (one call at a time).
const MODEL_KEY: &str = "whisper";

impl WhisperStt {
    /// tiny.en, shared by every session of the process.
    pub fn new() -> Result<Self, ModelError> {
        Self::load_variant(DEFAULT_VARIANT)
    }

    /// A shared variant: "tiny.en" or "base" (multilingual, decoding English).
    pub fn load_variant(variant: &str) -> Result<Self, ModelError> {
        Ok(Self::with_model(WhisperModel::shared(variant)?))
    }

    pub fn with_model(model: Arc<WhisperModel>) -> Self {
        Self::on(model, Compute::Direct)
    }

    /// A handle whose calls run where `compute` says.
    pub fn on(model: Arc<WhisperModel>, compute: Compute) -> Self {
        Self {
            model,
            compute,
            draft: Vec::new(),
        }
    }

    pub fn model(&self) -> &Arc<WhisperModel> {
        &self.model
    }

    /// One transcription as a call of the given priority; `Ok(None)` when it was cancelled or
    /// dropped as stale. Its tokens become the next draft.
    fn run(
        &mut self,
        audio: &[i16],
        opts: RunOptions,
        priority: Priority,
        cancel: &CancelToken,
    ) -> Result<Option<Transcript>, SttError> {
        // A partial is shown while the caller speaks: late, it shows nothing new, and the
        // session had better go on to its next message (the end of the turn, say).
        let patience = (priority == Priority::Partial).then_some(PARTIAL_PATIENCE);
        self.run_within(audio, opts, priority, patience, cancel)
    }

    fn run_within(
        &mut self,
        audio: &[i16],
        opts: RunOptions,
        priority: Priority,
        patience: Option<std::time::Duration>,
        cancel: &CancelToken,
    ) -> Result<Option<Transcript>, SttError> {
        let (model, audio, token) = (self.model.clone(), audio.to_vec(), cancel.clone());
        let call = move || model.run(&audio, &opts, &token);
        let t = match self.compute.run_within(
            MODEL_KEY,
            &Urgency::fixed(priority),
            cancel,
            patience,
            call,
        ) {
            Ok(r) => r?,
            Err(CallError::Stale) => None,
            Err(e) => return Err(SttError::Inference(e.to_string())),
        };
        if let Some(t) = &t {
            // A partial cut at its token budget is still a good draft for the tokens it has.
            self.draft = t.window_tokens.clone();
        }
        Ok(t)
    }
}

impl SpeechToText for WhisperStt {
    fn name(&self) -> String {
        format!("whisper {} (local, onnxruntime)", self.model.variant)
    }

    fn transcribe(&mut self, audio: &[i16]) -> Result<String, SttError> {
        let opts = RunOptions {
            draft: std::mem::take(&mut self.draft),
            ..RunOptions::default()
        };
        let t = self
            .run(audio, opts, Priority::Decisive, &CancelToken::never())?
            .unwrap_or_default();
        log::debug!(
            "whisper: {:.2} s audio -> {:?} (mel {:.0} ms, encoder {:.0} ms, decoder {:.0} ms, {} tokens, {} from the draft, {} passes{})",
            audio.len() as f64 / SAMPLE_RATE as f64,
            t.text,
            t.mel_ms,
            t.encoder_ms,
            t.decoder_ms,
            t.tokens,
            t.drafted,
            t.passes,
            t.skipped.map(|s| format!(", empty: {s}")).unwrap_or_default()
        );
        Ok(t.text)
    }

    fn transcribe_speculative(
        &mut self,
        audio: &[i16],
        cancel: &CancelToken,
    ) -> Result<Option<String>, SttError> {
        let opts = RunOptions {
            draft: std::mem::take(&mut self.draft),
            ..RunOptions::default()
        };
        Ok(self
            .run(audio, opts, Priority::Speculative, cancel)?
            .map(|t| t.text))
    }

    fn transcribe_early(
        &mut self,
        audio: &[i16],
        cancel: &CancelToken,
    ) -> Result<Option<String>, SttError> {
        // The draft is lent, not taken: dropped for a busy model, this call leaves it to the
        // transcript at the detector's pause.
        let opts = RunOptions {
            draft: self.draft.clone(),
            ..RunOptions::default()
        };
        let patience = Some(EARLY_PATIENCE);
        Ok(self
            .run_within(audio, opts, Priority::Speculative, patience, cancel)?
            .map(|t| t.text))
    }

    fn transcribe_partial(
        &mut self,
        audio: &[i16],
        cancel: &CancelToken,
    ) -> Result<Option<String>, SttError> {
        let opts = RunOptions {
            max_tokens: PARTIAL_TOKENS,
            draft: self.draft.clone(),
            ..RunOptions::default()
        };
        Ok(self
            .run(audio, opts, Priority::Partial, cancel)?
            .map(|t| t.text))
    }

    fn discard_utterance(&mut self) {
        self.draft.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimmed_frames_are_even_padded_and_capped() {
        assert_eq!(trimmed_frames(16_000, 0), 200);
        assert_eq!(trimmed_frames(16_001, 0), 202);
        assert_eq!(trimmed_frames(16_160, 0), 202);
        assert_eq!(trimmed_frames(16_000, 1000), 1000);
        assert_eq!(trimmed_frames(12 * SAMPLE_RATE, 1000), 1300);
        assert_eq!(trimmed_frames(WINDOW_SAMPLES, 1000), MAX_FRAMES);
        assert_eq!(trimmed_frames(29 * SAMPLE_RATE + 8000, 0), MAX_FRAMES);
    }

    #[test]
    fn peak_level_finds_the_loudest_window() {
        let mut audio = vec![0.0f32; 16_000];
        assert!(peak_dbfs(&audio) < -100.0);
        for x in &mut audio[8000..8320] {
            *x = 0.5; // one 20 ms window at -6 dBFS
        }
        assert!(
            (peak_dbfs(&audio) + 6.02).abs() < 0.1,
            "{}",
            peak_dbfs(&audio)
        );
    }
}
