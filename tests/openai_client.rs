//! `OpenAiChat` against a scripted HTTP server on 127.0.0.1: real captures replayed, request
//! checked, malformed and failing servers, and barge-in cancellation.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use voice_agent::foundation::cancel::{CancelToken, Generation};
use voice_agent::providers::llm::openai::{KeyHeader, OpenAiChat, OpenAiConfig};
use voice_agent::providers::llm::{
    ChatEvent, ChatMessage, ChatModel, FinishReason, LlmError, ToolCall, ToolSpec,
};

// ---------------------------------------------------------------------------------------------
// The scripted server

#[derive(Clone, Copy)]
enum Framing {
    /// `Transfer-Encoding: chunked`, one HTTP chunk per piece (what llama-server does).
    Chunked,
    /// No length; the body ends when the server closes the connection.
    Close,
}

struct Script {
    status: u16,
    framing: Framing,
    /// Wait this long before sending the status line (a server busy with the prompt).
    delay_headers: Duration,
    /// Body pieces, each sent after its delay.
    pieces: Vec<(Duration, Vec<u8>)>,
}

impl Script {
    fn ok(framing: Framing, pieces: Vec<Vec<u8>>) -> Self {
        Self {
            status: 200,
            framing,
            delay_headers: Duration::ZERO,
            pieces: pieces.into_iter().map(|p| (Duration::ZERO, p)).collect(),
        }
    }

    fn status(status: u16, body: &str) -> Self {
        Self {
            status,
            framing: Framing::Close,
            delay_headers: Duration::ZERO,
            pieces: vec![(Duration::ZERO, body.as_bytes().to_vec())],
        }
    }
}

/// What the server saw.
#[derive(Debug)]
struct Served {
    path: String,
    headers: Vec<(String, String)>,
    body: Value,
    /// How many body pieces were written before the client went away (or all of them).
    pieces_written: usize,
}

impl Served {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Serve one request with `script`; returns the base URL (`http://127.0.0.1:PORT/v1`).
fn serve(script: Script) -> (String, JoinHandle<Served>) {
    let (url, handle) = serve_many(vec![script]);
    let one = thread::spawn(move || {
        let mut served = handle.join().expect("server thread");
        served.remove(0)
    });
    (url, one)
}

/// Serve one request per script, in order, on a kept-alive connection when the client reuses it.
fn serve_many(scripts: Vec<Script>) -> (String, JoinHandle<Vec<Served>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let port = listener.local_addr().expect("local addr").port();
    let handle = thread::spawn(move || {
        let mut kept: Option<TcpStream> = None;
        let mut all = Vec::new();
        for script in &scripts {
            let stream = match kept.take().filter(has_request) {
                Some(s) => s,
                None => accept_within(&listener, Duration::from_secs(20)).0,
            };
            let (served, stream) = handle_connection(stream, script);
            kept = stream;
            all.push(served);
        }
        all
    });
    (format!("http://127.0.0.1:{port}/v1"), handle)
}

/// True when the client sends another request on this connection soon.
fn has_request(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let ready = matches!(stream.peek(&mut byte), Ok(n) if n > 0);
    let _ = stream.set_read_timeout(None);
    ready
}

fn accept_within(listener: &TcpListener, limit: Duration) -> (TcpStream, std::net::SocketAddr) {
    listener.set_nonblocking(true).expect("nonblocking");
    let deadline = Instant::now() + limit;
    loop {
        match listener.accept() {
            Ok((s, a)) => {
                s.set_nonblocking(false).expect("blocking");
                return (s, a);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("no client connected: {e}"),
        }
    }
}

/// Answer one request; the connection is handed back when it may carry another.
fn handle_connection(stream: TcpStream, script: &Script) -> (Served, Option<TcpStream>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone socket"));
    let mut request_line = String::new();
    reader.read_line(&mut request_line).expect("request line");
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header line");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).expect("request body");
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);

    thread::sleep(script.delay_headers);
    let mut out = stream;
    let reason = if script.status == 200 { "OK" } else { "Error" };
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\n",
        script.status,
        if script.status == 200 {
            "text/event-stream"
        } else {
            "application/json"
        }
    );
    match script.framing {
        Framing::Chunked => head.push_str("Transfer-Encoding: chunked\r\n"),
        Framing::Close => head.push_str("Connection: close\r\n"),
    }
    head.push_str("\r\n");
    let mut pieces_written = 0;
    if out.write_all(head.as_bytes()).is_ok() {
        for (delay, piece) in &script.pieces {
            thread::sleep(*delay);
            let ok = match script.framing {
                Framing::Chunked => write_chunk(&mut out, piece),
                Framing::Close => out.write_all(piece).and_then(|_| out.flush()),
            };
            if ok.is_err() {
                break;
            }
            pieces_written += 1;
        }
    }
    let served = Served {
        path,
        headers,
        body,
        pieces_written,
    };
    let complete = pieces_written == script.pieces.len();
    if matches!(script.framing, Framing::Chunked) && complete && out.write_all(b"0\r\n\r\n").is_ok()
    {
        return (served, Some(out));
    }
    let _ = out.shutdown(std::net::Shutdown::Both);
    (served, None)
}

