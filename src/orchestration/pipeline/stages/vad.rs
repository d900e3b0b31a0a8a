//! VAD stage: speech probabilities per 32 ms chunk, the turn detector, pre-roll padding and
//! barge-in detection. It tells the STT about the caller's turn, and the sink (the owner of the
//! agent's state) what the caller is doing; the sink's state updates come back on its control
//! channel.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::super::messages::{Frame, SinkControl, SourceControl, VadControl, VadMsg};
use super::super::runner::{Flow, Stage};
use super::super::shared::Shared;
use super::super::state::AgentState;
use super::super::turn::{Mark, Turn};
use crate::foundation::audio::{i16_to_f32, is_audible, FRAME_MS, INPUT_RATE};
use crate::foundation::text::turn_end::TurnVerdict;
use crate::providers::vad::{TurnDetector, TurnEvent, Vad, VadConfig, VAD_CHUNK};

const CHUNK_MS: u32 = (VAD_CHUNK as u32 * 1000) / INPUT_RATE;

/// The audible end is looked for this far before the detector's voiced end (its lag is a few
/// chunks; much earlier sound belongs to speech before a pause, not to the end).
const ANCHOR_WINDOW: Duration = Duration::from_millis(300);
/// Audible frame ends kept: 2 s, more than the longest wait for the end of a turn.
const AUDIBLE_KEPT: usize = 100;

/// The turn being heard.
struct Current {
    turn: Arc<Turn>,
    /// The agent was busy (thinking or speaking) when this turn began.
    over_agent: bool,
    /// This turn already cut the agent off.
    barged_in: bool,
    /// When its speech began: sound before that is not its own.
    started: Instant,
}

impl Current {
    /// It will surely be answered: not a possible blip over the agent's own speech.
    fn answerable(&self) -> bool {
        !self.over_agent || self.barged_in
    }
}

pub struct VadStage {
    vad: Box<dyn Vad>,
    config: VadConfig,
    speculative_reply: bool,
    det: TurnDetector,
    preroll: VecDeque<Vec<i16>>,
    preroll_frames: usize,
    pending: Vec<f32>,
    cur: Option<Current>,
    next_turn: u64,
    last_voiced: Option<Instant>,
    failed: bool,
    /// The agent's state as the sink last announced it, ahead of the announcement for what this
    /// stage itself just reported (the sink applies the same rules).
    agent: AgentState,
    /// Requests sent to the sink; an announcement older than the last one is overtaken.
    seq: u64,
    /// The agent's voice is ducked for a caller's onset not yet confirmed or dismissed.
    ducked: bool,
    /// Pauses so far (the one the caller is in, when paused).
    pauses: u64,
    /// The sound stopped long enough to be a pause, and the voice detector (lagging the
    /// sound) has not yet seen one: the pause is this stage's own until it does.
    quiet_paused: bool,
    /// What the words (and the brain) said about the current pause.
    verdict: Option<TurnVerdict>,
    /// The end of the last frame heard: this stage's clock.
    frame_end: Instant,
    /// Ends of the recent frames with audible sound: the voice detector calls speech over a
    /// little after the sound stops (Silero's probability lags it by a few chunks), so the
    /// turn's end is anchored on the sound.
    audible: VecDeque<Instant>,
    tx: Sender<VadMsg>,
    s: Shared,
}

impl VadStage {
    pub fn new(
        vad: Box<dyn Vad>,
        config: VadConfig,
        speculative_reply: bool,
        tx: Sender<VadMsg>,
        s: Shared,
    ) -> Self {
        let preroll_frames =
            ((config.pre_padding_ms + config.min_speech_ms) as u64 / FRAME_MS) as usize + 2;
        Self {
            vad,
            det: TurnDetector::new(config.clone(), CHUNK_MS),
            config,
            speculative_reply,
            preroll: VecDeque::with_capacity(preroll_frames + 1),
            preroll_frames,
            pending: Vec::with_capacity(VAD_CHUNK * 2),
            cur: None,
            next_turn: 1,
            last_voiced: None,
            failed: false,
            agent: AgentState::Idle,
            seq: 0,
            ducked: false,
            pauses: 0,
            quiet_paused: false,
            verdict: None,
            frame_end: Instant::now(),
            audible: VecDeque::with_capacity(AUDIBLE_KEPT + 1),
            tx,
            s,
        }
    }

    fn send(&self, m: VadMsg) -> Flow {
        Flow::sent(self.tx.send(m))
    }

