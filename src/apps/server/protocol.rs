//! The client half of the wire protocol: the JSON messages a client may send, the checks on its
//! binary audio frames, and the budget that stops a client from sending faster than real time.
//! Everything here is pure (no sockets), so it is tested on its own.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::foundation::audio::OUTPUT_RATE;
use crate::foundation::audio::{FRAME_MS, FRAME_SAMPLES, INPUT_RATE};

/// One 20 ms capture frame on the wire: 320 samples of PCM16LE.
pub const FRAME_BYTES: usize = FRAME_SAMPLES * 2;
/// The largest binary message accepted (200 ms); larger ones are answered and dropped.
pub const MAX_AUDIO_MESSAGE_BYTES: usize = FRAME_BYTES * 10;
/// The largest JSON text message accepted.
pub const MAX_TEXT_BYTES: usize = 4_096;

/// WebSocket close codes the server uses (RFC 6455 section 7.4).
pub mod close {
    /// The call is over (a phone platform's `stop`).
    pub const NORMAL: u16 = 1000;
    /// The server is going away (shutdown).
    pub const GOING_AWAY: u16 = 1001;
    /// A phone stream in a media format this server does not speak.
    pub const UNSUPPORTED: u16 = 1003;
    /// A text message was not valid UTF-8.
    pub const INVALID_DATA: u16 = 1007;
    /// The client broke a rule of the protocol again and again (flooding, garbage).
    pub const POLICY: u16 = 1008;
    /// A message was larger than the WebSocket layer accepts.
    pub const TOO_BIG: u16 = 1009;
    /// The session failed on the server.
    pub const INTERNAL: u16 = 1011;
    /// Every session slot is taken: try again later.
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

/// A message from the client.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientMessage {
    /// Optional greeting; states the client's capture format so a mismatch is caught early.
    Hello {
        sample_rate: Option<u32>,
        client: Option<String>,
    },
    /// Agent audio the client has played so far: 24 kHz samples since the session began,
    /// not counting audio dropped on `clear`.
    Played { samples: u64 },
}

/// Why a client message or frame was refused. The text is sent back in an `error` message.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ProtocolError {
    #[error("text frames must be JSON messages (send audio as binary frames): {0}")]
    NotJson(String),
    #[error("a message must be a JSON object with a string \"type\"")]
    NoType,
    #[error("unknown message type {0:?} (expected \"hello\" or \"played\")")]
    UnknownType(String),
    #[error("invalid {kind} message: {reason}")]
    Invalid { kind: &'static str, reason: String },
    #[error("text message of {0} bytes is too long (max {MAX_TEXT_BYTES})")]
    TextTooLong(usize),
    #[error("unsupported sample rate {0} Hz: send 16000 Hz mono PCM16LE")]
    SampleRate(u32),
    #[error("odd-length binary frame ({0} bytes): audio must be 16-bit PCM")]
    OddLength(usize),
    #[error(
        "binary frame of {0} bytes is too large (max {MAX_AUDIO_MESSAGE_BYTES}; send 20 ms frames of {FRAME_BYTES} bytes)"
    )]
    FrameTooLarge(usize),
    #[error("empty binary frame")]
    EmptyFrame,
    #[error("media stream: {0}")]
    Phone(String),
}

fn invalid(kind: &'static str, reason: impl Into<String>) -> ProtocolError {
    ProtocolError::Invalid {
        kind,
        reason: reason.into(),
    }
}

/// Parse one JSON text message from the client.
pub fn parse_client_message(text: &str) -> Result<ClientMessage, ProtocolError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(ProtocolError::TextTooLong(text.len()));
    }
    let value: Value =
        serde_json::from_str(text).map_err(|e| ProtocolError::NotJson(e.to_string()))?;
    let obj = value.as_object().ok_or(ProtocolError::NoType)?;
    let kind = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or(ProtocolError::NoType)?;
    match kind {
        "hello" => {
            let sample_rate = match obj.get("sample_rate") {
                None | Some(Value::Null) => None,
                Some(v) => {
                    let rate = v
                        .as_u64()
                        .and_then(|r| u32::try_from(r).ok())
                        .ok_or_else(|| {
                            invalid("hello", "sample_rate must be a positive integer")
                        })?;
                    if rate != INPUT_RATE {
                        return Err(ProtocolError::SampleRate(rate));
                    }
                    Some(rate)
                }
            };
            let client = match obj.get("client") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.chars().take(100).collect()),
                Some(_) => return Err(invalid("hello", "client must be a string")),
            };
            Ok(ClientMessage::Hello {
                sample_rate,
                client,
            })
        }
        "played" => {
            let samples = if let Some(v) = obj.get("samples") {
                v.as_u64()
                    .ok_or_else(|| invalid("played", "samples must be a non-negative integer"))?
            } else if let Some(v) = obj.get("ms") {
                let ms = v
                    .as_f64()
                    .filter(|ms| ms.is_finite() && *ms >= 0.0)
                    .ok_or_else(|| invalid("played", "ms must be a non-negative number"))?;
                (ms * OUTPUT_RATE as f64 / 1000.0).round() as u64
            } else {
                return Err(invalid("played", "needs \"samples\" (at 24 kHz) or \"ms\""));
            };
            Ok(ClientMessage::Played { samples })
        }
        other => Err(ProtocolError::UnknownType(other.chars().take(40).collect())),
    }
}

