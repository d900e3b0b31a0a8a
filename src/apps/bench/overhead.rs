//! The orchestration's own cost: turns through every stage with zero-latency fakes, timed from
//! the frame that ends the caller's turn entering the first stage (the source hands it on) to
//! the first audio of the reply leaving the last (the sink writes it).
//!
//! The caller is paced in real time, so the frame that ends a turn is the last one read before
//! the final transcription starts (the next one is 20 ms away); the fakes note the instants
//! themselves, since the turn reports' marks are relative to the caller's speech.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::foundation::audio::io::AudioInput;
use crate::foundation::audio::wav::WavInput;
use crate::orchestration::pipeline::{output, Pipeline, PipelineConfig, SessionParts};
use crate::providers::stt::{SpeechToText, SttError};
use crate::providers::testing::{
    synthetic_caller, EchoTools, RecordingOutput, ScriptedChat, ScriptedStt, ToneTts,
};
use crate::providers::vad::energy::EnergyVad;

use super::stats::Summary;

type Instants = Arc<Mutex<Vec<Instant>>>;

fn note(instants: &Instants) {
    if let Ok(mut v) = instants.lock() {
        v.push(Instant::now());
    }
}

fn taken(instants: &Instants) -> Vec<Instant> {
    instants.lock().map(|v| v.clone()).unwrap_or_default()
}

/// A scripted STT that notes when each final transcription starts.
struct TimedStt {
    inner: ScriptedStt,
    calls: Instants,
}

impl SpeechToText for TimedStt {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn transcribe(&mut self, audio: &[i16]) -> Result<String, SttError> {
        note(&self.calls);
        self.inner.transcribe(audio)
    }
}

/// The caller's audio, noting when each frame enters the pipeline.
struct TimedInput {
    inner: WavInput,
    frames: Instants,
}

impl AudioInput for TimedInput {
    fn next_frame(&mut self) -> Option<Vec<i16>> {
        let frame = self.inner.next_frame();
        if frame.is_some() {
            note(&self.frames);
        }
        frame
    }

    fn is_realtime(&self) -> bool {
        self.inner.is_realtime()
    }
}

/// Per-turn overhead in milliseconds over `turns` turns (one session, 1.1 s of caller a turn).
pub fn measure(turns: usize) -> Vec<f64> {
    // Short replies (0.1 s of tone) end well before the caller's next line, so no turn is cut.
    let mut pattern = vec![(100, false)];
    for _ in 0..turns {
        pattern.push((300, true));
        pattern.push((800, false));
    }
    let lines: Vec<String> = (0..turns).map(|i| format!("question number {i}")).collect();
    let line_refs: Vec<&str> = lines.iter().map(|s| s.as_str()).collect();
    let replies: Vec<String> = (0..turns).map(|i| format!("Answer {i}.")).collect();
    let reply_refs: Vec<&str> = replies.iter().map(|s| s.as_str()).collect();
    let calls = Instants::default();
    let frames = Instants::default();
    let output = RecordingOutput::default();
    let writes = output.writes.clone();
    let parts = SessionParts {
        input: Box::new(TimedInput {
            inner: WavInput::from_samples(synthetic_caller(&pattern), true),
            frames: frames.clone(),
        }),
        output: Box::new(output::speaker(output).0),
        vad: Box::new(EnergyVad::default()),
        stt: Box::new(TimedStt {
            inner: ScriptedStt::new(&line_refs),
            calls: calls.clone(),
        }),
        chat: Box::new(ScriptedChat::replies(&reply_refs)),
        tools: Box::new(EchoTools::default()),
        tts: Box::new(ToneTts::default()),
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
    let (calls, frames) = (taken(&calls), taken(&frames));
    let writes: Vec<Instant> = writes
        .lock()
        .map(|w| w.iter().map(|w| w.at).collect())
        .unwrap_or_default();
    // Each turn: the last frame in before its transcription starts, to the first audio written
    // after it (the caller waits for the whole reply before speaking again, so replies never
    // overlap).
    calls
        .iter()
        .filter_map(|&start| {
            let entered = frames.iter().rev().find(|&&f| f <= start)?;
            let first = writes.iter().find(|&&w| w >= start)?;
            Some(first.duration_since(*entered).as_secs_f64() * 1000.0)
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
