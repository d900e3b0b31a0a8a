//! The shared generation counter behind barge-in.
//!
//! Every reply is produced under the generation that was current when it started. Bumping the
//! counter makes every message of older generations stale: stages drop them, streams abort.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A session's generation counter, cheap to clone and share between stage threads.
#[derive(Clone, Debug, Default)]
pub struct Generation(Arc<AtomicU64>);

impl Generation {
    pub fn new() -> Self {
        Self::default()
    }

    /// The generation new work is made for.
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Invalidate everything in flight; returns the new generation.
    pub fn bump(&self) -> u64 {
        self.0.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// A token that reports cancellation once the generation moves past the current one.
    pub fn token(&self) -> CancelToken {
        CancelToken {
            counter: Some(self.0.clone()),
            at: self.current(),
        }
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
    counter: Option<Arc<AtomicU64>>,
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
            Some(c) => c.load(Ordering::Acquire) != self.at,
            None => false,
        }
    }

    /// The generation this token was issued for.
    pub fn generation(&self) -> u64 {
        self.at
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
}
