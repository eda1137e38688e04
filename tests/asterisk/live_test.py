#!/usr/bin/env python3
"""Live test of res_prom_rs inside a real Asterisk (`make test-asterisk`).

Starts the installed Asterisk (ASTERISK_BIN) in a private run directory with generated configs, loads
build/res_prom_rs.so (ASTERISK_MODULE), drives SIP traffic with sipp on loopback addresses, and checks the metrics
page against what was sent. Then 20 unload/load cycles and 5 reloads under call load.

Environment: ASTERISK_BIN, ASTERISK_MODULE (required); ASTERISK_MODDIR (stock modules, found from the binary
otherwise); PROM_RS_RECORD_TRACES=DIR writes one event trace per scenario there (tests/traces/ holds committed
ones); PROM_RS_KEEP=1 keeps the run directory. Exit status 0 when every check passed.
"""

import os
import re
import shutil
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import astharness as h  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from livecheck import RESULTS, check, check_true, wait_for  # noqa: E402
from astharness import value, values  # noqa: E402
import chan_sip_check  # noqa: E402
import zero_check  # noqa: E402

SUMMARY = []
T = "PJSIP"  # the channel driver under test (the lab's tech): PJSIP, or SIP for chan_sip


def note(line):
    """A line of the closing summary."""
    SUMMARY.append(line)


class Scenario:
    def __init__(self, lab, trace_dir):
        self.lab = lab
        self.trace_dir = trace_dir

    def trace(self, name):
        """Switches the event trace to `name` (module reload, which keeps the counters)."""
        if not self.trace_dir:
            return
        conf = dict(self.lab.prom_conf)
        conf["trace_file"] = os.path.join(self.lab.dir, f"{name}.trace")
        self.lab.prom_conf = conf
        self.lab.write_prom_conf(conf)
        self.lab.cli("module reload res_prom_rs.so")
        time.sleep(0.5)

    def page(self):
        return self.lab.scrape()

    def settle(self, timeout=20):
        """Waits until Asterisk has no channel left and the page agrees."""
        wait_for("no channels", lambda: "0 active channels" in self.lab.cli("core show channels count"), timeout)
        return wait_for("page without channels",
                        lambda: (lambda p: p if sum(values(p, "asterisk_channels").values()) == 0 else None)(
                            self.page()), timeout)


def counter(page, family, labels):
    return value(page, f"{family}{{{labels}}}") or 0.0


