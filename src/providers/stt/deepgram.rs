//! Deepgram streaming speech-to-text over one persistent WebSocket per session.
//!
//! The caller's audio goes up in 20 ms binary frames while they speak ([`SpeechToText::stream_audio`]),
//! so at the end of the turn Deepgram already has it: [`SpeechToText::transcribe`] sends only
//! what is missing, then `Finalize`, and waits for the final `Results`. Interim results become
//! partial transcripts. A socket thread owns the connection: it writes queued audio and control
//! messages, sends `KeepAlive` while idle, and parses `Results`, `UtteranceEnd` and `Metadata`.
//!
//! Results are matched to the turn by their audio timestamps (seconds of audio received on the
//! connection), so late results of an abandoned utterance never leak into the next one. If the
//! socket drops during a turn it is reopened once and the turn's audio sent again.

use std::io::ErrorKind;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use serde_json::Value;
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::http::HeaderValue;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};
use url::Url;

use super::{SpeechToText, SttError};

use crate::foundation::audio::INPUT_RATE;
use crate::foundation::cancel::CancelToken;
use crate::providers::cloud::{self, Lookup, Service};

pub const DEFAULT_BASE_URL: &str = "wss://api.deepgram.com";
pub const DEFAULT_MODEL: &str = "nova-3";
pub const DEFAULT_ENDPOINTING_MS: u32 = 300;

/// How long the socket thread blocks in one read before it looks at its outgoing queue.
const POLL: Duration = Duration::from_millis(5);
/// Audio handed to `transcribe` in one piece goes up in frames of this many samples (100 ms).
const BULK_FRAME: usize = 1600;
/// A result ending this close to a turn's start belongs to the audio before it.
const TIME_EPS: f64 = 0.01;
/// Finals that reach this close to the end of the audio sent cover the whole turn.
const COVER_EPS: f64 = 0.05;
/// After `Finalize`, once Deepgram's endpointing has closed the speech and nothing else comes
/// for this long, the turn is complete (Deepgram may not answer a Finalize of pure silence).
const FINALIZE_GRACE: Duration = Duration::from_millis(250);
/// How long `close()` waits for Deepgram's last messages after `CloseStream`.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// How to reach Deepgram and what to ask of it. `Debug` never prints the key.
#[derive(Clone)]
pub struct DeepgramConfig {
    /// Scheme and host, e.g. `wss://api.deepgram.com` or `ws://127.0.0.1:9000` (tests);
    /// `/v1/listen` is added unless the URL already ends with it.
    pub base_url: String,
    pub api_key: String,
    pub model: String,
    /// Silence (ms) after which Deepgram marks a result `speech_final`; `None` turns it off.
    pub endpointing_ms: Option<u32>,
    /// Ask for `UtteranceEnd` messages after this much silence (ms, at least 1000).
    pub utterance_end_ms: Option<u32>,
    /// A BCP-47 language such as `en-US`; `None` keeps the model's default.
    pub language: Option<String>,
    /// Punctuation and formatting ("3:30 PM" rather than "three thirty p m").
    pub smart_format: bool,
    /// Send `KeepAlive` after this long without sending anything (Deepgram closes idle
    /// sockets after about 10 s).
    pub keepalive_every: Duration,
    pub connect_timeout: Duration,
    /// The longest wait for the final results after `Finalize`.
    pub finalize_timeout: Duration,
}

impl std::fmt::Debug for DeepgramConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeepgramConfig")
            .field("base_url", &cloud::redact_url(&self.base_url))
            .field("api_key", &"<redacted>")
            .field("model", &self.model)
            .field("endpointing_ms", &self.endpointing_ms)
            .field("utterance_end_ms", &self.utterance_end_ms)
            .field("language", &self.language)
            .field("smart_format", &self.smart_format)
            .field("keepalive_every", &self.keepalive_every)
            .field("connect_timeout", &self.connect_timeout)
            .field("finalize_timeout", &self.finalize_timeout)
            .finish()
    }
}

