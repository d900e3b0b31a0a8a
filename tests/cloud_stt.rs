//! Cloud speech-to-text against local servers that speak the providers' wire protocols:
//! Deepgram's streaming `/v1/listen` WebSocket (alone, and through the real pipeline, where its
//! endpointing may end the turn before the local VAD) and OpenAI's `/audio/transcriptions`.

mod common_cloud;

use std::io::Cursor;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common_cloud::{
    closed_port, said, spoken, wait_until, Body, DeepgramMock, DgOptions, HttpMock, HttpRequest,
    Reply,
};
use crossbeam_channel::unbounded;
use serde_json::json;
use voice_agent::foundation::audio::io::AudioInput;
use voice_agent::foundation::audio::wav::WavInput;
use voice_agent::foundation::cancel::CancelToken;
use voice_agent::orchestration::pipeline::output::Speaker;
use voice_agent::orchestration::pipeline::{
    AgentState, Event, Pipeline, PipelineConfig, SessionOutcome, SessionParts,
};
use voice_agent::providers::stt::deepgram::{DeepgramConfig, DeepgramStt};
use voice_agent::providers::stt::openai::{OpenAiStt, OpenAiSttConfig};
use voice_agent::providers::stt::{SpeechToText, SttError};
use voice_agent::providers::testing::{
    synthetic_caller, EchoTools, RecordingOutput, ScriptedChat, ToneTts,
};
use voice_agent::providers::vad::energy::EnergyVad;
use voice_agent::providers::vad::VadConfig;

const KEY: &str = "dg-test-key-0123456789";

fn deepgram(mock: &DeepgramMock) -> DeepgramStt {
    let config = DeepgramConfig::new(KEY).with_base_url(&mock.url);
    DeepgramStt::connect(config).expect("connects to the mock")
}

