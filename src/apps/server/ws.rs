//! The WebSocket side, on tungstenite: an accept loop, and per connection a thread that lets
//! tungstenite do the handshake (with the path, Host and Origin checks in its callback), takes a
//! session slot, and runs the session.

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tungstenite::handshake::server::{Request, Response};

use super::guard::origin_allowed;
use super::protocol::close;
use super::session::{self, SessionContext};
use super::shared::Shared;
use super::socket::{self, refusal};

/// Connections being set up at once beyond the session slots.
const EXTRA_CONNECTIONS: usize = 64;

/// Accept connections until the server stops.
pub fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let max_connections = shared.config.max_sessions + EXTRA_CONNECTIONS;
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::Acquire) {
            break;
        }
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                log::warn!("accept: {e}");
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let Some(guard) = shared.open_connection(max_connections) else {
            log::warn!("refused a connection: {max_connections} already open");
            continue;
        };
        let s = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("va-ws".into())
            .spawn(move || {
                let _guard = guard;
                connection(stream, &s);
            });
        if let Err(e) = spawned {
            // The guard went down with the closure and gave its count back.
            log::error!("cannot spawn a connection thread: {e}");
        }
    }
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn connection(stream: TcpStream, shared: &Arc<Shared>) {
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    let mut slot = None;
    // The shape of the answer is tungstenite's callback contract, not ours to shrink.
    #[allow(clippy::result_large_err)]
    let check = |req: &Request, resp: Response| {
        if req.uri().path() != "/ws" {
            return Err(refusal(404, "sessions are on /ws"));
        }
        let host = header(req, "Host");
        if !shared.host_allowed(host) {
            log::warn!("{peer}: Host {host:?} refused");
            return Err(refusal(403, "host not allowed"));
        }
        let origin = header(req, "Origin");
        let allowed = &shared.config.allowed_origins;
        if !origin_allowed(origin, host, shared.http_port, allowed) {
            log::warn!("{peer}: WebSocket from origin {origin:?} refused");
            return Err(refusal(403, "origin not allowed"));
        }
        // The slot is taken before the upgrade is answered, so concurrent callers cannot
        // overshoot; a caller without one hears why in a close frame.
        slot = shared.reserve_session();
        Ok(resp)
    };
    // A browser streams audio all the time, and answers pings by itself: one that sends
    // nothing, not even a pong, for `idle_timeout` is gone.
    let (limit, idle) = (shared.config.handshake_limit, shared.config.idle_timeout);
    let (reader, write) = match socket::accept(stream, check, limit, idle) {
        Ok(s) => s,
        Err(e) => {
            log::debug!("{peer}: handshake: {e}");
            return;
        }
    };
    let Some(_slot) = slot else {
        let max = shared.config.max_sessions;
        log::warn!("{peer}: refused, all {max} sessions busy");
        session::refuse(
            reader,
            write,
            close::TRY_AGAIN_LATER,
            &format!("server busy: all {max} sessions are taken, try again later"),
        );
        return;
    };
    let id = shared.next_session.fetch_add(1, Ordering::Relaxed);
    session::run(reader, write, SessionContext { id, peer, shared });
}
