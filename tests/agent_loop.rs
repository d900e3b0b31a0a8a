//! The agent's tool loop with a scripted model: words said before a tool call are flushed to
//! the speaker at once and joined to the answer as one reply; a slow tool gets the filler only
//! when the model said nothing first; a panicking tool becomes an error result; the tool steps
//! of a turn are capped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use voice_agent::foundation::cancel::CancelToken;
use voice_agent::orchestration::agent::{Agent, AgentConfig, AgentOutput};
use voice_agent::providers::llm::tools::ToolSet;
use voice_agent::providers::llm::{
    ChatEvent, ChatMessage, ChatModel, FinishReason, LlmError, Role, ToolCall, ToolSpec,
};
use voice_agent::providers::testing::{EchoTools, ScriptStep, ScriptedChat};

/// Runs one reply; returns the outputs in order as readable lines, and the reply text.
fn reply(first: Vec<ScriptStep>) -> (Vec<String>, String) {
    let chat = ScriptedChat::new(vec![first, vec![ScriptStep::Text("Found it.".into())]]);
    let tools = EchoTools {
        delay: Duration::from_millis(300),
        ..EchoTools::default()
    };
    let config = AgentConfig {
        filler_after: Duration::from_millis(50),
        ..AgentConfig::default()
    };
    let mut agent = Agent::new(config, Box::new(chat), Box::new(tools));
    let mut outputs = Vec::new();
    let outcome = agent
        .respond(1, "look it up", &CancelToken::never(), &mut |o| {
            outputs.push(match o {
                AgentOutput::Text(t) => format!("text {t:?}"),
                AgentOutput::Flush => "flush".to_string(),
                AgentOutput::ToolCall(rec) => format!("tool {}", rec.name),
            })
        })
        .expect("scripted model");
    assert_eq!(outcome.tool_calls, 1);
    (outputs, outcome.text)
}

fn lookup() -> ScriptStep {
    ScriptStep::Call {
        name: "lookup".into(),
        arguments: serde_json::json!({"q": "x"}),
    }
}

#[test]
fn a_slow_tool_gets_the_filler_when_the_model_said_nothing() {
    let (outputs, text) = reply(vec![lookup()]);
    let filler = AgentConfig::default().filler_text;
    let at = outputs
        .iter()
        .position(|o| o.contains(&filler))
        .unwrap_or_else(|| panic!("no filler in {outputs:?}"));
    assert_eq!(outputs[at + 1], "flush", "{outputs:?}");
    assert!(
        outputs.iter().position(|o| o == "tool lookup") > Some(at),
        "{outputs:?}"
    );
    assert_eq!(text.trim(), "Found it.");
}

#[test]
fn words_before_a_tool_call_are_flushed_and_joined_to_the_answer() {
    let (outputs, text) = reply(vec![ScriptStep::Text("Let me check.".into()), lookup()]);
    let filler = AgentConfig::default().filler_text;
    assert!(
        !outputs.iter().any(|o| o.contains(&filler)),
        "no filler after the model's own words: {outputs:?}"
    );
    let flush = outputs.iter().position(|o| o == "flush").expect("flush");
    let tool = outputs
        .iter()
        .position(|o| o == "tool lookup")
        .expect("tool");
    assert!(
        flush < tool,
        "the words are spoken before the tool runs: {outputs:?}"
    );
    assert_eq!(text, "Let me check. Found it.");
}

/// Tools whose every call panics.
struct PanickingTools;

impl ToolSet for PanickingTools {
    fn specs(&self) -> Vec<ToolSpec> {
        EchoTools::default().specs()
    }
    fn call(&mut self, _name: &str, _arguments: &str) -> Value {
        panic!("database exploded")
    }
}

/// Replies to `user` with `agent`; returns the reply text and the tool records, in order.
fn turn(agent: &mut Agent, id: u64, user: &str) -> (String, Vec<Value>) {
    let mut results = Vec::new();
    let outcome = agent
        .respond(id, user, &CancelToken::never(), &mut |o| {
            if let AgentOutput::ToolCall(rec) = o {
                results.push(rec.result);
            }
        })
        .expect("scripted model");
    assert!(!outcome.cancelled);
    assert_eq!(outcome.tool_calls, results.len());
    (outcome.text, results)
}

