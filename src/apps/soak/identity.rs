//! The soak's identity checks, on a database file of their own: callers racing for one slot
//! (each its own connection, as separate server processes would be), and a stranger guessing a
//! patient's birth date, one call per guess.

use std::path::PathBuf;
use std::sync::{Arc, Barrier};

use serde_json::{json, Value};

use crate::domain::{Date, FixedClock, HospitalTools, Store};
use crate::providers::llm::tools::ToolSet;

/// A fresh database file, removed when dropped.
struct TempDb(PathBuf);

impl TempDb {
    fn new(name: &str) -> TempDb {
        let path = std::env::temp_dir().join(format!(
            "va-soak-{name}-{}-{}.sqlite",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        TempDb(path)
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", self.0.display()));
        }
    }
}

fn clock() -> FixedClock {
    // A Wednesday morning: Friday's slots are ahead.
    FixedClock::at("2026-03-04 08:00").expect("a valid instant")
}

fn today() -> Date {
    clock().0.date
}

/// `n` new callers book the same slot at once; the number of winners.
pub fn racing_bookings(n: usize) -> Result<usize, String> {
    let db = TempDb::new("race");
    Store::open_seeded_at(&db.0, today()).map_err(|e| e.to_string())?;
    let barrier = Arc::new(Barrier::new(n));
    let racers: Vec<_> = (0..n)
        .map(|i| {
            let (path, barrier) = (db.0.clone(), barrier.clone());
            std::thread::spawn(move || -> Result<bool, String> {
                let store = Store::open_seeded_at(&path, today()).map_err(|e| e.to_string())?;
                let mut tools = HospitalTools::new(store, Arc::new(clock()));
                let args = json!({
                    "patient_name": format!("Racer Number{i}"), "date_of_birth": "1990-01-01",
                    "new_patient": true, "doctor": "Chen", "date": "friday", "time": "11:00",
                    "reason": "race"
                });
                barrier.wait();
                let r = tools.call("schedule_appointment", &args.to_string());
                Ok(r["booked"] == json!(true))
            })
        })
        .collect();
    let mut winners = 0;
    for r in racers {
        if r.join().map_err(|_| "a racer panicked".to_string())?? {
            winners += 1;
        }
    }
    Ok(winners)
}

/// `n` wrong birth dates for a real patient, each in a new call, then the right one. Returns
/// how many answers disclosed anything of the record, and after how many guesses the name was
/// locked.
pub fn guesses_across_calls(n: usize) -> Result<(usize, Option<usize>), String> {
    let db = TempDb::new("guess");
    let store = Store::open_seeded_at(&db.0, today()).map_err(|e| e.to_string())?;
    let name = "John Smith";
    let real = Date::from_ymd(1985, 3, 4).ok_or("a valid date")?;
    let record = store
        .find_patient(name, real)
        .map_err(|e| e.to_string())?
        .ok_or("the seeded patient is missing")?;
    let secrets: Vec<String> = [record.phone, record.insurance, record.notes]
        .into_iter()
        .flatten()
        .filter(|s| s.len() > 3)
        .collect();
    let discloses = |answer: &Value| {
        let text = answer.to_string();
        secrets.iter().any(|s| text.contains(s.as_str())) || answer.get("patient").is_some()
    };
    let mut disclosed = 0;
    let mut locked_after = None;
    for i in 0..n {
        let mut call = HospitalTools::new(store.clone(), Arc::new(clock()));
        let wrong = real.add_days(1 + i as i64).to_string();
        let answer = call.call(
            "get_patient_info",
            &json!({"patient_name": name, "date_of_birth": wrong}).to_string(),
        );
        disclosed += usize::from(discloses(&answer));
        if locked_after.is_none() && answer["code"] == "verification_locked" {
            locked_after = Some(i + 1);
        }
    }
    // Locked, even the right answer now discloses nothing (until the window passes).
    let mut call = HospitalTools::new(store, Arc::new(clock()));
    let answer = call.call(
        "get_patient_info",
        &json!({"patient_name": name, "date_of_birth": real.to_string()}).to_string(),
    );
    if locked_after.is_some() {
        disclosed += usize::from(discloses(&answer));
    }
    Ok((disclosed, locked_after))
}
