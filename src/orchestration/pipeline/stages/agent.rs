//! Agent stage: turns final transcripts into streamed replies, and keeps the history honest
//! about what the caller heard (the sink's `Heard` accounts arrive on its control channel).
//!
//! A reply may start on the transcript made at the caller's pause, before the end of turn is
//! certain. It streams on to the sink, which holds its audio until the commit. Lookups that
//! change nothing run at once; a tool with real effects waits at the gate, which reads this
//! stage's own input until the final transcript confirms the guess (or the caller goes on).

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::super::events::Event;
use super::super::messages::{AgentMsg, SttMsg, VadControl};
use super::super::runner::{Flow, Stage};
use super::super::shared::Shared;
use super::super::turn::{Mark, Turn};
use crate::foundation::dialogue::Heard;
use crate::foundation::text::turn_end::{self, TurnVerdict};
use crate::orchestration::agent::backchannel::is_backchannel_after;
use crate::orchestration::agent::{Agent, AgentOutput, Checkpoint};

/// How long a new turn waits for the sink's account of the previous reply.
const HEARD_WAIT: Duration = Duration::from_secs(2);

/// A reply the caller cut off, kept in case the interruption turns out to be nothing.
struct CutOff {
    turn_id: u64,
    heard: String,
    full: String,
}

/// A reply started before the end of turn was certain.
struct Speculation {
    turn: Arc<Turn>,
    text: String,
    generation: u64,
    checkpoint: Checkpoint,
    /// Read-only lookups it made, shown once the turn is confirmed.
    tool_events: Vec<Event>,
}

pub struct AgentStage {
    agent: Agent,
    /// This stage's own inputs, read directly while a reply waits: the transcripts at the tool
    /// gate, the accounts of what was heard before a new turn is answered.
    transcripts: Receiver<SttMsg>,
    heard: Receiver<Heard>,
    /// Transcripts the gate read that are not its answer: handled next, in order.
    stash: VecDeque<SttMsg>,
    tx: Sender<AgentMsg>,
    /// To the VAD: the brain's view on the end of the turn at a pause.
    vad: Sender<VadControl>,
    s: Shared,
    /// The last turn whose Heard account has not come back yet.
    awaiting: Option<u64>,
    /// A reply started at a pause, not yet confirmed by the final transcript.
    pending: Option<Speculation>,
    /// The last reply, if the caller cut it off.
    cut_off: Option<CutOff>,
    /// The last turn whose Heard account came back: a reply that was busy past a barge-in may
    /// see its account before its own final transcript, and must not wait for it again.
    last_heard: Option<u64>,
}

impl AgentStage {
    pub fn new(
        agent: Agent,
        transcripts: Receiver<SttMsg>,
        heard: Receiver<Heard>,
        tx: Sender<AgentMsg>,
        vad: Sender<VadControl>,
        s: Shared,
    ) -> Self {
        log::info!("agent brain: {}", agent.model_name());
        Self {
            agent,
            transcripts,
            heard,
            stash: VecDeque::new(),
            tx,
            vad,
            s,
            awaiting: None,
            pending: None,
            cut_off: None,
            last_heard: None,
        }
    }

    fn note_heard(&mut self, h: Heard) {
        if self.awaiting == Some(h.turn_id) {
            self.awaiting = None;
        }
        self.agent.apply_heard(&h);
        self.last_heard = Some(h.turn_id);
        self.cut_off = h.interrupted.then_some(CutOff {
            turn_id: h.turn_id,
            heard: h.text,
            full: h.full_text,
        });
    }

    /// The history must reflect what the caller heard of the last reply before going on.
    fn wait_for_heard(&mut self) {
        let Some(prev) = self.awaiting.take() else {
            return;
        };
        let deadline = Instant::now() + HEARD_WAIT;
        while let Ok(h) = self.heard.recv_deadline(deadline) {
            let done = h.turn_id == prev;
            self.note_heard(h);
            if done {
                return;
            }
        }
    }

