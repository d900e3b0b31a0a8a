//! The hospital store and tools: demo data, the store's booking rules (no double booking
//! even under a race, schedule and grid, future only), persistence across reopening,
//! identity verification and privacy, and error results for bad arguments.

use std::path::PathBuf;
use std::sync::{Arc, Barrier};

use serde_json::{json, Value};
use voice_agent::domain::store::{NewPatient, StoreError};
use voice_agent::domain::tools::MAX_FAILED_VERIFICATIONS;
use voice_agent::domain::{Clock, Date, DateTime, FixedClock, HospitalTools, Store, Time};
use voice_agent::providers::llm::tools::ToolSet;

/// Wednesday, March 4, 2026, 8 AM.
fn clock() -> FixedClock {
    FixedClock::at("2026-03-04 08:00").unwrap()
}

fn store() -> Store {
    Store::open_in_memory_seeded_at(clock().today()).unwrap()
}

fn tools(store: &Store) -> HospitalTools {
    HospitalTools::new(store.clone(), Arc::new(clock()))
}

fn call(t: &mut HospitalTools, name: &str, args: Value) -> Value {
    t.call(name, &args.to_string())
}

fn dt(s: &str) -> DateTime {
    DateTime::parse(s).unwrap()
}

fn date(s: &str) -> Date {
    Date::parse_iso(s).unwrap()
}

fn doctor_id(store: &Store, surname: &str) -> i64 {
    store
        .doctors()
        .unwrap()
        .into_iter()
        .find(|d| d.name.ends_with(surname))
        .unwrap()
        .id
}

fn new_patient(store: &Store, name: &str, dob: &str) -> i64 {
    let p = NewPatient {
        name: name.into(),
        date_of_birth: Some(date(dob)),
        ..NewPatient::default()
    };
    store.find_or_create_patient(&p, clock().now()).unwrap().id
}

/// A unique file in the temp folder, removed (with its WAL files) on drop.
struct TempDb(PathBuf);

