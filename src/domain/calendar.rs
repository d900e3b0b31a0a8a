//! Dates, weekdays and times of day as the receptionist speaks them, and the clock it reads
//! "today" from. The calendar arithmetic is jiff's (`jiff::civil::Date`); the store only needs
//! local wall-clock dates, never instants or time zones.

use std::fmt;

use jiff::civil;
use jiff::Span;

use crate::foundation::text::words::MONTHS;

/// A calendar date. Always valid (jiff checks the day against the month).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(civil::Date);

impl Date {
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        let (y, m, d) = (
            i16::try_from(year).ok()?,
            i8::try_from(month).ok()?,
            i8::try_from(day).ok()?,
        );
        civil::Date::new(y, m, d).ok().map(Date)
    }

    /// Days in `month` of `year`; 0 for a month that does not exist.
    pub fn days_in_month(year: i32, month: u32) -> u32 {
        Date::from_ymd(year, month, 1).map_or(0, |d| d.0.days_in_month() as u32)
    }

    pub fn year(self) -> i32 {
        i32::from(self.0.year())
    }
    pub fn month(self) -> u32 {
        self.0.month() as u32
    }
    pub fn day(self) -> u32 {
        self.0.day() as u32
    }

    /// `n` days later (earlier when negative), held at the ends of jiff's range (years
    /// -9999 to 9999).
    pub fn add_days(self, n: i64) -> Date {
        let n = n.clamp(-7_304_484, 7_304_484);
        Date(self.0.saturating_add(Span::new().days(n)))
    }

    pub fn weekday(self) -> Weekday {
        Weekday::from_index(self.0.weekday().to_monday_zero_offset() as u8)
    }

    /// "2026-03-04" (also accepts single-digit month and day).
    pub fn parse_iso(s: &str) -> Option<Date> {
        let mut parts = s.trim().splitn(3, '-');
        let y: i32 = parts.next()?.parse().ok()?;
        let m: u32 = parts.next()?.parse().ok()?;
        let d: u32 = parts.next()?.parse().ok()?;
        if !(1000..=9999).contains(&y) {
            return None;
        }
        Date::from_ymd(y, m, d)
    }

    pub fn month_name(self) -> &'static str {
        MONTHS[(self.month() - 1) as usize]
    }

    /// "Tuesday, March 3": how the receptionist says an appointment day.
    pub fn spoken(self) -> String {
        format!(
            "{}, {} {}",
            self.weekday().name(),
            self.month_name(),
            self.day()
        )
    }

    /// "March 4, 1985": how the receptionist says a birth date.
    pub fn spoken_with_year(self) -> String {
        format!("{} {}, {}", self.month_name(), self.day(), self.year())
    }
}

/// The month number (1-12) of a month name or common abbreviation.
pub fn month_from_word(word: &str) -> Option<u32> {
    let w = word.trim_end_matches('.');
    if w.len() < 3 {
        return None;
    }
    let found = MONTHS
        .iter()
        .position(|m| m.to_lowercase().starts_with(w) || (w == "sept" && m.starts_with("Sep")));
    found.map(|i| i as u32 + 1)
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.year(),
            self.month(),
            self.day()
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    pub const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    /// Monday = 0 ... Sunday = 6 (taken modulo 7).
    pub fn from_index(i: u8) -> Weekday {
        Self::ALL[usize::from(i % 7)]
    }

    pub fn index(self) -> u8 {
        self as u8
    }

    pub fn name(self) -> &'static str {
        match self {
            Weekday::Monday => "Monday",
            Weekday::Tuesday => "Tuesday",
            Weekday::Wednesday => "Wednesday",
            Weekday::Thursday => "Thursday",
            Weekday::Friday => "Friday",
            Weekday::Saturday => "Saturday",
            Weekday::Sunday => "Sunday",
        }
    }

    /// A weekday name or abbreviation ("tue", "tues", "thurs"), lowercase; plural forms too.
    pub fn from_word(word: &str) -> Option<Weekday> {
        let w = word.trim_end_matches('.');
        let w = w
            .strip_suffix('s')
            .filter(|s| s.ends_with("day"))
            .unwrap_or(w);
        let found = match w {
            "mon" => Some(Weekday::Monday),
            "tue" | "tues" => Some(Weekday::Tuesday),
            "wed" | "weds" => Some(Weekday::Wednesday),
            "thu" | "thur" | "thurs" => Some(Weekday::Thursday),
            "fri" => Some(Weekday::Friday),
            "sat" => Some(Weekday::Saturday),
            "sun" => Some(Weekday::Sunday),
            _ => None,
        };
        found.or_else(|| {
            Self::ALL
                .into_iter()
                .find(|d| d.name().eq_ignore_ascii_case(w))
        })
    }
}

