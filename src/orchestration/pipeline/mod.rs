//! The threaded pipeline: one OS thread per stage, joined by crossbeam channels.
//!
//! ```text
//! [source] -Frame-> [vad] -VadMsg-> [stt] -SttMsg-> [agent] -AgentMsg-> [sentences]
//!     -SentenceMsg-> [tts] -TtsMsg-> [sink] ==Output==> transport (audio and events, in order)
//! ```
//!
//! Data flows down the chain; control travels on channels too ([`messages`]): the sink owns the
//! agent's state and the session's output, the other stages report to it, and it tells the VAD,
//! the source and the agent what they need back. Shutdown needs no flags: when the source ends
//! it drops its sender, each stage's input closes in turn and every thread returns ([`runner`]).
//! A stage that panics is caught and reported, and its dropped channels end the rest the same
//! way. Barge-in bumps the shared [`Generation`], whose tokens abort work in flight.

pub mod clock;
pub mod events;
pub mod messages;
pub mod output;
pub mod runner;
pub mod shared;
pub mod stages;
pub mod state;
pub mod turn;

use std::collections::HashSet;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, never, unbounded, Receiver, Sender};

use crate::foundation::audio::wav::ConversationRecorder;
use crate::foundation::audio::AudioInput;
use crate::foundation::cancel::Generation;
use crate::foundation::text::sentence::SentenceConfig;
use crate::orchestration::agent::{Agent, AgentConfig};
use crate::providers::llm::tools::ToolSet;
use crate::providers::llm::ChatModel;
use crate::providers::session::SessionProviders;
use crate::providers::stt::SpeechToText;
use crate::providers::tts::TextToSpeech;
use crate::providers::vad::{Vad, VadConfig};

pub use clock::MediaClock;
pub use events::Event;
pub use messages::{Events, SinkControl, SourceControl};
pub use output::{Output, SessionOutput};
pub use shared::Shared;
pub use state::AgentState;
pub use turn::{Latencies, TurnReport};

use stages::agent::AgentStage;
use stages::sentences::SentenceStage;
use stages::sink::{Listeners, Sink};
use stages::stt::{SpeculationStats, SttStage};
use stages::tts::TtsStage;
use stages::vad::VadStage;

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
    /// Where the session's one ordered output goes.
    pub output: Box<dyn SessionOutput>,
    pub vad: Box<dyn Vad>,
    pub stt: Box<dyn SpeechToText>,
    pub chat: Box<dyn ChatModel>,
    pub tools: Box<dyn ToolSet>,
    pub tts: Box<dyn TextToSpeech>,
    pub recorder: Option<ConversationRecorder>,
    /// Overrides `PipelineConfig::agent.system_prompt` for this session.
    pub system_prompt: Option<String>,
}