/// Feed `audio` in 20 ms frames; after every 200 ms block that holds a word, wait for the
/// partial it produces (so the test sees each interim result, whatever the timing).
fn stream(stt: &mut DeepgramStt, audio: &[i16]) -> Vec<String> {
    let mut partials = Vec::new();
    for block in audio.chunks(common_cloud::BLOCK) {
        for frame in block.chunks(320) {
            if let Some(p) = stt.stream_audio(frame).expect("streams") {
                partials.push(p);
            }
        }
        if block[0] != 0 {
            let deadline = Instant::now() + Duration::from_secs(10);
            let before = partials.len();
            while partials.len() == before && Instant::now() < deadline {
                if let Some(p) = stt.stream_audio(&[]).expect("streams") {
                    partials.push(p);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
    partials
}

fn service_error(e: SttError) -> String {
    match e {
        SttError::Service(m) => m,
        other => panic!("expected a service error, got {other:?}"),
    }
}

#[test]
fn deepgram_streams_frames_with_partials_then_finalizes() {
    let mock = DeepgramMock::start(DgOptions::new(KEY));
    let mut stt = deepgram(&mock);
    assert_eq!(stt.name(), "deepgram nova-3");
    assert!(stt.is_streaming());

    let words = [0, 1, 2, 3, 4];
    let audio = spoken(&words, 0);
    let partials = stream(&mut stt, &audio);
    // Interim results grow word by word; the final after three words stays in front.
    assert_eq!(
        partials,
        vec![
            "alpha",
            "alpha bravo",
            "alpha bravo charlie",
            "alpha bravo charlie delta",
            "alpha bravo charlie delta echo",
        ]
    );
    assert_eq!(stt.transcribe(&audio).unwrap(), said(&words));

    let log = mock.log.lock().unwrap();
    assert_eq!(log.connections, 1);
    assert_eq!(
        log.auth[0].as_deref(),
        Some(format!("Token {KEY}").as_str())
    );
    let q = &log.queries[0];
    for part in [
        "encoding=linear16",
        "sample_rate=16000",
        "channels=1",
        "interim_results=true",
        "endpointing=300",
        "model=nova-3",
    ] {
        assert!(q.split('&').any(|p| p == part), "{part} missing from {q}");
    }
    // Every sample went up exactly once: transcribe() only sent the Finalize.
    assert_eq!(log.audio_bytes[0], audio.len() * 2);
    assert_eq!(log.finalizes, 1);
    // The mock sent interim results as well as finals.
    assert!(log.sent.iter().any(|(_, is_final, _)| !is_final));
    assert!(log.sent.iter().any(|(_, is_final, _)| *is_final));
}

#[test]
fn deepgram_transcribes_a_whole_utterance_given_at_once() {
    let mock = DeepgramMock::start(DgOptions::new(KEY));
    let mut stt = deepgram(&mock);
    let words = [7, 6, 5, 4];
    let audio = spoken(&words, 2);
    assert_eq!(stt.transcribe(&audio).unwrap(), said(&words));
    assert_eq!(stt.transcribe(&[]).unwrap(), "");
    assert_eq!(mock.log.lock().unwrap().audio_bytes[0], audio.len() * 2);
}

#[test]
fn deepgram_keeps_utterances_apart_on_one_connection() {
    let mock = DeepgramMock::start(DgOptions::new(KEY));
    let mut stt = deepgram(&mock);

    // A first utterance, abandoned by the VAD: its words must not reach the next turn.
    stream(&mut stt, &spoken(&[7, 7], 0));
    stt.discard_utterance();

    let second = spoken(&[0, 1], 2);
    stream(&mut stt, &second);
    assert_eq!(stt.transcribe(&second).unwrap(), "alpha bravo");

    // A third one through the batch path, with the display partials on the way.
    let third = spoken(&[2, 3, 4, 5], 1);
    let mut seen = None;
    for end in (common_cloud::BLOCK..=third.len()).step_by(common_cloud::BLOCK) {
        if let Some(p) = stt
            .transcribe_partial(&third[..end], &CancelToken::never())
            .unwrap()
        {
            seen = Some(p);
        }
    }
    assert!(seen.is_none_or(|p| !p.contains("alpha") && !p.contains("hotel")));
    assert_eq!(stt.transcribe(&third).unwrap(), said(&[2, 3, 4, 5]));

    let log = mock.log.lock().unwrap();
    assert_eq!(log.connections, 1, "one persistent connection per session");
    let all = spoken(&[7, 7], 0).len() + second.len() + third.len();
    assert_eq!(log.audio_bytes[0], all * 2, "no audio sent twice");
}

#[test]
fn deepgram_finishes_on_endpointing_when_finalize_gets_no_answer() {
    let mut options = DgOptions::new(KEY);
    options.answer_finalize = false;
    let mock = DeepgramMock::start(options);
    let mut stt = deepgram(&mock);
    let audio = spoken(&[3, 4], 3);
    stream(&mut stt, &audio);
    // The mock closed the speech with speech_final; wait until it did so the grace path runs.
    assert!(wait_until(|| mock
        .log
        .lock()
        .unwrap()
        .sent
        .iter()
        .any(|(_, f, t)| *f && t == "delta echo")));
    assert_eq!(stt.transcribe(&audio).unwrap(), "delta echo");
}

#[test]
fn deepgram_reports_speech_end_from_its_endpointing() {
    let mock = DeepgramMock::start(DgOptions::new(KEY));
    let mut stt = deepgram(&mock);
    stream(&mut stt, &spoken(&[0], 0));
    assert!(!stt.speech_ended());
    // A block of silence makes the mock send is_final + speech_final.
    for frame in spoken(&[], 1).chunks(320) {
        stt.stream_audio(frame).unwrap();
    }
    assert!(wait_until(|| {
        let _ = stt.stream_audio(&[]);
        stt.speech_ended()
    }));
}

#[test]
fn deepgram_survives_slow_results() {
    let mut options = DgOptions::new(KEY);
    options.delay = Duration::from_millis(30);
    let mock = DeepgramMock::start(options);
    let mut config = DeepgramConfig::new(KEY).with_base_url(&mock.url);
    config.finalize_timeout = Duration::from_secs(10);
    let mut stt = DeepgramStt::connect(config).unwrap();
    let audio = spoken(&[0, 2, 4, 6, 1], 1);
    for frame in audio.chunks(320) {
        stt.stream_audio(frame).unwrap();
    }
    assert_eq!(stt.transcribe(&audio).unwrap(), said(&[0, 2, 4, 6, 1]));
}

#[test]
fn deepgram_reconnects_once_after_a_drop_and_keeps_the_turn() {
    let mut options = DgOptions::new(KEY);
    // Cut the first connection in the middle of the third word.
    options.drop_after_bytes = Some(2 * (2 * common_cloud::BLOCK + 1000));
    let mock = DeepgramMock::start(options);
    let mut stt = deepgram(&mock);
    let words = [1, 2, 3, 4];
    let audio = spoken(&words, 1);
    for frame in audio.chunks(320) {
        // Frames after the cut may fail only if the reconnect fails; it must not.
        stt.stream_audio(frame).expect("reconnects transparently");
    }
    assert_eq!(stt.transcribe(&audio).unwrap(), said(&words));
    let log = mock.log.lock().unwrap();
    assert_eq!(log.connections, 2);
    assert_eq!(
        log.audio_bytes[1],
        audio.len() * 2,
        "the new connection got the whole utterance again"
    );
}

#[test]
fn deepgram_gives_one_clear_error_when_the_connection_keeps_dropping() {
    let mut options = DgOptions::new(KEY);
    options.drop_after_bytes = Some(2 * common_cloud::BLOCK);
    options.drop_every_connection = true;
    let mock = DeepgramMock::start(options);
    let mut stt = deepgram(&mock);
    let audio = spoken(&[1, 2, 3], 0);
    let mut errors = 0;
    for frame in audio.chunks(320) {
        errors += usize::from(stt.stream_audio(frame).is_err());
    }
    let message = service_error(stt.transcribe(&audio).unwrap_err());
    assert!(message.contains("dropped again"), "{message}");
    assert!(errors <= 1, "the failure is reported once while streaming");
    assert!(!message.contains(KEY));

    // The next turn starts on a fresh connection (and is cut again: still no panic).
    let next = spoken(&[0], 0);
    assert!(stt.transcribe(&next).is_err());
    assert!(mock.log.lock().unwrap().connections >= 3);
}

#[test]
fn deepgram_host_gone_mid_call_is_one_clear_error() {
    let mut options = DgOptions::new(KEY);
    options.drop_after_bytes = Some(2 * common_cloud::BLOCK);
    options.max_connections = Some(1);
    let mock = DeepgramMock::start(options);
    let mut stt = deepgram(&mock);
    let audio = spoken(&[1, 2], 0);
    let mut errors = Vec::new();
    for frame in audio.chunks(320) {
        if let Err(e) = stt.stream_audio(frame) {
            errors.push(service_error(e));
        }
    }
    let message = service_error(stt.transcribe(&audio).unwrap_err());
    assert!(
        message.starts_with("cannot reach Deepgram at "),
        "{message}"
    );
    assert!(
        errors.len() <= 1 && errors.iter().all(|e| *e == message),
        "{errors:?}"
    );
    // The next turn tries a fresh connection and fails the same clear way.
    let message = service_error(stt.stream_audio(&audio[..320]).unwrap_err());
    assert!(
        message.starts_with("cannot reach Deepgram at "),
        "{message}"
    );
    let message = service_error(stt.transcribe(&audio[..320]).unwrap_err());
    assert!(
        message.starts_with("cannot reach Deepgram at "),
        "{message}"
    );
}

#[test]
fn deepgram_keeps_an_idle_connection_alive_and_closes_politely() {
    let mock = DeepgramMock::start(DgOptions::new(KEY));
    let mut config = DeepgramConfig::new(KEY).with_base_url(&mock.url);
    config.keepalive_every = Duration::from_millis(20);
    let mut stt = DeepgramStt::connect(config).unwrap();
    assert!(wait_until(|| mock.log.lock().unwrap().keepalives >= 2));
    // Still usable after idling.
    let audio = spoken(&[5], 1);
    assert_eq!(stt.transcribe(&audio).unwrap(), "foxtrot");
    stt.close();
    let log = mock.log.lock().unwrap();
    assert_eq!(log.close_streams, 1);
    assert_eq!(log.connections, 1);
}

#[test]
fn deepgram_sends_close_stream_when_dropped() {
    let mock = DeepgramMock::start(DgOptions::new(KEY));
    drop(deepgram(&mock));
    assert!(wait_until(|| mock.log.lock().unwrap().close_streams == 1));
}

#[test]
fn deepgram_rejected_key_is_one_clear_message_without_the_key() {
    let mock = DeepgramMock::start(DgOptions::new("the-right-key"));
    let config = DeepgramConfig::new(KEY).with_base_url(&mock.url);
    let debug = format!("{config:?}");
    assert!(!debug.contains(KEY), "{debug}");
    let message = service_error(DeepgramStt::connect(config).err().expect("rejected"));
    assert!(
        message.starts_with("Deepgram rejected the API key (HTTP 401): check DEEPGRAM_API_KEY"),
        "{message}"
    );
    assert!(!message.contains(KEY));
}

#[test]
fn deepgram_rate_limit_and_server_errors_are_clear() {
    for (status, expect) in [(429, "HTTP 429"), (500, "failed on its side (HTTP 500)")] {
        let mut options = DgOptions::new(KEY);
        options.reject = Some(status);
        let mock = DeepgramMock::start(options);
        let config = DeepgramConfig::new(KEY).with_base_url(&mock.url);
        let message = service_error(DeepgramStt::connect(config).err().expect("rejected"));
        assert!(message.starts_with("Deepgram "), "{message}");
        assert!(message.contains(expect), "{message}");
        assert!(!message.contains(KEY));
    }
}

#[test]
fn deepgram_unreachable_host_is_one_clear_message() {
    let port = closed_port();
    let config = DeepgramConfig::new(KEY).with_base_url(format!("ws://127.0.0.1:{port}"));
    let message = service_error(DeepgramStt::connect(config).err().expect("unreachable"));
    assert!(
        message.starts_with(&format!("cannot reach Deepgram at 127.0.0.1:{port}")),
        "{message}"
    );
}

#[test]
fn deepgram_tls_failure_is_one_clear_message() {
    // A plain-text server where TLS is expected: rustls must fail the handshake cleanly.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::Write;
        if let Ok((mut s, _)) = listener.accept() {
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let config = DeepgramConfig::new(KEY).with_base_url(format!("wss://127.0.0.1:{port}"));
    let message = service_error(DeepgramStt::connect(config).err().expect("no TLS"));
    assert!(
        message.starts_with(&format!("cannot reach Deepgram at 127.0.0.1:{port}: ")),
        "{message}"
    );
}

#[test]
fn deepgram_missing_key_is_refused_before_connecting() {
    let message = service_error(DeepgramStt::connect(DeepgramConfig::new("")).err().unwrap());
    assert!(message.contains("set DEEPGRAM_API_KEY"), "{message}");
}

// ---------------------------------------------------------------------------------------------
// Deepgram through the pipeline: its endpointing ends the turn

/// The caller's WAV at real-time pace; notes when it has run out.
struct TimedInput {
    inner: WavInput,
    ended: Arc<Mutex<Option<Instant>>>,
}

impl AudioInput for TimedInput {
    fn next_frame(&mut self) -> Option<Vec<i16>> {
        let frame = self.inner.next_frame();
        if frame.is_none() {
            self.ended.lock().unwrap().get_or_insert_with(Instant::now);
        }
        frame
    }
}

/// What a pipeline run with Deepgram left behind.
struct CallResult {
    outcome: SessionOutcome,
    events: Vec<Event>,
    /// When the caller's audio ran out, and when each agent audio write happened.
    input_ended: Option<Instant>,
    first_agent_audio: Option<Instant>,
    /// Transcripts the scripted brain was asked to answer.
    asked: Vec<String>,
}

/// A call through every stage: the energy VAD on `caller`, Deepgram (the mock), a scripted
/// brain, a tone voice.
fn call(mock: &DeepgramMock, caller: Vec<i16>, config: PipelineConfig) -> CallResult {
    let stt = DeepgramStt::connect(DeepgramConfig::new(KEY).with_base_url(&mock.url)).unwrap();
    let chat = ScriptedChat::replies(&["Hello, how can I help?", "Sure, go on."]);
    let calls = chat.calls.clone();
    let out = RecordingOutput::default();
    let writes = out.writes.clone();
    let ended = Arc::new(Mutex::new(None));
    let (events, rx) = unbounded();
    let parts = SessionParts {
        input: Box::new(TimedInput {
            inner: WavInput::from_samples(caller, true),
            ended: ended.clone(),
        }),
        output: Box::new(Speaker::new(out, events)),
        vad: Box::new(EnergyVad::default()),
        stt: Box::new(stt),
        chat: Box::new(chat),
        tools: Box::new(EchoTools::default()),
        tts: Box::new(ToneTts::default()),
        recorder: None,
        system_prompt: None,
    };
    let pipeline = Pipeline::spawn(parts, config);
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(pipeline.join());
    });
    let outcome = done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the pipeline shut down");
    let asked = calls
        .lock()
        .unwrap()
        .iter()
        .filter_map(|history| history.last().map(|m| m.content.clone()))
        .collect();
    let first_agent_audio = writes.lock().unwrap().first().map(|w| w.at);
    let input_ended = *ended.lock().unwrap();
    CallResult {
        outcome,
        events: rx.try_iter().collect(),
        input_ended,
        first_agent_audio,
        asked,
    }
}

/// A mock that names loud blocks as words and keeps a whole utterance in one result.
fn endpointing_mock(endpointing: bool) -> DeepgramMock {
    let mut options = DgOptions::new(KEY);
    options.by_level = true;
    options.words_per_final = 1000;
    options.endpointing = endpointing;
    DeepgramMock::start(options)
}

fn final_transcripts(events: &[Event]) -> Vec<(u64, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Transcript {
                turn,
                text,
                is_final: true,
            } => Some((*turn, text.clone())),
            _ => None,
        })
        .collect()
}

/// A local VAD that would wait a minute of silence: only Deepgram can end a turn in time.
fn patient_vad() -> PipelineConfig {
    PipelineConfig {
        vad: VadConfig {
            min_silence_ms: 60_000,
            ..VadConfig::default()
        },
        drain_tail: false,
        ..PipelineConfig::default()
    }
}

#[test]
fn deepgram_speech_final_ends_the_turn_before_the_local_vad() {
    let mock = endpointing_mock(true);
    let caller = synthetic_caller(&[(400, false), (1000, true), (3000, false)]);
    let r = call(&mock, caller, patient_vad());
    assert!(r.outcome.failed_stages.is_empty(), "{:?}", r.outcome);

    let said = mock.log.lock().unwrap().speech_finals.clone();
    assert_eq!(said.len(), 1, "one speech_final: {said:?}");
    assert!(said[0].starts_with("alpha"), "{said:?}");
    // The turn's transcript is Deepgram's endpointed one, answered once.
    assert_eq!(final_transcripts(&r.events), vec![(1, said[0].clone())]);
    assert_eq!(r.asked, vec![said[0].clone()]);
    assert_eq!(r.outcome.reports.len(), 1, "{:?}", r.outcome.reports);
    let report = &r.outcome.reports[0];
    assert_eq!(report.transcript, said[0]);
    assert_eq!(report.played_text, "Hello, how can I help?");
    assert!(report.latency.endpoint_ms.is_some() && report.latency.ttfa_ms.is_some());
    // The agent spoke while the caller's audio still ran: the VAD, waiting for a minute of
    // silence, had not ended the turn (it ends only with the stream).
    let (spoke, ended) = (r.first_agent_audio.unwrap(), r.input_ended.unwrap());
    assert!(spoke < ended, "the reply waited for the end of the input");
    let position = |want: &dyn Fn(&Event) -> bool| r.events.iter().position(want);
    let final_at = position(&|e| matches!(e, Event::Transcript { is_final: true, .. }));
    let speaking_at = position(&|e| matches!(e, Event::AgentSpeaking { turn: 1 }));
    assert!(final_at.unwrap() < speaking_at.unwrap());
}

#[test]
fn deepgram_early_end_then_the_vads_end_makes_no_second_turn() {
    // The local VAD at its usual 480 ms: its end of the same utterance comes after Deepgram's.
    let mock = endpointing_mock(true);
    let caller = synthetic_caller(&[(400, false), (1000, true), (1500, false)]);
    let r = call(&mock, caller, PipelineConfig::default());
    assert!(r.outcome.failed_stages.is_empty(), "{:?}", r.outcome);
    let said = mock.log.lock().unwrap().speech_finals.clone();
    assert_eq!(said.len(), 1, "{said:?}");
    assert_eq!(final_transcripts(&r.events), vec![(1, said[0].clone())]);
    assert_eq!(r.asked.len(), 1);
    assert_eq!(r.outcome.reports.len(), 1);
    assert!(!r.outcome.reports[0].interrupted);
    // Nothing set the agent back to "processing" while it spoke its answer.
    let speaking = r
        .events
        .iter()
        .position(|e| matches!(e, Event::AgentSpeaking { turn: 1 }))
        .expect("the agent spoke");
    let done = r
        .events
        .iter()
        .position(|e| matches!(e, Event::AgentDone { turn: 1, .. }))
        .expect("the agent finished");
    assert!(!r.events[speaking..done].iter().any(|e| matches!(
        e,
        Event::State {
            state: AgentState::Processing
        }
    )));
}

#[test]
fn deepgram_early_end_lets_the_caller_go_on_in_a_new_turn() {
    let mock = endpointing_mock(true);
    let caller = synthetic_caller(&[
        (400, false),
        (1000, true),
        (1200, false),
        (800, true),
        (2000, false),
    ]);
    let r = call(&mock, caller, patient_vad());
    assert!(r.outcome.failed_stages.is_empty(), "{:?}", r.outcome);
    let said = mock.log.lock().unwrap().speech_finals.clone();
    assert_eq!(said.len(), 2, "{said:?}");
    // Each utterance is its own turn, answered on Deepgram's endpointing; no word is lost to
    // the first, already answered, turn.
    assert_eq!(
        final_transcripts(&r.events),
        vec![(1, said[0].clone()), (2, said[1].clone())]
    );
    assert_eq!(r.asked, said);
    let transcripts: Vec<&str> = r
        .outcome
        .reports
        .iter()
        .map(|t| t.transcript.as_str())
        .collect();
    assert_eq!(transcripts, said);
}

#[test]
fn deepgram_without_speech_final_the_local_vad_ends_the_turn() {
    let mock = endpointing_mock(false);
    let caller = synthetic_caller(&[(400, false), (1000, true), (1500, false)]);
    let r = call(&mock, caller, PipelineConfig::default());
    assert!(r.outcome.failed_stages.is_empty(), "{:?}", r.outcome);
    let log = mock.log.lock().unwrap();
    assert!(log.speech_finals.is_empty());
    // The VAD's end sent Finalize; the answer to it is the transcript.
    assert!(log.finalizes >= 1);
    let heard = log
        .sent
        .iter()
        .rev()
        .find(|(_, is_final, text)| *is_final && !text.is_empty())
        .map(|(_, _, text)| text.clone())
        .expect("a final result");
    assert!(heard.starts_with("alpha"), "{heard}");
    assert_eq!(final_transcripts(&r.events), vec![(1, heard.clone())]);
    assert_eq!(r.asked, vec![heard.clone()]);
    assert_eq!(r.outcome.reports.len(), 1);
    assert_eq!(r.outcome.reports[0].transcript, heard);
}

// ---------------------------------------------------------------------------------------------
// OpenAI-compatible /audio/transcriptions

/// The parts of a multipart/form-data body: (name, filename, content).
fn multipart(request: &HttpRequest) -> Vec<(String, Option<String>, Vec<u8>)> {
    let ct = request.header("content-type").expect("content type");
    let boundary = ct
        .split_once("boundary=")
        .expect("multipart boundary")
        .1
        .to_string();
    let delimiter = format!("--{boundary}").into_bytes();
    let body = &request.body;
    let mut starts = Vec::new();
    let mut i = 0;
    while i + delimiter.len() <= body.len() {
        if body[i..].starts_with(&delimiter) {
            starts.push(i);
            i += delimiter.len();
        } else {
            i += 1;
        }
    }
    let mut parts = Vec::new();
    for pair in starts.windows(2) {
        let part = &body[pair[0] + delimiter.len() + 2..pair[1] - 2];
        let split = part
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("part headers");
        let head = String::from_utf8_lossy(&part[..split]).to_string();
        let content = part[split + 4..].to_vec();
        let attr = |key: &str| {
            head.split(';')
                .find_map(|a| a.trim().strip_prefix(&format!("{key}=\"")))
                .map(|v| v.trim_end_matches(|c: char| c == '"' || c.is_whitespace()))
                .map(|v| v.split('"').next().unwrap_or(v).to_string())
        };
        parts.push((attr("name").expect("part name"), attr("filename"), content));
    }
    assert!(body.ends_with(format!("--{boundary}--\r\n").as_bytes()));
    parts
}

#[test]
fn openai_transcription_sends_a_wav_in_a_multipart_form() {
    let mock = HttpMock::start(|req| {
        assert_eq!(req.method, "POST");
        assert_eq!(req.target, "/v1/audio/transcriptions");
        Reply::json(200, json!({"text": "  I'd like to book an appointment. "}))
    });
    let config = OpenAiSttConfig::new(format!("{}/v1", mock.url), "whisper-1").with_key("sk-test");
    let mut stt = OpenAiStt::new(config).unwrap();
    assert_eq!(
        stt.name(),
        format!("openai-compatible whisper-1 at {}", &mock.url[7..])
    );
    let audio: Vec<i16> = (0..24_000)
        .map(|i| ((i % 200) * 50 - 5000) as i16)
        .collect();
    assert_eq!(
        stt.transcribe(&audio).unwrap(),
        "I'd like to book an appointment."
    );

    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let req = &requests[0];
    assert_eq!(req.header("authorization"), Some("Bearer sk-test"));
    let parts = multipart(req);
    let field = |name: &str| {
        parts
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, f, c)| (f.clone(), c.clone()))
            .unwrap_or_else(|| panic!("no {name} part"))
    };
    assert_eq!(field("model").1, b"whisper-1");
    assert_eq!(field("response_format").1, b"json");
    let (filename, wav) = field("file");
    assert_eq!(filename.as_deref(), Some("utterance.wav"));
    let reader = hound::WavReader::new(Cursor::new(wav)).expect("a WAV file");
    assert_eq!(reader.spec().sample_rate, 16_000);
    assert_eq!(reader.spec().channels, 1);
    let samples: Vec<i16> = reader.into_samples().map(|s| s.unwrap()).collect();
    assert_eq!(samples, audio);

    // Nothing to transcribe: no request at all.
    assert_eq!(stt.transcribe(&[]).unwrap(), "");
    assert_eq!(mock.requests().len(), 1);
}

