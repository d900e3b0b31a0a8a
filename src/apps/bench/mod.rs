//! `voice-agent bench`: measure the agent the way the paper does. Caller utterances go through
//! the whole pipeline with the chosen providers, streaming and turn-based, with the configured
//! brain and with a simulated remote LLM; per-stage tables (P50, mean, min, max, P95), the sum of
//! stages next to the measured time to first audio, capacity over the WebSocket server, and the
//! components on their own. Numbers are reported, never asserted (machines here are noisy).
//!
//! ```text
//! run() ─ providers ─ utterances ─ warm-up ─ idle sessions' memory
//!       ─ pipeline runs (brain × streaming / turn-based) ─ capacity (K callers)
//!       ─ models ─ LLM ─ barge-in ─ orchestration overhead  ──> BenchReport
//! ```

pub mod bargein;
pub mod caller;
pub mod capacity;
pub mod delayed;
pub mod error;
pub mod llm;
pub mod models;
pub mod overhead;
pub mod phone;
pub mod pipeline;
pub mod procstat;
pub mod report;
pub mod stats;
pub mod svg;
pub mod utterances;
pub mod wer;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use report::{BenchReport, Mode, PipelineRun};
pub use stats::Summary;

use crate::apps::compose::{ProviderOptions, Providers};
use crate::apps::server::ServerHandle;
use crate::providers::llm::delay::{LatencyParseError, LlmLatency};
use crate::providers::scheduler::Scheduler;
use crate::providers::session::SessionFactory;
use delayed::DelayedSessions;
pub use error::BenchError;
use utterances::Utterance;

/// Parts of the bench that `--skip` can leave out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// Every pipeline run (per-stage tables, streaming vs turn-based).
    Pipeline,
    /// The turn-based pipeline runs.
    Sequential,
    /// The runs with the simulated remote LLM.
    Delayed,
    /// Simultaneous callers over the WebSocket server, and idle sessions' memory.
    Capacity,
    /// VAD, STT and TTS on their own.
    Models,
    /// The brain's time to first token and llama-server.
    Llm,
    /// Barge-in reaction time.
    BargeIn,
    /// Orchestration overhead with zero-latency fakes.
    Overhead,
    /// The phone line: WER by band, TTFA through /telephony.
    Phone,
}

/// `--llm-latency`: `TTFT,ITL` in ms, or `off`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatencySetting(pub Option<LlmLatency>);

impl FromStr for LatencySetting {
    type Err = LatencyParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "off" | "none" => Ok(Self(None)),
            other => other.parse().map(|l| Self(Some(l))),
        }
    }
}

/// The `bench` command's options (the provider flags are global).
#[derive(clap::Args, Clone, Debug)]
pub struct BenchArgs {
    /// A folder of caller WAV files, one utterance each (any rate; NAME.txt beside NAME.wav holds
    /// its words, for the word error rate) [default: ten receptionist requests spoken by the
    /// local voice, cached under .cache/bench]
    #[arg(long)]
    pub utterances: Option<PathBuf>,
    /// Utterances per run [default: 10; 4 with --quick]
    #[arg(long, short = 'n')]
    pub count: Option<usize>,
    /// A small, fast run: fewer utterances, repeats and callers.
    #[arg(long)]
    pub quick: bool,
    /// Also run with a simulated remote LLM adding TTFT,ITL milliseconds (the paper's cloud
    /// figures by default); `off` to skip.
    #[arg(long, default_value = "340,34")]
    pub llm_latency: LatencySetting,
    /// Write the report as JSON to this file; the SVG chart goes next to it (same name, .svg).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the SVG chart to this file instead.
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// Simultaneous callers of the capacity test [default: 1,2,4,8,12; 1,2 with --quick]
    #[arg(long, value_delimiter = ',')]
    pub callers: Vec<usize>,
    /// Silence after each reply before the caller's next utterance, in ms.
    #[arg(long, default_value_t = 800)]
    pub gap_ms: u64,
    /// Parts to leave out (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub skip: Vec<Part>,
}

