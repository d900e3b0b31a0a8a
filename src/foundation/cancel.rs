//! The shared generation counter behind barge-in.
//!
//! Every reply is produced under the generation that was current when it started. Bumping the
//! counter makes every message of older generations stale: stages drop them, streams abort.
//! A [`CancelToken`] is how work in flight (a model call, an HTTP stream, a simulated delay)
//! learns that its generation has passed: by checking, or by waiting on it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The counter, and a condition that wakes whoever waits on a token when it moves.
#[derive(Debug, Default)]
struct Counter {
    value: AtomicU64,
    lock: Mutex<()>,
    moved: Condvar,
}

/// A session's generation counter, cheap to clone and share between stage threads.
#[derive(Clone, Debug, Default)]
pub struct Generation(Arc<Counter>);

impl Generation {
    pub fn new() -> Self {
        Self::default()
    }

    /// The generation new work is made for.
    pub fn current(&self) -> u64 {
        self.0.value.load(Ordering::Acquire)
    }

    /// Invalidate everything in flight; returns the new generation.
    pub fn bump(&self) -> u64 {
        let g = self.0.value.fetch_add(1, Ordering::AcqRel) + 1;
        // Taking the lock orders the bump after any waiter's last look at the counter.
        let _held = self.0.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.0.moved.notify_all();
        g
    }

    /// A token that reports cancellation once the generation moves past the current one.
    pub fn token(&self) -> CancelToken {
        self.token_for(self.current())
    }

    /// A token for work of a given generation: cancelled at once if that generation is past.
    pub fn token_for(&self, generation: u64) -> CancelToken {
        CancelToken {
            counter: Some(self.0.clone()),
            at: generation,
        }
    }

    /// True when `generation` is older than the current one.
    pub fn is_stale(&self, generation: u64) -> bool {
        generation < self.current()
    }
}

/// Handed to long-running provider calls (LLM streams, synthesis) so they can stop early.
#[derive(Clone, Debug)]
pub struct CancelToken {
    counter: Option<Arc<Counter>>,
    at: u64,
}

impl CancelToken {
    /// A token that never fires (examples, benchmarks, one-shot calls).
    pub fn never() -> Self {
        Self {
            counter: None,
            at: 0,
        }
    }

    pub fn is_cancelled(&self) -> bool {
        match &self.counter {
            Some(c) => c.value.load(Ordering::Acquire) != self.at,
            None => false,
        }
    }

    /// The generation this token was issued for.
    pub fn generation(&self) -> u64 {
        self.at
    }

    /// Wait `d`, or less if the token fires meanwhile; true when it fired.
    pub fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        let Some(c) = &self.counter else {
            std::thread::sleep(d);
            return false;
        };
        let mut held = c.lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if self.is_cancelled() {
                return true;
            }
            let Some(left) = end.checked_duration_since(Instant::now()) else {
                return false;
            };
            held = c
                .moved
                .wait_timeout(held, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bump_cancels_tokens_of_older_generations_only() {
        let g = Generation::new();
        let old = g.token();
        assert!(!old.is_cancelled());
        assert_eq!(g.bump(), 1);
        assert!(old.is_cancelled());
        assert!(g.is_stale(0));
        let fresh = g.token();
        assert_eq!(fresh.generation(), 1);
        assert!(!fresh.is_cancelled());
        assert!(!CancelToken::never().is_cancelled());
    }

    #[test]
    fn a_sleeping_token_wakes_on_the_bump_not_at_the_end_of_its_sleep() {
        let g = Generation::new();
        let token = g.token();
        let (tx, rx) = crossbeam_channel::bounded(1);
        let sleeper = std::thread::spawn(move || {
            tx.send(()).unwrap();
            token.sleep(Duration::from_secs(600))
        });
        rx.recv().unwrap();
        g.bump();
        // Were the bump missed, this join would take ten minutes.
        assert!(sleeper.join().unwrap(), "woken by the bump");
        assert!(
            !g.token().sleep(Duration::from_millis(1)),
            "a quiet token sleeps it out"
        );
    }
}
