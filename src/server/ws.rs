//! The session's transport over one WebSocket: the pipeline's [`AudioInput`] and [`AudioOutput`]
//! on one side, the socket thread's [`Outbox`] and [`Socket`] on the other.
//!
//! One thread owns the socket and does all its reading and writing (tungstenite's `WebSocket`
//! cannot be split). It waits on the socket with a short read timeout and, between reads,
//! drains what the pipeline produced: events (JSON) and agent audio (binary), merged back into
//! the order the pipeline made them in, so `agent_text` comes before its audio, `agent_done` and
//! `metrics` after it, and `clear` after the last slice of the reply it cuts.

use std::collections::VecDeque;
use std::io;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender, TryRecvError, TrySendError};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};

use crate::audio::{AudioInput, AudioOutput};
use crate::pipeline::Event;

/// How long the socket thread waits for client data before looking at the pipeline's output:
/// the extra delay agent audio and events can see on a quiet connection.
pub const POLL_INTERVAL: Duration = Duration::from_millis(5);
/// A client that does not take our data for this long is gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// WebSocket-level ceiling; the protocol's own limits are far below it.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Caller frames waiting for the pipeline (1 s).
const INPUT_QUEUE_FRAMES: usize = 50;
/// Agent audio slices waiting for the socket (the sink only runs its lookahead ahead).
const OUTPUT_QUEUE: usize = 1_000;

/// Caller audio for the pipeline: frames from the socket thread; ends when the socket closes.
pub struct WsInput {
    rx: Receiver<Vec<i16>>,
}

impl AudioInput for WsInput {
    fn next_frame(&mut self) -> Option<Vec<i16>> {
        self.rx.recv().ok()
    }
}

/// What the client has played, from its `played` reports.
#[derive(Debug, Default)]
pub struct Playback {
    played: AtomicU64,
    reported: AtomicBool,
    written: AtomicU64,
}

impl Playback {
    /// A client report: samples played since the session began (kept monotonic).
    pub fn report(&self, samples: u64) {
        self.played.fetch_max(samples, Ordering::AcqRel);
        self.reported.store(true, Ordering::Release);
    }

    /// Played samples, never more than were sent; `None` until the client reports.
    pub fn played(&self) -> Option<u64> {
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

/// The pipeline's event channel with a count of what the socket thread took from it, so audio
/// can be stamped with the number of events made before it.
struct EventOrder {
    rx: Receiver<Event>,
    /// Events taken so far. Locked while taking, and while the sink stamps audio, so that
    /// `taken + rx.len()` never counts an event that is not in the channel yet.
    taken: Mutex<u64>,
}

impl EventOrder {
    fn lock(&self) -> std::sync::MutexGuard<'_, u64> {
        // Only counters are behind the lock; a panic elsewhere leaves them usable.
        self.taken.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Events made so far (taken or waiting).
    fn made(&self) -> u64 {
        let taken = self.lock();
        *taken + self.rx.len() as u64
    }

    /// Take every waiting event, each with its 1-based position in the stream.
    fn take(&self) -> (Vec<(u64, Event)>, bool) {
        let mut taken = self.lock();
        let mut out = Vec::new();
        loop {
            match self.rx.try_recv() {
                Ok(e) => {
                    *taken += 1;
                    out.push((*taken, e));
                }
                Err(TryRecvError::Empty) => return (out, false),
                Err(TryRecvError::Disconnected) => return (out, true),
            }
        }
    }
}

/// Output of the sink, stamped with the number of events made before it.
enum Outgoing {
    Audio { pcm: Vec<i16>, after: u64 },
    Clear { after: u64 },
}

impl Outgoing {
    fn after(&self) -> u64 {
        match self {
            Self::Audio { after, .. } | Self::Clear { after } => *after,
        }
    }
}

/// Agent audio to the client. Never blocks the sink: if the socket thread is gone or stuck,
/// audio is dropped (the session is ending anyway).
pub struct WsOutput {
    tx: Sender<Outgoing>,
    order: Arc<EventOrder>,
    playback: Arc<Playback>,
}

impl WsOutput {
    fn send(&self, o: Outgoing) {
        match self.tx.try_send(o) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => log::warn!("ws: output queue full, agent audio dropped"),
        }
    }
}

impl AudioOutput for WsOutput {
    fn write(&mut self, pcm: &[i16]) {
        self.playback
            .written
            .fetch_add(pcm.len() as u64, Ordering::AcqRel);
        let after = self.order.made();
        self.send(Outgoing::Audio {
            pcm: pcm.to_vec(),
            after,
        });
    }

