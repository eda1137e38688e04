//! Endpoints (PJSIP endpoints, SIP/IAX2 peers): up/down, contact status, qualify round trip, channel count, counts by
//! state, churn; the phone fleet (3-state model over configured extension ranges); outbound registrations.

use super::names;
use crate::registry::metric::{Counter, Gauge};
use crate::registry::render::{Kind, PageWriter};
use crate::registry::{tuple_map, Collect, Family, LabelRef, SeriesCap, TupleMap};
use std::sync::atomic::{AtomicI32, AtomicI8, AtomicUsize, Ordering};
use std::sync::Arc;

const NONE: usize = usize::MAX;

/// What the model remembers about one endpoint between events.
#[derive(Debug)]
pub(crate) struct EndpointRec {
    /// `ast_endpoint_state` value, or -1 before the first state event.
    state: AtomicI32,
    /// Index into [`names::CONTACT_STATUSES`], or `NONE`.
    status: AtomicUsize,
    channels: AtomicI32,
    /// Last exported up value: -1 never exported, else 0/1.
    up: AtomicI8,
}

impl EndpointRec {
    fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed) == 1
    }
}

/// The endpoint families and the endpoint table.
pub struct EndpointModel {
    table: TupleMap<Arc<EndpointRec>>,
    /// The same records by resource name, for the phone fleet (whose ranges name extensions, not technologies).
    by_resource: papaya::HashMap<Box<str>, Arc<EndpointRec>, foldhash::fast::RandomState>,
    pub(crate) up: Family<Gauge>,
    pub(crate) status: Family<Gauge>,
    pub(crate) rtt: Family<Gauge>,
    pub(crate) channels: Family<Gauge>,
    pub(crate) counts: Family<Gauge>,
    pub(crate) changes: Family<Counter>,
    pub(crate) registrations: Family<Gauge>,
}

impl EndpointModel {
    /// Empty families.
    pub fn new(cap: &Arc<SeriesCap>) -> Self {
        let te = &["tech", "endpoint"];
        EndpointModel {
            table: tuple_map(),
            by_resource: papaya::HashMap::builder()
                .hasher(foldhash::fast::RandomState::default())
                .build(),
            up: Family::new(
                "asterisk_endpoint_up",
                "1 when the endpoint is reachable/online, else 0.",
                te,
                (),
                cap.clone(),
            ),
            status: Family::new(
                "asterisk_endpoint_status",
                "Contact/peer status of the endpoint (1 for the current status).",
                &["tech", "endpoint", "status"],
                (),
                cap.clone(),
            ),
            rtt: Family::new(
                "asterisk_endpoint_rtt_seconds",
                "Qualify round trip of the endpoint's contact, while it is reachable.",
                te,
                (),
                cap.clone(),
            ),
            channels: Family::new(
                "asterisk_endpoint_channels",
                "Active channels of the endpoint.",
                te,
                (),
                cap.clone(),
            ),
            counts: Family::new(
                "asterisk_endpoints",
                "Endpoints by technology and state (online, offline, unknown).",
                &["tech", "state"],
                (),
                cap.clone(),
            ),
            changes: Family::new(
                "asterisk_endpoint_state_changes_total",
                "Times the endpoint went up or down (registration churn).",
                te,
                (),
                cap.clone(),
            ),
            registrations: Family::new(
                "asterisk_outbound_registration_status",
                "Outbound registration: 0 unregistered, 1 registered, 2 rejected.",
                &["tech", "username", "domain"],
                (),
                cap.clone(),
            ),
        }
    }

    fn record(&self, tech: &str, resource: &str) -> Arc<EndpointRec> {
        let table = self.table.pin();
        if let Some(rec) = table.get(&LabelRef(&[tech, resource])) {
            return rec.clone();
        }
        let fresh = Arc::new(EndpointRec {
            state: AtomicI32::new(-1),
            status: AtomicUsize::new(NONE),
            channels: AtomicI32::new(0),
            up: AtomicI8::new(-1),
        });
        let rec = table
            .get_or_insert(crate::registry::LabelKey::new(&[tech, resource]), fresh)
            .clone();
        if resource.bytes().all(|b| b.is_ascii_digit()) && !resource.is_empty() {
            self.by_resource.pin().insert(resource.into(), rec.clone());
        }
        rec
    }

    /// Recomputes up/down from the endpoint state (authoritative when known) or the contact status.
    fn refresh_up(&self, tech: &str, resource: &str, rec: &EndpointRec) {
        let by_status = || {
            let s = rec.status.load(Ordering::Relaxed);
            (s != NONE)
                .then(|| names::contact_status_is_up(s))
                .flatten()
                .unwrap_or(false)
        };
        let up = match rec.state.load(Ordering::Relaxed) {
            2 => true,
            1 => false,
            _ => by_status(),
        };
        let old = rec.up.swap(i8::from(up), Ordering::Relaxed);
        if old != i8::from(up) {
            let set = |g: &Gauge| g.set(f64::from(u8::from(up)));
            if self.up.with(&[tech, resource], set).is_none() {
                // Dropped by the cardinality cap: forget the value so a later event (after a raised cap) retries.
                rec.up.store(-1, Ordering::Relaxed);
                return;
            }
            if old != -1 {
                self.changes.with(&[tech, resource], |c| c.inc());
            }
        }
    }

