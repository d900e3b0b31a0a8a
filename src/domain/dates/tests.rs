use super::*;

/// Wednesday, March 4, 2026.
fn today() -> Date {
    Date::from_ymd(2026, 3, 4).unwrap()
}

fn date(text: &str) -> String {
    match resolve_date(text, today()) {
        Ok(d) => d.to_string(),
        Err(e) => format!("error: {e}"),
    }
}

fn time(text: &str) -> String {
    match parse_time(text) {
        Ok(t) => t.to_string(),
        Err(e) => format!("error: {e}"),
    }
}

#[test]
fn relative_days() {
    assert_eq!(date("today"), "2026-03-04");
    assert_eq!(date("tomorrow"), "2026-03-05");
    assert_eq!(date("the day after tomorrow"), "2026-03-06");
    assert_eq!(date("in three days"), "2026-03-07");
    assert_eq!(date("in a week"), "2026-03-11");
    assert_eq!(date("this afternoon"), "2026-03-04");
}

#[test]
fn weekdays_today_counts_and_next_means_next_week() {
    assert_eq!(date("wednesday"), "2026-03-04", "today counts");
    assert_eq!(date("Tuesday"), "2026-03-10");
    assert_eq!(date("on friday"), "2026-03-06");
    assert_eq!(date("this friday"), "2026-03-06");
    assert_eq!(date("next friday"), "2026-03-13");
    assert_eq!(date("next Monday"), "2026-03-09");
    assert_eq!(date("next wednesday"), "2026-03-11");
    assert_eq!(date("friday next week"), "2026-03-13");
    assert_eq!(date("this coming thursday"), "2026-03-05");
    assert_eq!(date("thurs"), "2026-03-05");
}

#[test]
fn next_weekday_from_a_sunday_is_the_following_week() {
    let sunday = Date::from_ymd(2026, 3, 8).unwrap();
    let expr = DateExpr::Weekday {
        day: Weekday::Monday,
        next_week: true,
    };
    assert_eq!(expr.resolve(sunday).unwrap().to_string(), "2026-03-09");
}

#[test]
fn calendar_dates() {
    assert_eq!(date("on the 15th"), "2026-03-15");
    assert_eq!(date("the 4th"), "2026-03-04");
    assert_eq!(date("the 3rd"), "2026-04-03", "already past this month");
    assert_eq!(date("the thirty first"), "2026-03-31");
    assert_eq!(date("December 3rd"), "2026-12-03");
    assert_eq!(date("march 1st"), "2027-03-01", "next occurrence");
    assert_eq!(date("the third of december"), "2026-12-03");
    assert_eq!(date("3 dec"), "2026-12-03");
    assert_eq!(date("december the 3rd"), "2026-12-03");
    assert_eq!(date("2026-12-03"), "2026-12-03");
    assert_eq!(date("12/03"), "2026-12-03", "US month/day");
    assert_eq!(date("12/3/2026"), "2026-12-03");
    assert_eq!(date("december 3 2027"), "2027-12-03");
}

#[test]
fn impossible_and_unknown_dates_are_errors() {
    assert!(date("february 30").starts_with("error: february 30 is not a real date"));
    assert!(date("Blursday").contains("date 'Blursday' not understood"));
    assert!(date("").starts_with("error"));
    assert!(
        date("next week").starts_with("error"),
        "a week is not a day"
    );
    // "may" is a month only next to a day number.
    assert!(date("may i come in").starts_with("error"));
    assert_eq!(date("may 5th"), "2026-05-05");
    // A bare ordinal needs "the"/"on" to be a day ("wait a second").
    assert!(date("wait a second").starts_with("error"));
}

#[test]
fn february_29_finds_the_next_leap_year() {
    assert_eq!(date("february 29"), "2028-02-29");
}

#[test]
fn clinic_hours_for_bare_numbers() {
    assert_eq!(time("3"), "15:00");
    assert_eq!(time("at 3"), "15:00");
    assert_eq!(time("at three"), "15:00");
    assert_eq!(time("9"), "09:00");
    assert_eq!(time("12"), "12:00");
    assert_eq!(time("6"), "18:00");
    assert_eq!(time("three thirty"), "15:30");
    assert_eq!(time("how about 2 30"), "14:30");
    assert_eq!(time("nine oh five"), "09:05");
    assert_eq!(time("3 o'clock"), "15:00");
}

#[test]
fn explicit_times() {
    assert_eq!(time("3 pm"), "15:00");
    assert_eq!(time("3pm"), "15:00");
    assert_eq!(time("3:30 PM"), "15:30");
    assert_eq!(time("3:30 p.m."), "15:30");
    assert_eq!(time("10 a.m."), "10:00");
    assert_eq!(time("15:00"), "15:00");
    assert_eq!(time("15:00:00"), "15:00");
    assert_eq!(date("2026-12-03T15:00"), "2026-12-03");
    assert_eq!(time("09:00"), "09:00");
    assert_eq!(time("03:00"), "03:00", "zero-padded is 24-hour");
    assert_eq!(time("12 am"), "00:00");
    assert_eq!(time("12:30 pm"), "12:30");
    assert_eq!(time("noon"), "12:00");
    assert_eq!(time("midday"), "12:00");
    assert_eq!(time("9 in the morning"), "09:00");
    assert_eq!(time("five in the afternoon"), "17:00");
    assert_eq!(time("half past two"), "14:30");
    assert_eq!(time("half past nine"), "09:30");
    assert_eq!(time("quarter past ten"), "10:15");
    assert_eq!(time("quarter to three"), "14:45");
    assert_eq!(time("ten past nine"), "09:10");
    assert_eq!(time("two thirty in the afternoon"), "14:30");
}

