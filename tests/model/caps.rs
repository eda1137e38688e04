//! The fixed-size tables of the model (channels, bridges, conferences, RTCP endpoints, queue callers): filled past
//! their cap, each counts in `Model::untracked` (rendered as `prom_rs_untracked_total{table}`) exactly what it did
//! not track, and nothing else.

use super::*;

fn untracked(m: &Model, table: &str) -> u64 {
    m.untracked()
        .iter()
        .find(|(t, _)| *t == table)
        .unwrap_or_else(|| panic!("no table {table}"))
        .1
}

/// Feeds `n` distinct objects through `ev`, then `extra` more, and checks that only the extra ones are counted
/// (and that an object already tracked is not counted again once the table is full).
fn fill(table: &str, cap: usize, ev: impl Fn(&Model, &str)) {
    let m = model(&[]);
    for i in 0..cap {
        ev(&m, &format!("id{i}"));
    }
    assert_eq!(untracked(&m, table), 0, "{table} at its cap");
    ev(&m, "id0");
    assert_eq!(
        untracked(&m, table),
        0,
        "{table}: a known object is not new"
    );
    for i in 0..7 {
        ev(&m, &format!("extra{i}"));
    }
    assert_eq!(untracked(&m, table), 7, "{table} past its cap");
    for (t, n) in m.untracked() {
        assert!(
            t == table || n == 0,
            "{t} counted {n} while filling {table}"
        );
    }
}

#[test]
fn every_table_counts_what_it_does_not_track() {
    fill("queue_callers", 100_000, |m, id| {
        ok(
            m,
            Event::QueueCaller {
                queue: "sales",
                uniqueid: id,
                kind: 0,
                ts_us: T0,
            },
        )
    });
    fill("bridges", 100_000, |m, id| {
        ok(
            m,
            Event::BridgeCreated {
                bridge_id: id,
                technology: "simple_bridge",
                invisible: 0,
                ts_us: T0,
            },
        )
    });
    fill("conferences", 100_000, |m, id| {
        ok(
            m,
            Event::Confbridge {
                conference: id,
                kind: 0,
                ts_us: T0,
            },
        )
    });
    fill("rtcp_endpoints", 100_000, |m, id| {
        ok(
            m,
            Event::RtcpReport {
                tech: "PJSIP",
                endpoint: id,
                direction: 0,
                jitter_seconds: 0.01,
                loss_ratio: 0.0,
                rtt_seconds: 0.05,
                mes: 90.0,
                ts_us: T0,
            },
        )
    });
    fill("channels", 200_000, |m, id| {
        ok(
            m,
            Event::ChannelCreated {
                uniqueid: id,
                tech: "PJSIP",
                endpoint: "1001",
                state: 4,
                created_us: T0,
            },
        )
    });
}

#[test]
fn the_queue_gauge_stays_consistent_at_the_cap() {
    let m = model(&[]);
    for i in 0..100_000 {
        ok(
            &m,
            Event::QueueCaller {
                queue: "q",
                uniqueid: &format!("c{i}"),
                kind: 0,
                ts_us: T0,
            },
        );
    }
    ok(
        &m,
        Event::QueueCaller {
            queue: "q",
            uniqueid: "late",
            kind: 0,
            ts_us: T0,
        },
    );
    let p = page(&m);
    // The untracked caller is counted as joined, not as waiting; its leave changes nothing.
    assert_val(&p, "asterisk_queue_callers{queue=\"q\"}", 100_000.0);
    assert_val(
        &p,
        "asterisk_queue_callers_joined_total{queue=\"q\"}",
        100_001.0,
    );
    ok(
        &m,
        Event::QueueCaller {
            queue: "q",
            uniqueid: "late",
            kind: 1,
            ts_us: T0 + secs(3),
        },
    );
    assert_val(&page(&m), "asterisk_queue_callers{queue=\"q\"}", 100_000.0);
    assert_eq!(untracked(&m, "queue_callers"), 1);
}