    /// Tell the sink what the caller did; `expect` is the state the sink will announce.
    fn report(&mut self, msg: impl FnOnce(u64) -> SinkControl, expect: Option<AgentState>) {
        self.seq += 1;
        self.s.events.control(msg(self.seq));
        if let Some(st) = expect {
            self.agent = st;
        }
    }

    /// The words at a pause were judged: end the turn `early_end_ms` after the caller's sound
    /// stopped when they make a whole request, wait up to `hold_ms` when they trail off. A
    /// verdict about a pause the caller already talked through is void.
    fn judged(&mut self, turn_id: u64, pause: u64, verdict: TurnVerdict) -> Flow {
        let current = self
            .cur
            .as_ref()
            .is_some_and(|c| c.turn.id == turn_id && c.answerable());
        let paused = self.quiet_paused || self.det.paused();
        if !self.config.judge_end || !current || pause != self.pauses || !paused {
            return Flow::Continue;
        }
        self.verdict = Some(verdict);
        self.tell_detector();
        self.end_if_done()
    }

    /// The detector's wait for the end, once it sees the pause: the judged one (its silence
    /// lags the sound, so a whole request usually ends sooner in `end_if_done`; the detector's
    /// end is the fallback when noise keeps the sound from stopping).
    fn tell_detector(&mut self) {
        if !self.det.paused() {
            return;
        }
        match self.verdict {
            Some(TurnVerdict::Complete) => self.det.set_end_silence(self.config.early_end_ms),
            Some(TurnVerdict::Incomplete) => self.det.set_end_silence(self.config.hold_ms),
            Some(TurnVerdict::Unsure) | None => {}
        }
    }

    /// How long the current turn's sound has been stopped (none before its first audible
    /// frame).
    fn quiet_for(&self) -> Option<Duration> {
        let c = self.cur.as_ref()?;
        let last = self.audible.back().copied().filter(|&a| a > c.started)?;
        Some(self.frame_end.saturating_duration_since(last))
    }

    /// A whole request ends once the caller's sound has stopped for `early_end_ms` (and the
    /// detector hears silence too: a caller talking below the audible floor is still talking).
    fn end_if_done(&mut self) -> Flow {
        let quiet = self.quiet_for();
        let done = self.verdict == Some(TurnVerdict::Complete)
            && self.det.silence_ms() >= 2 * CHUNK_MS
            && quiet.is_some_and(|q| q >= Duration::from_millis(self.config.early_end_ms as u64));
        match self.cur.take_if(|_| done) {
            Some(c) => {
                self.det.reset();
                self.end_turn(c)
            }
            None => Flow::Continue,
        }
    }

    /// The sound's own pause, ahead of the detector's: quiet for `quiet_pause_ms` after speech
    /// starts the speculative work (and the judgement of the words), sound again voids it.
    fn watch_quiet(&mut self, audible: bool) -> Flow {
        if audible {
            if !self.quiet_paused {
                return Flow::Continue;
            }
            self.quiet_paused = false;
            self.verdict = None;
            return self.send(VadMsg::Resume);
        }
        let answerable = self.cur.as_ref().is_some_and(Current::answerable);
        let pause = match (self.config.quiet_pause_ms, self.quiet_for()) {
            (Some(ms), Some(q)) => q >= Duration::from_millis(ms as u64),
            _ => false,
        };
        if pause && answerable && !self.quiet_paused && !self.det.paused() {
            self.quiet_paused = true;
            self.pauses += 1;
            return self.pause(true);
        }
        self.end_if_done()
    }

    /// The caller paused (pause number `self.pauses`): transcribe speculatively, and start the
    /// reply when the turn will surely be answered (not a possible blip over the agent's own
    /// speech). `early`: the sound's pause, ahead of the detector's.
    fn pause(&mut self, early: bool) -> Flow {
        let Some(c) = &self.cur else {
            return Flow::Continue;
        };
        let reply = self.speculative_reply && c.answerable();
        let pause = self.pauses;
        self.send(VadMsg::Pause {
            reply,
            pause,
            early,
        })
    }

    /// Where the caller stopped: the last audible frame up to the detector's last voiced one
    /// (sound after that is noise the detector did not call speech).
    fn speech_end(&self) -> Instant {
        let voiced = self.last_voiced.unwrap_or_else(Instant::now);
        self.audible
            .iter()
            .rev()
            .find(|&&a| a <= voiced)
            .filter(|&&a| voiced - a < ANCHOR_WINDOW)
            .copied()
            .unwrap_or(voiced)
    }

