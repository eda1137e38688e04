//! Event traces: every event the core receives, one line each, written by a background thread; and the parser that
//! turns such a line back into the event, so a trace recorded from a real Asterisk can be replayed without one.
//!
//! Format: fields separated by TAB; the first is the event name ([`crate::event::KINDS`]), the rest are the
//! event's arguments in C ABI order. Strings escape `\\`, TAB, LF and CR as `\\`, `\t`, `\n`, `\r`; a NULL string is
//! `\N`. Floats are written in shortest round-trip form, so a replay reproduces the values bit for bit. Lines that
//! start with `#` are comments.

use crate::event::Event;
use crate::worker::{Stop, Worker};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

/// Lines queued for the writer before new ones are dropped (and counted) rather than blocking the host.
const QUEUE_LINES: usize = 65_536;

struct Line(String);

impl Line {
    fn new(name: &str) -> Line {
        Line(name.to_string())
    }
    fn s(mut self, v: &str) -> Line {
        self.0.push('\t');
        for c in v.chars() {
            match c {
                '\\' => self.0.push_str("\\\\"),
                '\t' => self.0.push_str("\\t"),
                '\n' => self.0.push_str("\\n"),
                '\r' => self.0.push_str("\\r"),
                c => self.0.push(c),
            }
        }
        self
    }
    fn opt(self, v: Option<&str>) -> Line {
        match v {
            Some(v) => self.s(v),
            None => {
                let mut l = self;
                l.0.push_str("\t\\N");
                l
            }
        }
    }
    fn n(mut self, v: impl std::fmt::Display) -> Line {
        let _ = write!(self.0, "\t{v}");
        self
    }
}

/// Encodes an event as one trace line (without the newline).
pub fn encode(ev: &Event<'_>) -> String {
    let l = Line::new(ev.name());
    let l = match *ev {
        Event::ChannelCreated {
            uniqueid,
            tech,
            endpoint,
            state,
            created_us,
        } => l.s(uniqueid).s(tech).s(endpoint).n(state).n(created_us),
        Event::ChannelState {
            uniqueid,
            state,
            ts_us,
        } => l.s(uniqueid).n(state).n(ts_us),
        Event::ChannelHangup {
            uniqueid,
            tech,
            cause,
            created_us,
            ts_us,
        } => l.s(uniqueid).s(tech).n(cause).n(created_us).n(ts_us),
        Event::DialResult { dialstatus, ts_us } => l.s(dialstatus).n(ts_us),
        Event::EndpointState {
            tech,
            resource,
            state,
            channel_count,
            ts_us,
        } => l.s(tech).s(resource).n(state).n(channel_count).n(ts_us),
        Event::EndpointContact {
            tech,
            resource,
            status,
            rtt_us,
            ts_us,
        } => l.s(tech).s(resource).s(status).n(rtt_us).n(ts_us),
        Event::RtcpReport {
            tech,
            endpoint,
            direction,
            jitter_seconds,
            loss_ratio,
            rtt_seconds,
            mes,
            ts_us,
        } => l
            .s(tech)
            .s(endpoint)
            .n(direction)
            .n(jitter_seconds)
            .n(loss_ratio)
            .n(rtt_seconds)
            .n(mes)
            .n(ts_us),
        Event::BridgeCreated {
            bridge_id,
            technology,
            invisible,
            ts_us,
        } => l.s(bridge_id).s(technology).n(invisible).n(ts_us),
        Event::BridgeDestroyed { bridge_id, ts_us } => l.s(bridge_id).n(ts_us),
        Event::BridgeEnter {
            bridge_id,
            uniqueid,
            ts_us,
        }
        | Event::BridgeLeave {
            bridge_id,
            uniqueid,
            ts_us,
        } => l.s(bridge_id).s(uniqueid).n(ts_us),
        Event::Confbridge {
            conference,
            kind,
            ts_us,
        } => l.s(conference).n(kind).n(ts_us),
        Event::QueueCaller {
            queue,
            uniqueid,
            kind,
            ts_us,
        } => l.s(queue).s(uniqueid).n(kind).n(ts_us),
        Event::SecurityEvent {
            service,
            event,
            ts_us,
        } => l.s(service).s(event).n(ts_us),
        Event::OutboundRegistration {
            tech,
            username,
            domain,
            status,
            ts_us,
        } => l.s(tech).s(username).s(domain).s(status).n(ts_us),
        Event::SampleSystem {
            version,
            startup_us,
            last_reload_us,
            active_calls,
            processed_calls,
            now_us,
        } => l
            .s(version)
            .n(startup_us)
            .n(last_reload_us)
            .n(active_calls)
            .n(processed_calls)
            .n(now_us),
        Event::SampleCodecsBegin | Event::SampleCodecsEnd => l,
        Event::SampleChannelCodec {
            codec,
            translate_from,
            translate_to,
        } => l.s(codec).opt(translate_from).opt(translate_to),
    };
    l.0
}

