//! The receptionist corpus: caller turns as speech-to-text writes them, each with what the
//! agent must do. It lives apart from the rules it scores (`corpus.jsonl` beside this file,
//! written without looking at the built-in brain), so that no rule is tuned to one sentence.
//!
//! The corpus's world: the seeded hospital on Wednesday, March 4, 2026, 8 AM ([`TODAY`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::calendar::{Date, Time};
use crate::domain::dates;
use crate::domain::directory::{self, DoctorLookup};
use crate::domain::model::{name_key, Doctor};
use crate::domain::sounds;
use crate::foundation::dialogue::ToolCallRecord;

/// The built-in corpus.
pub const CORPUS: &str = include_str!("corpus.jsonl");

/// The moment every case is played at.
pub const TODAY: &str = "2026-03-04 08:00";

/// One scored caller turn, after the lines of `context` (answered, not scored).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: String,
    pub category: String,
    #[serde(default)]
    pub context: Vec<String>,
    pub say: String,
    pub expect: Expects,
    /// In the spoken subset (said by the local voice, heard by Whisper).
    #[serde(default)]
    pub spoken: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Expects {
    One(Expect),
    All(Vec<Expect>),
}

impl Expects {
    pub fn all(&self) -> &[Expect] {
        match self {
            Expects::One(e) => std::slice::from_ref(e),
            Expects::All(v) => v,
        }
    }
}

/// What the agent must do on the scored turn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Expect {
    /// Call `tool` with (at least) these arguments, in canonical form (see [`arg_matches`]).
    Tool {
        tool: String,
        #[serde(default)]
        args: Map<String, Value>,
    },
    /// No tool call, and a reply of this kind.
    Reply {
        reply: ReplyKind,
        /// For `confirm`: the doctor's surname the agent must ask about.
        #[serde(default)]
        name: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyKind {
    /// A question for something missing.
    Ask,
    /// Out of scope: a polite no that says what the agent can do.
    Decline,
    /// "Did you mean Doctor Patel?" about a name heard unclearly.
    Confirm,
    /// Courtesy: greeting, thanks, small talk, goodbye.
    Chat,
}

#[derive(Debug, thiserror::Error)]
#[error("corpus line {line}: {message}")]
pub struct CorpusError {
    pub line: usize,
    pub message: String,
}

/// Parse a corpus (JSON Lines; blank lines and lines starting with `//` are skipped).
pub fn parse(text: &str) -> Result<Vec<Case>, CorpusError> {
    let mut cases = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let case: Case = serde_json::from_str(line).map_err(|e| CorpusError {
            line: i + 1,
            message: e.to_string(),
        })?;
        cases.push(case);
    }
    Ok(cases)
}

/// What the agent did on a turn: its tool calls and what it said.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub calls: Vec<ToolCallRecord>,
    pub reply: String,
}

/// What the checks resolve arguments against.
pub struct World {
    pub today: Date,
    pub doctors: Vec<Doctor>,
}

/// Tools that change the record: the agent must confirm with the caller before calling them.
fn changes_record(tool: &str) -> bool {
    matches!(tool, "schedule_appointment" | "cancel_appointment")
}

/// Why the outcome misses every expectation of the case, or `None` when it meets them all.
pub fn check(case: &Case, out: &Outcome, world: &World) -> Option<String> {
    let all = case.expect.all();
    let misses: Vec<String> = all
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            // Calls that serve another request of the turn are no lookups of this one.
            let others: Vec<&ToolCallRecord> = out
                .calls
                .iter()
                .filter(|c| {
                    all.iter()
                        .enumerate()
                        .any(|(j, o)| j != i && serves(o, c, world))
                })
                .collect();
            check_one(e, out, &others, world)
        })
        .collect();
    (!misses.is_empty()).then(|| misses.join("; "))
}

/// `call` is the tool call `expect` asks for.
fn serves(expect: &Expect, call: &ToolCallRecord, world: &World) -> bool {
    matches!(expect, Expect::Tool { tool, args }
        if *tool == call.name && args_match(args, &call.arguments, world).is_none())
}

