//! The door of a listening port: how many connections it lets in, and who goes when too many
//! are still saying who they are. Both ports have one.
//!
//! A connection is *open* from accept until its thread ends (bounded by `max_open`), and
//! *pending* until its request head is in (bounded by `max_pending`). A real client sends its
//! head in milliseconds, so when `max_pending` are pending the oldest is cut off: a crowd of
//! slow or silent clients cannot keep a newcomer out, however many of them there are.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A lock over plain data: a panic while it was held cannot leave it inconsistent.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Read what `stream` has, waiting only for what is left until `deadline`: a client trickling
/// a byte at a time gets no more than the whole allowance (a read timeout alone restarts with
/// every byte).
pub fn read_before(stream: &mut TcpStream, deadline: Instant, buf: &mut [u8]) -> io::Result<usize> {
    stream.set_read_timeout(Some(time_left(deadline)?))?;
    stream.read(buf)
}

/// What is left until `deadline`; a timeout error once it has passed (a zero timeout would
/// mean "wait for ever" to a socket).
pub fn time_left(deadline: Instant) -> io::Result<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| io::ErrorKind::TimedOut.into())
}

pub struct Gate {
    max_open: usize,
    max_pending: usize,
    open: Mutex<usize>,
    all_closed: Condvar,
    /// Connections still in their request head, oldest first (keyed by arrival).
    pending: Mutex<BTreeMap<u64, TcpStream>>,
    next: AtomicU64,
}

impl Gate {
    pub fn new(max_open: usize, max_pending: usize) -> Arc<Self> {
        Arc::new(Self {
            max_open: max_open.max(1),
            max_pending: max_pending.max(1),
            open: Mutex::new(0),
            all_closed: Condvar::new(),
            pending: Mutex::new(BTreeMap::new()),
            next: AtomicU64::new(0),
        })
    }

    /// Let a connection in, unless `max_open` are open already: it counts as open while the
    /// first guard lives, and as pending (cut off if it becomes the oldest of too many) while
    /// the second does.
    fn admit(self: &Arc<Self>, stream: &TcpStream) -> Option<(Open, Pending)> {
        {
            let mut n = lock(&self.open);
            if *n >= self.max_open {
                return None;
            }
            *n += 1;
        }
        let open = Open(self.clone());
        // Without a copy of its own the gate could not cut it off: refuse it instead.
        let copy = stream.try_clone().ok()?;
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut pending = lock(&self.pending);
        while pending.len() >= self.max_pending {
            if let Some((_, oldest)) = pending.pop_first() {
                // Its thread's blocked read returns at once and the thread ends.
                let _ = oldest.shutdown(Shutdown::Both);
                log::debug!("{} heads pending: cut off the oldest", self.max_pending);
            }
        }
        pending.insert(id, copy);
        Some((open, Pending(self.clone(), id)))
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        *lock(&self.open)
    }

    /// Wait up to `limit` for every connection to end; returns how many are left.
    pub fn wait_closed(&self, limit: Duration) -> usize {
        let n = lock(&self.open);
        let (n, _) = self
            .all_closed
            .wait_timeout_while(n, limit, |n| *n > 0)
            .unwrap_or_else(|e| e.into_inner());
        *n
    }
}

/// Counts a connection as open while it lives.
pub struct Open(Arc<Gate>);

impl Drop for Open {
    fn drop(&mut self) {
        let mut n = lock(&self.0.open);
        *n -= 1;
        self.0.all_closed.notify_all();
    }
}

/// A connection still in its request head; dropped once the head is in.
pub struct Pending(Arc<Gate>, u64);

impl Drop for Pending {
    fn drop(&mut self) {
        lock(&self.0.pending).remove(&self.1);
    }
}

/// Accept connections until `stopping` is set, each on a thread of its own named `name` that
/// runs `handle` while the gate counts it open.
pub fn accept_loop<F>(
    listener: TcpListener,
    gate: Arc<Gate>,
    stopping: &AtomicBool,
    name: &str,
    handle: F,
) where
    F: Fn(TcpStream, Pending) + Clone + Send + 'static,
{
    for stream in listener.incoming() {
        if stopping.load(Ordering::Acquire) {
            break;
        }
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                log::warn!("{name}: accept: {e}");
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let Some((open, pending)) = gate.admit(&stream) else {
            log::warn!(
                "{name}: refused a connection: {} already open",
                gate.max_open
            );
            continue;
        };
        let handle = handle.clone();
        let spawned = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let _open = open;
                handle(stream, pending);
            });
        if let Err(e) = spawned {
            // The guards went down with the closure and gave their counts back.
            log::error!("{name}: cannot spawn a connection thread: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    fn pair(l: &TcpListener) -> (TcpStream, TcpStream) {
        let client = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let (server, _) = l.accept().expect("accept");
        (client, server)
    }

    #[test]
    fn the_oldest_pending_connection_is_cut_off_and_the_open_count_is_bounded() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let gate = Gate::new(3, 2);
        let (mut c1, s1) = pair(&l);
        let (_c2, s2) = pair(&l);
        let (_c3, s3) = pair(&l);
        let (_c4, s4) = pair(&l);
        let first = gate.admit(&s1).expect("room");
        let second = gate.admit(&s2).expect("room");
        // A third pending connection cuts off the first: its client reads the end at once.
        let third = gate.admit(&s3).expect("room");
        c1.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        assert_eq!(c1.read(&mut [0u8; 8]).expect("cut off, not timed out"), 0);
        // Three are open: the fourth is refused.
        assert!(gate.admit(&s4).is_none());
        assert_eq!(gate.open(), 3);
        // One whose head is in is no longer a candidate, and closing frees its place.
        drop(second.1);
        drop(first);
        assert_eq!(gate.open(), 2);
        assert!(gate.admit(&s4).is_some());
        drop(third);
        assert_eq!(gate.wait_closed(Duration::from_secs(1)), 1);
    }
}
