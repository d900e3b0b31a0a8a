//! What one caller utterance says, as speech-to-text writes it (lowercase, little
//! punctuation, numbers often as words): the task asked for, yes or no, and the details it
//! carries (doctor, day, time, name, date of birth, reason).

use super::names::Roster;
use super::words::*;
use crate::domain::calendar::{month_from_word, Date, Time, Weekday};
use crate::domain::dates::{self, DateExpr, PartOfDay};
use crate::domain::directory;
use crate::domain::numbers::{parse_ordinal, tokens};
use crate::domain::sounds::SoundRoster;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    Availability,
    Book,
    Cancel,
    PatientInfo,
    DoctorInfo,
}

/// Everything found in one utterance.
#[derive(Clone, Debug, Default)]
pub struct Heard {
    pub tokens: Vec<String>,
    pub intent: Option<Intent>,
    pub yes: bool,
    pub no: bool,
    pub greeting: bool,
    /// "reschedule", "move my appointment": cancel, then book anew.
    pub reschedule: bool,
    pub thanks: bool,
    pub bye: bool,
    pub repeat: bool,
    pub reset: bool,
    /// "as soon as possible", "earliest".
    pub asap: bool,
    /// A doctor query for the tools: a name ("patel"), a speciality, or "any".
    pub doctor: Option<String>,
    /// Days that can be appointment days (birth dates are left out).
    pub dates: Vec<DateExpr>,
    pub time: Option<Time>,
    /// The utterance read as nothing but a time ("make it 3 instead", "eleven fifteen").
    pub bare_time: Option<Time>,
    pub part: Option<PartOfDay>,
    /// A name given with a cue ("my name is ...").
    pub name: Option<String>,
    pub dob: Option<Date>,
    /// A month and day without a year (a birth date said in two parts).
    pub partial_dob: Option<(u32, u32)>,
    /// A four-digit year on its own ("nineteen eighty five").
    pub year: Option<i32>,
    pub reason: Option<String>,
    /// A language asked about ("which doctors speak spanish").
    pub language: Option<String>,
    /// "the first one" (0), "the second" (1), "the last one" (usize::MAX).
    pub ordinal: Option<usize>,
    /// About a doctor in general ("tell me about", "what does ... do"), not their hours.
    pub about: bool,
    /// About the caller's record (phone, insurance, notes), not their appointments.
    pub details: bool,
    /// When the clinic is open ("what are your hours"), no doctor named.
    pub clinic_hours: bool,
    /// A question about "him" or "her": the doctor just talked about.
    pub about_them: bool,
    /// Doctors' surnames that words of the utterance only sound like ("not to tell" for
    /// Doctor Patel), the likeliest first: to be confirmed, never acted on (see
    /// [`crate::domain::sounds`]).
    pub misheard_doctor: Vec<String>,
    /// Something a receptionist cannot do: medical advice, prescriptions, billing, errands.
    pub out_of_scope: bool,
}

impl Heard {
    pub fn has(&self, word: &str) -> bool {
        self.tokens.iter().any(|t| t == word)
    }

    /// A phrase of whole tokens.
    pub fn has_phrase(&self, phrase: &str) -> bool {
        let p: Vec<&str> = phrase.split(' ').collect();
        self.tokens
            .windows(p.len())
            .any(|w| w.iter().zip(&p).all(|(a, b)| a == b))
    }

    pub fn any(&self, words: &[&str]) -> bool {
        words.iter().any(|w| {
            if w.contains(' ') {
                self.has_phrase(w)
            } else {
                self.has(w)
            }
        })
    }

    /// True when the utterance carries a task or any detail.
    pub fn has_details(&self) -> bool {
        !self.only_courtesy() || self.bare_time.is_some() || self.part.is_some() || self.asap
    }

    /// True when the utterance carries nothing but courtesy (hello, thanks, bye).
    pub fn only_courtesy(&self) -> bool {
        self.intent.is_none()
            && self.doctor.is_none()
            && self.dates.is_empty()
            && self.time.is_none()
            && self.name.is_none()
            && self.dob.is_none()
    }
}

