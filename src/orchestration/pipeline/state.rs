//! The session's conversational state and its rules:
//!
//! ```text
//! IDLE -caller starts-> LISTENING -turn ends-> PROCESSING -first audio-> SPEAKING -done-> IDLE
//! SPEAKING/PROCESSING -barge-in-> INTERRUPTED -> LISTENING
//! ```
//!
//! One owner: the sink holds the [`TurnTaking`] machine, feeds it what the VAD, the STT and its
//! own playback report, and announces every change (an event in the ordered output, and a
//! [`super::messages::StateUpdate`] to the stages that act on it).

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
    /// True while a reply is pending or playing.
    pub fn agent_busy(self) -> bool {
        matches!(self, Self::Processing | Self::Speaking)
    }
}

/// The state machine. Each input returns the states entered, in order, for the owner to
/// announce (none when nothing changed).
#[derive(Debug)]
pub struct TurnTaking {
    state: AgentState,
    /// The caller is mid-turn (a reply that ends now hands over to LISTENING, not IDLE).
    caller_talking: bool,
}

impl Default for TurnTaking {
    fn default() -> Self {
        Self {
            state: AgentState::Idle,
            caller_talking: false,
        }
    }
}

impl TurnTaking {
    pub fn state(&self) -> AgentState {
        self.state
    }

    fn go(&mut self, to: AgentState) -> Vec<AgentState> {
        if self.state == to {
            return Vec::new();
        }
        self.state = to;
        vec![to]
    }

    /// The caller started talking. Over a busy agent the agent stays busy: it may be a cough.
    pub fn caller_started(&mut self) -> Vec<AgentState> {
        self.caller_talking = true;
        if self.state == AgentState::Idle {
            self.go(AgentState::Listening)
        } else {
            Vec::new()
        }
    }

    /// What the caller said over the agent was dropped as a blip.
    pub fn caller_stopped(&mut self) -> Vec<AgentState> {
        self.caller_talking = false;
        if self.state == AgentState::Listening {
            self.go(AgentState::Idle)
        } else {
            Vec::new()
        }
    }

    /// The caller's turn is over.
    pub fn turn_ended(&mut self) -> Vec<AgentState> {
        self.caller_talking = false;
        self.go(AgentState::Processing)
    }

    /// The caller cut the agent off.
    pub fn barge_in(&mut self) -> Vec<AgentState> {
        self.caller_talking = true;
        self.state = AgentState::Listening;
        vec![AgentState::Interrupted, AgentState::Listening]
    }

    /// The first audio of a reply is playing.
    pub fn reply_started(&mut self) -> Vec<AgentState> {
        self.go(AgentState::Speaking)
    }

    /// The current reply finished playing (or had nothing to play).
    pub fn reply_finished(&mut self) -> Vec<AgentState> {
        match self.state {
            AgentState::Speaking | AgentState::Processing if self.caller_talking => {
                self.go(AgentState::Listening)
            }
            AgentState::Speaking | AgentState::Processing => self.go(AgentState::Idle),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AgentState::*;
    use super::*;

    #[test]
    fn a_turn_goes_round_and_every_change_is_announced() {
        let mut t = TurnTaking::default();
        assert_eq!(t.caller_started(), [Listening]);
        assert_eq!(t.turn_ended(), [Processing]);
        assert!(t.state().agent_busy());
        assert_eq!(t.reply_started(), [Speaking]);
        assert_eq!(t.reply_started(), [], "no change, nothing announced");
        assert_eq!(t.reply_finished(), [Idle]);
    }

    #[test]
    fn a_blip_over_the_agent_leaves_it_busy_and_a_barge_in_hands_over() {
        let mut t = TurnTaking::default();
        t.turn_ended();
        t.reply_started();
        assert_eq!(
            t.caller_started(),
            [],
            "maybe a cough: the agent keeps talking"
        );
        assert_eq!(t.caller_stopped(), []);
        assert_eq!(t.state(), Speaking);
        t.caller_started();
        assert_eq!(t.barge_in(), [Interrupted, Listening]);
        assert_eq!(t.turn_ended(), [Processing]);
    }

    #[test]
    fn a_reply_that_ends_while_the_caller_talks_hands_over_to_listening() {
        let mut t = TurnTaking::default();
        t.turn_ended();
        t.reply_started();
        t.caller_started();
        assert_eq!(t.reply_finished(), [Listening]);
        assert_eq!(t.caller_stopped(), [Idle]);
    }
}