impl SessionParts {
    /// A session from a factory's providers and a transport.
    pub fn new(
        providers: SessionProviders,
        input: Box<dyn AudioInput>,
        output: Box<dyn SessionOutput>,
    ) -> Self {
        Self {
            input,
            output,
            vad: providers.vad,
            stt: providers.stt,
            chat: providers.chat,
            tools: providers.tools,
            tts: providers.tts,
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
    /// Stages that had not ended when `join_within` gave up on them.
    pub stuck_stages: Vec<String>,
}

/// A running session.
pub struct Pipeline {
    handles: Vec<(&'static str, JoinHandle<Option<()>>)>,
    stt: JoinHandle<Option<SpeculationStats>>,
    sink: JoinHandle<Option<Vec<TurnReport>>>,
    generation: Generation,
    events: Events,
    /// Each stage thread's name as it ends.
    done: Receiver<&'static str>,
    source: Sender<SourceControl>,
}

impl Pipeline {
    /// Start every stage of a session.
    pub fn spawn(parts: SessionParts, config: PipelineConfig) -> Self {
        let realtime = parts.input.is_realtime();
        let (events, sink_control) = Events::channel();
        let (source_tx, source_rx) = unbounded();
        let (done_tx, done) = unbounded();
        let s = Shared {
            done: done_tx,
            generation: Generation::new(),
            events: events.clone(),
            source: source_tx,
            clock: Arc::new(MediaClock::new(realtime)),
            recorder: parts.recorder.clone(),
        };
        // Data, in pipeline order. A paced source must never wait on the VAD; an unpaced one
        // should not run ahead of it.
        let (frame_tx, frame_rx) = bounded(if realtime { 256 } else { 2 });
        // The STT may be busy with a speculative decode: hold up to 60 s of frames meanwhile.
        let (vad_tx, vad_rx) = bounded(3_000);
        let (stt_tx, stt_rx) = bounded(64);
        let (agent_tx, agent_rx) = bounded(1_024);
        let (sent_tx, sent_rx) = bounded(64);
        let (tts_tx, tts_rx) = bounded(64);
        // Control, never bounded: the sink must never wait on a stage upstream of it.
        let (vad_ctl_tx, vad_ctl_rx) = unbounded();
        let (heard_tx, heard_rx) = unbounded();

        // Stages start in pipeline order; each runs on its own thread until its input closes.
        let input = parts.input;
        let (own, drain) = (s.clone(), config.drain_tail);
        let source = runner::spawn("source", &s, move || {
            stages::source::run(input, frame_tx, source_rx, own, drain)
        });
        let vad = VadStage::new(
            parts.vad,
            config.vad.clone(),
            config.speculative_reply,
            vad_tx,
            s.clone(),
        );
        let vad = runner::start("vad", &s, vad, frame_rx, vad_ctl_rx);
        let stt = SttStage::new(
            parts.stt,
            config.speculative_stt,
            vad_rx.clone(),
            stt_tx,
            vad_ctl_tx.clone(),
            s.clone(),
        );
        let stt = runner::start("stt", &s, stt, vad_rx, never());
        let mut agent_config = config.agent.clone();
        if let Some(prompt) = parts.system_prompt {
            agent_config.system_prompt = prompt;
        }
        let agent = Agent::new(agent_config, parts.chat, parts.tools);
        let agent = AgentStage::new(
            agent,
            stt_rx.clone(),
            heard_rx.clone(),
            agent_tx,
            vad_ctl_tx.clone(),
            s.clone(),
        );
        let agent = runner::start("agent", &s, agent, stt_rx, heard_rx);
        let sentences = SentenceStage::new(
            config.sentences.clone(),
            config.sequential,
            sent_tx,
            s.clone(),
        );
        let sentences = runner::start("sentences", &s, sentences, agent_rx, never());
        let tts = TtsStage::new(parts.tts, config.sequential, tts_tx, s.clone());
        let tts = runner::start("tts", &s, tts, sent_rx, never());
        let listeners = Listeners {
            heard: heard_tx,
            vad: vad_ctl_tx,
        };
        let sink = Sink::new(parts.output, config.lookahead_ms, listeners, s.clone());
        let sink = runner::start("sink", &s, sink, tts_rx, sink_control);
        let handles = vec![
            ("source", source),
            ("vad", vad),
            ("agent", agent),
            ("sentences", sentences),
            ("tts", tts),
        ];
        Self {
            handles,
            stt,
            sink,
            generation: s.generation.clone(),
            events,
            done,
            source: s.source.clone(),
        }
    }

    /// The session's generation counter (bump it to cut the agent off).
    pub fn generation(&self) -> &Generation {
        &self.generation
    }

    /// The caller hung up: stop reading the input, abort what is in flight, and play nothing
    /// more, so the stages wind down at once instead of speaking to nobody.
    pub fn hang_up(&self) {
        let _ = self.source.send(SourceControl::Stop);
        self.generation.bump();
        self.events.control(SinkControl::HangUp);
    }

    /// Wait for every stage to end; returns the turn reports and the stages that failed.
    pub fn join(self) -> SessionOutcome {
        self.join_until(None)
    }

    /// As `join`, but waits at most `limit`: a stage still stuck then (a provider call that
    /// hangs) is left to finish on its own and named in `stuck_stages`, so whoever ends the
    /// session (a server freeing its slot) is never held by it.
    pub fn join_within(self, limit: Duration) -> SessionOutcome {
        self.join_until(Some(Instant::now() + limit))
    }

    fn join_until(self, deadline: Option<Instant>) -> SessionOutcome {
        let mut outcome = SessionOutcome::default();
        // Our own line to the sink must not keep its control channel open.
        drop(self.events);
        let total = self.handles.len() + 2;
        let mut ended = HashSet::new();
        while ended.len() < total {
            let next = match deadline {
                Some(d) => self.done.recv_deadline(d).ok(),
                None => self.done.recv().ok(),
            };
            match next {
                Some(name) => ended.insert(name),
                None => break,
            };
        }
        let mut finished = |name: &'static str| {
            let done = ended.contains(name);
            if !done {
                log::error!("stage {name} did not end in time; left to finish on its own");
                outcome.stuck_stages.push(name.to_string());
            }
            done
        };
        let sink_done = finished("sink");
        let stt_done = finished("stt");
        let others: Vec<_> = self
            .handles
            .into_iter()
            .filter(|(name, _)| finished(name))
            .collect();
        // Joining a stage that has ended returns at once; a stuck one's handle is dropped.
        if sink_done {
            match self.sink.join() {
                Ok(Some(reports)) => outcome.reports = reports,
                _ => outcome.failed_stages.push("sink".into()),
            }
        }
        if stt_done {
            match self.stt.join() {
                Ok(Some(stats)) => {
                    outcome.speculative_used = stats.used;
                    outcome.speculative_wasted = stats.wasted;
                }
                _ => outcome.failed_stages.push("stt".into()),
            }
        }
        for (name, h) in others {
            // `None` means the stage panicked (already reported by `runner::spawn`).
            if !matches!(h.join(), Ok(Some(()))) {
                outcome.failed_stages.push(name.into());
            }
        }
        outcome
    }
}
