//! The built-in offline receptionist: a rule-based dialogue engine, not a language model.
//! It is the default brain when no LLM server is configured, so the whole agent works with
//! no network and no keys.
//!
//! It speaks through the same seam and loop as an LLM: `stream()` reads the history; after a
//! caller's line it either streams a reply word by word or emits one tool call; after a tool
//! result it reads the result's JSON and phrases it. Between turns it keeps slot-filling
//! state (task, doctor, day, time, name, date of birth, optional reason, and the question it
//! asked), so one instance serves one conversation. Questions about doctors are answered
//! beside a booking in progress without changing it.

mod answers;
mod dialogue;
mod doctors;
mod names;
mod phrase;
mod results;
mod understand;
mod words;

use std::sync::Arc;

use serde_json::{json, Value};

use self::dialogue::{Action, Dialogue, Pending, GREETING};
use crate::domain::calendar::{Clock, SystemClock};
use crate::domain::store::Store;
use crate::foundation::cancel::CancelToken;
use crate::foundation::text::turn_end::TurnVerdict;
use crate::providers::llm::{
    ChatEvent, ChatMessage, ChatModel, FinishReason, LlmError, Role, ToolCall, ToolSpec,
};

#[derive(Clone)]
pub struct BuiltinReceptionist {
    dialogue: Dialogue,
    calls: u64,
    preambles: bool,
}

/// A few words said before a tool call ("Let me check."), as a receptionist would while
/// typing. With a remote model the lookup costs two round trips; the caller hears this after
/// one, and knows they were understood.
fn preamble(tool: &str) -> &'static str {
    match tool {
        "check_availability" => PREAMBLES[0],
        "get_doctor_info" => PREAMBLES[1],
        "get_patient_info" => PREAMBLES[2],
        "schedule_appointment" => PREAMBLES[3],
        "cancel_appointment" => PREAMBLES[4],
        _ => PREAMBLES[5],
    }
}

/// Every preamble the receptionist says (the LLM's prompt asks for the first): said before
/// most lookups, they are worth keeping as audio (`providers::tts::phrases`).
pub const PREAMBLES: [&str; 6] = [
    "Let me check.",
    "Let me see.",
    "Let me look you up.",
    "Booking it now.",
    "Cancelling it now.",
    "One moment.",
];

impl Default for BuiltinReceptionist {
    fn default() -> Self {
        Self::new()
    }
}

impl BuiltinReceptionist {
    /// A receptionist on the system clock that knows doctors when callers say "doctor X",
    /// a speciality, or "any doctor".
    pub fn new() -> Self {
        Self {
            dialogue: Dialogue::new(Vec::new(), Arc::new(SystemClock)),
            calls: 0,
            preambles: true,
        }
    }

    /// Say a few words before each tool call (on by default); off, a tool call comes alone.
    pub fn with_preambles(mut self, on: bool) -> Self {
        self.preambles = on;
        self
    }

    /// Also recognise these doctors' bare surnames ("can I see Patel"). Full names, no title.
    pub fn with_doctor_names(mut self, names: Vec<String>) -> Self {
        self.dialogue.doctor_names = names;
        self
    }

