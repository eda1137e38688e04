"""A private Asterisk for the live test and the benchmark: generated configs in a temporary run directory, the
installed Asterisk binary and its stock modules, our build/res_prom_rs.so, sipp processes on loopback, and a page
reader. Every process started here is stopped by `Lab.close()` (also on an exception)."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SIPP_DIR = os.path.join(HERE, "sipp")
SAMPLE_CONF = os.path.join(HERE, "..", "..", "asterisk_module", "res_prom_rs.conf.sample")

# Loopback addresses of the simulated phones (each sipp instance gets its own, so PJSIP identifies it by address).
AST_IP = "127.0.0.1"
CALLER_IP = "127.0.0.2"    # the caller that places calls (identified by IP, no auth)
CALLEE_IP = "127.0.0.3"    # a phone that answers and answers OPTIONS (live qualify)
BUSY_IP = "127.0.0.4"      # always busy
NOANSWER_IP = "127.0.0.5"  # rings forever
ATTACKER_IP = "127.0.0.6"  # wrong passwords, unknown accounts
REGISTRAR_IP = "127.0.0.8" # accepts our outbound registration
DEAD_IP = "127.0.0.9"      # answers OPTIONS, then stops (a phone that dies)
BYER_IP = "127.0.0.10"     # answers, then hangs up itself (BYE from the called side)
LAGGY_IP = "127.0.0.11"    # chan_sip only: answers OPTIONS slowly (a lagged peer)
PHONE_IP = "127.0.0.12"    # chan_sip only: a phone that registers to Asterisk with a password
SIPP_PORT = 5060
AMI_USER, AMI_SECRET = "livetest", "live-test-secret"


def free_port(ip="127.0.0.1", kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def find_moddir(binary, driver="chan_pjsip"):
    """The stock modules of the Asterisk installed at `binary` (ASTERISK_MODDIR overrides)."""
    env = os.environ.get("ASTERISK_MODDIR")
    if env:
        return env
    prefix = os.path.dirname(os.path.dirname(os.path.realpath(binary)))
    for cand in (
        os.path.join(prefix, "lib/asterisk/modules"),
        os.path.join(prefix, "lib64/asterisk/modules"),
        os.path.join(prefix, "lib/x86_64-linux-gnu/asterisk/modules"),
        "/usr/lib/asterisk/modules",
        "/usr/lib/x86_64-linux-gnu/asterisk/modules",
    ):
        if os.path.isfile(os.path.join(cand, f"{driver}.so")):
            return cand
    raise SystemExit(f"cannot find the modules of {binary}; set ASTERISK_MODDIR")


def find_docdir(binary):
    """The XML documentation of the Asterisk installed at `binary` (ASTERISK_DATADIR overrides its data folder), or
    None. An Asterisk built with XML documentation refuses to boot without it ("Stasis initialization failed": stasis
    cannot register its config options with no documentation to attach them to)."""
    env = os.environ.get("ASTERISK_DATADIR")
    prefix = os.path.dirname(os.path.dirname(os.path.realpath(binary)))
    cands = [env] if env else []
    try:
        with open(os.path.join(prefix, "etc/asterisk/asterisk.conf")) as f:
            m = re.search(r"^\s*astdatadir\s*=>?\s*(\S+)", f.read(), re.M)
            if m:
                cands.append(m.group(1))
    except OSError:
        pass
    cands += [os.path.join(prefix, "var/lib/asterisk"), os.path.join(prefix, "share/asterisk"),
              "/usr/share/asterisk", "/var/lib/asterisk"]
    for cand in cands:
        doc = os.path.join(cand, "documentation")
        if os.path.isfile(os.path.join(doc, "core-en_US.xml")):
            return doc
    return None


MODULES = """
res_timing_timerfd res_sorcery_config res_sorcery_memory res_sorcery_astdb res_pjproject res_pjsip
res_pjsip_session res_pjsip_authenticator_digest res_pjsip_endpoint_identifier_ip res_pjsip_endpoint_identifier_user
res_pjsip_registrar res_pjsip_outbound_registration res_pjsip_outbound_authenticator_digest res_pjsip_sdp_rtp
res_pjsip_caller_id res_pjsip_rfc3326 res_pjsip_nat res_pjsip_acl res_pjsip_pubsub res_rtp_asterisk chan_pjsip
res_security_log res_musiconhold pbx_config app_dial app_queue app_confbridge app_playback app_echo app_milliwatt
app_verbose bridge_simple bridge_native_rtp bridge_softmix bridge_holding bridge_builtin_features
bridge_builtin_interval_features chan_bridge_media codec_ulaw codec_alaw codec_gsm codec_a_mu format_wav format_pcm
format_sln func_callerid func_channel func_strings func_logic func_hangupcause func_global
""".split()


def modules_for(tech):
    """The modules a lab loads for channel driver `tech`: PJSIP (the default) or SIP (chan_sip, Asterisk <= 20)."""
    if tech == "SIP":
        return [m for m in MODULES if "pjsip" not in m and m != "res_pjproject"] + ["chan_sip"]
    return list(MODULES)


# What bench.py loads besides: Asterisk's own exporter, to compare with. scripts/build-test-asterisk.sh builds
# MODULES + BENCH_MODULES.
BENCH_MODULES = ["res_prometheus"]


class Lab:
    """One private Asterisk and its sipp phones."""

    def __init__(self, binary, module, prom_conf, extra_modules=(), http_port=None, keep=False, rtp_ports=None,
                 tech=None):
        self.binary = binary
        self.module = module
        # The channel driver the phones are configured for: PJSIP (default) or SIP (chan_sip, Asterisk <= 20).
        self.tech = tech or os.environ.get("ASTERISK_CHANNEL", "PJSIP")
        if self.tech not in ("PJSIP", "SIP"):
            raise SystemExit(f"ASTERISK_CHANNEL={self.tech}: expected PJSIP or SIP")
        self.moddir_stock = find_moddir(binary, "chan_sip" if self.tech == "SIP" else "chan_pjsip")
        self.dir = tempfile.mkdtemp(prefix="prom_rs_asterisk_")
        self.keep = keep
        self.sip_port = free_port(AST_IP, socket.SOCK_DGRAM)
        self.scrape_port = free_port()
        self.http_port = http_port
        self.ami_port = free_port()
        # An RTP port pair per channel; a range of its own per process (other tests may run beside this one).
        # chan_sip keeps a call's RTP ports until its dialog is destroyed, about 30 s after the BYE, so at 10 calls/s
        # it needs far more of them than chan_pjsip.
        self.rtp_ports = rtp_ports or (3000 if self.tech == "SIP" else 400)
        self.rtp_start = 30000 + (os.getpid() % 8) * 4000
        self.procs = []
        self.ast = None
        self.prom_conf = dict(prom_conf)
        self.extra_modules = list(extra_modules)
        self._write_configs()

    # ---- configuration --------------------------------------------------------------------------------------------

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def write(self, name, text):
        with open(self.path("etc", name), "w") as f:
            f.write(text)

    def write_prom_conf(self, settings):
        """res_prom_rs.conf: the installed sample (so the test proves it loads) with {key: value} appended to its
        sections; keys `section.key` go to [section]."""
        with open(SAMPLE_CONF) as f:
            text = f.read()
        sections = {"general": []}
        for k, v in settings.items():
            sec, _, key = k.rpartition(".")
            sections.setdefault(sec or "general", []).append(f"{key} = {v}")
        for sec, lines in sections.items():
            append = "(+)" if f"\n[{sec}]\n" in text else ""
            text += f"\n[{sec}]{append}\n" + "\n".join(lines) + "\n"
        self.write("res_prom_rs.conf", text)

    def _write_configs(self):
        for d in ("etc", "modules", "run", "log", "spool", "lib", "db", "keys", "sounds"):
            os.makedirs(self.path(d), exist_ok=True)
        # Our module next to links to the stock ones: astmoddir is one directory.
        for name in os.listdir(self.moddir_stock):
            if name.endswith(".so") and name != "res_prom_rs.so":
                os.symlink(os.path.join(self.moddir_stock, name), self.path("modules", name))
        os.symlink(self.module, self.path("modules", "res_prom_rs.so"))
        # astdatadir is the run directory's lib/: it needs the installed documentation when Asterisk has XML docs.
        docdir = find_docdir(self.binary)
        if docdir:
            os.symlink(docdir, self.path("lib", "documentation"))
        self.write("asterisk.conf", f"""[directories]
