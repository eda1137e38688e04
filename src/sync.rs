//! Locking helpers for the core's few mutexes: configuration, thread handles, snapshots and new-series inserts.
//! An event for a label set already seen takes none of them, and no event waits on a reload or on the trace file.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, taking the value even if a thread panicked while holding it. Every value behind these mutexes is
/// replaced or updated whole, so a poisoned lock still guards a consistent value, and a panic caught at the C ABI
/// must not turn into a second one on the next call.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
