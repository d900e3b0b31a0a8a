//! The WebSocket side, on tungstenite: an accept loop, and per connection a thread that lets
//! tungstenite do the handshake (with the path, Host and Origin checks in its callback), takes a
//! session slot, and runs the session.

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tungstenite::handshake::server::{Request, Response};

use super::gate::{self, Pending};
use super::guard::{origin_allowed, repeated_guard_header};
use super::protocol::close;
use super::session::{self, SessionContext};
use super::shared::Shared;
use super::socket::{self, refusal};
use super::telephony;

/// Accept connections until the server stops.
pub fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let gate = shared.ws_gate.clone();
    let s = shared.clone();
    gate::accept_loop(
        listener,
        gate,
        &shared.stopping,
        "va-ws",
        move |stream, pending| connection(stream, pending, &s),
    );
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn connection(stream: TcpStream, handshake: Pending, shared: &Arc<Shared>) {
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    let mut slot = None;
    let mut phone = false;
    // The shape of the answer is tungstenite's callback contract, not ours to shrink.
    #[allow(clippy::result_large_err)]
    let check = |req: &Request, resp: Response| {
        let path = req.uri().path();
        let token = shared.config.telephony_token.as_deref();
        if path.starts_with(telephony::PATH) {
            if !telephony::is_stream_path(path, token) {
                log::warn!("{peer}: telephony stream without its token, refused");
                return Err(refusal(403, "the telephony stream needs its token"));
            }
            phone = true;
        } else if path != "/ws" {
            return Err(refusal(404, "sessions are on /ws"));
        }
        let names = req.headers().iter().map(|(k, _)| k.as_str());
        if let Some(name) = repeated_guard_header(names) {
            log::warn!("{peer}: more than one {name} header, refused");
            return Err(refusal(400, "a header appears twice"));
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
    let accepted = socket::accept(stream, check, limit, idle);
    drop(handshake);
    let (reader, write) = match accepted {
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
    session::run(
        reader,
        write,
        SessionContext {
            id,
            peer,
            shared,
            phone,
        },
    );
}
