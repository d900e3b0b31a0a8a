//! The orchestration's own cost: turns through every stage with zero-latency fakes, timed from
//! the end of turn entering the first stage after the VAD to the first audio leaving the sink.

use crate::audio::io::NullOutput;
use crate::audio::wav::WavInput;
use crate::pipeline::{Events, Pipeline, PipelineConfig, SessionParts};
use crate::testing::{synthetic_caller, EchoTools, ScriptedChat, ScriptedStt, ToneTts};
use crate::vad::energy::EnergyVad;

use super::stats::Summary;

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
    let parts = SessionParts {
        input: Box::new(WavInput::from_samples(synthetic_caller(&pattern), false)),
        output: Box::new(NullOutput),
        vad: Box::new(EnergyVad::default()),
        stt: Box::new(ScriptedStt::new(&line_refs)),
        chat: Box::new(ScriptedChat::replies(&reply_refs)),
        tools: Box::new(EchoTools::default()),
        tts: Box::new(ToneTts::default()),
        events: Events::none(),
        recorder: None,
        system_prompt: None,
    };
    // No speculation: a reply started at the pause would be held until the end of turn, and
    // the time measured would be that wait instead of the hand-offs.
    let config = PipelineConfig {
        speculative_stt: false,
        speculative_reply: false,
        ..PipelineConfig::default()
    };
    let outcome = Pipeline::spawn(parts, config).join();
    outcome
        .reports
        .iter()
        .filter_map(|r| {
            // endpoint -> first audio out = stt + agent + sentences + tts + sink hops.
            let l = &r.latency;
            Some(l.ttfa_ms? - l.endpoint_ms?)
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
        assert!(v.iter().all(|x| *x >= 0.0));
    }
}
