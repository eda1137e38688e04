//! The numbers the status page shows: a narrow view that each collector fills from its own state
//! (`EventCollector::fill_status`, `Poller::fill_status`), so the page knows no collector's families or label order.

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
    pub call_center: Option<CallCenter>,
}

/// What an on-call engineer looks at first in a call center (ViciDial), for the status page.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CallCenter {
    /// Logged-in agents by shown status, in the reader's status order (zeros included).
    pub agents_by_status: Vec<(&'static str, u64)>,
    /// Answered calls waiting for an agent.
    pub calls_waiting: u64,
    /// Missing recordings in the last hour.
    pub recordings_missing: u64,
    /// The agents longest in their current status: (agent, status, seconds), longest first, at most 5.
    pub longest: Vec<(String, String, i64)>,
}

impl Numbers {
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
        self.call_center.as_ref().map_or(0, |v| {
            v.agents_by_status
                .iter()
                .filter(|(s, _)| statuses.contains(s))
                .map(|(_, n)| n)
                .sum()
        })
    }
}
