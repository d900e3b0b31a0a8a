//! Source stage: pulls 20 ms frames from the transport and stamps them with media time. It is
//! the one producer of the chain, so it is a loop of its own rather than a [`super::super::runner::Stage`].
//!
//! A real-time input (a socket, a sound card, a paced file) sets the pace. An unpaced one (a WAV
//! run with `--fast`) goes as fast as the VAD takes frames, but like a real caller it waits for
//! the agent's answer before it speaks again: it follows the sink's state updates.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::super::messages::{Frame, SourceControl};
use super::super::shared::Shared;
use super::super::state::AgentState;
use crate::foundation::audio::{AudioInput, CallerInput, FRAME_MS, FRAME_SAMPLES};

/// The longest the source waits for the agent in `--fast` mode, or drains after the input ends.
const MAX_WAIT: Duration = Duration::from_secs(120);
/// Silence fed after the input ends before the session may stop (lets the VAD end the last turn).
const MIN_TAIL_MS: u64 = 1_000;

/// The source's view of the agent, kept current from its control messages.
struct Agent {
    updates: Receiver<SourceControl>,
    state: AgentState,
    /// The caller's turn that ended last, until the sink announces the agent free after it.
    hold: Option<u64>,
    /// A stage failed: stop feeding the session.
    stop: bool,
}

impl Agent {
    fn apply(&mut self, msg: SourceControl) {
        match msg {
            SourceControl::State(u) => {
                self.state = u.state;
                if self
                    .hold
                    .is_some_and(|seq| u.vad_seq >= seq && !u.state.agent_busy())
                {
                    self.hold = None;
                }
            }
            SourceControl::Hold { seq } => self.hold = Some(seq),
            SourceControl::Stop => self.stop = true,
        }
    }

    /// The caller may speak: the agent has answered.
    fn free(&self) -> bool {
        self.hold.is_none() && !self.state.agent_busy()
    }

    /// Take the updates that have arrived.
    fn catch_up(&mut self) {
        while let Ok(u) = self.updates.try_recv() {
            self.apply(u);
        }
    }

    /// Wait for updates until the agent is free; false when it never will be (stopped, or
    /// waited `MAX_WAIT`).
    fn wait_until_free(&mut self) -> bool {
        self.catch_up();
        let deadline = Instant::now() + MAX_WAIT;
        while !self.free() && !self.stop {
            match self.updates.recv_deadline(deadline) {
                Ok(u) => self.apply(u),
                Err(RecvTimeoutError::Timeout) => {
                    log::warn!("source: gave up waiting for the agent");
                    return false;
                }
                // The sink has ended: nobody will answer.
                Err(RecvTimeoutError::Disconnected) => self.stop = true,
            }
        }
        !self.stop
    }
}

pub fn run(
    mut input: Box<dyn AudioInput>,
    tx: Sender<Frame>,
    updates: Receiver<SourceControl>,
    s: Shared,
    drain_tail: bool,
) {
    let realtime = input.is_realtime();
    let mut agent = Agent {
        updates,
        state: AgentState::Idle,
        hold: None,
        stop: false,
    };
    loop {
        if realtime {
            agent.catch_up();
        } else {
            // As fast as possible, but the caller still waits for the agent's answer.
            agent.wait_until_free();
            s.clock.caller_after_agent();
        }
        if agent.stop {
            log::debug!("source: the session is winding down");
            return;
        }
        let sent = match input.next_input() {
            None => break,
            Some(CallerInput::Audio(pcm)) => send(&tx, &s, pcm),
            Some(CallerInput::Keys(keys)) => tx
                .send(Frame {
                    pcm: Vec::new(),
                    keys: Some(keys),
                    media_ms: s.clock.next_caller_frame(0),
                    at: Instant::now(),
                })
                .map_err(|_| ()),
        };
        if sent.is_err() {
            log::debug!("source: downstream closed");
            return;
        }
    }
    if drain_tail {
        drain(&tx, &s, &mut agent, realtime);
    }
    log::debug!("source: input ended");
}

/// After the input ends, silence until the last turn has been answered and played.
fn drain(tx: &Sender<Frame>, s: &Shared, agent: &mut Agent, realtime: bool) {
    let started = Instant::now();
    let mut fed_ms = 0;
    loop {
        if realtime {
            // Pace the silence like the caller's frames.
            let due = started + Duration::from_millis(fed_ms);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            agent.catch_up();
        } else if !agent.wait_until_free() {
            return;
        } else {
            s.clock.caller_after_agent();
        }
        if agent.stop || (fed_ms >= MIN_TAIL_MS && agent.state == AgentState::Idle) {
            return;
        }
        if started.elapsed() > MAX_WAIT {
            log::warn!("source: gave up waiting for the agent after the input ended");
            return;
        }
        if send(tx, s, vec![0; FRAME_SAMPLES]).is_err() {
            return;
        }
        fed_ms += FRAME_MS;
    }
}

fn send(tx: &Sender<Frame>, s: &Shared, pcm: Vec<i16>) -> Result<(), ()> {
    let media_ms = s.clock.next_caller_frame(FRAME_MS);
    if let Some(rec) = &s.recorder {
        rec.caller(media_ms, &pcm);
    }
    tx.send(Frame {
        pcm,
        keys: None,
        media_ms,
        at: Instant::now(),
    })
    .map_err(|_| ())
}
