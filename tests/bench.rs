//! The bench's report, with scripted fakes: runs through the real pipeline and the real server,
//! then checks the structure and the arithmetic of what is reported (never the timings).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use voice_agent::apps::bench::capacity::{self, CapacityReport};
use voice_agent::apps::bench::delayed::DelayedSessions;
use voice_agent::apps::bench::report::{self, BenchReport, Mode, PipelineRun};
use voice_agent::apps::bench::utterances::Utterance;
use voice_agent::apps::bench::{pipeline, save, svg, BenchArgs, Summary};
use voice_agent::providers::llm::delay::LlmLatency;
use voice_agent::providers::scheduler::{Scheduler, Sizing};
use voice_agent::providers::session::{ProviderError, SessionFactory, SessionProviders};
use voice_agent::providers::testing::{
    synthetic_caller, EchoTools, ScriptedChat, ScriptedStt, ToneTts,
};
use voice_agent::providers::vad::energy::EnergyVad;

const LINES: [&str; 3] = [
    "book me in with doctor patel",
    "what are the opening hours",
    "thank you goodbye",
];

/// Fresh scripted providers per session: each session hears the lines and answers in order.
struct Scripted;

impl SessionFactory for Scripted {
    fn session(&self) -> Result<SessionProviders, ProviderError> {
        Ok(SessionProviders {
            vad: Box::new(EnergyVad::default()),
            stt: Box::new(ScriptedStt::new(&LINES)),
            chat: Box::new(ScriptedChat::replies(&[
                "Which day suits you? I have Monday.",
                "We open at eight.",
                "Goodbye, take care.",
            ])),
            tools: Box::new(EchoTools::default()),
            tts: Box::new(ToneTts::default()),
            system_prompt: "You are a test receptionist.".into(),
        })
    }

    fn describe(&self) -> Vec<String> {
        vec!["scripted fakes".into()]
    }
}

/// Tone "speech" an energy VAD hears, with the scripted words as its text.
fn utterances() -> Vec<Utterance> {
    LINES
        .iter()
        .enumerate()
        .map(|(i, line)| Utterance {
            name: format!("u{i}"),
            // The last one is said differently from what the STT returns: a known WER.
            text: Some(if i == 2 {
                "thank you and goodbye".into()
            } else {
                line.to_string()
            }),
            pcm: synthetic_caller(&[(500 + 100 * i as u64, true)]),
            paused: false,
        })
        .collect()
}

fn run(
    factory: &dyn SessionFactory,
    brain: &str,
    mode: Mode,
    latency: Option<LlmLatency>,
) -> PipelineRun {
    let mut lines = Vec::new();
    let run = pipeline::run(
        factory,
        brain,
        mode,
        latency,
        &utterances(),
        100,
        &mut |l| lines.push(l.to_string()),
    )
    .expect("the scripted pipeline runs");
    assert_eq!(
        lines.len(),
        run.turns.len(),
        "one progress line per turn: {lines:?}"
    );
    run
}

fn summary_of(run: &PipelineRun, key: &str) -> Option<Summary> {
    run.stages
        .iter()
        .find(|r| r.key == key)
        .unwrap_or_else(|| panic!("no {key} row"))
        .summary
        .clone()
}

