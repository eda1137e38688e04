# res_prom_rs — a thin wrapper over cargo and cc. `make help` lists the targets.

CARGO            ?= cargo
CC               ?= cc
CFLAGS           ?= -O2 -g
HOST_CFLAGS      := -std=c11 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -Iinclude
LIB              := target/release/libres_prom_rs.so
FAULT_LIB        := target/fault/release/libres_prom_rs.so
HOST             := build/prom_host
HOST_SRC         := $(wildcard c_shim/*.c)
HOST_HDR         := $(wildcard c_shim/*.h) include/res_prom_rs.h
RUST_SRC         := $(shell find src -name '*.rs') Cargo.toml Cargo.lock build.rs cbindgen.toml
CONFIG           ?= examples/prom_host.conf
ASTERISK_INCLUDE_DIR ?= /usr/include

.PHONY: all run test test-deps header check-header lint bench clean help asterisk

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

lint: ## rustfmt and clippy, warnings as errors
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

test: test-deps all $(FAULT_LIB) check-header lint ## Install test dependencies, then run every test
	PROM_RS_LIB=$(CURDIR)/$(LIB) PROM_RS_FAULT_LIB=$(CURDIR)/$(FAULT_LIB) PROM_RS_HOST=$(CURDIR)/$(HOST) \
		$(CARGO) test --release -- --test-threads=2
	@if [ -n "$$(command -v asterisk)" ] && [ -f "$(ASTERISK_INCLUDE_DIR)/asterisk.h" ]; then \
		$(MAKE) test-asterisk; \
	else \
		echo "asterisk module: skipped (no asterisk binary and $(ASTERISK_INCLUDE_DIR)/asterisk.h on this machine)"; \
	fi

asterisk: ## Build build/res_prom_rs.so against ASTERISK_INCLUDE_DIR (not yet available)
	@echo "asterisk module: not part of this build yet (see issue: Asterisk module)"; exit 1

bench: all ## Run the benchmarks (C ABI vs the prometheus crate, about a minute) and write BENCHMARKS.md
	PROM_RS_LIB=$(CURDIR)/$(LIB) PROM_RS_HOST=$(CURDIR)/$(HOST) BENCH_REPORT=$(CURDIR)/BENCHMARKS.md \
		$(CARGO) bench --bench event_path

clean: ## Remove build output
	$(CARGO) clean
	rm -rf build

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'