fn check_one(
    expect: &Expect,
    out: &Outcome,
    others: &[&ToolCallRecord],
    world: &World,
) -> Option<String> {
    match expect {
        Expect::Tool { tool, args } => {
            let same_tool: Vec<&ToolCallRecord> =
                out.calls.iter().filter(|c| &c.name == tool).collect();
            if same_tool
                .iter()
                .any(|c| args_match(args, &c.arguments, world).is_none())
            {
                return None;
            }
            if let Some(c) = same_tool.first() {
                return args_match(args, &c.arguments, world)
                    .map(|why| format!("{tool}: {why} (called with {})", c.arguments));
            }
            // The tool descriptions ask for a confirmation before a booking or a cancellation:
            // the question that asks it, on details consistent with the expectation, is the
            // right move for the turn that completes them.
            if changes_record(tool) && confirms(out, args, others, world) {
                return None;
            }
            Some(format!("no {tool} call ({})", describe(out)))
        }
        Expect::Reply { reply, name } => {
            if !out.calls.is_empty() {
                return Some(format!("expected a {reply:?} reply, got {}", describe(out)));
            }
            let text = out.reply.to_lowercase();
            let ok = match reply {
                ReplyKind::Ask => text.contains('?'),
                ReplyKind::Decline => OFFERS.iter().any(|w| text.contains(w)),
                ReplyKind::Confirm => {
                    let asks = ["did you mean", "do you mean", "did you say"]
                        .iter()
                        .any(|p| text.contains(p));
                    asks && name
                        .as_ref()
                        .is_none_or(|n| text.contains(&n.to_lowercase()))
                }
                ReplyKind::Chat => true,
            };
            (!ok).then(|| format!("expected a {reply:?} reply, got {:?}", out.reply))
        }
    }
}

/// Words a refusal uses to say what the receptionist can do instead.
const OFFERS: &[&str] = &["appointment", "book", "schedule", "availability", "doctor"];

