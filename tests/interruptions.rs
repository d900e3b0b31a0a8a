//! Interruption behaviour, the same for every transport: backchannels and coughs do not cut the
//! agent off, its own echo does not either, and a false interruption picks the reply up again.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use crossbeam_channel::{unbounded, Sender};
use voice_agent::foundation::audio::wav::WavInput;
use voice_agent::orchestration::agent::{INTERRUPTED_MARK, RESUME_PREFIX};
use voice_agent::orchestration::pipeline::output::Speaker;
use voice_agent::orchestration::pipeline::{
    Event, Pipeline, PipelineConfig, SessionOutcome, SessionParts,
};
use voice_agent::providers::llm::Role;
use voice_agent::providers::testing::{
    echo_room, synthetic_caller, EchoTools, RecordingOutput, ScriptedChat, ScriptedStt, ToneTts,
};
use voice_agent::providers::vad::energy::EnergyVad;

fn join(p: Pipeline) -> SessionOutcome {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(p.join());
    });
    rx.recv_timeout(Duration::from_secs(90))
        .expect("pipeline did not shut down")
}

const LONG: &str = "Let me tell you about our clinic. We open at eight every weekday. \
    Parking is free behind the building. Bring your insurance card to every visit. \
    The pharmacy is on the ground floor next to the cafe.";

fn session(
    input: Box<dyn voice_agent::foundation::audio::AudioInput>,
    output: Box<dyn voice_agent::foundation::audio::AudioOutput>,
    stt: &[&str],
    chat: ScriptedChat,
    events: Sender<Event>,
) -> SessionParts {
    SessionParts {
        input,
        output: Box::new(Speaker::new(output, events)),
        vad: Box::new(EnergyVad::default()),
        stt: Box::new(ScriptedStt::new(stt)),
        chat: Box::new(chat),
        tools: Box::new(EchoTools::default()),
        tts: Box::new(ToneTts {
            ms_per_char: 40,
            ..ToneTts::default()
        }),
        recorder: None,
        system_prompt: None,
    }
}

#[test]
fn a_backchannel_long_enough_to_cut_in_resumes_the_reply() {
    // The caller asks, then says "uh-huh" (0.6 s) over the long answer.
    let caller = synthetic_caller(&[
        (200, false),
        (600, true),
        (3_000, false),
        (600, true),
        (12_000, false),
    ]);
    let chat = ScriptedChat::replies(&[LONG]);
    let calls = chat.calls.clone();
    let p = session(
        Box::new(WavInput::from_samples(caller, true)),
        Box::new(RecordingOutput::default()),
        &["tell me about the clinic", "uh-huh"],
        chat,
        unbounded().0,
    );
    let outcome = join(Pipeline::spawn(p, PipelineConfig::default()));
    let r = &outcome.reports;
    assert_eq!(r.len(), 2, "{r:#?}");
    assert!(r[0].interrupted);
    // The second turn picks up exactly where the caller heard up to, without asking the model.
    common::assert_resumed_where_cut(&r[0], &r[1], LONG);
    assert!(!r[1].interrupted);
    assert_eq!(
        calls.lock().unwrap().len(),
        1,
        "the model was not asked again"
    );
}

#[test]
fn a_false_interruption_with_no_words_resumes_the_reply() {
    let caller = synthetic_caller(&[
        (200, false),
        (600, true),
        (3_000, false),
        (700, true),
        (12_000, false),
    ]);
    let chat = ScriptedChat::replies(&[LONG, "This must not be said."]);
    let p = session(
        Box::new(WavInput::from_samples(caller, true)),
        Box::new(RecordingOutput::default()),
        &["tell me about the clinic", ""],
        chat,
        unbounded().0,
    );
    let outcome = join(Pipeline::spawn(p, PipelineConfig::default()));
    let r = &outcome.reports;
    assert_eq!(r.len(), 2, "{r:#?}");
    assert!(r[0].interrupted);
    assert!(
        r[1].agent_text.starts_with("As I was saying, "),
        "{}",
        r[1].agent_text
    );
    assert!(r[1].agent_text.ends_with("next to the cafe."));
}