impl DeepgramConfig {
    /// Nova-3 at Deepgram itself, 300 ms endpointing, smart formatting.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.into(),
            api_key: api_key.into(),
            model: DEFAULT_MODEL.into(),
            endpointing_ms: Some(DEFAULT_ENDPOINTING_MS),
            utterance_end_ms: None,
            language: None,
            smart_format: true,
            keepalive_every: Duration::from_secs(4),
            connect_timeout: cloud::CONNECT_TIMEOUT,
            finalize_timeout: Duration::from_millis(2500),
        }
    }

    /// Another server speaking the same protocol. `http(s)://` is taken as `ws(s)://`.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        let url = base_url.into();
        let url = url.trim().trim_end_matches('/');
        self.base_url = if let Some(rest) = url.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = url.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            url.to_string()
        };
        self
    }

    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = model.into();
        self
    }

    /// From `DEEPGRAM_API_KEY` (required), `DEEPGRAM_BASE_URL`, `DEEPGRAM_MODEL`,
    /// `DEEPGRAM_ENDPOINTING_MS` (a number, or `false`) and `DEEPGRAM_LANGUAGE`.
    pub fn from_env() -> Result<Self, SttError> {
        Self::from_lookup(&cloud::env_lookup)
    }

    /// [`from_env`](Self::from_env) over any variable source (tests, config files).
    pub fn from_lookup(get: Lookup<'_>) -> Result<Self, SttError> {
        let key = cloud::first_set(get, &["DEEPGRAM_API_KEY"])
            .ok_or_else(|| SttError::Service(service().missing_key()))?;
        let mut config = Self::new(key);
        if let Some(url) = cloud::first_set(get, &["DEEPGRAM_BASE_URL"]) {
            config = config.with_base_url(url);
        }
        if let Some(model) = cloud::first_set(get, &["DEEPGRAM_MODEL"]) {
            config.model = model;
        }
        if let Some(ms) = cloud::first_set(get, &["DEEPGRAM_ENDPOINTING_MS"]) {
            config.endpointing_ms = match ms.as_str() {
                "false" | "off" | "0" => None,
                n => Some(n.parse().map_err(|_| {
                    SttError::Service(format!(
                        "DEEPGRAM_ENDPOINTING_MS must be milliseconds or false, not {n:?}"
                    ))
                })?),
            };
        }
        config.language = cloud::first_set(get, &["DEEPGRAM_LANGUAGE"]);
        Ok(config)
    }

    /// The `/v1/listen` URL with the query that describes the audio and the options.
    pub fn listen_url(&self) -> String {
        let base = self.base_url.trim_end_matches('/');
        let Ok(mut url) = Url::parse(base) else {
            // Refused by the WebSocket client with a message that names it.
            return base.to_string();
        };
        if !url.path().ends_with("/v1/listen") {
            if let Ok(mut segments) = url.path_segments_mut() {
                segments.pop_if_empty().extend(["v1", "listen"]);
            }
        }
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("encoding", "linear16")
                .append_pair("sample_rate", &INPUT_RATE.to_string())
                .append_pair("channels", "1")
                .append_pair("interim_results", "true")
                .append_pair(
                    "endpointing",
                    &self
                        .endpointing_ms
                        .map_or("false".to_string(), |ms| ms.to_string()),
                )
                .append_pair("model", &self.model);
            if self.smart_format {
                q.append_pair("smart_format", "true");
            }
            if let Some(ms) = self.utterance_end_ms {
                q.append_pair("utterance_end_ms", &ms.to_string());
            }
            if let Some(lang) = &self.language {
                q.append_pair("language", lang);
            }
        }
        url.to_string()
    }

    pub fn host(&self) -> String {
        cloud::host_of(&self.base_url)
    }
}

fn service() -> Service {
    Service::new("Deepgram", "DEEPGRAM_API_KEY")
}

// ---------------------------------------------------------------------------------------------
// Wire messages

/// One `Results` message.
#[derive(Clone, Debug, PartialEq)]
struct Transcript {
    text: String,
    /// Seconds of audio received on this connection before the span, and its length.
    start: f64,
    duration: f64,
    is_final: bool,
    speech_final: bool,
    from_finalize: bool,
}

impl Transcript {
    fn end(&self) -> f64 {
        self.start + self.duration
    }
}

#[derive(Debug)]
enum Incoming {
    Results(Transcript),
    UtteranceEnd {
        last_word_end: f64,
    },
    /// The socket closed or failed; why, for the logs and errors.
    Closed(String),
}