/// A wall-clock time of day, minute precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time {
    minutes: u16,
}

impl Time {
    pub fn from_hm(hour: u32, minute: u32) -> Option<Time> {
        (hour < 24 && minute < 60).then(|| Time {
            minutes: (hour * 60 + minute) as u16,
        })
    }

    /// From minutes after midnight (0..1440).
    pub fn from_minutes(minutes: u32) -> Option<Time> {
        (minutes < 24 * 60).then_some(Time {
            minutes: minutes as u16,
        })
    }

    pub fn hour(self) -> u32 {
        u32::from(self.minutes / 60)
    }
    pub fn minute(self) -> u32 {
        u32::from(self.minutes % 60)
    }
    pub fn minutes(self) -> u32 {
        u32::from(self.minutes)
    }

    /// "09:30" or "9:30".
    pub fn parse_hhmm(s: &str) -> Option<Time> {
        let (h, m) = s.trim().split_once(':')?;
        if m.len() != 2 {
            return None;
        }
        Time::from_hm(h.parse().ok()?, m.parse().ok()?)
    }

    /// "9 AM", "9:30 AM", "2 PM", "12:15 PM".
    pub fn spoken(self) -> String {
        let (h, m) = (self.hour(), self.minute());
        let suffix = if h < 12 { "AM" } else { "PM" };
        format!("{} {suffix}", Self::clock_face(h, m))
    }

    /// "9", "9:30", "2" (12-hour, no AM/PM): for lists that share one suffix.
    pub fn spoken_short(self) -> String {
        Self::clock_face(self.hour(), self.minute())
    }

    fn clock_face(h: u32, m: u32) -> String {
        let h12 = match h % 12 {
            0 => 12,
            x => x,
        };
        if m == 0 {
            h12.to_string()
        } else {
            format!("{h12}:{m:02}")
        }
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

/// A local wall-clock date and time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    pub date: Date,
    pub time: Time,
}

impl DateTime {
    pub fn new(date: Date, time: Time) -> Self {
        Self { date, time }
    }

    /// `minutes` later (earlier when negative), across days.
    pub fn add_minutes(self, minutes: i64) -> DateTime {
        let total = i64::from(self.time.minutes()) + minutes;
        let days = total.div_euclid(24 * 60);
        let time = Time::from_minutes(total.rem_euclid(24 * 60) as u32).unwrap_or(self.time);
        DateTime::new(self.date.add_days(days), time)
    }

    /// "2026-03-03 09:30" (the form the store keeps; it sorts chronologically).
    pub fn parse(s: &str) -> Option<DateTime> {
        let (d, t) = s.trim().split_once([' ', 'T'])?;
        Some(DateTime::new(Date::parse_iso(d)?, Time::parse_hhmm(t)?))
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.date, self.time)
    }
}

/// Where "now" comes from: the system's local time in production, a fixed instant in tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime;

    fn today(&self) -> Date {
        self.now().date
    }
}

/// A clock stopped at one instant (tests, demos, benchmarks).
#[derive(Clone, Copy, Debug)]
pub struct FixedClock(pub DateTime);