astetcdir => {self.path('etc')}
astmoddir => {self.path('modules')}
astvarlibdir => {self.path('lib')}
astdbdir => {self.path('db')}
astkeydir => {self.path('keys')}
astdatadir => {self.path('lib')}
astagidir => {self.path('lib')}
astspooldir => {self.path('spool')}
astrundir => {self.path('run')}
astlogdir => {self.path('log')}
astsbindir => {os.path.dirname(self.binary)}

[options]
verbose = 3
debug = 0
maxload = 0
transmit_silence = no
""")
        loads = "".join(f"load => {m}.so\n" for m in modules_for(self.tech) + self.extra_modules)
        self.write("modules.conf", f"[modules]\nautoload = no\n{loads}load => res_prom_rs.so\n")
        self.write("logger.conf", "[general]\n[logfiles]\nmessages.log => notice,warning,error,verbose(3)\n")
        self.write("rtp.conf", f"[general]\nrtpstart = {self.rtp_start}\nrtpend = {self.rtp_start + self.rtp_ports - 1}\n"
                   "rtcpinterval = 1000\n")
        self.write("stasis.conf", "[threadpool]\n")
        # The manager on loopback, as ViciDial needs it: the live test redirects calls through it (ViciDial's
        # transfers are AMI Redirects).
        self.write("manager.conf", f"[general]\nenabled = yes\nbindaddr = 127.0.0.1\nport = {self.ami_port}\n\n"
                   f"[{AMI_USER}]\nsecret = {AMI_SECRET}\nread = call\nwrite = call\n")
        self.write("musiconhold.conf", "[default]\nmode = playlist\n")
        self.write("confbridge.conf", "[general]\n[default_user]\ntype = user\nquiet = yes\n"
                   "[default_bridge]\ntype = bridge\n")
        drv = self.tech
        self.write("queues.conf", f"""[general]
