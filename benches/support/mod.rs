//! The pieces of the `event_path` benchmark, one file per concern.

pub mod baseline;
pub mod bigpage;
pub mod events;
pub mod ffi;
pub mod host;
pub mod http;
pub mod machine;
pub mod previous;
pub mod render;
pub mod report;
pub mod scaling;
pub mod scrape;
pub mod timing;
pub mod vicidial;

/// A progress line on stderr (stdout is left to cargo).
pub fn progress(msg: &str) {
    eprintln!("bench: {msg}");
}
