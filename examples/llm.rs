//! Stream one chat completion, print the text as it arrives, and time it.
//!
//! ```text
//! scripts/llm-server.sh &                      # a local llama.cpp server on :8081 (optional)
//! cargo run --release --example llm -- --base-url http://127.0.0.1:8081/v1 "Hello, who are you?"
//! OPENAI_API_KEY=sk-... cargo run --release --example llm -- --base-url https://api.openai.com/v1 "Hi"
//! ```
//!
//! Without `--base-url` (or `OPENAI_BASE_URL`) it runs offline against the built-in
//! rule-based receptionist, through the same `ChatModel` seam. The receptionist's tools are
//! offered (over an in-memory demo clinic, `--no-tools` to leave them out); a tool call the
//! model makes is run once and its result printed: one step of the agent's tool loop.

use std::io::Write;
use std::time::{Duration, Instant};

use clap::Parser;
use std::sync::Arc;
use voice_agent::domain::brain::BuiltinReceptionist;
use voice_agent::domain::calendar::SystemClock;
use voice_agent::domain::store::Store;
use voice_agent::domain::tools::HospitalTools;
use voice_agent::foundation::cancel::CancelToken;
use voice_agent::providers::llm::openai::{OpenAiChat, OpenAiConfig};
use voice_agent::providers::llm::tools::ToolSet;
use voice_agent::providers::llm::{ChatEvent, ChatMessage, ChatModel, ToolCall, ToolSpec};

#[derive(Parser)]
struct Args {
    /// The user's message.
    #[arg(default_value = "Hello! Is there a cardiologist free tomorrow?")]
    prompt: Vec<String>,
    /// An OpenAI-compatible API base, e.g. http://127.0.0.1:8081/v1.
    #[arg(long, env = "OPENAI_BASE_URL")]
    base_url: Option<String>,
    /// The model name sent to the server.
    #[arg(long, env = "LLM_MODEL", default_value = "gpt-4o-mini")]
    model: String,
    /// Upper bound on the reply length.
    #[arg(long, default_value_t = 128)]
    max_tokens: u32,
    /// Offer no tools to the model.
    #[arg(long)]
    no_tools: bool,
}

fn main() -> anyhow::Result<()> {
    env_logger::init();
    let args = Args::parse();
    let mut chat: Box<dyn ChatModel> = match args.base_url {
        Some(base_url) => {
            // Key and Azure settings come from the environment; the flags override the rest.
            let mut config = OpenAiConfig::from_env();
            config.base_url = base_url.trim_end_matches('/').to_string();
            config.model = args.model;
            config.max_tokens = Some(args.max_tokens);
            Box::new(OpenAiChat::new(config))
        }
        None => {
            eprintln!(
                "(offline: no --base-url or OPENAI_BASE_URL; `scripts/llm-server.sh` starts a local server)"
            );
            Box::new(BuiltinReceptionist::new())
        }
    };
    println!("model: {}", chat.name());

    let messages = [
        ChatMessage::system(
            "You are a friendly clinic receptionist. Answer in one or two sentences.",
        ),
        ChatMessage::user(args.prompt.join(" ")),
    ];
    let mut clinic = HospitalTools::new(Store::open_in_memory()?, Arc::new(SystemClock));
    let tools: Vec<ToolSpec> = if args.no_tools {
        Vec::new()
    } else {
        clinic.specs()
    };

    let started = Instant::now();
    let mut first: Option<Duration> = None;
    let mut deltas = 0u32;
    let mut calls: Vec<ToolCall> = Vec::new();
    let finish = chat.stream(&messages, &tools, &CancelToken::never(), &mut |event| {
        first.get_or_insert_with(|| started.elapsed());
        match event {
            ChatEvent::Text(text) => {
                deltas += 1;
                print!("{text}");
                let _ = std::io::stdout().flush();
            }
            ChatEvent::ToolCall(call) => calls.push(call),
            ChatEvent::ToolCallStarted(name) => println!("\n[calling {name}...]"),
        }
    })?;
    let total = started.elapsed();
    println!("\n\nfinish: {finish:?}");
    for call in calls {
        println!("tool call: {}({})", call.name, call.arguments);
        println!("  result: {}", clinic.call(&call.name, &call.arguments));
    }
    if let Some(first) = first.filter(|_| deltas > 0) {
        // llama.cpp and OpenAI send one text delta per token, so deltas/s is tokens/s.
        let streaming = (total - first).as_secs_f64();
        let rate = if deltas > 1 && streaming > 0.0 {
            f64::from(deltas - 1) / streaming
        } else {
            0.0
        };
        println!(
            "time to first token: {:.0} ms, {deltas} text deltas in {:.0} ms ({rate:.1} tokens/s after the first)",
            first.as_secs_f64() * 1e3,
            total.as_secs_f64() * 1e3
        );
    }
    Ok(())
}
