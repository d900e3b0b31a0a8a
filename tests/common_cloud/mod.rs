//! Local stand-ins for the cloud speech services, on 127.0.0.1, speaking their wire protocols:
//! a raw HTTP/1.1 server with scripted (chunked, slow, broken) bodies for ElevenLabs and the
//! OpenAI-compatible endpoints, and a Deepgram-like `/v1/listen` WebSocket server.
#![allow(dead_code)] // each test file uses a part of this module

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use serde_json::{json, Value};
use tungstenite::handshake::server::{ErrorResponse, Request as WsRequest, Response as WsResponse};
use tungstenite::Message;

/// A port on which nothing listens.
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    port
}

/// Wait (up to 10 s) until `ready()` holds; false if it never does.
pub fn wait_until(mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if ready() {
            return true;
        }
        thread::sleep(Duration::from_millis(5));
    }
    ready()
}

pub fn pcm_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// One request as the server read it.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// How the response body is sent.
pub enum Body {
    /// With `Content-Length`.
    Fixed(Vec<u8>),
    /// `Transfer-Encoding: chunked`, one HTTP chunk per piece.
    Chunked(Vec<Vec<u8>>),
    /// Like `Chunked`, but the connection is cut after these pieces (no terminating chunk).
    ChunkedThenDrop(Vec<Vec<u8>>),
    /// `Content-Length` of the whole, but the connection is cut after `sent` bytes.
    FixedThenDrop { whole: Vec<u8>, sent: usize },
    /// Like `Chunked`, then the server goes silent with the connection open for `silence`
    /// (a stalled stream), and only then cuts it.
    ChunkedThenStall {
        pieces: Vec<Vec<u8>>,
        silence: Duration,
    },
}

pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Body,
    /// Pause before every piece after the first.
    pub spacing: Duration,
    /// Before the second piece, wait (up to 10 s) for the test to say it has the first.
    pub gate: Option<Receiver<()>>,
    /// Wait this long before the status line (a server that takes the request, then stalls).
    pub head_delay: Duration,
}

impl Reply {
    pub fn pcm(body: Body) -> Self {
        Self {
            status: 200,
            content_type: "audio/pcm",
            body,
            spacing: Duration::ZERO,
            gate: None,
            head_delay: Duration::ZERO,
        }
    }

    pub fn json(status: u16, value: Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: Body::Fixed(value.to_string().into_bytes()),
            spacing: Duration::ZERO,
            gate: None,
            head_delay: Duration::ZERO,
        }
    }
}

/// What the HTTP server saw.
#[derive(Default)]
pub struct HttpLog {
    pub requests: Vec<HttpRequest>,
    /// The test signalled the gate before the body went on.
    pub gate_opened: bool,
    /// A write failed: the client closed the connection mid-body.
    pub client_gone: bool,
    /// The whole body was written.
    pub completed: bool,
}

pub struct HttpMock {
    pub url: String,
    pub log: Arc<Mutex<HttpLog>>,
}

type Handler = dyn Fn(&HttpRequest) -> Reply + Send + Sync;

impl HttpMock {
    /// Serve every request with `handler` until the test ends.
    pub fn start(handler: impl Fn(&HttpRequest) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let log = Arc::new(Mutex::new(HttpLog::default()));
        let handler: Arc<Handler> = Arc::new(handler);
        let shared = log.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let handler = handler.clone();
                let log = shared.clone();
                thread::spawn(move || serve_connection(stream, &*handler, &log));
            }
        });
        Self { url, log }
    }

    pub fn requests(&self) -> Vec<HttpRequest> {
        self.log.lock().unwrap().requests.clone()
    }
}