#[test]
fn openai_transcription_errors_are_clear_and_never_show_the_key() {
    let key = "sk-secret-777";
    let mock = HttpMock::start(move |req| {
        let status: u16 = req.header("x-want").map_or(401, |v| v.parse().unwrap());
        // A server that echoes the key back must not get it into our messages.
        Reply::json(
            status,
            json!({"error": {"message": format!("Incorrect API key provided: {key}")}}),
        )
    });
    let config = OpenAiSttConfig::new(format!("{}/v1", mock.url), "whisper-1").with_key(key);
    let mut stt = OpenAiStt::new(config.clone()).unwrap();
    let message = service_error(stt.transcribe(&[1, 2, 3]).unwrap_err());
    let host = &mock.url[7..];
    assert_eq!(
        message,
        format!(
            "the speech-to-text server at {host} rejected the API key (HTTP 401): check STT_API_KEY (server said: Incorrect API key provided: <redacted>)"
        )
    );
    assert!(!format!("{config:?}").contains(key));
}

#[test]
fn openai_transcription_rate_limit_server_error_and_bad_answer() {
    let mock = HttpMock::start(|req| {
        // The test picks the answer by the utterance's length in samples.
        let (_, _, wav) = multipart(req)
            .into_iter()
            .find(|(name, _, _)| name == "file")
            .expect("a file part");
        let samples = hound::WavReader::new(Cursor::new(wav))
            .expect("a WAV")
            .len();
        match samples {
            3 => Reply::json(429, json!({"error": {"message": "Rate limit reached"}})),
            4 => Reply::json(500, json!({"error": {"message": "boom"}})),
            _ => Reply::json(200, json!({"nope": true})),
        }
    });
    let config = OpenAiSttConfig::new(format!("{}/v1", mock.url), "whisper-1");
    let mut stt = OpenAiStt::new(config).unwrap();
    let m = service_error(stt.transcribe(&[1, 2, 3]).unwrap_err());
    assert!(
        m.contains("(HTTP 429)") && m.contains("Rate limit reached"),
        "{m}"
    );
    let m = service_error(stt.transcribe(&[1, 2, 3, 4]).unwrap_err());
    assert!(m.contains("failed on its side (HTTP 500)"), "{m}");
    let m = service_error(stt.transcribe(&[1, 2, 3, 4, 5]).unwrap_err());
    assert!(m.contains("answered without a transcript"), "{m}");
}

