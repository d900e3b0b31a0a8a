//! The agent: conversation history, the tool loop, fillers, and what an interruption leaves in
//! the history.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod backchannel;
pub mod budget;

use crate::foundation::cancel::CancelToken;
use crate::foundation::dialogue::{Heard, ToolCallRecord};
use crate::foundation::text::turn_end::TurnVerdict;
use crate::providers::llm::tools::ToolSet;
use crate::providers::llm::{
    ChatEvent, ChatMessage, ChatModel, FinishReason, LlmError, Role, ToolCall,
};

/// Marker appended to the heard part of an interrupted reply in the history.
pub const INTERRUPTED_MARK: &str = " [interrupted]";

/// Said before the rest of a reply the caller cut off by mistake (a false interruption).
pub const RESUME_PREFIX: &str = "As I was saying,";

#[derive(Clone, Debug)]
pub struct AgentConfig {
    pub system_prompt: String,
    /// Model calls per turn that may use tools; the last call is offered no tools.
    pub max_tool_steps: usize,
    /// Tool calls run from one model step; the rest are answered with an error, unrun.
    pub max_calls_per_step: usize,
    /// Say the filler when a tool runs longer than this.
    pub filler_after: Duration,
    pub filler_text: String,
    /// Spoken when the model fails.
    pub apology: String,
    /// Spoken when speech recognition fails.
    pub stt_apology: String,
    /// The history's size in characters beyond which the turns before the last
    /// [`KEEP_TURNS`] are shortened (see [`budget`]).
    pub history_budget_chars: usize,
}

/// Turns always kept whole in the history, however long the call.
pub const KEEP_TURNS: usize = 4;

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            system_prompt: "You are a helpful voice assistant. Answer in short spoken sentences."
                .into(),
            max_tool_steps: 5,
            max_calls_per_step: 4,
            filler_after: Duration::from_millis(700),
            filler_text: "One moment, let me check.".into(),
            apology: "I'm sorry, I'm having trouble answering right now. Could you say that again?"
                .into(),
            stt_apology: "Sorry, I didn't catch that. Could you say it again?".into(),
            // About 6,000 tokens: a long call stays far from any model's context.
            history_budget_chars: 24_000,
        }
    }
}

/// What the agent produces while it answers, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum AgentOutput {
    /// Reply text to speak.
    Text(String),
    /// Speak what is buffered now (text before a tool call, a filler).
    Flush,
    /// A tool call finished.
    ToolCall(ToolCallRecord),
}

/// How a reply ended.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplyOutcome {
    pub text: String,
    pub tool_calls: usize,
    pub cancelled: bool,
}

/// The agent as it was before a speculative reply.
pub struct Checkpoint {
    history: Vec<ChatMessage>,
    turn_starts: Vec<TurnStart>,
    model: Box<dyn ChatModel>,
}

/// Where a turn's reply lives in the history.
#[derive(Clone)]
struct TurnStart {
    id: u64,
    /// Index of the user message that opened the reply.
    index: usize,
    /// Set when this turn speaks the rest of an earlier turn's reply (a false interruption).
    resumed: Option<Resumed>,
}

/// A turn that goes on with a reply cut off earlier: the reply is one message in the history,
/// so what the caller heard of it spans both turns.
#[derive(Clone)]
struct Resumed {
    /// The reply as the model first wrote it.
    whole: String,
    /// Words of `whole` the caller had heard before this turn spoke the rest.
    heard_words: usize,
}

pub struct Agent {
    config: AgentConfig,
    chat: Box<dyn ChatModel>,
    tools: Box<dyn ToolSet>,
    history: Vec<ChatMessage>,
    turn_starts: Vec<TurnStart>,
}

impl Agent {
    pub fn new(config: AgentConfig, chat: Box<dyn ChatModel>, tools: Box<dyn ToolSet>) -> Self {
        let history = vec![ChatMessage::system(config.system_prompt.clone())];
        Self {
            config,
            chat,
            tools,
            history,
            turn_starts: Vec::new(),
        }
    }

    pub fn config(&self) -> &AgentConfig {
        &self.config
    }

    pub fn history(&self) -> &[ChatMessage] {
        &self.history
    }

    pub fn model_name(&self) -> String {
        self.chat.name()
    }

