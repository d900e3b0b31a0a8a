//! One WebSocket session: providers from the factory, a pipeline over the socket, a reader thread
//! that answers the client, and a teardown that leaves no thread behind.
//!
//! ```text
//! reader thread:  client frames -> WsInput -> pipeline ... sink -> WsOutput --+
//!                 client `played` -> Playback (what the sink asks at a cut)   |
//!                 protocol errors, the client's close ---------------------+  |
//! session thread: the writer, in order  <----------------------------------+--+
//! ```
//!
//! The session thread writes until the reader ends (the client went away, or broke the rules
//! and was closed) or the sink ends first (a stage failed: the client is told why).

use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{bounded, select, Receiver, Sender, TrySendError};
use tungstenite::Message;

use super::protocol::{
    close, parse_client_message, ready_message, ClientMessage, FloodWindow, FrameAssembler,
    InputBudget, ProtocolError,
};
use super::shared::Shared;
use super::socket::{Reader, SocketError, ToClient, Writer, WriterEnd};
use super::telephony::{self, Line, PhoneMessage};
use crate::foundation::audio::mulaw::PHONE_RATE;
use crate::foundation::audio::mulaw::{PhoneIn, PhoneOut};
use crate::foundation::audio::{AudioInput, CallerInput, FRAME_MS};
use crate::orchestration::pipeline::{Event, Output, Pipeline, SessionOutput, SessionParts};

/// Audio a client may send ahead of real time (catching up after a hiccup).
const BURST_MS: u64 = 1_000;
/// Audio refused for running ahead of real time, within `FLOOD_WINDOW`, before the client is
/// cut off.
const FLOOD_LIMIT_MS: u64 = 10_000;
const FLOOD_WINDOW: std::time::Duration = std::time::Duration::from_secs(30);
/// Invalid messages tolerated before the client is cut off.
const MAX_BAD_MESSAGES: u32 = 100;
/// A new flood warning is sent only after this long without dropped frames.
const FLOOD_QUIET: std::time::Duration = std::time::Duration::from_secs(2);
/// How long the client has to answer our close, or finish sending after a protocol error.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
/// The longest a session's pipeline may take to wind down once the call is over; a stage still
/// stuck then (a provider that hangs) is left to finish on its own, and the slot is freed.
const TEARDOWN_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);
/// Caller frames waiting for the pipeline (1 s).
const INPUT_QUEUE_FRAMES: usize = 50;
/// Messages waiting for the writer (the sink only runs its lookahead ahead).
const OUTPUT_QUEUE: usize = 1_000;

/// What the client has played, from its `played` reports.
#[derive(Debug, Default)]
struct Playback {
    played: AtomicU64,
    reported: AtomicBool,
    written: AtomicU64,
}

impl Playback {
    /// A client report: samples played since the session began (kept monotonic).
    fn report(&self, samples: u64) {
        self.played.fetch_max(samples, Ordering::AcqRel);
        self.reported.store(true, Ordering::Release);
    }

    /// Played samples, never more than were sent; `None` until the client reports.
    fn played(&self) -> Option<u64> {
        if !self.reported.load(Ordering::Acquire) {
            return None;
        }
        Some(
            self.played
                .load(Ordering::Acquire)
                .min(self.written.load(Ordering::Acquire)),
        )
    }
}

/// Caller audio for the pipeline: frames from the reader thread. Ends when the reader stops, or
/// when the session closes it (the pipeline failed and the client is still connected).
struct WsInput {
    frames: Receiver<CallerInput>,
    closed: Receiver<()>,
}

impl AudioInput for WsInput {
    fn next_frame(&mut self) -> Option<Vec<i16>> {
        loop {
            if let CallerInput::Audio(pcm) = self.next_input()? {
                return Some(pcm);
            }
        }
    }

    fn next_input(&mut self) -> Option<CallerInput> {
        select! {
            recv(self.frames) -> f => f.ok(),
            recv(self.closed) -> _ => None,
        }
    }
}

