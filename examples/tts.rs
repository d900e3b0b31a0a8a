//! Speak a sentence with the local Piper voice (or a cloud provider: `--provider
//! elevenlabs|openai`, settings from the environment) into a WAV file, and time it.
//!
//! ```text
//! cargo run --release --example tts -- "Your appointment is on Dec 3 at 3:30 PM." -o out/tts.wav
//! ELEVENLABS_API_KEY=... cargo run --release --example tts -- "Hello." --provider elevenlabs [--voice ID] [--elevenlabs-url URL]
//! OPENAI_API_KEY=... cargo run --release --example tts -- "Hello." --provider openai [--voice nova] [--tts-url URL]
//! ```

use std::time::Instant;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use voice_agent::foundation::audio::OUTPUT_RATE;
use voice_agent::foundation::cancel::CancelToken;
use voice_agent::providers::cloud;
use voice_agent::providers::models::models_dir;
use voice_agent::providers::tts::elevenlabs::{ElevenLabsConfig, ElevenLabsTts};
use voice_agent::providers::tts::openai::{OpenAiTts, OpenAiTtsConfig};
use voice_agent::providers::tts::piper::{PiperTts, PiperVoice};
use voice_agent::providers::tts::TextToSpeech;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Provider {
    /// Piper on this machine.
    Local,
    /// ElevenLabs streaming (ELEVENLABS_API_KEY; ELEVENLABS_BASE_URL, ELEVENLABS_MODEL).
    Elevenlabs,
    /// An OpenAI-compatible /audio/speech (TTS_BASE_URL, TTS_API_KEY, TTS_MODEL).
    Openai,
}

#[derive(Parser)]
struct Args {
    /// The text to speak.
    #[arg(required = true)]
    text: Vec<String>,
    /// Where to write the 24 kHz mono WAV.
    #[arg(short, long, default_value = "tts.wav")]
    out: String,
    /// ONNX Runtime intra-op threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Synthesize this many times and report medians (the machine may be busy).
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Who speaks.
    #[arg(long, value_enum, default_value_t = Provider::Local)]
    provider: Provider,
    /// Cloud voice: an ElevenLabs voice id, or an OpenAI voice name (default: the provider's).
    #[arg(long)]
    voice: Option<String>,
    /// ElevenLabs' base URL (wins over ELEVENLABS_BASE_URL), e.g. a local test server.
    #[arg(long, value_name = "URL")]
    elevenlabs_url: Option<String>,
    /// The OpenAI-compatible server, up to the version (wins over TTS_BASE_URL).
    #[arg(long, value_name = "URL")]
    tts_url: Option<String>,
}

/// One synthesis: the audio and the milliseconds to its first piece and to the end.
fn run(tts: &mut dyn TextToSpeech, text: &str) -> anyhow::Result<(Vec<i16>, Option<f64>, f64)> {
    let started = Instant::now();
    let mut first_audio = None;
    let mut audio: Vec<i16> = Vec::new();
    tts.synthesize(text, &CancelToken::never(), &mut |pcm| {
        first_audio.get_or_insert_with(|| ms(started));
        audio.extend_from_slice(pcm);
    })?;
    Ok((audio, first_audio, ms(started)))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() -> anyhow::Result<()> {
    env_logger::init();
    let args = Args::parse();
    let text = args.text.join(" ");

    let overrides = [
        ("ELEVENLABS_BASE_URL", args.elevenlabs_url.as_deref()),
        ("TTS_BASE_URL", args.tts_url.as_deref()),
    ];
    let settings = cloud::overlay(&overrides, &cloud::env_lookup);
    let started = Instant::now();
    let mut tts: Box<dyn TextToSpeech> = match args.provider {
        Provider::Local => {
            anyhow::ensure!(args.voice.is_none(), "--voice is for the cloud providers");
            let voice = PiperVoice::load_with_threads(&models_dir(), args.threads)?;
            Box::new(PiperTts::new(voice))
        }
        Provider::Elevenlabs => {
            let mut config = ElevenLabsConfig::from_lookup(&settings)?;
            if let Some(voice) = &args.voice {
                config = config.with_voice(voice);
            }
            Box::new(ElevenLabsTts::new(config)?)
        }
        Provider::Openai => {
            let mut config = OpenAiTtsConfig::from_lookup(&settings)?;
            if let Some(voice) = &args.voice {
                config = config.with_voice(voice);
            }
            Box::new(OpenAiTts::new(config)?)
        }
    };
    println!("loaded {} in {:.0} ms", tts.name(), ms(started));

    let (mut firsts, mut totals) = (Vec::new(), Vec::new());
    let mut audio = Vec::new();
    for _ in 0..args.runs.max(1) {
        let (pcm, first, total) = run(tts.as_mut(), &text)?;
        firsts.extend(first);
        totals.push(total);
        audio = pcm;
    }
    let first_audio = (!firsts.is_empty()).then(|| median(firsts));
    let total = median(totals);

    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: OUTPUT_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut wav = hound::WavWriter::create(&args.out, spec).with_context(|| args.out.clone())?;
    for sample in &audio {
        wav.write_sample(*sample)?;
    }
    wav.finalize()?;

    let seconds = audio.len() as f64 / f64::from(OUTPUT_RATE);
    match first_audio {
        Some(first) => println!(
            "time to first audio: {first:.0} ms (median of {})",
            args.runs
        ),
        None => println!("nothing to say: no audio"),
    }
    println!("synthesis: {total:.0} ms for {seconds:.2} s of audio");
    if seconds > 0.0 {
        println!("real-time factor: {:.3}", total / 1000.0 / seconds);
    }
    println!("wrote {}", args.out);
    Ok(())
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}
