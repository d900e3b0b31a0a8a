//! Demo data for a new database: nine doctors across specialities with their weekly
//! schedules, two dozen patients, and appointments placed relative to the day of seeding
//! (so a fresh demo always has upcoming appointments to look up and cancel).

use rusqlite::{params, Connection, TransactionBehavior};

use super::calendar::{Date, DateTime, Time};
use super::model::{name_key, slots_in, Result, StoreError};
use super::tables::schedule_of;

/// (name, speciality, bio, languages, weekly blocks as (weekday Mon=0, "HH:MM", "HH:MM", slot minutes)).
type DoctorSeed = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [(u8, &'static str, &'static str, u32)],
);

const DOCTORS: &[DoctorSeed] = &[
    ("Priya Patel", "cardiology",
     "Consultant cardiologist with fifteen years of experience in heart rhythm problems and preventive heart care.",
     "English, Hindi, Gujarati",
     &[(0, "09:00", "12:00", 30), (0, "13:00", "17:00", 30), (1, "09:00", "12:00", 30),
       (1, "13:00", "17:00", 30), (3, "09:00", "13:00", 30)]),
    ("Marcus Okafor", "cardiology",
     "Interventional cardiologist who sees patients for chest pain and follow-ups after heart procedures.",
     "English, French",
     &[(2, "08:00", "12:00", 30), (4, "08:00", "12:00", 30), (4, "13:00", "16:00", 30)]),
    ("Emily Chen", "dermatology",
     "Dermatologist for skin, hair and nail conditions, including acne, eczema and mole checks.",
     "English, Mandarin",
     &[(0, "09:00", "12:00", 20), (0, "13:00", "16:00", 20), (2, "09:00", "12:00", 20),
       (2, "13:00", "16:00", 20), (4, "09:00", "12:00", 20)]),
    ("Sofia Garcia", "paediatrics",
     "Paediatrician caring for newborns to teenagers, including vaccinations and development checks.",
     "English, Spanish",
     &[(0, "08:00", "13:00", 20), (1, "08:00", "13:00", 20), (2, "08:00", "13:00", 20),
       (3, "08:00", "13:00", 20), (4, "08:00", "13:00", 20)]),
    ("James Wilson", "family medicine",
     "Family physician for check-ups, long-term conditions, vaccinations and referrals.",
     "English",
     &[(0, "09:00", "12:00", 30), (0, "13:00", "17:00", 30), (1, "09:00", "12:00", 30),
       (1, "13:00", "17:00", 30), (2, "09:00", "12:00", 30), (3, "09:00", "12:00", 30),
       (3, "13:00", "17:00", 30), (4, "09:00", "12:00", 30)]),
    ("Laura Rossi", "family medicine",
     "Family physician with a focus on women's health and prevention; runs the evening and Saturday clinics.",
     "English, Italian",
     &[(1, "13:00", "19:00", 30), (3, "13:00", "19:00", 30), (5, "09:00", "13:00", 30)]),
    ("Hannah Becker", "orthopaedics",
     "Orthopaedic surgeon for joint, knee, hip and sports injuries.",
     "English, German",
     &[(1, "10:00", "13:00", 30), (1, "14:00", "18:00", 30), (3, "10:00", "13:00", 30),
       (3, "14:00", "18:00", 30)]),
    ("Ahmed Hassan", "neurology",
     "Neurologist for headaches, migraines, epilepsy and nerve problems.",
     "English, Arabic, French",
     &[(0, "09:00", "15:00", 45), (2, "09:00", "15:00", 45)]),
    ("Kenji Tanaka", "ophthalmology",
     "Ophthalmologist for eye exams, cataracts and glaucoma.",
     "English, Japanese",
     &[(2, "09:00", "12:00", 30), (2, "13:00", "17:00", 30), (3, "09:00", "12:00", 30),
       (3, "13:00", "17:00", 30), (4, "09:00", "12:00", 30)]),
];