/// The session's output, handed to the writer in the sink's order. Never blocks the sink: if
/// the writer is stuck, audio is dropped (the client is not reading; the session is ending).
struct WsOutput {
    tx: Sender<ToClient>,
    playback: Arc<Playback>,
    /// On a phone call: the output as the platform takes it.
    phone: Option<PhoneOutbound>,
}

impl WsOutput {
    fn put(&self, msg: ToClient) {
        match self.tx.try_send(msg) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => log::warn!("ws: output queue full, dropped an item"),
        }
    }
}

impl SessionOutput for WsOutput {
    fn send(&mut self, item: Output) {
        if let Output::Audio(pcm) = &item {
            self.playback
                .written
                .fetch_add(pcm.len() as u64, Ordering::AcqRel);
        }
        match self.phone.as_mut() {
            None => self.put(ToClient::Output(item)),
            Some(phone) => {
                for json in phone.translate(item) {
                    self.put(ToClient::Json(json));
                }
            }
        }
    }

    fn played_samples(&self) -> Option<u64> {
        self.playback.played()
    }
}

impl Drop for WsOutput {
    /// The sink has ended: tell the writer (it decides whether that was a failure).
    fn drop(&mut self) {
        let _ = self.tx.send(ToClient::SinkEnded);
    }
}

/// Agent output for a telephony platform: audio as μ-law media, a mark after each sentence's
/// audio (and at the end of a reply), `clear` on barge-in. The browser's events have no place
/// on a phone line and are left out.
struct PhoneOutbound {
    line: Arc<Line>,
    codec: PhoneOut,
    /// Agent audio sent that played or may still play (see `telephony::Marks`).
    sent: u64,
    last_mark: Option<u64>,
}

impl PhoneOutbound {
    fn new(line: Arc<Line>) -> Self {
        Self {
            line,
            codec: PhoneOut::default(),
            sent: 0,
            last_mark: None,
        }
    }

    fn translate(&mut self, item: Output) -> Vec<String> {
        // Before `start` there is no stream to address (nothing is said before the caller).
        let Some(sid) = self.line.stream_sid.get() else {
            return Vec::new();
        };
        match item {
            Output::Audio(pcm) => {
                self.sent += pcm.len() as u64;
                let mulaw = self.codec.push(&pcm);
                if mulaw.is_empty() {
                    Vec::new()
                } else {
                    vec![telephony::media(sid, &mulaw)]
                }
            }
            Output::Event(Event::AgentText { .. } | Event::AgentDone { .. }) => {
                if self.last_mark == Some(self.sent) {
                    return Vec::new();
                }
                self.last_mark = Some(self.sent);
                vec![telephony::mark(sid, &self.line.marks.name(self.sent))]
            }
            Output::Event(Event::Clear) => {
                self.codec.reset();
                self.sent = self.line.marks.cleared();
                self.last_mark = None;
                vec![telephony::clear(sid)]
            }
            Output::Event(_) => Vec::new(),
        }
    }
}

/// Caller input from a telephony platform.
struct PhoneInbound {
    line: Arc<Line>,
    codec: PhoneIn,
    /// Keys pressed and not yet handed on, and the caller audio (8 kHz samples) since the last.
    keys: String,
    since_key: usize,
}

/// A keyed entry ends with `#`, or after this long without a key (counted in the call's own
/// audio, not in wall-clock time).
const KEY_TIMEOUT_SAMPLES: usize = PHONE_RATE as usize * 3 / 2;

impl PhoneInbound {
    fn new(line: Arc<Line>) -> Self {
        Self {
            line,
            codec: PhoneIn::default(),
            keys: String::new(),
            since_key: 0,
        }
    }

    /// A key: the entry so far when it is complete.
    fn key(&mut self, key: char) -> Option<String> {
        self.since_key = 0;
        if key == '#' {
            return (!self.keys.is_empty()).then(|| std::mem::take(&mut self.keys));
        }
        self.keys.push(key);
        None
    }