impl Default for BenchArgs {
    fn default() -> Self {
        Self {
            utterances: None,
            count: None,
            quick: false,
            llm_latency: LatencySetting(Some(LlmLatency::PAPER)),
            json: None,
            svg: None,
            callers: Vec::new(),
            gap_ms: 800,
            skip: Vec::new(),
        }
    }
}

impl BenchArgs {
    fn skips(&self, part: Part) -> bool {
        self.skip.contains(&part)
    }

    fn utterance_count(&self) -> usize {
        self.count.unwrap_or(if self.quick { 4 } else { 10 }).max(1)
    }

    fn caller_levels(&self) -> Vec<usize> {
        let mut k: Vec<usize> = if !self.callers.is_empty() {
            self.callers.iter().copied().filter(|&k| k > 0).collect()
        } else if self.quick {
            vec![1, 2]
        } else {
            vec![1, 2, 4, 8, 12]
        };
        k.sort_unstable();
        k.dedup();
        k
    }

    /// Repeats of the component benchmarks.
    fn repeats(&self) -> usize {
        if self.quick {
            2
        } else {
            4
        }
    }

    /// Where the SVG goes: `--svg`, else beside the JSON.
    pub fn svg_path(&self) -> Option<PathBuf> {
        self.svg
            .clone()
            .or_else(|| self.json.as_ref().map(|j| j.with_extension("svg")))
    }
}

/// A scratch copy of the hospital database, so the bench never books into the user's one.
struct ScratchDb(PathBuf);

impl Drop for ScratchDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
    }
}

/// The repository, for `scripts/llm-server.sh` and its build: the working directory when it is
/// one, else where this binary was built from.
fn repo_root() -> PathBuf {
    if Path::new("scripts/llm-server.sh").exists() {
        PathBuf::from(".")
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }
}

