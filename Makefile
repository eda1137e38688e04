# res_prom_rs — a thin wrapper over cargo and cc. `make help` lists the targets.

SHELL            := /bin/bash
CARGO            ?= cargo
CC               ?= cc
CFLAGS           ?= -O2 -g
HOST_CFLAGS      := -std=c11 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -Iinclude -Ic_shim/common
LIB              := target/release/libres_prom_rs.so
FAULT_LIB        := target/fault/release/libres_prom_rs.so
HOST             := build/prom_host
# The reference host: its own folder plus the helpers every modparam-style shim shares (c_shim/README.md).
HOST_SRC         := $(wildcard c_shim/reference/*.c) $(wildcard c_shim/common/*.c)
HOST_HDR         := $(wildcard c_shim/reference/*.h) $(wildcard c_shim/common/*.h) include/res_prom_rs.h
RUST_SRC         := $(shell find src -name '*.rs') Cargo.toml Cargo.lock build.rs cbindgen.toml
CONFIG           ?= examples/prom_host.conf
# An Asterisk installed under one prefix, e.g. the test Asterisk 22 of scripts/build-test-asterisk.sh
# (make test-asterisk-build; its prefix: scripts/build-test-asterisk.sh --print-prefix), sets the next four at once.
ASTERISK_PREFIX  ?=
# The channel driver the Asterisk live test configures its phones for: PJSIP, or SIP (chan_sip, Asterisk <= 20).
ASTERISK_CHANNEL ?= PJSIP
ASTERISK_INCLUDE_DIR ?= $(if $(ASTERISK_PREFIX),$(ASTERISK_PREFIX)/include,/usr/include)
ASTERISK_ETCDIR  ?= $(if $(ASTERISK_PREFIX),$(ASTERISK_PREFIX)/etc/asterisk,/etc/asterisk)
# The installed Asterisk's module directory: astmoddir of its asterisk.conf, else the usual place.
ASTERISK_MODDIR  ?= $(or $(shell sed -n 's/^[[:space:]]*astmoddir[[:space:]]*=>*[[:space:]]*//p' \
                        $(ASTERISK_ETCDIR)/asterisk.conf 2>/dev/null | head -n 1),/usr/lib/asterisk/modules)
ASTERISK_BIN     ?= $(if $(ASTERISK_PREFIX),$(ASTERISK_PREFIX)/sbin/asterisk,$(or $(shell command -v asterisk 2>/dev/null),/usr/sbin/asterisk))
AST_MOD          := build/res_prom_rs.so
AST_SRC          := $(wildcard asterisk_module/*.c)
STATICLIB        := target/release/libres_prom_rs.a
# As Asterisk builds its own modules (Makefile.moddir_rules); warnings are errors in our files, not in its headers.
AST_MOD_CFLAGS   := -std=gnu11 -fPIC -pthread -D_GNU_SOURCE -D_REENTRANT -DAST_MODULE=\"res_prom_rs\" \
                    -DAST_MODULE_SELF_SYM=__internal_res_prom_rs_self -Wall -Wextra -Wno-unused-parameter \
                    -Wno-sign-compare -Wno-missing-field-initializers -Werror -Iinclude -isystem $(ASTERISK_INCLUDE_DIR)
# What the Rust standard library needs (`cargo rustc -- --print native-static-libs`).
AST_MOD_LIBS     := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

.PHONY: all run test test-deps header check-header lint bench clean help asterisk install-asterisk test-asterisk \
	test-asterisk-build

all: $(LIB) $(HOST) ## Build the core library and the reference host

$(LIB): $(RUST_SRC)
	$(CARGO) build --release --lib

$(FAULT_LIB): $(RUST_SRC)
	$(CARGO) build --release --lib --features fault-injection --target-dir target/fault

$(HOST): $(HOST_SRC) $(HOST_HDR)
	@mkdir -p build
	$(CC) $(HOST_CFLAGS) $(CFLAGS) -o $@ $(HOST_SRC) -ldl -lpthread -lm

run: all ## Start the reference host with the synthetic call-center workload on http://127.0.0.1:9101/metrics
	$(HOST) --config $(CONFIG)

header: ## Regenerate include/res_prom_rs.h from src/ffi with cbindgen
	$(CARGO) build --release --lib
	cp "$$(ls -t target/release/build/res_prom_rs-*/out/res_prom_rs.h | head -n 1)" include/res_prom_rs.h

check-header: header ## Fail when the committed header is not what cbindgen generates
	git diff --exit-code -- include/res_prom_rs.h

test-deps: ## Install what the tests need (Debian packages), once
	@scripts/install-test-deps.sh

lint: ## rustfmt, clippy and rustdoc, warnings as errors (the lint levels are in Cargo.toml's [lints])
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps

test: test-deps all $(FAULT_LIB) check-header lint ## Install test dependencies, then run every test
	@mkdir -p build
	set -o pipefail; PROM_RS_LIB=$(CURDIR)/$(LIB) PROM_RS_FAULT_LIB=$(CURDIR)/$(FAULT_LIB) PROM_RS_HOST=$(CURDIR)/$(HOST) \
		$(CARGO) test --release -- --test-threads=2 2>&1 | tee build/test-output.log
	@# The Asterisk live test: an installed Asterisk when ASTERISK_BIN/ASTERISK_INCLUDE_DIR (or ASTERISK_PREFIX) point
	@# at one, else a test Asterisk built once from Debian's source package into the cache; SKIP_ASTERISK=1 skips it.
	@if [ -n "$(SKIP_ASTERISK)" ]; then \
		echo "asterisk live test: skipped (SKIP_ASTERISK is set)"; \
	elif [ -x "$(ASTERISK_BIN)" ] && [ -f "$(ASTERISK_INCLUDE_DIR)/asterisk.h" ]; then \
		echo "asterisk live test: against $(ASTERISK_BIN) with headers in $(ASTERISK_INCLUDE_DIR)"; \
		$(MAKE) --no-print-directory test-asterisk; \
	else \
		echo "asterisk live test: no $(ASTERISK_BIN) with $(ASTERISK_INCLUDE_DIR)/asterisk.h; using the test Asterisk built from Debian's source package (cached; about 10 min the first time)"; \
		nice scripts/build-test-asterisk.sh && \
		$(MAKE) --no-print-directory test-asterisk ASTERISK_PREFIX="$$(scripts/build-test-asterisk.sh --print-prefix)"; \
	fi
	@# One closing line for the whole run: the sum of every cargo test binary's result line.
	@awk '/^test result:/ { p += $$4; f += $$6 } END { printf "tests: %d passed, %d failed\n", p, f }' build/test-output.log

asterisk: $(LIB) ## Build build/res_prom_rs.so against ASTERISK_INCLUDE_DIR (default /usr/include)
	@test -f "$(ASTERISK_INCLUDE_DIR)/asterisk.h" || { \
		echo "asterisk module: $(ASTERISK_INCLUDE_DIR)/asterisk.h not found: install Asterisk's headers" \
			"(make install-headers in its source tree) and pass ASTERISK_INCLUDE_DIR=<dir holding asterisk.h>"; \
		exit 1; }
	@mkdir -p build
	$(CC) $(AST_MOD_CFLAGS) $(CFLAGS) -shared -o $(AST_MOD) $(AST_SRC) $(STATICLIB) \
		-Wl,--version-script=asterisk_module/res_prom_rs.exports -Wl,--gc-sections -Wl,-z,relro,-z,now,-z,nodelete $(AST_MOD_LIBS)
	@echo "asterisk module: built $(AST_MOD) against $(ASTERISK_INCLUDE_DIR)"

install-asterisk: ## Copy build/res_prom_rs.so to ASTERISK_MODDIR and the sample res_prom_rs.conf to ASTERISK_ETCDIR
	@test -f $(AST_MOD) || { echo "asterisk module: $(AST_MOD) missing: run make asterisk first"; exit 1; }
	install -d $(DESTDIR)$(ASTERISK_MODDIR)
	install -m 0755 $(AST_MOD) $(DESTDIR)$(ASTERISK_MODDIR)/res_prom_rs.so
	@if [ -e $(DESTDIR)$(ASTERISK_ETCDIR)/res_prom_rs.conf ]; then \
		echo "asterisk module: kept the existing $(DESTDIR)$(ASTERISK_ETCDIR)/res_prom_rs.conf"; \
	else \
		install -d $(DESTDIR)$(ASTERISK_ETCDIR) && \
		install -m 0640 asterisk_module/res_prom_rs.conf.sample $(DESTDIR)$(ASTERISK_ETCDIR)/res_prom_rs.conf && \
		echo "asterisk module: installed $(DESTDIR)$(ASTERISK_ETCDIR)/res_prom_rs.conf"; \
	fi
	@echo "asterisk module: installed; load it with: asterisk -rx 'module load res_prom_rs.so'"

test-asterisk: asterisk ## Live test against the installed Asterisk (ASTERISK_BIN) and sipp; ASTERISK_CHANNEL=SIP for chan_sip
	ASTERISK_BIN=$(ASTERISK_BIN) ASTERISK_MODULE=$(CURDIR)/$(AST_MOD) PROM_RS_LIB=$(CURDIR)/$(LIB) \
		ASTERISK_CHANNEL=$(ASTERISK_CHANNEL) \
		python3 tests/asterisk/live_test.py

test-asterisk-build: ## Build a test Asterisk 22 from Debian's source package into the cache, once (about 10 min)
	nice scripts/build-test-asterisk.sh
	@echo "then: make test-asterisk ASTERISK_PREFIX=$$(scripts/build-test-asterisk.sh --print-prefix)"

# Sections 7 and 9 of the benchmarks compare this tree with a build of BENCH_BASE (a commit), side by side in one run
# (BENCH_SECTIONS=9 runs section 9 alone and puts it in place in BENCHMARKS.md).
BENCH_BASE       ?= HEAD~1
BENCH_BASE_DIR   := target/bench-base

bench: all ## Run the benchmarks (C ABI vs the prometheus crate and vs BENCH_BASE, a few minutes) and write BENCHMARKS.md
	@rev=$$(git rev-parse --verify -q "$(BENCH_BASE)^{commit}") || { echo "bench: BENCH_BASE=$(BENCH_BASE) is not a commit"; exit 2; }; \
	if [ "$$(cat $(BENCH_BASE_DIR)/rev 2>/dev/null)" != "$$rev" ]; then \
		echo "bench: building $(BENCH_BASE) ($$rev) into $(BENCH_BASE_DIR) for section 7"; \
		rm -rf $(BENCH_BASE_DIR)/src && mkdir -p $(BENCH_BASE_DIR)/src && \
		git archive "$$rev" | tar -x -C $(BENCH_BASE_DIR)/src && \
		$(CARGO) build --release --lib --manifest-path $(BENCH_BASE_DIR)/src/Cargo.toml \
			--target-dir $(CURDIR)/$(BENCH_BASE_DIR)/target && echo "$$rev" > $(BENCH_BASE_DIR)/rev; \
	fi
	@# Script metrics inside Kamailio, next to xhttp_prom (tests/kamailio/BENCHMARKS.script.md, carried into
	@# BENCHMARKS.md below); one line and the previous figures where Kamailio is not installed.
	@if command -v kamailio >/dev/null 2>&1 || [ -x /usr/sbin/kamailio ]; then \
		$(MAKE) --no-print-directory kamailio && \
		KAMAILIO_MODULE=$(CURDIR)/$(KAMAILIO_MOD) python3 tests/kamailio/bench_script.py >/dev/null; \
	else \
		echo "kamailio bench: skipped (kamailio is not installed; apt-get install kamailio kamailio-extra-modules)"; \
	fi
	PROM_RS_LIB=$(CURDIR)/$(LIB) PROM_RS_HOST=$(CURDIR)/$(HOST) BENCH_REPORT=$(CURDIR)/BENCHMARKS.md \
		BENCH_BASE="$$(git rev-parse --short "$(BENCH_BASE)")" \
		BENCH_BASE_LIB=$(CURDIR)/$(BENCH_BASE_DIR)/target/release/libres_prom_rs.so \
		$(CARGO) bench --bench event_path

clean: ## Remove build output
	$(CARGO) clean
	rm -rf build

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

# ---- Kamailio module (c_shim/kamailio): prom_rs.so with the Rust core linked in ------------------------------------
# The module is built with the Kamailio source tree's own makefiles: KAMAILIO_SRC=<configured tree>, or the installed
# version's Debian source package, fetched and configured once into $${XDG_CACHE_HOME:-$$HOME/.cache}/res_prom_rs/.
KAMAILIO_SRC     ?=
KAMAILIO_MOD     := build/kamailio/prom_rs.so
KAMAILIO_BIN     ?= $(or $(shell command -v kamailio 2>/dev/null),/usr/sbin/kamailio)
# The installed Kamailio's module directory, as `kamailio -I` prints it.
KAMAILIO_MODDIR  ?= $(or $(shell $(KAMAILIO_BIN) -I 2>/dev/null | sed -n 's/^ *Default paths to modules: *//p' | cut -d: -f1),\
                        /usr/lib/x86_64-linux-gnu/kamailio/modules)

.PHONY: kamailio install-kamailio test-kamailio

kamailio: $(LIB) ## Build build/kamailio/prom_rs.so for the installed Kamailio (or KAMAILIO_SRC=<tree>)
	@tree=$$(KAMAILIO_SRC="$(KAMAILIO_SRC)" scripts/kamailio-tree.sh tree | tail -n 1) && [ -n "$$tree" ] || exit 1; \
	mkdir -p build/kamailio && \
	echo "kamailio module: compiling c_shim/kamailio against $$tree" && \
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL $(MAKE) --no-print-directory -C build/kamailio \
		-f $(CURDIR)/c_shim/kamailio/Makefile KAMAILIO_SRC="$$tree" REPO=$(CURDIR) && \
	echo "kamailio module: built $(KAMAILIO_MOD) ($$(sed -n 's/^RELEASE= *//p' "$$tree/src/config.mak"))"

install-kamailio: ## Copy build/kamailio/prom_rs.so into KAMAILIO_MODDIR (default: what `kamailio -I` prints)
	@test -f $(KAMAILIO_MOD) || { echo "kamailio module: $(KAMAILIO_MOD) missing: run make kamailio first"; exit 1; }
	install -d $(DESTDIR)$(KAMAILIO_MODDIR)
	install -m 0644 $(KAMAILIO_MOD) $(DESTDIR)$(KAMAILIO_MODDIR)/prom_rs.so
	@echo "kamailio module: installed $(DESTDIR)$(KAMAILIO_MODDIR)/prom_rs.so; add loadmodule \"prom_rs.so\" to kamailio.cfg and restart Kamailio"

test-kamailio: ## Live test in a real Kamailio with sipp (installs kamailio, kamailio-extra-modules, sip-tester if missing)
	@if ! command -v apt-get >/dev/null 2>&1 && ! command -v kamailio >/dev/null 2>&1 && [ ! -x /usr/sbin/kamailio ]; then \
		echo "kamailio live test: skipped (no kamailio and no apt-get to install it)"; exit 0; fi; \
	scripts/kamailio-tree.sh deps && $(MAKE) --no-print-directory kamailio && \
	KAMAILIO_MODULE=$(CURDIR)/$(KAMAILIO_MOD) python3 tests/kamailio/live_test.py

# `make test` runs the Kamailio live test too (after its other prerequisites, before the cargo tests).
test: test-kamailio
