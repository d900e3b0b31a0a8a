//! Any OpenAI-compatible `/chat/completions` server, streamed over SSE (OpenAI, Azure OpenAI,
//! vLLM, llama.cpp's `llama-server`, llama-cpp-python, ...).
//!
//! The HTTP request runs in a reader thread that decodes the stream and forwards items over a
//! channel; [`OpenAiChat::stream`] waits on that channel in short ticks so that a barge-in
//! (the [`CancelToken`] firing) returns at once, whatever the socket is doing.

use std::io::{BufReader, Read};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver, Sender};
use serde_json::{json, Value};

use super::sse::{excerpt, ChatStream, StreamItem};
use super::{ChatEvent, ChatMessage, ChatModel, FinishReason, LlmError, ToolSpec};
use crate::foundation::cancel::CancelToken;

/// Decoded stream items waiting for the agent.
const STREAM_QUEUE: usize = 256;
/// Tokens a reply may take when no `max_tokens` is configured otherwise: a receptionist's
/// answer is a few sentences, and an unbounded one costs without end.
pub const DEFAULT_MAX_TOKENS: u32 = 400;
/// How much of an HTTP error body is read and quoted.
const ERROR_BODY_LIMIT: u64 = 4096;
/// How much trailing body is read after `[DONE]` so the connection can go back to the pool.
const DRAIN_LIMIT: u64 = 64 * 1024;

/// How the API key is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyHeader {
    /// `Authorization: Bearer KEY` (OpenAI and most compatible servers).
    Bearer,
    /// `api-key: KEY` (Azure OpenAI keys).
    AzureApiKey,
}

/// Where and how to reach the server. `Debug` never prints the key.
#[derive(Clone)]
pub struct OpenAiConfig {
    /// Up to and including the version prefix, e.g. `https://api.openai.com/v1` or
    /// `http://127.0.0.1:8081/v1`. A query string (Azure's `?api-version=...`) is kept after
    /// the `/chat/completions` path.
    pub base_url: String,
    pub api_key: Option<String>,
    pub key_header: KeyHeader,
    pub model: String,
    /// Limit for establishing the TCP connection.
    pub connect_timeout: Duration,
    /// Limit for any single wait on the server: the response headers, then each chunk.
    pub chunk_timeout: Duration,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
}

impl std::fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("key_header", &self.key_header)
            .field("model", &self.model)
            .field("connect_timeout", &self.connect_timeout)
            .field("chunk_timeout", &self.chunk_timeout)
            .field("temperature", &self.temperature)
            .field("max_tokens", &self.max_tokens)
            .finish()
    }
}

pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";

impl OpenAiConfig {
    /// A config for `base_url` and `model`, no key, default timeouts (5 s connect, 30 s
    /// between chunks), server-default sampling.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            api_key: None,
            key_header: KeyHeader::Bearer,
            model: model.into(),
            connect_timeout: Duration::from_secs(5),
            chunk_timeout: Duration::from_secs(30),
            temperature: None,
            max_tokens: Some(DEFAULT_MAX_TOKENS),
        }
    }

    /// From `OPENAI_BASE_URL` (default [`DEFAULT_BASE_URL`]), `OPENAI_API_KEY` (or
    /// `AZURE_OPENAI_API_KEY`, sent as an `api-key` header), `LLM_MODEL` (default
    /// [`DEFAULT_MODEL`]) and `LLM_MAX_TOKENS` (default [`DEFAULT_MAX_TOKENS`]).
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) over any variable source (tests, config files).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let non_empty = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let base_url = non_empty("OPENAI_BASE_URL").unwrap_or_else(|| DEFAULT_BASE_URL.into());
        let model = non_empty("LLM_MODEL").unwrap_or_else(|| DEFAULT_MODEL.into());
        let mut config = Self::new(base_url.trim(), model.trim());
        if let Some(n) = non_empty("LLM_MAX_TOKENS").and_then(|n| n.trim().parse().ok()) {
            config.max_tokens = Some(n);
        }
        if let Some(key) = non_empty("OPENAI_API_KEY") {
            config.api_key = Some(key.trim().to_string());
        } else if let Some(key) = non_empty("AZURE_OPENAI_API_KEY") {
            config.api_key = Some(key.trim().to_string());
            config.key_header = KeyHeader::AzureApiKey;
        }
        config
    }

    /// `{base_url}/chat/completions`, with any query string of the base kept at the end.
    pub fn completions_url(&self) -> String {
        match self.base_url.split_once('?') {
            Some((base, query)) => {
                format!("{}/chat/completions?{query}", base.trim_end_matches('/'))
            }
            None => format!("{}/chat/completions", self.base_url),
        }
    }

    /// The host (and port) of the base URL, for names and messages (never its credentials).
    pub fn host(&self) -> String {
        crate::providers::cloud::host_of(&self.base_url)
    }
}

