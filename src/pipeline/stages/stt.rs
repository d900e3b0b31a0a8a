//! STT stage: gathers the turn's audio, shows partial transcripts while the caller speaks,
//! transcribes speculatively at a pause, and delivers the final transcript at the end of turn.
//!
//! A streaming provider with its own endpointing (Deepgram's `speech_final`) may end the turn
//! before the local VAD does: once the VAD has paused too, the turn is committed and answered
//! at once, and the VAD's later end of the same utterance is ignored.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::super::events::Event;
use super::super::messages::{SttMsg, VadMsg};
use super::super::state::AgentState;
use super::super::turn::{Mark, Turn};
use super::super::Shared;
use crate::audio::INPUT_RATE;
use crate::pipeline::generation::CancelToken;
use crate::stt::SpeechToText;

/// Re-decode the growing utterance for display about this often.
const PARTIAL_EVERY: Duration = Duration::from_millis(500);

struct Utterance {
    turn: Arc<Turn>,
    audio: Vec<i16>,
    last_partial: Instant,
    /// A transcript made at a pause (and its compute time), valid while the caller stays silent.
    speculative: Option<(String, f64)>,
    /// A reply was started on that transcript: it must be voided if the caller goes on.
    reply_started: bool,
    paused: bool,
    /// The turn was already answered on the provider's endpointing; what the VAD still sends
    /// for it is the trailing silence before its own end.
    ended_early: bool,
}

/// A streaming provider says the caller has stopped, and the local VAD hears silence too. Not
/// while the agent speaks: a turn over its voice is the VAD's to judge (it may be an echo or a
/// cough that the VAD drops).
fn provider_ended(stt: &dyn SpeechToText, u: &Utterance, s: &Shared) -> bool {
    u.paused && stt.speech_ended() && s.state.get() != AgentState::Speaking
}

