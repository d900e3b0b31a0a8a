//! The OpenAI-compatible agent through the receptionist corpus, against a scripted server on
//! 127.0.0.1: every request carries the receptionist's prompt (with the corpus's day) and the
//! five tool schemas; the server answers each scored line as a model would, right on all but a
//! few cases it gets wrong on purpose, and the eval's table counts exactly those as missed.

mod common_cloud;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use common_cloud::{Body, HttpMock, Reply};
use serde_json::{json, Value};
use voice_agent::apps::eval::corpus::{self, Expect, ReplyKind};
use voice_agent::apps::eval::{run_text, BrainChoice};
use voice_agent::providers::llm::openai::OpenAiConfig;

fn sse(events: &[Value]) -> Reply {
    let mut body: Vec<u8> = Vec::new();
    for e in events {
        body.extend_from_slice(format!("data: {e}\n\n").as_bytes());
    }
    body.extend_from_slice(b"data: [DONE]\n\n");
    Reply {
        content_type: "text/event-stream",
        ..Reply::pcm(Body::Fixed(body))
    }
}

fn text(words: &str) -> Reply {
    sse(&[
        json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": words}, "finish_reason": null}]}),
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
    ])
}

fn tool_call(name: &str, args: &Value) -> Reply {
    sse(&[
        json!({"choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [
            {"index": 0, "id": "call_1", "type": "function",
             "function": {"name": name, "arguments": args.to_string()}}]}, "finish_reason": null}]}),
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
    ])
}

/// The script's first answer to a line: what a model meeting `expect` would say or call.
fn answer_for(expect: &Expect) -> Reply {
    match expect {
        Expect::Tool { tool, args } => tool_call(tool, &Value::Object(args.clone())),
        Expect::Reply { reply, name } => text(&match reply {
            ReplyKind::Ask => "Which day would you like?".to_string(),
            ReplyKind::Decline => {
                "I can't help with that, but I can book an appointment for you.".to_string()
            }
            ReplyKind::Confirm => {
                format!("Did you mean Doctor {}?", name.clone().unwrap_or_default())
            }
            ReplyKind::Chat => "You're welcome.".to_string(),
        }),
    }
}

#[test]
fn the_llm_agent_is_scored_on_the_corpus_with_the_prompt_and_schemas_checked() {
    let cases = corpus::parse(corpus::CORPUS).expect("corpus");
    // Single-expectation cases with no context: one request each, answered by the script.
    let mut lines = std::collections::HashSet::new();
    let cases: Vec<_> = cases
        .into_iter()
        .filter(|c| c.context.is_empty() && c.expect.all().len() == 1)
        .filter(|c| lines.insert(c.say.clone()))
        .collect();
    assert!(cases.len() >= 100, "{} cases", cases.len());
    // Every seventh case is answered wrongly: a tool where a reply was due, or the wrong tool.
    let wrong: Vec<String> = cases.iter().step_by(7).map(|c| c.id.clone()).collect();
    // Each scored line and the answer the script gives it (a reply of no help when planted).
    let script: HashMap<String, Expect> = cases
        .iter()
        .map(|c| {
            let answer = if wrong.contains(&c.id) {
                Expect::Reply {
                    reply: ReplyKind::Chat,
                    name: None,
                }
            } else {
                c.expect.all()[0].clone()
            };
            (c.say.clone(), answer)
        })
        .collect();
    let problems: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = problems.clone();
    let server = HttpMock::start(move |req| {
        let body = req.json();
        let names: Vec<&str> = body["tools"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(|t| t["function"]["name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        let messages = body["messages"].as_array().cloned().unwrap_or_default();
        let system = messages
            .first()
            .and_then(|m| m["content"].as_str())
            .unwrap_or("");
        if !system.contains("2026") || !system.to_lowercase().contains("march") {
            seen.lock()
                .unwrap()
                .push(format!("prompt without today's date: {system:?}"));
        }
        let last = messages.last().cloned().unwrap_or_default();
        if last["role"] == "tool" {
            // The tool's result is in; a model would now say what it found.
            return text("Here is what I found.");
        }
        for want in [
            "check_availability",
            "schedule_appointment",
            "cancel_appointment",
            "get_patient_info",
            "get_doctor_info",
        ] {
            if !names.contains(&want) {
                seen.lock()
                    .unwrap()
                    .push(format!("tool {want} not offered"));
            }
        }
        let params = &body["tools"][0]["function"]["parameters"];
        if params["type"] != "object" || params["properties"].as_object().is_none() {
            seen.lock()
                .unwrap()
                .push(format!("a schema without properties: {params}"));
        }
        let said = last["content"].as_str().unwrap_or("").to_string();
        match script.get(&said) {
            Some(e) => answer_for(e),
            None => {
                seen.lock()
                    .unwrap()
                    .push(format!("a line not in the corpus: {said:?}"));
                text("Okay.")
            }
        }
    });
    let config = OpenAiConfig::new(format!("{}/v1", server.url), "scripted-model");
    let score = run_text(&BrainChoice::OpenAi(config), &cases).expect("eval runs");
    assert_eq!(*problems.lock().unwrap(), Vec::<String>::new());
    assert_eq!(score.cases, cases.len());
    // Exactly the planted mistakes are missed, except where "chat" was the right answer.
    let missed: Vec<&str> = score
        .results
        .iter()
        .filter(|r| r.miss.is_some())
        .map(|r| r.id.as_str())
        .collect();
    let expected_misses: Vec<&str> = cases
        .iter()
        .filter(|c| wrong.contains(&c.id))
        .filter(|c| {
            !matches!(
                c.expect.all()[0],
                Expect::Reply {
                    reply: ReplyKind::Chat,
                    ..
                }
            )
        })
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(missed, expected_misses, "{}", score.misses().join("\n"));
    assert!(score.table().contains("| **all**"));
    assert!(score.brain.contains("scripted-model"), "{}", score.brain);
}
