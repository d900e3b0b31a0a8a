//! TTS stage: speaks each chunk as it comes; a chunk of a stale generation never gets here (the
//! runner drops it), and one that goes stale mid-synthesis is cut short by its cancel token.

use std::sync::Arc;

use crossbeam_channel::Sender;

use super::super::messages::{SentenceMsg, TtsMsg};
use super::super::runner::{Flow, Stage};
use super::super::shared::Shared;
use super::super::turn::Mark;
use super::super::turn::Turn;
use crate::foundation::urgency::{Priority, Urgency};
use crate::providers::tts::TextToSpeech;

/// How much a reply's audio matters, read by a shared voice each time it picks its next call:
/// a reply made at a pause is a guess until the turn is committed; then its first audio is what
/// the caller waits for, and the rest must only keep ahead of playback. (The turn's marks are
/// its trace; here they only rank work, they decide nothing.)
fn reply_urgency(turn: Arc<Turn>) -> Urgency {
    Urgency::live(move || {
        let m = turn.marks();
        if m.stt_final.is_none() {
            Priority::Speculative
        } else if m.tts_first_audio.is_none() {
            Priority::Decisive
        } else {
            Priority::Ahead
        }
    })
}

pub struct TtsStage {
    tts: Box<dyn TextToSpeech>,
    /// Hand each chunk's audio on only once it is complete (the turn-based baseline).
    sequential: bool,
    tx: Sender<TtsMsg>,
    s: Shared,
}

impl TtsStage {
    pub fn new(
        tts: Box<dyn TextToSpeech>,
        sequential: bool,
        tx: Sender<TtsMsg>,
        s: Shared,
    ) -> Self {
        Self {
            tts,
            sequential,
            tx,
            s,
        }
    }
}

impl Stage for TtsStage {
    type In = SentenceMsg;
    type Control = ();
    type Out = ();

    fn handle(&mut self, msg: SentenceMsg) -> Flow {
        let (turn, generation, text) = match msg {
            SentenceMsg::Sentence {
                turn,
                generation,
                text,
            } => (turn, generation, text),
            SentenceMsg::End { turn, generation } => {
                return Flow::sent(self.tx.send(TtsMsg::End { turn, generation }));
            }
        };
        let token = self.s.generation.token_for(generation);
        if self
            .tx
            .send(TtsMsg::SentenceStart {
                turn: turn.clone(),
                generation,
                text: text.clone(),
            })
            .is_err()
        {
            return Flow::Stop;
        }
        let (tx, sequential) = (&self.tx, self.sequential);
        let mut closed = false;
        let mut whole: Vec<i16> = Vec::new();
        let urgency = reply_urgency(turn.clone());
        let result = self
            .tts
            .synthesize_as(&urgency, &text, &token, &mut |pcm: &[i16]| {
                if closed || pcm.is_empty() || token.is_cancelled() {
                    return;
                }
                if sequential {
                    whole.extend_from_slice(pcm);
                    return;
                }
                turn.mark(Mark::TtsFirstAudio);
                closed = tx
                    .send(TtsMsg::Audio {
                        turn: turn.clone(),
                        generation,
                        pcm: pcm.to_vec(),
                    })
                    .is_err();
            });
        if sequential && !whole.is_empty() && !token.is_cancelled() {
            turn.mark(Mark::TtsFirstAudio);
            closed = tx
                .send(TtsMsg::Audio {
                    turn: turn.clone(),
                    generation,
                    pcm: whole,
                })
                .is_err();
        }
        if closed {
            return Flow::Stop;
        }
        if let Err(e) = result {
            self.s.events.error("tts", e.to_string());
            turn.push_error(e.to_string());
        }
        Flow::Continue
    }

    fn finish(self) {}
}
