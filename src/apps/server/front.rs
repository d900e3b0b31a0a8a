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

use super::gate::{self, read_before, time_left, Pending};
use super::shared::Shared;

/// The longest request head let through.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// The largest request body let through (the telephony webhook's form is a few hundred bytes).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
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
    BodyTooBig,
    /// A body without a length (chunked): not taken.
    NoLength,
}

/// Read until the end of the request head, within `deadline`: the head and whatever came after
/// it in the same reads.
fn read_head(stream: &mut TcpStream, deadline: Instant) -> Result<Vec<u8>, NoHead> {
    let mut head = Vec::with_capacity(1024);
    loop {
        let from = head.len().saturating_sub(3);
        read_more(stream, deadline, &mut head)?;
        if head[from..].windows(4).any(|w| w == b"\r\n\r\n") {
            return Ok(head);
        }
        if head.len() > MAX_HEAD_BYTES {
            return Err(NoHead::TooBig);
        }
    }
}

/// Add what the client sends next to `raw`, waiting no later than `deadline`.
fn read_more(stream: &mut TcpStream, deadline: Instant, raw: &mut Vec<u8>) -> Result<(), NoHead> {
    let mut buf = [0u8; 4096];
    match read_before(stream, deadline, &mut buf) {
        Ok(0) => Err(NoHead::Gone),
        Ok(n) => {
            raw.extend_from_slice(&buf[..n]);
            Ok(())
        }
        Err(e) if crate::providers::cloud::is_timeout(&e) => Err(NoHead::TooSlow),
        Err(_) => Err(NoHead::Gone),
    }
}

/// The end of the head in `raw` (after its blank line).
fn head_end(raw: &[u8]) -> usize {
    raw.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |i| i + 4)
}

/// How long the body after `head` is, from its `Content-Length`.
fn body_length(head: &[u8]) -> Result<usize, NoHead> {
    let text = String::from_utf8_lossy(&head[..head_end(head)]);
    let mut length = 0;
    for line in text.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(NoHead::NoLength);
        }
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().map_err(|_| NoHead::NoLength)?;
        }
    }
    if length > MAX_BODY_BYTES {
        return Err(NoHead::BodyTooBig);
    }
    Ok(length)
}

/// The whole request: the head, and the body its `Content-Length` announces, all within
/// `deadline`.
fn read_request(stream: &mut TcpStream, deadline: Instant) -> Result<Vec<u8>, NoHead> {
    let mut raw = read_head(stream, deadline)?;
    let want = head_end(&raw) + body_length(&raw)?;
    while raw.len() < want {
        read_more(stream, deadline, &mut raw)?;
    }
    raw.truncate(want);
    Ok(raw)
}

/// The head as tiny_http gets it: one request per connection, so that a keep-alive connection
/// cannot become a way around the deadline.
fn one_request(raw: &[u8]) -> Vec<u8> {
    let body = head_end(raw);
    // The header lines, each with its line end, without the blank line.
    let end = body.saturating_sub(2);
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
    out.extend_from_slice(&raw[body..]);
    out
}

fn answer(client: &mut TcpStream, status: &str) {
    let reply = format!("HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    let _ = client.set_write_timeout(Some(Duration::from_secs(2)));
    let _ = client.write_all(reply.as_bytes());
}

fn relay(mut client: TcpStream, pending: Pending, inner: SocketAddr, limit: Duration) {
    let request = read_request(&mut client, Instant::now() + limit);
    drop(pending);
    let head = match request {
        Ok(r) => r,
        Err(NoHead::Gone) => return,
        Err(NoHead::TooSlow) => return answer(&mut client, "408 Request Timeout"),
        Err(NoHead::TooBig) => {
            return answer(&mut client, "431 Request Header Fields Too Large");
        }
        Err(NoHead::BodyTooBig) => return answer(&mut client, "413 Content Too Large"),
        Err(NoHead::NoLength) => return answer(&mut client, "411 Length Required"),
    };
    if let Err(e) = forward(&mut client, &one_request(&head), inner) {
        log::debug!("page relay: {e}");
    }
    let _ = client.shutdown(Shutdown::Both);
}

/// Hand the request to tiny_http and its answer back to the client. Nothing after the request
/// is passed on: tiny_http reads the end instead.
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
        // A client that reads too slowly to take the page within the limit is cut off.
        client.set_write_timeout(Some(time_left(deadline)?))?;
        client.write_all(&buf[..n])?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relayed_request_is_one_request_with_its_body() {
        let raw = b"POST /twiml HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\nContent-Length: 4\r\n\r\nbody";
        let out = String::from_utf8(one_request(raw)).expect("ascii");
        assert_eq!(
            out,
            "POST /twiml HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody"
        );
        assert_eq!(body_length(raw), Ok(4));
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(body_length(chunked), Err(NoHead::NoLength));
        let huge = b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n";
        assert_eq!(body_length(huge), Err(NoHead::BodyTooBig));
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
