//! Sink stage: the session's one owner. It plays agent audio at real-time pace (or as fast as
//! possible), holds a reply made at the caller's pause until the turn is committed, stops at
//! once on barge-in, works out what the caller heard, closes each turn with its report, and
//! owns the agent's state. Everything the transport gets leaves here, on one ordered output.
//!
//! Its control channel carries what the other stages report: events to show, the caller
//! starting and ending turns (VAD), the commit (STT), barge-in (VAD), a failed stage, a hang-up.
//! Its state announcements go to the output, the VAD and the source.

use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::super::events::Event;
use super::super::messages::{SinkControl, SourceControl, StateUpdate, TtsMsg, VadControl};
use super::super::output::{Output, SessionOutput};
use super::super::runner::{Flow, Stage};
use super::super::shared::Shared;
use super::super::state::{AgentState, TurnTaking};
use super::super::turn::{Mark, TurnReport};
use super::playout::{Reply, Span};
use crate::foundation::audio::OUTPUT_RATE;
use crate::foundation::dialogue::Heard;

/// Audio is handed to the output in 20 ms slices.
const SLICE: usize = OUTPUT_RATE as usize / 50;
/// Stop taking from TTS while this much audio is queued (bounds memory on long replies).
const MAX_QUEUED: usize = OUTPUT_RATE as usize * 20;

/// Where the sink's announcements go besides the output (and the source, on `Shared`).
pub struct Listeners {
    pub heard: Sender<Heard>,
    pub vad: Sender<VadControl>,
}

pub struct Sink {
    out: Box<dyn SessionOutput>,
    lookahead: Duration,
    listeners: Listeners,
    s: Shared,
    realtime: bool,
    reports: Vec<TurnReport>,
    cur: Option<Reply>,
    state: TurnTaking,
    /// The last VAD request applied (echoed in state updates).
    vad_seq: u64,
    /// The last turn committed, and the generation its replies must have: replies of earlier
    /// turns, and of this one from that generation on, may be played.
    committed: (u64, u64),
    /// The caller hung up: nothing is played any more.
    hung_up: bool,
    input_closed: bool,
    /// When the next slice may start playing (a continuous playout line).
    next_play: Instant,
    /// Media position (ms) of the next agent slice.
    media_cursor: u64,
    /// The reply closed last: (turn, generation).
    last_closed: Option<(u64, u64)>,
    /// The agent's volume asked for (below 1.0 while a caller's onset ducks it), and the one
    /// the last slice ended at (the change is ramped, not stepped: a step clicks).
    gain: f32,
    played_gain: f32,
}

impl Sink {
    pub fn new(
        out: Box<dyn SessionOutput>,
        lookahead_ms: u64,
        listeners: Listeners,
        s: Shared,
    ) -> Self {
        Self {
            out,
            lookahead: Duration::from_millis(lookahead_ms),
            listeners,
            realtime: s.clock.is_realtime(),
            s,
            reports: Vec::new(),
            cur: None,
            state: TurnTaking::default(),
            vad_seq: 0,
            committed: (0, 0),
            hung_up: false,
            input_closed: false,
            gain: 1.0,
            played_gain: 1.0,
            next_play: Instant::now(),
            media_cursor: 0,
            last_closed: None,
        }
    }

    fn emit(&mut self, e: Event) {
        self.out.send(Output::Event(e));
    }

    /// Announce each state entered: in the output, and to the stages that act on it.
    fn publish(&mut self, states: Vec<AgentState>) {
        for state in states {
            self.emit(Event::State { state });
            self.tell_listeners(state);
        }
    }

    fn tell_listeners(&self, state: AgentState) {
        let u = StateUpdate {
            state,
            vad_seq: self.vad_seq,
        };
        // A stage that has ended needs no news.
        let _ = self.listeners.vad.send(VadControl::State(u));
        let _ = self.s.source.send(SourceControl::State(u));
    }

    fn playable(&self, r: &Reply) -> bool {
        let (turn, generation) = self.committed;
        r.turn.id < turn || (r.turn.id == turn && r.generation >= generation)
    }

