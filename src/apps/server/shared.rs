//! What the server's threads share: the configuration, the session slots, the live sessions
//! (so a shutdown can close each one), and a count of open connections to wait for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crossbeam_channel::Sender;

use super::config::ServerConfig;
use super::files::StaticFiles;
use super::guard::host_allowed;
use super::socket::ToClient;
use crate::providers::session::SessionFactory;

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
    /// Live WebSocket connection threads, with a condition to wait for them to end.
    connections: Mutex<usize>,
    connections_done: Condvar,
    /// Each live session's line to its writer.
    live: Mutex<HashMap<u64, Sender<ToClient>>>,
}

/// A lock over plain data: a panic while it was held cannot leave it inconsistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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
            config,
            factory,
            loopback,
            http_port,
            ws_port,
            stopping: AtomicBool::new(false),
            sessions: AtomicUsize::new(0),
            next_session: AtomicU64::new(1),
            connections: Mutex::new(0),
            connections_done: Condvar::new(),
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

    /// Count a connection thread, unless `max` are open already.
    pub fn open_connection(self: &Arc<Self>, max: usize) -> Option<ConnectionGuard> {
        let mut n = lock(&self.connections);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(ConnectionGuard(self.clone()))
    }

    /// Wait up to `limit` for every connection thread to end; returns how many are left.
    pub fn wait_for_connections(&self, limit: Duration) -> usize {
        let n = lock(&self.connections);
        let (n, _) = self
            .connections_done
            .wait_timeout_while(n, limit, |n| *n > 0)
            .unwrap_or_else(|e| e.into_inner());
        *n
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
        self.0.sessions.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Counts a connection thread while it lives.
pub struct ConnectionGuard(Arc<Shared>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let mut n = lock(&self.0.connections);
        *n -= 1;
        self.0.connections_done.notify_all();
    }
}

/// A live session's entry, removed when dropped.
pub struct Registration(Arc<Shared>, u64);

impl Drop for Registration {
    fn drop(&mut self) {
        lock(&self.0.live).remove(&self.1);
    }
}
