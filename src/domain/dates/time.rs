//! Spoken times of day: "3", "at 3", "3:30 PM", "15:00", "noon", "half past two",
//! "9 in the morning", read in clinic hours when no AM/PM is said.

use crate::domain::calendar::Time;
use crate::domain::numbers::tokens;

/// Morning (before noon), afternoon (noon to 5 PM), evening (from 5 PM).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartOfDay {
    Morning,
    Afternoon,
    Evening,
}

impl PartOfDay {
    pub fn contains(self, t: Time) -> bool {
        match self {
            PartOfDay::Morning => t.hour() < 12,
            PartOfDay::Afternoon => (12..17).contains(&t.hour()),
            PartOfDay::Evening => t.hour() >= 17,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PartOfDay::Morning => "morning",
            PartOfDay::Afternoon => "afternoon",
            PartOfDay::Evening => "evening",
        }
    }

    pub(super) fn from_word(w: &str) -> Option<PartOfDay> {
        match w {
            "morning" | "mornings" => Some(PartOfDay::Morning),
            "afternoon" | "afternoons" | "lunchtime" => Some(PartOfDay::Afternoon),
            "evening" | "evenings" | "tonight" | "night" => Some(PartOfDay::Evening),
            _ => None,
        }
    }

    /// "morning", "in the afternoon", "evening"; `None` for anything else ("any", "").
    pub fn parse(text: &str) -> Option<PartOfDay> {
        tokens(text).iter().find_map(|w| PartOfDay::from_word(w))
    }
}

/// A token of digits only (at most four), as a number.
pub(super) fn number(tok: &str) -> Option<u32> {
    if tok.is_empty() || !tok.bytes().all(|b| b.is_ascii_digit()) || tok.len() > 4 {
        return None;
    }
    tok.parse().ok()
}

/// How the hour of a time was qualified.
#[derive(Clone, Copy, PartialEq)]
enum Meridiem {
    Am,
    Pm,
    /// Nothing said: clinic hours decide (or the part of day).
    Clinic,
}

/// Words after an hour that qualify it, and how many tokens they take.
fn meridiem_at(toks: &[String], j: usize) -> Option<(Meridiem, usize)> {
    let w = |k: usize| toks.get(j + k).map(String::as_str).unwrap_or("");
    match w(0) {
        "am" => Some((Meridiem::Am, 1)),
        "pm" => Some((Meridiem::Pm, 1)),
        "oclock" => {
            let (m, n) = meridiem_at(toks, j + 1).unwrap_or((Meridiem::Clinic, 0));
            Some((m, n + 1))
        }
        "in" if w(1) == "the" && w(2) == "morning" => Some((Meridiem::Am, 3)),
        "in" if w(1) == "the" && matches!(w(2), "afternoon" | "evening") => Some((Meridiem::Pm, 3)),
        "at" if w(1) == "night" => Some((Meridiem::Pm, 2)),
        "tonight" => Some((Meridiem::Pm, 0)),
        _ => None,
    }
}

fn make_time(
    hour: u32,
    minute: u32,
    meridiem: Meridiem,
    padded: bool,
    part: Option<PartOfDay>,
) -> Option<Time> {
    let h = match meridiem {
        Meridiem::Am if hour == 12 => 0,
        Meridiem::Am if hour <= 12 => hour,
        Meridiem::Pm if hour < 12 => hour + 12,
        Meridiem::Pm if hour <= 23 => hour,
        Meridiem::Am | Meridiem::Pm => return None,
        Meridiem::Clinic if padded || hour == 0 || hour >= 12 => hour,
        Meridiem::Clinic => match part {
            Some(PartOfDay::Morning) => hour,
            Some(PartOfDay::Afternoon | PartOfDay::Evening) => hour + 12,
            None if hour <= 6 => hour + 12,
            None => hour,
        },
    };
    Time::from_hm(h, minute)
}

const TIME_CUES: [&str; 8] = [
    "at", "around", "about", "by", "after", "before", "until", "till",
];
/// Words around a time said on its own ("let's make it 3", "actually 11 15 instead").
#[rustfmt::skip]
const TIME_FILLERS: &[&str] = &[
    "at", "around", "about", "how", "maybe", "say", "let's", "lets", "um", "uh", "okay", "ok",
    "yes", "yeah", "sure", "please", "then", "make", "it", "the", "for", "is", "fine", "works",
    "do", "one", "actually", "instead", "have", "go", "with", "can", "i", "we", "would", "like",
    "i'd", "prefer", "rather", "that", "that's", "good", "great", "perfect", "oh", "well", "so",
    "book", "me", "in", "take", "i'll", "a", "an", "slot", "time", "appointment", "no", "wait",
];