    /// Read "today" from this clock (use the same one as the tools).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.dialogue.clock = clock;
        self
    }

    /// A receptionist that knows the store's doctors, on `clock`.
    pub fn for_store(store: &Store, clock: Arc<dyn Clock>) -> Self {
        let names = match store.doctors() {
            Ok(ds) => ds.into_iter().map(|d| d.name).collect(),
            Err(e) => {
                log::warn!("built-in receptionist cannot list doctors: {e}");
                Vec::new()
            }
        };
        Self::new().with_clock(clock).with_doctor_names(names)
    }

    /// What to do for this history.
    fn decide(&mut self, messages: &[ChatMessage]) -> Action {
        let Some(last) = messages.last() else {
            return self.dialogue.say(GREETING);
        };
        match last.role {
            Role::Tool => {
                // The results answer the last assistant message that made tool calls.
                let asked = messages
                    .iter()
                    .rposition(|m| m.role == Role::Assistant && !m.tool_calls.is_empty());
                let calls: &[ToolCall] = asked.map_or(&[], |i| &messages[i].tool_calls);
                let from = asked.map_or(0, |i| i + 1);
                let mut action = None;
                for m in messages[from..].iter().filter(|m| m.role == Role::Tool) {
                    let name = calls
                        .iter()
                        .find(|c| Some(&c.id) == m.tool_call_id.as_ref())
                        .map_or("", |c| c.name.as_str());
                    let value: Value = serde_json::from_str(&m.content)
                        .unwrap_or_else(|_| json!({ "error": m.content, "code": "internal" }));
                    action = Some(self.dialogue.on_tool_result(name, &value));
                }
                let action =
                    action.unwrap_or_else(|| self.dialogue.say("Sorry, could you say that again?"));
                self.go_on(action)
            }
            Role::User => {
                // Lines the caller said while nothing answered them belong together.
                let first = messages
                    .iter()
                    .rposition(|m| m.role != Role::User)
                    .map_or(0, |i| i + 1);
                let text: Vec<&str> = messages[first..]
                    .iter()
                    .map(|m| m.content.as_str())
                    .collect();
                let action = self.dialogue.on_user(&text.join(" "));
                self.go_on(action)
            }
            Role::System | Role::Assistant => {
                if messages.iter().any(|m| m.role == Role::User) {
                    self.dialogue.say("How can I help?")
                } else {
                    self.dialogue.say(GREETING)
                }
            }
        }
    }
}

impl BuiltinReceptionist {
    /// The first request is answered: go on to the second one said with it, if any and if
    /// nothing waits for the caller's answer. Its tool call comes after the first answer's
    /// words; a reply comes after them in the same breath.
    fn go_on(&mut self, action: Action) -> Action {
        let Action::Say(said) = &action else {
            return action;
        };
        if !self.dialogue.may_go_on() {
            self.dialogue.follow_up = None;
            return action;
        }
        let Some(next) = self.dialogue.follow_up.take() else {
            return action;
        };
        // The first answer's closing question gives way to the second request.
        let said = closing_question_dropped(said);
        self.dialogue.set_aside_search();
        match self.dialogue.on_user(&next) {
            Action::Call { name, args } => {
                self.dialogue.lead = Some(said);
                Action::Call { name, args }
            }
            Action::Say(more) => {
                let both = format!("{said} {more}").trim().to_string();
                self.dialogue.say(both)
            }
        }
    }
}

/// `text` without a last sentence that asks the caller something.
fn closing_question_dropped(text: &str) -> String {
    let t = text.trim();
    if !t.ends_with('?') {
        return t.to_string();
    }
    let body = &t[..t.len() - 1];
    match body.rfind(['.', '!', '?']) {
        Some(i) => t[..=i].to_string(),
        None => t.to_string(),
    }
}

impl ChatModel for BuiltinReceptionist {
    /// The dialogue state is plain data: a copy restores it if a speculative reply is dropped.
    fn snapshot(&self) -> Option<Box<dyn ChatModel>> {
        Some(Box::new(self.clone()))
    }

    fn name(&self) -> String {
        "built-in receptionist (offline, rule-based)".to_string()
    }

    /// The receptionist knows what it asked. Asked for a name and a birth date, a caller who
    /// has given the name, or a birth date without its year, is half-way through the answer
    /// ("My name is John Smith, | and my date of birth is March fourth, | nineteen eighty
    /// five"): hold the turn. Once the answer is whole (the lookup can run), end it at once.
    fn judge_turn(&self, history: &[ChatMessage], heard: &str) -> Option<TurnVerdict> {
        let asked = self.dialogue.pending.clone();
        if !matches!(asked, Pending::Name | Pending::Dob) {
            return None;
        }
        // The reply these words would get, on a copy: the real state moves only on a reply.
        let mut probe = self.clone();
        let mut messages = history.to_vec();
        messages.push(ChatMessage::user(heard));
        let action = probe.decide(&messages);
        let d = &probe.dialogue;
        let half = d.pending == Pending::Dob
            && ((asked == Pending::Name && d.caller.name.is_some())
                || d.caller.partial_dob.is_some());
        if half {
            return Some(TurnVerdict::Incomplete);
        }
        // The answer is whole: the lookup runs, or the receptionist moves on to its next
        // question.
        match action {
            Action::Call { .. } => Some(TurnVerdict::Complete),
            Action::Say(_) if !matches!(d.pending, Pending::Name | Pending::Dob) => {
                Some(TurnVerdict::Complete)
            }
            Action::Say(_) => None,
        }
    }

