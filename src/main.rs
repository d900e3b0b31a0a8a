//! The `voice-agent` command line: run a caller WAV through the agent, serve the browser demo,
//! talk through the microphone, or benchmark.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use voice_agent::apps::compose::{ProviderOptions, Providers};
use voice_agent::foundation::audio::wav::{ConversationRecorder, WavError, WavInput};
use voice_agent::orchestration::pipeline::{
    output, Event, Output, Pipeline, PipelineConfig, SessionParts, TurnReport,
};
use voice_agent::providers::session::SessionFactory;

#[derive(Parser)]
#[command(
    name = "voice-agent",
    version,
    about = "A realtime voice agent: VAD -> STT -> LLM agent with tools -> TTS"
)]
struct Cli {
    #[command(flatten)]
    providers: ProviderOptions,
    /// More logging (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Play a caller WAV into the agent and record the conversation.
    Run(RunArgs),
    /// Serve the browser demo: a page and one WebSocket session per caller.
    Serve(voice_agent::apps::server::ServeArgs),
    /// Speak text with the local voice into a WAV file (handy for making caller audio).
    Say(SayArgs),
    /// Measure it like the paper: per-stage latency, streaming vs turn-based, capacity.
    Bench(voice_agent::apps::bench::BenchArgs),
    /// Talk to the agent through this machine's microphone and speaker (Ctrl-C ends).
    Mic(voice_agent::apps::mic::MicArgs),
    /// Put the server through load, abuse and faults on 127.0.0.1, and print what held.
    Soak(voice_agent::apps::soak::SoakArgs),
    /// Score the brain (built-in, or `--llm URL`) on the receptionist corpus, by category.
    Eval(voice_agent::apps::eval::EvalArgs),
}