/// A confirmation question whose lookups agree with the details expected.
fn confirms(
    out: &Outcome,
    args: &Map<String, Value>,
    others: &[&ToolCallRecord],
    world: &World,
) -> bool {
    if !out.reply.contains('?') {
        return false;
    }
    // A lookup made on the way must agree with the expectation on what they share.
    let mine = out.calls.iter().filter(|c| !others.contains(c));
    mine.into_iter().all(|c| {
        let shared: Map<String, Value> = args
            .iter()
            .filter(|(k, _)| {
                c.arguments.get(k.as_str()).is_some() && !matches!(k.as_str(), "time" | "reason")
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        args_match(&shared, &c.arguments, world).is_none()
    })
}

fn describe(out: &Outcome) -> String {
    if out.calls.is_empty() {
        format!("said {:?}", out.reply)
    } else {
        let calls: Vec<String> = out
            .calls
            .iter()
            .map(|c| format!("{}({})", c.name, c.arguments))
            .collect();
        format!("called {}", calls.join(", "))
    }
}

/// Why the arguments miss the expected ones, or `None`.
fn args_match(expected: &Map<String, Value>, actual: &Value, world: &World) -> Option<String> {
    for (key, want) in expected {
        let got = actual.get(key).filter(|v| !v.is_null());
        if !arg_matches(key, want, got, world) {
            return Some(format!(
                "{key} should be {want}, got {}",
                got.map_or("nothing".to_string(), Value::to_string)
            ));
        }
    }
    None
}

/// One argument against its canonical expected value, read the way the tools read it.
pub fn arg_matches(key: &str, want: &Value, got: Option<&Value>, world: &World) -> bool {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let want = text(want);
    let got_text = got.map(text).unwrap_or_default();
    match key {
        "doctor" => doctor_matches(&want, &got_text, world),
        "date" => Date::parse_iso(&want)
            .is_some_and(|w| dates::resolve_date(&got_text, world.today) == Ok(w)),
        "date_of_birth" => Date::parse_iso(&want).is_some_and(|w| {
            Date::parse_iso(got_text.trim()) == Some(w)
                || dates::find_full_date(&got_text) == Some(w)
        }),
        "time" => same_time(&want, &got_text),
        "time_of_day" => match Time::parse_hhmm(&want) {
            Some(_) => same_time(&want, &got_text),
            None => got_text.to_lowercase().contains(&want.to_lowercase()),
        },
        // The tools take a name that sounds the same beside the exact birth date.
        "patient_name" => {
            name_key(&want) == name_key(&got_text) || sounds::same_name(&got_text, &want)
        }
        "reason" => got_text.to_lowercase().contains(&want.to_lowercase()),
        _ => want.trim().eq_ignore_ascii_case(got_text.trim()),
    }
}

fn same_time(want: &str, got: &str) -> bool {
    let w = Time::parse_hhmm(want);
    w.is_some() && (Time::parse_hhmm(got.trim()) == w || dates::parse_time(got).ok() == w)
}

/// A surname, a speciality, or "any", against the doctor query the agent sent.
fn doctor_matches(want: &str, got: &str, world: &World) -> bool {
    let want = want.to_lowercase();
    if want == "any" {
        return matches!(directory::lookup(&world.doctors, got), DoctorLookup::Any(_));
    }
    match directory::lookup(&world.doctors, got) {
        DoctorLookup::Named(ds) => {
            ds.len() == 1 && name_key(&ds[0].name).split(' ').any(|w| w == want)
        }
        DoctorLookup::Speciality(s, _) => s.eq_ignore_ascii_case(&want),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn world() -> World {
        let store = crate::domain::Store::open_in_memory_seeded_at(
            Date::parse_iso("2026-03-04").expect("date"),
        )
        .expect("store");
        World {
            today: Date::parse_iso("2026-03-04").expect("date"),
            doctors: store.doctors().expect("doctors"),
        }
    }

    fn call(name: &str, args: Value) -> ToolCallRecord {
        ToolCallRecord {
            name: name.into(),
            arguments: args,
            result: json!({}),
        }
    }

    fn case(expect: Value) -> Case {
        serde_json::from_value(json!({
            "id": "t-1", "category": "test", "say": "x", "expect": expect
        }))
        .expect("case")
    }

    #[test]
    fn the_built_in_corpus_parses_and_is_large_enough() {
        let cases = parse(CORPUS).expect("corpus parses");
        assert!(cases.len() >= 300, "{} cases", cases.len());
        let spoken = cases.iter().filter(|c| c.spoken).count();
        assert!(spoken >= 40, "{spoken} spoken");
        let mut ids = std::collections::HashSet::new();
        assert!(cases.iter().all(|c| ids.insert(c.id.clone())), "unique ids");
    }

    #[test]
    fn arguments_are_read_the_way_the_tools_read_them() {
        let w = world();
        let c = case(json!({"tool": "check_availability",
            "args": {"doctor": "patel", "date": "2026-03-09", "time_of_day": "morning"}}));
        for args in [
            json!({"doctor": "Dr. Priya Patel", "date": "Monday", "time_of_day": "morning"}),
            json!({"doctor": "patel", "date": "2026-03-09", "time_of_day": "Morning"}),
        ] {
            let out = Outcome {
                calls: vec![call("check_availability", args.clone())],
                reply: String::new(),
            };
            assert_eq!(check(&c, &out, &w), None, "{args}");
        }
        // The wrong day, the wrong doctor, or a speciality when a doctor was named: missed.
        for args in [
            json!({"doctor": "patel", "date": "Tuesday", "time_of_day": "morning"}),
            json!({"doctor": "okafor", "date": "Monday", "time_of_day": "morning"}),
            json!({"doctor": "cardiology", "date": "Monday", "time_of_day": "morning"}),
        ] {
            let out = Outcome {
                calls: vec![call("check_availability", args.clone())],
                reply: String::new(),
            };
            assert!(check(&c, &out, &w).is_some(), "{args}");
        }
        let times = case(json!({"tool": "schedule_appointment",
            "args": {"time": "14:30", "date_of_birth": "1985-03-04", "patient_name": "John Smith"}}));
        let booked = Outcome {
            calls: vec![call(
                "schedule_appointment",
                json!({"time": "2:30 pm", "date_of_birth": "March 4, 1985", "patient_name": "john  smith"}),
            )],
            reply: String::new(),
        };
        assert_eq!(check(&times, &booked, &w), None);
    }

    #[test]
    fn a_booking_turn_may_end_in_the_confirmation_the_tools_ask_for() {
        let w = world();
        let c = case(json!({"tool": "schedule_appointment",
            "args": {"doctor": "chen", "date": "2026-03-06", "time": "10:00"}}));
        let confirm = Outcome {
            calls: vec![call(
                "check_availability",
                json!({"doctor": "chen", "date": "Friday", "time_of_day": "10:00"}),
            )],
            reply: "Dr. Chen is free at 10 AM. Shall I book it?".into(),
        };
        assert_eq!(check(&c, &confirm, &w), None);
        // A lookup of another day is no confirmation of this one; nor is a statement.
        let other_day = Outcome {
            calls: vec![call(
                "check_availability",
                json!({"doctor": "chen", "date": "Monday"}),
            )],
            reply: "Shall I book it?".into(),
        };
        assert!(check(&c, &other_day, &w).is_some());
        let no_question = Outcome {
            calls: Vec::new(),
            reply: "Okay.".into(),
        };
        assert!(check(&c, &no_question, &w).is_some());
    }

    #[test]
    fn a_search_for_a_second_request_is_not_a_lookup_of_the_cancellation() {
        let w = world();
        let c = case(json!([
            {"tool": "cancel_appointment", "args": {"doctor": "patel"}},
            {"tool": "check_availability", "args": {"doctor": "okafor", "date": "2026-03-06"}},
        ]));
        let search = call(
            "check_availability",
            json!({"doctor": "okafor", "date": "friday"}),
        );
        let both = Outcome {
            calls: vec![search.clone(), call("get_patient_info", json!({}))],
            reply: "I see your appointment with Doctor Patel. Shall I cancel it?".into(),
        };
        assert_eq!(check(&c, &both, &w), None);
        // A search that serves no request of the turn still has to agree.
        let alone = case(json!({"tool": "cancel_appointment", "args": {"doctor": "patel"}}));
        assert!(check(&alone, &both, &w).is_some());
    }

    #[test]
    fn a_patient_name_is_read_the_way_the_tools_read_it() {
        let w = world();
        let name = |want: &str, got: &str| {
            arg_matches("patient_name", &json!(want), Some(&json!(got)), &w)
        };
        assert!(name("John Smith", "john  smith"));
        assert!(!name("John Smith", "Joan Smithers"));
        if sounds::phonemes("maria").is_some() {
            assert!(name("Maria Gonzalez", "Marie Gonzalez"));
        }
    }

    #[test]
    fn reply_kinds_are_told_apart() {
        let w = world();
        let say = |t: &str| Outcome {
            calls: Vec::new(),
            reply: t.into(),
        };
        let confirm = case(json!({"reply": "confirm", "name": "patel"}));
        assert_eq!(
            check(&confirm, &say("Did you mean Doctor Patel?"), &w),
            None
        );
        assert!(check(&confirm, &say("Did you mean Doctor Chen?"), &w).is_some());
        let ask = case(json!({"reply": "ask"}));
        assert!(check(&ask, &say("Okay."), &w).is_some());
        let decline = case(json!({"reply": "decline"}));
        assert_eq!(
            check(
                &decline,
                &say("I can't give medical advice, but I can book you an appointment."),
                &w
            ),
            None
        );
        // A tool call where a reply was expected (a guessed name) is a miss.
        let guessed = Outcome {
            calls: vec![call(
                "check_availability",
                json!({"doctor": "patel", "date": "Monday"}),
            )],
            reply: String::new(),
        };
        assert!(check(&confirm, &guessed, &w).is_some());
        // Several expectations must all hold.
        let both = case(json!([{"reply": "chat"}, {"tool": "get_doctor_info", "args": {}}]));
        assert!(check(&both, &say("Hello!"), &w).is_some());
    }
}
