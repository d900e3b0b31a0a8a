//! Spoken phrasing of tool results: doctors, times, days and appointments as a
//! receptionist says them on the phone.

use serde_json::Value;

use crate::domain::calendar::{Date, Time};

/// "Dr. Priya Patel" -> "Doctor Patel"; a query as said ("patel") -> "Doctor Patel".
pub fn doctor(title: &str) -> String {
    let name = title.trim_start_matches("Dr.").trim();
    match name.split_whitespace().last() {
        Some(surname) => format!("Doctor {}", capitalise(surname)),
        None => "the doctor".to_string(),
    }
}

/// "a", "a and b", "a, b and c".
pub fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// "9, 9:30 and 10 AM"; "11:30 AM, 1 and 1:30 PM": one AM/PM per run.
pub fn times(list: &[Time]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (i, t) in list.iter().enumerate() {
        let last_of_run = list
            .get(i + 1)
            .is_none_or(|n| (n.hour() < 12) != (t.hour() < 12));
        parts.push(if last_of_run {
            t.spoken()
        } else {
            t.spoken_short()
        });
    }
    join_and(&parts)
}

/// A long list of free times as at most two runs: "from 9 to 11:30 AM and from 1 to
/// 4:30 PM". None when the times are too scattered to say that way.
pub fn ranges(list: &[Time]) -> Option<String> {
    let gaps: Vec<u32> = list
        .windows(2)
        .map(|w| w[1].minutes().saturating_sub(w[0].minutes()))
        .collect();
    let step = gaps.iter().copied().filter(|g| *g > 0).min()?;
    let mut runs: Vec<(Time, Time)> = vec![(list[0], list[0])];
    for (w, gap) in list.windows(2).zip(&gaps) {
        match runs.last_mut() {
            Some(run) if *gap <= step => run.1 = w[1],
            _ => runs.push((w[1], w[1])),
        }
    }
    if runs.len() > 2 {
        return None;
    }
    let said: Vec<String> = runs
        .iter()
        .map(|&(a, b)| {
            if a == b {
                format!("at {}", a.spoken())
            } else if (a.hour() < 12) == (b.hour() < 12) {
                format!("from {} to {}", a.spoken_short(), b.spoken())
            } else {
                format!("from {} to {}", a.spoken(), b.spoken())
            }
        })
        .collect();
    Some(said.join(" and "))
}

/// Working hours by day, days with the same hours together: "Monday and Wednesday from
/// 9 AM to 4 PM, and Friday from 9 AM to 12 PM".
pub fn weekly_hours(hours: &Value, days: &[String]) -> String {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for day in days {
        let Some(h) = hours_for(hours, day) else {
            continue;
        };
        match groups.iter_mut().find(|(x, _)| *x == h) {
            Some((_, ds)) => ds.push(day.clone()),
            None => groups.push((h, vec![day.clone()])),
        }
    }
    if groups.is_empty() {
        return join_and(days);
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(h, ds)| format!("{} from {h}", join_and(ds)))
        .collect();
    match parts.as_slice() {
        [one] => one.clone(),
        [init @ .., last] => format!("{}, and {last}", init.join(", ")),
        [] => String::new(),
    }
}

/// "Patel" from "patel".
fn capitalise(word: &str) -> String {
    let mut c = word.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// Up to `n` times to offer: the ones nearest `near` when given, else the earliest.
pub fn pick(all: &[Time], near: Option<Time>, n: usize) -> Vec<Time> {
    let mut chosen: Vec<Time> = match near {
        Some(want) => {
            let mut by_distance = all.to_vec();
            by_distance.sort_by_key(|t| t.minutes().abs_diff(want.minutes()));
            by_distance.truncate(n);
            by_distance
        }
        None => all.iter().take(n).copied().collect(),
    };
    chosen.sort();
    chosen
}

/// The "HH:MM" strings of a JSON array as times.
pub fn json_times(v: &Value) -> Vec<Time> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().and_then(Time::parse_hhmm))
                .collect()
        })
        .unwrap_or_default()
}

/// "Tuesday, March 10" from a result's "date" (falls back to its "day").
pub fn day(v: &Value) -> String {
    v["date"]
        .as_str()
        .and_then(Date::parse_iso)
        .map(Date::spoken)
        .or_else(|| v["day"].as_str().map(str::to_string))
        .unwrap_or_else(|| "that day".to_string())
}

