//! The bench's results: per-stage tables of each run, streaming vs turn-based, capacity and
//! component figures, as one serde structure (the `--json` file) and as markdown tables (stdout,
//! ready to paste into a README).

use serde::{Deserialize, Serialize};

use super::bargein::BargeInReport;
use super::capacity::{CapacityLevel, CapacityReport, IdleMemory, QueueFigures};
use super::llm::{LlamaServer, LlmReport};
use super::models::ModelsReport;
use super::procstat::Machine;
use super::stats::Summary;
use crate::orchestration::pipeline::{Latencies, TurnReport};
use crate::providers::llm::delay::LlmLatency;

/// How a run's pipeline was configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Every stage streams into the next, with speculation during the endpointing silence.
    Streaming,
    /// Turn-based: the whole transcript, then the whole reply, then the whole audio.
    Sequential,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::Streaming => "streaming",
            Mode::Sequential => "turn-based",
        }
    }
}

/// One measured turn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TurnSample {
    /// Which utterance (0-based) the turn answers.
    pub utterance: Option<usize>,
    /// The utterance's words, when known.
    pub expected: Option<String>,
    pub transcript: String,
    pub agent_text: String,
    pub latency: Latencies,
    /// The final transcript came from work started at the caller's pause.
    pub speculative_stt: bool,
    /// Word error rate of the transcript against `expected`.
    pub wer: Option<f64>,
    /// The pipeline's anchor (its speech end, where every latency starts) minus the
    /// utterance's real end (the end of the frame holding its last audible sample), in ms.
    #[serde(default)]
    pub anchor_error_ms: Option<f64>,
    /// The pipeline's anchor itself (compared once every utterance has been spoken).
    #[serde(skip)]
    pub speech_end_at: Option<std::time::Instant>,
}

impl TurnSample {
    pub fn new(report: &TurnReport, utterance: Option<usize>, expected: Option<&str>) -> Self {
        Self {
            utterance,
            expected: expected.map(str::to_string),
            transcript: report.transcript.clone(),
            agent_text: report.agent_text.clone(),
            latency: report.latency.clone(),
            speculative_stt: report.speculative_stt,
            wer: expected.map(|e| super::wer::wer(e, &report.transcript)),
            anchor_error_ms: None,
            speech_end_at: report.speech_end_at,
        }
    }

    /// Measured TTFA minus the sum of stages.
    pub fn overhead_ms(&self) -> Option<f64> {
        Some(self.latency.ttfa_ms? - self.latency.stage_sum_ms()?)
    }
}

/// One row of a per-stage table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageRow {
    pub key: String,
    pub label: String,
    pub summary: Option<Summary>,
}

type Extract = fn(&TurnSample) -> Option<f64>;

/// The rows of a per-stage table, in order: (key, label, value of a turn).
const STAGES: [(&str, &str, Extract); 11] = [
    (
        "endpoint",
        "Endpointing wait (speech end → end of turn)",
        |t| t.latency.endpoint_ms,
    ),
    (
        "stt",
        "STT latency (speech end → final transcript)",
        |t| t.latency.stt_ms,
    ),
    ("stt_compute", "STT compute (model time)", |t| {
        t.latency.stt_compute_ms
    }),
    ("llm_first_token", "LLM time to first token", |t| {
        t.latency.llm_first_token_ms
    }),
    (
        "first_chunk",
        "First speakable chunk (first token → chunk)",
        |t| t.latency.first_chunk_ms,
    ),
    ("tts_first_audio", "TTS time to first audio", |t| {
        t.latency.tts_first_audio_ms
    }),
    (
        "playout",
        "Hold + sink (first TTS audio → audio out)",
        |t| t.latency.playout_ms,
    ),
    (
        "stage_sum",
        "Sum of stages (STT + LLM + chunk + TTS)",
        |t| t.latency.stage_sum_ms(),
    ),
    (
        "ttfa",
        "Measured TTFA (speech end → first audio out)",
        |t| t.latency.ttfa_ms,
    ),
    (
        "overhead",
        "Overhead (measured − sum)",
        TurnSample::overhead_ms,
    ),
    (
        "hops",
        "Hand-offs, turns without speculation (measured − sum − hold)",
        |t| {
            if t.speculative_stt {
                None
            } else {
                Some(t.overhead_ms()? - t.latency.playout_ms?)
            }
        },
    ),
];

