//! The soak's clients: WebSocket callers of every manner, slowloris trickles, silent sockets.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};

use crate::apps::server::ServerHandle;
use crate::foundation::audio::FRAME_SAMPLES;
use crate::providers::cloud::is_timeout;
use crate::providers::testing::synthetic_caller;

/// A raw HTTP request on its own connection (`Host` added unless given, one request per
/// connection): the status, and the body; status 0 when nothing came back, with the reason as
/// the body.
pub fn http(addr: SocketAddr, request_line: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut s = match TcpStream::connect(addr) {
        Ok(s) => s,
        Err(e) => return (0, format!("connect: {e}")),
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut req = format!("{request_line}\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    if let Err(e) = s.write_all(req.as_bytes()) {
        return (0, format!("write: {e}"));
    }
    let mut out = Vec::new();
    if let Err(e) = s.read_to_end(&mut out) {
        if out.is_empty() {
            return (0, format!("read: {e}"));
        }
    }
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |x| x.1).to_string();
    (status, body)
}

/// One WebSocket client.
pub struct Caller {
    ws: WebSocket<TcpStream>,
    pub ready: bool,
    /// The close code the server sent, if any.
    pub closed: Option<u16>,
    pub gone: bool,
    pub audio: usize,
    pub metrics: usize,
    /// JSON messages received, in order.
    pub messages: Vec<serde_json::Value>,
}

impl Caller {
    pub fn connect(addr: SocketAddr) -> Result<Caller, String> {
        let req = format!("ws://{addr}/ws")
            .into_client_request()
            .map_err(|e| e.to_string())?;
        let stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
        let (ws, _) = tungstenite::client(req, stream).map_err(|e| e.to_string())?;
        ws.get_ref()
            .set_read_timeout(Some(Duration::from_millis(5)))
            .map_err(|e| e.to_string())?;
        Ok(Caller {
            ws,
            ready: false,
            closed: None,
            gone: false,
            audio: 0,
            metrics: 0,
            messages: Vec::new(),
        })
    }

    pub fn send(&mut self, m: Message) {
        if self.ws.send(m).is_err() {
            self.gone = true;
        }
    }

