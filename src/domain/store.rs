//! The hospital database: doctors, weekly schedules, patients and appointments in SQLite.
//!
//! One connection behind a mutex per `Store` handle: SQLite admits one writer at a time
//! anyway, every call here takes microseconds, and an in-memory database only exists on
//! its one connection. Clones share that connection, so every session of one server sees
//! the same data. Several handles or processes on one file stay correct too: WAL, a busy
//! timeout, `BEGIN IMMEDIATE` around bookings and a UNIQUE partial index on booked
//! (doctor, start) mean two callers racing for one slot cannot both win.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::calendar::{Clock, Date, DateTime, SystemClock, Time};
use super::model::check_on_grid;
pub use super::model::{
    name_key, slots_in, Appointment, Doctor, NewPatient, Patient, Result, ScheduleBlock, Status,
    StoreError,
};
use super::tables::schedule_of;

/// `$XDG_DATA_HOME/voice-agent/hospital.sqlite`, else `~/.local/share/voice-agent/...`,
/// else `./hospital.sqlite`. The folder is created when possible (`Store::open` creates it
/// too and reports the error).
pub fn default_db_path() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")));
    match base {
        Some(base) => {
            let dir = base.join("voice-agent");
            if let Err(e) = std::fs::create_dir_all(&dir) {
                log::warn!("cannot create {}: {e}", dir.display());
            }
            dir.join("hospital.sqlite")
        }
        None => PathBuf::from("hospital.sqlite"),
    }
}

/// Tables and indexes; the partial unique index on booked (doctor, start) is what makes
/// double booking impossible whatever the caller does.
const SCHEMA: &str = include_str!("schema.sql");

const SCHEMA_VERSION: i64 = 2;

