//! The brain's time to first token, and a real local LLM: llama.cpp's `llama-server` (built by
//! `scripts/llm-server.sh`) started on a free port and timed through the OpenAI-compatible
//! client: time to first token and tokens per second.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::error::BenchError;
use super::stats::Summary;
use crate::foundation::cancel::CancelToken;
use crate::providers::llm::openai::{OpenAiChat, OpenAiConfig};
use crate::providers::llm::{ChatEvent, ChatMessage, ChatModel};
use crate::providers::session::SessionFactory;

/// The configured brain's time to first event (text or tool call).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrainTtft {
    pub name: String,
    pub ttft_ms: Summary,
}

/// What became of the llama-server measurement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum LlamaServer {
    Measured {
        model: String,
        requests: usize,
        ttft_ms: Summary,
        tokens_per_s: Summary,
    },
    Skipped {
        reason: String,
    },
    Failed {
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LlmReport {
    pub brain: Option<BrainTtft>,
    pub llama_server: LlamaServer,
}

/// Time to first token of each session's chat model on each caller line (a fresh conversation
/// per line, with the session's system prompt and tools), `repeats` times.
pub fn brain_ttft(
    factory: &dyn SessionFactory,
    lines: &[&str],
    repeats: usize,
) -> Result<Option<BrainTtft>, BenchError> {
    let mut times = Vec::new();
    let mut name = String::new();
    for _ in 0..repeats.max(1) {
        for line in lines {
            let mut p = factory.session()?;
            name = p.chat.name();
            let specs = p.tools.specs();
            let messages = [
                ChatMessage::system(p.system_prompt.clone()),
                ChatMessage::user(*line),
            ];
            let started = Instant::now();
            let mut first = None;
            p.chat
                .stream(&messages, &specs, &CancelToken::never(), &mut |_| {
                    first.get_or_insert_with(|| started.elapsed().as_secs_f64() * 1000.0);
                })
                .map_err(|e| BenchError::Model(format!("{name}: {e}")))?;
            times.extend(first);
        }
    }
    Ok(Summary::of(&times).map(|ttft_ms| BrainTtft { name, ttft_ms }))
}

/// The repository's llama.cpp build (see `scripts/llm-server.sh`).
pub struct LlamaPaths {
    pub script: PathBuf,
    pub binary: PathBuf,
    pub model: PathBuf,
}

impl LlamaPaths {
    pub fn in_repo(root: &Path) -> Self {
        Self {
            script: root.join("scripts/llm-server.sh"),
            binary: root.join(".cache/llama/build/bin/llama-server"),
            model: root.join(".cache/llama/model/gemma3-270m-q4_k_m.gguf"),
        }
    }

    /// Why the server cannot be started, if it cannot.
    pub fn missing(&self) -> Option<String> {
        if !self.binary.exists() {
            Some("not built (run `scripts/llm-server.sh build model`)".into())
        } else if !self.model.exists() {
            Some("model missing (run `scripts/llm-server.sh model`)".into())
        } else if !self.script.exists() {
            Some(format!("{} missing", self.script.display()))
        } else {
            None
        }
    }
}

/// A server this bench started; stopped when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        // The script execs the server, so this is llama-server itself.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16, BenchError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| BenchError::Model(format!("no free port: {e}")))
}

/// Start the server, measure `requests` streamed completions after one warm-up, stop it.
pub fn llama_server(paths: &LlamaPaths, requests: usize) -> LlamaServer {
    if let Some(reason) = paths.missing() {
        return LlamaServer::Skipped { reason };
    }
    match measure_llama(paths, requests) {
        Ok(r) => r,
        Err(e) => LlamaServer::Failed {
            reason: e.to_string(),
        },
    }
}

fn measure_llama(paths: &LlamaPaths, requests: usize) -> Result<LlamaServer, BenchError> {
    let port = free_port()?;
    let log_path = std::env::temp_dir().join(format!("voice-agent-bench-llama-{port}.log"));
    let io_err = |e: std::io::Error| BenchError::Io {
        path: log_path.clone(),
        message: e.to_string(),
    };
    let log = std::fs::File::create(&log_path).map_err(io_err)?;
    let child = Command::new("bash")
        .arg(&paths.script)
        .arg("serve")
        .env("LLM_PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(io_err)?)
        .stderr(log)
        .spawn()
        .map_err(|e| BenchError::Model(format!("cannot start {}: {e}", paths.script.display())))?;
    let mut server = Running(child);
    // /health answers 200 once the model is loaded (503 while loading).
    let health = format!("http://127.0.0.1:{port}/health");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if ureq::get(&health)
            .timeout(Duration::from_secs(2))
            .call()
            .is_ok()
        {
            break;
        }
        if let Ok(Some(status)) = server.0.try_wait() {
            return Err(BenchError::Model(format!(
                "llama-server exited ({status}); log: {}",
                log_path.display()
            )));
        }
        if Instant::now() > deadline {
            return Err(BenchError::Model(format!(
                "llama-server not healthy after 90 s; log: {}",
                log_path.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    let model = "gemma3-270m";
    let mut config = OpenAiConfig::new(format!("http://127.0.0.1:{port}/v1"), model);
    config.max_tokens = Some(64);
    config.temperature = Some(0.0);
    config.chunk_timeout = Duration::from_secs(60);
    let messages = [
        ChatMessage::system("You are a hospital receptionist. Answer in two short sentences."),
        ChatMessage::user("What are the clinic's opening hours on weekdays?"),
    ];
    let (mut ttfts, mut rates) = (Vec::new(), Vec::new());
    // The first request fills the prompt cache; it is not counted.
    for i in 0..=requests.max(1) {
        // A fresh client per request: a pooled keep-alive connection that the server has
        // closed meanwhile ends the next stream with an unexpected EOF.
        let mut chat = OpenAiChat::new(config.clone());
        let started = Instant::now();
        let mut first = None;
        let mut deltas = 0u32;
        chat.stream(&messages, &[], &CancelToken::never(), &mut |e| {
            first.get_or_insert_with(|| started.elapsed());
            if let ChatEvent::Text(_) = e {
                deltas += 1;
            }
        })
        .map_err(|e| BenchError::Model(format!("llama-server: {e}")))?;
        let total = started.elapsed();
        let (Some(first), true) = (first, i > 0) else {
            continue;
        };
        ttfts.push(first.as_secs_f64() * 1000.0);
        let streaming = (total - first).as_secs_f64();
        if deltas > 1 && streaming > 0.0 {
            rates.push(f64::from(deltas - 1) / streaming);
        }
    }
    drop(server);
    match (Summary::of(&ttfts), Summary::of(&rates)) {
        (Some(ttft_ms), Some(tokens_per_s)) => Ok(LlamaServer::Measured {
            model: model.to_string(),
            requests: ttfts.len(),
            ttft_ms,
            tokens_per_s,
        }),
        _ => Err(BenchError::Model(
            "llama-server streamed no text to time".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_build_is_skipped_with_the_reason() {
        let paths = LlamaPaths::in_repo(Path::new("/nonexistent-voice-agent-root"));
        match llama_server(&paths, 1) {
            LlamaServer::Skipped { reason } => assert!(reason.starts_with("not built"), "{reason}"),
            other => panic!("expected skipped, got {other:?}"),
        }
        let json = serde_json::to_value(LlamaServer::Skipped { reason: "x".into() }).unwrap();
        assert_eq!(json["status"], "skipped");
    }
}
