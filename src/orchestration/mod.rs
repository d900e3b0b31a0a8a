//! Layer 4, the orchestration: the [`agent`] loop (history, tools, what an interruption leaves
//! behind) and the threaded [`pipeline`] that joins the providers into a realtime session.
//! It sees the providers only through their seams, and the domain not at all.

pub mod agent;
pub mod pipeline;
