//! The agent's tool loop with a scripted model: words said before a tool call are flushed to
//! the speaker at once and joined to the answer as one reply; a slow tool gets the filler only
//! when the model said nothing first.

use std::time::Duration;

use voice_agent::agent::{Agent, AgentConfig, AgentOutput};
use voice_agent::testing::{EchoTools, ScriptStep, ScriptedChat};
use voice_agent::CancelToken;

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
