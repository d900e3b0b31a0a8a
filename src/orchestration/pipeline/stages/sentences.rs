//! Sentence stage: reply text deltas in, speakable chunks out as soon as each is complete.

use std::sync::Arc;

use crossbeam_channel::Sender;

use super::super::messages::{AgentMsg, SentenceMsg};
use super::super::runner::{Flow, Stage};
use super::super::shared::Shared;
use super::super::turn::{Mark, Turn};
use crate::foundation::text::cleanup::{clean_for_speech, is_speakable};
use crate::foundation::text::sentence::{SentenceBuffer, SentenceConfig};

pub struct SentenceStage {
    buf: SentenceBuffer,
    /// The turn-based baseline: hold the whole reply back until it is complete.
    sequential: bool,
    /// The reply being buffered: (turn id, generation).
    cur: Option<(u64, u64)>,
    held: Vec<String>,
    tx: Sender<SentenceMsg>,
    s: Shared,
}

impl SentenceStage {
    pub fn new(
        config: SentenceConfig,
        sequential: bool,
        tx: Sender<SentenceMsg>,
        s: Shared,
    ) -> Self {
        Self {
            buf: SentenceBuffer::new(config),
            sequential,
            cur: None,
            held: Vec::new(),
            tx,
            s,
        }
    }

    /// Start buffering a new reply when this one is not the current one.
    fn switch_to(&mut self, turn: u64, generation: u64) {
        if self.cur != Some((turn, generation)) {
            self.buf.reset();
            self.held.clear();
            self.cur = Some((turn, generation));
        }
    }

    fn emit(&mut self, turn: &Arc<Turn>, generation: u64, chunk: String) -> Flow {
        let text = clean_for_speech(&chunk);
        if !is_speakable(&text) {
            return Flow::Continue;
        }
        if self.sequential {
            self.held.push(text);
            return Flow::Continue;
        }
        turn.mark(Mark::FirstChunk);
        Flow::sent(self.tx.send(SentenceMsg::Sentence {
            turn: turn.clone(),
            generation,
            text,
        }))
    }
}

impl Stage for SentenceStage {
    type In = AgentMsg;
    type Control = ();
    type Out = ();

    fn handle(&mut self, msg: AgentMsg) -> Flow {
        match msg {
            AgentMsg::Text {
                turn,
                generation,
                text,
            } => {
                self.switch_to(turn.id, generation);
                for chunk in self.buf.push(&text) {
                    if self.emit(&turn, generation, chunk) == Flow::Stop {
                        return Flow::Stop;
                    }
                }
                Flow::Continue
            }
            AgentMsg::Flush { turn, generation } => {
                if self.cur != Some((turn.id, generation)) {
                    return Flow::Continue;
                }
                match self.buf.finish() {
                    Some(c) => self.emit(&turn, generation, c),
                    None => Flow::Continue,
                }
            }
            AgentMsg::End { turn, generation } => {
                let mut flow = Flow::Continue;
                if self.cur == Some((turn.id, generation))
                    && !self.s.generation.is_stale(generation)
                {
                    if let Some(c) = self.buf.finish() {
                        flow = self.emit(&turn, generation, c);
                    }
                    if self.sequential && flow == Flow::Continue && !self.held.is_empty() {
                        turn.mark(Mark::FirstChunk);
                        flow = Flow::sent(self.tx.send(SentenceMsg::Sentence {
                            turn: turn.clone(),
                            generation,
                            text: self.held.join(" "),
                        }));
                    }
                }
                self.buf.reset();
                self.held.clear();
                self.cur = None;
                if flow == Flow::Stop {
                    return flow;
                }
                // End always travels on, so the sink can close the turn.
                Flow::sent(self.tx.send(SentenceMsg::End { turn, generation }))
            }
        }
    }

    fn finish(self) {}
}