    /// The model's view on whether `heard` (said at the caller's pause) ends the turn, given
    /// the conversation so far (see [`ChatModel::judge_turn`]).
    pub fn judge_turn(&self, heard: &str) -> Option<TurnVerdict> {
        self.chat.judge_turn(&self.history, heard)
    }

    /// Answer the caller: call the model with history and tools, run the tools it asks for,
    /// repeat (at most `max_tool_steps` times), and stream the reply text to `out`.
    /// Executed tool calls stay in the history even when the reply is cancelled.
    pub fn respond(
        &mut self,
        turn_id: u64,
        user_text: &str,
        cancel: &CancelToken,
        out: &mut dyn FnMut(AgentOutput),
    ) -> Result<ReplyOutcome, LlmError> {
        self.respond_gated(turn_id, user_text, cancel, &mut || true, out)
    }

    /// As `respond`, but tools that change something run only once `tool_gate` says yes: a reply
    /// started speculatively waits there until the end of turn is certain (`false` cancels the
    /// reply). Read-only tools ([`ToolSet::is_read_only`]) run without asking.
    pub fn respond_gated(
        &mut self,
        turn_id: u64,
        user_text: &str,
        cancel: &CancelToken,
        tool_gate: &mut dyn FnMut() -> bool,
        out: &mut dyn FnMut(AgentOutput),
    ) -> Result<ReplyOutcome, LlmError> {
        self.keep_within_budget();
        self.turn_starts.push(TurnStart {
            id: turn_id,
            index: self.history.len(),
            resumed: None,
        });
        self.history.push(ChatMessage::user(user_text));
        let specs = self.tools.specs();
        let mut spoken = String::new();
        let mut n_calls = 0;
        for step in 0..=self.config.max_tool_steps {
            let offer: &[_] = if step < self.config.max_tool_steps {
                &specs
            } else {
                &[]
            };
            let mut text = String::new();
            let mut calls: Vec<ToolCall> = Vec::new();
            // Words before a tool call ("Let me check.") and the answer after it are one reply.
            let mut separate = !spoken.is_empty() && !spoken.ends_with(char::is_whitespace);
            let mut flushed = false;
            let finish = self
                .chat
                .stream(&self.history, offer, cancel, &mut |ev| match ev {
                    ChatEvent::Text(mut t) => {
                        if !cancel.is_cancelled() {
                            if separate && !t.is_empty() {
                                separate = false;
                                if !t.starts_with(char::is_whitespace) {
                                    t.insert(0, ' ');
                                }
                            }
                            text.push_str(&t);
                            out(AgentOutput::Text(t));
                        }
                    }
                    // The words before a call are complete: speak them while its arguments stream.
                    ChatEvent::ToolCallStarted(_) => {
                        if !cancel.is_cancelled() && !text.trim().is_empty() && !flushed {
                            flushed = true;
                            out(AgentOutput::Flush);
                        }
                    }
                    ChatEvent::ToolCall(c) => calls.push(c),
                });
            spoken.push_str(&text);
            let finish = match finish {
                Ok(f) => f,
                Err(e) => {
                    if !text.is_empty() {
                        self.history.push(ChatMessage::assistant(text));
                    }
                    return Err(e);
                }
            };
            if finish == FinishReason::Cancelled || cancel.is_cancelled() {
                // Tool calls the model had asked for are not run: the caller moved on.
                if !text.is_empty() {
                    self.history.push(ChatMessage::assistant(text));
                }
                return Ok(ReplyOutcome {
                    text: spoken,
                    tool_calls: n_calls,
                    cancelled: true,
                });
            }
            if calls.is_empty() || offer.is_empty() {
                if !calls.is_empty() {
                    log::warn!("agent: tool step limit reached; ignoring further tool calls");
                }
                self.history.push(ChatMessage::assistant(text));
                return Ok(ReplyOutcome {
                    text: spoken,
                    tool_calls: n_calls,
                    cancelled: false,
                });
            }
            if !text.trim().is_empty() && !flushed {
                // Speak the words before the tool call while the tool runs.
                out(AgentOutput::Flush);
            }
            // Lookups that change nothing may run on a guess; anything else waits at the gate.
            let read_only = calls.iter().all(|c| self.tools.is_read_only(&c.name));
            if (!read_only && !tool_gate()) || cancel.is_cancelled() {
                if !text.is_empty() {
                    self.history.push(ChatMessage::assistant(text));
                }
                return Ok(ReplyOutcome {
                    text: spoken,
                    tool_calls: n_calls,
                    cancelled: true,
                });
            }
            let said_something = !text.trim().is_empty();
            self.history
                .push(ChatMessage::assistant_tool_calls(text, calls.clone()));
            for (i, call) in calls.into_iter().enumerate() {
                // A model asking for many tools at once is looping or being steered: the ones
                // past the cap are answered without being run, so it can say what it has.
                let result = if i < self.config.max_calls_per_step {
                    n_calls += 1;
                    self.run_tool(&call, cancel, said_something, out)
                } else {
                    log::warn!(
                        "agent: tool call {} of one step refused (cap {})",
                        i + 1,
                        self.config.max_calls_per_step
                    );
                    serde_json::json!({
                        "error": format!(
                            "not run: at most {} tool calls at once; answer with what you have or ask again",
                            self.config.max_calls_per_step
                        ),
                        "code": "too_many_calls",
                    })
                };
                out(AgentOutput::ToolCall(ToolCallRecord {
                    name: call.name.clone(),
                    arguments: serde_json::from_str(&call.arguments)
                        .unwrap_or(Value::String(call.arguments.clone())),
                    result: result.clone(),
                }));
                self.history
                    .push(ChatMessage::tool(call.id.clone(), result.to_string()));
            }
            if cancel.is_cancelled() {
                // The tools' effects are real and stay in the history; their answer is not spoken.
                return Ok(ReplyOutcome {
                    text: spoken,
                    tool_calls: n_calls,
                    cancelled: true,
                });
            }
        }
        unreachable!("the last step offers no tools and always returns")
    }

