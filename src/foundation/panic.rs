//! What a caught panic said.

use std::any::Any;

/// The message of a panic payload (`panic!("...")` gives a `&str` or a `String`).
pub fn message(p: &(dyn Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
