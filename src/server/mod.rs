//! The browser demo's server: static page, `/healthz`, and one voice session per WebSocket on
//! `/ws`, all on one port.
//!
//! ```text
//! accept thread --> one thread per connection: read the request head
//!                     GET /, /app.js, ... -> the page's files; /healthz -> JSON
//!                     GET /ws (upgrade)   -> Origin check, session slot, 101, then this
//!                                            thread owns the socket for the whole session
//!                                            (see `ws`) beside the session's pipeline threads
//! ```
//!
//! HTTP is handled here rather than by tiny_http: its upgraded stream is a boxed `Read + Write`
//! whose read timeout cannot be set, so one thread could not both wait for the caller's audio
//! and push the agent's audio out. On our own `TcpStream` a 5 ms read timeout lets a single
//! thread do both, and the handful of GET routes the page needs fit in a few lines.

pub mod http;
pub mod protocol;
pub mod session;
pub mod ws;

use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::pipeline::PipelineConfig;
use crate::providers::SessionFactory;
use http::{HeadError, Response, StaticFiles};

/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections being served at once beyond the session slots (page loads, health checks).
const EXTRA_CONNECTIONS: usize = 64;
/// How long `shutdown` waits for connections and sessions to end.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);

/// How the server runs.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to listen on, e.g. `127.0.0.1:8080` (port 0 picks a free one).
    pub bind: String,
    /// Sessions at once; the next is refused with close code 1013.
    pub max_sessions: usize,
    /// Origins besides the server's own that may open sessions (`*` for any).
    pub allowed_origins: Vec<String>,
    /// Serve the page from this directory instead of the copy built into the binary.
    pub static_dir: Option<PathBuf>,
    /// The pipeline of each session.
    pub pipeline: PipelineConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            max_sessions: 8,
            allowed_origins: Vec::new(),
            static_dir: None,
            pipeline: socket_pipeline(PipelineConfig::default()),
        }
    }
}

/// A pipeline configuration made fit for a socket: the session ends as soon as the caller hangs
/// up, and the sink runs a little ahead of playback to absorb network jitter.
pub fn socket_pipeline(mut config: PipelineConfig) -> PipelineConfig {
    config.drain_tail = false;
    config.lookahead_ms = 150;
    config
}

/// The `serve` command's options.
#[derive(clap::Args, Clone, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Simultaneous sessions; the next caller is refused (close code 1013).
    #[arg(long, default_value_t = 8)]
    pub max_sessions: usize,
    /// Another origin allowed to open sessions, e.g. https://demo.example (repeatable; `*` for any).
    #[arg(long = "allow-origin")]
    pub allow_origin: Vec<String>,
    /// Serve the page from this directory instead of the built-in copy (page development).
    #[arg(long)]
    pub static_dir: Option<PathBuf>,
}

impl ServeArgs {
    pub fn config(&self, pipeline: PipelineConfig) -> ServerConfig {
        ServerConfig {
            bind: self.bind.clone(),
            max_sessions: self.max_sessions,
            allowed_origins: self.allow_origin.clone(),
            static_dir: self.static_dir.clone(),
            pipeline: socket_pipeline(pipeline),
        }
    }
}

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

/// What the accept loop and the connection threads share.
struct Shared {
    config: ServerConfig,
    factory: Arc<dyn SessionFactory>,
    providers: Vec<String>,
    files: StaticFiles,
    /// Listening on loopback only: requests must name a loopback host.
    loopback: bool,
    stopping: AtomicBool,
    sessions: AtomicUsize,
    next_session: AtomicU64,
    /// Live connection threads, with a condition to wait for them to end.
    connections: Mutex<usize>,
    connections_done: Condvar,
}

impl Shared {
    /// Take a session slot, if one is free.
    fn reserve_session(self: &Arc<Self>) -> Option<SessionSlot> {
        let max = self.config.max_sessions;
        self.sessions
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| SessionSlot(self.clone()))
    }

    fn connection_count(&self) -> std::sync::MutexGuard<'_, usize> {
        // A plain counter: a panic while it was held cannot leave it inconsistent.
        self.connections.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A taken session slot, given back when dropped.