def run(binary, module, trace_dir):
    global T
    lab = h.Lab(binary, module, {}, keep=bool(os.environ.get("PROM_RS_KEEP")))
    T = lab.tech
    lab.prom_conf = {"port": lab.scrape_port, "sample_interval": "1s", "labels": "server=live-test"}
    lab.write_prom_conf(lab.prom_conf)
    sc = Scenario(lab, trace_dir)
    print(f"live test: Asterisk {binary}, run directory {lab.dir}")
    try:
        lab.start()
        version = lab.cli("core show version").strip()
        print(f"live test: {version}")
        note(f"{' '.join(version.split()[:2])}, chan_{T.lower()}, phones: sipp {sipp_version()} on 127.0.0.0/8")
        check_true("module loaded at startup", "Running" in lab.cli("module show like res_prom_rs"))

        # The phones: one answers (and answers OPTIONS, so it qualifies), one is busy, one never answers, and a
        # registrar accepts our outbound registration. Nothing listens at the dead peer's address.
        lab.sipp("sn:uas", h.CALLEE_IP, "-aa", "-rtp_echo")
        lab.sipp("uas_busy.xml", h.BUSY_IP, "-aa")
        lab.sipp("uas_noanswer.xml", h.NOANSWER_IP, "-aa")
        lab.sipp("uas_registrar.xml", h.REGISTRAR_IP, "-aa")

        print("scenario: qualify (a live phone, a phone that dies) and outbound registration")
        sc.trace("endpoints")
        doomed = lab.sipp("sn:uas", h.DEAD_IP, "-aa")
        lab.cli("pjsip send register registrar" if T == "PJSIP" else "sip reload")
        up = lambda p, ep: value(p, f'asterisk_endpoint_up{{server="live-test",tech="{T}",endpoint="{ep}"}}')  # noqa
        p = wait_for("both phones reachable, registered", lambda: (lambda p: p if (
            up(p, "callee") == 1 and up(p, "dead") == 1
            and 1.0 in values(p, "asterisk_outbound_registration_status").values()) else None)(sc.page()),
            timeout=30)
        check_true("the doomed phone was reachable first", p and up(p, "dead") == 1)
        lab.stop_proc(doomed)
        p = wait_for("dead phone unreachable", lambda: (lambda p: p if up(p, "dead") == 0 else None)(sc.page()),
                     timeout=20)
        p = p or sc.page()
        check("endpoint_up callee (answers OPTIONS)",
              value(p, f'asterisk_endpoint_up{{server="live-test",tech="{T}",endpoint="callee"}}'), 1.0)
        check("endpoint_up dead (stopped answering)",
              value(p, f'asterisk_endpoint_up{{server="live-test",tech="{T}",endpoint="dead"}}'), 0.0)
        check("endpoint_status callee reachable",
              value(p, f'asterisk_endpoint_status{{server="live-test",tech="{T}",endpoint="callee",'
                       'status="reachable"}'), 1.0)
        check("endpoint_status dead unreachable",
              value(p, f'asterisk_endpoint_status{{server="live-test",tech="{T}",endpoint="dead",'
                       'status="unreachable"}'), 1.0)
        rtt = value(p, f'asterisk_endpoint_rtt_seconds{{server="live-test",tech="{T}",endpoint="callee"}}')
        if T == "PJSIP":
            check_true("qualify round trip of callee", rtt is not None and 0 < rtt < 1, f"{rtt} s")
        else:  # the round trip chan_sip published with the status, as its log line says
            said = re.findall(r"Peer 'callee' is now Reachable\. \((\d+)ms", lab.log_text())
            check_true("qualify round trip of callee = chan_sip's (log)",
                       rtt is not None and said and rtt == int(said[-1]) / 1000, f"{rtt} s vs {said} ms")
        check("no round trip for the dead peer",
              value(p, f'asterisk_endpoint_rtt_seconds{{server="live-test",tech="{T}",endpoint="dead"}}'), None)
        regs = values(p, "asterisk_outbound_registration_status")
        check_true("outbound registration registered", list(regs.values()) == [1.0], str(regs))
        note(f"endpoints: callee reachable (qualify rtt {rtt * 1000:.2f} ms), the phone that died unreachable, "
             f"outbound registration {'registered' if list(regs.values()) == [1.0] else regs}")

        if T == "SIP":
            chan_sip_check.run(lab, sc, note)

        print("scenario: calls (answered, busy, no answer)")
        sc.trace("calls")
        base = sc.page()
        lab.call("answer", 10, rate=5, duration_ms=1000)
        lab.call("busy", 3, rate=5)
        lab.call("noanswer", 2, rate=5)
        p = sc.settle()
        d = lambda fam, lab_: counter(p, fam, lab_) - counter(base, fam, lab_)  # noqa: E731
        check("dial results ANSWER", d("asterisk_dial_results_total", 'server="live-test",dialstatus="ANSWER"'), 10)
        check("dial results BUSY", d("asterisk_dial_results_total", 'server="live-test",dialstatus="BUSY"'), 3)
        check("dial results NOANSWER", d("asterisk_dial_results_total", 'server="live-test",dialstatus="NOANSWER"'),
              2)
        created = d("asterisk_channels_created_total", f'server="live-test",tech="{T}"')
        check(f"{T} channels created (2 per call)", created, 30)
        hung = sum(v for k, v in values(p, "asterisk_channel_hangups_total").items() if f'tech="{T}"' in k) - sum(
            v for k, v in values(base, "asterisk_channel_hangups_total").items() if f'tech="{T}"' in k)
        check(f"{T} channels hung up", hung, 30)
        causes = {k: v - values(base, "asterisk_channel_hangups_total").get(k, 0)
                  for k, v in values(p, "asterisk_channel_hangups_total").items()}
        print(f"  hangup causes: { {k: v for k, v in causes.items() if v} }")
        # Answered calls: both legs NORMAL_CLEARING. Busy: the phone's 486 is USER_BUSY on both legs. Unanswered:
        # the caller leg ends NORMAL_CLEARING (Hangup() after Dial); the callee leg Dial cancelled carries no cause
        # (0) on chan_pjsip and NORMAL_CLEARING on chan_sip.
        cancelled = {"PJSIP": "NOTDEFINED", "SIP": "NORMAL_CLEARING"}[T]
        check(f"hangups NORMAL_CLEARING (20 answered legs + 2 unanswered callers{' + 2 cancelled' if T == 'SIP' else ''})",
              causes.get(f'{{server="live-test",tech="{T}",cause="NORMAL_CLEARING"}}'), 22 + 2 * (T == "SIP"))
        check("hangups USER_BUSY (both legs of 3 busy calls)",
              causes.get(f'{{server="live-test",tech="{T}",cause="USER_BUSY"}}'), 6)
        check(f"hangups {cancelled} of the 2 cancelled callee legs ({T})",
              causes.get(f'{{server="live-test",tech="{T}",cause="NOTDEFINED"}}'), 2 if T == "PJSIP" else None)
        check("no channel left on the page", sum(values(p, "asterisk_channels").values()), 0)
        note("calls: 10 answered, 3 busy, 2 unanswered -> dial results ANSWER {:.0f}, BUSY {:.0f}, NOANSWER {:.0f}; "
             f"{{:.0f}} {T} channels created, {{:.0f}} hung up (NORMAL_CLEARING {{:.0f}}, USER_BUSY {{:.0f}}, "
             "NOTDEFINED {:.0f})".format(
                 d("asterisk_dial_results_total", 'server="live-test",dialstatus="ANSWER"'),
                 d("asterisk_dial_results_total", 'server="live-test",dialstatus="BUSY"'),
                 d("asterisk_dial_results_total", 'server="live-test",dialstatus="NOANSWER"'), created, hung,
                 causes.get(f'{{server="live-test",tech="{T}",cause="NORMAL_CLEARING"}}', 0),
                 causes.get(f'{{server="live-test",tech="{T}",cause="USER_BUSY"}}', 0),
                 causes.get(f'{{server="live-test",tech="{T}",cause="NOTDEFINED"}}', 0)))
        ans = value(p, f'asterisk_channel_answered_duration_seconds_count{{server="live-test",tech="{T}"}}') or 0
        ans0 = value(base, f'asterisk_channel_answered_duration_seconds_count{{server="live-test",tech="{T}"}}') or 0
        check("answered channels (both legs of answered calls)", ans - ans0, 20)
        check("processed calls (ast_processed_calls, sampled)",
              wait_for("sampled processed calls", lambda: (lambda v: v if v and v >= 15 else None)(
                  value(sc.page(), 'asterisk_calls_processed_total{server="live-test"}')), timeout=5) is not None,
              True)

        print("scenario: security events (wrong password, unknown account)")
        sc.trace("security")
        base = sc.page()
        with open(os.path.join(lab.dir, "users.csv"), "w") as f:
            f.write("SEQUENTIAL\nauthuser;\n")
        with open(os.path.join(lab.dir, "unknown.csv"), "w") as f:
            f.write("SEQUENTIAL\nnosuchuser;\n")
        lab.sipp("uac_bad_auth.xml", h.ATTACKER_IP, f"{h.AST_IP}:{lab.sip_port}", "-s", "answer", "-m", "3",
                 "-r", "5", "-inf", os.path.join(lab.dir, "users.csv"), "-au", "authuser", "-ap", "wrong-password",
                 "-timeout", "30s", wait=True)
        lab.sipp("uac_bad_auth.xml", h.ATTACKER_IP, f"{h.AST_IP}:{lab.sip_port}", "-s", "answer", "-m", "2",
                 "-r", "5", "-inf", os.path.join(lab.dir, "unknown.csv"), "-au", "nosuchuser", "-ap", "x",
                 "-timeout", "30s", wait=True)
        time.sleep(1)
        p = sc.page()
        sec = {k: v - values(base, "asterisk_security_events_total").get(k, 0)
               for k, v in values(p, "asterisk_security_events_total").items()}
        sec = {k: v for k, v in sec.items() if v}
        print(f"  security events: {sec}")
        # Each attempt: INVITE -> challenged (ChallengeSent), INVITE with a digest -> refused. chan_pjsip reports the
        # refusal as ChallengeResponseFailed and each INVITE of an unknown account also as InvalidAccountID;
        # chan_sip (alwaysauthreject = yes) reports every refusal as InvalidPassword, for unknown accounts too.
        want = {"PJSIP": {"challenge_sent": 5, "challenge_response_failed": 5, "invalid_account_id": 4},
                "SIP": {"challenge_sent": 5, "invalid_password": 5}}[T]
        for event, n in want.items():
            check(f"security: {event} ({T})", sec.get(f'{{server="live-test",service="{T}",event="{event}"}}'), n)
        check_true("security: no other event", set(sec) == {f'{{server="live-test",service="{T}",event="{e}"}}'
                                                           for e in want}, str(sec))
        note("security: 3 wrong passwords, 2 unknown accounts -> " + ", ".join(
            f"{k.split('event=')[1].strip('}').strip(chr(34))} {v:.0f}" for k, v in sorted(sec.items())))

        print("scenario: queue (answered by an agent, abandoned)")
        sc.trace("queue")
        base = sc.page()
        lab.call("queue", 3, rate=2, duration_ms=1000)
        lab.call("wait", 2, rate=5, duration_ms=1500)
        p = sc.settle()
        dq = lambda fam, q: counter(p, fam, f'server="live-test",queue="{q}"') - counter(  # noqa: E731
            base, fam, f'server="live-test",queue="{q}"')
        check("queue sales joined", dq("asterisk_queue_callers_joined_total", "sales"), 3)
        check("queue sales abandoned", dq("asterisk_queue_callers_abandoned_total", "sales"), 0)
        check("queue empty joined", dq("asterisk_queue_callers_joined_total", "empty"), 2)
        check("queue empty abandoned", dq("asterisk_queue_callers_abandoned_total", "empty"), 2)
        check("queue callers waiting now", sum(values(p, "asterisk_queue_callers").values()), 0)
        w = value(p, 'asterisk_queue_wait_seconds_count{server="live-test",queue="empty"}')
        check("queue wait observations (empty)", w, 2)
        note("queue: sales {:.0f} joined, {:.0f} abandoned; empty {:.0f} joined, {:.0f} abandoned; 0 waiting after".format(
            dq("asterisk_queue_callers_joined_total", "sales"), dq("asterisk_queue_callers_abandoned_total", "sales"),
            dq("asterisk_queue_callers_joined_total", "empty"), dq("asterisk_queue_callers_abandoned_total", "empty")))
        status = lab.cli("prom_rs show status")
        check_true("app_queue subscription narrowed to the learned types",
                   re.search(r"app_queue:\s+subscribed, filtered to its message types", status), status)

        print("scenario: conference")
        sc.trace("conference")
        caller = lab.call("conf", 3, rate=10, duration_ms=4000, wait=False)
        p = wait_for("3 participants", lambda: (lambda p: p if value(
            p, 'asterisk_confbridge_participants{server="live-test"}') == 3 else None)(sc.page()), timeout=10)
        p = p or sc.page()
        check("conference running", value(p, 'asterisk_confbridge_conferences{server="live-test"}'), 1)
        check("participants", value(p, 'asterisk_confbridge_participants{server="live-test"}'), 3)
        lab.wait(caller)
        p = sc.settle()
        check("conference ended", value(p, 'asterisk_confbridge_conferences{server="live-test"}'), 0)
        check("no participants", value(p, 'asterisk_confbridge_participants{server="live-test"}'), 0)
        check("no bridge left", sum(values(p, "asterisk_bridges").values()), 0)
        note("conference: 1 conference with 3 participants while they talked, 0 and 0 after")
        status = lab.cli("prom_rs show status")
        check_true("ConfBridge subscription narrowed to the learned types",
                   re.search(r"ConfBridge:\s+subscribed, filtered to its message types", status), status)

        print("scenario: RTCP (a call through Asterisk to itself: tone one way, echoed back by the caller)")
        sc.trace("rtcp")
        base = sc.page()
        caller = lab.sipp("uac_call.xml", h.CALLER_IP, f"{h.AST_IP}:{lab.sip_port}", "-s", "rtcp", "-m", "1",
                          "-d", "6000", "-rtp_echo", "-timeout", "60s")
        p = wait_for("three channels up", lambda: (lambda p: p if value(
            p, 'asterisk_channels_by_state{server="live-test",state="up"}') == 3 else None)(sc.page()), timeout=10)
        time.sleep(2.5)
        p = sc.page()
        codecs = values(p, "asterisk_channels_by_codec")
        check_true("codec sample sees the ulaw channels", codecs.get('{server="live-test",codec="ulaw"}', 0) >= 3,
                   str(codecs))
        # Milliwatt() generates signed linear audio that the called leg translates to ulaw.
        check("transcoding channels (the tone generator's leg)",
              value(p, 'asterisk_transcoding_channels{server="live-test"}'), 1)
        check("codec translation slin -> ulaw",
              value(p, 'asterisk_codec_translations{server="live-test",from="slin",to="ulaw"}'), 1)
        check_true("bridges during the call", sum(values(p, "asterisk_bridges").values()) >= 1,
                   str(values(p, "asterisk_bridges")))
        check("channels in bridges", value(p, 'asterisk_bridged_channels{server="live-test"}'), 2)
        lab.wait(caller)
        p = sc.settle()
        for fam in ("asterisk_rtcp_jitter_seconds_count", "asterisk_rtcp_packet_loss_ratio_count"):
            for dirn in ("rx", "tx"):
                n = counter(p, fam, f'server="live-test",direction="{dirn}"') - counter(
                    base, fam, f'server="live-test",direction="{dirn}"')
                check_true(f"{fam}{{direction={dirn}}} reports", n >= 2, f"{n:.0f}")
        n = (value(p, 'asterisk_rtcp_rtt_seconds_count{server="live-test"}') or 0) - (
            value(base, 'asterisk_rtcp_rtt_seconds_count{server="live-test"}') or 0)
        check_true("asterisk_rtcp_rtt_seconds reports", n >= 1, f"{n:.0f}")
        n = sum(values(p, "asterisk_rtcp_mes_count").values()) - sum(values(base, "asterisk_rtcp_mes_count").values())
        check_true("asterisk_rtcp_mes reports", n >= 1, f"{n:.0f}")
        note("rtcp: {:.0f} received and {:.0f} sent reports, {:.0f} round trips, {:.0f} MES values".format(
            counter(p, "asterisk_rtcp_jitter_seconds_count", 'server="live-test",direction="rx"')
            - counter(base, "asterisk_rtcp_jitter_seconds_count", 'server="live-test",direction="rx"'),
            counter(p, "asterisk_rtcp_jitter_seconds_count", 'server="live-test",direction="tx"')
            - counter(base, "asterisk_rtcp_jitter_seconds_count", 'server="live-test",direction="tx"'),
            (value(p, 'asterisk_rtcp_rtt_seconds_count{server="live-test"}') or 0)
            - (value(base, 'asterisk_rtcp_rtt_seconds_count{server="live-test"}') or 0), n))
        check_true("per-endpoint RTCP jitter",
                   value(p, f'asterisk_endpoint_rtcp_jitter_seconds{{server="live-test",tech="{T}",'
                            f'endpoint="{"loopin" if T == "PJSIP" else "loopout"}"}}') is not None)

        sc.trace("end")  # closes the last scenario's trace
        if trace_dir:
            os.makedirs(trace_dir, exist_ok=True)
            for name in ("endpoints", "calls", "security", "queue", "conference", "rtcp"):
                shutil.copy(os.path.join(lab.dir, f"{name}.trace"), os.path.join(trace_dir, f"{name}.trace"))
            print(f"live test: traces written to {trace_dir}")

        zero_check.run(lab, note)
        errors = [line for line in lab.log_text().splitlines() if "res_prom_rs" in line and "ERROR" in line]
        check("res_prom_rs errors in the Asterisk log", errors, [])
        lifecycle(lab, sc)
        config_errors(lab)
        check_true("Asterisk still running", lab.alive())
    finally:
        if not lab.alive() and lab.ast is not None:
            print(f"live test: Asterisk exited with {lab.ast.returncode}; log in {lab.dir}/log")
            lab.keep = True
        lab.close()


