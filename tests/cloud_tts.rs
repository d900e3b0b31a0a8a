//! Cloud text-to-speech against local servers that speak the providers' wire protocols:
//! ElevenLabs' streaming endpoint and OpenAI's `/audio/speech`, with normal, slow, broken and
//! refused responses, and cancellation mid-stream.

mod common_cloud;

use std::time::{Duration, Instant};

use common_cloud::{closed_port, pcm_bytes, wait_until, Body, HttpMock, Reply};
use serde_json::json;
use voice_agent::foundation::cancel::{CancelToken, Generation};
use voice_agent::providers::tts::elevenlabs::{ElevenLabsConfig, ElevenLabsTts, DEFAULT_MODEL};
use voice_agent::providers::tts::openai::{OpenAiTts, OpenAiTtsConfig};
use voice_agent::providers::tts::{TextToSpeech, TtsError};

const KEY: &str = "xi-test-key-0123456789";

/// Half a second of a 24 kHz sawtooth: every sample distinct enough to catch a shifted byte.
fn voice() -> Vec<i16> {
    (0..12_000)
        .map(|i| ((i * 37) % 60_000 - 30_000) as i16)
        .collect()
}

/// `bytes` cut into pieces of odd sizes, so samples straddle network chunks.
fn odd_pieces(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    let sizes = [1001, 1, 333, 4096, 7, 2048];
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].min(rest.len());
        out.push(rest[..n].to_vec());
        rest = &rest[n..];
        i += 1;
    }
    out
}

fn elevenlabs(mock: &HttpMock) -> ElevenLabsTts {
    ElevenLabsTts::new(ElevenLabsConfig::new(KEY).with_base_url(&mock.url)).unwrap()
}

fn speak(tts: &mut dyn TextToSpeech, text: &str) -> (Result<(), TtsError>, Vec<i16>, usize) {
    let mut audio = Vec::new();
    let mut calls = 0;
    let result = tts.synthesize(text, &CancelToken::never(), &mut |pcm| {
        calls += 1;
        audio.extend_from_slice(pcm);
    });
    (result, audio, calls)
}

fn service_error(r: Result<(), TtsError>) -> String {
    match r {
        Err(TtsError::Service(m)) => m,
        other => panic!("expected a service error, got {other:?}"),
    }
}

#[test]
fn elevenlabs_streams_pcm_in_pieces_across_odd_chunks() {
    let samples = voice();
    let bytes = pcm_bytes(&samples);
    let mock = HttpMock::start(move |_| Reply::pcm(Body::Chunked(odd_pieces(&bytes))));
    let mut tts = elevenlabs(&mock);
    assert!(tts.name().starts_with("elevenlabs eleven_turbo_v2_5"));
    let (result, audio, calls) = speak(&mut tts, "Your appointment is at 3:30 PM.");
    result.unwrap();
    assert_eq!(audio, samples);
    assert!(calls > 1, "audio is handed on piece by piece");

    let requests = mock.requests();
    let req = &requests[0];
    assert_eq!(req.method, "POST");
    assert_eq!(
        req.target,
        format!(
            "/v1/text-to-speech/{}/stream?output_format=pcm_24000",
            voice_agent::providers::tts::elevenlabs::DEFAULT_VOICE_ID
        )
    );
    assert_eq!(req.header("xi-api-key"), Some(KEY));
    let body = req.json();
    assert_eq!(body["text"], "Your appointment is at 3:30 PM.");
    assert_eq!(body["model_id"], DEFAULT_MODEL);
    assert!(body["voice_settings"]["similarity_boost"].is_number());

    // Nothing speakable: no request.
    let (result, audio, _) = speak(&mut tts, " ... ");
    result.unwrap();
    assert!(audio.is_empty());
    assert_eq!(mock.requests().len(), 1);
}

