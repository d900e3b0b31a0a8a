//! A phone call over the telephony media stream, made the way a platform (Twilio's Media
//! Streams) makes it: the caller's audio as μ-law media events at real-time pace, the agent's
//! audio back as μ-law, our marks echoed once the audio before them has played, every pending
//! mark echoed at once on `clear`, and frames that break the protocol.

mod common;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use common::{http_request, Client, Received, ScriptedFactory};
use voice_agent::apps::server::{self, ServerConfig, ServerHandle};
use voice_agent::foundation::audio::mulaw::{self, PHONE_FRAME, PHONE_RATE};
use voice_agent::foundation::audio::resample::resample_i16;
use voice_agent::foundation::audio::INPUT_RATE;
use voice_agent::providers::llm::Role;
use voice_agent::providers::testing::{synthetic_caller, ScriptStep};

const STREAM: &str = "MZ00000000000000000000000000000001";

fn start(factory: ScriptedFactory, token: Option<&str>) -> ServerHandle {
    server::start(
        ServerConfig {
            bind: "127.0.0.1:0".into(),
            telephony_token: token.map(str::to_string),
            ..ServerConfig::default()
        },
        Arc::new(factory),
    )
    .expect("server starts")
}

/// The platform's side of one call.
struct Platform {
    client: Client,
    /// Log entries of the client already looked at.
    seen: usize,
    /// Agent audio received, μ-law.
    received: Vec<u8>,
    /// The simulated phone: how much of what it received has played.
    played: usize,
    last_tick: Instant,
    /// Our marks, each at the position in `received` where it was placed.
    pending: VecDeque<(usize, String)>,
    clears: usize,
    /// When agent audio last arrived.
    last_media: Instant,
    /// Marks echoed as played, with their positions (a clear echoes the rest unplayed).
    echoed: Vec<(usize, String)>,
    /// Every message from the server, in order.
    messages: Vec<Value>,
}

impl Platform {
    fn dial(addr: SocketAddr, path: &str) -> Self {
        let mut client = Client::connect_with_path(addr, path).expect("the stream opens");
        client.send_text(
            &json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}).to_string(),
        );
        client.send_text(
            &json!({
                "event": "start",
                "sequenceNumber": "1",
                "start": {
                    "accountSid": "AC0", "streamSid": STREAM, "callSid": "CA0",
                    "tracks": ["inbound"],
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
                "streamSid": STREAM,
            })
            .to_string(),
        );
        Self {
            client,
            seen: 0,
            received: Vec::new(),
            played: 0,
            last_tick: Instant::now(),
            pending: VecDeque::new(),
            clears: 0,
            last_media: Instant::now(),
            echoed: Vec::new(),
            messages: Vec::new(),
        }
    }

    fn echo(&mut self, name: &str) {
        self.client.send_text(
            &json!({"event": "mark", "streamSid": STREAM, "mark": {"name": name}}).to_string(),
        );
    }

    /// Take what the server sent, play it in real time, echo the marks it passed.
    fn pump(&mut self) {
        self.client.poll(Duration::from_millis(5));
        while self.seen < self.client.log.len() {
            let entry = &self.client.log[self.seen];
            self.seen += 1;
            let v = match entry {
                Received::Json(v) => v.clone(),
                Received::Audio(_) => panic!("binary audio on a phone stream"),
            };
            assert_eq!(v["streamSid"], STREAM, "{v}");
            match v["event"].as_str() {
                Some("media") => {
                    let payload = v["media"]["payload"].as_str().expect("payload");
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(payload)
                        .expect("base64");
                    self.received.extend(bytes);
                    self.last_media = Instant::now();
                }
                Some("mark") => {
                    let name = v["mark"]["name"].as_str().expect("name").to_string();
                    self.pending.push_back((self.received.len(), name));
                }
                Some("clear") => {
                    // Everything queued is dropped, and every pending mark comes back at once.
                    self.clears += 1;
                    self.played = self.received.len();
                    while let Some((_, name)) = self.pending.pop_front() {
                        self.echo(&name);
                    }
                }
                other => panic!("unexpected message {other:?}: {v}"),
            }
            self.messages.push(v);
        }
        let now = Instant::now();
        let due =
            (now.duration_since(self.last_tick).as_secs_f64() * f64::from(PHONE_RATE)) as usize;
        if due > 0 {
            self.played = (self.played + due).min(self.received.len());
            self.last_tick = now;
        }
        while self
            .pending
            .front()
            .is_some_and(|(at, _)| *at <= self.played)
        {
            if let Some((at, name)) = self.pending.pop_front() {
                self.echo(&name);
                self.echoed.push((at, name));
            }
        }
    }

    /// Send `pcm` (16 kHz) as the caller, in 20 ms media events at real-time pace, pumping.
    fn say(&mut self, pcm: &[i16]) {
        let narrow = resample_i16(pcm, INPUT_RATE, PHONE_RATE);
        let start = Instant::now();
        for (i, frame) in narrow.chunks(PHONE_FRAME).enumerate() {
            let payload =
                base64::engine::general_purpose::STANDARD.encode(mulaw::encode_all(frame));
            self.client.send_text(
                &json!({"event": "media", "streamSid": STREAM,
                        "media": {"track": "inbound", "chunk": i.to_string(), "payload": payload}})
                .to_string(),
            );
            let due = start + Duration::from_millis(20 * (i as u64 + 1));
            while Instant::now() < due {
                self.pump();
            }
        }
    }

    /// Silence from the caller until `done` holds, up to `limit`. True when it held.
    fn wait(&mut self, limit: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if done(self) {
                return true;
            }
            self.say(&vec![0; 320 * 5]);
        }
        done(self)
    }

    fn events(&self, name: &str) -> usize {
        self.messages.iter().filter(|v| v["event"] == name).count()
    }

    fn key(&mut self, digit: char) {
        self.client.send_text(
            &json!({"event": "dtmf", "streamSid": STREAM,
                    "dtmf": {"track": "inbound_track", "digit": digit.to_string()}})
            .to_string(),
        );
    }

    fn hang_up(&mut self) {
        self.client.send_text(
            &json!({"event": "stop", "streamSid": STREAM, "stop": {"callSid": "CA0"}}).to_string(),
        );
        let end = Instant::now() + Duration::from_secs(5);
        while self.client.closed.is_none() && !self.client.ended && Instant::now() < end {
            self.pump();
        }
    }
}

