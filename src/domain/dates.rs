//! Spoken dates and times, resolved against a clock.
//!
//! Parsing happens in two steps. [`extract`] finds date and time expressions in free text
//! without knowing what day it is (the built-in brain uses it to fill its slots); then
//! [`DateExpr::resolve`] turns an expression into a calendar date relative to "today".
//!
//! Rules (documented because English is ambiguous):
//! - A bare weekday or "this Tuesday" is the soonest such day, today included.
//! - "next Tuesday" is the Tuesday of next calendar week (weeks start on Monday), so on a
//!   Wednesday "this Friday" is in two days and "next Friday" in nine.
//! - A date without a year ("December 3rd", "the 15th", "12/03") is its next occurrence,
//!   today included. "12/03" is US month/day, and so are eight digits keyed on a phone's
//!   keypad ("03041985" is March 4, 1985).
//! - A bare hour is read in clinic hours: 1 to 6 mean afternoon (3 -> 15:00), 7 to 11 mean
//!   morning, 12 is noon; "am"/"pm", "in the morning" or a spoken part of day override it.
//!   A zero-padded "03:00" or any hour from 13 is 24-hour time, as written.

use super::calendar::month_from_word;
pub use super::calendar::{Clock, Date, DateTime, FixedClock, SystemClock, Time, Weekday};
use super::numbers::{parse_ordinal, tokens};

#[cfg(test)]
mod tests;
mod time;

pub use self::time::PartOfDay;
use self::time::{find_time, number};

/// A date as spoken, before we know what day it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateExpr {
    Today,
    Tomorrow,
    InDays(u32),
    Weekday {
        day: Weekday,
        next_week: bool,
    },
    MonthDay {
        month: u32,
        day: u32,
        year: Option<i32>,
    },
    DayOfMonth(u32),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("date '{0}' not understood; say a weekday, 'tomorrow', or a date like 2026-12-03")]
    DateNotUnderstood(String),
    #[error("time '{0}' not understood; say a time like '3 pm', '15:00' or 'half past nine'")]
    TimeNotUnderstood(String),
    #[error("{0} is not a real date")]
    NoSuchDate(String),
}

impl DateExpr {
    /// The calendar date this expression means when today is `today`.
    pub fn resolve(self, today: Date) -> Result<Date, DateError> {
        match self {
            DateExpr::Today => Ok(today),
            DateExpr::Tomorrow => Ok(today.add_days(1)),
            DateExpr::InDays(n) => Ok(today.add_days(i64::from(n))),
            DateExpr::Weekday { day, next_week } => {
                let (want, now) = (i64::from(day.index()), i64::from(today.weekday().index()));
                Ok(if next_week {
                    today.add_days(7 - now + want)
                } else {
                    today.add_days((want - now).rem_euclid(7))
                })
            }
            DateExpr::MonthDay { month, day, year } => {
                let no_such = || DateError::NoSuchDate(self.phrase());
                if let Some(y) = year {
                    return Date::from_ymd(y, month, day).ok_or_else(no_such);
                }
                // The next occurrence; up to 8 years ahead so February 29 finds a leap year.
                (today.year()..today.year() + 8)
                    .filter_map(|y| Date::from_ymd(y, month, day))
                    .find(|d| *d >= today)
                    .ok_or_else(no_such)
            }
            DateExpr::DayOfMonth(day) => {
                let (mut y, mut m) = (today.year(), today.month());
                for _ in 0..13 {
                    if let Some(d) = Date::from_ymd(y, m, day).filter(|d| *d >= today) {
                        return Ok(d);
                    }
                    (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                }
                Err(DateError::NoSuchDate(self.phrase()))
            }
        }
    }

    /// A canonical phrase that [`extract`] reads back as the same expression (the built-in
    /// brain passes these to the tools).
    pub fn phrase(self) -> String {
        match self {
            DateExpr::Today => "today".into(),
            DateExpr::Tomorrow => "tomorrow".into(),
            DateExpr::InDays(n) => format!("in {n} days"),
            DateExpr::Weekday { day, next_week } => {
                let name = day.name().to_lowercase();
                if next_week {
                    format!("next {name}")
                } else {
                    name
                }
            }
            DateExpr::MonthDay { month, day, year } => {
                let name = Date::from_ymd(2000, month, 1).map_or("?", |d| d.month_name());
                match year {
                    Some(y) => format!("{} {day} {y}", name.to_lowercase()),
                    None => format!("{} {day}", name.to_lowercase()),
                }
            }
            DateExpr::DayOfMonth(d) => format!("the {}", super::numbers::ordinal(u64::from(d))),
        }
    }

    /// The date itself when the expression names a full date with its year.
    pub fn exact(self) -> Option<Date> {
        match self {
            DateExpr::MonthDay {
                month,
                day,
                year: Some(y),
            } => Date::from_ymd(y, month, day),
            _ => None,
        }
    }
}

/// What one utterance says about when: every date expression in order, the first time, and
/// a part of the day.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct When {
    pub dates: Vec<DateExpr>,
    pub time: Option<Time>,
    pub part: Option<PartOfDay>,
}