    /// Run one tool; say the filler if it takes longer than `filler_after`, unless the model
    /// already said something before the call ("Let me check.").
    fn run_tool(
        &mut self,
        call: &ToolCall,
        cancel: &CancelToken,
        said_something: bool,
        out: &mut dyn FnMut(AgentOutput),
    ) -> Value {
        let tools = &mut self.tools;
        let (filler_after, filler) = (self.config.filler_after, self.config.filler_text.clone());
        std::thread::scope(|scope| {
            let (done_tx, done_rx) = crossbeam_channel::bounded(1);
            scope.spawn(move || {
                let started = Instant::now();
                // A tool that panics must not end the session (the scope would re-raise it): the
                // model gets an error result and can tell the caller. The tool set may be left
                // half-updated, which is no worse than a tool that returned an error midway.
                let r = catch_unwind(AssertUnwindSafe(|| tools.call(&call.name, &call.arguments)))
                    .unwrap_or_else(|p| {
                        let why = crate::foundation::panic::message(&*p);
                        log::error!("tool {} panicked: {why}", call.name);
                        serde_json::json!({"error": format!("tool {} failed: {why}", call.name)})
                    });
                log::debug!("tool {} took {:?}", call.name, started.elapsed());
                let _ = done_tx.send(r);
            });
            match done_rx.recv_timeout(filler_after) {
                Ok(r) => r,
                Err(_) => {
                    if !cancel.is_cancelled() && !filler.is_empty() && !said_something {
                        out(AgentOutput::Text(format!("{filler} ")));
                        out(AgentOutput::Flush);
                    }
                    done_rx.recv().unwrap_or_else(
                        |_| serde_json::json!({"error": format!("tool {} failed", call.name)}),
                    )
                }
            }
        })
    }

    /// Shorten the turns before the last [`KEEP_TURNS`] when the history is over budget.
    fn keep_within_budget(&mut self) {
        let mut starts: Vec<usize> = self.turn_starts.iter().map(|t| t.index).collect();
        starts.dedup();
        let Some(&keep_from) = starts.iter().rev().nth(KEEP_TURNS - 1) else {
            return;
        };
        let tools = &self.tools;
        let read_only = |name: &str| tools.is_read_only(name);
        let budget = self.config.history_budget_chars;
        if let Some(now_from) = budget::compact(&mut self.history, keep_from, budget, &read_only) {
            log::debug!(
                "agent: history shortened to {} messages",
                self.history.len()
            );
            self.turn_starts.retain(|t| t.index >= keep_from);
            for t in &mut self.turn_starts {
                t.index = t.index - keep_from + now_from;
            }
        }
    }