/// A streaming chat model over an OpenAI-compatible HTTP API.
#[derive(Clone)]
pub struct OpenAiChat {
    config: OpenAiConfig,
    agent: ureq::Agent,
}

impl OpenAiChat {
    pub fn new(config: OpenAiConfig) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(config.connect_timeout)
            // A per-read limit: it bounds the wait for the headers and for every chunk.
            .timeout_read(config.chunk_timeout)
            .timeout_write(config.chunk_timeout)
            .user_agent(concat!("voice-agent/", env!("CARGO_PKG_VERSION")))
            .build();
        Self { config, agent }
    }

    pub fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    /// The JSON request body for one streamed completion.
    pub fn request_body(&self, messages: &[ChatMessage], tools: &[ToolSpec]) -> Value {
        let mut body = json!({
            "model": self.config.model,
            "stream": true,
            "messages": messages.iter().map(ChatMessage::to_openai).collect::<Vec<_>>(),
        });
        if !tools.is_empty() {
            body["tools"] = tools.iter().map(ToolSpec::to_openai).collect();
        }
        if let Some(t) = self.config.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(n) = self.config.max_tokens {
            body["max_tokens"] = json!(n);
        }
        body
    }
}

type Item = Result<StreamItem, LlmError>;

impl ChatModel for OpenAiChat {
    /// The server keeps no state between requests: the history is everything.
    fn snapshot(&self) -> Option<Box<dyn ChatModel>> {
        Some(Box::new(self.clone()))
    }

    fn name(&self) -> String {
        format!(
            "openai-compatible {} at {}",
            self.config.model,
            self.config.host()
        )
    }

    fn stream(
        &mut self,
        messages: &[ChatMessage],
        tools: &[ToolSpec],
        cancel: &CancelToken,
        on_event: &mut dyn FnMut(ChatEvent),
    ) -> Result<FinishReason, LlmError> {
        if cancel.is_cancelled() {
            return Ok(FinishReason::Cancelled);
        }
        let started = Instant::now();
        let body = self.request_body(messages, tools).to_string();
        // Bounded: a server that streams faster than the agent reads waits, instead of the
        // stream piling up in memory.
        let (tx, rx) = crossbeam_channel::bounded::<Item>(STREAM_QUEUE);
        let request = Request {
            agent: self.agent.clone(),
            config: self.config.clone(),
            body,
            cancel: cancel.clone(),
        };
        thread::Builder::new()
            .name("llm-http".into())
            .spawn(move || request.run(tx))
            .map_err(|e| LlmError::Io(format!("cannot start the LLM reader thread: {e}")))?;
        let result = self.forward(&rx, cancel, on_event, started);
        // Dropping `rx` here (also on cancel) makes the reader thread's next send fail, so it
        // stops and drops the connection; see `Request::run`.
        drop(rx);
        result
    }
}