/// (name, date of birth, phone, insurance, notes).
const PATIENTS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "John Smith",
        "1985-03-04",
        "555-0101",
        "Blue Cross",
        "Allergic to penicillin.",
    ),
    (
        "Maria Gonzalez",
        "1972-11-19",
        "555-0102",
        "Aetna",
        "Type 2 diabetes.",
    ),
    ("David Kim", "1990-06-25", "555-0103", "Cigna", ""),
    (
        "Sarah Johnson",
        "1988-01-12",
        "555-0104",
        "UnitedHealthcare",
        "Asthma; uses an inhaler.",
    ),
    (
        "Michael Brown",
        "1965-08-30",
        "555-0105",
        "Medicare",
        "High blood pressure.",
    ),
    (
        "Emma Wilson",
        "2015-04-02",
        "555-0106",
        "Blue Cross",
        "Peanut allergy.",
    ),
    (
        "Robert Taylor",
        "1950-12-05",
        "555-0107",
        "Medicare",
        "Pacemaker fitted in 2019.",
    ),
    ("Aisha Rahman", "1993-09-14", "555-0108", "Aetna", ""),
    (
        "Luca Bianchi",
        "1979-02-27",
        "555-0109",
        "Self-pay",
        "Prefers Italian-speaking doctors.",
    ),
    (
        "Olivia Martin",
        "2019-07-21",
        "555-0110",
        "Cigna",
        "Eczema.",
    ),
    (
        "James O'Connor",
        "1982-05-16",
        "555-0111",
        "Blue Cross",
        "Knee surgery in 2021.",
    ),
    (
        "Chloe Dubois",
        "1998-10-03",
        "555-0112",
        "UnitedHealthcare",
        "",
    ),
    (
        "Wei Zhang",
        "1987-03-22",
        "555-0113",
        "Aetna",
        "Allergic to latex.",
    ),
    (
        "Fatima Ali",
        "1976-12-11",
        "555-0114",
        "Medicaid",
        "Migraines.",
    ),
    ("Noah Anderson", "2012-01-30", "555-0115", "Blue Cross", ""),
    (
        "Grace Lee",
        "1960-06-08",
        "555-0116",
        "Medicare",
        "Family history of glaucoma.",
    ),
    ("Daniel Novak", "1995-11-27", "555-0117", "Self-pay", ""),
    (
        "Isabella Rossi",
        "2001-08-19",
        "555-0118",
        "Cigna",
        "Allergic to sulfa drugs.",
    ),
    (
        "Samuel Okoye",
        "1970-04-04",
        "555-0119",
        "UnitedHealthcare",
        "High cholesterol.",
    ),
    ("Hannah Schmidt", "1989-02-14", "555-0120", "Aetna", ""),
    (
        "Carlos Mendez",
        "1958-09-09",
        "555-0121",
        "Medicare",
        "Type 2 diabetes; wears a hearing aid.",
    ),
    (
        "Yuki Sato",
        "1992-12-24",
        "555-0122",
        "Blue Cross",
        "Wears contact lenses.",
    ),
    ("Priya Nair", "1983-07-07", "555-0123", "Cigna", ""),
];

/// (patient, doctor, nth working day of that doctor counted from the seed day (negative:
/// in the past), slot index that day, reason, status).
const APPOINTMENTS: &[(&str, &str, i32, usize, &str, &str)] = &[
    (
        "John Smith",
        "Priya Patel",
        2,
        3,
        "follow-up on blood pressure",
        "booked",
    ),
    (
        "Maria Gonzalez",
        "James Wilson",
        1,
        2,
        "diabetes review",
        "booked",
    ),
    ("David Kim", "Emily Chen", 1, 4, "rash on the arm", "booked"),
    (
        "Sarah Johnson",
        "James Wilson",
        2,
        5,
        "asthma check",
        "booked",
    ),
    (
        "Michael Brown",
        "Marcus Okafor",
        1,
        1,
        "chest pain follow-up",
        "booked",
    ),
    ("Emma Wilson", "Sofia Garcia", 1, 0, "vaccination", "booked"),
    (
        "Robert Taylor",
        "Priya Patel",
        1,
        0,
        "pacemaker check",
        "booked",
    ),
    (
        "Luca Bianchi",
        "Laura Rossi",
        1,
        2,
        "annual check-up",
        "booked",
    ),
    (
        "Olivia Martin",
        "Sofia Garcia",
        2,
        3,
        "eczema follow-up",
        "booked",
    ),
    (
        "James O'Connor",
        "Hannah Becker",
        1,
        1,
        "knee pain",
        "booked",
    ),
    ("Wei Zhang", "Emily Chen", 3, 1, "mole check", "booked"),
    (
        "Fatima Ali",
        "Ahmed Hassan",
        1,
        2,
        "migraine follow-up",
        "booked",
    ),
    (
        "Grace Lee",
        "Kenji Tanaka",
        2,
        0,
        "glaucoma screening",
        "booked",
    ),
    (
        "Samuel Okoye",
        "Priya Patel",
        3,
        5,
        "cholesterol results",
        "booked",
    ),
    (
        "Carlos Mendez",
        "James Wilson",
        4,
        1,
        "diabetes review",
        "booked",
    ),
    ("Yuki Sato", "Kenji Tanaka", 1, 4, "eye exam", "booked"),
    (
        "Hannah Schmidt",
        "Hannah Becker",
        2,
        6,
        "back pain",
        "booked",
    ),
    (
        "John Smith",
        "James Wilson",
        5,
        0,
        "annual check-up",
        "booked",
    ),
    (
        "Chloe Dubois",
        "Emily Chen",
        2,
        2,
        "acne treatment",
        "cancelled",
    ),
    (
        "Noah Anderson",
        "Sofia Garcia",
        3,
        5,
        "sports physical",
        "cancelled",
    ),
    (
        "John Smith",
        "Priya Patel",
        -2,
        1,
        "heart palpitations",
        "booked",
    ),
    (
        "Maria Gonzalez",
        "Emily Chen",
        -1,
        0,
        "skin check",
        "booked",
    ),
    (
        "Aisha Rahman",
        "James Wilson",
        -3,
        2,
        "flu symptoms",
        "booked",
    ),
];

