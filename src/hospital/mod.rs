//! The hospital receptionist: a SQLite store of doctors, schedules, patients and
//! appointments, spoken-date parsing, and the tools an agent calls.

pub mod calendar;
pub mod dates;
pub mod numbers;
