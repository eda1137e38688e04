//! The page `tests/sql/scenario.sql` must produce: every `vicidial_*` series with its exact value.

use std::collections::BTreeMap;

/// The expected page for `tests/sql/scenario.sql` with `vicidial.server_ip = 10.0.0.1`, except the state seconds,
/// which grow while the test runs: those are (series, seconds at insertion).
pub fn expected_scenario() -> (BTreeMap<String, f64>, Vec<(String, f64)>) {
    let mut m = BTreeMap::new();
    let mut put = |s: String, v: f64| {
        m.insert(s, v);
    };
    for (campaign, counts) in [
        ("SALES", [1, 1, 2, 2, 0, 0, 0]),
        ("SUPPORT", [0, 0, 0, 1, 1, 1, 2]),
    ] {
        for (status, n) in [
            "READY", "QUEUE", "INCALL", "PAUSED", "CLOSER", "MQUEUE", "DISPO",
        ]
        .iter()
        .zip(counts)
        {
            put(
                format!("vicidial_agents{{campaign=\"{campaign}\",status=\"{status}\"}}"),
                n as f64,
            );
        }
    }
    let agents = [
        ("a01", "READY", 30.0),
        ("a02", "QUEUE", 5.0),
        ("a03", "INCALL", 120.0),
        ("a04", "PAUSED", 600.0),
        ("a05", "PAUSED", 60.0),
        ("a06", "DISPO", 15.0),
        ("a07", "DISPO", 20.0),
        ("a08", "CLOSER", 45.0),
        ("a09", "MQUEUE", 10.0),
        ("a10", "PAUSED", 300.0),
        ("a12", "INCALL", 200.0),
    ];
    let mut seconds = Vec::new();
    for (a, s, secs) in agents {
        put(
            format!("vicidial_agent_status{{agent=\"{a}\",status=\"{s}\"}}"),
            1.0,
        );
        seconds.push((
            format!("vicidial_agent_state_seconds{{agent=\"{a}\",status=\"{s}\"}}"),
            secs,
        ));
    }
    put(
        "vicidial_agent_pause_code{agent=\"a04\",pause_code=\"LUNCH\"}".into(),
        1.0,
    );
    put(
        "vicidial_agent_pause_code{agent=\"a10\",pause_code=\"BREAK\"}".into(),
        1.0,
    );
    for (c, s, n) in [
        ("SALES", "LIVE", 2),
        ("SALES", "SENT", 1),
        ("SALES", "RINGING", 1),
        ("IN_SUP", "LIVE", 3),
        ("IN_SUP", "CLOSER", 1),
    ] {
        put(
            format!("vicidial_auto_calls{{campaign=\"{c}\",status=\"{s}\"}}"),
            n as f64,
        );
    }
    put("vicidial_recordings_missing".into(), 2.0);
    for (c, t, n) in [
        ("IN_SUP", "CALLER", 1),
        ("IN_SUP", "AGENT", 1),
        ("IN_SUP", "ABANDON", 1),
        ("IN_SALES", "CALLER", 2),
        ("IN_SALES", "QUEUETIMEOUT", 1),
    ] {
        put(
            format!("vicidial_inbound_calls_last_hour{{campaign=\"{c}\",term_reason=\"{t}\"}}"),
            n as f64,
        );
    }
    put(
        "vicidial_queue_wait_seconds_avg_last_hour{campaign=\"IN_SUP\"}".into(),
        15.0,
    );
    put(
        "vicidial_queue_wait_seconds_avg_last_hour{campaign=\"IN_SALES\"}".into(),
        21.0,
    );
    kpi_expected(&mut put);
    (m, seconds)
}

