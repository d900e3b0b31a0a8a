//! How much a model call matters to a caller right now. Shared model workers serve the most
//! urgent call first; a session's own provider ignores it.
//!
//! The order is the pipeline's: what decides a turn (the final transcript, the first audio of a
//! reply the caller is waiting for) before what keeps it going, before what was guessed at a
//! pause, before what is only shown.

use std::fmt;
use std::sync::Arc;

/// The classes of model work, most urgent first (`Ord`: smaller runs first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// A caller is waiting on it now: the final transcript, a committed reply's first audio.
    Decisive,
    /// A committed reply's later audio: needed before playback reaches it, not at once.
    Ahead,
    /// Work started at a pause, on a guess that the caller has finished.
    Speculative,
    /// A transcript of an utterance still in progress, for display only.
    Partial,
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Decisive,
        Priority::Ahead,
        Priority::Speculative,
        Priority::Partial,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Priority::Decisive => "decisive",
            Priority::Ahead => "ahead",
            Priority::Speculative => "speculative",
            Priority::Partial => "partial",
        }
    }
}

/// A priority read when a worker picks its next call: work queued as speculative becomes
/// decisive if the turn is committed while it waits.
#[derive(Clone)]
pub struct Urgency(Rank);

#[derive(Clone)]
enum Rank {
    Fixed(Priority),
    Live(Arc<dyn Fn() -> Priority + Send + Sync>),
}

impl Urgency {
    pub fn fixed(p: Priority) -> Self {
        Self(Rank::Fixed(p))
    }

    /// A priority that `now` computes afresh each time it is asked.
    pub fn live(now: impl Fn() -> Priority + Send + Sync + 'static) -> Self {
        Self(Rank::Live(Arc::new(now)))
    }

    /// The priority as of this moment.
    pub fn now(&self) -> Priority {
        match &self.0 {
            Rank::Fixed(p) => *p,
            Rank::Live(f) => f(),
        }
    }
}

/// Work nobody ranked is work somebody waits for.
impl Default for Urgency {
    fn default() -> Self {
        Self::fixed(Priority::Decisive)
    }
}

impl fmt::Debug for Urgency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Urgency({:?})", self.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn classes_order_most_urgent_first() {
        let mut v = vec![
            Priority::Partial,
            Priority::Decisive,
            Priority::Speculative,
            Priority::Ahead,
        ];
        v.sort();
        assert_eq!(v, Priority::ALL);
        assert_eq!(Urgency::default().now(), Priority::Decisive);
    }

    #[test]
    fn a_live_urgency_is_read_afresh() {
        let committed = Arc::new(AtomicBool::new(false));
        let flag = committed.clone();
        let u = Urgency::live(move || {
            if flag.load(Ordering::Relaxed) {
                Priority::Decisive
            } else {
                Priority::Speculative
            }
        });
        assert_eq!(u.now(), Priority::Speculative);
        committed.store(true, Ordering::Relaxed);
        assert_eq!(u.clone().now(), Priority::Decisive);
    }
}
