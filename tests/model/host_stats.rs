//! Host statistics (OpenSIPS/Kamailio-style): naming by group mode, typing, selection, labels.

use super::*;
use res_prom_rs::collect::host_stats::{HostStats, StatKind, StatUpdate};
use res_prom_rs::registry::SeriesCap;

fn stats(pairs: &[(&str, &str)]) -> HostStats {
    stats_with(pairs, &[])
}

fn stats_with(pairs: &[(&str, &str)], const_labels: &[&str]) -> HostStats {
    HostStats::new(
        &cfg(pairs).stats,
        const_labels.iter().map(|s| s.to_string()).collect(),
        SeriesCap::new(100),
    )
}

fn spage(s: &HostStats) -> String {
    let mut w = PageWriter::new(Format::Text004, "");
    s.visit(&mut |c| c.render(&mut w));
    String::from_utf8(w.finish()).unwrap()
}

fn upd<'a>(
    group: &'a str,
    name: &'a str,
    kind: StatKind,
    labels: &'a [(&'a str, &'a str)],
) -> StatUpdate<'a> {
    StatUpdate {
        group,
        name,
        kind,
        labels,
    }
}

#[track_caller]
fn set(s: &HostStats, group: &str, name: &str, kind: StatKind, v: f64) {
    s.update(&upd(group, name, kind, &[]), v, false)
        .unwrap_or_else(|e| panic!("{group}:{name}: {e}"));
}

#[test]
fn group_mode_names() {
    // Mode 1 (the default): group in the name.
    let s = stats(&[("stats.prefix", "opensips")]);
    set(&s, "core", "rcv_requests", StatKind::Gauge, 5.0);
    set(&s, "", "orphan", StatKind::Gauge, 1.0);
    set(&s, "tm", "inuse-transactions", StatKind::Gauge, 2.0);
    let p = spage(&s);
    assert_eq!(type_of(&p, "opensips_core_rcv_requests"), "gauge");
    assert_val(&p, "opensips_core_rcv_requests", 5.0);
    assert_val(&p, "opensips_orphan", 1.0);
    assert_val(&p, "opensips_tm_inuse_transactions", 2.0);
    assert!(
        p.contains("# HELP opensips_core_rcv_requests Host statistic core:rcv_requests.\n"),
        "{p}"
    );

    // Mode 0: name only.
    let s = stats(&[("stats.prefix", "kamailio"), ("stats.group_mode", "0")]);
    set(&s, "core", "rcv_requests", StatKind::Gauge, 5.0);
    let p = spage(&s);
    assert_val(&p, "kamailio_rcv_requests", 5.0);
    assert!(!p.contains("kamailio_core_"), "{p}");

    // Mode 2: group as a label.
    let s = stats(&[("stats.group_mode", "2")]);
    set(&s, "core", "rcv_requests", StatKind::Gauge, 5.0);
    let p = spage(&s);
    assert_eq!(type_of(&p, "opensips_rcv_requests"), "gauge");
    assert_val(&p, "opensips_rcv_requests{group=\"core\"}", 5.0);
}

#[test]
fn auto_typing_by_suffix_and_total_appended() {
    let s = stats(&[]);
    set(&s, "core", "requests_total", StatKind::Auto, 10.0);
    set(&s, "core", "cpu_seconds", StatKind::Auto, 1.5);
    set(&s, "net", "sent_bytes", StatKind::Auto, 2048.0);
    set(&s, "core", "active_dialogs", StatKind::Auto, 7.0);
    set(&s, "core", "errors", StatKind::Counter, 3.0);
    set(&s, "core", "weird_total", StatKind::Gauge, 4.0);
    let p = spage(&s);
    assert_eq!(type_of(&p, "opensips_core_requests_total"), "counter");
    assert_val(&p, "opensips_core_requests_total", 10.0);
    assert!(!p.contains("requests_total_total"), "{p}");
    assert_eq!(type_of(&p, "opensips_core_cpu_seconds_total"), "counter");
    assert_val(&p, "opensips_core_cpu_seconds_total", 1.5);
    assert_eq!(type_of(&p, "opensips_net_sent_bytes_total"), "counter");
    assert_val(&p, "opensips_net_sent_bytes_total", 2048.0);
    assert_eq!(type_of(&p, "opensips_core_active_dialogs"), "gauge");
    assert_val(&p, "opensips_core_active_dialogs", 7.0);
    assert_eq!(type_of(&p, "opensips_core_errors_total"), "counter");
    assert_val(&p, "opensips_core_errors_total", 3.0);
    // The host's explicit choice wins over the suffix rule.
    assert_eq!(type_of(&p, "opensips_core_weird_total"), "gauge");
    assert_val(&p, "opensips_core_weird_total", 4.0);

    assert_eq!(
        HostStats::kind_of(StatKind::Auto, "x_bytes"),
        res_prom_rs::registry::render::Kind::Counter
    );
    assert_eq!(
        HostStats::kind_of(StatKind::Auto, "x_byte"),
        res_prom_rs::registry::render::Kind::Gauge
    );
}

