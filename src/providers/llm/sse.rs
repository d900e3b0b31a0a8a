//! Server-Sent Events and the OpenAI chat-chunk stream on top of them.
//!
//! Three layers, each usable alone:
//! - [`SseReader`]: SSE events from any `BufRead` (line based, `data:` lines joined, comments
//!   and `event:`/`id:`/`retry:` tolerated, CRLF tolerated, bounded line length).
//! - [`ChunkDecoder`]: OpenAI `chat.completion.chunk` payloads -> text deltas and tool calls
//!   assembled from their fragments.
//! - [`ChatStream`]: both together, yielding [`StreamItem`]s until the stream finishes.
//!
//! Servers differ (captures in `tests/fixtures/sse/`): llama.cpp's server sends a tool call's
//! `id`/`name` only in its first fragment, llama-cpp-python repeats them in every fragment and
//! also adds the legacy `delta.function_call`; some streams carry no blank line between events.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, Read};

use serde_json::Value;

use super::{ChatEvent, FinishReason, LlmError, ToolCall};

/// Longest line accepted; a longer one is a protocol error, not unbounded memory.
const MAX_LINE: u64 = 1 << 20;
/// Largest event (all its `data:` lines together).
const MAX_EVENT: usize = 4 << 20;

/// One Server-Sent Event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, when the server named the event type.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The `id:` field, when given.
    pub id: Option<String>,
}

/// Reads [`SseEvent`]s from a byte stream.
pub struct SseReader<R> {
    reader: R,
    line: Vec<u8>,
    pending: SseEvent,
    has_data: bool,
}

impl<R: BufRead> SseReader<R> {
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            line: Vec::new(),
            pending: SseEvent::default(),
            has_data: false,
        }
    }

    /// The next event, or `None` at the end of the stream.
    ///
    /// An event is dispatched at its blank line, as SSE says, and also as soon as its data is
    /// one complete OpenAI payload (a JSON value or `[DONE]`): some servers and proxies leave
    /// the blank lines out, and waiting for one would hold every token until the stream ends.
    /// Data still pending when the stream ends is dispatched too, so that the layer above can
    /// report a truncated chunk instead of silently losing it.
    pub fn next_event(&mut self) -> Result<Option<SseEvent>, LlmError> {
        loop {
            self.line.clear();
            let n = (&mut self.reader)
                .take(MAX_LINE + 1)
                .read_until(b'\n', &mut self.line)
                .map_err(io_error)?;
            if n == 0 {
                return Ok(self.take_pending());
            }
            if n as u64 > MAX_LINE {
                return Err(LlmError::Protocol(format!(
                    "SSE line longer than {MAX_LINE} bytes"
                )));
            }
            let mut line: &[u8] = &self.line;
            if let Some(rest) = line.strip_suffix(b"\n") {
                line = rest;
            }
            if let Some(rest) = line.strip_suffix(b"\r") {
                line = rest;
            }
            if line.is_empty() {
                match self.take_pending() {
                    Some(event) => return Ok(Some(event)),
                    None => continue,
                }
            }
            let line = std::str::from_utf8(line)
                .map_err(|_| LlmError::Protocol("SSE line is not valid UTF-8".into()))?;
            if line.starts_with(':') {
                continue; // comment / keep-alive
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line, ""),
            };
            match field {
                "data" => {
                    if self.has_data {
                        self.pending.data.push('\n');
                    }
                    self.pending.data.push_str(value);
                    self.has_data = true;
                    if self.pending.data.len() > MAX_EVENT {
                        return Err(LlmError::Protocol(format!(
                            "SSE event larger than {MAX_EVENT} bytes"
                        )));
                    }
                    if is_complete_payload(&self.pending.data) {
                        if let Some(event) = self.take_pending() {
                            return Ok(Some(event));
                        }
                    }
                }
                "event" => self.pending.event = Some(value.to_string()),
                "id" => self.pending.id = Some(value.to_string()),
                _ => {} // `retry:` and unknown fields are ignored, as SSE says
            }
        }
    }

    /// The event being built, if it has data; resets the builder either way.
    fn take_pending(&mut self) -> Option<SseEvent> {
        let event = std::mem::take(&mut self.pending);
        let had = std::mem::replace(&mut self.has_data, false);
        had.then_some(event)
    }

    /// Gives the underlying reader back (to drain it so the connection can be reused).
    pub fn into_inner(self) -> R {
        self.reader
    }
}