def lifecycle(lab, sc):
    """20 unload/load cycles and then 5 reloads, each under call load."""
    print("scenario: 20 module unload/load cycles under call load")
    load = lab.call("answer", 100000, rate=10, duration_ms=2000, limit=60, wait=False)
    time.sleep(3)
    ok = 0
    for i in range(20):
        lab.cli("module unload res_prom_rs.so")
        unloaded = "Not Running" in lab.cli("module show like res_prom_rs")
        lab.cli("module load res_prom_rs.so")
        shown = lab.cli("module show like res_prom_rs")
        running = "Running" in shown and "Not Running" not in shown
        try:
            page = lab.scrape()
        except OSError:
            page = ""
        if unloaded and running and "asterisk_channels" in page and lab.alive():
            ok += 1
        else:
            print(f"  cycle {i + 1}: unloaded={unloaded} running={running} page={bool(page)} alive={lab.alive()}")
        time.sleep(0.3)
    lab.finish(load)
    check("unload/load cycles completed (module gone, back, page served)", ok, 20)
    note(f"lifecycle: {ok}/20 module unload/load cycles under 10 calls/s")
    p = sc.settle(timeout=30)
    check("after the cycles: seeded channels all hung up (no stuck channel)",
          sum(values(p, "asterisk_channels").values()), 0)
    check("after the cycles: no bridge left", sum(values(p, "asterisk_bridges").values()), 0)
    warnings = [line for line in lab.log_text().splitlines() if "res_prom_rs" in line and (
        "dlclose" in line or "did not register itself" in line or "could not be" in line)]
    check("loader complaints about res_prom_rs", warnings, [])

    print("scenario: 5 module reloads under call load (counters kept)")
    lab.cli("module unload res_prom_rs.so")
    lab.cli("module load res_prom_rs.so")
    calls = 60
    load = lab.call("answer", calls, rate=10, duration_ms=1500, wait=False)
    seen = []
    for i in range(5):
        time.sleep(1)
        page = lab.scrape()
        seen.append(counter(page, "asterisk_channels_created_total", f'server="live-test",tech="{T}"'))
        lab.cli("module reload res_prom_rs.so")
    rc = lab.wait(load)
    check("sipp: every call of the reload run succeeded", rc, 0)
    p = sc.settle(timeout=30)
    seen.append(counter(p, "asterisk_channels_created_total", f'server="live-test",tech="{T}"'))
    check_true("counters never went back across reloads", all(a <= b for a, b in zip(seen, seen[1:])), str(seen))
    check("dial ANSWER after 5 reloads = calls placed", counter(p, "asterisk_dial_results_total",
                                                                'server="live-test",dialstatus="ANSWER"'), calls)
    check(f"{T} channels created after 5 reloads = 2 x calls", seen[-1], 2 * calls)
    hung = sum(v for k, v in values(p, "asterisk_channel_hangups_total").items() if f'tech="{T}"' in k)
    check(f"{T} hangups after 5 reloads = 2 x calls", hung, 2 * calls)
    note("reloads: 5 module reloads during {} calls -> ANSWER {:.0f}, {:.0f} channels created, {:.0f} hung up".format(
        calls, counter(p, "asterisk_dial_results_total", 'server="live-test",dialstatus="ANSWER"'), seen[-1], hung))


