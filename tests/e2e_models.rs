//! A whole call through the real local models: Piper speaks the caller's lines, Silero finds the
//! turns, Whisper transcribes them, the built-in receptionist books on a real database, Piper
//! answers, and Whisper checks the agent's audio says what the agent meant to say.

use std::sync::Arc;

use voice_agent::apps::bench::wer::wer;
use voice_agent::apps::compose::{ProviderOptions, Providers};
use voice_agent::domain::{Date, FixedClock, Store};
use voice_agent::foundation::audio::resample::resample_i16;
use voice_agent::foundation::audio::wav::{ConversationRecorder, WavInput};
use voice_agent::foundation::audio::OUTPUT_RATE;
use voice_agent::foundation::cancel::CancelToken;
use voice_agent::orchestration::pipeline::{output, Pipeline, PipelineConfig, SessionParts};
use voice_agent::providers::session::SessionFactory;
use voice_agent::providers::stt::whisper::{RunOptions, WhisperModel};
use voice_agent::providers::tts::piper::{PiperTts, PiperVoice};
use voice_agent::providers::tts::TextToSpeech;

fn models_ready() -> bool {
    let dir = voice_agent::providers::models::models_dir();
    let ok = dir.join("whisper-tiny.en/encoder.onnx").exists()
        && dir.join("piper/en_US-joe-medium.onnx").exists()
        && dir.join("silero/silero_vad.onnx").exists();
    if !ok {
        eprintln!(
            "SKIPPED: models missing in {} (run `make setup`)",
            dir.display()
        );
    }
    ok
}

/// Caller lines spoken by Piper at 16 kHz, each followed by `gap_ms` of silence.
fn caller_audio(lines: &[&str], gap_ms: usize) -> Vec<i16> {
    let voice =
        PiperVoice::load_steady(&voice_agent::providers::models::models_dir()).expect("piper");
    let mut tts = PiperTts::new(voice);
    let mut out = vec![0i16; 8_000];
    for line in lines {
        let mut pcm = Vec::new();
        tts.synthesize(line, &CancelToken::never(), &mut |c| {
            pcm.extend_from_slice(c)
        })
        .expect("synthesis");
        out.extend(resample_i16(&pcm, OUTPUT_RATE, 16_000));
        out.extend(std::iter::repeat_n(0, gap_ms * 16));
    }
    out
}

/// Split a track into its non-silent stretches (separated by at least `gap` silent samples).
fn segments(track: &[i16], gap: usize) -> Vec<&[i16]> {
    let mut out = Vec::new();
    let (mut start, mut silent) = (None, 0usize);
    for (i, &s) in track.iter().enumerate() {
        if s.unsigned_abs() > 64 {
            start.get_or_insert(i);
            silent = 0;
        } else if let Some(st) = start {
            silent += 1;
            if silent >= gap {
                out.push(&track[st..i + 1 - silent]);
                start = None;
            }
        }
    }
    if let Some(st) = start {
        out.push(&track[st..]);
    }
    out
}