/// Understand one utterance. `doctor_names` are full names ("Priya Patel") to recognise
/// bare surnames; `today` separates birth dates from appointment days.
pub fn understand(text: &str, doctor_names: &[String], today: Date) -> Heard {
    // Hesitations carry nothing, and a word said twice ("the the") once.
    let mut toks: Vec<String> = tokens(&holidays_as_dates(text))
        .into_iter()
        .filter(|t| !HESITATIONS.contains(&t.as_str()))
        .map(|t| match DOCTOR_AS_HEARD.contains(&t.as_str()) {
            true => "doctor".to_string(),
            false => t,
        })
        .collect();
    toks.dedup();
    correction(&toks, doctor_names, today)
        .unwrap_or_else(|| understand_words(&toks, doctor_names, today))
}

/// Days callers name by their holiday ("born on christmas eve ninety two").
const HOLIDAYS: &[(&str, &str)] = &[
    ("christmas eve", "december twenty fourth"),
    ("christmas day", "december twenty fifth"),
    ("christmas", "december twenty fifth"),
    ("boxing day", "december twenty sixth"),
    ("new year's eve", "december thirty first"),
    ("new years eve", "december thirty first"),
    ("new year's day", "january first"),
    ("new years day", "january first"),
    ("valentine's day", "february fourteenth"),
    ("halloween", "october thirty first"),
];

fn holidays_as_dates(text: &str) -> String {
    let mut text = text.to_lowercase();
    for (holiday, date) in HOLIDAYS {
        if text.contains(holiday) {
            text = text.replace(holiday, date);
        }
    }
    text
}

/// Two requests in one breath ("what are doctor rossi's hours and is she free thursday"):
/// the first, and the rest to answer after it. `None` for one request with several parts
/// ("book with doctor patel, and my name is john smith").
pub fn split_requests(
    text: &str,
    doctor_names: &[String],
    today: Date,
) -> Option<(String, String)> {
    let toks = tokens(text);
    for i in 1..toks.len().saturating_sub(2) {
        if toks[i] != "and" {
            continue;
        }
        let also = matches!(toks[i + 1].as_str(), "also" | "then");
        let (before, after) = (&toks[..i], &toks[i + 1 + usize::from(also)..]);
        if before.len() < 2 || after.len() < 2 {
            continue;
        }
        let hb = understand_words(before, doctor_names, today);
        let ha = understand_words(after, doctor_names, today);
        let before_asks = hb.intent.is_some() || (hb.doctor.is_some() && !hb.dates.is_empty());
        // A name, a birth date or a reason after "and" belongs to the same request.
        let after_asks = ha.intent.is_some()
            || !ha.dates.is_empty()
            || ha.any(&["doctor", "dr", "doctors", "what about", "how about"])
            || (also && ha.doctor.is_some());
        if before_asks && after_asks && ha.name.is_none() && ha.dob.is_none() {
            return Some((before.join(" "), after.join(" ")));
        }
    }
    None
}

/// A request to move an appointment, split where the new day begins: ("move my appointment
/// with doctor wilson", "to thursday"). The days before the split find the old appointment.
pub fn split_move(text: &str, doctor_names: &[String], today: Date) -> Option<(String, String)> {
    let toks = tokens(text);
    let at = |markers: &[&str]| {
        (1..toks.len().saturating_sub(1)).rev().find(|&i| {
            markers.contains(&toks[i].as_str())
                && !understand_words(&toks[i..], doctor_names, today)
                    .dates
                    .is_empty()
        })
    };
    let i = at(&["to", "till", "until", "into"]).or_else(|| at(&["for"]))?;
    let before = understand_words(&toks[..i], doctor_names, today);
    before
        .reschedule
        .then(|| (toks[..i].join(" "), toks[i..].join(" ")))
}

/// What corrects what was just said: "tuesday, no, monday", "doctor chen, i mean doctor
/// tanaka", "at ten, or actually half past ten".
#[rustfmt::skip]
const CORRECTIONS: &[&[&str]] = &[
    &["actually", "no", "make", "that"], &["no", "make", "that"], &["make", "that"],
    &["sorry", "i", "meant"], &["sorry", "i", "mean"], &["wait", "i", "mean"], &["er", "i", "mean"],
    &["no", "hang", "on"], &["hang", "on"], &["or", "actually"], &["no", "actually"],
    &["no", "wait"], &["hmm", "no"], &["i", "meant"], &["i", "mean"], &["sorry", "no"],
    &["actually"], &["sorry"], &["rather"], &["wait"], &["no"],
];