    fn on_transcript(&mut self, msg: SttMsg) -> Flow {
        // A speculative transcript comes with the generation it belongs to; anything else is
        // answered in the generation current now.
        let mut judged = None;
        let (turn, text, speculative, generation, from_pause) = match msg {
            SttMsg::Partial { .. } | SttMsg::Resumed { .. } => return Flow::Continue,
            SttMsg::Speculative {
                turn,
                text,
                generation,
                pause,
                verdict,
            } => {
                judged = Some((pause, verdict));
                (turn, Some(text), true, generation, false)
            }
            SttMsg::Final {
                turn,
                text,
                from_pause,
            } => (
                turn,
                Some(text),
                false,
                self.s.generation.current(),
                from_pause,
            ),
            SttMsg::Failed { turn, .. } => (turn, None, false, self.s.generation.current(), false),
        };
        if let Some(p) = self.pending.take() {
            let stale = self.s.generation.is_stale(p.generation);
            // The STT keeps the speculative transcript only when nothing but silence followed
            // the pause (`from_pause`), which tells "the caller went on" (void the reply) from a
            // later barge-in on the committed reply (keep it: the caller heard part of it).
            // Staleness alone cannot: a slow reply may still be streaming when the caller cuts in.
            let confirmed = !speculative
                && p.turn.id == turn.id
                && text.as_deref() == Some(p.text.as_str())
                && (!stale || from_pause);
            if confirmed {
                // The reply made at the pause stands: it is on its way to the speaker, and the
                // lookups it made can be shown now. The sink accounts for it like any other.
                for event in p.tool_events {
                    self.s.events.emit(event);
                }
                if self.last_heard != Some(turn.id) {
                    self.awaiting = Some(turn.id);
                }
                return Flow::Continue;
            }
            self.agent.rollback(p.checkpoint);
            p.turn.discard_reply();
        }
        if let (Some((pause, words)), Some(t)) = (judged, &text) {
            self.judge(&turn, pause, words, t);
        }
        self.wait_for_heard();
        // A false interruption (noise, "mm-hmm"): pick the cut-off reply up where it stopped.
        if let (Some(c), Some(t)) = (&self.cut_off, &text) {
            if is_backchannel_after(&c.heard, t) {
                if speculative {
                    return Flow::Continue; // decide at the final transcript
                }
                if let Some(resumed) = self
                    .agent
                    .resume_interrupted(c.turn_id, turn.id, &c.heard, &c.full)
                {
                    log::info!(
                        "turn {}: false interruption, resuming turn {}",
                        turn.id,
                        c.turn_id
                    );
                    self.cut_off = None;
                    self.awaiting = Some(turn.id);
                    return self.resume(&turn, resumed, generation);
                }
            }
        }
        if text.as_deref().is_some_and(|t| !t.trim().is_empty()) {
            self.cut_off = None;
        }
        if speculative && self.s.generation.is_stale(generation) {
            return Flow::Continue; // the caller already went on
        }
        let checkpoint = if speculative {
            match self.agent.checkpoint() {
                Some(c) => Some(c),
                // A model that cannot be rolled back waits for the final transcript.
                None => return Flow::Continue,
            }
        } else {
            None
        };
        let Ok(tool_events) = self.reply(&turn, text.clone(), generation, speculative) else {
            return Flow::Stop;
        };
        if let Some(checkpoint) = checkpoint {
            self.pending = Some(Speculation {
                turn,
                text: text.unwrap_or_default(),
                generation,
                checkpoint,
                tool_events,
            });
        } else {
            self.awaiting = Some(turn.id);
        }
        Flow::Continue
    }

    /// Tell the VAD how long to wait at this pause: the words' verdict with the brain's view
    /// beside it (it knows what it just asked). Sent before the reply starts, so the turn can
    /// end while the reply is being made.
    fn judge(&self, turn: &Turn, pause: u64, words: TurnVerdict, text: &str) {
        let brain = self.agent.judge_turn(text);
        let verdict = turn_end::with_brain(words, brain);
        log::debug!(
            "agent: turn {} pause {pause}: words {words:?}, brain {brain:?} -> {verdict:?}",
            turn.id
        );
        let _ = self.vad.send(VadControl::TurnJudged {
            turn_id: turn.id,
            pause,
            verdict,
        });
    }

    /// Speak the rest of a cut-off reply as this turn's answer.
    fn resume(&self, turn: &Arc<Turn>, text: String, generation: u64) -> Flow {
        turn.mark(Mark::AgentStart);
        turn.mark(Mark::LlmFirstToken);
        turn.push_agent_text(&text);
        let sent = self
            .tx
            .send(AgentMsg::Text {
                turn: turn.clone(),
                generation,
                text,
            })
            .and_then(|_| {
                self.tx.send(AgentMsg::End {
                    turn: turn.clone(),
                    generation,
                })
            });
        Flow::sent(sent)
    }

