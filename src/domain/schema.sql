CREATE TABLE IF NOT EXISTS doctors (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    speciality TEXT NOT NULL,
    bio TEXT NOT NULL,
    languages TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS schedules (
    id INTEGER PRIMARY KEY,
    doctor_id INTEGER NOT NULL REFERENCES doctors(id),
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    start_min INTEGER NOT NULL,
    end_min INTEGER NOT NULL CHECK (end_min > start_min AND end_min < 1440),
    slot_min INTEGER NOT NULL CHECK (slot_min > 0)
);
CREATE TABLE IF NOT EXISTS patients (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    date_of_birth TEXT NOT NULL,
    phone TEXT,
    insurance TEXT,
    notes TEXT,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS patients_identity ON patients (name_key, date_of_birth);
CREATE TABLE IF NOT EXISTS appointments (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    doctor_id INTEGER NOT NULL REFERENCES doctors(id),
    start TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('booked', 'cancelled')),
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL,
    cancelled_at TEXT
);
-- The rule behind 'no double booking': one booked appointment per doctor and start time.
CREATE UNIQUE INDEX IF NOT EXISTS one_booking_per_slot
    ON appointments (doctor_id, start) WHERE status = 'booked';
CREATE UNIQUE INDEX IF NOT EXISTS one_booking_per_patient_time
    ON appointments (patient_id, start) WHERE status = 'booked';
CREATE INDEX IF NOT EXISTS appointments_by_patient ON appointments (patient_id, start);
-- Failed identity checks, by the name they claimed, across calls: a guesser who hangs up and
-- calls again meets the same count.
CREATE TABLE IF NOT EXISTS verification_failures (
    name_key TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS verification_failures_by_name ON verification_failures (name_key, at);