fn is_complete_payload(data: &str) -> bool {
    data.trim() == "[DONE]" || serde_json::from_str::<serde::de::IgnoredAny>(data).is_ok()
}

fn io_error(e: std::io::Error) -> LlmError {
    match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            LlmError::Timeout(format!("no data from the server in time ({e})"))
        }
        _ => LlmError::Io(e.to_string()),
    }
}

/// What [`ChatStream`] yields: events in order, then exactly one `Finished`.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamItem {
    Event(ChatEvent),
    Finished(FinishReason),
}

/// A tool call being assembled from its fragments.
#[derive(Debug, Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
    /// `ToolCallStarted` was emitted for it.
    announced: bool,
}

/// Decodes OpenAI `chat.completion.chunk` payloads.
#[derive(Debug, Default)]
pub struct ChunkDecoder {
    calls: BTreeMap<u64, PartialCall>,
    /// Set once any chunk carried `delta.tool_calls`: from then on the legacy
    /// `delta.function_call` duplicates it and is ignored.
    saw_tool_calls: bool,
    finish: Option<FinishReason>,
    done: bool,
    chunks: usize,
    emitted_calls: usize,
}

impl ChunkDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// True once `[DONE]` arrived.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The finish reason the server gave, if any yet.
    pub fn finish_reason(&self) -> Option<&FinishReason> {
        self.finish.as_ref()
    }

    /// Decode one SSE data payload, appending what it completes to `out`.
    pub fn feed(&mut self, data: &str, out: &mut Vec<ChatEvent>) -> Result<(), LlmError> {
        if self.done {
            return Ok(());
        }
        let data = data.trim();
        if data == "[DONE]" {
            self.done = true;
            self.flush_calls(out);
            return Ok(());
        }
        let chunk: Value = serde_json::from_str(data).map_err(|e| {
            LlmError::Protocol(format!("bad JSON in stream chunk ({e}): {}", excerpt(data)))
        })?;
        self.chunks += 1;
        if let Some(err) = chunk.get("error") {
            let message = err
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| err.to_string());
            return Err(LlmError::Protocol(format!(
                "server reported an error mid-stream: {}",
                excerpt(&message)
            )));
        }
        // Usage-only chunks (`stream_options.include_usage`) have no choices: nothing to do.
        let Some(choice) = chunk
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0)
            })
        else {
            return Ok(());
        };
        if let Some(delta) = choice.get("delta") {
            if let Some(text) = delta.get("content").and_then(Value::as_str) {
                if !text.is_empty() {
                    out.push(ChatEvent::Text(text.to_string()));
                }
            }
            match delta.get("tool_calls").and_then(Value::as_array) {
                Some(fragments) => {
                    self.saw_tool_calls = true;
                    for fragment in fragments {
                        self.merge_fragment(fragment);
                    }
                }
                None if !self.saw_tool_calls => {
                    if let Some(fc) = delta.get("function_call").filter(|v| v.is_object()) {
                        self.merge_function(0, None, fc);
                    }
                }
                None => {}
            }
            for call in self.calls.values_mut() {
                if !call.announced && !call.name.is_empty() {
                    call.announced = true;
                    out.push(ChatEvent::ToolCallStarted(call.name.clone()));
                }
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish = Some(parse_finish_reason(reason));
            self.flush_calls(out);
        }
        Ok(())
    }

    fn merge_fragment(&mut self, fragment: &Value) {
        let id = fragment
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let index = match fragment.get("index").and_then(Value::as_u64) {
            Some(i) => i,
            // No index (non-conforming server): a new id starts a new call, else continue the last.
            None => {
                let last = self.calls.keys().next_back().copied();
                match (last, id) {
                    (None, _) => 0,
                    (Some(i), Some(id)) if self.calls[&i].id != id => i + 1,
                    (Some(i), _) => i,
                }
            }
        };
        if let Some(function) = fragment.get("function") {
            self.merge_function(index, id, function);
        } else if let Some(id) = id {
            let call = self.calls.entry(index).or_default();
            if call.id.is_empty() {
                call.id = id.to_string();
            }
        }
    }

    fn merge_function(&mut self, index: u64, id: Option<&str>, function: &Value) {
        let call = self.calls.entry(index).or_default();
        if let Some(id) = id {
            if call.id.is_empty() {
                call.id = id.to_string();
            }
        }
        // The name comes once (llama.cpp) or in every fragment (llama-cpp-python): keep the first.
        if let Some(name) = function.get("name").and_then(Value::as_str) {
            if call.name.is_empty() {
                call.name = name.to_string();
            }
        }
        if let Some(args) = function.get("arguments") {
            match args {
                Value::String(s) => call.arguments.push_str(s),
                Value::Null => {}
                // Some servers send the arguments as an object rather than JSON text.
                other => call.arguments.push_str(&other.to_string()),
            }
        }
    }

    /// Emit every assembled tool call, in index order.
    fn flush_calls(&mut self, out: &mut Vec<ChatEvent>) {
        for (index, call) in std::mem::take(&mut self.calls) {
            if call.name.is_empty() {
                log::warn!("dropping streamed tool call #{index}: the server never named it");
                continue;
            }
            let id = if call.id.is_empty() {
                format!("call_{index}")
            } else {
                call.id
            };
            // A call without parameters may stream no argument text; tools expect JSON.
            let arguments = if call.arguments.trim().is_empty() {
                "{}".to_string()
            } else {
                call.arguments
            };
            self.emitted_calls += 1;
            out.push(ChatEvent::ToolCall(ToolCall {
                id,
                name: call.name,
                arguments,
            }));
        }
    }

    /// The stream ended (EOF): flush what is pending and say how it finished.
    pub fn end(&mut self, out: &mut Vec<ChatEvent>) -> Result<FinishReason, LlmError> {
        self.flush_calls(out);
        if let Some(reason) = self.finish.clone() {
            return Ok(reason);
        }
        if self.done {
            // `[DONE]` without a finish_reason: infer it.
            return Ok(if self.emitted_calls > 0 {
                FinishReason::ToolCalls
            } else {
                FinishReason::Stop
            });
        }
        if self.chunks == 0 {
            Err(LlmError::Protocol(
                "the server sent no stream chunks (empty body)".into(),
            ))
        } else {
            Err(LlmError::Protocol(format!(
                "the stream ended after {} chunks without a finish_reason or [DONE] (connection cut?)",
                self.chunks
            )))
        }
    }
}