#[test]
fn a_resumed_reply_cut_off_for_real_keeps_only_what_was_heard() {
    // "uh-huh" over the long answer (a false interruption: the reply resumes), then a real
    // interruption of the resumed reply.
    let caller = synthetic_caller(&[
        (200, false),
        (600, true),
        (3_000, false),
        (600, true),
        (2_500, false),
        (1_000, true),
        (4_000, false),
    ]);
    let chat = ScriptedChat::replies(&[LONG, "Sure, what is it?"]);
    let calls = chat.calls.clone();
    let p = session(
        Box::new(WavInput::from_samples(caller, true)),
        Box::new(RecordingOutput::default()),
        &["tell me about the clinic", "uh-huh", "wait, stop"],
        chat,
        unbounded().0,
    );
    let outcome = join(Pipeline::spawn(p, PipelineConfig::default()));
    let r = &outcome.reports;
    assert_eq!(r.len(), 3, "{r:#?}");
    assert!(r[0].interrupted);
    assert!(
        r[1].agent_text.starts_with(RESUME_PREFIX),
        "{}",
        r[1].agent_text
    );
    assert!(r[1].interrupted, "the resumed reply was cut off too");
    assert_eq!(r[2].transcript, "wait, stop");
    assert_eq!(r[2].agent_text, "Sure, what is it?");

    // The caller heard the start of the reply, then the prefix and some of the rest: the
    // history holds that much of the reply, as one interrupted message.
    let prefix_words = RESUME_PREFIX.split_whitespace().count();
    let heard_first = r[0].played_text.split_whitespace().count();
    let heard_resumed = r[1].played_text.split_whitespace().count();
    assert!(
        heard_resumed > prefix_words,
        "some of the rest was heard: {:?}",
        r[1].played_text
    );
    let words: Vec<&str> = LONG.split_whitespace().collect();
    let heard = heard_first + heard_resumed - prefix_words;
    assert!(heard < words.len(), "the reply was cut before its end");
    let expected = format!("{}{INTERRUPTED_MARK}", words[..heard].join(" "));

    let calls = calls.lock().unwrap();
    assert_eq!(
        calls.len(),
        2,
        "the model answered the first and last turns only"
    );
    let history = &calls[1];
    let assistant: Vec<&str> = history
        .iter()
        .filter(|m| m.role == Role::Assistant)
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(assistant, vec![expected.as_str()]);
    // The backchannel was no turn of its own: the reply reads as one, then the real question.
    let users: Vec<&str> = history
        .iter()
        .filter(|m| m.role == Role::User)
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(users, vec!["tell me about the clinic", "wait, stop"]);
}

/// The agent's voice leaks into the microphone at -20 dB while the caller stays silent.
fn echo_run(echo_gate: bool) -> (SessionOutcome, Vec<Event>) {
    let caller = synthetic_caller(&[(200, false), (600, true), (14_000, false)]);
    let (input, output) = echo_room(caller, 0.1);
    let (events, rx) = unbounded();
    let p = session(
        Box::new(input),
        Box::new(output),
        &["tell me about the clinic", "", "", ""],
        ScriptedChat::replies(&[LONG, "second", "third"]),
        events,
    );
    let mut config = PipelineConfig::default();
    if !echo_gate {
        config.vad.echo_gate_threshold = None;
        // Ducking at the echo's onset would hide the echo too (and pump the agent's volume):
        // the control keeps the voice level so the echo is as loud as it would be.
        config.vad.duck_gain = 1.0;
    }
    let outcome = join(Pipeline::spawn(p, config));
    (outcome, rx.try_iter().collect())
}

