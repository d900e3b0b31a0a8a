//! Silero VAD on real audio: speech bounds from espeak-ng speech padded with silence, and low
//! probabilities on silence and white noise. Skips (with a message) when `make setup` has not run.

use std::path::PathBuf;
use std::process::Command;

use voice_agent::providers::models::{self, models_dir};
use voice_agent::providers::vad::silero::{SileroModel, SileroVad};
use voice_agent::providers::vad::{Vad, VAD_CHUNK};

const RATE: usize = 16_000;
const CHUNK_MS: f64 = VAD_CHUNK as f64 * 1000.0 / RATE as f64;

fn vad() -> Option<SileroVad> {
    if !SileroModel::path_in(&models_dir()).exists() {
        eprintln!(
            "SKIPPED: Silero model missing in {} ({})",
            models_dir().display(),
            models::SETUP_HINT
        );
        return None;
    }
    Some(SileroVad::new().expect("Silero model present but failed to load"))
}

/// `text` spoken by espeak-ng as 16 kHz samples in [-1, 1] (None, with a message, without it).
fn speak(text: &str) -> Option<Vec<f32>> {
    let path: PathBuf = std::env::temp_dir().join(format!("va-vad-{}.wav", std::process::id()));
    let status = Command::new("espeak-ng")
        .args(["-v", "en-us", "-w"])
        .arg(&path)
        .arg(text)
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        eprintln!(
            "SKIPPED: espeak-ng is not installed ({})",
            models::SETUP_HINT
        );
        return None;
    }
    let pcm = voice_agent::foundation::audio::wav::read_wav_mono(&path, RATE as u32)
        .expect("espeak-ng wrote a readable WAV");
    let _ = std::fs::remove_file(&path);
    Some(pcm.iter().map(|&s| s as f32 / 32768.0).collect())
}

/// First and last 10 ms window above -40 dBFS, in ms: where the speech really is.
fn energy_bounds(audio: &[f32]) -> (f64, f64) {
    let win = RATE / 100;
    let loud: Vec<usize> = audio
        .chunks(win)
        .enumerate()
        .filter(|(_, w)| {
            let ms = w.iter().map(|x| x * x).sum::<f32>() / w.len() as f32;
            10.0 * ms.max(1e-12).log10() > -40.0
        })
        .map(|(i, _)| i)
        .collect();
    let first = *loud.first().expect("speech has loud windows");
    let last = *loud.last().expect("speech has loud windows");
    (first as f64 * 10.0, (last + 1) as f64 * 10.0)
}

fn probabilities(vad: &mut SileroVad, audio: &[f32]) -> Vec<f32> {
    audio
        .chunks_exact(VAD_CHUNK)
        .map(|c| vad.probability(c).expect("VAD runs"))
        .collect()
}

#[test]
fn speech_bounds_are_found_within_100_ms() {
    let Some(mut vad) = vad() else { return };
    let Some(speech) =
        speak("Hello, I would like to book an appointment for next Tuesday, please.")
    else {
        return;
    };
    let mut audio = vec![0.0f32; RATE]; // 1.0 s of silence
    audio.extend(&speech);
    audio.extend(vec![0.0f32; RATE * 3 / 2]); // 1.5 s of silence
    let (start_ms, end_ms) = energy_bounds(&audio);

    let probs = probabilities(&mut vad, &audio);
    let first = probs
        .iter()
        .position(|&p| p > 0.5)
        .expect("some chunk is speech");
    let last = probs
        .iter()
        .rposition(|&p| p > 0.5)
        .expect("some chunk is speech");
    let (vad_start, vad_end) = (first as f64 * CHUNK_MS, (last + 1) as f64 * CHUNK_MS);
    eprintln!("energy: {start_ms:.0}-{end_ms:.0} ms, silero: {vad_start:.0}-{vad_end:.0} ms");
    assert!(
        (vad_start - start_ms).abs() <= 100.0,
        "speech starts at {start_ms} ms, VAD said {vad_start} ms"
    );
    assert!(
        (vad_end - end_ms).abs() <= 100.0,
        "speech ends at {end_ms} ms, VAD said {vad_end} ms"
    );
    // The leading second and the tail after the speech stay quiet.
    let lead = (900.0 / CHUNK_MS) as usize;
    assert!(
        probs[..lead].iter().all(|&p| p < 0.1),
        "{:?}",
        &probs[..lead]
    );
    let tail = ((end_ms + 500.0) / CHUNK_MS) as usize;
    assert!(
        probs[tail..].iter().all(|&p| p < 0.5),
        "{:?}",
        &probs[tail..]
    );
}

#[test]
fn silence_and_white_noise_score_low() {
    let Some(mut vad) = vad() else { return };
    let silence = probabilities(&mut vad, &vec![0.0f32; 2 * RATE]);
    assert!(silence.iter().all(|&p| p < 0.1), "silence: {silence:?}");

    vad.reset();
    let mut seed = 7u32;
    let noise: Vec<f32> = (0..3 * RATE)
        .map(|_| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.2 // uniform, about -25 dBFS
        })
        .collect();
    let probs = probabilities(&mut vad, &noise);
    let mean = probs.iter().sum::<f32>() / probs.len() as f32;
    eprintln!(
        "white noise: mean {mean:.3}, max {:.3}",
        probs.iter().copied().fold(0.0, f32::max)
    );
    assert!(mean < 0.2, "white noise mean probability {mean}");
    assert!(
        probs.iter().filter(|&&p| p > 0.5).count() <= probs.len() / 20,
        "{probs:?}"
    );
}

#[test]
fn reset_makes_a_stream_repeatable() {
    let Some(mut vad) = vad() else { return };
    let Some(speech) = speak("Good morning.") else {
        return;
    };
    let a = probabilities(&mut vad, &speech);
    vad.reset();
    let b = probabilities(&mut vad, &speech);
    assert_eq!(a.len(), b.len());
    assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-5));
    assert!(
        a.iter().any(|&p| p > 0.5),
        "speech should be detected: {a:?}"
    );
}
