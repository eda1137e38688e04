#!/bin/sh
# Installs the Debian packages the tests use, if they are missing: promtool (prometheus) for the exposition checks,
# valgrind for the reference host, mariadb-server for the ViciDial reader tests, the prometheus server for the
# dashboard end-to-end test, chromium for the status page, fail2ban for the fail2ban poller tests (a private
# fail2ban-server each test starts; the system service is never started: see policy-rc.d below). Runs apt-get update once.
set -eu
need=""
command -v promtool >/dev/null 2>&1 || need="$need prometheus"
command -v valgrind >/dev/null 2>&1 || need="$need valgrind"
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need="$need mariadb-server"
command -v prometheus >/dev/null 2>&1 || case "$need" in *prometheus*) ;; *) need="$need prometheus" ;; esac
command -v chromium >/dev/null 2>&1 || need="$need chromium fonts-dejavu-core"
[ -x /usr/bin/fail2ban-server ] && [ -x /usr/bin/fail2ban-client ] || need="$need fail2ban"
# tests/https.rs: certificates made with the openssl CLI, checked with curl.
command -v openssl >/dev/null 2>&1 || need="$need openssl"
command -v curl >/dev/null 2>&1 || need="$need curl"
if [ -z "$need" ]; then
    echo "test dependencies: all present"
    exit 0
fi
echo "test dependencies: installing$need"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "need root (or sudo) to install:$need" >&2; exit 1; }
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# The distribution's service scripts must not start system-wide servers: the tests start private ones.
[ -e /usr/sbin/policy-rc.d ] || $SUDO sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d' 2>/dev/null || true
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $need
