//! The short soak of `make test`: every count of the full `make soak` (sessions, threads and
//! descriptors left behind, winners, disclosures, malformed inputs, crashes) on a smaller run.
//! Times and memory are only printed here; the full run judges them.

use voice_agent::apps::soak::{self, SoakConfig};

#[test]
fn the_quick_soak_gets_every_count_right() {
    let report = soak::run(&SoakConfig::quick()).expect("the soak starts");
    println!("{}", report.table());
    let missed: Vec<_> = report
        .rows
        .iter()
        .filter(|r| !r.timed && !r.ok)
        .map(|r| format!("{}: {}", r.figure, r.result))
        .collect();
    assert!(report.counts_passed(), "missed: {missed:#?}");
    // Every part ran: a soak that skipped one would pass the line above vacuously.
    assert!(report.rows.len() >= 9, "{}", report.table());
    assert!(report
        .rows
        .iter()
        .any(|r| r.figure.contains("racing bookings")));
    assert!(report
        .rows
        .iter()
        .any(|r| r.figure.contains("malformed inputs")));
}
