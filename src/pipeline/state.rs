//! The session's conversational state, shared by the stages:
//! IDLE -> LISTENING -> PROCESSING -> SPEAKING -> IDLE, and SPEAKING -> INTERRUPTED -> LISTENING.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentState {
    /// Nobody is speaking and nothing is pending.
    Idle,
    /// The caller is speaking.
    Listening,
    /// The caller finished; the agent is working on a reply.
    Processing,
    /// The agent's audio is playing.
    Speaking,
    /// The caller cut the agent off (momentary, then LISTENING).
    Interrupted,
}

impl AgentState {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Listening,
            2 => Self::Processing,
            3 => Self::Speaking,
            4 => Self::Interrupted,
            _ => Self::Idle,
        }
    }
}

/// The shared state cell.
#[derive(Clone, Debug, Default)]
pub struct SharedState(Arc<AtomicU8>);

impl SharedState {
    pub fn get(&self) -> AgentState {
        AgentState::from_u8(self.0.load(Ordering::Acquire))
    }

    /// Set the state; returns the previous one.
    pub fn set(&self, s: AgentState) -> AgentState {
        AgentState::from_u8(self.0.swap(s as u8, Ordering::AcqRel))
    }

    /// Move to `to` only from `from`; true when it moved.
    pub fn transition(&self, from: AgentState, to: AgentState) -> bool {
        self.0
            .compare_exchange(from as u8, to as u8, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// True while a reply is pending or playing.
    pub fn agent_busy(&self) -> bool {
        matches!(self.get(), AgentState::Processing | AgentState::Speaking)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_only_from_the_expected_state() {
        let s = SharedState::default();
        assert_eq!(s.get(), AgentState::Idle);
        assert!(s.transition(AgentState::Idle, AgentState::Listening));
        assert!(!s.transition(AgentState::Idle, AgentState::Speaking));
        assert_eq!(s.set(AgentState::Speaking), AgentState::Listening);
        assert!(s.agent_busy());
    }
}