#[test]
fn pipeline_runs_report_every_turn_and_add_up() {
    let streaming = run(&Scripted, "scripted", Mode::Streaming, None);
    let sequential = run(&Scripted, "scripted", Mode::Sequential, None);
    for r in [&streaming, &sequential] {
        assert_eq!(r.turns.len(), 3, "{:#?}", r.turns);
        assert_eq!(r.unanswered, 0);
        // Each turn is paired with the utterance it answers, in order.
        let idx: Vec<Option<usize>> = r.turns.iter().map(|t| t.utterance).collect();
        assert_eq!(idx, vec![Some(0), Some(1), Some(2)]);
        assert_eq!(r.turns[1].transcript, LINES[1]);
        // Every latency starts where the caller really stopped: the pipeline's anchor is
        // within one frame of the utterance's last audible sample.
        for t in &r.turns {
            let e = t.anchor_error_ms.expect("an anchor for every turn");
            assert!(e.abs() <= 20.0, "anchor {e} ms off: {t:#?}");
        }
        // WER: exact for two, one word dropped of four for the last.
        assert_eq!(r.turns[0].wer, Some(0.0));
        assert_eq!(r.turns[2].wer, Some(0.25));
        assert!((r.wer.unwrap() - 0.25 / 3.0).abs() < 1e-12);
        // The rows, in the order of the table.
        let keys: Vec<&str> = r.stages.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "endpoint",
                "stt",
                "stt_compute",
                "llm_first_token",
                "first_chunk",
                "tts_first_audio",
                "playout",
                "stage_sum",
                "ttfa",
                "overhead",
                "hops"
            ]
        );
        // Each summary is the summary of the turns' values; overhead is measured minus the sum.
        let ttfas: Vec<f64> = r.turns.iter().map(|t| t.latency.ttfa_ms.unwrap()).collect();
        assert_eq!(summary_of(r, "ttfa"), Summary::of(&ttfas));
        let overheads: Vec<f64> = r
            .turns
            .iter()
            .map(|t| t.latency.ttfa_ms.unwrap() - t.latency.stage_sum_ms().unwrap())
            .collect();
        assert_eq!(summary_of(r, "overhead"), Summary::of(&overheads));
        let sums: Vec<f64> = r
            .turns
            .iter()
            .map(|t| t.latency.stage_sum_ms().unwrap())
            .collect();
        assert_eq!(summary_of(r, "stage_sum"), Summary::of(&sums));
    }
    // The turn-based run never speculates.
    assert_eq!(
        sequential.speculative_used + sequential.speculative_wasted,
        0
    );
    assert!(sequential.turns.iter().all(|t| !t.speculative_stt));
    assert_eq!(summary_of(&sequential, "hops").map(|s| s.n), Some(3));

    let runs = vec![streaming, sequential];
    let c = report::compare(&runs);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].brain, "scripted");
    assert_eq!(c[0].ratio_p50, c[0].sequential.p50 / c[0].streaming.p50);
}

fn sample_report() -> BenchReport {
    let slow = DelayedSessions::new(
        Arc::new(Scripted),
        LlmLatency {
            ttft_ms: 20.0,
            itl_ms: 1.0,
        },
    );
    let runs = vec![
        run(&Scripted, "scripted", Mode::Streaming, None),
        run(
            &slow,
            "scripted + 20 ms",
            Mode::Sequential,
            Some("20,1".parse().unwrap()),
        ),
    ];
    let levels = vec![capacity::CapacityLevel {
        callers: 1,
        turns: 2,
        unanswered: 0,
        ttfa: Summary::of(&[300.0, 500.0]),
        cpu_percent: Some(42.0),
        wall_s: 3.0,
        peak_rss_mb: Some(80.0),
        queues: vec![
            capacity::QueueFigures {
                priority: "decisive".into(),
                ran: 4,
                wait_ms: Summary::of(&[1.0, 3.0]),
                ..Default::default()
            },
            capacity::QueueFigures {
                priority: "speculative".into(),
                ran: 3,
                stale: 1,
                wait_ms: Summary::of(&[5.0]),
                ..Default::default()
            },
        ],
    }];
    let private = CapacityReport {
        models: "called by each session, 2 ONNX Runtime thread(s) a call".into(),
        levels: vec![capacity::CapacityLevel {
            ttfa: Summary::of(&[310.0, 520.0]),
            queues: Vec::new(),
            ..levels[0].clone()
        }],
        max_callers_under_threshold: Some(1),
        utterances_per_caller: 1,
        stagger_ms: 300,
        threshold_ms: 1500.0,
    };
    BenchReport {
        version: "test".into(),
        providers: vec!["scripted fakes".into()],
        comparisons: report::compare(&runs),
        runs,
        capacity_private: Some(private),
        capacity: Some(CapacityReport {
            models: "shared scheduler, 2 lane(s) × 1 ONNX Runtime thread(s)".into(),
            max_callers_under_threshold: capacity::max_passing(&levels, 1500.0),
            levels,
            utterances_per_caller: 1,
            stagger_ms: 300,
            threshold_ms: 1500.0,
        }),
        overhead: Summary::of(&[0.2, 0.3, 0.4]),
        notes: vec!["a note".into()],
        ..BenchReport::default()
    }
}

