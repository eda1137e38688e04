#!/usr/bin/env python3
"""Benchmark of res_prom_rs inside a real Asterisk, next to Asterisk's own res_prometheus.

1. Scrape latency, p50/p99, of both exporters in one Asterisk, scraped alternately (a fresh connection each time),
   with 0 calls and then at each level of concurrent calls held up by sipp (default 200 and 400, i.e. 400 and 800
   channels).
2. Asterisk's CPU use (utime + stime of the process, /proc/PID/stat) at a steady call rate, with res_prom_rs loaded
   and scraped every 5 s, and with it unloaded; the two alternate, twice each, to even out the noise of a shared
   machine.

Environment: ASTERISK_BIN, ASTERISK_MODULE, ASTERISK_CHANNEL as for live_test.py; BENCH_CALLS (200,400: the
levels of concurrent calls, each measured on its own), BENCH_SCRAPES (300 per exporter
and load), BENCH_CPS (20 calls/s), BENCH_HOLD_MS (5000), BENCH_CPU_SECONDS (45 per run), BENCH_CPU_PAIRS (3; 0: latency only), BENCH_SETTLE_SECONDS (65: wait
after each module load, past the minute in which the app_queue/ConfBridge subscriptions learn their types). Prints a Markdown report.
"""

import os
import socket
import statistics
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import astharness as h  # noqa: E402
from astharness import values  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def env_int(name, default):
    return int(os.environ.get(name, default))


def scrape_ms(port, path="/metrics"):
    """One scrape over a fresh connection: request sent to last byte received, in ms, and the body size."""
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        size = 0
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            size += len(chunk)
    return (time.perf_counter() - t0) * 1000, size


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def latency(lab, n):
    ours, theirs = [], []
    sizes = {}
    for _ in range(n):
        ms, sizes["res_prom_rs"] = scrape_ms(lab.scrape_port)
        ours.append(ms)
        ms, sizes["res_prometheus"] = scrape_ms(lab.http_port)
        theirs.append(ms)
        time.sleep(0.01)
    return {
        "res_prom_rs": (pct(ours, 50), pct(ours, 99), sizes["res_prom_rs"]),
        "res_prometheus": (pct(theirs, 50), pct(theirs, 99), sizes["res_prometheus"]),
    }


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def cpu_run(lab, seconds, scrape):
    """Asterisk's CPU over `seconds` of the steady load already running, as % of one core."""
    stop = threading.Event()

    def scraper():
        while not stop.wait(5):
            try:
                scrape_ms(lab.scrape_port)
            except OSError:
                pass

    t = threading.Thread(target=scraper)
    if scrape:
        t.start()
    c0, w0 = cpu_seconds(lab.ast.pid), time.time()
    time.sleep(seconds)
    c1, w1 = cpu_seconds(lab.ast.pid), time.time()
    stop.set()
    if scrape:
        t.join()
    return 100 * (c1 - c0) / (w1 - w0)


def channels(lab, what="active channel"):
    out = lab.cli("core show channels count")
    for line in out.splitlines():
        if what in line:
            return int(line.split()[0])
    return -1


def stasis_handled(lab):
    """Messages res_prom_rs's subscriptions handled so far (prom_rs show status), 0 when unloaded."""
    import re
    for line in lab.cli("prom_rs show status", check=False).splitlines():
        if line.startswith("Stasis messages:"):
            return sum(int(n) for n in re.findall(r" (\d+)", line))
    return 0


def processed(lab):
    return channels(lab, "calls processed")