def sipp_version():
    import subprocess
    out = subprocess.run(["sipp", "-v"], capture_output=True, text=True).stdout
    m = re.search(r"SIPp v([0-9.]+)", out)
    return m.group(1) if m else "?"


def config_errors(lab):
    """A refused file: reload keeps the running configuration, load declines with the core's message."""
    print("scenario: configuration errors")
    good = dict(lab.prom_conf)
    lab.write_prom_conf(dict(good, **{"buckets.asterisk_rtcp_mes": "9,1"}))
    lab.cli("module reload res_prom_rs.so", check=False)
    time.sleep(0.3)
    log = lab.log_text()
    check_true("reload with bad buckets refused, naming the key",
               'key "buckets.asterisk_rtcp_mes": invalid value "9,1"' in log)
    check_true("the running configuration keeps serving", "asterisk_channels" in lab.scrape())
    lab.cli("module unload res_prom_rs.so")
    lab.write_prom_conf(dict(good, port="99999"))
    out = lab.cli("module load res_prom_rs.so", check=False)
    time.sleep(0.3)
    check_true("load with port 99999 declined", "Unable to load" in out or "failed" in out.lower(), out.strip())
    check_true("the decline names the key and what is allowed",
               'key "port": invalid value "99999": expected a whole number from 1 to 65535' in lab.log_text())
    lab.write_prom_conf(good)
    out = lab.cli("module load res_prom_rs.so", check=False)
    shown = lab.cli("module show like res_prom_rs")
    check_true("loads again once the file is fixed", "Running" in shown and "Not Running" not in shown, out.strip())
    note("configuration: a bad key declines the load and a bad reload keeps the running set, each with the "
         "core's message in the Asterisk log")


def main():
    binary = os.environ.get("ASTERISK_BIN") or shutil.which("asterisk")
    module = os.environ.get("ASTERISK_MODULE")
    if not binary or not module or not os.path.isfile(module):
        print("live test: set ASTERISK_BIN and ASTERISK_MODULE (make test-asterisk does)")
        return 2
    if not shutil.which("sipp"):
        print("live test: sipp is missing (Debian package sip-tester)")
        return 2
    started = time.time()
    try:
        run(binary, os.path.abspath(module), os.environ.get("PROM_RS_RECORD_TRACES"))
    except Exception as e:  # a crash of the harness is a failure with its reason
        import traceback
        traceback.print_exc()
        RESULTS.append(False)
        print(f"live test: aborted: {e}")
    passed, failed = RESULTS.count(True), RESULTS.count(False)
    for line in SUMMARY:
        print(f"live test: {line}")
    print(f"live test: {passed} passed, {failed} failed in {time.time() - started:.0f} s")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
