//! Agent stage: turns final transcripts into streamed replies, and keeps the history honest
//! about what the caller heard.

use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{select, Receiver, Sender};

use super::super::events::Event;
use super::super::messages::{AgentMsg, Heard, SttMsg};
use super::super::turn::{Mark, Turn};
use super::super::Shared;
use crate::agent::{Agent, AgentOutput};

/// How long a new turn waits for the sink's account of the previous reply.
const HEARD_WAIT: Duration = Duration::from_secs(2);

pub fn run(
    mut agent: Agent,
    rx: Receiver<SttMsg>,
    heard_rx: Receiver<Heard>,
    tx: Sender<AgentMsg>,
    s: Shared,
) {
    log::info!("agent brain: {}", agent.model_name());
    // The last turn whose Heard report has not come back yet.
    let mut awaiting: Option<u64> = None;
    let mut heard_open = true;
    loop {
        let msg = if heard_open {
            select! {
                recv(heard_rx) -> h => {
                    match h {
                        Ok(h) => {
                            if awaiting == Some(h.turn_id) { awaiting = None; }
                            agent.apply_heard(&h);
                        }
                        Err(_) => heard_open = false,
                    }
                    continue;
                }
                recv(rx) -> m => m,
            }
        } else {
            rx.recv()
        };
        let Ok(msg) = msg else { break };
        let (turn, text) = match msg {
            SttMsg::Partial { .. } => continue,
            SttMsg::Final { turn, text } => (turn, Some(text)),
            SttMsg::Failed { turn, .. } => (turn, None),
        };
        // The history must reflect what the caller heard of the last reply before going on.
        if let Some(prev) = awaiting.take() {
            while let Ok(h) = heard_rx.recv_timeout(HEARD_WAIT) {
                agent.apply_heard(&h);
                if h.turn_id == prev {
                    break;
                }
            }
        }
        let generation = s.generation.current();
        if reply(&mut agent, &turn, text, generation, &tx, &s).is_err() {
            return;
        }
        awaiting = Some(turn.id);
    }
}

fn reply(
    agent: &mut Agent,
    turn: &Arc<Turn>,
    text: Option<String>,
    generation: u64,
    tx: &Sender<AgentMsg>,
    s: &Shared,
) -> Result<(), ()> {
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
            let apology = agent.config().stt_apology.clone();
            agent.record_reply(&apology);
            send_text(apology)?;
        }
        Some(user_text) => {
            turn.mark(Mark::AgentStart);
            let token = s.generation.token();
            let mut closed = false;
            let result = agent.respond(turn.id, &user_text, &token, &mut |o| {
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
                        s.events.emit(Event::ToolCall {
                            turn: turn.id,
                            name: rec.name.clone(),
                            arguments: rec.arguments.clone(),
                            result: rec.result.clone(),
                        });
                        turn.push_tool_call(rec);
                    }
                }
            });
            if closed {
                return Err(());
            }
            if let Err(e) = result {
                s.events.error("llm", e.to_string());
                turn.push_error(e.to_string());
                if !token.is_cancelled() {
                    let apology = agent.config().apology.clone();
                    agent.record_reply(&apology);
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
    .map_err(|_| ())
}