    fn clear(&mut self) {
        let after = self.order.made();
        self.send(Outgoing::Clear { after });
    }

    fn played_samples(&self) -> Option<u64> {
        self.playback.played()
    }
}

/// A message for the client.
#[derive(Debug, PartialEq)]
pub enum Wire {
    Json(String),
    Audio(Vec<u8>),
}

/// The socket thread's side of the transport.
pub struct Outbox {
    frames: Option<Sender<Vec<i16>>>,
    out_rx: Receiver<Outgoing>,
    order: Arc<EventOrder>,
    pub playback: Arc<Playback>,
    sink_gone: bool,
}

/// Why a caller frame did not reach the pipeline.
#[derive(Debug, PartialEq, Eq)]
pub enum PushError {
    /// The pipeline is behind by a second of audio.
    Full,
    /// The pipeline has ended.
    Closed,
}

/// The transport of one session: hand the input and output to the pipeline, keep the outbox.
pub fn transport(events: Receiver<Event>) -> (WsInput, WsOutput, Outbox) {
    let (frames_tx, frames_rx) = bounded(INPUT_QUEUE_FRAMES);
    let (out_tx, out_rx) = bounded(OUTPUT_QUEUE);
    let order = Arc::new(EventOrder {
        rx: events,
        taken: Mutex::new(0),
    });
    let playback = Arc::new(Playback::default());
    (
        WsInput { rx: frames_rx },
        WsOutput {
            tx: out_tx,
            order: order.clone(),
            playback: playback.clone(),
        },
        Outbox {
            frames: Some(frames_tx),
            out_rx,
            order,
            playback,
            sink_gone: false,
        },
    )
}

impl Outbox {
    /// Queue a caller frame for the pipeline.
    pub fn push_frame(&self, pcm: Vec<i16>) -> Result<(), PushError> {
        let Some(tx) = &self.frames else {
            return Err(PushError::Closed);
        };
        tx.try_send(pcm).map_err(|e| match e {
            TrySendError::Full(_) => PushError::Full,
            TrySendError::Disconnected(_) => PushError::Closed,
        })
    }

    /// End the caller's audio: the pipeline's source sees the end of its input.
    pub fn close_input(&mut self) {
        self.frames = None;
    }

    /// True once the sink has ended (the whole pipeline is winding down).
    pub fn sink_gone(&self) -> bool {
        self.sink_gone
    }

    /// Everything ready for the client, in the order the pipeline made it. Audio is taken
    /// first: every event stamped before it is then already in the event channel.
    pub fn drain(&mut self) -> Vec<Wire> {
        let mut outgoing: VecDeque<Outgoing> = VecDeque::new();
        loop {
            match self.out_rx.try_recv() {
                Ok(o) => {
                    if matches!(o, Outgoing::Clear { .. }) {
                        // Audio cut before it left: the client never needs it.
                        outgoing.retain(|x| !matches!(x, Outgoing::Audio { .. }));
                    }
                    outgoing.push_back(o);
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.sink_gone = true;
                    break;
                }
            }
        }
        let (events, _) = self.order.take();
        let mut events = events.into_iter().peekable();
        let mut out = Vec::new();
        let push_event = |out: &mut Vec<Wire>, e: Event| {
            // The VAD's clear is dropped: the sink's (below) is the one ordered after the audio,
            // and it is sent only when audio actually went out.
            if e != Event::Clear {
                match serde_json::to_string(&e) {
                    Ok(s) => out.push(Wire::Json(s)),
                    Err(err) => log::error!("ws: cannot serialise {e:?}: {err}"),
                }
            }
        };
        for o in outgoing {
            while let Some((_, e)) = events.next_if(|(i, _)| *i <= o.after()) {
                push_event(&mut out, e);
            }
            out.push(match o {
                Outgoing::Audio { pcm, .. } => {
                    Wire::Audio(pcm.iter().flat_map(|s| s.to_le_bytes()).collect())
                }
                Outgoing::Clear { .. } => Wire::Json(r#"{"type":"clear"}"#.to_string()),
            });
        }
        for (_, e) in events {
            push_event(&mut out, e);
        }
        out
    }
}

/// Why the socket stopped.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The client closed the connection (cleanly or not).
    #[error("connection closed")]
    Closed,
    /// The client broke the WebSocket protocol; close with this code and reason.
    #[error("{1}")]
    Protocol(u16, String),
    #[error("socket: {0}")]
    Io(#[from] io::Error),
}

/// The server end of one WebSocket, polled with a short read timeout.
pub struct Socket {
    ws: WebSocket<TcpStream>,
}

impl Socket {
    /// Wrap a stream whose upgrade was answered; `leftover` is what was read past the request.
    pub fn new(stream: TcpStream, leftover: Vec<u8>) -> io::Result<Self> {
        stream.set_read_timeout(Some(POLL_INTERVAL))?;
        stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
        stream.set_nodelay(true)?;
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE_BYTES))
            .max_frame_size(Some(MAX_MESSAGE_BYTES))
            .max_write_buffer_size(4 * 1024 * 1024);
        Ok(Self {
            ws: WebSocket::from_partially_read(stream, leftover, Role::Server, Some(config)),
        })
    }