impl OpenAiChat {
    /// Hand the reader thread's items to `on_event` until the stream finishes or is cancelled.
    fn forward(
        &self,
        rx: &Receiver<Item>,
        cancel: &CancelToken,
        on_event: &mut dyn FnMut(ChatEvent),
        started: Instant,
    ) -> Result<FinishReason, LlmError> {
        let mut first_token: Option<Duration> = None;
        let mut events = 0usize;
        loop {
            // The next chunk, or the token firing (barge-in), whichever comes first.
            let item = select! {
                recv(rx) -> item => item,
                recv(cancel.fired()) -> _ => {
                    log::debug!(
                        "LLM stream cancelled after {:?} ({events} events)",
                        started.elapsed()
                    );
                    return Ok(FinishReason::Cancelled);
                }
            };
            match item {
                Ok(Ok(StreamItem::Event(event))) => {
                    if first_token.is_none() {
                        let ttft = started.elapsed();
                        first_token = Some(ttft);
                        log::debug!("LLM time to first token: {:.1} ms", ms(ttft));
                    }
                    events += 1;
                    on_event(event);
                }
                Ok(Ok(StreamItem::Finished(reason))) => {
                    log::debug!(
                        "LLM stream finished ({reason:?}) in {:.1} ms, {events} events, first token at {}",
                        ms(started.elapsed()),
                        first_token.map_or("-".into(), |t| format!("{:.1} ms", ms(t)))
                    );
                    return Ok(reason);
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(LlmError::Io(
                        "the LLM reader thread ended without a result".into(),
                    ))
                }
            }
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One request, run on the reader thread.
struct Request {
    agent: ureq::Agent,
    config: OpenAiConfig,
    body: String,
    cancel: CancelToken,
}

impl Request {
    /// Send the request and forward the decoded stream.
    ///
    /// Stopping: the thread ends as soon as the receiver is gone (a send fails) or the token
    /// fires, checked after every read. ureq 2 does not hand out its socket, so a read that is
    /// already blocked cannot be interrupted from outside; instead `stream()` returns at once
    /// and this thread leaves at its next read: the next chunk, or at worst the chunk timeout.
    /// Leaving drops the half-read response, which closes the connection (ureq only pools
    /// fully-read responses), so the server sees the client gone and stops generating.
    fn run(self, tx: Sender<Item>) {
        let url = self.config.completions_url();
        let response = match self.send(&url) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        let mut stream = ChatStream::new(BufReader::new(response.into_reader()));
        loop {
            if self.cancel.is_cancelled() {
                return;
            }
            match stream.next_item() {
                Ok(Some(item)) => {
                    let finished = matches!(item, StreamItem::Finished(_));
                    if tx.send(Ok(item)).is_err() {
                        return;
                    }
                    if finished {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.send(Err(self.redact(e)));
                    return;
                }
            }
        }
        // The caller has its answer; reading the few bytes left (the blank line after
        // `[DONE]`, the chunked terminator) lets ureq pool the connection for the next turn.
        drop(tx);
        let mut rest = stream.into_inner().take(DRAIN_LIMIT);
        let _ = std::io::copy(&mut rest, &mut std::io::sink());
    }

    fn send(&self, url: &str) -> Result<ureq::Response, LlmError> {
        let stale = |e: &ureq::Error| matches!(e, ureq::Error::Transport(t) if t.kind() == ureq::ErrorKind::Io && !is_timeout(t));
        match self.send_once(url) {
            // A pooled keep-alive connection the server already closed fails at once with an
            // I/O error before any response: the request never ran, so send it again once.
            Err(e) if stale(&e) => {
                log::debug!("LLM request failed on a reused connection ({e}); retrying once");
                self.send_once(url)
            }
            other => other,
        }
        .map_err(|e| self.redact(self.http_error(url, *e)))
    }

    fn send_once(&self, url: &str) -> Result<ureq::Response, Box<ureq::Error>> {
        let mut request = self
            .agent
            .post(url)
            .set("Content-Type", "application/json")
            .set("Accept", "text/event-stream");
        if let Some(key) = &self.config.api_key {
            request = match self.config.key_header {
                KeyHeader::Bearer => request.set("Authorization", &format!("Bearer {key}")),
                KeyHeader::AzureApiKey => request.set("api-key", key),
            };
        }
        log::debug!(
            "POST {} (model {}, {} bytes)",
            self.config.completions_url(),
            self.config.model,
            self.body.len()
        );
        request.send_string(&self.body).map_err(Box::new)
    }

    fn http_error(&self, url: &str, error: ureq::Error) -> LlmError {
        match error {
            ureq::Error::Status(status, response) => {
                let mut body = String::new();
                let _ = response
                    .into_reader()
                    .take(ERROR_BODY_LIMIT)
                    .read_to_string(&mut body);
                LlmError::Http {
                    status,
                    body: excerpt(body.trim()),
                }
            }
            ureq::Error::Transport(t) => {
                let message = t.to_string();
                match t.kind() {
                    ureq::ErrorKind::Dns | ureq::ErrorKind::ConnectionFailed => LlmError::Connect {
                        url: url.to_string(),
                        message,
                    },
                    _ if is_timeout(&t) => LlmError::Timeout(format!(
                        "no response from {} within {:?}",
                        self.config.host(),
                        self.config.chunk_timeout
                    )),
                    _ => LlmError::Io(message),
                }
            }
        }
    }

    /// The key, and credentials written into the base URL (`user:pass@`, `?key=`), must never
    /// reach a log or an error message (the browser's `error` event), even if a server echoes
    /// them.
    fn redact(&self, error: LlmError) -> LlmError {
        let (base, key) = (&self.config.base_url, self.config.api_key.as_deref());
        let clean = |s: String| crate::providers::cloud::redact_with(&s, base, key);
        match error {
            LlmError::Connect { url, message } => LlmError::Connect {
                url: clean(url),
                message: clean(message),
            },
            LlmError::Http { status, body } => LlmError::Http {
                status,
                body: clean(body),
            },
            LlmError::Timeout(m) => LlmError::Timeout(clean(m)),
            LlmError::Protocol(m) => LlmError::Protocol(clean(m)),
            LlmError::Io(m) => LlmError::Io(clean(m)),
        }
    }
}

fn is_timeout(t: &ureq::Transport) -> bool {
    let mut source = std::error::Error::source(t);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            );
        }
        source = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> OpenAiConfig {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        OpenAiConfig::from_lookup(move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn config_defaults_to_openai() {
        let c = env(&[]);
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.model, DEFAULT_MODEL);
        assert!(c.api_key.is_none());
        assert_eq!(
            c.completions_url(),
            "https://api.openai.com/v1/chat/completions"
        );
        assert_eq!(c.host(), "api.openai.com");
    }

    #[test]
    fn config_reads_base_url_model_and_key() {
        let c = env(&[
            ("OPENAI_BASE_URL", "http://127.0.0.1:8081/v1/"),
            ("LLM_MODEL", "gemma3-270m"),
            ("OPENAI_API_KEY", "sk-secret"),
        ]);
        assert_eq!(
            c.completions_url(),
            "http://127.0.0.1:8081/v1/chat/completions"
        );
        assert_eq!(c.host(), "127.0.0.1:8081");
        assert_eq!(c.api_key.as_deref(), Some("sk-secret"));
        assert_eq!(c.key_header, KeyHeader::Bearer);
        let chat = OpenAiChat::new(c);
        assert_eq!(
            chat.name(),
            "openai-compatible gemma3-270m at 127.0.0.1:8081"
        );
    }

    #[test]
    fn azure_key_goes_in_an_api_key_header_and_query_is_kept() {
        let c = env(&[
            (
                "OPENAI_BASE_URL",
                "https://x.openai.azure.com/openai/deployments/d?api-version=2024-06-01",
            ),
            ("AZURE_OPENAI_API_KEY", "az-secret"),
        ]);
        assert_eq!(c.key_header, KeyHeader::AzureApiKey);
        assert_eq!(
            c.completions_url(),
            "https://x.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-06-01"
        );
        assert_eq!(c.host(), "x.openai.azure.com");
    }

    #[test]
    fn debug_and_name_never_show_the_key() {
        let mut c = OpenAiConfig::new("https://user:pw@h.example/v1", "m");
        c.api_key = Some("sk-very-secret".into());
        let shown = format!("{c:?}");
        assert!(!shown.contains("sk-very-secret"), "{shown}");
        assert_eq!(c.host(), "h.example");
        assert!(!OpenAiChat::new(c).name().contains("pw"));
    }

    #[test]
    fn request_body_has_stream_messages_and_optional_fields() {
        let mut c = OpenAiConfig::new("http://h/v1", "m");
        let chat = OpenAiChat::new(c.clone());
        let msgs = [ChatMessage::system("be brief"), ChatMessage::user("hi")];
        let body = chat.request_body(&msgs, &[]);
        assert_eq!(body["stream"], json!(true));
        assert_eq!(body["model"], json!("m"));
        assert_eq!(
            body["messages"][1],
            json!({"role": "user", "content": "hi"})
        );
        assert!(body.get("tools").is_none() && body.get("temperature").is_none());
        // Every reply has a ceiling, unless one is configured otherwise.
        assert_eq!(body["max_tokens"], json!(DEFAULT_MAX_TOKENS));
        let from_env = OpenAiConfig::from_lookup(|n| (n == "LLM_MAX_TOKENS").then(|| "99".into()));
        assert_eq!(from_env.max_tokens, Some(99));

        c.temperature = Some(0.5);
        c.max_tokens = Some(64);
        let tool = ToolSpec {
            name: "t".into(),
            description: "d".into(),
            parameters: json!({"type": "object"}),
        };
        let body = OpenAiChat::new(c).request_body(&msgs, std::slice::from_ref(&tool));
        assert_eq!(body["tools"][0], tool.to_openai());
        assert_eq!(body["temperature"], json!(0.5));
        assert_eq!(body["max_tokens"], json!(64));
    }

    #[test]
    fn redact_removes_the_key_from_every_error() {
        let mut c = OpenAiConfig::new("http://h/v1", "m");
        c.api_key = Some("sk-abc".into());
        let r = Request {
            agent: ureq::agent(),
            config: c,
            body: String::new(),
            cancel: CancelToken::never(),
        };
        let e = r.redact(LlmError::Http {
            status: 401,
            body: "bad key sk-abc".into(),
        });
        assert!(!e.to_string().contains("sk-abc"), "{e}");
        let e = r.redact(LlmError::Protocol("echo sk-abc".into()));
        assert!(!e.to_string().contains("sk-abc"), "{e}");
    }

    #[test]
    fn credentials_in_the_base_url_never_reach_an_error() {
        // Nothing listens on port 9: the connection fails, and its error quotes the URL.
        let c = OpenAiConfig::new("http://alice:hunter2@127.0.0.1:9/v1?key=k-123", "m");
        let mut chat = OpenAiChat::new(c);
        let err = chat
            .stream(
                &[ChatMessage::user("hi")],
                &[],
                &CancelToken::never(),
                &mut |_| {},
            )
            .expect_err("nothing listens there");
        let shown = err.to_string();
        for secret in ["alice", "hunter2", "k-123"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("127.0.0.1:9"), "{shown}");
    }
}
