//! What the server's threads share: the configuration, the session slots, the live sessions
//! (so a shutdown can close each one), and a count of open connections to wait for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::Sender;

use super::config::ServerConfig;
use super::files::StaticFiles;
use super::gate::{lock, Gate};
use super::guard::host_allowed;
use super::socket::ToClient;
use crate::providers::session::SessionFactory;

/// Connections in their head (handshake or request) at once, per port; a newcomer beyond this
/// cuts off the oldest.
pub const HANDSHAKES: usize = 64;
/// Connection threads beyond the sessions and the handshakes: ones that were cut off or
/// refused and are on their way out.
pub const ENDING: usize = 64;
/// Page connections at once (a page load makes a handful, each over in milliseconds).
pub const PAGE_CONNECTIONS: usize = 256;

pub struct Shared {
    pub config: ServerConfig,
    pub factory: Arc<dyn SessionFactory>,
    /// One line per provider, sent in every `ready` message.
    pub providers: Vec<String>,
    pub files: StaticFiles,
    /// Listening on loopback only: requests must name a loopback host.
    pub loopback: bool,
    /// The page's port and the WebSocket's.
    pub http_port: u16,
    pub ws_port: u16,
    pub stopping: AtomicBool,
    pub sessions: AtomicUsize,
    pub next_session: AtomicU64,
    /// The WebSocket port's door: its connection threads, and those still in their handshake.
    pub ws_gate: Arc<Gate>,
    /// The page port's door: connections in their request head or being relayed.
    pub page_gate: Arc<Gate>,
    /// Each live session's line to its writer.
    live: Mutex<HashMap<u64, Sender<ToClient>>>,
}

impl Shared {
    pub fn new(
        config: ServerConfig,
        factory: Arc<dyn SessionFactory>,
        loopback: bool,
        http_port: u16,
        ws_port: u16,
    ) -> Self {
        Self {
            files: StaticFiles::new(config.static_dir.clone()),
            providers: factory.describe(),
            ws_gate: Gate::new(config.max_sessions + HANDSHAKES + ENDING, HANDSHAKES),
            page_gate: Gate::new(PAGE_CONNECTIONS, HANDSHAKES),
            config,
            factory,
            loopback,
            http_port,
            ws_port,
            stopping: AtomicBool::new(false),
            sessions: AtomicUsize::new(0),
            next_session: AtomicU64::new(1),
            live: Mutex::new(HashMap::new()),
        }
    }

    /// Does the server answer to this `Host`?
    pub fn host_allowed(&self, host: Option<&str>) -> bool {
        host_allowed(
            host,
            self.loopback,
            &self.config.allowed_hosts,
            &self.config.allowed_origins,
        )
    }

    /// Take a session slot, if one is free.
    pub fn reserve_session(self: &Arc<Self>) -> Option<SessionSlot> {
        let max = self.config.max_sessions;
        self.sessions
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| SessionSlot(self.clone()))
    }

    /// Make a session reachable by `close_all` while the returned guard lives.
    pub fn register(self: &Arc<Self>, id: u64, writer: Sender<ToClient>) -> Registration {
        lock(&self.live).insert(id, writer);
        Registration(self.clone(), id)
    }

    /// Ask every live session to close with this code and reason.
    pub fn close_all(&self, code: u16, reason: &str) {
        for tx in lock(&self.live).values() {
            let _ = tx.send(ToClient::Close(code, reason.to_string()));
        }
    }
}

/// A taken session slot, given back when dropped.
pub struct SessionSlot(Arc<Shared>);

impl Drop for SessionSlot {
    fn drop(&mut self) {
        if self.0.sessions.fetch_sub(1, Ordering::AcqRel) == 1 {
            release_freed_memory();
        }
    }
}

/// Give the memory freed by ended sessions back to the system once the server falls idle.
/// glibc keeps freed blocks in per-thread arenas; after a busy hour of short-lived session
/// threads the process would otherwise stay at its peak size (the live heap does not grow:
/// `make soak` measured it flat under heaptrack over 1,500 sessions).
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// A live session's entry, removed when dropped.
pub struct Registration(Arc<Shared>, u64);

impl Drop for Registration {
    fn drop(&mut self) {
        lock(&self.0.live).remove(&self.1);
    }
}