shared_lastcall = no
[sales]
strategy = ringall
timeout = 5
retry = 1
joinempty = yes
leavewhenempty = no
member => {drv}/callee
[empty]
joinempty = yes
leavewhenempty = no
""")
        self.write("extensions.conf", f"""[calls]
exten => answer,1,Dial({drv}/callee,5)
 same => n,Hangup()
exten => busy,1,Dial({drv}/busy,5)
 same => n,Hangup()
exten => noanswer,1,Dial({drv}/noanswer,2)
 same => n,Hangup()
exten => queue,1,Answer()
 same => n,Queue(sales)
 same => n,Hangup()
exten => wait,1,Answer()
 same => n,Queue(empty)
 same => n,Hangup()
exten => conf,1,Answer()
 same => n,ConfBridge(100)
 same => n,Hangup()
exten => echo,1,Answer()
 same => n,Echo()
exten => rtcp,1,Dial({'PJSIP/100@loopout' if drv == 'PJSIP' else 'SIP/loopout/100'},5)
 same => n,Hangup()
exten => hold,1,Answer()
 same => n,Wait(3600)
exten => held,1,Dial({drv}/callee,5)
 same => n,Hangup()
exten => calleebye,1,Dial({drv}/byer,5)
 same => n,Hangup()
exten => brief,1,Answer()
 same => n,Wait(2)
 same => n,Hangup()

[loopin]
exten => _X.,1,Answer()
 same => n,Milliwatt()
""")
        ep = ("type = endpoint\ncontext = calls\ndisallow = all\nallow = ulaw\ndirect_media = no\n"
              "rtp_symmetric = yes\n")

        def phone(name, ip, qualify=True):
            q = "qualify_frequency = 2\nqualify_timeout = 1\n" if qualify else ""
            return (f"[{name}]\n{ep}aors = {name}\n\n[{name}]\ntype = aor\n"
                    f"contact = sip:{name}@{ip}:{SIPP_PORT}\n{q}\n")

        if self.tech == "SIP":
            self.write("sip.conf", self._sip_conf())
        else:
            self._write_pjsip_conf(ep, phone)
        self.write_prom_conf(self.prom_conf)
        if self.http_port:
            self.write("http.conf", f"[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = {self.http_port}\n")
            self.write("prometheus.conf", "[general]\nenabled = yes\ncore_metrics_enabled = yes\nuri = metrics\n")

    def _sip_conf(self):
        """chan_sip: the same phones as peers matched by address, plus a lagged peer, a phone that registers, and
        an outbound registration to the sipp registrar."""
        def peer(name, ip, extra=""):
            # type = peer: matched by address only (a friend would also match the From user, so Asterisk's own
            # loop call "from caller" would land on the caller peer)
            return f"[{name}]\ntype = peer\nhost = {ip}\nport = {SIPP_PORT}\ninsecure = port,invite\n{extra}\n"
        return f"""[general]
