//! Sentence stage: reply text deltas in, speakable chunks out as soon as each is complete.

use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

use super::super::messages::{AgentMsg, SentenceMsg};
use super::super::turn::{Mark, Turn};
use super::super::Shared;
use crate::text::cleanup::{clean_for_speech, is_speakable};
use crate::text::sentence::{SentenceBuffer, SentenceConfig};

pub fn run(
    config: SentenceConfig,
    sequential: bool,
    rx: Receiver<AgentMsg>,
    tx: Sender<SentenceMsg>,
    s: Shared,
) {
    let mut buf = SentenceBuffer::new(config);
    // The reply being buffered: (turn id, generation).
    let mut cur: Option<(u64, u64)> = None;
    // Sequential mode holds the whole reply back until it is complete.
    let mut held: Vec<String> = Vec::new();

    let emit = |turn: &Arc<Turn>, generation: u64, chunk: String, held: &mut Vec<String>| {
        let text = clean_for_speech(&chunk);
        if !is_speakable(&text) {
            return Ok(());
        }
        if sequential {
            held.push(text);
            return Ok(());
        }
        turn.mark(Mark::FirstChunk);
        tx.send(SentenceMsg::Sentence {
            turn: turn.clone(),
            generation,
            text,
        })
    };

    for msg in rx.iter() {
        let sent = match msg {
            AgentMsg::Text {
                turn,
                generation,
                text,
            } => {
                if s.generation.is_stale(generation) {
                    continue;
                }
                if cur != Some((turn.id, generation)) {
                    buf.reset();
                    held.clear();
                    cur = Some((turn.id, generation));
                }
                buf.push(&text)
                    .into_iter()
                    .try_for_each(|c| emit(&turn, generation, c, &mut held))
            }
            AgentMsg::Flush { turn, generation } => {
                if s.generation.is_stale(generation) || cur != Some((turn.id, generation)) {
                    continue;
                }
                match buf.finish() {
                    Some(c) => emit(&turn, generation, c, &mut held),
                    None => Ok(()),
                }
            }
            AgentMsg::End { turn, generation } => {
                let mut r = Ok(());
                if cur == Some((turn.id, generation)) && !s.generation.is_stale(generation) {
                    if let Some(c) = buf.finish() {
                        r = emit(&turn, generation, c, &mut held);
                    }
                    if sequential && r.is_ok() && !held.is_empty() {
                        turn.mark(Mark::FirstChunk);
                        r = tx.send(SentenceMsg::Sentence {
                            turn: turn.clone(),
                            generation,
                            text: held.join(" "),
                        });
                    }
                }
                buf.reset();
                held.clear();
                cur = None;
                // End always travels on, so the sink can close the turn.
                r.and_then(|_| tx.send(SentenceMsg::End { turn, generation }))
            }
        };
        if sent.is_err() {
            return;
        }
    }
}