/// The hospital database. Cheap to clone; clones share one connection.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
    /// Open (creating, migrating and seeding if empty) the database file at `path`. Seeded
    /// appointments are placed relative to today's date.
    pub fn open(path: &Path) -> Result<Store> {
        Self::open_seeded_at(path, SystemClock.today())
    }

    /// Like [`Store::open`], with seeded appointments placed relative to `today`.
    pub fn open_seeded_at(path: &Path, today: Date) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(path)?;
        // WAL lets readers run beside the writer; the busy timeout makes a second handle on
        // the same file wait for the write lock instead of failing.
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        Self::init(conn, today)
    }

    /// A private in-memory database, seeded relative to today (tests, demos).
    pub fn open_in_memory() -> Result<Store> {
        Self::open_in_memory_seeded_at(SystemClock.today())
    }

    /// A private in-memory database, seeded relative to `today`.
    pub fn open_in_memory_seeded_at(today: Date) -> Result<Store> {
        Self::init(Connection::open_in_memory()?, today)
    }

    fn init(conn: Connection, today: Date) -> Result<Store> {
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "foreign_keys", true)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version < SCHEMA_VERSION {
            conn.execute_batch(SCHEMA)?;
            conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        }
        let store = Store {
            conn: Arc::new(Mutex::new(conn)),
        };
        super::seed::seed_if_empty(&mut store.lock(), today)?;
        Ok(store)
    }

    /// The connection. A panic elsewhere while holding it cannot leave a transaction open
    /// (rusqlite rolls back on drop), so a poisoned lock is safe to take over.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn doctors(&self) -> Result<Vec<Doctor>> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare("SELECT id, name, speciality, bio, languages FROM doctors ORDER BY id")?;
        let rows = stmt.query_map([], doctor_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn doctor(&self, id: i64) -> Result<Option<Doctor>> {
        let conn = self.lock();
        let sql = "SELECT id, name, speciality, bio, languages FROM doctors WHERE id = ?1";
        Ok(conn.query_row(sql, [id], doctor_row).optional()?)
    }

    /// The doctor's weekly schedule, by weekday then start.
    pub fn schedule(&self, doctor_id: i64) -> Result<Vec<ScheduleBlock>> {
        schedule_of(&self.lock(), doctor_id)
    }

    /// Every slot start on `date` (booked or not).
    pub fn slots_on(&self, doctor_id: i64, date: Date) -> Result<Vec<Time>> {
        let blocks = self.schedule(doctor_id)?;
        Ok(slots_in(&blocks, date))
    }

    /// Slot starts on `date` that are free and after `now`.
    pub fn free_slots(&self, doctor_id: i64, date: Date, now: DateTime) -> Result<Vec<Time>> {
        let slots = self.slots_on(doctor_id, date)?;
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT start FROM appointments
             WHERE doctor_id = ?1 AND status = 'booked' AND start >= ?2 AND start < ?3",
        )?;
        // Stored starts are "YYYY-MM-DD HH:MM", so day strings bound one day.
        let (from, to) = (date.to_string(), date.add_days(1).to_string());
        let taken: Vec<String> = stmt
            .query_map(params![doctor_id, from, to], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(slots
            .into_iter()
            .filter(|t| DateTime::new(date, *t) > now)
            .filter(|t| !taken.contains(&DateTime::new(date, *t).to_string()))
            .collect())
    }

    /// How many patient records there are.
    pub fn patient_count(&self) -> Result<usize> {
        let n: i64 = self
            .lock()
            .query_row("SELECT COUNT(*) FROM patients", [], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// The patient with this name and date of birth, if any.
    pub fn find_patient(&self, name: &str, date_of_birth: Date) -> Result<Option<Patient>> {
        let conn = self.lock();
        let sql = "SELECT id, name, date_of_birth, phone, insurance, notes FROM patients
                   WHERE name_key = ?1 AND date_of_birth = ?2";
        let found = conn.query_row(
            sql,
            params![name_key(name), date_of_birth.to_string()],
            patient_row,
        );
        Ok(found.optional()?)
    }

    /// Every patient born on `date_of_birth` (a name heard slightly wrong is checked against
    /// these only).
    pub fn patients_born_on(&self, date_of_birth: Date) -> Result<Vec<Patient>> {
        let conn = self.lock();
        let sql = "SELECT id, name, date_of_birth, phone, insurance, notes FROM patients
                   WHERE date_of_birth = ?1 ORDER BY id";
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt.query_map([date_of_birth.to_string()], patient_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    pub fn patient(&self, id: i64) -> Result<Option<Patient>> {
        let conn = self.lock();
        let sql =
            "SELECT id, name, date_of_birth, phone, insurance, notes FROM patients WHERE id = ?1";
        Ok(conn.query_row(sql, [id], patient_row).optional()?)
    }

    /// The existing patient with this name and birth date, or a new record.
    pub fn find_or_create_patient(&self, new: &NewPatient, now: DateTime) -> Result<Patient> {
        let dob = new
            .date_of_birth
            .ok_or(StoreError::NotFound("date of birth"))?;
        if let Some(p) = self.find_patient(&new.name, dob)? {
            return Ok(p);
        }
        Ok(patient_in(&self.lock(), new, dob, now)?)
    }

    /// Book `start` with the doctor for the patient. Checks, in one write transaction: the
    /// time is in the future, inside the doctor's schedule and on its slot grid, and neither
    /// the slot nor the patient is taken (the unique indexes back this up across processes).
    pub fn book(
        &self,
        patient_id: i64,
        doctor_id: i64,
        start: DateTime,
        reason: &str,
        now: DateTime,
    ) -> Result<Appointment> {
        if start <= now {
            return Err(StoreError::InPast(start));
        }
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let appt = book_in(&tx, patient_id, doctor_id, start, reason, now)?;
        tx.commit()?;
        log::info!(
            "booked appointment {}: doctor {doctor_id} at {start}",
            appt.id
        );
        Ok(appt)
    }

    /// Make the record of a new patient and book for them, in one transaction: when the
    /// booking fails, no record is left behind. A record with the same name and birth date
    /// is theirs already, and is used.
    pub fn book_new_patient(
        &self,
        new: &NewPatient,
        doctor_id: i64,
        start: DateTime,
        reason: &str,
        now: DateTime,
    ) -> Result<(Patient, Appointment)> {
        let dob = new
            .date_of_birth
            .ok_or(StoreError::NotFound("date of birth"))?;
        if start <= now {
            return Err(StoreError::InPast(start));
        }
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let patient = patient_in(&tx, new, dob, now)?;
        let appt = book_in(&tx, patient.id, doctor_id, start, reason, now)?;
        tx.commit()?;
        log::info!("booked appointment {} for a new patient", appt.id);
        Ok((patient, appt))
    }

    /// Note a failed identity check of the name `name` at `at`.
    pub fn record_failed_verification(&self, name: &str, at: DateTime) -> Result<()> {
        self.lock().execute(
            "INSERT INTO verification_failures (name_key, at) VALUES (?1, ?2)",
            params![name_key(name), at.to_string()],
        )?;
        Ok(())
    }

    /// Failed identity checks of the name `name` since `since`, from any call.
    pub fn failed_verifications_since(&self, name: &str, since: DateTime) -> Result<u32> {
        Ok(self.lock().query_row(
            "SELECT COUNT(*) FROM verification_failures WHERE name_key = ?1 AND at >= ?2",
            params![name_key(name), since.to_string()],
            |r| r.get(0),
        )?)
    }

    /// Forget the failed checks of `name` (its owner just passed one).
    pub fn clear_failed_verifications(&self, name: &str) -> Result<()> {
        self.lock().execute(
            "DELETE FROM verification_failures WHERE name_key = ?1",
            params![name_key(name)],
        )?;
        Ok(())
    }

    /// Cancel the patient's upcoming appointment. Another patient's appointment id reads as
    /// not found, so a guessed id reveals nothing.
    pub fn cancel(
        &self,
        appointment_id: i64,
        patient_id: i64,
        now: DateTime,
    ) -> Result<Appointment> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let appt = appointment_by_id(&tx, appointment_id)?
            .filter(|a| a.patient_id == patient_id)
            .ok_or(StoreError::NotFound("appointment"))?;
        if appt.status == Status::Cancelled {
            return Err(StoreError::AlreadyCancelled);
        }
        if appt.start <= now {
            return Err(StoreError::InPast(appt.start));
        }
        tx.execute(
            "UPDATE appointments SET status = 'cancelled', cancelled_at = ?2 WHERE id = ?1",
            params![appointment_id, now.to_string()],
        )?;
        let appt =
            appointment_by_id(&tx, appointment_id)?.ok_or(StoreError::NotFound("appointment"))?;
        tx.commit()?;
        log::info!("cancelled appointment {appointment_id}");
        Ok(appt)
    }

    pub fn appointment(&self, id: i64) -> Result<Option<Appointment>> {
        appointment_by_id(&self.lock(), id)
    }

    /// The patient's booked appointments starting after `from`, soonest first.
    pub fn upcoming_appointments(
        &self,
        patient_id: i64,
        from: DateTime,
    ) -> Result<Vec<Appointment>> {
        let conn = self.lock();
        let sql = format!(
            "{APPOINTMENT_SELECT} WHERE a.patient_id = ?1 AND a.status = 'booked' AND a.start > ?2
             ORDER BY a.start"
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(params![patient_id, from.to_string()], appointment_row)?;
        rows.map(|r| r?).collect()
    }

    /// Booked appointments of a doctor on one day (tests and staff views).
    pub fn doctor_appointments(&self, doctor_id: i64, date: Date) -> Result<Vec<Appointment>> {
        let conn = self.lock();
        let sql = format!(
            "{APPOINTMENT_SELECT} WHERE a.doctor_id = ?1 AND a.status = 'booked'
             AND a.start >= ?2 AND a.start < ?3 ORDER BY a.start"
        );
        let mut stmt = conn.prepare(&sql)?;
        let range = params![doctor_id, date.to_string(), date.add_days(1).to_string()];
        let rows = stmt.query_map(range, appointment_row)?;
        rows.map(|r| r?).collect()
    }
}

const APPOINTMENT_SELECT: &str = "SELECT a.id, a.patient_id, a.doctor_id, d.name, d.speciality,
    a.start, a.status, a.reason FROM appointments a JOIN doctors d ON d.id = a.doctor_id";

fn map_unique(e: rusqlite::Error) -> StoreError {
    let text = e.to_string();
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) if text.contains("patient_id") => {
            StoreError::PatientBusy
        }
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::SlotTaken,
        _ => StoreError::Sql(e),
    }
}

fn doctor_row(r: &Row<'_>) -> rusqlite::Result<Doctor> {
    let languages: String = r.get(4)?;
    Ok(Doctor {
        id: r.get(0)?,
        name: r.get(1)?,
        speciality: r.get(2)?,
        bio: r.get(3)?,
        languages: languages
            .split(',')
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect(),
    })
}

fn patient_row(r: &Row<'_>) -> rusqlite::Result<Patient> {
    let dob: String = r.get(2)?;
    let date_of_birth = Date::parse_iso(&dob).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, dob.into())
    })?;
    Ok(Patient {
        id: r.get(0)?,
        name: r.get(1)?,
        date_of_birth,
        phone: r.get(3)?,
        insurance: r.get(4)?,
        notes: r.get(5)?,
    })
}

