//! Server capacity: K simulated callers at once over the WebSocket server on 127.0.0.1. Each
//! caller is what a browser would be: it streams its utterances in 20 ms PCM16 frames at real
//! time (silence between them: a microphone never stops), plays the agent's audio at real time
//! and reports `played`, and waits for the reply before speaking again. TTFA comes from the
//! server's `metrics` messages; CPU and memory from `/proc/self` (server and callers share this
//! process, the callers' share is small).

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};

use super::error::BenchError;
use super::procstat;
use super::stats::Summary;
use crate::apps::server::{self, ServerConfig, ServerHandle};
use crate::foundation::audio::OUTPUT_RATE;
use crate::foundation::audio::{FRAME_SAMPLES, INPUT_RATE};
use crate::orchestration::pipeline::{PipelineConfig, TurnReport};
use crate::providers::cloud::is_timeout;
use crate::providers::scheduler::{Scheduler, SchedulerStats};
use crate::providers::session::SessionFactory;

const FRAME: Duration = Duration::from_millis(20);
/// A caller gives up on a reply after this long.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a caller still waits for a reply after a turn report without audio.
const SILENT_GRACE: Duration = Duration::from_secs(3);
/// Idle sessions must all be open within this long.
const OPEN_LIMIT: Duration = Duration::from_secs(3);

/// One load level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CapacityLevel {
    pub callers: usize,
    /// Turns with a TTFA in the `metrics` messages.
    pub turns: usize,
    /// Utterances that got no reply in time, or callers that could not connect.
    pub unanswered: usize,
    pub ttfa: Option<Summary>,
    /// Process CPU over the level's wall time; 100 % is one core.
    pub cpu_percent: Option<f64>,
    pub wall_s: f64,
    /// Peak resident memory during the level (since the process started if the kernel cannot
    /// reset the peak).
    pub peak_rss_mb: Option<f64>,
    /// The shared model scheduler's queues during the level, most urgent class first (empty
    /// when each session called the models itself).
    #[serde(default)]
    pub queues: Vec<QueueFigures>,
}

/// One class of model calls at one load level.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueFigures {
    pub priority: String,
    pub ran: u64,
    /// Dropped unrun because their work was void by then (a barge-in, a guess the caller
    /// talked over, a caller gone).
    pub stale: u64,
    /// Dropped unrun because they could not start in time (partial transcripts).
    pub expired: u64,
    /// From the call to the start of its run.
    pub wait_ms: Option<Summary>,
}

impl QueueFigures {
    /// Of the calls made, the share dropped unrun as stale.
    pub fn stale_share(&self) -> Option<f64> {
        self.share_of(self.stale)
    }

    /// Of the calls made, the share dropped for coming too late.
    pub fn expired_share(&self) -> Option<f64> {
        self.share_of(self.expired)
    }

    fn share_of(&self, n: u64) -> Option<f64> {
        let all = self.ran + self.stale + self.expired;
        (all > 0).then(|| n as f64 / all as f64)
    }