#[test]
fn openai_transcription_unreachable_host_is_one_clear_message() {
    let port = closed_port();
    let config = OpenAiSttConfig::new(format!("http://127.0.0.1:{port}/v1"), "whisper-1");
    let mut stt = OpenAiStt::new(config).unwrap();
    let m = service_error(stt.transcribe(&[1, 2, 3]).unwrap_err());
    assert!(
        m.starts_with(&format!(
            "cannot reach the speech-to-text server at 127.0.0.1:{port}: "
        )),
        "{m}"
    );
}

#[test]
fn openai_transcription_stalled_server_is_one_clear_message() {
    // The server takes the request, then says nothing for 30 s: before its answer (first
    // request), or halfway through the JSON (second).
    let mock = HttpMock::start(|req| {
        let (_, _, wav) = multipart(req)
            .into_iter()
            .find(|(name, _, _)| name == "file")
            .expect("a file part");
        let samples = hound::WavReader::new(Cursor::new(wav))
            .expect("a WAV")
            .len();
        if samples > 3 {
            let mut reply = Reply::json(200, json!({}));
            reply.body = Body::ChunkedThenStall {
                pieces: vec![br#"{"text": "half"#.to_vec()],
                silence: Duration::from_secs(30),
            };
            return reply;
        }
        let mut reply = Reply::json(200, json!({"text": "too late"}));
        reply.head_delay = Duration::from_secs(30);
        reply
    });
    let mut config = OpenAiSttConfig::new(format!("{}/v1", mock.url), "whisper-1");
    config.read_timeout = Duration::from_millis(300);
    let mut stt = OpenAiStt::new(config).unwrap();
    let started = Instant::now();
    let m = service_error(stt.transcribe(&[1, 2, 3]).unwrap_err());
    let host = &mock.url[7..];
    assert!(
        m.starts_with(&format!(
            "the speech-to-text server at {host} did not answer within 300 ms"
        )),
        "{m}"
    );
    // The read timeout fired long before the server would have answered.
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(mock.requests().len(), 1, "the request reached the server");

    let started = Instant::now();
    let m = service_error(stt.transcribe(&[7; 200]).unwrap_err());
    assert!(
        m.starts_with(&format!(
            "the speech-to-text server at {host} did not answer within 300 ms"
        )),
        "{m}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(mock.requests().len(), 2);
}