    /// `samples` of caller audio went by: the entry so far when the caller stopped keying.
    fn heard(&mut self, samples: usize) -> Option<String> {
        self.since_key += samples;
        (!self.keys.is_empty() && self.since_key >= KEY_TIMEOUT_SAMPLES)
            .then(|| std::mem::take(&mut self.keys))
    }
}

/// What a session needs from its server.
pub struct SessionContext<'a> {
    pub id: u64,
    pub peer: String,
    pub shared: &'a Arc<Shared>,
    /// A phone call over the telephony media stream, not a browser.
    pub phone: bool,
}

fn error_json(stage: &str, message: &str) -> String {
    let e = Event::Error {
        stage: stage.to_string(),
        message: message.to_string(),
    };
    // Serialising a plain enum of strings cannot fail.
    serde_json::to_string(&e).unwrap_or_default()
}

/// Run a session on an accepted socket until either side ends it.
pub fn run(mut reader: Reader, write: TcpStream, ctx: SessionContext<'_>) {
    let started = Instant::now();
    let shared = ctx.shared;
    let (to_client, from_session) = bounded(OUTPUT_QUEUE);
    reader.reply_through(to_client.clone());
    let mut writer = Writer::new(write);
    writer.ping_every(shared.config.idle_timeout / 3);
    // The server's shutdown reaches this session through its writer.
    let _registered = shared.register(ctx.id, to_client.clone());
    if shared.stopping.load(Ordering::Acquire) {
        let _ = to_client.send(ToClient::Close(
            close::GOING_AWAY,
            "server shutting down".into(),
        ));
        finish_reader(reader, &to_client, &mut writer, &from_session);
        return;
    }
    let providers = match shared.factory.session() {
        Ok(p) => p,
        Err(e) => {
            log::error!("session {}: cannot start: {e}", ctx.id);
            let message = format!("cannot start a session: {e}");
            let _ = to_client.send(ToClient::Json(error_json("session", &message)));
            let _ = to_client.send(ToClient::Close(
                close::INTERNAL,
                "cannot start a session".into(),
            ));
            finish_reader(reader, &to_client, &mut writer, &from_session);
            return;
        }
    };
    // `ready` goes first: nothing of the pipeline's can overtake it. A phone platform has no
    // use for it.
    let line = ctx.phone.then(|| Arc::new(Line::default()));
    if line.is_none() {
        let _ = to_client.send(ToClient::Json(ready_message(ctx.id, &shared.providers)));
    }
    let playback = Arc::new(Playback::default());
    let (frames_tx, frames) = bounded(INPUT_QUEUE_FRAMES);
    let (close_input, closed) = bounded::<()>(0);
    let input = WsInput { frames, closed };
    let output = WsOutput {
        tx: to_client.clone(),
        playback: playback.clone(),
        phone: line.clone().map(PhoneOutbound::new),
    };
    let parts = SessionParts::new(providers, Box::new(input), Box::new(output));
    let pipeline = Pipeline::spawn(parts, shared.config.pipeline.clone());
    log::info!("session {} started for {}", ctx.id, ctx.peer);

    // The client streams from the moment the socket opens: audio it sent while the providers
    // were being made arrives at once, and is not a flood.
    let mut budget = InputBudget::new(BURST_MS, Instant::now());
    budget.grant(started.elapsed().as_millis() as u64);
    let inbound = Inbound {
        assembler: FrameAssembler::default(),
        budget,
        bad_messages: 0,
        flood: FloodWindow::new(FLOOD_WINDOW),
        warned_fast: None,
        warned_behind: None,
        frames: frames_tx,
        playback,
        replies: to_client.clone(),
        phone: line.map(PhoneInbound::new),
    };
    let reading = spawn_reader(reader, inbound, to_client.clone());
    drop(to_client);

    if let Some(limit) = shared.config.max_call {
        writer.end_call_at(started + limit);
    }
    let end = writer.run(&from_session);
    // The caller is gone, or the pipeline failed: end the input either way, and cut off
    // whatever the agent is still doing (a reply would otherwise play to nobody).
    drop(close_input);
    pipeline.hang_up();
    let outcome = pipeline.join_within(TEARDOWN_LIMIT);
    let why = match &end {
        WriterEnd::SinkEnded => {
            // Tell the client why (the failing stage's error event went out already).
            let reason = format!("the session failed ({})", outcome.failed_stages.join(", "));
            writer.close(close::INTERNAL, &reason);
            match writer.run(&from_session) {
                WriterEnd::ReaderEnded(_) | WriterEnd::Broken(_) | WriterEnd::SinkEnded => {}
            }
            "pipeline ended".to_string()
        }
        WriterEnd::ReaderEnded(why) => why.clone(),
        WriterEnd::Broken(why) => why.clone(),
    };
    let _ = reading.join();
    log::info!(
        "session {} ended after {:.1} s, {} turns ({why}){}{}",
        ctx.id,
        started.elapsed().as_secs_f64(),
        outcome.reports.len(),
        if outcome.failed_stages.is_empty() {
            String::new()
        } else {
            format!(", failed stages: {:?}", outcome.failed_stages)
        },
        if outcome.stuck_stages.is_empty() {
            String::new()
        } else {
            format!(", stuck stages left behind: {:?}", outcome.stuck_stages)
        }
    );
}