fn parse_finish_reason(reason: &str) -> FinishReason {
    match reason {
        "stop" => FinishReason::Stop,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "length" => FinishReason::Length,
        other => FinishReason::Other(other.to_string()),
    }
}

/// At most 200 characters of `s`, for error messages.
pub(crate) fn excerpt(s: &str) -> String {
    const MAX: usize = 200;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &s[..cut]),
        None => s.to_string(),
    }
}

/// An OpenAI chat-completion SSE stream, decoded.
pub struct ChatStream<R> {
    sse: SseReader<R>,
    decoder: ChunkDecoder,
    queue: VecDeque<ChatEvent>,
    scratch: Vec<ChatEvent>,
    /// The finish reason, held back until the events flushed with it are out.
    pending_finish: Option<FinishReason>,
    finished: bool,
}

impl<R: BufRead> ChatStream<R> {
    pub fn new(reader: R) -> Self {
        Self {
            sse: SseReader::new(reader),
            decoder: ChunkDecoder::new(),
            queue: VecDeque::new(),
            scratch: Vec::new(),
            pending_finish: None,
            finished: false,
        }
    }

    /// The next item; `Ok(None)` after `Finished` (or an error) was returned.
    pub fn next_item(&mut self) -> Result<Option<StreamItem>, LlmError> {
        let item = self.advance();
        if item.is_err() {
            self.finished = true;
            self.queue.clear();
            self.pending_finish = None;
        }
        item
    }

