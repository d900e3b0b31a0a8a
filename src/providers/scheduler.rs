//! Model calls shared by every session: one scheduler thread and a few lanes that run the local
//! models' calls (Whisper, Piper) most urgent first.
//!
//! Without it, each session's stage threads call the models themselves: with eight callers,
//! eight partial transcripts, two speculative replies and a final transcript fight over two
//! cores at once, each with its own ONNX Runtime threads, and the final one (the one a caller
//! is waiting for) finishes last. With it, sessions hand their calls over a channel and block
//! on the answer, just as a pipeline stage hands a message to the next one:
//!
//! ```text
//!  session threads ──Job──▶ scheduler thread ──(job)──▶ lane 1 ─┐
//!         ▲                  (queue, ranks by               ...  │ Done
//!         └──── result ────   Urgency, drops stale)  ◀───────────┘
//! ```
//!
//! - The scheduler thread is the one owner of the queue and the figures: a short `recv` loop
//!   over [`Msg`]. A job is picked when a lane is free, by its [`Urgency`] read at that moment,
//!   first come first served within a class, and never two calls on one model at once.
//! - A job whose cancel token has fired (a barge-in, a voided guess, a caller who hung up) is
//!   dropped unrun; its caller stopped waiting when the token fired.
//! - A lane runs one call at a time with all the ONNX Runtime threads the sizing gives it, so
//!   the machine is never oversubscribed ([`Sizing`]). A call that panics is an error for its
//!   caller; the lane goes on.

use std::collections::{HashSet, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, select, unbounded, Receiver, RecvTimeoutError, Sender};
use serde::{Deserialize, Serialize};

use crate::foundation::cancel::CancelToken;
use crate::foundation::urgency::{Priority, Urgency};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("model call dropped: its work was no longer wanted")]
    Stale,
    #[error("model call failed: {0}")]
    Failed(String),
    #[error("model scheduler has stopped")]
    Closed,
}

/// How the lanes share the machine: `lanes` calls at once, each with `threads` ONNX Runtime
/// intra-op threads, `lanes × threads ≤ cores` unless the user asked for more threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sizing {
    pub lanes: usize,
    pub threads: usize,
}

/// The local models that run side by side: Whisper and Piper. One lane each, so that neither
/// waits for the other (calls on one model never overlap anyway).
pub const MODEL_WORKERS: usize = 2;

impl Sizing {
    /// One lane per model, the cores split between them; `threads` overrides the split.
    pub fn for_cores(cores: usize, threads: Option<usize>) -> Self {
        Self {
            lanes: MODEL_WORKERS,
            threads: threads.unwrap_or(cores / MODEL_WORKERS).max(1),
        }
    }

    /// This machine, with the user's `--model-threads` if given.
    pub fn for_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::for_cores(cores, super::models::threads_override())
    }

    /// One lane (tests: a strict order).
    pub fn single() -> Self {
        Self {
            lanes: 1,
            threads: 1,
        }
    }
}

/// What the scheduler saw of one class of work.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassStats {
    pub priority: String,
    pub ran: u64,
    /// Dropped unrun: its cancel token had fired before it could start.
    pub stale: u64,
    /// Dropped unrun: it could not start within the patience it was given.
    pub expired: u64,
    /// Calls that panicked.
    pub failed: u64,
    /// Time from the call to the start of its run, per call that ran.
    pub waits_ms: Vec<f64>,
    /// Time the call took on its lane.
    pub runs_ms: Vec<f64>,
}

/// The scheduler's figures since it started or since the last reset.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SchedulerStats {
    pub sizing: Option<Sizing>,
    /// One entry per priority, most urgent first.
    pub classes: Vec<ClassStats>,
    /// Jobs waiting when the figures were taken.
    pub queued: usize,
}

impl SchedulerStats {
    fn new(sizing: Sizing) -> Self {
        Self {
            sizing: Some(sizing),
            classes: Priority::ALL
                .iter()
                .map(|p| ClassStats {
                    priority: p.name().to_string(),
                    ..ClassStats::default()
                })
                .collect(),
            queued: 0,
        }
    }

