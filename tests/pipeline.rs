//! The threaded pipeline end to end with scripted fakes: turns, barge-in by generation,
//! failures that end a session cleanly, and provider errors that become apologies.

use std::sync::mpsc;
use std::time::Duration;

use crossbeam_channel::{unbounded, Sender};
use voice_agent::foundation::audio::wav::{ConversationRecorder, WavInput};
use voice_agent::foundation::cancel::CancelToken;
use voice_agent::orchestration::agent::{AgentConfig, INTERRUPTED_MARK};
use voice_agent::orchestration::pipeline::output::Speaker;
use voice_agent::orchestration::pipeline::{
    Event, Pipeline, PipelineConfig, SessionOutcome, SessionParts,
};
use voice_agent::providers::llm::Role;
use voice_agent::providers::testing::{
    synthetic_caller, tone_level, EchoTools, RecordingOutput, ScriptStep, ScriptedChat,
    ScriptedStt, ToneTts,
};
use voice_agent::providers::tts::{TextToSpeech, TtsError};
use voice_agent::providers::vad::energy::EnergyVad;

/// Join with a deadline, so a hung stage fails the test instead of hanging it.
fn join(p: Pipeline) -> SessionOutcome {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(p.join());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("pipeline did not shut down")
}

fn parts(
    caller: Vec<i16>,
    realtime: bool,
    stt: ScriptedStt,
    chat: ScriptedChat,
    tts: Box<dyn TextToSpeech>,
    out: RecordingOutput,
    events: Sender<Event>,
) -> SessionParts {
    SessionParts {
        input: Box::new(WavInput::from_samples(caller, realtime)),
        output: Box::new(Speaker::new(out, events)),
        vad: Box::new(EnergyVad::default()),
        stt: Box::new(stt),
        chat: Box::new(chat),
        tools: Box::new(EchoTools::default()),
        tts,
        recorder: None,
        system_prompt: None,
    }
}

/// The history of the turn after a tool turn: the call, its result and the answer, then the
/// new question.
fn assert_tool_turn_then_next(h: &[voice_agent::providers::llm::ChatMessage]) {
    let roles: Vec<Role> = h.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [
            Role::System,
            Role::User,
            Role::Assistant,
            Role::Tool,
            Role::Assistant,
            Role::User
        ],
        "{h:#?}"
    );
}