/// "with Doctor Patel on Monday, March 9 at 10:30 AM" from an appointment object.
pub fn appointment(a: &Value) -> String {
    let when = a["when"].as_str().map(str::to_string).unwrap_or_else(|| {
        let t = a["time"]
            .as_str()
            .and_then(Time::parse_hhmm)
            .map(Time::spoken);
        format!("{} at {}", day(a), t.unwrap_or_default())
    });
    format!(
        "with {} on {when}",
        doctor(a["doctor"].as_str().unwrap_or(""))
    )
}

/// "two", "three" for small counts (sounds better than digits when spoken).
pub fn count(n: usize) -> String {
    const WORDS: [&str; 11] = [
        "no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    ];
    WORDS
        .get(n)
        .map_or_else(|| n.to_string(), |w| w.to_string())
}

/// "9 AM to 5 PM" style working hours of one day from `hours` entries
/// `{"day","from","to"}`; blocks of the same day are joined.
pub fn hours_for(hours: &Value, day: &str) -> Option<String> {
    let blocks: Vec<(Time, Time)> = hours
        .as_array()?
        .iter()
        .filter(|h| h["day"] == day)
        .filter_map(|h| {
            Some((
                Time::parse_hhmm(h["from"].as_str()?)?,
                Time::parse_hhmm(h["to"].as_str()?)?,
            ))
        })
        .collect();
    let first = blocks.iter().map(|b| b.0).min()?;
    let last = blocks.iter().map(|b| b.1).max()?;
    Some(format!("{} to {}", first.spoken(), last.spoken()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> Time {
        Time::parse_hhmm(s).unwrap()
    }

    #[test]
    fn doctors_and_lists() {
        assert_eq!(doctor("Dr. Priya Patel"), "Doctor Patel");
        assert_eq!(doctor("patel"), "Doctor Patel");
        assert_eq!(doctor(""), "the doctor");
        assert_eq!(
            join_and(&["a".into(), "b".into(), "c".into()]),
            "a, b and c"
        );
        assert_eq!(count(2), "two");
        assert_eq!(count(12), "12");
    }

    #[test]
    fn time_lists_share_am_pm() {
        assert_eq!(
            times(&[t("09:00"), t("09:30"), t("10:00")]),
            "9, 9:30 and 10 AM"
        );
        assert_eq!(
            times(&[t("11:30"), t("13:00"), t("13:30")]),
            "11:30 AM, 1 and 1:30 PM"
        );
        assert_eq!(times(&[t("14:00")]), "2 PM");
    }

    #[test]
    fn long_lists_become_ranges() {
        let morning: Vec<Time> = ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]
            .iter()
            .map(|s| t(s))
            .collect();
        let mut day = morning.clone();
        day.extend(["13:00", "13:30", "14:00"].iter().map(|s| t(s)));
        assert_eq!(
            ranges(&day).as_deref(),
            Some("from 9 to 11:30 AM and from 1 to 2 PM")
        );
        assert_eq!(
            ranges(&[t("11:00"), t("11:30"), t("12:00")]).as_deref(),
            Some("from 11 AM to 12 PM")
        );
        let scattered = [t("09:00"), t("10:00"), t("10:30"), t("13:00"), t("15:00")];
        assert_eq!(ranges(&scattered), None);
    }

    #[test]
    fn hours_grouped_by_day() {
        let hours = json!([
            {"day": "Monday", "from": "09:00", "to": "16:00"},
            {"day": "Wednesday", "from": "09:00", "to": "16:00"},
            {"day": "Friday", "from": "09:00", "to": "12:00"},
        ]);
        let days: Vec<String> = ["Monday", "Wednesday", "Friday"]
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(
            weekly_hours(&hours, &days),
            "Monday and Wednesday from 9 AM to 4 PM, and Friday from 9 AM to 12 PM"
        );
    }

    #[test]
    fn picks_nearest_or_earliest() {
        let all = [t("09:00"), t("09:30"), t("14:00"), t("14:30"), t("15:30")];
        assert_eq!(pick(&all, None, 2), vec![t("09:00"), t("09:30")]);
        assert_eq!(
            pick(&all, Some(t("15:00")), 3),
            vec![t("14:00"), t("14:30"), t("15:30")]
        );
    }

    #[test]
    fn appointments_and_hours() {
        let a = json!({"doctor": "Dr. Priya Patel", "when": "Monday, March 9 at 10:30 AM"});
        assert_eq!(
            appointment(&a),
            "with Doctor Patel on Monday, March 9 at 10:30 AM"
        );
        let hours = json!([{"day": "Monday", "from": "09:00", "to": "12:00"}, {"day": "Monday", "from": "13:00", "to": "17:00"}]);
        assert_eq!(hours_for(&hours, "Monday").as_deref(), Some("9 AM to 5 PM"));
        assert_eq!(hours_for(&hours, "Friday"), None);
    }
}
