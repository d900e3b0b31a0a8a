//! One WebSocket, read by one thread and written by another. tungstenite's `WebSocket` cannot be
//! split, so each side keeps its own protocol state on a clone of the `TcpStream`:
//!
//! ```text
//! client --frames--> Reader (tungstenite WebSocket: handshake, unmasking, ping, close)
//!                       | its pong and close replies, as raw bytes
//!                       v
//! pipeline output, replies --ToClient--> Writer thread (tungstenite WebSocketContext) --frames--> client
//! ```
//!
//! Only the writer thread writes to the socket, so frames never interleave; the reader's
//! automatic replies reach it through the same channel as everything else, in order.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use socket2::{SockRef, TcpKeepalive};
use tungstenite::error::{CapacityError, Error};
use tungstenite::handshake::server::{Callback, ErrorResponse};
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig, WebSocketContext};
use tungstenite::{Message, WebSocket};

use super::gate::read_before;
use super::protocol::close;
use crate::orchestration::pipeline::Output;
use crate::providers::cloud::is_timeout;

/// A client that does not take our data for this long is gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// WebSocket-level ceiling; the protocol's own limits are far below it.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;

fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES))
        .max_write_buffer_size(4 * 1024 * 1024)
}

/// What the writer thread sends, in the order it gets it.
#[derive(Debug)]
pub enum ToClient {
    /// The session's output: agent audio (binary) and events (JSON).
    Output(Output),
    /// A JSON message of the server's own (ready, protocol errors).
    Json(String),
    /// Bytes the reader's WebSocket wrote (pong and close replies), already framed.
    Raw(Vec<u8>),
    /// Close the connection with this code and reason.
    Close(u16, String),
    /// The client sent its close: only our reply to it (the next `Raw`) may follow.
    PeerClosing,
    /// The reader has stopped: the client is gone (after its close, if it sent one).
    ReaderEnded { why: String },
    /// The pipeline's sink has ended while the client is still there: the session failed.
    SinkEnded,
}

/// Why the socket stopped.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The client closed the connection (cleanly or not).
    #[error("connection closed")]
    Closed,
    /// No message within the read timeout.
    #[error("no message for {0:?}")]
    Idle(Duration),
    /// The client broke the WebSocket protocol; close with this code and reason.
    #[error("{1}")]
    Protocol(u16, String),
    #[error("socket: {0}")]
    Io(#[from] io::Error),
}

/// Where the reader's WebSocket writes: straight to the socket during the handshake (the
/// writer thread does not exist yet), then through the writer thread's channel.
enum ReplyTo {
    Socket(TcpStream),
    Writer(Sender<ToClient>),
}

/// The reader's stream: reads the socket, writes its replies to the writer.
pub struct ReaderIo {
    read: TcpStream,
    replies: ReplyTo,
    /// While set (the handshake, the wait for an answer to our close), every read waits only
    /// for what is left until then: a client trickling a byte at a time gets no more than the
    /// whole allowance.
    deadline: Option<Instant>,
}

impl Read for ReaderIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.deadline {
            Some(deadline) => read_before(&mut self.read, deadline, buf),
            None => self.read.read(buf),
        }
    }
}

impl Write for ReaderIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.replies {
            ReplyTo::Socket(s) => s.write(buf),
            ReplyTo::Writer(tx) => {
                // A writer too far behind to take a pong has a client that is not reading.
                match tx.try_send(ToClient::Raw(buf.to_vec())) {
                    Ok(()) | Err(TrySendError::Disconnected(_)) => Ok(buf.len()),
                    Err(TrySendError::Full(_)) => Err(io::ErrorKind::WouldBlock.into()),
                }
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.replies {
            ReplyTo::Socket(s) => s.flush(),
            ReplyTo::Writer(_) => Ok(()),
        }
    }
}

/// The reading half: tungstenite's WebSocket over the socket's read side.
pub struct Reader {
    ws: WebSocket<ReaderIo>,
    idle: Duration,
}

/// TCP keepalive: a peer whose machine or network vanished is found within about 30 s even
/// when neither side has anything to send.
fn keepalive(stream: &TcpStream) -> io::Result<()> {
    let ka = TcpKeepalive::new()
        .with_time(Duration::from_secs(15))
        .with_interval(Duration::from_secs(5))
        .with_retries(3);
    SockRef::from(stream).set_tcp_keepalive(&ka)
}

/// Accept a WebSocket on `stream`: tungstenite reads the request and answers it, asking
/// `callback` (path, Host and Origin checks) first, all within `handshake_limit`. `idle`: how
/// long a client that sends nothing (not even a pong) is kept.
pub fn accept(
    stream: TcpStream,
    callback: impl Callback,
    handshake_limit: Duration,
    idle: Duration,
) -> Result<(Reader, TcpStream), Error> {
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    stream.set_nodelay(true)?;
    keepalive(&stream)?;
    let write = stream.try_clone()?;
    let io = ReaderIo {
        replies: ReplyTo::Socket(stream.try_clone()?),
        read: stream,
        deadline: Some(Instant::now() + handshake_limit),
    };
    let mut ws =
        tungstenite::accept_hdr_with_config(io, callback, Some(config())).map_err(|e| match e {
            HandshakeError::Failure(e) => e,
            HandshakeError::Interrupted(_) => Error::Io(io::ErrorKind::TimedOut.into()),
        })?;
    ws.get_mut().deadline = None;
    ws.get_ref().read.set_read_timeout(Some(idle))?;
    Ok((Reader { ws, idle }, write))
}