/// Find date and time expressions in free text ("i'd like to see doctor patel on tuesday at
/// three"). A bare number counts as a time only after "at"/"around" or with "pm", "o'clock"...
pub fn extract(text: &str) -> When {
    let toks = tokens(text);
    let mut used = vec![false; toks.len()];
    let part = toks.iter().find_map(|w| PartOfDay::from_word(w));
    let time = find_time(&toks, &mut used, part, false);
    let dates = find_dates(&toks, &mut used);
    When { dates, time, part }
}

/// The date in `text` (it may also hold a time: "next monday at 3").
pub fn resolve_date(text: &str, today: Date) -> Result<Date, DateError> {
    match extract(text).dates.first() {
        Some(expr) => expr.resolve(today),
        None => Err(DateError::DateNotUnderstood(text.trim().to_string())),
    }
}

/// A time on its own ("3", "at 3", "3:30 PM", "15:00", "noon", "half past two").
pub fn parse_time(text: &str) -> Result<Time, DateError> {
    let toks = tokens(text);
    let mut used = vec![false; toks.len()];
    let part = toks.iter().find_map(|w| PartOfDay::from_word(w));
    find_time(&toks, &mut used, part, true)
        .ok_or_else(|| DateError::TimeNotUnderstood(text.trim().to_string()))
}

/// A full date with its year in free text ("march fourth nineteen eighty five",
/// "04/03/1985" is April 3rd): the first such date found.
pub fn find_full_date(text: &str) -> Option<Date> {
    extract(text).dates.into_iter().find_map(DateExpr::exact)
}

/// A year at `toks[j]`: "1985", "19 85", "20 26", "19 oh 5". Returns (year, tokens used).
fn year_at(toks: &[String], j: usize) -> Option<(i32, usize)> {
    let t = toks.get(j)?;
    let n = number(t)?;
    if t.len() == 4 && (1900..=2100).contains(&n) {
        return Some((n as i32, 1));
    }
    // "january twelfth eighty eight": a birth year said in two digits (30-99 can be no
    // hour or day of an appointment; a time would come with "at", "am" or "pm").
    let next = toks.get(j + 1).map(String::as_str).unwrap_or("");
    if t.len() == 2 && (30..=99).contains(&n) && !matches!(next, "am" | "pm" | "a.m." | "p.m.") {
        return Some((1900 + n as i32, 1));
    }
    if t.len() != 2 || !(10..=20).contains(&n) {
        return None;
    }
    // "19 oh 5" or "19 85": the second half is two spoken digits.
    let rest = toks.get(j + 1)?;
    let (low, used) = if rest == "oh" {
        (number(toks.get(j + 2)?).filter(|d| *d < 10)?, 2)
    } else {
        (number(rest).filter(|_| rest.len() == 2)?, 1)
    };
    Some((n as i32 * 100 + low as i32, 1 + used))
}

/// A day of the month at `toks[j]`: "4th" or "4". Returns (day, was_ordinal).
fn day_at(toks: &[String], j: usize) -> Option<(u32, bool)> {
    let t = toks.get(j)?;
    if let Some(d) = parse_ordinal(t) {
        return (1..=31).contains(&d).then_some((d, true));
    }
    let d = number(t)?;
    (t.len() <= 2 && (1..=31).contains(&d)).then_some((d, false))
}

fn month_at(toks: &[String], j: usize) -> Option<u32> {
    toks.get(j).and_then(|t| month_from_word(t))
}

fn find_dates(toks: &[String], used: &mut [bool]) -> Vec<DateExpr> {
    let mut out = Vec::new();
    let mut i = 0;
    // Where the last expression ended (the next one may refine it).
    let mut last_end: Option<usize> = None;
    while i < toks.len() {
        if used[i] {
            i += 1;
            continue;
        }
        let (found, len) = date_at(toks, i);
        match found {
            Some(expr) => {
                for u in used.iter_mut().skip(i).take(len) {
                    *u = true;
                }
                // "wednesday the eleventh", "friday march 13th": the day of the month says
                // which Wednesday; the weekday only agrees with it.
                let names_the_day =
                    matches!(expr, DateExpr::DayOfMonth(_) | DateExpr::MonthDay { .. });
                if names_the_day
                    && matches!(out.last(), Some(DateExpr::Weekday { .. }))
                    && last_end == Some(i)
                {
                    out.pop();
                }
                out.push(expr);
                i += len.max(1);
                last_end = Some(i);
            }
            None => i += 1,
        }
    }
    out
}