fn rms(mulaw: &[u8]) -> f64 {
    let sum: f64 = mulaw
        .iter()
        .map(|&b| f64::from(mulaw::decode(b)).powi(2))
        .sum();
    (sum / mulaw.len().max(1) as f64).sqrt()
}

#[test]
fn a_phone_call_is_answered_in_mulaw_with_marks() {
    let factory = ScriptedFactory::new(
        &["hello"],
        vec![vec![ScriptStep::Text(
            "Hello, thanks for calling. How can I help?".into(),
        )]],
        15,
    );
    let spoken = factory.spies.spoken.clone();
    let server = start(factory, None);
    let mut call = Platform::dial(server.ws_addr(), "/telephony");
    call.say(&synthetic_caller(&[(1_000, true)]));
    // Played through: both sentences' audio, and the mark after the last one echoed.
    let answered = call.wait(Duration::from_secs(15), |c| {
        c.events("mark") >= 2 && c.pending.is_empty() && c.received.len() > 4_000
    });
    assert!(
        answered,
        "{} bytes, {} marks",
        call.received.len(),
        call.events("mark")
    );
    // 8 kHz μ-law: two sentences of tone at 15 ms a character are over half a second of
    // audio, and it is not silence.
    assert!(rms(&call.received) > 500.0, "{}", rms(&call.received));
    assert_eq!(call.events("clear"), 0);
    assert_eq!(
        spoken.lock().unwrap().len(),
        2,
        "{:?}",
        spoken.lock().unwrap()
    );
    call.hang_up();
    assert_eq!(
        call.client.closed.as_ref().map(|c| c.0),
        Some(1000),
        "{:?}",
        call.client.closed
    );
    assert!(
        common::wait_for(Duration::from_secs(10), || server.active_sessions() == 0),
        "the call's slot is freed"
    );
    server.shutdown();
}

#[test]
fn a_barge_in_sends_clear_and_the_marks_decide_what_was_heard() {
    let factory = ScriptedFactory::new(
        &["tell me everything", "stop"],
        vec![
            vec![ScriptStep::Text(
                "The first sentence is short. The second sentence goes on for quite a while longer. The third is never reached."
                    .into(),
            )],
            vec![ScriptStep::Text("Okay.".into())],
        ],
        30,
    );
    let calls = factory.spies.calls.clone();
    let server = start(factory, None);
    let mut call = Platform::dial(server.ws_addr(), "/telephony");
    call.say(&synthetic_caller(&[(1_000, true)]));
    // The first sentence has played (the mark after it came back), the second is playing.
    let first_heard = call.wait(Duration::from_secs(15), |c| {
        c.echoed.iter().any(|(at, _)| *at > 0)
    });
    assert!(
        first_heard,
        "{} bytes, {:?}",
        call.received.len(),
        call.pending
    );
    call.say(&synthetic_caller(&[(1_200, true)]));
    assert!(
        call.wait(Duration::from_secs(10), |c| c.clears == 1),
        "no clear after a barge-in"
    );
    // The agent's history keeps what the marks vouched for: the first sentence, not the rest.
    assert!(
        call.wait(Duration::from_secs(15), |_| calls.lock().unwrap().len()
            >= 2)
    );
    let history = calls.lock().unwrap()[1].clone();
    let said = history
        .iter()
        .filter(|m| m.role == Role::Assistant)
        .map(|m| m.content.clone())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(said.contains("The first sentence is short."), "{said}");
    assert!(!said.contains("second sentence goes on"), "{said}");
    assert!(!said.contains("third"), "{said}");
    call.hang_up();
    server.shutdown();
}

