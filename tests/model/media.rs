//! RTCP: histograms per direction over every report, latest per-endpoint gauges (worse of rx and tx).

use super::*;

const RX: i32 = 0;
const TX: i32 = 1;

#[test]
fn rtcp_histograms_per_direction() {
    let m = model(&[]);
    ok(&m, rtcp("1001", RX, 0.015, 0.0, 0.12, 85.0));
    ok(&m, rtcp("1001", TX, 0.04, 0.03, -1.0, -1.0));
    let p = page(&m);
    let j = "asterisk_rtcp_jitter_seconds";
    assert_eq!(type_of(&p, j), "histogram");
    assert_val(
        &p,
        &format!("{j}_bucket{{direction=\"rx\",le=\"0.01\"}}"),
        0.0,
    );
    assert_val(
        &p,
        &format!("{j}_bucket{{direction=\"rx\",le=\"0.02\"}}"),
        1.0,
    );
    assert_val(&p, &format!("{j}_sum{{direction=\"rx\"}}"), 0.015);
    assert_val(&p, &format!("{j}_count{{direction=\"rx\"}}"), 1.0);
    assert_val(
        &p,
        &format!("{j}_bucket{{direction=\"tx\",le=\"0.03\"}}"),
        0.0,
    );
    assert_val(
        &p,
        &format!("{j}_bucket{{direction=\"tx\",le=\"0.05\"}}"),
        1.0,
    );
    assert_val(&p, &format!("{j}_count{{direction=\"tx\"}}"), 1.0);

    let l = "asterisk_rtcp_packet_loss_ratio";
    assert_eq!(type_of(&p, l), "histogram");
    assert_val(
        &p,
        &format!("{l}_bucket{{direction=\"rx\",le=\"0.001\"}}"),
        1.0,
    );
    assert_val(
        &p,
        &format!("{l}_bucket{{direction=\"tx\",le=\"0.02\"}}"),
        0.0,
    );
    assert_val(
        &p,
        &format!("{l}_bucket{{direction=\"tx\",le=\"0.05\"}}"),
        1.0,
    );
    assert_val(&p, &format!("{l}_sum{{direction=\"tx\"}}"), 0.03);

    // Round trip only from the report that had one; it has no direction.
    let r = "asterisk_rtcp_rtt_seconds";
    assert_eq!(type_of(&p, r), "histogram");
    assert_val(&p, &format!("{r}_count"), 1.0);
    assert_val(&p, &format!("{r}_sum"), 0.12);
    assert_val(&p, &format!("{r}_bucket{{le=\"0.1\"}}"), 0.0);
    assert_val(&p, &format!("{r}_bucket{{le=\"0.15\"}}"), 1.0);

    let s = "asterisk_rtcp_mes";
    assert_eq!(type_of(&p, s), "histogram");
    assert_val(&p, &format!("{s}_count{{direction=\"rx\"}}"), 1.0);
    assert_val(
        &p,
        &format!("{s}_bucket{{direction=\"rx\",le=\"80\"}}"),
        0.0,
    );
    assert_val(
        &p,
        &format!("{s}_bucket{{direction=\"rx\",le=\"90\"}}"),
        1.0,
    );
    assert_absent(&p, &format!("{s}_count{{direction=\"tx\"}}"));

    // Zero is a value (>= 0), not "absent".
    ok(&m, rtcp("1001", TX, 0.0, 0.0, 0.0, 0.0));
    let p = page(&m);
    assert_val(&p, &format!("{r}_count"), 2.0);
    assert_val(&p, &format!("{s}_count{{direction=\"tx\"}}"), 1.0);
    assert_val(&p, &format!("{j}_count{{direction=\"tx\"}}"), 2.0);
}

