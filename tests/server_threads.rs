//! Sessions leave nothing behind: after callers hang up (politely, abruptly, mid-reply) and the
//! server shuts down, the process has exactly the threads it had before. This is its own test
//! binary with a single test, so no other test's threads are counted.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{http_get, wait_for, Client, ScriptedFactory};
use voice_agent::apps::server::{self, ServerConfig};
use voice_agent::providers::testing::{synthetic_caller, ScriptStep};

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

#[test]
fn sessions_and_the_server_end_without_leaving_threads() {
    if !std::path::Path::new("/proc/self/task").exists() {
        eprintln!("SKIPPED: no /proc/self/task on this system");
        return;
    }
    let baseline = threads();
    let long = "This reply takes a good while to say. ".repeat(6);
    let factory = ScriptedFactory::new(
        &["hello", "hello", "hello", "hello"],
        vec![vec![ScriptStep::Text(long)]; 4],
        40,
    );
    let config = ServerConfig {
        bind: "127.0.0.1:0".into(),
        max_sessions: 3,
        ..ServerConfig::default()
    };
    let server = server::start(config, Arc::new(factory)).expect("server starts");
    let (page, addr) = (server.local_addr(), server.ws_addr());
    let caller = synthetic_caller(&[(300, false), (700, true)]);

    // Two callers at once, each hearing the start of a long reply; a third is connected.
    let talkers: Vec<_> = (0..2)
        .map(|_| {
            let caller = caller.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(addr).expect("connect");
                let ok = c.talk_until(&caller, Duration::from_secs(40), |c| {
                    c.audio().len() > 24_000
                });
                (ok, c)
            })
        })
        .collect();
    let mut idle = Client::connect(addr).expect("connect");
    idle.poll(Duration::from_millis(200));
    assert!(idle.has("ready"));
    let mut talkers: Vec<Client> = talkers
        .into_iter()
        .map(|t| {
            let (ok, c) = t.join().expect("talker");
            assert!(ok, "no agent audio: {:?}", c.messages("error"));
            c
        })
        .collect();
    assert_eq!(server.active_sessions(), 3);
    // A fourth is refused while the three run; the page is served meanwhile.
    let mut refused = Client::connect(addr).expect("connect");
    refused.poll(Duration::from_secs(1));
    assert_eq!(refused.closed.as_ref().map(|c| c.0), Some(1013));
    assert_eq!(http_get(page, "/").0, 200);
    assert!(
        threads() > baseline + 3 * 7,
        "each session runs its pipeline threads"
    );

    // One hangs up politely mid-reply, one drops the connection mid-reply.
    let polite = talkers.remove(0);
    let rude = talkers.remove(0);
    assert!(polite.close(), "closing handshake completed mid-reply");
    rude.abort();
    assert!(
        wait_for(Duration::from_secs(15), || server.active_sessions() == 1),
        "sessions still active: {}",
        server.active_sessions()
    );

    // Shutdown closes the last session with 1001 and waits for every thread.
    server.shutdown();
    idle.poll(Duration::from_millis(500));
    assert_eq!(
        idle.closed.as_ref().map(|c| c.0),
        Some(1001),
        "{:?}",
        idle.closed
    );
    drop(idle);
    drop(refused);
    assert!(
        wait_for(Duration::from_secs(10), || threads() == baseline),
        "threads: {} now, {baseline} before",
        threads()
    );
}
