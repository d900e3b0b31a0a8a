//! The threaded pipeline: one OS thread per stage, joined by crossbeam channels.
//!
//! ```text
//! [source] -Frame-> [vad] -VadMsg-> [stt] -SttMsg-> [agent] -AgentMsg-> [sentences]
//!     -SentenceMsg-> [tts] -TtsMsg-> [sink] -Heard-> (back to the agent)
//! ```
//!
//! Shutdown needs no flags: when the source ends it drops its sender, each stage's `recv` fails
//! in turn and every thread returns. A stage that panics is caught, reported, and its dropped
//! channels end the rest the same way. Barge-in bumps the shared [`Generation`].

pub mod clock;
pub mod events;
pub mod generation;
pub mod messages;
pub mod stages;
pub mod state;
pub mod turn;

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, unbounded};

use crate::agent::tools::ToolSet;
use crate::agent::AgentConfig;
use crate::audio::wav::ConversationRecorder;
use crate::audio::{AudioInput, AudioOutput};
use crate::llm::ChatModel;
use crate::providers::SessionProviders;
use crate::stt::SpeechToText;
use crate::text::sentence::SentenceConfig;
use crate::tts::TextToSpeech;
use crate::vad::{Vad, VadConfig};

pub use clock::MediaClock;
pub use events::{Event, Events};
pub use generation::{CancelToken, Generation};
pub use state::{AgentState, SharedState};
pub use turn::{Latencies, TurnReport};

/// How a session behaves; every field has a sensible default.
#[derive(Clone, Debug)]
pub struct PipelineConfig {
    pub vad: VadConfig,
    pub agent: AgentConfig,
    pub sentences: SentenceConfig,
    /// How far ahead of the playback clock the sink hands audio to the output (absorbs device or
    /// network jitter; larger means a slower stop on barge-in for outputs that cannot clear).
    pub lookahead_ms: u64,
    /// After the source ends, keep feeding silence until the agent has answered (WAV runs).
    pub drain_tail: bool,
    /// Transcribe speculatively when the caller pauses, before the end of turn is certain.
    pub speculative_stt: bool,
    /// Also start the reply (LLM and TTS) at the pause; its audio is held until the end of turn
    /// is certain and thrown away if the caller goes on. Costs wasted LLM calls on resumes.
    pub speculative_reply: bool,
    /// The turn-based baseline instead of streaming: the whole transcript, then the whole reply,
    /// then the whole audio, each step waiting for the one before (set `speculative_*` off too).
    pub sequential: bool,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            vad: VadConfig::default(),
            agent: AgentConfig::default(),
            sentences: SentenceConfig::default(),
            lookahead_ms: 0,
            drain_tail: true,
            speculative_stt: true,
            speculative_reply: true,
            sequential: false,
        }
    }
}

/// Everything one session is made of: its transport and its providers.
pub struct SessionParts {
    pub input: Box<dyn AudioInput>,
    pub output: Box<dyn AudioOutput>,
    pub vad: Box<dyn Vad>,
    pub stt: Box<dyn SpeechToText>,
    pub chat: Box<dyn ChatModel>,
    pub tools: Box<dyn ToolSet>,
    pub tts: Box<dyn TextToSpeech>,
    pub events: Events,
    pub recorder: Option<ConversationRecorder>,
    /// Overrides `PipelineConfig::agent.system_prompt` for this session.
    pub system_prompt: Option<String>,
}

impl SessionParts {
    /// A session from a factory's providers and a transport.
    pub fn new(
        providers: SessionProviders,
        input: Box<dyn AudioInput>,
        output: Box<dyn AudioOutput>,
        events: Events,
    ) -> Self {
        Self {
            input,
            output,
            vad: providers.vad,
            stt: providers.stt,
            chat: providers.chat,
            tools: providers.tools,
            tts: providers.tts,
            events,
            recorder: None,
            system_prompt: Some(providers.system_prompt),
        }
    }
}

/// What a finished session leaves behind.
#[derive(Debug, Default)]
pub struct SessionOutcome {
    pub reports: Vec<TurnReport>,
    /// Stages that panicked (each was reported as an error event when it happened).
    pub failed_stages: Vec<String>,
    /// Replies started at a pause that were played / thrown away because the caller went on.
    pub speculative_used: u64,
    pub speculative_wasted: u64,
}