#[test]
fn two_turns_flow_through_every_stage_and_report() {
    let caller = synthetic_caller(&[
        (300, false),
        (900, true),
        (800, false),
        (700, true),
        (300, false),
    ]);
    let stt = ScriptedStt::new(&["hello there", "book me with doctor patel"]);
    let heard = stt.heard.clone();
    let chat = ScriptedChat::new(vec![
        vec![ScriptStep::Text(
            "Hello! How can I help you today? I can book appointments.".into(),
        )],
        vec![ScriptStep::Call {
            name: "lookup".into(),
            arguments: serde_json::json!({"q": "patel"}),
        }],
        vec![ScriptStep::Text(
            "Doctor Patel is free on Tuesday at nine.".into(),
        )],
    ]);
    let tts = ToneTts::default();
    let spoken = tts.spoken.clone();
    let out = RecordingOutput::default();
    let (events, ev_rx) = unbounded();
    let recorder = ConversationRecorder::new();
    let mut p = parts(caller, false, stt, chat, Box::new(tts), out.clone(), events);
    p.recorder = Some(recorder.clone());
    let outcome = join(Pipeline::spawn(p, PipelineConfig::default()));
    assert!(
        outcome.failed_stages.is_empty(),
        "{:?}",
        outcome.failed_stages
    );

    let r = &outcome.reports;
    assert_eq!(r.len(), 2, "{r:#?}");
    assert_eq!(r[0].transcript, "hello there");
    assert_eq!(
        r[0].agent_text,
        "Hello! How can I help you today? I can book appointments."
    );
    assert_eq!(r[0].played_text, r[0].agent_text, "{r:#?}");
    assert!(!r[0].interrupted);
    assert_eq!(r[1].tool_calls.len(), 1);
    assert_eq!(r[1].tool_calls[0].name, "lookup");
    assert_eq!(r[1].tool_calls[0].arguments["q"], "patel");
    assert_eq!(r[1].agent_text, "Doctor Patel is free on Tuesday at nine.");
    for rep in r {
        let l = &rep.latency;
        let ttfa = l.ttfa_ms.expect("ttfa");
        assert!(ttfa >= l.stt_ms.unwrap(), "{l:?}");
        assert!(l.stage_sum_ms().is_some());
    }
    // Each utterance reached STT with its padding: roughly 0.9 s and 0.7 s (+ pre-roll).
    let lens = heard.lock().unwrap().clone();
    assert!(lens.len() >= 2);
    assert!(lens[0] > 14_000 && lens[0] < 24_000, "{lens:?}");

    // The sentence buffer released whole chunks (the first early, at a clause boundary or not).
    let spoken = spoken.lock().unwrap().clone();
    assert_eq!(
        spoken.join(" "),
        format!("{} {}", r[0].agent_text, r[1].agent_text)
    );
    // All the audio reached the output: 10 ms per character at 24 kHz.
    let chars: usize = spoken.iter().map(|s| s.chars().count()).sum();
    assert_eq!(out.total_samples(), chars * 240);

    let events: Vec<Event> = ev_rx.try_iter().collect();
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::ToolCall { name, .. } if name == "lookup")));
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::Metrics(_)))
            .count(),
        2
    );
    assert!(events.iter().any(
        |e| matches!(e, Event::Transcript { is_final: true, text, .. } if text == "hello there")
    ));

    // The recording places the agent after the caller: the first reply starts after the first
    // utterance (0.3 s + 0.9 s) and before the second one starts (virtual time).
    let agent = recorder.agent_samples();
    let first = agent
        .iter()
        .position(|&s| s != 0)
        .expect("agent audio recorded");
    assert!(
        first >= 24_000 * 12 / 10,
        "agent audio starts at sample {first}"
    );
}

#[test]
fn barge_in_stops_old_generation_audio_and_history_keeps_only_what_was_heard() {
    // The caller asks, then talks over the long answer for a second, then waits.
    let caller = synthetic_caller(&[
        (200, false),
        (600, true),
        (2_600, false),
        (1_000, true),
        (1_500, false),
    ]);
    let long = "Long answer: ".to_string() + &"this goes on and on and on. ".repeat(8);
    let chat = ScriptedChat::new(vec![
        vec![ScriptStep::Text(long.clone())],
        vec![ScriptStep::Text("Okay, what else can I do for you?".into())],
    ]);
    let calls = chat.calls.clone();
    // 60 ms of audio per character: the long answer lasts ~15 s.
    let tts = ToneTts {
        ms_per_char: 60,
        ..ToneTts::default()
    };
    let out = RecordingOutput::default();
    let (events, ev_rx) = unbounded();
    let p = parts(
        caller,
        true,
        ScriptedStt::new(&["tell me everything", "stop, stop"]),
        chat,
        Box::new(tts),
        out.clone(),
        events,
    );
    let outcome = join(Pipeline::spawn(p, PipelineConfig::default()));
    assert!(outcome.failed_stages.is_empty());
    let r = &outcome.reports;
    assert_eq!(r.len(), 2, "{r:#?}");
    assert!(r[0].interrupted);
    assert!(!r[0].played_text.is_empty());
    assert!(
        r[0].played_text.len() < r[0].agent_text.len() / 2,
        "{}",
        r[0].played_text
    );
    assert!(r[0].agent_text.starts_with(
        r[0].played_text
            .trim_end_matches(|c: char| !c.is_alphanumeric())
    ));
    assert_eq!(r[1].transcript, "stop, stop");
    assert!(!r[1].interrupted);

    // No audio of the old generation after the cut: every write after the first clear() has
    // the level of the second reply's text.
    let writes = out.writes.lock().unwrap().clone();
    let old = tone_level(&long);
    let new = tone_level("Okay");
    assert_ne!(old, new);
    let after: Vec<_> = writes.iter().filter(|w| w.clears_before > 0).collect();
    assert!(!after.is_empty(), "the second reply was played");
    assert!(
        after.iter().all(|w| w.peak == new),
        "old audio after the cut"
    );
    assert!(writes.iter().any(|w| w.clears_before == 0 && w.peak == old));
    assert_eq!(out.clears.lock().unwrap().len(), 1);

    // The model's second call saw only the heard part, marked as interrupted.
    let calls = calls.lock().unwrap();
    let second = &calls[1];
    let interrupted = second
        .iter()
        .find(|m| m.role == Role::Assistant)
        .expect("assistant message kept");
    assert_eq!(
        interrupted.content,
        format!("{}{INTERRUPTED_MARK}", r[0].played_text)
    );
    assert!(interrupted.content.len() < long.len());
    let events: Vec<Event> = ev_rx.try_iter().collect();
    assert!(events.contains(&Event::Clear));
}