/// Refuse a caller whose upgrade was answered (no free slot): close with `code` and `reason`.
pub fn refuse(mut reader: Reader, write: TcpStream, code: u16, reason: &str) {
    let (to_client, from_session) = bounded(8);
    reader.reply_through(to_client.clone());
    let mut writer = Writer::new(write);
    let _ = to_client.send(ToClient::Close(code, reason.to_string()));
    finish_reader(reader, &to_client, &mut writer, &from_session);
}

/// A session that never started: its reader only waits for the client's answer to our close.
fn finish_reader(
    reader: Reader,
    to_client: &Sender<ToClient>,
    writer: &mut Writer,
    from_session: &Receiver<ToClient>,
) {
    let (frames, _) = bounded(0);
    let inbound = Inbound {
        assembler: FrameAssembler::default(),
        budget: InputBudget::new(0, Instant::now()),
        bad_messages: 0,
        flood: FloodWindow::new(FLOOD_WINDOW),
        warned_fast: None,
        warned_behind: None,
        frames,
        playback: Arc::default(),
        replies: to_client.clone(),
        phone: None,
    };
    let reading = spawn_reader(reader, inbound, to_client.clone());
    let _ = writer.run(from_session);
    let _ = reading.join();
}

fn spawn_reader(
    reader: Reader,
    inbound: Inbound,
    to_client: Sender<ToClient>,
) -> std::thread::JoinHandle<()> {
    let spawned = std::thread::Builder::new()
        .name("va-ws-read".into())
        .spawn(move || {
            let why = read_loop(reader, inbound, &to_client);
            let _ = to_client.send(ToClient::ReaderEnded { why });
        });
    // Out of threads: nothing sensible remains for this process.
    spawned.unwrap_or_else(|e| panic!("cannot spawn a WebSocket reader: {e}"))
}

