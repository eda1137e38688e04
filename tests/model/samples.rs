//! Sampled values: build info, uptime, last reload, active/processed calls, and the codec sample.

use super::*;

fn system(
    version: &str,
    startup: i64,
    reload: i64,
    active: i64,
    processed: i64,
    now: i64,
) -> Event<'_> {
    Event::SampleSystem {
        version,
        startup_us: startup,
        last_reload_us: reload,
        active_calls: active,
        processed_calls: processed,
        now_us: now,
    }
}

fn codec<'a>(codec: &'a str, from: Option<&'a str>, to: Option<&'a str>) -> Event<'a> {
    Event::SampleChannelCodec {
        codec,
        translate_from: from,
        translate_to: to,
    }
}

#[test]
fn system_sample_sets_core_families() {
    let m = model(&[]);
    let p = page(&m);
    assert!(!has_family(&p, "asterisk_build_info"), "{p}");
    assert!(!has_family(&p, "asterisk_uptime_seconds"), "{p}");

    ok(
        &m,
        system("20.5.0", T0, T0 + secs(100), 3, 120, T0 + secs(3600)),
    );
    let p = page(&m);
    assert_eq!(type_of(&p, "asterisk_build_info"), "gauge");
    assert_val(&p, "asterisk_build_info{version=\"20.5.0\"}", 1.0);
    assert_eq!(type_of(&p, "asterisk_uptime_seconds"), "gauge");
    assert_val(&p, "asterisk_uptime_seconds", 3600.0);
    assert_eq!(
        type_of(&p, "asterisk_last_reload_timestamp_seconds"),
        "gauge"
    );
    assert_val(
        &p,
        "asterisk_last_reload_timestamp_seconds",
        1_700_000_100.0,
    );
    assert_eq!(type_of(&p, "asterisk_active_calls"), "gauge");
    assert_val(&p, "asterisk_active_calls", 3.0);
    assert_eq!(type_of(&p, "asterisk_calls_processed_total"), "counter");
    assert_val(&p, "asterisk_calls_processed_total", 120.0);

    // The next sample replaces every value; a new version replaces the build_info series.
    ok(
        &m,
        system(
            "20.6.0",
            T0,
            T0 + secs(200),
            1,
            125,
            T0 + secs(3700) + 500_000,
        ),
    );
    let p = page(&m);
    assert_absent(&p, "asterisk_build_info{version=\"20.5.0\"}");
    assert_val(&p, "asterisk_build_info{version=\"20.6.0\"}", 1.0);
    assert_eq!(count_lines(&p, "asterisk_build_info{"), 1);
    assert_val(&p, "asterisk_uptime_seconds", 3700.5);
    assert_val(
        &p,
        "asterisk_last_reload_timestamp_seconds",
        1_700_000_200.0,
    );
    assert_val(&p, "asterisk_active_calls", 1.0);
    assert_val(&p, "asterisk_calls_processed_total", 125.0);

    // Unusable times keep the last values; negative counts are clamped to 0.
    ok(&m, system("20.6.0", 0, 0, -5, -1, T0 + secs(4000)));
    let p = page(&m);
    assert_val(&p, "asterisk_uptime_seconds", 3700.5);
    assert_val(
        &p,
        "asterisk_last_reload_timestamp_seconds",
        1_700_000_200.0,
    );
    assert_val(&p, "asterisk_active_calls", 0.0);
    assert_val(&p, "asterisk_calls_processed_total", 0.0);
    ok(&m, system("20.6.0", T0 + secs(10), 0, 0, 0, T0));
    assert_val(&page(&m), "asterisk_uptime_seconds", 3700.5);
    assert_val(&page(&m), "asterisk_build_info{version=\"20.6.0\"}", 1.0);
}

