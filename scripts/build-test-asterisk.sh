#!/usr/bin/env bash
# Builds the Asterisk 22 the live test and the Asterisk benchmark run against, from Debian's unstable source package,
# into a cache outside the repository:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/res_prom_rs/asterisk-<version>/{sbin,lib,include,etc,var}
# A finished build (its .complete stamp) is reused: the script then only prints where it is.
#
#   scripts/build-test-asterisk.sh                 build (about 10 minutes on 2 cores) or reuse
#   scripts/build-test-asterisk.sh --print-prefix  print the prefix of a finished build, exit 1 when there is none
#   scripts/build-test-asterisk.sh --rebuild       build again even when a finished build exists
#
# Then: make test-asterisk ASTERISK_PREFIX=<prefix>  (ASTERISK_INCLUDE_DIR=<prefix>/include,
#       ASTERISK_BIN=<prefix>/sbin/asterisk, ASTERISK_ETCDIR=<prefix>/etc/asterisk)
#
# Why each step is as it is:
# - Debian 12 ships no Asterisk; unstable's source package is Asterisk 22 LTS with Debian's patches, and bundles
#   pjproject as a component of its own (orig-Xpjproject). Only a deb-src entry is added, so no binary package is
#   ever taken from unstable; it is derived from the system's own debian.sources so it uses the configured mirror.
# - Asterisk's bundled-pjproject build downloads pjproject-<v>.tar.bz2 unless a download cache holds a tarball
#   matching third-party/pjproject/pjproject-<v>.tar.bz2.md5; debian/rules repacks Xpjproject and rewrites that
#   checksum, and so does this script.
# - Every menuselect category is switched off and only the modules the harness loads are switched on (the list is
#   read from tests/asterisk/astharness.py), which keeps the whole build near 10 minutes on 2 cores.
# - `make install` writes no asterisk.conf; one is written so `asterisk -rx` and the Makefile's ASTERISK_ETCDIR find
#   the cache's directories.
#
# Environment: XDG_CACHE_HOME; JOBS (parallel make jobs, default: the number of cores); NICE (default 10);
# KEEP_SOURCE=1 keeps the unpacked source and objects in the cache's work-<version> folder.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/res_prom_rs"
SRC_LIST=/etc/apt/sources.list.d/res_prom_rs-unstable-src.sources
SYSTEM_LIST=/etc/apt/sources.list.d/debian.sources
JOBS="${JOBS:-$(nproc)}"
NICE="${NICE:-10}"
WANT_MAJOR=22
BUILD_DEPS="build-essential dpkg-dev pkg-config bzip2 patch libjansson-dev libxml2-dev libsqlite3-dev uuid-dev
libedit-dev libssl-dev libsrtp2-dev libncurses-dev libgsm1-dev"
# The live test drives SIP with sipp; Debian packages it as sip-tester.
TEST_DEPS="sip-tester"

say() { echo "build-test-asterisk: $*"; }
die() { say "error: $*" >&2; exit 1; }

finished_prefix() {
    local stamp
    stamp="$(ls -1d "$CACHE_ROOT"/asterisk-"$WANT_MAJOR".*/.complete 2>/dev/null | sort -V | tail -n 1)"
    [ -n "$stamp" ] && dirname "$stamp"
}

rebuild=""
case "${1:-}" in
    --print-prefix) finished_prefix || exit 1; exit 0 ;;
    --rebuild) rebuild=1 ;;
    "") ;;
    *) die "unknown argument $1 (see the comment at the top of $0)" ;;
esac

if [ -z "$rebuild" ] && prefix="$(finished_prefix)"; then
    say "reusing $prefix ($(cat "$prefix/.complete"))"
    say "make test-asterisk ASTERISK_PREFIX=$prefix"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "need root (or sudo) for apt-get"
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive

