//! Collector switches, the cardinality cap, and reconfiguration.

use super::*;

/// One event per collector, and a family it must produce.
fn per_collector() -> Vec<(&'static str, Vec<Event<'static>>, &'static [&'static str])> {
    vec![
        (
            "channels",
            vec![
                create("c1", "PJSIP", "1001", 6, T0),
                Event::DialResult {
                    dialstatus: "ANSWER",
                    ts_us: T0,
                },
            ],
            &[
                "asterisk_channels",
                "asterisk_channels_by_state",
                "asterisk_channels_created_total",
                "asterisk_dial_results_total",
            ],
        ),
        (
            "endpoints",
            vec![
                ep_state("PJSIP", "1001", 2, 0),
                Event::OutboundRegistration {
                    tech: "PJSIP",
                    username: "u",
                    domain: "d",
                    status: "Registered",
                    ts_us: T0,
                },
            ],
            &[
                "asterisk_endpoint_up",
                "asterisk_endpoints",
                "asterisk_outbound_registration_status",
                "asterisk_phone_fleet_size",
            ],
        ),
        (
            "rtcp",
            vec![rtcp("1001", 0, 0.01, 0.0, 0.1, 90.0)],
            &[
                "asterisk_rtcp_jitter_seconds",
                "asterisk_endpoint_rtcp_jitter_seconds",
            ],
        ),
        (
            "bridges",
            vec![Event::BridgeCreated {
                bridge_id: "b",
                technology: "simple_bridge",
                invisible: 0,
                ts_us: T0,
            }],
            &[
                "asterisk_bridges",
                "asterisk_bridged_channels",
                "asterisk_confbridge_conferences",
            ],
        ),
        (
            "queues",
            vec![Event::QueueCaller {
                queue: "q",
                uniqueid: "u",
                kind: 0,
                ts_us: T0,
            }],
            &[
                "asterisk_queue_callers",
                "asterisk_queue_callers_joined_total",
            ],
        ),
        (
            "security",
            vec![Event::SecurityEvent {
                service: "PJSIP",
                event: "FailedACL",
                ts_us: T0,
            }],
            &["asterisk_security_events_total"],
        ),
        (
            "codecs",
            vec![
                Event::SampleCodecsBegin,
                Event::SampleChannelCodec {
                    codec: "ulaw",
                    translate_from: None,
                    translate_to: None,
                },
                Event::SampleCodecsEnd,
            ],
            &[
                "asterisk_channels_by_codec",
                "asterisk_transcoding_channels",
            ],
        ),
    ]
}

#[test]
fn a_collector_switched_off_ignores_its_events_and_exports_nothing() {
    for (key, events, families) in per_collector() {
        let on = model(&[("phone_fleet", "1001")]);
        let off = model(&[("phone_fleet", "1001"), (key, "no")]);
        for ev in &events {
            ok(&on, ev.clone());
            // Switched off: accepted (the host is not at fault) and ignored.
            ok(&off, ev.clone());
        }
        let (p_on, p_off) = (page(&on), page(&off));
        for f in families {
            assert!(has_family(&p_on, f), "{key}=yes: {f} missing\n{p_on}");
            assert!(!has_family(&p_off, f), "{key}=no: {f} present\n{p_off}");
        }
        // Switching the collector off on reload hides its families even though they hold series.
        on.reconfigure(&cfg(&[("phone_fleet", "1001"), (key, "no")]));
        let p = page(&on);
        for f in families {
            assert!(!has_family(&p, f), "{key} switched off: {f} present\n{p}");
        }
        // The other collectors are unaffected: the page of the switched-off model still has the sampled core.
        ok(
            &off,
            Event::SampleSystem {
                version: "20",
                startup_us: T0,
                last_reload_us: T0,
                active_calls: 0,
                processed_calls: 0,
                now_us: T0,
            },
        );
        assert_val(&page(&off), "asterisk_build_info{version=\"20\"}", 1.0);
    }
}

#[test]
fn rtcp_off_hides_the_families_and_ignores_reports_until_on_again() {
    let m = model(&[]);
    ok(&m, rtcp("1001", 0, 0.01, 0.0, 0.1, 90.0));
    assert_val(&page(&m), "asterisk_rtcp_rtt_seconds_count", 1.0);

    let off = cfg(&[("rtcp", "no")]);
    assert!(m.reconfigure(&off).is_empty());
    let p = page(&m);
    for f in [
        "asterisk_rtcp_jitter_seconds",
        "asterisk_rtcp_packet_loss_ratio",
        "asterisk_rtcp_rtt_seconds",
        "asterisk_rtcp_mes",
        "asterisk_endpoint_rtcp_jitter_seconds",
        "asterisk_endpoint_rtcp_packet_loss_ratio",
        "asterisk_endpoint_rtcp_rtt_seconds",
    ] {
        assert!(!has_family(&p, f), "{f} still served with rtcp = no\n{p}");
    }
    ok(&m, rtcp("1001", 0, 0.05, 0.5, 0.5, 10.0));

    // On again: what came before is kept, what came while off was never counted.
    assert!(m.reconfigure(&cfg(&[])).is_empty());
    let p = page(&m);
    assert_val(
        &p,
        "asterisk_rtcp_jitter_seconds_count{direction=\"rx\"}",
        1.0,
    );
    assert_val(&p, "asterisk_rtcp_rtt_seconds_count", 1.0);
    assert_val(
        &p,
        "asterisk_endpoint_rtcp_jitter_seconds{tech=\"PJSIP\",endpoint=\"1001\"}",
        0.01,
    );
    ok(&m, rtcp("1001", 0, 0.01, 0.0, 0.1, 90.0));
    let p = page(&m);
    assert_val(
        &p,
        "asterisk_rtcp_jitter_seconds_count{direction=\"rx\"}",
        2.0,
    );
    assert_val(&p, "asterisk_rtcp_mes_count{direction=\"rx\"}", 2.0);
}

