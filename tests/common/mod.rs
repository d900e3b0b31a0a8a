//! Helpers for driving the voice server over real sockets: a WebSocket client that streams
//! caller audio at real-time pace and can play the agent's audio back like a browser (with
//! `played` reports), a raw HTTP GET, and a session factory of scripted fakes.
#![allow(dead_code)] // Each test binary uses its own subset.

use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

use voice_agent::foundation::cancel::CancelToken;
use voice_agent::orchestration::agent::RESUME_PREFIX;
use voice_agent::orchestration::pipeline::TurnReport;
use voice_agent::providers::llm::ChatMessage;
use voice_agent::providers::session::{ProviderError, SessionFactory, SessionProviders};
use voice_agent::providers::testing::{EchoTools, ScriptStep, ScriptedChat, ScriptedStt, ToneTts};
use voice_agent::providers::tts::{TextToSpeech, TtsError};
use voice_agent::providers::vad::energy::EnergyVad;

/// Agent audio arrives at 24 kHz.
pub const AGENT_RATE: u64 = 24_000;

/// One thing the client received, in order.
#[derive(Clone, Debug)]
pub enum Received {
    Json(Value),
    Audio(Vec<i16>),
}

/// A test client for one session.
pub struct Client {
    ws: WebSocket<TcpStream>,
    pub log: Vec<Received>,
    /// The close frame the server sent, if any.
    pub closed: Option<(u16, String)>,
    /// The connection is over (closed or failed).
    pub ended: bool,
    /// Play received audio in real time and report the position like the browser does.
    pub playback: bool,
    /// Freeze the reported position (a client whose audio is stuck): reports stay at this.
    pub report_fixed: Option<u64>,
    buffered: u64,
    pub played: u64,
    last_tick: Instant,
    last_report: Option<Instant>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Result<Self, tungstenite::Error> {
        Self::connect_with_origin(addr, None)
    }

    pub fn connect_with_origin(
        addr: SocketAddr,
        origin: Option<&str>,
    ) -> Result<Self, tungstenite::Error> {
        Self::open(addr, "/ws", origin)
    }

    pub fn connect_with_path(addr: SocketAddr, path: &str) -> Result<Self, tungstenite::Error> {
        Self::open(addr, path, None)
    }

    fn open(
        addr: SocketAddr,
        path: &str,
        origin: Option<&str>,
    ) -> Result<Self, tungstenite::Error> {
        let mut req = format!("ws://{addr}{path}").into_client_request()?;
        if let Some(o) = origin {
            req.headers_mut().insert(
                "Origin",
                HeaderValue::from_str(o).expect("a valid header value"),
            );
        }
        let stream = TcpStream::connect(addr)?;
        let (ws, _resp) = tungstenite::client(req, stream).map_err(|e| match e {
            tungstenite::HandshakeError::Failure(e) => e,
            tungstenite::HandshakeError::Interrupted(_) => {
                tungstenite::Error::Io(std::io::Error::other("handshake interrupted"))
            }
        })?;
        ws.get_ref()
            .set_read_timeout(Some(Duration::from_millis(5)))?;
        Ok(Self {
            ws,
            log: Vec::new(),
            closed: None,
            ended: false,
            playback: false,
            report_fixed: None,
            buffered: 0,
            played: 0,
            last_tick: Instant::now(),
            last_report: None,
        })
    }

    pub fn send_text(&mut self, text: &str) {
        if self.ws.send(Message::text(text)).is_err() {
            self.ended = true;
        }
    }

    pub fn send_binary(&mut self, bytes: Vec<u8>) {
        if self.ws.send(Message::binary(bytes)).is_err() {
            self.ended = true;
        }
    }

    pub fn send_pcm(&mut self, pcm: &[i16]) {
        self.send_binary(pcm.iter().flat_map(|s| s.to_le_bytes()).collect());
    }

    /// Read whatever arrives for `dur`.
    pub fn poll(&mut self, dur: Duration) {
        let end = Instant::now() + dur;
        loop {
            self.read_once();
            self.tick();
            if self.ended || Instant::now() >= end {
                return;
            }
        }
    }

