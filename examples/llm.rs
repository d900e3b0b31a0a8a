//! Stream one chat completion, print the text as it arrives, and time it.
//!
//! ```text
//! scripts/llm-server.sh &                      # a local llama.cpp server on :8081 (optional)
//! cargo run --release --example llm -- --base-url http://127.0.0.1:8081/v1 "Hello, who are you?"
//! OPENAI_API_KEY=sk-... cargo run --release --example llm -- --base-url https://api.openai.com/v1 "Hi"
//! ```
//!
//! Without `--base-url` (or `OPENAI_BASE_URL`) it says how to get a server. `--tools` offers a
//! demo `check_availability` tool and prints any call the model makes.

use std::io::Write;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;
use voice_agent::llm::openai::{OpenAiChat, OpenAiConfig};
use voice_agent::llm::{ChatEvent, ChatMessage, ChatModel, ToolSpec};
use voice_agent::CancelToken;

#[derive(Parser)]
struct Args {
    /// The user's message.
    #[arg(default_value = "Hello! Can I book an appointment with Dr. Smith tomorrow?")]
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
    /// Offer a demo tool to the model.
    #[arg(long)]
    tools: bool,
}

fn main() -> anyhow::Result<()> {
    env_logger::init();
    let args = Args::parse();
    let Some(base_url) = args.base_url else {
        eprintln!(
            "No LLM server given. Start the local one with `scripts/llm-server.sh` and pass\n\
             --base-url http://127.0.0.1:8081/v1, or set OPENAI_BASE_URL (and OPENAI_API_KEY)."
        );
        std::process::exit(2);
    };
    // Key and Azure settings come from the environment; the flags override the rest.
    let mut config = OpenAiConfig::from_env();
    config.base_url = base_url.trim_end_matches('/').to_string();
    config.model = args.model;
    config.max_tokens = Some(args.max_tokens);
    let mut chat = OpenAiChat::new(config);
    println!("model: {}", chat.name());

    let messages = [
        ChatMessage::system(
            "You are a friendly clinic receptionist. Answer in one or two sentences.",
        ),
        ChatMessage::user(args.prompt.join(" ")),
    ];
    let tools: Vec<ToolSpec> = if args.tools {
        vec![ToolSpec {
            name: "check_availability".into(),
            description: "Free appointment slots of a doctor on a date (YYYY-MM-DD)".into(),
            parameters: json!({"type": "object",
                "properties": {"doctor_name": {"type": "string"}, "date": {"type": "string"}},
                "required": ["doctor_name", "date"]}),
        }]
    } else {
        Vec::new()
    };

    let started = Instant::now();
    let mut first: Option<Duration> = None;
    let mut deltas = 0u32;
    let finish = chat.stream(&messages, &tools, &CancelToken::never(), &mut |event| {
        first.get_or_insert_with(|| started.elapsed());
        match event {
            ChatEvent::Text(text) => {
                deltas += 1;
                print!("{text}");
                let _ = std::io::stdout().flush();
            }
            ChatEvent::ToolCall(call) => {
                println!("\n[tool call] {}({})", call.name, call.arguments)
            }
        }
    })?;
    let total = started.elapsed();
    println!("\n\nfinish: {finish:?}");
    if let Some(first) = first {
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
