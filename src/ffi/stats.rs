//! Host statistics (OpenSIPS/Kamailio-style hosts), trace replay, and the test-only panic switch.

use super::lifecycle::{core_ref, prom_rs_core};
use super::*;
use crate::collect::host_stats::{StatKind, StatUpdate, MAX_LABELS};

/// The shared body of `prom_rs_stat_set`/`_add`; its parameters mirror the C signature.
///
/// # Safety
///
/// The header's contract for those two: `core` is NULL or a live core handle; `group` and `name` are NULL or
/// NUL-terminated strings; when `n_labels > 0`, `label_names` and `label_values` are NULL or arrays of `n_labels`
/// such strings each; all unchanged until the call returns.
#[allow(clippy::too_many_arguments)]
unsafe fn stat(
    core: *const prom_rs_core,
    group: *const c_char,
    name: *const c_char,
    kind: i32,
    value: f64,
    label_names: *const *const c_char,
    label_values: *const *const c_char,
    n_labels: usize,
    add: bool,
) -> prom_rs_result {
    // SAFETY: `core` is as this function's contract says, which is what `core_ref` requires.
    let core = try_ffi!(unsafe { core_ref(core) });
    // SAFETY: as this function's contract says, which is what `arg_str` requires.
    let group = try_ffi!(unsafe { arg_str(group, "group") });
    // SAFETY: as for `group`.
    let name = try_ffi!(unsafe { arg_str(name, "name") });
    let kind = match kind {
        0 => StatKind::Auto,
        1 => StatKind::Counter,
        2 => StatKind::Gauge,
        k => {
            return fail(
                PROM_RS_ERR_INVALID,
                format!("statistic kind {k} is not 0 (auto), 1 (counter) or 2 (gauge)"),
            )
        }
    };
    if n_labels > MAX_LABELS {
        return fail(
            PROM_RS_ERR_INVALID,
            format!("n_labels {n_labels} is more than {MAX_LABELS}"),
        );
    }
    let mut labels: [(&str, &str); MAX_LABELS] = [("", ""); MAX_LABELS];
    if n_labels > 0 {
        if label_names.is_null() || label_values.is_null() {
            return fail(
                PROM_RS_ERR_NULL,
                "label_names and label_values may not be NULL when n_labels > 0",
            );
        }
        for (i, slot) in labels.iter_mut().enumerate().take(n_labels) {
            // SAFETY: both arrays are non-NULL and this function's contract has them hold `n_labels` pointers each;
            // `i` is below `n_labels`.
            let (n, v) = unsafe { (*label_names.add(i), *label_values.add(i)) };
            // SAFETY: this function's contract makes every element NULL or a NUL-terminated string.
            *slot = unsafe {
                (
                    try_ffi!(arg_str(n, "label_names[i]")),
                    try_ffi!(arg_str(v, "label_values[i]")),
                )
            };
        }
    }
    let u = StatUpdate {
        group,
        name,
        kind,
        labels: &labels[..n_labels],
    };
    match core.stat(&u, value, add) {
        Ok(()) => PROM_RS_OK,
        Err(msg) => fail(PROM_RS_ERR_INVALID, msg),
    }
}

/// Sets statistic `group`/`name` to `value`. `kind`: 0 auto (counter when the name ends in `_total`, `_seconds` or
/// `_bytes`), 1 counter, 2 gauge. `label_names`/`label_values` hold `n_labels` strings each (at most 8; NULL when
/// `n_labels` is 0). The exported name follows `stats.prefix` and `stats.group_mode`; statistics not selected by
/// `stats.statistics` are accepted and ignored.
#[no_mangle]
pub extern "C" fn prom_rs_stat_set(
    core: *const prom_rs_core,
    group: *const c_char,
    name: *const c_char,
    kind: i32,
    value: f64,
    label_names: *const *const c_char,
    label_values: *const *const c_char,
    n_labels: usize,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header's contract for this call is the one `stat` states.
        unsafe { stat(core, group, name, kind, value, label_names, label_values, n_labels, false) }
    }
}

/// Adds `delta` to a statistic (see `prom_rs_stat_set`); counters refuse negative deltas.
#[no_mangle]
pub extern "C" fn prom_rs_stat_add(
    core: *const prom_rs_core,
    group: *const c_char,
    name: *const c_char,
    kind: i32,
    delta: f64,
    label_names: *const *const c_char,
    label_values: *const *const c_char,
    n_labels: usize,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header's contract for this call is the one `stat` states.
        unsafe { stat(core, group, name, kind, delta, label_names, label_values, n_labels, true) }
    }
}

/// Parses one line of a trace file (as written with `trace_file`) and applies the event it records. Blank lines and
/// `#` comments are accepted and ignored. A malformed line returns `PROM_RS_ERR_INVALID` with the reason.
#[no_mangle]
pub extern "C" fn prom_rs_trace_apply(
    core: *const prom_rs_core,
    line: *const c_char,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`.
        let core = try_ffi!(unsafe { core_ref(core) });
        // SAFETY: the header requires `line` to be NULL or NUL-terminated and unchanged during the call.
        let line = try_ffi!(unsafe { arg_str(line, "line") });
        match crate::trace::decode(line, |ev| core.dispatch(&ev)) {
            Ok(None) | Ok(Some(Ok(()))) => PROM_RS_OK,
            Ok(Some(Err(msg))) | Err(msg) => fail(PROM_RS_ERR_INVALID, msg),
        }
    }
}

/// Test-only (built with the `fault-injection` feature): panics inside the core, to prove the panic comes back as
/// `PROM_RS_ERR_PANIC` instead of aborting the host.
#[cfg(feature = "fault-injection")]
#[no_mangle]
pub extern "C" fn prom_rs_test_inject_panic(core: *const prom_rs_core) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`.
        let _core = try_ffi!(unsafe { core_ref(core) });
        panic!("fault injection: deliberate panic");
    }
}