impl TempDb {
    fn new(tag: &str) -> TempDb {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let name = format!("voice-agent-{tag}-{}-{nanos}.sqlite", std::process::id());
        TempDb(std::env::temp_dir().join(name))
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

#[test]
fn seeded_with_realistic_demo_data() {
    let s = store();
    let doctors = s.doctors().unwrap();
    assert!(doctors.len() >= 8);
    let mut specialities: Vec<&str> = doctors.iter().map(|d| d.speciality.as_str()).collect();
    specialities.dedup();
    for want in [
        "cardiology",
        "dermatology",
        "paediatrics",
        "family medicine",
        "orthopaedics",
        "neurology",
    ] {
        assert!(specialities.contains(&want), "missing {want}");
    }
    assert!(s.patient_count().unwrap() >= 20);
    let john = s
        .find_patient("john smith", date("1985-03-04"))
        .unwrap()
        .unwrap();
    assert_eq!(john.name, "John Smith");
    let upcoming = s.upcoming_appointments(john.id, clock().now()).unwrap();
    assert_eq!(upcoming.len(), 2, "{upcoming:?}");
    assert!(upcoming.iter().all(|a| a.start > clock().now()));
    // Every doctor has a schedule.
    for d in &doctors {
        assert!(
            !s.schedule(d.id).unwrap().is_empty(),
            "{} has no hours",
            d.name
        );
    }
}

#[test]
fn two_threads_racing_for_one_slot_exactly_one_wins() {
    let s = store();
    let patel = doctor_id(&s, "Patel");
    let slot = dt("2026-03-10 14:00");
    let patients: Vec<i64> = (0..8)
        .map(|i| new_patient(&s, &format!("Racer Number{i}"), "1990-01-01"))
        .collect();
    let barrier = Arc::new(Barrier::new(patients.len()));
    let handles: Vec<_> = patients
        .into_iter()
        .map(|pid| {
            let (s, barrier) = (s.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                s.book(pid, patel, slot, "race", clock().now())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{results:?}");
    assert!(results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .all(|e| matches!(e, StoreError::SlotTaken)));
    assert_eq!(
        s.doctor_appointments(patel, slot.date)
            .unwrap()
            .iter()
            .filter(|a| a.start == slot)
            .count(),
        1
    );
}

#[test]
fn separate_connections_on_one_file_cannot_double_book() {
    let db = TempDb::new("race");
    let first = Store::open_seeded_at(&db.0, clock().today()).unwrap();
    let patel = doctor_id(&first, "Patel");
    let a = new_patient(&first, "Ann Able", "1980-02-02");
    let b = new_patient(&first, "Bob Baker", "1981-03-03");
    let slot = dt("2026-03-10 15:00");
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = [a, b]
        .into_iter()
        .map(|pid| {
            let (path, barrier) = (db.0.clone(), barrier.clone());
            std::thread::spawn(move || {
                // Its own handle, its own connection: only SQLite stands between them.
                let s = Store::open(&path).unwrap();
                barrier.wait();
                s.book(pid, patel, slot, "race", clock().now())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results
        .iter()
        .any(|r| matches!(r, Err(StoreError::SlotTaken))));
}

#[test]
fn store_enforces_schedule_grid_and_future() {
    let s = store();
    let patel = doctor_id(&s, "Patel");
    let pid = new_patient(&s, "Rule Tester", "1970-07-07");
    let now = clock().now();
    // Patel does not work Wednesdays; 12:30 is her lunch break; 17:00 is after hours.
    for off in [
        "2026-03-11 10:00",
        "2026-03-10 12:30",
        "2026-03-10 17:00",
        "2026-03-10 16:45",
    ] {
        let r = s.book(pid, patel, dt(off), "x", now);
        assert!(
            matches!(
                r,
                Err(StoreError::OutsideSchedule | StoreError::OffGrid { .. })
            ),
            "{off}: {r:?}"
        );
    }
    match s.book(pid, patel, dt("2026-03-10 09:10"), "x", now) {
        Err(StoreError::OffGrid {
            slot_minutes,
            before,
            after,
        }) => {
            assert_eq!(slot_minutes, 30);
            assert_eq!(
                (before.to_string(), after.to_string()),
                ("09:00".into(), "09:30".into())
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.book(pid, patel, dt("2026-03-02 09:00"), "x", now),
        Err(StoreError::InPast(_))
    ));
    let ok = s
        .book(pid, patel, dt("2026-03-10 16:30"), "last slot", now)
        .unwrap();
    assert_eq!(ok.start, dt("2026-03-10 16:30"));
    // The same patient cannot be in two places at once.
    let chen = doctor_id(&s, "Chen");
    assert!(matches!(
        s.book(pid, chen, dt("2026-03-09 10:00"), "x", now)
            .and_then(|_| s.book(pid, patel, dt("2026-03-09 10:00"), "x", now)),
        Err(StoreError::PatientBusy)
    ));
    // Free slots leave out what is booked and what has passed.
    let free = s.free_slots(patel, date("2026-03-10"), now).unwrap();
    assert!(!free.contains(&Time::from_hm(16, 30).unwrap()));
    assert!(free.contains(&Time::from_hm(9, 0).unwrap()));
    let late = DateTime::new(date("2026-03-10"), Time::from_hm(15, 0).unwrap());
    assert!(s
        .free_slots(patel, date("2026-03-10"), late)
        .unwrap()
        .iter()
        .all(|t| t.hour() >= 15));
}

#[test]
fn changes_survive_reopening_the_file() {
    let db = TempDb::new("persist");
    let (appt_id, cancelled_id, doctors);
    {
        let s = Store::open_seeded_at(&db.0, clock().today()).unwrap();
        doctors = s.doctors().unwrap().len();
        let mut t = tools(&s);
        let booked = call(
            &mut t,
            "schedule_appointment",
            json!({"patient_name": "Nora Newcomer", "date_of_birth": "1999-09-09", "doctor": "Chen",
                   "date": "friday", "time": "11:00", "reason": "rash", "new_patient": true}),
        );
        appt_id = booked["appointment"]["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("{booked}"));
        let john = call(
            &mut t,
            "get_patient_info",
            json!({"patient_name": "John Smith", "date_of_birth": "1985-03-04"}),
        );
        cancelled_id = john["upcoming_appointments"][0]["id"].as_i64().unwrap();
        let c = call(
            &mut t,
            "cancel_appointment",
            json!({"patient_name": "John Smith", "date_of_birth": "1985-03-04", "appointment_id": cancelled_id}),
        );
        assert_eq!(c["cancelled"], json!(true), "{c}");
    }
    let s = Store::open(&db.0).unwrap();
    assert_eq!(s.doctors().unwrap().len(), doctors, "not seeded twice");
    let a = s.appointment(appt_id).unwrap().unwrap();
    assert_eq!(a.start, dt("2026-03-06 11:00"));
    assert_eq!(a.reason, "rash");
    let nora = s
        .find_patient("Nora Newcomer", date("1999-09-09"))
        .unwrap()
        .unwrap();
    assert_eq!(a.patient_id, nora.id);
    let c = s.appointment(cancelled_id).unwrap().unwrap();
    assert_eq!(c.status.as_str(), "cancelled");
}

#[test]
fn check_availability_lists_free_slots_and_the_next_opening() {
    let s = store();
    let mut t = tools(&s);
    let r = call(
        &mut t,
        "check_availability",
        json!({"doctor": "Dr. Patel", "date": "tuesday", "time_of_day": "afternoon"}),
    );
    assert_eq!(r["date"], "2026-03-10", "{r}");
    assert_eq!(r["day"], "Tuesday, March 10");
    let slots = r["doctors"][0]["slots"].as_array().unwrap();
    assert_eq!(slots.first(), Some(&json!("13:00")));
    assert!(slots.iter().all(|x| x.as_str().unwrap() >= "12:00"));

    // Seeded: John Smith sees Dr. Patel on Monday the 9th at 10:30, so that slot is gone.
    let r = call(
        &mut t,
        "check_availability",
        json!({"doctor": "patel", "date": "next monday", "time_of_day": "10:30 am"}),
    );
    assert_eq!(r["requested_time"], "10:30");
    assert_eq!(r["requested_time_free"], json!(false), "{r}");

    // Dr. Patel does not work Wednesdays: the next opening is offered.
    let r = call(
        &mut t,
        "check_availability",
        json!({"doctor": "patel", "date": "2026-03-11"}),
    );
    assert_eq!(r["doctors"][0]["slots"], json!([]));
    assert_eq!(r["next_available"]["date"], "2026-03-12", "{r}");

    // A speciality, and no doctor at all.
    let r = call(
        &mut t,
        "check_availability",
        json!({"doctor": "cardiologist", "date": "friday"}),
    );
    let names: Vec<&str> = r["doctors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["doctor"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["Dr. Marcus Okafor"],
        "only Okafor works Fridays"
    );
    let r = call(&mut t, "check_availability", json!({"date": "saturday"}));
    assert_eq!(
        r["doctors"].as_array().unwrap().len(),
        1,
        "only the Saturday clinic: {r}"
    );
}

#[test]
fn scheduling_through_the_tool() {
    let s = store();
    let mut t = tools(&s);
    let args = json!({"patient_name": "john smith", "date_of_birth": "March fourth nineteen eighty five",
                      "doctor": "cardiology", "date": "next tuesday", "time": "2 pm", "reason": "chest tightness"});
    let r = call(&mut t, "schedule_appointment", args.clone());
    assert_eq!(r["booked"], json!(true), "{r}");
    assert_eq!(r["appointment"]["doctor"], "Dr. Priya Patel");
    assert_eq!(r["appointment"]["when"], "Tuesday, March 10 at 2 PM");
    assert_eq!(
        r["patient"],
        json!({"name": "John Smith"}),
        "no word on whether it was new"
    );
    // The same slot again (another caller): taken, with alternatives.
    let mut other = tools(&s);
    let mut again = args;
    again["patient_name"] = json!("Maria Gonzalez");
    again["date_of_birth"] = json!("1972-11-19");
    let r = call(&mut other, "schedule_appointment", again);
    assert_eq!(r["code"], "slot_taken", "{r}");
    assert!(r["alternatives"][0]["slots"].as_array().unwrap().len() > 3);
    // Off the grid: the nearest times are named.
    let r = call(
        &mut t,
        "schedule_appointment",
        json!({"patient_name": "John Smith", "date_of_birth": "1985-03-04",
        "doctor": "Chen", "date": "friday", "time": "9:10", "reason": "mole"}),
    );
    assert_eq!(r["code"], "off_grid", "{r}");
    assert!(r["error"].as_str().unwrap().contains("9 AM and 9:20 AM"));
    // A new patient who says so gets a record with the booking.
    let r = call(
        &mut t,
        "schedule_appointment",
        json!({"patient_name": "penny lane", "date_of_birth": "2001-02-03", "new_patient": true,
        "doctor": "Garcia", "date": "tomorrow", "time": "8:20 am", "reason": "vaccination", "phone": "555-0199"}),
    );
    assert_eq!(r["booked"], json!(true), "{r}");
    assert_eq!(r["patient"], json!({"name": "Penny Lane"}));
    let p = s
        .find_patient("Penny Lane", date("2001-02-03"))
        .unwrap()
        .unwrap();
    assert_eq!(p.name, "Penny Lane");
    assert_eq!(p.phone.as_deref(), Some("555-0199"));
}

#[test]
fn a_name_heard_slightly_wrong_verifies_only_beside_the_exact_birth_date() {
    if voice_agent::domain::sounds::phonemes("maria").is_none() {
        eprintln!("SKIPPED: libespeak-ng not available");
        return;
    }
    let s = store();
    let mut t = tools(&s);
    // "Marie" for "Maria", as Whisper writes it: the record, under its own name.
    let r = call(
        &mut t,
        "get_patient_info",
        json!({"patient_name": "Marie Gonzalez", "date_of_birth": "1972-11-19"}),
    );
    assert_eq!(r["patient"]["name"], "Maria Gonzalez", "{r}");
    // The same near name with another birth date, or another name with hers: nothing.
    let mut t = tools(&s);
    for (name, dob) in [
        ("Marie Gonzalez", "1972-11-20"),
        ("Maria Garcia", "1972-11-19"),
    ] {
        let r = call(
            &mut t,
            "get_patient_info",
            json!({"patient_name": name, "date_of_birth": dob}),
        );
        assert_eq!(r["code"], "not_verified", "{name}: {r}");
    }
    assert!(t.verified_patients().is_empty());
}

#[test]
fn verification_refusal_reveals_nothing() {
    let s = store();
    let mut t = tools(&s);
    let wrong_dob = call(
        &mut t,
        "get_patient_info",
        json!({"patient_name": "John Smith", "date_of_birth": "1985-03-05"}),
    );
    let no_such = call(
        &mut t,
        "get_patient_info",
        json!({"patient_name": "Nobody Atall", "date_of_birth": "1985-03-04"}),
    );
    assert_eq!(wrong_dob["code"], "not_verified");
    assert_eq!(
        wrong_dob, no_such,
        "the refusal must not tell whether the name exists"
    );
    let text = wrong_dob.to_string();
    for secret in ["555-0101", "penicillin", "Patel", "Blue Cross"] {
        assert!(!text.contains(secret));
    }
    assert!(t.verified_patients().is_empty());
    // Without verification, nothing can be cancelled by id alone.
    let john = s
        .find_patient("John Smith", date("1985-03-04"))
        .unwrap()
        .unwrap();
    let john_appt = s.upcoming_appointments(john.id, clock().now()).unwrap()[0].id;
    let r = call(
        &mut t,
        "cancel_appointment",
        json!({"appointment_id": john_appt}),
    );
    assert_eq!(r["code"], "verification_required", "{r}");
    assert_eq!(
        s.appointment(john_appt).unwrap().unwrap().status.as_str(),
        "booked"
    );
}

#[test]
fn a_verified_caller_cannot_touch_another_patients_appointment() {
    let s = store();
    let mut t = tools(&s);
    let maria = call(
        &mut t,
        "get_patient_info",
        json!({"patient_name": "Maria Gonzalez", "date_of_birth": "November 19, 1972"}),
    );
    assert_eq!(maria["patient"]["name"], "Maria Gonzalez", "{maria}");
    assert_eq!(t.verified_patients().len(), 1);
    let john = s
        .find_patient("John Smith", date("1985-03-04"))
        .unwrap()
        .unwrap();
    let johns = s.upcoming_appointments(john.id, clock().now()).unwrap()[0].id;
    for args in [
        json!({"appointment_id": johns}),
        json!({"patient_name": "Maria Gonzalez", "date_of_birth": "1972-11-19", "appointment_id": johns}),
    ] {
        let r = call(&mut t, "cancel_appointment", args);
        assert_eq!(r["code"], "no_appointment", "{r}");
        assert!(
            !r.to_string().contains("Patel"),
            "John's doctor must not leak: {r}"
        );
    }
    assert_eq!(
        s.appointment(johns).unwrap().unwrap().status.as_str(),
        "booked"
    );
    // Her own appointment, by the doctor's name, works with the verified session alone.
    let r = call(&mut t, "cancel_appointment", json!({"doctor": "Wilson"}));
    assert_eq!(r["cancelled"], json!(true), "{r}");
    assert_eq!(r["appointment"]["doctor"], "Dr. James Wilson");
}

#[test]
fn repeated_failed_checks_lock_the_session() {
    let s = store();
    let mut t = tools(&s);
    for i in 0..MAX_FAILED_VERIFICATIONS {
        let r = call(
            &mut t,
            "get_patient_info",
            json!({"patient_name": "John Smith", "date_of_birth": format!("1985-03-{:02}", 10 + i)}),
        );
        assert_eq!(r["code"], "not_verified");
    }
    let r = call(
        &mut t,
        "get_patient_info",
        json!({"patient_name": "John Smith", "date_of_birth": "1985-03-04"}),
    );
    assert_eq!(
        r["code"], "verification_locked",
        "even the right details are refused now: {r}"
    );
    // A fresh session (another call) is not affected.
    let r = call(
        &mut tools(&s),
        "get_patient_info",
        json!({"patient_name": "John Smith", "date_of_birth": "1985-03-04"}),
    );
    assert_eq!(r["patient"]["phone"], "555-0101");
}

#[test]
fn cancelling_by_date_or_doctor_and_ambiguity() {
    let s = store();
    let mut t = tools(&s);
    let who = json!({"patient_name": "John Smith", "date_of_birth": "1985-03-04"});
    let r = call(&mut t, "cancel_appointment", who.clone());
    assert_eq!(r["code"], "ambiguous_appointment", "{r}");
    assert_eq!(r["appointments"].as_array().unwrap().len(), 2);
    let mut by_date = who.clone();
    by_date["date"] = json!("next monday");
    let r = call(&mut t, "cancel_appointment", by_date.clone());
    assert_eq!(r["appointment"]["doctor"], "Dr. Priya Patel", "{r}");
    let r = call(&mut t, "cancel_appointment", by_date);
    assert_eq!(r["code"], "no_appointment", "already cancelled: {r}");
    let info = call(&mut t, "get_patient_info", who);
    assert_eq!(info["upcoming_appointments"].as_array().unwrap().len(), 1);
}

#[test]
fn doctor_info_by_name_speciality_or_everyone() {
    let s = store();
    let mut t = tools(&s);
    let r = call(
        &mut t,
        "get_doctor_info",
        json!({"doctor": "doctor chen's"}),
    );
    let chen = &r["doctors"][0];
    assert_eq!(chen["doctor"], "Dr. Emily Chen");
    assert_eq!(chen["works_on"], json!(["Monday", "Wednesday", "Friday"]));
    assert!(chen["languages"]
        .as_array()
        .unwrap()
        .contains(&json!("Mandarin")));
    let r = call(&mut t, "get_doctor_info", json!({"doctor": "neurologist"}));
    assert_eq!(r["doctors"][0]["doctor"], "Dr. Ahmed Hassan");
    let r = call(&mut t, "get_doctor_info", json!({}));
    assert!(r["doctors"].as_array().unwrap().len() >= 8);
    assert!(r["specialities"].as_array().unwrap().len() >= 6);
}

#[test]
fn bad_arguments_give_error_json_never_a_panic() {
    let s = store();
    let mut t = tools(&s);
    let cases: &[(&str, &str)] = &[
        ("check_availability", "not json"),
        ("check_availability", "[1,2]"),
        ("check_availability", ""),
        ("check_availability", r#"{"date": "Blursday"}"#),
        ("check_availability", r#"{"date": 5}"#),
        (
            "check_availability",
            r#"{"date": "tomorrow", "doctor": "Dr. Who"}"#,
        ),
        (
            "check_availability",
            r#"{"date": "tomorrow", "time_of_day": "teatime-ish"}"#,
        ),
        ("check_availability", r#"{"date": "2020-01-01"}"#),
        ("schedule_appointment", r#"{"patient_name": "Cher"}"#),
        (
            "schedule_appointment",
            r#"{"patient_name": "A B", "date_of_birth": "yesterday", "doctor": "Patel", "date": "tuesday", "time": "3", "reason": "x"}"#,
        ),
        (
            "schedule_appointment",
            r#"{"patient_name": "A B", "date_of_birth": "2090-01-01", "doctor": "Patel", "date": "tuesday", "time": "3", "reason": "x"}"#,
        ),
        (
            "schedule_appointment",
            r#"{"patient_name": "A B", "date_of_birth": "1990-01-01", "doctor": "Patel", "date": "tuesday", "time": "whenever", "reason": "x"}"#,
        ),
        (
            "schedule_appointment",
            r#"{"patient_name": "A B", "date_of_birth": "1990-01-01", "doctor": "Patel", "date": "tuesday", "time": "3"}"#,
        ),
        (
            "cancel_appointment",
            r#"{"patient_name": "John Smith", "date_of_birth": "1985-03-04", "appointment_id": "abc"}"#,
        ),
        (
            "cancel_appointment",
            r#"{"patient_name": "John Smith", "date_of_birth": "1985-03-04", "appointment_id": 999999}"#,
        ),
        (
            "get_patient_info",
            r#"{"patient_name": "John Smith", "date_of_birth": {}}"#,
        ),
        ("get_doctor_info", r#"{"doctor": "astrologer"}"#),
        ("make_coffee", "{}"),
    ];
    for (tool, args) in cases {
        let r = t.call(tool, args);
        let msg = r["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{tool} {args}: {r}"));
        assert!(!msg.is_empty());
        assert!(r["code"].is_string(), "{r}");
    }
    let r = t.call("check_availability", r#"{"date": "Blursday"}"#);
    assert_eq!(
        r["error"],
        "date 'Blursday' not understood; say a weekday, 'tomorrow', or a date like 2026-12-03"
    );
    let r = t.call("get_doctor_info", r#"{"doctor": "astrologer"}"#);
    assert!(
        r["error"].as_str().unwrap().contains("cardiology"),
        "lists what exists: {r}"
    );
}

#[test]
fn tool_specs_are_complete_json_schemas() {
    let t = tools(&store());
    let specs = t.specs();
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "check_availability",
            "schedule_appointment",
            "cancel_appointment",
            "get_patient_info",
            "get_doctor_info"
        ]
    );
    for s in &specs {
        assert_eq!(s.parameters["type"], "object");
        for req in s.parameters["required"].as_array().into_iter().flatten() {
            let key = req.as_str().unwrap();
            assert!(
                s.parameters["properties"][key].is_object(),
                "{}: {key}",
                s.name
            );
        }
    }
}

/// A booking for a name and birth date that match no record, without saying it is a first visit.
fn book_unverified(t: &mut HospitalTools, name: &str, dob: &str, time: &str) -> Value {
    call(
        t,
        "schedule_appointment",
        json!({"patient_name": name, "date_of_birth": dob, "doctor": "Chen", "date": "friday",
               "time": time, "reason": "check-up"}),
    )
}

#[test]
fn a_wrong_birth_date_books_nothing_creates_no_one_and_reveals_nothing() {
    let s = store();
    let patients = s.patient_count().unwrap();
    let mut t = tools(&s);
    // John Smith exists (born 1985-03-04); Zed Nobody does not. Both refusals are the same.
    let john = book_unverified(&mut t, "John Smith", "1985-03-05", "9:00");
    let nobody = book_unverified(&mut tools(&s), "Zed Nobody", "1985-03-05", "9:00");
    assert_eq!(john["code"], "not_verified", "{john}");
    assert_eq!(
        john, nobody,
        "the refusal must not tell whether the name exists"
    );
    assert_eq!(s.patient_count().unwrap(), patients, "no junk record");
    assert!(t.verified_patients().is_empty());
}

#[test]
fn a_booking_that_fails_creates_and_verifies_no_one() {
    let s = store();
    let patients = s.patient_count().unwrap();
    let mut t = tools(&s);
    // Off the grid: the booking fails after the caller said they are new.
    let r = call(
        &mut t,
        "schedule_appointment",
        json!({"patient_name": "Quinn Newby", "date_of_birth": "1990-01-01", "new_patient": true,
               "doctor": "Chen", "date": "friday", "time": "9:10", "reason": "mole"}),
    );
    assert_eq!(r["code"], "off_grid", "{r}");
    assert_eq!(
        s.patient_count().unwrap(),
        patients,
        "no record left behind"
    );
    assert!(
        t.verified_patients().is_empty(),
        "nobody verified by a failed call"
    );
    // A real patient whose booking fails is not verified by it either.
    let r = call(
        &mut t,
        "schedule_appointment",
        json!({"patient_name": "John Smith", "date_of_birth": "1985-03-04",
               "doctor": "Chen", "date": "friday", "time": "9:10", "reason": "mole"}),
    );
    assert_eq!(r["code"], "off_grid", "{r}");
    assert!(t.verified_patients().is_empty());
}

#[test]
fn guessing_a_birth_date_is_locked_out_across_calls() {
    let s = store();
    // Three wrong guesses in one call end that call's attempts.
    let mut first = tools(&s);
    for dob in ["1985-01-01", "1985-01-02", "1985-01-03"] {
        let r = call(
            &mut first,
            "get_patient_info",
            json!({"patient_name": "John Smith", "date_of_birth": dob}),
        );
        assert_eq!(r["code"], "not_verified", "{r}");
    }
    // Hanging up and calling again does not reset the count kept by the name: two more
    // guesses (one through a booking) and the name is locked for everyone, for a while.
    let mut second = tools(&s);
    let r = book_unverified(&mut second, "john smith", "1985-01-04", "9:00");
    assert_eq!(r["code"], "not_verified", "{r}");
    let r = call(
        &mut second,
        "get_patient_info",
        json!({"patient_name": "John Smith", "date_of_birth": "1985-01-05"}),
    );
    assert_eq!(r["code"], "not_verified", "{r}");
    let mut third = tools(&s);
    let right = call(
        &mut third,
        "get_patient_info",
        json!({"patient_name": "John Smith", "date_of_birth": "1985-03-04"}),
    );
    assert_eq!(right["code"], "verification_locked", "{right}");
    assert!(!right.to_string().contains("555-0101"));
    // Another name is not affected.
    let maria = call(
        &mut third,
        "get_patient_info",
        json!({"patient_name": "Maria Gonzalez", "date_of_birth": "1972-11-19"}),
    );
    assert!(maria.get("patient").is_some(), "{maria}");
    // A quarter of an hour later the name may be tried again.
    let later = HospitalTools::new(
        s.clone(),
        Arc::new(FixedClock::at("2026-03-04 09:30").unwrap()),
    );
    let mut later = later;
    let right = call(
        &mut later,
        "get_patient_info",
        json!({"patient_name": "John Smith", "date_of_birth": "1985-03-04"}),
    );
    assert!(right.get("patient").is_some(), "{right}");
}

#[test]
fn one_call_books_a_few_appointments_and_registers_one_new_patient() {
    let s = store();
    let mut t = tools(&s);
    for (i, time) in ["9:00", "9:20", "9:40"].iter().enumerate() {
        let r = call(
            &mut t,
            "schedule_appointment",
            json!({"patient_name": "John Smith", "date_of_birth": "1985-03-04",
                   "doctor": "Chen", "date": "friday", "time": time, "reason": "check-up"}),
        );
        assert_eq!(r["booked"], json!(true), "booking {i}: {r}");
    }
    let r = call(
        &mut t,
        "schedule_appointment",
        json!({"patient_name": "John Smith", "date_of_birth": "1985-03-04",
               "doctor": "Chen", "date": "friday", "time": "10:00", "reason": "check-up"}),
    );
    assert_eq!(r["code"], "booking_limit", "{r}");
    let mut u = tools(&s);
    let new = |name: &str, time: &str| {
        json!({"patient_name": name, "date_of_birth": "2000-01-01", "new_patient": true,
               "doctor": "Chen", "date": "friday", "time": time, "reason": "check-up"})
    };
    assert_eq!(
        call(&mut u, "schedule_appointment", new("Ada One", "11:00"))["booked"],
        json!(true)
    );
    let r = call(&mut u, "schedule_appointment", new("Bea Two", "11:20"));
    assert_eq!(r["code"], "new_patient_limit", "{r}");
}

#[test]
fn oversized_and_malformed_fields_are_refused_with_why() {
    let s = store();
    let mut t = tools(&s);
    let long_reason = "x".repeat(201);
    let r = call(
        &mut t,
        "schedule_appointment",
        json!({"patient_name": "Ada One", "date_of_birth": "2000-01-01", "new_patient": true,
               "doctor": "Chen", "date": "friday", "time": "11:00", "reason": long_reason}),
    );
    assert_eq!(r["code"], "too_long", "{r}");
    let r = call(
        &mut t,
        "schedule_appointment",
        json!({"patient_name": "Ada One", "date_of_birth": "2000-01-01", "new_patient": true,
               "doctor": "Chen", "date": "friday", "time": "11:00", "reason": "rash",
               "phone": "call me; DROP TABLE"}),
    );
    assert_eq!(r["code"], "bad_phone", "{r}");
    let r = call(
        &mut t,
        "get_patient_info",
        json!({"patient_name": format!("Ada {}", "Long".repeat(30)), "date_of_birth": "2000-01-01"}),
    );
    assert_eq!(r["code"], "bad_name", "{r}");
}