    /// The next message, or `None` when nothing arrived within the poll interval.
    pub fn recv(&mut self) -> Result<Option<Message>, SocketError> {
        use tungstenite::error::{CapacityError, Error};
        match self.ws.read() {
            Ok(m) => Ok(Some(m)),
            Err(Error::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(Error::ConnectionClosed | Error::AlreadyClosed) => Err(SocketError::Closed),
            Err(Error::Io(e)) => Err(SocketError::Io(e)),
            Err(Error::Capacity(CapacityError::MessageTooLong { size, max_size })) => {
                Err(SocketError::Protocol(
                    super::protocol::close::TOO_BIG,
                    format!("message of {size} bytes exceeds {max_size}"),
                ))
            }
            Err(Error::Utf8(_)) => Err(SocketError::Protocol(
                super::protocol::close::INVALID_DATA,
                "text message is not valid UTF-8".into(),
            )),
            Err(e) => Err(SocketError::Protocol(
                super::protocol::close::POLICY,
                format!("WebSocket protocol error: {e}"),
            )),
        }
    }

    /// Queue a message (sent on `flush`).
    pub fn send(&mut self, wire: Wire) -> Result<(), SocketError> {
        let msg = match wire {
            Wire::Json(s) => Message::text(s),
            Wire::Audio(b) => Message::binary(b),
        };
        self.ws.write(msg).map_err(write_error)
    }

    pub fn flush(&mut self) -> Result<(), SocketError> {
        self.ws.flush().map_err(write_error)
    }

    /// Start the closing handshake and give the client a moment to answer it, discarding what
    /// it still sends: closing a socket with unread input resets the connection, and the reset
    /// could destroy our close frame before the client reads it. Errors are ignored: the
    /// connection is going away either way.
    pub fn close(&mut self, code: u16, reason: &str) {
        use std::io::Read;
        use tungstenite::error::Error;
        let frame = CloseFrame {
            code: CloseCode::from(code),
            // Control frames carry at most 125 bytes, 2 of them the code.
            reason: truncate(reason, 123).into(),
        };
        if self.ws.close(Some(frame)).is_err() {
            return;
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while std::time::Instant::now() < deadline {
            match self.ws.read() {
                Ok(_) => {}
                Err(Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(Error::ConnectionClosed | Error::AlreadyClosed) => return,
                // The stream is past parsing (e.g. after an oversized frame): drain it raw.
                Err(_) => break,
            }
        }
        let stream = self.ws.get_mut();
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut buf = [0u8; 8192];
        while std::time::Instant::now() < deadline {
            match stream.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return,
            }
        }
    }
}

fn write_error(e: tungstenite::Error) -> SocketError {
    use tungstenite::error::Error;
    match e {
        // With a write timeout, a blocked write comes back as WouldBlock: the client stopped reading.
        Error::Io(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            SocketError::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                "client is not reading",
            ))
        }
        Error::Io(e) => SocketError::Io(e),
        Error::ConnectionClosed | Error::AlreadyClosed | Error::Protocol(_) => SocketError::Closed,
        other => SocketError::Io(io::Error::other(other.to_string())),
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{AgentState, Events};

    fn json(w: &Wire) -> serde_json::Value {
        match w {
            Wire::Json(s) => serde_json::from_str(s).unwrap(),
            Wire::Audio(b) => serde_json::json!({"audio_bytes": b.len()}),
        }
    }

    #[test]
    fn audio_and_events_leave_in_the_order_they_were_made() {
        let (events, rx) = Events::channel(64);
        let (_input, mut output, mut outbox) = transport(rx);
        events.emit(Event::AgentSpeaking { turn: 1 });
        events.emit(Event::AgentText {
            turn: 1,
            text: "Hello.".into(),
        });
        output.write(&[1, -1, 2]);
        output.write(&[3; 10]);
        events.emit(Event::AgentDone {
            turn: 1,
            interrupted: false,
        });
        let kinds: Vec<serde_json::Value> = outbox.drain().iter().map(json).collect();
        let names: Vec<String> = kinds
            .iter()
            .map(|v| {
                v["type"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| format!("audio{}", v["audio_bytes"]))
            })
            .collect();
        assert_eq!(
            names,
            [
                "agent_speaking",
                "agent_text",
                "audio6",
                "audio20",
                "agent_done"
            ]
        );
        // PCM16LE on the wire.
        output.write(&[-2]);
        assert_eq!(outbox.drain(), vec![Wire::Audio(vec![0xfe, 0xff])]);
    }

    #[test]
    fn a_clear_drops_unsent_audio_and_the_vad_clear_is_not_forwarded_twice() {
        let (events, rx) = Events::channel(64);
        let (_input, mut output, mut outbox) = transport(rx);
        output.write(&[5; 480]);
        assert!(matches!(outbox.drain()[..], [Wire::Audio(_)]));
        output.write(&[5; 480]);
        events.emit(Event::Clear);
        events.emit(Event::State {
            state: AgentState::Listening,
        });
        output.clear();
        let out = outbox.drain();
        let clears = out
            .iter()
            .filter(|w| matches!(w, Wire::Json(s) if s.contains("\"clear\"")))
            .count();
        assert_eq!(clears, 1);
        assert!(!out.iter().any(|w| matches!(w, Wire::Audio(_))), "{out:?}");
        assert!(out
            .iter()
            .any(|w| matches!(w, Wire::Json(s) if s.contains("listening"))));
    }

    #[test]
    fn played_reports_are_monotonic_and_capped_by_what_was_sent() {
        let (_events, rx) = Events::channel(4);
        let (_input, mut output, outbox) = transport(rx);
        assert_eq!(output.played_samples(), None);
        output.write(&[0; 480]);
        outbox.playback.report(100);
        assert_eq!(output.played_samples(), Some(100));
        outbox.playback.report(50);
        assert_eq!(output.played_samples(), Some(100));
        outbox.playback.report(1_000_000);
        assert_eq!(output.played_samples(), Some(480));
    }

    #[test]
    fn the_input_is_bounded_and_ends_when_closed() {
        let (_events, rx) = Events::channel(4);
        let (mut input, _output, mut outbox) = transport(rx);
        for _ in 0..INPUT_QUEUE_FRAMES {
            outbox.push_frame(vec![0; 320]).unwrap();
        }
        assert_eq!(outbox.push_frame(vec![0; 320]), Err(PushError::Full));
        assert_eq!(input.next_frame().map(|f| f.len()), Some(320));
        outbox.close_input();
        assert_eq!(outbox.push_frame(vec![0; 320]), Err(PushError::Closed));
        let mut n = 0;
        while input.next_frame().is_some() {
            n += 1;
        }
        assert_eq!(n, INPUT_QUEUE_FRAMES - 1);
    }

    #[test]
    fn the_sink_ending_is_noticed() {
        let (_events, rx) = Events::channel(4);
        let (_input, output, mut outbox) = transport(rx);
        outbox.drain();
        assert!(!outbox.sink_gone());
        drop(output);
        outbox.drain();
        assert!(outbox.sink_gone());
    }
}