fn unescape(field: &str) -> Result<Option<String>, String> {
    if field == "\\N" {
        return Ok(None);
    }
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            other => {
                return Err(format!(
                    "bad escape \"\\{}\"",
                    other.map(String::from).unwrap_or_default()
                ))
            }
        }
    }
    Ok(Some(out))
}

/// Reads the fields of one line in order, with errors that name the argument.
struct Fields<'a> {
    event: &'a str,
    values: &'a [Option<String>],
    next: usize,
}

impl<'a> Fields<'a> {
    fn take(&mut self, what: &str) -> Result<&'a Option<String>, String> {
        let v = self
            .values
            .get(self.next)
            .ok_or_else(|| format!("{}: missing argument {what}", self.event))?;
        self.next += 1;
        Ok(v)
    }
    fn s(&mut self, what: &str) -> Result<&'a str, String> {
        self.take(what)?
            .as_deref()
            .ok_or_else(|| format!("{}: argument {what} may not be NULL", self.event))
    }
    fn opt(&mut self, what: &str) -> Result<Option<&'a str>, String> {
        Ok(self.take(what)?.as_deref())
    }
    fn num<T: std::str::FromStr>(&mut self, what: &str) -> Result<T, String> {
        let event = self.event;
        let s = self.s(what)?;
        s.parse()
            .map_err(|_| format!("{event}: argument {what} is not a number: \"{s}\""))
    }
    fn end(&self) -> Result<(), String> {
        if self.next == self.values.len() {
            Ok(())
        } else {
            Err(format!(
                "{}: {} arguments expected, {} given",
                self.event,
                self.next,
                self.values.len()
            ))
        }
    }
}

