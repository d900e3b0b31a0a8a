//! The receptionist's tools over the store, one `HospitalTools` per caller session.
//!
//! Every result is JSON the model reads. Failures are results too, shaped
//! `{"error": "<what to tell or ask the caller>", "code": "<machine-readable>", ...}`, so a
//! model (or the built-in brain, which reads `code`) can recover.
//!
//! Privacy: reading, cancelling or booking for a patient needs the caller's name and date of
//! birth matching one record; a mismatch gets the same refusal whether or not the name exists.
//! After [`MAX_FAILED_VERIFICATIONS`] mismatches the session may not try again, and after
//! [`IDENTITY_LOCKOUT_FAILURES`] mismatches of one name within [`IDENTITY_LOCKOUT_MINUTES`],
//! from any calls, that name is locked (the count is in the database: hanging up and calling
//! again does not reset it). A new patient is created only when the caller says they are new,
//! and only together with their booking (a failed booking leaves no record, and verifies no
//! one). Each call may make [`MAX_BOOKINGS_PER_CALL`] bookings and [`MAX_NEW_PATIENTS_PER_CALL`]
//! new records. The session remembers whom it verified, and only ever shows or changes those
//! patients' data.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{json, Value};

pub use self::args::appointment_json;
use self::args::{
    check_name, check_phone, entries_any, entries_have, err, internal, time_of_day, times_json,
    title_case, Args, Outcome,
};
use super::calendar::{Clock, Date, DateTime, Time};
use super::dates::{self, PartOfDay};
use super::directory::{self, DoctorLookup};
use super::sounds;
use super::store::{Appointment, Doctor, NewPatient, Patient, Store, StoreError};

mod args;
use crate::providers::llm::tools::ToolSet;
use crate::providers::llm::ToolSpec;

/// Failed identity checks a session gets before verification is refused for good.
pub const MAX_FAILED_VERIFICATIONS: u32 = 3;
/// Failed checks of one name, from any calls, within the window, that lock the name.
pub const IDENTITY_LOCKOUT_FAILURES: u32 = 5;
pub const IDENTITY_LOCKOUT_MINUTES: i64 = 15;
/// What one call may make.
pub const MAX_BOOKINGS_PER_CALL: u32 = 3;
pub const MAX_NEW_PATIENTS_PER_CALL: u32 = 1;

/// The refusal of a failed identity check: the same whether or not the name exists.
const NOT_VERIFIED: &str = "those details do not match a patient record, so nothing can be \
    shared or changed; ask the caller to repeat their full name and date of birth";
const NOT_VERIFIED_FOR_BOOKING: &str = "those details do not match a patient record, so nothing \
    was booked; if this is the caller's first visit, book again with new_patient set to true, \
    otherwise ask them to repeat their full name and date of birth";

/// How far ahead `check_availability` looks for the next opening.
const NEXT_OPENING_DAYS: i64 = 21;

/// The receptionist's five tools, bound to one caller session.
pub struct HospitalTools {
    store: Store,
    clock: Arc<dyn Clock>,
    verified: BTreeSet<i64>,
    failed_verifications: u32,
    bookings: u32,
    new_patients: u32,
}

/// For whom a booking is made.
enum Booker {
    /// A verified record.
    Patient(Patient),
    /// A caller who says they are new: the record is made with the booking.
    New(NewPatient),
}

