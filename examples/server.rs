//! The browser demo with scripted providers: no models needed. Open the printed URL, press
//! Start and speak; each utterance gets the next scripted line as its "transcript", the scripted
//! receptionist looks things up with a tool, and a tone stands in for its voice (one beep per
//! spoken chunk, as long as the text). `voice-agent serve` is the same server with real models.
//!
//! ```text
//! cargo run --example server -- --bind 127.0.0.1:8080
//! ```

use std::io::Write;
use std::sync::Arc;

use clap::Parser;
use serde_json::json;

use voice_agent::apps::server::{self, ServeArgs};
use voice_agent::orchestration::pipeline::PipelineConfig;
use voice_agent::providers::session::{ProviderError, SessionFactory, SessionProviders};
use voice_agent::providers::testing::{EchoTools, ScriptStep, ScriptedChat, ScriptedStt, ToneTts};
use voice_agent::providers::vad::energy::EnergyVad;

#[derive(Parser)]
#[command(about = "The voice server with scripted providers (no models)")]
struct Args {
    #[command(flatten)]
    serve: ServeArgs,
}

/// Every session replays the same scripted call.
struct Scripted;

const LINES: &[&str] = &[
    "I'd like to book an appointment with Doctor Patel.",
    "Tuesday at nine, please.",
    "No, that's all. Thank you.",
];

fn answers() -> Vec<Vec<ScriptStep>> {
    let call = |q: &str| ScriptStep::Call {
        name: "lookup".into(),
        arguments: json!({ "q": q }),
    };
    let say = |t: &str| ScriptStep::Text(t.into());
    vec![
        vec![call("Doctor Patel availability")],
        vec![say(
            "Doctor Patel is free on Tuesday at nine, or Thursday at two. Which would you like?",
        )],
        vec![call("book Doctor Patel Tuesday 09:00")],
        vec![say(
            "You're booked with Doctor Patel on Tuesday at nine. Anything else?",
        )],
        vec![say("You're welcome. Goodbye!")],
    ]
}

impl SessionFactory for Scripted {
    fn session(&self) -> Result<SessionProviders, ProviderError> {
        Ok(SessionProviders {
            vad: Box::new(EnergyVad::default()),
            stt: Box::new(ScriptedStt::new(LINES)),
            chat: Box::new(ScriptedChat::new(answers())),
            tools: Box::new(EchoTools::default()),
            tts: Box::new(ToneTts {
                ms_per_char: 55,
                ..ToneTts::default()
            }),
            system_prompt: "Scripted receptionist.".into(),
        })
    }

    fn describe(&self) -> Vec<String> {
        vec![
            "VAD: energy".into(),
            "STT: scripted lines".into(),
            "LLM: scripted receptionist".into(),
            "TTS: tones".into(),
        ]
    }
}

fn main() -> anyhow::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = Args::parse();
    // Scripted STT hands out one line per transcription: no speculative ones at pauses.
    let pipeline = PipelineConfig {
        speculative_stt: false,
        speculative_reply: false,
        ..PipelineConfig::default()
    };
    let handle = server::start(args.serve.config(pipeline), Arc::new(Scripted))?;
    // Scripts wait for this line to learn the port.
    println!(
        "listening on http://{} (sessions on ws://{}/ws)",
        handle.local_addr(),
        handle.ws_addr()
    );
    std::io::stdout().flush()?;
    handle.wait();
    Ok(())
}