    pub fn from_stats(stats: &SchedulerStats) -> Vec<QueueFigures> {
        stats
            .classes
            .iter()
            .map(|c| QueueFigures {
                priority: c.priority.clone(),
                ran: c.ran,
                stale: c.stale,
                expired: c.expired,
                wait_ms: Summary::of(&c.waits_ms),
            })
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CapacityReport {
    /// How the sessions ran the local models (the providers' "local models" line).
    #[serde(default)]
    pub models: String,
    pub levels: Vec<CapacityLevel>,
    pub utterances_per_caller: usize,
    /// Each caller starts this long after the previous one.
    pub stagger_ms: u64,
    pub threshold_ms: f64,
    /// The largest K that, like every smaller K measured, kept P95 TTFA under the threshold.
    pub max_callers_under_threshold: Option<usize>,
}

/// The memory cost of open, idle sessions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IdleMemory {
    pub sessions: usize,
    pub before_mb: f64,
    pub after_mb: f64,
    pub delta_mb: f64,
}

/// The largest caller count that passes, counting up until the first level that fails.
pub fn max_passing(levels: &[CapacityLevel], threshold_ms: f64) -> Option<usize> {
    let mut sorted: Vec<&CapacityLevel> = levels.iter().collect();
    sorted.sort_by_key(|l| l.callers);
    let mut best = None;
    for l in sorted {
        let pass = l.unanswered == 0 && l.ttfa.as_ref().is_some_and(|t| t.p95 < threshold_ms);
        if !pass {
            break;
        }
        best = Some(l.callers);
    }
    best
}

/// A session's answered turns, the first report of each turn only.
fn answers(reports: &[TurnReport]) -> impl Iterator<Item = &TurnReport> {
    let mut seen = std::collections::HashSet::new();
    reports
        .iter()
        .filter(move |r| r.is_answer() && seen.insert(r.turn))
}

/// What one caller says, and when.
#[derive(Clone, Debug)]
pub struct CallPlan {
    /// Silence before the first utterance.
    pub lead: Duration,
    /// 16 kHz utterances, each followed by silence until the reply has played, then `gap`.
    pub utterances: Vec<Arc<Vec<i16>>>,
    pub gap: Duration,
    /// Silence streamed after the last reply (or the whole call, without utterances).
    pub tail: Duration,
}

/// What one caller saw.
#[derive(Clone, Debug, Default)]
pub struct CallOutcome {
    pub reports: Vec<TurnReport>,
    pub unanswered: usize,
    pub error: Option<String>,
}

/// A simulated browser on one WebSocket session.
pub struct SimCaller {
    ws: WebSocket<TcpStream>,
    /// Agent audio received and not yet "played", in 24 kHz samples.
    buffered: u64,
    played: u64,
    last_tick: Instant,
    last_report: Instant,
    reports: Vec<TurnReport>,
    closed: bool,
    /// Frames sent so far and when the first went out (frames follow a fixed 20 ms schedule).
    frames_sent: u32,
    started: Instant,
}

impl SimCaller {
    pub fn connect(addr: SocketAddr) -> Result<Self, BenchError> {
        let ws_err = |e: tungstenite::Error| BenchError::Client(e.to_string());
        let req = format!("ws://{addr}/ws")
            .into_client_request()
            .map_err(ws_err)?;
        let stream = TcpStream::connect(addr).map_err(|e| BenchError::Client(e.to_string()))?;
        let (ws, _) = tungstenite::client(req, stream).map_err(|e| match e {
            tungstenite::HandshakeError::Failure(e) => BenchError::Client(e.to_string()),
            tungstenite::HandshakeError::Interrupted(_) => {
                BenchError::Client("handshake interrupted".into())
            }
        })?;
        // Short reads let one thread both keep the 20 ms frame schedule and receive.
        ws.get_ref()
            .set_read_timeout(Some(Duration::from_millis(4)))
            .map_err(|e| BenchError::Client(e.to_string()))?;
        let now = Instant::now();
        let mut c = Self {
            ws,
            buffered: 0,
            played: 0,
            last_tick: now,
            last_report: now,
            reports: Vec::new(),
            closed: false,
            frames_sent: 0,
            started: now,
        };
        c.send(Message::text(format!(
            r#"{{"type":"hello","sample_rate":{INPUT_RATE},"client":"voice-agent bench"}}"#
        )));
        Ok(c)
    }

    fn send(&mut self, m: Message) {
        if !self.closed && self.ws.send(m).is_err() {
            self.closed = true;
        }
    }

    /// Receive whatever has arrived, advance the simulated player, send frames that are due.
    fn pump(&mut self, next: &mut dyn FnMut() -> Vec<i16>) {
        // Frames due by now on the fixed schedule (a real microphone never stops).
        let due = (self.started.elapsed().as_millis() / FRAME.as_millis()) as u32 + 1;
        while self.frames_sent < due && !self.closed {
            let pcm = next();
            let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
            self.send(Message::binary(bytes));
            self.frames_sent += 1;
        }
        if !self.closed {
            match self.ws.read() {
                Ok(Message::Binary(b)) => self.buffered += b.len() as u64 / 2,
                Ok(Message::Text(t)) => self.on_json(t.as_str()),
                Ok(Message::Close(_)) => self.closed = true,
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if is_timeout(&e) => {}
                Err(_) => self.closed = true,
            }
        } else {
            std::thread::sleep(Duration::from_millis(4));
        }
        let now = Instant::now();
        let due = (now.duration_since(self.last_tick).as_secs_f64() * OUTPUT_RATE as f64) as u64;
        if due > 0 {
            let n = due.min(self.buffered);
            self.buffered -= n;
            self.played += n;
            self.last_tick = now;
        }
        if now.duration_since(self.last_report) >= Duration::from_millis(100) {
            self.last_report = now;
            let played = self.played;
            self.send(Message::text(format!(
                r#"{{"type":"played","samples":{played}}}"#
            )));
        }
    }

    fn on_json(&mut self, text: &str) {
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            return;
        };
        match v["type"].as_str() {
            // A barge-in would drop the queued audio (not expected here: callers wait their turn).
            Some("clear") => self.buffered = 0,
            Some("metrics") => match serde_json::from_value::<TurnReport>(v) {
                Ok(r) => self.reports.push(r),
                Err(e) => log::warn!("bench caller: unreadable metrics: {e}"),
            },
            _ => {}
        }
    }

    /// Turns that answered the caller (see `TurnReport::is_answer`), each counted once.
    fn played_replies(&self) -> usize {
        answers(&self.reports).count()
    }