fn serve_connection(stream: TcpStream, handler: &Handler, log: &Mutex<HttpLog>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut out = stream;
    // Requests on one connection, one after the other (clients pool connections).
    while let Some(request) = read_request(&mut reader) {
        let reply = handler(&request);
        log.lock().unwrap().requests.push(request);
        if !write_reply(&mut out, reply, log) {
            let _ = out.shutdown(Shutdown::Both);
            return;
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<HttpRequest> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(HttpRequest {
        method,
        target,
        headers,
        body,
    })
}

/// Write the reply; false when the connection must be closed afterwards.
fn write_reply(out: &mut TcpStream, reply: Reply, log: &Mutex<HttpLog>) -> bool {
    let reason = match reply.status {
        200 => "OK",
        401 => "Unauthorized",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        _ => "Status",
    };
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\n",
        reply.status, reply.content_type
    );
    let mut stall = Duration::ZERO;
    let (pieces, chunked, cut) = match reply.body {
        Body::Fixed(b) => {
            head += &format!("Content-Length: {}\r\n", b.len());
            (vec![b], false, false)
        }
        Body::FixedThenDrop { whole, sent } => {
            head += &format!("Content-Length: {}\r\n", whole.len());
            (vec![whole[..sent].to_vec()], false, true)
        }
        Body::Chunked(p) => {
            head += "Transfer-Encoding: chunked\r\n";
            (p, true, false)
        }
        Body::ChunkedThenDrop(p) => {
            head += "Transfer-Encoding: chunked\r\n";
            (p, true, true)
        }
        Body::ChunkedThenStall { pieces, silence } => {
            head += "Transfer-Encoding: chunked\r\n";
            stall = silence;
            (pieces, true, true)
        }
    };
    head += "\r\n";
    let gone = |log: &Mutex<HttpLog>| {
        log.lock().unwrap().client_gone = true;
        false
    };
    thread::sleep(reply.head_delay);
    if out.write_all(head.as_bytes()).is_err() {
        return gone(log);
    }
    for (i, piece) in pieces.iter().enumerate() {
        if i == 1 {
            if let Some(gate) = &reply.gate {
                let opened = gate.recv_timeout(Duration::from_secs(10)).is_ok();
                log.lock().unwrap().gate_opened = opened;
            }
        }
        if i > 0 && !reply.spacing.is_zero() {
            thread::sleep(reply.spacing);
        }
        let mut data = Vec::new();
        if chunked {
            data.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            data.extend_from_slice(piece);
            data.extend_from_slice(b"\r\n");
        } else {
            data.extend_from_slice(piece);
        }
        if out.write_all(&data).and_then(|()| out.flush()).is_err() {
            return gone(log);
        }
    }
    if cut {
        // Silent, not closed: the client sees nothing more arrive.
        thread::sleep(stall);
        return false;
    }
    if chunked && out.write_all(b"0\r\n\r\n").is_err() {
        return gone(log);
    }
    log.lock().unwrap().completed = true;
    true
}

// ---------------------------------------------------------------------------------------------
// Deepgram

/// The mock "recognizes" one word per 200 ms block of audio whose samples all hold
/// `100 * (i + 1)`: `WORDS[i]`. Blocks of zeros are silence. With [`DgOptions::by_level`] any
/// loud block is a word instead (the next of `WORDS` in turn), so real-sounding caller audio
/// can go through the pipeline.
pub const WORDS: [&str; 8] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
];
pub const BLOCK: usize = 3200;

/// Audio that the mock transcribes as `words` (indices into [`WORDS`]), then `silence` blocks.
pub fn spoken(words: &[usize], silence: usize) -> Vec<i16> {
    let mut out = Vec::new();
    for &w in words {
        out.extend(std::iter::repeat_n(100 * (w as i16 + 1), BLOCK));
    }
    out.extend(std::iter::repeat_n(0i16, BLOCK * silence));
    out
}

pub fn said(words: &[usize]) -> String {
    words
        .iter()
        .map(|&w| WORDS[w])
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Clone)]
pub struct DgOptions {
    pub key: String,
    /// Refuse the handshake with this status and a Deepgram-style JSON error.
    pub reject: Option<u16>,
    /// Cut the TCP connection (no close frame) after this many audio bytes; on the first
    /// connection only, or on every one.
    pub drop_after_bytes: Option<usize>,
    pub drop_every_connection: bool,
    /// Answer `Finalize` with a `from_finalize` result covering all audio.
    pub answer_finalize: bool,
    /// A final result after this many words (interims in between).
    pub words_per_final: usize,
    /// Pause before every message sent (a slow service).
    pub delay: Duration,
    /// Stop listening after this many connections (the host becomes unreachable).
    pub max_connections: Option<usize>,
    /// Endpointing: a silent block after words closes the segment with `speech_final`.
    pub endpointing: bool,
    /// Words by loudness instead of by sample value (see [`WORDS`]).
    pub by_level: bool,
}