/// The caller asks, waits 1.5 s, then talks over the answer for a second, then waits.
fn ask_then_cut_in() -> Vec<i16> {
    synthetic_caller(&[
        (200, false),
        (600, true),
        (1_500, false),
        (1_000, true),
        (3_000, false),
    ])
}

/// The history the model saw when it answered the caller's second turn: the kept part of the
/// first reply must be exactly what was played, marked as interrupted.
fn assert_second_call_keeps_only_the_played_text(
    calls: &[Vec<voice_agent::providers::llm::ChatMessage>],
    played: &str,
) {
    assert_eq!(calls.len(), 2, "the model answered each turn once");
    let kept: Vec<_> = calls[1]
        .iter()
        .filter(|m| m.role == Role::Assistant)
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(kept, vec![format!("{played}{INTERRUPTED_MARK}")]);
}

#[test]
fn barge_in_aborts_the_model_stream_and_nothing_after_the_cut_is_spoken() {
    // 90 word tokens at 60 ms: the stream would run ~5.4 s, the caller cuts in ~2 s into it.
    let long: String = (1..=10)
        .map(|i| format!("Part {i} of the answer goes on for a while. "))
        .collect();
    let mut chat = ScriptedChat::new(vec![
        vec![ScriptStep::Text(long.clone())],
        vec![ScriptStep::Text("Okay, what else can I do for you?".into())],
    ]);
    chat.token_delay = Duration::from_millis(60);
    let (calls, streams) = (chat.calls.clone(), chat.streams.clone());
    let tts = ToneTts {
        ms_per_char: 40,
        ..ToneTts::default()
    };
    let spoken = tts.spoken.clone();
    let out = RecordingOutput::default();
    let p = parts(
        ask_then_cut_in(),
        true,
        ScriptedStt::new(&["tell me everything", "stop, stop"]),
        chat,
        Box::new(tts),
        out.clone(),
        unbounded().0,
    );
    let outcome = join(Pipeline::spawn(p, PipelineConfig::default()));
    assert!(outcome.failed_stages.is_empty());
    let r = &outcome.reports;
    assert_eq!(r.len(), 2, "{r:#?}");
    assert!(r[0].interrupted);
    assert!(!r[1].interrupted);
    assert_eq!(r[1].agent_text, "Okay, what else can I do for you?");

    // The model's stream for the first reply saw the cancel and stopped early; the second ran
    // to its end.
    let streams = streams.lock().unwrap().clone();
    assert_eq!(streams.len(), 2, "{streams:#?}");
    assert!(streams[0].cancelled, "{:?}", streams[0]);
    assert!(
        streams[0].sent_tokens < streams[0].scripted_tokens,
        "{:?}",
        streams[0]
    );
    assert!(!streams[1].cancelled);
    assert_eq!(streams[1].sent_tokens, streams[1].scripted_tokens);
    // The reply is what the model had sent when it was cut, and never more.
    assert!(streams[0].sent_text.starts_with(&r[0].agent_text));
    assert!(long.starts_with(&streams[0].sent_text));

    // Nothing the model had not sent by the cut was ever synthesized: the old reply's spoken
    // chunks are a prefix of what it sent.
    let spoken = spoken.lock().unwrap().clone();
    assert_eq!(
        spoken.last().map(String::as_str),
        Some(r[1].agent_text.as_str())
    );
    let old_spoken = spoken[..spoken.len() - 1].join(" ");
    assert!(!old_spoken.is_empty());
    assert!(
        streams[0].sent_text.starts_with(&old_spoken),
        "{old_spoken:?} vs {:?}",
        streams[0].sent_text
    );

    assert_old_audio_stops_at_the_cut(&out, &long, &r[1].agent_text);
    assert_second_call_keeps_only_the_played_text(&calls.lock().unwrap(), &r[0].played_text);
}

