//! Run Silero VAD over a WAV file (any rate, any channels): print the speech segments, a
//! probability timeline and the time per 32 ms chunk.
//!
//! ```text
//! cargo run --release --example vad -- speech.wav [--threshold 0.5]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use voice_agent::foundation::audio::wav::read_wav_mono;
use voice_agent::providers::vad::silero::SileroVad;
use voice_agent::providers::vad::{Vad, VAD_CHUNK};

#[derive(Parser)]
struct Args {
    /// The WAV file to analyse.
    wav: PathBuf,
    /// Probability above which a chunk counts as speech.
    #[arg(long, default_value_t = 0.5)]
    threshold: f32,
}

fn main() -> anyhow::Result<()> {
    env_logger::init();
    let args = Args::parse();
    let audio: Vec<f32> = read_wav_mono(&args.wav, 16_000)?
        .iter()
        .map(|&s| s as f32 / 32768.0)
        .collect();

    let started = Instant::now();
    let mut vad = SileroVad::new()?;
    println!(
        "loaded {} in {:.0} ms",
        vad.name(),
        started.elapsed().as_secs_f64() * 1e3
    );

    let started = Instant::now();
    let mut probs = Vec::new();
    for chunk in audio.chunks_exact(VAD_CHUNK) {
        probs.push(vad.probability(chunk)?);
    }
    let elapsed = started.elapsed().as_secs_f64() * 1e3;
    let chunk_ms = VAD_CHUNK as f64 / 16.0;
    println!(
        "{} chunks of {chunk_ms} ms in {elapsed:.1} ms: {:.3} ms per chunk",
        probs.len(),
        elapsed / probs.len().max(1) as f64
    );

    // Speech segments: runs of chunks over the threshold.
    let mut start = None;
    for (i, &p) in probs.iter().chain([&0.0]).enumerate() {
        match (start, p > args.threshold) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                println!(
                    "speech {:7.0} - {:7.0} ms",
                    s as f64 * chunk_ms,
                    i as f64 * chunk_ms
                );
                start = None;
            }
            _ => {}
        }
    }
    // One character per chunk: ' ' quiet, '.' < 0.5, '#' speech.
    let line: String = probs
        .iter()
        .map(|&p| {
            if p > args.threshold {
                '#'
            } else if p > 0.1 {
                '.'
            } else {
                ' '
            }
        })
        .collect();
    for (i, row) in line.as_bytes().chunks(80).enumerate() {
        println!(
            "{:6.1} s |{}|",
            i as f64 * 80.0 * chunk_ms / 1000.0,
            String::from_utf8_lossy(row)
        );
    }
    Ok(())
}