/// An answer to a refused upgrade, with a plain-text reason.
pub fn refusal(status: u16, reason: &str) -> ErrorResponse {
    let mut r = ErrorResponse::new(Some(reason.to_string()));
    *r.status_mut() = tungstenite::http::StatusCode::from_u16(status)
        .unwrap_or(tungstenite::http::StatusCode::BAD_REQUEST);
    r
}

impl Reader {
    /// From now on the reader's replies go through the writer thread.
    pub fn reply_through(&mut self, writer: Sender<ToClient>) {
        self.ws.get_mut().replies = ReplyTo::Writer(writer);
    }

    /// The next message; blocks until one arrives or the idle timeout passes.
    pub fn recv(&mut self) -> Result<Message, SocketError> {
        match self.ws.read() {
            Ok(m) => Ok(m),
            Err(Error::Io(e)) if is_timeout(&e) => Err(SocketError::Idle(self.idle)),
            Err(Error::ConnectionClosed | Error::AlreadyClosed) => Err(SocketError::Closed),
            Err(Error::Io(e)) => Err(SocketError::Io(e)),
            Err(Error::Capacity(CapacityError::MessageTooLong { size, max_size })) => {
                Err(SocketError::Protocol(
                    close::TOO_BIG,
                    format!("message of {size} bytes exceeds {max_size}"),
                ))
            }
            Err(Error::Utf8(_)) => Err(SocketError::Protocol(
                close::INVALID_DATA,
                "text message is not valid UTF-8".into(),
            )),
            Err(e) => Err(SocketError::Protocol(
                close::POLICY,
                format!("WebSocket protocol error: {e}"),
            )),
        }
    }

    /// The client sent its close: hand our reply to the writer (as raw bytes, after a marker
    /// that stops everything else).
    pub fn answer_close(&mut self, writer: &Sender<ToClient>) {
        let _ = writer.send(ToClient::PeerClosing);
        // An error means the reply cannot go out; the connection is ending either way.
        let _ = self.ws.flush();
    }

    /// After a protocol error the WebSocket layer cannot parse on: read and discard what the
    /// client still sends until it closes or `wait` passes. Closing a socket with unread input
    /// resets the connection, and the reset could destroy our close frame before the client
    /// reads it.
    pub fn drain_raw(&mut self, wait: Duration) {
        let deadline = std::time::Instant::now() + wait;
        let stream = &mut self.ws.get_mut().read;
        let mut buf = [0u8; 8192];
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            if stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .is_err()
            {
                return;
            }
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }

    /// Wait at most `wait` for the client's answer to our close.
    pub fn expect_close_within(&mut self, wait: Duration) {
        self.ws.get_mut().deadline = Some(Instant::now() + wait);
    }
}

/// The writing half: runs on its own thread until told to stop or the client is gone.
pub struct Writer {
    ctx: WebSocketContext,
    io: WriterIo,
    /// When our close frame went out.
    closed_at: Option<Instant>,
    /// When the call must end, if it has a limit.
    call_ends: Option<Instant>,
    ping_every: Duration,
    /// The client closed first.
    peer_closed: bool,
}

/// The socket's write side (the writer never reads).
struct WriterIo(TcpStream);

impl Read for WriterIo {
    fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

impl Write for WriterIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// What the writer does when nothing arrives in time.
enum Quiet {
    Ping,
    EndCall,
    Shut,
}

/// Why the writer stopped writing.
#[derive(Debug, PartialEq, Eq)]
pub enum WriterEnd {
    /// The reader has stopped (the client closed, broke the protocol, or went away).
    ReaderEnded(String),
    /// The session's pipeline ended while the client was there.
    SinkEnded,
    /// The client stopped taking data, or the connection broke.
    Broken(String),
}

/// How long the client has to answer our close before the socket is shut.
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// A quiet connection gets a ping this often (unless set otherwise); the client's pong counts
/// as a sign of life.
pub const PING_EVERY: Duration = Duration::from_secs(10);

impl Writer {
    pub fn new(stream: TcpStream) -> Self {
        Self {
            ctx: WebSocketContext::new(Role::Server, Some(config())),
            io: WriterIo(stream),
            closed_at: None,
            call_ends: None,
            ping_every: PING_EVERY,
            peer_closed: false,
        }
    }

    fn send(&mut self, msg: Message) -> Result<(), String> {
        self.ctx
            .write(&mut self.io, msg)
            .map_err(|e| write_error(&e))
    }

    /// Ping a quiet connection this often: well within the reader's idle timeout, so a live
    /// client's pongs keep it open.
    pub fn ping_every(&mut self, every: Duration) {
        self.ping_every = every.max(Duration::from_millis(100));
    }

