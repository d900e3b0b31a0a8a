//! The voice server over real sockets on 127.0.0.1, with scripted fakes behind each session:
//! a whole turn over the wire, bad input of every kind, session limits, origin and path checks,
//! and barge-in driven by the client's `played` reports.

mod common;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use common::{http_get, http_request, wait_for, Client, Received, ScriptedFactory};
use voice_agent::apps::server::{self, ServerConfig, ServerHandle};
use voice_agent::providers::llm::Role;
use voice_agent::providers::testing::{synthetic_caller, tone_level, ScriptStep};

const TURN_TIMEOUT: Duration = Duration::from_secs(40);

fn start(factory: ScriptedFactory, max_sessions: usize, allowed: &[&str]) -> ServerHandle {
    let config = ServerConfig {
        bind: "127.0.0.1:0".into(),
        max_sessions,
        allowed_origins: allowed.iter().map(|s| s.to_string()).collect(),
        ..ServerConfig::default()
    };
    server::start(config, Arc::new(factory)).expect("server starts")
}

fn text(answer: &str) -> Vec<ScriptStep> {
    vec![ScriptStep::Text(answer.into())]
}

/// A caller who says one thing (a tone burst an energy VAD hears).
fn utterance(ms: u64) -> Vec<i16> {
    synthetic_caller(&[(300, false), (ms, true)])
}

fn peak(pcm: &[i16]) -> i16 {
    pcm.iter().map(|s| s.saturating_abs()).max().unwrap_or(0)
}

#[test]
fn a_session_over_the_wire_transcribes_calls_a_tool_and_speaks() {
    let reply = "Doctor Patel is free on Tuesday at nine.";
    let factory = ScriptedFactory::new(
        &["book me with doctor patel"],
        vec![
            vec![ScriptStep::Call {
                name: "lookup".into(),
                arguments: json!({"q": "patel"}),
            }],
            text(reply),
        ],
        10,
    );
    let spies = factory.spies.clone();
    let server = start(factory, 4, &[]);
    let mut c = Client::connect(server.ws_addr()).expect("connect");
    assert!(
        c.talk_until(&utterance(900), TURN_TIMEOUT, |c| c.has("metrics")),
        "no metrics: {:#?}",
        c.log
    );
    assert_eq!(server.active_sessions(), 1);

    // The session introduces itself first.
    let Received::Json(ready) = &c.log[0] else {
        panic!("first message is not JSON: {:?}", c.log[0])
    };
    assert_eq!(ready["type"], "ready");
    assert_eq!(ready["input"]["sample_rate"], 16000);
    assert_eq!(ready["output"]["sample_rate"], 24000);

    let finals: Vec<&Value> = c
        .messages("transcript")
        .into_iter()
        .filter(|t| t["final"] == true)
        .collect();
    assert_eq!(finals.len(), 1, "{finals:?}");
    assert_eq!(finals[0]["text"], "book me with doctor patel");
    let calls = c.messages("tool_call");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["name"], "lookup");
    assert_eq!(calls[0]["arguments"]["q"], "patel");
    assert_eq!(calls[0]["result"]["ok"], true);

    // Every sample ToneTts made reached the client: 10 ms per character at 24 kHz.
    let spoken = spies.spoken.lock().unwrap().clone();
    assert_eq!(spoken.join(" "), reply);
    let chars: usize = spoken.iter().map(|s| s.chars().count()).sum();
    assert_eq!(c.audio().len(), chars * 240);
    assert!(c.audio().iter().any(|&s| s == tone_level(reply)));

    // The order the pipeline made things in: the text is announced before its audio, and the
    // turn closes after the last of it.
    let first_audio = c
        .log
        .iter()
        .position(|r| matches!(r, Received::Audio(_)))
        .unwrap();
    let last_audio = c
        .log
        .iter()
        .rposition(|r| matches!(r, Received::Audio(_)))
        .unwrap();
    assert!(c.position("agent_speaking").unwrap() < first_audio);
    assert!(c.position("agent_text").unwrap() < first_audio);
    assert!(c.position("agent_done").unwrap() > last_audio);
    assert!(c.position("metrics").unwrap() > last_audio);

    let m = c.metrics_for(1).expect("metrics of turn 1");
    assert_eq!(m["transcript"], "book me with doctor patel");
    assert_eq!(m["agent_text"], reply);
    assert_eq!(m["played_text"], reply);
    assert_eq!(m["interrupted"], false);
    assert_eq!(m["tool_calls"][0]["name"], "lookup");
    assert!(m["latency"]["ttfa_ms"].as_f64().is_some(), "{m}");
    assert!(m["latency"]["stt_ms"].as_f64().is_some(), "{m}");
    assert!(c.messages("state").iter().any(|s| s["state"] == "speaking"));
    assert!(!c.has("error"), "{:?}", c.messages("error"));

    assert!(c.close(), "the server answers a close with a close");
    assert!(wait_for(Duration::from_secs(10), || server
        .active_sessions()
        == 0));
    server.shutdown();
}

