//! `OpenAiChat` against a real llama.cpp `llama-server` (base Gemma 3 270M), started through
//! `scripts/llm-server.sh serve` on a free port. Skipped, with a message, unless
//! `scripts/llm-server.sh build model` has been run (binary and model under `.cache/llama/`).
//!
//! `cargo test --release --test llama_server -- --nocapture` also prints the
//! time to first token and tokens/s of each turn.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::json;
use voice_agent::foundation::cancel::{CancelToken, Generation};
use voice_agent::providers::llm::openai::{OpenAiChat, OpenAiConfig};
use voice_agent::providers::llm::{
    ChatEvent, ChatMessage, ChatModel, FinishReason, ToolCall, ToolSpec,
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One server at a time: each is CPU-bound and this machine has two cores.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The running server; killed when dropped.
struct Server {
    child: Child,
    base_url: String,
    _turn: MutexGuard<'static, ()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start the server, or explain why not (`None`: the test is skipped).
fn start() -> Option<Server> {
    let bin = root().join(".cache/llama/build/bin/llama-server");
    let model = root().join(".cache/llama/model/gemma3-270m-q4_k_m.gguf");
    if !bin.exists() || !model.exists() {
        eprintln!(
            "SKIPPED: llama-server or its model is missing ({} / {}); run `scripts/llm-server.sh build model`",
            bin.display(),
            model.display()
        );
        return None;
    }
    // A test that failed while holding the lock poisons it; the next may still run.
    let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let log = std::fs::File::create(std::env::temp_dir().join(format!("llama-server-{port}.log")))
        .expect("server log file");
    let child = Command::new("bash")
        .arg(root().join("scripts/llm-server.sh"))
        .arg("serve")
        .env("LLM_PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log)
        .spawn()
        .expect("start scripts/llm-server.sh serve");
    let server = Server {
        child,
        base_url: format!("http://127.0.0.1:{port}/v1"),
        _turn: turn,
    };
    // /health answers 200 once the model is loaded (503 while loading).
    let health = format!("http://127.0.0.1:{port}/health");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if ureq::get(&health)
            .timeout(Duration::from_secs(2))
            .call()
            .is_ok()
        {
            return Some(server);
        }
        assert!(
            Instant::now() < deadline,
            "llama-server did not become healthy in 120 s (log in the temp dir)"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn chat(server: &Server, max_tokens: u32) -> OpenAiChat {
    let mut config = OpenAiConfig::new(&server.base_url, "gemma3-270m");
    config.max_tokens = Some(max_tokens);
    config.temperature = Some(0.0);
    config.chunk_timeout = Duration::from_secs(60);
    OpenAiChat::new(config)
}

struct Turn {
    text: String,
    calls: Vec<ToolCall>,
    finish: FinishReason,
}

/// One streamed turn; prints its time to first token and rate.
fn turn(chat: &mut OpenAiChat, label: &str, messages: &[ChatMessage], tools: &[ToolSpec]) -> Turn {
    let started = Instant::now();
    let mut first = None;
    let mut deltas = 0u32;
    let mut text = String::new();
    let mut calls = Vec::new();
    let finish = chat
        .stream(messages, tools, &CancelToken::never(), &mut |event| {
            first.get_or_insert_with(|| started.elapsed());
            match event {
                ChatEvent::Text(t) => {
                    deltas += 1;
                    text.push_str(&t);
                }
                ChatEvent::ToolCall(call) => calls.push(call),
                ChatEvent::ToolCallStarted(_) => {}
            }
        })
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    let total = started.elapsed();
    if let Some(first) = first {
        // Tool-call tokens arrive inside calls, not as text deltas: no rate for those turns.
        let rate = if calls.is_empty() {
            let r = f64::from(deltas.saturating_sub(1)) / (total - first).as_secs_f64().max(1e-9);
            format!(", {r:.1} tokens/s")
        } else {
            format!(", {} tool calls", calls.len())
        };
        eprintln!(
            "{label}: time to first token {:.0} ms, {deltas} text deltas in {:.0} ms{rate}",
            first.as_secs_f64() * 1e3,
            total.as_secs_f64() * 1e3
        );
    }
    Turn {
        text,
        calls,
        finish,
    }
}

fn history() -> Vec<ChatMessage> {
    vec![
        ChatMessage::system("You are a clinic receptionist."),
        ChatMessage::user("Hello, what are your opening hours?"),
    ]
}

#[test]
fn streamed_completion_from_llama_server() {
    let Some(server) = start() else { return };
    let mut chat = chat(&server, 48);
    assert!(chat.name().contains("127.0.0.1"), "{}", chat.name());

    let cold = turn(&mut chat, "cold", &history(), &[]);
    assert!(!cold.text.trim().is_empty(), "no text streamed");
    assert!(
        matches!(cold.finish, FinishReason::Stop | FinishReason::Length),
        "{:?}",
        cold.finish
    );
    // Same prefix again: with --swa-full the server reuses its prompt cache.
    let warm = turn(&mut chat, "warm", &history(), &[]);
    assert!(
        !warm.text.trim().is_empty(),
        "no text streamed on the second turn"
    );
}

#[test]
fn tool_calls_stream_from_llama_server() {
    let Some(server) = start() else { return };
    // Long enough for the base model to get past echoing its prompt (greedy decoding).
    let mut chat = chat(&server, 200);
    let tool = ToolSpec {
        name: "check_availability".into(),
        description: "Free slots".into(),
        parameters: json!({"type": "object",
            "properties": {"doctor_name": {"type": "string"}, "date": {"type": "string"}},
            "required": ["doctor_name", "date"]}),
    };
    let messages = [
        ChatMessage::system(
            "You are a clinic receptionist. Use tools to check doctor availability.",
        ),
        ChatMessage::user("Is Dr. Smith free on 2025-01-14?"),
    ];
    // The template must render the tools (else HTTP 500) and llama.cpp must recognise its
    // <tool_call> format (else the calls would arrive as text). The base model does not
    // understand the request, but at temperature 0 it copies the format from its prompt.
    let out = turn(&mut chat, "tools", &messages, &[tool]);
    assert!(
        !out.calls.is_empty(),
        "no tool call; text was {:?}",
        out.text
    );
    let call = &out.calls[0];
    assert_eq!(call.name, "check_availability");
    let args: serde_json::Value = serde_json::from_str(&call.arguments)
        .unwrap_or_else(|e| panic!("arguments are not JSON ({e}): {}", call.arguments));
    assert!(args.get("doctor_name").is_some(), "{args}");
    assert!(
        !out.text.contains("<tool_call>\n{"),
        "a call leaked into the text"
    );
}

#[test]
fn cancelling_a_real_stream_leaves_the_server_usable() {
    let Some(server) = start() else { return };
    let mut chat = chat(&server, 200);
    let generation = Generation::new();
    let token = generation.token();
    let mut seen = 0;
    let finish = chat
        .stream(&history(), &[], &token, &mut |_| {
            seen += 1;
            generation.bump();
        })
        .expect("stream");
    assert_eq!(finish, FinishReason::Cancelled);
    assert_eq!(seen, 1, "events were delivered after the cancel");
    let next = turn(
        &mut self::chat(&server, 24),
        "after cancel",
        &history(),
        &[],
    );
    assert!(!next.text.trim().is_empty());
}
