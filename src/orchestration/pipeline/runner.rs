//! The one stage loop. Every stage is a [`Stage`]: a value that handles one message at a time.
//! [`run`] feeds it from its data channel and its control channel (control first, so a barge-in
//! overtakes queued data), drops data of a stale generation unread, wakes it when it asked to be
//! woken (the sink pacing audio), and tells it when its input has closed. [`spawn`] runs it on a
//! named thread and turns a panic into an error event instead of a dead process.
//!
//! So each stage's file holds only its own logic, and shutdown needs no flags: a stage ends when
//! its input closes, and dropping its output senders ends the next one.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, Select};

use super::messages::{SourceControl, Stamped};
use super::shared::Shared;
use crate::foundation::cancel::Generation;

/// Whether a stage goes on after a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// The stage is done (its downstream is gone): stop reading.
    Stop,
}

impl Flow {
    /// `Continue` when a send succeeded, `Stop` when the receiver is gone.
    pub fn sent<T, E>(r: Result<T, E>) -> Flow {
        if r.is_ok() {
            Flow::Continue
        } else {
            Flow::Stop
        }
    }
}

/// A stage of the pipeline: its state, and what it does with each message.
pub trait Stage {
    /// Its data, from the stage before it.
    type In: Stamped;
    /// Its control messages, from anywhere.
    type Control;
    /// What it leaves behind when it ends.
    type Out;

    fn handle(&mut self, msg: Self::In) -> Flow;

    fn control(&mut self, _msg: Self::Control) -> Flow {
        Flow::Continue
    }

    /// When the stage wants to run next without a message (pacing), if ever.
    fn wake_at(&self) -> Option<Instant> {
        None
    }

    fn wake(&mut self) -> Flow {
        Flow::Continue
    }

    /// False while the stage takes no more data (its own queue is full); control still flows.
    fn wants_data(&self) -> bool {
        true
    }

    /// The data channel closed. The stage runs on while it still asks to be woken.
    fn input_closed(&mut self) {}

    fn finish(self) -> Self::Out;
}

/// Run a stage until its input closes (and its last wake-up is done) or it stops.
pub fn run<S: Stage>(
    mut stage: S,
    data: Receiver<S::In>,
    control: Receiver<S::Control>,
    generation: &Generation,
) -> S::Out {
    run_loop(&mut stage, &data, &control, generation);
    stage.finish()
}

fn run_loop<S: Stage>(
    stage: &mut S,
    data: &Receiver<S::In>,
    control: &Receiver<S::Control>,
    generation: &Generation,
) {
    let (mut data_open, mut control_open) = (true, true);
    loop {
        // Control first: it must not wait behind queued data.
        while control_open {
            match control.try_recv() {
                Ok(c) => {
                    if stage.control(c) == Flow::Stop {
                        return;
                    }
                }
                Err(e) => {
                    control_open = !e.is_disconnected();
                    break;
                }
            }
        }
        let wake_at = stage.wake_at();
        if !data_open && wake_at.is_none() {
            break;
        }
        let mut sel = Select::new();
        let control_op = control_open.then(|| sel.recv(control));
        let data_op = (data_open && stage.wants_data()).then(|| sel.recv(data));
        let ready = match wake_at {
            Some(at) => sel.select_deadline(at).ok(),
            // Nothing to wait for: only possible once both channels are closed.
            None if control_op.is_none() && data_op.is_none() => break,
            None => Some(sel.select()),
        };
        let flow = match ready {
            None => stage.wake(),
            Some(op) if Some(op.index()) == control_op => match op.recv(control) {
                Ok(c) => stage.control(c),
                Err(_) => {
                    control_open = false;
                    Flow::Continue
                }
            },
            Some(op) => match op.recv(data) {
                Ok(m) if m.droppable().is_some_and(|g| generation.is_stale(g)) => Flow::Continue,
                Ok(m) => stage.handle(m),
                Err(_) => {
                    data_open = false;
                    stage.input_closed();
                    Flow::Continue
                }
            },
        };
        if flow == Flow::Stop {
            break;
        }
    }
}

/// Run a stage on its own thread (see [`run`] and [`spawn`]).
pub fn start<S>(
    name: &'static str,
    s: &Shared,
    stage: S,
    data: Receiver<S::In>,
    control: Receiver<S::Control>,
) -> JoinHandle<Option<S::Out>>
where
    S: Stage + Send + 'static,
    S::In: Send + 'static,
    S::Control: Send + 'static,
    S::Out: Send + 'static,
{
    let generation = s.generation.clone();
    spawn_reporting(name, s, move |report| {
        let mut stage = stage;
        // The stage outlives the catch: the panic is reported while its output channel is
        // still open, so the next stage cannot see its input close (and end the session)
        // before the error event is on its way.
        match catch_unwind(AssertUnwindSafe(|| {
            run_loop(&mut stage, &data, &control, &generation)
        })) {
            Ok(()) => Some(stage.finish()),
            Err(p) => {
                report(&*p);
                None
            }
        }
    })
}