#[test]
fn bad_frames_are_logged_and_the_call_goes_on() {
    let factory = ScriptedFactory::new(
        &["hello"],
        vec![vec![ScriptStep::Text("Hello there.".into())]],
        15,
    );
    let server = start(factory, None);
    let mut call = Platform::dial(server.ws_addr(), "/telephony");
    for bad in [
        "not json",
        r#"{"no":"event"}"#,
        r#"{"event":"media","media":{"payload":"***"}}"#,
        r#"{"event":"dtmf","dtmf":{"digit":"12"}}"#,
        r#"{"event":"teleport"}"#,
    ] {
        call.client.send_text(bad);
    }
    call.client.send_binary(vec![0; 640]);
    // None of it is answered on the platform's line, and the call goes on: a turn is served.
    call.say(&synthetic_caller(&[(1_000, true)]));
    assert!(
        call.wait(Duration::from_secs(15), |c| c.received.len() > 1_000),
        "no answer after bad frames"
    );
    assert!(call.client.closed.is_none());
    assert_eq!(
        http_request(server.local_addr(), "GET /healthz HTTP/1.1", &[]).0,
        200
    );
    // A platform gone mad is cut off, like a browser.
    for _ in 0..101 {
        call.client.send_text("{}");
    }
    call.wait(Duration::from_secs(5), |c| c.client.closed.is_some());
    assert_eq!(call.client.closed.as_ref().map(|c| c.0), Some(1008));
    server.shutdown();
}

#[test]
fn the_token_guards_the_stream_and_the_webhook_hands_it_over() {
    let factory = ScriptedFactory::new(&["hello"], vec![], 15);
    let server = start(factory, Some("s3cret"));
    for path in ["/telephony", "/telephony/guess"] {
        match Client::connect_with_path(server.ws_addr(), path) {
            Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), 403, "{path}"),
            other => panic!("{path}: {:?}", other.map(|_| "opened")),
        }
    }
    let call = Platform::dial(server.ws_addr(), "/telephony/s3cret");
    drop(call);
    // The incoming-call webhook (a POST with a form) connects the call to the stream.
    let form = "CallSid=CA0&From=%2B15550100&To=%2B15550199";
    let (status, body) = http_post(server.local_addr(), "/twiml", form);
    assert_eq!(status, 200, "{body}");
    let want = format!(
        "<Connect><Stream url=\"wss://127.0.0.1:{}/telephony/s3cret\"/></Connect>",
        server.ws_addr().port()
    );
    assert!(body.contains(&want), "{body}");
    server.shutdown();
}

/// A POST with a form body, its body in a separate write (as it may come off the network).
fn http_post(addr: SocketAddr, path: &str, form: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        form.len()
    );
    s.write_all(head.as_bytes()).expect("head");
    s.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(50));
    s.write_all(form.as_bytes()).expect("body");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map_or(String::new(), |x| x.1.to_string());
    (status, body)
}

/// What the demo's caller says to book (see scripts/make_caller.sh).
const BOOKING: [&str; 4] = [
    "Hello, I would like to book an appointment with doctor Patel.",
    "Next Monday at ten in the morning, please.",
    "My name is John Smith, and my date of birth is March fourth, nineteen eighty five.",
    "Yes, please book it.",
];

