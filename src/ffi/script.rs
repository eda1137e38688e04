//! Metrics of the host's routing script (Kamailio's `prom_rs_counter_inc` ...): the host keeps the values in its
//! own store (shared memory, updated by every worker process) and, every sample interval, sets them here.
//!
//! Life of a family: `prom_rs_script_check` while the host parses its configuration (a bad declaration stops the
//! host at startup), `prom_rs_script_declare` once per started core (it returns the family's index), then
//! `prom_rs_script_set` / `prom_rs_script_set_histogram` per series every sample, `prom_rs_script_remove` when the
//! host's store drops an idle series, and `prom_rs_script_dropped` with the running total of series the host's
//! store refused at its cap.

use super::lifecycle::{core_ref, prom_rs_core};
use super::*;
use crate::collect::script::{
    check, ScriptDecl, ScriptKind, MAX_SCRIPT_BUCKETS, MAX_SCRIPT_LABELS,
};

/// Borrows `n` strings from a C array.
///
/// # Safety
///
/// When `n > 0`, `p` is NULL or points to `n` pointers, each NULL or a NUL-terminated string, all unchanged for `'a`.
unsafe fn arg_strs<'a>(
    p: *const *const c_char,
    n: usize,
    name: &str,
) -> Result<([&'a str; MAX_SCRIPT_LABELS], usize), prom_rs_result> {
    let mut out = [""; MAX_SCRIPT_LABELS];
    if n > MAX_SCRIPT_LABELS {
        return Err(fail(
            PROM_RS_ERR_INVALID,
            format!("{name}: {n} strings, at most {MAX_SCRIPT_LABELS}"),
        ));
    }
    if n == 0 {
        return Ok((out, 0));
    }
    if p.is_null() {
        return Err(fail(
            PROM_RS_ERR_NULL,
            format!("{name} is NULL with a count of {n}"),
        ));
    }
    for (i, slot) in out.iter_mut().enumerate().take(n) {
        // SAFETY: `p` is non-NULL and this function's contract has it hold `n` pointers; `i < n`.
        let s = unsafe { *p.add(i) };
        // SAFETY: this function's contract makes every element NULL or a NUL-terminated string valid for `'a`.
        *slot = unsafe { arg_str(s, name) }?;
    }
    Ok((out, n))
}

/// Borrows `n` values from a C array.
///
/// # Safety
///
/// When `n > 0`, `p` is NULL or points to `n` readable `T`, unchanged for `'a`.
unsafe fn arg_slice<'a, T>(p: *const T, n: usize, name: &str) -> Result<&'a [T], prom_rs_result> {
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(fail(
            PROM_RS_ERR_NULL,
            format!("{name} is NULL with a count of {n}"),
        ));
    }
    // SAFETY: non-NULL, and this function's contract gives `n` readable, unchanging elements for `'a`.
    Ok(unsafe { std::slice::from_raw_parts(p, n) })
}

/// A declaration from its C arguments.
///
/// # Safety
///
/// `name` and `help` are NULL or NUL-terminated strings; `label_names` as for [`arg_strs`] with `n_labels`;
/// `buckets` NULL or `n_buckets` doubles; all unchanged for `'a`.
#[allow(clippy::too_many_arguments)]
unsafe fn decl<'a>(
    kind: i32,
    name: *const c_char,
    help: *const c_char,
    label_names: *const *const c_char,
    n_labels: usize,
    buckets: *const f64,
    n_buckets: usize,
    labels_out: &'a mut [&'a str; MAX_SCRIPT_LABELS],
) -> Result<ScriptDecl<'a>, prom_rs_result> {
    let kind = ScriptKind::from_code(kind).map_err(|e| fail(PROM_RS_ERR_INVALID, e))?;
    // SAFETY: as this function's contract says.
    let name = unsafe { arg_str(name, "name") }?;
    // SAFETY: as this function's contract says.
    let help = unsafe { arg_opt_str(help, "help") }?.unwrap_or("");
    // SAFETY: as this function's contract says.
    let (labels, n) = unsafe { arg_strs(label_names, n_labels, "label_names") }?;
    if n_buckets > MAX_SCRIPT_BUCKETS {
        return Err(fail(
            PROM_RS_ERR_INVALID,
            format!("{name}: {n_buckets} buckets, at most {MAX_SCRIPT_BUCKETS}"),
        ));
    }
    // SAFETY: as this function's contract says.
    let buckets = unsafe { arg_slice(buckets, n_buckets, "buckets") }?;
    *labels_out = labels;
    Ok(ScriptDecl {
        kind,
        name,
        help,
        labels: &labels_out[..n],
        buckets,
    })
}

/// Checks a script metric declaration without a core (call it while parsing the configuration). `kind`: 1 counter,
/// 2 gauge, 3 histogram. `name` without prefix or `_total`; `help` may be NULL or empty (a generated one is used);
/// `label_names` holds `n_labels` names (at most 8); `buckets` holds `n_buckets` finite, strictly increasing upper
/// bounds (histograms only, at most 64; `+Inf` is implicit). On failure `prom_rs_last_error()` names what is wrong.
#[no_mangle]
pub extern "C" fn prom_rs_script_check(
    kind: i32,
    name: *const c_char,
    help: *const c_char,
    label_names: *const *const c_char,
    n_labels: usize,
    buckets: *const f64,
    n_buckets: usize,
) -> prom_rs_result {
    ffi_panic_boundary! {
        let mut labels = [""; MAX_SCRIPT_LABELS];
        // SAFETY: the header's contract for this call is the one `decl` states.
        let d = try_ffi!(unsafe { decl(kind, name, help, label_names, n_labels, buckets, n_buckets, &mut labels) });
        match check(&d) {
            Ok(_) => PROM_RS_OK,
            Err(e) => fail(PROM_RS_ERR_CONFIG, e),
        }
    }
}

