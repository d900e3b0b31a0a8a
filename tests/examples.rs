//! The chapter examples as a reader runs them: `sentence_buffer` streams chunks while its input
//! is still open, and `agent` holds a typed conversation with the receptionist that checks,
//! books and cancels through the real tools.
//!
//! The examples are built next to the test's own binary (`target/<profile>/examples/`); when
//! one is missing or older than that binary, the test builds it with cargo first.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::Mutex;
use std::time::Duration;

/// Guards against a hung example: generous, not a latency bound.
const HANG: Duration = Duration::from_secs(60);

/// Builds are serialised: both tests may want one at the same time.
static BUILD: Mutex<()> = Mutex::new(());

fn modified(p: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// The example's executable, built with the test's profile when missing or stale.
fn example(name: &str) -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_voice-agent"));
    let dir = bin.parent().expect("the binary's folder");
    let exe = dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let fresh = match (modified(&exe), modified(bin)) {
        (Some(e), Some(b)) => e >= b,
        _ => false,
    };
    if !fresh {
        let profile = match dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev".to_string(),
            Some(p) => p.to_string(),
        };
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--profile", &profile, "--example", name])
            .arg("--manifest-path")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"));
        if let Some(target) = dir.parent() {
            cmd.arg("--target-dir").arg(target);
        }
        // Not the variables cargo set for this test: build scripts watch some of them (ring's
        // watches CARGO_MANIFEST_DIR), and a change would rebuild those crates here and again
        // in the next ordinary build of the shared target folder.
        for (key, _) in std::env::vars_os() {
            let Some(key) = key.to_str() else { continue };
            let set_for_tests = key.starts_with("CARGO_MANIFEST_")
                || key.starts_with("CARGO_PKG_")
                || key.starts_with("CARGO_BIN_")
                || matches!(
                    key,
                    "CARGO_CRATE_NAME"
                        | "CARGO_PRIMARY_PACKAGE"
                        | "CARGO_TARGET_TMPDIR"
                        | "CARGO_RUSTC_CURRENT_DIR"
                        | "OUT_DIR"
                );
            if set_for_tests {
                cmd.env_remove(key);
            }
        }
        let status = cmd.status().expect("running cargo");
        assert!(status.success(), "cargo build --example {name} failed");
    }
    assert!(exe.exists(), "{} was not built", exe.display());
    exe
}

fn spawn(exe: &Path, env: &[(&str, &Path)]) -> Child {
    let mut cmd = Command::new(exe);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("starting the example")
}

/// The child's stdout, line by line, as it prints them.
fn lines_of(stdout: ChildStdout) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn next_line(rx: &Receiver<String>, waiting_for: &str) -> String {
    rx.recv_timeout(HANG)
        .unwrap_or_else(|_| panic!("no line printed while waiting for {waiting_for:?}"))
}

/// Wait for the child to exit (killing it if it hangs); returns whether it succeeded and its
/// stderr.
fn finish(mut child: Child) -> (bool, String) {
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut s);
        let _ = tx.send(s);
    });
    let deadline = std::time::Instant::now() + HANG;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the example") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the example did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status.success(), rx.recv_timeout(HANG).unwrap_or_default())
}

/// Write a piece of text and let the example see it on its own, as a streaming LLM's tokens
/// arrive. The pause only separates the reads; nothing is measured.
fn feed(stdin: &mut impl Write, piece: &str) {
    stdin
        .write_all(piece.as_bytes())
        .expect("writing to the example");
    stdin.flush().expect("flushing");
    std::thread::sleep(Duration::from_millis(30));
}

#[test]
fn sentence_buffer_example_prints_each_chunk_while_the_input_is_still_open() {
    let mut child = spawn(&example("sentence_buffer"), &[]);
    let mut stdin = child.stdin.take().expect("piped stdin");
    let rx = lines_of(child.stdout.take().expect("piped stdout"));

    // "Dr." is no sentence end; "Smith." is one once the next word begins.
    for piece in ["Hi Dr", ". Smi", "th. Se", "e you at 3"] {
        feed(&mut stdin, piece);
    }
    assert_eq!(next_line(&rx, "the first chunk"), "Hi Dr. Smith.");
    // A time and "p.m." do not end the sentence; the capital after it does.
    for piece in [":30 p", ".m.", " Bri"] {
        feed(&mut stdin, piece);
    }
    assert_eq!(next_line(&rx, "the second chunk"), "See you at 3:30 p.m.");
    // A price is no sentence end either; the last chunk comes when the input ends.
    for piece in ["ng $29", ".95", "."] {
        feed(&mut stdin, piece);
    }
    drop(stdin);
    let rest: Vec<String> = rx.iter().collect();
    assert_eq!(rest, ["Bring $29.95."]);
    let (ok, stderr) = finish(child);
    assert!(ok, "{stderr}");
}

