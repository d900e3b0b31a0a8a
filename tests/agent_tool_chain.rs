//! A multi-step tool chain through the agent loop and the OpenAI-compatible client, against a
//! scripted chat server on 127.0.0.1 and the real hospital store: the model looks the caller up,
//! reads the appointment id from the tool result it is sent back, cancels it, and says so.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use voice_agent::domain::model::Status;
use voice_agent::domain::{Date, FixedClock, HospitalTools, Store};
use voice_agent::foundation::cancel::CancelToken;
use voice_agent::orchestration::agent::{Agent, AgentConfig, AgentOutput};
use voice_agent::providers::llm::openai::{OpenAiChat, OpenAiConfig};
use voice_agent::providers::llm::Role;

/// SSE body of one streamed tool call.
fn tool_call_stream(id: &str, name: &str, args: &Value) -> String {
    let args = args.to_string();
    let (a, b) = args.split_at(args.len() / 2);
    // Arguments arrive in two fragments; id and name only in the first chunk (llama.cpp style).
    let first = json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":id,"type":"function","function":{"name":name,"arguments":a}}]},"finish_reason":null}]});
    let second = json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":b}}]},"finish_reason":null}]});
    let end = json!({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]});
    format!("data: {first}\n\ndata: {second}\n\ndata: {end}\n\ndata: [DONE]\n\n")
}

fn text_stream(text: &str) -> String {
    let mut out = String::new();
    for word in text.split_inclusive(' ') {
        let c = json!({"choices":[{"index":0,"delta":{"content":word},"finish_reason":null}]});
        out.push_str(&format!("data: {c}\n\n"));
    }
    let end = json!({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]});
    out + &format!("data: {end}\n\ndata: [DONE]\n\n")
}

/// Read one HTTP request; returns its JSON body.
fn read_request(stream: &mut std::net::TcpStream) -> Value {
    let mut reader = BufReader::new(stream);
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    serde_json::from_slice(&body).unwrap()
}

#[test]
fn the_agent_finds_the_patient_then_cancels_through_a_streamed_tool_chain() {
    let today = Date::from_ymd(2026, 11, 23).unwrap();
    let store = Store::open_in_memory_seeded_at(today).unwrap();
    let clock = Arc::new(FixedClock::at("2026-11-23 09:00").unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let requests: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = requests.clone();
    let server = std::thread::spawn(move || {
        for step in 0..3 {
            let (mut stream, _) = listener.accept().unwrap();
            let body = read_request(&mut stream);
            let messages = body["messages"].as_array().unwrap().clone();
            let sse = match step {
                0 => tool_call_stream(
                    "call_a",
                    "get_patient_info",
                    &json!({"patient_name": "John Smith", "date_of_birth": "1985-03-04"}),
                ),
                1 => {
                    // The model reads the id out of the tool result it was sent.
                    let result: Value =
                        serde_json::from_str(messages.last().unwrap()["content"].as_str().unwrap())
                            .unwrap();
                    let id = result["upcoming_appointments"][0]["id"].clone();
                    tool_call_stream(
                        "call_b",
                        "cancel_appointment",
                        &json!({"patient_name": "John Smith", "date_of_birth": "1985-03-04", "appointment_id": id}),
                    )
                }
                _ => text_stream("Done. Your appointment is cancelled."),
            };
            seen.lock().unwrap().push(body);
            let head =
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(sse.as_bytes()).unwrap();
        }
    });

    let chat = OpenAiChat::new(OpenAiConfig::new(format!("http://{addr}/v1"), "scripted"));
    let tools = HospitalTools::new(store.clone(), clock);
    let mut agent = Agent::new(AgentConfig::default(), Box::new(chat), Box::new(tools));
    let mut outputs = Vec::new();
    let outcome = agent
        .respond(
            1,
            "Please cancel my appointment, I'm John Smith, born March 4 1985.",
            &CancelToken::never(),
            &mut |o| outputs.push(o),
        )
        .expect("reply");
    server.join().unwrap();

    assert_eq!(outcome.tool_calls, 2);
    assert_eq!(outcome.text, "Done. Your appointment is cancelled.");
    let calls: Vec<_> = outputs
        .iter()
        .filter_map(|o| match o {
            AgentOutput::ToolCall(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(calls[0].name, "get_patient_info");
    assert_eq!(calls[1].name, "cancel_appointment");
    assert!(
        calls[1].result.get("error").is_none(),
        "{}",
        calls[1].result
    );
    // The store really changed.
    let id = calls[1].arguments["appointment_id"].as_i64().unwrap();
    assert_eq!(
        store.appointment(id).unwrap().unwrap().status,
        Status::Cancelled
    );
    // Each request carried the tools and the growing history, tool results included.
    let requests = requests.lock().unwrap();
    assert_eq!(requests.len(), 3);
    assert!(requests
        .iter()
        .all(|r| r["stream"] == true && r["tools"].as_array().unwrap().len() == 5));
    let last = requests[2]["messages"].as_array().unwrap();
    let roles: Vec<&str> = last.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(
        roles,
        ["system", "user", "assistant", "tool", "assistant", "tool"]
    );
    assert_eq!(last[3]["tool_call_id"], "call_a");
    assert_eq!(last[5]["tool_call_id"], "call_b");
    // The history ends with the spoken answer.
    let h = agent.history();
    assert_eq!(h.last().unwrap().role, Role::Assistant);
    assert_eq!(
        h.last().unwrap().content,
        "Done. Your appointment is cancelled."
    );
}
