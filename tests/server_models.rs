//! A real session over the WebSocket with the real local models: a spoken request streamed at
//! real-time pace gets a transcript, a tool call, agent audio and metrics, and the agent's audio
//! transcribes back to the agent's text.

mod common;

use std::time::Duration;

use common::Client;
use voice_agent::apps::bench::wer::wer;
use voice_agent::foundation::audio::resample::resample_i16;
use voice_agent::foundation::audio::OUTPUT_RATE;
use voice_agent::foundation::cancel::CancelToken;
use voice_agent::providers::stt::whisper::{RunOptions, WhisperModel};
use voice_agent::providers::tts::piper::{PiperTts, PiperVoice};
use voice_agent::providers::tts::TextToSpeech;

#[test]
fn a_spoken_request_over_the_socket_is_answered_in_words_whisper_understands() {
    let Some((handle, db)) = common::local_models_server("srv-models") else {
        return;
    };
    let dir = voice_agent::providers::models::models_dir();

    // The caller says one line (Piper, at 16 kHz), then stays silent.
    let voice = PiperVoice::load_steady(&dir).unwrap();
    let mut pcm = Vec::new();
    PiperTts::new(voice)
        .synthesize(
            "Is doctor Patel free next Monday morning?",
            &CancelToken::never(),
            &mut |c| pcm.extend_from_slice(c),
        )
        .unwrap();
    let mut caller = vec![0i16; 8_000];
    caller.extend(resample_i16(&pcm, OUTPUT_RATE, 16_000));

    let mut client = Client::connect(handle.ws_addr()).expect("connect");
    client.playback = true;
    let done = client.talk_until(&caller, Duration::from_secs(60), |c| c.has("metrics"));
    assert!(done, "no metrics within a minute");
    let finals: Vec<_> = client
        .messages("transcript")
        .into_iter()
        .filter(|m| m["final"] == true)
        .collect();
    assert!(
        finals[0]["text"].as_str().unwrap().contains("Patel"),
        "{finals:?}"
    );
    let tool = client.messages("tool_call");
    assert_eq!(tool[0]["name"], "check_availability");
    let metrics = client.messages("metrics")[0].clone();
    let agent_text = metrics["agent_text"].as_str().unwrap().to_string();
    assert!(metrics["latency"]["ttfa_ms"].as_f64().is_some());

    let audio = client.audio();
    assert!(
        audio.len() > OUTPUT_RATE as usize,
        "at least a second of agent audio"
    );
    // Listen with the full 30 s window: steadier than the live trimmed one.
    let full = RunOptions {
        full_window: true,
        ..RunOptions::default()
    };
    let heard = WhisperModel::shared("tiny.en")
        .unwrap()
        .run(
            &resample_i16(&audio, OUTPUT_RATE, 16_000),
            &full,
            &CancelToken::never(),
        )
        .unwrap()
        .map(|t| t.text)
        .unwrap_or_default();
    let e = wer(&agent_text, &heard);
    assert!(
        e < 0.25,
        "agent said {agent_text:?}, Whisper heard {heard:?} (WER {e:.2})"
    );
    client.close();
    handle.shutdown();
    let _ = std::fs::remove_file(&db);
}