/// An utterance that corrects itself, read with the correction standing: the details after
/// the last marker replace those of the same kind before it. `None` when nothing is corrected
/// (a "no" that answers a question, "sorry" that apologises).
fn correction(toks: &[String], doctor_names: &[String], today: Date) -> Option<Heard> {
    for at in (1..toks.len()).rev() {
        let Some(marker) = CORRECTIONS.iter().find(|m| {
            toks.len() > at + m.len() && m.iter().enumerate().all(|(k, w)| toks[at + k] == *w)
        }) else {
            continue;
        };
        let before = &toks[..at];
        let after = &toks[at + marker.len()..];
        let hb = understand_words(before, doctor_names, today);
        let ha = understand_words(after, doctor_names, today);
        let time_b = hb.time.or(hb.bare_time);
        let time_a = ha.time.or(ha.bare_time);
        let doctor = ha.doctor.is_some() && hb.doctor.is_some();
        let day = !ha.dates.is_empty() && !hb.dates.is_empty();
        let time = time_a.is_some() && time_b.is_some();
        let part = ha.part.is_some() && (hb.part.is_some() || time_b.is_some());
        // "june 25th 1991, no, 1990": the birth year said again.
        if let (Some(dob), Some((year, len))) = (hb.dob, year_at_start(after, today)) {
            let words: Vec<String> = before.iter().chain(&after[len..]).cloned().collect();
            let mut h = understand_words(&words, doctor_names, today);
            h.dob = Date::from_ymd(year, dob.month(), dob.day()).or(h.dob);
            return Some(h);
        }
        if !(doctor || day || time || part) {
            continue;
        }
        let words: Vec<String> = before.iter().chain(after).cloned().collect();
        let mut h = understand_words(&words, doctor_names, today);
        if ha.doctor.is_some() {
            h.doctor = ha.doctor;
            h.misheard_doctor = ha.misheard_doctor;
        }
        if !ha.dates.is_empty() {
            h.dates = ha.dates;
        }
        if time || ha.time.is_some() {
            h.time = time_a;
            h.bare_time = time_a;
        }
        if ha.part.is_some() {
            h.part = ha.part;
            if time_a.is_none() {
                h.time = None;
            }
        }
        return Some(h);
    }
    None
}

fn understand_words(toks: &[String], doctor_names: &[String], today: Date) -> Heard {
    let toks = toks.to_vec();
    let mut h = Heard {
        tokens: toks.clone(),
        ..Heard::default()
    };
    h.no = h.any(NO);
    h.yes = !h.no && h.any(YES);
    h.greeting = h.any(&[
        "hello",
        "hi",
        "hey",
        "good morning",
        "good afternoon",
        "good evening",
    ]);
    h.thanks = h.any(&["thanks", "thank", "cheers", "appreciate"]);
    h.bye = h.any(&[
        "bye",
        "goodbye",
        "that's all",
        "that's it",
        "nothing else",
        "have a good day",
    ]);
    h.reschedule = h.any(RESCHEDULE);
    let alone = |w: &[&str]| toks.len() == 1 && w.contains(&toks[0].as_str());
    h.repeat = alone(&["what", "huh", "sorry", "pardon", "eh"])
        || h.any(&[
            "repeat",
            "say that again",
            "come again",
            "pardon",
            "what did you say",
            "didn't catch",
            "one more time",
            "say again",
        ]);
    h.reset = h.any(&[
        "never mind",
        "nevermind",
        "forget it",
        "start over",
        "start again",
        "scratch that",
    ]);
    // Number words are digits by now: "first available" reads "1st available".
    h.asap = h.any(&[
        "as soon as possible",
        "asap",
        "earliest",
        "soonest",
        "1st available",
        "next available",
    ]);

    let (name, name_span) = find_name(&toks);
    h.name = name;
    let outside_name: Vec<String> = toks
        .iter()
        .enumerate()
        .filter(|(i, _)| !name_span.contains(i))
        .map(|(_, t)| t.clone())
        .collect();
    let rest = outside_name.join(" ");

    let when = dates::extract(&rest);
    for expr in &when.dates {
        match (expr.exact(), expr) {
            (Some(d), _) if d < today => h.dob = h.dob.or(Some(d)),
            (
                None,
                DateExpr::MonthDay {
                    month,
                    day,
                    year: None,
                },
            ) if h.any(&["born", "birth", "birthday", "dob"]) => {
                h.partial_dob = Some((*month, *day));
            }
            _ => h.dates.push(*expr),
        }
    }
    h.time = when.time;
    h.bare_time = dates::parse_time(&toks.join(" ")).ok();
    h.part = when.part;
    h.year = find_year(&toks, today);
    h.doctor = find_doctor(&outside_name, &Roster::new(doctor_names));
    // No doctor, or a name that is none of ours: the words may only sound like one.
    let unknown = h.doctor.as_deref().is_some_and(|d| {
        let on_roster = doctor_names.iter().any(|n| {
            let words = tokens(n);
            d.split(' ').all(|w| words.iter().any(|nw| nw == w))
        });
        d != "any" && directory::speciality_in(d).is_none() && !on_roster
    });
    if h.doctor.is_none() || unknown {
        h.misheard_doctor = misheard_doctor(&outside_name, doctor_names);
        if !h.misheard_doctor.is_empty() {
            h.doctor = None;
        }
    }
    h.reason = find_reason(&toks);
    h.language = LANGUAGES
        .iter()
        .find(|l| toks.iter().any(|t| t == *l))
        .map(|l| capitalise(l));
    h.ordinal = find_ordinal(&h);
    h.about = h.any(ABOUT_DOCTOR);
    h.details = h.any(RECORD_DETAILS);
    h.clinic_hours = h.doctor.is_none() && h.dates.is_empty() && h.any(CLINIC_HOURS);
    // Advice, prescriptions, billing, errands: no request of ours unless one is said too.
    h.out_of_scope = h.any(OUT_OF_SCOPE)
        && !h.any(BOOK)
        && !h.any(CANCEL)
        && !h.any(AVAILABILITY)
        && h.doctor
            .as_deref()
            .is_none_or(|d| directory::speciality_in(d).is_some());
    h.intent = find_intent(&h);
    h.about_them = h.doctor.is_none()
        && !h.clinic_hours
        && matches!(h.intent, None | Some(Intent::DoctorInfo))
        && starts_with_question(&h)
        && h.any(&["he", "she", "him", "her", "his", "they", "their"])
        && (h.about || h.language.is_some() || h.any(DOCTOR_INFO));
    h
}

