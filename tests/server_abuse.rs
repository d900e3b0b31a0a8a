//! The server holds up under abuse: a client that trickles its handshake, a plain HTTP client
//! that says nothing, a WebSocket session that goes silent, a call past its time limit, a
//! rebound host name on a public address. Each would have held a thread or a slot for good.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{http_request, wait_for, Client, ScriptedFactory};
use voice_agent::apps::server::{self, ServerConfig, ServerHandle};
use voice_agent::providers::testing::ScriptStep;

fn start(config: ServerConfig) -> ServerHandle {
    let factory = ScriptedFactory::new(&["hello"], vec![vec![ScriptStep::Text("Hi.".into())]], 10);
    server::start(config, Arc::new(factory)).expect("server starts")
}

fn quick() -> ServerConfig {
    ServerConfig {
        bind: "127.0.0.1:0".into(),
        handshake_limit: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        ..ServerConfig::default()
    }
}

/// Write `text` a byte at a time, `gap` apart, until the server hangs up; returns how long
/// the server let it go on.
fn trickle(addr: SocketAddr, text: &str, gap: Duration) -> Duration {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 512];
    for b in text.bytes().cycle() {
        if s.write_all(&[b]).is_err() {
            break;
        }
        match s.read(&mut buf) {
            Ok(0) => break,
            // The server's refusal (408 on the page's side): it gave up on us.
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
        std::thread::sleep(gap);
        if start.elapsed() > Duration::from_secs(20) {
            break;
        }
    }
    start.elapsed()
}

#[test]
fn a_handshake_trickled_a_byte_at_a_time_is_cut_off_at_its_total_deadline() {
    let server = start(quick());
    // Each byte comes well within any per-read timeout; only a deadline for the whole
    // handshake stops it.
    let request = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n";
    let lasted = trickle(server.ws_addr(), request, Duration::from_millis(150));
    assert!(lasted < Duration::from_secs(5), "held for {lasted:?}");
    server.shutdown();
}

#[test]
fn silent_and_trickling_http_clients_do_not_keep_the_page_from_anyone() {
    let server = start(quick());
    let page = server.local_addr();
    // More silent connections than the page port lets wait for their request head, and some
    // that trickle one: tiny_http itself would keep a thread for each, for good, and could
    // leave a newcomer's request queued behind them.
    let mut silent: Vec<TcpStream> = (0..80)
        .map(|_| TcpStream::connect(page).expect("connect"))
        .collect();
    let trickling: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                trickle(
                    page,
                    "GET / HTTP/1.1\r\nX-Slow: ",
                    Duration::from_millis(500),
                )
            })
        })
        .collect();
    let (status, body) = common::http_get(page, "/");
    assert_eq!(status, 200, "{body}");
    let mut c = Client::connect(server.ws_addr()).expect("a caller still gets a session");
    c.poll(Duration::from_millis(200));
    assert!(c.has("ready"));
    // Every silent connection ends: cut off as the oldest of too many, or answered 408 at its
    // deadline. None is left holding a thread.
    for s in &mut silent {
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut out = Vec::new();
        assert!(
            s.read_to_end(&mut out).is_ok(),
            "a silent connection is still open"
        );
        let out = String::from_utf8_lossy(&out);
        assert!(out.is_empty() || out.starts_with("HTTP/1.1 408"), "{out}");
    }
    c.close();
    server.shutdown();
    drop(trickling);
}

#[test]
fn a_silent_websocket_session_is_closed_and_its_slot_freed() {
    let server = start(ServerConfig {
        max_sessions: 1,
        ..quick()
    });
    let mut silent = Client::connect(server.ws_addr()).expect("connect");
    silent.poll(Duration::from_millis(200));
    assert!(silent.has("ready"));
    assert_eq!(server.active_sessions(), 1);
    // It sends nothing and reads nothing (so it answers no ping) from here on.
    assert!(
        wait_for(Duration::from_secs(10), || server.active_sessions() == 0),
        "the silent session kept its slot"
    );
    // The server said why before it hung up; a client that reads it only now may find the
    // connection reset under it instead (its pong to our last ping lands on a closed socket).
    silent.poll(Duration::from_millis(300));
    match silent.closed.clone() {
        Some((code, reason)) => {
            assert_eq!(code, 1001);
            assert!(reason.contains("nothing received"), "{reason}");
        }
        None => assert!(silent.ended, "the connection is over"),
    }
    // The slot is free for the next caller.
    let mut next = Client::connect(server.ws_addr()).expect("connect");
    next.poll(Duration::from_millis(300));
    assert!(next.has("ready"), "{:?}", next.closed);
    server.shutdown();
}

#[test]
fn a_live_client_that_only_answers_pings_stays() {
    let server = start(quick());
    let mut c = Client::connect(server.ws_addr()).expect("connect");
    // Reading answers the server's pings; three idle timeouts pass.
    c.poll(Duration::from_secs(3));
    assert!(c.closed.is_none(), "{:?}", c.closed);
    assert_eq!(server.active_sessions(), 1);
    c.close();
    server.shutdown();
}

#[test]
fn a_call_past_its_time_limit_is_closed() {
    let server = start(ServerConfig {
        max_call: Some(Duration::from_secs(1)),
        idle_timeout: Duration::from_secs(30),
        ..quick()
    });
    let mut c = Client::connect(server.ws_addr()).expect("connect");
    let start = Instant::now();
    c.talk_until(&[], Duration::from_secs(8), |c| c.closed.is_some());
    let (code, reason) = c.closed.clone().expect("closed");
    assert_eq!(code, 1001);
    assert!(reason.contains("time limit"), "{reason}");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    assert!(wait_for(Duration::from_secs(10), || server
        .active_sessions()
        == 0));
    server.shutdown();
}

#[test]
fn a_public_server_refuses_a_rebound_host_name() {
    let server = start(ServerConfig {
        bind: "0.0.0.0:0".into(),
        allowed_hosts: vec!["voice.example".into()],
        ..quick()
    });
    let page = SocketAddr::from(([127, 0, 0, 1], server.local_addr().port()));
    let ws = SocketAddr::from(([127, 0, 0, 1], server.ws_addr().port()));
    let get = |host: &str| http_request(page, "GET / HTTP/1.1", &[("Host", host)]).0;
    assert_eq!(get("attacker.example"), 403, "a rebound name");
    assert_eq!(get("voice.example"), 200);
    assert_eq!(get(&page.to_string()), 200, "an address is no rebinding");
    let upgrade = |host: &str| {
        http_request(
            ws,
            "GET /ws HTTP/1.1",
            &[
                ("Host", host),
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Version", "13"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ],
        )
        .0
    };
    assert_eq!(upgrade("attacker.example:1234"), 403);
    // Two Host headers: which one a check reads and which one a proxy reads can differ.
    let twice = [("Host", "voice.example"), ("Host", "attacker.example")];
    assert_eq!(http_request(page, "GET / HTTP/1.1", &twice).0, 400);
    let mut upgrade_twice = twice.to_vec();
    upgrade_twice.extend([
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ]);
    assert_eq!(http_request(ws, "GET /ws HTTP/1.1", &upgrade_twice).0, 400);
    let mut c = Client::connect(ws).expect("by address");
    c.poll(Duration::from_millis(200));
    assert!(c.has("ready"), "{:?}", c.closed);
    c.close();
    server.shutdown();
}
