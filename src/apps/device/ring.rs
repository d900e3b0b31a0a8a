//! A lock-free single-producer single-consumer ring of 32-bit sample words, between an audio
//! callback and a pipeline thread.
//!
//! Written entirely in safe code: every slot is an `AtomicU32` (a relaxed atomic store is a
//! plain move on the usual CPUs), and the two monotonically increasing counters `written` and
//! `read` hand slots from one side to the other with release/acquire ordering. The storage is
//! allocated once in [`ring`]; `push_with`, `pop_with` and `honour_flush` never allocate, lock,
//! block or make a system call, which is what the callback side needs.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

/// No flush requested.
const NO_FLUSH: usize = usize::MAX;

struct Shared {
    slots: Box<[AtomicU32]>,
    /// `slots.len() - 1`; the length is a power of two so an index wraps with a mask.
    mask: usize,
    /// Words pushed so far (only the producer stores it).
    written: AtomicUsize,
    /// Words consumed or discarded so far (only the consumer stores it).
    read: AtomicUsize,
    /// A `written` count the consumer must skip to (a flush requested by the producer).
    flush_to: AtomicUsize,
}

/// The pushing half (one thread).
pub struct Producer {
    shared: Arc<Shared>,
}

/// The popping half (one thread).
pub struct Consumer {
    shared: Arc<Shared>,
}

/// A ring holding at least `capacity` words (rounded up to a power of two).
pub fn ring(capacity: usize) -> (Producer, Consumer) {
    let len = capacity.max(2).next_power_of_two();
    let shared = Arc::new(Shared {
        slots: (0..len).map(|_| AtomicU32::new(0)).collect(),
        mask: len - 1,
        written: AtomicUsize::new(0),
        read: AtomicUsize::new(0),
        flush_to: AtomicUsize::new(NO_FLUSH),
    });
    (
        Producer {
            shared: shared.clone(),
        },
        Consumer { shared },
    )
}

impl Shared {
    fn capacity(&self) -> usize {
        self.slots.len()
    }

    fn len(&self) -> usize {
        let w = self.written.load(Ordering::Acquire);
        let r = self.read.load(Ordering::Acquire);
        w.wrapping_sub(r)
    }
}

impl Producer {
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }

    /// Words that can be pushed now.
    pub fn free(&self) -> usize {
        self.shared.capacity() - self.shared.len()
    }

    /// Push `f(x)` for as many items of `src` as fit; returns how many were pushed.
    pub fn push_with<T: Copy>(&mut self, src: &[T], f: impl Fn(T) -> u32) -> usize {
        let s = &*self.shared;
        // Only this side stores `written`, so a relaxed load of it is exact.
        let w = s.written.load(Ordering::Relaxed);
        let r = s.read.load(Ordering::Acquire);
        let n = src.len().min(s.capacity() - w.wrapping_sub(r));
        for (i, &x) in src[..n].iter().enumerate() {
            s.slots[w.wrapping_add(i) & s.mask].store(f(x), Ordering::Relaxed);
        }
        // Publishes the slot stores above to the consumer.
        s.written.store(w.wrapping_add(n), Ordering::Release);
        n
    }

    /// Words pushed since the ring was made.
    pub fn written(&self) -> usize {
        self.shared.written.load(Ordering::Relaxed)
    }

    /// Ask the consumer to discard everything pushed so far, at its next `honour_flush`.
    /// Words pushed after this call are kept.
    pub fn request_flush(&self) {
        let w = self.shared.written.load(Ordering::Relaxed);
        self.shared.flush_to.store(w, Ordering::Release);
    }
}

impl Consumer {
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }

    /// Words ready to pop.
    pub fn available(&self) -> usize {
        self.shared.len()
    }

    /// Pop up to `max` words, handing each to `f`; returns how many were popped.
    pub fn pop_with(&mut self, max: usize, mut f: impl FnMut(u32)) -> usize {
        let s = &*self.shared;
        let r = s.read.load(Ordering::Relaxed);
        // Acquire: the producer's slot stores before this count are visible.
        let w = s.written.load(Ordering::Acquire);
        let n = max.min(w.wrapping_sub(r));
        for i in 0..n {
            f(s.slots[r.wrapping_add(i) & s.mask].load(Ordering::Relaxed));
        }
        // Release: the producer may reuse these slots only after they were read.
        s.read.store(r.wrapping_add(n), Ordering::Release);
        n
    }

    /// Discard what a pending flush request covers; returns the number of words dropped.
    pub fn honour_flush(&mut self) -> usize {
        let s = &*self.shared;
        let target = s.flush_to.swap(NO_FLUSH, Ordering::AcqRel);
        if target == NO_FLUSH {
            return 0;
        }
        let r = s.read.load(Ordering::Relaxed);
        let ahead = target.wrapping_sub(r);
        // The target was a `written` count, so it is at most a ring's length ahead of `read`;
        // anything else means it is behind (already consumed).
        if ahead == 0 || ahead > s.capacity() {
            return 0;
        }
        s.read.store(target, Ordering::Release);
        ahead
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_and_pops_in_order_across_the_wrap() {
        let (mut p, mut c) = ring(5);
        assert_eq!(p.capacity(), 8);
        let mut got = Vec::new();
        for round in 0..10u32 {
            let data: Vec<u32> = (0..6).map(|i| round * 10 + i).collect();
            assert_eq!(p.push_with(&data, |x| x), 6);
            assert_eq!(c.available(), 6);
            assert_eq!(c.pop_with(4, |x| got.push(x)), 4);
            assert_eq!(c.pop_with(100, |x| got.push(x)), 2);
        }
        let want: Vec<u32> = (0..10u32)
            .flat_map(|r| (0..6).map(move |i| r * 10 + i))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_full_ring_takes_what_fits_and_never_overwrites() {
        let (mut p, mut c) = ring(4);
        assert_eq!(p.push_with(&[1u32, 2, 3], |x| x), 3);
        assert_eq!(p.push_with(&[4u32, 5, 6], |x| x), 1);
        assert_eq!(p.free(), 0);
        let mut got = Vec::new();
        c.pop_with(10, |x| got.push(x));
        assert_eq!(got, vec![1, 2, 3, 4]);
        assert_eq!(c.pop_with(10, |_| {}), 0);
    }

    #[test]
    fn flush_drops_only_what_was_pushed_before_the_request() {
        let (mut p, mut c) = ring(16);
        p.push_with(&[1u32, 2, 3, 4], |x| x);
        c.pop_with(1, |_| {});
        p.request_flush();
        p.push_with(&[9u32], |x| x);
        assert_eq!(c.honour_flush(), 3);
        // A second call has nothing to do.
        assert_eq!(c.honour_flush(), 0);
        let mut got = Vec::new();
        c.pop_with(10, |x| got.push(x));
        assert_eq!(got, vec![9]);
        // A flush of words already consumed is a no-op.
        p.request_flush();
        assert_eq!(c.honour_flush(), 0);
    }

    #[test]
    fn concurrent_producer_and_consumer_see_every_word_once() {
        let (mut p, mut c) = ring(64);
        const N: u32 = 200_000;
        let producer = std::thread::spawn(move || {
            let mut next = 0u32;
            while next < N {
                let chunk: Vec<u32> = (next..(next + 37).min(N)).collect();
                next += p.push_with(&chunk, |x| x) as u32;
                std::thread::yield_now();
            }
        });
        let mut expect = 0u32;
        while expect < N {
            c.pop_with(29, |x| {
                assert_eq!(x, expect);
                expect += 1;
            });
        }
        producer.join().unwrap();
        assert_eq!(c.available(), 0);
    }
}