#[test]
fn the_report_round_trips_through_json_and_renders_every_table() {
    let report = sample_report();
    assert!(
        report.comparisons.is_empty(),
        "different brains are not compared"
    );
    let json = serde_json::to_string(&report).unwrap();
    let back: BenchReport = serde_json::from_str(&json).unwrap();
    // serde_json's float parser may differ in the last bit: compare with a relative tolerance.
    same_json(
        &serde_json::to_value(&back).unwrap(),
        &serde_json::to_value(&report).unwrap(),
        "",
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["runs"][0]["mode"], "streaming");
    assert_eq!(v["runs"][1]["llm_latency"]["ttft_ms"], 20.0);
    assert_eq!(v["capacity"]["max_callers_under_threshold"], 1);
    assert_eq!(v["runs"][0]["stages"][8]["key"], "ttfa");

    let md = report.to_markdown();
    for needle in [
        "### Per stage: streaming, scripted",
        "### Per stage: turn-based, scripted + 20 ms",
        "**Measured TTFA (speech end → first audio out)**",
        "Overhead (measured − sum)",
        "### Next to the paper",
        "### Capacity",
        "Largest number of callers with P95 TTFA under 1.5 s: **1**",
        "Local models: shared scheduler, 2 lane(s) × 1 ONNX Runtime thread(s).",
        // The queue table: the decisive waits, and a quarter of the speculative work dropped.
        " 2.0 / 2.9 |",
        " 25 % |",
        // The comparison: shared / private, same level.
        " 400 / 415 |",
        "Shared scheduler / private models (called by each session, 2 ONNX",
        "Orchestration overhead per turn, zero-latency fakes (n=3)",
        "- a note",
    ] {
        assert!(md.contains(needle), "missing {needle:?} in\n{md}");
    }
    // Every table row has as many cells as its header.
    for block in md.split("\n\n").filter(|b| b.starts_with('|')) {
        let cells: Vec<usize> = block.lines().map(|l| l.matches(" | ").count()).collect();
        assert!(cells.windows(2).all(|w| w[0] == w[1]), "{block}");
    }
}

/// Equal JSON values, numbers within a relative 1e-12.
fn same_json(a: &serde_json::Value, b: &serde_json::Value, at: &str) {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
                "{at}: {x} != {y}"
            );
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}");
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                same_json(x, y, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(
                x.keys().collect::<Vec<_>>(),
                y.keys().collect::<Vec<_>>(),
                "{at}"
            );
            for (k, v) in x {
                same_json(v, &y[k], &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

/// Check that `text` is well-formed XML as far as elements go; returns element name counts.
fn elements(text: &str) -> HashMap<String, usize> {
    let mut stack: Vec<String> = Vec::new();
    let mut counts = HashMap::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("unclosed tag") + start;
        let tag = &rest[start + 1..end];
        assert!(!tag.contains('<'), "broken tag {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.trim()),
                "mismatched </{name}>"
            );
        } else {
            let name = tag
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_end_matches('/');
            *counts.entry(name.to_string()).or_insert(0) += 1;
            if !tag.ends_with('/') {
                stack.push(name.to_string());
            }
        }
        // Text between tags may not hold raw '&' that is not an entity.
        let text_after = &rest[end + 1..];
        let next = text_after.find('<').unwrap_or(text_after.len());
        for (i, _) in text_after[..next].match_indices('&') {
            let ent = &text_after[i..next];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                    .iter()
                    .any(|e| ent.starts_with(e)),
                "raw & in {ent}"
            );
        }
        rest = &rest[end + 1..];
    }
    assert!(stack.is_empty(), "unclosed elements {stack:?}");
    counts
}

