//! A simulated caller for the pipeline bench: speaks each utterance in 20 ms frames at real-time
//! pace, stays silent (a microphone never stops) until the agent has answered, waits a natural
//! pause, then speaks the next one.
//!
//! It reports itself as *not* real-time, on purpose: the pipeline then plays the agent's reply as
//! fast as it is synthesized instead of at speaking pace. Time to first audio is unchanged (the
//! first audio leaves the sink the moment it exists either way), the rest of the reply is still
//! synthesized before the caller speaks again, and a ten-turn run takes a minute instead of
//! three. The caller's own audio, which the VAD, the endpointing and speculation react to, is
//! always paced in real time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::utterances::last_audible;
use crate::foundation::audio::{AudioInput, FRAME_MS, FRAME_SAMPLES};

const FRAME: Duration = Duration::from_millis(FRAME_MS);
/// How long the caller still waits for a reply after a turn report without audio.
const SILENT_GRACE: Duration = Duration::from_secs(3);

/// What the harness and the caller share.
#[derive(Clone, Debug, Default)]
pub struct CallerProgress {
    /// Replies the caller heard (turn reports with agent audio).
    pub answered: Arc<AtomicUsize>,
    /// Every turn report, with or without audio.
    pub reports: Arc<AtomicUsize>,
    /// Index + 1 of the utterance being spoken or last spoken (0 before the first).
    pub speaking: Arc<AtomicUsize>,
    /// Utterances given up on: no reply within the timeout.
    pub unanswered: Arc<AtomicUsize>,
    /// When each utterance's speech really ended: the end of the frame holding its last
    /// audible sample, as that frame was handed to the pipeline.
    pub ended: Arc<Mutex<Vec<Instant>>>,
}

impl CallerProgress {
    /// A turn report arrived; `played` when the agent's audio went out (only that answers the
    /// caller: a reply thrown away unheard does not). Returns the utterance (0-based) being
    /// spoken or last spoken.
    pub fn reply(&self, played: bool) -> Option<usize> {
        self.reports.fetch_add(1, Ordering::AcqRel);
        if played {
            self.answered.fetch_add(1, Ordering::AcqRel);
        }
        self.speaking.load(Ordering::Acquire).checked_sub(1)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    /// Silence before the first utterance.
    Lead {
        left_ms: u64,
    },
    Speaking {
        index: usize,
        pos: usize,
    },
    /// Silence until the reply to `index` arrives.
    Waiting {
        index: usize,
        answered_before: usize,
        reports_before: usize,
        since: Instant,
        /// A report without audio came: the turn may be over with nothing said.
        silent_since: Option<Instant>,
    },
    /// The pause after a reply.
    Gap {
        next: usize,
        left_ms: u64,
    },
    Done,
}

/// The scripted caller (an [`AudioInput`]).
pub struct CallerScript {
    utterances: Vec<Vec<i16>>,
    /// Where each utterance's speech ends (see [`last_audible`]).
    last_audible: Vec<usize>,
    gap_ms: u64,
    answer_timeout: Duration,
    progress: CallerProgress,
    phase: Phase,
    next_due: Option<Instant>,
    /// The frame being handed out holds its utterance's last audible sample.
    anchor_frame: bool,
}

impl CallerScript {
    /// `utterances` at 16 kHz; `gap_ms` of silence after each reply before the next utterance.
    pub fn new(utterances: Vec<Vec<i16>>, lead_ms: u64, gap_ms: u64) -> Self {
        Self {
            last_audible: utterances.iter().map(|u| last_audible(u)).collect(),
            utterances,
            gap_ms,
            answer_timeout: Duration::from_secs(20),
            progress: CallerProgress::default(),
            phase: Phase::Lead { left_ms: lead_ms },
            next_due: None,
            anchor_frame: false,
        }
    }

    /// Give up on a reply after this long (the utterance counts as unanswered).
    pub fn with_answer_timeout(mut self, timeout: Duration) -> Self {
        self.answer_timeout = timeout;
        self
    }

    pub fn progress(&self) -> CallerProgress {
        self.progress.clone()
    }

    /// Wait for this frame's slot: 20 ms after the last one. After a stall (the pipeline stopped
    /// pulling while the agent worked) the schedule restarts at now instead of bursting.
    fn pace(&mut self) {
        let now = Instant::now();
        let due = match self.next_due {
            Some(d) if d + FRAME > now => d,
            _ => now,
        };
        if due > now {
            std::thread::sleep(due - now);
        }
        self.next_due = Some(due + FRAME);
    }