pub fn run(
    mut stt: Box<dyn SpeechToText>,
    speculative: bool,
    rx: Receiver<VadMsg>,
    tx: Sender<SttMsg>,
    s: Shared,
) {
    let mut cur: Option<Utterance> = None;
    for msg in rx.iter() {
        match msg {
            VadMsg::Start { turn } => {
                cur = Some(Utterance {
                    turn,
                    audio: Vec::with_capacity(INPUT_RATE as usize * 10),
                    last_partial: Instant::now(),
                    speculative: None,
                    reply_started: false,
                    paused: false,
                    ended_early: false,
                });
            }
            VadMsg::Audio { pcm } => {
                let Some(u) = cur.as_mut() else { continue };
                if u.ended_early {
                    continue;
                }
                u.audio.extend_from_slice(&pcm);
                if stt.is_streaming() {
                    // Streaming providers hear every frame as it comes and push partials back.
                    match stt.stream_audio(&pcm) {
                        Ok(Some(text)) if !text.trim().is_empty() => {
                            s.events.emit(Event::Transcript {
                                turn: u.turn.id,
                                text,
                                is_final: false,
                            });
                        }
                        Ok(_) => {}
                        Err(e) => log::warn!("streaming speech-to-text: {e}"),
                    }
                    if provider_ended(&*stt, u, &s)
                        && end_turn(&mut *stt, u, true, &tx, &s).is_err()
                    {
                        return;
                    }
                    continue;
                }
                // Partials only while the caller is talking and the channel has no backlog,
                // so a partial decode never delays the final transcript.
                if !u.paused && u.last_partial.elapsed() >= PARTIAL_EVERY && rx.is_empty() {
                    u.last_partial = Instant::now();
                    match stt.transcribe_partial(&u.audio, &CancelToken::never()) {
                        Ok(Some(text)) if !text.trim().is_empty() => {
                            s.events.emit(Event::Transcript {
                                turn: u.turn.id,
                                text: text.clone(),
                                is_final: false,
                            });
                            if tx
                                .send(SttMsg::Partial {
                                    turn: u.turn.clone(),
                                    text,
                                })
                                .is_err()
                            {
                                return;
                            }
                        }
                        Ok(_) => {}
                        Err(e) => log::debug!("partial transcript failed: {e}"),
                    }
                }
            }
            VadMsg::Pause { reply } => {
                let Some(u) = cur.as_mut() else { continue };
                if u.ended_early {
                    continue;
                }
                u.paused = true;
                // A streaming provider already has the audio; its final comes at the end of turn,
                // or now if its endpointing has already closed the speech.
                if stt.is_streaming() {
                    if provider_ended(&*stt, u, &s)
                        && end_turn(&mut *stt, u, true, &tx, &s).is_err()
                    {
                        return;
                    }
                    continue;
                }
                if speculative || reply {
                    let started = Instant::now();
                    match stt.transcribe(&u.audio) {
                        Ok(text) => {
                            let ms = started.elapsed().as_secs_f64() * 1000.0;
                            let text = text.trim().to_string();
                            if reply && !text.is_empty() {
                                let msg = SttMsg::Speculative {
                                    turn: u.turn.clone(),
                                    text: text.clone(),
                                    generation: s.generation.current(),
                                };
                                if tx.send(msg).is_err() {
                                    return;
                                }
                                u.reply_started = true;
                            }
                            u.speculative = Some((text, ms));
                        }
                        Err(e) => log::debug!("speculative transcript failed: {e}"),
                    }
                }
            }
            VadMsg::Resume => {
                if let Some(u) = cur.as_mut().filter(|u| !u.ended_early) {
                    u.paused = false;
                    u.speculative = None;
                    if u.reply_started {
                        // The caller went on: the reply started at the pause is void. This runs
                        // in message order, after the speculative transcript went out and before
                        // the turn can be committed below.
                        u.reply_started = false;
                        s.generation.bump();
                        s.speculation.wasted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            VadMsg::Discard => {
                stt.discard_utterance();
                cur = None;
            }
            VadMsg::End => {
                let Some(mut u) = cur.take() else { continue };
                if u.ended_early {
                    // Answered already on the provider's endpointing: no second turn.
                    log::debug!(
                        "stt: turn {} had ended on the provider's endpointing",
                        u.turn.id
                    );
                    continue;
                }
                if end_turn(&mut *stt, &mut u, false, &tx, &s).is_err() {
                    return;
                }
            }
        }
    }
}

/// The turn is over: commit it and send its final transcript. `early`: on the streaming
/// provider's endpointing, before the VAD's end. Err when the agent is gone.
fn end_turn(
    stt: &mut dyn SpeechToText,
    u: &mut Utterance,
    early: bool,
    tx: &Sender<SttMsg>,
    s: &Shared,
) -> Result<(), ()> {
    // From here the reply may be played.
    u.turn.commit();
    if early {
        u.ended_early = true;
        // The provider's endpointing is this turn's endpoint; the VAD's comes later, if at all.
        u.turn.mark(Mark::Endpoint);
        log::debug!(
            "stt: turn {} ended on the provider's endpointing",
            u.turn.id
        );
        s.state.set(AgentState::Processing);
        s.events.emit(Event::State {
            state: AgentState::Processing,
        });
    }
    if u.reply_started {
        s.speculation.used.fetch_add(1, Ordering::Relaxed);
    }
    let out = match u.speculative.take() {
        // Only silence arrived since the pause: the speculative transcript stands.
        Some((text, ms)) => {
            u.turn.set_transcript(&text, true);
            u.turn.set_stt_compute(ms);
            Ok(text)
        }
        None => {
            let started = Instant::now();
            let r = stt.transcribe(&u.audio);
            u.turn
                .set_stt_compute(started.elapsed().as_secs_f64() * 1000.0);
            r.inspect(|t| u.turn.set_transcript(t, false))
        }
    };
    u.turn.mark(Mark::SttFinal);
    let turn = u.turn.clone();
    let msg = match out {
        Ok(text) => {
            let text = text.trim().to_string();
            s.events.emit(Event::Transcript {
                turn: turn.id,
                text: text.clone(),
                is_final: true,
            });
            SttMsg::Final { turn, text }
        }
        Err(e) => {
            s.events.error("stt", e.to_string());
            turn.push_error(e.to_string());
            SttMsg::Failed {
                turn,
                message: e.to_string(),
            }
        }
    };
    tx.send(msg).map_err(|_| ())
}