    fn accept(&mut self, msg: TtsMsg) {
        let (turn, generation) = match &msg {
            TtsMsg::SentenceStart {
                turn, generation, ..
            }
            | TtsMsg::Audio {
                turn, generation, ..
            }
            | TtsMsg::End { turn, generation } => (turn.clone(), *generation),
        };
        if self
            .cur
            .as_ref()
            .is_some_and(|r| r.turn.id != turn.id || r.generation != generation)
        {
            // A new reply before the old one ended (its End was lost upstream): close the old one.
            if let Some(old) = self.cur.take() {
                self.end_reply(old);
            }
        }
        if self.s.generation.is_stale(generation) || self.hung_up {
            // Only the end of a cut-off reply matters: it closes the turn, unless the barge-in
            // closed it already.
            if self.last_closed == Some((turn.id, generation)) {
                return;
            }
            if let TtsMsg::End { .. } = msg {
                let r = self
                    .cur
                    .take()
                    .unwrap_or_else(|| Reply::new(turn, generation, None));
                self.cut(r);
            }
            return;
        }
        let base = self.out.played_samples();
        let r = self
            .cur
            .get_or_insert_with(|| Reply::new(turn, generation, base));
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

    /// Play what is due, and close the reply once it has all been played.
    fn pump(&mut self) {
        let Some(mut r) = self.cur.take() else {
            return;
        };
        if self.s.generation.is_stale(r.generation) || self.hung_up {
            self.cut(r);
            return;
        }
        if self.input_closed && !self.playable(&r) {
            // Made at a pause that never became a turn: nobody will play it now.
            self.cut(r);
            return;
        }
        self.release(&mut r);
        let played_out = !self.realtime || Instant::now() >= self.next_play;
        if r.ended && r.queued.is_empty() && played_out {
            self.finish_reply(r);
        } else {
            self.cur = Some(r);
        }
    }

    /// Hand due slices to the output. A speculative reply waits until its turn is committed.
    fn release(&mut self, r: &mut Reply) {
        if !self.playable(r) {
            return;
        }
        loop {
            let now = Instant::now();
            if r.queued.is_empty() || (self.realtime && self.next_play > now + self.lookahead) {
                return;
            }
            let n = r.queued.len().min(SLICE);
            let mut slice: Vec<i16> = r.queued.drain(..n).collect();
            if r.released == 0 {
                // A reply starts at full volume, whatever the last one was ducked to.
                self.gain = 1.0;
                r.turn.mark(Mark::FirstAudioOut);
                let entered = self.state.reply_started();
                self.publish(entered);
                self.emit(Event::AgentSpeaking { turn: r.turn.id });
            }
            // Announce each chunk's text as its audio starts.
            for span in r.spans.iter_mut() {
                if !span.announced && span.start <= r.released {
                    span.announced = true;
                    self.out.send(Output::Event(Event::AgentText {
                        turn: r.turn.id,
                        text: span.text.clone(),
                    }));
                }
            }
            self.played_gain = apply_gain(&mut slice, self.played_gain, self.gain);
            // A gap (TTS slower than real time) restarts the playout line at now.
            let play_at = self.next_play.max(now);
            let ms = (n as u64 * 1000) / OUTPUT_RATE as u64;
            let media = self.s.clock.place_agent_audio(self.media_cursor, ms);
            self.media_cursor = media + ms;
            if let Some(rec) = &self.s.recorder {
                rec.agent(media, &slice);
            }
            self.out.send(Output::Audio(slice));
            r.schedule.push((play_at, r.released, n as u64));
            r.released += n as u64;
            self.next_play = play_at + Duration::from_secs_f64(n as f64 / OUTPUT_RATE as f64);
        }
    }

    /// A reply that will not play on: vanish if nobody heard a word of it and it was never
    /// playable (made at a pause the caller talked through), else report it as cut off.
    fn cut(&mut self, r: Reply) {
        if r.released == 0 && !self.playable(&r) {
            log::debug!("sink: dropped the speculative reply of turn {}", r.turn.id);
            return;
        }
        let now = Instant::now();
        // Whatever was scheduled but not yet heard will not be played.
        self.next_play = now;
        self.media_cursor = self.s.clock.now_ms();
        self.close(r, now, true);
    }

    /// A reply replaced before its end: cut it if it went stale, else close it as played.
    fn end_reply(&mut self, r: Reply) {
        if self.s.generation.is_stale(r.generation) || self.hung_up {
            self.cut(r);
        } else {
            self.finish_reply(r);
        }
    }

    fn finish_reply(&mut self, r: Reply) {
        let now = Instant::now().max(self.next_play);
        let current = !self.s.generation.is_stale(r.generation);
        self.close(r, now, false);
        if current {
            let entered = self.state.reply_finished();
            self.publish(entered);
        }
    }

    fn close(&mut self, r: Reply, at: Instant, interrupted: bool) {
        self.last_closed = Some((r.turn.id, r.generation));
        let heard = if interrupted {
            r.heard_text(r.heard_samples(at, self.out.played_samples()))
        } else {
            r.heard_text(r.received)
        };
        let report = r.turn.report(&heard, interrupted);
        if r.released > 0 || interrupted {
            self.emit(Event::AgentDone {
                turn: r.turn.id,
                interrupted,
            });
        }
        if !report.transcript.is_empty() || !report.agent_text.is_empty() {
            log::info!(
                "turn {}{} | {}",
                report.turn,
                if interrupted { " (interrupted)" } else { "" },
                report.latency_line()
            );
            log::debug!(
                "turn {}: {:?} -> {:?}",
                report.turn,
                report.transcript,
                report.agent_text
            );
            self.emit(Event::Metrics(Box::new(report.clone())));
            self.reports.push(report.clone());
        }
        let _ = self.listeners.heard.send(Heard {
            turn_id: r.turn.id,
            text: heard,
            full_text: report.agent_text,
            interrupted,
        });
    }
}

impl Stage for Sink {
    type In = TtsMsg;
    type Control = SinkControl;
    type Out = Vec<TurnReport>;