#[test]
fn a_panicking_tool_gives_the_model_an_error_and_the_session_goes_on() {
    let chat = ScriptedChat::new(vec![
        vec![lookup()],
        vec![ScriptStep::Text("Sorry, I could not look that up.".into())],
        vec![ScriptStep::Text("Hello again.".into())],
    ]);
    let calls = chat.calls.clone();
    let mut agent = Agent::new(
        AgentConfig::default(),
        Box::new(chat),
        Box::new(PanickingTools),
    );
    let (text, results) = turn(&mut agent, 1, "look it up");
    assert_eq!(text, "Sorry, I could not look that up.");
    assert_eq!(results.len(), 1);
    let error = results[0]["error"].as_str().expect("an error result");
    assert!(error.contains("database exploded"), "{error}");

    // The model's second call got the error as the tool's result.
    let tool_msg: ChatMessage = calls.lock().unwrap()[1].last().cloned().expect("messages");
    assert_eq!(tool_msg.role, Role::Tool);
    let sent: Value = serde_json::from_str(&tool_msg.content).expect("json result");
    assert_eq!(sent, results[0]);

    // The agent (and its tool set) still works for the next turn.
    let (text, results) = turn(&mut agent, 2, "hello");
    assert_eq!(text, "Hello again.");
    assert!(results.is_empty());
}

/// A model that calls a tool whenever it is offered one, and answers in words only when not.
struct ToolHappyModel {
    /// Tools offered on each call, shared with the test.
    offered: Arc<Mutex<Vec<usize>>>,
    n: usize,
}

impl ChatModel for ToolHappyModel {
    fn name(&self) -> String {
        "tool-happy".into()
    }
    fn stream(
        &mut self,
        _messages: &[ChatMessage],
        tools: &[ToolSpec],
        _cancel: &CancelToken,
        on_event: &mut dyn FnMut(ChatEvent),
    ) -> Result<FinishReason, LlmError> {
        self.offered.lock().unwrap().push(tools.len());
        let Some(tool) = tools.first() else {
            on_event(ChatEvent::Text("I could not finish that, sorry.".into()));
            return Ok(FinishReason::Stop);
        };
        self.n += 1;
        on_event(ChatEvent::ToolCall(ToolCall {
            id: format!("call_{}", self.n),
            name: tool.name.clone(),
            arguments: json!({"q": self.n}).to_string(),
        }));
        Ok(FinishReason::ToolCalls)
    }
}

