//! Chapter: the agent. A typed conversation with the hospital receptionist: the same agent loop,
//! tools and database as the voice pipeline, without the audio.
//!
//!     cargo run --release --example agent                          # built-in offline brain
//!     cargo run --release --example agent -- http://127.0.0.1:8081/v1   # any OpenAI-compatible LLM
//!
//! Type a line, press enter; an empty line or Ctrl-D ends.

use std::io::{BufRead, Write};
use std::sync::Arc;

use voice_agent::domain::brain::BuiltinReceptionist;
use voice_agent::domain::{system_prompt, Clock, HospitalTools, Store, SystemClock};
use voice_agent::foundation::cancel::CancelToken;
use voice_agent::orchestration::agent::{Agent, AgentConfig, AgentOutput};
use voice_agent::providers::llm::openai::{OpenAiChat, OpenAiConfig};
use voice_agent::providers::llm::ChatModel;

fn main() -> anyhow::Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // A throwaway database, seeded with the demo doctors and patients.
    let store = Store::open_in_memory()?;
    let chat: Box<dyn ChatModel> = match std::env::args().nth(1) {
        Some(url) => {
            let mut config = OpenAiConfig::from_env();
            config.base_url = url;
            Box::new(OpenAiChat::new(config))
        }
        None => Box::new(BuiltinReceptionist::for_store(&store, clock.clone())),
    };
    println!("brain: {}", chat.name());
    let config = AgentConfig {
        system_prompt: system_prompt(&*clock),
        ..AgentConfig::default()
    };
    let tools = Box::new(HospitalTools::new(store, clock));
    let mut agent = Agent::new(config, chat, tools);

    let stdin = std::io::stdin();
    for (turn, line) in stdin.lock().lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            break;
        }
        print!("agent: ");
        std::io::stdout().flush()?;
        let outcome = agent.respond(
            turn as u64,
            &line,
            &CancelToken::never(),
            &mut |out| match out {
                AgentOutput::Text(t) => {
                    print!("{t}");
                    let _ = std::io::stdout().flush();
                }
                AgentOutput::Flush => {}
                AgentOutput::ToolCall(call) => {
                    println!(
                        "\n  [tool] {}({}) -> {}",
                        call.name, call.arguments, call.result
                    );
                    print!("agent: ");
                }
            },
        );
        match outcome {
            Ok(_) => println!(),
            Err(e) => println!("\n  [error] {e}"),
        }
    }
    Ok(())
}