    fn handle(&mut self, msg: TtsMsg) -> Flow {
        self.accept(msg);
        self.pump();
        Flow::Continue
    }

    fn control(&mut self, msg: SinkControl) -> Flow {
        match msg {
            SinkControl::Event(e) => self.emit(e),
            SinkControl::CallerStarted { seq } => {
                self.vad_seq = seq;
                let entered = self.state.caller_started();
                self.publish(entered);
            }
            SinkControl::CallerStopped { seq } => {
                self.vad_seq = seq;
                let entered = self.state.caller_stopped();
                self.publish(entered);
            }
            SinkControl::TurnEnded { seq } => {
                self.vad_seq = seq;
                let entered = self.state.turn_ended();
                self.publish(entered);
            }
            SinkControl::Committed {
                turn_id,
                generation,
            } => {
                if turn_id >= self.committed.0 {
                    self.committed = (turn_id, generation);
                }
            }
            SinkControl::Duck { gain } => self.gain = gain,
            SinkControl::BargeIn { seq, generation } => {
                self.vad_seq = seq;
                self.gain = 1.0;
                // Drop all queued agent audio downstream now, then say what happened.
                self.emit(Event::Clear);
                let entered = self.state.barge_in();
                self.publish(entered);
                if let Some(r) = self.cur.take_if(|r| r.generation < generation) {
                    self.cut(r);
                }
            }
            SinkControl::HangUp => {
                // Nobody is listening: account for the reply in progress, and end now rather
                // than wait for stages upstream (one may be stuck in a provider call).
                self.hung_up = true;
                if let Some(r) = self.cur.take() {
                    self.cut(r);
                }
                return Flow::Stop;
            }
        }
        self.pump();
        Flow::Continue
    }

    fn wake_at(&self) -> Option<Instant> {
        let r = self.cur.as_ref()?;
        if !self.realtime || !self.playable(r) {
            return None;
        }
        if !r.queued.is_empty() {
            // The next slice is due once it falls within the lookahead.
            return Some(
                self.next_play
                    .checked_sub(self.lookahead)
                    .unwrap_or(self.next_play),
            );
        }
        // All handed out: close the reply when the last slice has played.
        r.ended.then_some(self.next_play)
    }