    fn stream(
        &mut self,
        messages: &[ChatMessage],
        tools: &[ToolSpec],
        cancel: &CancelToken,
        on_event: &mut dyn FnMut(ChatEvent),
    ) -> Result<FinishReason, LlmError> {
        if cancel.is_cancelled() {
            return Ok(FinishReason::Cancelled);
        }
        let action = match self.decide(messages) {
            Action::Call { name, .. } if !tools.iter().any(|t| t.name == name) => {
                log::warn!("built-in receptionist needs the {name} tool, which is not offered");
                self.dialogue.say("I'm sorry, I can't reach the appointment system right now. Please call back a little later.")
            }
            action => action,
        };
        match action {
            Action::Call { name, args } => {
                // The answer so far, then the preamble, as one stream of words.
                let lead = self.dialogue.lead.take().unwrap_or_default();
                let opening = match self.preambles {
                    true => format!("{lead} {}", preamble(name)),
                    false => lead,
                };
                if stream_words(&opening, cancel, on_event) {
                    return Ok(FinishReason::Cancelled);
                }
                self.calls += 1;
                on_event(ChatEvent::ToolCallStarted(name.to_string()));
                on_event(ChatEvent::ToolCall(ToolCall {
                    id: format!("builtin_call_{}", self.calls),
                    name: name.to_string(),
                    arguments: args.to_string(),
                }));
                Ok(FinishReason::ToolCalls)
            }
            Action::Say(text) => {
                if stream_words(&text, cancel, on_event) {
                    return Ok(FinishReason::Cancelled);
                }
                Ok(FinishReason::Stop)
            }
        }
    }
}

