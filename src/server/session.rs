//! One WebSocket session: providers from the factory, a pipeline over the socket transport, the
//! socket loop that answers the client, and a teardown that leaves no thread behind.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tungstenite::Message;

use super::protocol::{
    close, parse_client_message, ready_message, ClientMessage, FrameAssembler, InputBudget,
    ProtocolError,
};
use super::ws::{self, Outbox, PushError, Socket, SocketError, Wire};
use crate::pipeline::{Event, Events, Pipeline, PipelineConfig, SessionParts};
use crate::providers::SessionFactory;

/// Pipeline events waiting for the socket thread.
const EVENT_QUEUE: usize = 1_024;
/// Audio a client may send ahead of real time (catching up after a hiccup).
const BURST_MS: u64 = 1_000;
/// Audio refused for running ahead of real time before the client is cut off.
const FLOOD_LIMIT_MS: u64 = 10_000;
/// Invalid messages tolerated before the client is cut off.
const MAX_BAD_MESSAGES: u32 = 100;
/// A new flood warning is sent only after this long without dropped frames.
const FLOOD_QUIET: Duration = Duration::from_secs(2);
/// The longest teardown waits for the pipeline to wind down after the socket closed.
const TEARDOWN_LIMIT: Duration = Duration::from_secs(30);

/// What a session needs from its server.
pub struct SessionContext<'a> {
    pub id: u64,
    pub peer: String,
    pub factory: &'a dyn SessionFactory,
    pub providers: &'a [String],
    pub pipeline: &'a PipelineConfig,
    pub stopping: &'a AtomicBool,
}

/// How the socket loop ended.
enum Ending {
    /// The client went away (closed, reset, or stopped reading).
    Gone(String),
    /// We close the connection with this code and reason.
    Close(u16, String),
    /// The pipeline ended on its own (a stage failed).
    PipelineEnded,
}

/// The client-facing state of a session.
struct Inbound {
    assembler: FrameAssembler,
    budget: InputBudget,
    bad_messages: u32,
    last_drop: Option<Instant>,
}

/// Run a session on an upgraded socket until either side ends it.
pub fn run(mut socket: Socket, ctx: SessionContext<'_>) {
    let started = Instant::now();
    let providers = match ctx.factory.session() {
        Ok(p) => p,
        Err(e) => {
            log::error!("session {}: cannot start: {e}", ctx.id);
            let _ = socket.send(error_wire(
                "session",
                &format!("cannot start a session: {e}"),
            ));
            socket.close(close::INTERNAL, "cannot start a session");
            return;
        }
    };
    let (events, events_rx) = Events::channel(EVENT_QUEUE);
    let (input, output, mut outbox) = ws::transport(events_rx);
    let parts = SessionParts::new(providers, Box::new(input), Box::new(output), events);
    let pipeline = Pipeline::spawn(parts, ctx.pipeline.clone());
    log::info!("session {} started for {}", ctx.id, ctx.peer);

    let ending = if let Err(e) = socket
        .send(Wire::Json(ready_message(ctx.id, ctx.providers)))
        .and_then(|()| socket.flush())
    {
        Ending::Gone(e.to_string())
    } else {
        // The client streams from the moment the socket opens: audio it sent while the
        // providers were being made arrives at once, and is not a flood.
        let mut budget = InputBudget::new(BURST_MS, Instant::now());
        budget.grant(started.elapsed().as_millis() as u64);
        let mut inbound = Inbound {
            assembler: FrameAssembler::default(),
            budget,
            bad_messages: 0,
            last_drop: None,
        };
        serve(&mut socket, &mut outbox, &mut inbound, ctx.stopping)
    };
    if let Ending::Close(code, reason) = &ending {
        log::info!("session {}: closing ({code}): {reason}", ctx.id);
        socket.close(*code, reason);
    }

    // The caller is gone: end the input, and cut off whatever the agent is still doing (a
    // reply would otherwise play out in real time to nobody) until the sink has ended.
    outbox.close_input();
    let generation = pipeline.generation().clone();
    let deadline = Instant::now() + TEARDOWN_LIMIT;
    // Messages made meanwhile; only a failed session's are sent (the client is still there).
    let mut pending = Vec::new();
    let json = |w: &Wire| matches!(w, Wire::Json(_));
    while !outbox.sink_gone() && Instant::now() < deadline {
        generation.bump();
        pending.extend(outbox.drain().into_iter().filter(json));
        std::thread::sleep(Duration::from_millis(10));
    }
    if !outbox.sink_gone() {
        log::error!(
            "session {}: pipeline still running after {TEARDOWN_LIMIT:?}",
            ctx.id
        );
    }
    let outcome = pipeline.join();
    if let Ending::PipelineEnded = ending {
        // Tell the client why (the failing stage's error event) before closing.
        pending.extend(outbox.drain().into_iter().filter(json));
        for w in pending {
            if socket.send(w).is_err() {
                break;
            }
        }
        let reason = format!("the session failed ({})", outcome.failed_stages.join(", "));
        socket.close(close::INTERNAL, &reason);
    }
    let why = match &ending {
        Ending::Gone(why) => why.clone(),
        Ending::Close(code, reason) => format!("closed {code}: {reason}"),
        Ending::PipelineEnded => "pipeline ended".into(),
    };
    log::info!(
        "session {} ended after {:.1} s, {} turns ({why}){}",
        ctx.id,
        started.elapsed().as_secs_f64(),
        outcome.reports.len(),
        if outcome.failed_stages.is_empty() {
            String::new()
        } else {
            format!(", failed stages: {:?}", outcome.failed_stages)
        }
    );
}

