//! Scripted fakes of every seam, for tests, examples and benchmarks: they run the real pipeline
//! code paths with deterministic providers and no models.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::foundation::audio::OUTPUT_RATE;
use crate::foundation::audio::{AudioOutput, INPUT_RATE};
use crate::foundation::cancel::CancelToken;
use crate::foundation::text::turn_end::TurnVerdict;
use crate::providers::llm::tools::ToolSet;
use crate::providers::llm::{
    ChatEvent, ChatMessage, ChatModel, FinishReason, LlmError, ToolCall, ToolSpec,
};
use crate::providers::stt::{SpeechToText, SttError};
use crate::providers::tts::{TextToSpeech, TtsError};

/// Caller audio made of tone bursts ("speech" an energy VAD hears) and silences, 16 kHz.
/// `pattern`: (milliseconds, is_speech) pairs in order.
pub fn synthetic_caller(pattern: &[(u64, bool)]) -> Vec<i16> {
    let mut out = Vec::new();
    for &(ms, speech) in pattern {
        let n = (ms * INPUT_RATE as u64 / 1000) as usize;
        for i in 0..n {
            let v = if speech {
                // A vowel-like mix of harmonics with a slow tremolo.
                let t = i as f32 / INPUT_RATE as f32;
                let tremolo = 0.75 + 0.25 * (2.0 * std::f32::consts::PI * 4.0 * t).sin();
                let s = (2.0 * std::f32::consts::PI * 180.0 * t).sin()
                    + 0.5 * (2.0 * std::f32::consts::PI * 360.0 * t).sin()
                    + 0.25 * (2.0 * std::f32::consts::PI * 720.0 * t).sin();
                s * 0.2 * tremolo
            } else {
                0.0
            };
            out.push((v * 32767.0) as i16);
        }
    }
    out
}

/// Returns scripted transcripts in order, one per utterance (empty once the script runs out).
pub struct ScriptedStt {
    lines: VecDeque<String>,
    pub delay: Duration,
    /// Lengths (in samples) of the utterances it was given, shared with the test.
    pub heard: Arc<Mutex<Vec<usize>>>,
    /// Like a model shared by busy sessions, it has no time for a transcript at the sound's
    /// pause (`transcribe_early` gives nothing and takes no line).
    pub busy_early: bool,
}

impl ScriptedStt {
    pub fn new(lines: &[&str]) -> Self {
        Self {
            lines: lines.iter().map(|s| s.to_string()).collect(),
            delay: Duration::ZERO,
            heard: Arc::default(),
            busy_early: false,
        }
    }
}

impl SpeechToText for ScriptedStt {
    fn name(&self) -> String {
        "scripted".into()
    }
    fn transcribe(&mut self, audio: &[i16]) -> Result<String, SttError> {
        std::thread::sleep(self.delay);
        if let Ok(mut h) = self.heard.lock() {
            h.push(audio.len());
        }
        Ok(self.lines.pop_front().unwrap_or_default())
    }
    fn transcribe_early(
        &mut self,
        audio: &[i16],
        _cancel: &CancelToken,
    ) -> Result<Option<String>, SttError> {
        match self.busy_early {
            true => Ok(None),
            false => self.transcribe(audio).map(Some),
        }
    }
}

/// One scripted model answer.
#[derive(Clone, Debug)]
pub enum ScriptStep {
    Text(String),
    Call { name: String, arguments: Value },
    Fail(String),
}

/// What one `ScriptedChat::stream` call did: lets a test tell an aborted stream from one that
/// ran to the end.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamLog {
    /// Text tokens the script held for this answer.
    pub scripted_tokens: usize,
    /// Text tokens handed to the caller before the stream ended.
    pub sent_tokens: usize,
    /// The text of those tokens.
    pub sent_text: String,
    /// Tools the caller offered.
    pub tools_offered: usize,
    /// The stream stopped because its cancel token fired.
    pub cancelled: bool,
}

