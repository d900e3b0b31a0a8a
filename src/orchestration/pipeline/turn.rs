//! One caller turn as it moves through the stages: its latency marks and what was said and done,
//! and the `TurnReport` the sink makes of it.

use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::foundation::dialogue::ToolCallRecord;

/// The moments of a turn, each set once by the stage that reaches it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Marks {
    /// The caller's speech began (VAD).
    pub speech_start: Option<Instant>,
    /// The caller fell silent: the last speech frame was heard (VAD).
    pub speech_end: Option<Instant>,
    /// The VAD committed to the end of the turn.
    pub endpoint: Option<Instant>,
    /// The final transcript was ready (STT).
    pub stt_final: Option<Instant>,
    /// The agent started working on the transcript.
    pub agent_start: Option<Instant>,
    /// The first token of the reply arrived (LLM).
    pub llm_first_token: Option<Instant>,
    /// The first speakable chunk left the sentence buffer.
    pub first_chunk: Option<Instant>,
    /// The first audio of the reply came out of TTS.
    pub tts_first_audio: Option<Instant>,
    /// The first audio of the reply went to the speaker.
    pub first_audio_out: Option<Instant>,
}

/// Which mark to set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    SpeechStart,
    SpeechEnd,
    Endpoint,
    SttFinal,
    AgentStart,
    LlmFirstToken,
    FirstChunk,
    TtsFirstAudio,
    FirstAudioOut,
}

#[derive(Debug, Default)]
struct Record {
    marks: Marks,
    transcript: String,
    agent_text: String,
    tool_calls: Vec<ToolCallRecord>,
    errors: Vec<String>,
    speculative: bool,
    stt_compute_ms: Option<f64>,
}

/// A turn's trace, shared by the stages through `Arc<Turn>`: each stage writes down when it
/// reached its mark and what it said or did, and the sink reads it all back into the report.
/// Nothing decides anything from it: the commit, barge-in and state travel as messages.
#[derive(Debug)]
pub struct Turn {
    pub id: u64,
    record: Mutex<Record>,
}

impl Turn {
    pub fn new(id: u64) -> Self {
        Self {
            id,
            record: Mutex::new(Record::default()),
        }
    }

    /// A speculative reply was thrown away: forget its marks and text so the real reply's count.
    pub fn discard_reply(&self) {
        self.with(|r| {
            let m = &mut r.marks;
            m.agent_start = None;
            m.llm_first_token = None;
            m.first_chunk = None;
            m.tts_first_audio = None;
            m.first_audio_out = None;
            r.agent_text.clear();
            r.tool_calls.clear();
        });
    }

    /// How long the transcription that produced the final transcript took.
    pub fn set_stt_compute(&self, ms: f64) {
        self.with(|r| r.stt_compute_ms = Some(ms));
    }

    fn with<R>(&self, f: impl FnOnce(&mut Record) -> R) -> R {
        // A poisoned lock only means another stage panicked mid-update; the data is still usable.
        let mut guard = self.record.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// Set a mark now, unless it is already set.
    pub fn mark(&self, which: Mark) {
        self.mark_at(which, Instant::now());
    }

    /// Set a mark at a given instant, unless it is already set.
    pub fn mark_at(&self, which: Mark, at: Instant) {
        self.with(|r| {
            let m = &mut r.marks;
            let slot = match which {
                Mark::SpeechStart => &mut m.speech_start,
                Mark::SpeechEnd => &mut m.speech_end,
                Mark::Endpoint => &mut m.endpoint,
                Mark::SttFinal => &mut m.stt_final,
                Mark::AgentStart => &mut m.agent_start,
                Mark::LlmFirstToken => &mut m.llm_first_token,
                Mark::FirstChunk => &mut m.first_chunk,
                Mark::TtsFirstAudio => &mut m.tts_first_audio,
                Mark::FirstAudioOut => &mut m.first_audio_out,
            };
            slot.get_or_insert(at);
        });
    }

    pub fn marks(&self) -> Marks {
        self.with(|r| r.marks)
    }

    pub fn set_transcript(&self, text: &str, speculative: bool) {
        self.with(|r| {
            r.transcript = text.to_string();
            r.speculative = speculative;
        });
    }

    pub fn transcript(&self) -> String {
        self.with(|r| r.transcript.clone())
    }

    pub fn push_agent_text(&self, text: &str) {
        self.with(|r| r.agent_text.push_str(text));
    }

    pub fn push_tool_call(&self, call: ToolCallRecord) {
        self.with(|r| r.tool_calls.push(call));
    }

    pub fn push_error(&self, message: impl Into<String>) {
        let message = message.into();
        self.with(|r| r.errors.push(message));
    }

    /// The report of this turn, given what the sink played.
    pub fn report(&self, played_text: &str, interrupted: bool) -> TurnReport {
        self.with(|r| TurnReport {
            turn: self.id,
            transcript: r.transcript.clone(),
            agent_text: r.agent_text.trim().to_string(),
            played_text: played_text.to_string(),
            interrupted,
            tool_calls: r.tool_calls.clone(),
            latency: Latencies {
                stt_compute_ms: r.stt_compute_ms,
                ..Latencies::from_marks(&r.marks)
            },
            speculative_stt: r.speculative,
            errors: r.errors.clone(),
            speech_end_at: r.marks.speech_end,
        })
    }
}

/// Per-stage latencies of a turn, in milliseconds. A stage that did not happen is `None`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Latencies {
    /// Caller silent -> VAD end of turn (the endpointing wait).
    pub endpoint_ms: Option<f64>,
    /// Caller silent -> final transcript.
    pub stt_ms: Option<f64>,
    /// Time the speech-to-text model itself spent on the final transcript.
    pub stt_compute_ms: Option<f64>,
    /// The agent starts on the transcript -> first LLM token (the model's time to first token).
    pub llm_first_token_ms: Option<f64>,
    /// First LLM token -> first speakable chunk.
    pub first_chunk_ms: Option<f64>,
    /// First chunk -> first TTS audio.
    pub tts_first_audio_ms: Option<f64>,
    /// First TTS audio -> first audio out of the sink.
    pub playout_ms: Option<f64>,
    /// Caller silent -> first agent audio out: time to first audio.
    pub ttfa_ms: Option<f64>,
}