    fn advance(&mut self) -> Result<Option<StreamItem>, LlmError> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Ok(Some(StreamItem::Event(event)));
            }
            if let Some(reason) = self.pending_finish.take() {
                self.finished = true;
                return Ok(Some(StreamItem::Finished(reason)));
            }
            if self.finished {
                return Ok(None);
            }
            // After `[DONE]` nothing more is read (one capture even appends notes after it).
            let event = if self.decoder.is_done() {
                None
            } else {
                self.sse.next_event()?
            };
            match event {
                Some(event) => {
                    if event.event.as_deref() == Some("error") {
                        return Err(LlmError::Protocol(format!(
                            "server sent an error event: {}",
                            excerpt(&event.data)
                        )));
                    }
                    self.decoder.feed(&event.data, &mut self.scratch)?;
                }
                None => self.pending_finish = Some(self.decoder.end(&mut self.scratch)?),
            }
            self.queue.extend(self.scratch.drain(..));
        }
    }

    /// Gives the underlying reader back.
    pub fn into_inner(self) -> R {
        self.sse.into_inner()
    }
}

impl<R: BufRead> Iterator for ChatStream<R> {
    type Item = Result<StreamItem, LlmError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_item().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(input: &str) -> Result<Vec<SseEvent>, LlmError> {
        let mut reader = SseReader::new(input.as_bytes());
        let mut out = Vec::new();
        while let Some(event) = reader.next_event()? {
            out.push(event);
        }
        Ok(out)
    }

    fn data(input: &str) -> Vec<String> {
        events(input).unwrap().into_iter().map(|e| e.data).collect()
    }

    /// All items of a chat stream, or the first error; tool-call announcements left out (the
    /// assembly tests are about complete calls; `a_call_is_announced_once_as_it_begins` checks
    /// them).
    fn items(input: &str) -> Result<Vec<StreamItem>, LlmError> {
        ChatStream::new(input.as_bytes())
            .filter(|i| !matches!(i, Ok(StreamItem::Event(ChatEvent::ToolCallStarted(_)))))
            .collect()
    }

    #[test]
    fn a_call_is_announced_once_as_it_begins() {
        let input = [
            chunk(serde_json::json!({"content": "Let me check."}), None),
            chunk(
                serde_json::json!({"tool_calls": [{"index": 0, "id": "c1",
                    "function": {"name": "lookup", "arguments": "{\"q\":"}}]}),
                None,
            ),
            chunk(
                serde_json::json!({"tool_calls": [{"index": 0,
                    "function": {"name": "lookup", "arguments": "\"x\"}"}}]}),
                None,
            ),
            chunk(serde_json::json!({}), Some("tool_calls")),
            "data: [DONE]\n\n".to_string(),
        ]
        .concat();
        let all: Vec<StreamItem> = ChatStream::new(input.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            all,
            vec![
                text("Let me check."),
                StreamItem::Event(ChatEvent::ToolCallStarted("lookup".into())),
                call("c1", "lookup", "{\"q\":\"x\"}"),
                StreamItem::Finished(FinishReason::ToolCalls)
            ]
        );
    }