/// A chat model that plays back scripted answers, one per `stream` call, token by token.
#[derive(Clone)]
pub struct ScriptedChat {
    answers: VecDeque<Vec<ScriptStep>>,
    pub first_token_delay: Duration,
    pub token_delay: Duration,
    /// The histories it was called with, shared with the test.
    pub calls: Arc<Mutex<Vec<Vec<ChatMessage>>>>,
    /// One entry per `stream` call, in order, shared with the test.
    pub streams: Arc<Mutex<Vec<StreamLog>>>,
    /// What it makes of the words at every pause (`ChatModel::judge_turn`); none by default.
    pub turn_verdict: Option<TurnVerdict>,
    next_id: u64,
}

impl ScriptedChat {
    pub fn new(answers: Vec<Vec<ScriptStep>>) -> Self {
        Self {
            answers: answers.into(),
            first_token_delay: Duration::ZERO,
            token_delay: Duration::ZERO,
            calls: Arc::default(),
            streams: Arc::default(),
            turn_verdict: None,
            next_id: 0,
        }
    }

    /// Answers that are plain text replies.
    pub fn replies(texts: &[&str]) -> Self {
        Self::new(
            texts
                .iter()
                .map(|t| vec![ScriptStep::Text(t.to_string())])
                .collect(),
        )
    }
}

impl ChatModel for ScriptedChat {
    fn name(&self) -> String {
        "scripted".into()
    }

    fn snapshot(&self) -> Option<Box<dyn ChatModel>> {
        Some(Box::new(self.clone()))
    }

    fn judge_turn(&self, _history: &[ChatMessage], _heard: &str) -> Option<TurnVerdict> {
        self.turn_verdict
    }

    fn stream(
        &mut self,
        messages: &[ChatMessage],
        tools: &[ToolSpec],
        cancel: &CancelToken,
        on_event: &mut dyn FnMut(ChatEvent),
    ) -> Result<FinishReason, LlmError> {
        if let Ok(mut c) = self.calls.lock() {
            c.push(messages.to_vec());
        }
        let steps = self.answers.pop_front().unwrap_or_default();
        let mut log = StreamLog {
            scripted_tokens: steps
                .iter()
                .map(|s| match s {
                    ScriptStep::Text(t) => t.split_inclusive(' ').count(),
                    _ => 0,
                })
                .sum(),
            tools_offered: tools.len(),
            ..StreamLog::default()
        };
        let finish = self.play(steps, cancel, on_event, &mut log);
        log.cancelled = matches!(finish, Ok(FinishReason::Cancelled));
        if let Ok(mut s) = self.streams.lock() {
            s.push(log);
        }
        finish
    }
}

impl ScriptedChat {
    fn play(
        &mut self,
        steps: Vec<ScriptStep>,
        cancel: &CancelToken,
        on_event: &mut dyn FnMut(ChatEvent),
        log: &mut StreamLog,
    ) -> Result<FinishReason, LlmError> {
        if cancel.sleep(self.first_token_delay) {
            return Ok(FinishReason::Cancelled);
        }
        let mut called = false;
        for step in steps {
            match step {
                ScriptStep::Text(t) => {
                    // Word-sized tokens, keeping the spaces.
                    for tok in t.split_inclusive(' ') {
                        if cancel.is_cancelled() {
                            return Ok(FinishReason::Cancelled);
                        }
                        log.sent_tokens += 1;
                        log.sent_text.push_str(tok);
                        on_event(ChatEvent::Text(tok.to_string()));
                        if cancel.sleep(self.token_delay) {
                            return Ok(FinishReason::Cancelled);
                        }
                    }
                }
                ScriptStep::Call { name, arguments } => {
                    self.next_id += 1;
                    called = true;
                    on_event(ChatEvent::ToolCall(ToolCall {
                        id: format!("call_{}", self.next_id),
                        name,
                        arguments: arguments.to_string(),
                    }));
                }
                ScriptStep::Fail(m) => return Err(LlmError::Protocol(m)),
            }
        }
        Ok(if called {
            FinishReason::ToolCalls
        } else {
            FinishReason::Stop
        })
    }
}