START=$(date +%s)
STEP=0
STEPS=9
STEP_START=$START
LOGDIR="$CACHE_ROOT/logs"
mkdir -p "$LOGDIR"
rm -f "$LOGDIR"/*.log

fmt() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# Runs one step with its output in a log file; one line when it is done, the log's tail when it fails.
step() {
    local name="$1"; shift
    local log
    STEP=$((STEP + 1))
    log="${name%% *}"
    log="$LOGDIR/$STEP-${log//[^A-Za-z0-9_-]/}.log"
    STEP_START=$(date +%s)
    if ! "$@" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "step $STEP/$STEPS ($name) failed; full log: $log"
    fi
    local now
    now=$(date +%s)
    say "[$STEP/$STEPS] $name: $(fmt $((now - STEP_START))) (total $(fmt $((now - START))))"
}

# ---- steps ------------------------------------------------------------------------------------------------------

# The first stanza of the system's own list (the main archive, not the security one), as deb-src for unstable.
add_source_list() {
    [ -f "$SYSTEM_LIST" ] || { echo "$SYSTEM_LIST not found: add a deb-src entry for unstable by hand"; return 1; }
    local want
    want="$(awk 'BEGIN { RS = ""; ORS = "\n" } NR == 1' "$SYSTEM_LIST" \
        | sed -e '/^#/d' -e 's/^Types:.*/Types: deb-src/' -e 's/^Suites:.*/Suites: unstable/')"
    if [ ! -f "$SRC_LIST" ] || [ "$(cat "$SRC_LIST")" != "$want" ]; then
        printf '%s\n' "$want" | $SUDO tee "$SRC_LIST" >/dev/null
    fi
    $SUDO apt-get update -q
}

install_packages() {
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -q --no-install-recommends $BUILD_DEPS $TEST_DEPS
}

fetch_source() {
    rm -rf "$WORK/src"
    mkdir -p "$WORK/src"
    (cd "$WORK/src" && apt-get source -q "asterisk=$DEB_VERSION")
}

