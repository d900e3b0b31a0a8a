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

/// Said over the agent, these mean "go on", not "stop".
const BACKCHANNELS: &[&str] = &[
    "mm hmm", "mhm", "mm", "hmm", "uh huh", "yeah", "yep", "okay", "ok", "right", "i see", "sure",
    "got it", "go on", "uh", "um",
];

/// Of the backchannels, the ones that also answer a question ("Shall I book it?" "Yeah.").
const ANSWERS: &[&str] = &["yeah", "yep", "okay", "ok", "right", "sure", "got it"];

/// True when `text`, said over the agent after the caller heard `heard`, means "go on": no
/// words, or only backchannel words, except that a yes-word right after the agent asked a
/// question is the caller's answer.
pub fn is_backchannel_after(heard: &str, text: &str) -> bool {
    if !is_backchannel(text) {
        return false;
    }
    let asked = heard
        .trim_end()
        .trim_end_matches(crate::agent::INTERRUPTED_MARK.trim())
        .trim_end()
        .ends_with('?');
    !(asked && ANSWERS.contains(&normalized(text).as_str()))
}

/// True when a transcript holds no words, or only backchannel words.
pub fn is_backchannel(text: &str) -> bool {
    let norm = normalized(text);
    norm.is_empty() || BACKCHANNELS.contains(&norm.as_str())
}

/// Lower case, letters, digits and single spaces.
fn normalized(text: &str) -> String {
    let norm: String = text
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == ' ' {
                c
            } else {
                ' '
            }
        })
        .collect();
    norm.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A reply the caller cut off, kept in case the interruption turns out to be nothing.
