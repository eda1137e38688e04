//! res_prom_rs: a Prometheus exporter that runs inside the VoIP server.
//!
//! The host (an Asterisk module shim, or an OpenSIPS/Kamailio-style host) reports events and statistics through the
//! C ABI in [`ffi`]; the collectors in [`collect`] turn them (and what the pollers read) into metric families held in
//! the lock-free [`registry`]; the [`http`] thread renders them on scrape without ever calling back into the host.
//!
//! Layers, lowest first (a module only uses the ones before it): [`sync`](crate), [`log`], [`clock`], [`worker`],
//! [`registry`], [`config`], [`event`], [`trace`], [`status`], [`collect`], [`http`], [`core`], [`ffi`].
//!
//! Lints are set in Cargo.toml's `[lints]`: `unsafe_code` is denied, and allowed only on [`ffi`] below, where every
//! `unsafe` block must say why it is sound.

pub mod clock;
pub mod collect;
pub mod config;
pub mod core;
pub mod event;
#[allow(unsafe_code)]
#[warn(clippy::undocumented_unsafe_blocks)]
pub mod ffi;
pub mod http;
pub mod log;
pub mod registry;
pub mod status;
mod sync;
pub mod trace;
pub mod worker;

/// Version of the C ABI, reported by `prom_rs_abi_version()` and `prom_rs_build_info`. A shim built against header
/// version N refuses a core that reports another number. The header defines the same number (cbindgen.toml
/// `after_includes`); a test keeps the two equal.
pub const ABI_VERSION: u32 = 1;
