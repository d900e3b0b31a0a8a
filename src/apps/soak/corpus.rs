//! Malformed input of every kind the agent reads, each of which must get a clear error and
//! leave everything working: HTTP requests, WebSocket messages, LLM SSE streams, WAV files.

use std::io::Cursor;
use std::time::Duration;

use tungstenite::protocol::frame::coding::{Data as OpData, OpCode};
use tungstenite::protocol::frame::Frame;
use tungstenite::Message;

use super::callers::{http, Caller};
use crate::apps::server::ServerHandle;
use crate::foundation::audio::wav::read_wav_mono;
use crate::providers::llm::sse::ChatStream;

/// How many malformed inputs of each kind got a clear error (`answered`), of how many.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    pub answered: usize,
    pub total: usize,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.answered, self.total)
    }
}

impl Tally {
    /// Count one input; `what` names it in the log when it was not answered.
    fn count(&mut self, answered: bool, what: std::fmt::Arguments) {
        if !answered {
            log::warn!("soak: not answered: {what}");
        }
        self.total += 1;
        self.answered += usize::from(answered);
    }
}

#[derive(Debug, Default)]
pub struct Corpus {
    pub http: Tally,
    pub websocket: Tally,
    pub sse: Tally,
    pub wav: Tally,
}

impl Corpus {
    pub fn answered(&self) -> usize {
        self.http.answered + self.websocket.answered + self.sse.answered + self.wav.answered
    }
    pub fn total(&self) -> usize {
        self.http.total + self.websocket.total + self.sse.total + self.wav.total
    }
}

pub fn run(server: &ServerHandle) -> Corpus {
    Corpus {
        http: http_requests(server),
        websocket: websocket_messages(server),
        sse: sse_streams(),
        wav: wav_files(),
    }
}

fn http_requests(server: &ServerHandle) -> Tally {
    let page = server.local_addr();
    let endless = "x".repeat(20 * 1024);
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("GET / HTTP/1.1", vec![("X-Endless", endless.as_str())]),
        ("HELLO THERE", vec![]),
        ("POST / HTTP/1.1", vec![("Content-Length", "0")]),
        (
            "POST /twiml HTTP/1.1",
            vec![("Transfer-Encoding", "chunked")],
        ),
        (
            "POST /twiml HTTP/1.1",
            vec![("Content-Length", "999999999")],
        ),
        ("DELETE /healthz HTTP/1.1", vec![]),
        ("GET /../Cargo.toml HTTP/1.1", vec![]),
        ("GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1", vec![]),
        ("GET /%zz HTTP/1.1", vec![]),
        ("GET / HTTP/1.1", vec![("Host", "attacker.example")]),
        (
            "GET / HTTP/1.1",
            vec![("Host", "127.0.0.1"), ("Host", "attacker.example")],
        ),
        ("GET /ws HTTP/1.1", vec![]),
    ];
    let mut t = Tally::default();
    for (line, headers) in &cases {
        let (status, _) = http(page, line, headers);
        t.count(
            (400..600).contains(&status),
            format_args!("HTTP {line:?} got {status}"),
        );
    }
    // The WebSocket port refuses what is not a clean upgrade to /ws.
    let ws = server.ws_addr();
    let upgrade = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    let mut foreign = upgrade.to_vec();
    foreign.push(("Origin", "http://attacker.example"));
    for (line, headers) in [
        ("GET /elsewhere HTTP/1.1", upgrade.to_vec()),
        ("GET /ws HTTP/1.1", foreign),
    ] {
        let (status, _) = http(ws, line, &headers);
        t.count(
            (400..500).contains(&status),
            format_args!("WebSocket port {line:?} got {status}"),
        );
    }
    t
}

/// One session per bad message: the server answers with an `error`, or closes with the code
/// that says why.
fn websocket_messages(server: &ServerHandle) -> Tally {
    let bad_utf8 = Frame::message(vec![0xff, 0xfe, 0xfd], OpCode::Data(OpData::Text), true);
    let cases: Vec<(Vec<Message>, Option<u16>)> = vec![
        (vec![Message::text("not json at all")], None),
        (vec![Message::text(r#"{"type":"dance"}"#)], None),
        (
            vec![Message::text(r#"{"type":"played","samples":"lots"}"#)],
            None,
        ),
        (vec![Message::text("x".repeat(5_000))], None),
        (vec![Message::binary(vec![1u8, 2, 3])], None),
        (vec![Message::binary(vec![0u8; 8_000])], None),
        (vec![Message::binary(vec![0u8; 100_000])], Some(1009)),
        (vec![Message::Frame(bad_utf8)], Some(1007)),
        ((0..101).map(|_| Message::text("{}")).collect(), Some(1008)),
    ];
    let mut t = Tally::default();
    for (i, (messages, close)) in cases.into_iter().enumerate() {
        let answered = Caller::connect(server.ws_addr()).is_ok_and(|mut c| {
            if !c.until(Duration::from_secs(5), |c| c.ready) {
                return false;
            }
            for m in messages {
                c.send(m);
            }
            let ok = match close {
                Some(code) => c.until(Duration::from_secs(5), |c| c.closed == Some(code)),
                None => c.until(Duration::from_secs(5), |c| {
                    c.messages.iter().any(|m| m["type"] == "error")
                }),
            };
            c.close();
            ok
        });
        t.count(answered, format_args!("WebSocket case {i}"));
    }
    t
}

/// An LLM server's stream gone wrong: the client reports an error instead of hanging,
/// panicking, or holding unbounded memory.
fn sse_streams() -> Tally {
    let long_line = format!("data: {}", "x".repeat(2 * 1024 * 1024));
    let cases: Vec<Vec<u8>> = vec![
        b"data: {not json}\n\n".to_vec(),
        b"event: error\ndata: {\"error\":\"overloaded\"}\n\n".to_vec(),
        long_line.into_bytes(),
        b"data: {\"choices\": \"nope\"}\n\n".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x9f, b'\n', b'\n'],
    ];
    let mut t = Tally::default();
    for (i, bytes) in cases.into_iter().enumerate() {
        let mut stream = ChatStream::new(Cursor::new(bytes));
        let mut errored = false;
        for _ in 0..100 {
            match stream.next_item() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => {
                    errored = true;
                    break;
                }
            }
        }
        t.count(errored, format_args!("SSE case {i}"));
    }
    t
}

/// A 16-bit PCM WAV header for `rate` and `channels` over `data` bytes (declared `declared`).
fn wav(rate: u32, channels: u16, declared: u32, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + declared).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate.saturating_mul(2 * u32::from(channels))).to_le_bytes());
    b.extend_from_slice(&(2 * channels).to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&declared.to_le_bytes());
    b.extend_from_slice(data);
    b
}

fn wav_files() -> Tally {
    let samples = vec![0u8; 640];
    let cases: Vec<Vec<u8>> = vec![
        b"definitely not a wav file".to_vec(),
        b"RIFF\x10\x00\x00\x00WAVEfmt ".to_vec(),
        wav(1, 1, 640, &samples),
        wav(16_000, 0, 640, &samples),
        wav(16_000, 100, 640, &samples),
        wav(16_000, 1, 3 * 3600 * 32_000, &samples),
    ];
    let mut t = Tally::default();
    for (i, bytes) in cases.iter().enumerate() {
        let path = std::env::temp_dir().join(format!("va-soak-{}-{i}.wav", std::process::id()));
        let refused = std::fs::write(&path, bytes).is_ok() && read_wav_mono(&path, 16_000).is_err();
        let _ = std::fs::remove_file(&path);
        t.count(refused, format_args!("WAV case {i}"));
    }
    t
}
