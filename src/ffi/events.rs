//! Asterisk event entry points. Each one is O(1) work on lock-free state (see the architecture notes); strings are
//! borrowed for the call; timestamps are microseconds since the Unix epoch, from the host.
//!
//! Every function returns `PROM_RS_OK`, `PROM_RS_ERR_NULL`/`PROM_RS_ERR_UTF8` for a bad pointer or string,
//! `PROM_RS_ERR_INVALID` when a value is out of range (nothing is changed then), or `PROM_RS_ERR_PANIC`.

use super::lifecycle::{core_ref, prom_rs_core};
use super::*;
use crate::event::Event;

/// Passes one event (or the error converting its arguments) to the core.
///
/// # Safety
///
/// `core` is NULL or a live core handle, as for [`core_ref`].
unsafe fn dispatch(
    core: *const prom_rs_core,
    ev: Result<Event<'_>, prom_rs_result>,
) -> prom_rs_result {
    // SAFETY: this function's contract is that of `core_ref`.
    let core = try_ffi!(unsafe { core_ref(core) });
    let ev = try_ffi!(ev);
    match core.dispatch(&ev) {
        Ok(()) => PROM_RS_OK,
        Err(msg) => fail(PROM_RS_ERR_INVALID, msg),
    }
}

/// A channel was created (or is being seeded at load). `state` is an `enum ast_channel_state` value (0..=9);
/// `endpoint` may be "" when the channel has none; `created_us` is the channel's creation time.
#[no_mangle]
pub extern "C" fn prom_rs_channel_created(
    core: *const prom_rs_core,
    uniqueid: *const c_char,
    tech: *const c_char,
    endpoint: *const c_char,
    state: i32,
    created_us: i64,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`, and every string
        // to be NULL or NUL-terminated and unchanged until the call returns; the event borrows them only for it.
        unsafe {
            dispatch(core, (|| Ok(Event::ChannelCreated {
                uniqueid: arg_str(uniqueid, "uniqueid")?,
                tech: arg_str(tech, "tech")?,
                endpoint: arg_str(endpoint, "endpoint")?,
                state,
                created_us,
            }))())
        }
    }
}

/// A channel's state changed.
#[no_mangle]
pub extern "C" fn prom_rs_channel_state(
    core: *const prom_rs_core,
    uniqueid: *const c_char,
    state: i32,
    ts_us: i64,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`, and every string
        // to be NULL or NUL-terminated and unchanged until the call returns; the event borrows them only for it.
        unsafe {
            dispatch(core, (|| Ok(Event::ChannelState { uniqueid: arg_str(uniqueid, "uniqueid")?, state, ts_us }))())
        }
    }
}

/// A channel hung up. `cause` is the Q.850 cause code (0..=127); `created_us` the channel's creation time (used when
/// the core never saw the channel created); `ts_us` the hangup time.
#[no_mangle]
pub extern "C" fn prom_rs_channel_hangup(
    core: *const prom_rs_core,
    uniqueid: *const c_char,
    tech: *const c_char,
    cause: i32,
    created_us: i64,
    ts_us: i64,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`, and every string
        // to be NULL or NUL-terminated and unchanged until the call returns; the event borrows them only for it.
        unsafe {
            dispatch(core, (|| Ok(Event::ChannelHangup {
                uniqueid: arg_str(uniqueid, "uniqueid")?,
                tech: arg_str(tech, "tech")?,
                cause,
                created_us,
                ts_us,
            }))())
        }
    }
}

/// A Dial ended with `dialstatus` (ANSWER, BUSY, NOANSWER, CANCEL, CONGESTION, CHANUNAVAIL, ...). Interim statuses
/// (RINGING, PROCEEDING, PROGRESS, "") are accepted and ignored.
#[no_mangle]
pub extern "C" fn prom_rs_dial_result(
    core: *const prom_rs_core,
    dialstatus: *const c_char,
    ts_us: i64,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`, and every string
        // to be NULL or NUL-terminated and unchanged until the call returns; the event borrows them only for it.
        unsafe {
            dispatch(core, (|| Ok(Event::DialResult { dialstatus: arg_str(dialstatus, "dialstatus")?, ts_us }))())
        }
    }
}

