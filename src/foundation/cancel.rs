//! The shared generation counter behind barge-in.
//!
//! Every reply is produced under the generation that was current when it started. Bumping the
//! counter makes every message of older generations stale: stages drop them, streams abort.
//! A [`CancelToken`] is how work in flight (a model call, an HTTP stream, a simulated delay)
//! learns that its generation has passed: by checking, or by waiting on it in a `select!`
//! beside its own channel ([`CancelToken::fired`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{bounded, select, Receiver, Sender};

/// The counter, and a channel per generation that is closed when the generation passes: a
/// closed channel wakes every receiver at once.
#[derive(Debug)]
struct Counter {
    value: AtomicU64,
    /// The current generation's channel (its sender is dropped on the bump).
    current: Mutex<(Sender<()>, Receiver<()>)>,
}

impl Default for Counter {
    fn default() -> Self {
        Self {
            value: AtomicU64::new(0),
            current: Mutex::new(bounded(0)),
        }
    }
}

/// A channel that is closed already: the token of a past generation.
fn closed() -> Receiver<()> {
    bounded(0).1
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
        let mut current = self.0.current.lock().unwrap_or_else(|e| e.into_inner());
        let g = self.0.value.fetch_add(1, Ordering::AcqRel) + 1;
        // Dropping the old sender closes the old generation's channel.
        *current = bounded(0);
        g
    }

    /// A token that reports cancellation once the generation moves past the current one.
    pub fn token(&self) -> CancelToken {
        self.token_for(self.current())
    }

    /// A token for work of a given generation: cancelled at once if that generation is past.
    pub fn token_for(&self, generation: u64) -> CancelToken {
        let current = self.0.current.lock().unwrap_or_else(|e| e.into_inner());
        let fired = if generation < self.current() {
            closed()
        } else {
            current.1.clone()
        };
        CancelToken {
            counter: Some(self.0.clone()),
            at: generation,
            fired,
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
    /// Closed when the token fires (`crossbeam_channel::never()` for a token that never does).
    fired: Receiver<()>,
}

impl CancelToken {
    /// A token that never fires (examples, benchmarks, one-shot calls).
    pub fn never() -> Self {
        Self {
            counter: None,
            at: 0,
            fired: crossbeam_channel::never(),
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

    /// A channel that becomes ready (closed) when the token fires: wait on it in a `select!`
    /// beside the work's own channel.
    pub fn fired(&self) -> &Receiver<()> {
        &self.fired
    }

    /// Wait `d`, or less if the token fires meanwhile; true when it fired.
    pub fn sleep(&self, d: Duration) -> bool {
        if self.is_cancelled() {
            return true;
        }
        select! {
            recv(self.fired) -> _ => true,
            default(d) => self.is_cancelled(),
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
        // A token for a generation already past is fired from the start.
        assert!(g.token_for(0).fired().try_recv().is_err());
        assert!(g.token_for(0).sleep(Duration::from_secs(600)));
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
        assert!(!CancelToken::never().sleep(Duration::from_millis(1)));
    }

    #[test]
    fn a_token_can_be_selected_beside_the_works_own_channel() {
        let g = Generation::new();
        let token = g.token();
        let (_work_tx, work) = crossbeam_channel::bounded::<u32>(1);
        g.bump();
        select! {
            recv(work) -> _ => panic!("no work was sent"),
            recv(token.fired()) -> _ => {}
        }
    }
}