    fn class(&mut self, p: Priority) -> &mut ClassStats {
        // ALL is in `Ord` order, and `classes` was built from it.
        let i = Priority::ALL.iter().position(|&q| q == p).unwrap_or(0);
        &mut self.classes[i]
    }

    /// The figures of one class.
    pub fn of(&self, p: Priority) -> Option<&ClassStats> {
        self.classes.iter().find(|c| c.priority == p.name())
    }
}

/// A call waiting for a lane.
struct Job {
    /// Calls on one model never overlap (its graph is one ONNX session).
    model: &'static str,
    urgency: Urgency,
    cancel: CancelToken,
    queued: Instant,
    /// Dropped if not started by then.
    expires: Option<Instant>,
    seq: u64,
    /// `true`: run the call and send its result; `false`: send `Stale` without running it.
    work: Box<dyn FnOnce(bool) + Send>,
}

/// The scheduler thread's one input. Jobs and lanes' reports share a channel so that the thread
/// sees them in the order they happened.
enum Msg {
    Job(Job),
    Done {
        lane: usize,
        model: &'static str,
        class: Priority,
        run_ms: f64,
        panicked: bool,
    },
    Stats {
        reset: bool,
        reply: Sender<SchedulerStats>,
    },
    /// The last handle is gone.
    Stop,
}

struct Handle {
    tx: Sender<Msg>,
    sizing: Sizing,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Stop);
    }
}

/// A handle on the shared model lanes; cheap to clone, the threads end with the last clone.
#[derive(Clone)]
pub struct Scheduler(Arc<Handle>);

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scheduler({:?})", self.0.sizing)
    }
}

/// A call handed to the scheduler; [`Pending::wait`] for its result.
pub struct Pending<R> {
    rx: Receiver<Result<R, CallError>>,
    cancel: CancelToken,
}

impl<R> Pending<R> {
    /// The call's result; `Stale` as soon as its cancel token fires, whether it was queued or
    /// running (a running call sees the same token and stops early).
    pub fn wait(self) -> Result<R, CallError> {
        select! {
            recv(self.rx) -> r => r.unwrap_or_else(|_| {
                // The lane dropped the reply without sending: the call panicked.
                Err(CallError::Failed("the model call panicked".into()))
            }),
            recv(self.cancel.fired()) -> _ => Err(CallError::Stale),
        }
    }
}