/// A row, or `Corrupt` when a stored start time or status does not parse.
fn appointment_row(r: &Row<'_>) -> rusqlite::Result<Result<Appointment>> {
    let start: String = r.get(5)?;
    let status: String = r.get(6)?;
    let Some(start) = DateTime::parse(&start) else {
        return Ok(Err(StoreError::Corrupt(format!(
            "appointment start '{start}'"
        ))));
    };
    let status = match status.as_str() {
        "booked" => Status::Booked,
        "cancelled" => Status::Cancelled,
        other => return Ok(Err(StoreError::Corrupt(format!("status '{other}'")))),
    };
    Ok(Ok(Appointment {
        id: r.get(0)?,
        patient_id: r.get(1)?,
        doctor_id: r.get(2)?,
        doctor_name: r.get(3)?,
        speciality: r.get(4)?,
        start,
        status,
        reason: r.get(7)?,
    }))
}

/// The checks and the insert of a booking, inside the caller's write transaction.
/// The record with this name and birth date, made now unless it exists (a concurrent call may
/// have made it since the caller looked).
fn patient_in(
    conn: &Connection,
    new: &NewPatient,
    dob: Date,
    now: DateTime,
) -> rusqlite::Result<Patient> {
    conn.execute(
        "INSERT INTO patients (name, name_key, date_of_birth, phone, insurance, notes, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (name_key, date_of_birth) DO NOTHING",
        params![
            new.name.trim(),
            name_key(&new.name),
            dob.to_string(),
            new.phone,
            new.insurance,
            new.notes,
            now.to_string()
        ],
    )?;
    conn.query_row(
        "SELECT id, name, date_of_birth, phone, insurance, notes FROM patients
         WHERE name_key = ?1 AND date_of_birth = ?2",
        params![name_key(&new.name), dob.to_string()],
        patient_row,
    )
}