#[test]
fn the_chart_is_well_formed_with_a_waterfall_and_every_turn() {
    let mut report = sample_report();
    // A label that needs escaping.
    report.runs[0].brain = "scripted <&> \"quoted\"".into();
    let text = svg::chart(&report);
    assert!(text.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    let counts = elements(&text);
    assert_eq!(counts["svg"], 1);
    let turns: usize = report.runs.iter().map(|r| r.turns.len()).sum();
    assert_eq!(counts["circle"], turns, "one dot per turn");
    // A background plus six waterfall segments per run.
    assert_eq!(counts["rect"], 1 + 6 * report.runs.len());
    assert_eq!(text.matches("class=\"ttfa\"").count(), report.runs.len());
    assert_eq!(text.matches("class=\"p50\"").count(), report.runs.len());
    assert!(text.contains("scripted &lt;&amp;&gt; &quot;quoted&quot;"));

    let empty = svg::chart(&BenchReport::default());
    assert_eq!(elements(&empty)["svg"], 1);
    assert!(empty.contains("no pipeline runs"));
}

#[test]
fn save_writes_the_json_and_the_chart_beside_it() {
    let dir = std::env::temp_dir().join(format!("va-bench-save-{}", std::process::id()));
    let args = BenchArgs {
        json: Some(dir.join("nested/report.json")),
        ..BenchArgs::default()
    };
    let report = BenchReport {
        version: "x".into(),
        ..BenchReport::default()
    };
    let written = save(&report, &args).expect("save");
    assert_eq!(
        written,
        vec![
            dir.join("nested/report.json"),
            dir.join("nested/report.svg")
        ]
    );
    let back: BenchReport =
        serde_json::from_str(&std::fs::read_to_string(&written[0]).unwrap()).unwrap();
    assert_eq!(back, report);
    assert!(std::fs::read_to_string(&written[1])
        .unwrap()
        .contains("<svg"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn capacity_levels_report_every_callers_turns() {
    let factory: Arc<dyn SessionFactory> = Arc::new(Scripted);
    let server = capacity::start_server(factory, 4).expect("server");
    let idle = capacity::idle_memory(&server, 2, Duration::from_millis(200)).expect("idle");
    assert_eq!(idle.sessions, 2);
    assert!((idle.delta_mb - (idle.after_mb - idle.before_mb)).abs() < 1e-9);

    let utts: Vec<Arc<Vec<i16>>> = utterances()
        .into_iter()
        .take(2)
        .map(|u| Arc::new(u.pcm))
        .collect();
    let scheduler = Scheduler::start(Sizing::single());
    let level = capacity::level(
        &server,
        Some(&scheduler),
        2,
        &utts,
        Duration::from_millis(100),
        Duration::from_millis(100),
    );
    assert_eq!(level.callers, 2);
    assert_eq!(level.unanswered, 0, "{level:?}");
    // Two callers, two utterances each, each answered with a TTFA in its metrics.
    assert_eq!(level.turns, 4);
    assert_eq!(level.ttfa.as_ref().map(|s| s.n), Some(4));
    assert!(level.cpu_percent.is_some());
    assert!(level.peak_rss_mb.is_some());
    assert!(level.wall_s > 0.0);
    // The scheduler's queues are reported class by class (the scripted fakes call no model).
    let classes: Vec<&str> = level.queues.iter().map(|q| q.priority.as_str()).collect();
    assert_eq!(classes, ["decisive", "ahead", "speculative", "partial"]);
    assert_eq!(
        capacity::max_passing(std::slice::from_ref(&level), f64::INFINITY),
        Some(2)
    );
    server.shutdown();
}
