//! Transcribe a WAV file (any rate, any channels) with the local Whisper, and time each stage.
//!
//! ```text
//! cargo run --release --example stt -- speech.wav [--variant base] [--threads 2] [--repeat 3] [--full-window]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use voice_agent::audio::wav::read_wav_mono;
use voice_agent::models::models_dir;
use voice_agent::stt::whisper::{RunOptions, WhisperModel};
use voice_agent::CancelToken;

#[derive(Parser)]
struct Args {
    /// The WAV file to transcribe.
    wav: PathBuf,
    /// Whisper variant: the folder models/whisper-<variant>.
    #[arg(long, default_value = "tiny.en")]
    variant: String,
    /// ONNX Runtime intra-op threads per graph.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Transcribe this many times (the first run warms up).
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Encode the whole 30 s window instead of the trimmed utterance.
    #[arg(long)]
    full_window: bool,
}

fn main() -> anyhow::Result<()> {
    env_logger::init();
    let args = Args::parse();
    let audio = read_wav_mono(&args.wav, 16_000)?;
    println!(
        "{}: {:.2} s of audio",
        args.wav.display(),
        audio.len() as f64 / 16_000.0
    );

    let started = Instant::now();
    let model = WhisperModel::load(&models_dir(), &args.variant, args.threads)?;
    println!(
        "loaded whisper {} in {:.0} ms",
        args.variant,
        started.elapsed().as_secs_f64() * 1e3
    );

    let opts = RunOptions {
        full_window: args.full_window,
        ..RunOptions::default()
    };
    for run in 1..=args.repeat.max(1) {
        let started = Instant::now();
        let Some(t) = model.run(&audio, &opts, &CancelToken::never())? else {
            continue; // never cancelled
        };
        println!(
            "run {run}: {:.0} ms total (mel {:.1} ms, encoder {:.1} ms, decoder {:.1} ms for {} tokens), \
             no-speech {:.2}, avg logprob {:.2}",
            started.elapsed().as_secs_f64() * 1e3,
            t.mel_ms,
            t.encoder_ms,
            t.decoder_ms,
            t.tokens,
            t.no_speech_prob,
            t.avg_logprob
        );
        match t.skipped {
            Some(why) => println!("  (empty: {why})"),
            None => println!("  {:?}", t.text),
        }
    }
    Ok(())
}