/// An endpoint snapshot: `state` 0 unknown, 1 offline, 2 online (`enum ast_endpoint_state`), and its channel count.
#[no_mangle]
pub extern "C" fn prom_rs_endpoint_state(
    core: *const prom_rs_core,
    tech: *const c_char,
    resource: *const c_char,
    state: i32,
    channel_count: i32,
    ts_us: i64,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`, and every string
        // to be NULL or NUL-terminated and unchanged until the call returns; the event borrows them only for it.
        unsafe {
            dispatch(core, (|| Ok(Event::EndpointState {
                tech: arg_str(tech, "tech")?,
                resource: arg_str(resource, "resource")?,
                state,
                channel_count,
                ts_us,
            }))())
        }
    }
}

/// A contact/peer status change: `status` is Reachable, Lagged, Unreachable, Registered, Unregistered or Unknown
/// (any case; PJSIP's Created/Removed/NonQualified and chan_sip's OK/Unmonitored are understood); `rtt_us` is the
/// qualify round trip, or negative when unknown.
#[no_mangle]
pub extern "C" fn prom_rs_endpoint_contact(
    core: *const prom_rs_core,
    tech: *const c_char,
    resource: *const c_char,
    status: *const c_char,
    rtt_us: i64,
    ts_us: i64,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`, and every string
        // to be NULL or NUL-terminated and unchanged until the call returns; the event borrows them only for it.
        unsafe {
            dispatch(core, (|| Ok(Event::EndpointContact {
                tech: arg_str(tech, "tech")?,
                resource: arg_str(resource, "resource")?,
                status: arg_str(status, "status")?,
                rtt_us,
                ts_us,
            }))())
        }
    }
}

/// An RTCP report: `direction` 0 received, 1 sent; jitter in seconds; loss as a ratio 0..1; `rtt_seconds` and `mes`
/// (media experience score, 0..100) negative when the report has none. `endpoint` may be "".
#[no_mangle]
pub extern "C" fn prom_rs_rtcp_report(
    core: *const prom_rs_core,
    tech: *const c_char,
    endpoint: *const c_char,
    direction: i32,
    jitter_seconds: f64,
    loss_ratio: f64,
    rtt_seconds: f64,
    mes: f64,
    ts_us: i64,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`, and every string
        // to be NULL or NUL-terminated and unchanged until the call returns; the event borrows them only for it.
        unsafe {
            dispatch(core, (|| Ok(Event::RtcpReport {
                tech: arg_str(tech, "tech")?,
                endpoint: arg_str(endpoint, "endpoint")?,
                direction,
                jitter_seconds,
                loss_ratio,
                rtt_seconds,
                mes,
                ts_us,
            }))())
        }
    }
}

/// A bridge was created (or is being seeded). `invisible` non-zero for bridges Asterisk hides (they are not counted).
#[no_mangle]
pub extern "C" fn prom_rs_bridge_created(
    core: *const prom_rs_core,
    bridge_id: *const c_char,
    technology: *const c_char,
    invisible: i32,
    ts_us: i64,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`, and every string
        // to be NULL or NUL-terminated and unchanged until the call returns; the event borrows them only for it.
        unsafe {
            dispatch(core, (|| Ok(Event::BridgeCreated {
                bridge_id: arg_str(bridge_id, "bridge_id")?,
                technology: arg_str(technology, "technology")?,
                invisible,
                ts_us,
            }))())
        }
    }
}

/// A bridge was destroyed.
#[no_mangle]
pub extern "C" fn prom_rs_bridge_destroyed(
    core: *const prom_rs_core,
    bridge_id: *const c_char,
    ts_us: i64,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`, and every string
        // to be NULL or NUL-terminated and unchanged until the call returns; the event borrows them only for it.
        unsafe {
            dispatch(core, (|| Ok(Event::BridgeDestroyed { bridge_id: arg_str(bridge_id, "bridge_id")?, ts_us }))())
        }
    }
}

/// A channel entered a bridge.
#[no_mangle]
pub extern "C" fn prom_rs_bridge_enter(
    core: *const prom_rs_core,
    bridge_id: *const c_char,
    uniqueid: *const c_char,
    ts_us: i64,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`, and every string
        // to be NULL or NUL-terminated and unchanged until the call returns; the event borrows them only for it.
        unsafe {
            dispatch(core, (|| Ok(Event::BridgeEnter {
                bridge_id: arg_str(bridge_id, "bridge_id")?,
                uniqueid: arg_str(uniqueid, "uniqueid")?,
                ts_us,
            }))())
        }
    }
}

/// A channel left a bridge.
#[no_mangle]
pub extern "C" fn prom_rs_bridge_leave(
    core: *const prom_rs_core,
    bridge_id: *const c_char,
    uniqueid: *const c_char,
    ts_us: i64,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`, and every string
        // to be NULL or NUL-terminated and unchanged until the call returns; the event borrows them only for it.
        unsafe {
            dispatch(core, (|| Ok(Event::BridgeLeave {
                bridge_id: arg_str(bridge_id, "bridge_id")?,
                uniqueid: arg_str(uniqueid, "uniqueid")?,
                ts_us,
            }))())
        }
    }
}

/// A ConfBridge event: `kind` 0 conference start, 1 end, 2 participant join, 3 participant leave.
#[no_mangle]
pub extern "C" fn prom_rs_confbridge_event(
    core: *const prom_rs_core,
    conference: *const c_char,
    kind: i32,
    ts_us: i64,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`, and every string
        // to be NULL or NUL-terminated and unchanged until the call returns; the event borrows them only for it.
        unsafe {
            dispatch(core, (|| Ok(Event::Confbridge { conference: arg_str(conference, "conference")?, kind, ts_us }))())
        }
    }
}