struct SessionSlot(Arc<Shared>);

impl Drop for SessionSlot {
    fn drop(&mut self) {
        self.0.sessions.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Counts a connection thread while it lives.
struct ConnectionGuard(Arc<Shared>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let mut n = self.0.connection_count();
        *n -= 1;
        self.0.connections_done.notify_all();
    }
}

/// A running server.
pub struct ServerHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
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
    let bind_err = |source| ServerError::Bind {
        addr: config.bind.clone(),
        source,
    };
    let addrs: Vec<SocketAddr> = config.bind.to_socket_addrs().map_err(bind_err)?.collect();
    let listener = TcpListener::bind(&addrs[..]).map_err(bind_err)?;
    let addr = listener.local_addr().map_err(bind_err)?;
    let shared = Arc::new(Shared {
        files: StaticFiles::new(config.static_dir.clone()),
        providers: factory.describe(),
        loopback: addr.ip().is_loopback(),
        config,
        factory,
        stopping: AtomicBool::new(false),
        sessions: AtomicUsize::new(0),
        next_session: AtomicU64::new(1),
        connections: Mutex::new(0),
        connections_done: Condvar::new(),
    });
    let s = shared.clone();
    let accept = std::thread::Builder::new()
        .name("va-accept".into())
        .spawn(move || accept_loop(listener, s))
        .map_err(|e| ServerError::Bind {
            addr: addr.to_string(),
            source: e,
        })?;
    log::info!("serving on http://{addr}");
    Ok(ServerHandle {
        addr,
        shared,
        accept: Some(accept),
    })
}

/// Start serving and block until the process ends (the `serve` command).
pub fn serve(config: ServerConfig, factory: Arc<dyn SessionFactory>) -> Result<(), ServerError> {
    let handle = start(config, factory)?;
    handle.wait();
    Ok(())
}