#[test]
fn bad_input_is_answered_and_other_sessions_are_unaffected() {
    let factory = ScriptedFactory::new(&["hello"], vec![text("Hi, how can I help you?")], 10);
    let server = start(factory, 8, &[]);
    let addr = server.ws_addr();

    // A well-behaved caller talks at the same time.
    let good = std::thread::spawn(move || {
        let mut c = Client::connect(addr).expect("connect");
        let ok = c.talk_until(&utterance(800), TURN_TIMEOUT, |c| c.has("metrics"));
        (ok, c)
    });

    let mut a = Client::connect(addr).expect("connect");
    a.poll(Duration::from_millis(100));
    assert!(a.has("ready"));
    a.send_binary(vec![1, 2, 3]);
    a.send_binary(vec![0; 10_000]);
    a.send_binary(Vec::new());
    a.send_text("this is not json");
    a.send_text("AAECAwQFBgcICQ=="); // audio sent as text
    a.send_text(r#"{"type":"dance"}"#);
    a.send_text(r#"{"no_type":1}"#);
    a.send_text(r#"{"type":"played","samples":"lots"}"#);
    a.send_text(r#"{"type":"hello","sample_rate":44100}"#);
    a.send_text(r#"{"type":"hello","sample_rate":16000,"client":"test"}"#); // valid
    a.poll(Duration::from_millis(500));
    let errors: Vec<String> = a
        .messages("error")
        .iter()
        .map(|e| {
            assert_eq!(e["stage"], "protocol");
            e["message"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    let expected = [
        "odd-length",
        "too large",
        "empty",
        "JSON",
        "JSON",
        "unknown message type",
        "\"type\"",
        "samples",
        "sample rate",
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    for (e, want) in errors.iter().zip(expected) {
        assert!(e.contains(want), "{e:?} should mention {want:?}");
    }

    // A flood: 6 s of audio at once. Frames beyond the burst are dropped with one warning.
    for _ in 0..300 {
        a.send_pcm(&[0; 320]);
    }
    a.poll(Duration::from_millis(500));
    let floods = a
        .messages("error")
        .iter()
        .filter(|e| {
            e["message"]
                .as_str()
                .unwrap_or("")
                .contains("faster than real time")
        })
        .count();
    assert_eq!(floods, 1);
    assert!(a.closed.is_none() && !a.ended, "closed: {:?}", a.closed);

    // The abused session still holds a conversation once the client behaves (the budget
    // refills within a second).
    a.poll(Duration::from_millis(1_200));
    let errors_before = a.messages("error").len();
    assert!(
        a.talk_until(&utterance(800), TURN_TIMEOUT, |c| c.has("metrics")),
        "{:#?}",
        a.log
    );
    assert_eq!(
        a.metrics_for(1).unwrap()["agent_text"],
        "Hi, how can I help you?"
    );
    assert_eq!(a.messages("error").len(), errors_before);

    let (ok, b) = good.join().expect("good client");
    assert!(
        ok,
        "the other session did not complete its turn: {:#?}",
        b.log
    );
    assert!(!b.has("error"), "{:?}", b.messages("error"));
    assert_eq!(b.metrics_for(1).unwrap()["transcript"], "hello");

    // Beyond the WebSocket layer's limit: closed with 1009.
    let mut big = Client::connect(addr).expect("connect");
    big.send_binary(vec![0; 100_000]);
    big.poll(Duration::from_secs(2));
    assert_eq!(
        big.closed.as_ref().map(|c| c.0),
        Some(1009),
        "{:?}",
        big.closed
    );

    // Sustained flooding: closed with 1008 and a reason.
    let mut flood = Client::connect(addr).expect("connect");
    for _ in 0..1_000 {
        flood.send_pcm(&[0; 320]);
    }
    flood.poll(Duration::from_secs(2));
    let (code, reason) = flood.closed.clone().expect("closed");
    assert_eq!(code, 1008);
    assert!(reason.contains("faster than real time"), "{reason}");

    // Garbage instead of HTTP: the page's server says so; the WebSocket's drops it.
    let page = server.local_addr();
    assert_eq!(http_request(page, "HELLO THERE", &[]).0, 400);
    assert_eq!(http_request(addr, "HELLO THERE", &[]).0, 0);
    assert_eq!(http_get(page, "/healthz").0, 200);
    a.close();
    b.close();
    assert!(wait_for(Duration::from_secs(10), || server
        .active_sessions()
        == 0));
    server.shutdown();
}

#[test]
fn the_session_limit_refuses_the_next_caller_with_1013() {
    let factory = ScriptedFactory::new(&[], Vec::new(), 10);
    let server = start(factory, 1, &[]);
    let (addr, ws) = (server.local_addr(), server.ws_addr());
    let mut a = Client::connect(ws).expect("connect");
    a.poll(Duration::from_millis(200));
    assert!(a.has("ready"));

    let mut b = Client::connect(ws).expect("the upgrade itself succeeds");
    b.poll(Duration::from_secs(2));
    let (code, reason) = b.closed.clone().expect("refused with a close frame");
    assert_eq!(code, 1013);
    assert!(reason.contains("try again later"), "{reason}");
    assert!(!b.has("ready"));
    assert_eq!(server.active_sessions(), 1);
    let (status, body) = http_get(addr, "/healthz");
    assert_eq!(status, 200);
    let health: Value = serde_json::from_str(&body).expect("health JSON");
    assert_eq!(health["sessions"], 1);
    assert_eq!(health["max_sessions"], 1);

    // The slot frees when the first caller hangs up.
    a.close();
    assert!(wait_for(Duration::from_secs(10), || server
        .active_sessions()
        == 0));
    let mut c = Client::connect(ws).expect("connect");
    c.poll(Duration::from_millis(200));
    assert!(c.has("ready"), "{:?}", c.closed);
    c.close();
    server.shutdown();
}

#[test]
fn foreign_origins_and_path_traversal_are_refused() {
    let factory = ScriptedFactory::new(&[], Vec::new(), 10);
    let server = start(factory, 4, &["https://demo.example"]);
    let (addr, ws) = (server.local_addr(), server.ws_addr());

    for evil in [
        "http://evil.example".to_string(),
        format!("http://evil.example:{}", addr.port()),
    ] {
        match Client::connect_with_origin(ws, Some(&evil)) {
            Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 403),
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("a foreign origin got a session"),
        }
    }
    // The page tells where the sessions are; a page of this server may open one.
    let (status, body) = http_get(addr, "/config.json");
    assert_eq!(status, 200);
    let config: Value = serde_json::from_str(&body).expect("config JSON");
    assert_eq!(config["websocket"]["port"], ws.port());
    assert_eq!(config["websocket"]["path"], "/ws");
    for origin in [format!("http://{addr}"), "https://demo.example".to_string()] {
        let mut c = Client::connect_with_origin(ws, Some(&origin)).expect("allowed origin");
        c.poll(Duration::from_millis(200));
        assert!(c.has("ready"), "{origin}");
        c.close();
    }

    let (status, body) = http_get(addr, "/");
    assert_eq!(status, 200);
    assert!(body.contains("<html"));
    assert_eq!(http_get(addr, "/app.js").0, 200);
    assert_eq!(http_get(addr, "/player-worklet.js").0, 200);
    for path in [
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/%2E%2E%2FCargo.toml",
        "/..%2f..%2fetc/passwd",
        "/static/../Cargo.toml",
        "/Cargo.toml",
    ] {
        assert_eq!(http_get(addr, path).0, 404, "{path}");
    }
    assert_eq!(
        http_request(addr, "POST / HTTP/1.1", &[("Content-Length", "0")]).0,
        405
    );
    let (status, body) = http_get(addr, "/ws");
    assert_eq!(status, 426);
    assert!(body.contains(&ws.port().to_string()), "{body}");
    // A loopback server answers only to loopback names (DNS rebinding).
    assert_eq!(
        http_request(addr, "GET / HTTP/1.1", &[("Host", "evil.example")]).0,
        403
    );
    assert_eq!(
        http_request(addr, "GET / HTTP/1.1", &[("Host", "localhost")]).0,
        200
    );
    // The WebSocket side too, and only on its own path.
    let rebound = http_request(
        ws,
        "GET /ws HTTP/1.1",
        &[
            ("Host", "evil.example"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ],
    );
    assert_eq!(rebound.0, 403);
    match Client::connect_with_path(ws, "/elsewhere") {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 404),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a session on the wrong path"),
    }
    server.shutdown();
}

/// The long reply of the barge-in tests, and the answer after it.
fn barge_in_factory() -> ScriptedFactory {
    let long = "Long answer: ".to_string() + &"this goes on and on and on. ".repeat(8);
    // 60 ms of audio per character: the long answer lasts about 15 s.
    ScriptedFactory::new(
        &["tell me everything", "stop, stop"],
        vec![text(&long), text("Okay, what else can I do for you?")],
        60,
    )
}

#[test]
fn barge_in_over_the_wire_clears_and_keeps_only_what_was_played() {
    let factory = barge_in_factory();
    let spies = factory.spies.clone();
    let server = start(factory, 4, &[]);
    let mut c = Client::connect(server.ws_addr()).expect("connect");
    c.playback = true;
    // Ask, then listen to 1.5 s of the answer.
    assert!(
        c.talk_until(&utterance(600), TURN_TIMEOUT, |c| c.played >= 36_000),
        "{:#?}",
        c.log
    );
    // Talk over it for a second.
    assert!(
        c.talk_until(&synthetic_caller(&[(1_000, true)]), TURN_TIMEOUT, |c| c
            .metrics_for(2)
            .is_some()),
        "{:#?}",
        c.messages("metrics")
    );
    let clears: Vec<usize> = c
        .log
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r, Received::Json(v) if v["type"] == "clear"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(clears.len(), 1, "exactly one clear");

    let m = c.metrics_for(1).unwrap();
    let agent_text = m["agent_text"].as_str().unwrap();
    let played_text = m["played_text"].as_str().unwrap();
    assert_eq!(m["interrupted"], true);
    assert!(!played_text.is_empty());
    assert!(played_text.len() < agent_text.len() / 2, "{played_text}");
    assert!(
        agent_text.starts_with(played_text.trim_end_matches(|ch: char| !ch.is_alphanumeric())),
        "{played_text:?} is not a prefix of {agent_text:?}"
    );
    assert!(c
        .messages("agent_done")
        .iter()
        .any(|d| d["turn"] == 1 && d["interrupted"] == true));

    // Only the second reply's audio follows the clear; only the first's precedes it. ToneTts
    // gives each spoken chunk a level from its first character.
    let second = "Okay, what else can I do for you?";
    let spoken = spies.spoken.lock().unwrap().clone();
    let (new, old): (Vec<&String>, Vec<&String>) =
        spoken.iter().partition(|s| second.contains(s.as_str()));
    let new: Vec<i16> = new.iter().map(|s| tone_level(s)).collect();
    let old: Vec<i16> = old.iter().map(|s| tone_level(s)).collect();
    assert!(!new.is_empty() && !old.is_empty(), "{spoken:?}");
    assert!(
        new.iter().all(|l| !old.contains(l)),
        "levels must tell the replies apart"
    );
    // Before the clear, the first reply's audio may also come ducked (quieter, never louder)
    // while the interruption is confirmed.
    let loudest_old = old.iter().copied().max().unwrap_or(0);
    let mut ducked = 0;
    for (i, r) in c.log.iter().enumerate() {
        if let Received::Audio(pcm) = r {
            let level = peak(pcm);
            if i < clears[0] && !old.contains(&level) {
                assert!(level < loudest_old, "audio at {i} has level {level}");
                ducked += usize::from(level <= loudest_old / 4);
                continue;
            }
            let levels = if i < clears[0] { &old } else { &new };
            assert!(levels.contains(&level), "audio at {i} has level {level}");
        }
    }
    assert!(ducked > 0, "the agent's voice was ducked before the clear");
    assert_eq!(c.metrics_for(2).unwrap()["transcript"], "stop, stop");

    // The model's next call saw only what was heard, marked as interrupted.
    let calls = spies.calls.lock().unwrap().clone();
    let kept = calls[1]
        .iter()
        .find(|msg| msg.role == Role::Assistant)
        .expect("assistant message kept");
    assert!(kept.content.ends_with("[interrupted]"), "{}", kept.content);
    assert!(kept.content.len() < agent_text.len());
    c.close();
    server.shutdown();
}

#[test]
fn the_clients_played_reports_decide_what_was_heard() {
    // A client whose audio never starts playing (reports 0 throughout) heard nothing, however
    // much audio it was sent before it cut in.
    let server = start(barge_in_factory(), 4, &[]);
    let mut c = Client::connect(server.ws_addr()).expect("connect");
    c.report_fixed = Some(0);
    assert!(c.talk_until(&utterance(600), TURN_TIMEOUT, |c| c.audio().len() >= 36_000));
    assert!(
        c.talk_until(&synthetic_caller(&[(1_000, true)]), TURN_TIMEOUT, |c| c
            .metrics_for(1)
            .is_some())
    );
    let m = c.metrics_for(1).unwrap();
    assert_eq!(m["interrupted"], true);
    assert_eq!(m["played_text"], "", "{m}");
    assert!(c.has("clear"));
    c.close();
    server.shutdown();
}

#[test]
fn failing_sessions_tell_the_client_why_and_close_with_1011() {
    // Providers that cannot start: refused at once.
    let mut factory =
        ScriptedFactory::new(&["hello"], vec![text("Hello there, nice to meet you.")], 10);
    factory.fail_session = true;
    let server = start(factory, 4, &[]);
    let mut c = Client::connect(server.ws_addr()).expect("connect");
    c.poll(Duration::from_secs(2));
    assert_eq!(c.closed.as_ref().map(|c| c.0), Some(1011), "{:?}", c.closed);
    let errors = c.messages("error");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("no models today"),
        "{errors:?}"
    );
    assert!(wait_for(Duration::from_secs(10), || server
        .active_sessions()
        == 0));
    server.shutdown();

    // A stage that panics mid-session: the client hears why, then the session ends.
    let mut factory =
        ScriptedFactory::new(&["hello"], vec![text("Hello there, nice to meet you.")], 10);
    factory.panicking_tts = true;
    let server = start(factory, 4, &[]);
    let mut c = Client::connect(server.ws_addr()).expect("connect");
    assert!(c.talk_until(&utterance(700), TURN_TIMEOUT, |c| c.closed.is_some()));
    let (code, reason) = c.closed.clone().unwrap();
    assert_eq!(code, 1011);
    assert!(reason.contains("tts"), "{reason}");
    assert!(c
        .messages("error")
        .iter()
        .any(|e| e["stage"] == "tts" && e["message"].as_str().unwrap().contains("exploded")));
    assert!(wait_for(Duration::from_secs(10), || server
        .active_sessions()
        == 0));
    server.shutdown();
}