/// Run `f` on a thread named after the stage. A panic is caught and reported (an error event
/// for the transport), and the source is told to stop, so the session winds down; the thread
/// then returns `None`.
pub fn spawn<R: Send + 'static>(
    name: &'static str,
    s: &Shared,
    f: impl FnOnce() -> R + Send + 'static,
) -> JoinHandle<Option<R>> {
    spawn_reporting(name, s, move |_| Some(f()))
}

/// As [`spawn`], with the report of a panic handed to `f`, which returns `None` after using it.
fn spawn_reporting<R: Send + 'static>(
    name: &'static str,
    s: &Shared,
    f: impl FnOnce(&dyn Fn(&(dyn std::any::Any + Send))) -> Option<R> + Send + 'static,
) -> JoinHandle<Option<R>> {
    let (events, source, done) = (s.events.clone(), s.source.clone(), s.done.clone());
    let spawned = std::thread::Builder::new()
        .name(format!("va-{name}"))
        .spawn(move || {
            let report = |p: &(dyn std::any::Any + Send)| {
                let why = crate::foundation::panic::message(p);
                events.error(name, format!("stage panicked: {why}"));
                let _ = source.send(SourceControl::Stop);
            };
            let out = match catch_unwind(AssertUnwindSafe(|| f(&report))) {
                Ok(r) => r,
                Err(p) => {
                    report(&*p);
                    None
                }
            };
            let _ = done.send(name);
            out
        });
    // Failing to spawn a thread means the process is out of resources; nothing sensible remains.
    spawned.unwrap_or_else(|e| panic!("cannot spawn the {name} thread: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::{bounded, never, unbounded};
    use std::time::Duration;

    struct Msg(Option<u64>, &'static str);
    impl Stamped for Msg {
        fn droppable(&self) -> Option<u64> {
            self.0
        }
    }

    #[derive(Default)]
    struct Log {
        seen: Vec<String>,
        wakes: u32,
        wake_at: Option<Instant>,
        closed: bool,
    }

    impl Stage for Log {
        type In = Msg;
        type Control = &'static str;
        type Out = Log;
        fn handle(&mut self, m: Msg) -> Flow {
            self.seen.push(m.1.to_string());
            if m.1 == "stop" {
                Flow::Stop
            } else {
                Flow::Continue
            }
        }
        fn control(&mut self, c: &'static str) -> Flow {
            self.seen.push(format!("ctl:{c}"));
            Flow::Continue
        }
        fn wake_at(&self) -> Option<Instant> {
            self.wake_at
        }
        fn wake(&mut self) -> Flow {
            self.wakes += 1;
            self.wake_at = None;
            Flow::Continue
        }
        fn input_closed(&mut self) {
            self.closed = true;
            // Ask for one more wake-up after the input is gone (a sink playing out).
            self.wake_at = Some(Instant::now() + Duration::from_millis(1));
        }
        fn finish(self) -> Log {
            self
        }
    }

    #[test]
    fn control_goes_first_and_stale_data_is_dropped() {
        let g = Generation::new();
        g.bump();
        let (dtx, drx) = bounded(8);
        let (ctx, crx) = unbounded();
        dtx.send(Msg(Some(0), "stale")).unwrap();
        dtx.send(Msg(Some(1), "fresh")).unwrap();
        dtx.send(Msg(None, "end of an old reply")).unwrap();
        ctx.send("barge-in").unwrap();
        drop((dtx, ctx));
        let log = run(Log::default(), drx, crx, &g);
        assert_eq!(
            log.seen,
            ["ctl:barge-in", "fresh", "end of an old reply"],
            "control overtakes data; a stale message is never handled"
        );
        assert!(log.closed);
        assert_eq!(
            log.wakes, 1,
            "the stage ran on for the wake-up it asked for"
        );
    }

    #[test]
    fn a_stage_that_stops_ends_the_loop() {
        let (dtx, drx) = bounded(8);
        dtx.send(Msg(None, "stop")).unwrap();
        dtx.send(Msg(None, "never read")).unwrap();
        let log = run(Log::default(), drx, never(), &Generation::new());
        assert_eq!(log.seen, ["stop"]);
        assert!(!log.closed);
    }

    #[test]
    fn a_panic_becomes_an_error_event_and_stops_the_source() {
        let (events, sink) = super::super::messages::Events::channel();
        let (source, stop) = unbounded();
        let s = Shared {
            generation: Generation::new(),
            events,
            source,
            done: unbounded().0,
            clock: std::sync::Arc::new(super::super::clock::MediaClock::new(true)),
            recorder: None,
        };
        let h = spawn("boom", &s, || -> u32 { panic!("model output was NaN") });
        assert_eq!(h.join().expect("the thread itself ends cleanly"), None);
        let got: Vec<_> = sink.try_iter().collect();
        assert!(
            matches!(&got[..], [super::super::messages::SinkControl::Event(
                super::super::events::Event::Error { stage, message })]
                if stage == "boom" && message.contains("model output was NaN")),
            "{got:?}"
        );
        assert_eq!(stop.try_recv(), Ok(SourceControl::Stop));
    }
}