/// Turns binary messages of any valid size into the pipeline's 20 ms frames.
#[derive(Debug, Default)]
pub struct FrameAssembler {
    pending: Vec<i16>,
}

impl FrameAssembler {
    /// Check one binary message and return the whole frames it completes. A refused message
    /// leaves the assembler as it was.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Vec<i16>>, ProtocolError> {
        if bytes.is_empty() {
            return Err(ProtocolError::EmptyFrame);
        }
        if bytes.len() > MAX_AUDIO_MESSAGE_BYTES {
            return Err(ProtocolError::FrameTooLarge(bytes.len()));
        }
        if !bytes.len().is_multiple_of(2) {
            return Err(ProtocolError::OddLength(bytes.len()));
        }
        self.pending.extend(
            bytes
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]])),
        );
        let whole = self.pending.len() / FRAME_SAMPLES * FRAME_SAMPLES;
        let frames = self.pending[..whole]
            .chunks_exact(FRAME_SAMPLES)
            .map(<[i16]>::to_vec)
            .collect();
        self.pending.drain(..whole);
        Ok(frames)
    }
}

/// A token bucket in milliseconds of audio: it refills at real-time pace and holds at most
/// `burst_ms`, so a client may catch up after a hiccup but never stream faster than real time.
#[derive(Debug)]
pub struct InputBudget {
    tokens_ms: f64,
    burst_ms: f64,
    last: Instant,
    /// Audio refused so far, in ms.
    pub dropped_ms: u64,
}

impl InputBudget {
    pub fn new(burst_ms: u64, now: Instant) -> Self {
        Self {
            tokens_ms: burst_ms as f64,
            burst_ms: burst_ms as f64,
            last: now,
            dropped_ms: 0,
        }
    }

    /// A one-off allowance beyond the burst, e.g. for audio the client sent while the session
    /// was being set up.
    pub fn grant(&mut self, ms: u64) {
        self.tokens_ms += ms as f64;
    }

    /// Spend one frame's worth of audio; false when the client is ahead of real time.
    pub fn take_frame(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64() * 1000.0;
        self.last = self.last.max(now);
        // Refilling stops at the burst; a grant above it is spent down first.
        if self.tokens_ms < self.burst_ms {
            self.tokens_ms = (self.tokens_ms + elapsed).min(self.burst_ms);
        }
        if self.tokens_ms >= FRAME_MS as f64 {
            self.tokens_ms -= FRAME_MS as f64;
            true
        } else {
            self.dropped_ms += FRAME_MS;
            false
        }
    }
}

/// Audio refused for running ahead of real time, over the last `window`: a client that keeps
/// doing it is flooding; one that did it now and then over a long call (network jitter) is not.
#[derive(Debug)]
pub struct FloodWindow {
    window: Duration,
    drops: VecDeque<(Instant, u64)>,
}

impl FloodWindow {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            drops: VecDeque::new(),
        }
    }

    /// Note `ms` of refused audio at `now`; returns the refused ms within the window.
    pub fn record(&mut self, now: Instant, ms: u64) -> u64 {
        self.drops.push_back((now, ms));
        while self
            .drops
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) > self.window)
        {
            self.drops.pop_front();
        }
        self.drops.iter().map(|(_, ms)| ms).sum()
    }
}