impl DgOptions {
    pub fn new(key: &str) -> Self {
        Self {
            key: key.into(),
            reject: None,
            drop_after_bytes: None,
            drop_every_connection: false,
            answer_finalize: true,
            words_per_final: 3,
            delay: Duration::ZERO,
            max_connections: None,
            endpointing: true,
            by_level: false,
        }
    }
}

/// What the Deepgram mock saw.
#[derive(Default, Debug)]
pub struct DgLog {
    pub connections: usize,
    pub queries: Vec<String>,
    pub auth: Vec<Option<String>>,
    /// Audio bytes received, per connection.
    pub audio_bytes: Vec<usize>,
    pub keepalives: usize,
    pub finalizes: usize,
    pub close_streams: usize,
    /// Every result sent: (connection, is_final, transcript).
    pub sent: Vec<(usize, bool, String)>,
    /// The transcripts of the results sent with `speech_final`, in order.
    pub speech_finals: Vec<String>,
}

pub struct DeepgramMock {
    pub url: String,
    pub log: Arc<Mutex<DgLog>>,
}

impl DeepgramMock {
    pub fn start(options: DgOptions) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("ws://{}", listener.local_addr().expect("addr"));
        let log = Arc::new(Mutex::new(DgLog::default()));
        let shared = log.clone();
        thread::spawn(move || {
            let limit = options.max_connections.unwrap_or(usize::MAX);
            // Dropping the listener after the last accepted connection refuses the next ones.
            for stream in listener.incoming().take(limit) {
                let Ok(stream) = stream else { return };
                let log = shared.clone();
                let options = options.clone();
                thread::spawn(move || serve_deepgram(stream, &options, &log));
            }
        });
        Self { url, log }
    }
}

/// One connection's recognizer state.
struct Recognizer {
    pending: Vec<i16>,
    blocks: usize,
    /// Where the unfinalized segment starts (blocks) and its words.
    seg_start: usize,
    seg_words: Vec<String>,
    samples: usize,
    /// Words heard so far (`by_level` names them in turn).
    words_heard: usize,
}

fn results(
    start: f64,
    end: f64,
    text: &str,
    is_final: bool,
    speech_final: bool,
    ff: bool,
) -> Value {
    json!({
        "type": "Results",
        "channel_index": [0, 1],
        "start": start,
        "duration": end - start,
        "is_final": is_final,
        "speech_final": speech_final,
        "from_finalize": ff,
        "channel": {"alternatives": [{"transcript": text, "confidence": 0.99, "words": []}]},
        "metadata": {"request_id": "mock"},
    })
}