/// Every write after the sink's clear() has the level of the new reply; the old one was heard.
fn assert_old_audio_stops_at_the_cut(out: &RecordingOutput, old_text: &str, new_text: &str) {
    let writes = out.writes.lock().unwrap().clone();
    let (old, new) = (tone_level(old_text), tone_level(new_text));
    assert_ne!(old, new);
    assert!(writes.iter().any(|w| w.clears_before == 0 && w.peak == old));
    let after: Vec<_> = writes.iter().filter(|w| w.clears_before > 0).collect();
    assert!(!after.is_empty(), "the second reply was played");
    assert!(
        after.iter().all(|w| w.peak == new),
        "old audio after the cut"
    );
    assert_eq!(out.clears.lock().unwrap().len(), 1);
}

#[test]
fn barge_in_stops_synthesis_and_drops_the_queued_sentences() {
    // The model writes all eight sentences at once; TTS speaks them in real time (1.6 s each),
    // so when the caller cuts in most of them still wait in the TTS stage's queue.
    let sentences: Vec<String> = (1..=8)
        .map(|i| format!("Sentence number {i} is here, and it is long."))
        .collect();
    let long = sentences.join(" ");
    let chat = ScriptedChat::new(vec![
        vec![ScriptStep::Text(long.clone())],
        vec![ScriptStep::Text("Okay, what else can I do for you?".into())],
    ]);
    let calls = chat.calls.clone();
    let tts = ToneTts {
        ms_per_char: 40,
        realtime_factor: 1.0,
        ..ToneTts::default()
    };
    let syntheses = tts.syntheses.clone();
    let out = RecordingOutput::default();
    let p = parts(
        ask_then_cut_in(),
        true,
        ScriptedStt::new(&["tell me everything", "stop, stop"]),
        chat,
        Box::new(tts),
        out.clone(),
        unbounded().0,
    );
    let mut config = PipelineConfig::default();
    // One chunk per sentence, so the queue holds whole sentences.
    config.sentences.early_first_clause = false;
    let outcome = join(Pipeline::spawn(p, config));
    assert!(outcome.failed_stages.is_empty());
    let r = &outcome.reports;
    assert_eq!(r.len(), 2, "{r:#?}");
    assert!(r[0].interrupted);
    assert_eq!(r[0].agent_text, long, "the model had written it all");

    let syn = syntheses.lock().unwrap().clone();
    let (new, old) = syn.split_last().expect("syntheses");
    assert_eq!(new.text, r[1].agent_text);
    assert!(new.completed);
    // The old reply's syntheses are its first sentences in order; the rest were dropped
    // unspoken from the queue.
    let old_texts: Vec<&str> = old.iter().map(|s| s.text.as_str()).collect();
    let firsts: Vec<&str> = sentences
        .iter()
        .map(String::as_str)
        .take(old.len())
        .collect();
    assert_eq!(old_texts, firsts);
    assert!(old.len() < sentences.len() / 2, "{old_texts:?}");
    // The one being synthesized at the cut stopped early; all before it ran to the end.
    let (cut, done) = old.split_last().expect("the old reply was spoken");
    assert!(!cut.completed, "{cut:?}");
    assert!(done.iter().all(|s| s.completed), "{done:?}");

    assert_old_audio_stops_at_the_cut(&out, &long, &r[1].agent_text);
    assert_second_call_keeps_only_the_played_text(&calls.lock().unwrap(), &r[0].played_text);
}