/// Minutes after an hour token: "30", or "oh 5". Returns (minutes, tokens used).
fn minutes_at(toks: &[String], j: usize) -> Option<(u32, usize)> {
    let t = toks.get(j)?;
    if t == "oh" {
        let m = number(toks.get(j + 1)?)?;
        return (m < 10).then_some((m, 2));
    }
    let m = number(t)?;
    (t.len() == 2 && m < 60).then_some((m, 1))
}

pub(super) fn find_time(
    toks: &[String],
    used: &mut [bool],
    part: Option<PartOfDay>,
    time_only: bool,
) -> Option<Time> {
    let mark = |used: &mut [bool], from: usize, to: usize| {
        for u in used.iter_mut().take(to).skip(from) {
            *u = true;
        }
    };
    for i in 0..toks.len() {
        let t = toks[i].as_str();
        if matches!(t, "noon" | "midday") {
            mark(used, i, i + 1);
            return Time::from_hm(12, 0);
        }
        // "half past two", "quarter to three", "ten past nine".
        let rel_minutes = match t {
            "half" => Some(30),
            "quarter" => Some(15),
            _ => number(t).filter(|m| (1..=30).contains(m)),
        };
        if let Some(m) = rel_minutes {
            let mut j = i + 1;
            if toks.get(j).is_some_and(|w| w == "minutes") {
                j += 1;
            }
            let dir = toks.get(j).map(String::as_str);
            if let (Some(d @ ("past" | "after" | "to")), Some(h)) =
                (dir, toks.get(j + 1).and_then(|h| number(h)))
            {
                if (1..=12).contains(&h) {
                    let (mer, n) = meridiem_at(toks, j + 2).unwrap_or((Meridiem::Clinic, 0));
                    let base = make_time(h, 0, mer, false, part)?.minutes();
                    let mins = if d == "to" {
                        base.checked_sub(m)?
                    } else {
                        base + m
                    };
                    mark(used, i, j + 2 + n);
                    return Time::from_minutes(mins);
                }
            }
        }
        // "3:30", "15:00", "09:00", "15:00:00".
        let hm = t
            .strip_suffix(":00")
            .filter(|x| x.matches(':').count() == 1)
            .unwrap_or(t);
        if let Some((h, m)) = hm.split_once(':') {
            if let (Some(hour), Some(minute)) = (number(h), number(m)) {
                let (mer, n) = meridiem_at(toks, i + 1).unwrap_or((Meridiem::Clinic, 0));
                if let Some(time) = make_time(hour, minute, mer, h.starts_with('0'), part) {
                    mark(used, i, i + 1 + n);
                    return Some(time);
                }
            }
        }
        // "at 1030", "930 am": a recogniser's clock time without its colon.
        if (3..=4).contains(&t.len()) && t.chars().all(|c| c.is_ascii_digit()) && !used[i] {
            let cued = i > 0 && TIME_CUES.contains(&toks[i - 1].as_str());
            let after = meridiem_at(toks, i + 1);
            let (h, m) = t.split_at(t.len() - 2);
            if let (true, Some(hour), Some(minute)) =
                (cued || after.is_some(), number(h), number(m))
            {
                let (mer, n) = after.unwrap_or((Meridiem::Clinic, 0));
                if let Some(time) = make_time(hour, minute, mer, h.starts_with('0'), part) {
                    mark(used, i, i + 1 + n);
                    return Some(time);
                }
            }
        }
        // "3 pm", "at 3", "at 2 30", "3 o'clock", "9 in the morning".
        if let Some(hour) = number(t).filter(|h| *h <= 24 && !used[i]) {
            let (minute, mlen) = minutes_at(toks, i + 1).unwrap_or((0, 0));
            let after = meridiem_at(toks, i + 1 + mlen);
            let cued = i > 0 && TIME_CUES.contains(&toks[i - 1].as_str());
            let alone = time_only
                && toks.iter().enumerate().all(|(k, w)| {
                    k == i || (k > i && k <= i + mlen) || TIME_FILLERS.contains(&w.as_str())
                });
            if after.is_some() || cued || alone {
                let (mer, n) = after.unwrap_or((Meridiem::Clinic, 0));
                let padded = t.len() == 2 && t.starts_with('0');
                if let Some(time) = make_time(hour, minute, mer, padded, part) {
                    mark(used, i, i + 1 + mlen + n);
                    return Some(time);
                }
            }
        }
    }
    None
}