/// Read the client until it goes away. Returns why it ended.
fn read_loop(mut reader: Reader, mut inbound: Inbound, to_client: &Sender<ToClient>) -> String {
    // Set once we asked the writer to close: the client's answer ends the loop.
    let mut closing = false;
    loop {
        let msg = match reader.recv() {
            Ok(Message::Close(_)) => {
                reader.answer_close(to_client);
                return if closing {
                    "closed".into()
                } else {
                    "closed by the client".into()
                };
            }
            Ok(m) => m,
            Err(SocketError::Idle(d)) if !closing => {
                let _ = to_client.send(ToClient::Close(
                    close::GOING_AWAY,
                    format!("nothing received for {} s", d.as_secs()),
                ));
                closing = true;
                reader.expect_close_within(CLOSE_WAIT);
                continue;
            }
            Err(SocketError::Protocol(code, reason)) => {
                log::info!("closing ({code}): {reason}");
                let _ = to_client.send(ToClient::Close(code, reason.clone()));
                reader.drain_raw(CLOSE_WAIT);
                return reason;
            }
            Err(e) => return e.to_string(),
        };
        if closing {
            continue; // what the client sent before it saw our close
        }
        if let Err((code, reason)) = inbound.handle(msg) {
            log::info!("closing ({code}): {reason}");
            let _ = to_client.send(ToClient::Close(code, reason));
            closing = true;
            reader.expect_close_within(CLOSE_WAIT);
        }
    }
}

/// The client-facing state of a session, on the reader thread.
struct Inbound {
    assembler: FrameAssembler,
    budget: InputBudget,
    bad_messages: u32,
    flood: FloodWindow,
    /// When the client was last told it sends too fast / that the server is behind.
    warned_fast: Option<Instant>,
    warned_behind: Option<Instant>,
    frames: Sender<CallerInput>,
    playback: Arc<Playback>,
    replies: Sender<ToClient>,
    phone: Option<PhoneInbound>,
}

impl Inbound {
    fn reply(&self, json: String) {
        // A writer that cannot keep up with error replies has a client that is not reading.
        let _ = self.replies.try_send(ToClient::Json(json));
    }

    /// Act on one client message; Err with the close code and reason when the client must go.
    fn handle(&mut self, msg: Message) -> Result<(), (u16, String)> {
        if self.phone.is_some() {
            return self.phone_message(msg);
        }
        let result = match msg {
            Message::Binary(bytes) => return self.audio(&bytes),
            Message::Text(text) => parse_client_message(text.as_str()).map(|m| match m {
                ClientMessage::Played { samples } => self.playback.report(samples),
                ClientMessage::Hello {
                    sample_rate,
                    client,
                } => log::debug!("hello from {client:?} at {sample_rate:?} Hz"),
            }),
            // Pings are answered by tungstenite; a close is seen on the next read.
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => Ok(()),
        };
        result.or_else(|e| self.refuse(e))
    }

    /// One message of the telephony media stream.
    fn phone_message(&mut self, msg: Message) -> Result<(), (u16, String)> {
        let parsed = match msg {
            Message::Text(text) => telephony::parse(text.as_str()),
            Message::Binary(_) => Err(ProtocolError::Phone(
                "audio comes in media events, not binary frames".into(),
            )),
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => {
                return Ok(());
            }
        };
        let Some(phone) = self.phone.as_mut() else {
            return Ok(());
        };
        match parsed {
            Ok(PhoneMessage::Connected) => Ok(()),
            Ok(PhoneMessage::Start {
                stream_sid,
                call_sid,
            }) => {
                log::info!("phone call {call_sid} on stream {stream_sid}");
                if phone.line.stream_sid.set(stream_sid).is_err() {
                    log::debug!("a second start on the same stream: kept the first");
                }
                Ok(())
            }
            Ok(PhoneMessage::Media(mulaw)) => {
                let entry = phone.heard(mulaw.len());
                let pcm = phone.codec.push(&mulaw);
                if let Some(keys) = entry {
                    self.keys(keys);
                }
                if pcm.is_empty() {
                    return Ok(());
                }
                let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
                self.audio(&bytes)
            }
            Ok(PhoneMessage::Mark(name)) => {
                if let Some(samples) = phone.line.marks.echoed(&name) {
                    self.playback.report(samples);
                }
                Ok(())
            }
            Ok(PhoneMessage::Dtmf(key)) => {
                if let Some(keys) = phone.key(key) {
                    self.keys(keys);
                }
                Ok(())
            }
            Ok(PhoneMessage::Stop) => Err((close::NORMAL, "the call has ended".into())),
            Ok(PhoneMessage::Unsupported(why)) => {
                log::warn!("phone stream: {why}");
                Err((close::UNSUPPORTED, why))
            }
            Err(e) => self.refuse(e),
        }
    }