// The handshake callback's error type is tungstenite's, large or not.
#[allow(clippy::result_large_err)]
fn serve_deepgram(stream: TcpStream, options: &DgOptions, log: &Mutex<DgLog>) {
    let raw = stream.try_clone().expect("clone");
    let check = |req: &WsRequest, resp: WsResponse| -> Result<WsResponse, ErrorResponse> {
        let mut l = log.lock().unwrap();
        l.queries
            .push(req.uri().query().unwrap_or_default().to_string());
        let auth = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        l.auth.push(auth.clone());
        let status = match options.reject {
            Some(s) => Some(s),
            None if auth.as_deref() != Some(&format!("Token {}", options.key)) => Some(401),
            None if req.uri().path() != "/v1/listen" => Some(404),
            None => None,
        };
        if let Some(status) = status {
            let body = json!({"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials."});
            let mut e = ErrorResponse::new(Some(body.to_string()));
            *e.status_mut() = tungstenite::http::StatusCode::from_u16(status).expect("status");
            return Err(e);
        }
        Ok(resp)
    };
    let Ok(mut ws) = tungstenite::accept_hdr(stream, check) else {
        return;
    };
    let conn = {
        let mut l = log.lock().unwrap();
        l.connections += 1;
        l.audio_bytes.push(0);
        l.connections - 1
    };
    let mut r = Recognizer {
        pending: Vec::new(),
        blocks: 0,
        seg_start: 0,
        seg_words: Vec::new(),
        samples: 0,
        words_heard: 0,
    };
    let secs = |blocks: usize| blocks as f64 * 0.2;
    let send = |ws: &mut tungstenite::WebSocket<TcpStream>, v: Value| -> bool {
        thread::sleep(options.delay);
        if v["type"] == "Results" {
            let text = v["channel"]["alternatives"][0]["transcript"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let is_final = v["is_final"].as_bool().unwrap_or(false);
            log.lock().unwrap().sent.push((conn, is_final, text));
        }
        ws.send(Message::text(v.to_string())).is_ok()
    };
    loop {
        let message = match ws.read() {
            Ok(m) => m,
            Err(_) => return,
        };
        match message {
            Message::Binary(bytes) => {
                let total = {
                    let mut l = log.lock().unwrap();
                    l.audio_bytes[conn] += bytes.len();
                    l.audio_bytes[conn]
                };
                if let Some(limit) = options.drop_after_bytes {
                    if total >= limit && (conn == 0 || options.drop_every_connection) {
                        let _ = raw.shutdown(Shutdown::Both);
                        return;
                    }
                }
                r.samples += bytes.len() / 2;
                r.pending.extend(
                    bytes
                        .chunks_exact(2)
                        .map(|p| i16::from_le_bytes([p[0], p[1]])),
                );
                while r.pending.len() >= BLOCK {
                    let block: Vec<i16> = r.pending.drain(..BLOCK).collect();
                    r.blocks += 1;
                    let word = if options.by_level {
                        let level = block
                            .iter()
                            .map(|x| u64::from(x.unsigned_abs()))
                            .sum::<u64>()
                            / BLOCK as u64;
                        (level >= 1000).then(|| WORDS[r.words_heard % WORDS.len()])
                    } else {
                        let v = block[0];
                        (v != 0).then(|| WORDS[(v / 100 - 1) as usize])
                    };
                    let Some(word) = word else {
                        // Endpointing: silence after words closes the segment.
                        if options.endpointing && !r.seg_words.is_empty() {
                            let text = r.seg_words.join(" ");
                            let msg = results(
                                secs(r.seg_start),
                                secs(r.blocks),
                                &text,
                                true,
                                true,
                                false,
                            );
                            r.seg_words.clear();
                            r.seg_start = r.blocks;
                            log.lock().unwrap().speech_finals.push(text);
                            if !send(&mut ws, msg) {
                                return;
                            }
                        }
                        continue;
                    };
                    r.words_heard += 1;
                    r.seg_words.push(word.to_string());
                    let text = r.seg_words.join(" ");
                    let is_final = r.seg_words.len() >= options.words_per_final;
                    let msg = results(
                        secs(r.seg_start),
                        secs(r.blocks),
                        &text,
                        is_final,
                        false,
                        false,
                    );
                    if is_final {
                        r.seg_words.clear();
                        r.seg_start = r.blocks;
                    }
                    if !send(&mut ws, msg) {
                        return;
                    }
                }
            }
            Message::Text(text) => {
                let v: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                match v["type"].as_str() {
                    Some("KeepAlive") => log.lock().unwrap().keepalives += 1,
                    Some("Finalize") => {
                        log.lock().unwrap().finalizes += 1;
                        let end = r.samples as f64 / 16000.0;
                        let text = r.seg_words.join(" ");
                        let msg = if options.answer_finalize {
                            Some(results(secs(r.seg_start), end, &text, true, false, true))
                        } else if !r.seg_words.is_empty() {
                            Some(results(
                                secs(r.seg_start),
                                secs(r.blocks),
                                &text,
                                true,
                                false,
                                false,
                            ))
                        } else {
                            None
                        };
                        r.seg_words.clear();
                        // Whatever was pending is flushed: the next segment starts after it.
                        r.blocks += r.pending.len().div_ceil(BLOCK);
                        r.pending.clear();
                        r.seg_start = r.blocks;
                        if let Some(msg) = msg {
                            if !send(&mut ws, msg) {
                                return;
                            }
                        }
                    }
                    Some("CloseStream") => {
                        log.lock().unwrap().close_streams += 1;
                        let meta = json!({"type": "Metadata", "request_id": "mock",
                            "duration": r.samples as f64 / 16000.0, "channels": 1});
                        let _ = send(&mut ws, meta);
                        let _ = ws.close(None);
                        // Finish the close handshake.
                        while ws.read().is_ok() {}
                        return;
                    }
                    _ => {}
                }
            }
            Message::Close(_) => {
                while ws.read().is_ok() {}
                return;
            }
            _ => {}
        }
    }
}