fn time(s: &str) -> Result<Time> {
    Time::parse_hhmm(s).ok_or_else(|| StoreError::Corrupt(format!("seed time {s}")))
}

/// Fill the database if it has no doctors yet, in one write transaction (so two processes
/// opening a new file at once cannot both seed it).
pub(crate) fn seed_if_empty(conn: &mut Connection, today: Date) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let doctors: i64 = tx.query_row("SELECT COUNT(*) FROM doctors", [], |r| r.get(0))?;
    if doctors > 0 {
        return Ok(());
    }
    let created = DateTime::new(today, time("08:00")?).to_string();
    for (name, speciality, bio, languages, blocks) in DOCTORS {
        tx.execute(
            "INSERT INTO doctors (name, speciality, bio, languages) VALUES (?1, ?2, ?3, ?4)",
            params![name, speciality, bio, languages],
        )?;
        let id = tx.last_insert_rowid();
        for (weekday, start, end, slot) in *blocks {
            tx.execute(
                "INSERT INTO schedules (doctor_id, weekday, start_min, end_min, slot_min)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    id,
                    weekday,
                    time(start)?.minutes(),
                    time(end)?.minutes(),
                    slot
                ],
            )?;
        }
    }
    for (name, dob, phone, insurance, notes) in PATIENTS {
        let notes = (!notes.is_empty()).then_some(*notes);
        tx.execute(
            "INSERT INTO patients (name, name_key, date_of_birth, phone, insurance, notes, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![name, name_key(name), dob, phone, insurance, notes, created],
        )?;
    }
    for (patient, doctor, nth, slot, reason, status) in APPOINTMENTS {
        let patient_id: i64 = tx.query_row(
            "SELECT id FROM patients WHERE name_key = ?1",
            [name_key(patient)],
            |r| r.get(0),
        )?;
        let doctor_id: i64 =
            tx.query_row("SELECT id FROM doctors WHERE name = ?1", [doctor], |r| {
                r.get(0)
            })?;
        let blocks = schedule_of(&tx, doctor_id)?;
        if blocks.is_empty() || *nth == 0 {
            continue;
        }
        // The nth day (after today, or before it when negative) on which the doctor works.
        let step = if *nth < 0 { -1 } else { 1 };
        let mut day = today;
        let mut found = 0;
        let mut slots = Vec::new();
        while found < nth.abs() {
            day = day.add_days(step);
            slots = slots_in(&blocks, day);
            if !slots.is_empty() {
                found += 1;
            }
        }
        // Non-empty: the loop above ran at least once and stopped on a working day.
        let start = DateTime::new(day, slots[slot % slots.len()]);
        // Unique indexes reject a clash between two seeds; skip that one quietly.
        tx.execute(
            "INSERT OR IGNORE INTO appointments (patient_id, doctor_id, start, status, reason, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![patient_id, doctor_id, start.to_string(), status, reason, created],
        )?;
    }
    tx.commit()?;
    log::info!("seeded the hospital database with demo data");
    Ok(())
}
