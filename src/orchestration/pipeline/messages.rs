//! The typed messages of each channel, in pipeline order. Data flows down the chain; control
//! (the turn commit, barge-in, state changes, hang-up) travels on each stage's control channel.
//!
//! ```text
//! source -Frame-> vad -VadMsg-> stt -SttMsg-> agent -AgentMsg-> sentences -SentenceMsg-> tts
//!     -TtsMsg-> sink
//! control:  vad, stt, agent, any stage --SinkControl--> sink      (the session's one owner)
//!           sink --StateUpdate--> vad, source      vad --Hold--> source (wait for the answer)
//!           any stage that panics --Stop--> source
//!           stt, agent --VadControl--> vad   (the end of turn judged; a provider ended it)
//!           sink --Heard--> agent      (what the caller heard of each reply)
//! ```

use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{unbounded, Receiver, Sender};

use super::events::Event;
use super::state::AgentState;
use super::turn::Turn;
use crate::foundation::text::turn_end::TurnVerdict;

/// A message that may belong to one reply.
pub trait Stamped {
    /// The generation of the reply it belongs to, when it can be dropped once that generation
    /// is stale; `None` for messages that must always arrive (the end of a reply).
    fn droppable(&self) -> Option<u64> {
        None
    }
}

/// source -> vad: one 20 ms frame of caller audio (16 kHz mono), stamped with its media time;
/// or, with no audio, an entry the caller keyed on a phone's keypad.
#[derive(Debug)]
pub struct Frame {
    pub pcm: Vec<i16>,
    pub keys: Option<String>,
    /// Media time of the frame's start, in ms (aligns the conversation recording).
    pub media_ms: u64,
    /// When the frame entered the pipeline.
    pub at: Instant,
}

impl Stamped for Frame {}

/// vad -> stt: the caller's turn as it unfolds.
#[derive(Debug)]
pub enum VadMsg {
    /// A turn began; the padding and speech so far follow as `Audio`. `over_agent`: it began
    /// while the agent was busy, so it may be a cough or an echo until the VAD says otherwise.
    Start { turn: Arc<Turn>, over_agent: bool },
    /// Caller audio belonging to the current turn.
    Audio { pcm: Vec<i16> },
    /// The turn that began over the agent cut it off: it is a real turn.
    BargedIn,
    /// The caller has been silent for a moment: transcribe speculatively, and when `reply`
    /// also start the reply (held back until the turn is committed). `pause` numbers the
    /// pauses, so a judgement of the words comes back to the pause it was made at. `early`:
    /// the sound stopped, and the voice detector has not seen the pause yet; it sends the same
    /// pause again when it does (transcribed then if the model was too busy before).
    Pause {
        reply: bool,
        pause: u64,
        early: bool,
    },
    /// The caller went on after a pause: speculative work is void.
    Resume,
    /// The turn is over: produce the final transcript.
    End,
    /// The turn is void (a blip while the agent was speaking): drop it.
    Discard,
    /// Keys the caller pressed, part of the current turn (a turn of keys alone has no audio).
    Keys { text: String },
}

impl Stamped for VadMsg {}

/// sink, stt -> vad.
#[derive(Debug)]
pub enum VadControl {
    /// The agent's state changed (from the sink, its owner).
    State(StateUpdate),
    /// A streaming provider's own endpointing (Deepgram's `speech_final`) ended this turn
    /// before the VAD did; speech from now on starts a new turn.
    ProviderEnded { turn_id: u64 },
    /// stt (or agent, with its brain's view when a reply starts at the pause): what the words
    /// heard at pause `pause` of this turn say about its end (see
    /// [`crate::foundation::text::turn_end`]): end it soon, or wait longer.
    TurnJudged {
        turn_id: u64,
        pause: u64,
        verdict: TurnVerdict,
    },
}

/// stt -> agent.
#[derive(Debug)]
pub enum SttMsg {
    /// A transcript of the turn so far, for display.
    Partial { turn: Arc<Turn>, text: String },
    /// A transcript made at a pause, before the end of turn is certain: the agent may start
    /// its reply. `generation` is the one current when the transcript was made: the reply is
    /// void if the caller went on since. `verdict` is what the words say about the end of the
    /// turn at pause `pause`: the agent adds its brain's view and tells the VAD.
    Speculative {
        turn: Arc<Turn>,
        text: String,
        generation: u64,
        pause: u64,
        verdict: TurnVerdict,
    },
    /// The caller went on after the pause: the reply started on the speculative transcript is
    /// void (its generation was bumped before this was sent).
    Resumed { turn_id: u64 },
    /// The final transcript of a turn: the turn is committed. `from_pause`: it is the
    /// speculative transcript, standing because only silence followed the pause.
    Final {
        turn: Arc<Turn>,
        text: String,
        from_pause: bool,
    },
    /// Transcription failed; the agent apologises.
    Failed { turn: Arc<Turn>, message: String },
}

impl Stamped for SttMsg {}