/// Run the bench. `progress` hears a line at each step (the CLI prints them to stderr).
pub fn run(
    opts: &ProviderOptions,
    args: &BenchArgs,
    progress: &mut dyn FnMut(&str),
) -> Result<BenchReport, BenchError> {
    let started = Instant::now();
    let mut opts = opts.clone();
    let _scratch = if opts.db.is_none() {
        let path =
            std::env::temp_dir().join(format!("voice-agent-bench-{}.sqlite", std::process::id()));
        let guard = ScratchDb(path.clone());
        drop(ScratchDb(path.clone())); // a leftover of an earlier run with this pid
        opts.db = Some(path);
        Some(guard)
    } else {
        None
    };
    progress("loading the providers");
    let loaded = Providers::load(&opts)?;
    let providers: Arc<dyn SessionFactory> = Arc::new(loaded.clone());
    let mut report = BenchReport {
        version: env!("CARGO_PKG_VERSION").to_string(),
        machine: procstat::Machine::detect(),
        providers: providers.describe(),
        ..BenchReport::default()
    };
    for line in &report.providers {
        progress(&format!("  {line}"));
    }
    run_parts(&providers, Some(&loaded), args, &mut report, progress)?;
    report.machine.load_after = procstat::load_average();
    report.duration_s = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The caller's utterances and the warm-up one.
fn caller_set(
    factory: &dyn SessionFactory,
    args: &BenchArgs,
) -> Result<(Vec<Utterance>, Utterance, String), BenchError> {
    let n = args.utterance_count();
    if let Some(dir) = &args.utterances {
        let mut all = utterances::load_dir(dir)?;
        let warm = all[0].clone();
        all.truncate(n);
        return Ok((all, warm, dir.display().to_string()));
    }
    // The callers speak with the local Piper voice whatever the agent uses (a cloud voice would
    // cost money and vary); the session's own voice is Piper by default, so reuse it then.
    let mut tts = factory.session()?.tts;
    if !tts.name().starts_with("piper") {
        match crate::providers::tts::piper::PiperVoice::load(&crate::providers::models::models_dir())
        {
            Ok(voice) => tts = Box::new(crate::providers::tts::piper::PiperTts::new(voice)),
            Err(e) => log::warn!("callers speak with {} (Piper unavailable: {e})", tts.name()),
        }
    }
    let lines: Vec<&str> = utterances::DEFAULT_LINES.iter().take(n).copied().collect();
    let cache = utterances::cache_dir();
    let set = utterances::generate(&mut *tts, &lines, &cache)?;
    let warm = utterances::generate(
        &mut *tts,
        &[utterances::WARM_UP_LINE],
        &cache.join("warm-up"),
    )?
    .remove(0);
    let source = format!("the built-in requests spoken by {}", tts.name());
    Ok((set, warm, source))
}

fn run_parts(
    providers: &Arc<dyn SessionFactory>,
    loaded: Option<&Providers>,
    args: &BenchArgs,
    report: &mut BenchReport,
    progress: &mut dyn FnMut(&str),
) -> Result<(), BenchError> {
    let needs_callers = !args.skips(Part::Pipeline)
        || !args.skips(Part::Capacity)
        || !args.skips(Part::Models)
        || !args.skips(Part::Phone);
    let mut set = Vec::new();
    let mut warm_up = None;
    if needs_callers {
        progress("preparing the caller utterances");
        let (utts, warm, source) = caller_set(&**providers, args)?;
        let lengths: Vec<f64> = utts.iter().map(Utterance::seconds).collect();
        report.settings = report::Settings {
            utterance_source: source,
            utterances: utts.len(),
            utterance_seconds: Summary::of(&lengths),
            gap_ms: args.gap_ms,
            quick: args.quick,
            llm_latency: args.llm_latency.0,
        };
        progress("warm-up turn");
        let mut quiet = |_: &str| {};
        pipeline::run(
            &**providers,
            "warm-up",
            Mode::Streaming,
            None,
            std::slice::from_ref(&warm),
            args.gap_ms,
            &mut quiet,
        )?;
        set = utts;
        warm_up = Some(warm);
    }

    let levels = args.caller_levels();
    let server = if args.skips(Part::Capacity) || levels.is_empty() {
        None
    } else {
        let max = levels.iter().copied().max().unwrap_or(1).max(8);
        Some(capacity::start_server(providers.clone(), max)?)
    };
    if let Some(server) = &server {
        // Before the heavy runs, so their freed memory does not hide the sessions' cost.
        progress("memory of 8 idle sessions");
        match capacity::idle_memory(server, 8, Duration::from_millis(1_500)) {
            Ok(m) => report.idle_memory = Some(m),
            Err(e) => report
                .notes
                .push(format!("idle sessions' memory not measured: {e}")),
        }
    }

    if !args.skips(Part::Pipeline) {
        pipeline_runs(providers, args, &set, report, progress)?;
    }

    if let Some(server) = &server {
        let utts = capacity_utterances(&set, args);
        let scheduler = loaded.and_then(Providers::scheduler);
        let line = models_line(&providers.describe());
        report.capacity = Some(capacity_levels(
            server, scheduler, &line, &levels, &utts, args, progress,
        ));
    }
    drop(server);

    if !args.skips(Part::Models) {
        progress("models: VAD, STT and TTS on their own");
        report.models = Some(models::run(&**providers, &set, args.repeats())?);
    }
    if !args.skips(Part::Llm) {
        progress("LLM: the brain's time to first token");
        let lines: Vec<&str> = utterances::DEFAULT_LINES.to_vec();
        let brain = llm::brain_ttft(&**providers, &lines, if args.quick { 1 } else { 3 })?;
        progress("LLM: llama-server");
        let llama = llm::llama_server(
            &llm::LlamaPaths::in_repo(&repo_root()),
            if args.quick { 2 } else { 5 },
        );
        report.llm = Some(llm::LlmReport {
            brain,
            llama_server: llama,
        });
    }
    if let (false, Some(warm)) = (args.skips(Part::Phone), &warm_up) {
        progress("phone line: WER by band, TTFA through /telephony");
        let (stt_name, utterances, wer_wideband, wer_phone) =
            phone::wer_by_band(&**providers, &set)?;
        let server = capacity::start_server(providers.clone(), 1)?;
        let (ttfa, unanswered) = phone::ttfa(&server, &set, warm, false)?;
        let (browser, browser_unanswered) = phone::ttfa(&server, &set, warm, true)?;
        server.shutdown();
        report.phone = Some(phone::PhoneReport {
            stt_name,
            utterances,
            wer_wideband,
            wer_phone,
            ttfa_ms: Summary::of(&ttfa),
            ttfa_browser_ms: Summary::of(&browser),
            unanswered: unanswered + browser_unanswered,
        });
    }
    if !args.skips(Part::BargeIn) {
        progress("barge-in reaction (scripted sessions)");
        report.barge_in = Some(bargein::run(if args.quick { 3 } else { 6 }));
    }
    if !args.skips(Part::Overhead) {
        progress("orchestration overhead (zero-latency fakes)");
        report.overhead = overhead::summary(if args.quick { 15 } else { 40 });
    }
    // The same callers with each session calling the models itself, as before the shared
    // scheduler: last, because it loads a second copy of the models (with the threads a
    // session of its own gets), which no other figure should carry.
    let scheduler = loaded.and_then(Providers::scheduler);
    if let (Some(loaded), Some(_), false) = (loaded, scheduler, levels.is_empty()) {
        if !args.skips(Part::Capacity) {
            progress("capacity again, each session calling the models itself (--private-models)");
            match loaded.with_private_models() {
                Ok(private) => {
                    let private: Arc<dyn SessionFactory> = Arc::new(private);
                    let line = models_line(&private.describe());
                    let max = levels.iter().copied().max().unwrap_or(1);
                    let twin = capacity::start_server(private, max)?;
                    let utts = capacity_utterances(&set, args);
                    report.capacity_private = Some(capacity_levels(
                        &twin, None, &line, &levels, &utts, args, progress,
                    ));
                    twin.shutdown();
                }
                Err(e) => report
                    .notes
                    .push(format!("private-model capacity not measured: {e}")),
            }
        }
    }
    Ok(())
}

/// Each capacity caller's utterances.
fn capacity_utterances(set: &[Utterance], args: &BenchArgs) -> Vec<Arc<Vec<i16>>> {
    let per_caller = if args.quick { 1 } else { 2 };
    set.iter()
        .take(per_caller)
        .map(|u| Arc::new(u.pcm.clone()))
        .collect()
}

/// The providers' line on how the local models run.
fn models_line(lines: &[String]) -> String {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("local models: "))
        .unwrap_or("no local models")
        .to_string()
}

