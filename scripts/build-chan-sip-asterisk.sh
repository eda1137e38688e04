#!/usr/bin/env bash
# Builds an Asterisk with chan_sip (Asterisk 16 to 20; chan_sip was removed in 21) from an Asterisk source tree, for
# the chan_sip live test (`make test-asterisk ASTERISK_PREFIX=<prefix> ASTERISK_CHANNEL=SIP`). Debian packages no
# Asterisk and no Asterisk with chan_sip, so this is a hand build, run where such an Asterisk is wanted; CI replays
# the traces recorded with it (tests/traces/).
#
#   scripts/build-chan-sip-asterisk.sh SRC PREFIX
#
# SRC: an unpacked Asterisk release or a checkout of a tag (for example
#   git clone --depth 1 --branch 20.20.1 https://github.com/asterisk/asterisk SRC), never inside this repository.
# PREFIX: where to install (sbin/, lib/, include/, etc/asterisk/asterisk.conf).
#
# Only the modules the live test loads are built (read from tests/asterisk/astharness.py, with the chan_sip driver
# instead of the PJSIP modules), without pjproject (chan_sip does not use it), so nothing is downloaded and the build
# takes a few minutes. Environment: JOBS (default: the number of cores), NICE (default 10).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
SRC="${1:?usage: $0 SRC PREFIX}"
PREFIX="${2:?usage: $0 SRC PREFIX}"
JOBS="${JOBS:-$(nproc)}"
NICE="${NICE:-10}"
START=$(date +%s)

say() { echo "chan_sip asterisk: $*"; }
die() { echo "chan_sip asterisk: $*" >&2; exit 1; }
case "$(cd "$SRC" && pwd)/" in "$REPO"/*) die "SRC must be outside the repository" ;; esac
[ -f "$SRC/channels/chan_sip.c" ] || die "$SRC has no channels/chan_sip.c (chan_sip exists up to Asterisk 20)"
LOG="$PREFIX.build.log"
mkdir -p "$(dirname "$PREFIX")"
: >"$LOG"

MODULES="$(cd "$REPO/tests/asterisk" && python3 -B -c \
    'import astharness as h; print(" ".join(h.modules_for("SIP") + h.BENCH_MODULES))')"
[ -n "$MODULES" ] || die "no module list from tests/asterisk/astharness.py"

step() {
    local name="$1"; shift
    local t=$(date +%s)
    "$@" >>"$LOG" 2>&1 || { tail -n 40 "$LOG" >&2; die "$name failed; full log: $LOG"; }
    say "$name: $(($(date +%s) - t)) s (total $(($(date +%s) - START)) s)"
}

configure() {
    cd "$SRC" && nice -n "$NICE" ./configure --prefix="$PREFIX" --without-pjproject-bundled --without-pjproject \
        --without-jansson-bundled --disable-asteriskssl --without-pwlib LDFLAGS="-Wl,-rpath,$PREFIX/lib"
}

select_modules() {
    cd "$SRC"
    nice -n "$NICE" make menuselect.makeopts
    local cat m
    for cat in $(grep -o '<category name="[^"]*"' menuselect-tree | cut -d'"' -f2 | sort -u); do
        [ "$cat" = MENUSELECT_CFLAGS ] && continue
        menuselect/menuselect --disable-category "$cat" menuselect.makeopts
    done
    menuselect/menuselect --disable BUILD_NATIVE menuselect.makeopts
    for m in $MODULES; do
        menuselect/menuselect --enable "$m" menuselect.makeopts
    done
}

build() { cd "$SRC" && nice -n "$NICE" make -j"$JOBS"; }

install() {
    cd "$SRC"
    rm -rf "$PREFIX"
    make install
    make install-headers
    v() { printf 'include makeopts\nAGI_DIR = $(ASTDATADIR)/agi-bin\nv:\n\t@echo $(%s)\n' "$1" |
        make -s --no-print-directory -f - v; }
    mkdir -p "$(v ASTETCDIR)"
    {
        echo "[directories]"
        for d in ETC MOD VARLIB DB KEY DATA SPOOL LOG SBIN; do
            echo "ast$(echo "$d" | tr 'A-Z' 'a-z')dir => $(v "AST${d}DIR")"
        done
        echo "astagidir => $(v AGI_DIR)"
        echo "astrundir => $(v ASTVARRUNDIR)"
    } >"$(v ASTETCDIR)/asterisk.conf"
    local m missing=""
    for m in $MODULES; do
        [ -f "$PREFIX/lib/asterisk/modules/$m.so" ] || missing="$missing $m"
    done
    [ -z "$missing" ] || { echo "modules not built:$missing"; return 1; }
}

say "building $(cd "$SRC" && (git describe --tags 2>/dev/null || cat .version 2>/dev/null || echo '?')) into $PREFIX (log: $LOG)"
step "configure" configure
step "menuselect ($(echo "$MODULES" | wc -w) modules)" select_modules
step "build ($JOBS jobs)" build
step "install" install
say "done: $("$PREFIX/sbin/asterisk" -V) in $(($(date +%s) - START)) s"
say "make test-asterisk ASTERISK_PREFIX=$PREFIX ASTERISK_CHANNEL=SIP"