/// One date expression starting at `toks[i]`, and how many tokens it takes.
fn date_at(toks: &[String], i: usize) -> (Option<DateExpr>, usize) {
    let w = |k: usize| toks.get(k).map(String::as_str).unwrap_or("");
    let t = w(i);
    let with_year = |month: u32, day: u32, j: usize| match year_at(toks, j) {
        Some((y, n)) => (
            Some(DateExpr::MonthDay {
                month,
                day,
                year: Some(y),
            }),
            j + n - i,
        ),
        None => (
            Some(DateExpr::MonthDay {
                month,
                day,
                year: None,
            }),
            j - i,
        ),
    };
    if t == "day" && w(i + 1) == "after" && w(i + 2) == "tomorrow" {
        return (Some(DateExpr::InDays(2)), 3);
    }
    match t {
        "today" | "tonight" => return (Some(DateExpr::Today), 1),
        "tomorrow" | "tomorrows" | "tmrw" => return (Some(DateExpr::Tomorrow), 1),
        "this" if PartOfDay::from_word(w(i + 1)).is_some() => return (Some(DateExpr::Today), 2),
        _ => {}
    }
    if let Some(d) = Date::parse_iso(t) {
        let expr = DateExpr::MonthDay {
            month: d.month(),
            day: d.day(),
            year: Some(d.year()),
        };
        return (Some(expr), 1);
    }
    if let Some(expr) = slash_date(t) {
        return (Some(expr), 1);
    }
    // "next tuesday", "this friday", "coming monday", "tuesday next week".
    let (qualifier, at) = match t {
        "next" | "this" | "coming" => (Some(t), i + 1),
        _ => (None, i),
    };
    let at = if w(at) == "coming" { at + 1 } else { at };
    if let Some(day) = Weekday::from_word(w(at)) {
        let trailing_next_week = w(at + 1) == "next" && w(at + 2) == "week";
        let next_week = qualifier == Some("next") || trailing_next_week;
        let len = at + 1 - i + if trailing_next_week { 2 } else { 0 };
        return (Some(DateExpr::Weekday { day, next_week }), len);
    }
    // "december 3rd", "december the 3rd", "march 4 1985".
    if let Some(month) = month_at(toks, i) {
        let j = if w(i + 1) == "the" { i + 2 } else { i + 1 };
        if let Some((day, _)) = day_at(toks, j) {
            return with_year(month, day, j + 1);
        }
    }
    // "the 4th of march 1985", "4 march", "the 15th", "on the 15th".
    let j = if t == "the" { i + 1 } else { i };
    if let Some((day, ordinal)) = day_at(toks, j) {
        let k = if w(j + 1) == "of" { j + 2 } else { j + 1 };
        if let Some(month) = month_at(toks, k) {
            return with_year(month, day, k + 1);
        }
        let cued = t == "the" || (i > 0 && w(i - 1) == "on");
        if ordinal && cued {
            return (Some(DateExpr::DayOfMonth(day)), j + 1 - i);
        }
    }
    // "in 3 days", "in a week", "in two weeks".
    if t == "in" {
        let n = if w(i + 1) == "a" {
            Some(1)
        } else {
            number(w(i + 1))
        };
        if let Some(n) = n {
            match w(i + 2) {
                "day" | "days" => return (Some(DateExpr::InDays(n)), 3),
                "week" | "weeks" => return (Some(DateExpr::InDays(7 * n)), 3),
                _ => {}
            }
        }
    }
    (None, 1)
}

/// "12/03" (December 3rd), "3/4/1985", "3/4/85".
fn slash_date(t: &str) -> Option<DateExpr> {
    // Eight digits keyed on a phone's keypad: MMDDYYYY, in the order of a US date.
    if t.len() == 8 && t.bytes().all(|b| b.is_ascii_digit()) {
        let month = number(&t[..2]).filter(|m| (1..=12).contains(m))?;
        let day = number(&t[2..4]).filter(|d| (1..=31).contains(d))?;
        let year = number(&t[4..]).filter(|y| (1900..=2100).contains(y))? as i32;
        return Some(DateExpr::MonthDay {
            month,
            day,
            year: Some(year),
        });
    }
    let parts: Vec<&str> = t.split('/').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let month = number(parts[0]).filter(|m| (1..=12).contains(m))?;
    let day = number(parts[1]).filter(|d| (1..=31).contains(d))?;
    let year = match parts.get(2) {
        None => None,
        Some(y) if y.len() == 4 => Some(number(y)? as i32),
        // Two-digit years: 30-99 are the 1900s (birth dates), 00-29 the 2000s.
        Some(y) if y.len() == 2 => {
            let n = number(y)? as i32;
            Some(if n >= 30 { 1900 + n } else { 2000 + n })
        }
        Some(_) => return None,
    };
    Some(DateExpr::MonthDay { month, day, year })
}