/// The first message of every session: what the server expects and sends.
pub fn ready_message(session: u64, providers: &[String]) -> String {
    json!({
        "type": "ready",
        "session": session,
        "input": {"format": "pcm16le", "sample_rate": INPUT_RATE, "frame_bytes": FRAME_BYTES},
        "output": {"format": "pcm16le", "sample_rate": OUTPUT_RATE},
        "providers": providers,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flooding_is_counted_over_a_window_not_over_the_whole_call() {
        let t0 = Instant::now();
        let mut w = FloodWindow::new(Duration::from_secs(30));
        assert_eq!(w.record(t0, 20), 20);
        assert_eq!(w.record(t0 + Duration::from_secs(10), 20), 40);
        // A jittery hour: each burst of drops is long forgotten by the next.
        let mut at = t0 + Duration::from_secs(10);
        for _ in 0..120 {
            at += Duration::from_secs(31);
            assert_eq!(w.record(at, 500), 500);
        }
    }

    #[test]
    fn client_messages_parse_and_bad_ones_say_why() {
        assert_eq!(
            parse_client_message(r#"{"type":"hello","sample_rate":16000,"client":"test"}"#),
            Ok(ClientMessage::Hello {
                sample_rate: Some(16000),
                client: Some("test".into())
            })
        );
        assert_eq!(
            parse_client_message(r#"{"type":"hello"}"#),
            Ok(ClientMessage::Hello {
                sample_rate: None,
                client: None
            })
        );
        assert_eq!(
            parse_client_message(r#"{"type":"played","samples":4800}"#),
            Ok(ClientMessage::Played { samples: 4800 })
        );
        assert_eq!(
            parse_client_message(r#"{"type":"played","ms":250.5}"#),
            Ok(ClientMessage::Played { samples: 6012 })
        );
        assert_eq!(
            parse_client_message(r#"{"type":"hello","sample_rate":48000}"#),
            Err(ProtocolError::SampleRate(48000))
        );
        assert!(matches!(
            parse_client_message("not json"),
            Err(ProtocolError::NotJson(_))
        ));
        assert_eq!(parse_client_message("[1,2]"), Err(ProtocolError::NoType));
        assert_eq!(
            parse_client_message(r#"{"kind":"x"}"#),
            Err(ProtocolError::NoType)
        );
        assert_eq!(
            parse_client_message(r#"{"type":"dance"}"#),
            Err(ProtocolError::UnknownType("dance".into()))
        );
        for bad in [
            r#"{"type":"played"}"#,
            r#"{"type":"played","samples":-3}"#,
            r#"{"type":"played","ms":"soon"}"#,
            r#"{"type":"hello","client":7}"#,
        ] {
            assert!(
                matches!(
                    parse_client_message(bad),
                    Err(ProtocolError::Invalid { .. })
                ),
                "{bad}"
            );
        }
        let long = format!(
            r#"{{"type":"hello","client":"{}"}}"#,
            "x".repeat(MAX_TEXT_BYTES)
        );
        assert!(matches!(
            parse_client_message(&long),
            Err(ProtocolError::TextTooLong(_))
        ));
    }

    #[test]
    fn frames_are_reassembled_to_20ms_and_bad_ones_refused() {
        let mut a = FrameAssembler::default();
        let bytes =
            |n: usize, v: i16| -> Vec<u8> { (0..n).flat_map(|_| v.to_le_bytes()).collect() };
        // One exact frame.
        let f = a.push(&bytes(320, 7)).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].len(), FRAME_SAMPLES);
        assert!(f[0].iter().all(|&s| s == 7));
        // Half a frame waits for the rest; a refused message does not disturb it.
        assert!(a.push(&bytes(160, 1)).unwrap().is_empty());
        assert_eq!(a.push(&[1, 2, 3]), Err(ProtocolError::OddLength(3)));
        assert_eq!(
            a.push(&bytes(MAX_AUDIO_MESSAGE_BYTES, 0)),
            Err(ProtocolError::FrameTooLarge(MAX_AUDIO_MESSAGE_BYTES * 2))
        );
        assert_eq!(a.push(&[]), Err(ProtocolError::EmptyFrame));
        let f = a.push(&bytes(480, 2)).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(&f[0][..160], &[1; 160][..]);
        assert_eq!(&f[0][160..], &[2; 160][..]);
        // Little-endian decoding.
        let f = a.push(&(-2i16).to_le_bytes().repeat(320)).unwrap();
        assert_eq!(f[0][0], -2);
    }

    #[test]
    fn the_budget_allows_real_time_and_a_burst_but_not_a_flood() {
        let t0 = Instant::now();
        let mut b = InputBudget::new(100, t0);
        // The burst: 5 frames at once, then nothing more without time passing.
        assert!((0..5).all(|_| b.take_frame(t0)));
        assert!(!b.take_frame(t0));
        assert_eq!(b.dropped_ms, 20);
        // Real-time pace is always accepted.
        for i in 1..=100u64 {
            assert!(b.take_frame(t0 + Duration::from_millis(20 * i)));
        }
        // Twice real time: about half is refused.
        let start = t0 + Duration::from_millis(2_000);
        let mut refused = 0;
        for i in 0..200u64 {
            if !b.take_frame(start + Duration::from_millis(10 * i)) {
                refused += 1;
            }
        }
        assert!((90..=110).contains(&refused), "{refused}");
        // A grant lets a backlog through once; it does not raise the burst for good.
        let later = start + Duration::from_secs(10);
        assert!(b.take_frame(later)); // the bucket refilled to its burst: 80 ms left
        b.grant(200);
        assert_eq!((0..14).filter(|_| b.take_frame(later)).count(), 14);
        assert!(!b.take_frame(later));
    }

    #[test]
    fn the_ready_message_states_the_formats() {
        let v: Value = serde_json::from_str(&ready_message(3, &["vad: energy".into()])).unwrap();
        assert_eq!(v["type"], "ready");
        assert_eq!(v["input"]["sample_rate"], 16000);
        assert_eq!(v["input"]["frame_bytes"], 640);
        assert_eq!(v["output"]["sample_rate"], 24000);
        assert_eq!(v["providers"][0], "vad: energy");
    }
}