#[derive(clap::Args)]
struct SayArgs {
    /// The text to speak.
    #[arg(required = true)]
    text: Vec<String>,
    /// Output WAV file.
    #[arg(long, short)]
    output: PathBuf,
    /// Sample rate of the file.
    #[arg(long, default_value_t = 24_000)]
    rate: u32,
    /// Let the voice vary naturally from run to run (off by default so that caller audio made
    /// for tests and benchmarks is the same every time).
    #[arg(long)]
    vary: bool,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The caller's audio (any WAV: sample rate and channels are converted).
    #[arg(long, short)]
    input: PathBuf,
    /// Write the conversation as a stereo WAV (caller left, agent right, aligned in time).
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Write one JSON line per turn (the TurnReport) to this file, replacing its contents.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Feed the caller as fast as possible instead of in real time (the agent still answers
    /// between utterances).
    #[arg(long)]
    fast: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_timestamp_millis()
        .init();
    let result = match cli.command {
        Command::Run(args) => run(&cli.providers, args),
        Command::Serve(args) => serve(&cli.providers, args),
        Command::Say(args) => say(args),
        Command::Bench(args) => bench(&cli.providers, args),
        Command::Soak(args) => soak(args),
        Command::Eval(args) => eval(&cli.providers, args),
        Command::Mic(args) => mic(&cli.providers, args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_providers(opts: &ProviderOptions) -> anyhow::Result<Arc<Providers>> {
    let providers = Providers::load(opts).context("loading providers")?;
    for line in providers.describe() {
        eprintln!("{line}");
    }
    Ok(Arc::new(providers))
}

fn run(opts: &ProviderOptions, args: RunArgs) -> anyhow::Result<ExitCode> {
    let input = match WavInput::open(&args.input, !args.fast) {
        Ok(i) => i,
        Err(e @ (WavError::Format { .. } | WavError::Read { .. })) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e.into()),
    };
    let providers = load_providers(opts)?;
    // The agent's audio goes to the recording; the events come here.
    let (out, rx) = output::channel();
    let mut parts = SessionParts::new(providers.session()?, Box::new(input), Box::new(out));
    let recorder = args.output.as_ref().map(|_| ConversationRecorder::new());
    parts.recorder = recorder.clone();
    let mut report_file = match &args.report {
        Some(p) => Some(BufWriter::new(
            File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => None,
    };

    let pipeline = Pipeline::spawn(parts, PipelineConfig::default());
    for item in rx.iter() {
        let Output::Event(event) = item else { continue };
        match event {
            Event::Metrics(report) => {
                print_turn(&report);
                if let Some(f) = report_file.as_mut() {
                    serde_json::to_writer(&mut *f, &report)?;
                    writeln!(f)?;
                    f.flush()?;
                }
            }
            Event::Error { stage, message } => eprintln!("  ! {stage}: {message}"),
            _ => {}
        }
    }
    let outcome = pipeline.join();
    if let (Some(rec), Some(path)) = (recorder, &args.output) {
        rec.write(path)?;
        println!("conversation written to {}", path.display());
    }
    if !outcome.failed_stages.is_empty() {
        anyhow::bail!("stages failed: {}", outcome.failed_stages.join(", "));
    }
    println!("{} turn(s)", outcome.reports.len());
    Ok(ExitCode::SUCCESS)
}

fn print_turn(r: &TurnReport) {
    println!("[turn {}] caller: {}", r.turn, r.transcript);
    for call in &r.tool_calls {
        println!(
            "         tool: {}({}) -> {}",
            call.name, call.arguments, call.result
        );
    }
    if r.interrupted {
        println!(
            "         agent (interrupted): {} [heard: {}]",
            r.agent_text, r.played_text
        );
    } else {
        println!("         agent: {}", r.agent_text);
    }
    println!("         {}", r.latency_line());
}

fn say(args: SayArgs) -> anyhow::Result<ExitCode> {
    use voice_agent::providers::tts::TextToSpeech;
    let dir = voice_agent::providers::models::models_dir();
    let voice = if args.vary {
        voice_agent::providers::tts::piper::PiperVoice::load(&dir)?
    } else {
        voice_agent::providers::tts::piper::PiperVoice::load_steady(&dir)?
    };
    let mut tts = voice_agent::providers::tts::piper::PiperTts::new(voice);
    let mut pcm = Vec::new();
    tts.synthesize(
        &args.text.join(" "),
        &voice_agent::foundation::cancel::CancelToken::never(),
        &mut |chunk| pcm.extend_from_slice(chunk),
    )?;
    let pcm = voice_agent::foundation::audio::resample::resample_i16(
        &pcm,
        voice_agent::foundation::audio::OUTPUT_RATE,
        args.rate,
    );
    voice_agent::foundation::audio::wav::write_wav_mono(&args.output, &pcm, args.rate)?;
    Ok(ExitCode::SUCCESS)
}

fn serve(
    opts: &ProviderOptions,
    args: voice_agent::apps::server::ServeArgs,
) -> anyhow::Result<ExitCode> {
    let providers = load_providers(opts)?;
    let config = args.config(PipelineConfig::default());
    let handle = voice_agent::apps::server::start(config, providers)?;
    eprintln!(
        "serving on http://{} (sessions on ws://{}/ws; Ctrl-C to stop)",
        handle.local_addr(),
        handle.ws_addr()
    );
    handle.wait();
    Ok(ExitCode::SUCCESS)
}

fn bench(
    opts: &ProviderOptions,
    args: voice_agent::apps::bench::BenchArgs,
) -> anyhow::Result<ExitCode> {
    let report = voice_agent::apps::bench::run(opts, &args, &mut |line| eprintln!("{line}"))?;
    println!("{}", report.to_markdown());
    for path in voice_agent::apps::bench::save(&report, &args)? {
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn eval(
    opts: &ProviderOptions,
    args: voice_agent::apps::eval::EvalArgs,
) -> anyhow::Result<ExitCode> {
    let report =
        voice_agent::apps::eval::command::run(opts, &args, &mut |line| eprintln!("{line}"))?;
    println!("{}", report.to_markdown(args.failures));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn soak(args: voice_agent::apps::soak::SoakArgs) -> anyhow::Result<ExitCode> {
    let config = args.config();
    eprintln!("soak: {config:?}");
    let report = voice_agent::apps::soak::run(&config)?;
    println!("{}", report.table());
    println!("took {:.0} s", report.seconds);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn mic(opts: &ProviderOptions, args: voice_agent::apps::mic::MicArgs) -> anyhow::Result<ExitCode> {
    if args.list_devices {
        voice_agent::apps::mic::list_devices(&mut std::io::stdout().lock())?;
        return Ok(ExitCode::SUCCESS);
    }
    // Devices first: a machine without a microphone fails fast, before the models load.
    let (input, output) = voice_agent::apps::mic::open_devices(&args)?;
    let providers = load_providers(opts)?;
    voice_agent::apps::mic::run_opened(
        &args,
        &*providers,
        input,
        output,
        PipelineConfig::default(),
    )?;
    Ok(ExitCode::SUCCESS)
}