fn find_intent(h: &Heard) -> Option<Intent> {
    if h.any(CANCEL) || h.reschedule {
        return Some(Intent::Cancel);
    }
    if h.any(PATIENT_INFO) {
        return Some(Intent::PatientInfo);
    }
    if asks_about_a_doctor(h) || h.clinic_hours {
        return Some(Intent::DoctorInfo);
    }
    if h.any(AVAILABILITY) || h.asap {
        return Some(Intent::Availability);
    }
    if h.any(BOOK) || h.has_phrase("like to see") || h.has_phrase("want to see") {
        return Some(Intent::Book);
    }
    let asks_about_doctors = h.any(DOCTOR_INFO)
        && (h.doctor.is_some()
            || h.language.is_some()
            || h.any(&[
                "doctors",
                "specialities",
                "specialties",
                "hours",
                "who works",
                "who's working",
                "who is working",
            ]));
    if asks_about_doctors {
        return Some(Intent::DoctorInfo);
    }
    None
}

/// The first word after any lead-in ("and", "sorry") asks a question.
fn starts_with_question(h: &Heard) -> bool {
    let first = h
        .tokens
        .iter()
        .map(String::as_str)
        .find(|t| !QUESTION_LEAD_IN.contains(t))
        .unwrap_or("");
    QUESTION_WORDS.contains(&first)
}

/// A question naming a doctor, with no day, time or booking words: "what are doctor chen's
/// hours", "what does doctor chen do", and misheard ones like "what are doctor chen zowers".
fn asks_about_a_doctor(h: &Heard) -> bool {
    let named = h.doctor.as_deref().is_some_and(|d| d != "any");
    // "what time does doctor chen start", "doctor tanaka's schedule": the working hours,
    // even with a day ("on fridays"), not a free slot.
    let books = h.any(&[
        "book",
        "booking",
        "appointment",
        "reserve",
        "come in",
        "get in",
    ]);
    if named && h.any(WORKING_HOURS) && !books {
        return true;
    }
    // "what about doctor chen" / "how about" offers another doctor for the same booking.
    let switching = h.has_phrase("what about") || h.has_phrase("how about");
    named
        && starts_with_question(h)
        && !switching
        && h.dates.is_empty()
        && h.time.is_none()
        && h.part.is_none()
        && !h.asap
        && !h.any(AVAILABILITY)
        && !h.any(BOOK)
}