/// Declares a script metric in a started core (arguments as for `prom_rs_script_check`) and writes its index to
/// `*family_out`, for the calls below. The exported name is `<stats.prefix>_<name>`, `_total` added to counters.
/// Refused: an invalid declaration, a name declared twice, a label the constant `labels` use, more than 256.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn prom_rs_script_declare(
    core: *const prom_rs_core,
    kind: i32,
    name: *const c_char,
    help: *const c_char,
    label_names: *const *const c_char,
    n_labels: usize,
    buckets: *const f64,
    n_buckets: usize,
    family_out: *mut u32,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`.
        let core = try_ffi!(unsafe { core_ref(core) });
        // SAFETY: the header requires `family_out` to be NULL or a writable `uint32_t` of the caller's.
        let out = try_ffi!(unsafe { arg_mut(family_out, "family_out") });
        let mut labels = [""; MAX_SCRIPT_LABELS];
        // SAFETY: the header's contract for this call is the one `decl` states.
        let d = try_ffi!(unsafe { decl(kind, name, help, label_names, n_labels, buckets, n_buckets, &mut labels) });
        match core.shared().script.declare(&d) {
            Ok(idx) => {
                *out = idx;
                PROM_RS_OK
            }
            Err(e) => fail(PROM_RS_ERR_CONFIG, e),
        }
    }
}

/// Sets one counter or gauge series of family `family` (from `prom_rs_script_declare`) to `value`, creating it when
/// new. `label_values` holds `n_values` strings, one per declared label, in declaration order.
#[no_mangle]
pub extern "C" fn prom_rs_script_set(
    core: *const prom_rs_core,
    family: u32,
    label_values: *const *const c_char,
    n_values: usize,
    value: f64,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`.
        let core = try_ffi!(unsafe { core_ref(core) });
        // SAFETY: the header requires `label_values` to hold `n_values` NUL-terminated strings (or NULL when 0).
        let (v, n) = try_ffi!(unsafe { arg_strs(label_values, n_values, "label_values") });
        match core.shared().script.set(family, &v[..n], value) {
            Ok(()) => PROM_RS_OK,
            Err(e) => fail(PROM_RS_ERR_INVALID, e),
        }
    }
}

/// Sets one histogram series: `counts` holds `n_counts` per-bucket counts (not cumulative), one per declared bound
/// and a last one for `+Inf`; `sum` is the sum of the observations.
#[no_mangle]
pub extern "C" fn prom_rs_script_set_histogram(
    core: *const prom_rs_core,
    family: u32,
    label_values: *const *const c_char,
    n_values: usize,
    counts: *const u64,
    n_counts: usize,
    sum: f64,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`.
        let core = try_ffi!(unsafe { core_ref(core) });
        // SAFETY: the header requires `label_values` to hold `n_values` NUL-terminated strings (or NULL when 0).
        let (v, n) = try_ffi!(unsafe { arg_strs(label_values, n_values, "label_values") });
        // SAFETY: the header requires `counts` to hold `n_counts` integers.
        let counts = try_ffi!(unsafe { arg_slice(counts, n_counts, "counts") });
        match core.shared().script.set_histogram(family, &v[..n], counts, sum) {
            Ok(()) => PROM_RS_OK,
            Err(e) => fail(PROM_RS_ERR_INVALID, e),
        }
    }
}

/// Removes one series of a script family (the host's store dropped it). Removing a series that is not there is
/// not an error.
#[no_mangle]
pub extern "C" fn prom_rs_script_remove(
    core: *const prom_rs_core,
    family: u32,
    label_values: *const *const c_char,
    n_values: usize,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`.
        let core = try_ffi!(unsafe { core_ref(core) });
        // SAFETY: the header requires `label_values` to hold `n_values` NUL-terminated strings (or NULL when 0).
        let (v, n) = try_ffi!(unsafe { arg_strs(label_values, n_values, "label_values") });
        match core.shared().script.remove(family, &v[..n]) {
            Ok(_) => PROM_RS_OK,
            Err(e) => fail(PROM_RS_ERR_INVALID, e),
        }
    }
}

/// Tells the core how many new series of `family` the host's store has refused so far (a running total, shown in
/// `prom_rs_series_dropped_total{family}` together with the core's own count).
#[no_mangle]
pub extern "C" fn prom_rs_script_dropped(
    core: *const prom_rs_core,
    family: u32,
    total: u64,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`.
        let core = try_ffi!(unsafe { core_ref(core) });
        match core.shared().script.set_host_dropped(family, total) {
            Ok(()) => PROM_RS_OK,
            Err(e) => fail(PROM_RS_ERR_INVALID, e),
        }
    }
}