#[test]
fn the_agents_own_echo_does_not_interrupt_it() {
    let (outcome, events) = echo_run(true);
    assert!(
        !events.contains(&Event::Clear),
        "the echo cut the agent off"
    );
    let r = &outcome.reports;
    assert_eq!(r.len(), 1, "{r:#?}");
    assert!(!r[0].interrupted);
    assert_eq!(r[0].played_text, LONG);
}

#[test]
fn without_the_echo_gate_the_same_echo_would_interrupt() {
    // The control for the test above: the echo is loud enough to matter.
    let (outcome, events) = echo_run(false);
    assert!(events.contains(&Event::Clear));
    assert!(outcome.reports[0].interrupted);
}

/// The loudest write, and whether some write before the first clear was ducked (played at
/// under a quarter of it, not silent).
fn ducked_before_any_clear(out: &RecordingOutput) -> (i16, bool) {
    let writes = out.writes.lock().unwrap();
    let loudest = writes.iter().map(|w| w.peak).max().unwrap_or(0);
    let ducked = writes
        .iter()
        .any(|w| w.clears_before == 0 && w.peak > 0 && w.peak <= loudest / 4);
    (loudest, ducked)
}

#[test]
fn a_cough_over_the_agent_ducks_its_voice_then_restores_it_with_nothing_lost() {
    let caller = synthetic_caller(&[
        (200, false),
        (600, true),
        (1_500, false),
        (250, true),
        (4_000, false),
    ]);
    let reply = "This reply keeps going for a few seconds, so the caller can cough over it.";
    let out = RecordingOutput::default();
    let p = session(
        Box::new(WavInput::from_samples(caller, true)),
        Box::new(out.clone()),
        &["hello", "cough"],
        ScriptedChat::replies(&[reply]),
        unbounded().0,
    );
    let outcome = join(Pipeline::spawn(p, PipelineConfig::default()));
    let r = &outcome.reports;
    assert_eq!(r.len(), 1, "{r:#?}");
    assert!(!r[0].interrupted);
    assert_eq!(r[0].played_text, reply, "every word still played");
    assert!(out.clears.lock().unwrap().is_empty(), "never cut");
    let (loudest, ducked) = ducked_before_any_clear(&out);
    assert!(ducked, "the cough ducked the agent");
    // ... and the voice came back to full volume after it.
    let writes = out.writes.lock().unwrap();
    let last_ducked = writes
        .iter()
        .rposition(|w| w.peak > 0 && w.peak <= loudest / 4)
        .unwrap();
    assert!(
        writes[last_ducked..].iter().any(|w| w.peak == loudest),
        "restored after the cough"
    );
}

#[test]
fn a_real_interruption_ducks_the_agent_before_it_cuts_it_off() {
    let caller = synthetic_caller(&[
        (200, false),
        (600, true),
        (2_000, false),
        (1_000, true),
        (4_000, false),
    ]);
    let out = RecordingOutput::default();
    let p = session(
        Box::new(WavInput::from_samples(caller, true)),
        Box::new(out.clone()),
        &["tell me about the clinic", "wait, stop"],
        ScriptedChat::replies(&[
            "We open at eight every weekday and close at six in the evening, and parking is free.",
            "Sure.",
        ]),
        unbounded().0,
    );
    let outcome = join(Pipeline::spawn(p, PipelineConfig::default()));
    let r = &outcome.reports;
    assert!(r[0].interrupted, "{r:#?}");
    assert!(!out.clears.lock().unwrap().is_empty(), "cut off");
    let (_, ducked) = ducked_before_any_clear(&out);
    assert!(ducked, "ducked while the barge-in was confirmed");
    // The next reply is at full volume.
    let writes = out.writes.lock().unwrap();
    let after: Vec<i16> = writes
        .iter()
        .filter(|w| w.clears_before > 0)
        .map(|w| w.peak)
        .collect();
    assert!(after.iter().any(|&p| p > 0) && !after.is_empty());
}
