//! The small HTML page at `/`: what this is, where the metrics are, and a few live numbers.

use crate::core::Shared;

/// Renders the landing page.
pub fn page(s: &Shared) -> String {
    let version = env!("CARGO_PKG_VERSION");
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>res_prom_rs</title></head>\n<body>\n\
         <h1>res_prom_rs {version}</h1>\n\
         <p>Prometheus exporter running inside the VoIP server.</p>\n\
         <ul><li>Series: {series}</li><li>Events received: {events}</li><li>Channels tracked: {channels}</li></ul>\n\
         <p>The metrics page is at the configured <code>uri</code> (default <a href=\"/metrics\">/metrics</a>); \
         filter it with <code>?collect[]=asterisk_channel</code>.</p>\n</body></html>\n",
        series = s.series_count(),
        events = s.selfm.events_total(),
        channels = s.model.channels.tracked(),
    )
}