    fn chunk(delta: Value, finish: Option<&str>) -> String {
        let c = serde_json::json!({
            "object": "chat.completion.chunk",
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
        });
        format!("data: {c}\n\n")
    }

    fn text(s: &str) -> StreamItem {
        StreamItem::Event(ChatEvent::Text(s.into()))
    }

    fn call(id: &str, name: &str, args: &str) -> StreamItem {
        StreamItem::Event(ChatEvent::ToolCall(ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: args.into(),
        }))
    }

    #[test]
    fn sse_events_split_on_blank_lines_with_fields_and_comments() {
        let input =
            ": keep-alive\nevent: message\nid: 7\nretry: 100\ndata: hello\n\ndata:no-space\n\n";
        let got = events(input).unwrap();
        assert_eq!(
            got,
            vec![
                SseEvent {
                    event: Some("message".into()),
                    data: "hello".into(),
                    id: Some("7".into())
                },
                SseEvent {
                    event: None,
                    data: "no-space".into(),
                    id: None
                },
            ]
        );
    }

    #[test]
    fn sse_multi_line_data_is_joined_with_newlines() {
        // Not one complete JSON value until the last line: one event.
        let input = "data: {\"a\":\ndata: 1}\n\ndata: first\ndata: second\n\n";
        assert_eq!(data(input), vec!["{\"a\":\n1}", "first\nsecond"]);
    }

    #[test]
    fn sse_tolerates_crlf_line_endings() {
        let input = "data: {\"x\":1}\r\n\r\n: c\r\ndata: [DONE]\r\n\r\n";
        assert_eq!(data(input), vec!["{\"x\":1}", "[DONE]"]);
    }

    #[test]
    fn sse_dispatches_complete_payloads_without_blank_lines() {
        let input = "data: {\"a\":1}\ndata: {\"b\":2}\ndata: [DONE]\n";
        assert_eq!(data(input), vec!["{\"a\":1}", "{\"b\":2}", "[DONE]"]);
    }

    #[test]
    fn sse_pending_data_at_eof_is_dispatched_and_blank_lines_alone_are_nothing() {
        assert_eq!(data("\n\n\ndata: {\"trunc"), vec!["{\"trunc"]);
        assert!(data("").is_empty());
        assert!(data(": only a comment\n\n").is_empty());
    }

    #[test]
    fn sse_rejects_huge_lines_and_invalid_utf8() {
        let huge = format!("data: {}\n", "x".repeat(MAX_LINE as usize + 10));
        assert!(matches!(events(&huge), Err(LlmError::Protocol(_))));
        let mut reader = SseReader::new(&b"data: \xff\xfe\n\n"[..]);
        assert!(matches!(reader.next_event(), Err(LlmError::Protocol(_))));
    }

    #[test]
    fn text_deltas_stream_in_order_and_finish_reason_is_honoured() {
        let input = [
            chunk(serde_json::json!({"role": "assistant"}), None),
            chunk(serde_json::json!({"content": "Hel"}), None),
            chunk(serde_json::json!({"content": ""}), None),
            chunk(serde_json::json!({"content": "lo."}), None),
            chunk(serde_json::json!({}), Some("length")),
            "data: [DONE]\n\n".into(),
        ]
        .concat();
        assert_eq!(
            items(&input).unwrap(),
            vec![
                text("Hel"),
                text("lo."),
                StreamItem::Finished(FinishReason::Length)
            ]
        );
    }

    #[test]
    fn usage_chunks_without_choices_are_skipped() {
        let input = [
            chunk(serde_json::json!({"content": "Hi"}), Some("stop")),
            "data: {\"choices\":[],\"usage\":{\"total_tokens\":5}}\n\n".into(),
            "data: {\"usage\":{\"total_tokens\":5}}\n\n".into(),
            "data: [DONE]\n\n".into(),
        ]
        .concat();
        assert_eq!(
            items(&input).unwrap(),
            vec![text("Hi"), StreamItem::Finished(FinishReason::Stop)]
        );
    }

    #[test]
    fn nothing_after_done_is_read() {
        let input = [
            chunk(serde_json::json!({"content": "a"}), Some("stop")),
            "data: [DONE]\n\nnot sse at all {{{\ndata: {bad json\n\n".into(),
        ]
        .concat();
        assert_eq!(
            items(&input).unwrap(),
            vec![text("a"), StreamItem::Finished(FinishReason::Stop)]
        );
    }

    #[test]
    fn tool_call_with_id_and_name_only_in_first_fragment() {
        let input = [
            chunk(
                serde_json::json!({"tool_calls": [{"index": 0, "id": "c1", "type": "function",
                    "function": {"name": "book", "arguments": "{\"day\""}}]}),
                None,
            ),
            chunk(
                serde_json::json!({"tool_calls": [{"index": 0, "function": {"arguments": ": \"mon\"}"}}]}),
                None,
            ),
            chunk(serde_json::json!({}), Some("tool_calls")),
            "data: [DONE]\n\n".into(),
        ]
        .concat();
        assert_eq!(
            items(&input).unwrap(),
            vec![
                call("c1", "book", "{\"day\": \"mon\"}"),
                StreamItem::Finished(FinishReason::ToolCalls)
            ]
        );
    }

    #[test]
    fn repeated_name_and_legacy_function_call_are_not_duplicated() {
        // llama-cpp-python: id and name in every fragment, plus `function_call` mirroring it.
        let frag = |args: &str| {
            chunk(
                serde_json::json!({"content": null,
                    "function_call": {"name": "book", "arguments": args},
                    "tool_calls": [{"index": 0, "id": "c9", "type": "function",
                        "function": {"name": "book", "arguments": args}}]}),
                None,
            )
        };
        let input = [
            chunk(
                serde_json::json!({"role": "assistant", "function_call": null, "tool_calls": null}),
                None,
            ),
            frag("{\"a\""),
            frag(": 1}"),
            frag(""),
            chunk(
                serde_json::json!({"function_call": null, "tool_calls": null}),
                Some("tool_calls"),
            ),
            "data: [DONE]\n\n".into(),
        ]
        .concat();
        assert_eq!(
            items(&input).unwrap(),
            vec![
                call("c9", "book", "{\"a\": 1}"),
                StreamItem::Finished(FinishReason::ToolCalls)
            ]
        );
    }

    #[test]
    fn legacy_function_call_alone_becomes_a_tool_call() {
        let input = [
            chunk(
                serde_json::json!({"function_call": {"name": "ping", "arguments": "{\"n\":"}}),
                None,
            ),
            chunk(
                serde_json::json!({"function_call": {"arguments": "2}"}}),
                None,
            ),
            chunk(serde_json::json!({}), Some("function_call")),
            "data: [DONE]\n\n".into(),
        ]
        .concat();
        assert_eq!(
            items(&input).unwrap(),
            vec![
                call("call_0", "ping", "{\"n\":2}"),
                StreamItem::Finished(FinishReason::ToolCalls)
            ]
        );
    }

    #[test]
    fn parallel_calls_are_assembled_by_index_and_emitted_in_order() {
        let input = [
            chunk(
                serde_json::json!({"tool_calls": [
                    {"index": 1, "id": "b", "function": {"name": "second", "arguments": "{\"x\""}},
                    {"index": 0, "id": "a", "function": {"name": "first", "arguments": ""}}]}),
                None,
            ),
            chunk(
                serde_json::json!({"tool_calls": [{"index": 1, "function": {"arguments": ":1}"}}]}),
                None,
            ),
            // No finish_reason: [DONE] flushes them and the reason is inferred.
            "data: [DONE]\n\n".into(),
        ]
        .concat();
        assert_eq!(
            items(&input).unwrap(),
            vec![
                call("a", "first", "{}"),
                call("b", "second", "{\"x\":1}"),
                StreamItem::Finished(FinishReason::ToolCalls)
            ]
        );
    }

    #[test]
    fn calls_are_emitted_when_finish_reason_arrives_before_done() {
        let mut decoder = ChunkDecoder::new();
        let mut out = Vec::new();
        let c = serde_json::json!({"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": "x", "function": {"name": "f", "arguments": "{}"}}]}}]});
        decoder.feed(&c.to_string(), &mut out).unwrap();
        assert_eq!(
            out,
            [ChatEvent::ToolCallStarted("f".into())],
            "a call is announced, and held until it is complete"
        );
        let fin = serde_json::json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]});
        decoder.feed(&fin.to_string(), &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert!(matches!(&out[1], ChatEvent::ToolCall(c) if c.name == "f"));
        assert_eq!(decoder.finish_reason(), Some(&FinishReason::ToolCalls));
    }

    #[test]
    fn nameless_calls_are_dropped_and_other_reasons_kept() {
        let input = [
            chunk(
                serde_json::json!({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}),
                Some("content_filter"),
            ),
            "data: [DONE]\n\n".into(),
        ]
        .concat();
        assert_eq!(
            items(&input).unwrap(),
            vec![StreamItem::Finished(FinishReason::Other(
                "content_filter".into()
            ))]
        );
    }

    #[test]
    fn missing_done_after_finish_reason_is_a_clean_end() {
        let input = chunk(serde_json::json!({"content": "ok"}), Some("stop"));
        assert_eq!(
            items(&input).unwrap(),
            vec![text("ok"), StreamItem::Finished(FinishReason::Stop)]
        );
    }

    #[test]
    fn stream_that_just_ends_is_a_protocol_error() {
        let input = chunk(serde_json::json!({"content": "partial"}), None);
        let mut stream = ChatStream::new(input.as_bytes());
        assert_eq!(stream.next_item().unwrap(), Some(text("partial")));
        match stream.next_item() {
            Err(LlmError::Protocol(m)) => assert!(m.contains("without a finish_reason"), "{m}"),
            other => panic!("expected a protocol error, got {other:?}"),
        }
        assert!(stream.next_item().unwrap().is_none());
    }

    #[test]
    fn empty_body_is_a_protocol_error() {
        match items("") {
            Err(LlmError::Protocol(m)) => assert!(m.contains("empty"), "{m}"),
            other => panic!("expected a protocol error, got {other:?}"),
        }
    }

    #[test]
    fn bad_json_is_a_protocol_error_with_an_excerpt() {
        let input = [
            chunk(serde_json::json!({"content": "a"}), None),
            "data: {\"choices\": [oops]}\n\n".into(),
        ]
        .concat();
        match items(&input) {
            Err(LlmError::Protocol(m)) => {
                assert!(m.contains("bad JSON") && m.contains("oops"), "{m}")
            }
            other => panic!("expected a protocol error, got {other:?}"),
        }
    }

    #[test]
    fn server_errors_in_the_stream_are_reported() {
        let input = "data: {\"error\": {\"message\": \"context full\", \"code\": 500}}\n\n";
        match items(input) {
            Err(LlmError::Protocol(m)) => assert!(m.contains("context full"), "{m}"),
            other => panic!("expected a protocol error, got {other:?}"),
        }
        let input = "event: error\ndata: overloaded\n\n";
        match items(input) {
            Err(LlmError::Protocol(m)) => assert!(m.contains("overloaded"), "{m}"),
            other => panic!("expected a protocol error, got {other:?}"),
        }
    }

    #[test]
    fn excerpt_cuts_long_text_on_a_char_boundary() {
        let long = "é".repeat(300);
        let e = excerpt(&long);
        assert!(e.ends_with("...") && e.chars().count() == 203);
        assert_eq!(excerpt("short"), "short");
    }
}