#[test]
fn set_add_and_counter_monotonicity() {
    let s = stats(&[]);
    let c = upd("core", "fwd_requests", StatKind::Counter, &[]);
    let g = upd("shmem", "used_size", StatKind::Gauge, &[]);
    s.update(&c, 10.0, false).unwrap();
    s.update(&c, 5.0, true).unwrap();
    let e = s.update(&c, -1.0, true).unwrap_err();
    assert!(e.contains("cannot go down"), "{e}");
    assert!(s.update(&c, f64::NAN, false).is_err());
    assert!(s.update(&c, f64::INFINITY, true).is_err());
    s.update(&g, 20.0, false).unwrap();
    s.update(&g, -3.0, true).unwrap();
    let p = spage(&s);
    assert_val(&p, "opensips_core_fwd_requests_total", 15.0);
    assert_val(&p, "opensips_shmem_used_size", 17.0);
    // The host owns a counter's value: setting it lower (host restart) is allowed.
    s.update(&c, 2.0, false).unwrap();
    assert_val(&spage(&s), "opensips_core_fwd_requests_total", 2.0);
}

#[test]
fn statistics_filter_selects_groups_and_names() {
    let both = |s: &HostStats| {
        set(s, "core", "rcv_requests", StatKind::Gauge, 1.0);
        set(s, "tm", "inuse_transactions", StatKind::Gauge, 2.0);
        set(s, "tm", "uas_transactions", StatKind::Gauge, 3.0);
        spage(s)
    };
    let p = both(&stats(&[("stats.statistics", "all")]));
    assert_val(&p, "opensips_core_rcv_requests", 1.0);
    assert_val(&p, "opensips_tm_inuse_transactions", 2.0);
    assert_val(&p, "opensips_tm_uas_transactions", 3.0);

    let p = both(&stats(&[("stats.statistics", "core:")]));
    assert_val(&p, "opensips_core_rcv_requests", 1.0);
    assert!(!p.contains("opensips_tm_"), "{p}");

    let p = both(&stats(&[("stats.statistics", "tm:")]));
    assert!(!p.contains("opensips_core_"), "{p}");
    assert_val(&p, "opensips_tm_inuse_transactions", 2.0);
    assert_val(&p, "opensips_tm_uas_transactions", 3.0);

    let p = both(&stats(&[("stats.statistics", "inuse_transactions")]));
    assert_val(&p, "opensips_tm_inuse_transactions", 2.0);
    assert!(!p.contains("opensips_core_"), "{p}");
    assert!(!p.contains("uas_transactions"), "{p}");

    let p = both(&stats(&[("stats.statistics", "core: uas_transactions")]));
    assert_val(&p, "opensips_core_rcv_requests", 1.0);
    assert_val(&p, "opensips_tm_uas_transactions", 3.0);
    assert!(!p.contains("inuse"), "{p}");
}