#[test]
fn part_of_day_steers_bare_hours() {
    assert_eq!(
        extract("tomorrow morning at 6").time.map(|t| t.to_string()),
        Some("06:00".into())
    );
    assert_eq!(
        extract("friday evening at 7").time.map(|t| t.to_string()),
        Some("19:00".into())
    );
    assert_eq!(
        PartOfDay::parse("in the afternoon"),
        Some(PartOfDay::Afternoon)
    );
    assert_eq!(PartOfDay::parse("any time"), None);
    assert!(PartOfDay::Morning.contains(Time::from_hm(11, 59).unwrap()));
    assert!(!PartOfDay::Morning.contains(Time::from_hm(12, 0).unwrap()));
    assert!(PartOfDay::Evening.contains(Time::from_hm(17, 0).unwrap()));
}

#[test]
fn bad_times_are_errors() {
    assert!(time("whenever").contains("time 'whenever' not understood"));
    assert!(time("25:00").starts_with("error"));
    assert_eq!(time("13 pm"), "13:00");
    assert!(time("").starts_with("error"));
}

#[test]
fn free_text_finds_date_and_time_apart() {
    let w = extract("i'd like to see doctor patel on tuesday at three");
    assert_eq!(
        w.dates,
        vec![DateExpr::Weekday {
            day: Weekday::Tuesday,
            next_week: false
        }]
    );
    assert_eq!(w.time, Time::from_hm(15, 0));

    let w = extract("book me with a cardiologist tomorrow morning");
    assert_eq!(w.dates, vec![DateExpr::Tomorrow]);
    assert_eq!(w.time, None);
    assert_eq!(w.part, Some(PartOfDay::Morning));

    let w = extract("next monday at 3");
    assert_eq!(
        resolve_date("next monday at 3", today())
            .unwrap()
            .to_string(),
        "2026-03-09"
    );
    assert_eq!(w.time, Time::from_hm(15, 0));

    let w = extract("december 3 at 3 pm");
    assert_eq!(
        w.dates[0].resolve(today()).unwrap().to_string(),
        "2026-12-03"
    );
    assert_eq!(w.time, Time::from_hm(15, 0));

    // A bare number in free text is no time without a cue.
    assert_eq!(extract("i have 3 kids").time, None);
    assert_eq!(extract("room 4").dates, vec![]);
}

#[test]
fn birth_dates_in_speech() {
    let full = |t: &str| find_full_date(t).map(|d| d.to_string());
    assert_eq!(
        full("my date of birth is march fourth nineteen eighty five"),
        Some("1985-03-04".into())
    );
    assert_eq!(full("the 4th of March 1985"), Some("1985-03-04".into()));
    assert_eq!(full("4 march 1985"), Some("1985-03-04".into()));
    assert_eq!(full("1985-03-04"), Some("1985-03-04".into()));
    assert_eq!(full("03/04/1985"), Some("1985-03-04".into()));
    assert_eq!(full("3/4/85"), Some("1985-03-04".into()));
    // Keyed on a phone's keypad.
    assert_eq!(full("03041985"), Some("1985-03-04".into()));
    assert_eq!(full("13041985"), None, "no 13th month");
    assert_eq!(full("1985"), None);
    assert_eq!(
        full("july 9 two thousand and twelve"),
        Some("2012-07-09".into())
    );
    assert_eq!(
        full("january first nineteen oh five"),
        Some("1905-01-01".into())
    );
    assert_eq!(full("march fourth"), None, "no year, no birth date");
}

#[test]
fn phrases_round_trip_through_extract() {
    let exprs = [
        DateExpr::Today,
        DateExpr::Tomorrow,
        DateExpr::InDays(3),
        DateExpr::Weekday {
            day: Weekday::Friday,
            next_week: true,
        },
        DateExpr::Weekday {
            day: Weekday::Monday,
            next_week: false,
        },
        DateExpr::MonthDay {
            month: 12,
            day: 3,
            year: None,
        },
        DateExpr::MonthDay {
            month: 3,
            day: 4,
            year: Some(1985),
        },
        DateExpr::DayOfMonth(15),
    ];
    for e in exprs {
        assert_eq!(
            extract(&e.phrase()).dates,
            vec![e],
            "phrase {:?}",
            e.phrase()
        );
    }
}

#[test]
fn as_recognisers_write_them() {
    // A weekday with its day of the month: the day of the month says which week.
    assert_eq!(date("wednesday the eleventh"), "2026-03-11");
    assert_eq!(date("thursday the 19th"), "2026-03-19");
    // Ordinals spelled the way they sound.
    assert_eq!(date("on the fith"), "2026-03-05");
    assert_eq!(date("the forth"), "2026-03-04");
    // A clock time without its colon, after "at" or with am/pm.
    assert_eq!(time("at 1030"), "10:30");
    assert_eq!(time("930 am"), "09:30");
    assert!(time("1985").starts_with("error"), "a year is no time");
    // A birth year in two digits after the day.
    assert_eq!(
        find_full_date("january twelfth eighty eight").map(|d| d.to_string()),
        Some("1988-01-12".to_string())
    );
}
