//! Layer 3, the domain: the hospital receptionist. A SQLite store of doctors, weekly schedules, patients and
//! appointments ([`store`], its records in [`model`], demo data seeded on first use),
//! spoken dates and times resolved against an injectable clock ([`dates`], [`calendar`]),
//! doctor lookup by name or speciality ([`directory`]), names compared by their sounds
//! ([`sounds`]), the five tools an agent calls
//! ([`tools`]), the system prompt for a language model ([`prompt`]), and the built-in rule-based
//! receptionist that stands in for one offline ([`brain`]). It implements the seams
//! (`ToolSet`, `ChatModel`) and knows nothing of the pipeline.
//!
//! ```no_run
//! use std::sync::Arc;
//! use voice_agent::domain::{default_db_path, HospitalTools, Store, SystemClock};
//!
//! let store = Store::open(&default_db_path())?; // shared by every session
//! let tools = HospitalTools::new(store.clone(), Arc::new(SystemClock)); // one per session
//! # Ok::<(), voice_agent::domain::StoreError>(())
//! ```

pub mod brain;
pub mod calendar;
pub mod dates;
pub mod directory;
pub mod model;
pub mod numbers;
pub mod prompt;
mod schema;
mod seed;
pub mod sounds;
pub mod store;
mod tables;
pub mod tools;

pub use calendar::{Clock, Date, DateTime, FixedClock, SystemClock, Time, Weekday};
pub use prompt::system_prompt;
pub use store::{default_db_path, Store, StoreError};
pub use tools::HospitalTools;
