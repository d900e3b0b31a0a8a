//! Source stage: pulls 20 ms frames from the transport and stamps them with media time.

use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::super::messages::Frame;
use super::super::state::AgentState;
use super::super::Shared;
use crate::audio::{AudioInput, FRAME_MS, FRAME_SAMPLES};

/// The longest the source waits for the agent in `--fast` mode, or drains after the input ends.
const MAX_WAIT: Duration = Duration::from_secs(120);
/// Silence fed after the input ends before the session may stop (lets the VAD end the last turn).
const MIN_TAIL_MS: u64 = 1_000;

pub fn run(mut input: Box<dyn AudioInput>, tx: Sender<Frame>, s: Shared, drain_tail: bool) {
    let realtime = input.is_realtime();
    loop {
        if !realtime {
            // As fast as possible, but the caller still waits for the agent's answer.
            wait_until(&s, || !s.state.agent_busy());
            s.clock.caller_after_agent();
        }
        let Some(pcm) = input.next_frame() else { break };
        if send(&tx, &s, pcm).is_err() {
            log::debug!("source: downstream closed");
            return;
        }
    }
    if drain_tail {
        let started = Instant::now();
        let mut fed_ms = 0;
        // Silence until the last turn has been answered and played.
        while fed_ms < MIN_TAIL_MS || s.state.get() != AgentState::Idle {
            if started.elapsed() > MAX_WAIT {
                log::warn!("source: gave up waiting for the agent after the input ended");
                break;
            }
            if !realtime {
                wait_until(&s, || !s.state.agent_busy());
                s.clock.caller_after_agent();
            }
            if send(&tx, &s, vec![0; FRAME_SAMPLES]).is_err() {
                return;
            }
            fed_ms += FRAME_MS;
            if realtime {
                std::thread::sleep(Duration::from_millis(FRAME_MS));
            }
        }
    }
    log::debug!("source: input ended");
}

fn send(tx: &Sender<Frame>, s: &Shared, pcm: Vec<i16>) -> Result<(), ()> {
    if s.failed.load(std::sync::atomic::Ordering::Acquire) {
        // A stage failed: stop feeding the session so every thread can end.
        return Err(());
    }
    let media_ms = s.clock.next_caller_frame(FRAME_MS);
    if let Some(rec) = &s.recorder {
        rec.caller(media_ms, &pcm);
    }
    tx.send(Frame {
        pcm,
        media_ms,
        at: Instant::now(),
    })
    .map_err(|_| ())
}

fn wait_until(s: &Shared, ready: impl Fn() -> bool) {
    let start = Instant::now();
    while !ready()
        && start.elapsed() < MAX_WAIT
        && !s.failed.load(std::sync::atomic::Ordering::Acquire)
    {
        std::thread::sleep(Duration::from_millis(1));
    }
}
