//! The hospital's records as Rust values, and the pure rules about them (names compared
//! loosely, slots laid on a doctor's schedule grid).

use std::path::PathBuf;

use super::calendar::{Date, DateTime, Time, Weekday};

/// What can go wrong with the hospital's records.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("cannot create the database folder {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("that time is already booked")]
    SlotTaken,
    #[error("the patient already has an appointment at that time")]
    PatientBusy,
    #[error("{0} is not in the future")]
    InPast(DateTime),
    #[error("the doctor does not work at that time")]
    OutsideSchedule,
    #[error(
        "appointments start every {slot_minutes} minutes; the nearest are {before} and {after}"
    )]
    OffGrid {
        slot_minutes: u32,
        before: Time,
        after: Time,
    },
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("the appointment is already cancelled")]
    AlreadyCancelled,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Clone, Debug, PartialEq)]
pub struct Doctor {
    pub id: i64,
    /// Full name without title, "Priya Patel".
    pub name: String,
    pub speciality: String,
    pub bio: String,
    pub languages: Vec<String>,
}

impl Doctor {
    /// "Dr. Priya Patel".
    pub fn title(&self) -> String {
        format!("Dr. {}", self.name)
    }
}

/// One block of a doctor's week: on `weekday`, appointments start every `slot_minutes`
/// from `start`, and the last one ends by `end`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScheduleBlock {
    pub weekday: Weekday,
    pub start: Time,
    pub end: Time,
    pub slot_minutes: u32,
}

impl ScheduleBlock {
    pub fn slots(&self) -> impl Iterator<Item = Time> + '_ {
        let (start, end, step) = (self.start.minutes(), self.end.minutes(), self.slot_minutes);
        (start..end)
            .step_by(step.max(1) as usize)
            .filter(move |m| m + step <= end)
            .filter_map(Time::from_minutes)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Patient {
    pub id: i64,
    pub name: String,
    pub date_of_birth: Date,
    pub phone: Option<String>,
    pub insurance: Option<String>,
    /// Allergies and other notes.
    pub notes: Option<String>,
}

/// What a new patient record needs.
#[derive(Clone, Debug, Default)]
pub struct NewPatient {
    pub name: String,
    pub date_of_birth: Option<Date>,
    pub phone: Option<String>,
    pub insurance: Option<String>,
    pub notes: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Booked,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Booked => "booked",
            Status::Cancelled => "cancelled",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Appointment {
    pub id: i64,
    pub patient_id: i64,
    pub doctor_id: i64,
    pub doctor_name: String,
    pub speciality: String,
    pub start: DateTime,
    pub status: Status,
    pub reason: String,
}

/// How names are compared: lowercase letters and digits, single spaces, no apostrophes
/// ("O'Brien" and "obrien" match, as speech-to-text writes either).
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
        .replace(['\'', '\u{2019}', '.'], "")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every slot start on `date` in these blocks, in order.
pub fn slots_in(blocks: &[ScheduleBlock], date: Date) -> Vec<Time> {
    let weekday = date.weekday();
    let mut slots: Vec<Time> = blocks
        .iter()
        .filter(|b| b.weekday == weekday)
        .flat_map(|b| b.slots().collect::<Vec<_>>())
        .collect();
    slots.sort();
    slots.dedup();
    slots
}

/// `Ok` when `start` begins a slot of one of the blocks.
pub(crate) fn check_on_grid(blocks: &[ScheduleBlock], start: DateTime) -> Result<()> {
    let weekday = start.date.weekday();
    let m = start.time.minutes();
    let block = blocks
        .iter()
        .filter(|b| b.weekday == weekday)
        .find(|b| b.start.minutes() <= m && m < b.end.minutes())
        .ok_or(StoreError::OutsideSchedule)?;
    let step = block.slot_minutes.max(1);
    let offset = (m - block.start.minutes()) % step;
    if offset == 0 && m + step <= block.end.minutes() {
        return Ok(());
    }
    if offset == 0 {
        return Err(StoreError::OutsideSchedule);
    }
    let before = m - offset;
    let after = before + step;
    let to_time = |x: u32| Time::from_minutes(x).unwrap_or(start.time);
    Err(StoreError::OffGrid {
        slot_minutes: step,
        before: to_time(before),
        after: to_time(if after + step <= block.end.minutes() {
            after
        } else {
            before
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(day: Weekday, from: &str, to: &str, step: u32) -> ScheduleBlock {
        ScheduleBlock {
            weekday: day,
            start: Time::parse_hhmm(from).unwrap(),
            end: Time::parse_hhmm(to).unwrap(),
            slot_minutes: step,
        }
    }

    fn at(s: &str) -> DateTime {
        DateTime::parse(s).unwrap()
    }

    #[test]
    fn names_compare_loosely() {
        assert_eq!(name_key("  James  O'Connor "), "james oconnor");
        assert_eq!(name_key("Mary-Jane Smith"), "mary jane smith");
        assert_eq!(name_key("JOHN SMITH"), name_key("john smith"));
    }

    #[test]
    fn slots_fit_inside_blocks() {
        // 45-minute slots from 9 to 15: the last starts at 14:15 and ends at 15:00.
        let b = block(Weekday::Monday, "09:00", "15:00", 45);
        let slots: Vec<String> = b.slots().map(|t| t.to_string()).collect();
        assert_eq!(slots.first().map(String::as_str), Some("09:00"));
        assert_eq!(slots.last().map(String::as_str), Some("14:15"));
        assert_eq!(slots.len(), 8);
        // A Monday (2026-03-02) gets them; a Tuesday does not.
        let blocks = [b, block(Weekday::Monday, "16:00", "17:00", 30)];
        assert_eq!(
            slots_in(&blocks, Date::from_ymd(2026, 3, 2).unwrap()).len(),
            10
        );
        assert!(slots_in(&blocks, Date::from_ymd(2026, 3, 3).unwrap()).is_empty());
    }

    #[test]
    fn grid_rules() {
        let blocks = [block(Weekday::Monday, "09:00", "12:00", 30)];
        assert!(check_on_grid(&blocks, at("2026-03-02 11:30")).is_ok());
        assert!(matches!(
            check_on_grid(&blocks, at("2026-03-02 12:00")),
            Err(StoreError::OutsideSchedule)
        ));
        assert!(matches!(
            check_on_grid(&blocks, at("2026-03-03 09:00")),
            Err(StoreError::OutsideSchedule)
        ));
        match check_on_grid(&blocks, at("2026-03-02 11:40")) {
            Err(StoreError::OffGrid { before, after, .. }) => {
                // 12:00 would end after the block, so both neighbours are 11:30.
                assert_eq!(
                    (before.to_string(), after.to_string()),
                    ("11:30".into(), "11:30".into())
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