fn book_in(
    tx: &Connection,
    patient_id: i64,
    doctor_id: i64,
    start: DateTime,
    reason: &str,
    now: DateTime,
) -> Result<Appointment> {
    let exists = |table: &str, id: i64| -> Result<bool> {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE id = ?1)");
        Ok(tx.query_row(&sql, [id], |r| r.get(0))?)
    };
    if !exists("doctors", doctor_id)? {
        return Err(StoreError::NotFound("doctor"));
    }
    if !exists("patients", patient_id)? {
        return Err(StoreError::NotFound("patient"));
    }
    check_on_grid(&schedule_of(tx, doctor_id)?, start)?;
    let taken: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM appointments
         WHERE status = 'booked' AND start = ?2 AND (doctor_id = ?1 OR patient_id = ?3))",
        params![doctor_id, start.to_string(), patient_id],
        |r| r.get(0),
    )?;
    if taken {
        let doctor_busy: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM appointments
             WHERE status = 'booked' AND start = ?2 AND doctor_id = ?1)",
            params![doctor_id, start.to_string()],
            |r| r.get(0),
        )?;
        return Err(if doctor_busy {
            StoreError::SlotTaken
        } else {
            StoreError::PatientBusy
        });
    }
    let inserted = tx.execute(
        "INSERT INTO appointments (patient_id, doctor_id, start, status, reason, created_at)
         VALUES (?1, ?2, ?3, 'booked', ?4, ?5)",
        params![
            patient_id,
            doctor_id,
            start.to_string(),
            reason.trim(),
            now.to_string()
        ],
    );
    if let Err(e) = inserted {
        return Err(map_unique(e));
    }
    let id = tx.last_insert_rowid();
    appointment_by_id(tx, id)?.ok_or(StoreError::NotFound("appointment"))
}

fn appointment_by_id(conn: &Connection, id: i64) -> Result<Option<Appointment>> {
    let sql = format!("{APPOINTMENT_SELECT} WHERE a.id = ?1");
    conn.query_row(&sql, [id], appointment_row)
        .optional()?
        .transpose()
}