/// Streams `text` a word at a time, like a model's tokens; true when cancelled on the way.
fn stream_words(text: &str, cancel: &CancelToken, on_event: &mut dyn FnMut(ChatEvent)) -> bool {
    for (i, word) in text.split_whitespace().enumerate() {
        if cancel.is_cancelled() {
            return true;
        }
        let delta = if i == 0 {
            word.to_string()
        } else {
            format!(" {word}")
        };
        on_event(ChatEvent::Text(delta));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::FixedClock;

    fn brain() -> BuiltinReceptionist {
        let clock = FixedClock::at("2026-03-04 08:00").unwrap();
        BuiltinReceptionist::new()
            .with_clock(Arc::new(clock))
            .with_doctor_names(vec!["Priya Patel".into()])
    }

    fn specs() -> Vec<ToolSpec> {
        ["check_availability", "get_doctor_info"]
            .iter()
            .map(|n| ToolSpec {
                name: n.to_string(),
                description: String::new(),
                parameters: json!({}),
            })
            .collect()
    }

    /// Stream once: (text, tool calls, finish).
    fn run(
        b: &mut BuiltinReceptionist,
        h: &[ChatMessage],
    ) -> (String, Vec<ToolCall>, FinishReason) {
        let (mut text, mut calls) = (String::new(), Vec::new());
        let finish = b
            .stream(h, &specs(), &CancelToken::never(), &mut |e| match e {
                ChatEvent::Text(t) => text.push_str(&t),
                ChatEvent::ToolCall(c) => calls.push(c),
                ChatEvent::ToolCallStarted(_) => {}
            })
            .unwrap();
        (text, calls, finish)
    }

    /// The lookup of "doctor patel on tuesday at three" answered: she is free then.
    fn answer_patel_free_tuesday_at_three(h: &mut Vec<ChatMessage>, calls: &[ToolCall]) {
        let result = json!({
            "date": "2026-03-10", "day": "Tuesday, March 10", "requested_time": "15:00",
            "requested_time_free": true,
            "doctors": [{"doctor": "Dr. Priya Patel", "slots": ["14:30", "15:00"]}],
        });
        h.push(ChatMessage::assistant_tool_calls("", calls.to_vec()));
        h.push(ChatMessage::tool(calls[0].id.clone(), result.to_string()));
    }

    #[test]
    fn greets_when_no_one_has_spoken() {
        let (text, calls, finish) = run(&mut brain(), &[ChatMessage::system("prompt")]);
        assert!(text.starts_with("Hello, thanks for calling"), "{text}");
        assert!(calls.is_empty());
        assert_eq!(finish, FinishReason::Stop);
    }

    #[test]
    fn unanswered_caller_lines_are_read_together_and_results_matched_by_id() {
        let mut b = brain();
        let mut h = vec![
            ChatMessage::system("prompt"),
            ChatMessage::assistant("Hello, how can I [interrupted]"),
            ChatMessage::user("i'd like to see doctor patel"),
            ChatMessage::user("on tuesday at three"),
        ];
        let (text, calls, finish) = run(&mut b, &h);
        // A few words first, so a caller of a slow model hears at once that they were understood.
        assert_eq!(
            (text.as_str(), finish),
            ("Let me check.", FinishReason::ToolCalls)
        );
        assert_eq!(calls.len(), 1);
        let args: Value = serde_json::from_str(&calls[0].arguments).unwrap();
        assert_eq!(
            args,
            json!({"doctor": "patel", "date": "tuesday", "time_of_day": "15:00"})
        );
        answer_patel_free_tuesday_at_three(&mut h, &calls);
        let (text, calls, _) = run(&mut b, &h);
        assert!(calls.is_empty());
        assert_eq!(
            text,
            "Good news, Doctor Patel is free on Tuesday, March 10 at 3 PM. Can I have your full name and date of birth, please?"
        );
    }

    #[test]
    fn asked_for_a_name_and_birth_date_it_holds_the_turn_until_both_are_said() {
        let mut b = brain();
        let mut h = vec![ChatMessage::user(
            "i'd like to see doctor patel on tuesday at three",
        )];
        let (_, calls, _) = run(&mut b, &h);
        answer_patel_free_tuesday_at_three(&mut h, &calls);
        let (text, _, _) = run(&mut b, &h);
        assert!(
            text.ends_with("full name and date of birth, please?"),
            "{text}"
        );
        h.push(ChatMessage::assistant(text));
        let judge = |t: &str| b.judge_turn(&h, t);
        // Whole sentences, half of the answer: the caller is going on.
        assert_eq!(
            judge("My name is John Smith."),
            Some(TurnVerdict::Incomplete)
        );
        assert_eq!(
            judge("My name is John Smith and my date of birth is March 4th."),
            Some(TurnVerdict::Incomplete)
        );
        // All of it, even at a breath: the lookup can run.
        assert_eq!(
            judge("John Smith, March 4th, 1985,"),
            Some(TurnVerdict::Complete)
        );
        // Judging changes nothing: the same words still get the same answer.
        assert_eq!(
            judge("My name is John Smith."),
            Some(TurnVerdict::Incomplete)
        );
        // Asked nothing of the kind, it has no view.
        assert_eq!(brain().judge_turn(&[], "My name is John Smith."), None);
    }

    #[test]
    fn without_preambles_a_tool_call_comes_alone() {
        let mut b = brain().with_preambles(false);
        let (text, calls, finish) = run(
            &mut b,
            &[ChatMessage::user("what are doctor patel's hours")],
        );
        assert_eq!((text.as_str(), finish), ("", FinishReason::ToolCalls));
        assert_eq!(calls[0].name, "get_doctor_info");
    }

    #[test]
    fn a_broken_tool_result_gets_an_apology_not_a_panic() {
        let mut b = brain();
        let mut h = vec![ChatMessage::user("what are doctor patel's hours")];
        let (_, calls, _) = run(&mut b, &h);
        assert_eq!(calls[0].name, "get_doctor_info");
        h.push(ChatMessage::assistant_tool_calls("", calls.clone()));
        h.push(ChatMessage::tool(calls[0].id.clone(), "<html>502</html>"));
        let (text, calls, finish) = run(&mut b, &h);
        assert!(calls.is_empty());
        assert_eq!(finish, FinishReason::Stop);
        assert!(text.contains("something went wrong"), "{text}");
    }
}
