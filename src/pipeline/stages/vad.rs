//! VAD stage: speech probabilities per 32 ms chunk, the turn detector, pre-roll padding and
//! barge-in detection.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::super::events::Event;
use super::super::messages::{Frame, VadMsg};
use super::super::state::AgentState;
use super::super::turn::{Mark, Turn};
use super::super::Shared;
use crate::audio::{i16_to_f32, FRAME_MS};
use crate::vad::{TurnDetector, TurnEvent, Vad, VadConfig, VAD_CHUNK};

const CHUNK_MS: u32 = (VAD_CHUNK as u32 * 1000) / crate::audio::INPUT_RATE;

/// The turn being heard.
struct Current {
    turn: Arc<Turn>,
    /// The agent was busy (thinking or speaking) when this turn began.
    over_agent: bool,
    /// This turn already cut the agent off.
    barged_in: bool,
}

pub fn run(
    mut vad: Box<dyn Vad>,
    config: VadConfig,
    speculative_reply: bool,
    rx: Receiver<Frame>,
    tx: Sender<VadMsg>,
    s: Shared,
) {
    let mut det = TurnDetector::new(config.clone(), CHUNK_MS);
    let preroll_frames =
        ((config.pre_padding_ms + config.min_speech_ms) as u64 / FRAME_MS) as usize + 2;
    let mut preroll: VecDeque<Vec<i16>> = VecDeque::with_capacity(preroll_frames + 1);
    let mut pending: Vec<f32> = Vec::with_capacity(VAD_CHUNK * 2);
    let mut cur: Option<Current> = None;
    let mut next_turn = 1u64;
    let mut last_voiced: Option<Instant> = None;
    let mut failed = false;

    for frame in rx.iter() {
        // A streaming STT's own endpointing (Deepgram's speech_final) may end the turn first:
        // the STT stage commits it. Close it here too, so speech from now on starts a new turn
        // (with the barge-in rules) instead of being lost in the answered one.
        if let Some(c) = cur.take_if(|c| c.turn.is_committed()) {
            c.turn
                .mark_at(Mark::SpeechEnd, last_voiced.unwrap_or_else(Instant::now));
            det.reset();
            if tx.send(VadMsg::End).is_err() {
                return;
            }
        }
        // Frames go out before the chunk verdict: in speech they belong to the turn,
        // otherwise they wait in the pre-roll in case speech starts.
        if cur.is_some() {
            if tx
                .send(VadMsg::Audio {
                    pcm: frame.pcm.clone(),
                })
                .is_err()
            {
                return;
            }
        } else {
            preroll.push_back(frame.pcm.clone());
            while preroll.len() > preroll_frames {
                preroll.pop_front();
            }
        }
        pending.extend(i16_to_f32(&frame.pcm));
        while pending.len() >= VAD_CHUNK {
            let mut chunk: Vec<f32> = pending.drain(..VAD_CHUNK).collect();
            det.set_echo_gate(s.state.get() == AgentState::Speaking);
            if det.echo_gated() {
                // Duck the microphone while the agent talks: its echo falls under the threshold.
                chunk.iter_mut().for_each(|x| *x *= config.echo_gate_gain);
            }
            let p = match vad.probability(&chunk) {
                Ok(p) => p,
                Err(e) => {
                    if !failed {
                        s.events.error("vad", e.to_string());
                        failed = true;
                    }
                    0.0
                }
            };
            let chunk_end = frame.at + Duration::from_millis(FRAME_MS);
            if p >= config.threshold {
                last_voiced = Some(chunk_end);
            }
            let Some(event) = det.push(p) else { continue };
            let ctx = Ctx {
                config: &config,
                speculative_reply,
                tx: &tx,
                s: &s,
            };
            if handle(
                event,
                &mut cur,
                &mut preroll,
                &mut next_turn,
                last_voiced,
                &ctx,
            )
            .is_err()
            {
                return;
            }
        }
    }
    // The stream ended mid-turn: finish it so its words are not lost.
    if let Some(c) = cur.take() {
        c.turn
            .mark_at(Mark::SpeechEnd, last_voiced.unwrap_or_else(Instant::now));
        c.turn.mark(Mark::Endpoint);
        let _ = tx.send(VadMsg::End);
    }
}