fn is_wordlike(t: &str) -> bool {
    !t.is_empty()
        && t.chars()
            .all(|c| c.is_alphabetic() || c == '\'' || c == '-')
}

/// A name after "my name is", "name's", "this is", "i'm"/"i am", "it's": the name and the
/// token positions it took.
fn find_name(toks: &[String]) -> (Option<String>, Vec<usize>) {
    let w = |k: usize| toks.get(k).map(String::as_str).unwrap_or("");
    for i in 0..toks.len() {
        let start = match (w(i), w(i + 1), w(i + 2)) {
            ("name", "is", _) | ("name's", _, _) | ("names", _, _) => {
                if w(i) == "name" {
                    i + 2
                } else {
                    i + 1
                }
            }
            ("this", "is", _) => i + 2,
            ("it's" | "its" | "he's" | "she's", _, _) => i + 1,
            ("i", "am", _) => i + 2,
            ("i'm", _, _) | ("im", _, _) => i + 1,
            _ => continue,
        };
        if NOT_NAMES.contains(&w(start)) || w(start) == "doctor" || w(start) == "dr" {
            continue;
        }
        let (name, span) = name_at(toks, start);
        // "i'm worried", "this is urgent": only "my name is" may give a single word.
        let strong = matches!(w(i), "name" | "name's" | "names");
        if name.is_some() && (strong || span.len() >= 2) {
            return (name, span);
        }
    }
    // "sarah johnson, january twelfth eighty eight", "yuki sato here": a name said as the
    // answer to who is calling, before a birth date or "here"; or the whole line is a name.
    for start in 0..toks.len() {
        if start > 0 && !COMMON.contains(&w(start - 1)) && !STOP.contains(&w(start - 1)) {
            continue;
        }
        let (name, span) = name_at(toks, start);
        let after = span.last().map_or(start, |&k| k + 1);
        let then = w(after);
        let birth_follows = then == "here"
            || then == "born"
            || (then == "date" && w(after + 1) == "of")
            || month_from_word(then).is_some()
            || (then == "the" && parse_ordinal(w(after + 1)).is_some());
        let whole = start == 0 && span.len() == toks.len();
        if (2..=3).contains(&span.len()) && (birth_follows || whole) {
            return (name, span);
        }
    }
    (None, Vec::new())
}

/// Up to four name-like tokens from `start`.
pub fn name_at(toks: &[String], start: usize) -> (Option<String>, Vec<usize>) {
    let mut span = Vec::new();
    for (k, t) in toks.iter().enumerate().skip(start) {
        let next = toks.get(k + 1).map(String::as_str).unwrap_or("");
        let starts_date = Weekday::from_word(t).is_some()
            || (month_from_word(t).is_some() && next.starts_with(|c: char| c.is_ascii_digit()));
        if COMMON.contains(&t.as_str()) && span.is_empty() {
            return (None, span);
        }
        if span.len() == 4
            || STOP.contains(&t.as_str())
            || COMMON.contains(&t.as_str())
            || !is_wordlike(t)
            || starts_date
        {
            break;
        }
        span.push(k);
        // "emma wilson's mum": the name is Emma Wilson's.
        if t.ends_with("'s") && span.len() >= 2 {
            break;
        }
    }
    if span.is_empty() {
        return (None, span);
    }
    let name = span
        .iter()
        .map(|&k| capitalise(toks[k].trim_end_matches("'s")))
        .collect::<Vec<_>>()
        .join(" ");
    (Some(name), span)
}

