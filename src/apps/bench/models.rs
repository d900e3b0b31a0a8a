//! Micro-benchmarks of the speech models through their seams, on the session providers the
//! pipeline uses: VAD time per 32 ms chunk, STT compute for utterances of fixed lengths, TTS
//! time to first audio for a short clause and a long sentence with the real-time factor.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::error::BenchError;
use super::procstat::{self, Memory};
use super::stats::Summary;
use super::utterances::{last_audible, speech_of_length, Utterance};
use crate::foundation::audio::i16_to_f32;
use crate::foundation::audio::OUTPUT_RATE;
use crate::foundation::cancel::CancelToken;
use crate::providers::session::SessionFactory;
use crate::providers::vad::{VadConfig, VAD_CHUNK};

/// Utterance lengths the STT is timed on, in seconds.
pub const STT_LENGTHS: [f64; 4] = [2.0, 3.0, 5.0, 10.0];
/// A 5-word clause, the first chunk a reply typically releases.
pub const SHORT_CLAUSE: &str = "Doctor Patel is free tomorrow,";
pub const LONG_SENTENCE: &str =
    "Good news, Doctor Patel is free on Monday at ten in the morning, and I can hold \
that slot for you while you find your insurance card and the letter from your family doctor.";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VadBench {
    pub name: String,
    pub chunks: usize,
    pub per_chunk_ms: Summary,
    /// How far the VAD's verdict trails the sound, per utterance: the end of its last chunk
    /// at or above the speech threshold, minus the utterance's last audible sample.
    #[serde(default)]
    pub lag_ms: Option<Summary>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SttBench {
    pub audio_s: f64,
    /// Time of one `transcribe` call on its own (no draft).
    pub compute_ms: Summary,
    /// Time of the same call right after a partial transcript of all but its last 0.5 s, as
    /// at the end of a caller's turn (the partial drafts the decoder's tokens).
    #[serde(default)]
    pub after_partial_ms: Option<Summary>,
    pub transcript: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TtsBench {
    pub label: String,
    pub text: String,
    pub words: usize,
    pub first_audio_ms: Summary,
    pub total_ms: Summary,
    pub audio_s: f64,
    /// Synthesis time over audio duration (P50 total / audio); none without audio.
    pub rtf: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelsReport {
    pub vad: Option<VadBench>,
    pub stt_name: String,
    pub stt: Vec<SttBench>,
    pub tts_name: String,
    pub tts: Vec<TtsBench>,
    /// The process with the models loaded, after these runs.
    pub memory: Option<Memory>,
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn summary(values: &[f64], what: &str) -> Result<Summary, BenchError> {
    Summary::of(values).ok_or_else(|| BenchError::Model(format!("{what}: no measurements")))
}

/// For each utterance followed by a second of silence: the end of the last chunk the VAD
/// calls speech, minus the utterance's last audible sample, in ms (positive: the VAD still
/// hears speech after the sound has ended).
fn vad_lag(
    vad: &mut dyn crate::providers::vad::Vad,
    threshold: f32,
    utterances: &[Utterance],
) -> Result<Vec<f64>, BenchError> {
    let mut lags = Vec::new();
    for u in utterances {
        vad.reset();
        let mut audio = i16_to_f32(&u.pcm);
        audio.resize(
            audio.len() + crate::foundation::audio::INPUT_RATE as usize,
            0.0,
        );
        let mut voiced_end = None;
        for (i, chunk) in audio.chunks_exact(VAD_CHUNK).enumerate() {
            let p = vad
                .probability(chunk)
                .map_err(|e| BenchError::Model(e.to_string()))?;
            if p >= threshold {
                voiced_end = Some((i + 1) * VAD_CHUNK);
            }
        }
        if let Some(end) = voiced_end {
            let samples = end as f64 - last_audible(&u.pcm) as f64;
            lags.push(samples * 1000.0 / f64::from(crate::foundation::audio::INPUT_RATE));
        }
    }
    Ok(lags)
}

/// Run every model micro-benchmark `repeats` times (at least once) on `utterances`.
pub fn run(
    factory: &dyn SessionFactory,
    utterances: &[Utterance],
    repeats: usize,
) -> Result<ModelsReport, BenchError> {
    let mut p = factory.session()?;
    let repeats = repeats.max(1);

    // VAD: every 32 ms chunk of the utterances, each timed on its own.
    let audio: Vec<f32> = utterances.iter().flat_map(|u| i16_to_f32(&u.pcm)).collect();
    let mut per_chunk = Vec::new();
    p.vad.reset();
    for chunk in audio.chunks_exact(VAD_CHUNK) {
        let t = Instant::now();
        p.vad
            .probability(chunk)
            .map_err(|e| BenchError::Model(e.to_string()))?;
        per_chunk.push(ms_since(t));
    }
    let lags = vad_lag(&mut *p.vad, VadConfig::default().threshold, utterances)?;
    let vad = Summary::of(&per_chunk).map(|s| VadBench {
        name: p.vad.name(),
        chunks: per_chunk.len(),
        per_chunk_ms: s,
        lag_ms: Summary::of(&lags),
    });

    // STT: the same speech cut to each length.
    let mut stt = Vec::new();
    for &secs in &STT_LENGTHS {
        let pcm = speech_of_length(utterances, secs);
        if pcm.is_empty() {
            continue;
        }
        let (mut times, mut drafted) = (Vec::new(), Vec::new());
        let mut transcript = String::new();
        let head = &pcm[..pcm
            .len()
            .saturating_sub(crate::foundation::audio::INPUT_RATE as usize / 2)];
        let model_err = |e: crate::providers::stt::SttError| BenchError::Model(e.to_string());
        for _ in 0..repeats {
            p.stt.discard_utterance();
            let t = Instant::now();
            transcript = p.stt.transcribe(&pcm).map_err(model_err)?;
            times.push(ms_since(t));

            p.stt.discard_utterance();
            if p.stt
                .transcribe_partial(head, &crate::foundation::cancel::CancelToken::never())
                .map_err(model_err)?
                .is_some()
            {
                let t = Instant::now();
                p.stt.transcribe(&pcm).map_err(model_err)?;
                drafted.push(ms_since(t));
            }
        }
        stt.push(SttBench {
            audio_s: secs,
            compute_ms: summary(&times, "stt")?,
            after_partial_ms: Summary::of(&drafted),
            transcript,
        });
    }

    // TTS: time to the first audio piece and to the end.
    let mut tts = Vec::new();
    for (label, text) in [
        ("5-word clause", SHORT_CLAUSE),
        ("long sentence", LONG_SENTENCE),
    ] {
        let (mut firsts, mut totals, mut samples) = (Vec::new(), Vec::new(), 0usize);
        for _ in 0..repeats {
            let t = Instant::now();
            let mut first = None;
            let mut n = 0usize;
            p.tts
                .synthesize(text, &CancelToken::never(), &mut |pcm| {
                    first.get_or_insert_with(|| ms_since(t));
                    n += pcm.len();
                })
                .map_err(|e| BenchError::Model(e.to_string()))?;
            totals.push(ms_since(t));
            firsts.extend(first);
            samples = n;
        }
        let total_ms = summary(&totals, "tts")?;
        let audio_s = samples as f64 / OUTPUT_RATE as f64;
        tts.push(TtsBench {
            label: label.to_string(),
            text: text.to_string(),
            words: text.split_whitespace().count(),
            first_audio_ms: summary(&firsts, "tts first audio")?,
            rtf: (audio_s > 0.0).then(|| total_ms.p50 / 1000.0 / audio_s),
            total_ms,
            audio_s,
        });
    }

    Ok(ModelsReport {
        vad,
        stt_name: p.stt.name(),
        stt,
        tts_name: p.tts.name(),
        tts,
        memory: procstat::memory(),
    })
}
