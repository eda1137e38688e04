//! The Asterisk model, an [`EventCollector`]: turns host events into the families of the metric catalogue.
//!
//! Each area has its own file and state; this file routes events to them, holds the collector switches, and lists
//! the families in page order. Everything here is safe Rust and is tested without a host.

pub mod bridges;
pub mod channels;
pub mod endpoints;
pub mod media;
pub mod names;
pub mod queues;
pub mod samples;
mod status;

use super::EventCollector;
use crate::config::{Collectors, Config};
use crate::event::Event;
use crate::registry::metric::{Buckets, Counter};
use crate::registry::{Collect, Family, SeriesCap};
use crate::status::numbers::Numbers;
use crate::sync::lock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Collector switches read on the event path.
#[derive(Debug, Default)]
struct Switches {
    channels: AtomicBool,
    endpoints: AtomicBool,
    rtcp: AtomicBool,
    bridges: AtomicBool,
    queues: AtomicBool,
    security: AtomicBool,
    codecs: AtomicBool,
    channel_detail: AtomicBool,
}

impl Switches {
    fn store(&self, c: &Collectors, channel_detail: bool) {
        let r = Ordering::Relaxed;
        self.channels.store(c.channels, r);
        self.endpoints.store(c.endpoints, r);
        self.rtcp.store(c.rtcp, r);
        self.bridges.store(c.bridges, r);
        self.queues.store(c.queues, r);
        self.security.store(c.security, r);
        self.codecs.store(c.codecs, r);
        self.channel_detail.store(channel_detail, r);
    }
}

fn on(b: &AtomicBool) -> bool {
    b.load(Ordering::Relaxed)
}

/// All Asterisk families and the state behind them.
pub struct Model {
    cap: Arc<SeriesCap>,
    switches: Switches,
    fleet: Mutex<Arc<Vec<(u64, u64)>>>,
    /// Channels and calls.
    pub channels: channels::ChannelModel,
    /// Endpoints, fleet, outbound registrations.
    pub endpoints: endpoints::EndpointModel,
    /// RTCP.
    pub media: media::MediaModel,
    /// Bridges and ConfBridge.
    pub bridges: bridges::BridgeModel,
    /// app_queue.
    pub queues: queues::QueueModel,
    /// Security events.
    pub security: Family<Counter>,
    /// Sampled values and codecs.
    pub samples: samples::SampleModel,
}

fn buckets(cfg: &Config, family: &str) -> Buckets {
    // Validated when the configuration was built; the defaults are valid by construction.
    Buckets::new(&cfg.buckets_for(family))
        .unwrap_or_else(|_| Buckets::new(&[1.0]).expect("one bound is valid"))
}

impl Model {
    /// A model with no series, set up from `cfg`.
    pub fn new(cfg: &Config) -> Model {
        let cap = SeriesCap::new(cfg.max_series_per_family);
        let m = Model {
            channels: channels::ChannelModel::new(
                &cap,
                buckets(cfg, "asterisk_channel_duration_seconds"),
                buckets(cfg, "asterisk_channel_answered_duration_seconds"),
            ),
            endpoints: endpoints::EndpointModel::new(&cap),
            media: media::MediaModel::new(
                &cap,
                media::MediaBuckets {
                    jitter: buckets(cfg, "asterisk_rtcp_jitter_seconds"),
                    loss: buckets(cfg, "asterisk_rtcp_packet_loss_ratio"),
                    rtt: buckets(cfg, "asterisk_rtcp_rtt_seconds"),
                    mes: buckets(cfg, "asterisk_rtcp_mes"),
                },
            ),
            bridges: bridges::BridgeModel::new(&cap),
            queues: queues::QueueModel::new(&cap, buckets(cfg, "asterisk_queue_wait_seconds")),
            security: Family::new(
                "asterisk_security_events_total",
                "Security events by service and event type (failed ACL, invalid password, ...).",
                &["service", "event"],
                (),
                cap.clone(),
            ),
            samples: samples::SampleModel::new(&cap),
            switches: Switches::default(),
            fleet: Mutex::new(Arc::new(cfg.phone_fleet.clone())),
            cap,
        };
        m.switches.store(&cfg.collectors, cfg.channel_detail);
        m
    }

    /// The cardinality cap in force.
    pub fn cap(&self) -> usize {
        self.cap.get()
    }

    /// For `prom_rs_untracked_total`: per fixed-size table of the model, the objects it did not track because it
    /// was full. Every table the model bounds is listed, so no cap drops anything silently.
    pub fn untracked(&self) -> [(&'static str, u64); 5] {
        let (bridges, conferences) = self.bridges.untracked();
        [
            ("channels", self.channels.untracked()),
            ("bridges", bridges),
            ("conferences", conferences),
            ("rtcp_endpoints", self.media.untracked()),
            ("queue_callers", self.queues.untracked()),
        ]
    }
}

impl EventCollector for Model {
    /// Applies a new configuration to a running model, keeping every counter. Returns a line for each histogram
    /// family whose buckets changed (and which therefore restarted from zero).
    fn reconfigure(&self, cfg: &Config) -> Vec<String> {
        self.cap.set(cfg.max_series_per_family);
        self.switches.store(&cfg.collectors, cfg.channel_detail);
        *lock(&self.fleet) = Arc::new(cfg.phone_fleet.clone());
        let hist = [
            (&self.channels.duration, "asterisk_channel_duration_seconds"),
            (
                &self.channels.answered,
                "asterisk_channel_answered_duration_seconds",
            ),
            (&self.media.jitter, "asterisk_rtcp_jitter_seconds"),
            (&self.media.loss, "asterisk_rtcp_packet_loss_ratio"),
            (&self.media.rtt, "asterisk_rtcp_rtt_seconds"),
            (&self.media.mes, "asterisk_rtcp_mes"),
            (&self.queues.wait, "asterisk_queue_wait_seconds"),
        ];
        hist.iter()
            .filter(|(f, name)| f.set_proto(buckets(cfg, name)))
            .map(|(_, name)| {
                format!("buckets of {name} changed: that histogram starts again from zero")
            })
            .collect()
    }