#[test]
fn invalid_rtcp_reports_are_refused() {
    let m = model(&[]);
    ok(&m, rtcp("1001", RX, 0.01, 0.01, 0.1, 90.0));
    let e = refused(&m, rtcp("1001", 2, 0.01, 0.01, 0.1, 90.0));
    assert!(e.contains('2'), "{e}");
    refused(&m, rtcp("1001", -1, 0.01, 0.01, 0.1, 90.0));
    refused(&m, rtcp("1001", RX, 0.01, 1.5, 0.1, 90.0));
    refused(&m, rtcp("1001", RX, 0.01, -0.1, 0.1, 90.0));
    refused(&m, rtcp("1001", RX, 0.01, f64::NAN, 0.1, 90.0));
    refused(&m, rtcp("1001", RX, -0.01, 0.01, 0.1, 90.0));
    refused(&m, rtcp("1001", RX, f64::INFINITY, 0.01, 0.1, 90.0));
    let p = page(&m);
    assert_val(
        &p,
        "asterisk_rtcp_jitter_seconds_count{direction=\"rx\"}",
        1.0,
    );
    assert_val(
        &p,
        "asterisk_rtcp_packet_loss_ratio_count{direction=\"rx\"}",
        1.0,
    );
    assert_val(&p, "asterisk_rtcp_rtt_seconds_count", 1.0);
    assert_val(
        &p,
        "asterisk_endpoint_rtcp_jitter_seconds{tech=\"PJSIP\",endpoint=\"1001\"}",
        0.01,
    );
}

#[test]
fn endpoint_gauges_are_the_worse_of_latest_rx_and_tx() {
    let m = model(&[]);
    let j = "asterisk_endpoint_rtcp_jitter_seconds{tech=\"PJSIP\",endpoint=\"1001\"}";
    let l = "asterisk_endpoint_rtcp_packet_loss_ratio{tech=\"PJSIP\",endpoint=\"1001\"}";
    let r = "asterisk_endpoint_rtcp_rtt_seconds{tech=\"PJSIP\",endpoint=\"1001\"}";

    ok(&m, rtcp("1001", RX, 0.015, 0.0, 0.12, -1.0));
    let p = page(&m);
    for f in [
        "asterisk_endpoint_rtcp_jitter_seconds",
        "asterisk_endpoint_rtcp_packet_loss_ratio",
        "asterisk_endpoint_rtcp_rtt_seconds",
    ] {
        assert_eq!(type_of(&p, f), "gauge");
    }
    assert_val(&p, j, 0.015);
    assert_val(&p, l, 0.0);
    assert_val(&p, r, 0.12);

    ok(&m, rtcp("1001", TX, 0.04, 0.03, -1.0, -1.0));
    let p = page(&m);
    assert_val(&p, j, 0.04);
    assert_val(&p, l, 0.03);
    assert_val(&p, r, 0.12);

    // rx gets worse in jitter, tx stays the worse in loss.
    ok(&m, rtcp("1001", RX, 0.05, 0.01, 0.2, -1.0));
    let p = page(&m);
    assert_val(&p, j, 0.05);
    assert_val(&p, l, 0.03);
    assert_val(&p, r, 0.2);

    // The latest tx replaces the earlier tx (not a running maximum).
    ok(&m, rtcp("1001", TX, 0.001, 0.0, -1.0, -1.0));
    let p = page(&m);
    assert_val(&p, j, 0.05);
    assert_val(&p, l, 0.01);
    ok(&m, rtcp("1001", RX, 0.002, 0.0, -1.0, -1.0));
    let p = page(&m);
    assert_val(&p, j, 0.002);
    assert_val(&p, l, 0.0);
    assert_val(&p, r, 0.2);

    // Each endpoint has its own series; reports without an endpoint feed only the histograms.
    ok(&m, rtcp("1002", TX, 0.1, 0.2, -1.0, -1.0));
    ok(&m, rtcp("", RX, 0.3, 0.3, -1.0, -1.0));
    let p = page(&m);
    assert_val(
        &p,
        "asterisk_endpoint_rtcp_jitter_seconds{tech=\"PJSIP\",endpoint=\"1002\"}",
        0.1,
    );
    assert_val(
        &p,
        "asterisk_endpoint_rtcp_packet_loss_ratio{tech=\"PJSIP\",endpoint=\"1002\"}",
        0.2,
    );
    assert_absent(
        &p,
        "asterisk_endpoint_rtcp_rtt_seconds{tech=\"PJSIP\",endpoint=\"1002\"}",
    );
    assert_eq!(
        count_lines(&p, "asterisk_endpoint_rtcp_jitter_seconds{"),
        2,
        "{p}"
    );
    assert_val(
        &p,
        "asterisk_rtcp_jitter_seconds_count{direction=\"rx\"}",
        4.0,
    );
}
