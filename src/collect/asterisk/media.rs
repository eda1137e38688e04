//! Media quality from RTCP reports: distributions of jitter, loss, round trip and MES over every report, and the
//! latest values per endpoint.
//!
//! Per endpoint, jitter and loss are the worse of the latest received and latest sent report, so a one-way problem
//! shows whichever side measured it; the round trip is the latest one reported.

use crate::registry::metric::{Buckets, Gauge, Histogram};
use crate::registry::{tuple_map, Collect, Family, LabelKey, LabelRef, SeriesCap, TupleMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const DIRECTIONS: [&str; 2] = ["rx", "tx"];

/// Endpoints whose latest reports are remembered; beyond this only the histograms are updated.
const MAX_ENDPOINTS: usize = 100_000;

/// Latest jitter and loss per direction, as f64 bits: [rx jitter, tx jitter, rx loss, tx loss].
#[derive(Default)]
struct Latest([AtomicU64; 4]);

/// Bucket layouts of the media histograms.
pub struct MediaBuckets {
    /// Jitter, seconds.
    pub jitter: Buckets,
    /// Loss, ratio 0..1.
    pub loss: Buckets,
    /// Round trip, seconds.
    pub rtt: Buckets,
    /// Media experience score, 0..100.
    pub mes: Buckets,
}

/// The RTCP families.
pub struct MediaModel {
    latest: TupleMap<Latest>,
    /// Reports of endpoints not tracked because `MAX_ENDPOINTS` endpoints were.
    untracked: AtomicU64,
    pub(crate) jitter: Family<Histogram>,
    pub(crate) loss: Family<Histogram>,
    pub(crate) rtt: Family<Histogram>,
    pub(crate) mes: Family<Histogram>,
    pub(crate) ep_jitter: Family<Gauge>,
    pub(crate) ep_loss: Family<Gauge>,
    pub(crate) ep_rtt: Family<Gauge>,
}

impl MediaModel {
    /// Empty families.
    pub fn new(cap: &Arc<SeriesCap>, b: MediaBuckets) -> Self {
        let d = &["direction"];
        let te = &["tech", "endpoint"];
        MediaModel {
            untracked: AtomicU64::new(0),
            latest: tuple_map(),
            jitter: Family::new(
                "asterisk_rtcp_jitter_seconds",
                "Interarrival jitter in RTCP reports.",
                d,
                b.jitter,
                cap.clone(),
            ),
            loss: Family::new(
                "asterisk_rtcp_packet_loss_ratio",
                "Fraction of packets lost, from RTCP reports.",
                d,
                b.loss,
                cap.clone(),
            ),
            rtt: Family::new(
                "asterisk_rtcp_rtt_seconds",
                "Round-trip time computed from RTCP reports.",
                &[],
                b.rtt,
                cap.clone(),
            ),
            mes: Family::new(
                "asterisk_rtcp_mes",
                "Media experience score (0-100) reported with RTCP.",
                d,
                b.mes,
                cap.clone(),
            ),
            ep_jitter: Family::new(
                "asterisk_endpoint_rtcp_jitter_seconds",
                "Latest RTCP jitter of the endpoint's media (worse of the two directions).",
                te,
                (),
                cap.clone(),
            ),
            ep_loss: Family::new(
                "asterisk_endpoint_rtcp_packet_loss_ratio",
                "Latest RTCP loss ratio of the endpoint's media (worse of the two directions).",
                te,
                (),
                cap.clone(),
            ),
            ep_rtt: Family::new(
                "asterisk_endpoint_rtcp_rtt_seconds",
                "Latest RTCP round trip of the endpoint's media.",
                te,
                (),
                cap.clone(),
            ),
        }
    }

    /// One RTCP report.
    #[allow(clippy::too_many_arguments)]
    pub fn report(
        &self,
        tech: &str,
        endpoint: &str,
        direction: i32,
        jitter: f64,
        loss: f64,
        rtt: f64,
        mes: f64,
    ) -> Result<(), String> {
        let dir = usize::try_from(direction)
            .ok()
            .filter(|d| *d < 2)
            .ok_or_else(|| format!("RTCP direction {direction} is not 0 (received) or 1 (sent)"))?;
        if !(jitter.is_finite() && jitter >= 0.0 && (0.0..=1.0).contains(&loss)) {
            return Err(format!(
                "RTCP report values out of range: jitter {jitter} s must be >= 0, loss {loss} must be a ratio in 0..1"
            ));
        }
        let label = DIRECTIONS[dir];
        self.jitter.with(&[label], |h| h.observe(jitter));
        self.loss.with(&[label], |h| h.observe(loss));
        if rtt.is_finite() && rtt >= 0.0 {
            self.rtt.with(&[], |h| h.observe(rtt));
        }
        if mes.is_finite() && mes >= 0.0 {
            self.mes.with(&[label], |h| h.observe(mes));
        }
        if endpoint.is_empty() {
            return Ok(());
        }
        let key = [tech, endpoint];
        let latest = self.latest.pin();
        let cell = match latest.get(&LabelRef(&key)) {
            Some(c) => c,
            None if latest.len() >= MAX_ENDPOINTS => {
                self.untracked.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            None => latest.get_or_insert_with(LabelKey::new(&key), Latest::default),
        };
        cell.0[dir].store(jitter.to_bits(), Ordering::Relaxed);
        cell.0[2 + dir].store(loss.to_bits(), Ordering::Relaxed);
        let worst = |a: usize, b: usize| {
            f64::from_bits(cell.0[a].load(Ordering::Relaxed))
                .max(f64::from_bits(cell.0[b].load(Ordering::Relaxed)))
        };
        self.ep_jitter.with(&key, |g| g.set(worst(0, 1)));
        self.ep_loss.with(&key, |g| g.set(worst(2, 3)));
        if rtt.is_finite() && rtt >= 0.0 {
            self.ep_rtt.with(&key, |g| g.set(rtt));
        }
        Ok(())
    }

    /// Reports not kept per endpoint because `MAX_ENDPOINTS` endpoints already were (missing from the
    /// `asterisk_endpoint_rtcp_*` gauges; the histograms still count them).
    pub fn untracked(&self) -> u64 {
        self.untracked.load(Ordering::Relaxed)
    }

    /// The families, in page order.
    pub fn families(&self) -> [&dyn Collect; 7] {
        [
            &self.jitter,
            &self.loss,
            &self.rtt,
            &self.mes,
            &self.ep_jitter,
            &self.ep_loss,
            &self.ep_rtt,
        ]
    }
}