enum Outgoing {
    Audio(Vec<u8>),
    Control(&'static str),
    /// Send `CloseStream`, wait briefly for the last messages, then end the thread.
    Close,
}

const FINALIZE: &str = r#"{"type":"Finalize"}"#;
const KEEP_ALIVE: &str = r#"{"type":"KeepAlive"}"#;
const CLOSE_STREAM: &str = r#"{"type":"CloseStream"}"#;

/// Parse one text message from Deepgram; `None` for the kinds this client ignores.
fn parse_message(text: &str) -> Option<Incoming> {
    let v: Value = serde_json::from_str(text).ok()?;
    match v.get("type")?.as_str()? {
        "Results" => {
            let text = v
                .pointer("/channel/alternatives/0/transcript")
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim()
                .to_string();
            let flag = |name: &str| v.get(name).and_then(Value::as_bool).unwrap_or(false);
            let num = |name: &str| v.get(name).and_then(Value::as_f64).unwrap_or(0.0);
            Some(Incoming::Results(Transcript {
                text,
                start: num("start"),
                duration: num("duration"),
                is_final: flag("is_final"),
                speech_final: flag("speech_final"),
                from_finalize: flag("from_finalize"),
            }))
        }
        "UtteranceEnd" => Some(Incoming::UtteranceEnd {
            last_word_end: v
                .get("last_word_end")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
        }),
        "Metadata" => {
            log::debug!(
                "deepgram: metadata (request {}, {} s of audio)",
                v.get("request_id").and_then(Value::as_str).unwrap_or("-"),
                v.get("duration").and_then(Value::as_f64).unwrap_or(0.0)
            );
            None
        }
        "Error" => Some(Incoming::Closed(format!(
            "Deepgram reported an error: {}",
            cloud::error_detail(text)
        ))),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// One connection and its socket thread

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

struct Link {
    /// Tells connections apart (a reconnect makes a new one).
    serial: u64,
    tx: Sender<Outgoing>,
    rx: Receiver<Incoming>,
    /// Samples queued on this connection: Deepgram's timestamps count from its first sample.
    sent_samples: u64,
}

impl Link {
    fn open(config: &DeepgramConfig) -> Result<Self, SttError> {
        let started = Instant::now();
        let socket = connect(config)?;
        log::debug!(
            "deepgram: connected to {} in {:.0} ms",
            config.host(),
            started.elapsed().as_secs_f64() * 1e3
        );
        let (tx, out_rx) = crossbeam_channel::unbounded();
        let (in_tx, rx) = crossbeam_channel::unbounded();
        let keepalive = config.keepalive_every;
        thread::Builder::new()
            .name("deepgram-ws".into())
            .spawn(move || socket_loop(socket, &out_rx, &in_tx, keepalive))
            .map_err(|e| SttError::Service(format!("cannot start the Deepgram thread: {e}")))?;
        static SERIAL: AtomicU64 = AtomicU64::new(0);
        Ok(Self {
            serial: SERIAL.fetch_add(1, Ordering::Relaxed),
            tx,
            rx,
            sent_samples: 0,
        })
    }

    /// Queue audio; false when the socket thread has ended.
    fn send_audio(&mut self, samples: &[i16]) -> bool {
        if samples.is_empty() {
            return true;
        }
        self.sent_samples += samples.len() as u64;
        self.tx
            .send(Outgoing::Audio(cloud::pcm16_bytes(samples)))
            .is_ok()
    }

    fn send_control(&self, message: &'static str) -> bool {
        self.tx.send(Outgoing::Control(message)).is_ok()
    }

    /// Seconds of audio sent on this connection.
    fn stream_time(&self) -> f64 {
        self.sent_samples as f64 / f64::from(INPUT_RATE)
    }
}

/// TCP, then TLS for `wss://`, then the WebSocket handshake with the key.
fn connect(config: &DeepgramConfig) -> Result<Socket, SttError> {
    let url = config.listen_url();
    let host = config.host().to_string();
    let fail = |m: String| SttError::Service(cloud::redact(&m, Some(&config.api_key)));
    let mut request = url.as_str().into_client_request().map_err(|e| {
        fail(format!(
            "invalid Deepgram URL {:?}: {e}",
            cloud::redact_url(&url)
        ))
    })?;
    let auth = HeaderValue::from_str(&format!("Token {}", config.api_key))
        .map_err(|_| fail("DEEPGRAM_API_KEY holds characters that cannot go in a header".into()))?;
    request.headers_mut().insert("Authorization", auth);
    let uri = request.uri();
    let name = uri.host().unwrap_or("").to_string();
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("wss") {
            443
        } else {
            80
        });

    let addrs = (name.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| fail(service().transport_message(&host, &format!("cannot resolve: {e}"))))?;
    let mut last_error = format!("{name} has no address");
    let mut tcp = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, config.connect_timeout) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last_error = e.to_string(),
        }
    }
    let tcp = tcp.ok_or_else(|| fail(service().transport_message(&host, &last_error)))?;
    let setup = |s: &TcpStream| -> std::io::Result<()> {
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(config.connect_timeout))?;
        s.set_write_timeout(Some(config.connect_timeout))
    };
    setup(&tcp).map_err(|e| fail(service().transport_message(&host, &e.to_string())))?;
    // A second handle on the same socket, to shorten the read timeout after the handshake.
    let handle = tcp
        .try_clone()
        .map_err(|e| fail(service().transport_message(&host, &e.to_string())))?;

    let (socket, _response) = tungstenite::client_tls_with_config(request, tcp, None, None)
        .map_err(|e| match e {
            HandshakeError::Interrupted(_) => fail(service().transport_message(
                &host,
                &format!("no answer within {:?}", config.connect_timeout),
            )),
            HandshakeError::Failure(tungstenite::Error::Http(response)) => {
                let body = response
                    .body()
                    .as_deref()
                    .map(String::from_utf8_lossy)
                    .unwrap_or_default();
                fail(service().status_message(response.status().as_u16(), &body))
            }
            HandshakeError::Failure(e) => fail(service().transport_message(&host, &e.to_string())),
        })?;
    handle
        .set_read_timeout(Some(POLL))
        .map_err(|e| fail(service().transport_message(&host, &e.to_string())))?;
    Ok(socket)
}

