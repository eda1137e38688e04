//! Channels and calls: asterisk_channels, _by_state, _created_total, hangups by Q.850 cause, durations, dial results.

use super::*;

const DOWN: i32 = 0;
const RING: i32 = 4;
const RINGING: i32 = 5;
const UP: i32 = 6;

#[test]
fn channels_by_tech_go_up_at_create_and_down_at_hangup() {
    let m = model(&[]);
    let p = page(&m);
    assert!(
        !has_family(&p, "asterisk_channels"),
        "no series before any channel\n{p}"
    );

    ok(&m, create("c1", "PJSIP", "1001", RING, T0));
    ok(&m, create("c2", "PJSIP", "1002", DOWN, T0));
    ok(&m, create("c3", "SIP", "trunk", UP, T0));
    let p = page(&m);
    assert_eq!(type_of(&p, "asterisk_channels"), "gauge");
    assert_val(&p, "asterisk_channels{tech=\"PJSIP\"}", 2.0);
    assert_val(&p, "asterisk_channels{tech=\"SIP\"}", 1.0);
    assert_eq!(type_of(&p, "asterisk_channels_created_total"), "counter");
    assert_val(&p, "asterisk_channels_created_total{tech=\"PJSIP\"}", 2.0);
    assert_val(&p, "asterisk_channels_created_total{tech=\"SIP\"}", 1.0);

    ok(&m, hangup("c1", "PJSIP", 16, T0, T0 + secs(5)));
    let p = page(&m);
    assert_val(&p, "asterisk_channels{tech=\"PJSIP\"}", 1.0);
    assert_val(&p, "asterisk_channels{tech=\"SIP\"}", 1.0);
    assert_val(&p, "asterisk_channels_created_total{tech=\"PJSIP\"}", 2.0);

    ok(&m, hangup("c2", "PJSIP", 16, T0, T0 + secs(5)));
    ok(&m, hangup("c3", "SIP", 16, T0, T0 + secs(5)));
    let p = page(&m);
    assert_val(&p, "asterisk_channels{tech=\"PJSIP\"}", 0.0);
    assert_val(&p, "asterisk_channels{tech=\"SIP\"}", 0.0);
    assert_val(&p, "asterisk_channels_created_total{tech=\"PJSIP\"}", 2.0);
    assert_val(&p, "asterisk_channels_created_total{tech=\"SIP\"}", 1.0);
}