fn between(a: Option<Instant>, b: Option<Instant>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(b.saturating_duration_since(a).as_secs_f64() * 1000.0),
        _ => None,
    }
}

impl Latencies {
    pub fn from_marks(m: &Marks) -> Self {
        Self {
            endpoint_ms: between(m.speech_end, m.endpoint),
            stt_ms: between(m.speech_end, m.stt_final),
            stt_compute_ms: None,
            llm_first_token_ms: between(m.agent_start, m.llm_first_token),
            first_chunk_ms: between(m.llm_first_token, m.first_chunk),
            tts_first_audio_ms: between(m.first_chunk, m.tts_first_audio),
            playout_ms: between(m.tts_first_audio, m.first_audio_out),
            ttfa_ms: between(m.speech_end, m.first_audio_out),
        }
    }

    /// The sum of the stage latencies up to TTS first audio (the paper's "estimated" TTFA).
    pub fn stage_sum_ms(&self) -> Option<f64> {
        Some(
            self.stt_ms?
                + self.llm_first_token_ms?
                + self.first_chunk_ms?
                + self.tts_first_audio_ms?,
        )
    }
}

/// What happened in one turn: the JSON line of `--report`, the browser's `metrics` message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TurnReport {
    pub turn: u64,
    pub transcript: String,
    /// Everything the agent meant to say.
    pub agent_text: String,
    /// What the caller actually heard (less than `agent_text` when interrupted).
    pub played_text: String,
    pub interrupted: bool,
    pub tool_calls: Vec<ToolCallRecord>,
    pub latency: Latencies,
    /// The final transcript came from speculative work started during the endpointing silence.
    pub speculative_stt: bool,
    pub errors: Vec<String>,
    /// Where the caller stopped (the anchor of every latency), for a harness that knows when
    /// its audio really ended; not sent to clients.
    #[serde(skip)]
    pub speech_end_at: Option<Instant>,
}

impl TurnReport {
    /// Whether a turn report is an answer the caller heard to words it said: agent audio went out
    /// and there is a transcript. Other reports (a reply dropped unheard, a turn with no words) are
    /// counted apart and left out of the tables.
    pub fn is_answer(&self) -> bool {
        self.latency.ttfa_ms.is_some() && !self.transcript.trim().is_empty()
    }

