//! Health of collectors the host runs itself (a Kamailio shim sampling counters and RPCs on its own thread):
//! `prom_rs_collector_report`.

use super::lifecycle::{core_ref, prom_rs_core};
use super::*;

/// Reports one attempt of collector `name`, which the host runs on a thread of its own (for example the Kamailio
/// module sampling Kamailio's counters and RPCs): `ok` non-zero when it worked, `duration_seconds` how long it took.
/// The page then shows `prom_rs_collector_up{collector="<name>"}` (1 while the last attempt worked and is at most
/// three sample intervals old), `prom_rs_collector_last_success_timestamp_seconds` and
/// `prom_rs_collector_duration_seconds`. `name`: 1 to 32 characters of `a-z`, `0-9` and `_`, not `sampler` or a
/// poller's name; at most 8 names per core. Any thread may call it.
#[no_mangle]
pub extern "C" fn prom_rs_collector_report(
    core: *const prom_rs_core,
    name: *const c_char,
    ok: i32,
    duration_seconds: f64,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`.
        let core = try_ffi!(unsafe { core_ref(core) });
        // SAFETY: the header requires `name` to be NULL or NUL-terminated and unchanged during the call.
        let name = try_ffi!(unsafe { arg_str(name, "name") });
        match core.collector_report(name, ok != 0, duration_seconds) {
            Ok(()) => PROM_RS_OK,
            Err(msg) => fail(PROM_RS_ERR_INVALID, msg),
        }
    }
}