impl FixedClock {
    /// `FixedClock::at("2026-03-02 08:00")`; `None` if the text is not that form.
    pub fn at(text: &str) -> Option<FixedClock> {
        DateTime::parse(text).map(FixedClock)
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime {
        self.0
    }
}

/// The machine's local wall clock (time zone from the system, daylight saving included).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime {
        let now = jiff::Zoned::now();
        let dt = now.datetime();
        // A civil time's hour and minute are always in range; midnight rather than a panic if
        // that ever changed.
        let time =
            Time::from_hm(dt.hour() as u32, dt.minute() as u32).unwrap_or(Time { minutes: 0 });
        DateTime::new(Date(dt.date()), time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> Date {
        Date::from_ymd(y, m, day).unwrap()
    }

    #[test]
    fn days_add_across_months_and_leap_years() {
        assert_eq!(d(2000, 2, 28).add_days(2), d(2000, 3, 1));
        assert_eq!(d(1900, 2, 28).add_days(1), d(1900, 3, 1));
        assert_eq!(d(2026, 3, 1).add_days(-1), d(2026, 2, 28));
        assert_eq!(d(2024, 1, 1).add_days(366), d(2025, 1, 1));
        assert_eq!(Date::days_in_month(2024, 2), 29);
        assert_eq!(Date::days_in_month(2026, 13), 0);
        // Far past the range: held at its end, never a panic.
        assert_eq!(d(9999, 12, 31).add_days(i64::MAX).year(), 9999);
    }

    #[test]
    fn minutes_add_across_midnight() {
        let at = DateTime::parse("2026-03-03 23:50").unwrap();
        assert_eq!(at.add_minutes(15).to_string(), "2026-03-04 00:05");
        assert_eq!(at.add_minutes(-24 * 60).to_string(), "2026-03-02 23:50");
        assert_eq!(
            DateTime::parse("2026-03-01 00:10")
                .unwrap()
                .add_minutes(-15)
                .to_string(),
            "2026-02-28 23:55"
        );
    }

    #[test]
    fn validates_days_of_month() {
        assert!(Date::from_ymd(2024, 2, 29).is_some());
        assert!(Date::from_ymd(2026, 2, 29).is_none());
        assert!(Date::from_ymd(2026, 4, 31).is_none());
        assert!(Date::from_ymd(2026, 13, 1).is_none());
        assert!(Date::from_ymd(2026, 1, 0).is_none());
    }

    #[test]
    fn weekdays_are_right() {
        assert_eq!(d(2026, 3, 2).weekday(), Weekday::Monday);
        assert_eq!(d(1985, 3, 4).weekday(), Weekday::Monday);
        assert_eq!(d(2000, 1, 1).weekday(), Weekday::Saturday);
        assert_eq!(d(2026, 12, 31).add_days(1), d(2027, 1, 1));
    }

    #[test]
    fn parses_and_prints() {
        assert_eq!(Date::parse_iso("2026-3-4"), Some(d(2026, 3, 4)));
        assert_eq!(Date::parse_iso("26-03-04"), None);
        assert_eq!(d(2026, 3, 4).to_string(), "2026-03-04");
        assert_eq!(d(2026, 3, 3).spoken(), "Tuesday, March 3");
        assert_eq!(d(1985, 3, 4).spoken_with_year(), "March 4, 1985");
        let t = Time::parse_hhmm("9:05").unwrap();
        assert_eq!(t.to_string(), "09:05");
        assert_eq!(t.spoken(), "9:05 AM");
        assert_eq!(Time::from_hm(12, 0).unwrap().spoken(), "12 PM");
        assert_eq!(Time::from_hm(0, 30).unwrap().spoken(), "12:30 AM");
        assert_eq!(Time::parse_hhmm("24:00"), None);
        let dt = DateTime::parse("2026-03-03 14:30").unwrap();
        assert_eq!(dt.to_string(), "2026-03-03 14:30");
    }

    #[test]
    fn words_for_months_and_weekdays() {
        assert_eq!(month_from_word("dec"), Some(12));
        assert_eq!(month_from_word("sept"), Some(9));
        assert_eq!(month_from_word("march"), Some(3));
        assert_eq!(month_from_word("ma"), None);
        assert_eq!(month_from_word("mayday"), None);
        assert_eq!(Weekday::from_word("thurs"), Some(Weekday::Thursday));
        assert_eq!(Weekday::from_word("fridays"), Some(Weekday::Friday));
        assert_eq!(Weekday::from_word("monday"), Some(Weekday::Monday));
        assert_eq!(Weekday::from_word("sunny"), None);
    }

    #[test]
    fn system_clock_gives_a_plausible_date() {
        assert!(SystemClock.today().year() >= 2024);
    }
}
