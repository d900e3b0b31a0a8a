//! The orchestration's own cost: turns through every stage with zero-latency fakes, timed from
//! the end of turn entering the first stage after the VAD (the final transcription starts) to
//! the first audio of the reply leaving the sink.
//!
//! The session runs as fast as possible, so the turn reports' marks relative to the caller's
//! speech (stamped on frames that race ahead of real time) cannot time it: the fakes note the
//! instants themselves.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::audio::wav::WavInput;
use crate::pipeline::{Events, Pipeline, PipelineConfig, SessionParts};
use crate::stt::{SpeechToText, SttError};
use crate::testing::{
    synthetic_caller, EchoTools, RecordingOutput, ScriptedChat, ScriptedStt, ToneTts,
};
use crate::vad::energy::EnergyVad;

use super::stats::Summary;

/// A scripted STT that notes when each final transcription starts.
struct TimedStt {
    inner: ScriptedStt,
    calls: Arc<Mutex<Vec<Instant>>>,
}

impl SpeechToText for TimedStt {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn transcribe(&mut self, audio: &[i16]) -> Result<String, SttError> {
        if let Ok(mut c) = self.calls.lock() {
            c.push(Instant::now());
        }
        self.inner.transcribe(audio)
    }
}

/// Per-turn overhead in milliseconds over `turns` turns (one session, as fast as possible).
pub fn measure(turns: usize) -> Vec<f64> {
    let mut pattern = vec![(100, false)];
    for _ in 0..turns {
        pattern.push((300, true));
        pattern.push((600, false));
    }
    let lines: Vec<String> = (0..turns).map(|i| format!("question number {i}")).collect();
    let line_refs: Vec<&str> = lines.iter().map(|s| s.as_str()).collect();
    let replies: Vec<String> = (0..turns)
        .map(|i| format!("This is answer number {i}. It has two sentences."))
        .collect();
    let reply_refs: Vec<&str> = replies.iter().map(|s| s.as_str()).collect();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let output = RecordingOutput::default();
    let writes = output.writes.clone();
    let parts = SessionParts {
        input: Box::new(WavInput::from_samples(synthetic_caller(&pattern), false)),
        output: Box::new(output),
        vad: Box::new(EnergyVad::default()),
        stt: Box::new(TimedStt {
            inner: ScriptedStt::new(&line_refs),
            calls: calls.clone(),
        }),
        chat: Box::new(ScriptedChat::replies(&reply_refs)),
        tools: Box::new(EchoTools::default()),
        tts: Box::new(ToneTts::default()),
        events: Events::none(),
        recorder: None,
        system_prompt: None,
    };
    // No speculation: the one transcription per turn is the final one, and a reply started at
    // the pause would be held until the end of turn, timing that wait instead of the hand-offs.
    let config = PipelineConfig {
        speculative_stt: false,
        speculative_reply: false,
        ..PipelineConfig::default()
    };
    Pipeline::spawn(parts, config).join();
    let calls = calls.lock().map(|c| c.clone()).unwrap_or_default();
    let writes: Vec<Instant> = writes
        .lock()
        .map(|w| w.iter().map(|w| w.at).collect())
        .unwrap_or_default();
    // Each turn: its transcription start to the first audio written after it (the caller waits
    // for the whole reply before speaking again, so replies never overlap).
    calls
        .iter()
        .filter_map(|&start| {
            let first = writes.iter().find(|&&w| w >= start)?;
            Some(first.duration_since(start).as_secs_f64() * 1000.0)
        })
        .collect()
}

/// Summary of `measure`.
pub fn summary(turns: usize) -> Option<Summary> {
    Summary::of(&measure(turns))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_turn_is_measured() {
        let v = super::measure(3);
        assert_eq!(v.len(), 3, "{v:?}");
        // Every stage runs between the two instants: the overhead is never zero.
        assert!(v.iter().all(|x| *x > 0.0), "{v:?}");
    }
}
