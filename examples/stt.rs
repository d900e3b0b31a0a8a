//! Transcribe a WAV file (any rate, any channels) with the local Whisper, and time each stage;
//! or with a cloud provider (`--provider deepgram|openai`, settings from the environment).
//!
//! ```text
//! cargo run --release --example stt -- speech.wav [--variant base] [--threads 2] [--repeat 3] [--full-window] [--draft]
//! DEEPGRAM_API_KEY=... cargo run --release --example stt -- speech.wav --provider deepgram [--deepgram-url URL]
//! OPENAI_API_KEY=... cargo run --release --example stt -- speech.wav --provider openai [--stt-url URL]
//! ```
//!
//! Deepgram gets the file in 20 ms frames at the pace of real speech, as in a call; the time
//! that matters is from the last frame to the final transcript.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use voice_agent::foundation::audio::wav::read_wav_mono;
use voice_agent::foundation::cancel::CancelToken;
use voice_agent::providers::cloud;
use voice_agent::providers::models::models_dir;
use voice_agent::providers::stt::deepgram::{DeepgramConfig, DeepgramStt};
use voice_agent::providers::stt::openai::{OpenAiStt, OpenAiSttConfig};
use voice_agent::providers::stt::whisper::{RunOptions, WhisperModel};
use voice_agent::providers::stt::SpeechToText;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Provider {
    /// Whisper on this machine.
    Local,
    /// Deepgram streaming (DEEPGRAM_API_KEY; DEEPGRAM_BASE_URL, DEEPGRAM_MODEL).
    Deepgram,
    /// An OpenAI-compatible /audio/transcriptions (STT_BASE_URL, STT_API_KEY, STT_MODEL).
    Openai,
}

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
    /// Draft the tokens from a transcript of all but the last 0.5 s (the partial a call has
    /// while the caller speaks), so the decoder only checks what it already heard.
    #[arg(long)]
    draft: bool,
    /// Who transcribes.
    #[arg(long, value_enum, default_value_t = Provider::Local)]
    provider: Provider,
    /// Deepgram's base URL (wins over DEEPGRAM_BASE_URL), e.g. a local test server.
    #[arg(long, value_name = "URL")]
    deepgram_url: Option<String>,
    /// The OpenAI-compatible server, up to the version (wins over STT_BASE_URL).
    #[arg(long, value_name = "URL")]
    stt_url: Option<String>,
}

impl Args {
    /// The URL flags and the variables they win over.
    fn url_overrides(&self) -> [(&'static str, Option<&str>); 2] {
        [
            ("DEEPGRAM_BASE_URL", self.deepgram_url.as_deref()),
            ("STT_BASE_URL", self.stt_url.as_deref()),
        ]
    }
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
    match args.provider {
        Provider::Local => run_local(&args, &audio),
        Provider::Deepgram => run_deepgram(&args, &audio),
        Provider::Openai => {
            let overrides = args.url_overrides();
            let settings = cloud::overlay(&overrides, &cloud::env_lookup);
            let stt = OpenAiStt::new(OpenAiSttConfig::from_lookup(&settings)?)?;
            run_cloud(&args, &audio, Box::new(stt))
        }
    }
}

fn run_local(args: &Args, audio: &[i16]) -> anyhow::Result<()> {
    let started = Instant::now();
    let model = WhisperModel::load(&models_dir(), &args.variant, args.threads)?;
    println!(
        "loaded whisper {} in {:.0} ms",
        args.variant,
        started.elapsed().as_secs_f64() * 1e3
    );

    let mut opts = RunOptions {
        full_window: args.full_window,
        ..RunOptions::default()
    };
    if args.draft {
        let head = &audio[..audio.len().saturating_sub(8_000)];
        if let Some(partial) = model.run(head, &opts, &CancelToken::never())? {
            println!("draft (all but the last 0.5 s): {:?}", partial.text);
            opts.draft = partial.window_tokens;
        }
    }
    for run in 1..=args.repeat.max(1) {
        let started = Instant::now();
        let Some(t) = model.run(audio, &opts, &CancelToken::never())? else {
            continue; // never cancelled
        };
        println!(
            "run {run}: {:.0} ms total (mel {:.1} ms, encoder {:.1} ms, decoder {:.1} ms for {} tokens \
             in {} passes, {} from the draft), no-speech {:.2}, avg logprob {:.2}",
            started.elapsed().as_secs_f64() * 1e3,
            t.mel_ms,
            t.encoder_ms,
            t.decoder_ms,
            t.tokens,
            t.passes,
            t.drafted,
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

/// Stream the file frame by frame at real-time pace, showing partials, then time the final.
fn run_deepgram(args: &Args, audio: &[i16]) -> anyhow::Result<()> {
    let started = Instant::now();
    let overrides = args.url_overrides();
    let settings = cloud::overlay(&overrides, &cloud::env_lookup);
    let mut stt = DeepgramStt::connect(DeepgramConfig::from_lookup(&settings)?)?;
    println!(
        "connected to {} in {:.0} ms",
        stt.name(),
        started.elapsed().as_secs_f64() * 1e3
    );
    for run in 1..=args.repeat.max(1) {
        let start = Instant::now();
        for (i, frame) in audio.chunks(320).enumerate() {
            // Frame i is "spoken" at i * 20 ms.
            let due = start + Duration::from_millis(20 * i as u64);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            if let Some(partial) = stt.stream_audio(frame)? {
                println!("  partial: {partial}");
            }
        }
        let end_of_audio = Instant::now();
        let text = stt.transcribe(audio)?;
        println!(
            "run {run}: final {:.0} ms after the end of the audio\n  {text:?}",
            end_of_audio.elapsed().as_secs_f64() * 1e3
        );
    }
    stt.close();
    Ok(())
}

/// One request per run with the whole file.
fn run_cloud(args: &Args, audio: &[i16], mut stt: Box<dyn SpeechToText>) -> anyhow::Result<()> {
    println!("provider: {}", stt.name());
    for run in 1..=args.repeat.max(1) {
        let started = Instant::now();
        let text = stt.transcribe(audio)?;
        println!(
            "run {run}: {:.0} ms\n  {text:?}",
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    Ok(())
}