impl HospitalTools {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            verified: BTreeSet::new(),
            failed_verifications: 0,
            bookings: 0,
            new_patients: 0,
        }
    }

    /// Patient ids this session has verified.
    pub fn verified_patients(&self) -> Vec<i64> {
        self.verified.iter().copied().collect()
    }

    fn today(&self) -> Date {
        self.clock.now().date
    }

    /// A day to book or check: understood, and not before today.
    fn resolve_day(&self, text: &str) -> Result<Date, Value> {
        let today = self.today();
        let date = dates::resolve_date(text, today).map_err(|e| err("bad_date", e.to_string()))?;
        if date < today {
            return Err(err(
                "past_date",
                format!(
                    "{} has already passed; today is {}",
                    date.spoken_with_year(),
                    today.spoken()
                ),
            ));
        }
        Ok(date)
    }

    fn parse_birth_date(&self, text: &str) -> Result<Date, Value> {
        let found = Date::parse_iso(text).or_else(|| dates::find_full_date(text));
        let bad = |why: &str| err("bad_date_of_birth", format!("date of birth '{text}' {why}"));
        let dob = found
            .ok_or_else(|| bad("not understood; ask for it with the year, like March 4, 1985"))?;
        if dob > self.today() || dob.year() < 1900 {
            return Err(bad("is not possible; ask the caller to repeat it"));
        }
        Ok(dob)
    }

    fn doctors(&self, query: Option<&str>) -> Result<DoctorLookup, Value> {
        let all = self.store.doctors().map_err(internal)?;
        let found = directory::lookup(&all, query.unwrap_or(""));
        if found == DoctorLookup::Unknown {
            let list = directory::specialities(&all).join(", ");
            return Err(err(
                "unknown_doctor",
                format!(
                    "no doctor or speciality matches '{}'; our specialities are {list}",
                    query.unwrap_or("")
                ),
            ));
        }
        Ok(found)
    }

    /// The caller's patient record: by name and date of birth (which verifies them), or the
    /// one patient this session already verified.
    fn identify(&mut self, a: &Args) -> Result<Patient, Value> {
        let required = || {
            err(
                "verification_required",
                "patient_name and date_of_birth are both required to verify the caller",
            )
        };
        let (name, dob) = match (a.text("patient_name"), a.text("date_of_birth")) {
            (Some(n), Some(d)) => (n, d),
            (None, None) if self.verified.len() == 1 => {
                let id = *self.verified.iter().next().ok_or_else(required)?;
                return self
                    .store
                    .patient(id)
                    .map_err(internal)?
                    .ok_or_else(required);
            }
            _ => return Err(required()),
        };
        check_name(&name)?;
        let dob = self.parse_birth_date(&dob)?;
        let p = self.verify(&name, dob, NOT_VERIFIED)?;
        self.verified.insert(p.id);
        Ok(p)
    }

    /// Check a name and birth date against the records, counting a mismatch in this call and,
    /// by the name, across calls. The refusal is the same whether or not the name exists.
    fn verify(&mut self, name: &str, dob: Date, refusal: &str) -> Result<Patient, Value> {
        let now = self.clock.now();
        let since = now.add_minutes(-IDENTITY_LOCKOUT_MINUTES);
        let recent = self
            .store
            .failed_verifications_since(name, since)
            .map_err(internal)?;
        if self.failed_verifications >= MAX_FAILED_VERIFICATIONS
            || recent >= IDENTITY_LOCKOUT_FAILURES
        {
            return Err(err(
                "verification_locked",
                "too many unsuccessful identity checks; for the patient's privacy, ask them to \
                 call back later or visit the front desk with identification",
            ));
        }
        match self.find_patient(name, dob)? {
            Some(p) => {
                self.store
                    .clear_failed_verifications(name)
                    .map_err(internal)?;
                Ok(p)
            }
            None => {
                self.failed_verifications += 1;
                self.store
                    .record_failed_verification(name, now)
                    .map_err(internal)?;
                log::info!(
                    "identity check failed ({} in this call)",
                    self.failed_verifications
                );
                Err(err("not_verified", refusal))
            }
        }
    }

    /// The record with this name and birth date; failing that, the one record of that
    /// birth date whose name sounds the same ("Marie Gonzalez" heard for "Maria Gonzalez").
    /// The birth date must match exactly, and two near names verify no one.
    fn find_patient(&self, name: &str, dob: Date) -> Result<Option<Patient>, Value> {
        if let Some(p) = self.store.find_patient(name, dob).map_err(internal)? {
            return Ok(Some(p));
        }
        let born = self.store.patients_born_on(dob).map_err(internal)?;
        let mut near = born
            .into_iter()
            .filter(|p| sounds::same_name(name, &p.name));
        match (near.next(), near.next()) {
            (Some(p), None) => {
                log::info!("identity matched a record by the sound of the name");
                Ok(Some(p))
            }
            _ => Ok(None),
        }
    }

    fn free_slots(
        &self,
        d: &Doctor,
        date: Date,
        part: Option<PartOfDay>,
    ) -> Result<Vec<Time>, Value> {
        let now = self.clock.now();
        let slots = self.store.free_slots(d.id, date, now).map_err(internal)?;
        Ok(slots
            .into_iter()
            .filter(|t| part.is_none_or(|p| p.contains(*t)))
            .collect())
    }

    fn works_on(&self, d: &Doctor) -> Result<Vec<&'static str>, Value> {
        let mut days: Vec<&'static str> = Vec::new();
        for b in self.store.schedule(d.id).map_err(internal)? {
            if !days.contains(&b.weekday.name()) {
                days.push(b.weekday.name());
            }
        }
        Ok(days)
    }

    fn doctor_day(&self, d: &Doctor, date: Date, part: Option<PartOfDay>) -> Result<Value, Value> {
        Ok(json!({
            "doctor": d.title(),
            "speciality": d.speciality,
            "slots": times_json(&self.free_slots(d, date, part)?),
            "works_on": self.works_on(d)?,
        }))
    }

    fn check_availability(&mut self, a: &Args) -> Outcome {
        let date_text = a.required("date", "the day they would like")?;
        let date = self.resolve_day(&date_text)?;
        let said = dates::extract(&date_text);
        let (part, exact) = match a.text("time_of_day") {
            Some(t) => time_of_day(&t)?,
            None => (said.part, said.time),
        };
        let lookup = self.doctors(a.text("doctor").as_deref())?;
        let named = matches!(lookup, DoctorLookup::Named(_));
        let mut entries = Vec::new();
        for d in lookup.doctors() {
            let entry = self.doctor_day(d, date, part)?;
            let free = entry["slots"].as_array().is_some_and(|s| !s.is_empty());
            if free || named {
                entries.push(entry);
            }
        }
        let mut out = json!({ "date": date.to_string(), "day": date.spoken(), "doctors": entries });
        if let Some(p) = part {
            out["part_of_day"] = json!(p.name());
        }
        if let Some(t) = exact {
            let want = Value::String(t.to_string());
            let free = entries_have(&out["doctors"], &want);
            out["requested_time"] = want;
            out["requested_time_free"] = json!(free);
        }
        if !entries_any(&out["doctors"]) {
            for offset in 1..=NEXT_OPENING_DAYS {
                let day = date.add_days(offset);
                let mut found = Vec::new();
                for d in lookup.doctors() {
                    let slots = self.free_slots(d, day, part)?;
                    if !slots.is_empty() {
                        found.push(json!({ "doctor": d.title(), "speciality": d.speciality, "slots": times_json(&slots) }));
                    }
                }
                if !found.is_empty() {
                    out["next_available"] =
                        json!({ "date": day.to_string(), "day": day.spoken(), "doctors": found });
                    break;
                }
            }
        }
        Ok(out)
    }

    fn schedule_appointment(&mut self, a: &Args) -> Outcome {
        let name = a.required("patient_name", "their full name")?;
        check_name(&name)?;
        let dob = self.parse_birth_date(&a.required("date_of_birth", "their date of birth")?)?;
        let doctor_q = a.required("doctor", "which doctor or speciality")?;
        let date_text = a.required("date", "the day")?;
        let date = self.resolve_day(&date_text)?;
        let time = match a.text("time") {
            Some(t) => dates::parse_time(&t).map_err(|e| err("bad_time", e.to_string()))?,
            None => dates::extract(&date_text).time.ok_or_else(|| {
                err(
                    "missing_argument",
                    "time is missing; ask the caller what time",
                )
            })?,
        };
        let reason = a.required("reason", "the reason for the visit, in a few words")?;
        let phone = a.text("phone");
        if let Some(p) = &phone {
            check_phone(p)?;
        }
        if self.bookings >= MAX_BOOKINGS_PER_CALL {
            return Err(err(
                "booking_limit",
                format!(
                    "{MAX_BOOKINGS_PER_CALL} appointments is the most one call can book; \
                     offer to have the front desk help with more"
                ),
            ));
        }
        let lookup = self.doctors(Some(&doctor_q))?;
        let candidates = lookup.doctors();
        if matches!(lookup, DoctorLookup::Named(_)) && candidates.len() > 1 {
            let names: Vec<String> = candidates.iter().map(Doctor::title).collect();
            return Err(err(
                "ambiguous_doctor",
                format!(
                    "'{doctor_q}' matches {}; ask which one",
                    names.join(" and ")
                ),
            ));
        }
        let mut chosen = None;
        for d in candidates {
            if self.free_slots(d, date, None)?.contains(&time) {
                chosen = Some(d);
                break;
            }
        }
        // One doctor: try anyway, so the store explains exactly why it cannot be booked.
        let chosen = match (chosen, candidates) {
            (Some(d), _) => d,
            (None, [only]) => only,
            (None, _) => {
                let mut e = err(
                    "slot_taken",
                    format!(
                        "no {doctor_q} doctor is free at {} on {}",
                        time.spoken(),
                        date.spoken()
                    ),
                );
                let mut alts = Vec::new();
                for d in candidates {
                    alts.push(self.doctor_day(d, date, None)?);
                }
                e["alternatives"] = Value::Array(alts);
                return Err(e);
            }
        };
        let now = self.clock.now();
        // Whose booking: a record the caller proves with name and birth date, or, when they
        // say they are new, a record made with the booking. Nothing is verified or created yet.
        let booker = match self.store.find_patient(&name, dob).map_err(internal)? {
            Some(p) if a.flag("new_patient") => Booker::Patient(p),
            None if a.flag("new_patient") => {
                if self.new_patients >= MAX_NEW_PATIENTS_PER_CALL {
                    return Err(err(
                        "new_patient_limit",
                        "one call can register one new patient; the front desk can help with more",
                    ));
                }
                Booker::New(NewPatient {
                    name: title_case(&name),
                    date_of_birth: Some(dob),
                    phone,
                    ..NewPatient::default()
                })
            }
            _ => Booker::Patient(self.verify(&name, dob, NOT_VERIFIED_FOR_BOOKING)?),
        };
        let start = DateTime::new(date, time);
        if let Booker::Patient(patient) = &booker {
            // The same request again (a retried or re-run turn) finds the booking it made,
            // instead of reporting the caller's own slot as taken.
            let same = self
                .store
                .upcoming_appointments(patient.id, now)
                .map_err(internal)?
                .into_iter()
                .find(|x| x.start == start && candidates.iter().any(|d| d.id == x.doctor_id));
            if let Some(appt) = same {
                self.verified.insert(patient.id);
                return Ok(json!({
                    "booked": true,
                    "already_booked": true,
                    "appointment": appointment_json(&appt),
                    "patient": { "name": patient.name },
                }));
            }
        }
        let booked = match &booker {
            Booker::Patient(p) => self
                .store
                .book(p.id, chosen.id, start, &reason, now)
                .map(|appt| (p.clone(), appt)),
            Booker::New(new) => self
                .store
                .book_new_patient(new, chosen.id, start, &reason, now),
        };
        match booked {
            Ok((patient, appt)) => {
                // Verified (or registered) only now that the booking stands.
                self.verified.insert(patient.id);
                self.bookings += 1;
                if matches!(booker, Booker::New(_)) {
                    self.new_patients += 1;
                }
                Ok(json!({
                    "booked": true,
                    "appointment": appointment_json(&appt),
                    "patient": { "name": patient.name },
                }))
            }
            Err(e) => Err(self.booking_error(e, chosen, date)?),
        }
    }

    fn booking_error(&self, e: StoreError, d: &Doctor, date: Date) -> Result<Value, Value> {
        let (code, message) = match &e {
            StoreError::SlotTaken => ("slot_taken", "that time was just booked by someone else".to_string()),
            StoreError::PatientBusy => (
                "patient_busy",
                "the patient already has an appointment at that time".to_string(),
            ),
            StoreError::InPast(_) => ("past_time", "that time has already passed".to_string()),
            StoreError::OutsideSchedule => (
                "outside_schedule",
                format!("{} does not see patients at that time", d.title()),
            ),
            StoreError::OffGrid { slot_minutes, before, after } => (
                "off_grid",
                format!(
                    "{}'s appointments start every {slot_minutes} minutes; the nearest are {} and {}",
                    d.title(),
                    before.spoken(),
                    after.spoken()
                ),
            ),
            _ => return Err(internal(e)),
        };
        let mut out = err(code, message);
        out["alternatives"] = json!([self.doctor_day(d, date, None)?]);
        Ok(out)
    }

    fn cancel_appointment(&mut self, a: &Args) -> Outcome {
        let patient = self.identify(a)?;
        let now = self.clock.now();
        let upcoming = self
            .store
            .upcoming_appointments(patient.id, now)
            .map_err(internal)?;
        let listed = || Value::Array(upcoming.iter().map(appointment_json).collect());
        let target = if let Some(id_text) = a.text("appointment_id") {
            let id: i64 = id_text.trim_start_matches('#').parse().map_err(|_| {
                err(
                    "bad_arguments",
                    format!("appointment_id '{id_text}' is not a number"),
                )
            })?;
            id
        } else {
            let on = match a.text("date") {
                Some(t) => Some(
                    dates::resolve_date(&t, self.today())
                        .map_err(|e| err("bad_date", e.to_string()))?,
                ),
                None => None,
            };
            let by: Option<Vec<i64>> = match a.text("doctor") {
                Some(q) => Some(
                    self.doctors(Some(&q))?
                        .doctors()
                        .iter()
                        .map(|d| d.id)
                        .collect(),
                ),
                None => None,
            };
            let matching: Vec<&Appointment> = upcoming
                .iter()
                .filter(|x| on.is_none_or(|d| x.start.date == d))
                .filter(|x| by.as_ref().is_none_or(|ids| ids.contains(&x.doctor_id)))
                .collect();
            match matching.as_slice() {
                [one] => one.id,
                [] => {
                    let mut e = err(
                        "no_appointment",
                        "no upcoming appointment of this patient matches",
                    );
                    e["appointments"] = listed();
                    return Err(e);
                }
                _ => {
                    let mut e = err(
                        "ambiguous_appointment",
                        "several appointments match; ask which one, then pass its appointment_id",
                    );
                    e["appointments"] =
                        Value::Array(matching.iter().map(|x| appointment_json(x)).collect());
                    return Err(e);
                }
            }
        };
        match self.store.cancel(target, patient.id, now) {
            Ok(appt) => Ok(json!({ "cancelled": true, "appointment": appointment_json(&appt) })),
            Err(StoreError::NotFound(_)) => {
                let mut e = err(
                    "no_appointment",
                    format!("this patient has no appointment number {target}"),
                );
                e["appointments"] = listed();
                Err(e)
            }
            Err(StoreError::AlreadyCancelled) => Err(err(
                "already_cancelled",
                "that appointment is already cancelled",
            )),
            Err(StoreError::InPast(_)) => {
                Err(err("past_time", "that appointment has already taken place"))
            }
            Err(e) => Err(internal(e)),
        }
    }

    fn get_patient_info(&mut self, a: &Args) -> Outcome {
        let p = self.identify(a)?;
        let upcoming = self
            .store
            .upcoming_appointments(p.id, self.clock.now())
            .map_err(internal)?;
        Ok(json!({
            "patient": {
                "name": p.name,
                "date_of_birth": p.date_of_birth.to_string(),
                "phone": p.phone,
                "insurance": p.insurance,
                "notes": p.notes,
            },
            "upcoming_appointments": upcoming.iter().map(appointment_json).collect::<Vec<_>>(),
        }))
    }

    fn get_doctor_info(&mut self, a: &Args) -> Outcome {
        let lookup = self.doctors(a.text("doctor").as_deref())?;
        let all = self.store.doctors().map_err(internal)?;
        let mut doctors = Vec::new();
        for d in lookup.doctors() {
            let hours: Vec<Value> = self
                .store
                .schedule(d.id)
                .map_err(internal)?
                .iter()
                .map(|b| json!({ "day": b.weekday.name(), "from": b.start.to_string(), "to": b.end.to_string() }))
                .collect();
            doctors.push(json!({
                "doctor": d.title(),
                "speciality": d.speciality,
                "bio": d.bio,
                "languages": d.languages,
                "works_on": self.works_on(d)?,
                "hours": hours,
            }));
        }
        Ok(json!({ "doctors": doctors, "specialities": directory::specialities(&all) }))
    }
}

impl ToolSet for HospitalTools {
    fn specs(&self) -> Vec<ToolSpec> {
        super::schema::specs()
    }

    fn call(&mut self, name: &str, arguments: &str) -> Value {
        let args = match Args::parse(arguments) {
            Ok(a) => a,
            Err(e) => return e,
        };
        let result = match name {
            "check_availability" => self.check_availability(&args),
            "schedule_appointment" => self.schedule_appointment(&args),
            "cancel_appointment" => self.cancel_appointment(&args),
            "get_patient_info" => self.get_patient_info(&args),
            "get_doctor_info" => self.get_doctor_info(&args),
            other => Err(err(
                "unknown_tool",
                format!("there is no tool named '{other}'"),
            )),
        };
        result.unwrap_or_else(|e| e)
    }

    /// Lookups of doctors and free slots touch nothing. `get_patient_info` is not one of them:
    /// it verifies the caller, which is session state.
    fn is_read_only(&self, name: &str) -> bool {
        matches!(name, "check_availability" | "get_doctor_info")
    }
}
