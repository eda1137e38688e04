//! res_prom_rs: a Prometheus exporter that runs inside the VoIP server.
//!
//! The host (an Asterisk module shim, or an OpenSIPS/Kamailio-style host) reports events and statistics through the
//! C ABI in [`ffi`]; the [`model`] turns them into metric families held in the lock-free [`registry`]; the [`http`]
//! thread renders them on scrape without ever calling back into the host.
//!
//! Lints are set in Cargo.toml's `[lints]`: `unsafe_code` is denied, and allowed only on [`ffi`] below, where every
//! `unsafe` block must say why it is sound.

pub mod config;
pub mod core;
pub mod event;
#[allow(unsafe_code)]
#[warn(clippy::undocumented_unsafe_blocks)]
pub mod ffi;
pub mod http;
pub mod log;
pub mod model;
pub mod registry;
pub mod selfmetrics;
pub mod stats;
pub mod status;
mod sync;
pub mod trace;
pub mod vicidial;
