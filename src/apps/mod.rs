//! Layer 5, the apps: what a user runs. [`compose`] picks the providers from flags and the
//! environment (the composition root); [`console`] shows a session in the terminal; [`mic`]
//! talks through the sound card ([`device`]); [`server`] serves the browser page; [`bench`]
//! measures it all, [`soak`] puts the server through abuse and faults, and [`eval`] scores a
//! brain on the receptionist corpus. Nothing below
//! imports from here.

pub mod bench;
pub mod compose;
pub mod console;
pub mod device;
pub mod eval;
pub mod mic;
pub mod server;
pub mod soak;