    /// A point to come back to (see `rollback`); `None` when the model cannot be rolled back.
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        Some(Checkpoint {
            history: self.history.clone(),
            turn_starts: self.turn_starts.clone(),
            model: self.chat.snapshot()?,
        })
    }

    /// Forget everything after `checkpoint`: a speculative reply the caller never heard.
    pub fn rollback(&mut self, checkpoint: Checkpoint) {
        self.history = checkpoint.history;
        self.turn_starts = checkpoint.turn_starts;
        self.chat = checkpoint.model;
    }

    fn turn_start(&self, turn_id: u64) -> Option<&TurnStart> {
        self.turn_starts.iter().rev().find(|t| t.id == turn_id)
    }

    /// The caller's barge-in on turn `turn_id` turned out to be nothing (noise, a
    /// backchannel): turn `new_turn` speaks the rest of that reply, and the history shows the
    /// reply whole again. `heard` and `full` are the sink's account of `turn_id`. Returns the
    /// text to speak ("As I was saying, ..."), or `None` when nothing is left to say.
    pub fn resume_interrupted(
        &mut self,
        turn_id: u64,
        new_turn: u64,
        heard: &str,
        full: &str,
    ) -> Option<String> {
        let start = self.turn_start(turn_id)?;
        let index = start.index;
        let heard_now = heard.split_whitespace().count();
        // A reply resumed before: the caller heard its lead, then part of what followed the prefix.
        let (whole, heard_words) = match &start.resumed {
            Some(r) => (
                r.whole.clone(),
                r.heard_words + heard_now.saturating_sub(prefix_words()),
            ),
            None => (full.to_string(), heard_now),
        };
        let rest = whole
            .split_whitespace()
            .skip(heard_words)
            .collect::<Vec<_>>()
            .join(" ");
        if rest.is_empty() {
            return None;
        }
        if let Some(m) = self.history[index..]
            .iter_mut()
            .rev()
            .find(|m| m.role == Role::Assistant && m.content.ends_with(INTERRUPTED_MARK))
        {
            m.content = whole.clone();
        } else {
            self.history.push(ChatMessage::assistant(whole.clone()));
        }
        // Without this entry a second, real cut of the resumed reply would find no turn and leave
        // the whole reply in the history.
        self.turn_starts.push(TurnStart {
            id: new_turn,
            index,
            resumed: Some(Resumed { whole, heard_words }),
        });
        Some(format!("{RESUME_PREFIX} {rest}"))
    }

    /// Record an apology (spoken instead of a failed reply) as the agent's answer.
    pub fn record_reply(&mut self, text: &str) {
        self.history.push(ChatMessage::assistant(text));
    }

    /// Apply what the caller really heard of a reply. An interrupted reply keeps only the heard
    /// part, marked as interrupted; tool calls and results stay.
    pub fn apply_heard(&mut self, heard: &Heard) {
        if !heard.interrupted {
            return;
        }
        let Some(start) = self.turn_start(heard.turn_id) else {
            return;
        };
        let heard_text = match &start.resumed {
            // The caller heard the lead of the reply, then the prefix and part of the rest.
            Some(r) => {
                let n = heard.text.split_whitespace().count();
                let n = r.heard_words + n.saturating_sub(prefix_words());
                r.whole
                    .split_whitespace()
                    .take(n)
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            None => heard.text.trim().to_string(),
        };
        let mut i = start.index + 1;
        while i < self.history.len() {
            let m = &mut self.history[i];
            if m.role == Role::Assistant {
                if m.tool_calls.is_empty() {
                    self.history.remove(i);
                    continue;
                }
                m.content.clear();
            }
            i += 1;
        }
        if !heard_text.is_empty() {
            self.history.push(ChatMessage::assistant(format!(
                "{heard_text}{INTERRUPTED_MARK}"
            )));
        }
    }
}

fn prefix_words() -> usize {
    RESUME_PREFIX.split_whitespace().count()
}