    fn wake(&mut self) -> Flow {
        self.pump();
        Flow::Continue
    }

    fn wants_data(&self) -> bool {
        self.cur
            .as_ref()
            .is_none_or(|r| r.queued.len() < MAX_QUEUED)
    }

    fn input_closed(&mut self) {
        // Upstream is gone mid-reply: play what is left and close the turn.
        if let Some(r) = self.cur.as_mut() {
            r.ended = true;
        }
        self.input_closed = true;
        self.pump();
    }

    fn finish(mut self) -> Vec<TurnReport> {
        if let Some(r) = self.cur.take() {
            self.end_reply(r);
        }
        self.reports
    }
}

/// Samples over which a change of volume is ramped: 5 ms of the agent's audio.
const GAIN_RAMP: usize = OUTPUT_RATE as usize / 200;

/// Scale `pcm` by a gain going from `from` to `to` over the first [`GAIN_RAMP`] samples;
/// returns the gain it ends at.
fn apply_gain(pcm: &mut [i16], from: f32, to: f32) -> f32 {
    if from == 1.0 && to == 1.0 {
        return to;
    }
    for (i, x) in pcm.iter_mut().enumerate() {
        let g = if i < GAIN_RAMP {
            from + (to - from) * (i + 1) as f32 / GAIN_RAMP as f32
        } else {
            to
        };
        *x = (*x as f32 * g).round() as i16;
    }
    if pcm.len() < GAIN_RAMP {
        from + (to - from) * pcm.len() as f32 / GAIN_RAMP as f32
    } else {
        to
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crossbeam_channel::{unbounded, Receiver};

    use super::*;
    use crate::foundation::cancel::Generation;
    use crate::orchestration::pipeline::clock::MediaClock;
    use crate::orchestration::pipeline::messages::Events;
    use crate::orchestration::pipeline::output;
    use crate::orchestration::pipeline::turn::Turn;

    #[test]
    fn a_duck_ramps_down_and_back_without_a_step() {
        let mut pcm = vec![10_000i16; 320];
        let ended = apply_gain(&mut pcm, 1.0, 0.178);
        assert_eq!(ended, 0.178);
        // Down over the first 5 ms, never a jump bigger than one ramp step.
        assert!(pcm[0] > 9_800 && pcm[0] < 10_000, "{}", pcm[0]);
        assert!(pcm.windows(2).all(|w| (w[0] - w[1]).abs() <= 110));
        assert_eq!(pcm[GAIN_RAMP], 1_780);
        assert_eq!(pcm[319], 1_780);
        let mut back = vec![10_000i16; 320];
        assert_eq!(apply_gain(&mut back, 0.178, 1.0), 1.0);
        assert_eq!(back[319], 10_000);
        // Full volume is left untouched.
        let mut same = vec![123i16; 10];
        apply_gain(&mut same, 1.0, 1.0);
        assert!(same.iter().all(|&x| x == 123));
    }

    struct Rig {
        sink: Sink,
        out: Receiver<Output>,
        heard: Receiver<Heard>,
        generation: Generation,
    }

    fn rig() -> Rig {
        let (events, _sink_control) = Events::channel();
        let (source, _) = unbounded();
        let generation = Generation::new();
        let s = Shared {
            generation: generation.clone(),
            events,
            source,
            done: unbounded().0,
            // Not real time: audio is handed out as soon as it may be played.
            clock: Arc::new(MediaClock::new(false)),
            recorder: None,
        };
        let (out, rx) = output::channel();
        let (heard_tx, heard) = unbounded();
        let listeners = Listeners {
            heard: heard_tx,
            vad: unbounded().0,
        };
        Rig {
            sink: Sink::new(Box::new(out), 0, listeners, s),
            out: rx,
            heard,
            generation,
        }
    }

    fn reply(sink: &mut Sink, turn: &Arc<Turn>, generation: u64, text: &str) {
        for msg in [
            TtsMsg::SentenceStart {
                turn: turn.clone(),
                generation,
                text: text.into(),
            },
            TtsMsg::Audio {
                turn: turn.clone(),
                generation,
                pcm: vec![100; 4_800],
            },
            TtsMsg::End {
                turn: turn.clone(),
                generation,
            },
        ] {
            sink.handle(msg);
        }
    }

    fn audio_out(rx: &Receiver<Output>) -> usize {
        rx.try_iter()
            .map(|o| match o {
                Output::Audio(pcm) => pcm.len(),
                Output::Event(_) => 0,
            })
            .sum()
    }

    #[test]
    fn a_reply_made_at_a_pause_waits_for_the_commit() {
        let mut r = rig();
        let turn = Arc::new(Turn::new(1));
        turn.set_transcript("what are doctor chen's hours", true);
        reply(&mut r.sink, &turn, 0, "Doctor Chen works on Mondays.");
        assert_eq!(audio_out(&r.out), 0, "held until the turn is committed");
        r.sink.control(SinkControl::Committed {
            turn_id: 1,
            generation: 0,
        });
        assert_eq!(audio_out(&r.out), 4_800);
        let h = r.heard.try_recv().expect("the reply is accounted for");
        assert_eq!(h.text, "Doctor Chen works on Mondays.");
        assert!(!h.interrupted);
    }

    #[test]
    fn a_reply_the_caller_talked_through_vanishes_even_once_its_turn_is_committed() {
        let mut r = rig();
        let turn = Arc::new(Turn::new(1));
        turn.set_transcript("what are doctor chen's hours", true);
        reply(&mut r.sink, &turn, 0, "A guess.");
        // The caller went on after the pause (the STT bumps the generation), then ended the
        // turn: the commit is for the replies made from now on.
        let g = r.generation.bump();
        r.sink.control(SinkControl::Committed {
            turn_id: 1,
            generation: g,
        });
        assert_eq!(audio_out(&r.out), 0, "the guess is never played");
        assert!(r.heard.try_recv().is_err(), "and never accounted for");
        reply(&mut r.sink, &turn, g, "The real answer.");
        assert_eq!(audio_out(&r.out), 4_800);
        let h = r.heard.try_recv().expect("the real reply is accounted for");
        assert_eq!(h.text, "The real answer.");
        assert_eq!(r.sink.finish().len(), 1, "one report for the turn");
    }

    #[test]
    fn a_barge_in_cuts_the_reply_once_and_says_so_first() {
        let mut r = rig();
        let turn = Arc::new(Turn::new(1));
        turn.set_transcript("what are doctor chen's hours", true);
        r.sink.control(SinkControl::Committed {
            turn_id: 1,
            generation: 0,
        });
        r.sink.handle(TtsMsg::SentenceStart {
            turn: turn.clone(),
            generation: 0,
            text: "A long answer.".into(),
        });
        r.sink.handle(TtsMsg::Audio {
            turn: turn.clone(),
            generation: 0,
            pcm: vec![100; 4_800],
        });
        let g = r.generation.bump();
        r.sink.control(SinkControl::BargeIn {
            seq: 1,
            generation: g,
        });
        // The end of the cut reply arrives later: it closes nothing a second time.
        r.sink.handle(TtsMsg::End {
            turn: turn.clone(),
            generation: 0,
        });
        let events: Vec<Event> = r
            .out
            .try_iter()
            .filter_map(|o| match o {
                Output::Event(e) => Some(e),
                Output::Audio(_) => None,
            })
            .collect();
        let clear = events
            .iter()
            .position(|e| *e == Event::Clear)
            .expect("clear");
        let done = events
            .iter()
            .position(|e| {
                matches!(
                    e,
                    Event::AgentDone {
                        interrupted: true,
                        ..
                    }
                )
            })
            .expect("agent_done");
        assert!(clear < done, "{events:?}");
        assert_eq!(r.heard.try_iter().count(), 1);
        assert_eq!(r.sink.finish().len(), 1);
    }
}
