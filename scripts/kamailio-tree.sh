#!/bin/bash
# Prepares what the Kamailio module is built against and prints the path of the configured source tree (last line
# of stdout); progress lines go to stderr, one per step.
#
#   scripts/kamailio-tree.sh deps    install kamailio, kamailio-extra-modules, sip-tester and python3-prometheus-client
#                                    with apt if missing
#   scripts/kamailio-tree.sh tree    print the configured tree: $KAMAILIO_SRC if set, else the cached copy of the
#                                    installed version's Debian source package, fetched and configured on first use
#
# Kamailio's loader compares the module's version and compile-flags strings with its own (`kamailio -I`), and some
# ABI-relevant defines are not in that string, so the module is built with the tree's own Makefiles, configured the
# way debian/rules configures the package. Debian ships no kamailio headers package: the tree comes from
# `apt-get source`. On a machine whose apt lists only binary packages, a deb-src entry is derived from the system's
# own Debian source file (same archive, `Types: deb-src`, bookworm suites) into res_prom_rs-bookworm-src.sources.
set -euo pipefail

step() { echo "kamailio tree: $*" >&2; }
die() { echo "kamailio tree: $*" >&2; exit 1; }

SUDO=""
as_root() {
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to run: $*"
        SUDO="sudo"
    fi
    $SUDO "$@"
}

apt_updated=""
apt_update() {
    if [ -z "$apt_updated" ]; then
        step "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
        apt_updated=1
    fi
}

deps() {
    local need=""
    command -v kamailio >/dev/null 2>&1 || [ -x /usr/sbin/kamailio ] || need="$need kamailio"
    [ -f /usr/lib/x86_64-linux-gnu/kamailio/modules/xhttp_prom.so ] || [ -n "$(find /usr/lib -path '*kamailio/modules/xhttp_prom.so' -print -quit 2>/dev/null)" ] \
        || need="$need kamailio-extra-modules"
    command -v sipp >/dev/null 2>&1 || need="$need sip-tester"
    # The script-metric checks parse the page with prometheus_client's parsers (Debian's python3, whichever python3
    # comes first in PATH).
    { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import prometheus_client' >/dev/null 2>&1; } \
        || need="$need python3-prometheus-client"
    if [ -z "$need" ]; then
        step "packages present (kamailio, kamailio-extra-modules, sip-tester, python3-prometheus-client)"
        return
    fi
    apt_update
    step "installing$need"
    # The package's service must not start a system-wide Kamailio: the tests start private ones.
    [ -e /usr/sbin/policy-rc.d ] || as_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d' 2>/dev/null || true
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need >&2
}

# Writes a deb-src entry for the bookworm suites of the system's own Debian source file, unless apt already has one.
ensure_deb_src() {
    local own=/etc/apt/sources.list.d/res_prom_rs-bookworm-src.sources
    [ -f "$own" ] && return
    if grep -rqsE '^[[:space:]]*deb-src[[:space:]].*bookworm' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null; then
        return
    fi
    local sys=/etc/apt/sources.list.d/debian.sources
    [ -f "$sys" ] || die "no deb-src entry for bookworm and no $sys to derive one from: add a deb-src line for your Debian archive (bookworm) and run again"
    step "writing $own (deb-src entries derived from $sys)"
    # Keep every stanza whose Suites name bookworm suites; turn its Types into deb-src; drop the rest.
    local tmp
    tmp=$(mktemp)
    awk 'BEGIN { RS = ""; ORS = "\n\n" }
         /(^|\n)Suites:[^\n]*bookworm/ { gsub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, ""); print }' \
        "$sys" > "$tmp"
    [ -s "$tmp" ] || { rm -f "$tmp"; die "$sys has no bookworm suites to derive a deb-src entry from"; }
    as_root install -m 0644 "$tmp" "$own"
    rm -f "$tmp"
    apt_updated=""
    apt_update
}