    /// Answer one turn. A speculative reply's tool-call events are returned instead of emitted:
    /// the caller may still go on, and then the lookups never happened as far as anyone sees.
    /// Err when the next stage is gone.
    fn reply(
        &mut self,
        turn: &Arc<Turn>,
        text: Option<String>,
        generation: u64,
        speculative: bool,
    ) -> Result<Vec<Event>, ()> {
        let mut held_events = Vec::new();
        let (tx, s) = (&self.tx, &self.s);
        let send_text = |t: String| {
            turn.push_agent_text(&t);
            tx.send(AgentMsg::Text {
                turn: turn.clone(),
                generation,
                text: t,
            })
            .map_err(|_| ())
        };
        match text {
            // Nothing was said (noise): no reply.
            Some(t) if t.trim().is_empty() => {}
            None => {
                let apology = self.agent.config().stt_apology.clone();
                self.agent.record_reply(&apology);
                send_text(apology)?;
            }
            Some(user_text) => {
                turn.mark(Mark::AgentStart);
                let token = s.generation.token_for(generation);
                let mut closed = false;
                // Tools have real effects: a speculative reply runs them only once the turn is
                // certain. The gate waits for the final transcript on this stage's own input.
                let committed = Cell::new(!speculative);
                let mut confirmation: Option<SttMsg> = None;
                let (transcripts, stash) = (&self.transcripts, &mut self.stash);
                let mut gate = || {
                    if committed.get() {
                        return true;
                    }
                    loop {
                        match transcripts.recv() {
                            Ok(SttMsg::Partial { .. }) => continue,
                            Ok(m @ SttMsg::Final { .. })
                                if matches!(&m, SttMsg::Final { turn: t, text: said, .. }
                                    if t.id == turn.id && *said == user_text) =>
                            {
                                committed.set(true);
                                confirmation = Some(m);
                                return true;
                            }
                            // The caller went on, or the session is ending: no commit.
                            Ok(other) => {
                                stash.push_back(other);
                                return false;
                            }
                            Err(_) => return false,
                        }
                    }
                };
                let result =
                    self.agent
                        .respond_gated(turn.id, &user_text, &token, &mut gate, &mut |o| {
                            if closed {
                                return;
                            }
                            match o {
                                AgentOutput::Text(t) => {
                                    turn.mark(Mark::LlmFirstToken);
                                    closed = send_text(t).is_err();
                                }
                                AgentOutput::Flush => {
                                    closed = tx
                                        .send(AgentMsg::Flush {
                                            turn: turn.clone(),
                                            generation,
                                        })
                                        .is_err();
                                }
                                AgentOutput::ToolCall(rec) => {
                                    let event = Event::ToolCall {
                                        turn: turn.id,
                                        name: rec.name.clone(),
                                        arguments: rec.arguments.clone(),
                                        result: rec.result.clone(),
                                    };
                                    // Tools that change something ran only after the commit:
                                    // show them at once.
                                    if committed.get() {
                                        s.events.emit(event);
                                    } else {
                                        held_events.push(event);
                                    }
                                    turn.push_tool_call(rec);
                                }
                            }
                        });
                // The final transcript the gate took confirms this reply: handle it first.
                if let Some(c) = confirmation {
                    self.stash.push_front(c);
                }
                if closed {
                    return Err(());
                }
                if let Err(e) = result {
                    s.events.error("llm", e.to_string());
                    turn.push_error(e.to_string());
                    if !token.is_cancelled() {
                        let apology = self.agent.config().apology.clone();
                        self.agent.record_reply(&apology);
                        turn.mark(Mark::LlmFirstToken);
                        send_text(apology)?;
                    }
                }
            }
        }
        tx.send(AgentMsg::End {
            turn: turn.clone(),
            generation,
        })
        .map_err(|_| ())?;
        Ok(held_events)
    }
}

impl Stage for AgentStage {
    type In = SttMsg;
    type Control = Heard;
    type Out = ();

    fn handle(&mut self, msg: SttMsg) -> Flow {
        let mut next = Some(msg);
        while let Some(msg) = next {
            if self.on_transcript(msg) == Flow::Stop {
                return Flow::Stop;
            }
            next = self.stash.pop_front();
        }
        Flow::Continue
    }

    fn control(&mut self, h: Heard) -> Flow {
        self.note_heard(h);
        Flow::Continue
    }

    fn finish(self) {}
}