    fn read_once(&mut self) {
        if self.ended {
            std::thread::sleep(Duration::from_millis(5));
            return;
        }
        match self.ws.read() {
            Ok(Message::Text(t)) => match serde_json::from_str::<Value>(t.as_str()) {
                Ok(v) => {
                    if v["type"] == "clear" {
                        self.buffered = 0;
                    }
                    self.log.push(Received::Json(v));
                }
                Err(e) => panic!("server sent invalid JSON {t}: {e}"),
            },
            Ok(Message::Binary(b)) => {
                assert_eq!(b.len() % 2, 0, "odd-length audio from the server");
                let pcm: Vec<i16> = b
                    .chunks_exact(2)
                    .map(|c| i16::from_le_bytes([c[0], c[1]]))
                    .collect();
                self.buffered += pcm.len() as u64;
                self.log.push(Received::Audio(pcm));
            }
            Ok(Message::Close(frame)) => {
                self.closed = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                if self.closed.is_none() {
                    self.closed = Some((u16::from(CloseCode::Status), String::new()));
                }
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => self.ended = true,
        }
    }

    /// Advance the simulated player and send `played` about every 100 ms.
    fn tick(&mut self) {
        let now = Instant::now();
        if self.playback {
            let due = (now.duration_since(self.last_tick).as_secs_f64() * AGENT_RATE as f64) as u64;
            let n = due.min(self.buffered);
            self.buffered -= n;
            self.played += n;
            if due > 0 {
                self.last_tick = now;
            }
        } else {
            self.last_tick = now;
        }
        let reporting = self.playback || self.report_fixed.is_some();
        if reporting
            && !self.ended
            && self
                .last_report
                .is_none_or(|t| now.duration_since(t) >= Duration::from_millis(100))
        {
            let samples = self.report_fixed.unwrap_or(self.played);
            self.send_text(&format!(r#"{{"type":"played","samples":{samples}}}"#));
            self.last_report = Some(now);
        }
    }

    /// Stream `caller` in 20 ms frames at real-time pace, then silence, until `done` holds or
    /// `timeout` passes. True when `done` held.
    pub fn talk_until(
        &mut self,
        caller: &[i16],
        timeout: Duration,
        mut done: impl FnMut(&Client) -> bool,
    ) -> bool {
        let start = Instant::now();
        let mut sent = 0usize;
        loop {
            if done(self) {
                return true;
            }
            if self.ended || start.elapsed() > timeout {
                return false;
            }
            // Frames due by now (a real microphone never stops sending).
            let due = (start.elapsed().as_millis() / 20) as usize + 1;
            while sent < due {
                let from = sent * 320;
                let frame: Vec<i16> = if from + 320 <= caller.len() {
                    caller[from..from + 320].to_vec()
                } else {
                    vec![0; 320]
                };
                self.send_pcm(&frame);
                sent += 1;
            }
            self.read_once();
            self.tick();
        }
    }

    /// Close politely and wait for the server's answer; true when the server completed the
    /// closing handshake.
    pub fn close(mut self) -> bool {
        let already = self.closed.is_some();
        let _ = self.ws.close(None);
        let end = Instant::now() + Duration::from_secs(2);
        while !self.ended && Instant::now() < end {
            self.read_once();
        }
        already || self.closed.is_some()
    }

    /// Drop the TCP connection without a closing handshake.
    pub fn abort(self) {
        let _ = self.ws.get_ref().shutdown(std::net::Shutdown::Both);
    }

    /// JSON messages of a type, in order.
    pub fn messages(&self, kind: &str) -> Vec<&Value> {
        self.log
            .iter()
            .filter_map(|r| match r {
                Received::Json(v) if v["type"] == kind => Some(v),
                _ => None,
            })
            .collect()
    }

    pub fn has(&self, kind: &str) -> bool {
        !self.messages(kind).is_empty()
    }

    /// Every audio sample received.
    pub fn audio(&self) -> Vec<i16> {
        self.log
            .iter()
            .flat_map(|r| match r {
                Received::Audio(a) => a.clone(),
                Received::Json(_) => Vec::new(),
            })
            .collect()
    }

    /// Position in the log of the first message of a type.
    pub fn position(&self, kind: &str) -> Option<usize> {
        self.log
            .iter()
            .position(|r| matches!(r, Received::Json(v) if v["type"] == kind))
    }

    pub fn metrics_for(&self, turn: u64) -> Option<&Value> {
        self.messages("metrics")
            .into_iter()
            .find(|m| m["turn"] == turn)
    }
}

/// A raw HTTP request; returns the status and the body (the soak's client, which adds `Host`
/// unless given).
pub fn http_request(
    addr: SocketAddr,
    request_line: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    voice_agent::apps::soak::callers::http(addr, request_line, headers)
}

pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_request(addr, &format!("GET {path} HTTP/1.1"), &[])
}

/// What the scripted sessions did, shared with the test.
#[derive(Clone, Default)]
pub struct Spies {
    /// Every text the TTS spoke, across sessions.
    pub spoken: Arc<Mutex<Vec<String>>>,
    /// Every history the chat model was called with.
    pub calls: Arc<Mutex<Vec<Vec<ChatMessage>>>>,
}

/// Makes each session from scripted fakes: energy VAD, scripted STT lines, scripted chat
/// answers (tool calls go to `EchoTools`), and a tone TTS of `ms_per_char`.
pub struct ScriptedFactory {
    pub lines: Vec<String>,
    pub answers: Vec<Vec<ScriptStep>>,
    pub ms_per_char: u64,
    pub spies: Spies,
    /// Refuse to make sessions (a provider that cannot start).
    pub fail_session: bool,
    /// Give sessions a TTS that panics (a stage that fails mid-session).
    pub panicking_tts: bool,
}

/// A TTS that panics on its first sentence.
pub struct PanickingTts;

impl TextToSpeech for PanickingTts {
    fn name(&self) -> String {
        "panics".into()
    }
    fn synthesize(
        &mut self,
        _text: &str,
        _cancel: &CancelToken,
        _on_audio: &mut dyn FnMut(&[i16]),
    ) -> Result<(), TtsError> {
        panic!("synthesizer exploded")
    }
}

impl ScriptedFactory {
    pub fn new(lines: &[&str], answers: Vec<Vec<ScriptStep>>, ms_per_char: u64) -> Self {
        Self {
            lines: lines.iter().map(|s| s.to_string()).collect(),
            answers,
            ms_per_char,
            spies: Spies::default(),
            fail_session: false,
            panicking_tts: false,
        }
    }
}

impl SessionFactory for ScriptedFactory {
    fn session(&self) -> Result<SessionProviders, ProviderError> {
        if self.fail_session {
            return Err(ProviderError::Config("no models today".into()));
        }
        let lines: Vec<&str> = self.lines.iter().map(String::as_str).collect();
        let mut chat = ScriptedChat::new(self.answers.clone());
        chat.calls = self.spies.calls.clone();
        let tts = ToneTts {
            ms_per_char: self.ms_per_char,
            spoken: self.spies.spoken.clone(),
            ..ToneTts::default()
        };
        Ok(SessionProviders {
            vad: Box::new(EnergyVad::default()),
            stt: Box::new(ScriptedStt::new(&lines)),
            chat: Box::new(chat),
            tools: Box::new(EchoTools::default()),
            tts: if self.panicking_tts {
                Box::new(PanickingTts)
            } else {
                Box::new(tts)
            },
            system_prompt: "You are a test receptionist.".into(),
        })
    }

    fn describe(&self) -> Vec<String> {
        vec!["scripted fakes (energy VAD, scripted STT and chat, tone TTS)".into()]
    }
}

/// Wait until `cond` holds (polling), up to `timeout`.
pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// Asserts that `resumed` picks the reply of `cut` up where the caller stopped hearing it: the
/// resume prefix, then exactly the words of `reply` after those played in `cut`.
pub fn assert_resumed_where_cut(cut: &TurnReport, resumed: &TurnReport, reply: &str) {
    let rest = resumed
        .agent_text
        .strip_prefix(RESUME_PREFIX)
        .and_then(|rest| rest.strip_prefix(' '))
        .unwrap_or_else(|| panic!("not a resumed reply: {:?}", resumed.agent_text));
    let heard_words = cut.played_text.split_whitespace().count();
    let expected: Vec<&str> = reply.split_whitespace().skip(heard_words).collect();
    assert_eq!(rest, expected.join(" "));
}

/// A server with the local models, the built-in brain and a fresh database, on a fixed clock
/// (Monday, November 23, 2026, 9 AM), and the database's path; `None` with a note when the
/// models are not installed (`make setup`).
pub fn local_models_server(
    tag: &str,
) -> Option<(voice_agent::apps::server::ServerHandle, std::path::PathBuf)> {
    use voice_agent::apps::compose::{ProviderOptions, Providers};
    use voice_agent::apps::server::{self, ServerConfig};
    use voice_agent::domain::FixedClock;

    let dir = voice_agent::providers::models::models_dir();
    if !dir.join("whisper-tiny.en/encoder.onnx").exists()
        || !dir.join("piper/en_US-joe-medium.onnx").exists()
    {
        eprintln!(
            "SKIPPED: models missing in {} (run `make setup`)",
            dir.display()
        );
        return None;
    }
    let db = std::env::temp_dir().join(format!("va-{tag}-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&db);
    let opts = ProviderOptions {
        db: Some(db.clone()),
        llm: Some("builtin".into()),
        ..ProviderOptions::default()
    };
    let clock = Arc::new(FixedClock::at("2026-11-23 09:00").expect("clock"));
    let providers = Arc::new(Providers::load_with_clock(&opts, clock).expect("providers"));
    let server = server::start(
        ServerConfig {
            bind: "127.0.0.1:0".into(),
            ..ServerConfig::default()
        },
        providers,
    )
    .expect("server");
    Some((server, db))
}