impl Scheduler {
    /// Start the scheduler thread and `sizing.lanes` lanes.
    pub fn start(sizing: Sizing) -> Self {
        let (tx, rx) = unbounded();
        let mut lanes = Vec::with_capacity(sizing.lanes);
        for index in 0..sizing.lanes.max(1) {
            let (lane_tx, lane_rx) = bounded::<(Job, Priority)>(1);
            let done = tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("model-lane-{index}"))
                .spawn(move || lane(index, lane_rx, done));
            match spawned {
                Ok(_) => lanes.push(lane_tx),
                Err(e) => log::error!("model lane {index} could not start: {e}"),
            }
        }
        let owner = std::thread::Builder::new()
            .name("model-scheduler".into())
            .spawn(move || schedule(rx, lanes, sizing));
        if let Err(e) = owner {
            // Every call then answers `Closed`, which the providers report as an error.
            log::error!("the model scheduler could not start: {e}");
        }
        log::info!(
            "model scheduler: {} lane(s), {} ONNX Runtime thread(s) each",
            sizing.lanes,
            sizing.threads
        );
        Self(Arc::new(Handle { tx, sizing }))
    }

    pub fn sizing(&self) -> Sizing {
        self.0.sizing
    }

    /// Queue `f` as a call on `model`; it runs on a lane when its turn comes, or never if
    /// `cancel` fires first.
    pub fn submit<R: Send + 'static>(
        &self,
        model: &'static str,
        urgency: Urgency,
        cancel: &CancelToken,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Pending<R> {
        self.submit_within(model, urgency, cancel, None, f)
    }

    /// As [`submit`](Self::submit); a call not started within `patience` is dropped (`Stale`).
    pub fn submit_within<R: Send + 'static>(
        &self,
        model: &'static str,
        urgency: Urgency,
        cancel: &CancelToken,
        patience: Option<Duration>,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Pending<R> {
        let (tx, rx) = bounded(1);
        let work = Box::new(move |run: bool| {
            let _ = tx.send(if run { Ok(f()) } else { Err(CallError::Stale) });
        });
        let queued = Instant::now();
        let expires = patience.map(|p| queued + p);
        let job = Job {
            model,
            urgency,
            cancel: cancel.clone(),
            queued,
            expires,
            seq: 0,
            work,
        };
        let (closed_tx, closed_rx) = bounded(1);
        if self.0.tx.send(Msg::Job(job)).is_err() {
            let _ = closed_tx.send(Err(CallError::Closed));
            return Pending {
                rx: closed_rx,
                cancel: cancel.clone(),
            };
        }
        Pending {
            rx,
            cancel: cancel.clone(),
        }
    }

    /// Run `f` as a call on `model` and wait for its result.
    pub fn call<R: Send + 'static>(
        &self,
        model: &'static str,
        urgency: Urgency,
        cancel: &CancelToken,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, CallError> {
        self.submit(model, urgency, cancel, f).wait()
    }

    /// The figures so far; `reset` starts new ones.
    pub fn stats(&self, reset: bool) -> SchedulerStats {
        let (reply, rx) = bounded(1);
        if self.0.tx.send(Msg::Stats { reset, reply }).is_err() {
            return SchedulerStats::default();
        }
        rx.recv().unwrap_or_default()
    }
}

/// Where a provider's model calls run: on the caller's own thread (each session for itself, as
/// a single-caller program wants), or through a shared [`Scheduler`].
#[derive(Clone, Debug, Default)]
pub enum Compute {
    #[default]
    Direct,
    Scheduled(Scheduler),
}

impl Compute {
    /// Run `f`, a call on `model`. Directly, it runs now whatever the token says (the call
    /// checks the token itself); scheduled, as [`Scheduler::call`].
    pub fn run<R: Send + 'static>(
        &self,
        model: &'static str,
        urgency: &Urgency,
        cancel: &CancelToken,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, CallError> {
        self.run_within(model, urgency, cancel, None, f)
    }

    /// As [`run`](Self::run); scheduled, a call not started within `patience` is dropped.
    pub fn run_within<R: Send + 'static>(
        &self,
        model: &'static str,
        urgency: &Urgency,
        cancel: &CancelToken,
        patience: Option<Duration>,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, CallError> {
        match self {
            Compute::Direct => Ok(f()),
            Compute::Scheduled(s) => s
                .submit_within(model, urgency.clone(), cancel, patience, f)
                .wait(),
        }
    }

    pub fn scheduler(&self) -> Option<&Scheduler> {
        match self {
            Compute::Direct => None,
            Compute::Scheduled(s) => Some(s),
        }
    }
}

/// Keep at most this many wait and run samples per class (a long-running server).
const MAX_SAMPLES: usize = 100_000;

fn push_sample(v: &mut Vec<f64>, x: f64) {
    if v.len() < MAX_SAMPLES {
        v.push(x);
    }
}