/// Every capacity level on `server`, with the `scheduler`'s queues when it has one.
fn capacity_levels(
    server: &ServerHandle,
    scheduler: Option<&Scheduler>,
    models: &str,
    levels: &[usize],
    utts: &[Arc<Vec<i16>>],
    args: &BenchArgs,
    progress: &mut dyn FnMut(&str),
) -> capacity::CapacityReport {
    let stagger = Duration::from_millis(300);
    let mut measured = Vec::new();
    for &k in levels {
        progress(&format!("capacity: {k} simultaneous caller(s)"));
        let l = capacity::level(
            server,
            scheduler,
            k,
            utts,
            stagger,
            Duration::from_millis(args.gap_ms),
        );
        progress(&format!(
            "    {} turns, TTFA P50 {} ms, P95 {} ms",
            l.turns,
            l.ttfa.as_ref().map_or("–".into(), |s| report::ms(s.p50)),
            l.ttfa.as_ref().map_or("–".into(), |s| report::ms(s.p95)),
        ));
        measured.push(l);
    }
    let threshold_ms = 1_500.0;
    capacity::CapacityReport {
        models: models.to_string(),
        max_callers_under_threshold: capacity::max_passing(&measured, threshold_ms),
        levels: measured,
        utterances_per_caller: utts.len(),
        stagger_ms: stagger.as_millis() as u64,
        threshold_ms,
    }
}

