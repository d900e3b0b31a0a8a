//! The typed messages of each channel, in pipeline order.

use std::sync::Arc;
use std::time::Instant;

use super::turn::Turn;

/// source -> vad: one 20 ms frame of caller audio (16 kHz mono), stamped with its media time.
#[derive(Debug)]
pub struct Frame {
    pub pcm: Vec<i16>,
    /// Media time of the frame's start, in ms (aligns the conversation recording).
    pub media_ms: u64,
    /// When the frame entered the pipeline.
    pub at: Instant,
}

/// vad -> stt: the caller's turn as it unfolds.
#[derive(Debug)]
pub enum VadMsg {
    /// A turn began; the padding and speech so far follow as `Audio`.
    Start { turn: Arc<Turn> },
    /// Caller audio belonging to the current turn.
    Audio { pcm: Vec<i16> },
    /// The caller has been silent for a moment: transcribe speculatively, and when `reply`
    /// also start the reply (held back until the turn is committed).
    Pause { reply: bool },
    /// The caller went on after a pause: speculative work is void.
    Resume,
    /// The turn is over: produce the final transcript.
    End,
    /// The turn is void (a blip while the agent was speaking): drop it.
    Discard,
}

/// stt -> agent.
#[derive(Debug)]
pub enum SttMsg {
    /// A transcript of the turn so far, for display.
    Partial { turn: Arc<Turn>, text: String },
    /// A transcript made at a pause, before the end of turn is certain: the agent may start
    /// its reply; the turn's generation is bumped if the caller goes on.
    /// `generation` is the one current when the transcript was made: the reply is void if
    /// the caller went on since.
    Speculative {
        turn: Arc<Turn>,
        text: String,
        generation: u64,
    },
    /// The final transcript of a turn.
    Final { turn: Arc<Turn>, text: String },
    /// Transcription failed; the agent apologises.
    Failed { turn: Arc<Turn>, message: String },
}

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

/// sink -> agent: what the caller heard of a finished or interrupted reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard {
    pub turn_id: u64,
    /// What the caller heard.
    pub text: String,
    /// Everything the agent meant to say.
    pub full_text: String,
    pub interrupted: bool,
}
