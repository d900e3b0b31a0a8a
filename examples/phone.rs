//! Phone calls: the receptionist answers a call carried by a telephony media stream (Twilio's
//! Media Streams protocol, see `src/apps/server/telephony.rs`). This example plays the telephony
//! platform. It starts the server with the local models, dials `/telephony`, speaks each caller
//! line (Piper's voice through an 8 kHz μ-law line), echoes the agent's marks as a phone does
//! once their audio has played, and prints what Whisper hears in the μ-law audio that comes
//! back. `out/phone-agent.wav` keeps the agent's side of the call, as the caller's phone got it.
//!
//! ```text
//! make setup && cargo run --release --example phone [-- "a caller line" ...]
//! ```

use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine;
use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

use voice_agent::apps::compose::{ProviderOptions, Providers};
use voice_agent::apps::server::{self, telephony, ServerConfig};
use voice_agent::foundation::audio::mulaw::{self, PHONE_FRAME, PHONE_RATE};
use voice_agent::foundation::audio::resample::resample_i16;
use voice_agent::foundation::audio::wav::write_wav_mono;
use voice_agent::foundation::audio::{INPUT_RATE, OUTPUT_RATE};
use voice_agent::foundation::cancel::CancelToken;
use voice_agent::providers::cloud::is_timeout;
use voice_agent::providers::models::models_dir;
use voice_agent::providers::stt::whisper::{RunOptions, WhisperModel};
use voice_agent::providers::tts::piper::{PiperTts, PiperVoice};
use voice_agent::providers::tts::TextToSpeech;

const STREAM: &str = "MZexample";
const LINES: &[&str] = &[
    "Hello, I would like to book an appointment with doctor Patel.",
    "Next Monday at ten in the morning, please.",
    "My name is John Smith, and my date of birth is March fourth, nineteen eighty five.",
    "Yes, please book it.",
];

fn send(ws: &mut WebSocket<TcpStream>, v: Value) -> anyhow::Result<()> {
    Ok(ws.send(Message::text(v.to_string()))?)
}

/// Stream 8 kHz μ-law frames at real time while taking in what the agent sends. Marks are echoed
/// when the agent audio before them has had time to play (the phone's playback is simulated).
struct Phone {
    ws: WebSocket<TcpStream>,
    agent: Vec<u8>,
    last_media: Instant,
    marks: Vec<(usize, String)>,
    started: Instant,
}

impl Phone {
    fn pump(&mut self) -> anyhow::Result<()> {
        loop {
            match self.ws.read() {
                Ok(Message::Text(t)) => {
                    let v: Value = serde_json::from_str(t.as_str())?;
                    match v["event"].as_str() {
                        Some("media") => {
                            let b64 = v["media"]["payload"].as_str().unwrap_or_default();
                            let bytes = base64::engine::general_purpose::STANDARD.decode(b64)?;
                            self.agent.extend(bytes);
                            self.last_media = Instant::now();
                        }
                        Some("mark") => {
                            let name = v["mark"]["name"].as_str().unwrap_or_default();
                            self.marks.push((self.agent.len(), name.to_string()));
                        }
                        Some("clear") => println!("  (clear: the caller talked over the agent)"),
                        _ => {}
                    }
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if is_timeout(&e) => break,
                Err(e) => return Err(e.into()),
            }
        }
        // Audio plays at 8,000 samples a second from when the call began.
        let played = (self.started.elapsed().as_secs_f64() * f64::from(PHONE_RATE)) as usize;
        while self.marks.first().is_some_and(|(at, _)| *at <= played) {
            let (_, name) = self.marks.remove(0);
            self.ws
                .send(Message::text(telephony::mark(STREAM, &name)))?;
        }
        Ok(())
    }

    fn say(&mut self, narrow: &[i16]) -> anyhow::Result<()> {
        let start = Instant::now();
        for (i, frame) in narrow.chunks(PHONE_FRAME).enumerate() {
            while Instant::now() < start + Duration::from_millis(20 * (i as u64 + 1)) {
                self.pump()?;
            }
            let media = telephony::media(STREAM, &mulaw::encode_all(frame));
            self.ws.send(Message::text(media))?;
        }
        Ok(())
    }
}

fn main() -> anyhow::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let lines: Vec<&str> = if args.is_empty() {
        LINES.to_vec()
    } else {
        args.iter().map(String::as_str).collect()
    };

    // The server, with the local models and a scratch database.
    let db = std::env::temp_dir().join(format!("voice-agent-phone-{}.sqlite", std::process::id()));
    let opts = ProviderOptions {
        db: Some(db.clone()),
        llm: Some("builtin".into()),
        ..ProviderOptions::default()
    };
    let providers =
        Arc::new(Providers::load(&opts).context("the local models (run `make setup`)")?);
    let server = server::start(
        ServerConfig {
            bind: "127.0.0.1:0".into(),
            ..ServerConfig::default()
        },
        providers,
    )?;

    // The platform dials in: `connected`, then `start` with the stream's id and media format.
    let addr = server.ws_addr();
    let (mut ws, _) =
        tungstenite::client(format!("ws://{addr}/telephony"), TcpStream::connect(addr)?)?;
    ws.get_ref()
        .set_read_timeout(Some(Duration::from_millis(2)))?;
    send(
        &mut ws,
        json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
    )?;
    send(
        &mut ws,
        json!({"event": "start", "streamSid": STREAM, "start": {"streamSid": STREAM, "callSid": "CAexample",
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}),
    )?;
    let mut phone = Phone {
        ws,
        agent: Vec::new(),
        last_media: Instant::now(),
        marks: Vec::new(),
        started: Instant::now(),
    };

    let dir = models_dir();
    let mut caller = PiperTts::new(PiperVoice::load_steady(&dir)?);
    let whisper = WhisperModel::shared("tiny.en")?;
    let full = RunOptions {
        full_window: true,
        ..RunOptions::default()
    };
    for line in lines {
        println!("caller: {line}");
        let mut pcm = Vec::new();
        caller.synthesize(line, &CancelToken::never(), &mut |c| {
            pcm.extend_from_slice(c)
        })?;
        let from = phone.agent.len();
        phone.say(&resample_i16(&pcm, OUTPUT_RATE, PHONE_RATE))?;
        // Silence until the reply has come and gone quiet.
        let silence = vec![0i16; PHONE_FRAME * 5];
        while phone.agent.len() == from || phone.last_media.elapsed() < Duration::from_millis(1_500)
        {
            phone.say(&silence)?;
        }
        // What the caller's phone got, as Whisper hears it.
        let reply = mulaw::decode_all(&phone.agent[from..]);
        let heard = whisper.run(
            &resample_i16(&reply, PHONE_RATE, INPUT_RATE),
            &full,
            &CancelToken::never(),
        )?;
        println!(
            "agent:  {}",
            heard.map(|t| t.text).unwrap_or_default().trim()
        );
    }
    send(&mut phone.ws, json!({"event": "stop", "streamSid": STREAM}))?;
    let all = mulaw::decode_all(&phone.agent);
    std::fs::create_dir_all("out")?;
    write_wav_mono(
        std::path::Path::new("out/phone-agent.wav"),
        &all,
        PHONE_RATE,
    )?;
    println!("the agent's side of the call, as the phone got it: out/phone-agent.wav");
    server.shutdown();
    let _ = std::fs::remove_file(db);
    Ok(())
}
