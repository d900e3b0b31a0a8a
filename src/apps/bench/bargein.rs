//! Barge-in reaction time, as two figures from the moment the caller starts talking over the
//! agent: until the agent's voice is ducked (played quieter at once, before the interruption is
//! confirmed), and until its audio stops (the output is cleared). Scripted sessions with an energy VAD, a
//! scripted STT and chat, and a tone TTS: the reaction depends on the pipeline and the turn
//! detector's thresholds, not on the models.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::stats::Summary;
use crate::foundation::audio::wav::WavInput;
use crate::foundation::audio::{AudioInput, FRAME_MS};
use crate::orchestration::pipeline::{output, Pipeline, PipelineConfig, SessionParts};
use crate::providers::testing::{
    synthetic_caller, EchoTools, RecordingOutput, ScriptedChat, ScriptedStt, ToneTts,
};
use crate::providers::vad::energy::EnergyVad;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BargeInReport {
    /// What the sessions were made of.
    pub providers: String,
    pub sessions: usize,
    /// Sessions where the agent was cut off (and so measured).
    pub measured: usize,
    pub reaction_ms: Option<Summary>,
    /// Caller speech start to the first agent audio played ducked.
    #[serde(default)]
    pub duck_ms: Option<Summary>,
    /// The configured minimum of caller speech before the agent is cut off (part of the reaction).
    pub barge_in_min_ms: u32,
}

const REPLY: &str =
    "Let me tell you about our clinic. We open at eight every weekday. Parking is free \
behind the building. Bring your insurance card to every visit.";

/// (ms, speech) of the caller: a question, silence while the agent answers, then talking over it.
const PATTERN: [(u64, bool); 5] = [
    (200, false),
    (600, true),
    (1_500, false),
    (900, true),
    (800, false),
];

/// A paced WAV input that notes when a given frame went out.
struct MarkedInput {
    inner: WavInput,
    frame: usize,
    mark_frame: usize,
    marked: Arc<Mutex<Option<Instant>>>,
}

impl AudioInput for MarkedInput {
    fn next_frame(&mut self) -> Option<Vec<i16>> {
        let f = self.inner.next_frame()?;
        if self.frame == self.mark_frame {
            if let Ok(mut m) = self.marked.lock() {
                *m = Some(Instant::now());
            }
        }
        self.frame += 1;
        Some(f)
    }
}

/// One scripted session: (speech start to duck, speech start to cut) in ms, when the agent
/// was cut off.
fn one_session(config: &PipelineConfig) -> Option<(Option<f64>, f64)> {
    let onset_ms: u64 = PATTERN[..3].iter().map(|p| p.0).sum();
    let marked = Arc::new(Mutex::new(None));
    let input = MarkedInput {
        inner: WavInput::from_samples(synthetic_caller(&PATTERN), true),
        frame: 0,
        mark_frame: (onset_ms / FRAME_MS) as usize,
        marked: marked.clone(),
    };
    let output = RecordingOutput::default();
    let clears = output.clears.clone();
    let writes = output.writes.clone();
    let parts = SessionParts {
        input: Box::new(input),
        output: Box::new(output::speaker(output).0),
        vad: Box::new(EnergyVad::default()),
        stt: Box::new(ScriptedStt::new(&[
            "tell me about the clinic",
            "wait a moment",
        ])),
        chat: Box::new(ScriptedChat::replies(&[REPLY, "Sure."])),
        tools: Box::new(EchoTools::default()),
        tts: Box::new(ToneTts {
            ms_per_char: 40,
            ..ToneTts::default()
        }),
        recorder: None,
        system_prompt: None,
    };
    let outcome = Pipeline::spawn(parts, config.clone()).join();
    if !outcome.reports.first().is_some_and(|r| r.interrupted) {
        log::warn!("barge-in bench: the agent was not interrupted");
        return None;
    }
    let onset = (*marked.lock().ok()?)?;
    let cleared = *clears.lock().ok()?.first()?;
    let since_onset = |t: Instant| t.saturating_duration_since(onset).as_secs_f64() * 1000.0;
    // Ducked: a write at under a quarter of the level before it (the tone's level changes by
    // less than that from one sentence to the next), counted once fully ducked (the 5 ms ramp
    // into it is one write earlier).
    let mut before = 0;
    let mut ducked = None;
    for w in writes
        .lock()
        .ok()?
        .iter()
        .filter(|w| w.clears_before == 0 && w.peak > 0)
    {
        if w.at >= onset && w.peak <= before / 4 {
            ducked = Some(since_onset(w.at));
            break;
        }
        before = w.peak;
    }
    Some((ducked, since_onset(cleared)))
}

/// `sessions` scripted barge-ins, run side by side (they are cheap).
pub fn run(sessions: usize) -> BargeInReport {
    let config = PipelineConfig::default();
    let handles: Vec<_> = (0..sessions.max(1))
        .map(|_| {
            let c = config.clone();
            std::thread::spawn(move || one_session(&c))
        })
        .collect();
    let measured: Vec<(Option<f64>, f64)> = handles
        .into_iter()
        .filter_map(|h| h.join().ok().flatten())
        .collect();
    let reactions: Vec<f64> = measured.iter().map(|m| m.1).collect();
    let ducks: Vec<f64> = measured.iter().filter_map(|m| m.0).collect();
    BargeInReport {
        providers: "energy VAD, scripted STT and chat, tone TTS".into(),
        sessions: sessions.max(1),
        measured: reactions.len(),
        reaction_ms: Summary::of(&reactions),
        duck_ms: Summary::of(&ducks),
        barge_in_min_ms: config.vad.barge_in_min_ms,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_scripted_barge_in_is_measured() {
        let r = super::run(1);
        assert_eq!(r.measured, 1, "{r:?}");
        let s = r.reaction_ms.expect("a reaction time");
        assert!(s.p50 > 0.0, "{s:?}");
        // The voice was ducked on the way to the cut.
        let d = r.duck_ms.expect("a duck time");
        assert!(d.p50 > 0.0 && d.p50 < s.p50, "{d:?} then {s:?}");
        assert_eq!(
            r.barge_in_min_ms,
            crate::orchestration::pipeline::PipelineConfig::default()
                .vad
                .barge_in_min_ms
        );
    }
}
