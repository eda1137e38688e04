//! The events a host reports, as one enum shared by the C ABI, the model, and the trace recorder/replayer.
//!
//! Every event carries the host's timestamp (`ts_us`, microseconds since the Unix epoch), so durations computed from
//! a replayed trace are the same as those computed live.
//!
//! The schema is declared once, in the table at the end of this file: one line per event gives its variant, its kind
//! name, and its fields in C ABI order. The table generates [`Event`], [`KINDS`], [`KIND_STAT`], [`Event::kind`],
//! [`Event::name`], the trace encoding and decoding ([`crate::trace::encode`], [`crate::trace::decode`]) and the
//! round-trip test over every kind. A new event is then four places: its table line, the model code that applies it
//! (`src/model/`), its C export (`src/ffi/events.rs`, written by hand because cbindgen reads no macros; a test here
//! checks that `include/res_prom_rs.h` has `prom_rs_<kind>` with the table's parameters), and its test.

pub(crate) mod wire;

/// Generates everything that follows from the event table (see the module documentation). Each entry is
/// `Variant = "kind_name" { field: type, ... },` in C ABI order, or `Variant = "kind_name",` for an event without
/// fields; the field types are those of [`wire::Field`].
macro_rules! event_table {
    ($(
        $(#[$doc:meta])*
        $variant:ident = $kind:literal $({ $($field:ident: $ty:ty),* $(,)? })?,
    )*) => {
        /// One host event. Strings borrow from the caller for the duration of the call. Field meanings are those of
        /// the matching C ABI function's parameters (`src/ffi/events.rs`, `include/res_prom_rs.h`).
        #[allow(missing_docs)]
        #[derive(Debug, Clone, PartialEq)]
        pub enum Event<'a> {
            $( $(#[$doc])* $variant $({ $($field: $ty),* })?, )*
        }

        /// The position of each event in the table: `Position::X as usize` is the index of `Event::X` in [`KINDS`].
        enum Position {
            $($variant,)*
        }

        /// Event kinds, for `prom_rs_events_total{kind}` and the trace format: the table's, in its order (the
        /// rendering order), then `stat`.
        pub const KINDS: &[&str] = &[$($kind,)* "stat"];

        /// Index of the `stat` kind, right after the events (host statistics are counted with the events).
        pub const KIND_STAT: usize = [$($kind),*].len();

        impl Event<'_> {
            /// Index into [`KINDS`].
            pub fn kind(&self) -> usize {
                match self {
                    $(Event::$variant { .. } => Position::$variant as usize,)*
                }
            }

            /// Appends the event's fields to a trace line, in C ABI order.
            fn write_fields(&self, line: &mut String) {
                match self {
                    $(Event::$variant { $($($field),*)? } => { $($(wire::Field::write($field, line);)*)? })*
                }
            }
        }

        /// Reads the fields of the event `fields` is named after, in C ABI order.
        fn read_fields<'a>(fields: &mut wire::Fields<'a>) -> Result<Event<'a>, String> {
            Ok(match fields.event() {
                $($kind => Event::$variant { $($($field: wire::Field::read(fields, stringify!($field))?),*)? },)*
                other => return Err(format!("unknown event \"{other}\"")),
            })
        }

        /// Every kind once, each field set to a sample of its type; `seed` picks the samples.
        #[cfg(test)]
        fn samples(seed: usize) -> Vec<Event<'static>> {
            vec![$(Event::$variant { $($($field: wire::Field::sample(seed + stringify!($field).len())),*)? },)*]
        }

        /// Each kind with its fields' names and C types, in C ABI order.
        #[cfg(test)]
        #[allow(clippy::extra_unused_lifetimes)] // the table's field types name `'a`
        fn schema<'a>() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
            vec![$(($kind, vec![$($((stringify!($field), <$ty as wire::Field<'a>>::C_TYPE)),*)?]),)*]
        }
    };
}

impl Event<'_> {
    /// The event's name in traces and in `prom_rs_events_total`.
    pub fn name(&self) -> &'static str {
        KINDS[self.kind()]
    }
}

event_table! {
    /// A channel appeared (or was seeded at load).
    ChannelCreated = "channel_created" {
        uniqueid: &'a str, tech: &'a str, endpoint: &'a str, state: i32, created_us: i64,
    },
    /// A channel's state changed (values of Asterisk's `enum ast_channel_state`).
    ChannelState = "channel_state" { uniqueid: &'a str, state: i32, ts_us: i64 },
    /// A channel hung up with a Q.850 cause.
    ChannelHangup = "channel_hangup" { uniqueid: &'a str, tech: &'a str, cause: i32, created_us: i64, ts_us: i64 },
    /// A Dial attempt ended with a DIALSTATUS.
    DialResult = "dial_result" { dialstatus: &'a str, ts_us: i64 },
    /// An endpoint's aggregate state (0 unknown, 1 offline, 2 online) and channel count.
    EndpointState = "endpoint_state" { tech: &'a str, resource: &'a str, state: i32, channel_count: i32, ts_us: i64 },
    /// A contact/peer status change, with the qualify round trip when known (`rtt_us < 0`: unknown).
    EndpointContact = "endpoint_contact" { tech: &'a str, resource: &'a str, status: &'a str, rtt_us: i64, ts_us: i64 },
    /// An RTCP report (direction 0 received, 1 sent); negative rtt/mes mean "not in this report".
    RtcpReport = "rtcp_report" {
        tech: &'a str, endpoint: &'a str, direction: i32,
        jitter_seconds: f64, loss_ratio: f64, rtt_seconds: f64, mes: f64, ts_us: i64,
    },
    /// A bridge was created.
    BridgeCreated = "bridge_created" { bridge_id: &'a str, technology: &'a str, invisible: i32, ts_us: i64 },
    /// A bridge was destroyed.
    BridgeDestroyed = "bridge_destroyed" { bridge_id: &'a str, ts_us: i64 },
    /// A channel entered a bridge.
    BridgeEnter = "bridge_enter" { bridge_id: &'a str, uniqueid: &'a str, ts_us: i64 },
    /// A channel left a bridge.
    BridgeLeave = "bridge_leave" { bridge_id: &'a str, uniqueid: &'a str, ts_us: i64 },
    /// ConfBridge: 0 conference start, 1 end, 2 participant join, 3 leave.
    Confbridge = "confbridge_event" { conference: &'a str, kind: i32, ts_us: i64 },
    /// app_queue caller: 0 join, 1 leave, 2 abandon.
    QueueCaller = "queue_caller" { queue: &'a str, uniqueid: &'a str, kind: i32, ts_us: i64 },
    /// A security event (Asterisk event type name such as `InvalidPassword`).
    SecurityEvent = "security_event" { service: &'a str, event: &'a str, ts_us: i64 },
    /// Outbound registration status.
    OutboundRegistration = "outbound_registration" {
        tech: &'a str, username: &'a str, domain: &'a str, status: &'a str, ts_us: i64,
    },
    /// Host-wide values sampled by the host's sampler thread.
    SampleSystem = "sample_system" {
        version: &'a str, startup_us: i64, last_reload_us: i64, active_calls: i64, processed_calls: i64, now_us: i64,
    },
    /// Start of a codec sample.
    SampleCodecsBegin = "sample_codecs_begin",
    /// One live channel's codec, and its translation path if it transcodes.
    SampleChannelCodec = "sample_channel_codec" {
        codec: &'a str, translate_from: Option<&'a str>, translate_to: Option<&'a str>,
    },
    /// End of a codec sample: publishes what was collected since the begin.
    SampleCodecsEnd = "sample_codecs_end",
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parameters of `name` in the header as `(type, name)` pairs, white space folded; `None` if it is not
    /// declared as an event export (returning `prom_rs_result`).
    fn c_params(header: &str, name: &str) -> Option<Vec<(String, String)>> {
        let start = header.find(&format!("prom_rs_result {name}("))?
            + "prom_rs_result (".len()
            + name.len();
        let end = start + header[start..].find(");")?;
        let params = header[start..end].split(',').map(|p| {
            let p = p.split_whitespace().collect::<Vec<_>>().join(" ");
            let at = p
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1);
            (p[..at].trim_end().to_string(), p[at..].to_string())
        });
        Some(params.collect())
    }

    #[test]
    fn every_kind_has_its_c_export_with_the_table_fields_in_order() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/include/res_prom_rs.h");
        let header = std::fs::read_to_string(path).unwrap();
        let schema = schema();
        assert_eq!(schema.len(), KIND_STAT);
        for (kind, fields) in schema {
            let export = format!("prom_rs_{kind}");
            let params = c_params(&header, &export).unwrap_or_else(|| {
                panic!("{path} has no `prom_rs_result {export}(...)`: add it to src/ffi/events.rs, make header")
            });
            let mut expected = vec![("const prom_rs_core *".to_string(), "core".to_string())];
            expected.extend(fields.iter().map(|(f, ty)| (ty.to_string(), f.to_string())));
            assert_eq!(
                params, expected,
                "{export}: parameters differ from the event table"
            );
        }
        assert_eq!(KINDS[KIND_STAT], "stat");
        for export in ["prom_rs_stat_set", "prom_rs_stat_add"] {
            assert!(
                c_params(&header, export).is_some(),
                "{path} declares no {export}"
            );
        }
    }

    #[test]
    fn kinds_follow_the_table() {
        let events = samples(0);
        assert_eq!(KINDS.len(), events.len() + 1);
        for (i, ev) in events.iter().enumerate() {
            assert_eq!(ev.kind(), i);
            assert_eq!(ev.name(), KINDS[i]);
        }
        assert_eq!(Event::SampleCodecsEnd.name(), "sample_codecs_end");
    }
}
