//! Start/stop cycles through the C ABI, in a process of their own so no other test's threads disturb the count.

mod common;
use common::*;
use std::net::TcpListener;
use std::time::{Duration, Instant};

#[test]
fn hundred_start_stop_cycles_release_port_and_threads() {
    let lib = Lib::load();
    let baseline = thread_count();
    let port = port();
    let port_s = port.to_string();
    for i in 0..100 {
        let core = lib
            .start(&[("port", &port_s), ("labels", "server=cycle")])
            .unwrap_or_else(|e| panic!("cycle {i}: {e:?}"));
        assert_eq!(lib.trace(core, "dial_result\tANSWER\t1"), OK);
        if i % 10 == 0 {
            let page = scrape(port);
            assert_eq!(
                value(
                    &page,
                    "asterisk_dial_results_total{server=\"cycle\",dialstatus=\"ANSWER\"}"
                ),
                Some(1.0),
                "fresh counters each start"
            );
        }
        lib.stop(core);
        // The port is free the moment stop returns.
        let l = TcpListener::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("cycle {i}: port still taken after stop: {e}"));
        drop(l);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while thread_count() > baseline && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        thread_count(),
        baseline,
        "threads left behind after the last stop"
    );
}