#[test]
fn tool_results_stay_in_history_after_a_barge_in_and_are_not_run_again() {
    // The model looks something up, then gives a long answer the caller cuts off.
    let long = "Doctor Patel is free on Tuesday at nine, and on Wednesday at ten, and on \
        Thursday at eleven, and on Friday afternoon as well if you prefer."
        .to_string();
    let chat = ScriptedChat::new(vec![
        vec![ScriptStep::Call {
            name: "lookup".into(),
            arguments: serde_json::json!({"q": "patel"}),
        }],
        vec![ScriptStep::Text(long.clone())],
        vec![ScriptStep::Text("Okay, what else can I do for you?".into())],
    ]);
    let calls = chat.calls.clone();
    let tools = EchoTools::default();
    let tool_runs = tools.calls.clone();
    let tts = ToneTts {
        ms_per_char: 60,
        ..ToneTts::default()
    };
    let mut p = parts(
        ask_then_cut_in(),
        true,
        ScriptedStt::new(&["when is doctor patel free", "stop, stop"]),
        chat,
        Box::new(tts),
        RecordingOutput::default(),
        unbounded().0,
    );
    p.tools = Box::new(tools);
    let outcome = join(Pipeline::spawn(p, PipelineConfig::default()));
    assert!(outcome.failed_stages.is_empty());
    let r = &outcome.reports;
    assert_eq!(r.len(), 2, "{r:#?}");
    assert!(r[0].interrupted);
    assert_eq!(r[0].tool_calls.len(), 1);
    assert!(r[1].tool_calls.is_empty());

    // The lookup ran exactly once in the whole session.
    let runs = tool_runs.lock().unwrap().clone();
    assert_eq!(
        runs,
        vec![("lookup".to_string(), r#"{"q":"patel"}"#.to_string())]
    );

    // The next turn's model call sees the call and its result, then only the heard answer.
    let calls = calls.lock().unwrap();
    assert_eq!(calls.len(), 3, "lookup step, answer, next turn");
    let h = &calls[2];
    assert_tool_turn_then_next(h);
    assert_eq!(h[2].tool_calls.len(), 1);
    assert_eq!(h[2].tool_calls[0].name, "lookup");
    assert_eq!(
        h[3].tool_call_id.as_deref(),
        Some(h[2].tool_calls[0].id.as_str())
    );
    let result: serde_json::Value = serde_json::from_str(&h[3].content).expect("json result");
    assert_eq!(result, r[0].tool_calls[0].result);
    assert_eq!(
        h[4].content,
        format!("{}{INTERRUPTED_MARK}", r[0].played_text)
    );
    assert_eq!(h[5].content, "stop, stop");
}

#[test]
fn a_tool_running_at_a_barge_in_completes_but_its_answer_is_not_spoken() {
    // The agent says a few words and starts a slow booking; the caller talks over it while the
    // tool still runs.
    let caller = synthetic_caller(&[
        (200, false),
        (600, true),
        (1_500, false),
        (800, true),
        (4_000, false),
    ]);
    let chat = ScriptedChat::new(vec![
        vec![
            ScriptStep::Text("Let me book that for you.".into()),
            ScriptStep::Call {
                name: "lookup".into(),
                arguments: serde_json::json!({"q": "book"}),
            },
        ],
        vec![ScriptStep::Text("Yes, I am still here.".into())],
    ]);
    let calls = chat.calls.clone();
    let tools = EchoTools {
        delay: Duration::from_secs(4),
        ..EchoTools::default()
    };
    let tool_runs = tools.calls.clone();
    let tts = ToneTts {
        ms_per_char: 40,
        ..ToneTts::default()
    };
    let spoken = tts.spoken.clone();
    let (events, ev_rx) = unbounded();
    let mut p = parts(
        caller,
        true,
        ScriptedStt::new(&["book me in", "hello?"]),
        chat,
        Box::new(tts),
        RecordingOutput::default(),
        events,
    );
    p.tools = Box::new(tools);
    let outcome = join(Pipeline::spawn(p, PipelineConfig::default()));
    assert!(outcome.failed_stages.is_empty());
    let r = &outcome.reports;
    assert_eq!(r.len(), 2, "{r:#?}");
    assert!(r[0].interrupted);
    assert_eq!(r[0].agent_text, "Let me book that for you.");
    assert_eq!(r[1].agent_text, "Yes, I am still here.");

    // The booking completed, after the cut: its event follows the clear.
    assert_eq!(tool_runs.lock().unwrap().len(), 1);
    let events: Vec<Event> = ev_rx.try_iter().collect();
    let clear = events
        .iter()
        .position(|e| *e == Event::Clear)
        .expect("clear");
    let tool = events
        .iter()
        .position(|e| matches!(e, Event::ToolCall { turn: 1, name, .. } if name == "lookup"))
        .expect("tool event");
    assert!(clear < tool, "the tool was still running at the barge-in");

    // The model was not asked to answer the cut-off turn, and nothing of an answer was spoken.
    assert_eq!(
        *spoken.lock().unwrap(),
        vec!["Let me book that for you.", "Yes, I am still here."]
    );
    let calls = calls.lock().unwrap();
    assert_eq!(calls.len(), 2, "one model call per turn");
    // Its effect is real: the next turn's history holds the result.
    let h = &calls[1];
    assert_tool_turn_then_next(h);
    assert!(h[3].content.contains("book"), "{}", h[3].content);
    assert_eq!(
        h[4].content,
        format!("{}{INTERRUPTED_MARK}", r[0].played_text)
    );
}

/// A TTS that panics: the session must end cleanly and say why.
struct PanickingTts;
impl TextToSpeech for PanickingTts {
    fn name(&self) -> String {
        "panics".into()
    }
    fn synthesize(
        &mut self,
        _t: &str,
        _c: &CancelToken,
        _o: &mut dyn FnMut(&[i16]),
    ) -> Result<(), TtsError> {
        panic!("synthesizer exploded")
    }
}

#[test]
fn a_panicking_stage_ends_the_session_without_hanging() {
    // Long caller audio at real-time pace: the source must notice the broken pipe and stop early.
    let caller = synthetic_caller(&[(200, false), (500, true), (20_000, false)]);
    let (events, ev_rx) = unbounded();
    let p = parts(
        caller,
        true,
        ScriptedStt::new(&["hi"]),
        ScriptedChat::replies(&["Hello there, nice to meet you."]),
        Box::new(PanickingTts),
        RecordingOutput::default(),
        events,
    );
    let started = std::time::Instant::now();
    let outcome = join(Pipeline::spawn(p, PipelineConfig::default()));
    assert!(
        outcome.failed_stages.contains(&"tts".to_string()),
        "{:?}",
        outcome.failed_stages
    );
    // Not a timing assertion on speed: the 20 s input was abandoned rather than played out.
    assert!(started.elapsed() < Duration::from_secs(15));
    let events: Vec<Event> = ev_rx.try_iter().collect();
    assert!(events.iter().any(
        |e| matches!(e, Event::Error { stage, message } if stage == "tts" && message.contains("exploded"))
    ));
}

#[test]
fn a_failed_model_becomes_a_spoken_apology_and_the_session_goes_on() {
    let caller = synthetic_caller(&[
        (200, false),
        (600, true),
        (800, false),
        (600, true),
        (300, false),
    ]);
    let chat = ScriptedChat::new(vec![
        vec![ScriptStep::Fail("connection reset".into())],
        vec![ScriptStep::Text("Yes, I can hear you now.".into())],
    ]);
    let tts = ToneTts::default();
    let spoken = tts.spoken.clone();
    let (events, ev_rx) = unbounded();
    let p = parts(
        caller,
        false,
        ScriptedStt::new(&["hello", "can you hear me"]),
        chat,
        Box::new(tts),
        RecordingOutput::default(),
        events,
    );
    let outcome = join(Pipeline::spawn(p, PipelineConfig::default()));
    let r = &outcome.reports;
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].agent_text, AgentConfig::default().apology);
    assert!(r[0].errors[0].contains("connection reset"));
    assert_eq!(r[1].agent_text, "Yes, I can hear you now.");
    assert!(spoken
        .lock()
        .unwrap()
        .iter()
        .any(|s| s.starts_with("I'm sorry")));
    assert!(ev_rx
        .try_iter()
        .any(|e| matches!(e, Event::Error { stage, .. } if stage == "llm")));
}