#[test]
fn labels_and_label_name_checks() {
    let s = stats_with(&[], &["server"]);
    let eth0 = [("iface", "eth0")];
    let eth1 = [("iface", "eth1")];
    s.update(
        &upd("net", "rx_packets", StatKind::Counter, &eth0),
        10.0,
        false,
    )
    .unwrap();
    s.update(
        &upd("net", "rx_packets", StatKind::Counter, &eth1),
        4.0,
        false,
    )
    .unwrap();
    s.update(
        &upd("net", "rx_packets", StatKind::Counter, &eth0),
        1.0,
        true,
    )
    .unwrap();
    let p = spage(&s);
    assert_val(&p, "opensips_net_rx_packets_total{iface=\"eth0\"}", 11.0);
    assert_val(&p, "opensips_net_rx_packets_total{iface=\"eth1\"}", 4.0);

    // Label names must stay those of the first use.
    let e = s
        .update(
            &upd("net", "rx_packets", StatKind::Counter, &[("port", "5060")]),
            1.0,
            true,
        )
        .unwrap_err();
    assert!(e.contains("iface"), "{e}");
    assert!(s
        .update(&upd("net", "rx_packets", StatKind::Counter, &[]), 1.0, true)
        .is_err());
    assert!(s
        .update(
            &upd(
                "net",
                "rx_packets",
                StatKind::Counter,
                &[("iface", "eth0"), ("port", "1")]
            ),
            1.0,
            true
        )
        .is_err());
    assert_eq!(spage(&s), p, "refused updates change nothing");

    // Invalid, repeated or constant-label names are refused at first use, and create nothing.
    for labels in [
        &[("bad-name", "x")][..],
        &[("a", "1"), ("a", "2")][..],
        &[("server", "x")][..],
        &[("__meta", "x")][..],
    ] {
        let e = s
            .update(
                &upd("net", "tx_packets", StatKind::Gauge, labels),
                1.0,
                false,
            )
            .unwrap_err();
        assert!(e.contains("label name"), "{e}");
    }
    assert!(!spage(&s).contains("tx_packets"));

    // Group mode 2 reserves the "group" label and puts it first.
    let s = stats(&[("stats.group_mode", "2")]);
    assert!(s
        .update(
            &upd("core", "x", StatKind::Gauge, &[("group", "g")]),
            1.0,
            false
        )
        .is_err());
    s.update(
        &upd("net", "rx_packets", StatKind::Counter, &eth0),
        3.0,
        false,
    )
    .unwrap();
    assert_val(
        &spage(&s),
        "opensips_rx_packets_total{group=\"net\",iface=\"eth0\"}",
        3.0,
    );
}

#[test]
fn reconfigure_renames_by_dropping_old_statistics() {
    let s = stats(&[]);
    set(&s, "core", "rcv_requests", StatKind::Gauge, 5.0);
    assert!(!s.reconfigure(&cfg(&[]).stats, vec![]), "same settings");
    assert_val(&spage(&s), "opensips_core_rcv_requests", 5.0);
    assert!(s.reconfigure(&cfg(&[("stats.group_mode", "0")]).stats, vec![]));
    assert_eq!(spage(&s), "", "old names are gone");
    set(&s, "core", "rcv_requests", StatKind::Gauge, 6.0);
    assert_val(&spage(&s), "opensips_rcv_requests", 6.0);
}

#[test]
fn too_many_statistics_are_refused() {
    let s = HostStats::new(&cfg(&[]).stats, vec![], SeriesCap::new(2));
    set(&s, "g", "a", StatKind::Gauge, 1.0);
    set(&s, "g", "b", StatKind::Gauge, 2.0);
    let e = s
        .update(&upd("g", "c", StatKind::Gauge, &[]), 3.0, false)
        .unwrap_err();
    assert!(e.contains("too many"), "{e}");
    set(&s, "g", "a", StatKind::Gauge, 4.0);
    let p = spage(&s);
    assert_val(&p, "opensips_g_a", 4.0);
    assert_absent(&p, "opensips_g_c");
}

#[test]
fn one_family_per_exported_name() {
    // Group mode 2: the same name in two groups is one family told apart by the group label.
    let s = stats(&[("stats.group_mode", "2")]);
    set(&s, "core", "active", StatKind::Gauge, 1.0);
    set(&s, "tm", "active", StatKind::Gauge, 2.0);
    let p = spage(&s);
    assert_eq!(count_lines(&p, "# TYPE opensips_active "), 1, "{p}");
    assert_val(&p, "opensips_active{group=\"core\"}", 1.0);
    assert_val(&p, "opensips_active{group=\"tm\"}", 2.0);

    // Group mode 0: the second statistic would repeat the first one's series; it is refused.
    let s = stats(&[("stats.group_mode", "0")]);
    set(&s, "core", "active", StatKind::Gauge, 1.0);
    assert!(s
        .update(&upd("tm", "active", StatKind::Gauge, &[]), 2.0, false)
        .is_err());
    let p = spage(&s);
    assert_eq!(count_lines(&p, "# TYPE opensips_active "), 1, "{p}");
    assert_val(&p, "opensips_active", 1.0);

    // Names that sanitize to the same metric name collide too.
    let s = stats(&[]);
    set(&s, "core", "a-b", StatKind::Gauge, 1.0);
    assert!(s
        .update(&upd("core", "a_b", StatKind::Gauge, &[]), 2.0, false)
        .is_err());
    assert_eq!(count_lines(&spage(&s), "# TYPE opensips_core_a_b "), 1);
}
