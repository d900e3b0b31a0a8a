//! STT stage: gathers the turn's audio, shows partial transcripts while the caller speaks,
//! transcribes speculatively at a pause, and delivers the final transcript at the end of turn.
//! It decides the commit: from the final transcript on, the turn's reply may be played.
//!
//! A streaming provider with its own endpointing (Deepgram's `speech_final`) may end the turn
//! before the local VAD does: once the VAD has paused too, the turn is committed and answered
//! at once, and the VAD is told to close it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::super::events::Event;
use super::super::messages::{SinkControl, SttMsg, VadControl, VadMsg};
use super::super::runner::{Flow, Stage};
use super::super::shared::Shared;
use super::super::turn::{Mark, Turn};
use crate::foundation::audio::{is_audible, INPUT_RATE};
use crate::foundation::text::turn_end;
use crate::providers::stt::SpeechToText;

/// Re-decode the growing utterance for display about this often.
const PARTIAL_EVERY: Duration = Duration::from_millis(500);

/// How often replies started at a pause were played, or thrown away because the caller went on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpeculationStats {
    pub used: u64,
    pub wasted: u64,
}

struct Utterance {
    turn: Arc<Turn>,
    audio: Vec<i16>,
    last_partial: Instant,
    /// A transcript made at a pause (and its compute time), valid while the caller stays silent.
    speculative: Option<(String, f64)>,
    /// A reply was started on that transcript: it must be voided if the caller goes on.
    reply_started: bool,
    paused: bool,
    /// The turn began over the agent and has not cut it off: the VAD judges its end (it may be
    /// an echo or a cough that the VAD drops).
    doubtful: bool,
    /// The turn was already answered on the provider's endpointing; what the VAD still sends
    /// for it is the trailing silence before its own end.
    ended_early: bool,
    /// Keys the caller pressed during the turn (a phone's keypad).
    keys: Vec<String>,
}

pub struct SttStage {
    stt: Box<dyn SpeechToText>,
    speculative: bool,
    cur: Option<Utterance>,
    stats: SpeculationStats,
    /// This stage's own input, read only to see whether a backlog is waiting.
    backlog: Receiver<VadMsg>,
    tx: Sender<SttMsg>,
    vad: Sender<VadControl>,
    s: Shared,
}

impl SttStage {
    pub fn new(
        stt: Box<dyn SpeechToText>,
        speculative: bool,
        backlog: Receiver<VadMsg>,
        tx: Sender<SttMsg>,
        vad: Sender<VadControl>,
        s: Shared,
    ) -> Self {
        Self {
            stt,
            speculative,
            cur: None,
            stats: SpeculationStats::default(),
            backlog,
            tx,
            vad,
            s,
        }
    }

    fn send(&self, m: SttMsg) -> Flow {
        Flow::sent(self.tx.send(m))
    }

    /// A streaming provider says the caller has stopped, and the local VAD hears silence too.
    fn provider_ended(&self) -> bool {
        self.cur
            .as_ref()
            .is_some_and(|u| u.paused && !u.doubtful && !u.ended_early)
            && self.stt.speech_ended()
    }