context = calls
udpbindaddr = {AST_IP}:{self.sip_port}
transport = udp
disallow = all
allow = ulaw
directmedia = no
allowguest = no
alwaysauthreject = yes
qualifyfreq = 2
register => pbx:secret@{REGISTRAR_IP}:{SIPP_PORT}/pbx

{peer('caller', CALLER_IP)}
{peer('callee', CALLEE_IP, 'qualify = yes')}
{peer('busy', BUSY_IP)}
{peer('noanswer', NOANSWER_IP)}
{peer('dead', DEAD_IP, 'qualify = yes')}
{peer('byer', BYER_IP)}
{peer('laggy', LAGGY_IP, 'qualify = 200')}
[phone]
type = friend
host = dynamic
secret = phone-secret

[authuser]
type = friend
host = dynamic
secret = right-password

[loopout]
type = peer
host = {AST_IP}
port = {self.sip_port}
insecure = port,invite
context = loopin
"""

    def _write_pjsip_conf(self, ep, phone):
        self.write("pjsip.conf", f"""[global]
type = global
endpoint_identifier_order = ip,username

[udp]
type = transport
protocol = udp
bind = {AST_IP}:{self.sip_port}

[caller]
{ep}
[caller]
type = identify
endpoint = caller
match = {CALLER_IP}

{phone('callee', CALLEE_IP)}
{phone('busy', BUSY_IP, qualify=False)}
{phone('noanswer', NOANSWER_IP, qualify=False)}
{phone('dead', DEAD_IP)}
{phone('byer', BYER_IP, qualify=False)}
[authuser]
{ep}auth = authuser
[authuser]
type = auth
auth_type = userpass
username = authuser
password = right-password

[loopout]
{ep}aors = loopout
[loopout]
type = aor
contact = sip:loop@{AST_IP}:{self.sip_port}

[loopin]
type = endpoint
context = loopin
disallow = all
allow = ulaw
direct_media = no
[loopin]
type = identify
endpoint = loopin
match = {AST_IP}

