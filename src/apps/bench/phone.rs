//! The phone line: the caller's utterances as a telephony platform carries them.
//!
//! - WER: the session's speech-to-text on each utterance, wideband (16 kHz) and through the
//!   phone line (band-limited to 8 kHz sampling and μ-law coded, then back to 16 kHz).
//! - TTFA through `/telephony`: a platform-like client streams each utterance as 20 ms μ-law
//!   media events at real time (a frame goes out once its 20 ms have been "spoken"). From the
//!   utterance's last audible sample (the last at or above -40 dBFS), to the first agent media
//!   event back. The same client over the browser's `/ws` (16 kHz PCM frames) gives the
//!   figure to compare it with, measured the same way in the same run.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

use super::error::BenchError;
use super::stats::Summary;
use super::utterances::{last_audible, Utterance};
use super::wer::wer;
use crate::apps::server::{telephony, ServerHandle};
use crate::foundation::audio::mulaw::{self, through_phone_line, PHONE_FRAME, PHONE_RATE};
use crate::foundation::audio::resample::resample_i16;
use crate::foundation::audio::{FRAME_SAMPLES, INPUT_RATE};
use crate::providers::cloud::is_timeout;
use crate::providers::session::SessionFactory;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PhoneReport {
    pub stt_name: String,
    /// Utterances with known words that the WER was measured on.
    pub utterances: usize,
    /// Word error rate over all of them (errors / reference words), wideband and phone band.
    pub wer_wideband: Option<f64>,
    pub wer_phone: Option<f64>,
    /// TTFA through `/telephony`, from the caller's last audible sample.
    pub ttfa_ms: Option<Summary>,
    /// The same through the browser's `/ws`, measured the same way.
    #[serde(default)]
    pub ttfa_browser_ms: Option<Summary>,
    /// Turns that got no answer within the limit.
    pub unanswered: usize,
}

/// The word error rate of `stt` on each utterance, wideband and through the phone line: the
/// total over all utterances, weighting each by its number of words.
pub fn wer_by_band(
    factory: &dyn SessionFactory,
    utterances: &[Utterance],
) -> Result<(String, usize, Option<f64>, Option<f64>), BenchError> {
    let mut p = factory.session()?;
    let (mut words, mut wide, mut phone, mut n) = (0.0, 0.0, 0.0, 0);
    for u in utterances {
        let Some(text) = &u.text else { continue };
        let count = text.split_whitespace().count() as f64;
        let mut heard = |pcm: &[i16]| -> Result<String, BenchError> {
            p.stt.discard_utterance();
            p.stt
                .transcribe(pcm)
                .map_err(|e| BenchError::Model(e.to_string()))
        };
        wide += wer(text, &heard(&u.pcm)?) * count;
        phone += wer(text, &heard(&through_phone_line(&u.pcm, INPUT_RATE))?) * count;
        words += count;
        n += 1;
    }
    let rate = |errors: f64| (words > 0.0).then(|| errors / words);
    Ok((p.stt.name(), n, rate(wide), rate(phone)))
}

/// One call's client, speaking the platform's side of the media stream, or a browser's.
struct PhoneCaller {
    ws: WebSocket<TcpStream>,
    /// A browser over `/ws` (16 kHz PCM), not a phone.
    browser: bool,
    stream: String,
    /// When the last agent media event came, and the first since the mark was set.
    last_media: Option<Instant>,
    first_since: Option<Instant>,
}