#[test]
fn elevenlabs_hands_on_the_first_audio_before_the_body_ends() {
    let samples = voice();
    let bytes = pcm_bytes(&samples);
    let (open_gate, gate) = crossbeam_channel::bounded::<()>(1);
    let gate = std::sync::Mutex::new(Some(gate));
    let mock = HttpMock::start(move |_| {
        let mut reply = Reply::pcm(Body::Chunked(
            bytes.chunks(4800).map(<[u8]>::to_vec).collect(),
        ));
        reply.spacing = Duration::from_millis(10);
        // The server holds the rest of the body until the test has the first piece.
        reply.gate = gate.lock().unwrap().take();
        reply
    });
    let mut tts = ElevenLabsTts::new(
        ElevenLabsConfig::new(KEY)
            .with_base_url(&mock.url)
            .with_voice("voice-42"),
    )
    .unwrap();
    let mut audio = Vec::new();
    tts.synthesize("Hello there.", &CancelToken::never(), &mut |pcm| {
        if audio.is_empty() {
            let _ = open_gate.try_send(());
        }
        audio.extend_from_slice(pcm);
    })
    .unwrap();
    assert_eq!(audio, samples);
    let log = mock.log.lock().unwrap();
    assert!(
        log.gate_opened,
        "the first audio reached the caller while the body was still open"
    );
    assert!(log.requests[0]
        .target
        .starts_with("/v1/text-to-speech/voice-42/stream"));
}

#[test]
fn elevenlabs_mid_stream_drop_returns_the_audio_so_far_and_an_error() {
    let samples = voice();
    let bytes = pcm_bytes(&samples);
    let sent = bytes[..10_000].to_vec();
    let mock = HttpMock::start(move |_| {
        Reply::pcm(Body::ChunkedThenDrop(vec![
            sent[..5_001].to_vec(),
            sent[5_001..].to_vec(),
        ]))
    });
    let mut tts = elevenlabs(&mock);
    let (result, audio, _) = speak(&mut tts, "This will break.");
    let message = service_error(result);
    assert!(
        message.starts_with("the ElevenLabs audio stream broke off after 10000 bytes"),
        "{message}"
    );
    assert_eq!(audio, samples[..5_000]);
}

#[test]
fn elevenlabs_cancel_returns_at_once_and_drops_the_connection() {
    let samples = voice();
    let bytes = pcm_bytes(&samples);
    let mock = HttpMock::start(move |_| {
        let mut reply = Reply::pcm(Body::Chunked(
            bytes.chunks(480).map(<[u8]>::to_vec).collect(),
        ));
        reply.spacing = Duration::from_millis(20);
        reply
    });
    let mut tts = elevenlabs(&mock);
    let generation = Generation::new();
    let cancel = generation.token();
    let mut audio = Vec::new();
    tts.synthesize("A long sentence nobody will hear.", &cancel, &mut |pcm| {
        audio.extend_from_slice(pcm);
        generation.bump(); // barge-in as soon as the first audio plays
    })
    .unwrap();
    assert!(!audio.is_empty());
    assert!(audio.len() < samples.len(), "stopped before the end");
    assert!(
        wait_until(|| mock.log.lock().unwrap().client_gone),
        "the server saw the connection closed"
    );
    assert!(!mock.log.lock().unwrap().completed);

    // Already cancelled: no request at all.
    let before = mock.requests().len();
    tts.synthesize("Never sent.", &cancel, &mut |_| panic!("no audio"))
        .unwrap();
    assert_eq!(mock.requests().len(), before);
}

#[test]
fn elevenlabs_errors_are_one_clear_message_without_the_key() {
    let mock = HttpMock::start(|req| {
        let status = match req.json()["text"].as_str() {
            Some("401") => 401,
            Some("429") => 429,
            _ => 500,
        };
        Reply::json(
            status,
            json!({"detail": {"status": "invalid_api_key",
                "message": format!("key {} is not valid", req.header("xi-api-key").unwrap_or(""))}}),
        )
    });
    let mut tts = elevenlabs(&mock);
    let m = service_error(speak(&mut tts, "401").0);
    assert!(
        m.starts_with("ElevenLabs rejected the API key (HTTP 401): check ELEVENLABS_API_KEY"),
        "{m}"
    );
    assert!(m.contains("invalid_api_key"), "{m}");
    let m429 = service_error(speak(&mut tts, "429").0);
    assert!(m429.starts_with("ElevenLabs is rate-limiting"), "{m429}");
    let m500 = service_error(speak(&mut tts, "500").0);
    assert!(m500.contains("failed on its side (HTTP 500)"), "{m500}");
    for message in [&m, &m429, &m500] {
        assert!(!message.contains(KEY), "key leaked: {message}");
    }
    assert!(!format!("{:?}", tts.config()).contains(KEY));
}

