//! The numbers the status page shows, read from the model's families (Rust-side state only, like a scrape).

use crate::core::Shared;
use crate::vicidial::snapshot::Summary;

/// One endpoint's name: (tech, endpoint).
pub type EndpointName = (String, String);

/// Media quality of one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaRow {
    /// Technology and endpoint.
    pub endpoint: EndpointName,
    /// Latest jitter, seconds.
    pub jitter: f64,
    /// Latest loss ratio.
    pub loss: f64,
}

/// One queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRow {
    /// Queue name.
    pub queue: String,
    /// Callers waiting now.
    pub waiting: f64,
    /// Joined since start.
    pub joined: u64,
    /// Abandoned since start.
    pub abandoned: u64,
}

/// A reading of everything on the status page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Numbers {
    /// `ast_active_calls()` from the last sample, when the host samples.
    pub active_calls: Option<f64>,
    /// Live channels by technology.
    pub channels_by_tech: Vec<(String, f64)>,
    /// Channels created since start (all technologies).
    pub channels_created: u64,
    /// Endpoints up.
    pub endpoints_up: usize,
    /// Endpoints down, by name.
    pub endpoints_down: Vec<EndpointName>,
    /// Qualify round trips, longest first.
    pub round_trips: Vec<(EndpointName, f64)>,
    /// Endpoints with the worst latest media, worst loss first.
    pub worst_media: Vec<MediaRow>,
    /// Mean jitter and loss over every RTCP report since start (None before the first report).
    pub rtcp_mean: Option<(f64, f64)>,
    /// Queues by name.
    pub queues: Vec<QueueRow>,
    /// ViciDial agents and calls, when the reader has a snapshot.
    pub vicidial: Option<Summary>,
}

fn pair(labels: &[Box<str>]) -> EndpointName {
    (labels[0].to_string(), labels[1].to_string())
}

impl Numbers {
    /// Reads the numbers now.
    pub fn read(s: &Shared) -> Numbers {
        let m = &s.model;
        let mut channels_by_tech: Vec<(String, f64)> =
            m.channels.channels.fold(Vec::new(), |mut v, l, g| {
                v.push((l[0].to_string(), g.get()));
                v
            });
        channels_by_tech.sort_by(|a, b| a.0.cmp(&b.0));
        let channels_created = m.channels.created.fold(0, |n, _, c| n + c.get());
        let (endpoints_up, mut endpoints_down) =
            m.endpoints
                .up
                .fold((0, Vec::new()), |(up, mut down), l, g| {
                    if g.get() > 0.0 {
                        (up + 1, down)
                    } else {
                        down.push(pair(l));
                        (up, down)
                    }
                });
        endpoints_down.sort();
        let mut round_trips: Vec<(EndpointName, f64)> =
            m.endpoints.rtt.fold(Vec::new(), |mut v, l, g| {
                v.push((pair(l), g.get()));
                v
            });
        round_trips.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut worst_media: Vec<MediaRow> = m.media.ep_loss.fold(Vec::new(), |mut v, l, g| {
            let jitter = m
                .media
                .ep_jitter
                .with_existing(&[&l[0], &l[1]], |j| j.get())
                .unwrap_or(0.0);
            v.push(MediaRow {
                endpoint: pair(l),
                jitter,
                loss: g.get(),
            });
            v
        });
        worst_media.sort_by(|a, b| {
            b.loss
                .total_cmp(&a.loss)
                .then(b.jitter.total_cmp(&a.jitter))
                .then_with(|| a.endpoint.cmp(&b.endpoint))
        });
        worst_media.truncate(10);
        let mean = |f: &crate::registry::Family<crate::registry::metric::Histogram>| {
            f.fold((0.0, 0u64), |(sum, n), _, h| {
                let snap = h.snapshot();
                (sum + snap.sum, n + snap.count)
            })
        };
        let ((jsum, jn), (lsum, ln)) = (mean(&m.media.jitter), mean(&m.media.loss));
        let rtcp_mean = (jn > 0 && ln > 0).then(|| (jsum / jn as f64, lsum / ln as f64));
        let mut queues: Vec<QueueRow> = m.queues.joined.fold(Vec::new(), |mut v, l, c| {
            let q = &*l[0];
            v.push(QueueRow {
                queue: q.to_string(),
                waiting: m
                    .queues
                    .callers
                    .with_existing(&[q], |g| g.get())
                    .unwrap_or(0.0),
                joined: c.get(),
                abandoned: m
                    .queues
                    .abandoned
                    .with_existing(&[q], |c| c.get())
                    .unwrap_or(0),
            });
            v
        });
        queues.sort_by(|a, b| a.queue.cmp(&b.queue));
        Numbers {
            active_calls: m.samples.active_calls.with_existing(&[], |g| g.get()),
            channels_by_tech,
            channels_created,
            endpoints_up,
            endpoints_down,
            round_trips,
            worst_media,
            rtcp_mean,
            queues,
            vicidial: s.vicidial.latest().map(|snap| snap.summary.clone()),
        }
    }

    /// Live channels, all technologies.
    pub fn channels(&self) -> f64 {
        self.channels_by_tech.iter().map(|(_, n)| n).sum()
    }

    /// Callers waiting in all queues.
    pub fn queue_waiting(&self) -> f64 {
        self.queues.iter().map(|q| q.waiting).sum()
    }

    /// Agents with a given shown status (0 without ViciDial).
    pub fn agents(&self, statuses: &[&str]) -> u64 {
        self.vicidial.as_ref().map_or(0, |v| {
            v.agents_by_status
                .iter()
                .filter(|(s, _)| statuses.contains(s))
                .map(|(_, n)| n)
                .sum()
        })
    }
}