[registrar]
type = registration
transport = udp
outbound_auth = registrar
server_uri = sip:{REGISTRAR_IP}:{SIPP_PORT}
client_uri = sip:pbx@{REGISTRAR_IP}:{SIPP_PORT}
retry_interval = 5
expiration = 3600
[registrar]
type = auth
auth_type = userpass
username = pbx
password = secret
""")

    # ---- processes ------------------------------------------------------------------------------------------------

    def start(self, timeout=60):
        self.ast_log = open(self.path("log", "console.txt"), "w")
        self.ast = subprocess.Popen(
            [self.binary, "-f", "-n", "-C", self.path("etc", "asterisk.conf")],
            stdin=subprocess.DEVNULL, stdout=self.ast_log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.ast.poll() is not None:
                raise RuntimeError(f"asterisk exited with {self.ast.returncode}: see {self.path('log')}")
            out = self.cli("core waitfullybooted", check=False, timeout=10)
            if "fully booted" in out.lower():
                return
            time.sleep(0.3)
        raise RuntimeError("asterisk did not finish booting")

    def alive(self):
        return self.ast is not None and self.ast.poll() is None

    def cli(self, command, check=True, timeout=30):
        r = subprocess.run([self.binary, "-C", self.path("etc", "asterisk.conf"), "-rx", command],
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"asterisk -rx {command!r}: {r.stderr or r.stdout}")
        return r.stdout

    def ami(self, action, **fields):
        """Sends one manager action (logged in for it) and returns the response's {field: value}."""
        with socket.create_connection(("127.0.0.1", self.ami_port), timeout=10) as s:
            f = s.makefile("rwb")
            f.readline()  # the banner

            def send(name, **kv):
                f.write("".join(f"{k}: {v}\r\n" for k, v in dict(Action=name, **kv).items()).encode() + b"\r\n")
                f.flush()
                resp = {}
                while True:
                    line = f.readline().decode(errors="replace").strip()
                    if not line:
                        if resp:
                            return resp
                        continue
                    k, _, v = line.partition(":")
                    resp.setdefault(k.strip(), v.strip())

            login = send("Login", Username=AMI_USER, Secret=AMI_SECRET, Events="off")
            if login.get("Response") != "Success":
                raise RuntimeError(f"manager login refused: {login}")
            return send(action, **fields)

    def sipp(self, scenario, ip, *args, wait=False, log=None, port=SIPP_PORT):
        """Starts sipp bound to `ip`:`port`. `scenario`: a file in tests/asterisk/sipp or a built-in (sn:uas)."""
        cmd = ["sipp", "-i", ip, "-p", str(port), "-mi", ip, "-nostdin",
               # sipp instances sharing an address need media ports apart
               "-mp", str(6000 + 10 * (port - SIPP_PORT) if port > SIPP_PORT else 6000),
               "-trace_err", "-error_file", self.path("log", f"sipp-{ip}-{len(self.procs)}.err")]
        if scenario.startswith("sn:"):
            cmd += ["-sn", scenario[3:]]
        else:
            cmd += ["-sf", os.path.join(SIPP_DIR, scenario)]
        cmd += list(args)
        out = open(log or self.path("log", f"sipp-{ip}-{len(self.procs)}.out"), "w")
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             cwd=self.dir, start_new_session=True)
        self.procs.append(p)
        if wait:
            return self.wait(p)
        return p

    def wait(self, p, timeout=300):
        try:
            return p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop_proc(p)
            raise RuntimeError("sipp did not finish in time")

    def call(self, exten, calls, rate=10, duration_ms=1000, limit=None, wait=True, extra=(), run_limit_s=120,
             scenario="uac_call.xml", port=SIPP_PORT):
        """Places `calls` calls from the caller address to `exten`; returns sipp's exit status (0: all succeeded,
        1: some failed as expected for busy/no answer). sipp gives up (an error) after `run_limit_s` in all."""
        args = [f"{AST_IP}:{self.sip_port}", "-s", exten, "-m", str(calls), "-r", str(rate), "-d", str(duration_ms),
                "-l", str(limit or calls), "-timeout", f"{run_limit_s}s", "-timeout_error"] + list(extra)
        return self.sipp(scenario, CALLER_IP, *args, wait=wait, port=port)

    def stop_proc(self, p):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def finish(self, p, timeout=120):
        """Asks sipp to place no new call and to exit once its calls have ended (SIGUSR1), and waits."""
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGUSR1)
            except ProcessLookupError:
                pass
        return self.wait(p, timeout)

    def stop_asterisk(self):
        if self.alive():
            self.cli("core stop now", check=False, timeout=30)
            try:
                self.ast.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.stop_proc(self.ast)

    def close(self):
        for p in self.procs:
            self.stop_proc(p)
        if self.ast is not None:
            self.stop_asterisk()
            self.stop_proc(self.ast)
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- reading ----------------------------------------------------------------------------------------------------

    def scrape(self, port=None, path="/metrics", timeout=10):
        url = f"http://127.0.0.1:{port or self.scrape_port}{path}"
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read().decode()

    def log_text(self):
        with open(self.path("log", "messages.log"), errors="replace") as f:
            return f.read()


def value(page, series):
    """The value of one sample line (exact name and labels as rendered), or None."""
    for line in page.splitlines():
        if line.startswith(series + " "):
            return float(line[len(series) + 1:].split()[0])
    return None


def values(page, family):
    """{labels: value} of every sample of `family` (labels as the rendered string inside the braces)."""
    out = {}
    pat = re.compile(r"^" + re.escape(family) + r"(\{[^}]*\})? (\S+)")
    for line in page.splitlines():
        m = pat.match(line)
        if m:
            out[m.group(1) or ""] = float(m.group(2))
    return out