#[test]
fn a_phone_call_books_an_appointment_with_the_local_models() {
    use voice_agent::foundation::audio::OUTPUT_RATE;
    use voice_agent::foundation::cancel::CancelToken;
    use voice_agent::providers::tts::piper::{PiperTts, PiperVoice};
    use voice_agent::providers::tts::TextToSpeech;

    // A Monday: "next Monday" is the 30th.
    let Some((server, db)) = common::local_models_server("phone") else {
        return;
    };
    let dir = voice_agent::providers::models::models_dir();
    let seeded: i64 = rusqlite::Connection::open(&db)
        .and_then(|c| {
            c.query_row("SELECT COALESCE(MAX(id), 0) FROM appointments", [], |r| {
                r.get(0)
            })
        })
        .expect("the seeded database");
    let mut piper = PiperTts::new(PiperVoice::load_steady(&dir).expect("voice"));
    let mut call = Platform::dial(server.ws_addr(), "/telephony");
    call.wait(Duration::from_millis(500), |_| false);
    for line in BOOKING {
        let mut pcm = Vec::new();
        piper
            .synthesize(line, &CancelToken::never(), &mut |c| {
                pcm.extend_from_slice(c)
            })
            .expect("the caller's line");
        let before = call.received.len();
        // Through the phone line: 8 kHz, μ-law.
        call.say(&resample_i16(&pcm, OUTPUT_RATE, INPUT_RATE));
        let answered = call.wait(Duration::from_secs(40), |c| {
            c.received.len() > before
                && c.pending.is_empty()
                && c.last_media.elapsed() > Duration::from_millis(1_500)
        });
        assert!(answered, "no answer to {line:?}");
    }
    call.hang_up();
    server.shutdown();
    // The booking is in the database: the right doctor, day, time and patient.
    let conn = rusqlite::Connection::open(&db).expect("db");
    let (doctor, patient, start): (String, String, String) = conn
        .query_row(
            "SELECT d.name, p.name, a.start FROM appointments a \
             JOIN doctors d ON d.id = a.doctor_id JOIN patients p ON p.id = a.patient_id \
             WHERE a.status = 'booked' AND a.id > ?1 ORDER BY a.id DESC LIMIT 1",
            [seeded],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("a booking made by the call");
    assert!(doctor.contains("Patel"), "{doctor}");
    assert_eq!(patient, "John Smith");
    assert!(
        start.starts_with("2026-11-30") && start.contains("10:00"),
        "{start}"
    );
    // And the agent spoke, in μ-law at 8 kHz: many seconds of it, not silence.
    assert!(
        call.received.len() > 8 * PHONE_RATE as usize,
        "{}",
        call.received.len()
    );
    assert!(rms(&call.received) > 300.0);
    let _ = std::fs::remove_file(&db);
}

#[test]
fn keys_pressed_on_the_phone_reach_the_agent_as_a_turn() {
    let factory = ScriptedFactory::new(
        &["hello"],
        vec![
            vec![ScriptStep::Text(
                "Here is a long answer that goes on for quite a while. And then another sentence after it."
                    .into(),
            )],
            vec![ScriptStep::Text("Thank you.".into())],
            vec![ScriptStep::Text("Got it.".into())],
        ],
        30,
    );
    let calls = factory.spies.calls.clone();
    let server = start(factory, None);
    let mut call = Platform::dial(server.ws_addr(), "/telephony");
    call.say(&synthetic_caller(&[(1_000, true)]));
    assert!(call.wait(Duration::from_secs(15), |c| c.received.len() > 2_000));
    // Keyed over the agent, ended with #: a deliberate turn, so it cuts in at once.
    for key in ['0', '3', '0', '4', '1', '9', '8', '5', '#'] {
        call.key(key);
    }
    assert!(
        call.wait(Duration::from_secs(10), |c| c.clears == 1),
        "no clear"
    );
    assert!(
        call.wait(Duration::from_secs(15), |_| calls.lock().unwrap().len()
            >= 2)
    );
    let said = |i: usize| {
        let calls = calls.lock().unwrap();
        calls[i]
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.clone())
            .unwrap_or_default()
    };
    assert_eq!(said(1), "03041985");
    // Without #, the entry ends once the caller has keyed nothing for 1.5 s of the call.
    assert!(call.wait(Duration::from_secs(15), |c| {
        c.pending.is_empty() && c.last_media.elapsed() > Duration::from_millis(500)
    }));
    call.key('7');
    call.key('7');
    assert!(
        call.wait(Duration::from_secs(15), |_| calls.lock().unwrap().len()
            >= 3)
    );
    assert_eq!(said(2), "77");
    call.hang_up();
    server.shutdown();
}

#[test]
fn a_stream_in_another_media_format_is_closed_with_1003() {
    let server = start(ScriptedFactory::new(&["hello"], vec![], 15), None);
    let mut c =
        Client::connect_with_path(server.ws_addr(), "/telephony").expect("the stream opens");
    c.send_text(
        &json!({"event": "start", "streamSid": STREAM, "start": {"streamSid": STREAM,
                "mediaFormat": {"encoding": "audio/x-l16", "sampleRate": 16000, "channels": 1}}})
        .to_string(),
    );
    let end = Instant::now() + Duration::from_secs(5);
    while c.closed.is_none() && !c.ended && Instant::now() < end {
        c.poll(Duration::from_millis(50));
    }
    let (code, reason) = c.closed.clone().expect("closed");
    assert_eq!(code, 1003);
    assert!(reason.contains("audio/x-mulaw"), "{reason}");
    server.shutdown();
}