    /// Turn the agent's voice down while the caller may be cutting in, or back up.
    fn duck(&mut self, on: bool) {
        if self.ducked == on {
            return;
        }
        self.ducked = on;
        let gain = if on { self.config.duck_gain } else { 1.0 };
        self.s.events.control(SinkControl::Duck { gain });
    }

    /// The turn is over (the caller fell silent, or a streaming provider said so first).
    fn end_turn(&mut self, c: Current) -> Flow {
        self.quiet_paused = false;
        self.verdict = None;
        c.turn.mark_at(Mark::SpeechEnd, self.speech_end());
        c.turn.mark(Mark::Endpoint);
        if !c.answerable() && self.agent == AgentState::Speaking {
            // Too short to interrupt (a cough, a "mm-hmm", the agent's own echo): the agent's
            // voice comes back up, nothing of it lost.
            log::debug!("vad: turn {} ignored while the agent speaks", c.turn.id);
            self.duck(false);
            self.report(|seq| SinkControl::CallerStopped { seq }, None);
            return self.send(VadMsg::Discard);
        }
        // Whatever was ducked ends with the reply it belonged to (the sink starts every reply
        // at full volume).
        self.ducked = false;
        // A caller that waits for answers waits for this one, told before the sink can answer.
        let _ = self
            .s
            .source
            .send(SourceControl::Hold { seq: self.seq + 1 });
        self.report(
            |seq| SinkControl::TurnEnded { seq },
            Some(AgentState::Processing),
        );
        self.send(VadMsg::End)
    }

    /// Cut the agent off: everything of the current generation becomes stale (the bump aborts
    /// what is in flight; the sink stops the audio at once).
    fn barge_in(&mut self) -> Flow {
        let generation = self.s.generation.bump();
        log::info!("barge-in: generation {generation}");
        // The cut clears the agent's audio; the sink plays the next reply at full volume.
        self.ducked = false;
        self.report(
            |seq| SinkControl::BargeIn { seq, generation },
            Some(AgentState::Listening),
        );
        if let Some(c) = self.cur.as_mut() {
            c.barged_in = true;
        }
        self.send(VadMsg::BargedIn)
    }

    /// An entry keyed on a phone's keypad: part of the turn being spoken, or a turn of its
    /// own. A keypress is deliberate, so over the agent it cuts in at once.
    fn keys(&mut self, text: String) -> Flow {
        let alone = self.cur.is_none();
        if alone {
            // Nothing to transcribe: the pre-roll is only what came before the keys.
            self.preroll.clear();
            if self.on_event(TurnEvent::SpeechStart { lead_ms: 0 }) == Flow::Stop {
                return Flow::Stop;
            }
        }
        let cut = self
            .cur
            .as_ref()
            .is_some_and(|c| !c.answerable() && self.agent.agent_busy());
        if cut && self.barge_in() == Flow::Stop {
            return Flow::Stop;
        }
        if self.send(VadMsg::Keys { text }) == Flow::Stop {
            return Flow::Stop;
        }
        match self.cur.take_if(|_| alone) {
            Some(c) => {
                self.last_voiced = Some(Instant::now());
                self.end_turn(c)
            }
            None => Flow::Continue,
        }
    }