pub fn capitalise(word: &str) -> String {
    let mut c = word.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// A birth year opening `toks` ("1990", "19 90", a spoken two-digit "65"), with the number
/// of tokens it takes.
fn year_at_start(toks: &[String], today: Date) -> Option<(i32, usize)> {
    let num = |i: usize| -> Option<i32> {
        let t = toks.get(i)?;
        (t.len() == 2 || t.len() == 4)
            .then(|| t.parse().ok())
            .flatten()
    };
    let first = num(0)?;
    let (year, len) = match (toks[0].len(), num(1)) {
        (4, _) => (first, 1),
        (2, Some(low)) if (19..=20).contains(&first) && toks[1].len() == 2 => {
            (first * 100 + low, 2)
        }
        (2, _) if (30..=99).contains(&first) => (1900 + first, 1),
        _ => return None,
    };
    (1900..=today.year()).contains(&year).then_some((year, len))
}

/// A year said alone: "1985", "19 85", "two thousand and five".
fn find_year(toks: &[String], today: Date) -> Option<i32> {
    let num = |t: &str| -> Option<i32> {
        (t.chars().all(|c| c.is_ascii_digit()) && !t.is_empty()).then(|| t.parse().ok())?
    };
    for (i, t) in toks.iter().enumerate() {
        let Some(n) = num(t) else { continue };
        let year = if t.len() == 4 {
            Some(n)
        } else if t.len() == 2 && (19..=20).contains(&n) {
            toks.get(i + 1)
                .and_then(|x| if x.len() == 2 { num(x) } else { None })
                .map(|low| n * 100 + low)
        } else {
            None
        };
        if let Some(y) = year.filter(|y| (1900..=today.year()).contains(y)) {
            return Some(y);
        }
    }
    None
}

/// A doctor named after "doctor"/"dr", a known surname, a speciality, or "any".
fn find_doctor(toks: &[String], roster: &Roster) -> Option<String> {
    for (i, t) in toks.iter().enumerate() {
        if t != "doctor" && t != "dr" {
            continue;
        }
        let mut words = Vec::new();
        for w in toks.iter().skip(i + 1).take(2) {
            let w = w.trim_end_matches("'s");
            if NOT_DOCTOR_WORDS.contains(&w)
                || !is_wordlike(w)
                || dates::extract(w).dates.len() == 1
            {
                break;
            }
            words.push(w.to_string());
        }
        // Keep the words that name a doctor on the roster (as the roster spells them, so
        // a trailing misheard word or a near miss still finds them); an unknown name goes
        // to the tools as said, which answer with who we have.
        let known: Vec<String> = words.iter().filter_map(|w| roster.word(w)).collect();
        if !known.is_empty() {
            return Some(known.join(" "));
        }
        if !words.is_empty() {
            return Some(words.join(" "));
        }
    }
    // A bare surname from the roster ("i'd like to see patel").
    if let Some(s) = toks.iter().find_map(|t| roster.surname(t)) {
        return Some(s);
    }
    if let Some(s) = directory::speciality_in(&toks.join(" ")) {
        return Some(s.to_string());
    }
    let joined = toks.join(" ");
    let any = [
        "any doctor",
        "anyone",
        "anybody",
        "doesn't matter",
        "does not matter",
        "no preference",
        "whoever",
    ];
    any.iter()
        .any(|a| joined.contains(a))
        .then(|| "any".to_string())
}

/// Words after "doctor" (standing for a surname) or after "with" / "see" (standing for
/// "doctor <surname>" as a whole) that sound like one doctor's name.
fn misheard_doctor(toks: &[String], doctor_names: &[String]) -> Vec<String> {
    const STOP: &[&str] = &[
        "on", "at", "and", "please", "today", "tomorrow", "next", "this", "about", "in", "or",
        "because", "instead", "doctor", "dr",
    ];
    // After "with" or "see", these start something else than a misheard name.
    const NOT_A_NAME: &[&str] = &[
        "a", "an", "the", "my", "your", "his", "her", "our", "their", "someone", "somebody",
        "anyone", "anybody", "you", "us", "them", "him", "me", "it", "that", "what", "if",
    ];
    let cues: Vec<(usize, bool)> = toks
        .iter()
        .enumerate()
        .filter_map(|(i, t)| match t.as_str() {
            "doctor" | "dr" => Some((i, true)),
            "with" | "see" => Some((i, false)),
            _ => None,
        })
        .filter(|&(i, titled)| {
            titled
                || toks
                    .get(i + 1)
                    .is_some_and(|w| !NOT_A_NAME.contains(&w.as_str()))
        })
        .collect();
    if cues.is_empty() || doctor_names.is_empty() {
        return Vec::new();
    }
    let sounds = SoundRoster::new(doctor_names);
    let mut best: Option<(Vec<String>, f32)> = None;
    for (cue, titled) in cues {
        let mut span: Vec<&str> = Vec::new();
        for w in toks.iter().skip(cue + 1).take(3) {
            let is_day_or_time = !dates::extract(w).dates.is_empty() || w.parse::<u32>().is_ok();
            // "for" ends a span after "with" ("with my son for..."), not after "doctor"
            // ("doctor a cough for").
            let stop = STOP.contains(&w.as_str()) || (!titled && w == "for");
            if stop || is_day_or_time || !is_wordlike(w) {
                break;
            }
            span.push(w);
            if let Some((names, d)) = sounds.sounds_like(&span.join(" "), titled) {
                if best.as_ref().is_none_or(|b| d < b.1) {
                    best = Some((names, d));
                }
            }
        }
    }
    best.map(|(names, _)| names).unwrap_or_default()
}

/// Why the caller wants to come in, when they say it with a cue.
fn find_reason(toks: &[String]) -> Option<String> {
    let joined = toks.join(" ");
    if joined.contains("check up") || joined.contains("checkup") || joined.contains("check-up") {
        return Some("check-up".into());
    }
    let w = |k: usize| toks.get(k).map(String::as_str).unwrap_or("");
    for i in 0..toks.len() {
        let start = match (w(i), w(i + 1)) {
            ("reason", "is") => i + 2,
            ("because", "of") => i + 2,
            ("because", _) | ("about", _) | ("regarding", _) => i + 1,
            ("for", "a" | "an" | "my" | "some") => i + 1,
            ("i", "have") | ("i've", "got") | ("i've", "been") => i + 2,
            _ => continue,
        };
        if let Some(r) = reason_from(toks, start) {
            return Some(r);
        }
    }
    None
}

/// The words of a reason starting at `start`, cut where a date, time or doctor begins.
pub fn reason_from(toks: &[String], start: usize) -> Option<String> {
    // Always the end of a reason; "on"/"at"/"in"/"for" only when a day or time follows.
    let hard = [
        "with", "doctor", "dr", "please", "name", "born", "tomorrow", "today", "next",
    ];
    let soft = ["on", "at", "in", "for", "this"];
    let dateish = |t: &str| {
        Weekday::from_word(t).is_some()
            || month_from_word(t).is_some()
            || t.starts_with(|c: char| c.is_ascii_digit())
            || [
                "today",
                "tomorrow",
                "next",
                "this",
                "the",
                "noon",
                "morning",
                "afternoon",
                "evening",
            ]
            .contains(&t)
    };
    let mut words: Vec<&str> = Vec::new();
    for (k, t) in toks.iter().enumerate().skip(start) {
        let next = toks.get(k + 1).map(String::as_str).unwrap_or("");
        let ends = !words.is_empty()
            && (hard.contains(&t.as_str())
                || (soft.contains(&t.as_str()) && dateish(next))
                || (t == "and" && ["my", "i", "i'm", "it's"].contains(&next)));
        let digits = !words.is_empty() && t.chars().any(|c| c.is_ascii_digit());
        if ends || Weekday::from_word(t).is_some() || digits {
            break;
        }
        words.push(t);
    }
    while let Some(first) = words.first() {
        if [
            "a", "an", "my", "some", "the", "just", "it's", "its", "for", "um", "uh", "well",
            "been", "having", "got",
        ]
        .contains(first)
        {
            words.remove(0);
        } else {
            break;
        }
    }
    if words.is_empty() || words.iter().all(|w| FAMILY.contains(w)) || !plausible_reason(&words) {
        return None;
    }
    Some(words.join(" "))
}

fn find_ordinal(h: &Heard) -> Option<usize> {
    if h.any(&[
        "earliest",
        "any time",
        "anytime",
        "whatever",
        "doesn't matter",
        "any of them",
        "either",
    ]) {
        return Some(0);
    }
    if h.any(&["last", "last one", "latest", "later one"]) {
        return Some(usize::MAX);
    }
    h.tokens.iter().enumerate().find_map(|(i, t)| {
        let n = parse_ordinal(t)?;
        // "the 2nd one" / "the second" but not "the 2nd of may".
        let next = h.tokens.get(i + 1).map(String::as_str).unwrap_or("");
        (n <= 5 && !matches!(next, "of")).then(|| n as usize - 1)
    })
}

/// False for answers that carry no reason at all ("yes please book it", "no", "just book
/// it"): a yes or a filler must never be stored as why the caller is coming in.
pub fn plausible_reason(words: &[&str]) -> bool {
    words.iter().any(|w| !NOT_REASON.contains(w))
}

#[cfg(test)]
mod tests;