struct CutOff {
    turn_id: u64,
    heard: String,
    full: String,
}

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
    // A reply started at a pause, not yet confirmed by the final transcript.
    let mut pending: Option<Speculation> = None;
    // The last reply, if the caller cut it off.
    let mut cut_off: Option<CutOff> = None;
    // The last turn whose Heard report came back: a reply that was busy past a barge-in may
    // see its Heard before its own final transcript, and must not wait for it again.
    let mut last_heard: Option<u64> = None;
    let note_heard = |h: &Heard, cut_off: &mut Option<CutOff>, last_heard: &mut Option<u64>| {
        *last_heard = Some(h.turn_id);
        *cut_off = h.interrupted.then(|| CutOff {
            turn_id: h.turn_id,
            heard: h.text.clone(),
            full: h.full_text.clone(),
        });
    };
    let mut heard_open = true;
    loop {
        let msg = if heard_open {
            select! {
                recv(heard_rx) -> h => {
                    match h {
                        Ok(h) => {
                            if awaiting == Some(h.turn_id) { awaiting = None; }
                            agent.apply_heard(&h);
                            note_heard(&h, &mut cut_off, &mut last_heard);
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
        // A speculative transcript comes with the generation it belongs to; anything else is
        // answered in the generation current now.
        let (turn, text, speculative, generation) = match msg {
            SttMsg::Partial { .. } => continue,
            SttMsg::Speculative {
                turn,
                text,
                generation,
            } => (turn, Some(text), true, generation),
            SttMsg::Final { turn, text } => (turn, Some(text), false, s.generation.current()),
            SttMsg::Failed { turn, .. } => (turn, None, false, s.generation.current()),
        };
        if let Some(p) = pending.take() {
            let stale = s.generation.is_stale(p.generation);
            // The STT keeps the speculative transcript only when nothing but silence followed
            // the pause, so it tells "the caller went on" (void the reply) from a later barge-in
            // on the committed reply (keep it: the caller heard part of it). Staleness alone
            // cannot: a slow reply may still be streaming when the caller cuts in.
            let stood = turn.report("", false).speculative_stt;
            let confirmed = !speculative
                && p.turn.id == turn.id
                && text.as_deref() == Some(p.text.as_str())
                && (!stale || stood);
            if confirmed {
                // The reply made at the pause stands: it is already on its way to the speaker,
                // and the lookups it made can be shown now.
                for event in p.tool_events {
                    s.events.emit(event);
                }
                if stale && turn.marks().first_audio_out.is_none() {
                    // Cut off before a word was played: the sink drops such a reply without an
                    // account, so record here that the caller heard nothing of it.
                    agent.apply_heard(&Heard {
                        turn_id: turn.id,
                        text: String::new(),
                        full_text: String::new(),
                        interrupted: true,
                    });
                } else if last_heard != Some(turn.id) {
                    awaiting = Some(turn.id);
                }
                continue;
            }
            agent.rollback(p.checkpoint);
            p.turn.discard_reply();
        }
        // The history must reflect what the caller heard of the last reply before going on.
        if let Some(prev) = awaiting.take() {
            while let Ok(h) = heard_rx.recv_timeout(HEARD_WAIT) {
                agent.apply_heard(&h);
                note_heard(&h, &mut cut_off, &mut last_heard);
                if h.turn_id == prev {
                    break;
                }
            }
        }
        // A false interruption (noise, "mm-hmm"): pick the cut-off reply up where it stopped.
        if let (Some(c), Some(t)) = (&cut_off, &text) {
            if is_backchannel_after(&c.heard, t) {
                if speculative {
                    continue; // decide at the final transcript
                }
                if let Some(resumed) =
                    agent.resume_interrupted(c.turn_id, turn.id, &c.heard, &c.full)
                {
                    log::info!(
                        "turn {}: false interruption, resuming turn {}",
                        turn.id,
                        c.turn_id
                    );
                    if resume(&turn, resumed, generation, &tx).is_err() {
                        return;
                    }
                    cut_off = None;
                    awaiting = Some(turn.id);
                    continue;
                }
            }
        }
        if text.as_deref().is_some_and(|t| !t.trim().is_empty()) {
            cut_off = None;
        }
        if speculative && s.generation.is_stale(generation) {
            continue; // the caller already went on
        }
        let checkpoint = if speculative {
            match agent.checkpoint() {
                Some(c) => Some(c),
                // A model that cannot be rolled back waits for the final transcript.
                None => continue,
            }
        } else {
            None
        };
        if speculative {
            turn.set_speculative_generation(generation);
        }
        let Ok(tool_events) = reply(
            &mut agent,
            &turn,
            text.clone(),
            generation,
            speculative,
            &tx,
            &s,
        ) else {
            return;
        };
        if let Some(checkpoint) = checkpoint {
            pending = Some(Speculation {
                turn,
                text: text.unwrap_or_default(),
                generation,
                checkpoint,
                tool_events,
            });
        } else {
            awaiting = Some(turn.id);
        }
    }
}

/// Speak the rest of a cut-off reply as this turn's answer.
fn resume(
    turn: &Arc<Turn>,
    text: String,
    generation: u64,
    tx: &Sender<AgentMsg>,
) -> Result<(), ()> {
    turn.mark(Mark::AgentStart);
    turn.mark(Mark::LlmFirstToken);
    turn.push_agent_text(&text);
    tx.send(AgentMsg::Text {
        turn: turn.clone(),
        generation,
        text,
    })
    .and_then(|_| {
        tx.send(AgentMsg::End {
            turn: turn.clone(),
            generation,
        })
    })
    .map_err(|_| ())
}

/// A reply started before the end of turn was certain.
struct Speculation {
    turn: Arc<Turn>,
    text: String,
    generation: u64,
    checkpoint: crate::agent::Checkpoint,
    /// Read-only lookups it made, shown once the turn is confirmed.
    tool_events: Vec<Event>,
}

/// Wait until the turn is committed (true) or its reply cancelled (false).
fn wait_for_commit(turn: &Turn, token: &crate::CancelToken) -> bool {
    loop {
        if token.is_cancelled() {
            return false;
        }
        if turn.is_committed() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Answer one turn. A speculative reply's tool-call events are returned instead of emitted:
/// the caller may still go on, and then the lookups never happened as far as anyone sees.
fn reply(
    agent: &mut Agent,
    turn: &Arc<Turn>,
    text: Option<String>,
    generation: u64,
    speculative: bool,
    tx: &Sender<AgentMsg>,
    s: &Shared,
) -> Result<Vec<Event>, ()> {
    let mut held_events = Vec::new();
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
            let token = s.generation.token_for(generation);
            let mut closed = false;
            // Tools have real effects: a speculative reply runs them only once the turn is certain.
            let mut gate = || !speculative || wait_for_commit(turn, &token);
            let result = agent.respond_gated(turn.id, &user_text, &token, &mut gate, &mut |o| {
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
                        // Tools that change something ran only after the commit: show them.
                        if speculative && !turn.is_committed() {
                            held_events.push(event);
                        } else {
                            s.events.emit(event);
                        }
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
    .map_err(|_| ())?;
    Ok(held_events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backchannels_go_on_unless_they_answer_a_question() {
        assert!(is_backchannel("Mm-hmm."));
        assert!(is_backchannel(""));
        assert!(!is_backchannel("Wait, stop."));
        let told = "Doctor Patel is free on Monday at 9, 9:30 and";
        assert!(is_backchannel_after(told, "Yeah."));
        assert!(is_backchannel_after(told, "uh huh"));
        let asked = "Shall I book it? I can also";
        assert!(
            is_backchannel_after(asked, "Yeah."),
            "the question was not the end"
        );
        let asked = "Just to confirm: Doctor Patel on Monday at 10 AM. Shall I book it?";
        assert!(!is_backchannel_after(asked, "Yeah."));
        assert!(!is_backchannel_after(
            &format!("{asked} [interrupted]"),
            "Sure"
        ));
        assert!(is_backchannel_after(asked, "Mm-hmm."));
    }
}