fn is_timeout(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(io) if matches!(io.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut))
}

/// The socket thread: write what is queued, keep the connection alive, forward what arrives.
fn socket_loop(
    mut ws: Socket,
    out: &Receiver<Outgoing>,
    events: &Sender<Incoming>,
    keepalive: Duration,
) {
    let mut last_sent = Instant::now();
    loop {
        loop {
            let message = match out.try_recv() {
                Ok(Outgoing::Audio(bytes)) => Message::binary(bytes),
                Ok(Outgoing::Control(text)) => Message::text(text),
                // Asked to close, or the provider is gone without asking.
                Ok(Outgoing::Close) | Err(TryRecvError::Disconnected) => {
                    close_gracefully(ws, events);
                    return;
                }
                Err(TryRecvError::Empty) => break,
            };
            if let Err(e) = ws.send(message) {
                let _ = events.send(Incoming::Closed(format!("sending failed: {e}")));
                return;
            }
            last_sent = Instant::now();
        }
        if last_sent.elapsed() >= keepalive {
            if let Err(e) = ws.send(Message::text(KEEP_ALIVE)) {
                let _ = events.send(Incoming::Closed(format!("sending failed: {e}")));
                return;
            }
            log::trace!("deepgram: keep-alive");
            last_sent = Instant::now();
        }
        match ws.read() {
            Ok(Message::Text(text)) => {
                if let Some(event) = parse_message(text.as_str()) {
                    let closed = matches!(event, Incoming::Closed(_));
                    if events.send(event).is_err() || closed {
                        return;
                    }
                }
            }
            Ok(Message::Close(frame)) => {
                // Answer the close handshake; the reason says why (e.g. NET-0001: no audio).
                let _ = ws.flush();
                let why = frame.map_or_else(
                    || "closed by Deepgram".to_string(),
                    |f| format!("closed by Deepgram ({} {})", u16::from(f.code), f.reason),
                );
                let _ = events.send(Incoming::Closed(why));
                return;
            }
            // Pongs to pings go out on the next write; flush them now.
            Ok(Message::Ping(_)) => {
                let _ = ws.flush();
            }
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(e) => {
                let _ = events.send(Incoming::Closed(format!("connection lost: {e}")));
                return;
            }
        }
    }
}

/// `CloseStream`, then forward what Deepgram still sends until it closes (or `CLOSE_WAIT`).
fn close_gracefully(mut ws: Socket, events: &Sender<Incoming>) {
    if ws.send(Message::text(CLOSE_STREAM)).is_err() {
        return;
    }
    let deadline = Instant::now() + CLOSE_WAIT;
    while Instant::now() < deadline {
        match ws.read() {
            Ok(Message::Text(text)) => {
                if let Some(event) = parse_message(text.as_str()) {
                    let _ = events.send(event);
                }
            }
            Ok(Message::Close(_)) => {
                let _ = ws.flush();
                break;
            }
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(_) => break,
        }
    }
    let _ = events.send(Incoming::Closed("closed".into()));
}