fn write_chunk(out: &mut TcpStream, piece: &[u8]) -> std::io::Result<()> {
    if piece.is_empty() {
        return Ok(()); // an empty chunk would end the body
    }
    out.write_all(format!("{:x}\r\n", piece.len()).as_bytes())?;
    out.write_all(piece)?;
    out.write_all(b"\r\n")?;
    out.flush()
}

/// A capture, one piece per line, as the server streamed it.
fn fixture(name: &str) -> Vec<Vec<u8>> {
    let path = format!("{}/tests/fixtures/sse/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    text.split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn sse(chunks: &[Value]) -> Vec<Vec<u8>> {
    chunks
        .iter()
        .map(|c| format!("data: {c}\n\n").into_bytes())
        .collect()
}

fn delta(delta: Value, finish: Option<&str>) -> Value {
    json!({"object": "chat.completion.chunk",
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
}

// ---------------------------------------------------------------------------------------------
// Client helpers

fn config(base_url: &str) -> OpenAiConfig {
    let mut c = OpenAiConfig::new(base_url, "test-model");
    c.connect_timeout = Duration::from_secs(2);
    c.chunk_timeout = Duration::from_secs(10);
    c
}

struct Outcome {
    text: String,
    calls: Vec<ToolCall>,
    /// Text and calls in arrival order ("T" / "C").
    order: String,
    result: Result<FinishReason, LlmError>,
}

fn run(chat: &mut OpenAiChat, messages: &[ChatMessage], tools: &[ToolSpec]) -> Outcome {
    run_with(chat, messages, tools, &CancelToken::never(), &mut |_| {})
}

fn run_with(
    chat: &mut OpenAiChat,
    messages: &[ChatMessage],
    tools: &[ToolSpec],
    cancel: &CancelToken,
    also: &mut dyn FnMut(&ChatEvent),
) -> Outcome {
    let mut text = String::new();
    let mut calls = Vec::new();
    let mut order = String::new();
    let result = chat.stream(messages, tools, cancel, &mut |event| {
        also(&event);
        match event {
            ChatEvent::Text(t) => {
                order.push('T');
                text.push_str(&t)
            }
            ChatEvent::ToolCallStarted(_) => order.push('S'),
            ChatEvent::ToolCall(c) => {
                order.push('C');
                calls.push(c)
            }
        }
    });
    Outcome {
        text,
        calls,
        order,
        result,
    }
}

fn messages() -> Vec<ChatMessage> {
    vec![
        ChatMessage::system("You are a clinic receptionist."),
        ChatMessage::user("Is Dr. Smith free on 14 January?"),
    ]
}

fn availability_tool() -> ToolSpec {
    ToolSpec {
        name: "check_availability".into(),
        description: "Free slots of a doctor on a date".into(),
        parameters: json!({"type": "object", "properties": {
            "doctor_name": {"type": "string"}, "date": {"type": "string"}},
            "required": ["doctor_name", "date"]}),
    }
}

fn args(call: &ToolCall) -> Value {
    serde_json::from_str(&call.arguments).unwrap_or_else(|e| {
        panic!(
            "arguments of {} are not JSON ({e}): {}",
            call.id, call.arguments
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Real captures

#[test]
fn llama_server_capture_with_text_and_four_tool_calls() {
    let (url, server) = serve(Script::ok(
        Framing::Chunked,
        fixture("llama-server-tools-auto.sse"),
    ));
    let mut chat = OpenAiChat::new(config(&url));
    let out = run(&mut chat, &messages(), &[availability_tool()]);
    assert_eq!(out.result.unwrap(), FinishReason::Length);
    assert_eq!(
        out.text,
        "You are a clinic receptionist. Use tools to check doctor availability.\n\n# Tools\n\n\
         You may call one or more functions to assist with the user query.\n\nYou are provided \
         with function signatures within <tool_call></tool_call> XML tags:\n"
    );
    let ids: Vec<&str> = out.calls.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "mykPBz0HaHCxmTaqjciMCLyowSqhed2K",
            "OcwRxzU7gvHOJGj3NW1vYi9iRImyExSi",
            "50D0hXrd8lh9e2rVtIDOiPW8ze2mhas2",
            "iSrbYeibJ4b4GDZSaa8s8wEWGSFUBPGY"
        ]
    );
    assert!(out.calls.iter().all(|c| c.name == "check_availability"));
    for call in &out.calls[..3] {
        assert_eq!(
            args(call),
            json!({"doctor_name": "Dr. Smith", "date": "2025-01-14"})
        );
    }
    // The fourth call was cut by the token limit: its text is passed on as it came.
    assert_eq!(
        out.calls[3].arguments,
        r#"{"doctor_name": "Dr. Smith", "date": "202"#
    );
    // Each call is announced as it begins, and emitted once complete, after the text.
    assert!(out.order.ends_with("TSSSSCCCC"), "{}", out.order);

    let served = server.join().expect("server thread");
    assert_eq!(served.path, "/v1/chat/completions");
    assert_eq!(served.body["tools"][0], availability_tool().to_openai());
}

#[test]
fn llama_cpp_python_forced_tool_call_is_not_doubled_by_function_call() {
    let (url, server) = serve(Script::ok(
        Framing::Close,
        fixture("llama-cpp-python-tools-forced.sse"),
    ));
    let mut chat = OpenAiChat::new(config(&url));
    let out = run(&mut chat, &messages(), &[availability_tool()]);
    assert_eq!(out.result.unwrap(), FinishReason::ToolCalls);
    assert_eq!(out.text, "");
    assert_eq!(out.calls.len(), 1);
    let call = &out.calls[0];
    assert_eq!(
        call.id,
        "call__0_check_availability_cmpl-1187bd53-8124-4ff0-878d-583268df4043"
    );
    assert_eq!(call.name, "check_availability");
    assert_eq!(
        args(call),
        json!({"doctor_name": "Dr. Smith", "date": "2025-1-14"})
    );
    server.join().expect("server thread");
}

#[test]
fn llama_cpp_python_content_capture_and_the_request_sent() {
    let (url, server) = serve(Script::ok(
        Framing::Close,
        fixture("llama-cpp-python-content.sse"),
    ));
    let mut chat = OpenAiChat::new(config(&url));
    let msgs = messages();
    let out = run(&mut chat, &msgs, &[]);
    assert_eq!(out.result.unwrap(), FinishReason::Length);
    assert_eq!(out.text, "Hello<|im_");
    assert!(out.calls.is_empty());

    let served = server.join().expect("server thread");
    assert_eq!(served.path, "/v1/chat/completions");
    assert_eq!(served.body["stream"], json!(true));
    assert_eq!(served.body["model"], json!("test-model"));
    let sent: Vec<Value> = msgs.iter().map(ChatMessage::to_openai).collect();
    assert_eq!(served.body["messages"], json!(sent));
    assert!(
        served.body.get("tools").is_none(),
        "no tools key without tools"
    );
    assert!(served.header("authorization").is_none());
    assert_eq!(served.header("accept"), Some("text/event-stream"));
    assert_eq!(served.header("content-type"), Some("application/json"));
}

// ---------------------------------------------------------------------------------------------
// Request details

#[test]
fn bearer_key_tools_and_history_with_tool_results_are_sent() {
    let (url, server) = serve(Script::ok(
        Framing::Chunked,
        sse(&[delta(json!({"content": "ok"}), Some("stop"))]),
    ));
    let mut c = config(&url);
    c.api_key = Some("sk-test-123".into());
    c.temperature = Some(0.2);
    c.max_tokens = Some(50);
    let mut chat = OpenAiChat::new(c);
    let call = ToolCall {
        id: "c1".into(),
        name: "check_availability".into(),
        arguments: r#"{"doctor_name":"Dr. Smith","date":"2025-01-14"}"#.into(),
    };
    let msgs = vec![
        ChatMessage::user("Is Dr. Smith free?"),
        ChatMessage::assistant_tool_calls("", vec![call]),
        ChatMessage::tool("c1", r#"{"slots":["09:00"]}"#),
    ];
    let out = run(&mut chat, &msgs, &[availability_tool()]);
    assert_eq!(out.result.unwrap(), FinishReason::Stop);
    assert_eq!(out.text, "ok");

    let served = server.join().expect("server thread");
    assert_eq!(served.header("authorization"), Some("Bearer sk-test-123"));
    assert_eq!(
        served.body["messages"][1]["tool_calls"][0]["id"],
        json!("c1")
    );
    assert_eq!(served.body["messages"][2]["tool_call_id"], json!("c1"));
    assert_eq!(served.body["tools"].as_array().map(Vec::len), Some(1));
    assert_eq!(served.body["max_tokens"], json!(50));
    assert!((served.body["temperature"].as_f64().unwrap_or(0.0) - 0.2).abs() < 1e-6);
}

#[test]
fn azure_key_is_sent_as_api_key_header() {
    let (url, server) = serve(Script::ok(
        Framing::Close,
        sse(&[delta(json!({"content": "hi"}), Some("stop"))]),
    ));
    let mut c = config(&format!("{url}?api-version=2024-06-01"));
    c.api_key = Some("az-key".into());
    c.key_header = KeyHeader::AzureApiKey;
    let out = run(&mut OpenAiChat::new(c), &messages(), &[]);
    assert_eq!(out.result.unwrap(), FinishReason::Stop);
    let served = server.join().expect("server thread");
    assert_eq!(served.path, "/v1/chat/completions?api-version=2024-06-01");
    assert_eq!(served.header("api-key"), Some("az-key"));
    assert!(served.header("authorization").is_none());
}

// ---------------------------------------------------------------------------------------------
// Malformed streams and failing servers

fn expect_protocol(out: &Outcome, needle: &str) {
    match &out.result {
        Err(LlmError::Protocol(m)) => assert!(m.contains(needle), "{m}"),
        other => panic!("expected a protocol error containing {needle:?}, got {other:?}"),
    }
}

#[test]
fn bad_json_line_is_a_protocol_error() {
    let mut pieces = sse(&[delta(json!({"content": "Hi"}), None)]);
    pieces.push(b"data: {\"choices\": [{\"delta\": \n\n".to_vec());
    pieces.extend(sse(&[delta(json!({"content": "never"}), Some("stop"))]));
    let (url, server) = serve(Script::ok(Framing::Chunked, pieces));
    let out = run(&mut OpenAiChat::new(config(&url)), &messages(), &[]);
    assert_eq!(out.text, "Hi", "text before the bad line still arrives");
    expect_protocol(&out, "bad JSON");
    server.join().expect("server thread");
}

#[test]
fn stream_cut_before_finishing_is_a_protocol_error() {
    let (url, server) = serve(Script::ok(
        Framing::Close,
        sse(&[delta(json!({"content": "Half a sen"}), None)]),
    ));
    let out = run(&mut OpenAiChat::new(config(&url)), &messages(), &[]);
    assert_eq!(out.text, "Half a sen");
    expect_protocol(&out, "without a finish_reason");
    server.join().expect("server thread");
}

#[test]
fn missing_done_after_finish_reason_ends_cleanly() {
    let (url, server) = serve(Script::ok(
        Framing::Chunked,
        sse(&[delta(json!({"content": "Done."}), Some("stop"))]),
    ));
    let out = run(&mut OpenAiChat::new(config(&url)), &messages(), &[]);
    assert_eq!(out.result.unwrap(), FinishReason::Stop);
    assert_eq!(out.text, "Done.");
    server.join().expect("server thread");
}

#[test]
fn empty_body_is_a_protocol_error() {
    let (url, server) = serve(Script::ok(Framing::Close, vec![]));
    let out = run(&mut OpenAiChat::new(config(&url)), &messages(), &[]);
    expect_protocol(&out, "empty");
    server.join().expect("server thread");
}

#[test]
fn http_500_becomes_an_http_error_with_the_body() {
    let (url, server) = serve(Script::status(
        500,
        r#"{"error":{"message":"model crashed"}}"#,
    ));
    let out = run(&mut OpenAiChat::new(config(&url)), &messages(), &[]);
    match out.result {
        Err(LlmError::Http { status, body }) => {
            assert_eq!(status, 500);
            assert!(body.contains("model crashed"), "{body}");
        }
        other => panic!("expected HTTP 500, got {other:?}"),
    }
    server.join().expect("server thread");
}

#[test]
fn http_401_never_repeats_the_key() {
    let (url, server) = serve(Script::status(
        401,
        r#"{"error":{"message":"Incorrect API key provided: sk-leaky-999"}}"#,
    ));
    let mut c = config(&url);
    c.api_key = Some("sk-leaky-999".into());
    let out = run(&mut OpenAiChat::new(c), &messages(), &[]);
    let err = out.result.expect_err("401 must fail");
    assert!(matches!(err, LlmError::Http { status: 401, .. }), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("Incorrect API key"), "{shown}");
    assert!(!shown.contains("sk-leaky-999"), "{shown}");
    server.join().expect("server thread");
}

#[test]
fn server_stalling_between_chunks_times_out() {
    let mut script = Script::ok(
        Framing::Chunked,
        sse(&[delta(json!({"content": "a"}), None)]),
    );
    script.pieces.push((
        Duration::from_secs(3),
        sse(&[delta(json!({}), Some("stop"))]).remove(0),
    ));
    let (url, server) = serve(script);
    let mut c = config(&url);
    c.chunk_timeout = Duration::from_millis(300);
    let out = run(&mut OpenAiChat::new(c), &messages(), &[]);
    assert_eq!(out.text, "a");
    assert!(
        matches!(out.result, Err(LlmError::Timeout(_))),
        "{:?}",
        out.result
    );
    server.join().expect("server thread");
}

#[test]
fn server_stalling_before_headers_times_out() {
    let mut script = Script::ok(Framing::Close, sse(&[delta(json!({}), Some("stop"))]));
    script.delay_headers = Duration::from_secs(3);
    let (url, server) = serve(script);
    let mut c = config(&url);
    c.chunk_timeout = Duration::from_millis(300);
    let out = run(&mut OpenAiChat::new(c), &messages(), &[]);
    assert!(
        matches!(out.result, Err(LlmError::Timeout(_))),
        "{:?}",
        out.result
    );
    server.join().expect("server thread");
}

#[test]
fn connection_refused_is_a_connect_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    }; // listener dropped: nothing listens there now
    let url = format!("http://127.0.0.1:{port}/v1");
    let out = run(&mut OpenAiChat::new(config(&url)), &messages(), &[]);
    match out.result {
        Err(LlmError::Connect { url: u, .. }) => assert!(u.contains(&port.to_string()), "{u}"),
        other => panic!("expected a connect error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Cancellation (barge-in)

#[test]
fn cancel_after_first_token_returns_at_once_and_drops_the_connection() {
    const CHUNKS: usize = 50;
    let pieces: Vec<(Duration, Vec<u8>)> = (0..CHUNKS)
        .map(|i| {
            let chunk = delta(json!({"content": format!("w{i} ")}), None);
            (
                Duration::from_millis(100),
                format!("data: {chunk}\n\n").into_bytes(),
            )
        })
        .collect();
    let script = Script {
        status: 200,
        framing: Framing::Chunked,
        delay_headers: Duration::ZERO,
        pieces,
    };
    let (url, server) = serve(script);
    let generation = Generation::new();
    let token = generation.token();
    let mut chat = OpenAiChat::new(config(&url));
    let started = Instant::now();
    let out = run_with(&mut chat, &messages(), &[], &token, &mut |_| {
        generation.bump(); // the user barged in as the first word arrived
    });
    let elapsed = started.elapsed();
    assert_eq!(out.result.unwrap(), FinishReason::Cancelled);
    assert_eq!(out.text, "w0 ", "nothing is delivered after the cancel");
    // The full reply takes 5 s to send; a generous bound, far from the real ~100 ms.
    assert!(elapsed < Duration::from_millis(2500), "took {elapsed:?}");

    let served = server.join().expect("server thread");
    assert!(
        served.pieces_written < CHUNKS,
        "the server could send all {CHUNKS} chunks: the connection was not dropped"
    );
}

#[test]
fn cancel_while_waiting_for_the_server_returns_promptly() {
    let mut script = Script::ok(
        Framing::Close,
        sse(&[delta(json!({"content": "late"}), Some("stop"))]),
    );
    script.delay_headers = Duration::from_secs(3);
    let (url, server) = serve(script);
    let generation = Generation::new();
    let token = generation.token();
    let canceller = {
        let g = generation.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(200));
            g.bump();
        })
    };
    let started = Instant::now();
    let out = run_with(
        &mut OpenAiChat::new(config(&url)),
        &messages(),
        &[],
        &token,
        &mut |_| {},
    );
    assert_eq!(out.result.unwrap(), FinishReason::Cancelled);
    assert!(out.text.is_empty());
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    canceller.join().expect("canceller");
    server.join().expect("server thread");
}

#[test]
fn already_cancelled_token_sends_nothing() {
    let generation = Generation::new();
    let token = generation.token();
    generation.bump();
    // Nothing listens on port 9 of localhost: a request would fail with Connect.
    let mut chat = OpenAiChat::new(config("http://127.0.0.1:9/v1"));
    let out = run_with(&mut chat, &messages(), &[], &token, &mut |_| {});
    assert_eq!(out.result.unwrap(), FinishReason::Cancelled);
}

#[test]
fn one_client_serves_consecutive_turns() {
    let scripts = ["one", "two", "three"]
        .iter()
        .map(|w| {
            Script::ok(
                Framing::Chunked,
                sse(&[delta(json!({"content": w}), Some("stop"))]),
            )
        })
        .collect();
    let (url, server) = serve_many(scripts);
    let mut chat = OpenAiChat::new(config(&url));
    for word in ["one", "two", "three"] {
        let out = run(&mut chat, &messages(), &[]);
        assert_eq!(out.result.unwrap(), FinishReason::Stop);
        assert_eq!(out.text, word);
    }
    assert_eq!(server.join().expect("server thread").len(), 3);
}
