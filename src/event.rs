//! The events a host reports, as one enum shared by the C ABI, the model, and the trace recorder/replayer.
//!
//! Every event carries the host's timestamp (`ts_us`, microseconds since the Unix epoch), so durations computed from
//! a replayed trace are the same as those computed live.

/// One host event. Strings borrow from the caller for the duration of the call. Field meanings are those of the
/// matching C ABI function's parameters (`src/ffi/events.rs`, `include/res_prom_rs.h`).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// A channel appeared (or was seeded at load).
    ChannelCreated {
        uniqueid: &'a str,
        tech: &'a str,
        endpoint: &'a str,
        state: i32,
        created_us: i64,
    },
    /// A channel's state changed (values of Asterisk's `enum ast_channel_state`).
    ChannelState {
        uniqueid: &'a str,
        state: i32,
        ts_us: i64,
    },
    /// A channel hung up with a Q.850 cause.
    ChannelHangup {
        uniqueid: &'a str,
        tech: &'a str,
        cause: i32,
        created_us: i64,
        ts_us: i64,
    },
    /// A Dial attempt ended with a DIALSTATUS.
    DialResult { dialstatus: &'a str, ts_us: i64 },
    /// An endpoint's aggregate state (0 unknown, 1 offline, 2 online) and channel count.
    EndpointState {
        tech: &'a str,
        resource: &'a str,
        state: i32,
        channel_count: i32,
        ts_us: i64,
    },
    /// A contact/peer status change, with the qualify round trip when known (`rtt_us < 0`: unknown).
    EndpointContact {
        tech: &'a str,
        resource: &'a str,
        status: &'a str,
        rtt_us: i64,
        ts_us: i64,
    },
    /// An RTCP report (direction 0 received, 1 sent); negative rtt/mes mean "not in this report".
    RtcpReport {
        tech: &'a str,
        endpoint: &'a str,
        direction: i32,
        jitter_seconds: f64,
        loss_ratio: f64,
        rtt_seconds: f64,
        mes: f64,
        ts_us: i64,
    },
    /// A bridge was created.
    BridgeCreated {
        bridge_id: &'a str,
        technology: &'a str,
        invisible: i32,
        ts_us: i64,
    },
    /// A bridge was destroyed.
    BridgeDestroyed { bridge_id: &'a str, ts_us: i64 },
    /// A channel entered a bridge.
    BridgeEnter {
        bridge_id: &'a str,
        uniqueid: &'a str,
        ts_us: i64,
    },
    /// A channel left a bridge.
    BridgeLeave {
        bridge_id: &'a str,
        uniqueid: &'a str,
        ts_us: i64,
    },
    /// ConfBridge: 0 conference start, 1 end, 2 participant join, 3 leave.
    Confbridge {
        conference: &'a str,
        kind: i32,
        ts_us: i64,
    },
    /// app_queue caller: 0 join, 1 leave, 2 abandon.
    QueueCaller {
        queue: &'a str,
        uniqueid: &'a str,
        kind: i32,
        ts_us: i64,
    },
    /// A security event (Asterisk event type name such as `InvalidPassword`).
    SecurityEvent {
        service: &'a str,
        event: &'a str,
        ts_us: i64,
    },
    /// Outbound registration status.
    OutboundRegistration {
        tech: &'a str,
        username: &'a str,
        domain: &'a str,
        status: &'a str,
        ts_us: i64,
    },
    /// Host-wide values sampled by the host's sampler thread.
    SampleSystem {
        version: &'a str,
        startup_us: i64,
        last_reload_us: i64,
        active_calls: i64,
        processed_calls: i64,
        now_us: i64,
    },
    /// Start of a codec sample.
    SampleCodecsBegin,
    /// One live channel's codec, and its translation path if it transcodes.
    SampleChannelCodec {
        codec: &'a str,
        translate_from: Option<&'a str>,
        translate_to: Option<&'a str>,
    },
    /// End of a codec sample: publishes what was collected since the begin.
    SampleCodecsEnd,
}

/// Event kinds, for `prom_rs_events_total{kind}` and the trace format. The order is the rendering order.
pub const KINDS: &[&str] = &[
    "channel_created",
    "channel_state",
    "channel_hangup",
    "dial_result",
    "endpoint_state",
    "endpoint_contact",
    "rtcp_report",
    "bridge_created",
    "bridge_destroyed",
    "bridge_enter",
    "bridge_leave",
    "confbridge_event",
    "queue_caller",
    "security_event",
    "outbound_registration",
    "sample_system",
    "sample_codecs_begin",
    "sample_channel_codec",
    "sample_codecs_end",
    "stat",
];

/// Index of the `stat` kind (host statistics are counted with the events).
pub const KIND_STAT: usize = 19;

impl Event<'_> {
    /// Index into [`KINDS`].
    pub fn kind(&self) -> usize {
        match self {
            Event::ChannelCreated { .. } => 0,
            Event::ChannelState { .. } => 1,
            Event::ChannelHangup { .. } => 2,
            Event::DialResult { .. } => 3,
            Event::EndpointState { .. } => 4,
            Event::EndpointContact { .. } => 5,
            Event::RtcpReport { .. } => 6,
            Event::BridgeCreated { .. } => 7,
            Event::BridgeDestroyed { .. } => 8,
            Event::BridgeEnter { .. } => 9,
            Event::BridgeLeave { .. } => 10,
            Event::Confbridge { .. } => 11,
            Event::QueueCaller { .. } => 12,
            Event::SecurityEvent { .. } => 13,
            Event::OutboundRegistration { .. } => 14,
            Event::SampleSystem { .. } => 15,
            Event::SampleCodecsBegin => 16,
            Event::SampleChannelCodec { .. } => 17,
            Event::SampleCodecsEnd => 18,
        }
    }

    /// The event's name in traces and in `prom_rs_events_total`.
    pub fn name(&self) -> &'static str {
        KINDS[self.kind()]
    }
}