#[test]
fn a_model_that_keeps_calling_tools_is_stopped_after_max_tool_steps() {
    let offered = Arc::new(Mutex::new(Vec::new()));
    let model = ToolHappyModel {
        offered: offered.clone(),
        n: 0,
    };
    let tools = EchoTools::default();
    let runs = tools.calls.clone();
    let config = AgentConfig {
        max_tool_steps: 3,
        ..AgentConfig::default()
    };
    let mut agent = Agent::new(config, Box::new(model), Box::new(tools));
    let mut outputs = Vec::new();
    let outcome = agent
        .respond(1, "check everything", &CancelToken::never(), &mut |o| {
            outputs.push(o)
        })
        .expect("model");
    // Three tool steps, then one call with no tools offered, which answers in words.
    assert_eq!(*offered.lock().unwrap(), vec![1, 1, 1, 0]);
    assert_eq!(outcome.tool_calls, 3);
    let args: Vec<String> = runs
        .lock()
        .unwrap()
        .iter()
        .map(|(_, a)| a.clone())
        .collect();
    assert_eq!(args, vec![r#"{"q":1}"#, r#"{"q":2}"#, r#"{"q":3}"#]);
    assert!(!outcome.cancelled);
    assert_eq!(outcome.text, "I could not finish that, sorry.");
    assert!(matches!(
        outputs.last(),
        Some(AgentOutput::Text(t)) if t == "I could not finish that, sorry."
    ));
    let last = agent.history().last().expect("history");
    assert_eq!(last.role, Role::Assistant);
    assert_eq!(last.content, "I could not finish that, sorry.");
    assert!(last.tool_calls.is_empty());
}

#[test]
fn tool_calls_past_the_cap_are_ignored_even_when_the_model_makes_them() {
    // A model that calls the tool even when none is offered.
    let step = vec![ScriptStep::Text("Checking. ".into()), lookup()];
    let chat = ScriptedChat::new(vec![step; 6]);
    let streams = chat.streams.clone();
    let tools = EchoTools::default();
    let runs = tools.calls.clone();
    let config = AgentConfig {
        max_tool_steps: 2,
        ..AgentConfig::default()
    };
    let mut agent = Agent::new(config, Box::new(chat), Box::new(tools));
    let outcome = agent
        .respond(1, "check", &CancelToken::never(), &mut |_| {})
        .expect("scripted model");
    assert_eq!(runs.lock().unwrap().len(), 2);
    assert_eq!(outcome.tool_calls, 2);
    let offered: Vec<usize> = streams
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.tools_offered)
        .collect();
    assert_eq!(offered, vec![1, 1, 0], "the turn ended at the cap");
    assert_eq!(outcome.text, "Checking. Checking. Checking. ");
    let last = agent.history().last().expect("history");
    assert_eq!(last.role, Role::Assistant);
    assert!(
        last.tool_calls.is_empty(),
        "the ignored call is not in history"
    );
}

/// A model that ignores its cancel token, as a provider's already-buffered tokens would: it
/// writes five words, then asks for a tool.
struct DeafModel {
    calls: usize,
}

impl ChatModel for DeafModel {
    fn name(&self) -> String {
        "deaf".into()
    }
    fn stream(
        &mut self,
        _messages: &[ChatMessage],
        _tools: &[ToolSpec],
        _cancel: &CancelToken,
        on_event: &mut dyn FnMut(ChatEvent),
    ) -> Result<FinishReason, LlmError> {
        self.calls += 1;
        for w in ["one ", "two ", "three ", "four ", "five "] {
            on_event(ChatEvent::Text(w.into()));
        }
        on_event(ChatEvent::ToolCall(ToolCall {
            id: "call_1".into(),
            name: "lookup".into(),
            arguments: "{}".into(),
        }));
        Ok(FinishReason::ToolCalls)
    }
}

#[test]
fn after_a_cancel_the_agent_forwards_no_more_text_and_runs_no_tools() {
    let generation = voice_agent::foundation::cancel::Generation::new();
    let token = generation.token();
    let tools = EchoTools::default();
    let runs = tools.calls.clone();
    let mut agent = Agent::new(
        AgentConfig::default(),
        Box::new(DeafModel { calls: 0 }),
        Box::new(tools),
    );
    let mut outputs = Vec::new();
    let outcome = agent
        .respond(1, "tell me", &token, &mut |o| {
            // The caller barges in as the first word goes out.
            if outputs.is_empty() {
                generation.bump();
            }
            outputs.push(o);
        })
        .expect("model");
    assert_eq!(outputs, vec![AgentOutput::Text("one ".into())]);
    assert!(outcome.cancelled);
    assert_eq!(outcome.text, "one ");
    assert_eq!(outcome.tool_calls, 0);
    assert!(
        runs.lock().unwrap().is_empty(),
        "no tool of a cancelled reply runs"
    );
    let last = agent.history().last().expect("history");
    assert_eq!(last.content, "one ");
    assert!(last.tool_calls.is_empty());
}

/// Tools where only `book` changes something.
struct BookAndLookup;

impl ToolSet for BookAndLookup {
    fn specs(&self) -> Vec<ToolSpec> {
        ["lookup", "book"]
            .iter()
            .map(|n| ToolSpec {
                name: n.to_string(),
                description: n.to_string(),
                parameters: json!({"type": "object"}),
            })
            .collect()
    }
    fn call(&mut self, name: &str, _arguments: &str) -> Value {
        json!({"done": name, "detail": "x".repeat(400)})
    }
    fn is_read_only(&self, name: &str) -> bool {
        name == "lookup"
    }
}

#[test]
fn a_long_call_keeps_its_prompt_within_budget_and_its_booking_in_mind() {
    // Twelve turns, each a tool call and a long answer; the third books.
    let mut script = Vec::new();
    for n in 0..12 {
        let name = if n == 2 { "book" } else { "lookup" };
        script.push(vec![ScriptStep::Call {
            name: name.into(),
            arguments: json!({"turn": n}),
        }]);
        script.push(vec![ScriptStep::Text(format!(
            "Answer {n}: {}",
            "a fairly long spoken sentence ".repeat(12)
        ))]);
    }
    let chat = ScriptedChat::new(script);
    let calls = chat.calls.clone();
    let config = AgentConfig {
        history_budget_chars: 6_000,
        ..AgentConfig::default()
    };
    let mut agent = Agent::new(config, Box::new(chat), Box::new(BookAndLookup));
    for n in 0..12 {
        agent
            .respond(
                n + 1,
                &format!("question {n}"),
                &CancelToken::never(),
                &mut |_| {},
            )
            .expect("scripted model");
    }
    let calls = calls.lock().unwrap();
    let last = calls.last().expect("the model was called");
    let chars: usize = last
        .iter()
        .map(|m| {
            m.content.len()
                + m.tool_calls
                    .iter()
                    .map(|c| c.arguments.len())
                    .sum::<usize>()
        })
        .sum();
    // Without a budget the twelfth call would carry all twelve turns (about 12 * 900 chars).
    assert!(chars < 7_500, "{chars} chars sent");
    let first = calls.first().unwrap();
    assert_eq!(last[0], first[0], "the system prompt stays first");
    // The booking of turn 3 is still there, its call and result together; the old lookups are not.
    let booked = last
        .iter()
        .position(|m| m.tool_calls.iter().any(|c| c.name == "book"))
        .expect("the booking is kept");
    assert_eq!(last[booked + 1].role, Role::Tool);
    assert!(last[booked + 1].content.contains("\"done\":\"book\""));
    let lookups = last
        .iter()
        .filter(|m| m.tool_calls.iter().any(|c| c.name == "lookup"))
        .count();
    // The turn in progress, and the last few kept whole.
    let kept = voice_agent::orchestration::agent::KEEP_TURNS + 1;
    assert!(lookups <= kept, "{lookups} lookups sent");
    // Every tool result still follows the call that asked for it.
    for (i, m) in last.iter().enumerate() {
        if m.role == Role::Tool {
            let id = m.tool_call_id.as_deref().unwrap();
            assert!(last[..i]
                .iter()
                .any(|a| a.tool_calls.iter().any(|c| c.id == id)));
        }
    }
    // And the latest question is the last thing the caller said that the model read.
    let said = last.iter().rev().find(|m| m.role == Role::User).unwrap();
    assert_eq!(said.content, "question 11");
}

#[test]
fn a_model_asking_for_many_tools_at_once_gets_only_a_few_run() {
    // One step with seven calls, then an answer.
    let seven: Vec<ScriptStep> = (0..7).map(|_| lookup()).collect();
    let chat = ScriptedChat::new(vec![seven, vec![ScriptStep::Text("Done.".into())]]);
    let calls = chat.calls.clone();
    let tools = EchoTools::default();
    let runs = tools.calls.clone();
    let mut agent = Agent::new(AgentConfig::default(), Box::new(chat), Box::new(tools));
    let outcome = agent
        .respond(1, "check everything", &CancelToken::never(), &mut |_| {})
        .expect("scripted model");
    let cap = AgentConfig::default().max_calls_per_step;
    assert_eq!(runs.lock().unwrap().len(), cap, "only the first {cap} ran");
    assert_eq!(outcome.tool_calls, cap);
    // Every call still has its result (the API wants them in pairs); the extra ones say why.
    let sent = calls.lock().unwrap().last().cloned().unwrap();
    let results: Vec<&ChatMessage> = sent.iter().filter(|m| m.role == Role::Tool).collect();
    assert_eq!(results.len(), 7);
    assert!(
        results[cap].content.contains("too_many_calls"),
        "{}",
        results[cap].content
    );
    assert_eq!(outcome.text, "Done.");
}