/// The KPI families of the scenario (the same with or without `vicidial.server_ip`: they are campaign-wide).
fn kpi_expected(put: &mut dyn FnMut(String, f64)) {
    // The in-groups' calls of today are in the last hour as well.
    for (c, t, n) in [
        ("IN_SLA", "AGENT", 2),
        ("IN_SLA", "CALLER", 1),
        ("IN_SLA", "ABANDON", 2),
        ("IN_SLA", "NONE", 1),
        ("IN_SLB", "AGENT", 1),
        ("IN_SLB", "AFTERHOURS", 1),
    ] {
        put(
            format!("vicidial_inbound_calls_last_hour{{campaign=\"{c}\",term_reason=\"{t}\"}}"),
            n as f64,
        );
    }
    put(
        "vicidial_queue_wait_seconds_avg_last_hour{campaign=\"IN_SLA\"}".into(),
        122.01 / 6.0,
    );
    put(
        "vicidial_queue_wait_seconds_avg_last_hour{campaign=\"IN_SLB\"}".into(),
        15.0,
    );
    let by_campaign: &[(&str, &[(&str, f64)])] = &[
        (
            "vicidial_campaign_calls_today",
            &[("SALES", 1200.0), ("SUPPORT", 300.0), ("OLDCAMP", 0.0)],
        ),
        (
            "vicidial_campaign_answers_today",
            &[("SALES", 400.0), ("SUPPORT", 150.0), ("OLDCAMP", 0.0)],
        ),
        (
            "vicidial_campaign_drops_today",
            &[("SALES", 10.0), ("SUPPORT", 6.0), ("OLDCAMP", 0.0)],
        ),
        (
            "vicidial_campaign_drop_answered_ratio_today",
            &[("SALES", 0.025), ("SUPPORT", 0.04), ("OLDCAMP", 0.0)],
        ),
        (
            "vicidial_campaign_calls_last_minute",
            &[("SALES", 14.0), ("SUPPORT", 3.0), ("OLDCAMP", 0.0)],
        ),
        // 30 days: today's, yesterday's, day 29's; not day 30's or older, not a DROP over 6000 s, not an XDROP,
        // not SURV in SALES (human-answered only in SUPPORT).
        (
            "vicidial_campaign_drops_30d",
            &[("SALES", 3.0), ("SUPPORT", 1.0)],
        ),
        (
            "vicidial_campaign_answers_30d",
            &[("SALES", 4.0), ("SUPPORT", 2.0)],
        ),
        (
            "vicidial_campaign_active",
            &[("SALES", 1.0), ("SUPPORT", 1.0), ("OLDCAMP", 0.0)],
        ),
        (
            "vicidial_campaign_dial_level",
            &[("SALES", 2.5), ("SUPPORT", 1.0), ("OLDCAMP", 0.0)],
        ),
        (
            "vicidial_hopper_leads",
            &[("SALES", 3.0), ("SUPPORT", 0.0), ("OLDCAMP", 0.0)],
        ),
        (
            "vicidial_campaign_agent_calls_today",
            &[("SALES", 2.0), ("SUPPORT", 1.0)],
        ),
        (
            "vicidial_campaign_handle_seconds_avg_today",
            &[("SALES", 170.0), ("SUPPORT", 120.0)],
        ),
        // In-groups defined in vicidial_inbound_groups: active ones with zeros, inactive ones with calls.
        (
            "vicidial_inbound_calls_today",
            &[("IN_SLA", 6.0), ("IN_SLB", 2.0), ("IN_IDLE", 0.0)],
        ),
        (
            "vicidial_inbound_answered_today",
            &[("IN_SLA", 3.0), ("IN_SLB", 1.0), ("IN_IDLE", 0.0)],
        ),
        // 20.00 s in queue with a 20 s target is in time, 20.01 s is not; 30 s with 30 s is.
        (
            "vicidial_inbound_answered_within_service_level_today",
            &[("IN_SLA", 2.0), ("IN_SLB", 1.0), ("IN_IDLE", 0.0)],
        ),
        (
            "vicidial_inbound_abandoned_today",
            &[("IN_SLA", 2.0), ("IN_SLB", 0.0), ("IN_IDLE", 0.0)],
        ),
        (
            "vicidial_inbound_service_level_seconds",
            &[("IN_SLA", 20.0), ("IN_SLB", 30.0), ("IN_IDLE", 20.0)],
        ),
    ];
    for (family, values) in by_campaign {
        for (c, v) in *values {
            put(format!("{family}{{campaign=\"{c}\"}}"), *v);
        }
    }
    for (c, m) in [
        ("SALES", "ADAPT_TAPERED"),
        ("SUPPORT", "RATIO"),
        ("OLDCAMP", "MANUAL"),
    ] {
        put(
            format!("vicidial_campaign_dial_method{{campaign=\"{c}\",dial_method=\"{m}\"}}"),
            1.0,
        );
    }
    for (c, secs) in [
        ("SALES", [310.0, 50.0, 300.0, 40.0, 5.0]),
        ("SUPPORT", [5.0, 60.0, 90.0, 30.0, 10.0]),
    ] {
        for (state, v) in ["pause", "wait", "talk", "dispo", "dead"].iter().zip(secs) {
            put(
                format!(
                    "vicidial_campaign_agent_seconds_today{{campaign=\"{c}\",state=\"{state}\"}}"
                ),
                v,
            );
        }
    }
}