    /// Stream for `d` whatever `next` yields.
    fn stream_for(&mut self, d: Duration, next: &mut dyn FnMut() -> Vec<i16>) {
        let end = Instant::now() + d;
        while Instant::now() < end && !self.closed {
            self.pump(next);
        }
    }

    /// Play the whole call; the socket is closed at the end.
    pub fn call(mut self, plan: &CallPlan) -> CallOutcome {
        let mut silence = || vec![0i16; FRAME_SAMPLES];
        let mut unanswered = 0;
        self.stream_for(plan.lead, &mut silence);
        for u in &plan.utterances {
            let (before, reports_before) = (self.played_replies(), self.reports.len());
            let pos = std::cell::Cell::new(0usize);
            let mut speak = || {
                let start = pos.get().min(u.len());
                let end = (start + FRAME_SAMPLES).min(u.len());
                let mut f = u[start..end].to_vec();
                f.resize(FRAME_SAMPLES, 0);
                pos.set(end);
                f
            };
            while pos.get() < u.len() && !self.closed {
                self.pump(&mut speak);
            }
            // The reply: its metrics arrive once it has played; then the player drains. A
            // report without audio (a reply dropped unheard) is no answer.
            let waited = Instant::now();
            let mut silent_since: Option<Instant> = None;
            while !self.closed
                && (self.played_replies() == before || self.buffered > 0)
                && waited.elapsed() < REPLY_TIMEOUT
                && silent_since.is_none_or(|t| t.elapsed() < SILENT_GRACE)
            {
                self.pump(&mut silence);
                if self.played_replies() == before && self.reports.len() > reports_before {
                    silent_since.get_or_insert_with(Instant::now);
                }
            }
            if self.played_replies() == before {
                unanswered += 1;
            }
            self.stream_for(plan.gap, &mut silence);
        }
        self.stream_for(plan.tail, &mut silence);
        let error = self
            .closed
            .then(|| "the server closed the session".to_string());
        let _ = self.ws.close(None);
        // Let the closing handshake finish so the server sees a clean close.
        let end = Instant::now() + Duration::from_secs(1);
        while Instant::now() < end {
            match self.ws.read() {
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if is_timeout(&e) => {}
                Err(_) => break,
            }
        }
        CallOutcome {
            reports: self.reports,
            unanswered,
            error,
        }
    }
}

