//! What the status page shows of the Asterisk model, read from its own families. The label order of each family is
//! known here, where the families are defined, and nowhere else.

use super::Model;
use crate::registry::metric::Histogram;
use crate::registry::Family;
use crate::status::numbers::{EndpointName, MediaRow, Numbers, QueueRow};

/// `(tech, endpoint)` of an endpoint-labelled series.
fn endpoint(labels: &[Box<str>]) -> Option<EndpointName> {
    match labels {
        [tech, endpoint, ..] => Some((tech.to_string(), endpoint.to_string())),
        _ => None,
    }
}

/// Sum and count of every series of a histogram family.
fn totals(f: &Family<Histogram>) -> (f64, u64) {
    f.fold((0.0, 0u64), |(sum, n), _, h| {
        let snap = h.snapshot();
        (sum + snap.sum, n + snap.count)
    })
}

impl Model {
    /// Fills the Asterisk part of the status page's numbers.
    pub(super) fn fill(&self, n: &mut Numbers) {
        n.channels_by_tech = self.channels.channels.fold(Vec::new(), |mut v, l, g| {
            if let [tech] = l {
                v.push((tech.to_string(), g.get()));
            }
            v
        });
        n.channels_by_tech.sort_by(|a, b| a.0.cmp(&b.0));
        n.channels_created = self.channels.created.fold(0, |n, _, c| n + c.get());
        let (mut up, mut down) = (0, Vec::new());
        self.endpoints.up.fold((), |(), l, g| {
            if g.get() > 0.0 {
                up += 1;
            } else if let Some(e) = endpoint(l) {
                down.push(e);
            }
        });
        down.sort();
        (n.endpoints_up, n.endpoints_down) = (up, down);
        n.round_trips = self.endpoints.rtt.fold(Vec::new(), |mut v, l, g| {
            v.extend(endpoint(l).map(|e| (e, g.get())));
            v
        });
        n.round_trips
            .sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let media = &self.media;
        n.worst_media = media.ep_loss.fold(Vec::new(), |mut v, l, g| {
            if let Some((tech, ep)) = endpoint(l) {
                let jitter = media
                    .ep_jitter
                    .with_existing(&[&tech, &ep], |j| j.get())
                    .unwrap_or(0.0);
                v.push(MediaRow {
                    endpoint: (tech, ep),
                    jitter,
                    loss: g.get(),
                });
            }
            v
        });
        n.worst_media.sort_by(|a, b| {
            b.loss
                .total_cmp(&a.loss)
                .then(b.jitter.total_cmp(&a.jitter))
                .then_with(|| a.endpoint.cmp(&b.endpoint))
        });
        n.worst_media.truncate(10);
        let ((jsum, jn), (lsum, ln)) = (totals(&media.jitter), totals(&media.loss));
        n.rtcp_mean = (jn > 0 && ln > 0).then(|| (jsum / jn as f64, lsum / ln as f64));
        let q = &self.queues;
        n.queues = q.joined.fold(Vec::new(), |mut v, l, c| {
            if let [queue] = l {
                let queue: &str = queue;
                v.push(QueueRow {
                    queue: queue.to_string(),
                    waiting: q
                        .callers
                        .with_existing(&[queue], |g| g.get())
                        .unwrap_or(0.0),
                    joined: c.get(),
                    abandoned: q
                        .abandoned
                        .with_existing(&[queue], |c| c.get())
                        .unwrap_or(0),
                });
            }
            v
        });
        n.queues.sort_by(|a, b| a.queue.cmp(&b.queue));
        n.active_calls = self.samples.active_calls.with_existing(&[], |g| g.get());
    }
}
