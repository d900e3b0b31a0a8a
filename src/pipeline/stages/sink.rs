//! Sink stage: plays agent audio at real-time pace (or as fast as possible), stops at once on
//! barge-in, works out what the caller heard, and closes each turn with its report.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::super::events::Event;
use super::super::messages::{Heard, TtsMsg};
use super::super::state::AgentState;
use super::super::turn::{Mark, Turn, TurnReport};
use super::super::Shared;
use crate::audio::AudioOutput;
use crate::tts::OUTPUT_RATE;

/// Audio is handed to the output in 20 ms slices.
const SLICE: usize = OUTPUT_RATE as usize / 50;
const SLICE_DUR: Duration = Duration::from_millis(20);
/// Stop pulling from TTS while this much audio is queued (bounds memory on long replies).
const MAX_QUEUED: usize = OUTPUT_RATE as usize * 20;

/// One spoken chunk's place in the reply's audio.
struct Span {
    text: String,
    start: u64,
    announced: bool,
}

/// The reply being played.
struct Reply {
    turn: Arc<Turn>,
    generation: u64,
    spans: Vec<Span>,
    queued: VecDeque<i16>,
    /// Samples of this reply received from TTS.
    received: u64,
    /// Samples handed to the output.
    released: u64,
    /// (instant playback of a slice starts, first sample, length) for each released slice.
    schedule: Vec<(Instant, u64, u64)>,
    ended: bool,
    /// The output's own played counter when this reply began (outputs that report it).
    output_base: Option<u64>,
}

impl Reply {
    fn new(turn: Arc<Turn>, generation: u64, output_base: Option<u64>) -> Self {
        Self {
            turn,
            generation,
            spans: Vec::new(),
            queued: VecDeque::new(),
            received: 0,
            released: 0,
            schedule: Vec::new(),
            ended: false,
            output_base,
        }
    }

    /// A reply made before the end of turn was certain, which nobody heard: when it goes stale
    /// (the caller went on) it vanishes without a trace.
    fn is_unheard_speculation(&self) -> bool {
        self.released == 0 && self.turn.is_speculative_generation(self.generation)
    }

    /// Samples the caller has heard by `now`.
    fn heard_samples(&self, now: Instant, out: &dyn AudioOutput) -> u64 {
        if let (Some(base), Some(played)) = (self.output_base, out.played_samples()) {
            return played.saturating_sub(base).min(self.released);
        }
        self.schedule
            .iter()
            .map(|&(at, _, len)| {
                if now <= at {
                    0
                } else {
                    let el = now.duration_since(at).as_secs_f64() * OUTPUT_RATE as f64;
                    (el as u64).min(len)
                }
            })
            .sum()
    }

    /// The text the caller heard: whole chunks, and of a chunk cut short, the share of its
    /// words matching the share of its audio that played.
    fn heard_text(&self, heard: u64) -> String {
        let mut parts = Vec::new();
        for (i, span) in self.spans.iter().enumerate() {
            let end = self.spans.get(i + 1).map_or(self.received, |n| n.start);
            if heard >= end {
                parts.push(span.text.clone());
            } else if heard > span.start {
                let frac = (heard - span.start) as f64 / (end - span.start).max(1) as f64;
                let words: Vec<&str> = span.text.split_whitespace().collect();
                let n = (words.len() as f64 * frac).floor() as usize;
                if n > 0 {
                    parts.push(words[..n].join(" "));
                }
                break;
            } else {
                break;
            }
        }
        parts.join(" ")
    }
}

struct Sink {
    out: Box<dyn AudioOutput>,
    lookahead: Duration,
    heard_tx: Sender<Heard>,
    s: Shared,
    reports: Vec<TurnReport>,
    /// When the next slice may start playing (a continuous playout line).
    next_play: Instant,
    /// Media position (ms) of the next agent slice.
    media_cursor: u64,
    realtime: bool,
}

