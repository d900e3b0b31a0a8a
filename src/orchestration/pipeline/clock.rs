//! Media time: where caller and agent audio sit on the conversation's timeline.
//!
//! Real time: the wall clock since the session started. As fast as possible (`--fast`): a virtual
//! clock advanced by the caller's frames, and moved past the agent's audio while the source waits
//! for the agent to finish, so a recording still lines up.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

#[derive(Debug)]
pub struct MediaClock {
    realtime: bool,
    start: Instant,
    caller_ms: AtomicU64,
    agent_end_ms: AtomicU64,
}

impl MediaClock {
    pub fn new(realtime: bool) -> Self {
        Self {
            realtime,
            start: Instant::now(),
            caller_ms: AtomicU64::new(0),
            agent_end_ms: AtomicU64::new(0),
        }
    }

    pub fn is_realtime(&self) -> bool {
        self.realtime
    }

    /// Now, in media ms.
    pub fn now_ms(&self) -> u64 {
        if self.realtime {
            self.start.elapsed().as_millis() as u64
        } else {
            self.caller_ms.load(Ordering::Acquire)
        }
    }

    /// Position of the next caller frame of `ms` length; advances the caller's timeline.
    pub fn next_caller_frame(&self, ms: u64) -> u64 {
        self.caller_ms.fetch_add(ms, Ordering::AcqRel)
    }

    /// Place `ms` of agent audio no earlier than `not_before`; returns its position.
    pub fn place_agent_audio(&self, not_before: u64, ms: u64) -> u64 {
        let at = not_before.max(self.now_ms());
        self.agent_end_ms.fetch_max(at + ms, Ordering::AcqRel);
        at
    }

    /// The caller resumes after the agent's audio (virtual time only).
    pub fn caller_after_agent(&self) {
        if !self.realtime {
            let end = self.agent_end_ms.load(Ordering::Acquire);
            self.caller_ms.fetch_max(end, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_lines_caller_up_after_agent() {
        let c = MediaClock::new(false);
        assert_eq!(c.next_caller_frame(20), 0);
        assert_eq!(c.next_caller_frame(20), 20);
        assert_eq!(c.now_ms(), 40);
        let at = c.place_agent_audio(0, 500);
        assert_eq!(at, 40);
        c.caller_after_agent();
        assert_eq!(c.now_ms(), 540);
    }
}