/// Run `plans` as simultaneous callers against `addr`; one outcome per plan.
pub fn run_callers(addr: SocketAddr, plans: Vec<CallPlan>) -> Vec<CallOutcome> {
    let handles: Vec<_> = plans
        .into_iter()
        .map(|plan| {
            std::thread::spawn(move || match SimCaller::connect(addr) {
                Ok(c) => c.call(&plan),
                Err(e) => CallOutcome {
                    unanswered: plan.utterances.len().max(1),
                    error: Some(e.to_string()),
                    ..CallOutcome::default()
                },
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| {
            h.join().unwrap_or_else(|_| CallOutcome {
                unanswered: 1,
                error: Some("caller thread panicked".into()),
                ..CallOutcome::default()
            })
        })
        .collect()
}

/// A server for the bench on a free loopback port.
pub fn start_server(
    factory: Arc<dyn SessionFactory>,
    max_sessions: usize,
) -> Result<ServerHandle, BenchError> {
    let config = ServerConfig {
        bind: "127.0.0.1:0".into(),
        max_sessions: max_sessions.max(1),
        pipeline: server::socket_pipeline(PipelineConfig::default()),
        ..ServerConfig::default()
    };
    Ok(server::start(config, factory)?)
}

/// Wait (up to `limit`) until the server has `n` sessions.
pub(super) fn wait_sessions(server: &ServerHandle, n: usize, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    while server.active_sessions() != n {
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Resident memory added by `sessions` open sessions whose callers stream silence, measured
/// `settle` after they are all open.
pub fn idle_memory(
    server: &ServerHandle,
    sessions: usize,
    settle: Duration,
) -> Result<IdleMemory, BenchError> {
    wait_sessions(server, 0, Duration::from_secs(30));
    let before = procstat::memory().ok_or(BenchError::NoProc)?;
    let plans = vec![
        CallPlan {
            lead: Duration::ZERO,
            utterances: Vec::new(),
            gap: Duration::ZERO,
            // Long enough to be open when measured: connecting takes at most OPEN_LIMIT.
            tail: OPEN_LIMIT + settle + Duration::from_secs(1),
        };
        sessions
    ];
    let addr = server.ws_addr();
    let callers = std::thread::spawn(move || run_callers(addr, plans));
    let up = wait_sessions(server, sessions, OPEN_LIMIT);
    // Let every session settle into its steady state (buffers grown, threads parked).
    std::thread::sleep(settle);
    let after = procstat::memory().ok_or(BenchError::NoProc)?;
    let outcomes = callers
        .join()
        .map_err(|_| BenchError::Client("idle callers panicked".into()))?;
    if !up {
        let why = outcomes.iter().find_map(|o| o.error.clone());
        return Err(BenchError::Client(format!(
            "only {} of {sessions} idle sessions opened ({})",
            server.active_sessions(),
            why.unwrap_or_default()
        )));
    }
    wait_sessions(server, 0, Duration::from_secs(30));
    Ok(IdleMemory {
        sessions,
        before_mb: before.rss_mb,
        after_mb: after.rss_mb,
        delta_mb: after.rss_mb - before.rss_mb,
    })
}

/// One level: `callers` callers at once, each saying `utterances`, `stagger` apart; the
/// `scheduler`'s queues are measured over the level.
pub fn level(
    server: &ServerHandle,
    scheduler: Option<&Scheduler>,
    callers: usize,
    utterances: &[Arc<Vec<i16>>],
    stagger: Duration,
    gap: Duration,
) -> CapacityLevel {
    wait_sessions(server, 0, Duration::from_secs(30));
    if let Some(s) = scheduler {
        s.stats(true);
    }
    if !procstat::reset_peak() {
        log::debug!("cannot reset the peak RSS: reporting the lifetime peak");
    }
    let cpu0 = procstat::cpu_seconds();
    let t0 = Instant::now();
    let plans: Vec<CallPlan> = (0..callers)
        .map(|i| CallPlan {
            lead: Duration::from_millis(500) + stagger * i as u32,
            // Callers start at different utterances, as different people say different things.
            utterances: (0..utterances.len())
                .map(|k| utterances[(k + i) % utterances.len()].clone())
                .collect(),
            gap,
            tail: Duration::from_millis(200),
        })
        .collect();
    let outcomes = run_callers(server.ws_addr(), plans);
    let wall_s = t0.elapsed().as_secs_f64();
    let cpu = procstat::cpu_seconds()
        .zip(cpu0)
        .map(|(b, a)| (b - a) / wall_s * 100.0);
    let ttfas: Vec<f64> = outcomes
        .iter()
        .flat_map(|o| answers(&o.reports))
        .filter_map(|r| r.latency.ttfa_ms)
        .collect();
    for o in &outcomes {
        if let Some(e) = &o.error {
            log::warn!("bench caller: {e}");
        }
    }
    CapacityLevel {
        callers,
        turns: ttfas.len(),
        unanswered: outcomes.iter().map(|o| o.unanswered).sum(),
        ttfa: Summary::of(&ttfas),
        cpu_percent: cpu,
        wall_s,
        peak_rss_mb: procstat::memory().map(|m| m.peak_mb),
        queues: scheduler.map_or_else(Vec::new, |s| QueueFigures::from_stats(&s.stats(true))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lvl(callers: usize, p95: Option<f64>, unanswered: usize) -> CapacityLevel {
        CapacityLevel {
            callers,
            turns: 3,
            unanswered,
            ttfa: p95.map(|p| Summary {
                n: 3,
                p95: p,
                ..Summary::default()
            }),
            cpu_percent: None,
            wall_s: 1.0,
            peak_rss_mb: None,
            queues: Vec::new(),
        }
    }

    #[test]
    fn queue_figures_summarise_each_class_and_its_dropped_share() {
        let mut stats = SchedulerStats::default();
        stats.classes.push(crate::providers::scheduler::ClassStats {
            priority: "speculative".into(),
            ran: 3,
            stale: 1,
            waits_ms: vec![10.0, 20.0, 30.0],
            ..Default::default()
        });
        let q = QueueFigures::from_stats(&stats);
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].stale_share(), Some(0.25));
        assert_eq!(q[0].expired_share(), Some(0.0));
        assert_eq!(q[0].wait_ms.as_ref().map(|w| w.p50), Some(20.0));
        assert_eq!(QueueFigures::default().stale_share(), None);
    }

    #[test]
    fn the_largest_passing_level_stops_at_the_first_failure() {
        let levels = [
            lvl(4, Some(1600.0), 0),
            lvl(1, Some(700.0), 0),
            lvl(2, Some(900.0), 0),
            lvl(8, Some(1000.0), 0),
        ];
        assert_eq!(max_passing(&levels, 1500.0), Some(2));
        assert_eq!(max_passing(&levels[..1], 1500.0), None);
        // A level with unanswered callers or no turns fails.
        assert_eq!(max_passing(&[lvl(1, Some(10.0), 1)], 1500.0), None);
        assert_eq!(max_passing(&[lvl(1, None, 0)], 1500.0), None);
    }
}