#[test]
fn channel_detail_needs_channels_on() {
    let m = model(&[("channel_detail", "yes")]);
    ok(&m, create("c1", "PJSIP", "1001", 6, T0));
    assert!(has_family(&page(&m), "asterisk_channel_age_seconds"));
    m.reconfigure(&cfg(&[("channel_detail", "yes"), ("channels", "no")]));
    assert!(!has_family(&page(&m), "asterisk_channel_age_seconds"));
    m.reconfigure(&cfg(&[]));
    assert!(!has_family(&page(&m), "asterisk_channel_age_seconds"));
    assert_val(&page(&m), "asterisk_channels{tech=\"PJSIP\"}", 1.0);
}

#[test]
fn cardinality_cap_drops_new_series_and_keeps_updating_old_ones() {
    let m = model(&[("max_series_per_family", "3")]);
    assert_eq!(m.cap(), 3);
    for ep in ["1001", "1002", "1003", "1004"] {
        ok(&m, ep_state("PJSIP", ep, 2, 1));
    }
    let p = page(&m);
    for ep in ["1001", "1002", "1003"] {
        assert_val(
            &p,
            &format!("asterisk_endpoint_up{{tech=\"PJSIP\",endpoint=\"{ep}\"}}"),
            1.0,
        );
        assert_val(
            &p,
            &format!("asterisk_endpoint_channels{{tech=\"PJSIP\",endpoint=\"{ep}\"}}"),
            1.0,
        );
    }
    assert_absent(&p, "asterisk_endpoint_up{tech=\"PJSIP\",endpoint=\"1004\"}");
    assert_absent(
        &p,
        "asterisk_endpoint_channels{tech=\"PJSIP\",endpoint=\"1004\"}",
    );
    assert_eq!(count_lines(&p, "asterisk_endpoint_up{"), 3);
    assert_eq!(dropped(&m, "asterisk_endpoint_up"), 1);
    assert_eq!(dropped(&m, "asterisk_endpoint_channels"), 1);
    // The aggregate series exist, so the fourth endpoint is still counted there.
    assert_val(
        &p,
        "asterisk_endpoints{tech=\"PJSIP\",state=\"online\"}",
        4.0,
    );

    ok(&m, ep_state("PJSIP", "1001", 1, 0));
    ok(&m, ep_state("PJSIP", "1004", 1, 0));
    let p = page(&m);
    assert_val(
        &p,
        "asterisk_endpoint_up{tech=\"PJSIP\",endpoint=\"1001\"}",
        0.0,
    );
    assert_val(
        &p,
        "asterisk_endpoint_channels{tech=\"PJSIP\",endpoint=\"1001\"}",
        0.0,
    );
    assert_val(
        &p,
        "asterisk_endpoint_state_changes_total{tech=\"PJSIP\",endpoint=\"1001\"}",
        1.0,
    );
    assert_absent(&p, "asterisk_endpoint_up{tech=\"PJSIP\",endpoint=\"1004\"}");
    assert_val(
        &p,
        "asterisk_endpoints{tech=\"PJSIP\",state=\"online\"}",
        2.0,
    );
    assert_val(
        &p,
        "asterisk_endpoints{tech=\"PJSIP\",state=\"offline\"}",
        2.0,
    );

    // Other families have their own cap.
    for q in ["a", "b", "c", "d"] {
        ok(
            &m,
            Event::QueueCaller {
                queue: q,
                uniqueid: "u",
                kind: 0,
                ts_us: T0,
            },
        );
    }
    let p = page(&m);
    assert_eq!(count_lines(&p, "asterisk_queue_callers{"), 3, "{p}");
    assert_absent(&p, "asterisk_queue_callers{queue=\"d\"}");

    // Raising the cap on reload lets new series in.
    m.reconfigure(&cfg(&[("max_series_per_family", "10")]));
    ok(&m, ep_state("PJSIP", "1004", 2, 0));
    assert_val(
        &page(&m),
        "asterisk_endpoint_up{tech=\"PJSIP\",endpoint=\"1004\"}",
        1.0,
    );
}