# The flags debian/rules passes to `make cfg` (configure-stamp), so config.mak matches the packaged binary.
configure_tree() {
    local tree=$1
    step "configuring $tree as debian/rules does (make cfg FLAVOUR=kamailio group_include=kstandard)"
    (
        cd "$tree"
        make -s cfg prefix=/usr cfg_prefix="$tree/debian/tmp" cfg_target=/etc/kamailio/ BASEDIR="$tree/debian/tmp" \
            FLAVOUR=kamailio group_include=kstandard \
            CC_EXTRA_OPTS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS) -DVERSION_NODATE" \
            LD_EXTRA_OPTS="$(dpkg-buildflags --get LDFLAGS)" >/dev/null
    ) >&2 || die "make cfg failed in $tree"
    [ -f "$tree/src/config.mak" ] || die "make cfg did not write $tree/src/config.mak"
}

tree() {
    if [ -n "${KAMAILIO_SRC:-}" ]; then
        local t=${KAMAILIO_SRC%/}
        [ -f "$t/src/Makefile.defs" ] || die "KAMAILIO_SRC=$KAMAILIO_SRC is not a Kamailio source tree (no src/Makefile.defs); give the top folder of an unpacked kamailio source of the installed version"
        [ -f "$t/src/config.mak" ] || configure_tree "$t"
        step "using KAMAILIO_SRC=$t"
        local tree_ver inst_ver
        tree_ver=$(sed -n 's/^RELEASE= *//p' "$t/src/config.mak")
        inst_ver=$(dpkg-query -W -f='${Version}' kamailio 2>/dev/null || true)
        inst_ver=${inst_ver%%-*}
        inst_ver=${inst_ver#*:}
        if [ -n "$inst_ver" ] && [ "$tree_ver" != "$inst_ver" ]; then
            step "warning: the tree is kamailio $tree_ver but the installed package is $inst_ver; Kamailio refuses a module built for another version (module version mismatch)"
        fi
        echo "$t"
        return
    fi
    local pkgver version
    pkgver=$(dpkg-query -W -f='${Version}' kamailio 2>/dev/null) \
        || die "the kamailio package is not installed: run 'make test-kamailio' (installs it) or apt-get install kamailio, or pass KAMAILIO_SRC=<tree>"
    version=${pkgver%%-*}
    version=${version#*:}
    local cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/res_prom_rs"
    local dir="$cache_root/kamailio-$version"
    mkdir -p "$cache_root"
    exec 9>"$cache_root/.kamailio-$version.lock"
    flock 9
    if [ -f "$dir/.res_prom_rs-ready" ] && [ "$(cat "$dir/.res_prom_rs-ready")" = "$pkgver" ]; then
        step "cached tree $dir (kamailio $pkgver)"
        echo "$dir"
        return
    fi
    step "fetching the source of kamailio $pkgver (apt-get source) into $cache_root"
    ensure_deb_src
    local work
    work=$(mktemp -d "$cache_root/.fetch.XXXXXX")
    if ! (cd "$work" && apt-get source -q "kamailio=$pkgver" >&2); then
        # The index may be older than the deb-src entry.
        apt_update
        (cd "$work" && apt-get source -q "kamailio=$pkgver" >&2) || { rm -rf "$work"; die "apt-get source kamailio=$pkgver failed (is a deb-src entry for its suite present?)"; }
    fi
    local got
    got=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'kamailio-*' -print -quit)
    [ -n "$got" ] && [ -f "$got/src/Makefile.defs" ] || { rm -rf "$work"; die "apt-get source gave no kamailio tree"; }
    rm -rf "$dir"
    mv "$got" "$dir"
    rm -rf "$work"
    configure_tree "$dir"
    echo "$pkgver" > "$dir/.res_prom_rs-ready"
    step "tree ready: $dir"
    echo "$dir"
}

case "${1:-}" in
    deps) deps ;;
    tree) tree ;;
    *) die "usage: $0 deps|tree" ;;
esac