/// Per-stage summaries over `turns`.
pub fn stage_rows(turns: &[TurnSample]) -> Vec<StageRow> {
    STAGES
        .iter()
        .map(|(key, label, f)| {
            let values: Vec<f64> = turns.iter().filter_map(f).collect();
            StageRow {
                key: key.to_string(),
                label: label.to_string(),
                summary: Summary::of(&values),
            }
        })
        .collect()
}

/// One configuration run over all the utterances.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PipelineRun {
    /// The brain, as the table names it ("built-in receptionist", "+ 340 ms TTFT ...").
    pub brain: String,
    pub mode: Mode,
    pub llm_latency: Option<LlmLatency>,
    pub turns: Vec<TurnSample>,
    pub stages: Vec<StageRow>,
    /// Replies started at a pause and played / thrown away because the caller went on.
    pub speculative_used: u64,
    pub speculative_wasted: u64,
    /// Utterances that got no reply.
    pub unanswered: usize,
    /// Turn reports left out of `turns`: no agent audio, no transcript, or a repeat of a turn
    /// already counted.
    pub uncounted_reports: usize,
    /// Mean word error rate of the transcripts (utterances with known words).
    pub wer: Option<f64>,
    pub wall_s: f64,
    /// Turns ended while the caller still had words to say (the pipeline's speech end more
    /// than a frame before the utterance's real end: a mid-sentence pause taken for the end).
    #[serde(default)]
    pub premature_ends: usize,
    /// Turns whose end came later than the fixed wait would have put it (a hold for words that
    /// never came).
    #[serde(default)]
    pub late_ends: usize,
    /// Utterances with a pause in the middle, of all spoken.
    #[serde(default)]
    pub paused_utterances: usize,
}

impl PipelineRun {
    pub fn new(
        brain: impl Into<String>,
        mode: Mode,
        llm_latency: Option<LlmLatency>,
        turns: Vec<TurnSample>,
    ) -> Self {
        let wers: Vec<f64> = turns.iter().filter_map(|t| t.wer).collect();
        Self {
            brain: brain.into(),
            mode,
            llm_latency,
            stages: stage_rows(&turns),
            wer: (!wers.is_empty()).then(|| wers.iter().sum::<f64>() / wers.len() as f64),
            turns,
            speculative_used: 0,
            speculative_wasted: 0,
            unanswered: 0,
            uncounted_reports: 0,
            wall_s: 0.0,
            premature_ends: 0,
            late_ends: 0,
            paused_utterances: 0,
        }
    }

    pub fn label(&self) -> String {
        format!("{}, {}", self.mode.label(), self.brain)
    }

    pub fn stage(&self, key: &str) -> Option<&Summary> {
        self.stages
            .iter()
            .find(|r| r.key == key)
            .and_then(|r| r.summary.as_ref())
    }

    pub fn ttfa(&self) -> Option<&Summary> {
        self.stage("ttfa")
    }

    /// The typical turn: the one whose TTFA is nearest the median, with every stage present.
    pub fn median_turn(&self) -> Option<&TurnSample> {
        let p50 = self.ttfa()?.p50;
        self.turns
            .iter()
            .filter(|t| t.latency.stage_sum_ms().is_some() && t.latency.ttfa_ms.is_some())
            .min_by(|a, b| {
                let d = |t: &TurnSample| (t.latency.ttfa_ms.unwrap_or(f64::MAX) - p50).abs();
                d(a).total_cmp(&d(b))
            })
    }
}

/// Streaming vs turn-based TTFA with the same brain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub brain: String,
    pub streaming: Summary,
    pub sequential: Summary,
    /// Turn-based P50 TTFA over streaming P50 TTFA.
    pub ratio_p50: f64,
}

/// One comparison per brain that was run both ways.
pub fn compare(runs: &[PipelineRun]) -> Vec<Comparison> {
    let mut out = Vec::new();
    for s in runs.iter().filter(|r| r.mode == Mode::Streaming) {
        let seq = runs
            .iter()
            .find(|r| r.mode == Mode::Sequential && r.brain == s.brain);
        if let (Some(a), Some(b)) = (s.ttfa(), seq.and_then(|r| r.ttfa())) {
            if a.p50 <= 0.0 {
                continue;
            }
            out.push(Comparison {
                brain: s.brain.clone(),
                streaming: a.clone(),
                sequential: b.clone(),
                ratio_p50: b.p50 / a.p50,
            });
        }
    }
    out
}