pub fn run(
    out: Box<dyn AudioOutput>,
    lookahead_ms: u64,
    rx: Receiver<TtsMsg>,
    heard_tx: Sender<Heard>,
    s: Shared,
) -> Vec<TurnReport> {
    let realtime = s.clock.is_realtime();
    let mut sink = Sink {
        out,
        lookahead: Duration::from_millis(lookahead_ms),
        heard_tx,
        s,
        reports: Vec::new(),
        next_play: Instant::now(),
        media_cursor: 0,
        realtime,
    };
    let mut cur: Option<Reply> = None;
    let mut open = true;
    while open || cur.is_some() {
        // Barge-in: the generation moved past the reply being played.
        if let Some(r) = &cur {
            if sink.s.generation.is_stale(r.generation) {
                let r = cur.take().expect("checked above");
                if r.is_unheard_speculation() {
                    log::debug!("sink: dropped the speculative reply of turn {}", r.turn.id);
                } else {
                    sink.interrupt(r);
                }
                continue;
            }
        }
        let busy = cur.as_ref().is_some_and(|r| !r.queued.is_empty());
        let room = cur.as_ref().is_none_or(|r| r.queued.len() < MAX_QUEUED);
        if open && room {
            // While a reply is playing, wake at least every slice to pace it and watch for barge-in.
            let msg = if cur.is_some() {
                let wait = if busy {
                    sink.next_play
                        .saturating_duration_since(Instant::now() + sink.lookahead)
                        .min(SLICE_DUR)
                } else {
                    Duration::from_millis(5)
                };
                if !realtime && busy {
                    rx.try_recv().map_err(|_| RecvTimeoutError::Timeout)
                } else {
                    rx.recv_timeout(wait)
                }
            } else {
                rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
            };
            match msg {
                Ok(m) => sink.accept(m, &mut cur),
                Err(RecvTimeoutError::Disconnected) => open = false,
                Err(RecvTimeoutError::Timeout) => {}
            }
        } else if !open && cur.as_ref().is_some_and(|r| !r.ended) {
            // Upstream is gone mid-reply: play what is left and close the turn.
            if let Some(r) = cur.as_mut() {
                r.ended = true;
            }
        } else if realtime {
            std::thread::sleep(Duration::from_millis(2));
        }
        if let Some(r) = cur.as_mut() {
            if sink.s.generation.is_stale(r.generation) {
                continue;
            }
            sink.release(r);
            let played_out = !realtime || Instant::now() >= sink.next_play;
            if r.ended && r.queued.is_empty() && played_out {
                let r = cur.take().expect("checked above");
                sink.finish(r, false);
            }
        }
    }
    sink.reports
}

impl Sink {
    fn accept(&mut self, msg: TtsMsg, cur: &mut Option<Reply>) {
        let (turn, generation) = match &msg {
            TtsMsg::SentenceStart {
                turn, generation, ..
            }
            | TtsMsg::Audio {
                turn, generation, ..
            }
            | TtsMsg::End { turn, generation } => (turn.clone(), *generation),
        };
        let stale = self.s.generation.is_stale(generation);
        if cur
            .as_ref()
            .is_some_and(|r| r.turn.id != turn.id || r.generation != generation)
        {
            // A new reply before the old one ended (its End was lost upstream): close the old one.
            if let Some(old) = cur.take() {
                self.finish(old, false);
            }
        }
        if stale {
            // Only the end of a cut-off reply matters: it closes the turn.
            if let TtsMsg::End { .. } = msg {
                let r = cur
                    .take()
                    .unwrap_or_else(|| Reply::new(turn, generation, None));
                if !r.is_unheard_speculation() {
                    self.interrupt(r);
                }
            }
            return;
        }
        let base = self.out.played_samples();
        let r = cur.get_or_insert_with(|| Reply::new(turn, generation, base));
        match msg {
            TtsMsg::SentenceStart { text, .. } => r.spans.push(Span {
                text,
                start: r.received,
                announced: false,
            }),
            TtsMsg::Audio { pcm, .. } => {
                r.received += pcm.len() as u64;
                r.queued.extend(pcm);
            }
            TtsMsg::End { .. } => r.ended = true,
        }
    }