    /// End the call at `at` with a close (1001), if it is still on.
    pub fn end_call_at(&mut self, at: Instant) {
        self.call_ends = Some(at);
    }

    /// Send a close frame now. What arrives afterwards is discarded, until the reader ends.
    pub fn close(&mut self, code: u16, reason: &str) {
        if self.closed_at.is_some() {
            return;
        }
        self.closed_at = Some(Instant::now());
        let frame = CloseFrame {
            code: CloseCode::from(code),
            // Control frames carry at most 125 bytes, 2 of them the code.
            reason: truncate(reason, 123).into(),
        };
        if let Err(e) = self.ctx.close(&mut self.io, Some(frame)) {
            log::debug!("ws writer: close: {}", write_error(&e));
        }
    }

    /// Stop: shut the socket, so the reader's blocked read ends too.
    pub fn shut(&self) {
        let _ = self.io.0.shutdown(Shutdown::Both);
    }

    /// Write what arrives, in order, until the reader ends, the sink ends, or the connection
    /// breaks. After a close frame went out, the client has `CLOSE_WAIT` to answer it.
    pub fn run(&mut self, rx: &Receiver<ToClient>) -> WriterEnd {
        loop {
            // What to do when nothing arrives: after our close, give up on the client; at the
            // call's limit, close; on a quiet line, ping.
            let now = Instant::now();
            let (wake, on_quiet) = if let Some(at) = self.closed_at {
                (at + CLOSE_WAIT, Quiet::Shut)
            } else if self.peer_closed {
                // The reader ends as soon as our reply to the client's close is out.
                (now + CLOSE_WAIT, Quiet::Shut)
            } else if let Some(end) = self.call_ends.filter(|e| *e <= now + self.ping_every) {
                (end, Quiet::EndCall)
            } else {
                (now + self.ping_every, Quiet::Ping)
            };
            let msg = match rx.recv_deadline(wake) {
                Ok(m) => m,
                Err(RecvTimeoutError::Disconnected) => {
                    return WriterEnd::ReaderEnded("every sender is gone".into());
                }
                Err(RecvTimeoutError::Timeout) => {
                    match on_quiet {
                        Quiet::Shut => self.shut(),
                        Quiet::EndCall => self.close(
                            super::protocol::close::GOING_AWAY,
                            "call time limit reached",
                        ),
                        Quiet::Ping => {
                            let pinged =
                                self.send(Message::Ping(Vec::new().into())).and_then(|()| {
                                    self.ctx.flush(&mut self.io).map_err(|e| write_error(&e))
                                });
                            if let Err(why) = pinged {
                                self.shut();
                                return WriterEnd::Broken(why);
                            }
                        }
                    }
                    continue;
                }
            };
            let closed = self.closed_at.is_some();
            let sent = match msg {
                ToClient::ReaderEnded { why } => return WriterEnd::ReaderEnded(why),
                ToClient::SinkEnded => return WriterEnd::SinkEnded,
                ToClient::Close(code, reason) if !self.peer_closed => {
                    self.close(code, &reason);
                    Ok(())
                }
                ToClient::PeerClosing => {
                    self.peer_closed = true;
                    Ok(())
                }
                // The reader's pong or close reply, framed already; after our own close, its
                // reply to the client's answer is not needed.
                ToClient::Raw(bytes) if !closed => self
                    .ctx
                    .flush(&mut self.io)
                    .map_err(|e| write_error(&e))
                    .and_then(|()| self.io.write_all(&bytes).map_err(|e| e.to_string())),
                // Nothing more goes out after either side's close.
                _ if closed || self.peer_closed => Ok(()),
                ToClient::Output(Output::Audio(pcm)) => self.send(Message::binary(
                    pcm.iter()
                        .flat_map(|s| s.to_le_bytes())
                        .collect::<Vec<u8>>(),
                )),
                ToClient::Output(Output::Event(e)) => match serde_json::to_string(&e) {
                    Ok(s) => self.send(Message::text(s)),
                    Err(err) => {
                        log::error!("ws: cannot serialise {e:?}: {err}");
                        Ok(())
                    }
                },
                ToClient::Json(s) => self.send(Message::text(s)),
                ToClient::Raw(_) | ToClient::Close(..) => Ok(()),
            };
            if let Err(why) = sent {
                log::debug!("ws writer: {why}");
                self.shut();
                return WriterEnd::Broken(why);
            }
            // Batch what is already waiting; flush when the queue is empty.
            if rx.is_empty() && self.closed_at.is_none() {
                if let Err(e) = self.ctx.flush(&mut self.io) {
                    let why = write_error(&e);
                    self.shut();
                    return WriterEnd::Broken(why);
                }
            }
        }
    }
}

fn write_error(e: &Error) -> String {
    match e {
        // With a write timeout, a blocked write comes back as WouldBlock: the client stopped reading.
        Error::Io(e) if is_timeout(e) => "client is not reading".into(),
        other => other.to_string(),
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

    #[test]
    fn close_reasons_are_cut_at_a_character_boundary() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("short", 123), "short");
    }
}