    /// A keyed entry, for the pipeline in its place among the audio frames.
    fn keys(&self, keys: String) {
        // Keys are rare and small: wait for room rather than lose an entry.
        if self.frames.send(CallerInput::Keys(keys)).is_err() {
            log::debug!("keys after the pipeline ended");
        }
    }

    fn refuse(&mut self, e: ProtocolError) -> Result<(), (u16, String)> {
        self.bad_messages += 1;
        if self.bad_messages > MAX_BAD_MESSAGES {
            return Err((
                close::POLICY,
                format!("more than {MAX_BAD_MESSAGES} invalid messages"),
            ));
        }
        log::debug!("protocol error: {e}");
        // A platform takes only its own events: on a phone line the error stays in the log.
        if self.phone.is_none() {
            self.reply(error_json("protocol", &e.to_string()));
        } else {
            log::warn!("phone stream: {e}");
        }
        Ok(())
    }

    fn audio(&mut self, bytes: &[u8]) -> Result<(), (u16, String)> {
        let frames = match self.assembler.push(bytes) {
            Ok(f) => f,
            Err(e) => return self.refuse(e),
        };
        let now = Instant::now();
        let (mut too_fast, mut behind) = (0, 0);
        for frame in frames {
            if !self.budget.take_frame(now) {
                too_fast += 1;
                continue;
            }
            match self.frames.try_send(CallerInput::Audio(frame)) {
                // The pipeline is ending; the session notices on its own.
                Ok(()) | Err(TrySendError::Disconnected(_)) => {}
                Err(TrySendError::Full(_)) => behind += 1,
            }
        }
        if behind > 0
            && self
                .warned_behind
                .is_none_or(|t| now.duration_since(t) > FLOOD_QUIET)
        {
            // Our fault, not the client's: never counted as flooding.
            self.warned_behind = Some(now);
            log::warn!("session input queue full: the pipeline is behind");
            self.reply(error_json(
                "server",
                "the server is behind: some of your audio was dropped",
            ));
        }
        if too_fast == 0 {
            return Ok(());
        }
        if self.flood.record(now, too_fast * FRAME_MS) > FLOOD_LIMIT_MS {
            return Err((
                close::POLICY,
                format!(
                    "audio sent faster than real time (over {} s dropped within {} s)",
                    FLOOD_LIMIT_MS / 1000,
                    FLOOD_WINDOW.as_secs()
                ),
            ));
        }
        if self
            .warned_fast
            .is_none_or(|t| now.duration_since(t) > FLOOD_QUIET)
        {
            self.warned_fast = Some(now);
            self.reply(error_json(
                "protocol",
                "audio arrives faster than real time: frames dropped (send one 20 ms frame every 20 ms)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inbound(
        burst_ms: u64,
        queue: usize,
    ) -> (Inbound, Receiver<CallerInput>, Receiver<ToClient>) {
        let (frames, frames_rx) = bounded(queue);
        let (replies, replies_rx) = bounded(64);
        let inbound = Inbound {
            assembler: FrameAssembler::default(),
            budget: InputBudget::new(burst_ms, Instant::now()),
            bad_messages: 0,
            flood: FloodWindow::new(FLOOD_WINDOW),
            warned_fast: None,
            warned_behind: None,
            frames,
            playback: Arc::default(),
            replies,
            phone: None,
        };
        (inbound, frames_rx, replies_rx)
    }

    fn error_stages(rx: &Receiver<ToClient>) -> Vec<String> {
        rx.try_iter()
            .filter_map(|m| match m {
                ToClient::Json(s) => serde_json::from_str::<serde_json::Value>(&s)
                    .ok()
                    .map(|v| v["stage"].as_str().unwrap_or("").to_string()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_server_that_falls_behind_says_so_and_never_calls_it_flooding() {
        // Plenty of budget, but the pipeline takes one frame and then no more.
        let (mut inb, _frames, replies) = inbound(60_000, 1);
        for _ in 0..2_000 {
            assert!(inb.audio(&[0u8; 640]).is_ok(), "not the client's fault");
        }
        assert_eq!(
            error_stages(&replies),
            ["server"],
            "one warning, from the server"
        );
    }

    #[test]
    fn a_client_ahead_of_real_time_is_warned_then_cut_off() {
        let (mut inb, _frames, replies) = inbound(0, 10_000);
        let mut closed = None;
        for _ in 0..1_000 {
            if let Err(e) = inb.audio(&[0u8; 640]) {
                closed = Some(e);
                break;
            }
        }
        let (code, reason) = closed.expect("cut off after 10 s of audio refused");
        assert_eq!(code, close::POLICY);
        assert!(reason.contains("faster than real time"), "{reason}");
        assert_eq!(error_stages(&replies), ["protocol"]);
    }

    #[test]
    fn played_reports_are_monotonic_and_never_exceed_what_was_sent() {
        let p = Playback::default();
        assert_eq!(p.played(), None, "no report yet: the sink estimates");
        p.written.store(1_000, Ordering::Release);
        p.report(600);
        p.report(400);
        assert_eq!(p.played(), Some(600));
        p.report(5_000);
        assert_eq!(p.played(), Some(1_000));
    }

    #[test]
    fn keys_make_an_entry_at_hash_or_after_a_pause_in_the_calls_audio() {
        let mut p = PhoneInbound::new(Arc::default());
        assert_eq!(p.key('1'), None);
        assert_eq!(p.key('9'), None);
        assert_eq!(p.key('#'), Some("19".into()));
        assert_eq!(p.key('#'), None, "an empty entry is nothing");
        assert_eq!(p.key('7'), None);
        assert_eq!(p.heard(8_000), None, "one second: the caller may key on");
        assert_eq!(p.heard(4_000), Some("7".into()));
        assert_eq!(p.heard(100_000), None);
    }

    #[test]
    fn the_input_ends_when_the_session_closes_it() {
        let (tx, frames) = bounded(4);
        let (close_input, closed) = bounded::<()>(0);
        let mut input = WsInput { frames, closed };
        tx.send(CallerInput::Audio(vec![1; 320])).unwrap();
        tx.send(CallerInput::Keys("12".into())).unwrap();
        tx.send(CallerInput::Audio(vec![2; 320])).unwrap();
        assert_eq!(input.next_frame().map(|f| f.len()), Some(320));
        assert_eq!(input.next_input(), Some(CallerInput::Keys("12".into())));
        assert_eq!(input.next_frame().map(|f| f[0]), Some(2));
        drop(close_input);
        assert_eq!(
            input.next_frame(),
            None,
            "closed while the reader still holds its sender"
        );
    }

    #[test]
    fn the_output_keeps_the_sinks_order_and_reports_its_end() {
        let (tx, rx) = bounded(8);
        let mut out = WsOutput {
            tx,
            playback: Arc::default(),
            phone: None,
        };
        out.send(Output::Event(Event::Clear));
        out.send(Output::Audio(vec![0; 480]));
        drop(out);
        let got: Vec<ToClient> = rx.try_iter().collect();
        assert!(matches!(
            got[0],
            ToClient::Output(Output::Event(Event::Clear))
        ));
        assert!(matches!(&got[1], ToClient::Output(Output::Audio(a)) if a.len() == 480));
        assert!(matches!(got[2], ToClient::SinkEnded));
    }
}