    fn audio(&mut self, pcm: Vec<i16>) -> Flow {
        let Some(u) = self.cur.as_mut().filter(|u| !u.ended_early) else {
            return Flow::Continue;
        };
        u.audio.extend_from_slice(&pcm);
        if self.stt.is_streaming() {
            // Streaming providers hear every frame as it comes and push partials back.
            match self.stt.stream_audio(&pcm) {
                Ok(Some(text)) if !text.trim().is_empty() => {
                    self.s.events.emit(Event::Transcript {
                        turn: u.turn.id,
                        text,
                        is_final: false,
                    });
                }
                Ok(_) => {}
                Err(e) => log::warn!("streaming speech-to-text: {e}"),
            }
            return if self.provider_ended() {
                self.end_turn(true)
            } else {
                Flow::Continue
            };
        }
        // Partials only while the caller is talking and nothing waits behind, so a partial
        // decode never delays the final transcript; not on a quiet frame either, which may be
        // the start of the pause whose transcript starts the reply.
        if u.paused
            || u.last_partial.elapsed() < PARTIAL_EVERY
            || !self.backlog.is_empty()
            || !is_audible(&pcm)
        {
            return Flow::Continue;
        }
        u.last_partial = Instant::now();
        // A caller who hangs up (a generation bump) leaves no partial waiting for a model.
        match self
            .stt
            .transcribe_partial(&u.audio, &self.s.generation.token())
        {
            Ok(Some(text)) if !text.trim().is_empty() => {
                self.s.events.emit(Event::Transcript {
                    turn: u.turn.id,
                    text: text.clone(),
                    is_final: false,
                });
                let turn = u.turn.clone();
                self.send(SttMsg::Partial { turn, text })
            }
            Ok(_) => Flow::Continue,
            Err(e) => {
                log::debug!("partial transcript failed: {e}");
                Flow::Continue
            }
        }
    }

    fn pause(&mut self, reply: bool, pause: u64, early: bool) -> Flow {
        let Some(u) = self.cur.as_mut().filter(|u| !u.ended_early) else {
            return Flow::Continue;
        };
        // The detector's view of the sound's pause: the words are in hand already.
        if !early && u.paused && u.speculative.is_some() {
            return Flow::Continue;
        }
        u.paused = true;
        // A streaming provider already has the audio; its final comes at the end of turn, or
        // now if its endpointing has already closed the speech.
        if self.stt.is_streaming() {
            return if self.provider_ended() {
                self.end_turn(true)
            } else {
                Flow::Continue
            };
        }
        if !(self.speculative || reply) {
            return Flow::Continue;
        }
        let started = Instant::now();
        let token = self.s.generation.token();
        let heard = match early {
            true => self.stt.transcribe_early(&u.audio, &token),
            false => self.stt.transcribe_speculative(&u.audio, &token),
        };
        match heard {
            Ok(None) => {}
            Ok(Some(text)) => {
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                let text = text.trim().to_string();
                u.speculative = Some((text.clone(), ms));
                // The VAD decides when the turn ends; the words tell it how long to wait. With
                // a reply starting, the agent adds what its brain makes of them and tells it.
                let verdict = turn_end::judge(&text);
                log::trace!("stt: words at pause {pause}: {text:?}");
                if reply && !text.is_empty() {
                    u.reply_started = true;
                    let msg = SttMsg::Speculative {
                        turn: u.turn.clone(),
                        text,
                        generation: self.s.generation.current(),
                        pause,
                        verdict,
                    };
                    return self.send(msg);
                }
                log::debug!("stt: turn {} pause {pause}: {verdict:?}", u.turn.id);
                let _ = self.vad.send(VadControl::TurnJudged {
                    turn_id: u.turn.id,
                    pause,
                    verdict,
                });
            }
            Err(e) => log::debug!("speculative transcript failed: {e}"),
        }
        Flow::Continue
    }

    fn resume(&mut self) -> Flow {
        let Some(u) = self.cur.as_mut().filter(|u| !u.ended_early) else {
            return Flow::Continue;
        };
        u.paused = false;
        u.speculative = None;
        if !u.reply_started {
            return Flow::Continue;
        }
        // The caller went on: the reply started at the pause is void. This runs in message
        // order, after the speculative transcript went out and before the turn can be committed.
        u.reply_started = false;
        self.stats.wasted += 1;
        self.s.generation.bump();
        let turn_id = u.turn.id;
        self.send(SttMsg::Resumed { turn_id })
    }