#[test]
fn channels_by_state_follow_state_changes_and_hangup() {
    let m = model(&[]);
    ok(&m, create("c1", "PJSIP", "1001", DOWN, T0));
    ok(&m, create("c2", "PJSIP", "1002", RING, T0));
    let p = page(&m);
    assert_val(&p, "asterisk_channels_by_state{state=\"down\"}", 1.0);
    assert_val(&p, "asterisk_channels_by_state{state=\"ring\"}", 1.0);

    ok(&m, state("c1", RINGING, T0 + secs(1)));
    let p = page(&m);
    assert_val(&p, "asterisk_channels_by_state{state=\"down\"}", 0.0);
    assert_val(&p, "asterisk_channels_by_state{state=\"ringing\"}", 1.0);

    ok(&m, state("c1", UP, T0 + secs(2)));
    ok(&m, state("c2", UP, T0 + secs(2)));
    // Repeating the current state moves nothing.
    ok(&m, state("c2", UP, T0 + secs(3)));
    let p = page(&m);
    assert_val(&p, "asterisk_channels_by_state{state=\"ringing\"}", 0.0);
    assert_val(&p, "asterisk_channels_by_state{state=\"ring\"}", 0.0);
    assert_val(&p, "asterisk_channels_by_state{state=\"up\"}", 2.0);

    // A state change for a channel never created is ignored.
    ok(&m, state("ghost", RINGING, T0 + secs(3)));
    assert_val(
        &page(&m),
        "asterisk_channels_by_state{state=\"ringing\"}",
        0.0,
    );

    // Out-of-range states are refused and change nothing.
    let e = refused(&m, state("c1", 10, T0 + secs(3)));
    assert!(e.contains("10"), "{e}");
    refused(&m, state("c1", -1, T0 + secs(3)));
    refused(&m, create("c9", "PJSIP", "1009", 42, T0));

    ok(&m, hangup("c1", "PJSIP", 16, T0, T0 + secs(9)));
    let p = page(&m);
    assert_val(&p, "asterisk_channels_by_state{state=\"up\"}", 1.0);
    let total: f64 = p
        .lines()
        .filter(|l| l.starts_with("asterisk_channels_by_state{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(total, 1.0, "states add up to the live channels\n{p}");
}

#[test]
fn hangup_causes_use_q850_names() {
    let m = model(&[]);
    for id in ["a", "b", "c", "d", "e"] {
        ok(&m, create(id, "PJSIP", "1001", UP, T0));
    }
    ok(&m, hangup("a", "PJSIP", 16, T0, T0 + secs(1)));
    ok(&m, hangup("b", "PJSIP", 16, T0, T0 + secs(1)));
    ok(&m, hangup("c", "PJSIP", 4, T0, T0 + secs(1))); // unassigned code
    ok(&m, hangup("d", "PJSIP", 17, T0, T0 + secs(1)));
    let p = page(&m);
    assert_eq!(type_of(&p, "asterisk_channel_hangups_total"), "counter");
    assert_val(
        &p,
        "asterisk_channel_hangups_total{tech=\"PJSIP\",cause=\"NORMAL_CLEARING\"}",
        2.0,
    );
    assert_val(
        &p,
        "asterisk_channel_hangups_total{tech=\"PJSIP\",cause=\"OTHER\"}",
        1.0,
    );
    assert_val(
        &p,
        "asterisk_channel_hangups_total{tech=\"PJSIP\",cause=\"USER_BUSY\"}",
        1.0,
    );
    assert_eq!(count_lines(&p, "asterisk_channel_hangups_total{"), 3);

    // 200 is no Q.850 code: refused, and the channel stays live.
    let e = refused(&m, hangup("e", "PJSIP", 200, T0, T0 + secs(1)));
    assert!(e.contains("200"), "{e}");
    refused(&m, hangup("e", "PJSIP", -1, T0, T0 + secs(1)));
    assert_val(&page(&m), "asterisk_channels{tech=\"PJSIP\"}", 1.0);

    // The tech label comes from the channel's creation, not from the hangup event.
    ok(&m, hangup("e", "", 34, T0, T0 + secs(1)));
    let p = page(&m);
    assert_val(
        &p,
        "asterisk_channel_hangups_total{tech=\"PJSIP\",cause=\"NORMAL_CIRCUIT_CONGESTION\"}",
        1.0,
    );
    assert_val(&p, "asterisk_channels{tech=\"PJSIP\"}", 0.0);
}

#[test]
fn duration_observes_creation_to_hangup() {
    let m = model(&[]);
    ok(&m, create("long", "PJSIP", "1001", RING, T0));
    ok(&m, create("short", "PJSIP", "1001", RING, T0 + secs(10)));
    ok(&m, hangup("long", "PJSIP", 16, T0, T0 + secs(42)));
    let p = page(&m);
    let h = "asterisk_channel_duration_seconds";
    assert_eq!(type_of(&p, h), "histogram");
    assert_val(&p, &format!("{h}_sum{{tech=\"PJSIP\"}}"), 42.0);
    assert_val(&p, &format!("{h}_count{{tech=\"PJSIP\"}}"), 1.0);
    assert_val(&p, &format!("{h}_bucket{{tech=\"PJSIP\",le=\"30\"}}"), 0.0);
    assert_val(&p, &format!("{h}_bucket{{tech=\"PJSIP\",le=\"60\"}}"), 1.0);
    assert_val(
        &p,
        &format!("{h}_bucket{{tech=\"PJSIP\",le=\"+Inf\"}}"),
        1.0,
    );

    // Duration runs from the channel's own creation time (10 s after T0), not the event's created_us.
    ok(
        &m,
        hangup("short", "PJSIP", 16, T0, T0 + secs(10) + 500_000),
    );
    let p = page(&m);
    assert_val(&p, &format!("{h}_sum{{tech=\"PJSIP\"}}"), 42.5);
    assert_val(&p, &format!("{h}_count{{tech=\"PJSIP\"}}"), 2.0);
    assert_val(&p, &format!("{h}_bucket{{tech=\"PJSIP\",le=\"1\"}}"), 1.0);
    assert_val(&p, &format!("{h}_bucket{{tech=\"PJSIP\",le=\"30\"}}"), 1.0);
    assert_val(&p, &format!("{h}_bucket{{tech=\"PJSIP\",le=\"60\"}}"), 2.0);
}

#[test]
fn answered_duration_runs_from_the_first_up() {
    let m = model(&[]);
    let a = "asterisk_channel_answered_duration_seconds";
    ok(&m, create("c1", "PJSIP", "1001", RING, T0));
    ok(&m, state("c1", UP, T0 + secs(10)));
    ok(&m, state("c1", RINGING, T0 + secs(15)));
    ok(&m, state("c1", UP, T0 + secs(20)));
    ok(&m, hangup("c1", "PJSIP", 16, T0, T0 + secs(70)));
    let p = page(&m);
    assert_eq!(type_of(&p, a), "histogram");
    assert_val(&p, &format!("{a}_sum{{tech=\"PJSIP\"}}"), 60.0);
    assert_val(&p, &format!("{a}_count{{tech=\"PJSIP\"}}"), 1.0);
    assert_val(&p, &format!("{a}_bucket{{tech=\"PJSIP\",le=\"30\"}}"), 0.0);
    assert_val(&p, &format!("{a}_bucket{{tech=\"PJSIP\",le=\"60\"}}"), 1.0);
    assert_val(
        &p,
        "asterisk_channel_duration_seconds_sum{tech=\"PJSIP\"}",
        70.0,
    );

    // Never answered: a duration, no answered duration.
    ok(&m, create("c2", "PJSIP", "1002", RING, T0));
    ok(&m, state("c2", RINGING, T0 + secs(1)));
    ok(&m, hangup("c2", "PJSIP", 19, T0, T0 + secs(30)));
    ok(&m, create("c3", "IAX2", "peer", RING, T0));
    ok(&m, hangup("c3", "IAX2", 19, T0, T0 + secs(3)));
    let p = page(&m);
    assert_val(&p, &format!("{a}_count{{tech=\"PJSIP\"}}"), 1.0);
    assert_val(
        &p,
        "asterisk_channel_duration_seconds_count{tech=\"PJSIP\"}",
        2.0,
    );
    assert_val(
        &p,
        "asterisk_channel_duration_seconds_count{tech=\"IAX2\"}",
        1.0,
    );
    assert_absent(&p, &format!("{a}_count{{tech=\"IAX2\"}}"));

    // Created already Up (seeded mid-call): answered from creation.
    ok(&m, create("c4", "SIP", "trunk", UP, T0));
    ok(&m, hangup("c4", "SIP", 16, T0, T0 + secs(8)));
    let p = page(&m);
    assert_val(&p, &format!("{a}_sum{{tech=\"SIP\"}}"), 8.0);
    assert_val(&p, &format!("{a}_count{{tech=\"SIP\"}}"), 1.0);
}

#[test]
fn hangup_of_unknown_channel_counts_but_keeps_gauges_sane() {
    let m = model(&[]);
    ok(&m, create("live", "SIP", "trunk", UP, T0));
    ok(&m, hangup("ghost", "SIP", 16, T0 - secs(5), T0));
    ok(&m, hangup("ghost2", "IAX2", 17, T0 - secs(2), T0));
    let p = page(&m);
    assert_val(
        &p,
        "asterisk_channel_hangups_total{tech=\"SIP\",cause=\"NORMAL_CLEARING\"}",
        1.0,
    );
    assert_val(
        &p,
        "asterisk_channel_hangups_total{tech=\"IAX2\",cause=\"USER_BUSY\"}",
        1.0,
    );
    assert_val(
        &p,
        "asterisk_channel_duration_seconds_sum{tech=\"SIP\"}",
        5.0,
    );
    assert_val(
        &p,
        "asterisk_channel_duration_seconds_count{tech=\"SIP\"}",
        1.0,
    );
    assert_val(
        &p,
        "asterisk_channel_duration_seconds_sum{tech=\"IAX2\"}",
        2.0,
    );
    // Gauges untouched: the live SIP channel is still counted, IAX2 never appears, nothing is negative.
    assert_val(&p, "asterisk_channels{tech=\"SIP\"}", 1.0);
    assert_absent(&p, "asterisk_channels{tech=\"IAX2\"}");
    assert_val(&p, "asterisk_channels_by_state{state=\"up\"}", 1.0);
    assert_eq!(count_lines(&p, "asterisk_channels_by_state{"), 1, "{p}");
    assert_absent(&p, "asterisk_channels_created_total{tech=\"IAX2\"}");
    assert_val(&p, "asterisk_channels_created_total{tech=\"SIP\"}", 1.0);
    // Its answer time is unknown: no answered duration.
    assert!(
        !has_family(&p, "asterisk_channel_answered_duration_seconds"),
        "{p}"
    );

    // Without a usable creation time only the hangup is counted.
    ok(&m, hangup("ghost3", "SIP", 16, 0, T0));
    let p = page(&m);
    assert_val(
        &p,
        "asterisk_channel_hangups_total{tech=\"SIP\",cause=\"NORMAL_CLEARING\"}",
        2.0,
    );
    assert_val(
        &p,
        "asterisk_channel_duration_seconds_count{tech=\"SIP\"}",
        1.0,
    );
    assert!(
        p.lines()
            .all(|l| !l.starts_with("asterisk_channel") || !l.contains(" -")),
        "{p}"
    );
}

#[test]
fn duplicate_create_is_ignored() {
    let m = model(&[]);
    ok(&m, create("c1", "PJSIP", "1001", RING, T0));
    ok(&m, create("c1", "PJSIP", "1001", RING, T0));
    ok(&m, create("c1", "SIP", "other", UP, T0 + secs(1)));
    let p = page(&m);
    assert_val(&p, "asterisk_channels{tech=\"PJSIP\"}", 1.0);
    assert_val(&p, "asterisk_channels_created_total{tech=\"PJSIP\"}", 1.0);
    assert_absent(&p, "asterisk_channels{tech=\"SIP\"}");
    assert_absent(&p, "asterisk_channels_created_total{tech=\"SIP\"}");
    assert_val(&p, "asterisk_channels_by_state{state=\"ring\"}", 1.0);
    assert_absent(&p, "asterisk_channels_by_state{state=\"up\"}");
    // One hangup takes it off completely, the second finds nothing live.
    ok(&m, hangup("c1", "PJSIP", 16, T0, T0 + secs(3)));
    ok(&m, hangup("c1", "PJSIP", 16, T0, T0 + secs(3)));
    let p = page(&m);
    assert_val(&p, "asterisk_channels{tech=\"PJSIP\"}", 0.0);
    assert_val(&p, "asterisk_channels_by_state{state=\"ring\"}", 0.0);
}

#[test]
fn dial_results_count_finals_only() {
    let m = model(&[]);
    for s in [
        "ANSWER",
        "answer",
        "BUSY",
        "RINGING",
        "PROGRESS",
        "PROCEEDING",
        "",
        "  ",
        "WEIRD",
        " NOANSWER ",
    ] {
        ok(
            &m,
            Event::DialResult {
                dialstatus: s,
                ts_us: T0,
            },
        );
    }
    let p = page(&m);
    assert_eq!(type_of(&p, "asterisk_dial_results_total"), "counter");
    assert_val(
        &p,
        "asterisk_dial_results_total{dialstatus=\"ANSWER\"}",
        2.0,
    );
    assert_val(&p, "asterisk_dial_results_total{dialstatus=\"BUSY\"}", 1.0);
    assert_val(
        &p,
        "asterisk_dial_results_total{dialstatus=\"NOANSWER\"}",
        1.0,
    );
    assert_val(&p, "asterisk_dial_results_total{dialstatus=\"OTHER\"}", 1.0);
    assert_absent(&p, "asterisk_dial_results_total{dialstatus=\"RINGING\"}");
    assert_absent(&p, "asterisk_dial_results_total{dialstatus=\"\"}");
    assert_eq!(count_lines(&p, "asterisk_dial_results_total{"), 4, "{p}");
}

#[test]
fn channel_detail_exports_age_per_live_channel() {
    let m = model(&[("channel_detail", "yes")]);
    assert!(!has_family(&page(&m), "asterisk_channel_age_seconds"));
    ok(&m, create("1700000000.1", "PJSIP", "1001", RING, T0));
    ok(
        &m,
        create("1700000000.2", "SIP", "trunk", DOWN, T0 + secs(20)),
    );
    ok(&m, state("1700000000.1", UP, T0 + secs(1)));
    let p = page_at(&m, T0 + secs(30));
    assert_eq!(type_of(&p, "asterisk_channel_age_seconds"), "gauge");
    assert_val(
        &p,
        "asterisk_channel_age_seconds{uniqueid=\"1700000000.1\",tech=\"PJSIP\",endpoint=\"1001\",state=\"up\"}",
        30.0,
    );
    assert_val(
        &p,
        "asterisk_channel_age_seconds{uniqueid=\"1700000000.2\",tech=\"SIP\",endpoint=\"trunk\",state=\"down\"}",
        10.0,
    );
    ok(&m, hangup("1700000000.1", "PJSIP", 16, T0, T0 + secs(31)));
    let p = page_at(&m, T0 + secs(40));
    assert_eq!(count_lines(&p, "asterisk_channel_age_seconds{"), 1, "{p}");
    assert_val(
        &p,
        "asterisk_channel_age_seconds{uniqueid=\"1700000000.2\",tech=\"SIP\",endpoint=\"trunk\",state=\"down\"}",
        20.0,
    );
    ok(&m, hangup("1700000000.2", "SIP", 16, T0, T0 + secs(41)));
    assert!(!has_family(&page(&m), "asterisk_channel_age_seconds"));

    // Off by default.
    let m = model(&[]);
    ok(&m, create("x", "PJSIP", "1001", RING, T0));
    assert!(!has_family(&page(&m), "asterisk_channel_age_seconds"));
}