// ---------------------------------------------------------------------------------------------
// The provider

/// The utterance being transcribed.
#[derive(Default)]
struct Turn {
    /// Every sample of the utterance so far, kept to send again after a reconnect.
    audio: Vec<i16>,
    /// Where the utterance starts on the current connection (seconds of audio before it).
    start_s: f64,
    finals: Vec<String>,
    /// The end of the last final result, in connection time.
    final_end_s: f64,
    /// The newest interim transcript of the audio after the finals.
    interim: String,
    /// Deepgram's endpointing closed the speech, and nothing was heard since.
    speech_final: bool,
    from_finalize: bool,
    reconnected: bool,
    /// The connection failed beyond repair; `transcribe` reports this.
    failed: Option<String>,
    /// The partial last handed out, so each is handed out once.
    last_partial: String,
}

impl Turn {
    fn partial(&self) -> String {
        let mut parts: Vec<&str> = self.finals.iter().map(String::as_str).collect();
        if !self.interim.is_empty() {
            parts.push(&self.interim);
        }
        parts.join(" ")
    }

    fn clear_results(&mut self) {
        self.finals.clear();
        self.final_end_s = self.start_s;
        self.interim.clear();
        self.speech_final = false;
        self.from_finalize = false;
    }
}

/// The text of an error without the `SttError` prefix, to report it again later.
fn inner_message(e: &SttError) -> String {
    match e {
        SttError::Service(m) | SttError::Inference(m) | SttError::ModelMissing(m) => m.clone(),
    }
}

/// Streaming speech-to-text from Deepgram.
pub struct DeepgramStt {
    config: DeepgramConfig,
    link: Option<Link>,
    turn: Option<Turn>,
}

impl DeepgramStt {
    /// Open the session's connection now, so a bad key or an unreachable host shows at start-up.
    pub fn connect(config: DeepgramConfig) -> Result<Self, SttError> {
        if config.api_key.trim().is_empty() {
            return Err(SttError::Service(service().missing_key()));
        }
        let link = Link::open(&config)?;
        Ok(Self {
            config,
            link: Some(link),
            turn: None,
        })
    }

    pub fn config(&self) -> &DeepgramConfig {
        &self.config
    }

    /// End the session politely: `CloseStream`, then wait (up to 2 s) for Deepgram to close.
    pub fn close(&mut self) {
        if let Some(link) = self.link.take() {
            if link.tx.send(Outgoing::Close).is_ok() {
                let deadline = Instant::now() + CLOSE_WAIT + Duration::from_millis(500);
                while let Ok(event) = link.rx.recv_deadline(deadline) {
                    if matches!(event, Incoming::Closed(_)) {
                        break;
                    }
                }
            }
        }
        self.turn = None;
    }

    fn error(&self, message: String) -> SttError {
        SttError::Service(cloud::redact(&message, Some(&self.config.api_key)))
    }

    /// A connection to send on, opened again if the last one went away between turns.
    fn ensure_link(&mut self) -> Result<&mut Link, SttError> {
        let link = match self.link.take() {
            Some(l) => l,
            None => Link::open(&self.config)?,
        };
        Ok(self.link.insert(link))
    }

    /// Between turns: drop what arrived for no utterance, and notice a connection that closed
    /// while idle so the next turn starts on a fresh one.
    fn check_idle_link(&mut self) {
        let Some(link) = &self.link else { return };
        loop {
            match link.rx.try_recv() {
                Ok(Incoming::Closed(why)) => {
                    log::info!("deepgram: connection closed while idle ({why}); reopening");
                    self.link = None;
                    return;
                }
                Ok(_) => {}
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => {
                    self.link = None;
                    return;
                }
            }
        }
    }

    /// Start a new utterance at the current point of the stream.
    fn begin_turn(&mut self) -> Result<(), SttError> {
        self.check_idle_link();
        let start_s = self.ensure_link().map(|l| l.stream_time());
        let mut turn = Turn::default();
        match start_s {
            Ok(s) => {
                turn.start_s = s;
                turn.final_end_s = s;
                self.turn = Some(turn);
                Ok(())
            }
            Err(e) => {
                turn.failed = Some(inner_message(&e));
                self.turn = Some(turn);
                Err(e)
            }
        }
    }