    /// Hand due slices to the output.
    fn release(&mut self, r: &mut Reply) {
        // A speculative reply waits until the end of turn is certain.
        if !r.turn.is_committed() {
            return;
        }
        loop {
            let now = Instant::now();
            if r.queued.is_empty() || (self.realtime && self.next_play > now + self.lookahead) {
                return;
            }
            let n = r.queued.len().min(SLICE);
            let slice: Vec<i16> = r.queued.drain(..n).collect();
            if r.released == 0 {
                r.turn.mark(Mark::FirstAudioOut);
                self.s.state.set(AgentState::Speaking);
                self.s.events.emit(Event::State {
                    state: AgentState::Speaking,
                });
                self.s.events.emit(Event::AgentSpeaking { turn: r.turn.id });
            }
            // Announce each chunk's text as its audio starts.
            for span in r.spans.iter_mut() {
                if !span.announced && span.start <= r.released {
                    span.announced = true;
                    self.s.events.emit(Event::AgentText {
                        turn: r.turn.id,
                        text: span.text.clone(),
                    });
                }
            }
            // A gap (TTS slower than real time) restarts the playout line at now.
            let play_at = self.next_play.max(now);
            let ms = (n as u64 * 1000) / OUTPUT_RATE as u64;
            let media = self.s.clock.place_agent_audio(self.media_cursor, ms);
            self.media_cursor = media + ms;
            if let Some(rec) = &self.s.recorder {
                rec.agent(media, &slice);
            }
            self.out.write(&slice);
            r.schedule.push((play_at, r.released, n as u64));
            r.released += n as u64;
            self.next_play = play_at + Duration::from_secs_f64(n as f64 / OUTPUT_RATE as f64);
        }
    }

    /// The caller cut in: drop the rest and report what was heard.
    fn interrupt(&mut self, r: Reply) {
        let now = Instant::now();
        if r.released > 0 {
            self.out.clear();
        }
        // Whatever was scheduled but not yet heard will not be played.
        self.next_play = now;
        self.media_cursor = self.s.clock.now_ms();
        self.close(r, now, true);
    }

    fn finish(&mut self, r: Reply, interrupted: bool) {
        let now = Instant::now().max(self.next_play);
        let current = !self.s.generation.is_stale(r.generation);
        self.close(r, now, interrupted);
        if current {
            let st = self.s.state.get();
            if st == AgentState::Speaking || st == AgentState::Processing {
                self.s.state.set(AgentState::Idle);
                self.s.events.emit(Event::State {
                    state: AgentState::Idle,
                });
            }
        }
    }

    fn close(&mut self, r: Reply, at: Instant, interrupted: bool) {
        let heard = if interrupted {
            r.heard_text(r.heard_samples(at, &*self.out))
        } else {
            r.heard_text(r.received)
        };
        let report = r.turn.report(&heard, interrupted);
        if r.released > 0 || interrupted {
            self.s.events.emit(Event::AgentDone {
                turn: r.turn.id,
                interrupted,
            });
        }
        if !report.transcript.is_empty() || !report.agent_text.is_empty() {
            log::info!(
                "turn {}: {:?} -> {:?}{} | {}",
                report.turn,
                report.transcript,
                report.agent_text,
                if interrupted { " (interrupted)" } else { "" },
                report.latency_line()
            );
            self.s.events.emit(Event::Metrics(report.clone()));
            self.reports.push(report.clone());
        }
        let _ = self.heard_tx.send(Heard {
            turn_id: r.turn.id,
            text: heard,
            full_text: report.agent_text,
            interrupted,
        });
    }
}
