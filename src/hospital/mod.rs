//! The hospital receptionist: a SQLite store of doctors, schedules, patients and
//! appointments ([`store`], seeded by [`seed`]), spoken-date parsing against an injectable
//! clock ([`dates`]), the five tools an agent calls ([`tools`]) and the system prompt
//! ([`prompt`]).

pub mod calendar;
pub mod dates;
pub mod directory;
pub mod numbers;
pub mod prompt;
mod schema;
mod seed;
pub mod store;
pub mod tools;

pub use calendar::{Clock, Date, DateTime, FixedClock, SystemClock, Time, Weekday};
pub use prompt::system_prompt;
pub use store::{default_db_path, Store, StoreError};
pub use tools::HospitalTools;