#[test]
fn a_whole_call_books_an_appointment_with_the_real_models() {
    if !models_ready() {
        return;
    }
    let db = std::env::temp_dir().join(format!("va-e2e-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&db);
    // A Monday morning: "next Monday" is 2026-11-30.
    let clock = Arc::new(FixedClock::at("2026-11-23 09:00").expect("clock"));
    let opts = ProviderOptions {
        db: Some(db.clone()),
        llm: Some("builtin".into()),
        ..ProviderOptions::default()
    };
    let providers = Providers::load_with_clock(&opts, clock).expect("providers");
    let lines = [
        "Hello, I would like to book an appointment with Doctor Patel.",
        "Next Monday at ten in the morning, please.",
        "My name is John Smith, and my date of birth is March fourth, nineteen eighty five.",
        "Yes, please book it.",
        "Thank you, goodbye.",
    ];
    let caller = caller_audio(&lines, 2_000);
    let recorder = ConversationRecorder::new();
    let mut parts = SessionParts::new(
        providers.session().expect("session"),
        Box::new(WavInput::from_samples(caller, false)),
        Box::new(output::channel().0),
    );
    parts.recorder = Some(recorder.clone());
    let outcome = Pipeline::spawn(parts, PipelineConfig::default()).join();
    assert!(
        outcome.failed_stages.is_empty(),
        "{:?}",
        outcome.failed_stages
    );
    let reports = outcome.reports;
    for r in &reports {
        eprintln!(
            "turn {} spec={} int={} {:?} -> {:?} (heard {:?}) ttfa={:?}",
            r.turn,
            r.speculative_stt,
            r.interrupted,
            r.transcript,
            r.agent_text,
            r.played_text,
            r.latency.ttfa_ms
        );
    }
    assert_eq!(reports.len(), lines.len(), "one turn per caller line");
    // Whisper heard the caller (judged over the whole call), and every turn was answered.
    let transcripts: Vec<&str> = reports.iter().map(|r| r.transcript.as_str()).collect();
    let e = wer(&lines.join(" "), &transcripts.join(" "));
    assert!(e < 0.25, "caller heard as {transcripts:?} (WER {e:.2})");
    for r in &reports {
        assert!(r.latency.ttfa_ms.is_some(), "turn {} never spoke", r.turn);
    }
    // The receptionist booked it, on the real database.
    let booked = reports
        .iter()
        .flat_map(|r| &r.tool_calls)
        .any(|c| c.name == "schedule_appointment" && c.result.get("error").is_none());
    assert!(booked, "no successful schedule_appointment call");
    let store = Store::open(&db).expect("reopen db");
    let john = store
        .find_patient("John Smith", Date::from_ymd(1985, 3, 4).expect("date"))
        .expect("query")
        .expect("John Smith exists");
    let from = voice_agent::domain::DateTime::new(
        Date::from_ymd(2026, 11, 23).expect("date"),
        voice_agent::domain::Time::from_hm(0, 0).expect("time"),
    );
    let appts = store
        .upcoming_appointments(john.id, from)
        .expect("appointments");
    assert!(
        appts
            .iter()
            .any(|a| a.doctor_name.contains("Patel") && a.start.to_string().contains("2026-11-30")),
        "{appts:?}"
    );

    // The agent's audio says what the agent meant: each reply transcribes back to its text.
    let agent = recorder.agent_samples();
    let replies = segments(&agent, OUTPUT_RATE as usize);
    assert_eq!(
        replies.len(),
        reports.len(),
        "one stretch of agent audio per turn"
    );
    // The check listens with the full 30 s window (slower, steadier than the live trimmed one),
    // and judges the whole call: Piper's voice varies from run to run.
    let whisper = WhisperModel::shared("tiny.en").expect("whisper");
    let full = RunOptions {
        full_window: true,
        ..RunOptions::default()
    };
    let (mut said, mut heard) = (Vec::new(), Vec::new());
    for (audio, r) in replies.iter().zip(&reports) {
        // Sentence by sentence (at Piper's pauses of 150 ms or more): on a long reply, tiny.en
        // sometimes stops after the first sentence or two.
        let pieces: Vec<String> = segments(audio, OUTPUT_RATE as usize * 15 / 100)
            .into_iter()
            .map(|piece| {
                let pcm = resample_i16(piece, OUTPUT_RATE, 16_000);
                whisper
                    .run(&pcm, &full, &CancelToken::never())
                    .expect("transcribe")
                    .map(|t| t.text)
                    .unwrap_or_default()
            })
            .collect();
        let text = pieces.join(" ");
        eprintln!("agent said {:?}\n  Whisper heard {text:?}", r.played_text);
        said.push(r.played_text.clone());
        heard.push(text);
    }
    let e = wer(&said.join(" "), &heard.join(" "));
    assert!(
        e < 0.2,
        "the agent's audio does not say its text (WER {e:.2})"
    );
    let _ = std::fs::remove_file(&db);
}