/// Parses one trace line and passes the event it records to `apply`. Blank lines and comments give `Ok(None)`.
pub fn decode<R>(line: &str, apply: impl FnOnce(Event<'_>) -> R) -> Result<Option<R>, String> {
    let line = line.trim_end_matches(['\n', '\r']);
    if line.trim().is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let mut parts = line.split('\t');
    let name = parts.next().unwrap_or_default();
    let values: Vec<Option<String>> = parts.map(unescape).collect::<Result<_, _>>()?;
    let mut f = Fields {
        event: name,
        values: &values,
        next: 0,
    };
    let ev = match name {
        "channel_created" => Event::ChannelCreated {
            uniqueid: f.s("uniqueid")?,
            tech: f.s("tech")?,
            endpoint: f.s("endpoint")?,
            state: f.num("state")?,
            created_us: f.num("created_us")?,
        },
        "channel_state" => Event::ChannelState {
            uniqueid: f.s("uniqueid")?,
            state: f.num("state")?,
            ts_us: f.num("ts_us")?,
        },
        "channel_hangup" => Event::ChannelHangup {
            uniqueid: f.s("uniqueid")?,
            tech: f.s("tech")?,
            cause: f.num("cause")?,
            created_us: f.num("created_us")?,
            ts_us: f.num("ts_us")?,
        },
        "dial_result" => Event::DialResult {
            dialstatus: f.s("dialstatus")?,
            ts_us: f.num("ts_us")?,
        },
        "endpoint_state" => Event::EndpointState {
            tech: f.s("tech")?,
            resource: f.s("resource")?,
            state: f.num("state")?,
            channel_count: f.num("channel_count")?,
            ts_us: f.num("ts_us")?,
        },
        "endpoint_contact" => Event::EndpointContact {
            tech: f.s("tech")?,
            resource: f.s("resource")?,
            status: f.s("status")?,
            rtt_us: f.num("rtt_us")?,
            ts_us: f.num("ts_us")?,
        },
        "rtcp_report" => Event::RtcpReport {
            tech: f.s("tech")?,
            endpoint: f.s("endpoint")?,
            direction: f.num("direction")?,
            jitter_seconds: f.num("jitter_seconds")?,
            loss_ratio: f.num("loss_ratio")?,
            rtt_seconds: f.num("rtt_seconds")?,
            mes: f.num("mes")?,
            ts_us: f.num("ts_us")?,
        },
        "bridge_created" => Event::BridgeCreated {
            bridge_id: f.s("bridge_id")?,
            technology: f.s("technology")?,
            invisible: f.num("invisible")?,
            ts_us: f.num("ts_us")?,
        },
        "bridge_destroyed" => Event::BridgeDestroyed {
            bridge_id: f.s("bridge_id")?,
            ts_us: f.num("ts_us")?,
        },
        "bridge_enter" => Event::BridgeEnter {
            bridge_id: f.s("bridge_id")?,
            uniqueid: f.s("uniqueid")?,
            ts_us: f.num("ts_us")?,
        },
        "bridge_leave" => Event::BridgeLeave {
            bridge_id: f.s("bridge_id")?,
            uniqueid: f.s("uniqueid")?,
            ts_us: f.num("ts_us")?,
        },
        "confbridge_event" => Event::Confbridge {
            conference: f.s("conference")?,
            kind: f.num("kind")?,
            ts_us: f.num("ts_us")?,
        },
        "queue_caller" => Event::QueueCaller {
            queue: f.s("queue")?,
            uniqueid: f.s("uniqueid")?,
            kind: f.num("kind")?,
            ts_us: f.num("ts_us")?,
        },
        "security_event" => Event::SecurityEvent {
            service: f.s("service")?,
            event: f.s("event")?,
            ts_us: f.num("ts_us")?,
        },
        "outbound_registration" => Event::OutboundRegistration {
            tech: f.s("tech")?,
            username: f.s("username")?,
            domain: f.s("domain")?,
            status: f.s("status")?,
            ts_us: f.num("ts_us")?,
        },
        "sample_system" => Event::SampleSystem {
            version: f.s("version")?,
            startup_us: f.num("startup_us")?,
            last_reload_us: f.num("last_reload_us")?,
            active_calls: f.num("active_calls")?,
            processed_calls: f.num("processed_calls")?,
            now_us: f.num("now_us")?,
        },
        "sample_codecs_begin" => Event::SampleCodecsBegin,
        "sample_channel_codec" => Event::SampleChannelCodec {
            codec: f.s("codec")?,
            translate_from: f.opt("translate_from")?,
            translate_to: f.opt("translate_to")?,
        },
        "sample_codecs_end" => Event::SampleCodecsEnd,
        other => return Err(format!("unknown event \"{other}\"")),
    };
    f.end()?;
    Ok(Some(apply(ev)))
}

/// The event side of an open trace: queues lines for the writer thread and never blocks. The core keeps it in a
/// lock-free slot, so an event never waits for a reload or for the file.
pub struct TraceQueue {
    tx: SyncSender<String>,
    dropped: AtomicU64,
}

impl TraceQueue {
    /// Queues one event; when the queue is full the line is dropped and counted.
    pub fn record(&self, ev: &Event<'_>) {
        if let Err(TrySendError::Full(_)) = self.tx.try_send(encode(ev)) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Lines lost because the writer could not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// An open trace file: the queue and the thread that appends its lines to the file.
pub struct TraceWriter {
    queue: Option<Arc<TraceQueue>>,
    worker: Option<Worker>,
}

impl TraceWriter {
    /// Opens (appends to) `path` and starts the writer thread.
    pub fn open(path: &Path) -> std::io::Result<TraceWriter> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let (tx, rx) = sync_channel::<String>(QUEUE_LINES);
        let worker = Worker::spawn("trace", move |stop| write_loop(file, rx, stop), || {})?;
        Ok(TraceWriter {
            queue: Some(Arc::new(TraceQueue {
                tx,
                dropped: AtomicU64::new(0),
            })),
            worker: Some(worker),
        })
    }

    /// The queue events are recorded through (hand it to the event path).
    pub fn queue(&self) -> Option<Arc<TraceQueue>> {
        self.queue.clone()
    }

    /// Queues one event (see [`TraceQueue::record`]).
    pub fn record(&self, ev: &Event<'_>) {
        if let Some(q) = &self.queue {
            q.record(ev);
        }
    }

    /// Writes what is queued, closes the file and joins the thread. Drop every [`TraceQueue`] handle first: the
    /// thread ends when the last one is gone (or 200 ms after this call at most).
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.queue.take();
        if let Some(w) = self.worker.take() {
            w.stop();
        }
    }
}

impl Drop for TraceWriter {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn write_loop(file: File, rx: std::sync::mpsc::Receiver<String>, stop: &Stop) {
    let mut out = BufWriter::new(file);
    let _ = writeln!(
        out,
        "# res_prom_rs {} event trace; format: see src/trace.rs",
        env!("CARGO_PKG_VERSION")
    );
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                let _ = out.write_all(line.as_bytes());
                let _ = out.write_all(b"\n");
            }
            Err(RecvTimeoutError::Timeout) => {
                let _ = out.flush();
                // A queue handle still held by an event thread must not keep a stopped writer alive.
                if stop.is_set() {
                    break;
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    while let Ok(line) = rx.try_recv() {
        let _ = out.write_all(line.as_bytes());
        let _ = out.write_all(b"\n");
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_round_trips() {
        let events = [
            Event::ChannelCreated {
                uniqueid: "1.2",
                tech: "PJSIP",
                endpoint: "a\tb\\c\nd",
                state: 4,
                created_us: 7,
            },
            Event::ChannelState {
                uniqueid: "1.2",
                state: 6,
                ts_us: 8,
            },
            Event::ChannelHangup {
                uniqueid: "1.2",
                tech: "PJSIP",
                cause: 16,
                created_us: 7,
                ts_us: 9,
            },
            Event::DialResult {
                dialstatus: "ANSWER",
                ts_us: 1,
            },
            Event::EndpointState {
                tech: "PJSIP",
                resource: "1031",
                state: 2,
                channel_count: 1,
                ts_us: 1,
            },
            Event::EndpointContact {
                tech: "PJSIP",
                resource: "1031",
                status: "Reachable",
                rtt_us: 1500,
                ts_us: 1,
            },
            Event::RtcpReport {
                tech: "PJSIP",
                endpoint: "x",
                direction: 1,
                jitter_seconds: 0.1 + 0.2,
                loss_ratio: 1e-9,
                rtt_seconds: -1.0,
                mes: 87.5,
                ts_us: 3,
            },
            Event::BridgeCreated {
                bridge_id: "b",
                technology: "simple_bridge",
                invisible: 0,
                ts_us: 1,
            },
            Event::BridgeDestroyed {
                bridge_id: "b",
                ts_us: 1,
            },
            Event::BridgeEnter {
                bridge_id: "b",
                uniqueid: "u",
                ts_us: 1,
            },
            Event::BridgeLeave {
                bridge_id: "b",
                uniqueid: "u",
                ts_us: 1,
            },
            Event::Confbridge {
                conference: "c",
                kind: 2,
                ts_us: 1,
            },
            Event::QueueCaller {
                queue: "q",
                uniqueid: "u",
                kind: 0,
                ts_us: 1,
            },
            Event::SecurityEvent {
                service: "PJSIP",
                event: "InvalidPassword",
                ts_us: 1,
            },
            Event::OutboundRegistration {
                tech: "PJSIP",
                username: "u",
                domain: "d",
                status: "Registered",
                ts_us: 1,
            },
            Event::SampleSystem {
                version: "20.10.0",
                startup_us: 1,
                last_reload_us: 2,
                active_calls: 3,
                processed_calls: 4,
                now_us: 5,
            },
            Event::SampleCodecsBegin,
            Event::SampleChannelCodec {
                codec: "ulaw",
                translate_from: None,
                translate_to: Some(""),
            },
            Event::SampleCodecsEnd,
        ];
        for ev in &events {
            let line = encode(ev);
            assert!(!line.contains('\n'));
            let back = decode(&line, |e| format!("{e:?}")).unwrap().unwrap();
            assert_eq!(back, format!("{ev:?}"), "line {line}");
        }
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        assert_eq!(decode("# comment", |_| ()).unwrap(), None);
        assert_eq!(decode("   ", |_| ()).unwrap(), None);
        assert!(decode("nope\t1", |_| ())
            .unwrap_err()
            .contains("unknown event \"nope\""));
        assert!(decode("dial_result\tANSWER", |_| ())
            .unwrap_err()
            .contains("missing argument ts_us"));
        assert!(decode("dial_result\tANSWER\tx", |_| ())
            .unwrap_err()
            .contains("not a number"));
        assert!(decode("dial_result\tANSWER\t1\t2", |_| ())
            .unwrap_err()
            .contains("2 arguments expected, 3 given"));
        assert!(decode("dial_result\t\\N\t1", |_| ())
            .unwrap_err()
            .contains("may not be NULL"));
        assert!(decode("dial_result\ta\\qb\t1", |_| ())
            .unwrap_err()
            .contains("bad escape"));
    }
}
