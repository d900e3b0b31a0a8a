//! Chapter: the pipeline. A caller WAV through every stage with the local models, printing each
//! event with its time, so the overlap is visible: the agent starts speaking while the rest of
//! its reply is still being written and synthesised.
//!
//!     cargo run --release --example pipeline -- caller.wav
//!
//! (`scripts/make_caller.sh out/caller.wav` makes a caller WAV.)

use std::time::Instant;

use voice_agent::apps::compose::{ProviderOptions, Providers};
use voice_agent::foundation::audio::wav::WavInput;
use voice_agent::foundation::audio::OUTPUT_RATE;
use voice_agent::orchestration::pipeline::{
    output, Event, Output, Pipeline, PipelineConfig, SessionParts,
};
use voice_agent::providers::session::SessionFactory;

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: pipeline CALLER.wav"))?;
    // Local models, the built-in brain, and a throwaway database.
    let db = std::env::temp_dir().join(format!("va-example-{}.sqlite", std::process::id()));
    let opts = ProviderOptions {
        llm: Some("builtin".into()),
        db: Some(db.clone()),
        ..ProviderOptions::default()
    };
    let providers = Providers::load(&opts)?;
    for line in providers.describe() {
        println!("{line}");
    }

    // One session: the WAV at real-time pace in; its one ordered output (agent audio and events)
    // to this thread.
    let (out, rx) = output::channel();
    let input = WavInput::open(std::path::Path::new(&path), true)?;
    let parts = SessionParts::new(providers.session()?, Box::new(input), Box::new(out));
    let pipeline = Pipeline::spawn(parts, PipelineConfig::default());

    let start = Instant::now();
    let mut audio_ms = 0;
    for item in rx.iter() {
        let t = start.elapsed().as_secs_f64();
        let event = match item {
            Output::Audio(pcm) => {
                audio_ms += pcm.len() * 1000 / OUTPUT_RATE as usize;
                continue;
            }
            Output::Event(e) => e,
        };
        match event {
            Event::Transcript { text, is_final, .. } => {
                println!(
                    "{t:7.2}s  caller{}: {text}",
                    if is_final { "" } else { " (partial)" }
                )
            }
            Event::ToolCall {
                name, arguments, ..
            } => println!("{t:7.2}s  tool: {name}({arguments})"),
            Event::AgentText { text, .. } => println!("{t:7.2}s  agent speaks: {text}"),
            Event::Clear => println!("{t:7.2}s  barge-in: agent audio cleared"),
            Event::Metrics(r) => println!("{t:7.2}s  turn {} done: {}", r.turn, r.latency_line()),
            Event::Error { stage, message } => println!("{t:7.2}s  error in {stage}: {message}"),
            _ => {}
        }
    }
    let outcome = pipeline.join();
    println!(
        "{} turns, {audio_ms} ms of agent audio",
        outcome.reports.len()
    );
    let _ = std::fs::remove_file(db);
    Ok(())
}