    /// The turn is over: commit it and send its final transcript. `early`: on the streaming
    /// provider's endpointing, before the VAD's end.
    fn end_turn(&mut self, early: bool) -> Flow {
        let Some(u) = self.cur.as_mut() else {
            return Flow::Continue;
        };
        if early {
            u.ended_early = true;
            // The provider's endpointing is this turn's endpoint; the VAD's comes later, if at all.
            u.turn.mark(Mark::Endpoint);
            log::debug!(
                "stt: turn {} ended on the provider's endpointing",
                u.turn.id
            );
            let _ = self
                .vad
                .send(VadControl::ProviderEnded { turn_id: u.turn.id });
        }
        if u.reply_started {
            self.stats.used += 1;
        }
        let keys = std::mem::take(&mut u.keys).join(" ");
        let keys_only = !keys.is_empty() && u.audio.is_empty();
        let (out, from_pause) = match u.speculative.take() {
            // Keys alone: there is nothing to transcribe.
            _ if keys_only => {
                u.turn.set_transcript(&keys, false);
                (Ok(keys.clone()), false)
            }
            // Only silence arrived since the pause: the speculative transcript stands.
            Some((text, ms)) => {
                u.turn.set_transcript(&text, true);
                u.turn.set_stt_compute(ms);
                (Ok(text), true)
            }
            None => {
                let started = Instant::now();
                let r = self.stt.transcribe(&u.audio);
                u.turn
                    .set_stt_compute(started.elapsed().as_secs_f64() * 1000.0);
                (r.inspect(|t| u.turn.set_transcript(t, false)), false)
            }
        };
        // Keys pressed while speaking follow the words.
        let out = out.map(|text| {
            if keys.is_empty() || keys_only {
                return text;
            }
            let both = format!("{} {keys}", text.trim()).trim().to_string();
            u.turn.set_transcript(&both, from_pause);
            both
        });
        u.turn.mark(Mark::SttFinal);
        // From here the reply may be played: the sink hears it before the agent does, and after
        // the transcript is in the turn's record (a held reply may be reported at once).
        self.s.events.control(SinkControl::Committed {
            turn_id: u.turn.id,
            generation: self.s.generation.current(),
        });
        let turn = u.turn.clone();
        if !early {
            self.cur = None;
        }
        let msg = match out {
            Ok(text) => {
                let text = text.trim().to_string();
                self.s.events.emit(Event::Transcript {
                    turn: turn.id,
                    text: text.clone(),
                    is_final: true,
                });
                SttMsg::Final {
                    turn,
                    text,
                    from_pause,
                }
            }
            Err(e) => {
                self.s.events.error("stt", e.to_string());
                turn.push_error(e.to_string());
                SttMsg::Failed {
                    turn,
                    message: e.to_string(),
                }
            }
        };
        self.send(msg)
    }
}

impl Stage for SttStage {
    type In = VadMsg;
    type Control = ();
    type Out = SpeculationStats;

    fn handle(&mut self, msg: VadMsg) -> Flow {
        match msg {
            VadMsg::Start { turn, over_agent } => {
                self.cur = Some(Utterance {
                    turn,
                    audio: Vec::with_capacity(INPUT_RATE as usize * 10),
                    last_partial: Instant::now(),
                    speculative: None,
                    reply_started: false,
                    paused: false,
                    doubtful: over_agent,
                    ended_early: false,
                    keys: Vec::new(),
                });
                Flow::Continue
            }
            VadMsg::Audio { pcm } => self.audio(pcm),
            VadMsg::BargedIn => {
                if let Some(u) = self.cur.as_mut() {
                    u.doubtful = false;
                }
                Flow::Continue
            }
            VadMsg::Pause {
                reply,
                pause,
                early,
            } => self.pause(reply, pause, early),
            VadMsg::Keys { text } => {
                if let Some(u) = self.cur.as_mut() {
                    u.keys.push(text);
                }
                Flow::Continue
            }
            VadMsg::Resume => self.resume(),
            VadMsg::Discard => {
                self.stt.discard_utterance();
                self.cur = None;
                Flow::Continue
            }
            VadMsg::End => match self.cur.take_if(|u| u.ended_early) {
                // Answered already on the provider's endpointing: no second turn.
                Some(u) => {
                    log::debug!(
                        "stt: turn {} had ended on the provider's endpointing",
                        u.turn.id
                    );
                    Flow::Continue
                }
                None => self.end_turn(false),
            },
        }
    }

    fn finish(self) -> SpeculationStats {
        self.stats
    }
}