    /// Routes one event. An error means a value was out of range; nothing was changed then.
    fn apply(&self, ev: &Event<'_>) -> Result<(), String> {
        let s = &self.switches;
        match *ev {
            Event::ChannelCreated {
                uniqueid,
                tech,
                endpoint,
                state,
                created_us,
            } if on(&s.channels) => self
                .channels
                .created(uniqueid, tech, endpoint, state, created_us),
            Event::ChannelState {
                uniqueid,
                state,
                ts_us,
            } if on(&s.channels) => self.channels.state(uniqueid, state, ts_us),
            Event::ChannelHangup {
                uniqueid,
                tech,
                cause,
                created_us,
                ts_us,
            } if on(&s.channels) => self
                .channels
                .hangup(uniqueid, tech, cause, created_us, ts_us),
            Event::DialResult { dialstatus, .. } if on(&s.channels) => {
                self.channels.dial(dialstatus);
                Ok(())
            }
            Event::EndpointState {
                tech,
                resource,
                state,
                channel_count,
                ..
            } if on(&s.endpoints) => self.endpoints.state(tech, resource, state, channel_count),
            Event::EndpointContact {
                tech,
                resource,
                status,
                rtt_us,
                ..
            } if on(&s.endpoints) => self.endpoints.contact(tech, resource, status, rtt_us),
            Event::OutboundRegistration {
                tech,
                username,
                domain,
                status,
                ..
            } if on(&s.endpoints) => self.endpoints.registration(tech, username, domain, status),
            Event::RtcpReport {
                tech,
                endpoint,
                direction,
                jitter_seconds,
                loss_ratio,
                rtt_seconds,
                mes,
                ..
            } if on(&s.rtcp) => self.media.report(
                tech,
                endpoint,
                direction,
                jitter_seconds,
                loss_ratio,
                rtt_seconds,
                mes,
            ),
            Event::BridgeCreated {
                bridge_id,
                technology,
                invisible,
                ..
            } if on(&s.bridges) => {
                self.bridges.created(bridge_id, technology, invisible != 0);
                Ok(())
            }
            Event::BridgeDestroyed { bridge_id, .. } if on(&s.bridges) => {
                self.bridges.destroyed(bridge_id);
                Ok(())
            }
            Event::BridgeEnter { bridge_id, .. } if on(&s.bridges) => {
                self.bridges.enter(bridge_id);
                Ok(())
            }
            Event::BridgeLeave { bridge_id, .. } if on(&s.bridges) => {
                self.bridges.leave(bridge_id);
                Ok(())
            }
            Event::Confbridge {
                conference, kind, ..
            } if on(&s.bridges) => self.bridges.confbridge(conference, kind),
            Event::QueueCaller {
                queue,
                uniqueid,
                kind,
                ts_us,
            } if on(&s.queues) => self.queues.caller(queue, uniqueid, kind, ts_us),
            Event::SecurityEvent { service, event, .. } if on(&s.security) => {
                self.security
                    .with(&[service, names::security_event(event)], |c| c.inc());
                Ok(())
            }
            Event::SampleSystem {
                version,
                startup_us,
                last_reload_us,
                active_calls,
                processed_calls,
                now_us,
            } => {
                self.samples.system(
                    version,
                    startup_us,
                    last_reload_us,
                    active_calls,
                    processed_calls,
                    now_us,
                );
                Ok(())
            }
            Event::SampleCodecsBegin if on(&s.codecs) => {
                self.samples.codecs_begin();
                Ok(())
            }
            Event::SampleChannelCodec {
                codec,
                translate_from,
                translate_to,
            } if on(&s.codecs) => self
                .samples
                .channel_codec(codec, translate_from, translate_to),
            Event::SampleCodecsEnd if on(&s.codecs) => self.samples.codecs_end(),
            // The event's collector is switched off.
            _ => Ok(()),
        }
    }

    /// Calls `f` with every family of the enabled collectors, in page order. `now_us` is the scrape time.
    fn visit(&self, now_us: i64, f: &mut dyn FnMut(&dyn Collect)) {
        let s = &self.switches;
        let cap = self.cap.get();
        let mut each = |fs: &[&dyn Collect]| fs.iter().for_each(|c| f(*c));
        each(&self.samples.families());
        if on(&s.channels) {
            each(&self.channels.families());
        }
        if on(&s.codecs) {
            each(&[&samples::CodecFamilies {
                sample: self.samples.codec_sample(),
                cap,
            }]);
        }
        if on(&s.endpoints) {
            each(&self.endpoints.families());
            let ranges = lock(&self.fleet).clone();
            each(&[&endpoints::PhoneFleet {
                model: &self.endpoints,
                ranges: &ranges,
                cap,
            }]);
        }
        if on(&s.rtcp) {
            each(&self.media.families());
        }
        if on(&s.bridges) {
            each(&self.bridges.families());
        }
        if on(&s.queues) {
            each(&self.queues.families());
        }
        if on(&s.security) {
            each(&[&self.security]);
        }
        if on(&s.channels) && on(&s.channel_detail) {
            each(&[&channels::ChannelDetail {
                model: &self.channels,
                now_us,
                cap,
            }]);
        }
    }

    fn fill_status(&self, n: &mut Numbers) {
        self.fill(n);
    }
}
