//! Keeping a long call's history within a budget. Every model call sends the whole history, so
//! without a limit a long call grows its prompt, and its cost, without end. Past the budget,
//! the turns before the last few are shortened to what still matters: the tool calls that
//! changed something (a booking, a cancellation, an identity check) with their results. What
//! the caller said and the agent answered then, and the lookups made, are dropped; a note in
//! the history says so.

use std::collections::HashSet;

use crate::providers::llm::{ChatMessage, Role};

/// Said to the model where earlier turns were shortened.
pub const SHORTENED_NOTE: &str = "Earlier turns of this call were shortened to save space: only \
     the tool calls that changed something, and their results, are kept from them.";

/// A message's size in characters: its text and its tool calls' names and arguments.
pub fn size(m: &ChatMessage) -> usize {
    m.content.len()
        + m.tool_calls
            .iter()
            .map(|c| c.name.len() + c.arguments.len())
            .sum::<usize>()
}

fn is_note(m: &ChatMessage) -> bool {
    m.role == Role::System && m.content == SHORTENED_NOTE
}

/// Shorten `history[1..keep_from]` (index 0 is the system prompt, `keep_from..` the recent
/// turns, kept whole) when the whole is over `budget` characters. Returns where the recent
/// turns start afterwards, or `None` when nothing changed.
pub fn compact(
    history: &mut Vec<ChatMessage>,
    keep_from: usize,
    budget: usize,
    read_only: &dyn Fn(&str) -> bool,
) -> Option<usize> {
    let total: usize = history.iter().map(size).sum();
    if total <= budget || keep_from <= 1 || keep_from > history.len() {
        return None;
    }
    let recent = history.split_off(keep_from);
    let mut old = std::mem::take(history).into_iter();
    let mut out: Vec<ChatMessage> = old.next().into_iter().collect();
    out.push(ChatMessage::system(SHORTENED_NOTE));
    let mut kept_calls = HashSet::new();
    for m in old {
        match m.role {
            _ if is_note(&m) => {}
            Role::Assistant if !m.tool_calls.is_empty() => {
                let calls: Vec<_> = m
                    .tool_calls
                    .into_iter()
                    .filter(|c| !read_only(&c.name))
                    .collect();
                if !calls.is_empty() {
                    kept_calls.extend(calls.iter().map(|c| c.id.clone()));
                    out.push(ChatMessage::assistant_tool_calls(String::new(), calls));
                }
            }
            // A result stays exactly when its call did (the API wants them in pairs).
            Role::Tool
                if m.tool_call_id
                    .as_ref()
                    .is_some_and(|id| kept_calls.contains(id)) =>
            {
                out.push(m);
            }
            _ => {}
        }
    }
    let starts_at = out.len();
    out.extend(recent);
    *history = out;
    Some(starts_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::llm::ToolCall;

    fn call(id: &str, name: &str) -> ToolCall {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: "{\"x\":1}".into(),
        }
    }

    fn turn(n: usize, tool: &str) -> Vec<ChatMessage> {
        let id = format!("c{n}");
        vec![
            ChatMessage::user(format!("question {n} {}", "words ".repeat(50))),
            ChatMessage::assistant_tool_calls("Let me check.", vec![call(&id, tool)]),
            ChatMessage::tool(id, format!("result {n}")),
            ChatMessage::assistant(format!("answer {n} {}", "words ".repeat(50))),
        ]
    }

    fn history() -> Vec<ChatMessage> {
        let mut h = vec![ChatMessage::system("You are a receptionist.")];
        for (n, tool) in ["lookup", "book", "lookup", "lookup", "lookup"]
            .iter()
            .enumerate()
        {
            h.extend(turn(n, tool));
        }
        h
    }

    #[test]
    fn old_turns_keep_only_what_changed_something() {
        let mut h = history();
        let recent_from = 1 + 3 * 4; // the last two turns stay whole
        let recent: Vec<ChatMessage> = h[recent_from..].to_vec();
        let read_only = |name: &str| name == "lookup";
        let starts = compact(&mut h, recent_from, 500, &read_only).expect("over budget");
        assert_eq!(h[0].content, "You are a receptionist.");
        assert!(is_note(&h[1]));
        // Of the three old turns, only the booking's call and result remain, in a pair.
        assert_eq!(h[2].role, Role::Assistant);
        assert_eq!(h[2].tool_calls[0].name, "book");
        assert_eq!(h[3].tool_call_id.as_deref(), Some("c1"));
        assert_eq!(starts, 4);
        assert_eq!(h[starts..], recent[..]);
        // Shortened again later: one note, the booking still there.
        let again = compact(&mut h, starts, 10, &read_only).expect("still over");
        assert_eq!(h.iter().filter(|m| is_note(m)).count(), 1);
        assert_eq!(again, 4);
        assert_eq!(h[3].content, "result 1");
    }

    #[test]
    fn within_the_budget_nothing_changes() {
        let mut h = history();
        let before = h.clone();
        assert_eq!(compact(&mut h, 13, 1_000_000, &|_: &str| true), None);
        assert_eq!(h, before);
        assert_eq!(compact(&mut h, 1, 0, &|_: &str| true), None, "no old turns");
    }
}