/// An app_queue caller event: `kind` 0 join, 1 leave, 2 abandon.
#[no_mangle]
pub extern "C" fn prom_rs_queue_caller(
    core: *const prom_rs_core,
    queue: *const c_char,
    uniqueid: *const c_char,
    kind: i32,
    ts_us: i64,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`, and every string
        // to be NULL or NUL-terminated and unchanged until the call returns; the event borrows them only for it.
        unsafe {
            dispatch(core, (|| Ok(Event::QueueCaller {
                queue: arg_str(queue, "queue")?,
                uniqueid: arg_str(uniqueid, "uniqueid")?,
                kind,
                ts_us,
            }))())
        }
    }
}

/// A security event: `service` (PJSIP, SIP, AMI, IAX2 ...) and Asterisk's event type name (InvalidPassword,
/// ChallengeResponseFailed, FailedACL, InvalidAccountID, ...). Unknown types are counted as `other`.
#[no_mangle]
pub extern "C" fn prom_rs_security_event(
    core: *const prom_rs_core,
    service: *const c_char,
    event: *const c_char,
    ts_us: i64,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`, and every string
        // to be NULL or NUL-terminated and unchanged until the call returns; the event borrows them only for it.
        unsafe {
            dispatch(core, (|| Ok(Event::SecurityEvent {
                service: arg_str(service, "service")?,
                event: arg_str(event, "event")?,
                ts_us,
            }))())
        }
    }
}

/// An outbound registration's status: Registered, Unregistered or Rejected.
#[no_mangle]
pub extern "C" fn prom_rs_outbound_registration(
    core: *const prom_rs_core,
    tech: *const c_char,
    username: *const c_char,
    domain: *const c_char,
    status: *const c_char,
    ts_us: i64,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`, and every string
        // to be NULL or NUL-terminated and unchanged until the call returns; the event borrows them only for it.
        unsafe {
            dispatch(core, (|| Ok(Event::OutboundRegistration {
                tech: arg_str(tech, "tech")?,
                username: arg_str(username, "username")?,
                domain: arg_str(domain, "domain")?,
                status: arg_str(status, "status")?,
                ts_us,
            }))())
        }
    }
}

/// A system sample from the host's sampler thread: version, start and last-reload times, `ast_active_calls()`,
/// `ast_processed_calls()`, and the sample time.
#[no_mangle]
pub extern "C" fn prom_rs_sample_system(
    core: *const prom_rs_core,
    version: *const c_char,
    startup_us: i64,
    last_reload_us: i64,
    active_calls: i64,
    processed_calls: i64,
    now_us: i64,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`, and every string
        // to be NULL or NUL-terminated and unchanged until the call returns; the event borrows them only for it.
        unsafe {
            dispatch(core, (|| Ok(Event::SampleSystem {
                version: arg_str(version, "version")?,
                startup_us,
                last_reload_us,
                active_calls,
                processed_calls,
                now_us,
            }))())
        }
    }
}

/// Starts a codec sample: call `prom_rs_sample_channel_codec` once per live channel, then
/// `prom_rs_sample_codecs_end` to publish the whole sample at once.
#[no_mangle]
pub extern "C" fn prom_rs_sample_codecs_begin(core: *const prom_rs_core) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`.
        unsafe { dispatch(core, Ok(Event::SampleCodecsBegin)) }
    }
}

/// One live channel's codec; `translate_from`/`translate_to` name its translation path, or are both NULL/"" when it
/// does not transcode.
#[no_mangle]
pub extern "C" fn prom_rs_sample_channel_codec(
    core: *const prom_rs_core,
    codec: *const c_char,
    translate_from: *const c_char,
    translate_to: *const c_char,
) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`, and every string
        // to be NULL or NUL-terminated and unchanged until the call returns; the event borrows them only for it.
        unsafe {
            dispatch(core, (|| Ok(Event::SampleChannelCodec {
                codec: arg_str(codec, "codec")?,
                translate_from: arg_opt_str(translate_from, "translate_from")?,
                translate_to: arg_opt_str(translate_to, "translate_to")?,
            }))())
        }
    }
}

/// Publishes the codec sample collected since `prom_rs_sample_codecs_begin`.
#[no_mangle]
pub extern "C" fn prom_rs_sample_codecs_end(core: *const prom_rs_core) -> prom_rs_result {
    ffi_panic_boundary! {
        // SAFETY: the header requires `core` to be NULL or a live handle from `prom_rs_core_start`.
        unsafe { dispatch(core, Ok(Event::SampleCodecsEnd)) }
    }
}