#[test]
fn elevenlabs_unreachable_host_is_one_clear_message() {
    let port = closed_port();
    let config = ElevenLabsConfig::new(KEY).with_base_url(format!("http://127.0.0.1:{port}"));
    let mut tts = ElevenLabsTts::new(config).unwrap();
    let m = service_error(speak(&mut tts, "Hello.").0);
    assert!(
        m.starts_with(&format!("cannot reach ElevenLabs at 127.0.0.1:{port}: ")),
        "{m}"
    );
}

#[test]
fn openai_speech_streams_pcm() {
    let samples = voice();
    let bytes = pcm_bytes(&samples);
    let mock = HttpMock::start(move |req| {
        assert_eq!(req.target, "/v1/audio/speech");
        Reply::pcm(Body::Chunked(odd_pieces(&bytes)))
    });
    let config = OpenAiTtsConfig::new(format!("{}/v1/", mock.url))
        .with_key("sk-tts")
        .with_voice("nova");
    let mut tts = OpenAiTts::new(config).unwrap();
    let (result, audio, calls) = speak(&mut tts, "See you on Tuesday.");
    result.unwrap();
    assert_eq!(audio, samples);
    assert!(calls > 1);
    let req = &mock.requests()[0];
    assert_eq!(req.header("authorization"), Some("Bearer sk-tts"));
    assert_eq!(
        req.json(),
        json!({"model": "tts-1", "voice": "nova", "input": "See you on Tuesday.", "response_format": "pcm"})
    );
}

#[test]
fn openai_speech_cut_short_returns_the_audio_so_far_and_an_error() {
    let samples = voice();
    let bytes = pcm_bytes(&samples);
    let mock = HttpMock::start(move |_| {
        Reply::pcm(Body::FixedThenDrop {
            whole: bytes.clone(),
            sent: 6_000,
        })
    });
    let mut tts = OpenAiTts::new(OpenAiTtsConfig::new(format!("{}/v1", mock.url))).unwrap();
    let (result, audio, _) = speak(&mut tts, "Cut short.");
    let m = service_error(result);
    assert!(
        m.starts_with("the text-to-speech audio stream broke off after 6000 bytes"),
        "{m}"
    );
    assert_eq!(audio, samples[..3_000]);
}

#[test]
fn openai_speech_errors_and_unreachable_host() {
    let mock = HttpMock::start(|_| {
        Reply::json(
            429,
            json!({"error": {"message": "You exceeded your current quota"}}),
        )
    });
    let mut tts =
        OpenAiTts::new(OpenAiTtsConfig::new(format!("{}/v1", mock.url)).with_key("sk-never-shown"))
            .unwrap();
    let m = service_error(speak(&mut tts, "Hello.").0);
    let host = &mock.url[7..];
    assert!(
        m.starts_with(&format!(
            "the text-to-speech server at {host} is rate-limiting"
        )),
        "{m}"
    );
    assert!(m.contains("You exceeded your current quota"), "{m}");
    assert!(!m.contains("sk-never-shown"));

    let port = closed_port();
    let mut tts =
        OpenAiTts::new(OpenAiTtsConfig::new(format!("http://127.0.0.1:{port}/v1"))).unwrap();
    let m = service_error(speak(&mut tts, "Hello.").0);
    assert!(
        m.starts_with(&format!(
            "cannot reach the text-to-speech server at 127.0.0.1:{port}: "
        )),
        "{m}"
    );
}