/// The scheduler thread.
fn schedule(rx: Receiver<Msg>, lanes: Vec<Sender<(Job, Priority)>>, sizing: Sizing) {
    let mut queue: Vec<Job> = Vec::new();
    let mut free: VecDeque<usize> = (0..lanes.len()).collect();
    let mut busy: HashSet<&'static str> = HashSet::new();
    let mut stats = SchedulerStats::new(sizing);
    let mut seq = 0u64;
    let mut stopping = false;
    loop {
        drop_unwanted(&mut queue, &mut stats);
        // Hand work to every free lane that has some.
        while let Some(&lane) = free.front() {
            let Some((job, class)) = pick(&mut queue, &busy) else {
                break;
            };
            free.pop_front();
            busy.insert(job.model);
            push_sample(
                &mut stats.class(class).waits_ms,
                job.queued.elapsed().as_secs_f64() * 1000.0,
            );
            if let Err(e) = lanes[lane].send((job, class)) {
                // The lane thread is gone: its job cannot run, and it takes no more.
                let (job, _) = e.into_inner();
                busy.remove(job.model);
                (job.work)(false);
                log::error!("model lane {lane} has stopped");
            }
        }
        if stopping && queue.is_empty() && free.len() == lanes.len() {
            break;
        }
        // Wake for the next message, or when a queued job expires.
        let msg = match queue.iter().filter_map(|j| j.expires).min() {
            Some(at) => match rx.recv_deadline(at) {
                Ok(msg) => msg,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            },
            None => match rx.recv() {
                Ok(msg) => msg,
                Err(_) => break,
            },
        };
        match msg {
            Msg::Job(mut job) => {
                seq += 1;
                job.seq = seq;
                queue.push(job);
            }
            Msg::Done {
                lane,
                model,
                class,
                run_ms,
                panicked,
            } => {
                busy.remove(model);
                free.push_back(lane);
                let c = stats.class(class);
                if panicked {
                    c.failed += 1;
                } else {
                    c.ran += 1;
                    push_sample(&mut c.runs_ms, run_ms);
                }
            }
            Msg::Stats { reset, reply } => {
                stats.queued = queue.len();
                let _ = reply.send(stats.clone());
                if reset {
                    stats = SchedulerStats::new(sizing);
                }
            }
            Msg::Stop => stopping = true,
        }
    }
    log::debug!("model scheduler stopped");
}

/// Drop the jobs whose token has fired (their callers have stopped waiting) or whose time to
/// start has passed.
fn drop_unwanted(queue: &mut Vec<Job>, stats: &mut SchedulerStats) {
    let now = Instant::now();
    let mut i = 0;
    while i < queue.len() {
        let stale = queue[i].cancel.is_cancelled();
        if stale || queue[i].expires.is_some_and(|at| at <= now) {
            let job = queue.swap_remove(i);
            let class = stats.class(job.urgency.now());
            if stale {
                class.stale += 1;
            } else {
                class.expired += 1;
            }
            (job.work)(false);
        } else {
            i += 1;
        }
    }
}

/// The most urgent job (first come within a class) whose model is not running.
fn pick(queue: &mut Vec<Job>, busy: &HashSet<&'static str>) -> Option<(Job, Priority)> {
    let (index, class) = queue
        .iter()
        .enumerate()
        .filter(|(_, j)| !busy.contains(j.model))
        .map(|(i, j)| (i, j.urgency.now(), j.seq))
        .min_by_key(|&(_, p, seq)| (p, seq))
        .map(|(i, p, _)| (i, p))?;
    Some((queue.swap_remove(index), class))
}

