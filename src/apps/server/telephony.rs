//! Phone calls: the media-stream protocol a telephony platform speaks to connect a call to an
//! application (Twilio's Media Streams; Telnyx and Vonage send close variants). JSON text frames
//! both ways, with the audio as base64 μ-law at 8 kHz:
//!
//! ```text
//! platform -> us   connected · start {streamSid, callSid, mediaFormat} · media {payload}
//!                  · mark {name} (our mark, echoed once the audio before it has played)
//!                  · dtmf {digit} · stop
//! us -> platform   media {payload} · mark {name} · clear (drop all queued audio: barge-in)
//! ```
//!
//! A mark's name says how much agent audio had been sent before it, and in which epoch: a
//! `clear` starts a new epoch, and the marks the platform echoes for audio it dropped (it echoes
//! every pending mark on `clear`) belong to the old one and count for nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use base64::Engine;
use serde_json::{json, Value};

use super::protocol::ProtocolError;

/// The path of the media stream (with `/TOKEN` after it when a token is set).
pub const PATH: &str = "/telephony";

/// What both sides of a phone session share: the stream's id (known once `start` came), and
/// the marks.
#[derive(Debug, Default)]
pub struct Line {
    pub stream_sid: OnceLock<String>,
    pub marks: Marks,
}

/// Is `path` the media stream's: `/telephony`, or `/telephony/TOKEN` when a token is set?
pub fn is_stream_path(path: &str, token: Option<&str>) -> bool {
    match token {
        None => path == PATH,
        Some(token) => path
            .strip_prefix(PATH)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|given| same(given.as_bytes(), token.as_bytes())),
    }
}

/// Equal, in a time that does not tell how much of a guess was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One message from the platform.
#[derive(Debug, PartialEq)]
pub enum PhoneMessage {
    Connected,
    Start {
        stream_sid: String,
        call_sid: String,
    },
    /// Caller audio, μ-law bytes.
    Media(Vec<u8>),
    /// One of our marks, echoed.
    Mark(String),
    /// A key pressed on the caller's keypad.
    Dtmf(char),
    Stop,
    /// A stream in a media format this server does not speak: the call cannot go on.
    Unsupported(String),
}

fn bad(what: impl Into<String>) -> ProtocolError {
    ProtocolError::Phone(what.into())
}

/// Parse one text frame from the platform.
pub fn parse(text: &str) -> Result<PhoneMessage, ProtocolError> {
    let v: Value = serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let event = v["event"]
        .as_str()
        .ok_or_else(|| bad("a media-stream message needs an \"event\""))?;
    match event {
        "connected" => Ok(PhoneMessage::Connected),
        "start" => {
            let start = &v["start"];
            let format = &start["mediaFormat"];
            let encoding = format["encoding"].as_str().unwrap_or("audio/x-mulaw");
            let rate = format["sampleRate"].as_u64().unwrap_or(8_000);
            if encoding != "audio/x-mulaw" || rate != 8_000 {
                return Ok(PhoneMessage::Unsupported(format!(
                    "media format {encoding} at {rate} Hz: only audio/x-mulaw at 8000 Hz is spoken here"
                )));
            }
            let sid = |k: &str| {
                start[k]
                    .as_str()
                    .or_else(|| v[k].as_str())
                    .map(str::to_string)
            };
            Ok(PhoneMessage::Start {
                stream_sid: sid("streamSid").ok_or_else(|| bad("start without a streamSid"))?,
                call_sid: sid("callSid").unwrap_or_default(),
            })
        }
        "media" => {
            let media = &v["media"];
            // Only the caller's side is ours to hear (a platform may stream both tracks).
            if media["track"]
                .as_str()
                .is_some_and(|t| t.starts_with("outbound"))
            {
                return Ok(PhoneMessage::Media(Vec::new()));
            }
            let payload = media["payload"]
                .as_str()
                .ok_or_else(|| bad("media without a payload"))?;
            base64::engine::general_purpose::STANDARD
                .decode(payload)
                .map(PhoneMessage::Media)
                .map_err(|e| bad(format!("media payload is not base64: {e}")))
        }
        "mark" => v["mark"]["name"]
            .as_str()
            .map(|n| PhoneMessage::Mark(n.to_string()))
            .ok_or_else(|| bad("mark without a name")),
        "dtmf" => {
            let digit = v["dtmf"]["digit"].as_str().unwrap_or_default();
            let mut chars = digit.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D') => {
                    Ok(PhoneMessage::Dtmf(c))
                }
                _ => Err(bad(format!("dtmf digit {digit:?} is not a key"))),
            }
        }
        "stop" => Ok(PhoneMessage::Stop),
        other => Err(bad(format!("unknown media-stream event {other:?}"))),
    }
}

/// Agent audio for the platform.
pub fn media(stream_sid: &str, mulaw: &[u8]) -> String {
    let payload = base64::engine::general_purpose::STANDARD.encode(mulaw);
    json!({"event": "media", "streamSid": stream_sid, "media": {"payload": payload}}).to_string()
}

pub fn mark(stream_sid: &str, name: &str) -> String {
    json!({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}}).to_string()
}

pub fn clear(stream_sid: &str) -> String {
    json!({"event": "clear", "streamSid": stream_sid}).to_string()
}

/// The answer to the platform's incoming-call webhook: connect the call to the media stream.
pub fn twiml(stream_url: &str) -> String {
    let url = stream_url
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Connect><Stream url=\"{url}\"/></Connect></Response>\n"
    )
}