    fn on_event(&mut self, event: TurnEvent) -> Flow {
        match event {
            // Duck at once; the barge-in (or the blip's end) settles it.
            TurnEvent::Onset if self.agent == AgentState::Speaking => self.duck(true),
            TurnEvent::Onset => {}
            TurnEvent::OnsetLost => self.duck(false),
            TurnEvent::SpeechStart { lead_ms } => {
                let turn = Arc::new(Turn::new(self.next_turn));
                self.next_turn += 1;
                let started = Instant::now() - Duration::from_millis(lead_ms as u64);
                turn.mark_at(Mark::SpeechStart, started);
                self.quiet_paused = false;
                self.verdict = None;
                let over_agent = self.agent.agent_busy();
                let expect = (self.agent == AgentState::Idle).then_some(AgentState::Listening);
                self.report(|seq| SinkControl::CallerStarted { seq }, expect);
                if self.send(VadMsg::Start {
                    turn: turn.clone(),
                    over_agent,
                }) == Flow::Stop
                {
                    return Flow::Stop;
                }
                while let Some(pcm) = self.preroll.pop_front() {
                    if self.send(VadMsg::Audio { pcm }) == Flow::Stop {
                        return Flow::Stop;
                    }
                }
                self.cur = Some(Current {
                    turn,
                    over_agent,
                    barged_in: false,
                    started,
                });
            }
            TurnEvent::Speaking { speech_ms } => {
                let cut = self.cur.as_ref().is_some_and(|c| {
                    !c.answerable()
                        && speech_ms >= self.config.barge_in_min_ms
                        && self.agent.agent_busy()
                });
                if cut {
                    return self.barge_in();
                }
            }
            // The sound's pause came first: this is the same one, now the detector's too (the
            // STT transcribes it now if the model was too busy then).
            TurnEvent::Pause { .. } if self.quiet_paused => {
                self.quiet_paused = false;
                self.tell_detector();
                return self.pause(false);
            }
            TurnEvent::Pause { .. } => {
                self.pauses += 1;
                return self.pause(false);
            }
            TurnEvent::Resume => {
                self.verdict = None;
                if self.cur.is_some() {
                    // The STT stage voids any reply started at the pause, in its own order.
                    return self.send(VadMsg::Resume);
                }
            }
            TurnEvent::SpeechEnd { .. } => {
                if let Some(c) = self.cur.take() {
                    return self.end_turn(c);
                }
            }
        }
        Flow::Continue
    }
}

impl Stage for VadStage {
    type In = Frame;
    type Control = VadControl;
    type Out = ();

    fn handle(&mut self, frame: Frame) -> Flow {
        if let Some(keys) = frame.keys {
            return self.keys(keys);
        }
        // Frames go out before the chunk verdict: in speech they belong to the turn,
        // otherwise they wait in the pre-roll in case speech starts.
        if self.cur.is_some() {
            if self.send(VadMsg::Audio {
                pcm: frame.pcm.clone(),
            }) == Flow::Stop
            {
                return Flow::Stop;
            }
        } else {
            self.preroll.push_back(frame.pcm.clone());
            while self.preroll.len() > self.preroll_frames {
                self.preroll.pop_front();
            }
        }
        self.frame_end = frame.at + Duration::from_millis(FRAME_MS);
        let audible = is_audible(&frame.pcm);
        if audible {
            self.audible.push_back(self.frame_end);
            if self.audible.len() > AUDIBLE_KEPT {
                self.audible.pop_front();
            }
        }
        self.pending.extend(i16_to_f32(&frame.pcm));
        while self.pending.len() >= VAD_CHUNK {
            let mut chunk: Vec<f32> = self.pending.drain(..VAD_CHUNK).collect();
            self.det.set_echo_gate(self.agent == AgentState::Speaking);
            if self.det.echo_gated() {
                // Duck the microphone while the agent talks: its echo falls under the threshold.
                chunk
                    .iter_mut()
                    .for_each(|x| *x *= self.config.echo_gate_gain);
            }
            let p = match self.vad.probability(&chunk) {
                Ok(p) => p,
                Err(e) => {
                    if !self.failed {
                        self.s.events.error("vad", e.to_string());
                        self.failed = true;
                    }
                    0.0
                }
            };
            if p >= self.config.threshold {
                self.last_voiced = Some(frame.at + Duration::from_millis(FRAME_MS));
            }
            if let Some(event) = self.det.push(p) {
                if self.on_event(event) == Flow::Stop {
                    return Flow::Stop;
                }
            }
        }
        if self.cur.is_some() {
            return self.watch_quiet(audible);
        }
        Flow::Continue
    }

    fn control(&mut self, msg: VadControl) -> Flow {
        match msg {
            // An announcement made before the sink saw our last request is out of date.
            VadControl::State(u) if u.vad_seq >= self.seq => self.agent = u.state,
            VadControl::State(_) => {}
            VadControl::ProviderEnded { turn_id } => {
                if let Some(c) = self.cur.take_if(|c| c.turn.id == turn_id) {
                    self.det.reset();
                    return self.end_turn(c);
                }
            }
            VadControl::TurnJudged {
                turn_id,
                pause,
                verdict,
            } => return self.judged(turn_id, pause, verdict),
        }
        Flow::Continue
    }

    fn finish(mut self) {
        // The stream ended mid-turn: finish it so its words are not lost.
        if let Some(c) = self.cur.take() {
            c.turn.mark_at(
                Mark::SpeechEnd,
                self.last_voiced.unwrap_or_else(Instant::now),
            );
            c.turn.mark(Mark::Endpoint);
            let _ = self.tx.send(VadMsg::End);
        }
    }
}
