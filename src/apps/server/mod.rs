//! The browser demo's server, as the design card says: tiny_http for the page, tungstenite for
//! the voice sessions.
//!
//! ```text
//! --bind (front door -> tiny_http):   GET /, /app.js, ...  the page's files
//!                                     GET /healthz         sessions in use
//!                                     GET /config.json     where the WebSocket is
//!                                     (each connection let through to tiny_http, on loopback,
//!                                     once its request head is in: see `front`)
//! --ws-bind (tungstenite):            accept thread -> one thread per connection: handshake
//!                                     (path, Host and Origin checked in its callback), a
//!                                     session slot, then the session: the pipeline's threads,
//!                                     a reader thread, and this one writing
//! ```
//!
//! Two ports, because tiny_http cannot hand over a connection it accepted except as a boxed
//! stream whose read timeout cannot be set and which one thread cannot read while another
//! writes. The page asks `/config.json` for the WebSocket's port.

pub mod config;
pub mod files;
pub mod front;
pub mod gate;
pub mod guard;
pub mod http;
pub mod protocol;
pub mod session;
pub mod shared;
pub mod socket;
pub mod telephony;
pub mod ws;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub use config::{socket_pipeline, ServeArgs, ServerConfig};
use shared::Shared;

use crate::providers::session::SessionFactory;

/// How long `shutdown` waits for sessions to end.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// A running server.
pub struct ServerHandle {
    http_addr: SocketAddr,
    ws_addr: SocketAddr,
    shared: Arc<Shared>,
    http: Arc<tiny_http::Server>,
    threads: Vec<JoinHandle<()>>,
}

fn bind(addr: &str) -> Result<TcpListener, ServerError> {
    let err = |source| ServerError::Bind {
        addr: addr.to_string(),
        source,
    };
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs().map_err(err)?.collect();
    TcpListener::bind(&addrs[..]).map_err(err)
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, ServerError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(|source| ServerError::Bind {
            addr: name.to_string(),
            source,
        })
}

/// Start serving in the background.
pub fn start(
    config: ServerConfig,
    factory: Arc<dyn SessionFactory>,
) -> Result<ServerHandle, ServerError> {
    if config.max_sessions == 0 {
        return Err(ServerError::Config(
            "max_sessions must be at least 1".into(),
        ));
    }
    let http_listener = bind(&config.bind)?;
    let local = |l: &TcpListener, what: &str| {
        l.local_addr().map_err(|source| ServerError::Bind {
            addr: what.to_string(),
            source,
        })
    };
    let http_addr = local(&http_listener, &config.bind)?;
    let ws_bind = config.ws_bind.clone().unwrap_or_else(|| {
        // The page's port + 1; a free one when the page's port was picked by the system.
        let asked_port = config.bind.rsplit(':').next() == Some("0");
        let port = if asked_port {
            0
        } else {
            http_addr.port().wrapping_add(1)
        };
        SocketAddr::new(http_addr.ip(), port).to_string()
    });
    let ws_listener = bind(&ws_bind)?;
    let ws_addr = local(&ws_listener, &ws_bind)?;
    // tiny_http listens on loopback only, behind the page port's front door.
    let inner_listener = bind("127.0.0.1:0")?;
    let inner = local(&inner_listener, "127.0.0.1:0")?;
    let http = tiny_http::Server::from_listener(inner_listener, None)
        .map(Arc::new)
        .map_err(|e| ServerError::Bind {
            addr: inner.to_string(),
            source: std::io::Error::other(e.to_string()),
        })?;
    let loopback = http_addr.ip().is_loopback() && ws_addr.ip().is_loopback();
    let shared = Arc::new(Shared::new(
        config,
        factory,
        loopback,
        http_addr.port(),
        ws_addr.port(),
    ));
    let threads = vec![
        {
            let (server, s) = (http.clone(), shared.clone());
            spawn("va-http", move || http::run(server, s))?
        },
        {
            let s = shared.clone();
            spawn("va-page-accept", move || {
                front::accept_loop(http_listener, s, inner)
            })?
        },
        {
            let s = shared.clone();
            spawn("va-ws-accept", move || ws::accept_loop(ws_listener, s))?
        },
    ];
    log::info!("serving on http://{http_addr} (sessions on ws://{ws_addr}/ws)");
    Ok(ServerHandle {
        http_addr,
        ws_addr,
        shared,
        http,
        threads,
    })
}

/// Start serving and block until the process ends (the `serve` command).
pub fn serve(config: ServerConfig, factory: Arc<dyn SessionFactory>) -> Result<(), ServerError> {
    let handle = start(config, factory)?;
    handle.wait();
    Ok(())
}

impl ServerHandle {
    /// Where the page is served.
    pub fn local_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Where WebSocket sessions are answered (`ws://{ws_addr}/ws`).
    pub fn ws_addr(&self) -> SocketAddr {
        self.ws_addr
    }

    /// Sessions running now (a session counts until all its threads have ended).
    pub fn active_sessions(&self) -> usize {
        self.shared.sessions.load(Ordering::Acquire)
    }

    /// Block while the server runs.
    pub fn wait(mut self) {
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
    }

    /// Stop accepting, close every session (code 1001) and wait for their threads to end.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if self.threads.is_empty() {
            return;
        }
        self.shared.stopping.store(true, Ordering::Release);
        self.http.unblock();
        // Wake the accept loops with a connection of our own.
        for addr in [self.http_addr, self.ws_addr] {
            let wake = match addr {
                SocketAddr::V4(a) if a.ip().is_unspecified() => {
                    SocketAddr::from((Ipv4Addr::LOCALHOST, a.port()))
                }
                SocketAddr::V6(a) if a.ip().is_unspecified() => {
                    SocketAddr::from((Ipv6Addr::LOCALHOST, a.port()))
                }
                a => a,
            };
            if let Err(e) = TcpStream::connect_timeout(&wake, Duration::from_secs(1)) {
                log::warn!("shutdown: cannot wake the accept loop on {addr}: {e}");
            }
        }
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
        self.shared
            .close_all(protocol::close::GOING_AWAY, "server shutting down");
        let left = self.shared.ws_gate.wait_closed(SHUTDOWN_WAIT);
        if left > 0 {
            log::warn!("shutdown: {left} connections still open");
        }
        log::info!("server on {} stopped", self.http_addr);
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}