/// The peak level `ToneTts` uses for a text: it depends on the first character, so a test can tell
/// from the audio alone which reply it belongs to.
pub fn tone_level(text: &str) -> i16 {
    let c = text.chars().next().map_or(0, |c| c as u32);
    2_000 + (c % 13) as i16 * 1_000
}

/// Speaks a tone whose length follows the text (`ms_per_char`) and whose level is
/// [`tone_level`], in 20 ms pieces.
pub struct ToneTts {
    pub ms_per_char: u64,
    pub first_audio_delay: Duration,
    /// Pace synthesis at this multiple of real time (0 = instant).
    pub realtime_factor: f64,
    /// The texts it spoke, shared with the test.
    pub spoken: Arc<Mutex<Vec<String>>>,
    /// How each `synthesize` call went, in order, shared with the test.
    pub syntheses: Arc<Mutex<Vec<Synthesis>>>,
}

/// One `ToneTts::synthesize` call: a test can tell a synthesis cut off by its cancel token from
/// one that ran to the end.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Synthesis {
    pub text: String,
    /// Samples handed on.
    pub samples: usize,
    /// All of the text's audio was made (false: the cancel token stopped it).
    pub completed: bool,
}

impl Default for ToneTts {
    fn default() -> Self {
        Self {
            ms_per_char: 10,
            first_audio_delay: Duration::ZERO,
            realtime_factor: 0.0,
            spoken: Arc::default(),
            syntheses: Arc::default(),
        }
    }
}

impl TextToSpeech for ToneTts {
    fn name(&self) -> String {
        "tone".into()
    }

    fn synthesize(
        &mut self,
        text: &str,
        cancel: &CancelToken,
        on_audio: &mut dyn FnMut(&[i16]),
    ) -> Result<(), TtsError> {
        if let Ok(mut s) = self.spoken.lock() {
            s.push(text.to_string());
        }
        let mut log = Synthesis {
            text: text.to_string(),
            ..Synthesis::default()
        };
        self.tone(text, cancel, on_audio, &mut log);
        if let Ok(mut s) = self.syntheses.lock() {
            s.push(log);
        }
        Ok(())
    }
}

impl ToneTts {
    fn tone(
        &self,
        text: &str,
        cancel: &CancelToken,
        on_audio: &mut dyn FnMut(&[i16]),
        log: &mut Synthesis,
    ) {
        if cancel.sleep(self.first_audio_delay) {
            return;
        }
        let total =
            (text.chars().count() as u64 * self.ms_per_char * OUTPUT_RATE as u64 / 1000) as usize;
        let piece = OUTPUT_RATE as usize / 50;
        let level = tone_level(text) as f32;
        let mut i = 0;
        while i < total {
            if cancel.is_cancelled() {
                return;
            }
            let n = piece.min(total - i);
            let pcm: Vec<i16> = (i..i + n)
                .map(|k| {
                    let t = k as f32 / OUTPUT_RATE as f32;
                    // A square-ish tone reaching the full level within every 20 ms piece.
                    if (t * 440.0).fract() < 0.5 {
                        level as i16
                    } else {
                        -(level as i16)
                    }
                })
                .collect();
            on_audio(&pcm);
            i += n;
            log.samples = i;
            if self.realtime_factor > 0.0 {
                std::thread::sleep(Duration::from_secs_f64(
                    n as f64 / OUTPUT_RATE as f64 * self.realtime_factor,
                ));
            }
        }
        log.completed = true;
    }
}

/// One write the output received.
#[derive(Clone, Debug)]
pub struct Written {
    pub at: Instant,
    pub samples: usize,
    /// Peak absolute level of the write.
    pub peak: i16,
    /// Output `clear()` calls before this write.
    pub clears_before: usize,
}

/// An output that records what it was given and when, shared with the test.
#[derive(Clone, Default)]
pub struct RecordingOutput {
    pub writes: Arc<Mutex<Vec<Written>>>,
    pub clears: Arc<Mutex<Vec<Instant>>>,
}