/// Marks sent and echoed: how much agent audio the caller has heard. Counts are of audio that
/// played or may still play: after a `clear`, the count goes on from what the marks confirmed,
/// as a browser's `played` count leaves out the audio it dropped.
#[derive(Debug, Default)]
pub struct Marks {
    epoch: AtomicU64,
    confirmed: AtomicU64,
}

impl Marks {
    /// The name of a mark placed after `samples` of agent audio (at the output rate).
    pub fn name(&self, samples: u64) -> String {
        format!("{}:{samples}", self.epoch.load(Ordering::Acquire))
    }

    /// The audio sent and not yet confirmed is being dropped: its pending marks will come back
    /// unplayed. Returns the count to go on from.
    pub fn cleared(&self) -> u64 {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.confirmed.load(Ordering::Acquire)
    }

    /// An echoed mark: the samples it vouches for as played, if it is of the current epoch.
    pub fn echoed(&self, name: &str) -> Option<u64> {
        let (epoch, samples) = name.split_once(':')?;
        let epoch: u64 = epoch.parse().ok()?;
        let samples: u64 = samples.parse().ok()?;
        if epoch != self.epoch.load(Ordering::Acquire) {
            return None;
        }
        self.confirmed.fetch_max(samples, Ordering::AcqRel);
        Some(samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platforms_messages_parse() {
        let start = r#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC1","streamSid":"MZ1","callSid":"CA1","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1},"customParameters":{}},"streamSid":"MZ1"}"#;
        assert_eq!(
            parse(start).unwrap(),
            PhoneMessage::Start {
                stream_sid: "MZ1".into(),
                call_sid: "CA1".into()
            }
        );
        let media = r#"{"event":"media","sequenceNumber":"3","media":{"track":"inbound","chunk":"1","timestamp":"5","payload":"/38A"},"streamSid":"MZ1"}"#;
        assert_eq!(
            parse(media).unwrap(),
            PhoneMessage::Media(vec![0xFF, 0x7F, 0x00])
        );
        let mark =
            r#"{"event":"mark","sequenceNumber":"4","streamSid":"MZ1","mark":{"name":"0:480"}}"#;
        assert_eq!(parse(mark).unwrap(), PhoneMessage::Mark("0:480".into()));
        let dtmf = r#"{"event":"dtmf","streamSid":"MZ1","sequenceNumber":"5","dtmf":{"track":"inbound_track","digit":"7"}}"#;
        assert_eq!(parse(dtmf).unwrap(), PhoneMessage::Dtmf('7'));
        assert_eq!(
            parse(r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#).unwrap(),
            PhoneMessage::Connected
        );
        assert_eq!(
            parse(r#"{"event":"stop","streamSid":"MZ1"}"#).unwrap(),
            PhoneMessage::Stop
        );
    }

    #[test]
    fn bad_messages_say_what_is_wrong() {
        for (text, says) in [
            ("nope", "not JSON"),
            (r#"{"type":"media"}"#, "needs an \"event\""),
            (
                r#"{"event":"media","media":{"payload":"***"}}"#,
                "not base64",
            ),
            (r#"{"event":"media","media":{}}"#, "without a payload"),
            (r#"{"event":"dtmf","dtmf":{"digit":"77"}}"#, "not a key"),
            (r#"{"event":"hangup"}"#, "unknown"),
        ] {
            let e = parse(text).expect_err(text).to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn a_stream_in_another_format_is_unsupported() {
        let start = r#"{"event":"start","start":{"streamSid":"MZ","mediaFormat":{"encoding":"audio/x-l16","sampleRate":16000}}}"#;
        match parse(start) {
            Ok(PhoneMessage::Unsupported(why)) => {
                assert!(why.contains("only audio/x-mulaw"), "{why}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn outgoing_messages_and_twiml() {
        let m: Value = serde_json::from_str(&media("MZ1", &[0xFF, 0x00])).unwrap();
        assert_eq!(m["event"], "media");
        assert_eq!(m["streamSid"], "MZ1");
        assert_eq!(m["media"]["payload"], "/wA=");
        let c: Value = serde_json::from_str(&clear("MZ1")).unwrap();
        assert_eq!(c["event"], "clear");
        let x = twiml("wss://demo.example/telephony/s3cr&t");
        assert!(
            x.contains(
                "<Connect><Stream url=\"wss://demo.example/telephony/s3cr&amp;t\"/></Connect>"
            ),
            "{x}"
        );
    }

    #[test]
    fn the_stream_path_carries_the_token_when_one_is_set() {
        assert!(is_stream_path("/telephony", None));
        assert!(!is_stream_path("/telephony/x", None));
        assert!(is_stream_path("/telephony/s3cret", Some("s3cret")));
        for wrong in [
            "/telephony",
            "/telephony/",
            "/telephony/s3cre",
            "/telephony/s3cretx",
            "/ws",
        ] {
            assert!(!is_stream_path(wrong, Some("s3cret")), "{wrong}");
        }
    }

    #[test]
    fn marks_echoed_after_a_clear_count_for_nothing() {
        let marks = Marks::default();
        let first = marks.name(4_800);
        let second = marks.name(9_600);
        assert_eq!(marks.echoed(&first), Some(4_800));
        // The count goes on from what played, not from what was sent.
        assert_eq!(marks.cleared(), 4_800);
        // Echoed because the clear dropped its audio, not because it played.
        assert_eq!(marks.echoed(&second), None);
        let after = marks.name(4_800 + 2_400);
        assert_eq!(marks.echoed(&after), Some(7_200));
        assert_eq!(marks.echoed("garbage"), None);
        assert_eq!(marks.echoed("1:x"), None);
    }
}