#[test]
fn elevenlabs_stalled_stream_times_out_with_the_audio_so_far() {
    let samples = voice();
    let bytes = pcm_bytes(&samples);
    let sent = bytes[..9_600].to_vec();
    let mock = HttpMock::start(move |_| {
        Reply::pcm(Body::ChunkedThenStall {
            pieces: vec![sent[..4_801].to_vec(), sent[4_801..].to_vec()],
            silence: Duration::from_secs(30),
        })
    });
    let mut config = ElevenLabsConfig::new(KEY).with_base_url(&mock.url);
    config.read_timeout = Duration::from_millis(300);
    let mut tts = ElevenLabsTts::new(config).unwrap();
    let started = Instant::now();
    let (result, audio, _) = speak(&mut tts, "This will stall.");
    let m = service_error(result);
    assert!(
        m.starts_with(
            "the ElevenLabs audio stream stalled after 9600 bytes: nothing arrived for 300 ms"
        ),
        "{m}"
    );
    assert!(!m.contains(KEY));
    // Every whole sample before the stall was handed on.
    assert_eq!(audio, samples[..4_800]);
    // The read timeout fired: the server would have stayed silent for 30 s.
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn openai_speech_slow_stream_arrives_whole_as_it_comes() {
    let samples = voice();
    let bytes = pcm_bytes(&samples);
    let mock = HttpMock::start(move |_| {
        let mut reply = Reply::pcm(Body::Chunked(
            bytes.chunks(2_000).map(<[u8]>::to_vec).collect(),
        ));
        reply.spacing = Duration::from_millis(60);
        reply
    });
    let mut config = OpenAiTtsConfig::new(format!("{}/v1", mock.url));
    // Each wait is shorter than this, the whole body longer: the limit is per read.
    config.read_timeout = Duration::from_millis(400);
    let pieces = pcm_bytes(&samples).len().div_ceil(2_000);
    let mut tts = OpenAiTts::new(config).unwrap();
    let started = Instant::now();
    let (result, audio, calls) = speak(&mut tts, "Slowly, please.");
    result.unwrap();
    assert_eq!(audio, samples);
    assert!(
        calls >= pieces,
        "{calls} hand-overs for {pieces} pieces: audio goes on as each piece arrives"
    );
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert!(mock.log.lock().unwrap().completed);
}

#[test]
fn openai_speech_stalled_stream_times_out_with_the_audio_so_far() {
    let samples = voice();
    let bytes = pcm_bytes(&samples);
    let mock = HttpMock::start(move |_| {
        Reply::pcm(Body::ChunkedThenStall {
            pieces: vec![bytes[..3_001].to_vec()],
            silence: Duration::from_secs(30),
        })
    });
    let mut config = OpenAiTtsConfig::new(format!("{}/v1", mock.url));
    config.read_timeout = Duration::from_millis(300);
    let mut tts = OpenAiTts::new(config).unwrap();
    let started = Instant::now();
    let (result, audio, _) = speak(&mut tts, "Stall.");
    let m = service_error(result);
    assert!(
        m.starts_with(
            "the text-to-speech audio stream stalled after 3001 bytes: nothing arrived for 300 ms"
        ),
        "{m}"
    );
    assert_eq!(audio, samples[..1_500]);
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn openai_speech_rejected_key_and_server_error_are_clear() {
    let key = "sk-tts-secret-42";
    let mock = HttpMock::start(move |req| {
        let status = if req.json()["input"] == "401" {
            401
        } else {
            500
        };
        // A server that echoes the key back must not get it into our messages.
        Reply::json(
            status,
            json!({"error": {"message": format!("Incorrect API key provided: {key}")}}),
        )
    });
    let config = OpenAiTtsConfig::new(format!("{}/v1", mock.url)).with_key(key);
    let mut tts = OpenAiTts::new(config).unwrap();
    let host = &mock.url[7..];
    let m401 = service_error(speak(&mut tts, "401").0);
    assert_eq!(
        m401,
        format!(
            "the text-to-speech server at {host} rejected the API key (HTTP 401): check TTS_API_KEY (server said: Incorrect API key provided: <redacted>)"
        )
    );
    let m500 = service_error(speak(&mut tts, "500").0);
    assert!(
        m500.starts_with(&format!(
            "the text-to-speech server at {host} failed on its side (HTTP 500): try again later"
        )),
        "{m500}"
    );
    assert!(!m500.contains(key), "{m500}");
    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("Bearer {key}").as_str())
    );
}

#[test]
fn credentials_in_a_base_url_stay_out_of_messages() {
    let port = closed_port();
    let config =
        OpenAiTtsConfig::new(format!("http://alice:hunter2@127.0.0.1:{port}/v1")).with_key("k");
    assert!(!format!("{config:?}").contains("hunter2"));
    let mut tts = OpenAiTts::new(config).unwrap();
    let m = service_error(speak(&mut tts, "Hello.").0);
    assert!(
        m.starts_with(&format!(
            "cannot reach the text-to-speech server at 127.0.0.1:{port}: "
        )),
        "{m}"
    );
    assert!(!m.contains("hunter2") && !m.contains("alice"), "{m}");
}