# As debian/rules does: a tarball of Xpjproject under the name the bundled build expects, and its checksum.
repack_pjproject() {
    local v="$PJ_VERSION"
    mkdir -p "$DL_CACHE/stage"
    rm -f "$DL_CACHE/stage/pjproject-$v"
    ln -s "$ASTSRC/Xpjproject" "$DL_CACHE/stage/pjproject-$v"
    (cd "$DL_CACHE/stage" && tar --create "pjproject-$v"/* | bzip2 --fast >"$DL_CACHE/pjproject-$v.tar.bz2")
    rm -rf "$DL_CACHE/stage"
    (cd "$DL_CACHE" && md5sum "pjproject-$v.tar.bz2") >"$ASTSRC/third-party/pjproject/pjproject-$v.tar.bz2.md5"
    cat "$ASTSRC/third-party/pjproject/pjproject-$v.tar.bz2.md5"
}

configure_asterisk() {
    # The rpath lets the cache's binary find its own libasteriskpj without ldconfig.
    cd "$ASTSRC" && nice -n "$NICE" ./configure --prefix="$PREFIX" --with-pjproject-bundled --without-jansson-bundled \
        --with-download-cache="$DL_CACHE" --disable-asteriskssl --without-pwlib LDFLAGS="-Wl,-rpath,$PREFIX/lib"
}

select_modules() {
    cd "$ASTSRC"
    nice -n "$NICE" make menuselect.makeopts
    local cat
    # Compiler flags stay as Asterisk chooses them (they feed the build-option checksum modules are compared by).
    for cat in $(grep -o '<category name="[^"]*"' menuselect-tree | cut -d'"' -f2 | sort -u); do
        [ "$cat" = MENUSELECT_CFLAGS ] && continue
        menuselect/menuselect --disable-category "$cat" menuselect.makeopts
    done
    # Not tuned to this machine's CPU, as Debian builds it.
    menuselect/menuselect --disable BUILD_NATIVE menuselect.makeopts
    local m
    for m in $MODULES; do
        menuselect/menuselect --enable "$m" menuselect.makeopts
    done
    grep -E '^MENUSELECT_(RES|CHANNELS|APPS)=' menuselect.makeopts | cut -c1-200
}

build_pjproject() {
    cd "$ASTSRC" && nice -n "$NICE" make -j"$JOBS" third-party
}

build_asterisk() {
    cd "$ASTSRC" && nice -n "$NICE" make -j"$JOBS"
}

install_asterisk() {
    cd "$ASTSRC"
    rm -rf "$PREFIX"
    make install
    make install-headers
    # make install writes no asterisk.conf: one naming the directories configure chose (all inside the prefix).
    # makeopts holds them as make variables (${sysconfdir}/asterisk): let make expand them, as Asterisk's own
    # Makefile does (AGI_DIR is defined there, not in makeopts).
    v() { printf 'include makeopts\nAGI_DIR = $(ASTDATADIR)/agi-bin\nv:\n\t@echo $(%s)\n' "$1" |
        make -s --no-print-directory -f - v; }
    mkdir -p "$(v ASTETCDIR)"
    cat >"$(v ASTETCDIR)/asterisk.conf" <<EOF
[directories]
astetcdir => $(v ASTETCDIR)
astmoddir => $(v ASTMODDIR)
astvarlibdir => $(v ASTVARLIBDIR)
astdbdir => $(v ASTDBDIR)
astkeydir => $(v ASTKEYDIR)
astdatadir => $(v ASTDATADIR)
astagidir => $(v AGI_DIR)
astspooldir => $(v ASTSPOOLDIR)
astrundir => $(v ASTVARRUNDIR)
astlogdir => $(v ASTLOGDIR)
astsbindir => $(v ASTSBINDIR)
EOF
    cat "$(v ASTETCDIR)/asterisk.conf"
}

verify() {
    local m missing=""
    for m in $MODULES; do
        [ -f "$PREFIX/lib/asterisk/modules/$m.so" ] || missing="$missing $m"
    done
    [ -z "$missing" ] || { echo "modules not built:$missing"; return 1; }
    [ -f "$PREFIX/include/asterisk.h" ] || { echo "no headers in $PREFIX/include"; return 1; }
    grep -qx "astmoddir => $PREFIX/lib/asterisk/modules" "$PREFIX/etc/asterisk/asterisk.conf" ||
        { echo "$PREFIX/etc/asterisk/asterisk.conf is missing or does not point into the prefix"; return 1; }
    "$PREFIX/sbin/asterisk" -V
}

# ---- main -------------------------------------------------------------------------------------------------------

MODULES="$(cd "$REPO/tests/asterisk" && python3 -B -c \
    'import astharness as h; print(" ".join(h.MODULES + h.BENCH_MODULES))')"
[ -n "$MODULES" ] || die "no module list from tests/asterisk/astharness.py"

say "building a test Asterisk $WANT_MAJOR into $CACHE_ROOT (logs in $LOGDIR)"
step "deb-src entry for unstable, apt-get update" add_source_list

DEB_VERSION="$(apt-cache showsrc asterisk | sed -n 's/^Version: //p' | sort -V | tail -n 1)"
[ -n "$DEB_VERSION" ] || die "apt-cache showsrc asterisk found no source package"
UPSTREAM="${DEB_VERSION#*:}"
UPSTREAM="${UPSTREAM%%[+~-]*}"
case "$UPSTREAM" in
    "$WANT_MAJOR".*) ;;
    *) die "Debian unstable has Asterisk $UPSTREAM ($DEB_VERSION), this script builds $WANT_MAJOR.x" ;;
esac
PREFIX="$CACHE_ROOT/asterisk-$UPSTREAM"
WORK="$CACHE_ROOT/work-$UPSTREAM"
DL_CACHE="$WORK/download-cache"
mkdir -p "$WORK"
say "source package asterisk $DEB_VERSION -> $PREFIX"

step "build dependencies and sipp (apt-get install)" install_packages
step "source (apt-get source asterisk)" fetch_source
ASTSRC="$(ls -1d "$WORK"/src/asterisk-*/ | head -n 1)"
ASTSRC="${ASTSRC%/}"
PJ_VERSION="$(sed -n 's/^export PJ_VERSION_MAJOR *:= *//p' "$ASTSRC/Xpjproject/version.mak").$(
    sed -n 's/^export PJ_VERSION_MINOR *:= *//p' "$ASTSRC/Xpjproject/version.mak")"
step "pjproject $PJ_VERSION repacked into the download cache" repack_pjproject
step "configure" configure_asterisk
step "menuselect: $(echo "$MODULES" | wc -w) modules" select_modules
step "pjproject build" build_pjproject
step "Asterisk build ($JOBS jobs)" build_asterisk
step "install, headers, asterisk.conf" install_asterisk
verify >"$LOGDIR/verify.log" 2>&1 || { cat "$LOGDIR/verify.log" >&2; die "the installed Asterisk is incomplete"; }
echo "$("$PREFIX/sbin/asterisk" -V), built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $(fmt $(($(date +%s) - START)))" \
    >"$PREFIX/.complete"
# The source tree and the objects are not needed any more (KEEP_SOURCE=1 keeps them).
[ -n "${KEEP_SOURCE:-}" ] || rm -rf "$WORK"
say "done: $(cat "$PREFIX/.complete")"
say "make test-asterisk ASTERISK_PREFIX=$PREFIX"