    /// Abandon the current utterance: `Finalize` flushes its audio so none of it is merged
    /// into the next result, and the timestamps keep its late results out of the next turn.
    fn drop_turn(&mut self) {
        if self.turn.take().is_some() {
            if let Some(link) = &self.link {
                link.send_control(FINALIZE);
            }
        }
    }

    /// Make the open utterance hold `audio` (the whole utterance so far), sending what
    /// Deepgram has not had yet. A different utterance replaces the open one.
    fn sync(&mut self, audio: &[i16]) -> Result<(), SttError> {
        let continues = matches!(&self.turn, Some(t)
            if audio.len() >= t.audio.len() && audio[..t.audio.len()] == t.audio[..]);
        if !continues {
            self.drop_turn();
            self.begin_turn()?;
        }
        let have = self.turn.as_ref().map_or(0, |t| t.audio.len());
        // A failed turn keeps taking the audio (so later calls still see the same utterance)
        // and reports its error once per call.
        let mut first_error = None;
        for piece in audio[have..].chunks(BULK_FRAME) {
            if let Err(e) = self.send(piece) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Append `samples` to the open utterance and send them, reconnecting once if needed.
    fn send(&mut self, samples: &[i16]) -> Result<(), SttError> {
        let Some(turn) = self.turn.as_mut() else {
            return Ok(());
        };
        turn.audio.extend_from_slice(samples);
        if let Some(why) = turn.failed.clone() {
            return Err(self.error(why));
        }
        if self.link.as_mut().is_some_and(|l| l.send_audio(samples)) {
            Ok(())
        } else {
            self.recover("the connection was gone")
        }
    }

    /// Handle everything Deepgram sent so far; waits up to `wait` for the first message.
    /// A dropped connection during a turn is repaired (once) here.
    fn pump(&mut self, wait: Duration) -> Result<bool, SttError> {
        let mut got = false;
        let mut wait = wait;
        loop {
            let Some(link) = &self.link else {
                return Ok(got);
            };
            let event = match link.rx.recv_timeout(wait) {
                Ok(e) => e,
                Err(RecvTimeoutError::Timeout) => return Ok(got),
                Err(RecvTimeoutError::Disconnected) => {
                    Incoming::Closed("the connection thread ended".into())
                }
            };
            wait = Duration::ZERO;
            match event {
                Incoming::Results(r) => got |= self.absorb(r),
                Incoming::UtteranceEnd { last_word_end } => {
                    if let Some(t) = self.turn.as_mut() {
                        if last_word_end + TIME_EPS >= t.start_s && t.interim.is_empty() {
                            t.speech_final = true;
                        }
                    }
                }
                Incoming::Closed(why) => {
                    log::warn!(
                        "deepgram: {}",
                        cloud::redact(&why, Some(&self.config.api_key))
                    );
                    self.link = None;
                    let in_turn = self
                        .turn
                        .as_ref()
                        .is_some_and(|t| t.failed.is_none() && !t.audio.is_empty());
                    if in_turn {
                        self.recover(&why)?;
                        got = true;
                    }
                }
            }
        }
    }

    /// Take in one `Results` message; true when it belonged to the open utterance.
    fn absorb(&mut self, r: Transcript) -> bool {
        let Some(t) = self.turn.as_mut() else {
            return false;
        };
        if t.start_s > 0.0 && r.end() <= t.start_s + TIME_EPS {
            log::trace!("deepgram: dropping a late result of an earlier utterance");
            return false;
        }
        if r.is_final {
            t.final_end_s = t.final_end_s.max(r.end());
            t.interim.clear();
            t.from_finalize |= r.from_finalize;
            // An empty final after the endpoint (silence flushed) keeps the speech closed.
            if r.text.is_empty() {
                t.speech_final |= r.speech_final;
            } else {
                t.speech_final = r.speech_final;
                t.finals.push(r.text);
            }
        } else {
            if !r.text.is_empty() {
                t.speech_final = false;
            }
            t.interim = r.text;
        }
        true
    }

    /// Reopen the connection after a drop and send the utterance again, once per utterance.
    fn recover(&mut self, why: &str) -> Result<(), SttError> {
        self.link = None;
        let Some(turn) = self.turn.as_mut() else {
            return Ok(());
        };
        if turn.reconnected {
            let message = format!("the connection to Deepgram dropped again: {why}");
            turn.failed = Some(message.clone());
            return Err(self.error(message));
        }
        turn.reconnected = true;
        log::info!(
            "deepgram: reconnecting and resending {} ms of audio",
            turn.audio.len() as u64 * 1000 / u64::from(INPUT_RATE)
        );
        let mut link = match Link::open(&self.config) {
            Ok(l) => l,
            Err(e) => {
                turn.failed = Some(inner_message(&e));
                return Err(e);
            }
        };
        turn.start_s = 0.0;
        turn.clear_results();
        let mut ok = true;
        for piece in turn.audio.chunks(BULK_FRAME) {
            ok &= link.send_audio(piece);
        }
        self.link = Some(link);
        if !ok {
            let message = format!(
                "the connection to Deepgram dropped again: the new one closed while the audio was resent (first drop: {why})"
            );
            turn.failed = Some(message.clone());
            return Err(self.error(message));
        }
        Ok(())
    }

    /// The newest partial transcript, if it changed since the last one handed out.
    fn fresh_partial(&mut self) -> Option<String> {
        let t = self.turn.as_mut()?;
        let p = t.partial();
        if p.is_empty() || p == t.last_partial {
            return None;
        }
        t.last_partial = p.clone();
        Some(p)
    }

    /// `Finalize` and wait until the utterance's finals are in.
    fn finish_turn(&mut self) -> Result<String, SttError> {
        let started = Instant::now();
        let mut deadline = started + self.config.finalize_timeout;
        let mut finalize_sent: Option<Instant> = None;
        let mut finalized_on: Option<u64> = None;
        loop {
            let Some(t) = self.turn.as_ref() else {
                return Ok(String::new());
            };
            if let Some(why) = &t.failed {
                return Err(self.error(why.clone()));
            }
            if t.audio.is_empty() {
                return Ok(String::new());
            }
            // (Re)send Finalize on every new connection.
            let current = self.link.as_ref().map(|l| l.serial);
            if current.is_none() || current != finalized_on {
                let sent = self.link.as_ref().is_some_and(|l| l.send_control(FINALIZE));
                if !sent {
                    self.recover("the connection was gone")?;
                    deadline = Instant::now() + self.config.finalize_timeout;
                    continue;
                }
                finalized_on = current;
                finalize_sent = Some(Instant::now());
            }
            // Invariant: the turn checked at the top of the loop is still there (only `recover`
            // ran since, and it keeps the turn).
            let t = self.turn.as_ref().expect("the turn is still open");
            let sent_end = t.start_s + t.audio.len() as f64 / f64::from(INPUT_RATE);
            let covered = t.final_end_s + COVER_EPS >= sent_end;
            let endpoint_grace_over = t.speech_final
                && t.interim.is_empty()
                && finalize_sent.is_some_and(|at| at.elapsed() >= FINALIZE_GRACE);
            if t.from_finalize || covered || endpoint_grace_over {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                log::warn!(
                    "deepgram: no final result within {:?}; using the latest transcript",
                    self.config.finalize_timeout
                );
                break;
            }
            let reconnected_before = t.reconnected;
            let wait = (deadline - now).min(FINALIZE_GRACE / 5);
            self.pump(wait)?;
            if !reconnected_before && self.turn.as_ref().is_some_and(|t| t.reconnected) {
                deadline = Instant::now() + self.config.finalize_timeout;
            }
        }
        let text = self.turn.as_ref().map(Turn::partial).unwrap_or_default();
        log::debug!(
            "deepgram: final transcript {:.0} ms after Finalize",
            started.elapsed().as_secs_f64() * 1e3
        );
        Ok(text)
    }
}

impl Drop for DeepgramStt {
    fn drop(&mut self) {
        // The socket thread sends CloseStream and ends on its own; no waiting here.
        if let Some(link) = &self.link {
            let _ = link.tx.send(Outgoing::Close);
        }
    }
}

impl SpeechToText for DeepgramStt {
    fn name(&self) -> String {
        format!("deepgram {}", self.config.model)
    }

    fn transcribe(&mut self, audio: &[i16]) -> Result<String, SttError> {
        if audio.is_empty() && self.turn.is_none() {
            return Ok(String::new());
        }
        let result = self
            .sync(audio)
            .and_then(|()| self.pump(Duration::ZERO).map(|_| ()));
        if result.is_ok() && self.speech_ended() {
            // Deepgram's endpointing closed the utterance and every word of it is final: no
            // Finalize round trip to wait for (the turn may end on it before the local VAD).
            let text = self.turn.as_ref().map(Turn::partial).unwrap_or_default();
            // Finalize still flushes the silence Deepgram holds, so none of it joins the next
            // utterance's first result.
            self.drop_turn();
            return Ok(text);
        }
        let result = result.and_then(|()| self.finish_turn());
        self.turn = None;
        result
    }

    fn transcribe_partial(
        &mut self,
        audio: &[i16],
        _cancel: &CancelToken,
    ) -> Result<Option<String>, SttError> {
        self.sync(audio)?;
        self.pump(Duration::ZERO)?;
        Ok(self.fresh_partial())
    }

    fn is_streaming(&self) -> bool {
        true
    }

    fn stream_audio(&mut self, frame: &[i16]) -> Result<Option<String>, SttError> {
        if self.turn.is_none() {
            if let Err(e) = self.begin_turn() {
                // The failed turn keeps the frame, so `transcribe` reports this same failure.
                if let Some(t) = self.turn.as_mut() {
                    t.audio.extend_from_slice(frame);
                }
                return Err(e);
            }
        } else if self.turn.as_ref().is_some_and(|t| t.failed.is_some()) {
            // Already reported once; keep the audio so the stage's transcribe() call reports
            // the failure at the end of the turn.
            if let Some(t) = self.turn.as_mut() {
                t.audio.extend_from_slice(frame);
            }
            return Ok(None);
        }
        self.send(frame)?;
        self.pump(Duration::ZERO)?;
        Ok(self.fresh_partial())
    }

    fn discard_utterance(&mut self) {
        self.drop_turn();
    }

    fn speech_ended(&self) -> bool {
        self.turn
            .as_ref()
            .is_some_and(|t| t.speech_final && t.interim.is_empty() && !t.finals.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_url_carries_the_audio_format_and_options() {
        let c = DeepgramConfig::new("k").with_base_url("http://127.0.0.1:9/");
        assert_eq!(
            c.listen_url(),
            "ws://127.0.0.1:9/v1/listen?encoding=linear16&sample_rate=16000&channels=1&interim_results=true&endpointing=300&model=nova-3&smart_format=true"
        );
        let mut c = DeepgramConfig::new("k").with_base_url("wss://x.example/v1/listen");
        c.endpointing_ms = None;
        c.smart_format = false;
        c.language = Some("en US".into());
        assert_eq!(
            c.listen_url(),
            "wss://x.example/v1/listen?encoding=linear16&sample_rate=16000&channels=1&interim_results=true&endpointing=false&model=nova-3&language=en+US"
        );
    }

    #[test]
    fn config_from_env_needs_the_key_and_hides_it() {
        let err = DeepgramConfig::from_lookup(&|_: &str| None).unwrap_err();
        assert!(err.to_string().contains("set DEEPGRAM_API_KEY"), "{err}");
        let get = |name: &str| match name {
            "DEEPGRAM_API_KEY" => Some("dg-secret".to_string()),
            "DEEPGRAM_MODEL" => Some("nova-2".to_string()),
            "DEEPGRAM_ENDPOINTING_MS" => Some("false".to_string()),
            _ => None,
        };
        let c = DeepgramConfig::from_lookup(&get).unwrap();
        assert_eq!(c.model, "nova-2");
        assert_eq!(c.endpointing_ms, None);
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert!(!format!("{c:?}").contains("dg-secret"));
    }

    #[test]
    fn parses_results_and_utterance_end() {
        let m = r#"{"type":"Results","channel_index":[0,1],"duration":1.5,"start":0.25,
            "is_final":true,"speech_final":true,"from_finalize":false,
            "channel":{"alternatives":[{"transcript":" hello there ","confidence":0.9,"words":[]}]}}"#;
        match parse_message(m) {
            Some(Incoming::Results(r)) => {
                assert_eq!(r.text, "hello there");
                assert!(r.is_final && r.speech_final && !r.from_finalize);
                assert!((r.end() - 1.75).abs() < 1e-9);
            }
            other => panic!("unexpected {other:?}"),
        }
        match parse_message(r#"{"type":"UtteranceEnd","channel":[0,1],"last_word_end":2.1}"#) {
            Some(Incoming::UtteranceEnd { last_word_end }) => assert_eq!(last_word_end, 2.1),
            other => panic!("unexpected {other:?}"),
        }
        assert!(parse_message(r#"{"type":"Metadata","request_id":"x"}"#).is_none());
        assert!(parse_message("not json").is_none());
    }
}