    /// The next frame's samples, advancing the script; `None` when the call is over.
    fn step(&mut self) -> Option<Vec<i16>> {
        let silence = || vec![0i16; FRAME_SAMPLES];
        loop {
            match self.phase {
                Phase::Done => return None,
                Phase::Lead { left_ms } if left_ms >= FRAME_MS => {
                    self.phase = Phase::Lead {
                        left_ms: left_ms - FRAME_MS,
                    };
                    return Some(silence());
                }
                Phase::Lead { .. } => self.phase = self.start(0),
                Phase::Speaking { index, pos } => {
                    let u = &self.utterances[index];
                    if pos >= u.len() {
                        self.phase = Phase::Waiting {
                            index,
                            answered_before: self.progress.answered.load(Ordering::Acquire),
                            reports_before: self.progress.reports.load(Ordering::Acquire),
                            since: Instant::now(),
                            silent_since: None,
                        };
                        continue;
                    }
                    let end = (pos + FRAME_SAMPLES).min(u.len());
                    let last = self.last_audible[index];
                    self.anchor_frame = pos < last && last <= end;
                    let mut frame = u[pos..end].to_vec();
                    frame.resize(FRAME_SAMPLES, 0);
                    self.phase = Phase::Speaking { index, pos: end };
                    return Some(frame);
                }
                Phase::Waiting {
                    index,
                    answered_before,
                    reports_before,
                    since,
                    silent_since,
                } => {
                    let answered = self.progress.answered.load(Ordering::Acquire) > answered_before;
                    let silent_since = silent_since.or_else(|| {
                        (self.progress.reports.load(Ordering::Acquire) > reports_before)
                            .then(Instant::now)
                    });
                    // After a report without audio, a reply may still come: wait a little.
                    let gave_up = since.elapsed() >= self.answer_timeout
                        || silent_since.is_some_and(|t| t.elapsed() >= SILENT_GRACE);
                    if !answered && !gave_up {
                        self.phase = Phase::Waiting {
                            index,
                            answered_before,
                            reports_before,
                            since,
                            silent_since,
                        };
                        return Some(silence());
                    }
                    if !answered {
                        log::warn!("bench caller: no reply to utterance {} in time", index + 1);
                        self.progress.unanswered.fetch_add(1, Ordering::AcqRel);
                    }
                    self.phase = Phase::Gap {
                        next: index + 1,
                        left_ms: self.gap_ms,
                    };
                }
                Phase::Gap { next, left_ms } if left_ms >= FRAME_MS => {
                    self.phase = Phase::Gap {
                        next,
                        left_ms: left_ms - FRAME_MS,
                    };
                    return Some(silence());
                }
                Phase::Gap { next, .. } => self.phase = self.start(next),
            }
        }
    }

    fn start(&self, index: usize) -> Phase {
        if index >= self.utterances.len() {
            return Phase::Done;
        }
        self.progress.speaking.store(index + 1, Ordering::Release);
        Phase::Speaking { index, pos: 0 }
    }
}

impl AudioInput for CallerScript {
    fn next_frame(&mut self) -> Option<Vec<i16>> {
        let frame = self.step()?;
        self.pace();
        if std::mem::take(&mut self.anchor_frame) {
            if let Ok(mut ended) = self.progress.ended.lock() {
                ended.push(Instant::now() + FRAME);
            }
        }
        Some(frame)
    }

    fn is_realtime(&self) -> bool {
        // See the module comment: the agent's playout is not paced, the caller is.
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speaks_waits_for_the_reply_then_pauses() {
        let utterances = vec![vec![1i16; FRAME_SAMPLES * 2], vec![2i16; FRAME_SAMPLES]];
        let mut c =
            CallerScript::new(utterances, 40, 40).with_answer_timeout(Duration::from_secs(60));
        let p = c.progress();
        let mut frames = Vec::new();
        // Lead (2 frames) and the first utterance (2 frames).
        for _ in 0..4 {
            frames.push(c.step().expect("frame")[0]);
        }
        assert_eq!(frames, vec![0, 0, 1, 1]);
        assert_eq!(p.speaking.load(Ordering::Acquire), 1);
        // No reply yet: silence, however long.
        for _ in 0..5 {
            assert_eq!(c.step().expect("frame")[0], 0);
        }
        assert_eq!(p.reply(false), Some(0), "an unplayed reply answers nothing");
        assert_eq!(c.step().expect("still waiting")[0], 0);
        assert_eq!(p.reply(true), Some(0));
        // The gap (2 frames), then the second utterance, then silence until its reply.
        assert_eq!(c.step().expect("gap")[0], 0);
        assert_eq!(c.step().expect("gap")[0], 0);
        assert_eq!(c.step().expect("speech")[0], 2);
        assert_eq!(p.speaking.load(Ordering::Acquire), 2);
        assert_eq!(c.step().expect("wait")[0], 0);
        assert_eq!(p.reply(true), Some(1));
        assert_eq!(c.step().expect("gap")[0], 0);
        assert_eq!(c.step().expect("gap")[0], 0);
        assert_eq!(c.step(), None);
        assert_eq!(p.unanswered.load(Ordering::Acquire), 0);
        assert!(!c.is_realtime());
    }

    #[test]
    fn a_report_without_audio_ends_the_wait_after_a_grace() {
        let mut c = CallerScript::new(vec![vec![5i16; FRAME_SAMPLES]], 0, 0);
        let p = c.progress();
        assert_eq!(c.step().expect("speech")[0], 5);
        assert_eq!(c.step().expect("wait")[0], 0);
        assert_eq!(p.reply(false), Some(0));
        // Still waiting within the grace; the phase remembers when the silent report came.
        assert_eq!(c.step().expect("wait")[0], 0);
        assert!(matches!(
            c.phase,
            Phase::Waiting {
                silent_since: Some(_),
                ..
            }
        ));
        if let Phase::Waiting { silent_since, .. } = &mut c.phase {
            *silent_since = Instant::now().checked_sub(SILENT_GRACE);
        }
        assert_eq!(c.step(), None);
        assert_eq!(p.unanswered.load(Ordering::Acquire), 1);
    }

    #[test]
    fn gives_up_on_a_missing_reply() {
        let mut c = CallerScript::new(vec![vec![5i16; FRAME_SAMPLES]], 0, 0)
            .with_answer_timeout(Duration::ZERO);
        let p = c.progress();
        let frames: Vec<Vec<i16>> = std::iter::from_fn(|| c.step()).collect();
        assert_eq!(frames.len(), 1);
        assert_eq!(p.unanswered.load(Ordering::Acquire), 1);
    }
}