#[test]
fn a_short_blip_while_the_agent_speaks_does_not_interrupt() {
    let caller = synthetic_caller(&[
        (200, false),
        (600, true),
        (1_500, false),
        (250, true),
        (3_000, false),
    ]);
    let reply = "This reply keeps going for a few seconds, so the caller can cough over it.";
    let tts = ToneTts {
        ms_per_char: 50,
        ..ToneTts::default()
    };
    let stt = ScriptedStt::new(&["hello", "cough"]);
    let (events, ev_rx) = unbounded();
    let p = parts(
        caller,
        true,
        stt,
        ScriptedChat::replies(&[reply]),
        Box::new(tts),
        RecordingOutput::default(),
        events,
    );
    let outcome = join(Pipeline::spawn(p, PipelineConfig::default()));
    let r = &outcome.reports;
    assert_eq!(r.len(), 1, "{r:#?}");
    assert!(!r[0].interrupted);
    assert_eq!(r[0].played_text, reply);
    // The blip never became a turn: one final transcript, no clear.
    let events: Vec<Event> = ev_rx.try_iter().collect();
    let finals = events
        .iter()
        .filter(|e| matches!(e, Event::Transcript { is_final: true, .. }))
        .count();
    assert_eq!(finals, 1);
    assert!(!events.contains(&Event::Clear));
}