/// A provider's name without its parenthesised details, for table headings.
fn short_name(name: &str) -> String {
    match name.find(" (") {
        Some(i) if name.ends_with(')') && i > 0 => name[..i].to_string(),
        _ => name.to_string(),
    }
}

/// The pipeline runs: each brain streaming and turn-based.
fn pipeline_runs(
    providers: &Arc<dyn SessionFactory>,
    args: &BenchArgs,
    set: &[Utterance],
    report: &mut BenchReport,
    progress: &mut dyn FnMut(&str),
) -> Result<(), BenchError> {
    let brain = short_name(&providers.session()?.chat.name());
    let mut brains: Vec<(String, Arc<dyn SessionFactory>, Option<LlmLatency>)> =
        vec![(brain.clone(), providers.clone(), None)];
    if let (Some(l), false) = (args.llm_latency.0, args.skips(Part::Delayed)) {
        brains.push((
            format!(
                "{brain} + {:.0} ms TTFT, {:.0} ms/token",
                l.ttft_ms, l.itl_ms
            ),
            Arc::new(DelayedSessions::new(providers.clone(), l)),
            Some(l),
        ));
    }
    let mut modes = vec![Mode::Streaming];
    if !args.skips(Part::Sequential) {
        modes.push(Mode::Sequential);
    }
    for (name, factory, latency) in &brains {
        for &mode in &modes {
            progress(&format!(
                "pipeline: {}, {name} ({} utterances)",
                mode.label(),
                set.len()
            ));
            let run = pipeline::run(&**factory, name, mode, *latency, set, args.gap_ms, progress)?;
            if let Some(t) = run.ttfa() {
                progress(&format!(
                    "    TTFA P50 {} ms, P95 {} ms over {} turns",
                    report::ms(t.p50),
                    report::ms(t.p95),
                    t.n
                ));
            }
            report.runs.push(run);
        }
    }
    report.comparisons = report::compare(&report.runs);
    Ok(())
}

/// Write the JSON report and the SVG chart where `args` says; returns the files written.
pub fn save(report: &BenchReport, args: &BenchArgs) -> Result<Vec<PathBuf>, BenchError> {
    let write = |path: &Path, text: &str| -> Result<(), BenchError> {
        let io = |e: std::io::Error| BenchError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::write(path, text).map_err(io)
    };
    let mut written = Vec::new();
    if let Some(path) = &args.json {
        // Plain data of strings and finite numbers: serialising it cannot fail.
        let json = serde_json::to_string_pretty(report).unwrap_or_default();
        write(path, &json)?;
        written.push(path.clone());
    }
    if let Some(path) = args.svg_path() {
        write(&path, &svg::chart(report))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_use_short_provider_names() {
        assert_eq!(
            short_name("built-in receptionist (offline, rule-based)"),
            "built-in receptionist"
        );
        assert_eq!(short_name("openai:gpt-4o-mini"), "openai:gpt-4o-mini");
        assert_eq!(short_name("(odd)"), "(odd)");
    }

    #[test]
    fn latency_settings_parse() {
        assert_eq!("off".parse::<LatencySetting>(), Ok(LatencySetting(None)));
        assert_eq!(
            "340,34".parse::<LatencySetting>(),
            Ok(LatencySetting(Some(LlmLatency::PAPER)))
        );
        assert!("fast".parse::<LatencySetting>().is_err());
    }

    #[test]
    fn quick_runs_are_smaller_and_levels_are_sorted() {
        let mut a = BenchArgs::default();
        assert_eq!(a.utterance_count(), 10);
        assert_eq!(a.caller_levels(), vec![1, 2, 4, 8, 12]);
        a.quick = true;
        assert_eq!(a.utterance_count(), 4);
        assert_eq!(a.caller_levels(), vec![1, 2]);
        a.callers = vec![4, 0, 1, 4];
        assert_eq!(a.caller_levels(), vec![1, 4]);
        assert_eq!(a.svg_path(), None);
        a.json = Some(PathBuf::from("out/bench.json"));
        assert_eq!(a.svg_path(), Some(PathBuf::from("out/bench.svg")));
    }
}
