//! TTS stage: speaks each chunk, dropping chunks of a stale generation.

use crossbeam_channel::{Receiver, Sender};

use super::super::messages::{SentenceMsg, TtsMsg};
use super::super::turn::Mark;
use super::super::Shared;
use crate::tts::TextToSpeech;

/// `sequential`: hand each chunk's audio on only once it is complete (the turn-based baseline).
pub fn run(
    mut tts: Box<dyn TextToSpeech>,
    sequential: bool,
    rx: Receiver<SentenceMsg>,
    tx: Sender<TtsMsg>,
    s: Shared,
) {
    for msg in rx.iter() {
        match msg {
            SentenceMsg::Sentence {
                turn,
                generation,
                text,
            } => {
                if s.generation.is_stale(generation) {
                    continue;
                }
                let token = s.generation.token();
                if token.generation() != generation {
                    continue;
                }
                if tx
                    .send(TtsMsg::SentenceStart {
                        turn: turn.clone(),
                        generation,
                        text: text.clone(),
                    })
                    .is_err()
                {
                    return;
                }
                let mut closed = false;
                let mut whole: Vec<i16> = Vec::new();
                let result = tts.synthesize(&text, &token, &mut |pcm: &[i16]| {
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
                    return;
                }
                if let Err(e) = result {
                    s.events.error("tts", e.to_string());
                    turn.push_error(e.to_string());
                }
            }
            SentenceMsg::End { turn, generation } => {
                if tx.send(TtsMsg::End { turn, generation }).is_err() {
                    return;
                }
            }
        }
    }
}