/// agent -> sentences. Every message carries the generation its reply was made for.
#[derive(Debug)]
pub enum AgentMsg {
    /// A piece of reply text.
    Text {
        turn: Arc<Turn>,
        generation: u64,
        text: String,
    },
    /// Speak what is buffered now (text before a tool call, a filler).
    Flush { turn: Arc<Turn>, generation: u64 },
    /// The reply is complete (always sent, even for an empty or cancelled reply).
    End { turn: Arc<Turn>, generation: u64 },
}

impl Stamped for AgentMsg {
    fn droppable(&self) -> Option<u64> {
        match self {
            Self::Text { generation, .. } | Self::Flush { generation, .. } => Some(*generation),
            // The end of a reply always travels on: the sink closes the turn with it.
            Self::End { .. } => None,
        }
    }
}

/// sentences -> tts.
#[derive(Debug)]
pub enum SentenceMsg {
    Sentence {
        turn: Arc<Turn>,
        generation: u64,
        text: String,
    },
    End {
        turn: Arc<Turn>,
        generation: u64,
    },
}

impl Stamped for SentenceMsg {
    fn droppable(&self) -> Option<u64> {
        match self {
            Self::Sentence { generation, .. } => Some(*generation),
            Self::End { .. } => None,
        }
    }
}

/// tts -> sink.
#[derive(Debug)]
pub enum TtsMsg {
    /// A sentence begins: its audio follows.
    SentenceStart {
        turn: Arc<Turn>,
        generation: u64,
        text: String,
    },
    /// Audio of the current sentence (24 kHz mono).
    Audio {
        turn: Arc<Turn>,
        generation: u64,
        pcm: Vec<i16>,
    },
    /// The reply is complete.
    End { turn: Arc<Turn>, generation: u64 },
}

impl Stamped for TtsMsg {
    fn droppable(&self) -> Option<u64> {
        match self {
            Self::SentenceStart { generation, .. } | Self::Audio { generation, .. } => {
                Some(*generation)
            }
            Self::End { .. } => None,
        }
    }
}

/// Any stage -> sink: what the sink, the session's one owner of its state and of its ordered
/// output, must know. Never dropped, never blocks the sender.
#[derive(Debug)]
pub enum SinkControl {
    /// Something happened that the transport shows (transcript, tool call, error, ...).
    Event(Event),
    /// vad: the caller started talking. `seq` numbers the VAD's requests (see [`StateUpdate`]).
    CallerStarted { seq: u64 },
    /// vad: the caller's blip over the agent was dropped; the caller is silent again.
    CallerStopped { seq: u64 },
    /// vad or stt: the caller's turn is over; the agent works on it.
    TurnEnded { seq: u64 },
    /// stt: the end of this turn is certain: a reply made for it in `generation` or later may
    /// be played. (A reply of an older generation was made at a pause the caller talked
    /// through: it is void.)
    Committed { turn_id: u64, generation: u64 },
    /// vad: the caller cut the agent off; the generation was bumped to `generation`.
    BargeIn { seq: u64, generation: u64 },
    /// vad: the caller may be starting to talk over the agent: play the agent's voice at
    /// `gain` until told otherwise (1.0 restores it; a barge-in or a new reply also does).
    Duck { gain: f32 },
    /// The caller hung up: drop every reply unplayed and let the session end.
    HangUp,
}

/// sink -> vad, source: the agent's state changed. `vad_seq` is the last VAD request the sink
/// had applied, so the VAD can ignore an update that its own later request will overtake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateUpdate {
    pub state: AgentState,
    pub vad_seq: u64,
}

/// sink, vad, a failing stage -> source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceControl {
    /// The agent's state changed (from the sink).
    State(StateUpdate),
    /// vad: the caller's turn `seq` ended: a caller that waits for answers (an unpaced file)
    /// speaks again only once the sink has announced the agent free after it. Sent before the
    /// VAD's request to the sink, so the answer can never overtake it.
    Hold { seq: u64 },
    /// A stage failed: stop feeding the session, so it winds down.
    Stop,
}

/// How the stages tell the sink what happened: events for the transport, and control. Cheap to
/// clone; never blocks (the channel is unbounded, and the sink drains it all the time).
#[derive(Clone, Debug)]
pub struct Events {
    tx: Sender<SinkControl>,
}

impl Events {
    /// The stages' line to the sink, and the sink's end of it.
    pub fn channel() -> (Self, Receiver<SinkControl>) {
        let (tx, rx) = unbounded();
        (Self { tx }, rx)
    }

    /// An event for the session's output, placed in order by the sink.
    pub fn emit(&self, event: Event) {
        self.control(SinkControl::Event(event));
    }

    /// A control message for the sink. Once the sink is gone nobody needs it.
    pub fn control(&self, msg: SinkControl) {
        let _ = self.tx.send(msg);
    }

    pub fn error(&self, stage: &str, message: impl Into<String>) {
        let message = message.into();
        log::error!("[{stage}] {message}");
        self.emit(Event::Error {
            stage: stage.to_string(),
            message,
        });
    }
}