/// A running session.
pub struct Pipeline {
    handles: Vec<(&'static str, JoinHandle<Option<()>>)>,
    sink: JoinHandle<Option<Vec<TurnReport>>>,
    generation: Generation,
    state: SharedState,
    speculation: Arc<SpeculationCounters>,
}

/// What the stages share besides their channels.
#[derive(Clone)]
pub struct Shared {
    pub generation: Generation,
    pub state: SharedState,
    pub events: Events,
    pub clock: Arc<MediaClock>,
    pub recorder: Option<ConversationRecorder>,
    /// Set when a stage failed: the source stops, and the rest of the session drains.
    pub failed: Arc<AtomicBool>,
    /// How often replies started at a pause were used or thrown away.
    pub speculation: Arc<SpeculationCounters>,
}

/// Counters of speculative replies.
#[derive(Debug, Default)]
pub struct SpeculationCounters {
    pub used: AtomicU64,
    pub wasted: AtomicU64,
}

fn panic_message(p: &(dyn Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Run `f` on a named thread; a panic is caught, logged and reported as an error event.
fn spawn_stage<R: Send + 'static>(
    name: &'static str,
    shared: &Shared,
    f: impl FnOnce() -> R + Send + 'static,
) -> JoinHandle<Option<R>> {
    let events = shared.events.clone();
    let failed = shared.failed.clone();
    let spawn = std::thread::Builder::new()
        .name(format!("va-{name}"))
        .spawn(move || match catch_unwind(AssertUnwindSafe(f)) {
            Ok(r) => Some(r),
            Err(p) => {
                failed.store(true, Ordering::Release);
                events.error(name, format!("stage panicked: {}", panic_message(&*p)));
                None
            }
        });
    // Failing to spawn a thread means the process is out of resources; nothing sensible remains.
    spawn.unwrap_or_else(|e| panic!("cannot spawn the {name} thread: {e}"))
}

impl Pipeline {
    /// Start every stage of a session.
    pub fn spawn(parts: SessionParts, config: PipelineConfig) -> Self {
        let realtime = parts.input.is_realtime();
        let shared = Shared {
            generation: Generation::new(),
            state: SharedState::default(),
            events: parts.events.clone(),
            clock: Arc::new(MediaClock::new(realtime)),
            recorder: parts.recorder.clone(),
            failed: Arc::new(AtomicBool::new(false)),
            speculation: Arc::default(),
        };
        // A paced source must never wait on the VAD; an unpaced one should not run ahead of it.
        let (frame_tx, frame_rx) = bounded(if realtime { 256 } else { 2 });
        // The STT may be busy with a speculative decode: hold up to 60 s of frames meanwhile.
        let (vad_tx, vad_rx) = bounded(3_000);
        let (stt_tx, stt_rx) = bounded(64);
        let (agent_tx, agent_rx) = bounded(1_024);
        let (sent_tx, sent_rx) = bounded(64);
        let (tts_tx, tts_rx) = bounded(64);
        let (heard_tx, heard_rx) = unbounded();

        let mut handles: Vec<(&'static str, JoinHandle<Option<()>>)> = Vec::new();
        let mut add = |name: &'static str, h: JoinHandle<Option<()>>| handles.push((name, h));
        // Stages are spawned in pipeline order.
        {
            let s = shared.clone();
            let input = parts.input;
            let drain = config.drain_tail;
            add(
                "source",
                spawn_stage("source", &shared, move || {
                    stages::source::run(input, frame_tx, s, drain)
                }),
            );
        }
        {
            let s = shared.clone();
            let (vad, cfg, spec) = (parts.vad, config.vad.clone(), config.speculative_reply);
            add(
                "vad",
                spawn_stage("vad", &shared, move || {
                    stages::vad::run(vad, cfg, spec, frame_rx, vad_tx, s)
                }),
            );
        }
        {
            let s = shared.clone();
            let (stt, spec) = (parts.stt, config.speculative_stt);
            add(
                "stt",
                spawn_stage("stt", &shared, move || {
                    stages::stt::run(stt, spec, vad_rx, stt_tx, s)
                }),
            );
        }
        {
            let s = shared.clone();
            let mut agent_config = config.agent.clone();
            if let Some(prompt) = parts.system_prompt {
                agent_config.system_prompt = prompt;
            }
            let agent = crate::agent::Agent::new(agent_config, parts.chat, parts.tools);
            add(
                "agent",
                spawn_stage("agent", &shared, move || {
                    stages::agent::run(agent, stt_rx, heard_rx, agent_tx, s)
                }),
            );
        }
        {
            let s = shared.clone();
            let (cfg, seq) = (config.sentences.clone(), config.sequential);
            add(
                "sentences",
                spawn_stage("sentences", &shared, move || {
                    stages::sentences::run(cfg, seq, agent_rx, sent_tx, s)
                }),
            );
        }
        {
            let s = shared.clone();
            let (tts, seq) = (parts.tts, config.sequential);
            add(
                "tts",
                spawn_stage("tts", &shared, move || {
                    stages::tts::run(tts, seq, sent_rx, tts_tx, s)
                }),
            );
        }
        let sink = {
            let s = shared.clone();
            let (out, lookahead) = (parts.output, config.lookahead_ms);
            spawn_stage("sink", &shared, move || {
                stages::sink::run(out, lookahead, tts_rx, heard_tx, s)
            })
        };
        Self {
            handles,
            sink,
            generation: shared.generation,
            state: shared.state,
            speculation: shared.speculation,
        }
    }

    /// The session's generation counter (bump it to cut the agent off).
    pub fn generation(&self) -> &Generation {
        &self.generation
    }

    pub fn state(&self) -> &SharedState {
        &self.state
    }

    /// Wait for every stage to end; returns the turn reports and the stages that failed.
    pub fn join(self) -> SessionOutcome {
        let mut outcome = SessionOutcome::default();
        match self.sink.join() {
            Ok(Some(reports)) => outcome.reports = reports,
            _ => outcome.failed_stages.push("sink".into()),
        }
        for (name, h) in self.handles {
            // `None` means the stage panicked (already reported by `spawn_stage`).
            if !matches!(h.join(), Ok(Some(()))) {
                outcome.failed_stages.push(name.into());
            }
        }
        outcome.speculative_used = self.speculation.used.load(Ordering::Relaxed);
        outcome.speculative_wasted = self.speculation.wasted.load(Ordering::Relaxed);
        outcome
    }
}