    /// Endpoint state and channel count from an endpoint snapshot.
    pub fn state(
        &self,
        tech: &str,
        resource: &str,
        state: i32,
        channel_count: i32,
    ) -> Result<(), String> {
        let new_label = names::endpoint_state(state)?;
        let rec = self.record(tech, resource);
        let old = rec.state.swap(state, Ordering::Relaxed);
        if old != state {
            if let Ok(old_label) = names::endpoint_state(old) {
                self.counts.with(&[tech, old_label], |g| g.add(-1.0));
            }
            self.counts.with(&[tech, new_label], |g| g.add(1.0));
        }
        let count = channel_count.max(0);
        if rec.channels.swap(count, Ordering::Relaxed) != count || old == -1 {
            self.channels
                .with(&[tech, resource], |g| g.set(f64::from(count)));
        }
        self.refresh_up(tech, resource, &rec);
        Ok(())
    }

    /// Contact/peer status, with the round trip when known.
    pub fn contact(
        &self,
        tech: &str,
        resource: &str,
        status: &str,
        rtt_us: i64,
    ) -> Result<(), String> {
        let idx = names::contact_status(status)?;
        let rec = self.record(tech, resource);
        let old = rec.status.swap(idx, Ordering::Relaxed);
        if old != idx {
            if let Some(old_label) = names::CONTACT_STATUSES.get(old) {
                self.status.remove(&[tech, resource, old_label]);
            }
            self.status
                .with(&[tech, resource, names::CONTACT_STATUSES[idx]], |g| {
                    g.set(1.0)
                });
        }
        match names::contact_status_is_up(idx) {
            Some(true) if rtt_us >= 0 => {
                self.rtt
                    .with(&[tech, resource], |g| g.set(rtt_us as f64 / 1e6));
            }
            Some(false) => {
                self.rtt.remove(&[tech, resource]);
            }
            _ => {}
        }
        self.refresh_up(tech, resource, &rec);
        Ok(())
    }

    /// Outbound registration status.
    pub fn registration(
        &self,
        tech: &str,
        username: &str,
        domain: &str,
        status: &str,
    ) -> Result<(), String> {
        let v = names::registration_status(status)?;
        self.registrations
            .with(&[tech, username, domain], |g| g.set(v));
        Ok(())
    }

    /// Endpoints known.
    pub fn known(&self) -> usize {
        self.table.len()
    }

    /// The families, in page order.
    pub fn families(&self) -> [&dyn Collect; 7] {
        [
            &self.up,
            &self.status,
            &self.rtt,
            &self.channels,
            &self.counts,
            &self.changes,
            &self.registrations,
        ]
    }

    /// 0 offline, 1 idle, 2 in call, for a fleet extension.
    fn fleet_state(&self, ext: &str) -> u8 {
        match self.by_resource.pin().get(ext) {
            Some(rec) if rec.is_up() && rec.channels.load(Ordering::Relaxed) > 0 => 2,
            Some(rec) if rec.is_up() => 1,
            _ => 0,
        }
    }
}

/// The phone fleet, computed at scrape time from the endpoint table over the configured ranges.
pub struct PhoneFleet<'a> {
    /// The endpoint model to read.
    pub model: &'a EndpointModel,
    /// Configured extension ranges.
    pub ranges: &'a [(u64, u64)],
    /// Series cap for the per-phone family.
    pub cap: usize,
}

impl PhoneFleet<'_> {
    fn extensions(&self) -> impl Iterator<Item = u64> + '_ {
        self.ranges.iter().flat_map(|(a, b)| *a..=*b)
    }
}

impl Collect for PhoneFleet<'_> {
    fn name(&self) -> &str {
        "asterisk_phone_fleet_state"
    }
    fn render(&self, w: &mut PageWriter<'_>) {
        if self.ranges.is_empty() {
            return;
        }
        let (mut registered, mut incall, mut total) = (0u64, 0u64, 0u64);
        w.header(
            self.name(),
            "Fleet phone state: 0 offline, 1 idle, 2 in call.",
            Kind::Gauge,
        );
        let mut label = String::new();
        for ext in self.extensions() {
            let name = ext.to_string();
            let state = self.model.fleet_state(&name);
            registered += u64::from(state > 0);
            incall += u64::from(state == 2);
            total += 1;
            if total as usize <= self.cap {
                label.clear();
                label.push_str("endpoint=\"");
                label.push_str(&name);
                label.push('"');
                w.sample_u64(self.name(), &label, u64::from(state));
            }
        }
        for (name, help, v) in [
            (
                "asterisk_phone_fleet_registered",
                "Fleet phones registered (idle or in call).",
                registered,
            ),
            (
                "asterisk_phone_fleet_incall",
                "Fleet phones in a call.",
                incall,
            ),
            (
                "asterisk_phone_fleet_size",
                "Phones in the configured fleet ranges.",
                total,
            ),
        ] {
            w.header(name, help, Kind::Gauge);
            w.sample_u64(name, "", v);
        }
    }
    fn selected_by(&self, prefix: &str) -> bool {
        // The four fleet families share the prefix; any prefix of one of them selects the group.
        ["state", "registered", "incall", "size"]
            .iter()
            .any(|f| format!("asterisk_phone_fleet_{f}").starts_with(prefix))
    }
    fn dropped(&self) -> u64 {
        (self.extensions().count() as u64).saturating_sub(self.cap as u64)
    }
    fn series_count(&self) -> usize {
        self.extensions().count().min(self.cap) + 3
    }
}