/// The settings a run was made with.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Where the utterances came from.
    pub utterance_source: String,
    pub utterances: usize,
    /// Their lengths in seconds.
    pub utterance_seconds: Option<Summary>,
    /// Silence after each reply before the next utterance.
    pub gap_ms: u64,
    pub quick: bool,
    pub llm_latency: Option<LlmLatency>,
}

/// Everything one `voice-agent bench` measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub version: String,
    pub machine: Machine,
    /// The providers, one line each, as stated at start-up.
    pub providers: Vec<String>,
    pub settings: Settings,
    pub runs: Vec<PipelineRun>,
    pub comparisons: Vec<Comparison>,
    pub idle_memory: Option<IdleMemory>,
    pub capacity: Option<CapacityReport>,
    /// The same capacity levels with each session calling the local models itself.
    #[serde(default)]
    pub capacity_private: Option<CapacityReport>,
    /// Orchestration overhead per turn with zero-latency fakes.
    pub overhead: Option<Summary>,
    pub models: Option<ModelsReport>,
    pub llm: Option<LlmReport>,
    pub barge_in: Option<BargeInReport>,
    /// The phone line (WER by band, TTFA through /telephony).
    #[serde(default)]
    pub phone: Option<super::phone::PhoneReport>,
    /// Parts left out, and why.
    pub notes: Vec<String>,
    pub duration_s: f64,
}