/// A voice that never returns and never looks at its cancel token (a provider stuck on a
/// connection with no deadline).
struct StuckTts(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl TextToSpeech for StuckTts {
    fn name(&self) -> String {
        "stuck".into()
    }
    fn synthesize(
        &mut self,
        _text: &str,
        _cancel: &CancelToken,
        _on_audio: &mut dyn FnMut(&[i16]),
    ) -> Result<(), TtsError> {
        self.0.store(true, std::sync::atomic::Ordering::Release);
        std::thread::sleep(Duration::from_secs(3_600));
        Ok(())
    }
}

#[test]
fn a_stuck_provider_cannot_hold_a_session_past_its_teardown_limit() {
    let caller = synthetic_caller(&[(300, false), (600, true), (600, false)]);
    let entered = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let p = parts(
        caller,
        true,
        ScriptedStt::new(&["hello"]),
        ScriptedChat::replies(&["Hello there, how can I help?"]),
        Box::new(StuckTts(entered.clone())),
        RecordingOutput::default(),
        unbounded().0,
    );
    let pipeline = Pipeline::spawn(p, PipelineConfig::default());
    // Wait until the voice is stuck, then hang up as a server does.
    let started = std::time::Instant::now();
    while !entered.load(std::sync::atomic::Ordering::Acquire) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the reply never reached the voice"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    pipeline.hang_up();
    let t = std::time::Instant::now();
    let outcome = pipeline.join_within(Duration::from_secs(2));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(
        outcome.stuck_stages.contains(&"tts".to_string()),
        "{outcome:?}"
    );
    // The stages that could end did: the sink among them, with its report.
    assert!(
        !outcome.stuck_stages.contains(&"sink".to_string()),
        "{outcome:?}"
    );
}