/// The socket loop: pipeline output out, client messages in, until one side ends.
fn serve(
    socket: &mut Socket,
    outbox: &mut Outbox,
    inbound: &mut Inbound,
    stopping: &AtomicBool,
) -> Ending {
    loop {
        if stopping.load(Ordering::Acquire) {
            return Ending::Close(close::GOING_AWAY, "server shutting down".into());
        }
        // Output first: a quiet client must not hold up the agent's audio.
        for w in outbox.drain() {
            if let Err(e) = socket.send(w) {
                return Ending::Gone(e.to_string());
            }
        }
        if let Err(e) = socket.flush() {
            return Ending::Gone(e.to_string());
        }
        if outbox.sink_gone() {
            return Ending::PipelineEnded;
        }
        let msg = match socket.recv() {
            Ok(Some(Message::Close(_))) => {
                // Send tungstenite's queued reply, completing the closing handshake.
                let _ = socket.flush();
                return Ending::Gone("closed by the client".into());
            }
            Ok(Some(m)) => m,
            Ok(None) => continue,
            Err(SocketError::Protocol(code, reason)) => return Ending::Close(code, reason),
            Err(e) => return Ending::Gone(e.to_string()),
        };
        let replies = match inbound.handle(msg, outbox) {
            Ok(replies) => replies,
            Err(ending) => return ending,
        };
        for w in replies {
            if let Err(e) = socket.send(w) {
                return Ending::Gone(e.to_string());
            }
        }
    }
}

fn error_wire(stage: &str, message: &str) -> Wire {
    let e = Event::Error {
        stage: stage.to_string(),
        message: message.to_string(),
    };
    // Serialising a plain enum of strings cannot fail.
    Wire::Json(serde_json::to_string(&e).unwrap_or_default())
}

impl Inbound {
    /// Act on one client message; returns the replies, or how the session must end.
    fn handle(&mut self, msg: Message, outbox: &Outbox) -> Result<Vec<Wire>, Ending> {
        let result = match msg {
            Message::Binary(bytes) => return self.audio(&bytes, outbox),
            Message::Text(text) => parse_client_message(text.as_str()).map(|m| match m {
                ClientMessage::Played { samples } => outbox.playback.report(samples),
                ClientMessage::Hello {
                    sample_rate,
                    client,
                } => log::debug!("hello from {client:?} at {sample_rate:?} Hz"),
            }),
            // Pings are answered by tungstenite; a close is seen on the next read.
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => Ok(()),
        };
        match result {
            Ok(()) => Ok(Vec::new()),
            Err(e) => self.refuse(e),
        }
    }

    fn refuse(&mut self, e: ProtocolError) -> Result<Vec<Wire>, Ending> {
        self.bad_messages += 1;
        if self.bad_messages > MAX_BAD_MESSAGES {
            return Err(Ending::Close(
                close::POLICY,
                format!("more than {MAX_BAD_MESSAGES} invalid messages"),
            ));
        }
        log::debug!("protocol error: {e}");
        Ok(vec![error_wire("protocol", &e.to_string())])
    }

    fn audio(&mut self, bytes: &[u8], outbox: &Outbox) -> Result<Vec<Wire>, Ending> {
        let frames = match self.assembler.push(bytes) {
            Ok(f) => f,
            Err(e) => return self.refuse(e),
        };
        let now = Instant::now();
        let mut dropped = false;
        for frame in frames {
            let accepted = self.budget.take_frame(now)
                && match outbox.push_frame(frame) {
                    Ok(()) => true,
                    Err(PushError::Full) => false,
                    // The pipeline is ending; the loop notices on its next drain.
                    Err(PushError::Closed) => true,
                };
            dropped |= !accepted;
        }
        if !dropped {
            return Ok(Vec::new());
        }
        if self.budget.dropped_ms > FLOOD_LIMIT_MS {
            return Err(Ending::Close(
                close::POLICY,
                format!(
                    "audio sent faster than real time (over {} s dropped)",
                    FLOOD_LIMIT_MS / 1000
                ),
            ));
        }
        let warn = self
            .last_drop
            .is_none_or(|t| now.duration_since(t) > FLOOD_QUIET);
        self.last_drop = Some(now);
        Ok(if warn {
            vec![error_wire(
                "protocol",
                "audio arrives faster than real time: frames dropped (send one 20 ms frame every 20 ms)",
            )]
        } else {
            Vec::new()
        })
    }
}