impl RecordingOutput {
    pub fn total_samples(&self) -> usize {
        self.writes
            .lock()
            .map(|w| w.iter().map(|x| x.samples).sum())
            .unwrap_or(0)
    }
}

impl AudioOutput for RecordingOutput {
    fn write(&mut self, pcm: &[i16]) {
        let clears = self.clears.lock().map(|c| c.len()).unwrap_or(0);
        if let Ok(mut w) = self.writes.lock() {
            w.push(Written {
                at: Instant::now(),
                samples: pcm.len(),
                peak: pcm.iter().map(|s| s.saturating_abs()).max().unwrap_or(0),
                clears_before: clears,
            });
        }
    }
    fn clear(&mut self) {
        if let Ok(mut c) = self.clears.lock() {
            c.push(Instant::now());
        }
    }
}

/// Tools that echo their arguments (optionally slowly), counting calls; `read_only` declares
/// them free of effects, so speculative replies may run them.
#[derive(Clone, Default)]
pub struct EchoTools {
    pub delay: Duration,
    /// (name, arguments) of each call, recorded when the call completes (after `delay`).
    pub calls: Arc<Mutex<Vec<(String, String)>>>,
    pub read_only: bool,
}

impl ToolSet for EchoTools {
    fn specs(&self) -> Vec<ToolSpec> {
        vec![ToolSpec {
            name: "lookup".into(),
            description: "Look something up".into(),
            parameters: json!({"type": "object", "properties": {"q": {"type": "string"}}}),
        }]
    }
    fn call(&mut self, name: &str, arguments: &str) -> Value {
        std::thread::sleep(self.delay);
        if let Ok(mut c) = self.calls.lock() {
            c.push((name.to_string(), arguments.to_string()));
        }
        json!({"ok": true, "echo": arguments})
    }
    fn is_read_only(&self, _name: &str) -> bool {
        self.read_only
    }
}

/// A room where the agent's voice leaks back into the microphone: the output's audio comes
/// back, attenuated by `gain`, mixed into the caller's frames (paced in real time).
pub fn echo_room(caller: Vec<i16>, gain: f32) -> (EchoInput, EchoOutput) {
    let leak = Arc::new(Mutex::new(VecDeque::new()));
    (
        EchoInput {
            inner: crate::foundation::audio::wav::WavInput::from_samples(caller, true),
            leak: leak.clone(),
            gain,
        },
        EchoOutput {
            leak,
            recorded: RecordingOutput::default(),
        },
    )
}

/// The microphone side of [`echo_room`].
pub struct EchoInput {
    inner: crate::foundation::audio::wav::WavInput,
    leak: Arc<Mutex<VecDeque<i16>>>,
    gain: f32,
}

impl crate::foundation::audio::AudioInput for EchoInput {
    fn next_frame(&mut self) -> Option<Vec<i16>> {
        let mut frame = self.inner.next_frame()?;
        if let Ok(mut leak) = self.leak.lock() {
            for s in frame.iter_mut() {
                let e = leak.pop_front().unwrap_or(0) as f32 * self.gain;
                *s = (*s as f32 + e).clamp(-32768.0, 32767.0) as i16;
            }
        }
        Some(frame)
    }
}

/// The speaker side of [`echo_room`]; also records like [`RecordingOutput`].
pub struct EchoOutput {
    leak: Arc<Mutex<VecDeque<i16>>>,
    pub recorded: RecordingOutput,
}

impl AudioOutput for EchoOutput {
    fn write(&mut self, pcm: &[i16]) {
        self.recorded.write(pcm);
        let down = crate::foundation::audio::resample::resample_i16(pcm, OUTPUT_RATE, INPUT_RATE);
        if let Ok(mut leak) = self.leak.lock() {
            leak.extend(down);
        }
    }
    fn clear(&mut self) {
        self.recorded.clear();
        if let Ok(mut leak) = self.leak.lock() {
            leak.clear();
        }
    }
}
