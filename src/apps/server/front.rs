//! The page port's front door. tiny_http waits for a request head as long as the client likes,
//! and gives each connection a thread from a pool that can leave a newcomer's request queued
//! behind connections that never speak. So the public page port is answered here: a connection
//! goes through only once its whole request head has arrived within the handshake deadline (the
//! port's gate cuts off the oldest of too many slow ones), and is then relayed, one request per
//! connection, to tiny_http listening on loopback, which answers it at once.
//!
//! ```text
//! client --head (deadline, 16 KiB)--> front thread --head + "Connection: close"--> tiny_http
//! client <--------------- response (deadline) ---- front thread <------------------ tiny_http
//! ```

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::gate::{self, read_before, Pending};
use super::shared::Shared;

/// The longest request head let through.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// How long a response may take to reach the client (the largest file is 8 MiB).
const RESPONSE_LIMIT: Duration = Duration::from_secs(60);

/// Accept page connections until the server stops, relaying each to tiny_http at `inner`.
pub fn accept_loop(listener: TcpListener, shared: Arc<Shared>, inner: SocketAddr) {
    let gate = shared.page_gate.clone();
    let limit = shared.config.handshake_limit;
    gate::accept_loop(
        listener,
        gate,
        &shared.stopping,
        "va-page",
        move |stream, pending| relay(stream, pending, inner, limit),
    );
}

/// Why a request head did not come.
#[derive(Debug, PartialEq)]
enum NoHead {
    /// Closed, cut off or broken before the head was complete.
    Gone,
    TooSlow,
    TooBig,
}

/// Read until the end of the request head, within `deadline`: the head and whatever came after
/// it in the same reads.
fn read_head(stream: &mut TcpStream, deadline: Instant) -> Result<Vec<u8>, NoHead> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 4096];
    loop {
        let n = match read_before(stream, deadline, &mut buf) {
            Ok(0) => return Err(NoHead::Gone),
            Ok(n) => n,
            Err(e) if crate::providers::cloud::is_timeout(&e) => return Err(NoHead::TooSlow),
            Err(_) => return Err(NoHead::Gone),
        };
        let from = head.len().saturating_sub(3);
        head.extend_from_slice(&buf[..n]);
        if head[from..].windows(4).any(|w| w == b"\r\n\r\n") {
            return Ok(head);
        }
        if head.len() > MAX_HEAD_BYTES {
            return Err(NoHead::TooBig);
        }
    }
}

/// The head as tiny_http gets it: one request per connection, so that a keep-alive connection
/// cannot become a way around the deadline.
fn one_request(raw: &[u8]) -> Vec<u8> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |i| i + 2);
    let mut out = Vec::with_capacity(raw.len() + 24);
    for line in raw[..end].split_inclusive(|&b| b == b'\n') {
        let name = line.split(|&b| b == b':').next().unwrap_or_default();
        let name = String::from_utf8_lossy(name);
        let name = name.trim();
        if name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("keep-alive") {
            continue;
        }
        out.extend_from_slice(line);
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out
}

fn answer(client: &mut TcpStream, status: &str) {
    let reply = format!("HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    let _ = client.set_write_timeout(Some(Duration::from_secs(2)));
    let _ = client.write_all(reply.as_bytes());
}

fn relay(mut client: TcpStream, pending: Pending, inner: SocketAddr, limit: Duration) {
    let head = read_head(&mut client, Instant::now() + limit);
    drop(pending);
    let head = match head {
        Ok(h) => h,
        Err(NoHead::Gone) => return,
        Err(NoHead::TooSlow) => return answer(&mut client, "408 Request Timeout"),
        Err(NoHead::TooBig) => {
            return answer(&mut client, "431 Request Header Fields Too Large");
        }
    };
    if let Err(e) = forward(&mut client, &one_request(&head), inner) {
        log::debug!("page relay: {e}");
    }
    let _ = client.shutdown(Shutdown::Both);
}

/// Hand the head to tiny_http and its answer back to the client. Nothing else the client sends
/// is passed on: the page takes no request bodies, and tiny_http reads the end instead.
fn forward(client: &mut TcpStream, head: &[u8], inner: SocketAddr) -> io::Result<()> {
    let mut server = TcpStream::connect_timeout(&inner, Duration::from_secs(2))?;
    server.set_write_timeout(Some(Duration::from_secs(2)))?;
    server.write_all(head)?;
    server.shutdown(Shutdown::Write)?;
    let deadline = Instant::now() + RESPONSE_LIMIT;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = read_before(&mut server, deadline, &mut buf)?;
        if n == 0 {
            return Ok(());
        }
        let left = deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or(io::ErrorKind::TimedOut)?;
        // A client that reads too slowly to take the page within the limit is cut off.
        client.set_write_timeout(Some(left))?;
        client.write_all(&buf[..n])?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relayed_head_asks_for_one_request_only() {
        let raw =
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\n\r\nrest";
        let out = String::from_utf8(one_request(raw)).expect("ascii");
        assert_eq!(
            out,
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn a_head_must_end_within_its_deadline_and_size() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut client = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let (mut server, _) = l.accept().expect("accept");
        // Split across writes, the end marker is still found.
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r")
            .expect("write");
        client.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(50));
        client.write_all(b"\n").expect("write");
        let head = read_head(&mut server, Instant::now() + Duration::from_secs(5)).expect("head");
        assert!(head.ends_with(b"\r\n\r\n"));
        // No end in time: too slow, however recently the last byte came.
        client.write_all(b"GET / HTTP/1.1\r\n").expect("write");
        let slow = read_head(&mut server, Instant::now() + Duration::from_millis(300));
        assert_eq!(slow, Err(NoHead::TooSlow));
        // Endless headers: too big.
        let big = vec![b'x'; MAX_HEAD_BYTES + 10];
        client.write_all(&big).expect("write");
        let too_big = read_head(&mut server, Instant::now() + Duration::from_secs(5));
        assert_eq!(too_big, Err(NoHead::TooBig));
    }
}