#[test]
fn codec_sample_is_published_whole_at_end() {
    let m = model(&[]);
    let p = page(&m);
    assert!(
        !has_family(&p, "asterisk_transcoding_channels"),
        "no sample yet\n{p}"
    );

    ok(&m, Event::SampleCodecsBegin);
    ok(&m, codec("ulaw", None, None));
    ok(&m, codec("ulaw", Some(""), Some("")));
    ok(&m, codec("alaw", Some("alaw"), Some("ulaw")));
    ok(&m, codec("g722", Some("g722"), Some("ulaw")));
    ok(&m, codec("opus", Some("alaw"), Some("ulaw")));
    assert!(
        !has_family(&page(&m), "asterisk_transcoding_channels"),
        "nothing is published before the end"
    );
    ok(&m, Event::SampleCodecsEnd);
    let p = page(&m);
    assert_eq!(type_of(&p, "asterisk_channels_by_codec"), "gauge");
    assert_val(&p, "asterisk_channels_by_codec{codec=\"ulaw\"}", 2.0);
    assert_val(&p, "asterisk_channels_by_codec{codec=\"alaw\"}", 1.0);
    assert_val(&p, "asterisk_channels_by_codec{codec=\"g722\"}", 1.0);
    assert_val(&p, "asterisk_channels_by_codec{codec=\"opus\"}", 1.0);
    assert_eq!(type_of(&p, "asterisk_transcoding_channels"), "gauge");
    assert_val(&p, "asterisk_transcoding_channels", 3.0);
    assert_eq!(type_of(&p, "asterisk_codec_translations"), "gauge");
    assert_val(
        &p,
        "asterisk_codec_translations{from=\"alaw\",to=\"ulaw\"}",
        2.0,
    );
    assert_val(
        &p,
        "asterisk_codec_translations{from=\"g722\",to=\"ulaw\"}",
        1.0,
    );
    assert_eq!(count_lines(&p, "asterisk_codec_translations{"), 2);

    // A new sample in progress leaves the published one on the page...
    ok(&m, Event::SampleCodecsBegin);
    ok(&m, codec("ulaw", None, None));
    assert_eq!(page(&m), p);
    // ...and replaces it whole at its end.
    ok(&m, Event::SampleCodecsEnd);
    let p = page(&m);
    assert_val(&p, "asterisk_channels_by_codec{codec=\"ulaw\"}", 1.0);
    assert_eq!(count_lines(&p, "asterisk_channels_by_codec{"), 1, "{p}");
    assert_val(&p, "asterisk_transcoding_channels", 0.0);
    assert!(!has_family(&p, "asterisk_codec_translations"), "{p}");

    // An empty sample (no live channels): transcoding 0, no codec series.
    ok(&m, Event::SampleCodecsBegin);
    ok(&m, Event::SampleCodecsEnd);
    let p = page(&m);
    assert_val(&p, "asterisk_transcoding_channels", 0.0);
    assert!(!has_family(&p, "asterisk_channels_by_codec"), "{p}");
}

#[test]
fn codec_events_out_of_order_are_refused() {
    let m = model(&[]);
    let e = refused(&m, codec("ulaw", None, None));
    assert!(e.contains("outside"), "{e}");
    refused(&m, Event::SampleCodecsEnd);

    ok(&m, Event::SampleCodecsBegin);
    ok(&m, codec("ulaw", None, None));
    // Half a translation path is refused and counts nothing.
    assert!(m.apply(&codec("alaw", Some("alaw"), None)).is_err());
    assert!(m.apply(&codec("g729", None, Some("ulaw"))).is_err());
    ok(&m, Event::SampleCodecsEnd);
    let p = page(&m);
    assert_val(&p, "asterisk_channels_by_codec{codec=\"ulaw\"}", 1.0);
    assert_absent(&p, "asterisk_channels_by_codec{codec=\"alaw\"}");
    assert_absent(&p, "asterisk_channels_by_codec{codec=\"g729\"}");
    assert_val(&p, "asterisk_transcoding_channels", 0.0);

    // After the end, a channel codec is outside a sample again; the published sample is untouched.
    refused(&m, codec("ulaw", None, None));
    refused(&m, Event::SampleCodecsEnd);
    assert_val(&page(&m), "asterisk_channels_by_codec{codec=\"ulaw\"}", 1.0);
}