impl ServerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sessions running now (a session counts until all its threads have ended).
    pub fn active_sessions(&self) -> usize {
        self.shared.sessions.load(Ordering::Acquire)
    }

    /// Block while the server runs.
    pub fn wait(mut self) {
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }

    /// Stop accepting, close every session (code 1001) and wait for their threads to end.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(accept) = self.accept.take() else {
            return;
        };
        self.shared.stopping.store(true, Ordering::Release);
        // Wake the accept loop with a connection of our own.
        let wake = match self.addr {
            SocketAddr::V4(a) if a.ip().is_unspecified() => {
                SocketAddr::from((Ipv4Addr::LOCALHOST, a.port()))
            }
            SocketAddr::V6(a) if a.ip().is_unspecified() => {
                SocketAddr::from((Ipv6Addr::LOCALHOST, a.port()))
            }
            a => a,
        };
        if let Err(e) = TcpStream::connect_timeout(&wake, Duration::from_secs(1)) {
            log::warn!("shutdown: cannot wake the accept loop: {e}");
        }
        let _ = accept.join();
        let n = self.shared.connection_count();
        let (n, timeout) = self
            .shared
            .connections_done
            .wait_timeout_while(n, SHUTDOWN_WAIT, |n| *n > 0)
            .unwrap_or_else(|e| e.into_inner());
        if timeout.timed_out() {
            log::warn!("shutdown: {} connections still open", *n);
        }
        log::info!("server on {} stopped", self.addr);
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let max_connections = shared.config.max_sessions + EXTRA_CONNECTIONS;
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::Acquire) {
            break;
        }
        let mut stream = match stream {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                log::warn!("accept: {e}");
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        {
            let mut n = shared.connection_count();
            if *n >= max_connections {
                drop(n);
                let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
                let _ = Response::text(503, "too many connections").write_to(&mut stream, false);
                continue;
            }
            *n += 1;
        }
        let guard = ConnectionGuard(shared.clone());
        let s = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("va-conn".into())
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

/// Serve one connection: a file, the health check, or a whole session.
fn connection(mut stream: TcpStream, shared: &Arc<Shared>) {
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    if stream.set_read_timeout(Some(HEAD_TIMEOUT)).is_err()
        || stream.set_write_timeout(Some(HEAD_TIMEOUT)).is_err()
    {
        return;
    }
    let (head, leftover) = match http::read_head(&mut stream) {
        Ok(h) => h,
        Err(HeadError::TooLarge) => {
            let _ = Response::text(431, "request head too large").write_to(&mut stream, false);
            return;
        }
        Err(e @ HeadError::Malformed(_)) => {
            let _ = Response::text(400, e.to_string()).write_to(&mut stream, false);
            return;
        }
        Err(HeadError::Closed | HeadError::Io(_)) => return,
    };
    log::debug!("{peer} {} {}", head.method, head.target);
    if shared.loopback && !http::is_loopback_host(head.header("Host")) {
        log::warn!(
            "{peer}: Host {:?} refused on a loopback server",
            head.header("Host")
        );
        let _ = Response::text(403, "host not allowed").write_to(&mut stream, false);
        return;
    }
    if head.path() == "/ws" {
        websocket(stream, &head, leftover, peer, shared);
        return;
    }
    let head_only = head.method == "HEAD";
    let response = if head.method != "GET" && !head_only {
        Response::text(405, "only GET and HEAD are served")
    } else if head.path() == "/healthz" {
        let body = serde_json::json!({
            "status": "ok",
            "sessions": shared.sessions.load(Ordering::Acquire),
            "max_sessions": shared.config.max_sessions,
        });
        Response::new(200, "application/json", body.to_string().into_bytes())
    } else {
        match shared.files.get(head.path()) {
            Some((body, ct)) => Response::new(200, ct, body),
            None => Response::text(404, "not found"),
        }
    };
    if let Err(e) = response.write_to(&mut stream, head_only) {
        log::debug!("{peer}: {e}");
    }
}

fn websocket(
    mut stream: TcpStream,
    head: &http::RequestHead,
    leftover: Vec<u8>,
    peer: String,
    shared: &Arc<Shared>,
) {
    let origin = head.header("Origin");
    if !http::origin_allowed(origin, head.header("Host"), &shared.config.allowed_origins) {
        log::warn!("{peer}: WebSocket from origin {origin:?} refused");
        let _ = Response::text(403, "origin not allowed").write_to(&mut stream, false);
        return;
    }
    let accept = match http::websocket_accept(head) {
        Ok(a) => a,
        Err(e) => {
            let status = if e == http::UpgradeError::NotWebSocket {
                426
            } else {
                400
            };
            let _ = Response::text(status, e.to_string()).write_to(&mut stream, false);
            return;
        }
    };
    // The slot is taken before the upgrade is answered, so concurrent callers cannot overshoot.
    let slot = shared.reserve_session();
    if stream
        .write_all(http::switching_protocols(&accept).as_bytes())
        .is_err()
    {
        return;
    }
    let mut socket = match ws::Socket::new(stream, leftover) {
        Ok(s) => s,
        Err(e) => {
            log::warn!("{peer}: {e}");
            return;
        }
    };
    let Some(_slot) = slot else {
        let max = shared.config.max_sessions;
        log::warn!("{peer}: refused, all {max} sessions busy");
        socket.close(
            protocol::close::TRY_AGAIN_LATER,
            &format!("server busy: all {max} sessions are taken, try again later"),
        );
        return;
    };
    let id = shared.next_session.fetch_add(1, Ordering::Relaxed);
    session::run(
        socket,
        session::SessionContext {
            id,
            peer,
            factory: &*shared.factory,
            providers: &shared.providers,
            pipeline: &shared.config.pipeline,
            stopping: &shared.stopping,
        },
    );
}