/// A lane: runs what it is given, one call at a time.
fn lane(index: usize, jobs: Receiver<(Job, Priority)>, done: Sender<Msg>) {
    for (job, class) in jobs {
        let Job { model, work, .. } = job;
        let started = Instant::now();
        let panicked = match catch_unwind(AssertUnwindSafe(|| work(true))) {
            Ok(()) => false,
            Err(p) => {
                log::error!(
                    "a {model} call panicked ({}); its caller gets an error",
                    crate::foundation::panic::message(&*p)
                );
                true
            }
        };
        let msg = Msg::Done {
            lane: index,
            model,
            class,
            run_ms: started.elapsed().as_secs_f64() * 1000.0,
            panicked,
        };
        if done.send(msg).is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::foundation::cancel::Generation;
    use std::sync::Mutex;

    /// One lane, held busy until the returned sender is dropped or sent to.
    fn held_lane() -> (Scheduler, Sender<()>, Pending<()>) {
        let s = Scheduler::start(Sizing::single());
        let (open, gate) = bounded::<()>(0);
        let held = s.submit("a", Urgency::default(), &CancelToken::never(), move || {
            let _ = gate.recv();
        });
        (s, open, held)
    }

    #[test]
    fn sizing_gives_each_model_a_lane_and_splits_the_cores() {
        let two = Sizing::for_cores(2, None);
        assert_eq!((two.lanes, two.threads), (MODEL_WORKERS, 1));
        assert_eq!(Sizing::for_cores(8, None).threads, 4);
        // Never oversubscribed by default; one thread at least on a single core.
        assert!(two.lanes * two.threads <= 2);
        assert_eq!(Sizing::for_cores(1, None).threads, 1);
        // --model-threads is the user's choice.
        assert_eq!(Sizing::for_cores(2, Some(2)).threads, 2);
    }

    #[test]
    fn a_partial_that_cannot_start_in_time_is_dropped() {
        let (s, open, held) = held_lane();
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        let late = s.submit_within(
            "a",
            Urgency::fixed(Priority::Partial),
            &CancelToken::never(),
            Some(Duration::from_millis(20)),
            move || flag.store(true, std::sync::atomic::Ordering::SeqCst),
        );
        // The lane stays held: the scheduler's own deadline drops the partial.
        assert_eq!(late.wait(), Err(CallError::Stale));
        drop(open);
        held.wait().unwrap();
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(s.stats(false).of(Priority::Partial).unwrap().expired, 1);
    }

    #[test]
    fn the_most_urgent_call_runs_first_and_first_come_within_a_class() {
        let (s, open, held) = held_lane();
        let order = Arc::new(Mutex::new(Vec::new()));
        let queued = [
            (Priority::Partial, "partial"),
            (Priority::Speculative, "speculative 1"),
            (Priority::Ahead, "ahead"),
            (Priority::Speculative, "speculative 2"),
            (Priority::Decisive, "decisive"),
        ];
        let pending: Vec<_> = queued
            .iter()
            .map(|&(p, name)| {
                let order = order.clone();
                s.submit("a", Urgency::fixed(p), &CancelToken::never(), move || {
                    order.lock().unwrap().push(name)
                })
            })
            .collect();
        drop(open);
        held.wait().unwrap();
        for p in pending {
            p.wait().unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            [
                "decisive",
                "ahead",
                "speculative 1",
                "speculative 2",
                "partial"
            ]
        );
        let stats = s.stats(false);
        assert_eq!(stats.of(Priority::Speculative).unwrap().ran, 2);
        assert_eq!(stats.of(Priority::Decisive).unwrap().ran, 2);
        assert_eq!(stats.of(Priority::Speculative).unwrap().waits_ms.len(), 2);
    }

    #[test]
    fn urgency_is_read_when_a_lane_is_free() {
        let (s, open, held) = held_lane();
        let committed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = committed.clone();
        let order = Arc::new(Mutex::new(Vec::new()));
        let (o1, o2) = (order.clone(), order.clone());
        let partial = s.submit(
            "a",
            Urgency::fixed(Priority::Ahead),
            &CancelToken::never(),
            move || o1.lock().unwrap().push("ahead"),
        );
        let guess = s.submit(
            "a",
            Urgency::live(move || {
                if flag.load(std::sync::atomic::Ordering::Relaxed) {
                    Priority::Decisive
                } else {
                    Priority::Speculative
                }
            }),
            &CancelToken::never(),
            move || o2.lock().unwrap().push("committed guess"),
        );
        // The turn is committed while the guess waits: it now goes first.
        committed.store(true, std::sync::atomic::Ordering::Relaxed);
        drop(open);
        held.wait().unwrap();
        partial.wait().unwrap();
        guess.wait().unwrap();
        assert_eq!(*order.lock().unwrap(), ["committed guess", "ahead"]);
    }

    #[test]
    fn a_stale_call_is_never_run() {
        let (s, open, held) = held_lane();
        let generation = Generation::new();
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        let stale = s.submit(
            "a",
            Urgency::fixed(Priority::Speculative),
            &generation.token(),
            move || flag.store(true, std::sync::atomic::Ordering::SeqCst),
        );
        let fresh = s.submit("a", Urgency::default(), &CancelToken::never(), || 7);
        generation.bump();
        drop(open);
        held.wait().unwrap();
        assert_eq!(fresh.wait(), Ok(7));
        assert_eq!(stale.wait(), Err(CallError::Stale));
        let stats = s.stats(true);
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(stats.of(Priority::Speculative).unwrap().stale, 1);
        assert_eq!(stats.of(Priority::Speculative).unwrap().ran, 0);
        // Reset: the next figures start from nothing.
        assert_eq!(s.stats(false).of(Priority::Speculative).unwrap().stale, 0);
    }

    #[test]
    fn a_caller_that_hangs_up_stops_waiting_at_once_and_its_queue_is_dropped() {
        let (s, open, held) = held_lane();
        let session = Generation::new();
        let ran = Arc::new(Mutex::new(0));
        let waiting: Vec<_> = (0..3)
            .map(|_| {
                let (s, ran, token) = (s.clone(), ran.clone(), session.token());
                std::thread::spawn(move || {
                    s.call("a", Urgency::fixed(Priority::Partial), &token, move || {
                        *ran.lock().unwrap() += 1
                    })
                })
            })
            .collect();
        // The lane is still held: only the token can release these callers.
        session.bump();
        for w in waiting {
            assert_eq!(w.join().unwrap(), Err(CallError::Stale));
        }
        drop(open);
        held.wait().unwrap();
        // Every lane is free again once a later call has run; none of the three did.
        assert_eq!(
            s.call("a", Urgency::default(), &CancelToken::never(), || 1),
            Ok(1)
        );
        assert_eq!(*ran.lock().unwrap(), 0);
        let stats = s.stats(false);
        let dropped: u64 = stats.classes.iter().map(|c| c.stale).sum();
        assert_eq!(dropped, 3);
        assert_eq!(stats.queued, 0);
    }

    #[test]
    fn a_call_that_panics_is_an_error_and_the_lane_goes_on() {
        let s = Scheduler::start(Sizing::single());
        let r: Result<(), _> = s.call("a", Urgency::default(), &CancelToken::never(), || {
            panic!("model fault")
        });
        assert!(matches!(r, Err(CallError::Failed(_))), "{r:?}");
        assert_eq!(
            s.call("a", Urgency::default(), &CancelToken::never(), || 2),
            Ok(2)
        );
        assert_eq!(s.stats(false).of(Priority::Decisive).unwrap().failed, 1);
    }

    #[test]
    fn two_lanes_never_run_one_model_twice_at_once() {
        let s = Scheduler::start(Sizing::for_cores(2, None));
        let (open, gate) = bounded::<()>(0);
        let held = s.submit("a", Urgency::default(), &CancelToken::never(), move || {
            let _ = gate.recv();
        });
        // The second lane is free, but model "a" is busy: "b" overtakes the second "a".
        let order = Arc::new(Mutex::new(Vec::new()));
        let (o1, o2) = (order.clone(), order.clone());
        let a = s.submit("a", Urgency::default(), &CancelToken::never(), move || {
            o1.lock().unwrap().push("a")
        });
        let b = s.submit(
            "b",
            Urgency::fixed(Priority::Partial),
            &CancelToken::never(),
            move || o2.lock().unwrap().push("b"),
        );
        b.wait().unwrap();
        assert_eq!(*order.lock().unwrap(), ["b"]);
        drop(open);
        held.wait().unwrap();
        a.wait().unwrap();
        assert_eq!(*order.lock().unwrap(), ["b", "a"]);
    }

    #[test]
    fn direct_calls_run_on_the_callers_thread() {
        let here = std::thread::current().id();
        let c = Compute::default();
        let r = c.run("a", &Urgency::default(), &CancelToken::never(), move || {
            std::thread::current().id() == here
        });
        assert_eq!(r, Ok(true));
        assert!(c.scheduler().is_none());
    }
}
