//! Argument parsing and result shaping for the hospital tools: every failure becomes a
//! `{"error", "code"}` value the model can act on.

use serde_json::{json, Map, Value};

use crate::domain::calendar::Time;
use crate::domain::dates::{self, PartOfDay};
use crate::domain::store::{Appointment, StoreError};

pub(super) type Outcome = Result<Value, Value>;

pub(super) fn err(code: &str, message: impl Into<String>) -> Value {
    json!({ "error": message.into(), "code": code })
}

pub(super) fn internal(e: StoreError) -> Value {
    log::error!("hospital store: {e}");
    err(
        "internal",
        "the appointment system had a problem; apologise and offer to take a message",
    )
}

/// The longest text any tool argument may be.
pub(super) const MAX_FIELD_CHARS: usize = 200;
/// The longest name, and the longest phone number, a record keeps.
const MAX_NAME_CHARS: usize = 80;
const MAX_PHONE_CHARS: usize = 32;

/// The JSON arguments of one call.
pub(super) struct Args(Map<String, Value>);

impl Args {
    pub(super) fn parse(text: &str) -> Result<Args, Value> {
        if text.trim().is_empty() {
            return Ok(Args(Map::new()));
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => {
                // No field of any tool is longer than a sentence: a longer one is a mistake or
                // an attempt to stuff the database.
                if let Some((k, _)) = m.iter().find(|(_, v)| {
                    v.as_str()
                        .is_some_and(|s| s.chars().count() > MAX_FIELD_CHARS)
                }) {
                    return Err(err(
                        "too_long",
                        format!("{k} is too long (at most {MAX_FIELD_CHARS} characters); ask the caller to say it more briefly"),
                    ));
                }
                Ok(Args(m))
            }
            Ok(_) => Err(err("bad_arguments", "arguments must be a JSON object")),
            Err(e) => Err(err(
                "bad_arguments",
                format!("arguments are not valid JSON: {e}"),
            )),
        }
    }

    /// A non-empty string (numbers are accepted and written out).
    pub(super) fn text(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// A yes/no flag: JSON `true`, or the words "true"/"yes".
    pub(super) fn flag(&self, key: &str) -> bool {
        match self.0.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => matches!(s.trim().to_lowercase().as_str(), "true" | "yes"),
            _ => false,
        }
    }

    pub(super) fn required(&self, key: &str, what: &str) -> Result<String, Value> {
        self.text(key).ok_or_else(|| {
            err(
                "missing_argument",
                format!("{key} is missing; ask the caller for {what}"),
            )
        })
    }
}

pub fn appointment_json(a: &Appointment) -> Value {
    json!({
        "id": a.id,
        "doctor": format!("Dr. {}", a.doctor_name),
        "speciality": a.speciality,
        "date": a.start.date.to_string(),
        "time": a.start.time.to_string(),
        "when": format!("{} at {}", a.start.date.spoken(), a.start.time.spoken()),
        "reason": a.reason,
        "status": a.status.as_str(),
    })
}

pub(super) fn times_json(times: &[Time]) -> Value {
    times.iter().map(|t| Value::String(t.to_string())).collect()
}

/// `time_of_day`: a part of the day, an exact time, or no preference.
pub(super) fn time_of_day(text: &str) -> Result<(Option<PartOfDay>, Option<Time>), Value> {
    let t = text.trim().to_lowercase();
    if matches!(
        t.as_str(),
        "" | "any" | "anytime" | "any time" | "whenever" | "all day"
    ) {
        return Ok((None, None));
    }
    if let Ok(time) = dates::parse_time(&t) {
        return Ok((None, Some(time)));
    }
    match PartOfDay::parse(&t) {
        Some(p) => Ok((Some(p), None)),
        None => Err(err(
            "bad_time",
            format!("time_of_day '{text}' not understood; use morning, afternoon, evening or a time like 3 pm"),
        )),
    }
}

pub(super) fn entries_any(entries: &Value) -> bool {
    entries.as_array().is_some_and(|es| {
        es.iter()
            .any(|e| e["slots"].as_array().is_some_and(|s| !s.is_empty()))
    })
}

pub(super) fn entries_have(entries: &Value, time: &Value) -> bool {
    entries.as_array().is_some_and(|es| {
        es.iter()
            .any(|e| e["slots"].as_array().is_some_and(|s| s.contains(time)))
    })
}

pub(super) fn check_name(name: &str) -> Result<(), Value> {
    let words = name
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphabetic))
        .count();
    if words < 2 || name.chars().count() > MAX_NAME_CHARS {
        return Err(err("bad_name", "ask for the patient's first and last name"));
    }
    Ok(())
}

/// A phone number as people say it: digits, spaces, and `+ - ( ) .`, at most 32 characters.
pub(super) fn check_phone(phone: &str) -> Result<(), Value> {
    let ok = phone.chars().count() <= MAX_PHONE_CHARS
        && phone.chars().any(|c| c.is_ascii_digit())
        && phone
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if ok {
        Ok(())
    } else {
        Err(err(
            "bad_phone",
            "that phone number does not look right; ask for it again, digits only",
        ))
    }
}

/// "john o'connor" -> "John O'connor": speech-to-text often gives names in lowercase.
pub(super) fn title_case(name: &str) -> String {
    name.split_whitespace()
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