#[test]
fn sentence_buffer_example_keeps_a_character_split_between_reads() {
    let mut child = spawn(&example("sentence_buffer"), &[]);
    let mut stdin = child.stdin.take().expect("piped stdin");
    let rx = lines_of(child.stdout.take().expect("piped stdout"));
    let text = "The café opens at nine. Try the crème brûlée!";
    // Split inside the two bytes of "é" and of "û".
    let bytes = text.as_bytes();
    let cuts = [0, text.find("é").unwrap() + 1, text.find("û").unwrap() + 1];
    for w in cuts.windows(2) {
        stdin.write_all(&bytes[w[0]..w[1]]).unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(Duration::from_millis(30));
    }
    stdin.write_all(&bytes[cuts[2]..]).unwrap();
    drop(stdin);
    let lines: Vec<String> = rx.iter().collect();
    assert_eq!(lines, ["The café opens at nine.", "Try the crème brûlée!"]);
    let (ok, stderr) = finish(child);
    assert!(ok, "{stderr}");
}

/// The JSON after " -> " on a `[tool] name(args) -> result` line.
fn tool_result(line: &str) -> serde_json::Value {
    let (_, json) = line.split_once(" -> ").expect("a tool result");
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {line}"))
}

#[test]
fn agent_example_checks_books_and_cancels_in_a_typed_conversation() {
    // The example keeps its database in memory; a data folder of its own shows it writes none.
    let data = std::env::temp_dir().join(format!("va-examples-{}", std::process::id()));
    std::fs::create_dir_all(&data).unwrap();
    let mut child = spawn(
        &example("agent"),
        &[("XDG_DATA_HOME", &data), ("HOME", &data)],
    );
    let mut stdin = child.stdin.take().expect("piped stdin");
    let rx = lines_of(child.stdout.take().expect("piped stdout"));
    // "next tuesday" is always a working day ahead, whatever day the test runs.
    let script = [
        "is doctor patel free next tuesday afternoon",
        "i'd like to see doctor patel next tuesday at four",
        "my name is penny lane",
        "february third two thousand one",
        "yes please",
        // No record of her yet: the receptionist asks before making one.
        "yes it's my first visit",
        "i need to cancel my appointment",
        "yes",
        // An empty line ends the conversation.
        "",
    ];
    for line in script {
        writeln!(stdin, "{line}").unwrap();
    }
    drop(stdin);
    let out: Vec<String> = rx.iter().collect();
    let (ok, stderr) = finish(child);
    let all = out.join("\n");
    assert!(ok, "{all}\n{stderr}");
    assert_eq!(
        out.first().map(String::as_str),
        Some("brain: built-in receptionist (offline, rule-based)")
    );
    assert!(!all.contains("[error]"), "{all}");

    // Every tool call is shown with its arguments and result, in the order they ran.
    let tools: Vec<&str> = out
        .iter()
        .filter_map(|l| l.trim_start().strip_prefix("[tool] "))
        .collect();
    let names: Vec<&str> = tools
        .iter()
        .map(|t| t.split('(').next().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        [
            "check_availability",
            "schedule_appointment",
            "schedule_appointment",
            "get_patient_info",
            "cancel_appointment"
        ],
        "{all}"
    );
    let check = tool_result(tools[0]);
    assert!(tools[0].contains("\"doctor\":\"patel\""), "{}", tools[0]);
    let day = check["day"].as_str().expect("the day checked");
    assert!(day.starts_with("Tuesday, "), "{check}");
    let slots = &check["doctors"][0]["slots"];
    assert!(
        slots
            .as_array()
            .is_some_and(|s| s.iter().any(|t| t == "16:00")),
        "4 PM is offered: {check}"
    );

    let refused = tool_result(tools[1]);
    assert_eq!(refused["code"], "not_verified", "{refused}");
    assert!(tools[2].contains("\"new_patient\":true"), "{}", tools[2]);
    let booked = tool_result(tools[2]);
    assert_eq!(booked["booked"], true, "{booked}");
    assert_eq!(booked["patient"]["name"], "Penny Lane");
    assert_eq!(booked["appointment"]["time"], "16:00");
    assert_eq!(booked["appointment"]["doctor"], "Dr. Priya Patel");
    let id = booked["appointment"]["id"]
        .as_i64()
        .expect("an appointment id");
    assert!(
        all.contains(&format!(
            "You're all set with Doctor Patel on {day} at 4 PM. Your appointment number is {id}."
        )),
        "{all}"
    );

    let cancelled = tool_result(tools[4]);
    assert!(
        tools[4].contains(&format!("\"appointment_id\":{id}")),
        "{}",
        tools[4]
    );
    assert_eq!(cancelled["cancelled"], true, "{cancelled}");
    assert_eq!(cancelled["appointment"]["status"], "cancelled");
    assert!(
        all.contains(&format!(
            "Your appointment with Doctor Patel on {day} at 4 PM is cancelled."
        )),
        "{all}"
    );
    let left: Vec<_> = std::fs::read_dir(&data).unwrap().collect();
    assert!(left.is_empty(), "the example wrote {left:?}");
    std::fs::remove_dir_all(&data).ok();
}
