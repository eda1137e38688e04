//! Checking a configuration without starting anything, for hosts that fork after reading their configuration.

use super::lifecycle::prom_rs_config;
use super::*;
use crate::config::ConfigBuilder;

/// Checks the keys of `cfg` that only make sense together (as `prom_rs_core_start` does first) without starting
/// anything: no thread, no port. For hosts that read their configuration in a process that must stay
/// single-threaded and start the core later in another (Kamailio, OpenSIPS), so a bad configuration still stops the
/// host at startup. Also checks that the files the configuration names can be used (`trace_file` can be opened for
/// appending). Returns `PROM_RS_ERR_CONFIG` and a message that begins with `key "KEY": ` when it would be refused;
/// KEY is one the configuration sets, so a host can point at its line.
#[no_mangle]
pub extern "C" fn prom_rs_config_check(cfg: *const prom_rs_config) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `cfg` to be NULL or a live configuration handle that is only read meanwhile;
        // such a handle is a leaked `Box<ConfigBuilder>`.
        let b = try_ffi!(unsafe { arg_ref(cfg.cast::<ConfigBuilder>(), "cfg") });
        match b.finish().and_then(|c| c.check_files()) {
            Ok(()) => PROM_RS_OK,
            Err(e) => fail(PROM_RS_ERR_CONFIG, e.to_string()),
        }
    }
}