#[test]
fn cap_limits_the_fleet_and_channel_detail() {
    let m = model(&[
        ("max_series_per_family", "3"),
        ("phone_fleet", "1001-1005"),
        ("channel_detail", "yes"),
    ]);
    for id in ["a", "b", "c", "d"] {
        ok(&m, create(id, "PJSIP", "1001", 6, T0));
    }
    let p = page(&m);
    assert_eq!(count_lines(&p, "asterisk_phone_fleet_state{"), 3, "{p}");
    assert_val(&p, "asterisk_phone_fleet_size", 5.0);
    assert_eq!(dropped(&m, "asterisk_phone_fleet_state"), 2);
    assert_eq!(count_lines(&p, "asterisk_channel_age_seconds{"), 3, "{p}");
    assert_eq!(dropped(&m, "asterisk_channel_age_seconds"), 1);
    assert_val(&p, "asterisk_channels{tech=\"PJSIP\"}", 4.0);
}

#[test]
fn reconfigure_new_buckets_reset_only_that_histogram() {
    let m = model(&[]);
    ok(
        &m,
        Event::QueueCaller {
            queue: "q",
            uniqueid: "u1",
            kind: 0,
            ts_us: T0,
        },
    );
    ok(
        &m,
        Event::QueueCaller {
            queue: "q",
            uniqueid: "u1",
            kind: 1,
            ts_us: T0 + secs(4),
        },
    );
    ok(&m, create("c1", "PJSIP", "1001", 6, T0));
    ok(&m, hangup("c1", "PJSIP", 16, T0, T0 + secs(12)));
    ok(
        &m,
        Event::DialResult {
            dialstatus: "BUSY",
            ts_us: T0,
        },
    );
    let p = page(&m);
    assert_val(&p, "asterisk_queue_wait_seconds_count{queue=\"q\"}", 1.0);
    assert_val(
        &p,
        "asterisk_queue_wait_seconds_bucket{queue=\"q\",le=\"5\"}",
        1.0,
    );

    let lines = m.reconfigure(&cfg(&[("buckets.asterisk_queue_wait_seconds", "2,4,8")]));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("asterisk_queue_wait_seconds"),
        "{lines:?}"
    );
    let p = page(&m);
    assert!(!has_family(&p, "asterisk_queue_wait_seconds"), "reset\n{p}");
    // Everything else is kept, including the other histograms and the queue's counters.
    assert_val(
        &p,
        "asterisk_channel_duration_seconds_count{tech=\"PJSIP\"}",
        1.0,
    );
    assert_val(
        &p,
        "asterisk_channel_duration_seconds_sum{tech=\"PJSIP\"}",
        12.0,
    );
    assert_val(
        &p,
        "asterisk_channel_answered_duration_seconds_count{tech=\"PJSIP\"}",
        1.0,
    );
    assert_val(&p, "asterisk_channels_created_total{tech=\"PJSIP\"}", 1.0);
    assert_val(&p, "asterisk_dial_results_total{dialstatus=\"BUSY\"}", 1.0);
    assert_val(&p, "asterisk_queue_callers_joined_total{queue=\"q\"}", 1.0);
    assert_val(&p, "asterisk_queue_callers{queue=\"q\"}", 0.0);

    // New observations use the new layout.
    ok(
        &m,
        Event::QueueCaller {
            queue: "q",
            uniqueid: "u2",
            kind: 0,
            ts_us: T0,
        },
    );
    ok(
        &m,
        Event::QueueCaller {
            queue: "q",
            uniqueid: "u2",
            kind: 1,
            ts_us: T0 + secs(3),
        },
    );
    let p = page(&m);
    assert_val(
        &p,
        "asterisk_queue_wait_seconds_bucket{queue=\"q\",le=\"2\"}",
        0.0,
    );
    assert_val(
        &p,
        "asterisk_queue_wait_seconds_bucket{queue=\"q\",le=\"4\"}",
        1.0,
    );
    assert_val(&p, "asterisk_queue_wait_seconds_count{queue=\"q\"}", 1.0);
    assert_absent(
        &p,
        "asterisk_queue_wait_seconds_bucket{queue=\"q\",le=\"5\"}",
    );

    // The same configuration again changes nothing.
    assert!(m
        .reconfigure(&cfg(&[("buckets.asterisk_queue_wait_seconds", "2,4,8")]))
        .is_empty());
    assert_val(
        &page(&m),
        "asterisk_queue_wait_seconds_count{queue=\"q\"}",
        1.0,
    );
}

#[test]
fn reconfigure_applies_the_phone_fleet() {
    let m = model(&[]);
    ok(&m, ep_state("PJSIP", "1001", 2, 1));
    assert!(!has_family(&page(&m), "asterisk_phone_fleet_state"));
    m.reconfigure(&cfg(&[("phone_fleet", "1001-1002")]));
    let p = page(&m);
    assert_val(&p, "asterisk_phone_fleet_state{endpoint=\"1001\"}", 2.0);
    assert_val(&p, "asterisk_phone_fleet_state{endpoint=\"1002\"}", 0.0);
    assert_val(&p, "asterisk_phone_fleet_size", 2.0);
    assert_val(&p, "asterisk_phone_fleet_incall", 1.0);
}