    /// The one-line latency summary printed per turn. The stages are written as a sum only
    /// when they add up to the TTFA: a reply started at the caller's pause runs its STT, LLM and
    /// TTS during the endpoint wait, and then the line says so instead.
    pub fn latency_line(&self) -> String {
        let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
        let l = &self.latency;
        let stages = [
            ("STT", l.stt_ms),
            ("LLM", l.llm_first_token_ms),
            ("chunk", l.first_chunk_ms),
            ("TTS", l.tts_first_audio_ms),
            ("out", l.playout_ms),
        ];
        let listed = |sep: &str| {
            stages
                .iter()
                .map(|(name, v)| format!("{name} {}", f(*v)))
                .collect::<Vec<_>>()
                .join(sep)
        };
        let sum: Option<f64> = stages.iter().map(|(_, v)| *v).sum();
        // Rounding each stage to whole milliseconds loses up to half a millisecond apiece.
        const SLACK_MS: f64 = 3.0;
        match (l.ttfa_ms, sum) {
            (Some(ttfa), Some(sum)) if (ttfa - sum).abs() <= SLACK_MS => format!(
                "TTFA {} ms = {} (endpoint wait {}, within STT)",
                f(l.ttfa_ms),
                listed(" + "),
                f(l.endpoint_ms)
            ),
            (Some(ttfa), Some(sum)) if sum < ttfa => format!(
                "TTFA {} ms = {} + waiting {:.0} (endpoint wait {}, within STT)",
                f(l.ttfa_ms),
                listed(" + "),
                ttfa - sum,
                f(l.endpoint_ms)
            ),
            (Some(_), Some(_)) => format!(
                "TTFA {} ms after the caller stopped, of which endpoint wait {}; the reply \
                 started at the pause, so these overlap the wait: {}",
                f(l.ttfa_ms),
                f(l.endpoint_ms),
                listed(", ")
            ),
            _ => format!(
                "TTFA {} ms: {} (endpoint wait {})",
                f(l.ttfa_ms),
                listed(", "),
                f(l.endpoint_ms)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn latencies_follow_the_marks_and_add_up() {
        let t0 = Instant::now();
        let turn = Turn::new(7);
        let at = |ms| t0 + Duration::from_millis(ms);
        turn.mark_at(Mark::SpeechEnd, at(0));
        turn.mark_at(Mark::Endpoint, at(480));
        turn.mark_at(Mark::SttFinal, at(500));
        turn.mark_at(Mark::AgentStart, at(500));
        turn.mark_at(Mark::LlmFirstToken, at(600));
        turn.mark_at(Mark::FirstChunk, at(650));
        turn.mark_at(Mark::TtsFirstAudio, at(750));
        turn.mark_at(Mark::FirstAudioOut, at(760));
        // Marks are set once: a later mark of the same kind is ignored.
        turn.mark_at(Mark::SttFinal, at(900));
        turn.set_transcript("hello", false);
        turn.push_agent_text("Hi ");
        turn.push_agent_text("there.");
        let r = turn.report("Hi there.", false);
        let l = &r.latency;
        assert_eq!(l.stt_ms, Some(500.0));
        assert_eq!(l.endpoint_ms, Some(480.0));
        assert_eq!(l.llm_first_token_ms, Some(100.0));
        assert_eq!(l.first_chunk_ms, Some(50.0));
        assert_eq!(l.tts_first_audio_ms, Some(100.0));
        assert_eq!(l.playout_ms, Some(10.0));
        assert_eq!(l.ttfa_ms, Some(760.0));
        assert_eq!(l.stage_sum_ms(), Some(750.0));
        assert_eq!(r.agent_text, "Hi there.");
        assert_eq!(
            r.latency_line(),
            "TTFA 760 ms = STT 500 + LLM 100 + chunk 50 + TTS 100 + out 10 (endpoint wait 480, \
             within STT)"
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["turn"], 7);
        assert_eq!(json["latency"]["ttfa_ms"], 760.0);
    }

    #[test]
    fn a_reply_started_at_the_pause_is_not_written_as_a_sum() {
        let t0 = Instant::now();
        let turn = Turn::new(3);
        let at = |ms| t0 + Duration::from_millis(ms);
        // The reply started at the pause (130 ms) on the speculative transcript; the final
        // transcript is marked at the commit, after the 480 ms endpoint wait.
        turn.mark_at(Mark::SpeechEnd, at(0));
        turn.mark_at(Mark::AgentStart, at(130));
        turn.mark_at(Mark::LlmFirstToken, at(140));
        turn.mark_at(Mark::FirstChunk, at(145));
        turn.mark_at(Mark::TtsFirstAudio, at(240));
        turn.mark_at(Mark::Endpoint, at(480));
        turn.mark_at(Mark::SttFinal, at(481));
        turn.mark_at(Mark::FirstAudioOut, at(482));
        let line = turn.report("", false).latency_line();
        assert!(!line.contains('='), "{line}");
        assert!(
            line.starts_with("TTFA 482 ms after the caller stopped, of which endpoint wait 480"),
            "{line}"
        );
        assert!(
            line.ends_with("STT 481, LLM 10, chunk 5, TTS 95, out 242"),
            "{line}"
        );
        // A gap the stages do not cover is named, not hidden in the sum.
        let slow = Turn::new(4);
        slow.mark_at(Mark::SpeechEnd, at(0));
        slow.mark_at(Mark::SttFinal, at(500));
        slow.mark_at(Mark::AgentStart, at(540));
        slow.mark_at(Mark::LlmFirstToken, at(600));
        slow.mark_at(Mark::FirstChunk, at(600));
        slow.mark_at(Mark::TtsFirstAudio, at(700));
        slow.mark_at(Mark::FirstAudioOut, at(700));
        let line = slow.report("", false).latency_line();
        assert!(
            line.starts_with(
                "TTFA 700 ms = STT 500 + LLM 60 + chunk 0 + TTS 100 + out 0 + waiting 40"
            ),
            "{line}"
        );
    }

    #[test]
    fn missing_stages_are_none() {
        let turn = Turn::new(1);
        turn.mark(Mark::SpeechEnd);
        let r = turn.report("", true);
        assert_eq!(r.latency.ttfa_ms, None);
        assert_eq!(r.latency.stage_sum_ms(), None);
        assert!(r.interrupted);
    }
}