impl PhoneCaller {
    fn dial(addr: SocketAddr, browser: bool) -> Result<Self, BenchError> {
        let fail = |e: String| BenchError::Model(format!("phone call: {e}"));
        let stream = TcpStream::connect(addr).map_err(|e| fail(e.to_string()))?;
        let path = if browser { "/ws" } else { "/telephony" };
        let (mut ws, _) = tungstenite::client(format!("ws://{addr}{path}"), stream)
            .map_err(|e| fail(e.to_string()))?;
        ws.get_ref()
            .set_read_timeout(Some(Duration::from_millis(2)))
            .map_err(|e| fail(e.to_string()))?;
        let sid = "MZbench".to_string();
        let greetings = if browser { 0 } else { 2 };
        for m in [
            json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
            json!({"event": "start", "streamSid": sid, "start": {
                "streamSid": sid, "callSid": "CAbench",
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}),
        ]
        .into_iter()
        .take(greetings)
        {
            ws.send(Message::text(m.to_string()))
                .map_err(|e| fail(e.to_string()))?;
        }
        Ok(Self {
            ws,
            browser,
            stream: sid,
            last_media: None,
            first_since: None,
        })
    }

    /// Agent audio arrived now.
    fn agent_audio(&mut self) {
        let now = Instant::now();
        self.last_media = Some(now);
        self.first_since.get_or_insert(now);
    }

    /// Read what has arrived: note agent media, echo marks at once (the bench plays nothing).
    fn read(&mut self) -> Result<(), BenchError> {
        loop {
            match self.ws.read() {
                Ok(Message::Text(t)) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap_or_default();
                    match v["event"].as_str() {
                        Some("media") => self.agent_audio(),
                        Some("mark") => {
                            let name = v["mark"]["name"].as_str().unwrap_or_default();
                            let echo = telephony::mark(&self.stream, name);
                            let _ = self.ws.send(Message::text(echo));
                        }
                        _ => {}
                    }
                }
                Ok(Message::Binary(_)) => self.agent_audio(),
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if is_timeout(&e) => return Ok(()),
                Err(e) => return Err(BenchError::Model(format!("phone call: {e}"))),
            }
        }
    }

    /// Send 16 kHz audio, one 20 ms frame each time its 20 ms have passed: as μ-law media
    /// events at 8 kHz on a phone, as PCM frames from a browser.
    fn speak(&mut self, pcm: &[i16], start: Instant) -> Result<(), BenchError> {
        let (audio, frame) = if self.browser {
            (pcm.to_vec(), FRAME_SAMPLES)
        } else {
            (resample_i16(pcm, INPUT_RATE, PHONE_RATE), PHONE_FRAME)
        };
        for (i, frame) in audio.chunks(frame).enumerate() {
            let due = start + Duration::from_millis(20 * (i as u64 + 1));
            while Instant::now() < due {
                self.read()?;
            }
            let msg = if self.browser {
                Message::binary(
                    frame
                        .iter()
                        .flat_map(|s| s.to_le_bytes())
                        .collect::<Vec<u8>>(),
                )
            } else {
                Message::text(telephony::media(&self.stream, &mulaw::encode_all(frame)))
            };
            self.ws
                .send(msg)
                .map_err(|e| BenchError::Model(format!("phone call: {e}")))?;
        }
        Ok(())
    }

    /// Silence until `done` holds or `limit` passes.
    fn silence_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&Self) -> bool,
    ) -> Result<bool, BenchError> {
        let end = Instant::now() + limit;
        let quiet = vec![0i16; FRAME_SAMPLES * 5];
        while Instant::now() < end {
            if done(self) {
                return Ok(true);
            }
            self.speak(&quiet, Instant::now())?;
        }
        Ok(done(self))
    }
}

/// TTFA through `/telephony` on `server` (through `/ws` when `browser`), in one call: a turn
/// per utterance after `warm_up`.
pub fn ttfa(
    server: &ServerHandle,
    utterances: &[Utterance],
    warm_up: &Utterance,
    browser: bool,
) -> Result<(Vec<f64>, usize), BenchError> {
    let mut call = PhoneCaller::dial(server.ws_addr(), browser)?;
    call.silence_until(Duration::from_millis(500), |_| false)?;
    let (mut ttfa, mut unanswered) = (Vec::new(), 0);
    for (i, u) in std::iter::once(warm_up).chain(utterances).enumerate() {
        let start = Instant::now();
        let end_of_speech =
            start + Duration::from_secs_f64(last_audible(&u.pcm) as f64 / f64::from(INPUT_RATE));
        call.first_since = None;
        call.speak(&u.pcm, start)?;
        let answered = call.silence_until(Duration::from_secs(15), |c| c.first_since.is_some())?;
        match call.first_since {
            Some(first) if answered && i > 0 => {
                ttfa.push(first.saturating_duration_since(end_of_speech).as_secs_f64() * 1000.0)
            }
            Some(_) => {}
            None => unanswered += 1,
        }
        // Let the reply play out before the next request (else it would be a barge-in).
        call.silence_until(Duration::from_secs(30), |c| {
            c.last_media
                .is_some_and(|t| t.elapsed() > Duration::from_millis(1_200))
        })?;
    }
    let stop = json!({"event": "stop", "streamSid": call.stream});
    let _ = call.ws.send(Message::text(stop.to_string()));
    let _ = call.ws.close(None);
    drop(call);
    // Until the server has let the call go, so the next one finds its slot.
    super::capacity::wait_sessions(server, 0, Duration::from_secs(10));
    Ok((ttfa, unanswered))
}