def main():
    binary = os.environ.get("ASTERISK_BIN")
    module = os.environ.get("ASTERISK_MODULE")
    if not binary or not module:
        print("bench: set ASTERISK_BIN and ASTERISK_MODULE")
        return 2
    levels = [int(c) for c in os.environ.get("BENCH_CALLS", "200,400").split(",") if c.strip()]
    skip_latency = os.environ.get("BENCH_CPU_ONLY")
    n = env_int("BENCH_SCRAPES", 300)
    cps = env_int("BENCH_CPS", 20)
    hold = env_int("BENCH_HOLD_MS", 5000)
    cpu_secs = env_int("BENCH_CPU_SECONDS", 45)
    settle = env_int("BENCH_SETTLE_SECONDS", 65)
    lab = h.Lab(binary, os.path.abspath(module), {}, extra_modules=h.BENCH_MODULES, http_port=h.free_port(),
                rtp_ports=3000, keep=bool(os.environ.get("PROM_RS_KEEP")))
    lab.prom_conf = {"port": lab.scrape_port}
    for kv in filter(None, os.environ.get("BENCH_PROM_CONF", "").split(",")):  # e.g. queues=no,bridges=no
        k, _, v = kv.partition("=")
        lab.prom_conf[k.strip()] = v.strip()
    lab.write_prom_conf(lab.prom_conf)
    report = []
    try:
        lab.start()
        version = " ".join(lab.cli("core show version").split()[:2])
        lab.sipp("sn:uas", h.CALLEE_IP, "-aa")
        time.sleep(3)
        for _ in range(20):  # warm both up
            scrape_ms(lab.scrape_port)
            scrape_ms(lab.http_port)
        rows = []
        idle = latency(lab, n if not skip_latency else 5)
        rows.append((0, 0, idle))
        if skip_latency:
            levels = [10]
        counted = []
        for calls in levels:
            print(f"bench: {calls} concurrent calls", file=sys.stderr)
            load = lab.call("answer", calls, rate=50, duration_ms=3600_000, limit=calls, wait=False,
                            run_limit_s=7200)
            deadline = time.time() + 60 + calls / 10
            while channels(lab) < 2 * calls and time.time() < deadline:
                time.sleep(0.5)
            busy_channels = channels(lab)
            page = lab.scrape()
            counted.append((sum(values(page, "asterisk_channels").values()), busy_channels))
            busy = latency(lab, n if not skip_latency else 5)
            rows.append((calls, busy_channels, busy))
            lab.stop_proc(load)
            lab.cli("channel request hangup all", check=False)
            deadline = time.time() + 30
            while channels(lab) > 0 and time.time() < deadline:
                time.sleep(0.5)
            # A fresh phone for what follows: the one that held the calls saw them torn down under it.
            for p in list(lab.procs):
                lab.stop_proc(p)
            lab.sipp("sn:uas", h.CALLEE_IP, "-aa")
            time.sleep(1)

        report.append(f"Asterisk {version}, chan_{lab.tech.lower()}, sipp on loopback; {n} scrapes of each exporter per row, "
                      "alternating, a new connection each; time from request to the last byte.\n")
        report.append("| concurrent calls (channels) | exporter | p50 | p99 | page size |")
        report.append("|---|---|---|---|---|")
        for c, ch, res in rows:
            for name in ("res_prom_rs", "res_prometheus"):
                p50, p99, size = res[name]
                report.append(f"| {c} ({ch}) | {name} | {p50:.2f} ms | {p99:.2f} ms | {size / 1024:.1f} KiB |")
        report.append("\n(" + "; ".join(f"res_prom_rs counted {ours:.0f} channels on its page while Asterisk had {ch}"
                                         for ours, ch in counted) + ".)\n")

        if env_int("BENCH_CPU_PAIRS", 3) == 0:  # latency only
            return 0
        # CPU: a steady call rate, module loaded (and scraped) or not, alternating.
        steady = lab.call("answer", 10_000_000, rate=cps, duration_ms=hold, limit=cps * hold // 1000 * 2,
                          wait=False, run_limit_s=7200)
        time.sleep(hold / 1000 + 5)
        runs, msgs = [], []
        for loaded in (False, True) * env_int("BENCH_CPU_PAIRS", 3):
            if loaded:
                lab.cli("module load res_prom_rs.so")
                # The app_queue/ConfBridge subscriptions learn their types wide for the first minute after a
                # load; measure the steady state after it.
                time.sleep(settle)
            else:
                lab.cli("module unload res_prom_rs.so")
                time.sleep(2)
            p0, m0 = processed(lab), stasis_handled(lab)
            cpu = cpu_run(lab, cpu_secs, scrape=loaded)
            runs.append((loaded, cpu, processed(lab) - p0))
            if loaded:
                msgs.append((stasis_handled(lab) - m0) / cpu_secs)
        if steady.poll() is not None:
            raise RuntimeError(f"the steady call load stopped early (sipp exit {steady.returncode})")
        lab.stop_proc(steady)
        without = [c for loaded, c, _ in runs if not loaded]
        with_ = [c for loaded, c, _ in runs if loaded]
        report.append(f"Asterisk CPU at {cps} calls/s, {hold / 1000:.0f} s each (about {cps * hold // 1000} "
                      f"concurrent calls), {cpu_secs} s per run, % of one core (utime + stime):\n")
        report.append("| run | res_prom_rs | Asterisk CPU | calls completed in the run |")
        report.append("|---|---|---|---|")
        for i, (loaded, c, ch) in enumerate(runs, 1):
            report.append(f"| {i} | {'loaded, scraped every 5 s' if loaded else 'unloaded'} | {c:.2f} % | {ch} |")
        diff = statistics.mean(with_) - statistics.mean(without)
        report.append(f"\nMean without: {statistics.mean(without):.2f} %, with: {statistics.mean(with_):.2f} %: "
                      f"difference {diff:+.2f} points of one core "
                      f"({100 * diff / statistics.mean(without):+.1f} % of Asterisk's own use); the module's "
                      f"subscriptions handled {statistics.mean(msgs):.0f} Stasis messages/s.")
    finally:
        lab.close()
        print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