    fn read(&mut self) {
        match self.ws.read() {
            Ok(Message::Text(t)) => {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(t.as_str()) {
                    self.ready |= v["type"] == "ready";
                    self.metrics += usize::from(v["type"] == "metrics");
                    self.messages.push(v);
                }
            }
            Ok(Message::Binary(b)) => self.audio += b.len() / 2,
            Ok(Message::Close(f)) => {
                self.closed = Some(f.map_or(1005, |f| u16::from(f.code)));
                self.gone = true;
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if is_timeout(&e) => {}
            Err(_) => self.gone = true,
        }
    }

    /// Read until `done` holds or `limit` passes; true when it held.
    pub fn until(&mut self, limit: Duration, mut done: impl FnMut(&Caller) -> bool) -> bool {
        let end = Instant::now() + limit;
        while !done(self) {
            if self.gone || Instant::now() >= end {
                return done(self);
            }
            self.read();
        }
        true
    }

    /// Talk: `pcm` in 20 ms frames at real-time pace, reading meanwhile, then silence, until
    /// `done` holds or `limit` passes.
    pub fn talk(
        &mut self,
        pcm: &[i16],
        limit: Duration,
        mut done: impl FnMut(&Caller) -> bool,
    ) -> bool {
        let start = Instant::now();
        let mut sent = 0;
        while !done(self) {
            if self.gone || start.elapsed() > limit {
                return false;
            }
            let due = (start.elapsed().as_millis() / 20) as usize + 1;
            while sent < due {
                let from = sent * FRAME_SAMPLES;
                let frame: Vec<i16> = pcm
                    .get(from..from + FRAME_SAMPLES)
                    .map_or_else(|| vec![0; FRAME_SAMPLES], <[i16]>::to_vec);
                let bytes: Vec<u8> = frame.iter().flat_map(|s| s.to_le_bytes()).collect();
                self.send(Message::binary(bytes));
                sent += 1;
            }
            self.read();
        }
        true
    }

    /// Close politely and wait for the answer.
    pub fn close(mut self) {
        let _ = self.ws.close(None);
        let end = Instant::now() + Duration::from_secs(2);
        while !self.gone && Instant::now() < end {
            self.read();
        }
    }
}

/// A caller's words: a tone burst the energy VAD hears.
fn utterance() -> Vec<i16> {
    synthetic_caller(&[(200, false), (600, true)])
}

/// Connect, retrying while every slot is taken (a slot frees when a session's threads end).
fn connect_with_slot(addr: SocketAddr) -> Result<Caller, String> {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let mut c = Caller::connect(addr)?;
        c.until(Duration::from_secs(5), |c| c.ready || c.gone);
        if c.ready {
            return Ok(c);
        }
        if Instant::now() >= end {
            return Err(format!("no slot (closed {:?})", c.closed));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One polite session: ready, then a closing handshake.
pub fn polite(addr: SocketAddr) -> Result<(), String> {
    connect_with_slot(addr)?.close();
    Ok(())
}

/// How the churn went.
#[derive(Debug, Default)]
pub struct Churn {
    pub polite: usize,
    pub abrupt: usize,
    pub mid_reply: usize,
    pub never_reading: usize,
    pub failed: usize,
    pub seconds: f64,
}

impl Churn {
    pub fn total(&self) -> usize {
        self.polite + self.abrupt + self.mid_reply + self.never_reading + self.failed
    }
}

/// `n` sessions, `parallel` at a time, in four manners.
pub fn churn(addr: SocketAddr, n: usize, parallel: usize) -> Churn {
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let counts: Arc<[AtomicUsize; 5]> = Arc::new(Default::default());
    let workers: Vec<JoinHandle<()>> = (0..parallel.max(1))
        .map(|_| {
            let (next, counts) = (next.clone(), counts.clone());
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::AcqRel);
                if i >= n {
                    return;
                }
                let kind = match i % 10 {
                    0..=3 => 0,
                    4..=6 => 1,
                    7 => 2,
                    _ => 3,
                };
                let ok = match kind {
                    0 => polite(addr).is_ok(),
                    1 => connect_with_slot(addr).is_ok(), // dropped at once: abrupt
                    2 => connect_with_slot(addr).is_ok_and(|mut c| {
                        // Hang up as soon as the agent starts answering.
                        c.talk(&utterance(), Duration::from_secs(10), |c| c.audio > 0);
                        true
                    }),
                    _ => connect_with_slot(addr).is_ok_and(|mut c| {
                        // Talk without ever reading, then vanish.
                        for frame in utterance().chunks(FRAME_SAMPLES) {
                            let bytes: Vec<u8> =
                                frame.iter().flat_map(|s| s.to_le_bytes()).collect();
                            c.send(Message::binary(bytes));
                        }
                        std::thread::sleep(Duration::from_millis(300));
                        true
                    }),
                };
                let slot = if ok { kind } else { 4 };
                counts[slot].fetch_add(1, Ordering::AcqRel);
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    let c = |i: usize| counts[i].load(Ordering::Acquire);
    Churn {
        polite: c(0),
        abrupt: c(1),
        mid_reply: c(2),
        never_reading: c(3),
        failed: c(4),
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Slowloris clients, reconnecting whenever the server cuts them off, until stopped.
pub struct Trickles {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Trickles {
    pub fn stop(self) {
        self.stop.store(true, Ordering::Release);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// `n` clients trickling requests a byte every 500 ms, half to each port.
pub fn slowloris(server: &ServerHandle, n: usize) -> Trickles {
    let stop = Arc::new(AtomicBool::new(false));
    let threads = (0..n)
        .map(|i| {
            let addr = if i % 2 == 0 {
                server.ws_addr()
            } else {
                server.local_addr()
            };
            let stop = stop.clone();
            std::thread::spawn(move || {
                let request = b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
                while !stop.load(Ordering::Acquire) {
                    let Ok(mut s) = TcpStream::connect(addr) else {
                        std::thread::sleep(Duration::from_millis(200));
                        continue;
                    };
                    for b in request.iter().cycle() {
                        if stop.load(Ordering::Acquire) || s.write_all(&[*b]).is_err() {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(500));
                    }
                }
            })
        })
        .collect();
    // Let them all be connected before anyone measures.
    std::thread::sleep(Duration::from_millis(500));
    Trickles { stop, threads }
}

/// `n` TCP connections that send nothing, half to each port, held while the result lives.
pub fn silent_sockets(server: &ServerHandle, n: usize) -> Vec<TcpStream> {
    (0..n)
        .filter_map(|i| {
            let addr = if i % 2 == 0 {
                server.ws_addr()
            } else {
                server.local_addr()
            };
            TcpStream::connect(addr).ok()
        })
        .collect()
}

/// A caller loads the page as a browser would, connects and says something: seconds from the
/// first request to `ready`, and from speaking to the answer's end.
pub fn served_within(server: &ServerHandle) -> Result<(f64, f64), String> {
    let start = Instant::now();
    for path in ["/", "/config.json"] {
        let (status, _) = http(server.local_addr(), &format!("GET {path} HTTP/1.1"), &[]);
        if status != 200 {
            return Err(format!("GET {path}: status {status}"));
        }
    }
    let mut c = Caller::connect(server.ws_addr())?;
    if !c.until(Duration::from_secs(10), |c| c.ready) {
        return Err(format!("no session (closed {:?})", c.closed));
    }
    let ready = start.elapsed().as_secs_f64();
    let turn = Instant::now();
    if !c.talk(&utterance(), Duration::from_secs(20), |c| c.metrics > 0) {
        return Err("no answer".into());
    }
    let answered = turn.elapsed().as_secs_f64();
    c.close();
    Ok((ready, answered))
}

/// Every slot taken by a session that sends and reads nothing; seconds until a new caller
/// gets a session (the silent ones are closed at the idle timeout).
pub fn silent_sessions_then_caller(server: &ServerHandle, slots: usize) -> Option<f64> {
    let silent: Vec<Caller> = (0..slots)
        .filter_map(|_| {
            let mut c = Caller::connect(server.ws_addr()).ok()?;
            c.until(Duration::from_secs(5), |c| c.ready).then_some(c)
        })
        .collect();
    if silent.len() < slots {
        return None;
    }
    let start = Instant::now();
    let got = loop {
        if start.elapsed() > Duration::from_secs(120) {
            break None;
        }
        if let Ok(mut c) = Caller::connect(server.ws_addr()) {
            if c.until(Duration::from_secs(2), |c| c.ready || c.gone) && c.ready {
                c.close();
                break Some(start.elapsed().as_secs_f64());
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    drop(silent);
    got
}