/// Milliseconds with sensible precision.
pub fn ms(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v.abs() < 1.0 {
        format!("{v:.2}")
    } else if v.abs() < 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

fn opt_ms(s: Option<&Summary>, f: fn(&Summary) -> f64) -> String {
    s.map_or("–".into(), |s| ms(f(s)))
}

/// A markdown table with columns padded to line up in a terminal. `right[i]`: right-align column i.
pub fn table(headers: &[&str], right: &[bool], rows: &[Vec<String>]) -> String {
    let n = headers.len();
    let width = |i: usize| {
        rows.iter()
            .filter_map(|r| r.get(i))
            .chain(std::iter::once(&headers[i].to_string()))
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(0)
            .max(3)
    };
    let widths: Vec<usize> = (0..n).map(width).collect();
    let cell = |i: usize, text: &str| {
        let pad = widths[i].saturating_sub(text.chars().count());
        if right.get(i).copied().unwrap_or(false) {
            format!("{}{text}", " ".repeat(pad))
        } else {
            format!("{text}{}", " ".repeat(pad))
        }
    };
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    let mut out = line(
        headers
            .iter()
            .enumerate()
            .map(|(i, h)| cell(i, h))
            .collect(),
    );
    out.push_str(&line(
        (0..n)
            .map(|i| {
                if right.get(i).copied().unwrap_or(false) {
                    format!("{}:", "-".repeat(widths[i] - 1))
                } else {
                    "-".repeat(widths[i])
                }
            })
            .collect(),
    ));
    for r in rows {
        out.push_str(&line(
            (0..n)
                .map(|i| cell(i, r.get(i).map_or("", String::as_str)))
                .collect(),
        ));
    }
    out
}

/// Explains the per-stage tables, with the pause and end-of-turn silences the pipeline uses.
fn stage_footer() -> String {
    let vad = crate::providers::vad::VadConfig::default();
    format!("Sum of stages is the paper's estimate (STT + LLM time to first token + first chunk + TTS \
first audio). In streaming mode the transcript and the reply start speculatively at the caller's first pause ({} ms \
without audible sound, or {} ms of silence to the voice detector), before the end of turn is certain ({} ms after a whole request, up to {} ms after words that trail \
off, {} ms when the words say neither): the STT mark is set only when the end of turn is confirmed, \
so STT overlaps the LLM and TTS stages and the sum can exceed the measured TTFA (negative overhead). Audio made \
before the end of turn is held until it is certain; that hold is in \"hold + sink\" and in the overhead. \
Turn-based mode does each step after the previous one has finished completely.",
        vad.quiet_pause_ms.unwrap_or(vad.pause_ms),
        vad.pause_ms,
        vad.early_end_ms,
        vad.hold_ms,
        vad.min_silence_ms
    )
}

impl BenchReport {
    /// Per-stage table of one run.
    pub fn stage_table(run: &PipelineRun) -> String {
        let rows: Vec<Vec<String>> = run
            .stages
            .iter()
            .map(|r| {
                let s = r.summary.as_ref();
                vec![
                    if r.key == "ttfa" {
                        format!("**{}**", r.label)
                    } else {
                        r.label.clone()
                    },
                    opt_ms(s, |s| s.p50),
                    opt_ms(s, |s| s.mean),
                    opt_ms(s, |s| s.min),
                    opt_ms(s, |s| s.max),
                    opt_ms(s, |s| s.p95),
                    s.map_or("0".into(), |s| s.n.to_string()),
                ]
            })
            .collect();
        table(
            &["Stage (ms)", "P50", "Mean", "Min", "Max", "P95", "n"],
            &[false, true, true, true, true, true, true],
            &rows,
        )
    }

    /// The whole report as markdown.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let mut push = |s: &str| {
            out.push_str(s);
            out.push('\n');
        };
        push("## voice-agent bench");
        push("");
        push(&format!("- Machine: {}", self.machine.describe()));
        for p in &self.providers {
            push(&format!("- {p}"));
        }
        let st = &self.settings;
        let lengths = st.utterance_seconds.as_ref().map_or(String::new(), |s| {
            format!(", {:.1}–{:.1} s (P50 {:.1} s)", s.min, s.max, s.p50)
        });
        push(&format!(
            "- Callers: {} utterances from {}{lengths}, one per turn after a warm-up turn, {} ms of silence after each reply{}",
            st.utterances,
            st.utterance_source,
            st.gap_ms,
            if st.quick { " (quick run)" } else { "" }
        ));
        push(&format!("- Took {:.0} s", self.duration_s));
        push("");

        for run in &self.runs {
            push(&format!("### Per stage: {}", run.label()));
            push("");
            push(&Self::stage_table(run));
            let wer = run.wer.map_or(String::new(), |w| {
                format!("; STT word error rate {:.1} %", w * 100.0)
            });
            let silent = if run.uncounted_reports > 0 {
                format!(
                    " (+{} turn reports without agent audio)",
                    run.uncounted_reports
                )
            } else {
                String::new()
            };
            // Turns ended at a mid-sentence pause are off by the rest of the sentence: counted
            // as premature, not as anchor error.
            let frame = crate::foundation::audio::FRAME_MS as f64;
            let errors: Vec<f64> = run
                .turns
                .iter()
                .filter_map(|t| t.anchor_error_ms.filter(|e| *e >= -frame).map(f64::abs))
                .collect();
            let anchor = errors
                .iter()
                .copied()
                .reduce(f64::max)
                .map_or(String::new(), |max| {
                    format!(
                        "; latencies start at the caller's real end of speech (the pipeline's \
                         anchor within {max:.1} ms of each utterance's last audible sample, \
                         premature ends aside)"
                    )
                });
            let ends = format!(
                "; ends of turn: {} premature (taken at a mid-sentence pause; {} of the utterances \
                 have one), {} later than the fixed {} ms",
                run.premature_ends,
                run.paused_utterances,
                run.late_ends,
                crate::providers::vad::VadConfig::default().min_silence_ms
            );
            push(&format!(
                "{} answered turns{silent}, {} utterances unanswered; speculative replies used {}, \
                 wasted {} (the caller went on after a pause){wer}{ends}{anchor}; {:.0} s.",
                run.turns.len(),
                run.unanswered,
                run.speculative_used,
                run.speculative_wasted,
                run.wall_s
            ));
            push("");
        }
        if self.runs.iter().any(|r| r.mode == Mode::Streaming) {
            push(&format!("_{}_", stage_footer()));
            push("");
        }

        self.paper_table(&mut push);
        self.comparison_table(&mut push);
        self.capacity_table(&mut push);
        self.components_table(&mut push);
        for n in &self.notes {
            push(&format!("- {n}"));
        }
        out
    }

    fn paper_table(&self, push: &mut impl FnMut(&str)) {
        let streaming: Vec<&PipelineRun> = self
            .runs
            .iter()
            .filter(|r| r.mode == Mode::Streaming)
            .collect();
        if streaming.is_empty() {
            return;
        }
        push("### Next to the paper (Table 3, P50 in ms)");
        push("");
        let mut headers = vec![
            "Component".to_string(),
            "Paper (Deepgram + vLLM + ElevenLabs)".to_string(),
        ];
        headers.extend(streaming.iter().map(|r| format!("This run: {}", r.brain)));
        let row = |name: &str, paper: &str, key: &str| {
            let mut r = vec![name.to_string(), paper.to_string()];
            r.extend(
                streaming
                    .iter()
                    .map(|run| opt_ms(run.stage(key), |s| s.p50)),
            );
            r
        };
        let rows = vec![
            row("STT (speech end → final)", "337", "stt"),
            row("LLM time to first token", "337", "llm_first_token"),
            row(
                "First speakable chunk",
                "143 (sentence detection)",
                "first_chunk",
            ),
            row("TTS time to first audio", "219", "tts_first_audio"),
            row(
                "Estimated TTFA (sum of stages)",
                "947 (best 729)",
                "stage_sum",
            ),
            row("Measured TTFA", "755 (pipeline test)", "ttfa"),
        ];
        let h: Vec<&str> = headers.iter().map(String::as_str).collect();
        let right: Vec<bool> = (0..h.len()).map(|i| i > 0).collect();
        push(&table(&h, &right, &rows));
    }

    fn comparison_table(&self, push: &mut impl FnMut(&str)) {
        if self.comparisons.is_empty() {
            return;
        }
        push("### Streaming vs turn-based (Table 4, TTFA in ms)");
        push("");
        let mut rows = vec![
            vec![
                "Paper: Qwen2.5-Omni, batch".into(),
                "26500".into(),
                "–".into(),
                "–".into(),
            ],
            vec![
                "Paper: Qwen2.5-Omni, sentence streaming".into(),
                "13200".into(),
                "–".into(),
                "–".into(),
            ],
            vec![
                "Paper: cascaded streaming pipeline".into(),
                "755".into(),
                "–".into(),
                "–".into(),
            ],
        ];
        for c in &self.comparisons {
            rows.push(vec![
                format!("Turn-based, {}", c.brain),
                ms(c.sequential.p50),
                ms(c.sequential.p95),
                String::new(),
            ]);
            rows.push(vec![
                format!("Streaming, {}", c.brain),
                ms(c.streaming.p50),
                ms(c.streaming.p95),
                format!("{:.2}× faster", c.ratio_p50),
            ]);
        }
        push(&table(
            &["Approach", "TTFA P50", "TTFA P95", "Turn-based / streaming"],
            &[false, true, true, true],
            &rows,
        ));
    }

    fn capacity_table(&self, push: &mut impl FnMut(&str)) {
        if self.capacity.is_none() && self.idle_memory.is_none() {
            return;
        }
        push("### Capacity: simultaneous callers over the WebSocket server");
        push("");
        if let Some(c) = &self.capacity {
            let rows: Vec<Vec<String>> = c
                .levels
                .iter()
                .map(|l| {
                    vec![
                        l.callers.to_string(),
                        format!("{} ({} unanswered)", l.turns, l.unanswered),
                        opt_ms(l.ttfa.as_ref(), |s| s.p50),
                        opt_ms(l.ttfa.as_ref(), |s| s.p95),
                        l.cpu_percent.map_or("–".into(), |c| format!("{c:.0} %")),
                        l.peak_rss_mb.map_or("–".into(), |m| format!("{m:.0} MB")),
                    ]
                })
                .collect();
            push(&table(
                &[
                    "Callers",
                    "Turns",
                    "TTFA P50",
                    "TTFA P95",
                    "CPU (100 % = 1 core)",
                    "Peak RSS",
                ],
                &[true, true, true, true, true, true],
                &rows,
            ));
            push(&format!(
                "Each caller streams {} utterance(s) in 20 ms frames at real time, plays the agent's audio \
                 at real time (reporting `played`), and starts {} ms after the previous caller. TTFA from the \
                 server's `metrics` messages.",
                c.utterances_per_caller, c.stagger_ms
            ));
            push(&format!(
                "Largest number of callers with P95 TTFA under {:.1} s: **{}**.",
                c.threshold_ms / 1000.0,
                c.max_callers_under_threshold
                    .map_or("none".to_string(), |k| k.to_string())
            ));
        }
        if let Some(c) = &self.capacity {
            if !c.models.is_empty() {
                push(&format!("Local models: {}.", c.models));
            }
            self.scheduler_tables(c, push);
        }
        if let Some(m) = &self.idle_memory {
            push(&format!(
                "{} idle sessions (connected, streaming silence): RSS {:.1} → {:.1} MB, **{:+.1} MB** beyond the \
                 loaded models (target < 20 MB).",
                m.sessions, m.before_mb, m.after_mb, m.delta_mb
            ));
        }
        push("");
    }

    /// The shared scheduler's queues per level, and the comparison with private models.
    fn scheduler_tables(&self, shared: &CapacityReport, push: &mut impl FnMut(&str)) {
        let classes = ["decisive", "ahead", "speculative", "partial"];
        let waits = |l: &CapacityLevel, class: &str| {
            l.queues
                .iter()
                .find(|q| q.priority == class)
                .and_then(|q| q.wait_ms.as_ref())
                .map_or("–".into(), |w| format!("{} / {}", ms(w.p50), ms(w.p95)))
        };
        let share = |l: &CapacityLevel, class: &str, f: fn(&QueueFigures) -> Option<f64>| {
            l.queues
                .iter()
                .find(|q| q.priority == class)
                .and_then(f)
                .map_or("–".into(), |v| format!("{:.0} %", v * 100.0))
        };
        let rows: Vec<Vec<String>> = shared
            .levels
            .iter()
            .filter(|l| !l.queues.is_empty())
            .map(|l| {
                let mut row = vec![l.callers.to_string()];
                row.extend(classes.iter().map(|c| waits(l, c)));
                row.push(share(l, "speculative", QueueFigures::stale_share));
                row.push(share(l, "partial", QueueFigures::expired_share));
                row
            })
            .collect();
        if !rows.is_empty() {
            push("");
            push(&table(
                &[
                    "Callers",
                    "Wait: decisive",
                    "ahead",
                    "speculative",
                    "partial",
                    "Speculative dropped stale",
                    "Partials dropped late",
                ],
                &[true; 7],
                &rows,
            ));
            push(
                "Waits are P50 / P95 ms from a model call to its start on a lane. Decisive: final transcripts \
                 and a committed reply's first audio; ahead: the rest of a committed reply; speculative: work \
                 started at a pause; partial: transcripts shown while the caller speaks (dropped when they \
                 cannot start within 100 ms).",
            );
        }
        let Some(private) = &self.capacity_private else {
            return;
        };
        let rows: Vec<Vec<String>> = shared
            .levels
            .iter()
            .filter_map(|s| {
                let p = private.levels.iter().find(|p| p.callers == s.callers)?;
                let both = |f: &dyn Fn(&CapacityLevel) -> String| format!("{} / {}", f(s), f(p));
                Some(vec![
                    s.callers.to_string(),
                    both(&|l| opt_ms(l.ttfa.as_ref(), |t| t.p50)),
                    both(&|l| opt_ms(l.ttfa.as_ref(), |t| t.p95)),
                    both(&|l| l.cpu_percent.map_or("–".into(), |c| format!("{c:.0} %"))),
                    both(&|l| l.peak_rss_mb.map_or("–".into(), |m| format!("{m:.0} MB"))),
                    both(&|l| l.unanswered.to_string()),
                ])
            })
            .collect();
        push("");
        push(&format!(
            "Shared scheduler / private models ({}), same run:",
            private.models
        ));
        push("");
        push(&table(
            &[
                "Callers",
                "TTFA P50",
                "TTFA P95",
                "CPU",
                "Peak RSS",
                "Unanswered",
            ],
            &[true; 6],
            &rows,
        ));
    }

    fn components_table(&self, push: &mut impl FnMut(&str)) {
        let mut rows: Vec<Vec<String>> = Vec::new();
        let mut row = |a: String, b: String, c: &str| rows.push(vec![a, b, c.to_string()]);
        let p50 = |s: &Summary| {
            format!(
                "P50 {} ms (mean {}, P95 {})",
                ms(s.p50),
                ms(s.mean),
                ms(s.p95)
            )
        };
        if let Some(o) = &self.overhead {
            row(
                format!(
                    "Orchestration overhead per turn, zero-latency fakes (n={})",
                    o.n
                ),
                format!("P50 {} ms, P99 {} ms", ms(o.p50), ms(o.p99)),
                "< 1 ms",
            );
        }
        for run in self.runs.iter().filter(|r| r.mode == Mode::Streaming) {
            if let Some(t) = run.ttfa() {
                let target = if run.llm_latency.is_some() {
                    "< 900 ms"
                } else {
                    "< 600 ms"
                };
                row(format!("TTFA, {}", run.label()), p50(t), target);
            }
        }
        if let Some(m) = &self.models {
            if let Some(v) = &m.vad {
                row(
                    format!("VAD per 32 ms chunk ({})", v.name),
                    p50(&v.per_chunk_ms),
                    "< 1 ms",
                );
                if let Some(lag) = &v.lag_ms {
                    row(
                        "VAD lag: end of its last speech chunk − the utterance's last audible sample"
                            .into(),
                        p50(lag),
                        "",
                    );
                }
            }
            for s in &m.stt {
                let target = if (s.audio_s - 3.0).abs() < 0.01 {
                    "< 300 ms"
                } else {
                    ""
                };
                let value = match &s.after_partial_ms {
                    Some(d) => format!("{}; {} after a partial", p50(&s.compute_ms), p50(d)),
                    None => p50(&s.compute_ms),
                };
                row(
                    format!("STT compute, {:.0} s utterance ({})", s.audio_s, m.stt_name),
                    value,
                    target,
                );
            }
            for t in &m.tts {
                let target = if t.words <= 5 { "< 150 ms" } else { "" };
                row(
                    format!(
                        "TTS first audio, {} ({} words, {})",
                        t.label, t.words, m.tts_name
                    ),
                    format!(
                        "{}; RTF {}",
                        p50(&t.first_audio_ms),
                        t.rtf.map_or("–".into(), |r| format!("{r:.3}"))
                    ),
                    target,
                );
            }
            if let Some(mem) = &m.memory {
                row(
                    "Memory with the models loaded".into(),
                    format!("RSS {:.0} MB, peak {:.0} MB", mem.rss_mb, mem.peak_mb),
                    "",
                );
            }
        }
        if let Some(p) = &self.phone {
            let pct = |w: Option<f64>| w.map_or("–".into(), |w| format!("{:.1} %", w * 100.0));
            row(
                format!(
                    "STT WER, wideband / telephone band (8 kHz μ-law), {} utterances ({})",
                    p.utterances, p.stt_name
                ),
                format!("{} / {}", pct(p.wer_wideband), pct(p.wer_phone)),
                "phone within 5 points",
            );
            if let Some(t) = &p.ttfa_ms {
                row(
                    format!(
                        "TTFA, phone call through /telephony (last audible sample → first μ-law media; {} unanswered)",
                        p.unanswered
                    ),
                    p50(t),
                    "",
                );
            }
            if let Some(t) = &p.ttfa_browser_ms {
                row(
                    "TTFA, the same callers through the browser's /ws, measured the same way"
                        .into(),
                    p50(t),
                    "",
                );
            }
        }
        if let Some(l) = &self.llm {
            if let Some(b) = &l.brain {
                row(
                    format!("Brain time to first token ({})", b.name),
                    p50(&b.ttft_ms),
                    "",
                );
            }
            match &l.llama_server {
                LlamaServer::Measured {
                    model,
                    ttft_ms,
                    tokens_per_s,
                    ..
                } => row(
                    format!("llama-server ({model}) through the OpenAI client"),
                    format!(
                        "TTFT P50 {} ms, {:.1} tokens/s (P50)",
                        ms(ttft_ms.p50),
                        tokens_per_s.p50
                    ),
                    "",
                ),
                LlamaServer::Skipped { reason } => {
                    row("llama-server".into(), format!("skipped: {reason}"), "")
                }
                LlamaServer::Failed { reason } => {
                    row("llama-server".into(), format!("failed: {reason}"), "")
                }
            }
        }
        if let Some(b) = &self.barge_in {
            row(
                format!(
                    "Barge-in duck, caller speech start → agent voice at -15 dB ({}; n={})",
                    b.providers, b.measured
                ),
                b.duck_ms.as_ref().map_or("–".into(), |s| {
                    format!("P50 {} ms, P95 {} ms", ms(s.p50), ms(s.p95))
                }),
                "P50 < 100 ms",
            );
            row(
                format!(
                    "Barge-in reaction, caller speech start → agent audio stopped ({}; n={})",
                    b.providers, b.measured
                ),
                b.reaction_ms.as_ref().map_or("–".into(), |s| {
                    format!(
                        "P50 {} ms ({} ms of it the configured minimum speech)",
                        ms(s.p50),
                        b.barge_in_min_ms
                    )
                }),
                "",
            );
        }
        if rows.is_empty() {
            return;
        }
        push("### Components");
        push("");
        push(&table(
            &["Measure", "Result", "Target"],
            &[false, false, false],
            &rows,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(
        stt: f64,
        llm: f64,
        chunk: f64,
        tts: f64,
        playout: f64,
        ttfa: f64,
        spec: bool,
    ) -> TurnSample {
        TurnSample {
            utterance: Some(0),
            expected: None,
            transcript: "hi".into(),
            agent_text: "hello".into(),
            latency: Latencies {
                endpoint_ms: Some(480.0),
                stt_ms: Some(stt),
                stt_compute_ms: Some(stt / 2.0),
                llm_first_token_ms: Some(llm),
                first_chunk_ms: Some(chunk),
                tts_first_audio_ms: Some(tts),
                playout_ms: Some(playout),
                ttfa_ms: Some(ttfa),
            },
            speculative_stt: spec,
            wer: None,
            anchor_error_ms: None,
            speech_end_at: None,
        }
    }

    #[test]
    fn overhead_is_measured_minus_the_sum() {
        let t = sample(100.0, 50.0, 10.0, 40.0, 5.0, 212.0, false);
        assert_eq!(t.latency.stage_sum_ms(), Some(200.0));
        assert_eq!(t.overhead_ms(), Some(12.0));
        let rows = stage_rows(&[t]);
        let get = |k: &str| {
            rows.iter()
                .find(|r| r.key == k)
                .unwrap()
                .summary
                .clone()
                .unwrap()
        };
        assert_eq!(get("overhead").p50, 12.0);
        assert_eq!(get("hops").p50, 7.0);
        assert_eq!(get("stt_compute").p50, 50.0);
    }

    #[test]
    fn speculative_turns_have_no_hand_off_figure() {
        // Overlapping stages: the sum exceeds the measured TTFA.
        let t = sample(480.0, 50.0, 10.0, 40.0, 5.0, 500.0, true);
        let rows = stage_rows(&[t]);
        let find = |k: &str| rows.iter().find(|r| r.key == k).unwrap();
        assert_eq!(find("overhead").summary.as_ref().unwrap().p50, -80.0);
        assert!(find("hops").summary.is_none());
    }

    #[test]
    fn comparisons_pair_runs_of_the_same_brain() {
        let fast: Vec<TurnSample> = [300.0, 400.0, 500.0]
            .iter()
            .map(|&v| sample(100.0, 1.0, 1.0, 50.0, 1.0, v, true))
            .collect();
        let slow: Vec<TurnSample> = [1200.0, 800.0, 1000.0]
            .iter()
            .map(|&v| sample(100.0, 1.0, 1.0, 50.0, 1.0, v, false))
            .collect();
        let runs = vec![
            PipelineRun::new("a", Mode::Streaming, None, fast.clone()),
            PipelineRun::new("a", Mode::Sequential, None, slow),
            PipelineRun::new("b", Mode::Streaming, None, fast),
        ];
        let c = compare(&runs);
        assert_eq!(c.len(), 1, "brain b has no turn-based run");
        assert_eq!(c[0].streaming.p50, 400.0);
        assert_eq!(c[0].sequential.p50, 1000.0);
        assert_eq!(c[0].ratio_p50, 2.5);
        assert_eq!(runs[0].median_turn().unwrap().latency.ttfa_ms, Some(400.0));
    }

    #[test]
    fn tables_line_up_and_numbers_are_rounded_sensibly() {
        let t = table(
            &["Name", "ms"],
            &[false, true],
            &[
                vec!["a".into(), "5".into()],
                vec!["long name".into(), "1234".into()],
            ],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines
            .iter()
            .all(|l| l.chars().count() == lines[0].chars().count()));
        assert_eq!(lines[1], "| --------- | ---: |");
        assert_eq!(lines[2], "| a         |    5 |");
        assert_eq!(ms(0.123), "0.12");
        assert_eq!(ms(4.56), "4.6");
        assert_eq!(ms(947.4), "947");
        assert_eq!(ms(f64::NAN), "–");
    }

    #[test]
    fn only_heard_replies_to_words_are_answers() {
        use crate::orchestration::pipeline::turn::{Mark, Turn};
        let report = |words: &str, heard: bool| {
            let t = Turn::new(1);
            let t0 = std::time::Instant::now();
            t.set_transcript(words, false);
            t.mark_at(Mark::SpeechEnd, t0);
            if heard {
                t.mark_at(
                    Mark::FirstAudioOut,
                    t0 + std::time::Duration::from_millis(500),
                );
            }
            t.report("", false)
        };
        assert!(report("hello", true).is_answer());
        assert!(!report(" ", true).is_answer());
        assert!(!report("hello", false).is_answer());
    }
}