/// What `handle` needs besides the turn state.
struct Ctx<'a> {
    config: &'a VadConfig,
    speculative_reply: bool,
    tx: &'a Sender<VadMsg>,
    s: &'a Shared,
}

fn handle(
    event: TurnEvent,
    cur: &mut Option<Current>,
    preroll: &mut VecDeque<Vec<i16>>,
    next_turn: &mut u64,
    last_voiced: Option<Instant>,
    ctx: &Ctx,
) -> Result<(), ()> {
    let (config, s) = (ctx.config, ctx.s);
    let send = |m: VadMsg| ctx.tx.send(m).map_err(|_| ());
    match event {
        TurnEvent::SpeechStart { lead_ms } => {
            let turn = Arc::new(Turn::new(*next_turn));
            *next_turn += 1;
            turn.mark_at(
                Mark::SpeechStart,
                Instant::now() - Duration::from_millis(lead_ms as u64),
            );
            let over_agent = s.state.agent_busy();
            if s.state.transition(AgentState::Idle, AgentState::Listening) {
                s.events.emit(Event::State {
                    state: AgentState::Listening,
                });
            }
            send(VadMsg::Start { turn: turn.clone() })?;
            for pcm in preroll.drain(..) {
                send(VadMsg::Audio { pcm })?;
            }
            *cur = Some(Current {
                turn,
                over_agent,
                barged_in: false,
            });
        }
        TurnEvent::Speaking { speech_ms } => {
            if let Some(c) = cur.as_mut() {
                if c.over_agent
                    && !c.barged_in
                    && speech_ms >= config.barge_in_min_ms
                    && s.state.agent_busy()
                {
                    barge_in(s);
                    c.barged_in = true;
                } else if !s.state.agent_busy() {
                    // The agent finished while the caller was talking: an ordinary turn now.
                    s.state.transition(AgentState::Idle, AgentState::Listening);
                }
            }
        }
        TurnEvent::Pause { .. } => {
            if let Some(c) = cur.as_mut() {
                // A reply may start early only for a turn that will surely be answered: not a
                // possible blip over the agent's own speech.
                let reply = ctx.speculative_reply && (!c.over_agent || c.barged_in);
                send(VadMsg::Pause { reply })?;
            }
        }
        TurnEvent::Resume => {
            if cur.is_some() {
                // The STT stage voids any reply started at the pause, in its own order.
                send(VadMsg::Resume)?;
            }
        }
        TurnEvent::SpeechEnd { .. } => {
            if let Some(c) = cur.take() {
                c.turn
                    .mark_at(Mark::SpeechEnd, last_voiced.unwrap_or_else(Instant::now));
                c.turn.mark(Mark::Endpoint);
                if c.over_agent && !c.barged_in && s.state.get() == AgentState::Speaking {
                    // Too short to interrupt (a cough, a "mm-hmm", the agent's own echo).
                    log::debug!("vad: turn {} ignored while the agent speaks", c.turn.id);
                    send(VadMsg::Discard)?;
                } else {
                    send(VadMsg::End)?;
                    s.state.set(AgentState::Processing);
                    s.events.emit(Event::State {
                        state: AgentState::Processing,
                    });
                }
            }
        }
    }
    Ok(())
}

/// Cut the agent off: everything of the current generation becomes stale.
fn barge_in(s: &Shared) {
    let g = s.generation.bump();
    log::info!("barge-in: generation {g}");
    s.state.set(AgentState::Interrupted);
    s.events.emit(Event::Clear);
    s.events.emit(Event::State {
        state: AgentState::Interrupted,
    });
    s.state.set(AgentState::Listening);
    s.events.emit(Event::State {
        state: AgentState::Listening,
    });
}
